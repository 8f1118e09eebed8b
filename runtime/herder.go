package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/configstore"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/runtime/offsetstore"
	"github.com/sluice-cdc/sluice/runtime/pool/member"
	"github.com/sluice-cdc/sluice/runtime/registry"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Herder reconciles what the configs topic asks for (connectors, their
// task configs, target states) and what the user asked through REST
// (restarts) with the connectors and tasks running on this worker.
//
// Concurrency: one goroutine (run) makes every change; it wakes on a
// config change, a REST request, a task exit or a restart timer. REST
// reads take mu briefly and never wait for that goroutine, and each task
// runs in its own goroutine with its own context, so a task stuck in Poll
// or Put cannot block the herder, the REST API or other tasks: stopping
// waits task.shutdown.graceful.timeout.ms, then abandons the task and
// reports it. Lock order: mu, then at most a task's pauser.mu (a leaf);
// mu is never held across I/O or a wait. DESIGN.md has the whole order.
type Herder struct {
	workerID   string
	worker     *config.Worker
	plugins    *connectors.Registry
	transforms *transforms.Registry
	converters *converter.Catalog
	configs    *configstore.Store
	providers  *config.Providers
	offsets    *offsetstore.Kafka
	status     *statusStore
	adm        *kadm.Client
	topics     *topicCreator
	clientOpts []kgo.Opt
	sec        *workerSecurity
	keyConv    converter.Setting
	valConv    converter.Setting
	clusterID  string
	version    string
	commit     string
	logger     *slog.Logger

	wake chan struct{}
	wg   sync.WaitGroup // task and connector goroutines

	// pool is this worker's membership in its pool; nil runs every
	// connector and task (tests of the herder alone).
	pool *workerPool
	// schemas is the built-in schema registry, for the Avro converter.
	schemas *registry.Store
	// fenceClient sends the leader's InitProducerID requests that fence
	// removed tasks' transactional ids (eos.go).
	fenceClient *kgo.Client
	// taskHost is the command that runs a task with
	// task.isolation=process (zero: this binary's task-host command).
	taskHost TaskHost
	// hostStanding, in a task host, is the parent worker's standing.
	hostStanding *atomic.Bool

	mu struct {
		sync.Mutex
		conns map[string]*connState
		ready bool
		// own is what the pool assigned this worker.
		own ownership
	}
}

// connState is one connector on this worker. Fields are guarded by
// Herder.mu; only the run goroutine adds or removes tasks.
type connState struct {
	name string
	raw  map[string]string // config as stored (provider references unresolved)
	// res is the running instance's resolved config, to scrub resolved
	// values from its errors.
	res    *config.Resolved
	plugin *connectors.Plugin
	inst   connectors.Connector
	cancel context.CancelFunc
	// cctx is the running instance's context; its raised error, set by
	// RaiseError, is acted on by run.
	cctx    *connectorContext
	state   string
	trace   string
	backoff backoff
	// needTaskConfigs asks run to call TaskConfigs (after start, or when
	// the connector requested a reconfiguration).
	needTaskConfigs bool
	restart         bool
	// The connector's Start and TaskConfigs run on goroutines of their
	// own, so that connector code that hangs never holds the herder's
	// goroutine (which handles the pool's rebalances). epoch counts the
	// instances: the result of a call whose instance was stopped since is
	// dropped. starting and computing say a call is under way; started,
	// startErr and computed are their results, taken by reconcile.
	epoch     int
	starting  bool
	started   bool
	startErr  error
	computing bool
	computed  *computedTasks
	// writingTasks: computed task configs are being written (on the
	// leader) or sent to the leader, on a goroutine of their own, so that
	// a leader that does not answer never holds the herder's goroutine.
	writingTasks bool
	// awaitTasks: the connector's config changed and its new instance has
	// not yet computed task configs; its tasks are not started with the
	// old ones meanwhile.
	awaitTasks bool
	tasks      map[int]*taskState
	// alive counts task goroutines that have not returned, including
	// abandoned ones: until it is 0 a task may still commit offsets, so
	// the offsets API refuses changes.
	alive int
}

// computedTasks is what a connector's TaskConfigs returned.
// computedTasks is what a connector instance's TaskConfigs returned, for
// its config raw (tasks.max: maxTasks).
type computedTasks struct {
	raw      map[string]string
	maxTasks int
	tcs      []map[string]string
	err      error
}

type taskState struct {
	id      api.TaskID
	raw     map[string]string
	res     *config.Resolved // resolved connector and task config, for scrubbing
	cancel  context.CancelFunc
	done    chan struct{}
	pause   *pauser
	state   string
	trace   string
	started time.Time
	backoff backoff
	restart bool
	// limitShare is the number of tasks the connector's rate limits were
	// divided among when the task started (0: no limit); a task whose
	// share changed is restarted.
	limitShare int
}

// backoff schedules automatic restarts.
type backoff struct {
	attempts int
	next     time.Time // zero: no restart scheduled
}

func (h *Herder) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run is the herder's goroutine; it returns when ctx ends, after stopping
// every connector and task.
func (h *Herder) run(ctx context.Context) {
	h.mu.Lock()
	h.mu.ready = true
	h.mu.Unlock()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var events <-chan member.Event
	if h.pool != nil {
		events = h.pool.member.Events()
	}
	for {
		h.reconcile(ctx)
		select {
		case <-ctx.Done():
			h.stopAll()
			return
		case ev, ok := <-events:
			if !ok {
				// The membership failed for good; Run stops the worker.
				events = nil
				h.mu.Lock()
				h.mu.own.suspended = true
				h.mu.Unlock()
				continue
			}
			h.pool.handle(ctx, ev)
		case <-h.wake:
		case <-tick.C:
			if h.pool != nil && h.isLeader() {
				h.pool.rotateKey(ctx)
			}
		}
	}
}

func (h *Herder) stopAll() {
	h.mu.Lock()
	var all []*connState
	for _, cs := range h.mu.conns {
		all = append(all, cs)
	}
	h.mu.Unlock()
	ctx := context.Background()
	for _, cs := range all {
		h.stopTasks(ctx, cs, nil, stopKeep)
		h.stopConnector(ctx, cs)
	}
	// Tasks abandoned by stopTasks (stuck in connector code that ignores
	// its context) get one more task.shutdown.graceful.timeout.ms; then
	// the worker stops without them, so that a stuck task cannot hold
	// the process.
	deadline := time.Now().Add(h.worker.Duration(config.TaskShutdownGracefulTimeout))
	for h.aliveTasks(all) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := h.aliveTasks(all); n > 0 {
		h.logger.Error("tasks still running in connector code that ignores cancellation; the worker stops without waiting for them",
			"tasks", n)
		return
	}
	h.wg.Wait()
}

// aliveTasks counts the task goroutines of all that have not returned.
func (h *Herder) aliveTasks(all []*connState) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, cs := range all {
		n += cs.alive
	}
	return n
}

