package rest_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// seen is one request as a worker received it.
type seen struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         string
}

// worker is a REST server on an httptest server that records every
// request it receives before serving it.
type worker struct {
	*httptest.Server
	herder *fakeHerder
	mu     sync.Mutex
	reqs   []seen
}

func (w *worker) received() []seen {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reqs)
}

// startWorker serves a REST server for f over http (or https with tls).
func startWorker(t *testing.T, f *fakeHerder, https bool, opts ...rest.Option) *worker {
	t.Helper()
	w := &worker{herder: f}
	srv := newServer(f, opts...)
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request body: %v", err)
		}
		w.mu.Lock()
		w.reqs = append(w.reqs, seen{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), string(body)})
		w.mu.Unlock()
		r.Body = http.NoBody
		if len(body) > 0 {
			r.Body = io.NopCloser(strings.NewReader(string(body)))
		}
		srv.ServeHTTP(rw, r)
	})
	if https {
		w.Server = httptest.NewTLSServer(h)
	} else {
		w.Server = httptest.NewServer(h)
	}
	t.Cleanup(w.Close)
	return w
}

// request sends one request with headers and returns status, headers and body.
func request(t *testing.T, method, target, body string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	return send(t, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, method, target, body, headers)
}

// TestForwardWriteToLeader: a create that reaches a follower is sent,
// byte for byte with the client's headers, to the leader, and the client
// gets the leader's answer: status, Location, Content-Type and body.
func TestForwardWriteToLeader(t *testing.T) {
	leader := startWorker(t, newFake(), false)
	ff := newFake()
	ff.errs["CreateConnector"] = &api.NotLeaderError{LeaderURL: leader.URL}
	follower := startWorker(t, ff, false)

	body := `{"name":"orders-source","config":{"connector.class":"postgres","tasks.max":1}}`
	hdr := map[string]string{"Content-Type": "application/json; charset=utf-8", "Accept": "application/json", "Authorization": "Bearer abc"}
	status, h, got := request(t, "POST", follower.URL+"/connectors?expand=ignored", body, hdr)
	if status != http.StatusCreated {
		t.Fatalf("status %d: %s", status, got)
	}
	if loc := h.Get("Location"); loc != "/connectors/orders-source" {
		t.Errorf("Location %q", loc)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// The leader's own answer to the same request, for comparison.
	_, _, direct := request(t, "POST", leader.URL+"/connectors", body, hdr)
	if string(got) != string(direct) {
		t.Errorf("relayed body\n%s\nleader's body\n%s", got, direct)
	}

	reqs := leader.received()
	if len(reqs) != 2 {
		t.Fatalf("leader received %d requests, want 2 (the forwarded one and the direct one)", len(reqs))
	}
	fw := reqs[0]
	if fw.Method != "POST" || fw.Path != "/connectors" || fw.Body != body {
		t.Errorf("forwarded request %s %s %q", fw.Method, fw.Path, fw.Body)
	}
	if fw.Query.Get(rest.ForwardParam) != "true" || fw.Query.Get("expand") != "ignored" {
		t.Errorf("forwarded query %v, want forward=true and the client's expand", fw.Query)
	}
	for k, v := range hdr {
		if fw.Header.Get(k) != v {
			t.Errorf("forwarded %s = %q, want %q", k, fw.Header.Get(k), v)
		}
	}
	if calls := leader.herder.recorded(); len(calls) == 0 || calls[0].Method != "CreateConnector" {
		t.Errorf("leader herder calls %v", calls)
	}
	if calls := ff.recorded(); len(calls) != 1 {
		t.Errorf("follower herder calls %v, want the one CreateConnector", calls)
	}
}

// TestForwardWithAuthentication: with authentication on every worker,
// the client's credentials travel with the forwarded request and the
// leader checks them again; without them the follower answers 401
// itself.
func TestForwardWithAuthentication(t *testing.T) {
	dir := t.TempDir()
	auth, err := rest.LoadAuth(rest.AuthConfig{TokensFile: writeFile(t, dir, "tokens",
		[]byte(sha256Hex(adminToken)+":deploy-bot:admin\n"))})
	if err != nil {
		t.Fatal(err)
	}
	leader := startWorker(t, newFake(), false, rest.WithAuth(auth))
	ff := newFake()
	ff.errs["PauseConnector"] = &api.NotLeaderError{LeaderURL: leader.URL}
	follower := startWorker(t, ff, false, rest.WithAuth(auth))

	status, _, body := request(t, "PUT", follower.URL+"/connectors/orders-sink/pause", "", map[string]string{"Authorization": "Bearer " + adminToken})
	if status != http.StatusAccepted {
		t.Fatalf("status %d: %s", status, body)
	}
	if calls := leader.herder.recorded(); len(calls) != 1 || calls[0].String() != "PauseConnector[orders-sink]" {
		t.Errorf("leader herder calls %v", calls)
	}
	if got := leader.received()[0].Header.Get("Authorization"); got != "Bearer "+adminToken {
		t.Errorf("leader saw Authorization %q", got)
	}

	status, _, _ = request(t, "PUT", follower.URL+"/connectors/orders-sink/pause", "", nil)
	if status != http.StatusUnauthorized || len(leader.received()) != 1 {
		t.Errorf("without credentials: status %d, leader received %d requests (want 401 and still 1)", status, len(leader.received()))
	}
}

// TestForwardedRequestNotForwardedAgain: a request marked forward=false
// that reaches a worker which is not the leader either gets 409 and goes
// nowhere.
func TestForwardedRequestNotForwardedAgain(t *testing.T) {
	leader := startWorker(t, newFake(), false)
	ff := newFake()
	ff.errs["DeleteConnector"] = &api.NotLeaderError{LeaderURL: leader.URL}
	follower := startWorker(t, ff, false)

	status, _, body := request(t, "DELETE", follower.URL+"/connectors/orders-sink?forward=false", "", nil)
	if status != http.StatusConflict {
		t.Fatalf("status %d: %s", status, body)
	}
	if msg := connectError(t, status, body); msg != rest.ConflictMessage {
		t.Errorf("message %q", msg)
	}
	if n := len(leader.received()); n != 0 {
		t.Errorf("leader received %d requests", n)
	}
}

// TestForwardNoLoop: two workers that each name the other leader bounce
// a request at most twice: client → A → B (forward=true) → A
// (forward=false), which answers 409.
func TestForwardNoLoop(t *testing.T) {
	fa, fb := newFake(), newFake()
	a, b := startWorker(t, fa, false), startWorker(t, fb, false)
	fa.errs["StopConnector"] = &api.NotLeaderError{LeaderURL: b.URL}
	fb.errs["StopConnector"] = &api.NotLeaderError{LeaderURL: a.URL}

	status, _, body := request(t, "PUT", a.URL+"/connectors/orders-sink/stop", "", nil)
	if status != http.StatusConflict {
		t.Fatalf("status %d: %s", status, body)
	}
	if msg := connectError(t, status, body); msg != rest.ConflictMessage {
		t.Errorf("message %q", msg)
	}
	ra, rb := a.received(), b.received()
	if len(ra) != 2 || len(rb) != 1 {
		t.Fatalf("A received %d, B %d requests; want 2 and 1", len(ra), len(rb))
	}
	if _, ok := ra[0].Query[rest.ForwardParam]; ok {
		t.Errorf("the client's request is marked: %v", ra[0].Query)
	}
	if rb[0].Query.Get(rest.ForwardParam) != "true" || ra[1].Query.Get(rest.ForwardParam) != "false" {
		t.Errorf("hops marked %v then %v, want forward=true then forward=false", rb[0].Query, ra[1].Query)
	}
}

// TestNoKnownLeader: while the pool has no leader a write gets Connect's
// 409.
func TestNoKnownLeader(t *testing.T) {
	f := newFake()
	f.errs["PutConnectorConfig"] = &api.NotLeaderError{}
	resp := do(t, newServer(f), "PUT", "/connectors/c/config", `{"connector.class":"datagen"}`)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); msg != api.NoLeaderMessage {
		t.Errorf("message %q", msg)
	}
	// A restart whose task no worker runs.
	f.errs["RestartTask"] = &api.NotOwnerError{What: "task c-0"}
	resp = do(t, newServer(f), "POST", "/connectors/c/tasks/0/restart", "")
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("restart: status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, "no worker is known to run task c-0") {
		t.Errorf("restart message %q", msg)
	}
}

