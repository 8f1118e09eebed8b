package sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/runtime/api"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo records that it ran, reads the body and answers 204.
type echo struct{ calls atomic.Int32 }

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	if r.ContentLength != int64(len(b)) {
		http.Error(w, "ContentLength does not match the body", 500)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type connectError struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

func TestGuard(t *testing.T) {
	c := DefaultConfig()
	var h Holder
	key := c.GenerateKey(time.Now())
	h.Set(key)
	body := []byte(`[{"task.class":"io.example.Task","topic":"t"}]`)

	for _, tc := range []struct {
		name    string
		body    []byte
		sign    func(*http.Request)
		keys    func() []Key
		max     int64
		status  int
		message string
	}{
		{"signed", body, func(r *http.Request) { mustSign(t, c, r, body, key) }, h.Keys, 0, http.StatusOK, ""},
		{"signed empty body", nil, func(r *http.Request) { mustSign(t, c, r, nil, key) }, h.Keys, 0, http.StatusOK, ""},
		{"unsigned", body, func(*http.Request) {}, h.Keys, 0, 400, "Internal request missing required signature"},
		{"tampered", append([]byte(nil), body[:len(body)-1]...), func(r *http.Request) { mustSign(t, c, r, body, key) }, h.Keys, 0,
			403, "Internal request contained invalid signature."},
		{"wrong key", body, func(r *http.Request) { mustSign(t, c, r, body, c.GenerateKey(time.Now())) }, h.Keys, 0,
			403, "Internal request contained invalid signature."},
		{"unsupported algorithm", body, func(r *http.Request) {
			mustSign(t, c, r, body, key)
			r.Header.Set(AlgorithmHeader, "HmacSHA1")
		}, h.Keys, 0, 400, `Algorithm "HmacSHA1" not available`},
		{"no key yet", body, func(r *http.Request) { mustSign(t, c, r, body, key) }, (&Holder{}).Keys, 0,
			503, "This worker is still starting up"},
		{"nil Keys", body, func(r *http.Request) { mustSign(t, c, r, body, key) }, nil, 0, 503, "This worker is still starting up"},
		{"body over the limit", body, func(r *http.Request) { mustSign(t, c, r, body, key) }, h.Keys, 10,
			413, "internal request body is larger than the 10-byte limit"},
		{"body at the limit", body, func(r *http.Request) { mustSign(t, c, r, body, key) }, h.Keys, int64(len(body)), http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := &echo{}
			g := &Guard{Config: c, Keys: tc.keys, MaxBody: tc.max}
			req := httptest.NewRequest(http.MethodPost, "/connectors/c/tasks", bytes.NewReader(tc.body))
			tc.sign(req)
			rec := httptest.NewRecorder()
			g.Wrap(next).ServeHTTP(rec, req)
			if tc.status == http.StatusOK {
				if next.calls.Load() != 1 || rec.Code != http.StatusNoContent {
					t.Fatalf("next not reached or failed: %d %s", rec.Code, rec.Body)
				}
				return
			}
			if next.calls.Load() != 0 {
				t.Fatal("a refused request reached the handler")
			}
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d (%s), want %d", rec.Code, rec.Header().Get("Content-Type"), tc.status)
			}
			var e connectError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if e.ErrorCode != tc.status || !strings.HasPrefix(e.Message, tc.message) {
				t.Fatalf("got %+v, want %d %q", e, tc.status, tc.message)
			}
		})
	}
}

func mustSign(t *testing.T, c Config, r *http.Request, body []byte, k Key) {
	t.Helper()
	if err := c.Sign(r, body, k); err != nil {
		t.Fatal(err)
	}
}

