package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// configured is a REST server set up from worker properties, as the
// worker sets it up, serving a fake herder on a real socket.
type configured struct {
	url  string // scheme://host:port as the listener is reached
	addr string // host:port
	fake *fakeHerder
	logs *syncBuffer
}

// startConfigured parses props as a worker config, builds the listener
// with rest.ListenerFromConfig and serves until the test ends.
func startConfigured(t *testing.T, props map[string]string) *configured {
	t.Helper()
	cfg, err := config.LoadWorker("", nil, props)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	l, err := rest.ListenerFromConfig(cfg, logger)
	if err != nil {
		t.Fatalf("ListenerFromConfig: %v", err)
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	srv := rest.New(f, logger, l.Options...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := wait(t, done); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &configured{url: l.Scheme + "://" + ln.Addr().String(), addr: ln.Addr().String(), fake: f, logs: logs}
}

// send sends one request with the given headers (Host sets the Host
// header) and returns the status, the headers and the body.
func send(t *testing.T, client *http.Client, method, url, body string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// connectError decodes Connect's error body and checks its shape.
func connectError(t *testing.T, status int, body []byte) string {
	t.Helper()
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode != status || e.Message == "" {
		t.Fatalf("status %d with body %s: want Connect's {\"error_code\":%d,\"message\":...}", status, body, status)
	}
	return e.Message
}

func methodsCalled(f *fakeHerder) []string {
	var m []string
	for _, c := range f.recorded() {
		m = append(m, c.Method)
	}
	return m
}

const createBody = `{"name":"csrf","config":{"connector.class":"datagen","tasks.max":"1"}}`

// TestCSRFTextPlainRefused: the body a web page can send to another site
// without a preflight (text/plain, a form) gets 415 and creates nothing;
// JSON, with or without a charset, is served.
func TestCSRFTextPlainRefused(t *testing.T) {
	c := startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0"})
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		status, _, body := send(t, nil, "POST", c.url+"/connectors", createBody, map[string]string{"Content-Type": ct})
		if status != http.StatusUnsupportedMediaType {
			t.Fatalf("POST /connectors with Content-Type %q: %d %s, want 415", ct, status, body)
		}
		msg := connectError(t, status, body)
		if !strings.Contains(msg, "Content-Type: application/json") {
			t.Errorf("415 message %q does not say to send application/json", msg)
		}
	}
	// A PUT of a config and a PATCH are writes too.
	for _, m := range []string{"PUT", "PATCH"} {
		status, _, body := send(t, nil, m, c.url+"/connectors/csrf/config", `{"tasks.max":"1"}`, map[string]string{"Content-Type": "text/plain"})
		if status != http.StatusUnsupportedMediaType {
			t.Fatalf("%s config as text/plain: %d %s, want 415", m, status, body)
		}
	}
	if calls := methodsCalled(c.fake); len(calls) != 0 {
		t.Fatalf("refused writes reached the herder: %v", calls)
	}

	status, _, body := send(t, nil, "POST", c.url+"/connectors", createBody, map[string]string{"Content-Type": "application/json; charset=utf-8"})
	if status != http.StatusCreated {
		t.Fatalf("POST /connectors as application/json; charset=utf-8: %d %s, want 201", status, body)
	}
	// A write without a body needs no Content-Type.
	status, _, body = send(t, nil, "PUT", c.url+"/connectors/inventory-source/pause", "", nil)
	if status != http.StatusAccepted {
		t.Fatalf("PUT pause without a body: %d %s, want 202", status, body)
	}
	if calls := methodsCalled(c.fake); !slices.Equal(calls, []string{"CreateConnector", "PauseConnector"}) {
		t.Fatalf("herder calls = %v, want [CreateConnector PauseConnector]", calls)
	}
}

// TestForeignHostRefused: a request naming another Host (DNS
// rebinding: the attacker's name resolved to the worker) is refused with
// 421 before it reaches the herder; the worker's own names are served.
func TestForeignHostRefused(t *testing.T) {
	c := startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0"})
	_, port, _ := net.SplitHostPort(c.addr)
	for _, host := range []string{"attacker.example:" + port, "attacker.example", "127.0.0.1.nip.io:" + port} {
		status, _, body := send(t, nil, "GET", c.url+"/connectors", "", map[string]string{"Host": host})
		if status != http.StatusMisdirectedRequest {
			t.Fatalf("Host %s: %d %s, want 421", host, status, body)
		}
		msg := connectError(t, status, body)
		if !strings.Contains(msg, config.RESTAllowedHosts) {
			t.Errorf("421 message %q does not name %s", msg, config.RESTAllowedHosts)
		}
		status, _, body = send(t, nil, "POST", c.url+"/connectors", createBody, map[string]string{"Host": host, "Content-Type": "application/json"})
		if status != http.StatusMisdirectedRequest {
			t.Fatalf("POST with Host %s: %d %s, want 421", host, status, body)
		}
	}
	if calls := methodsCalled(c.fake); len(calls) != 0 {
		t.Fatalf("requests for a foreign Host reached the herder: %v", calls)
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST.:" + port, "[::1]:" + port} {
		status, _, body := send(t, nil, "GET", c.url+"/connectors", "", map[string]string{"Host": host})
		if status != http.StatusOK {
			t.Fatalf("Host %s: %d %s, want 200", host, status, body)
		}
	}

	// rest.allowed.hosts replaces the default.
	c = startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0", config.RESTAllowedHosts: "sluice.internal"})
	_, port, _ = net.SplitHostPort(c.addr)
	if status, _, body := send(t, nil, "GET", c.url+"/connectors", "", map[string]string{"Host": "sluice.internal:" + port}); status != 200 {
		t.Fatalf("Host sluice.internal allowed by rest.allowed.hosts: %d %s", status, body)
	}
	if status, _, body := send(t, nil, "GET", c.url+"/connectors", "", nil); status != http.StatusMisdirectedRequest {
		t.Fatalf("Host 127.0.0.1 not in rest.allowed.hosts: %d %s, want 421", status, body)
	}
}

// TestForeignOriginRefused: a request from another site's page (its
// Origin names another host) is refused with 403, even a GET.
func TestForeignOriginRefused(t *testing.T) {
	c := startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0"})
	for _, origin := range []string{"http://evil.example", "https://evil.example:8083", "null", "file://"} {
		for _, req := range []struct{ method, body string }{{"GET", ""}, {"POST", createBody}} {
			status, _, body := send(t, nil, req.method, c.url+"/connectors", req.body,
				map[string]string{"Origin": origin, "Content-Type": "application/json"})
			if status != http.StatusForbidden {
				t.Fatalf("%s with Origin %s: %d %s, want 403", req.method, origin, status, body)
			}
			if msg := connectError(t, status, body); !strings.Contains(msg, "Origin") || !strings.Contains(msg, config.RESTAllowedHosts) {
				t.Errorf("403 message %q does not explain the Origin refusal", msg)
			}
		}
	}
	if calls := methodsCalled(c.fake); len(calls) != 0 {
		t.Fatalf("cross-origin requests reached the herder: %v", calls)
	}
}

// TestSameOriginBrowserRequest: a page served by the worker's own
// origin, sending what a browser sends, is served.
func TestSameOriginBrowserRequest(t *testing.T) {
	c := startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0"})
	browser := map[string]string{
		"Origin":         c.url,
		"Content-Type":   "application/json",
		"Sec-Fetch-Site": "same-origin",
		"Sec-Fetch-Mode": "cors",
		"User-Agent":     "Mozilla/5.0",
		"Referer":        c.url + "/ui/",
	}
	status, _, body := send(t, nil, "POST", c.url+"/connectors", createBody, browser)
	if status != http.StatusCreated {
		t.Fatalf("same-origin POST: %d %s, want 201", status, body)
	}
	status, _, body = send(t, nil, "GET", c.url+"/connectors", "", browser)
	if status != http.StatusOK {
		t.Fatalf("same-origin GET: %d %s, want 200", status, body)
	}
	if calls := methodsCalled(c.fake); !slices.Equal(calls, []string{"CreateConnector", "Connectors"}) {
		t.Fatalf("herder calls = %v", calls)
	}
}

// TestDefaultAllowedHosts: the default names per kind of listener.
func TestDefaultAllowedHosts(t *testing.T) {
	for _, h := range []string{"127.0.0.1", "localhost", "::1", "[::1]"} {
		got := rest.DefaultAllowedHosts(h)
		for _, want := range []string{"localhost", "127.0.0.1", "::1"} {
			if !slices.Contains(got, want) {
				t.Errorf("DefaultAllowedHosts(%q) = %v, missing %s", h, got, want)
			}
		}
	}
	if got := rest.DefaultAllowedHosts("sluice.example.com"); !slices.Equal(got, []string{"sluice.example.com"}) {
		t.Errorf("DefaultAllowedHosts(sluice.example.com) = %v, want only that name", got)
	}
	if got := rest.DefaultAllowedHosts("10.1.2.3"); !slices.Equal(got, []string{"10.1.2.3"}) {
		t.Errorf("DefaultAllowedHosts(10.1.2.3) = %v, want only that address", got)
	}
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, wild := range []string{"0.0.0.0", "::", ""} {
		got := rest.DefaultAllowedHosts(wild)
		for _, want := range []string{"localhost", "127.0.0.1", "::1", hostname} {
			if !slices.Contains(got, want) {
				t.Errorf("DefaultAllowedHosts(%q) = %v, missing %s", wild, got, want)
			}
		}
	}
}

// TestWildcardListenerHosts: a worker on 0.0.0.0 answers to the
// machine's host name and addresses, and still refuses other names.
func TestWildcardListenerHosts(t *testing.T) {
	c := startConfigured(t, map[string]string{config.Listeners: "http://0.0.0.0:0"})
	_, port, _ := net.SplitHostPort(c.addr)
	url := "http://127.0.0.1:" + port
	hostname, _ := os.Hostname()
	for _, host := range []string{hostname, "127.0.0.1", "localhost"} {
		if status, _, body := send(t, nil, "GET", url+"/connectors", "", map[string]string{"Host": host + ":" + port}); status != 200 {
			t.Fatalf("Host %s on a 0.0.0.0 listener: %d %s, want 200", host, status, body)
		}
	}
	status, _, body := send(t, nil, "GET", url+"/connectors", "", map[string]string{"Host": "attacker.example:" + port})
	if status != http.StatusMisdirectedRequest {
		t.Fatalf("foreign Host on a 0.0.0.0 listener: %d %s, want 421", status, body)
	}
	// A rebinding page can read the refusal: it must not list the
	// machine's names and addresses. The worker's log does.
	if strings.Contains(string(body), hostname) || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("421 body lists the allowed names: %s", body)
	}
	if logs := c.logs.String(); !strings.Contains(logs, "allowed_hosts=") || !strings.Contains(logs, hostname) {
		t.Errorf("the allowed hosts are not in the log:\n%s", logs)
	}
	// Open on every interface: the operator is warned.
	if logs := c.logs.String(); !strings.Contains(logs, "no authentication") || !strings.Contains(logs, "level=WARN") {
		t.Errorf("no warning about an unauthenticated non-loopback listener in the log:\n%s", logs)
	}
	// * turns the check off.
	c = startConfigured(t, map[string]string{config.Listeners: "http://127.0.0.1:0", config.RESTAllowedHosts: "*"})
	if status, _, body := send(t, nil, "GET", c.url+"/connectors", "", map[string]string{"Host": "anything.example", "Origin": "http://other.example"}); status != 200 {
		t.Fatalf("rest.allowed.hosts=*: %d %s, want 200", status, body)
	}
	// Loopback without auth: no warning.
	if logs := c.logs.String(); strings.Contains(logs, "no authentication") {
		t.Errorf("warning for a loopback listener:\n%s", logs)
	}
}