// reconcile makes one pass over every connector.
func (h *Herder) reconcile(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	if h.holding() {
		return
	}
	snap := h.configs.Snapshot()
	if h.pool != nil {
		h.pool.readKey()
		defer h.pool.configChanged(snap)
	}
	h.mu.Lock()
	var gone []*connState
	for name, cs := range h.mu.conns {
		if _, ok := snap.Connectors[name]; !ok {
			gone = append(gone, cs)
			delete(h.mu.conns, name)
		}
	}
	h.mu.Unlock()
	for _, cs := range gone {
		h.stopTasks(ctx, cs, nil, stopKeep)
		h.stopConnector(ctx, cs)
		h.status.deleteConnector(ctx, cs.name)
		h.logger.Info("connector deleted", "connector", cs.name)
	}
	for _, name := range config.SortedKeys(snap.Connectors) {
		h.reconcileConnector(ctx, name, snap)
	}
}

func (h *Herder) reconcileConnector(ctx context.Context, name string, snap configstore.Snapshot) {
	raw := snap.Connectors[name]
	target := snap.Targets[name]
	if target == "" {
		target = configstore.TargetStarted
	}
	h.mu.Lock()
	cs := h.mu.conns[name]
	if cs == nil {
		cs = &connState{name: name, raw: raw, tasks: map[int]*taskState{}, state: api.StateUnassigned}
		h.mu.conns[name] = cs
	}
	changed := !maps.Equal(cs.raw, raw)
	restart := cs.restart
	cs.restart = false
	cs.raw = raw
	h.mu.Unlock()
	own := h.ownsConnector(name)
	if !own {
		h.releaseConnector(ctx, cs)
	}

	if changed || restart {
		if changed {
			h.logger.Info("connector config changed; restarting it", "connector", name)
		}
		h.stopConnector(ctx, cs)
		h.mu.Lock()
		cs.backoff = backoff{}
		cs.state = api.StateUnassigned
		cs.awaitTasks = changed && own
		if changed {
			// Tasks run with the connector's converters, transforms and
			// error settings: restart every one once the new task configs
			// are read, even a task whose own config did not change.
			for _, ts := range cs.tasks {
				ts.restart = true
			}
		}
		h.mu.Unlock()
	}

	if target == configstore.TargetStopped {
		h.stopTasks(ctx, cs, nil, stopForget)
		h.stopConnector(ctx, cs)
		if !own {
			return
		}
		if len(snap.Tasks[name]) > 0 && h.isLeader() {
			// As Kafka Connect: a stopped connector has no tasks, which is
			// what the offsets API checks.
			if err := h.putTaskConfigs(ctx, name, nil); err != nil {
				h.logger.Warn("clearing task configs of stopped connector", "connector", name, "error", err)
			}
		}
		h.setConnectorState(ctx, cs, api.StateStopped, "")
		return
	}

	h.mu.Lock()
	var raised error
	if cs.inst != nil && cs.cctx != nil {
		raised, cs.cctx.raised = cs.cctx.raised, nil
	}
	h.mu.Unlock()
	if raised != nil {
		h.failConnector(ctx, cs, raised)
	}

	h.mu.Lock()
	startErr, started := cs.startErr, cs.started
	cs.startErr, cs.started = nil, false
	h.mu.Unlock()
	if startErr != nil {
		h.failConnector(ctx, cs, startErr)
	}
	if started {
		h.connectorStarted(ctx, cs)
		h.logger.Info("connector started", "connector", name)
	}

	h.mu.Lock()
	running := cs.inst != nil || cs.starting
	due := cs.state != api.StateFailed || (!cs.backoff.next.IsZero() && !time.Now().Before(cs.backoff.next))
	h.mu.Unlock()
	if own && !running && due {
		h.startConnector(ctx, cs)
	}

	h.mu.Lock()
	inst, need := cs.inst, cs.needTaskConfigs || snap.Inconsistent[name]
	computed := cs.computed
	cs.computed = nil
	if inst != nil && need && !cs.computing && !cs.writingTasks && computed == nil {
		cs.needTaskConfigs = false
		h.computeTaskConfigs(cs, inst)
	}
	h.mu.Unlock()
	if computed != nil {
		if h.writeComputed(ctx, cs, computed, snap.Tasks[name]) {
			return // the write wakes us again with the new task configs
		}
	}

	tasks := snap.Tasks[name]
	if changed {
		// A connector whose config changed keeps running its old tasks
		// only until its new task configs are committed.
		h.stopTasks(ctx, cs, nil, stopForget)
	}
	h.reconcileTasks(ctx, cs, tasks, target == configstore.TargetPaused)

	h.mu.Lock()
	st := cs.state
	h.mu.Unlock()
	if own && (st == api.StateRunning || st == api.StatePaused) {
		if target == configstore.TargetPaused {
			h.setConnectorState(ctx, cs, api.StatePaused, "")
		} else {
			h.setConnectorState(ctx, cs, api.StateRunning, "")
		}
	}
}

