package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// fakeInternal records the internal calls it gets and answers err.
type fakeInternal struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeInternal) PutTaskConfigs(_ context.Context, connector string, configs []map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("PutTaskConfigs %s %v", connector, configs))
	return f.err
}

func (f *fakeInternal) FenceZombies(_ context.Context, connector string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "FenceZombies "+connector)
	return f.err
}

func (f *fakeInternal) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

const taskConfigsBody = `[{"task.class":"datagen","tasks.max":2},{"task.class":"datagen","partition":"1"}]`

const wantPut = "PutTaskConfigs orders-source [map[task.class:datagen tasks.max:2] map[partition:1 task.class:datagen]]"

// signed builds an internal request signed with key (unsigned when key
// has no secret).
func signed(t *testing.T, method, target, body string, key sign.Key) *http.Request {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(key.Secret) > 0 {
		if err := sign.DefaultConfig().Sign(req, []byte(body), key); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func serveReq(h http.Handler, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// TestInternalEndpoints: the internal endpoints refuse unsigned requests
// (400), any request before a session key is known (503), a signature
// with another key (403), and pass signed ones to api.Internal (204).
func TestInternalEndpoints(t *testing.T) {
	cfg := sign.DefaultConfig()
	now := time.Now()
	key, other := cfg.GenerateKey(now), cfg.GenerateKey(now)
	var keys sign.Holder
	in := &fakeInternal{}
	srv := newServer(newFake(), rest.WithInternal(in, &keys, cfg))

	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"tasks", "POST", "/connectors/orders-source/tasks", taskConfigsBody},
		{"fence", "PUT", "/connectors/orders-source/fence", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := serveReq(srv, signed(t, tc.method, tc.path, tc.body, sign.Key{}))
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("unsigned: status %d, want 400", resp.StatusCode)
			} else if msg := errorOf(t, resp); msg != "Internal request missing required signature" {
				t.Errorf("unsigned: message %q", msg)
			}
			resp = serveReq(srv, signed(t, tc.method, tc.path, tc.body, key))
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("before a key is known: status %d, want 503", resp.StatusCode)
			}
		})
	}
	if calls := in.recorded(); len(calls) != 0 {
		t.Fatalf("refused requests reached the herder: %v", calls)
	}

	keys.Set(key)
	resp := serveReq(srv, signed(t, "POST", "/connectors/orders-source/tasks", taskConfigsBody, other))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("other key: status %d, want 403", resp.StatusCode)
	}
	// A signature over other bytes than the body sent.
	req := signed(t, "POST", "/connectors/orders-source/tasks", taskConfigsBody, key)
	req.Body = httptest.NewRequest("POST", "/", strings.NewReader(`[{"task.class":"evil"}]`)).Body
	if resp := serveReq(srv, req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered body: status %d, want 403", resp.StatusCode)
	}
	if calls := in.recorded(); len(calls) != 0 {
		t.Fatalf("refused requests reached the herder: %v", calls)
	}

	resp = serveReq(srv, signed(t, "POST", "/connectors/orders-source/tasks", taskConfigsBody, key))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed tasks: status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	resp = serveReq(srv, signed(t, "PUT", "/connectors/orders-source/fence", "", key))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("signed fence: status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	if got, want := in.recorded(), []string{wantPut, "FenceZombies orders-source"}; !slices.Equal(got, want) {
		t.Errorf("internal calls\n%q\nwant\n%q", got, want)
	}

	for body, want := range map[string]string{
		`{"task.class":"x"}`:      "must be a JSON array of task configs",
		`[{"a":"b"},["x"]]`:       "task config 1: must be a JSON object",
		`[{"a":{"nested":true}}]`: `task config 0: property "a"`,
		`null`:                    "must be a JSON array",
	} {
		resp := serveReq(srv, signed(t, "POST", "/connectors/c/tasks", body, key))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, resp.StatusCode)
			continue
		}
		if msg := errorOf(t, resp); !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want it to contain %q", body, msg, want)
		}
	}
}

// TestInternalEndpointsNeedOption: without WithInternal there is no POST
// /connectors/{c}/tasks, signed or not.
func TestInternalEndpointsNeedOption(t *testing.T) {
	key := sign.DefaultConfig().GenerateKey(time.Now())
	resp := serveReq(newServer(newFake()), signed(t, "POST", "/connectors/c/tasks", "[]", key))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("status %d, want 405", resp.StatusCode)
	}
}

// TestInternalSkipsUserAuth: with user authentication configured the
// internal endpoints take a signed request without credentials, while
// every other endpoint still wants them; the Host check still applies.
func TestInternalSkipsUserAuth(t *testing.T) {
	dir := t.TempDir()
	auth, err := rest.LoadAuth(rest.AuthConfig{TokensFile: writeFile(t, dir, "tokens",
		[]byte(sha256Hex(adminToken)+":deploy-bot:admin\n"))})
	if err != nil {
		t.Fatal(err)
	}
	cfg := sign.DefaultConfig()
	key := cfg.GenerateKey(time.Now())
	var keys sign.Holder
	keys.Set(key)
	in := &fakeInternal{}
	srv := newServer(newFake(), rest.WithAuth(auth), rest.WithAllowedHosts([]string{"localhost"}),
		rest.WithInternal(in, &keys, cfg))

	req := signed(t, "POST", "http://localhost/connectors/orders-source/tasks", taskConfigsBody, key)
	if resp := serveReq(srv, req); resp.StatusCode != http.StatusNoContent {
		t.Errorf("signed, no credentials: status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	req = signed(t, "POST", "http://localhost/connectors/orders-source/tasks", taskConfigsBody, sign.Key{})
	if resp := serveReq(srv, req); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned, no credentials: status %d, want 400 from the signature check", resp.StatusCode)
	}
	req = httptest.NewRequest("GET", "http://localhost/connectors/orders-source/tasks", nil)
	if resp := serveReq(srv, req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET tasks without credentials: status %d, want 401", resp.StatusCode)
	}
	req = signed(t, "PUT", "http://evil.example/connectors/orders-source/fence", "", key)
	if resp := serveReq(srv, req); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: status %d, want 421", resp.StatusCode)
	}
	if got := in.recorded(); !slices.Equal(got, []string{wantPut}) {
		t.Errorf("internal calls %q", got)
	}
}

// startInternal serves an internal-enabled REST server with keys.
func startInternal(t *testing.T, in api.Internal, keys *sign.Holder, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	var h http.Handler = newServer(newFake(), rest.WithInternal(in, keys, sign.DefaultConfig()))
	if wrap != nil {
		h = wrap(h)
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
