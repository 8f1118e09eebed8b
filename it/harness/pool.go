package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// PoolDefaults are the worker properties StartPool sets unless
// PoolOptions.Props overrides them: group timeouts small enough for a
// test to see a failover in seconds (Connect's defaults are 10 s, 3 s,
// 60 s and 5 minutes).
var PoolDefaults = map[string]string{
	"session.timeout.ms":               "6000",
	"heartbeat.interval.ms":            "1000",
	"rebalance.timeout.ms":             "10000",
	"scheduled.rebalance.max.delay.ms": "3000",
}

// PoolOptions configure StartPool.
type PoolOptions struct {
	// Bootstrap is an existing cluster's brokers; empty starts a broker
	// with StartBroker (which honours SLUICE_IT_KAFKA_BOOTSTRAP).
	Bootstrap string
	// Props are the worker properties every worker of the pool shares.
	// They must hold group.id (and, on a shared cluster, storage topics
	// of their own); PoolDefaults fill the group timeouts left out.
	Props map[string]string
}

// Pool is a group of `sluice worker` processes with one group.id on one
// broker. Its methods are for the test goroutine only.
type Pool struct {
	// Broker is the broker StartPool started (an external cluster's
	// Broker when SLUICE_IT_KAFKA_BOOTSTRAP is set); nil when
	// PoolOptions.Bootstrap named one.
	Broker *Broker
	// Bootstrap is the brokers the workers use.
	Bootstrap string
	// Workers are every worker started, in order, dead or alive; each
	// keeps its REST port (and so its worker id) across restarts.
	Workers []*Worker
	props   map[string]string
}

// StartPool starts a broker (unless o.Bootstrap names one) and n workers
// of one group on it, each on its own free REST port advertised as
// 127.0.0.1:port, and waits for each REST API. Everything stops when t
// ends.
func StartPool(t testing.TB, n int, o PoolOptions) *Pool {
	t.Helper()
	if o.Props["group.id"] == "" {
		t.Fatalf("harness: StartPool: PoolOptions.Props has no group.id; a pool is the workers sharing one")
	}
	p := &Pool{Bootstrap: o.Bootstrap, props: map[string]string{}}
	if p.Bootstrap == "" {
		p.Broker = StartBroker(t)
		p.Bootstrap = p.Broker.Bootstrap
	}
	// Registered before the workers' own cleanups, so it runs after
	// they are killed, on everything each logged.
	t.Cleanup(func() { p.checkLogs(t) })
	for k, v := range PoolDefaults {
		p.props[k] = v
	}
	for k, v := range o.Props {
		p.props[k] = v
	}
	for i := 0; i < n; i++ {
		p.AddWorker(t)
	}
	return p
}

// checkLogs fails the test if a worker's log reports a data race (the
// workers are built with -race when the tests are) or a panic.
func (p *Pool) checkLogs(t testing.TB) {
	t.Helper()
	for _, w := range p.Workers {
		log := "\n" + w.allLogs()
		// Lines the Go runtime writes, never slog's "time=..." lines.
		for _, bad := range []string{"\nWARNING: DATA RACE", "\npanic: ", "\nfatal error: "} {
			if i := strings.Index(log, bad); i >= 0 {
				end := min(len(log), i+4000)
				t.Errorf("worker %s logged %q:%s", w.ID(), bad[1:], log[i:end])
			}
		}
	}
}

// AddWorker starts one more worker of the pool, on a new port, and
// returns it once its REST API answers.
func (p *Pool) AddWorker(t testing.TB) *Worker {
	t.Helper()
	port := FreePort(t)
	props := map[string]string{}
	for k, v := range p.props {
		props[k] = v
	}
	props["rest.advertised.host.name"] = "127.0.0.1"
	props["rest.advertised.port"] = strconv.Itoa(port)
	w := PrepareWorker(t, WorkerOptions{Bootstrap: p.Bootstrap, Props: props, Port: port})
	w.Start(t)
	p.Workers = append(p.Workers, w)
	return w
}

// Live returns the workers whose process runs.
func (p *Pool) Live() []*Worker {
	var out []*Worker
	for _, w := range p.Workers {
		if w.Running() {
			out = append(out, w)
		}
	}
	return out
}

// ByID returns the worker whose id (ID) is id, or nil.
func (p *Pool) ByID(id string) *Worker {
	for _, w := range p.Workers {
		if w.ID() == id {
			return w
		}
	}
	return nil
}

// ID returns the worker's id as the status API shows it: the advertised
// host:port of its REST listener.
func (w *Worker) ID() string {
	return strings.TrimPrefix(strings.TrimPrefix(w.URL, "http://"), "https://")
}

// Running reports whether the worker's process was started and has not
// ended.
func (w *Worker) Running() bool {
	if w.proc == nil {
		return false
	}
	ended, _ := w.proc.Exited()
	return !ended
}

// joinedRE matches the member's log line of each completed rebalance
// (runtime/pool/member: "joined the worker group").
var joinedRE = regexp.MustCompile(`msg="joined the worker group".*\bgeneration=(\d+)\b.*\bleader=(true|false)\b`)

// lastJoin returns the generation and leadership of the last rebalance
// the worker's log reports; ok is false before its first.
func (w *Worker) lastJoin() (gen int, leader, ok bool) { return parseLastJoin(w.Log()) }

// parseLastJoin is lastJoin on a log's text.
func parseLastJoin(log string) (gen int, leader, ok bool) {
	m := joinedRE.FindAllStringSubmatch(log, -1)
	if len(m) == 0 {
		return 0, false, false
	}
	last := m[len(m)-1]
	gen, _ = strconv.Atoi(last[1])
	return gen, last[2] == "true", true
}

