package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/configstore"
	"github.com/sluice-cdc/sluice/runtime/pool/assign"
	"github.com/sluice-cdc/sluice/runtime/pool/member"
	"github.com/sluice-cdc/sluice/runtime/pool/proto"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
	"github.com/twmb/franz-go/pkg/kgo"
)

// workerPool is this worker's membership in the pool of its group.id:
// the member (pool/member) that joins the Kafka group, the assignor the
// member calls when this worker leads (pool/assign), and what the herder
// needs to act on a rebalance.
//
// Concurrency: the member's goroutine calls state and Assign; the
// herder's goroutine handles the member's events (handle). What the
// worker owns lives in Herder.mu.own, so that state, the reconcile loop
// and the REST reads see one view. The assignor's memory (the previous
// round's assign.State) is guarded by mu.
type workerPool struct {
	h      *Herder
	member *member.Member
	// url is this worker's advertised REST URL; scheme its scheme.
	url, scheme string
	maxDelay    time.Duration
	syncTimeout time.Duration
	sign        sign.Config
	keys        *sign.Holder
	// forwardTasks sends task configs to the leader's internal endpoint.
	forwardTasks func(ctx context.Context, leaderURL, connector string, configs []map[string]string) error
	logger       *slog.Logger
	// newTxnClient makes the leadership's transactional client for the
	// configs topic; claimed says the store writes through one. Both are
	// used on the herder's goroutine only.
	newTxnClient func(txnID string) (*kgo.Client, error)
	claimed      bool

	mu struct {
		sync.Mutex
		// prev is the state of the last round this worker led and whose
		// assignment reached the group; pending the one it computed last,
		// for generation pendingGen.
		prev       assign.State
		pending    assign.State
		pendingGen int32
		pendingOK  bool
		held       []api.TaskID
		heldConns  []string
		// assigned is the connector → task count the last computed round
		// assigned from: the leader rejoins when the configs differ.
		assigned map[string]int
	}
}

// ownership is what the pool gave this worker. Guarded by Herder.mu.
type ownership struct {
	joined     bool
	suspended  bool
	leader     bool
	leaderURL  string
	generation int32
	conns      map[string]bool
	tasks      map[api.TaskID]bool
	// unleased is set while the member's lease is over (see
	// Herder.holding); staleStatus when a status write was held back
	// then, so that the statuses are written again once it is renewed.
	unleased    bool
	staleStatus bool
	// stoppingConns and stoppingTasks were revoked and are still being
	// stopped: the worker still reports them when it joins, so that no
	// other worker starts them while they run here.
	stoppingConns map[string]bool
	stoppingTasks map[api.TaskID]bool
}

func newOwnership() ownership {
	return ownership{conns: map[string]bool{}, tasks: map[api.TaskID]bool{},
		stoppingConns: map[string]bool{}, stoppingTasks: map[api.TaskID]bool{}}
}

// advertised returns the worker id (host:port) and REST URL the pool
// knows this worker by.
func advertised(cfg *config.Worker, scheme string, ln net.Addr) (id, url string, err error) {
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return "", "", err
	}
	if h := cfg.String(config.RESTAdvertisedHost); h != "" {
		host = h
	} else if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return "", "", fmt.Errorf("the REST listener is on all interfaces and the host name is unknown (%v): set %s", err, config.RESTAdvertisedHost)
		}
	}
	if p := cfg.Values.Int(config.RESTAdvertisedPort); p != 0 {
		port = strconv.Itoa(p)
	}
	if s := cfg.String(config.RESTAdvertisedListener); s != "" {
		scheme = s
	}
	id = net.JoinHostPort(host, port)
	return id, scheme + "://" + id, nil
}

// memberConfig reads the worker's group settings.
func memberConfig(cfg *config.Worker, logger *slog.Logger) member.Config {
	return member.Config{
		Group:             cfg.String(config.GroupID),
		SessionTimeout:    cfg.Duration(config.SessionTimeout),
		HeartbeatInterval: cfg.Duration(config.HeartbeatInterval),
		RebalanceTimeout:  cfg.Duration(config.RebalanceTimeout),
		Protocols:         []proto.Protocol{proto.Sessioned},
		Logger:            logger,
	}
}