// computeTaskConfigs asks the connector instance for its task configs on
// a goroutine of its own; reconcile writes the result. h.mu is held.
func (h *Herder) computeTaskConfigs(cs *connState, inst connectors.Connector) {
	raw, ep := cs.raw, cs.epoch
	cs.computing = true
	maxTasks := 1
	if v, err := config.ParseValue(config.Int, raw[propTasksMax]); err == nil {
		maxTasks = v.(int)
	}
	go func() {
		var tcs []map[string]string
		err := connectors.Protect(func() (err error) {
			tcs, err = inst.TaskConfigs(maxTasks)
			return err
		})
		h.mu.Lock()
		if cs.epoch == ep {
			cs.computing = false
			cs.computed = &computedTasks{raw: raw, maxTasks: maxTasks, tcs: tcs, err: err}
		}
		h.mu.Unlock()
		h.signal()
	}()
}

// writeComputed writes the task configs a connector computed when they
// differ from the committed ones, on a goroutine of its own; it reports
// whether it started a write (whose end wakes the herder again).
func (h *Herder) writeComputed(ctx context.Context, cs *connState, c *computedTasks, current []map[string]string) (writing bool) {
	// Once the new task configs are written, or equal the committed ones
	// (or the connector failed), its tasks may start.
	settled := c.err != nil
	defer func() {
		if settled {
			h.mu.Lock()
			cs.awaitTasks = false
			h.mu.Unlock()
		}
	}()
	if c.err != nil {
		h.failConnector(ctx, cs, fmt.Errorf("computing task configs: %w", c.err))
		return false
	}
	raw := c.raw
	tcs := c.tcs
	if len(tcs) > c.maxTasks {
		tcs = tcs[:c.maxTasks]
	}
	resolved, _ := h.providers.Resolve(raw)
	for _, tc := range tcs {
		unresolve(tc, raw, resolved.Values)
	}
	if equalTaskConfigs(tcs, current) {
		settled = true
		return false
	}
	h.mu.Lock()
	ep := cs.epoch
	cs.writingTasks = true
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		err := h.writeTaskConfigs(ctx, cs.name, tcs)
		h.mu.Lock()
		current := cs.epoch == ep
		if current {
			cs.writingTasks = false
			if err != nil {
				cs.needTaskConfigs = true
			} else {
				cs.awaitTasks = false
			}
		}
		h.mu.Unlock()
		if err != nil && current && ctx.Err() == nil {
			h.logger.Warn("writing task configs failed; retrying", "connector", cs.name, "error", err)
			time.AfterFunc(time.Second, h.signal)
			return
		}
		h.signal()
	}()
	return true
}

// writeTaskConfigs writes task configs on the leader, and elsewhere sends
// them to the leader's internal endpoint (as Kafka Connect does).
func (h *Herder) writeTaskConfigs(ctx context.Context, name string, tcs []map[string]string) error {
	if h.isLeader() {
		return h.putTaskConfigs(ctx, name, tcs)
	}
	h.mu.Lock()
	url := h.mu.own.leaderURL
	h.mu.Unlock()
	if url == "" {
		return errors.New("the pool has no leader yet")
	}
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return h.pool.forwardTasks(fctx, url, name, tcs)
}

// putTaskConfigs writes a connector's task configs on the leader, after
// fencing the transactional producers of the tasks it no longer has.
func (h *Herder) putTaskConfigs(ctx context.Context, name string, tcs []map[string]string) error {
	if old := len(h.configs.Snapshot().Tasks[name]); old > len(tcs) {
		if err := h.fenceRemovedTasks(ctx, name, len(tcs), old); err != nil {
			return err
		}
	}
	return h.configs.PutTaskConfigs(ctx, name, tcs)
}

// releaseConnector stops the connector object on a worker that no longer
// owns it. A connector the pool revoked reads UNASSIGNED until its new
// owner starts it; one stopped because this worker lost the pool writes
// nothing (its new owner may already run it).
func (h *Herder) releaseConnector(ctx context.Context, cs *connState) {
	h.mu.Lock()
	running := cs.inst != nil
	suspended := h.mu.own.suspended
	gen := h.mu.own.generation
	h.mu.Unlock()
	if running {
		h.stopConnector(ctx, cs)
		if !suspended {
			h.status.putConnector(ctx, cs.name, statusValue{State: api.StateUnassigned, WorkerID: h.workerID, Generation: int(gen)})
		}
	}
	h.mu.Lock()
	cs.state, cs.trace, cs.backoff, cs.needTaskConfigs, cs.awaitTasks = "", "", backoff{}, false, false
	h.mu.Unlock()
}

// unresolve puts config provider references back into task configs so
// that resolved secrets are never written to the configs topic.
func unresolve(task, raw, resolved map[string]string) {
	for k, v := range task {
		if r, ok := raw[k]; ok && strings.Contains(r, "${") && resolved[k] == v {
			task[k] = r
		}
	}
}

