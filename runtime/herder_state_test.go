package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kfake"
)

// These tests drive the real herder (Run: configs, offsets and status
// stores on a kfake broker, the REST server) with ctlConnector, a source
// plugin whose every call is counted and whose failures the test switches
// on and off, and check the herder's state machine from the outside:
// statuses, task configs, and which connector and task instances were
// started and stopped.

const (
	ctlPassword = "ctl.password"
	ctlTasks    = "ctl.tasks"
	ctlTaskKey  = "ctl.task"
)

// ctlProbe is what one ctl connector (by name) saw, and the failures the
// test asks for.
type ctlProbe struct {
	mu         sync.Mutex
	connStarts int
	connStops  int
	connProps  map[string]string
	connFail   error // Start returns it while set
	taskStarts map[int]int
	taskStops  map[int]int
	taskProps  map[int]map[string]string
	polls      map[int]int
	taskFail   map[int]error // Poll returns it while set
	failOnce   map[int]error // the next Poll returns it, once
}

var ctlProbes struct {
	sync.Mutex
	m map[string]*ctlProbe
}

// ctlProbeFor returns the probe of connector name, creating it.
func ctlProbeFor(name string) *ctlProbe {
	ctlProbes.Lock()
	defer ctlProbes.Unlock()
	if ctlProbes.m == nil {
		ctlProbes.m = map[string]*ctlProbe{}
	}
	p := ctlProbes.m[name]
	if p == nil {
		p = &ctlProbe{taskStarts: map[int]int{}, taskStops: map[int]int{}, taskProps: map[int]map[string]string{},
			polls: map[int]int{}, taskFail: map[int]error{}, failOnce: map[int]error{}}
		ctlProbes.m[name] = p
	}
	return p
}

// resetCtlProbes forgets every probe, so that a test (or a test run
// again with -count) starts from zero counts and no failures.
func resetCtlProbes() {
	ctlProbes.Lock()
	ctlProbes.m = nil
	ctlProbes.Unlock()
}

// read runs f with the probe locked.
func (p *ctlProbe) read(f func(p *ctlProbe)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

type ctlConnector struct {
	probe *ctlProbe
	props map[string]string
}

func (*ctlConnector) Config() *config.Def {
	return config.NewDef(
		config.Key{Name: ctlPassword, Type: config.Password, Default: "", Importance: config.High, Doc: "A secret."},
		config.Key{Name: ctlTasks, Type: config.Int, Default: "1", Importance: config.High, Doc: "Task configs to make."},
	)
}

func (c *ctlConnector) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	c.probe = ctlProbeFor(props[propName])
	c.props = props
	c.probe.mu.Lock()
	defer c.probe.mu.Unlock()
	c.probe.connStarts++
	c.probe.connProps = maps.Clone(props)
	return c.probe.connFail
}

// TaskConfigs returns ctl.tasks configs holding only the secret and the
// task's index: like many connectors, no connector.class.
func (c *ctlConnector) TaskConfigs(int) ([]map[string]string, error) {
	n, err := strconv.Atoi(c.props[ctlTasks])
	if err != nil {
		n = 1
	}
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{ctlPassword: c.props[ctlPassword], ctlTaskKey: strconv.Itoa(i), propName: c.props[propName]}
	}
	return out, nil
}

func (c *ctlConnector) Stop(context.Context) error {
	c.probe.mu.Lock()
	c.probe.connStops++
	c.probe.mu.Unlock()
	return nil
}

func (*ctlConnector) NewTask() connectors.SourceTask { return &ctlTask{} }

type ctlTask struct {
	probe *ctlProbe
	n     int
}

func (t *ctlTask) Start(_ context.Context, _ connectors.SourceTaskContext, props map[string]string) error {
	t.probe = ctlProbeFor(props[propName])
	t.n, _ = strconv.Atoi(props[ctlTaskKey])
	t.probe.mu.Lock()
	defer t.probe.mu.Unlock()
	t.probe.taskStarts[t.n]++
	t.probe.taskProps[t.n] = maps.Clone(props)
	return nil
}

func (t *ctlTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	t.probe.mu.Lock()
	t.probe.polls[t.n]++
	err := t.probe.taskFail[t.n]
	if e := t.probe.failOnce[t.n]; e != nil {
		err = e
		delete(t.probe.failOnce, t.n)
	}
	t.probe.mu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Millisecond):
	}
	return nil, nil
}