// state is what this worker tells the group when it joins: its URL, how
// far it read the configs topic, and what it runs or is still stopping.
func (p *workerPool) state() member.State {
	h := p.h
	st := member.State{URL: p.url, ConfigOffset: h.configs.Offset()}
	h.mu.Lock()
	defer h.mu.Unlock()
	o := &h.mu.own
	var a proto.Assignment
	for c := range o.conns {
		a.Connectors = append(a.Connectors, c)
	}
	for c := range o.stoppingConns {
		if !o.conns[c] {
			a.Connectors = append(a.Connectors, c)
		}
	}
	for t := range o.tasks {
		a.Tasks = append(a.Tasks, proto.TaskID{Connector: t.Connector, Task: int32(t.Task)})
	}
	for t := range o.stoppingTasks {
		if !o.tasks[t] {
			a.Tasks = append(a.Tasks, proto.TaskID{Connector: t.Connector, Task: int32(t.Task)})
		}
	}
	if len(a.Connectors)+len(a.Tasks) > 0 {
		a.Version = 1
		slices.Sort(a.Connectors)
		slices.SortFunc(a.Tasks, func(x, y proto.TaskID) int {
			if x.Connector != y.Connector {
				if x.Connector < y.Connector {
					return -1
				}
				return 1
			}
			return int(x.Task - y.Task)
		})
		st.Allocation = &a
	}
	return st
}

// assignConfig is the leader's view of the configs topic for Assign.
func (p *workerPool) assignConfig() assign.Config {
	snap := p.h.configs.Snapshot()
	c := assign.Config{Offset: snap.Offset, Tasks: make(map[string]int, len(snap.Connectors))}
	for name := range snap.Connectors {
		c.Tasks[name] = len(snap.Tasks[name])
	}
	return c
}

// Assign implements member.Assignor: it runs on the member's goroutine
// when this worker leads a round.
func (p *workerPool) Assign(ctx context.Context, g member.Group) (map[string]proto.Assignment, error) {
	in := assign.Input{Leader: g.LeaderID, Now: time.Now(), MaxDelay: p.maxDelay}
	for _, peer := range g.Members {
		m := assign.Member{ID: peer.ID, URL: peer.Metadata.URL, ConfigOffset: peer.Metadata.ConfigOffset}
		if a := peer.Metadata.Allocation; a != nil {
			m.Connectors = a.Connectors
			for _, t := range a.Tasks {
				m.Tasks = append(m.Tasks, api.TaskID{Connector: t.Connector, Task: int(t.Task)})
			}
		}
		in.Members = append(in.Members, m)
	}
	p.mu.Lock()
	in.Previous = p.mu.prev
	p.mu.Unlock()
	in.Config = p.assignConfig()
	res, err := assign.Assign(in)
	if errors.Is(err, assign.ErrConfigMismatch) {
		// A member read the configs topic further than this worker:
		// catch up and assign again, rather than make everyone rejoin.
		rctx, cancel := context.WithTimeout(ctx, p.syncTimeout)
		rerr := p.h.configs.ReadToEnd(rctx)
		cancel()
		if rerr == nil {
			in.Config = p.assignConfig()
			res, err = assign.Assign(in)
		}
	}
	if err != nil && !errors.Is(err, assign.ErrConfigMismatch) {
		return nil, err
	}
	out := make(map[string]proto.Assignment, len(res.Assignments))
	for _, a := range res.Assignments {
		pa := proto.Assignment{Error: int16(a.Error), Leader: a.Leader, LeaderURL: a.LeaderURL,
			ConfigOffset: a.ConfigOffset, Connectors: a.Connectors, RevokedConnectors: a.RevokedConnectors,
			Delay: int32(a.Delay / time.Millisecond)}
		for _, t := range a.Tasks {
			pa.Tasks = append(pa.Tasks, proto.TaskID{Connector: t.Connector, Task: int32(t.Task)})
		}
		for _, t := range a.RevokedTasks {
			pa.RevokedTasks = append(pa.RevokedTasks, proto.TaskID{Connector: t.Connector, Task: int32(t.Task)})
		}
		out[a.Member] = pa
	}
	p.mu.Lock()
	if err == nil {
		p.mu.pending, p.mu.pendingGen, p.mu.pendingOK = res.State, g.Generation, true
		p.mu.held, p.mu.heldConns = res.HeldTasks, res.HeldConnectors
		p.mu.assigned = in.Config.Tasks
	}
	p.mu.Unlock()
	return out, nil
}

