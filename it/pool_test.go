package it

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
)

// The pool tests (issue 13) start `sluice broker` and several `sluice
// worker` processes of one group.id on it, and check what a user sees:
// where GET /connectors/{c}/status says each task runs (a worker id is
// its advertised host:port), which workers logged "task started" for
// it, and what reached the topic.

// startPool starts a pool of n workers on a broker of their own, with
// props and a group and storage topics unique to the test.
func startPool(t *testing.T, n int, props map[string]string) (*harness.Pool, string) {
	t.Helper()
	props, sfx := isolated(t, props)
	return harness.StartPool(t, n, harness.PoolOptions{Props: props}), sfx
}

// poolCreate creates a connector through w (retrying a rebalance's 409).
func poolCreate(t *testing.T, w *harness.Worker, name string, cfg map[string]string) {
	t.Helper()
	harness.Write(t, w, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, http.StatusCreated, 30*time.Second)
}

// both combines status predicates.
func both(ps ...func(harness.Status) error) func(harness.Status) error {
	return func(s harness.Status) error {
		for _, p := range ps {
			if err := p(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// tasksPer is a status predicate: the RUNNING tasks are on exactly the
// given workers, want of them on each.
func tasksPer(ws []*harness.Worker, want int) func(harness.Status) error {
	return func(s harness.Status) error {
		on := s.TasksOn("RUNNING")
		for _, w := range ws {
			if len(on[w.ID()]) != want {
				return fmt.Errorf("worker %s runs tasks %v, want %d of them; placement %v", w.ID(), on[w.ID()], want, on)
			}
		}
		if len(on) != len(ws) {
			return fmt.Errorf("tasks run on %d workers, want %d: %v", len(on), len(ws), on)
		}
		return nil
	}
}

// placement maps each task id to the worker id the status shows.
func placement(s harness.Status) map[int]string {
	out := map[int]string{}
	for _, ts := range s.Tasks {
		out[ts.ID] = ts.WorkerID
	}
	return out
}

// startCounts returns each task's start count in a status.
func startCounts(s harness.Status) map[int]int {
	out := map[int]int{}
	for _, ts := range s.Tasks {
		out[ts.ID] = ts.Starts
	}
	return out
}

// samePlacement is a status predicate: every task RUNNING where want
// says and the connector on conn.
func samePlacement(conn string, want map[int]string) func(harness.Status) error {
	return func(s harness.Status) error {
		if s.Connector.State != "RUNNING" || s.Connector.WorkerID != conn {
			return fmt.Errorf("connector %s on %q, want RUNNING on %q", s.Connector.State, s.Connector.WorkerID, conn)
		}
		if len(s.Tasks) != len(want) {
			return fmt.Errorf("%d tasks, want %d", len(s.Tasks), len(want))
		}
		for _, ts := range s.Tasks {
			if ts.State != "RUNNING" || ts.WorkerID != want[ts.ID] {
				return fmt.Errorf("task %d %s on %q, want RUNNING on %q", ts.ID, ts.State, ts.WorkerID, want[ts.ID])
			}
		}
		return nil
	}
}

// agree waits until every live worker of the pool answers the
// connector's status with the placement one of them shows, and returns it.
func agree(t *testing.T, p *harness.Pool, name string, st harness.Status) {
	t.Helper()
	want := placement(st)
	for _, w := range p.Live() {
		harness.WaitStatus(t, w, name, samePlacement(st.Connector.WorkerID, want), 30*time.Second)
	}
}

// holds checks for d that the connector's status on w keeps satisfying
// pred: the pool has settled and does not keep moving work.
func holds(t *testing.T, w *harness.Worker, name string, d time.Duration, pred func(harness.Status) error) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		st, err := harness.GetStatus(w, name)
		if err == nil {
			err = pred(st)
		}
		if err != nil {
			t.Fatalf("connector %s on %s changed while the pool should be settled: %v", name, w.ID(), err)
		}
	}
}

// taskStarts returns, for each task of the status, how many times the
// worker it runs on logged "task started" for it.
//
// A worker writes a task's RUNNING status before it logs "task started",
// so a status that says RUNNING may be read before the line is in the
// log: it waits (up to 10 s) until every task of s has logged a start.
func taskStarts(p *harness.Pool, name string, s harness.Status) map[int]int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, all := map[int]int{}, true
		for _, ts := range s.Tasks {
			if w := p.ByID(ts.WorkerID); w != nil {
				out[ts.ID] = w.Starts("task started", name, ts.ID)
				all = all && out[ts.ID] > 0
			}
		}
		if all || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids returns the workers' ids, sorted.
func ids(ws []*harness.Worker) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.ID())
	}
	sort.Strings(out)
	return out
}