func equalTaskConfigs(a, b []map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !maps.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

type connectorContext struct {
	h      *Herder
	cs     *connState
	logger *slog.Logger
	// raised is the first error given to RaiseError; guarded by h.mu.
	raised error
}

func (c *connectorContext) RequestTaskReconfiguration() {
	c.h.mu.Lock()
	c.cs.needTaskConfigs = true
	c.h.mu.Unlock()
	c.h.signal()
}

// RaiseError records err and wakes the herder's goroutine, which fails
// the connector: no goroutine of its own, and nothing that outlives the
// worker. An error raised by an instance that was since stopped is
// ignored.
func (c *connectorContext) RaiseError(err error) {
	if err == nil {
		return
	}
	c.h.mu.Lock()
	if c.raised == nil {
		c.raised = err
	}
	c.h.mu.Unlock()
	c.h.signal()
}

func (c *connectorContext) Logger() *slog.Logger { return c.logger }

func (h *Herder) startConnector(ctx context.Context, cs *connState) {
	h.mu.Lock()
	raw := cs.raw
	h.mu.Unlock()
	plugin, err := h.plugins.Lookup(raw[propClass])
	if err != nil {
		h.failConnector(ctx, cs, err)
		return
	}
	res, err := h.providers.Resolve(raw)
	// Hidden from the connector's log lines and status trace: what its
	// references resolved to (shown as the references) and the plain
	// values of its sensitive properties (shown as [hidden]).
	res = res.Hiding(sensitiveValues(h.defFor(plugin), res.Values)...)
	h.mu.Lock()
	cs.res = res
	h.mu.Unlock()
	if err != nil {
		h.failConnector(ctx, cs, err)
		return
	}
	resolved := res.Values
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// The connector's logger hides what res hides and URL credentials,
	// in the lines of the connector and of the runtime.
	logger := scrubbedLogger(h.logger, res).With("connector", cs.name)
	conCtx := &connectorContext{h: h, cs: cs, logger: logger}
	h.mu.Lock()
	cs.epoch++
	ep := cs.epoch
	cs.starting = true
	h.mu.Unlock()
	stopTimeout := h.worker.Duration(config.TaskShutdownGracefulTimeout)
	go func() {
		sctx, scancel := context.WithTimeout(cctx, 60*time.Second)
		var inst connectors.Connector
		err := connectors.Protect(func() error {
			inst = plugin.New()
			return inst.Start(sctx, conCtx, resolved)
		})
		scancel()
		h.mu.Lock()
		if cs.epoch != ep {
			// Stopped while starting: this instance must not run.
			h.mu.Unlock()
			if err == nil {
				stopInstance(inst, stopTimeout, logger)
			}
			cancel()
			return
		}
		cs.starting = false
		if err != nil {
			cs.startErr = fmt.Errorf("starting connector: %w", err)
			h.mu.Unlock()
			cancel()
			h.signal()
			return
		}
		cs.plugin, cs.inst, cs.cancel, cs.cctx = plugin, inst, cancel, conCtx
		cs.needTaskConfigs = true
		cs.started = true
		cs.backoff.next = time.Time{}
		h.mu.Unlock()
		h.signal()
	}()
	logger.Debug("starting connector", "class", plugin.Class)
}

// stopInstance calls a connector instance's Stop, waiting at most timeout
// (and a second more) for connector code that ignores its context.
func stopInstance(inst connectors.Connector, timeout time.Duration, logger *slog.Logger) {
	sctx, scancel := context.WithTimeout(context.Background(), timeout)
	defer scancel()
	done := make(chan error, 1)
	go func() { done <- connectors.Protect(func() error { return inst.Stop(sctx) }) }()
	select {
	case err := <-done:
		if err != nil {
			logger.Warn("connector stop failed", "error", err)
		}
	case <-time.After(timeout + time.Second):
		logger.Error("connector did not stop within task.shutdown.graceful.timeout.ms; abandoning it", "timeout", timeout)
	}
}

func (h *Herder) stopConnector(ctx context.Context, cs *connState) {
	h.mu.Lock()
	inst, cancel := cs.inst, cs.cancel
	cs.inst, cs.cancel, cs.cctx = nil, nil, nil
	// A Start or TaskConfigs under way belongs to a stopped instance now.
	cs.epoch++
	cs.starting, cs.started, cs.startErr = false, false, nil
	cs.computing, cs.computed, cs.writingTasks = false, nil, false
	res := cs.res
	h.mu.Unlock()
	if inst == nil {
		return
	}
	stopInstance(inst, h.worker.Duration(config.TaskShutdownGracefulTimeout), scrubbedLogger(h.logger, res).With("connector", cs.name))
	cancel()
}

func (h *Herder) failConnector(ctx context.Context, cs *connState, err error) {
	h.stopConnector(ctx, cs)
	h.mu.Lock()
	cs.awaitTasks = false // its tasks run with the committed task configs
	h.mu.Unlock()
	pol := h.restartPolicy(cs)
	h.mu.Lock()
	cs.backoff = pol.schedule(cs.backoff, time.Time{})
	next := cs.backoff.next
	h.mu.Unlock()
	h.mu.Lock()
	trace := scrubTrace(traceOf(err), cs.res)
	h.mu.Unlock()
	h.setConnectorState(ctx, cs, api.StateFailed, trace)
	h.logger.Error("connector failed", "connector", cs.name, "error", firstLine(trace), "restart_at", next)
	if !next.IsZero() {
		time.AfterFunc(time.Until(next), h.signal)
	}
}

// reconcileTasks starts, pauses, resumes and stops tasks to match the
// committed task configs.
func (h *Herder) reconcileTasks(ctx context.Context, cs *connState, tasks []map[string]string, paused bool) {
	h.mu.Lock()
	plugin, raw0 := cs.plugin, cs.raw
	var removed, stale, revoked []int
	for n, ts := range cs.tasks {
		if !h.ownsTaskLocked(api.TaskID{Connector: cs.name, Task: n}) {
			revoked = append(revoked, n)
			continue
		}
		if n >= len(tasks) {
			removed = append(removed, n)
		} else if !maps.Equal(ts.raw, tasks[n]) || ts.restart || (ts.limitShare != 0 && ts.limitShare != len(tasks)) {
			stale = append(stale, n)
		}
	}
	ownConn := h.pool == nil || (!h.mu.own.suspended && h.mu.own.conns[cs.name])
	h.mu.Unlock()
	if len(revoked) > 0 {
		h.stopTasks(ctx, cs, revoked, stopRevoke)
	}
	if len(removed) > 0 {
		h.stopTasks(ctx, cs, removed, stopForget)
	}
	if len(stale) > 0 {
		h.stopTasks(ctx, cs, stale, stopRestart)
	}
	if plugin == nil && !ownConn {
		// The connector object runs on another worker: this worker runs
		// its tasks with the committed task configs.
		var err error
		if plugin, err = h.plugins.Lookup(raw0[propClass]); err != nil {
			return
		}
	}
	h.mu.Lock()
	await := cs.awaitTasks
	h.mu.Unlock()
	if plugin == nil || await {
		return
	}
	for n, raw := range tasks {
		id := api.TaskID{Connector: cs.name, Task: n}
		if !h.ownsTask(id) {
			continue
		}
		h.mu.Lock()
		ts := cs.tasks[n]
		if ts != nil && ts.cancel != nil {
			ts.pause.set(paused)
			if ts.state == api.StateRunning || ts.state == api.StatePaused {
				st := api.StateRunning
				if paused {
					st = api.StatePaused
				}
				ts.state = st
				tr := ts.trace // a problem the running task reported
				h.mu.Unlock()
				h.putTaskStatus(ctx, id, st, tr)
				continue
			}
			h.mu.Unlock()
			continue
		}
		if ts != nil && ts.state == api.StateFailed && (ts.backoff.next.IsZero() || time.Now().Before(ts.backoff.next)) {
			h.mu.Unlock()
			continue
		}
		if ts == nil {
			ts = &taskState{id: id}
			cs.tasks[n] = ts
		}
		ts.raw = raw
		h.mu.Unlock()
		h.startTask(ctx, cs, ts, plugin, paused, len(tasks))
	}
}

// startTask builds a task's pipeline and starts its goroutine; the
// connector has ntasks tasks, which share its rate limits. With
// task.isolation=process the goroutine runs the task in a child process
// (isolation.go) instead.
func (h *Herder) startTask(ctx context.Context, cs *connState, ts *taskState, plugin *connectors.Plugin, paused bool, ntasks int) {
	h.mu.Lock()
	connRaw, taskRaw := cs.raw, ts.raw
	h.mu.Unlock()
	fail := func(err error) { h.taskExited(ts, cs, err, time.Now()) }
	pause := &pauser{}
	pause.set(paused)
	// A running task may report a problem it is recovering from by
	// itself (ReportProblem): it stays RUNNING with the problem as its
	// trace. statusMu keeps the status writes of onRunning and onProblem
	// in the order their states were decided; problem and running are
	// guarded by h.mu, and so is mine, this run's done channel: a task
	// abandoned at stop and still reporting must not touch the status of
	// the task's next run. logger is set by the build, before the task
	// runs.
	var statusMu sync.Mutex
	problem, running := "", false
	var mine chan struct{}
	var logger *slog.Logger
	onRunning := func() {
		statusMu.Lock()
		defer statusMu.Unlock()
		h.mu.Lock()
		st := api.StateRunning
		if pause.isPaused() {
			st = api.StatePaused
		}
		running = true
		ts.state, ts.trace = st, problem
		tr := problem
		h.mu.Unlock()
		h.taskStarted(context.Background(), ts.id, st, tr)
		logger.Info("task started")
	}
	onProblem := func(err error) {
		statusMu.Lock()
		defer statusMu.Unlock()
		h.mu.Lock()
		problem = scrubTrace(traceOf(err), ts.res)
		st := ts.state
		if !running || ts.done != mine || (st != api.StateRunning && st != api.StatePaused) || ts.trace == problem {
			h.mu.Unlock()
			return
		}
		ts.trace = problem
		tr := problem
		h.mu.Unlock()
		h.putTaskStatus(context.Background(), ts.id, st, tr)
	}
	b := &taskBuild{id: ts.id, connRaw: connRaw, taskRaw: taskRaw, plugin: plugin, pause: pause, ntasks: ntasks,
		onRunning: onRunning, onProblem: onProblem, onTopic: func(t string) { h.topicSeen(cs, ts.id, t) },
		setRes: func(res *config.Resolved) {
			h.mu.Lock()
			ts.res = res
			h.mu.Unlock()
		}}
	var run func(context.Context) error
	var limitShare int
	var err error
	if processIsolated(connRaw) {
		run, limitShare, logger, err = h.buildProcessTask(b)
	} else {
		run, limitShare, logger, err = h.buildTask(b)
	}
	if err != nil {
		fail(err)
		return
	}

	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	started := time.Now()
	h.mu.Lock()
	ts.cancel, ts.done, ts.pause, ts.started, ts.restart = cancel, done, pause, started, false
	ts.limitShare = limitShare
	mine = done
	ts.backoff.next = time.Time{}
	cs.alive++
	h.mu.Unlock()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(done)
		defer func() {
			h.mu.Lock()
			cs.alive--
			h.mu.Unlock()
		}()
		// The runner calls the task through connectors.Protect; this
		// catches a panic in the runner itself.
		err := connectors.Protect(func() error { return run(tctx) })
		if tctx.Err() != nil && err == nil {
			return // stopped by the herder
		}
		if err == nil {
			err = errors.New("task stopped by itself")
		}
		h.taskExited(ts, cs, err, started)
	}()
}