// handle acts on one member event, on the herder's goroutine.
func (p *workerPool) handle(ctx context.Context, ev member.Event) {
	h := p.h
	if ev.Lost != nil {
		p.logger.Warn("lost the pool's assignment; stopping this worker's connectors and tasks until it rejoins",
			"generation", ev.Lost.Generation, "error", ev.Lost.Err)
		h.mu.Lock()
		h.mu.own.suspended = true
		h.mu.own.leader = false
		h.mu.own.leaderURL = ""
		h.mu.Unlock()
		p.claim(ctx, false)
		h.reconcile(ctx)
		return
	}
	r := ev.Assigned
	a := r.Assignment
	if a.Error == int16(assign.ConfigMismatch) {
		p.logger.Info("the leader's configs were behind this worker's; rejoining", "generation", r.Generation)
		p.member.Rejoin("leader's configs were behind")
		return
	}
	if h.configs.Offset() < a.ConfigOffset {
		rctx, cancel := context.WithTimeout(ctx, p.syncTimeout)
		err := h.configs.ReadToEnd(rctx)
		cancel()
		if err != nil || h.configs.Offset() < a.ConfigOffset {
			p.logger.Warn("could not read the configs topic as far as the assignment within worker.sync.timeout.ms; rejoining",
				"offset", h.configs.Offset(), "assignment_offset", a.ConfigOffset, "error", err)
			p.member.Rejoin("configs topic behind the assignment")
			return
		}
	}
	p.claim(ctx, r.Leader)
	h.mu.Lock()
	o := &h.mu.own
	o.joined, o.suspended = true, false
	o.leader, o.leaderURL, o.generation = r.Leader, a.LeaderURL, r.Generation
	for _, c := range a.Connectors {
		o.conns[c] = true
	}
	for _, t := range a.Tasks {
		o.tasks[api.TaskID{Connector: t.Connector, Task: int(t.Task)}] = true
	}
	for _, c := range a.RevokedConnectors {
		if o.conns[c] {
			delete(o.conns, c)
			o.stoppingConns[c] = true
		}
	}
	for _, t := range a.RevokedTasks {
		id := api.TaskID{Connector: t.Connector, Task: int(t.Task)}
		if o.tasks[id] {
			delete(o.tasks, id)
			o.stoppingTasks[id] = true
		}
	}
	revoked := len(a.RevokedConnectors)+len(a.RevokedTasks) > 0
	h.mu.Unlock()

	var held []api.TaskID
	var heldConns []string
	p.mu.Lock()
	if r.Leader && p.mu.pendingOK && p.mu.pendingGen == r.Generation {
		p.mu.prev = p.mu.pending
		held, heldConns = p.mu.held, p.mu.heldConns
	}
	p.mu.Unlock()
	p.logger.Info("joined the pool", "generation", r.Generation, "leader", r.Leader, "leader_url", a.LeaderURL,
		"connectors", len(a.Connectors), "tasks", len(a.Tasks),
		"revoked_connectors", len(a.RevokedConnectors), "revoked_tasks", len(a.RevokedTasks), "delay_ms", a.Delay)

	h.reconcile(ctx)
	// reconcile stopped what was revoked (or abandoned what did not stop
	// within task.shutdown.graceful.timeout.ms): stop reporting it.
	h.mu.Lock()
	clear(o.stoppingConns)
	clear(o.stoppingTasks)
	h.mu.Unlock()
	if revoked {
		// Revoked work is stopped: rejoin so the leader can give it to
		// another worker.
		p.member.Rejoin("revoked work stopped")
	}
	if r.Leader {
		p.leaderDuties(ctx, held, heldConns)
	}
}

// leaderDuties runs after a round this worker led: the work held back for
// a departed worker reads UNASSIGNED, and the pool has a session key.
func (p *workerPool) leaderDuties(ctx context.Context, held []api.TaskID, heldConns []string) {
	h := p.h
	for _, c := range heldConns {
		if v, ok := h.status.connector(c); ok && v.State != api.StateUnassigned {
			h.status.putConnector(ctx, c, statusValue{State: api.StateUnassigned, WorkerID: v.WorkerID, Generation: int(p.generation())})
		}
	}
	for _, t := range held {
		if v, ok := h.status.task(t); ok && v.State != api.StateUnassigned {
			h.status.putTask(ctx, t, statusValue{State: api.StateUnassigned, WorkerID: v.WorkerID, Generation: int(p.generation())})
		}
	}
	p.rotateKey(ctx)
}

func (p *workerPool) generation() int32 {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return p.h.mu.own.generation
}