// TestPoolBalancesTasks: three workers share one connector's six tasks
// two by two, three connectors one by one with four tasks each, and
// eight connectors of three tasks 3/3/2 with eight tasks each; every
// worker answers the same list, config and status for each connector.
func TestPoolBalancesTasks(t *testing.T) {
	t.Parallel()
	p, sfx := startPool(t, 3, nil)
	w := p.Workers
	slow := map[string]string{"datagen.rate": "5"}

	poolCreate(t, w[0], "big", datagen("pool-big-"+sfx, merge(slow, map[string]string{"tasks.max": "6"})))
	st := harness.WaitStatus(t, w[0], "big", both(harness.AllRunning(6), tasksPer(w, 2)), 60*time.Second)
	if p.ByID(st.Connector.WorkerID) == nil {
		t.Errorf("connector big runs on %q, not one of the pool's workers %v", st.Connector.WorkerID, ids(w))
	}
	agree(t, p, "big", st)
	bigStarts := taskStarts(p, "big", st)

	// Two more connectors of three tasks, created through the other
	// workers: 3 connectors and 12 tasks, one connector and four tasks
	// on each worker. Nothing of big's must move for that, so nothing
	// does, and none of its tasks restarts.
	poolCreate(t, w[1], "small1", datagen("pool-small1-"+sfx, merge(slow, map[string]string{"tasks.max": "3"})))
	poolCreate(t, w[2], "small2", datagen("pool-small2-"+sfx, merge(slow, map[string]string{"tasks.max": "3"})))
	names := []string{"big", "small1", "small2"}
	tasks := map[string]int{"big": 6, "small1": 3, "small2": 3}
	sts := spread(t, w, names, tasks)
	for _, n := range names {
		agree(t, p, n, sts[n])
	}
	if before, after := placement(st), placement(sts["big"]); !maps.Equal(before, after) || st.Connector.WorkerID != sts["big"].Connector.WorkerID {
		t.Errorf("adding two connectors moved big's work: connector %s → %s, tasks %v → %v",
			st.Connector.WorkerID, sts["big"].Connector.WorkerID, before, after)
	}
	for id, n := range bigStarts {
		wid := placement(st)[id]
		if got := p.ByID(wid).Starts("task started", "big", id); got != n {
			t.Errorf("adding two connectors restarted big's task %d on %s: %d starts, %d before", id, wid, got, n)
		}
	}

	// Reads agree everywhere.
	for _, x := range w {
		var got []string
		x.JSON("GET", "/connectors", nil, http.StatusOK, &got)
		sort.Strings(got)
		if !slices.Equal(got, names) {
			t.Errorf("GET %s/connectors = %v, want %v", x.URL, got, names)
		}
		var cfg map[string]string
		x.JSON("GET", "/connectors/small2/config", nil, http.StatusOK, &cfg)
		if cfg["kafka.topic"] != "pool-small2-"+sfx || cfg["tasks.max"] != "3" {
			t.Errorf("GET %s/connectors/small2/config = %v", x.URL, cfg)
		}
	}

	// The figure: 8 connectors of 3 tasks, created round robin
	// through the three workers after big is deleted through one of
	// them, spread 3/3/2 with 8 tasks on each worker.
	harness.Write(t, w[1], "DELETE", "/connectors/big", nil, http.StatusNoContent, 30*time.Second)
	delete(tasks, "big")
	names = names[1:]
	for i := 3; i <= 8; i++ {
		n := fmt.Sprintf("c%d", i)
		poolCreate(t, w[i%3], n, datagen("pool-"+n+"-"+sfx, merge(slow, map[string]string{"tasks.max": "3"})))
		names = append(names, n)
		tasks[n] = 3
	}
	sts = spread(t, w, names, tasks)
	sort.Strings(names)
	for _, x := range w {
		var got []string
		x.JSON("GET", "/connectors", nil, http.StatusOK, &got)
		sort.Strings(got)
		if !slices.Equal(got, names) {
			t.Errorf("GET %s/connectors = %v, want %v", x.URL, got, names)
		}
		for _, n := range names {
			harness.WaitStatus(t, x, n, samePlacement(sts[n].Connector.WorkerID, placement(sts[n])), 30*time.Second)
		}
	}
}

