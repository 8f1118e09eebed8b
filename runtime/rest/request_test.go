package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// TestMalformedBody checks that a body that is not valid JSON, or has a
// value of the wrong type, gets a 400 saying what is wrong and where.
func TestMalformedBody(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		want                     []string // substrings of the message
	}{
		{name: "syntax error on line 3", method: "PUT", path: "/connectors/c/config",
			body: "{\n  \"connector.class\": \"jdbc\",\n  \"tasks.max\": 2,,\n}",
			want: []string{"malformed JSON in request body at line 3, column 18 (byte offset 48)",
				"invalid character ',' looking for beginning of object key string"}},
		{name: "missing comma", method: "POST", path: "/connectors",
			body: `{"name":"c" "config":{}}`,
			want: []string{"line 1, column 13 (byte offset 12)", "invalid character '\"' after object key:value pair"}},
		{name: "cut short", method: "POST", path: "/connectors",
			body: "{\"name\":\"c\",\n\"config\":{\"a\":",
			want: []string{"line 2, column 15 (byte offset 27)", "unexpected end of JSON input"}},
		{name: "trailing data", method: "PUT", path: "/connectors/c/config",
			body: `{"a":"b"} {"c":"d"}`,
			want: []string{"line 1, column 11 (byte offset 10)", "unexpected data after the JSON value"}},
		{name: "single quotes", method: "PUT", path: "/connector-plugins/postgres/config/validate",
			body: `{'a':'b'}`,
			want: []string{"line 1, column 2 (byte offset 1)", "invalid character '\\''"}},
		{name: "object where a string belongs", method: "POST", path: "/connectors",
			body: `{"name":{"first":"c"},"config":{}}`,
			want: []string{`request body field "name" must be a string, not an object`, "line 1, column 9 (byte offset 8)"}},
		{name: "body is an array", method: "POST", path: "/connectors",
			body: `[{"name":"c"}]`,
			want: []string{"request body must be a JSON object, not an array"}},
		{name: "offsets not a list", method: "PATCH", path: "/connectors/c/offsets",
			body: `{"offsets":{"partition":{}}}`,
			want: []string{`request body field "offsets" must be a JSON array, not an object`}},
		{name: "offset entry wrong type", method: "PATCH", path: "/connectors/c/offsets",
			body: `{"offsets":[{"partition":"p0","offset":{}}]}`,
			want: []string{`request body field "offsets.partition" must be a JSON object, not a string`}},
		{name: "config value is an array", method: "PUT", path: "/connectors/c/config",
			body: `{"topics":["a","b"]}`,
			want: []string{`property "topics": must be a string, number or boolean, not an array`,
				`write nested settings as flat dotted keys such as "topics.sub": "value"`}},
		{name: "patch value is an object", method: "PATCH", path: "/connectors/c/config",
			body: `{"transforms":{"unwrap":{}}}`,
			want: []string{`property "transforms": must be a string, number or boolean, not an object`}},
		{name: "whitespace only", method: "PUT", path: "/connectors/c/config",
			body: " \n\t ",
			want: []string{"request body is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			resp := do(t, newServer(f), tc.method, tc.path, tc.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", resp.StatusCode, readAll(t, resp))
			}
			msg := errorOf(t, resp)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q\ndoes not contain %q", msg, w)
				}
			}
			if calls := f.recorded(); len(calls) != 0 {
				t.Errorf("a malformed body reached the herder: %v", calls)
			}
		})
	}
}