// TestForwardRestartToOwner: restarts go to the worker that runs the
// instance, with their query parameters; when the follower sends a
// restart to the leader, the leader sends it on to the owner
// (forward=false) and the client gets the owner's answer.
func TestForwardRestartToOwner(t *testing.T) {
	owner := startWorker(t, newFake(), false)

	t.Run("task", func(t *testing.T) {
		f := newFake()
		f.errs["RestartTask"] = &api.NotOwnerError{OwnerURL: owner.URL, What: "task orders-sink-1"}
		w := startWorker(t, f, false)
		status, _, body := request(t, "POST", w.URL+"/connectors/orders-sink/tasks/1/restart", "", nil)
		if status != http.StatusNoContent {
			t.Fatalf("status %d: %s", status, body)
		}
		calls := owner.herder.recorded()
		if len(calls) == 0 || calls[len(calls)-1].String() != "RestartTask[orders-sink 1]" {
			t.Errorf("owner calls %v", calls)
		}
	})
	t.Run("connector through the leader", func(t *testing.T) {
		fl := newFake()
		fl.errs["RestartConnector"] = &api.NotOwnerError{OwnerURL: owner.URL, What: "connector orders-sink"}
		leader := startWorker(t, fl, false)
		ff := newFake()
		ff.errs["RestartConnector"] = &api.NotLeaderError{LeaderURL: leader.URL}
		follower := startWorker(t, ff, false)

		before := len(owner.received())
		status, _, body := request(t, "POST", follower.URL+"/connectors/orders-sink/restart?includeTasks=true&onlyFailed=true", "", nil)
		if status != http.StatusAccepted {
			t.Fatalf("status %d: %s", status, body)
		}
		if !strings.Contains(string(body), `"state":"RESTARTING"`) {
			t.Errorf("body %s, want the owner's status with RESTARTING", body)
		}
		reqs := owner.received()[before:]
		if len(reqs) != 1 {
			t.Fatalf("owner received %d requests", len(reqs))
		}
		q := reqs[0].Query
		if q.Get("includeTasks") != "true" || q.Get("onlyFailed") != "true" || q.Get(rest.ForwardParam) != "false" {
			t.Errorf("owner's query %v", q)
		}
		calls := owner.herder.recorded()
		if calls[len(calls)-1].String() != "RestartConnector[orders-sink true true]" {
			t.Errorf("owner calls %v", calls)
		}
	})
}