func (t *ctlTask) Stop(context.Context) error {
	t.probe.mu.Lock()
	t.probe.taskStops[t.n]++
	t.probe.mu.Unlock()
	return nil
}

// stateWorker is a worker on its own kfake cluster with the ctl plugin.
type stateWorker struct{ url string }

func startStateWorker(t *testing.T) *stateWorker {
	t.Helper()
	resetCtlProbes()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	reg := connectors.NewRegistry(connectors.Plugin{Name: "ctl", Class: "test.CtlConnector", Type: connectors.SourceType,
		New: func() connectors.Connector { return &ctlConnector{} }})
	// The env provider, so that references resolve (TestHerderRedaction).
	w, _ := runStateWorker(t, c.ListenAddrs()[0], map[string]string{config.ConfigProviders: "env",
		"config.providers.env.class": "env"}, reg)
	return w
}

// runStateWorker runs a worker on the broker at addr with props added to
// the test defaults. stop stops it (and is also a cleanup).
func runStateWorker(t *testing.T, addr string, props map[string]string, reg *connectors.Registry) (w *stateWorker, stop func()) {
	t.Helper()
	flags := map[string]string{config.BootstrapServers: addr,
		config.Listeners: "http://127.0.0.1:0", config.OffsetFlushInterval: "200", config.TaskShutdownGracefulTimeout: "5000"}
	maps.Copy(flags, props)
	cfg, err := config.LoadWorker("", nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Plugins: reg, Transforms: transforms.NewRegistry(), Logger: logger,
			Started: time.Now(), Ready: func(a string) { ready <- a }})
	}()
	w = &stateWorker{}
	select {
	case a := <-ready:
		w.url = "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("worker exited: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("worker not ready after 60s")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return w, stop
}

// call sends a request and returns the status and body.
func (w *stateWorker) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, w.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// must sends a request, fails the test unless it answers want, and
// decodes the answer into out (when not nil).
func (w *stateWorker) must(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	code, b := w.call(t, method, path, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
}

func (w *stateWorker) status(t *testing.T, name string) api.ConnectorStatus {
	t.Helper()
	var st api.ConnectorStatus
	w.must(t, "GET", "/connectors/"+name+"/status", nil, http.StatusOK, &st)
	return st
}

// until polls cond (which describes what it saw) for up to 60 s.
func until(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last saw %s", what, saw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// states renders a status as "CONNECTOR[task0 task1 ...]".
func states(st api.ConnectorStatus) string {
	var b strings.Builder
	b.WriteString(st.Connector.State + "[")
	for i, ts := range st.Tasks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(ts.State)
	}
	b.WriteString("]")
	return b.String()
}

// starts renders the start counts of a status: connector[task ...].
func starts(st api.ConnectorStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d[", st.Connector.Starts)
	for i, ts := range st.Tasks {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, ts.Starts)
	}
	b.WriteString("]")
	return b.String()
}

// untilStarts waits until the status's start counts render as want.
func (w *stateWorker) untilStarts(t *testing.T, name, want string) {
	t.Helper()
	until(t, "start counts "+want, func() (bool, string) {
		s := starts(w.status(t, name))
		return s == want, s
	})
}

// untilStates waits until the connector's status renders as want.
func (w *stateWorker) untilStates(t *testing.T, name, want string) api.ConnectorStatus {
	t.Helper()
	var st api.ConnectorStatus
	until(t, name+" "+want, func() (bool, string) {
		st = w.status(t, name)
		return states(st) == want, states(st)
	})
	return st
}

func ctlConfig(name string, extra ...string) map[string]any {
	cfg := map[string]string{propClass: "ctl", ctlTasks: "2", propTasksMax: "3"}
	for i := 0; i+1 < len(extra); i += 2 {
		cfg[extra[i]] = extra[i+1]
	}
	return map[string]any{"name": name, "config": cfg}
}

// counts is a copy of what a probe counted.
type counts struct {
	connStarts, connStops int
	taskStarts, taskStops map[int]int
	polls                 map[int]int
}

func (p *ctlProbe) counts() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return counts{connStarts: p.connStarts, connStops: p.connStops, taskStarts: maps.Clone(p.taskStarts),
		taskStops: maps.Clone(p.taskStops), polls: maps.Clone(p.polls)}
}