// rotateKey writes a new session key when the pool has none or it is due;
// the leader calls it after each round it led and on the herder's tick.
func (p *workerPool) rotateKey(ctx context.Context) {
	cur, ok := p.keys.Current()
	var curp *sign.Key
	if ok {
		curp = &cur
	}
	rot := p.sign.NextRotation(curp, time.Now())
	if rot.At.IsZero() || time.Now().Before(rot.At) {
		return
	}
	b, err := sign.EncodeRecord(p.sign.GenerateKey(time.Now()))
	if err == nil {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = p.h.configs.PutSessionKey(wctx, b)
		cancel()
	}
	if err != nil {
		p.logger.Warn("writing the pool's session key failed; retrying", "error", err)
		return
	}
	p.logger.Info("wrote a new session key for the pool's internal requests")
}

// readKey takes the session key the configs topic holds.
func (p *workerPool) readKey() {
	b := p.h.configs.SessionKey()
	if b == nil {
		return
	}
	if cur, ok := p.keys.Current(); ok {
		if nb, err := sign.EncodeRecord(cur); err == nil && bytes.Equal(nb, b) {
			return
		}
	}
	k, err := sign.DecodeRecord(b)
	if err != nil {
		p.logger.Warn("unreadable session key in the configs topic", "error", err)
		return
	}
	p.keys.Set(k)
}

// configChanged makes the leader rejoin when the connectors or their task
// counts differ from what it last assigned, so the new work is assigned.
func (p *workerPool) configChanged(snap configstore.Snapshot) {
	p.h.mu.Lock()
	leader := p.h.mu.own.leader && p.h.mu.own.joined && !p.h.mu.own.suspended
	p.h.mu.Unlock()
	if !leader {
		return
	}
	now := make(map[string]int, len(snap.Connectors))
	for name := range snap.Connectors {
		now[name] = len(snap.Tasks[name])
	}
	p.mu.Lock()
	same := maps.Equal(now, p.mu.assigned)
	if !same {
		p.mu.assigned = now // one rejoin per change
	}
	p.mu.Unlock()
	if !same {
		p.member.Rejoin("connectors or task counts changed")
	}
}

// Herder side of the pool.

// ownsConnector reports whether this worker runs the connector object.
func (h *Herder) ownsConnector(name string) bool {
	if h.pool == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.mu.own.suspended && h.mu.own.conns[name]
}

// ownsTask reports whether this worker runs the task.
func (h *Herder) ownsTask(id api.TaskID) bool {
	if h.pool == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.mu.own.suspended && h.mu.own.tasks[id]
}

// holding reports whether the herder must hold still: the worker is in
// the pool, but its member's lease is over (member.Leased), so the group
// may already have given its work to others. Until the coordinator
// answers again (renewing the lease) or the member reports the
// assignment lost, the herder starts nothing and writes no status; what
// runs keeps running. When the lease is renewed it says so once and has
// the statuses it held back written. h.mu is not held.
func (h *Herder) holding() bool {
	if h.pool == nil {
		return false
	}
	leased := h.pool.member.Leased()
	h.mu.Lock()
	o := &h.mu.own
	hold := o.joined && !o.suspended && !leased
	was := o.unleased
	o.unleased = hold
	stale, lost := false, o.suspended
	if !hold && was {
		// Held-back statuses are written again unless the assignment
		// was lost meanwhile (the work is stopping, its statuses are
		// its next owner's).
		stale = o.staleStatus && !o.suspended
		o.staleStatus = false
	}
	h.mu.Unlock()
	switch {
	case hold && !was:
		h.logger.Warn("no answer from the group coordinator within session.timeout.ms (was this process frozen?): "+
			"holding this worker's work, starting nothing and writing no status, until the coordinator answers",
			"generation", h.generation())
	case !hold && was && lost:
		// The coordinator answered that the worker was dropped: its
		// work is stopping (the pool said so).
	case !hold && was:
		h.logger.Info("the group coordinator answered again; going on with this worker's work")
		if stale {
			h.rewriteStatuses()
		}
	}
	return hold
}

