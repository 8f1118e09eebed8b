package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// resolvedFor resolves props with a file provider reading secrets (a
// properties file written to a temporary directory) and returns the
// result and the reference to each key of secrets.
func resolvedFor(t testing.TB, secrets map[string]string, props map[string]string) (*config.Resolved, func(key string) string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.properties")
	var b strings.Builder
	for k, v := range secrets {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := func(key string) string { return "${file:" + path + ":" + key + "}" }
	p, err := config.NewProviders(map[string]string{config.ConfigProviders: "file", "config.providers.file.class": "file",
		"config.providers.file.param.allowed.paths": dir})
	if err != nil {
		t.Fatal(err)
	}
	resolved := map[string]string{}
	for k, v := range props {
		resolved[k] = strings.NewReplacer("{{path}}", path).Replace(v)
	}
	res, err := p.Resolve(resolved)
	if err != nil {
		t.Fatal(err)
	}
	return res, ref
}

type stringerValue struct{ s string }

func (s stringerValue) String() string { return "stringer(" + s.s + ")" }

type textValue struct{ s string }

func (v textValue) MarshalText() ([]byte, error) { return []byte("text(" + v.s + ")"), nil }

type valuer struct{ s string }

func (v valuer) LogValue() slog.Value { return slog.StringValue("valued " + v.s) }

// The handler hides resolved values and URL credentials in the message,
// and in attributes of every kind that renders as text, given to the
// call, to WithAttrs or nested in groups, through the text and the JSON
// handlers alike.
func TestScrubHandlerHidesResolvedValuesAndURLCredentials(t *testing.T) {
	const secret, port = "hunter2-distinctive", "54329"
	res, ref := resolvedFor(t, map[string]string{"pw": secret, "port": port},
		map[string]string{"connection.password": "${file:{{path}}:pw}", "port": "${file:{{path}}:port}"})
	secretRef, portRef := ref("pw"), ref("port")
	const url = "jdbc:postgresql://alice:inline-pw-xyz@db:5432/app?password=param-pw-xyz"
	leaks := []string{secret, "inline-pw-xyz", "param-pw-xyz"}

	cases := []struct {
		name string
		log  func(l *slog.Logger)
		// want: what the line must show instead.
		want []string
	}{
		{"message", func(l *slog.Logger) { l.Info("password " + secret + " rejected") }, []string{"password " + secretRef + " rejected"}},
		{"string attr", func(l *slog.Logger) { l.Info("login", "password", secret) }, []string{secretRef}},
		{"error attr", func(l *slog.Logger) {
			l.Warn("poll failed", "error", fmt.Errorf("connecting: %w", errors.New("password "+secret+" rejected")))
		}, []string{"connecting: password " + secretRef + " rejected"}},
		{"nested group", func(l *slog.Logger) {
			l.Info("config", slog.Group("db", slog.String("host", "db"), slog.Group("auth", slog.String("password", secret))))
		}, []string{secretRef}},
		{"with attrs", func(l *slog.Logger) { l.With("password", secret).Info("hello") }, []string{secretRef}},
		{"with group and attrs", func(l *slog.Logger) {
			l.WithGroup("g").With("password", secret).Info("hello", "err", errors.New(secret))
		}, []string{secretRef}},
		{"url user:password@", func(l *slog.Logger) { l.Error("cannot connect to " + url) }, []string{"alice:[hidden]@db", "password=[hidden]"}},
		{"url in an error attr", func(l *slog.Logger) { l.Error("failed", "error", fmt.Errorf("dial %s: refused", url)) },
			[]string{"alice:[hidden]@db"}},
		{"stringer", func(l *slog.Logger) { l.Info("x", "v", stringerValue{secret}) }, []string{"stringer(" + secretRef + ")"}},
		{"text marshaler", func(l *slog.Logger) { l.Info("x", "v", textValue{secret}) }, []string{"text(" + secretRef + ")"}},
		{"log valuer", func(l *slog.Logger) { l.Info("x", "v", valuer{secret}) }, []string{"valued " + secretRef}},
		{"bytes", func(l *slog.Logger) { l.Info("x", "v", []byte(secret)) }, []string{secretRef}},
		{"map", func(l *slog.Logger) { l.Info("x", "props", map[string]string{"password": secret}) }, []string{secretRef}},
		{"int equal to a resolved value", func(l *slog.Logger) { l.Info("x", "port", 54329) }, []string{portRef}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, json := range []bool{false, true} {
				var buf bytes.Buffer
				var next slog.Handler = slog.NewTextHandler(&buf, nil)
				if json {
					next = slog.NewJSONHandler(&buf, nil)
				}
				c.log(scrubbedLogger(slog.New(next), res))
				out := buf.String()
				if out == "" {
					t.Fatal("nothing logged")
				}
				for _, l := range append(leaks, port) {
					if strings.Contains(out, l) {
						t.Errorf("json=%v: the line shows %q: %s", json, l, out)
					}
				}
				for _, w := range c.want {
					// JSON escapes nothing in these strings but quotes.
					if !strings.Contains(out, w) {
						t.Errorf("json=%v: the line does not show %q: %s", json, w, out)
					}
				}
			}
		})
	}
}