// TestConfigScalars checks that numbers and booleans in config maps are
// accepted as their string form, on every endpoint that takes one.
func TestConfigScalars(t *testing.T) {
	body := `{"tasks.max": 2, "batch.size": -1, "ratio": 0.25, "big": 12345678901234567890, "exp": 1E+3,` +
		` "delete.enabled": true, "auto.create": false, "s": "text", "empty": "", "u": "\u00e9\n"}`
	want := map[string]string{"tasks.max": "2", "batch.size": "-1", "ratio": "0.25", "big": "12345678901234567890",
		"exp": "1E+3", "delete.enabled": "true", "auto.create": "false", "s": "text", "empty": "", "u": "é\n"}

	t.Run("validate", func(t *testing.T) {
		f := newFake()
		resp := do(t, newServer(f), "PUT", "/connector-plugins/jdbc/config/validate", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
		}
		got := f.recorded()[0].Args[1].(map[string]string)
		assertMap(t, got, want)
	})
	t.Run("put", func(t *testing.T) {
		f := newFake()
		resp := do(t, newServer(f), "PUT", "/connectors/c/config", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
		}
		got := f.recorded()[0].Args[1].(map[string]string)
		w := map[string]string{"name": "c"}
		for k, v := range want {
			w[k] = v
		}
		assertMap(t, got, w)
	})
	t.Run("create", func(t *testing.T) {
		f := newFake()
		resp := do(t, newServer(f), "POST", "/connectors", `{"name":"c","config":`+body+`}`)
		if resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
		}
		got := f.recorded()[0].Args[0].(api.CreateRequest).Config
		w := map[string]string{"name": "c"}
		for k, v := range want {
			w[k] = v
		}
		assertMap(t, got, w)
	})
	t.Run("patch", func(t *testing.T) {
		f := newFake()
		resp := do(t, newServer(f), "PATCH", "/connectors/c/config", body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp))
		}
		patch := f.recorded()[0].Args[1].(map[string]*string)
		got := map[string]string{}
		for k, v := range patch {
			got[k] = *v
		}
		assertMap(t, got, want)
	})
}

func assertMap(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d %v", len(got), got, len(want), want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%q = %q (present %v), want %q", k, g, ok, v)
		}
	}
}

// TestBodyLimit checks that a body over the limit is refused with 413
// before it reaches the herder.
func TestBodyLimit(t *testing.T) {
	f := newFake()
	srv := newServer(f, rest.WithMaxBodyBytes(64))
	body := `{"name":"c","config":{"x":"` + strings.Repeat("a", 100) + `"}}`
	resp := do(t, srv, "POST", "/connectors", body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, "larger than the 64-byte limit") {
		t.Errorf("message %q", msg)
	}
	if calls := f.recorded(); len(calls) != 0 {
		t.Errorf("herder was called: %v", calls)
	}
	// At the limit it is accepted.
	ok := `{"name":"c","config":{"x":"` + strings.Repeat("a", 64-30) + `"}}`
	if len(ok) != 64 {
		t.Fatalf("test body is %d bytes", len(ok))
	}
	if resp := do(t, srv, "POST", "/connectors", ok); resp.StatusCode != 201 {
		t.Errorf("64-byte body: status %d: %s", resp.StatusCode, readAll(t, resp))
	}
}

// TestRequestTimeout checks that every herder call gets a deadline, and
// that a call that runs out of it answers Connect's 500 "Request timed
// out".
func TestRequestTimeout(t *testing.T) {
	t.Run("default deadline", func(t *testing.T) {
		f := newFake()
		var left time.Duration
		f.ctxCheck = func(ctx context.Context) {
			d, ok := ctx.Deadline()
			if !ok {
				t.Error("herder context has no deadline")
			}
			left = time.Until(d)
		}
		if resp := do(t, newServer(f), "GET", "/connectors", ""); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if left <= rest.DefaultRequestTimeout-10*time.Second || left > rest.DefaultRequestTimeout {
			t.Errorf("deadline %s away, want about %s", left, rest.DefaultRequestTimeout)
		}
	})
	t.Run("timed out", func(t *testing.T) {
		f := newFake()
		f.ctxCheck = func(ctx context.Context) { <-ctx.Done() }
		f.errs["ConnectorStatus"] = context.DeadlineExceeded
		resp := do(t, newServer(f, rest.WithRequestTimeout(20*time.Millisecond)), "GET", "/connectors/c/status", "")
		if resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
		if msg := errorOf(t, resp); !strings.HasPrefix(msg, "Request timed out") {
			t.Errorf("message %q", msg)
		}
	})
}