// standing reports whether this worker may still act for the work it
// runs: produce a task's records, commit its offsets, write into a sink's
// target. It may not once the pool took its assignment away (suspended),
// nor while its member's lease is over (see holding): a process frozen
// past session.timeout.ms (a stop signal, a long GC pause, a suspended
// VM) finds, when it thaws, that its tasks may already run elsewhere. A
// task of such a worker that went on producing would send again what its
// new owner sent, and commit older source offsets after the new owner's,
// so that the task's next start replays them. Tasks ask before each batch
// and each offset commit; the answer is true outside a pool.
func (h *Herder) standing() bool {
	if h.pool == nil {
		// In a task host, the parent worker's answer.
		return h.hostStanding == nil || h.hostStanding.Load()
	}
	leased := h.pool.member.Leased()
	h.mu.Lock()
	defer h.mu.Unlock()
	o := &h.mu.own
	return !o.suspended && (!o.joined || leased)
}

// awaitStanding waits while standing (Herder.standing; nil: always true)
// reports false, and reports whether it came back before ctx ended. A
// task asks it before sending a batch, so that a worker frozen past its
// lease sends nothing until the coordinator answers again; if the pool
// moved the task meanwhile, the herder stops the task and the batch is
// left to its new owner.
func awaitStanding(ctx context.Context, standing func() bool, logger *slog.Logger) bool {
	if standing == nil || standing() {
		return true
	}
	logger.Warn("holding the task's records: no answer from the group coordinator within session.timeout.ms, " +
		"so the task may run on another worker now; they are sent if the coordinator answers, and left to the task's new owner otherwise")
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			if standing() {
				logger.Info("the group coordinator answered again; sending the task's records")
				return true
			}
		}
	}
}

// mayWriteStatus reports whether this worker may write the status of work
// it runs: not once it lost the pool's assignment (the work is another
// worker's now) nor while it holds (see holding), when the held-back
// write is noted so that rewriteStatuses writes it later.
func (h *Herder) mayWriteStatus() bool {
	if h.pool == nil {
		return true
	}
	leased := h.pool.member.Leased()
	h.mu.Lock()
	defer h.mu.Unlock()
	o := &h.mu.own
	if o.suspended {
		return false
	}
	if o.joined && !leased {
		o.staleStatus = true
		return false
	}
	return true
}

// rewriteStatuses writes the local state of every connector and task this
// worker runs (after status writes were held back).
func (h *Herder) rewriteStatuses() {
	type put struct {
		conn         string // "" for a task
		task         api.TaskID
		state, trace string
	}
	var puts []put
	h.mu.Lock()
	for name, cs := range h.mu.conns {
		if h.mu.own.conns[name] && cs.state != "" && cs.state != api.StateUnassigned {
			puts = append(puts, put{conn: name, state: cs.state, trace: cs.trace})
		}
		for n, ts := range cs.tasks {
			id := api.TaskID{Connector: name, Task: n}
			if h.mu.own.tasks[id] && ts.state != "" {
				puts = append(puts, put{task: id, state: ts.state, trace: ts.trace})
			}
		}
	}
	gen := h.mu.own.generation
	h.mu.Unlock()
	ctx := context.Background()
	for _, p := range puts {
		if p.conn != "" {
			h.status.putConnector(ctx, p.conn, statusValue{State: p.state, Trace: p.trace, WorkerID: h.workerID, Generation: int(gen)})
		} else {
			h.putTaskStatus(ctx, p.task, p.state, p.trace)
		}
	}
}

// generation returns the pool generation this worker last joined.
func (h *Herder) generation() int32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.own.generation
}

// isLeader reports whether this worker may write the configs topic.
func (h *Herder) isLeader() bool {
	if h.pool == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.own.joined && !h.mu.own.suspended && h.mu.own.leader
}