// recordHandler keeps the records it is given.
type recordHandler struct{ recs *[]slog.Record }

func (recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	*h.recs = append(*h.recs, r.Clone())
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// A line with nothing to hide reaches the next handler as logged: values
// keep their types and order.
func TestScrubHandlerPassesCleanLinesUnchanged(t *testing.T) {
	res, _ := resolvedFor(t, map[string]string{"pw": "hunter2-distinctive"}, map[string]string{"p": "${file:{{path}}:pw}"})
	for _, r := range []*config.Resolved{nil, res} {
		var recs []slog.Record
		l := scrubbedLogger(slog.New(recordHandler{&recs}), r)
		err := errors.New("boom")
		sv := stringerValue{"ok"}
		l.Info("clean line", "n", 42, "err", err, "s", sv, "d", time.Second)
		if len(recs) != 1 || recs[0].Message != "clean line" {
			t.Fatalf("records: %+v", recs)
		}
		var got []any
		recs[0].Attrs(func(a slog.Attr) bool { got = append(got, a.Value.Any()); return true })
		want := []any{int64(42), err, sv, time.Second}
		if fmt.Sprint(got) != fmt.Sprint(want) || got[1] != error(err) || got[2] != any(sv) {
			t.Errorf("attrs %#v, want %#v", got, want)
		}
	}
}

// Wrapping a scrubbed logger again scrubs what both resolved, through one
// handler.
func TestScrubbedLoggerTwice(t *testing.T) {
	a, refA := resolvedFor(t, map[string]string{"a": "first-secret"}, map[string]string{"x": "${file:{{path}}:a}"})
	b, refB := resolvedFor(t, map[string]string{"b": "second-secret"}, map[string]string{"y": "${file:{{path}}:b}"})
	var buf bytes.Buffer
	l := scrubbedLogger(scrubbedLogger(slog.New(slog.NewTextHandler(&buf, nil)), a), b)
	if _, ok := l.Handler().(*scrubHandler).next.(*scrubHandler); ok {
		t.Error("a scrub handler wraps another")
	}
	l.Info("first-secret and second-secret")
	if out := buf.String(); strings.Contains(out, "-secret ") || !strings.Contains(out, refA("a")) || !strings.Contains(out, refB("b")) {
		t.Errorf("line: %s", out)
	}
}

// discardHandler does nothing, so that allocation counts are the
// scrubbing's own.
type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// A clean line costs the scrubbing no allocation, with or without
// resolved values to hide.
func TestScrubHandlerCleanLineAllocs(t *testing.T) {
	res, _ := resolvedFor(t, map[string]string{"pw": "hunter2-distinctive"}, map[string]string{"p": "${file:{{path}}:pw}"})
	err := errors.New("connection refused")
	for _, r := range []*config.Resolved{nil, res} {
		h := scrubbedLogger(slog.New(discardHandler{}), r).Handler()
		rec := slog.NewRecord(time.Now(), slog.LevelWarn, "poll failed; retrying", 0)
		rec.AddAttrs(slog.String("table", "public.orders"), slog.Any("error", err))
		if n := testing.AllocsPerRun(100, func() { _ = h.Handle(context.Background(), rec) }); n != 0 {
			t.Errorf("values=%v: %v allocations per clean line, want 0", r.HasValues(), n)
		}
	}
}

// BenchmarkScrubHandler measures the scrubbing of a typical runtime line
// (a message, a string and an error) that has nothing to hide, and one
// whose error holds a resolved value, on its own (discard) and in front
// of a text handler writing to io.Discard (text; text/direct is that
// handler alone).
func BenchmarkScrubHandler(b *testing.B) {
	res, _ := resolvedFor(b, map[string]string{"pw": "hunter2-distinctive", "user": "app-user"},
		map[string]string{"p": "${file:{{path}}:pw}", "u": "${file:{{path}}:user}"})
	text := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name   string
		res    *config.Resolved
		err    error
		next   *slog.Logger
		direct bool
	}{
		{"discard/none/clean", nil, errors.New("connection refused"), slog.New(discardHandler{}), false},
		{"discard/values/clean", res, errors.New("connection refused"), slog.New(discardHandler{}), false},
		{"discard/values/leak", res, errors.New("password hunter2-distinctive rejected"), slog.New(discardHandler{}), false},
		{"text/direct", nil, errors.New("connection refused"), text, true},
		{"text/values/clean", res, errors.New("connection refused"), text, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := c.next.Handler()
			if !c.direct {
				h = scrubbedLogger(c.next, c.res).Handler()
			}
			rec := slog.NewRecord(time.Now(), slog.LevelWarn, "poll failed; retrying", 0)
			rec.AddAttrs(slog.String("table", "public.orders"), slog.Any("error", c.err))
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Handle(context.Background(), rec)
			}
		})
	}
}