func TestHerderLifecycle(t *testing.T) {
	w := startStateWorker(t)
	const name = "life"
	p := ctlProbeFor(name)

	// Create: the connector starts once and each of its 2 tasks once.
	w.must(t, "POST", "/connectors", ctlConfig(name), http.StatusCreated, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	if c := p.counts(); c.connStarts != 1 || c.taskStarts[0] != 1 || c.taskStarts[1] != 1 {
		t.Fatalf("after create: %+v, want one start of the connector and of each task", c)
	}
	until(t, "both tasks polling", func() (bool, string) {
		c := p.counts()
		return c.polls[0] > 0 && c.polls[1] > 0, fmt.Sprint(c.polls)
	})

	// Pause: connector and tasks PAUSED, no more polls; nothing restarted.
	w.must(t, "PUT", "/connectors/"+name+"/pause", nil, http.StatusAccepted, nil)
	w.untilStates(t, name, "PAUSED[PAUSED PAUSED]")
	before := p.counts()
	time.Sleep(300 * time.Millisecond)
	after := p.counts()
	// A poll under way when the pause landed may still finish.
	for n := range 2 {
		if after.polls[n] > before.polls[n]+1 {
			t.Fatalf("task %d polled %d times while paused", n, after.polls[n]-before.polls[n])
		}
	}
	if after.connStarts != 1 || after.taskStarts[0] != 1 || after.taskStarts[1] != 1 {
		t.Fatalf("pause restarted something: %+v", after)
	}

	// Resume: RUNNING again, polling again, same instances.
	w.must(t, "PUT", "/connectors/"+name+"/resume", nil, http.StatusAccepted, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	until(t, "polls after resume", func() (bool, string) {
		c := p.counts()
		return c.polls[0] > after.polls[0]+1 && c.polls[1] > after.polls[1]+1, fmt.Sprint(c.polls)
	})
	if c := p.counts(); c.connStarts != 1 || c.taskStarts[0] != 1 || c.taskStarts[1] != 1 {
		t.Fatalf("resume restarted something: %+v", c)
	}

	// Update the config to 3 tasks: the connector restarts with the new
	// config, and the tasks are replaced by the 3 new ones.
	w.must(t, "PUT", "/connectors/"+name+"/config", map[string]string{propClass: "ctl", ctlTasks: "3", propTasksMax: "3"}, http.StatusOK, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING RUNNING]")
	until(t, "restarted connector and tasks", func() (bool, string) {
		c := p.counts()
		return c.connStarts == 2 && c.connStops == 1 && c.taskStarts[0] == 2 && c.taskStarts[1] == 2 && c.taskStarts[2] == 1 &&
			c.taskStops[0] == 1 && c.taskStops[1] == 1, fmt.Sprintf("%+v", c)
	})
	var tasks []api.TaskInfo
	w.must(t, "GET", "/connectors/"+name+"/tasks", nil, http.StatusOK, &tasks)
	if len(tasks) != 3 {
		t.Fatalf("GET tasks after the update: %d task configs, want 3", len(tasks))
	}

	// PATCH back to 1 task: the extra tasks stop and leave the status;
	// task 0 restarts with the new connector config.
	w.must(t, "PATCH", "/connectors/"+name+"/config", map[string]*string{ctlTasks: ptr("1")}, http.StatusOK, nil)
	w.untilStates(t, name, "RUNNING[RUNNING]")
	until(t, "tasks 1 and 2 stopped, task 0 restarted", func() (bool, string) {
		c := p.counts()
		return c.connStarts == 3 && c.taskStops[1] == 2 && c.taskStops[2] == 1 && c.taskStarts[0] == 3 && c.taskStops[0] == 2,
			fmt.Sprintf("%+v", c)
	})

	// Stop: STOPPED with no tasks and no task configs (KIP-875); the
	// connector and its task are stopped.
	w.must(t, "PUT", "/connectors/"+name+"/stop", nil, http.StatusNoContent, nil)
	w.untilStates(t, name, "STOPPED[]")
	until(t, "no task configs while stopped", func() (bool, string) {
		_, b := w.call(t, "GET", "/connectors/"+name+"/tasks", nil)
		return string(bytes.TrimSpace(b)) == "[]", string(b)
	})
	stopped := p.counts()
	if stopped.connStops != 3 || stopped.taskStops[0] != 3 {
		t.Fatalf("after stop: %+v, want 3 connector stops and 3 stops of task 0", stopped)
	}

	// Resume from STOPPED: a fresh connector and task.
	w.must(t, "PUT", "/connectors/"+name+"/resume", nil, http.StatusAccepted, nil)
	w.untilStates(t, name, "RUNNING[RUNNING]")
	if c := p.counts(); c.connStarts != 4 || c.taskStarts[0] != 4 {
		t.Fatalf("after resuming a stopped connector: %+v, want the 4th connector start and 4th start of task 0", c)
	}

	// Delete: gone from REST; connector and task stopped, no more polls.
	w.must(t, "DELETE", "/connectors/"+name, nil, http.StatusNoContent, nil)
	w.must(t, "GET", "/connectors/"+name+"/status", nil, http.StatusNotFound, nil)
	until(t, "connector and task stopped after delete", func() (bool, string) {
		c := p.counts()
		return c.connStops == 4 && c.taskStops[0] == 4, fmt.Sprintf("%+v", c)
	})
	gone := p.counts()
	time.Sleep(200 * time.Millisecond)
	if c := p.counts(); c.polls[0] != gone.polls[0] || c.taskStarts[0] != gone.taskStarts[0] {
		t.Fatalf("deleted connector's task still runs: polls %d → %d", gone.polls[0], c.polls[0])
	}
	var names []string
	w.must(t, "GET", "/connectors", nil, http.StatusOK, &names)
	if len(names) != 0 {
		t.Fatalf("GET /connectors after delete: %v", names)
	}
	// Created again under the same name, it starts from scratch.
	w.must(t, "POST", "/connectors", ctlConfig(name), http.StatusCreated, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
}

// TestHerderCreateInitialState: a connector created PAUSED or STOPPED
// never runs its tasks.
func TestHerderCreateInitialState(t *testing.T) {
	w := startStateWorker(t)
	req := ctlConfig("born-paused")
	req["initial_state"] = "PAUSED"
	w.must(t, "POST", "/connectors", req, http.StatusCreated, nil)
	w.untilStates(t, "born-paused", "PAUSED[PAUSED PAUSED]")
	req = ctlConfig("born-stopped")
	req["initial_state"] = "STOPPED"
	w.must(t, "POST", "/connectors", req, http.StatusCreated, nil)
	w.untilStates(t, "born-stopped", "STOPPED[]")
	time.Sleep(200 * time.Millisecond)
	if c := ctlProbeFor("born-paused").counts(); c.polls[0]+c.polls[1] != 0 {
		t.Fatalf("tasks of a connector created PAUSED polled: %v", c.polls)
	}
	if c := ctlProbeFor("born-stopped").counts(); c.connStarts != 0 || len(c.taskStarts) != 0 {
		t.Fatalf("connector created STOPPED ran: %+v", c)
	}
	req = ctlConfig("bad-state")
	req["initial_state"] = "SLEEPING"
	w.must(t, "POST", "/connectors", req, http.StatusBadRequest, nil)
	w.must(t, "POST", "/connectors", ctlConfig("born-paused"), http.StatusConflict, nil)
}

// TestHerderRestart covers KIP-745: which of a connector and its tasks
// POST /connectors/{c}/restart restarts for each includeTasks/onlyFailed,
// and POST /connectors/{c}/tasks/{t}/restart.
func TestHerderRestart(t *testing.T) {
	w := startStateWorker(t)
	const name = "rs"
	p := ctlProbeFor(name)
	// No automatic restarts: a failed task stays FAILED until asked.
	w.must(t, "POST", "/connectors", ctlConfig(name, propRestartEnable, "false"), http.StatusCreated, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")

	p.read(func(p *ctlProbe) { p.taskFail[1] = errors.New("disk on fire") })
	st := w.untilStates(t, name, "RUNNING[RUNNING FAILED]")
	if !strings.Contains(st.Tasks[1].Trace, "disk on fire") {
		t.Fatalf("failed task's trace %q does not hold its error", st.Tasks[1].Trace)
	}
	time.Sleep(300 * time.Millisecond)
	if c := p.counts(); c.taskStarts[1] != 1 {
		t.Fatalf("task restarted with sluice.task.restart.enable=false: %+v", c)
	}
	p.read(func(p *ctlProbe) { delete(p.taskFail, 1) })

	// includeTasks&onlyFailed: only the failed task; the answer says so.
	var got api.ConnectorStatus
	w.must(t, "POST", "/connectors/"+name+"/restart?includeTasks=true&onlyFailed=true", nil, http.StatusAccepted, &got)
	if s := states(got); s != "RUNNING[RUNNING RESTARTING]" {
		t.Fatalf("restart answer %s, want RUNNING[RUNNING RESTARTING]", s)
	}
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	until(t, "task 1 started again", func() (bool, string) {
		c := p.counts()
		return c.taskStarts[1] == 2, fmt.Sprintf("%+v", c)
	})
	// The status counts the starts too (GET .../status "starts").
	w.untilStarts(t, name, "1[1 2]")
	if c := p.counts(); c.connStarts != 1 || c.taskStarts[0] != 1 {
		t.Fatalf("onlyFailed restarted something that had not failed: %+v", c)
	}

	// onlyFailed with nothing failed: nothing restarts.
	w.must(t, "POST", "/connectors/"+name+"/restart?includeTasks=true&onlyFailed=true", nil, http.StatusAccepted, &got)
	if s := states(got); s != "RUNNING[RUNNING RUNNING]" {
		t.Fatalf("restart of a healthy connector with onlyFailed answered %s", s)
	}

	// Plain restart: the connector only (204), tasks keep running.
	w.must(t, "POST", "/connectors/"+name+"/restart", nil, http.StatusNoContent, nil)
	until(t, "connector restarted", func() (bool, string) {
		c := p.counts()
		return c.connStarts == 2 && c.connStops == 1, fmt.Sprintf("%+v", c)
	})
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	if c := p.counts(); c.taskStarts[0] != 1 || c.taskStarts[1] != 2 {
		t.Fatalf("restart without includeTasks restarted tasks: %+v", c)
	}
	w.untilStarts(t, name, "2[1 2]")

	// includeTasks without onlyFailed: the connector and every task.
	w.must(t, "POST", "/connectors/"+name+"/restart?includeTasks=true", nil, http.StatusAccepted, &got)
	if s := states(got); s != "RESTARTING[RESTARTING RESTARTING]" {
		t.Fatalf("restart answer %s, want RESTARTING[RESTARTING RESTARTING]", s)
	}
	until(t, "connector and both tasks restarted", func() (bool, string) {
		c := p.counts()
		return c.connStarts == 3 && c.taskStarts[0] == 2 && c.taskStarts[1] == 3, fmt.Sprintf("%+v", c)
	})
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")

	// One task by its own endpoint.
	w.must(t, "POST", "/connectors/"+name+"/tasks/0/restart", nil, http.StatusNoContent, nil)
	until(t, "task 0 restarted", func() (bool, string) {
		c := p.counts()
		return c.taskStarts[0] == 3, fmt.Sprintf("%+v", c)
	})
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	if c := p.counts(); c.connStarts != 3 || c.taskStarts[1] != 3 {
		t.Fatalf("task restart touched others: %+v", c)
	}
	w.untilStarts(t, name, "3[3 3]")
	w.must(t, "POST", "/connectors/"+name+"/tasks/2/restart", nil, http.StatusNotFound, nil)
	w.must(t, "POST", "/connectors/nope/restart", nil, http.StatusNotFound, nil)

	// A FAILED connector: onlyFailed restarts it (and not the tasks).
	p.read(func(p *ctlProbe) { p.connFail = errors.New("no licence") })
	w.must(t, "POST", "/connectors/"+name+"/restart", nil, http.StatusNoContent, nil)
	until(t, "connector FAILED", func() (bool, string) {
		st := w.status(t, name)
		return st.Connector.State == api.StateFailed && strings.Contains(st.Connector.Trace, "no licence"), states(st)
	})
	p.read(func(p *ctlProbe) { p.connFail = nil })
	tasksBefore := p.counts().taskStarts
	w.must(t, "POST", "/connectors/"+name+"/restart?includeTasks=true&onlyFailed=true", nil, http.StatusAccepted, &got)
	if got.Connector.State != api.StateRestarting {
		t.Fatalf("restart of a FAILED connector with onlyFailed answered %s", states(got))
	}
	until(t, "connector RUNNING again", func() (bool, string) {
		st := w.status(t, name)
		return st.Connector.State == api.StateRunning, states(st)
	})
	if c := p.counts(); !maps.Equal(c.taskStarts, tasksBefore) {
		t.Fatalf("restarting the failed connector with onlyFailed restarted tasks: %v → %v", tasksBefore, c.taskStarts)
	}
}

// TestHerderAutoRestart: a failing task is restarted with back-off up to
// sluice.task.restart.max.attempts times, then stays FAILED with its
// error; a connector whose Start fails is restarted once it can start.
func TestHerderAutoRestart(t *testing.T) {
	w := startStateWorker(t)
	const name = "auto"
	p := ctlProbeFor(name)
	p.read(func(p *ctlProbe) { p.taskFail[0] = errors.New("always broken") })
	w.must(t, "POST", "/connectors", ctlConfig(name, ctlTasks, "1", propRestartInitial, "20",
		propRestartMax, "10000", propRestartAttempts, "2"), http.StatusCreated, nil)
	st := w.untilStates(t, name, "RUNNING[FAILED]")
	// The first run and 2 automatic restarts, then no more.
	until(t, "3 runs of the failing task", func() (bool, string) {
		c := p.counts()
		return c.taskStarts[0] == 3, fmt.Sprint(c.taskStarts)
	})
	time.Sleep(500 * time.Millisecond) // well past the next back-off (80 ms)
	if c := p.counts(); c.taskStarts[0] != 3 {
		t.Fatalf("task started %d times, want 3 (max.attempts=2)", c.taskStarts[0])
	}
	st = w.status(t, name)
	if st.Tasks[0].State != api.StateFailed || !strings.Contains(st.Tasks[0].Trace, "always broken") {
		t.Fatalf("given-up task: %s trace %q", states(st), st.Tasks[0].Trace)
	}

	// A manual restart resets the count: fixed, it runs.
	p.read(func(p *ctlProbe) { delete(p.taskFail, 0) })
	w.must(t, "POST", "/connectors/"+name+"/tasks/0/restart", nil, http.StatusNoContent, nil)
	w.untilStates(t, name, "RUNNING[RUNNING]")

	// A task that fails once is restarted by itself and runs.
	p.read(func(p *ctlProbe) { p.failOnce[0] = errors.New("blip") })
	until(t, "the restart after the blip", func() (bool, string) {
		c := p.counts()
		return c.taskStarts[0] == 5, fmt.Sprint(c.taskStarts) // 4 before, then the restart
	})
	w.untilStates(t, name, "RUNNING[RUNNING]")

	// A connector that cannot start is FAILED with the error, then
	// restarted with back-off until it starts.
	const name2 = "auto-conn"
	p2 := ctlProbeFor(name2)
	p2.read(func(p *ctlProbe) { p.connFail = errors.New("licence server down") })
	w.must(t, "POST", "/connectors", ctlConfig(name2, ctlTasks, "1", propRestartInitial, "20", propRestartMax, "10000"),
		http.StatusCreated, nil)
	until(t, "connector FAILED with its error", func() (bool, string) {
		st := w.status(t, name2)
		return st.Connector.State == api.StateFailed && strings.Contains(st.Connector.Trace, "licence server down"), states(st)
	})
	until(t, "a second start attempt", func() (bool, string) {
		c := p2.counts()
		return c.connStarts >= 2, fmt.Sprint(c.connStarts)
	})
	p2.read(func(p *ctlProbe) { p.connFail = nil })
	w.untilStates(t, name2, "RUNNING[RUNNING]")
}

// TestHerderRedaction: a sensitive value reads back as [hidden] from
// every endpoint that shows a config — the connector's own and its task
// configs, which hold no connector.class — while the connector and its
// tasks get the real value, and a PUT sending [hidden] back keeps it.
// Config provider references are shown as written and resolved only for
// the running instances.
func TestHerderRedaction(t *testing.T) {
	w := startStateWorker(t)
	const name = "secret"
	p := ctlProbeFor(name)
	var created api.ConnectorInfo
	w.must(t, "POST", "/connectors", ctlConfig(name, ctlPassword, "hunter2"), http.StatusCreated, &created)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")

	checkHidden := func(t *testing.T, where string, cfg map[string]string, want string) {
		t.Helper()
		if got := cfg[ctlPassword]; got != want {
			t.Errorf("%s: %s = %q, want %q", where, ctlPassword, got, want)
		}
		for k, v := range cfg {
			if strings.Contains(v, "hunter2") || strings.Contains(v, "swordfish") {
				t.Errorf("%s: %s shows the secret: %q", where, k, v)
			}
		}
	}
	check := func(t *testing.T, want string) {
		t.Helper()
		var cfg map[string]string
		w.must(t, "GET", "/connectors/"+name+"/config", nil, http.StatusOK, &cfg)
		checkHidden(t, "GET config", cfg, want)
		var info api.ConnectorInfo
		w.must(t, "GET", "/connectors/"+name, nil, http.StatusOK, &info)
		checkHidden(t, "GET connector", info.Config, want)
		var expanded map[string]struct {
			Info api.ConnectorInfo `json:"info"`
		}
		w.must(t, "GET", "/connectors?expand=info&expand=status", nil, http.StatusOK, &expanded)
		checkHidden(t, "GET connectors?expand=info", expanded[name].Info.Config, want)
		var tasks []api.TaskInfo
		w.must(t, "GET", "/connectors/"+name+"/tasks", nil, http.StatusOK, &tasks)
		if len(tasks) != 2 {
			t.Fatalf("GET tasks: %d task configs, want 2", len(tasks))
		}
		for _, ti := range tasks {
			checkHidden(t, fmt.Sprintf("GET tasks (task %d)", ti.ID.Task), ti.Config, want)
		}
	}
	checkHidden(t, "POST answer", created.Config, hidden)
	check(t, hidden)
	p.read(func(p *ctlProbe) {
		if p.connProps[ctlPassword] != "hunter2" || p.taskProps[0][ctlPassword] != "hunter2" || p.taskProps[1][ctlPassword] != "hunter2" {
			t.Errorf("connector and tasks got %q, %q, %q; want the real value", p.connProps[ctlPassword],
				p.taskProps[0][ctlPassword], p.taskProps[1][ctlPassword])
		}
	})

	// GET, edit another property, PUT back with [hidden]: the stored
	// secret is kept.
	var cfg map[string]string
	w.must(t, "GET", "/connectors/"+name+"/config", nil, http.StatusOK, &cfg)
	cfg[ctlTasks] = "1"
	var put api.ConnectorInfo
	w.must(t, "PUT", "/connectors/"+name+"/config", cfg, http.StatusOK, &put)
	checkHidden(t, "PUT answer", put.Config, hidden)
	w.untilStates(t, name, "RUNNING[RUNNING]")
	until(t, "the restarted connector", func() (bool, string) {
		c := p.counts()
		return c.connStarts == 2, fmt.Sprint(c.connStarts)
	})
	p.read(func(p *ctlProbe) {
		if p.connProps[ctlPassword] != "hunter2" {
			t.Errorf("after a PUT sending %s back, the connector got %q", hidden, p.connProps[ctlPassword])
		}
	})

	// A provider reference is shown as written, resolved for the
	// instances, and never stored resolved in the task configs.
	t.Setenv("SLUICE_HERDER_TEST_SECRET", "swordfish")
	ref := "${env:SLUICE_HERDER_TEST_SECRET}"
	w.must(t, "PATCH", "/connectors/"+name+"/config", map[string]*string{ctlPassword: &ref, ctlTasks: ptr("2")}, http.StatusOK, nil)
	w.untilStates(t, name, "RUNNING[RUNNING RUNNING]")
	until(t, "tasks started with the resolved secret", func() (bool, string) {
		var got string
		p.read(func(p *ctlProbe) { got = p.taskProps[1][ctlPassword] })
		return got == "swordfish", got
	})
	check(t, ref)
}

// TestHerderConfigErrors: writes that the herder refuses, with the
// property named.
func TestHerderConfigErrors(t *testing.T) {
	w := startStateWorker(t)
	code, b := w.call(t, "POST", "/connectors", ctlConfig("bad", ctlTasks, "many"))
	if code != http.StatusBadRequest || !strings.Contains(string(b), ctlTasks) {
		t.Fatalf("invalid ctl.tasks: %d %s", code, b)
	}
	code, b = w.call(t, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{propClass: "nope"}})
	if code != http.StatusBadRequest || !strings.Contains(string(b), "nope") {
		t.Fatalf("unknown class: %d %s", code, b)
	}
	w.must(t, "PUT", "/connectors/bad/pause", nil, http.StatusNotFound, nil)
	w.must(t, "DELETE", "/connectors/bad", nil, http.StatusNotFound, nil)
	// PUT creates (201) and then updates (200).
	w.must(t, "PUT", "/connectors/made/config", map[string]string{propClass: "ctl"}, http.StatusCreated, nil)
	w.must(t, "PUT", "/connectors/made/config", map[string]string{propClass: "ctl", ctlTasks: "1"}, http.StatusOK, nil)
	w.untilStates(t, "made", "RUNNING[RUNNING]")
}

func ptr(s string) *string { return &s }