// TestRequestLog checks the debug line per request and that request
// bodies, which hold secrets, never reach the log.
func TestRequestLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake()
	f.errs["ValidateConfig"] = api.Errorf(500, "boom")
	srv := rest.New(f, logger)

	do(t, srv, "PUT", "/connectors/c/config", `{"database.password":"hunter2-secret"}`)
	do(t, srv, "PUT", "/connector-plugins/p/config/validate", `{"database.password":"hunter2-secret"}`)
	do(t, srv, "GET", "/nope", "")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="rest request" method=PUT path=/connectors/c/config status=200 duration=`,
		`level=DEBUG msg="rest request" method=GET path=/nope status=404 duration=`,
		`level=WARN msg="rest request failed" method=PUT path=/connector-plugins/p/config/validate status=500 error=boom`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("log contains a request body:\n%s", out)
	}
}

// TestExtraHandler checks WithHandler routes next to the Connect API and
// gets the JSON 405.
func TestExtraHandler(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("sluice_up 1\n"))
	})
	srv := newServer(newFake(), rest.WithHandler("GET /metrics", metrics))
	resp := do(t, srv, "GET", "/metrics", "")
	if resp.StatusCode != 200 || string(readAll(t, resp)) != "sluice_up 1\n" {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	resp = do(t, srv, "POST", "/metrics", "")
	if resp.StatusCode != 405 {
		t.Fatalf("POST /metrics: %d, want 405", resp.StatusCode)
	}
	errorOf(t, resp)
}

// panicky is a herder whose ConnectorInfo panics.
type panicky struct{ *fakeHerder }

func (panicky) ConnectorInfo(context.Context, string) (api.ConnectorInfo, error) {
	panic("herder bug")
}

// TestHandlerPanic checks that a panic in the herder answers 500 in the
// error shape instead of dropping the connection.
func TestHandlerPanic(t *testing.T) {
	var buf bytes.Buffer
	srv := rest.New(panicky{newFake()}, slog.New(slog.NewTextHandler(&buf, nil)))
	resp := do(t, srv, "GET", "/connectors/c", "")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	if msg := errorOf(t, resp); !strings.Contains(msg, "internal error handling GET /connectors/c: herder bug") {
		t.Errorf("message %q", msg)
	}
	if !strings.Contains(buf.String(), `msg="rest handler panicked"`) {
		t.Errorf("panic not logged:\n%s", buf.String())
	}
}

// leakyPanicky is a herder whose PutConnectorConfig panics with the
// config it was sent, as a careless bug might.
type leakyPanicky struct{ *fakeHerder }

func (leakyPanicky) PutConnectorConfig(_ context.Context, name string, cfg map[string]string) (api.ConnectorInfo, bool, error) {
	panic(fmt.Sprintf("herder bug putting %s: %v", name, cfg))
}

// A panic value that quotes the request is logged, and answered, with
// the URL credentials in it hidden: the "rest handler panicked" line and
// the "rest request failed" line of the 500.
func TestHandlerPanicHidesURLCredentials(t *testing.T) {
	var buf bytes.Buffer
	srv := rest.New(leakyPanicky{newFake()}, slog.New(slog.NewTextHandler(&buf, nil)))
	resp := do(t, srv, "PUT", "/connectors/c/config",
		`{"connection.url":"jdbc:postgresql://bob:pw-in-url-123@db/app?password=pw-in-param-456"}`)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	msg := errorOf(t, resp)
	logs := buf.String()
	for _, secret := range []string{"pw-in-url-123", "pw-in-param-456"} {
		if strings.Contains(msg, secret) || strings.Contains(logs, secret) {
			t.Errorf("%q shown; message %q, log:\n%s", secret, msg, logs)
		}
	}
	const shown = "jdbc:postgresql://bob:[hidden]@db/app?password=[hidden]"
	if !strings.Contains(msg, "herder bug putting c: map[connection.url:"+shown+" name:c]") {
		t.Errorf("message %q", msg)
	}
	for _, line := range []string{"rest handler panicked", "rest request failed"} {
		found := false
		for _, l := range strings.Split(logs, "\n") {
			found = found || strings.Contains(l, line) && strings.Contains(l, shown)
		}
		if !found {
			t.Errorf("no %q line showing %q:\n%s", line, shown, logs)
		}
	}
}