// Leader waits until every live worker's log reports the same last
// generation and exactly one of them led it, and returns that worker.
// It reads the workers' logs, so it sees the leader as of the last
// completed rebalance.
func (p *Pool) Leader(t testing.TB) *Worker {
	t.Helper()
	var leader *Worker
	WaitFor(t, 60*time.Second, "the pool to agree on a generation and its leader", func() error {
		leader = nil
		gen := -1
		for _, w := range p.Live() {
			g, l, ok := w.lastJoin()
			if !ok {
				return fmt.Errorf("worker %s has not joined the group yet", w.ID())
			}
			if gen != -1 && g != gen {
				return fmt.Errorf("workers on generations %d and %d", gen, g)
			}
			gen = g
			if l {
				if leader != nil {
					return fmt.Errorf("generation %d led by both %s and %s", g, leader.ID(), w.ID())
				}
				leader = w
			}
		}
		if leader == nil {
			return fmt.Errorf("no live worker led generation %d", gen)
		}
		return nil
	})
	return leader
}

// Status is GET /connectors/{c}/status.
type Status struct {
	Name      string `json:"name"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
		Starts   int    `json:"starts"`
	} `json:"connector"`
	Tasks []TaskStatus `json:"tasks"`
	Type  string       `json:"type"`
}

// TaskStatus is one task's entry of a Status.
type TaskStatus struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace"`
	// Starts is the task's start count (a Sluice addition to Connect's
	// status).
	Starts int `json:"starts"`
}

// TasksOn returns, per worker id, the ids of the tasks in state state
// on that worker.
func (s Status) TasksOn(state string) map[string][]int {
	out := map[string][]int{}
	for _, ts := range s.Tasks {
		if ts.State == state {
			out[ts.WorkerID] = append(out[ts.WorkerID], ts.ID)
		}
	}
	return out
}

// GetStatus reads a connector's status from w; an answer other than 200
// is an error (a worker that has not read the connector's config yet
// answers 404).
func GetStatus(w *Worker, connector string) (Status, error) {
	var st Status
	code, body := w.Do("GET", "/connectors/"+connector+"/status", nil)
	if code != http.StatusOK {
		return st, fmt.Errorf("GET %s/connectors/%s/status: %d %s", w.URL, connector, code, body)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("GET %s/connectors/%s/status: decoding %s: %w", w.URL, connector, body, err)
	}
	return st, nil
}

// WaitStatus polls the connector's status on w until pred accepts it,
// and returns that status; after timeout it fails the test with pred's
// last complaint.
func WaitStatus(t testing.TB, w *Worker, connector string, pred func(Status) error, timeout time.Duration) Status {
	t.Helper()
	var st Status
	WaitFor(t, timeout, "connector "+connector+"'s status on "+w.ID(), func() error {
		var err error
		if st, err = GetStatus(w, connector); err != nil {
			return err
		}
		return pred(st)
	})
	return st
}

// AllRunning is a WaitStatus predicate: the connector and exactly tasks
// tasks RUNNING.
func AllRunning(tasks int) func(Status) error {
	return func(s Status) error {
		if s.Connector.State != "RUNNING" {
			return fmt.Errorf("connector %s on %q (trace %q)", s.Connector.State, s.Connector.WorkerID, s.Connector.Trace)
		}
		if len(s.Tasks) != tasks {
			return fmt.Errorf("%d tasks, want %d: %+v", len(s.Tasks), tasks, s.Tasks)
		}
		for _, ts := range s.Tasks {
			if ts.State != "RUNNING" {
				return fmt.Errorf("task %d %s on %q (trace %q)", ts.ID, ts.State, ts.WorkerID, ts.Trace)
			}
		}
		return nil
	}
}

// Write sends a REST write to w and expects wantStatus, retrying for up
// to timeout while the answer is the 409 a pool gives during a rebalance
// (Connect's clients retry it too). It returns the body and how many
// 409s it retried.
func Write(t testing.TB, w *Worker, method, path string, body any, wantStatus int, timeout time.Duration) ([]byte, int) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	retries := 0
	for {
		code, out := w.Do(method, path, body)
		if code == wantStatus {
			return out, retries
		}
		if code != http.StatusConflict || !rebalancing(out) || time.Now().After(deadline) {
			t.Fatalf("%s %s%s: status %d, want %d (after %d retries of 409): %s", method, w.URL, path, code, wantStatus, retries, out)
		}
		retries++
		time.Sleep(200 * time.Millisecond)
	}
}

// rebalancing reports whether a 409 body is Connect's "rebalance in
// progress" or "stale configuration" conflict rather than a real one
// (such as a connector that already exists).
func rebalancing(body []byte) bool {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "rebalanc") || strings.Contains(m, "stale configuration")
}

// Starts counts the lines of the worker's log (this run and earlier runs
// of the process) that report msg (such as "task started" or "connector
// started") for the connector and, when task ≥ 0, for that task: how
// often the worker started it.
func (w *Worker) Starts(msg, connector string, task int) int {
	return countStarts(w.allLogs(), msg, connector, task)
}

// countStarts is Starts on a log's text.
func countStarts(log, msg, connector string, task int) int {
	n := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="`+msg+`"`) || logAttr(line, "connector") != connector {
			continue
		}
		if task >= 0 && logAttr(line, "task") != strconv.Itoa(task) {
			continue
		}
		n++
	}
	return n
}

// logAttr returns the unquoted value of key=value in a slog text line.
func logAttr(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// Signal sends sig to the worker's process (syscall.SIGSTOP and
// syscall.SIGCONT to freeze and thaw it).
func (w *Worker) Signal(sig os.Signal) error {
	if err := w.proc.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling worker %s: %w", w.ID(), err)
	}
	return nil
}