// taskBuild is what building a task's runner takes: the task, its
// configs as stored, and the callbacks through which it reports (to the
// herder in process, or to the parent from a task host).
type taskBuild struct {
	id               api.TaskID
	connRaw, taskRaw map[string]string
	plugin           *connectors.Plugin
	pause            *pauser
	ntasks           int
	onRunning        func()
	onProblem        func(error)
	onTopic          func(string)
	// setRes receives the resolved configs, for scrubbing traces.
	setRes func(*config.Resolved)
}

// buildTask resolves a task's configs and builds its runner: it returns
// the function that runs the task, the number of tasks its rate limits
// were divided among (0: none), and its logger. The same code builds an
// in-process task and, in a task host, an isolated one.
func (h *Herder) buildTask(b *taskBuild) (run func(context.Context) error, limitShare int, logger *slog.Logger, err error) {
	connRaw, taskRaw, plugin, pause, ntasks := b.connRaw, b.taskRaw, b.plugin, b.pause, b.ntasks
	onRunning, onProblem := b.onRunning, b.onProblem
	id := b.id
	connRes, cerr := h.providers.Resolve(connRaw)
	taskRes, terr := h.providers.Resolve(taskRaw)
	// Sensitive by the connector's definition, as task configs are
	// redacted over REST.
	res := config.Merge(connRes, taskRes).Hiding(sensitiveValues(h.defFor(plugin), connRes.Values, taskRes.Values)...)
	b.setRes(res)
	// The task's logger, for the runner's lines and the task's own,
	// hides what res hides and URL credentials.
	logger = scrubbedLogger(h.logger, res).With("connector", id.Connector, "task", id.Task)
	if err := errors.Join(cerr, terr); err != nil {
		return nil, 0, logger, err
	}
	connCfg, taskCfg := connRes.Values, taskRes.Values
	// Transforms, predicates and converters are configured here, on the
	// herder's goroutine: a panic in their Configure fails the task.
	var chain *transforms.Chain
	var keyConv, valConv converter.Converter
	err = connectors.Protect(func() (err error) {
		if chain, err = h.transforms.NewChain(connCfg); err != nil {
			return err
		}
		if keyConv, err = h.converters.Configs(connCfg, h.keyConv, true); err != nil {
			return err
		}
		valConv, err = h.converters.Configs(connCfg, h.valConv, false)
		return err
	})
	if err != nil {
		return nil, 0, logger, err
	}
	common, err := commonDef.Parse(connCfg)
	if err != nil {
		return nil, 0, logger, err
	}
	retry := parseErrorPolicy(common).retry
	limits := parseRateLimits(common, ntasks)
	if limits.set() {
		limitShare = ntasks
	}
	flushEvery := h.worker.Duration(config.OffsetFlushInterval)
	flushTimeout := h.worker.Duration(config.OffsetFlushTimeout)
	scratch, err := prepareScratchDir(h.worker.String(config.DataDir), id)
	if err != nil {
		return nil, 0, logger, err
	}

	switch plugin.Type {
	case connectors.SourceType:
		tc, err := parseTopicCreation(connCfg, h.topics.enabled)
		if err != nil {
			return nil, 0, logger, err
		}
		var task connectors.SourceTask
		if err := connectors.Protect(func() error {
			task = plugin.New().(connectors.SourceConnector).NewTask()
			return nil
		}); err != nil {
			return nil, 0, logger, fmt.Errorf("creating task: %w", err)
		}
		psec, err := h.sec.forConnector(connCfg, false)
		if err != nil {
			return nil, 0, logger, err
		}
		linger, compression := h.worker.Duration(config.ProducerLinger), h.worker.String(config.ProducerCompression)
		if v, ok := connCfg[producerOverride+overrideLinger]; ok {
			ms, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if perr != nil || ms < 0 {
				return nil, 0, logger, fmt.Errorf("%s%s=%q: must be a number of milliseconds, 0 or more", producerOverride, overrideLinger, v)
			}
			linger = time.Duration(ms) * time.Millisecond
		}
		if v, ok := connCfg[producerOverride+overrideCompress]; ok {
			compression = strings.TrimSpace(v)
		}
		eos, err := h.eosFor(connCfg, id.Connector, id.Task)
		if err != nil {
			return nil, 0, logger, err
		}
		var txnOpts []kgo.Opt
		if eos != nil {
			txnOpts = []kgo.Opt{kgo.TransactionalID(eos.txnID), kgo.TransactionTimeout(transactionTimeout)}
		}
		producer, err := kgo.NewClient(withOpts(append([]kgo.Opt{
			kgo.ClientID(fmt.Sprintf("connector-producer-%s-%d", id.Connector, id.Task)),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.MaxBufferedRecords(h.worker.Values.Int(config.ProducerMaxBufferedRecords)),
			kgo.MaxBufferedBytes(int(h.worker.Values.Long(config.ProducerMaxBufferedBytes))),
			kgo.ProducerLinger(linger),
			kgo.ProducerBatchCompression(ProducerCompression(compression)),
			kgo.RecordPartitioner(pinningPartitioner{kgo.StickyKeyPartitioner(nil)}),
			// No kgo.AllowAutoTopicCreation: the worker creates every topic
			// it writes (topicCreator) before producing to it.
			// With the worker's 250 ms metadata age, 80 tries give a topic
			// just created the ~20 s to appear on every broker that
			// franz-go's defaults (4 tries, 5 s apart) give it, before its
			// records fail.
			kgo.UnknownTopicRetries(80),
		}, txnOpts...), withOpts(h.clientOpts, psec.Opts...)...)...)
		if err != nil {
			return nil, 0, logger, fmt.Errorf("creating producer: %w", err)
		}
		r := &sourceRunner{id: id, task: task, props: taskCfg, standing: h.standing, chain: chain, keyConv: keyConv, valConv: valConv,
			producer: producer, sec: psec, kafkaConfig: h.sec.consumerConfig(), offsets: h.offsets, logger: logger, flushEvery: flushEvery, flushTimeout: flushTimeout,
			retry: retry, onRunning: onRunning, onProblem: onProblem, onTopic: b.onTopic,
			createTopic:   func(ctx context.Context, t string) error { return h.topics.ensure(ctx, t, tc.spec, logger) },
			topicGone:     func(t string) { h.topics.forget(t, nil) },
			bufferedBytes: h.worker.Values.Long(config.ProducerMaxBufferedBytes), bufferedRecords: h.worker.Values.Int(config.ProducerMaxBufferedRecords),
			scratch: scratch}
		if r.errs, err = h.errorHandlerFor(common, connCfg, id, logger, res, false, nil); err != nil {
			producer.Close()
			return nil, 0, logger, err
		}
		r.keyClass, r.valClass, r.chainClass = converterClass(connCfg, h.keyConv, true), converterClass(connCfg, h.valConv, false), chainClass(connCfg)
		r.taskClass = connCfg[propClass]
		r.pause = pause
		r.limit = newLimiter(limits, pause, time.Now)
		r.eos = eos
		run = r.run
		if h.sec.unchecked(psec) {
			// The producer authenticates otherwise than the clients
			// checked at start (an override): check it now, so that a
			// wrong password fails the task saying so instead of leaving
			// its records retrying.
			run = func(ctx context.Context) error {
				if err := h.sec.check(ctx, producer, psec, h.worker.Duration(config.BrokerStartTimeout)); err != nil {
					producer.Close()
					return err
				}
				return r.run(ctx)
			}
		}
	case connectors.SinkType:
		sinkCfg, err := sinkDef.Parse(connCfg)
		if err != nil {
			return nil, 0, logger, err
		}
		csec, err := h.sec.forConnector(connCfg, true)
		if err != nil {
			return nil, 0, logger, err
		}
		maxPoll := h.worker.Values.Int(config.ConsumerMaxPollRecords)
		if v, ok := connCfg[consumerOverride+overrideMaxPoll]; ok {
			n, perr := strconv.Atoi(strings.TrimSpace(v))
			if perr != nil || n < 1 {
				return nil, 0, logger, fmt.Errorf("%s%s=%q: must be a number, 1 or more", consumerOverride, overrideMaxPoll, v)
			}
			maxPoll = n
		}
		opts := withOpts(h.clientOpts, csec.Opts...)
		if h.eosMode() != eosDisabled {
			// Sources write in transactions: read what they committed.
			opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		}
		errs, err := h.errorHandlerFor(common, connCfg, id, logger, res, true, opts)
		if err != nil {
			return nil, 0, logger, err
		}
		checkConsumer := h.sec.unchecked(csec)
		if re := sinkCfg.String(propTopicsRegex); re != "" {
			// New matching topics are seen at a metadata refresh: every 10 s
			// instead of the client's 5 min, so a sink created before its
			// source's topics exist starts within seconds of them.
			// Anchored: Kafka Connect matches the whole topic name
			// (Pattern.matches), franz-go any part of it, so that
			// topics.regex=orders would also take orders_archive.
			opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(anchorTopicsRegex(re)), kgo.MetadataMaxAge(10*time.Second))
		} else {
			opts = append(opts, kgo.ConsumeTopics(sinkCfg.List(propTopics)...))
		}
		var task connectors.SinkTask
		if err := connectors.Protect(func() error {
			task = plugin.New().(connectors.SinkConnector).NewTask()
			return nil
		}); err != nil {
			return nil, 0, logger, fmt.Errorf("creating task: %w", err)
		}
		r := &sinkRunner{id: id, task: task, props: taskCfg, standing: h.standing, chain: chain, keyConv: keyConv, valConv: valConv,
			clientOpts: opts, sec: csec, maxPoll: maxPoll, logger: logger,
			flushEvery: flushEvery, flushTimeout: flushTimeout, onRunning: onRunning, onProblem: onProblem,
			errs: errs, brk: parseBreaker(sinkCfg), connClass: plugin.Class,
			keyClass: converterClass(connCfg, h.keyConv, true), valClass: converterClass(connCfg, h.valConv, false), chainClass: chainClass(connCfg),
			stopTimeout: h.worker.Duration(config.TaskShutdownGracefulTimeout), scratch: scratch,
			onTopics: func(ts2 []string) {
				for _, t := range ts2 {
					b.onTopic(t)
				}
			}}
		r.pause = pause
		r.limit = newLimiter(limits, pause, time.Now)
		run = r.run
		if checkConsumer {
			run = func(ctx context.Context) error {
				if err := h.sec.checkOpts(ctx, opts, csec, h.worker.Duration(config.BrokerStartTimeout)); err != nil {
					return err
				}
				return r.run(ctx)
			}
		}
	default:
		return nil, 0, logger, fmt.Errorf("plugin %s has unknown type %q", plugin.Class, plugin.Type)
	}
	return run, limitShare, logger, nil
}

