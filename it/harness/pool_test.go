package harness

import (
	"strings"
	"testing"
)

// TestPoolLogParsing checks how the pool helpers read a worker's slog
// text lines: task and connector starts, and the last join's generation
// and leadership.
func TestPoolLogParsing(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-12-03T12:00:00Z level=INFO msg="joined the worker group" group=g generation=3 member=m-1 leader=false protocol=sessioned`,
		`time=2026-12-03T12:00:01Z level=INFO msg="task started" connector=dg task=1`,
		`time=2026-12-03T12:00:01Z level=INFO msg="task started" connector=dg task=11`,
		`time=2026-12-03T12:00:01Z level=INFO msg="task started" connector=dg2 task=1`,
		`time=2026-12-03T12:00:01Z level=INFO msg="datagen task started" connector=dg task=1 next_seq=1`,
		`time=2026-12-03T12:00:02Z level=INFO msg="connector started" connector=dg class=datagen`,
		`time=2026-12-03T12:00:03Z level=INFO msg="joined the worker group" group=g generation=4 member=m-1 leader=true protocol=sessioned`,
	}, "\n")
	tests := []struct {
		msg, conn  string
		task, want int
	}{
		{"task started", "dg", 1, 1},
		{"task started", "dg", 11, 1},
		{"task started", "dg", 2, 0},
		{"task started", "dg", -1, 2},
		{"task started", "dg2", 1, 1},
		{"connector started", "dg", -1, 1},
		{"connector started", "dg2", -1, 0},
	}
	for _, tc := range tests {
		if got := countStarts(log, tc.msg, tc.conn, tc.task); got != tc.want {
			t.Errorf("countStarts(%q, %q, %d) = %d, want %d", tc.msg, tc.conn, tc.task, got, tc.want)
		}
	}
	gen, leader, ok := parseLastJoin(log)
	if gen != 4 || !leader || !ok {
		t.Errorf("parseLastJoin = %d, %v, %v; want 4, true, true", gen, leader, ok)
	}
	if _, _, ok := parseLastJoin("no joins here"); ok {
		t.Error("parseLastJoin found a join in a log without one")
	}
}

// TestRebalancing checks which 409 bodies Write retries.
func TestRebalancing(t *testing.T) {
	for body, want := range map[string]bool{
		`{"error_code":409,"message":"Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}`:                              true,
		`{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"}`: true,
		`{"error_code":409,"message":"Connector dg already exists"}`:                                                                                     false,
		`not json`: false,
	} {
		if got := rebalancing([]byte(body)); got != want {
			t.Errorf("rebalancing(%s) = %v, want %v", body, got, want)
		}
	}
}
