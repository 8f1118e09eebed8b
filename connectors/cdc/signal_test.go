package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// recorder is a SignalHandler that notes what it was asked to do.
type recorder struct {
	calls   []string
	incr    bool
	paused  bool
	execErr error
}

func (r *recorder) ExecuteSnapshot(_ context.Context, res []*regexp.Regexp, patterns []string) error {
	var m []string
	for _, re := range res {
		m = append(m, fmt.Sprint(re.MatchString("public.orders")))
	}
	r.calls = append(r.calls, "execute "+strings.Join(patterns, "|")+" "+strings.Join(m, ","))
	r.incr = true
	return r.execErr
}

func (r *recorder) StopSnapshot(res []*regexp.Regexp) {
	r.calls = append(r.calls, fmt.Sprintf("stop %d", len(res)))
}

func (r *recorder) SetSnapshotPaused(p bool) (int, bool) {
	if !r.incr || (!p && !r.paused) {
		return 0, false
	}
	r.paused = p
	r.calls = append(r.calls, fmt.Sprintf("paused %v", p))
	return 3, true
}

func TestHandleSignal(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := &recorder{}
	for _, s := range []struct{ kind, data string }{
		{SignalResumeSnapshot, ""}, // nothing paused: ignored
		{SignalPauseSnapshot, ""},  // nothing running: ignored
		{SignalExecuteSnapshot, `{"data-collections": ["public\\.ord.*", "public.x"]}`}, // anchored patterns
		{SignalExecuteSnapshot, `{"data-collections": ["("]}`},                          // bad pattern: ignored
		{SignalExecuteSnapshot, `{"data-collections": [".*"], "type": "blocking"}`},     // only incremental
		{SignalExecuteSnapshot, `not json`},                                             // ignored
		// Row filters are not supported: refused, not read as whole tables.
		{SignalExecuteSnapshot, `{"data-collections": ["t"], "additional-conditions": [{"data-collection": "t", "filter": "x>1"}]}`},
		{SignalExecuteSnapshot, `{"data-collections": ["t"], "additional-condition": "x>1"}`},
		{SignalPauseSnapshot, ""},
		{SignalResumeSnapshot, ""},
		{SignalStopSnapshot, `{"data-collections": ["a", "b"]}`},
		{SignalStopSnapshot, ""},
		{"log", `{"message": "hi"}`}, // unsupported: ignored
	} {
		if err := HandleSignal(ctx, r, log, s.kind, []byte(s.data), "test"); err != nil {
			t.Fatalf("%s: %v", s.kind, err)
		}
	}
	want := `execute public\.ord.*|public.x true,false;paused true;paused false;stop 2;stop 0`
	if got := strings.Join(r.calls, ";"); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
	r.execErr = errors.New("connection lost")
	if err := HandleSignal(ctx, r, log, SignalExecuteSnapshot, []byte(`{"data-collections": [".*"]}`), "test"); !errors.Is(err, r.execErr) {
		t.Errorf("handler error: %v", err)
	}
}

// filtering is a recorder that takes additional-conditions.
type filtering struct{ recorder }

func (f *filtering) ExecuteFilteredSnapshot(_ context.Context, _ []*regexp.Regexp, patterns []string, conds []SnapshotCondition) error {
	var m []string
	for _, tb := range []string{"public.orders", "public.items", "other.x"} {
		m = append(m, tb+"="+FilterFor(conds, tb))
	}
	f.calls = append(f.calls, "filtered "+strings.Join(patterns, "|")+" "+strings.Join(m, ","))
	return f.execErr
}