// TestForwardLeaderUnreachable: a leader that cannot be reached is a 503
// naming it; a leader that does not answer in time is Connect's 500
// "Request timed out", naming it too.
func TestForwardLeaderUnreachable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	f := newFake()
	f.errs["DeleteConnector"] = &api.NotLeaderError{LeaderURL: gone.URL}
	resp := do(t, newServer(f), "DELETE", "/connectors/c", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, "to the leader at "+gone.URL) {
		t.Errorf("message %q", msg)
	}

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer slow.Close()
	defer close(release)
	f.errs["DeleteConnector"] = &api.NotLeaderError{LeaderURL: slow.URL}
	resp = do(t, newServer(f, rest.WithRequestTimeout(50*time.Millisecond)), "DELETE", "/connectors/c", "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("slow leader: status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.HasPrefix(msg, "Request timed out") || !strings.Contains(msg, slow.URL) {
		t.Errorf("slow leader: message %q", msg)
	}
}

// TestForwardToHTTPSLeader: the forwarding client trusts what
// WithForwardingTLS says, and only that.
func TestForwardToHTTPSLeader(t *testing.T) {
	leader := startWorker(t, newFake(), true)
	roots := x509.NewCertPool()
	roots.AddCert(leader.Certificate())

	f := newFake()
	f.errs["ResumeConnector"] = &api.NotLeaderError{LeaderURL: leader.URL}
	resp := do(t, newServer(f, rest.WithForwardingTLS(&tls.Config{RootCAs: roots})), "PUT", "/connectors/c/resume", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
	}
	resp = do(t, newServer(f), "PUT", "/connectors/c/resume", "")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("system roots: status %d, want 503", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, "certificate") || !strings.Contains(msg, leader.URL) {
		t.Errorf("system roots: message %q", msg)
	}
	if calls := leader.herder.recorded(); len(calls) != 1 {
		t.Errorf("leader calls %v", calls)
	}
}

// TestForwardParamChecked: a forward value other than true or false is
// a 400 when the request would be forwarded.
func TestForwardParamChecked(t *testing.T) {
	f := newFake()
	f.errs["ResetOffsets"] = &api.NotLeaderError{LeaderURL: "http://127.0.0.1:1"}
	resp := do(t, newServer(f), "DELETE", "/connectors/c/offsets?forward=yes", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, `forward="yes"`) {
		t.Errorf("message %q", msg)
	}
}

// TestForwardBadLeaderURL: a leader URL that is not a base URL is a 500
// that says which setting to check.
func TestForwardBadLeaderURL(t *testing.T) {
	f := newFake()
	f.errs["ResetConnectorTopics"] = &api.NotLeaderError{LeaderURL: "10.0.0.7:8083"}
	resp := do(t, newServer(f), "PUT", "/connectors/c/topics/reset", "")
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, `"10.0.0.7:8083"`) || !strings.Contains(msg, "rest.advertised") {
		t.Errorf("message %q", msg)
	}
}