func (p *pauser) isPaused() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused
}

// taskExited records a failed task and schedules its restart.
func (h *Herder) taskExited(ts *taskState, cs *connState, err error, started time.Time) {
	pol := h.restartPolicy(cs)
	h.mu.Lock()
	ts.cancel = nil
	trace := scrubTrace(traceOf(err), ts.res)
	ts.state, ts.trace = api.StateFailed, trace
	ts.backoff = pol.schedule(ts.backoff, started)
	next := ts.backoff.next
	h.mu.Unlock()
	h.putTaskStatus(context.Background(), ts.id, api.StateFailed, trace)
	h.logger.Error("task failed", "connector", ts.id.Connector, "task", ts.id.Task, "error", firstLine(trace), "restart_at", next)
	if !next.IsZero() {
		time.AfterFunc(time.Until(next), h.signal)
	}
	h.signal()
}

// stopMode says what stopTasks does with the stopped tasks' states.
type stopMode int

const (
	// stopKeep keeps their local state and statuses (the worker stops).
	stopKeep stopMode = iota
	// stopForget removes their local state and statuses (they will not
	// run again as they were).
	stopForget
	// stopRevoke removes their local state (the pool gave them to another
	// worker); those that were running read UNASSIGNED, unless this worker
	// lost the pool, when it writes nothing.
	stopRevoke
	// stopRestart removes their local state and keeps their statuses (and
	// start counts): they start again at once, with a new config or
	// because a restart was asked for.
	stopRestart
)