// needLeader returns nil on the pool's leader; elsewhere a
// *api.NotLeaderError naming the leader, which the REST layer forwards
// to. While the pool is forming it waits up to 10 s for a leader.
func (h *Herder) needLeader(ctx context.Context) error {
	if h.pool == nil {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		o := h.mu.own
		h.mu.Unlock()
		ok := o.joined && !o.suspended
		if ok && o.leader {
			return nil
		}
		if ok && o.leaderURL != "" {
			return &api.NotLeaderError{LeaderURL: o.leaderURL}
		}
		if time.Now().After(deadline) {
			return &api.NotLeaderError{}
		}
		select {
		case <-ctx.Done():
			return &api.NotLeaderError{}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ownerURL returns the REST URL of the worker a status names.
func (h *Herder) ownerURL(workerID string) string {
	if h.pool == nil || workerID == "" || workerID == h.workerID {
		return ""
	}
	return h.pool.scheme + "://" + workerID
}

// PutTaskConfigs implements api.Internal: task configs a connector
// computed on another worker, written by the leader.
func (h *Herder) PutTaskConfigs(ctx context.Context, connector string, configs []map[string]string) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	if _, err := h.lookup(connector); err != nil {
		return err
	}
	if err := h.putTaskConfigs(ctx, connector, configs); err != nil {
		return fmt.Errorf("writing task configs of %s: %w", connector, err)
	}
	h.signal()
	return nil
}

// FenceZombies implements api.Internal: it fences the transactional
// producers of every task of the connector (KIP-618). Without exactly-once
// source support no task has one, and there is nothing to fence.
func (h *Herder) FenceZombies(ctx context.Context, connector string) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	if _, err := h.lookup(connector); err != nil {
		return err
	}
	return h.fenceRemovedTasks(ctx, connector, 0, len(h.configs.Snapshot().Tasks[connector]))
}

// unassignedID is the worker id shown for work nobody runs.
func (h *Herder) unassignedID() string {
	if h.pool != nil {
		return ""
	}
	return h.workerID
}

// requestRestart restarts a connector in a pool (KIP-745): the leader
// writes a restart request to the configs topic and every worker restarts
// what it runs of the connector.
func (h *Herder) requestRestart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*api.ConnectorStatus, error) {
	if err := h.needLeader(ctx); err != nil {
		return nil, err
	}
	if _, err := h.lookup(name); err != nil {
		return nil, err
	}
	st, _ := h.ConnectorStatus(ctx, name)
	if !onlyFailed || st.Connector.State == api.StateFailed {
		st.Connector.State = api.StateRestarting
	}
	if includeTasks {
		for i := range st.Tasks {
			if !onlyFailed || st.Tasks[i].State == api.StateFailed {
				st.Tasks[i].State = api.StateRestarting
			}
		}
	}
	if err := h.configs.PutRestart(ctx, configstore.Restart{Connector: name, IncludeTasks: includeTasks, OnlyFailed: onlyFailed}); err != nil {
		return nil, fmt.Errorf("writing restart request: %w", err)
	}
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	return &st, nil
}

// applyRestart marks for restart what this worker runs of a connector, as
// a restart request read from the configs topic asks. It runs on the
// configs log's goroutine and does not block.
func (h *Herder) applyRestart(r configstore.Restart) {
	h.mu.Lock()
	if cs := h.mu.conns[r.Connector]; cs != nil && !h.mu.own.suspended {
		if h.mu.own.conns[r.Connector] && (!r.OnlyFailed || cs.state == api.StateFailed) {
			cs.restart = true
			cs.backoff = backoff{}
		}
		if r.IncludeTasks {
			for n, ts := range cs.tasks {
				if !h.mu.own.tasks[api.TaskID{Connector: r.Connector, Task: n}] || (r.OnlyFailed && ts.state != api.StateFailed) {
					continue
				}
				ts.restart = true
				ts.backoff = backoff{}
				if ts.state == api.StateFailed {
					ts.backoff.next = time.Now()
				}
			}
		}
	}
	h.mu.Unlock()
	h.signal()
}

// claim makes the leader write the configs topic through the
// leadership's transactional producer (transactional id
// connect-cluster-<group.id>) when exactly-once source support is enabled
// or preparing, as Kafka Connect does: the new leader's claim fences the
// previous leader's writes. A worker that stops leading releases it. With
// exactly-once disabled the leader writes plainly (no transactional-id
// ACLs needed).
func (p *workerPool) claim(ctx context.Context, leading bool) {
	h := p.h
	if h.eosMode() == eosDisabled || p.newTxnClient == nil {
		return
	}
	if !leading {
		p.claimed = false
		if cl := h.configs.Release(); cl != nil {
			cl.Close()
			p.logger.Info("released the configs topic's transactional producer")
		}
		return
	}
	if p.claimed {
		return
	}
	id := "connect-cluster-" + h.worker.String(config.GroupID)
	cl, err := p.newTxnClient(id)
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = h.configs.Claim(cctx, cl, id)
		cancel()
		if err != nil {
			cl.Close()
		}
	}
	if err != nil {
		p.logger.Error("could not claim the configs topic as the pool's leader; config writes fail until the next rebalance", "error", err)
		p.member.Rejoin("claiming the configs topic failed")
		return
	}
	p.claimed = true
	p.logger.Info("claimed the configs topic for this leader (transactional id fences any previous leader)", "transactional_id", id)
}
