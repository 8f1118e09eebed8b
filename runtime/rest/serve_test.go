package rest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// serve starts srv on a free 127.0.0.1 port and returns its base URL, a
// cancel that asks for shutdown, and the channel Serve's result arrives on.
func serve(t *testing.T, srv *rest.Server) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), cancel, done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of its context ending")
		return nil
	}
}

func TestServe(t *testing.T) {
	url, cancel, done := serve(t, newServer(newFake()))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	var info api.ServerInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || info.Version != "0.1.0" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /: %d %+v %q", resp.StatusCode, info, resp.Header.Get("Content-Type"))
	}

	cancel()
	if err := wait(t, done); err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if _, err := client.Get(url + "/"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

// TestServeGraceful checks that a request in flight when the context ends
// still completes, and that one that outlives the shutdown timeout is cut
// off with an error from Serve.
func TestServeGraceful(t *testing.T) {
	for _, tc := range []struct {
		name      string
		timeout   time.Duration
		completes bool
	}{
		{"in-flight request finishes", 10 * time.Second, true},
		{"request outliving the shutdown timeout is cut off", 50 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			entered := make(chan struct{})
			release := make(chan struct{})
			f.ctxCheck = func(ctx context.Context) {
				close(entered)
				<-release
			}
			url, cancel, done := serve(t, newServer(f, rest.WithShutdownTimeout(tc.timeout)))
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

			type result struct {
				status int
				err    error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := client.Get(url + "/connectors")
				if err != nil {
					got <- result{err: err}
					return
				}
				_ = resp.Body.Close()
				got <- result{status: resp.StatusCode}
			}()
			<-entered
			cancel()
			if tc.completes {
				// Shutdown has begun once new connections are refused.
				deadline := time.Now().Add(5 * time.Second)
				for {
					c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
					if err != nil {
						break
					}
					_ = c.Close()
					if time.Now().After(deadline) {
						t.Fatal("listener still open 5s after cancel")
					}
					time.Sleep(5 * time.Millisecond)
				}
				close(release)
				if r := <-got; r.err != nil || r.status != 200 {
					t.Errorf("in-flight request: status %d err %v", r.status, r.err)
				}
				if err := wait(t, done); err != nil {
					t.Errorf("Serve: %v", err)
				}
				return
			}
			err := wait(t, done)
			close(release)
			if err == nil || !strings.Contains(err.Error(), "shutdown timeout") || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Serve = %v, want the shutdown timeout error", err)
			}
			if r := <-got; r.err == nil {
				t.Errorf("cut-off request got status %d, want a connection error", r.status)
			}
		})
	}
}

func TestServeListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	err = newServer(newFake()).Serve(context.Background(), ln)
	if err == nil || !strings.Contains(err.Error(), "rest: serving on 127.0.0.1:") {
		t.Errorf("Serve on a closed listener = %v", err)
	}
}