// spread waits until w's status API shows every connector of names
// RUNNING with its number of tasks, and connectors and tasks spread
// evenly over workers: each runs the floor or the ceiling of the mean.
func spread(t *testing.T, workers []*harness.Worker, names []string, tasks map[string]int) map[string]harness.Status {
	t.Helper()
	total := 0
	for _, n := range names {
		total += tasks[n]
	}
	k := len(workers)
	connLo, connHi := len(names)/k, (len(names)+k-1)/k
	taskLo, taskHi := total/k, (total+k-1)/k
	var sts map[string]harness.Status
	what := fmt.Sprintf("%d connectors and %d tasks spread over %d workers", len(names), total, k)
	harness.WaitFor(t, 60*time.Second, what, func() error {
		sts = map[string]harness.Status{}
		conns, load := map[string]int{}, map[string]int{}
		for _, n := range names {
			s, err := harness.GetStatus(workers[0], n)
			if err == nil {
				err = harness.AllRunning(tasks[n])(s)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			sts[n] = s
			conns[s.Connector.WorkerID]++
			for id, ts := range s.TasksOn("RUNNING") {
				load[id] += len(ts)
			}
		}
		for _, x := range workers {
			c, l := conns[x.ID()], load[x.ID()]
			if c < connLo || c > connHi || l < taskLo || l > taskHi {
				return fmt.Errorf("worker %s runs %d connectors and %d tasks, want %d..%d and %d..%d (connectors %v, tasks %v)",
					x.ID(), c, l, connLo, connHi, taskLo, taskHi, conns, load)
			}
		}
		return nil
	})
	return sts
}

// merge returns a's entries overridden by b's.
func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestPoolWriteOnFollower: every write the REST API takes works on a
// worker that does not lead the group (it forwards to the leader), and
// its errors come back as the leader gave them.
func TestPoolWriteOnFollower(t *testing.T) {
	t.Parallel()
	p, sfx := startPool(t, 3, nil)
	leader := p.Leader(t)
	var f []*harness.Worker
	for _, w := range p.Workers {
		if w != leader {
			f = append(f, w)
		}
	}
	topic := "pool-follower-" + sfx
	cfg := datagen(topic, map[string]string{"tasks.max": "1", "datagen.rate": "5"})

	poolCreate(t, f[0], "fw", cfg)
	for _, w := range p.Workers {
		harness.WaitStatus(t, w, "fw", harness.AllRunning(1), 60*time.Second)
	}

	// A config change through the other follower: three tasks, seen by
	// every worker.
	cfg3 := merge(cfg, map[string]string{"tasks.max": "3"})
	harness.Write(t, f[1], "PUT", "/connectors/fw/config", cfg3, http.StatusOK, 30*time.Second)
	for _, w := range p.Workers {
		harness.WaitStatus(t, w, "fw", harness.AllRunning(3), 60*time.Second)
		var got map[string]string
		w.JSON("GET", "/connectors/fw/config", nil, http.StatusOK, &got)
		if got["tasks.max"] != "3" {
			t.Errorf("GET %s/connectors/fw/config tasks.max = %q after the PUT on follower %s, want 3", w.URL, got["tasks.max"], f[1].ID())
		}
	}

	// Pause on one follower, resume on the other.
	harness.Write(t, f[0], "PUT", "/connectors/fw/pause", nil, http.StatusAccepted, 30*time.Second)
	paused := func(s harness.Status) error {
		if s.Connector.State != "PAUSED" || len(s.Tasks) != 3 {
			return fmt.Errorf("connector %s with %d tasks, want PAUSED with 3", s.Connector.State, len(s.Tasks))
		}
		for _, ts := range s.Tasks {
			if ts.State != "PAUSED" {
				return fmt.Errorf("task %d %s", ts.ID, ts.State)
			}
		}
		return nil
	}
	for _, w := range p.Workers {
		harness.WaitStatus(t, w, "fw", paused, 30*time.Second)
	}
	harness.Write(t, f[1], "PUT", "/connectors/fw/resume", nil, http.StatusAccepted, 30*time.Second)
	for _, w := range p.Workers {
		harness.WaitStatus(t, w, "fw", harness.AllRunning(3), 30*time.Second)
	}

	// The leader's refusals reach the user through a follower as they
	// are: a duplicate name and an invalid config.
	st, body := writeSettled(t, f[1], "POST", "/connectors", map[string]any{"name": "fw", "config": cfg})
	if st != http.StatusConflict || !strings.Contains(errMessage(body), "already exists") {
		t.Errorf("duplicate POST through follower %s: %d %s, want 409 saying fw already exists", f[1].ID(), st, body)
	}
	bad := map[string]string{"connector.class": "datagen", "tasks.max": "1"}
	st, body = writeSettled(t, f[0], "POST", "/connectors", map[string]any{"name": "bad", "config": bad})
	if st != http.StatusBadRequest || !strings.Contains(errMessage(body), "kafka.topic") {
		t.Errorf("POST of a config without kafka.topic through follower %s: %d %s, want 400 naming kafka.topic", f[0].ID(), st, body)
	}
	for _, w := range p.Workers {
		var names []string
		w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
		if !slices.Equal(names, []string{"fw"}) {
			t.Errorf("GET %s/connectors = %v, want [fw]", w.URL, names)
		}
	}
}

// writeSettled sends a write, retrying while the pool answers the 409
// of a rebalance, and returns the first other answer.
func writeSettled(t *testing.T, w *harness.Worker, method, path string, body any) (int, []byte) {
	t.Helper()
	var st int
	var out []byte
	harness.WaitFor(t, 30*time.Second, method+" "+path+" outside a rebalance", func() error {
		st, out = w.Do(method, path, body)
		if st == http.StatusConflict {
			if m := strings.ToLower(errMessage(out)); strings.Contains(m, "rebalanc") || strings.Contains(m, "stale configuration") {
				return fmt.Errorf("%d %s", st, out)
			}
		}
		return nil
	})
	return st, out
}

// errMessage returns the message of Connect's error body, or the body.
func errMessage(body []byte) string {
	var e errorBody
	if json.Unmarshal(body, &e) != nil || e.Message == "" {
		return string(body)
	}
	return e.Message
}

// TestPoolAddWorkerMovesOnlyWhatMustMove: a third worker joining two
// that run six tasks three by three takes one task from each; the four
// tasks that stay and the connector are not restarted.
func TestPoolAddWorkerMovesOnlyWhatMustMove(t *testing.T) {
	t.Parallel()
	p, sfx := startPool(t, 2, nil)
	w := p.Workers
	poolCreate(t, w[0], "grow", datagen("pool-grow-"+sfx, map[string]string{"tasks.max": "6", "datagen.rate": "20"}))
	before := harness.WaitStatus(t, w[0], "grow", both(harness.AllRunning(6), tasksPer(w, 3)), 60*time.Second)
	agree(t, p, "grow", before)
	startsBefore := taskStarts(p, "grow", before)
	// As for tasks (taskStarts): the status comes before the log line.
	var connBefore int
	harness.WaitFor(t, 10*time.Second, "the connector's start in its worker's log", func() error {
		if connBefore = p.ByID(before.Connector.WorkerID).Starts("connector started", "grow", -1); connBefore == 0 {
			return fmt.Errorf("no \"connector started\" logged yet")
		}
		return nil
	})

	w3 := p.AddWorker(t)
	after := harness.WaitStatus(t, w[0], "grow", both(harness.AllRunning(6), tasksPer(p.Workers, 2)), 60*time.Second)
	holds(t, w[0], "grow", 3*time.Second, samePlacement(after.Connector.WorkerID, placement(after)))
	agree(t, p, "grow", after)

	if after.Connector.WorkerID != before.Connector.WorkerID {
		t.Errorf("connector moved from %s to %s: one connector on three workers need not move", before.Connector.WorkerID, after.Connector.WorkerID)
	} else if n := p.ByID(after.Connector.WorkerID).Starts("connector started", "grow", -1); n != connBefore {
		t.Errorf("connector restarted on %s (%d starts, %d before the new worker)", after.Connector.WorkerID, n, connBefore)
	} else if after.Connector.Starts != before.Connector.Starts || before.Connector.Starts < 1 {
		t.Errorf("connector stayed on %s: status start count %d, %d before the new worker", after.Connector.WorkerID, after.Connector.Starts, before.Connector.Starts)
	}
	pb, pa := placement(before), placement(after)
	var moved []int
	from := map[string]int{}
	for id := range pa {
		if pa[id] == pb[id] {
			if n := p.ByID(pa[id]).Starts("task started", "grow", id); n != startsBefore[id] {
				t.Errorf("task %d stayed on %s but was restarted: %d starts, %d before the new worker", id, pa[id], n, startsBefore[id])
			}
			// The status says so too: its start count is unchanged.
			if sa, sb := startCounts(after)[id], startCounts(before)[id]; sa != sb || sb < 1 {
				t.Errorf("task %d stayed on %s: status start count %d, %d before the new worker", id, pa[id], sa, sb)
			}
			continue
		}
		moved = append(moved, id)
		from[pb[id]]++
		if pa[id] != w3.ID() {
			t.Errorf("task %d moved from %s to %s, not to the new worker %s", id, pb[id], pa[id], w3.ID())
		}
		n := 0
		for deadline := time.Now().Add(10 * time.Second); n == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			n = w3.Starts("task started", "grow", id) // the RUNNING status comes before the log line
		}
		if n != 1 {
			t.Errorf("new worker %s logged %d starts of task %d, want 1", w3.ID(), n, id)
		}
	}
	sort.Ints(moved)
	if len(moved) != 2 || from[w[0].ID()] != 1 || from[w[1].ID()] != 1 {
		t.Errorf("tasks %v moved (from %v); want exactly one from each of %s and %s", moved, from, w[0].ID(), w[1].ID())
	}
	t.Logf("placement before %v, after %v; moved %v", pb, pa, moved)
}