// stopTasks stops the given tasks of cs (nil: all), in parallel, waiting
// at most task.shutdown.graceful.timeout.ms for all of them; a task that
// does not stop in time is abandoned and reported.
func (h *Herder) stopTasks(ctx context.Context, cs *connState, which []int, mode stopMode) {
	forget := mode != stopKeep
	var unassigned []api.TaskID
	h.mu.Lock()
	suspended, gen := h.mu.own.suspended, h.mu.own.generation
	if which == nil {
		for n := range cs.tasks {
			which = append(which, n)
		}
	}
	type stopping struct {
		ts   *taskState
		done chan struct{}
	}
	var all []stopping
	for _, n := range which {
		ts := cs.tasks[n]
		if ts == nil {
			continue
		}
		if ts.cancel != nil {
			ts.cancel()
			all = append(all, stopping{ts, ts.done})
			if mode == stopRevoke && !suspended {
				unassigned = append(unassigned, ts.id)
			}
		}
		ts.cancel = nil
		if forget {
			delete(cs.tasks, n)
		}
	}
	h.mu.Unlock()
	deadline := time.NewTimer(h.worker.Duration(config.TaskShutdownGracefulTimeout))
	defer deadline.Stop()
	for _, s := range all {
		select {
		case <-s.done:
		case <-deadline.C:
			h.logger.Error("task did not stop within task.shutdown.graceful.timeout.ms; abandoning it",
				"connector", s.ts.id.Connector, "task", s.ts.id.Task,
				"timeout", h.worker.Duration(config.TaskShutdownGracefulTimeout))
			// Later tasks get no extra time.
			deadline.Reset(0)
		}
	}
	ids := make([]api.TaskID, len(which))
	for i, n := range which {
		ids[i] = api.TaskID{Connector: cs.name, Task: n}
	}
	switch mode {
	case stopForget:
		h.status.deleteTasks(ctx, ids)
	case stopRevoke:
		for _, id := range unassigned {
			h.status.putTask(ctx, id, statusValue{State: api.StateUnassigned, WorkerID: h.workerID, Generation: int(gen)})
		}
	}
}