// TestHandleFilteredSignal checks that a source taking additional-
// conditions gets each table's filter, Debezium's older single
// additional-condition applying to every table, and that malformed
// conditions and a filter the database refused are ignored.
func TestHandleFilteredSignal(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &filtering{}
	for _, data := range []string{
		`{"data-collections": ["public\\..*"], "additional-conditions": [{"data-collection": "public\\.orders", "filter": "id > 5"}, {"data-collection": "public\\..*", "filter": "true"}]}`,
		`{"data-collections": ["public\\..*"], "additional-condition": "x = 'y'"}`,
		`{"data-collections": ["public\\..*"]}`,                                                           // no conditions: ExecuteSnapshot
		`{"data-collections": ["t"], "additional-conditions": {"data-collection": "t"}}`,                  // not a list
		`{"data-collections": ["t"], "additional-conditions": [{"data-collection": "t"}]}`,                // no filter
		`{"data-collections": ["t"], "additional-conditions": [{"filter": "a"}]}`,                         // no table
		`{"data-collections": ["t"], "additional-conditions": [{"data-collection": "(", "filter": "a"}]}`, // bad pattern
	} {
		if err := HandleSignal(ctx, f, log, SignalExecuteSnapshot, []byte(data), "test"); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
	}
	want := `filtered public\..* public.orders=id > 5,public.items=true,other.x=;` +
		`filtered public\..* public.orders=x = 'y',public.items=x = 'y',other.x=x = 'y';` +
		`execute public\..* true`
	if got := strings.Join(f.calls, ";"); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
	cond := []byte(`{"data-collections": ["t"], "additional-condition": "a"}`)
	f.execErr = fmt.Errorf("%w: no such column", ErrBadFilter)
	if err := HandleSignal(ctx, f, log, SignalExecuteSnapshot, cond, "test"); err != nil {
		t.Errorf("a refused filter: %v, want the signal ignored", err)
	}
	f.execErr = errors.New("connection lost")
	if err := HandleSignal(ctx, f, log, SignalExecuteSnapshot, cond, "test"); !errors.Is(err, f.execErr) {
		t.Errorf("handler error: %v", err)
	}
}

func TestSignalConditions(t *testing.T) {
	for data, want := range map[string]bool{
		`{"data-collections": ["db.t"]}`:                                                                          false,
		`{"data-collections": ["db.t"], "additional-conditions": []}`:                                             false,
		`{"data-collections": ["db.t"], "additional-conditions": null}`:                                           false,
		`{"data-collections": ["db.t"], "additional-conditions": [{"data-collection": "db.t", "filter": "x>1"}]}`: true,
		`{"data-collections": ["db.t"], "additional-condition": "x>1"}`:                                           true,
	} {
		var d SignalData
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			t.Fatal(err)
		}
		if got := d.HasConditions(); got != want {
			t.Errorf("%s: %v", data, got)
		}
	}
}

func TestParseSignalRecord(t *testing.T) {
	for _, c := range []struct{ value, kind, data, err string }{
		{`{"type": "execute-snapshot", "data": {"data-collections": ["a"]}}`, "execute-snapshot", `{"data-collections": ["a"]}`, ""},
		{`{"type": "stop-snapshot", "data": "{\"data-collections\": []}"}`, "stop-snapshot", `{"data-collections": []}`, ""},
		{`{"type": "pause-snapshot"}`, "pause-snapshot", "", ""},
		{`{"data": {}}`, "", "", "not {"},
		{`[1]`, "", "", "not {"},
	} {
		kind, data, err := ParseSignalRecord([]byte(c.value))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.value, err, c.err)
			}
			continue
		}
		if err != nil || kind != c.kind || string(data) != c.data {
			t.Errorf("%s: %q %q %v", c.value, kind, data, err)
		}
	}
}

// FuzzParseSignalRecord: any value either parses to a non-empty type or
// fails; it never panics.
func FuzzParseSignalRecord(f *testing.F) {
	f.Add([]byte(`{"type": "execute-snapshot", "data": {"data-collections": ["a"]}}`))
	f.Add([]byte(`{"type": "x", "data": "\"q\""}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, _, err := ParseSignalRecord(b)
		if err == nil && kind == "" {
			t.Fatalf("%q parsed without a type", b)
		}
	})
}