// TestPoolFailoverAfterKill: kill -9 of a worker leaves its tasks where
// they were (or UNASSIGNED) for scheduled.rebalance.max.delay.ms, then
// they run on the survivors and resume from their committed offsets:
// every sequence number of a bounded datagen reaches the topic.
func TestPoolFailoverAfterKill(t *testing.T) {
	t.Parallel()
	const (
		delay = 4 * time.Second
		tasks = 6
		rate  = 100  // records/s per task
		total = 4800 // 800 per task: 8 s of work each
	)
	p, sfx := startPool(t, 3, map[string]string{
		"scheduled.rebalance.max.delay.ms": fmt.Sprint(delay.Milliseconds()),
		"offset.flush.interval.ms":         "200",
	})
	topic := "pool-failover-" + sfx
	leader := p.Leader(t)
	var victim *harness.Worker
	var survivors []*harness.Worker
	for _, w := range p.Workers {
		if w != leader && victim == nil {
			victim = w // not the leader: its successor would not know the old assignment
		} else {
			survivors = append(survivors, w)
		}
	}
	r := newTopicReader(t, p.Bootstrap, topic)
	poolCreate(t, leader, "fo", datagen(topic, map[string]string{
		"tasks.max": fmt.Sprint(tasks), "datagen.rate": fmt.Sprint(rate), "iterations": fmt.Sprint(total)}))
	st := harness.WaitStatus(t, leader, "fo", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	lost := st.TasksOn("RUNNING")[victim.ID()]
	kept := map[int]string{}
	for id, wid := range placement(st) {
		if wid != victim.ID() {
			kept[id] = wid
		}
	}
	// Let the victim's tasks produce and commit some records first.
	r.sixRecordsOf(lost, tasks, "the victim's tasks")
	startsKept := taskStarts(p, "fo", st)

	victim.Kill()
	killed := time.Now()
	var movedAfter time.Duration
	sawUnassigned := false
	harness.WaitFor(t, 60*time.Second, "the killed worker's tasks "+fmt.Sprint(lost)+" to run on the survivors", func() error {
		s, err := harness.GetStatus(leader, "fo")
		if err != nil {
			return err
		}
		elapsed := time.Since(killed)
		waiting := 0
		for _, ts := range s.Tasks {
			if !slices.Contains(lost, ts.ID) {
				if ts.State != "RUNNING" || ts.WorkerID != kept[ts.ID] {
					t.Fatalf("%v after the kill: task %d of a survivor is %s on %q, want RUNNING on %s", elapsed, ts.ID, ts.State, ts.WorkerID, kept[ts.ID])
				}
				continue
			}
			switch {
			case ts.State == "RUNNING" && ts.WorkerID != victim.ID():
				if elapsed < delay {
					t.Fatalf("task %d of the killed worker runs on %s %v after the kill, before scheduled.rebalance.max.delay.ms (%v)", ts.ID, ts.WorkerID, elapsed, delay)
				}
				if p.ByID(ts.WorkerID) == nil {
					t.Fatalf("task %d runs on %q, not a worker of the pool", ts.ID, ts.WorkerID)
				}
			case ts.State == "UNASSIGNED":
				sawUnassigned = true
				waiting++
			case ts.WorkerID == victim.ID():
				waiting++
			default:
				t.Fatalf("%v after the kill: task %d of the killed worker is %s on %q (trace %q), want it UNASSIGNED, still on %s or RUNNING on a survivor",
					elapsed, ts.ID, ts.State, ts.WorkerID, ts.Trace, victim.ID())
			}
		}
		if waiting > 0 {
			return fmt.Errorf("%d of the killed worker's tasks not running elsewhere %v after the kill: %+v", waiting, elapsed.Round(time.Millisecond), s.Tasks)
		}
		movedAfter = elapsed
		return nil
	})
	after := harness.WaitStatus(t, leader, "fo", both(harness.AllRunning(tasks), tasksPer(survivors, tasks/len(survivors))), 30*time.Second)
	for id, n := range startsKept {
		if wid := kept[id]; wid != "" {
			if got := p.ByID(wid).Starts("task started", "fo", id); got != n {
				t.Errorf("task %d on survivor %s was restarted by the failover: %d starts, %d before", id, wid, got, n)
			}
		}
	}

	r.until(90*time.Second, fmt.Sprintf("all %d sequence numbers", total), func() error {
		if _, distinct := r.totals(); distinct < total {
			return fmt.Errorf("%d distinct of %d", distinct, total)
		}
		return nil
	})
	for seq := int64(0); seq < total; seq++ {
		if r.count(seq) == 0 {
			t.Errorf("sequence number %d never reached the topic", seq)
		}
	}
	records, distinct := r.totals()
	if distinct != total {
		t.Errorf("%d distinct sequence numbers in the topic, want exactly %d (0..%d)", distinct, total, total-1)
	}
	t.Logf("killed %s (tasks %v); they ran on the survivors %v after the kill (delay %v; UNASSIGNED shown: %v); placement after %v; %d records, %d distinct, %d duplicates",
		victim.ID(), lost, movedAfter.Round(time.Millisecond), delay, sawUnassigned, placement(after), records, distinct, records-distinct)
}

// TestPoolWorkerReturnsWithinDelay: a worker killed with kill -9 and
// started again on the same listener before scheduled.rebalance.max.delay.ms
// gets its own tasks back; they never run anywhere else, and the other
// workers' tasks are not restarted.
func TestPoolWorkerReturnsWithinDelay(t *testing.T) {
	t.Parallel()
	const delay = 15 * time.Second
	p, sfx := startPool(t, 3, map[string]string{"scheduled.rebalance.max.delay.ms": fmt.Sprint(delay.Milliseconds())})
	leader := p.Leader(t)
	var victim *harness.Worker
	for _, w := range p.Workers {
		if w != leader {
			victim = w
			break
		}
	}
	poolCreate(t, leader, "back", datagen("pool-back-"+sfx, map[string]string{"tasks.max": "6", "datagen.rate": "20"}))
	st := harness.WaitStatus(t, leader, "back", both(harness.AllRunning(6), tasksPer(p.Workers, 2)), 60*time.Second)
	agree(t, p, "back", st)
	want := placement(st)
	mine := st.TasksOn("RUNNING")[victim.ID()]
	starts := taskStarts(p, "back", st)
	victimStarts := map[int]int{}
	for _, id := range mine {
		victimStarts[id] = starts[id]
	}

	victim.Kill()
	killed := time.Now()
	victim.Start(t)
	t.Logf("%s back %v after the kill", victim.ID(), time.Since(killed).Round(time.Millisecond))

	harness.WaitFor(t, 60*time.Second, "tasks "+fmt.Sprint(mine)+" RUNNING again on "+victim.ID(), func() error {
		s, err := harness.GetStatus(leader, "back")
		if err != nil {
			return err
		}
		for _, ts := range s.Tasks {
			if ts.State == "RUNNING" && ts.WorkerID != want[ts.ID] {
				t.Fatalf("%v after the kill: task %d RUNNING on %s, want it on %s (the returning worker's tasks wait for it)",
					time.Since(killed).Round(time.Millisecond), ts.ID, ts.WorkerID, want[ts.ID])
			}
		}
		if err := samePlacement(s.Connector.WorkerID, want)(s); err != nil {
			return err
		}
		// The status topic still says RUNNING on the victim from before
		// the kill: only its log shows that the new process runs them.
		for _, id := range mine {
			if n := victim.Starts("task started", "back", id); n != victimStarts[id]+1 {
				return fmt.Errorf("%s logged %d starts of task %d, want %d", victim.ID(), n, id, victimStarts[id]+1)
			}
		}
		return nil
	})
	back := time.Since(killed)
	if back >= delay {
		t.Logf("note: the tasks came back %v after the kill, not before the delay %v", back, delay)
	}
	holds(t, leader, "back", 2*time.Second, func(s harness.Status) error {
		return samePlacement(s.Connector.WorkerID, want)(s)
	})
	for id, n := range starts {
		w := p.ByID(want[id])
		if w == victim {
			continue // started once more, checked above
		}
		if got := w.Starts("task started", "back", id); got != n {
			t.Errorf("task %d on %s was restarted while %s was away: %d starts, %d before", id, w.ID(), victim.ID(), got, n)
		}
	}
	t.Logf("tasks %v back on %s %v after the kill", mine, victim.ID(), back.Round(time.Millisecond))
}

// TestPoolDeleteOnFollower: DELETE through a worker that does not lead
// the group removes the connector on every worker and stops its tasks
// wherever they ran: the topic stops growing.
func TestPoolDeleteOnFollower(t *testing.T) {
	t.Parallel()
	p, sfx := startPool(t, 3, nil)
	leader := p.Leader(t)
	var follower *harness.Worker
	for _, w := range p.Workers {
		if w != leader {
			follower = w
			break
		}
	}
	topic := "pool-delete-" + sfx
	poolCreate(t, leader, "del", datagen(topic, map[string]string{"tasks.max": "6", "datagen.rate": "20"}))
	st := harness.WaitStatus(t, leader, "del", both(harness.AllRunning(6), tasksPer(p.Workers, 2)), 60*time.Second)
	agree(t, p, "del", st)

	adm := kadm.NewClient(p.Broker.Client(t, freshMetadata))
	// Every task, on each of the three workers, produces before the
	// delete: task i's third record is seq i+12.
	r := newTopicReader(t, p.Bootstrap, topic)
	r.until(30*time.Second, "three records of each task", func() error {
		for id := 0; id < 6; id++ {
			if r.count(int64(id+2*6)) == 0 {
				return fmt.Errorf("task %d's third record not read yet", id)
			}
		}
		return nil
	})

	harness.Write(t, follower, "DELETE", "/connectors/del", nil, http.StatusNoContent, 30*time.Second)
	for _, w := range p.Workers {
		harness.WaitFor(t, 30*time.Second, "connector del gone from "+w.ID(), func() error {
			if code, body := w.Do("GET", "/connectors/del/status", nil); code != http.StatusNotFound {
				return fmt.Errorf("GET /connectors/del/status: %d %s", code, body)
			}
			var names []string
			w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
			if len(names) != 0 {
				return fmt.Errorf("GET /connectors = %v", names)
			}
			return nil
		})
	}
	// Every task on every worker stopped: the end offsets stay put for
	// 3 s (at 6 × 20 records/s one live task would add ~60).
	last, since := endOffsets(t, adm, topic), time.Now()
	harness.WaitFor(t, 30*time.Second, "topic "+topic+" to stop growing for 3s", func() error {
		if end := endOffsets(t, adm, topic); end != last {
			last, since = end, time.Now()
		}
		if d := time.Since(since); d < 3*time.Second {
			return fmt.Errorf("end offsets %d, unchanged for %v", last, d.Round(time.Millisecond))
		}
		return nil
	})
	t.Logf("deleted through follower %s; topic stopped at %d records", follower.ID(), last)
}

// TestPoolLeaderKilled: kill -9 of the worker that leads the group. The
// survivors elect a new leader, the dead leader's tasks run on them
// (the new leader may not know they were lost, so there is no lower
// bound on when), the survivors' own tasks are not restarted, writes
// work again through either survivor, and every sequence number of a
// bounded datagen reaches the topic.
func TestPoolLeaderKilled(t *testing.T) {
	t.Parallel()
	const (
		tasks = 6
		total = 4800 // 800 per task at 100/s
	)
	p, sfx := startPool(t, 3, map[string]string{
		"scheduled.rebalance.max.delay.ms": "4000",
		"offset.flush.interval.ms":         "200",
	})
	topic := "pool-leader-" + sfx
	leader := p.Leader(t)
	var survivors []*harness.Worker
	for _, w := range p.Workers {
		if w != leader {
			survivors = append(survivors, w)
		}
	}
	r := newTopicReader(t, p.Bootstrap, topic)
	poolCreate(t, survivors[0], "lk", datagen(topic, map[string]string{
		"tasks.max": fmt.Sprint(tasks), "datagen.rate": "100", "iterations": fmt.Sprint(total)}))
	st := harness.WaitStatus(t, survivors[0], "lk", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	lost := st.TasksOn("RUNNING")[leader.ID()]
	r.sixRecordsOf(lost, tasks, "the leader's tasks")
	starts := taskStarts(p, "lk", st)

	leader.Kill()
	killed := time.Now()
	after := harness.WaitStatus(t, survivors[0], "lk", both(harness.AllRunning(tasks), tasksPer(survivors, tasks/len(survivors))), 60*time.Second)
	moved := time.Since(killed)
	for id, wid := range placement(st) {
		if wid == leader.ID() {
			continue
		}
		if got := p.ByID(wid).Starts("task started", "lk", id); got != starts[id] || placement(after)[id] != wid {
			t.Errorf("task %d of survivor %s: now on %s with %d starts there, had %d: the leader's death restarted or moved it",
				id, wid, placement(after)[id], got, starts[id])
		}
	}
	newLeader := p.Leader(t)
	if newLeader == leader {
		t.Fatalf("the killed worker %s still leads", leader.ID())
	}

	// Writes work through both survivors again.
	for i, w := range survivors {
		n := fmt.Sprintf("after%d", i)
		poolCreate(t, w, n, datagen("pool-"+n+"-"+sfx, map[string]string{"tasks.max": "1", "datagen.rate": "5"}))
		for _, x := range survivors {
			harness.WaitStatus(t, x, n, harness.AllRunning(1), 60*time.Second)
		}
	}

	r.until(90*time.Second, fmt.Sprintf("all %d sequence numbers", total), func() error {
		if _, distinct := r.totals(); distinct < total {
			return fmt.Errorf("%d distinct of %d", distinct, total)
		}
		return nil
	})
	records, distinct := r.totals()
	if distinct != total {
		t.Errorf("%d distinct sequence numbers in the topic, want exactly %d (0..%d)", distinct, total, total-1)
	}
	t.Logf("killed leader %s (tasks %v); they ran on the survivors %v later; new leader %s; %d records, %d distinct, %d duplicates",
		leader.ID(), lost, moved.Round(time.Millisecond), newLeader.ID(), records, distinct, records-distinct)
}

// TestPoolFrozenWorkerStopsItsTasks: a worker frozen with SIGSTOP past
// its session timeout loses its tasks to the others; thawed with
// SIGCONT it must stop the copies it still runs rather than produce
// beside their new owners, then rejoin and take its share back. Once
// the pool settles, the topic's duplicate sequence numbers stop growing
// while the records do: each task runs once.
func TestPoolFrozenWorkerStopsItsTasks(t *testing.T) {
	t.Parallel()
	const tasks = 6
	p, sfx := startPool(t, 3, map[string]string{
		"scheduled.rebalance.max.delay.ms": "2000",
		"offset.flush.interval.ms":         "200",
	})
	topic := "pool-frozen-" + sfx
	leader := p.Leader(t)
	var victim *harness.Worker
	for _, w := range p.Workers {
		if w != leader {
			victim = w
			break
		}
	}
	r := newTopicReader(t, p.Bootstrap, topic)
	poolCreate(t, leader, "fz", datagen(topic, map[string]string{"tasks.max": fmt.Sprint(tasks), "datagen.rate": "50"}))
	st := harness.WaitStatus(t, leader, "fz", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	mine := st.TasksOn("RUNNING")[victim.ID()]

	if err := victim.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	var others []*harness.Worker
	for _, w := range p.Workers {
		if w != victim {
			others = append(others, w)
		}
	}
	harness.WaitStatus(t, leader, "fz", both(harness.AllRunning(tasks), tasksPer(others, tasks/len(others))), 60*time.Second)
	t.Logf("tasks %v of frozen %s ran elsewhere %v after SIGSTOP", mine, victim.ID(), time.Since(frozen).Round(time.Millisecond))
	if err := victim.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed := time.Now()

	settled := harness.WaitStatus(t, leader, "fz", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	holds(t, leader, "fz", 2*time.Second, samePlacement(settled.Connector.WorkerID, placement(settled)))
	t.Logf("pool settled %v after SIGCONT: %v", time.Since(thawed).Round(time.Millisecond), placement(settled))

	// Catch up with the topic, then watch it for 4 s.
	r.until(30*time.Second, "the topic's backlog", func() error {
		before, _ := r.totals()
		r.pollOnce(300 * time.Millisecond)
		if after, _ := r.totals(); after-before > 2*tasks*50 {
			return fmt.Errorf("%d records in one poll", after-before)
		}
		return nil
	})
	// A task that runs twice duplicates all the time; the last handoff
	// of the rebalance may replay once what its previous owner sent after
	// its last offset commit (at least once). So: 2 s for the handoffs
	// to finish (their duplicates are logged), then 4 s in which
	// duplicates must not grow.
	watch := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			r.pollOnce(500 * time.Millisecond)
		}
	}
	recA, distA := r.totals()
	watch(2 * time.Second)
	rec0, dist0 := r.totals()
	watch(4 * time.Second)
	rec1, dist1 := r.totals()
	if rec1 == rec0 {
		t.Fatalf("no records for 4 s after the pool settled (%d)", rec0)
	}
	if dup0, dup1 := rec0-dist0, rec1-dist1; dup1 != dup0 {
		t.Errorf("duplicates grew from %d to %d in 4 s, 2 s after the pool settled (records %d → %d): a task runs twice", dup0, dup1, rec0, rec1)
	}
	t.Logf("after settling: %d records, %d duplicates; 2 s later %d and %d (the handoffs); 4 s later %d and %d",
		recA, recA-distA, rec0, rec0-dist0, rec1, rec1-dist1)
}

// sixRecordsOf waits until each of the datagen tasks ids (of a connector
// with tasks tasks, whose sequence numbers interleave) has had its sixth
// record read: they produced and committed before what the test does next.
func (r *topicReader) sixRecordsOf(ids []int, tasks int, what string) {
	r.until(30*time.Second, "records of "+what, func() error {
		for _, id := range ids {
			if r.count(int64(id+5*tasks)) == 0 {
				return fmt.Errorf("task %d's 6th record not read yet", id)
			}
		}
		return nil
	})
}