// ownsTaskLocked is ownsTask with h.mu held.
func (h *Herder) ownsTaskLocked(id api.TaskID) bool {
	return h.pool == nil || (!h.mu.own.suspended && h.mu.own.tasks[id])
}

func (h *Herder) setConnectorState(ctx context.Context, cs *connState, state, trace string) {
	h.writeConnectorState(ctx, cs, state, trace, false)
}

// connectorStarted records a connector's start: RUNNING, its start count
// one more.
func (h *Herder) connectorStarted(ctx context.Context, cs *connState) {
	h.writeConnectorState(ctx, cs, api.StateRunning, "", true)
}

// writeConnectorState sets a connector's local state and writes its status
// when it changed or the connector started.
func (h *Herder) writeConnectorState(ctx context.Context, cs *connState, state, trace string, start bool) {
	h.mu.Lock()
	same := cs.state == state && cs.trace == trace
	cs.state, cs.trace = state, trace
	h.mu.Unlock()
	if (same && !start) || !h.mayWriteStatus() {
		return
	}
	v := statusValue{State: state, Trace: trace, WorkerID: h.workerID, Generation: int(h.generation())}
	if start {
		h.status.startConnector(ctx, cs.name, v)
	} else {
		h.status.putConnector(ctx, cs.name, v)
	}
}

// taskStarted records a task's start: its state (RUNNING or PAUSED), its
// start count one more.
func (h *Herder) taskStarted(ctx context.Context, id api.TaskID, state, trace string) {
	if h.mayWriteStatus() {
		h.status.startTask(ctx, id, statusValue{State: state, Trace: trace, WorkerID: h.workerID, Generation: int(h.generation())})
	}
}

func (h *Herder) putTaskStatus(ctx context.Context, id api.TaskID, state, trace string) {
	if v, ok := h.status.task(id); ok && v.State == state && v.Trace == trace && v.WorkerID == h.workerID {
		return
	}
	if h.mayWriteStatus() {
		h.status.putTask(ctx, id, statusValue{State: state, Trace: trace, WorkerID: h.workerID, Generation: int(h.generation())})
	}
}

// restartPolicy reads a connector's sluice.task.restart.* settings.
func (h *Herder) restartPolicy(cs *connState) restartPolicy {
	h.mu.Lock()
	raw := cs.raw
	h.mu.Unlock()
	v, err := commonDef.Parse(raw)
	if err != nil {
		v, _ = commonDef.Parse(map[string]string{propName: cs.name, propClass: "x"})
	}
	return restartPolicy{enabled: v.Bool(propRestartEnable), initial: v.Duration(propRestartInitial),
		max: v.Duration(propRestartMax), attempts: v.Int(propRestartAttempts)}
}

type restartPolicy struct {
	enabled      bool
	initial, max time.Duration
	attempts     int
}

// schedule returns the back-off after a failure of something that was
// started at started (zero: never ran).
func (p restartPolicy) schedule(b backoff, started time.Time) backoff {
	if !started.IsZero() && time.Since(started) >= p.max {
		b.attempts = 0 // it ran long enough: a fresh failure
	}
	b.attempts++
	if !p.enabled || (p.attempts >= 0 && b.attempts > p.attempts) {
		b.next = time.Time{}
		return b
	}
	d := p.initial << min(b.attempts-1, 30)
	if d > p.max || d <= 0 {
		d = p.max
	}
	b.next = time.Now().Add(d)
	return b
}

// traceOf renders an error chain for a status trace; a panic adds the
// stack of the goroutine that panicked.
func traceOf(err error) string {
	if err == nil {
		return ""
	}
	var pe *connectors.PanicError
	if errors.As(err, &pe) {
		return err.Error() + "\n\n" + string(pe.Stack)
	}
	return err.Error()
}

// scrubTrace removes from a status trace or log message every value a
// provider reference resolved to (showing the reference instead) and
// every credential inside a URL.
func scrubTrace(s string, res *config.Resolved) string {
	return config.RedactText(res.Scrub(s))
}

// firstLine is the message of a trace, without a panic's stack.
func firstLine(trace string) string {
	msg, _, _ := strings.Cut(trace, "\n\n")
	return msg
}

// topicSeen records that a connector used a topic (KIP-558); the status
// store writes each connector's topic once.
func (h *Herder) topicSeen(cs *connState, id api.TaskID, topic string) {
	h.status.putTopic(context.Background(), cs.name, topic, id.Task)
}

// ProducerCompression returns the codec named by producer.compression.type
// (already validated: none, gzip, snappy, lz4 or zstd).
func ProducerCompression(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// anchorTopicsRegex makes topics.regex match whole topic names, as Kafka
// Connect's does.
func anchorTopicsRegex(re string) string { return `^(?:` + re + `)$` }