// TestGuardRestoresBody: the handler behind the guard reads the exact
// body that was verified.
func TestGuardRestoresBody(t *testing.T) {
	c := DefaultConfig()
	key := c.GenerateKey(time.Now())
	body := []byte(`[{"k":"v"}]`)
	var got []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		again, _ := r.GetBody()
		if b, _ := io.ReadAll(again); !bytes.Equal(b, body) {
			t.Errorf("GetBody gives %q", b)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	req := httptest.NewRequest(http.MethodPost, "/connectors/c/tasks", bytes.NewReader(body))
	mustSign(t, c, req, body, key)
	rec := httptest.NewRecorder()
	(&Guard{Config: c, Keys: func() []Key { return []Key{key} }}).Wrap(next).ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || !bytes.Equal(got, body) {
		t.Fatalf("status %d, handler read %q, want %q", rec.Code, got, body)
	}
}

// TestGuardRefusesBeforeReading: an unsigned request is refused without
// its body being read, so an unauthenticated caller cannot make the
// worker read 10 MiB.
func TestGuardRefusesBeforeReading(t *testing.T) {
	c := DefaultConfig()
	body := &countingReader{r: strings.NewReader(strings.Repeat("x", 1<<20))}
	req := httptest.NewRequest(http.MethodPost, "/connectors/c/tasks", body)
	rec := httptest.NewRecorder()
	(&Guard{Config: c, Keys: (&Holder{}).Keys}).Wrap(&echo{}).ServeHTTP(rec, req)
	if rec.Code != 400 || body.n != 0 {
		t.Fatalf("status %d after reading %d bytes", rec.Code, body.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestGuardWriteError: the REST server's writer answers refusals when
// given, with the *api.Error Verify made.
func TestGuardWriteError(t *testing.T) {
	var seen error
	g := &Guard{Config: DefaultConfig(), Keys: (&Holder{}).Keys,
		WriteError: func(w http.ResponseWriter, _ *http.Request, err error) { seen = err; w.WriteHeader(api.StatusOf(err)) }}
	req := httptest.NewRequest(http.MethodPut, "/connectors/c/fence", nil)
	rec := httptest.NewRecorder()
	g.Wrap(&echo{}).ServeHTTP(rec, req)
	if rec.Code != 400 || !errors.Is(seen, ErrMissingSignature) {
		t.Fatalf("status %d, error %v", rec.Code, seen)
	}
}

// TestGuardOverHTTP runs a leader's internal endpoint on 127.0.0.1 and a
// follower's client that signs with the key both read, then rotates the
// leader's key: the follower's request signed with the old key gets 403,
// which KeyMayHaveRotated says to retry, and the retry with the new key
// succeeds.
func TestGuardOverHTTP(t *testing.T) {
	c := DefaultConfig()
	var leader, follower Holder
	k1 := c.GenerateKey(time.Now())
	leader.Set(k1)
	follower.Set(k1)
	var received atomic.Value
	mux := http.NewServeMux()
	mux.Handle("POST /connectors/{c}/tasks", (&Guard{Config: c, Keys: leader.Keys}).Wrap(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			received.Store(string(b))
			w.WriteHeader(http.StatusNoContent)
		})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()

	body := []byte(`[{"topic":"orders"}]`)
	post := func() int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/connectors/c/tasks", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		k, _ := follower.Current()
		mustSign(t, c, req, body, k)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	if got := post(); got != http.StatusNoContent || received.Load() != string(body) {
		t.Fatalf("signed request: status %d, leader read %v", got, received.Load())
	}
	first := time.Now()
	leader.Set(c.GenerateKey(time.Now())) // the leader rotated; the follower has not read the record yet
	got := post()
	if got != http.StatusForbidden || !KeyMayHaveRotated(got, first, time.Now()) {
		t.Fatalf("request signed with the replaced key: status %d, retry %v", got, KeyMayHaveRotated(got, first, time.Now()))
	}
	k2, _ := leader.Current()
	follower.Set(k2) // the follower reads the new record
	if got := post(); got != http.StatusNoContent {
		t.Fatalf("retry with the new key: status %d", got)
	}
}
