// Package member is a Kafka Connect worker's membership in its group: it
// joins the Kafka group of the worker's group.id with protocol type
// "connect" (JoinGroup, SyncGroup, Heartbeat, LeaveGroup through a
// franz-go client, which finds the coordinator with FindCoordinator and
// follows it when it moves), offers the worker's metadata, computes the
// assignments with the caller's Assignor when elected leader, and hands
// every completed rebalance to the caller as an Event.
//
// One goroutine, started by Start and joined by Close, runs the protocol:
//
//	join ──► sync ──► stable: heartbeat every heartbeat.interval.ms,
//	  ▲                       deliver events, wait for Rejoin
//	  └──────── rebalance in progress, Rejoin, membership lost ◄─┘
//
// Events arrive in order on Events. The member never drops one: while
// the caller has not taken an event it keeps heartbeating but does not
// rejoin, so a slow caller delays the next rebalance (up to the group's
// rebalance.timeout.ms, after which the coordinator drops the member)
// rather than missing one. At most two events wait at a time (a Lost and
// the Assigned that follows it).
//
// Whenever the caller may be running an assignment and that assignment
// stops being safe to run, the member sends a Lost event: the coordinator
// has been unreachable for longer than heartbeat.interval.ms (ErrContactLost,
// so a worker cut off from Kafka stops its tasks before the group hands
// them to others, as Connect does since KAFKA-9184), or the coordinator
// no longer knows the member or its generation (ErrMembershipLost). A
// Lost is always followed, once the member is back in the group, by an
// Assigned.
package member

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/runtime/pool/proto"
)

// State is what the worker tells the group about itself each time it
// joins.
type State struct {
	// URL is the worker's advertised REST URL.
	URL string
	// ConfigOffset is the configs-topic offset the worker has read to.
	ConfigOffset int64
	// Allocation is what the worker runs now (its last assignment with
	// what it started and stopped since); nil when it runs nothing. Only
	// the cooperative subprotocols carry it.
	Allocation *proto.Assignment
}

// Group is what the leader assigns from.
type Group struct {
	Generation int32
	Protocol   proto.Protocol
	LeaderID   string
	// Members are every member of the generation, the leader included,
	// sorted by id.
	Members []Peer
}

// Peer is one member of a generation as the leader sees it.
type Peer struct {
	ID       string
	Metadata proto.Metadata
}

// Assignor computes the assignments of a generation when this member is
// its leader. It runs on the member's goroutine while the group waits for
// the leader's SyncGroup, so it must finish well within the rebalance
// timeout.
//
// A coordinator may ask more than one member to assign (kfake tells
// every member it leads when the previous leader has gone); only one
// member's answer reaches the group. An Assignor that keeps state between
// rounds (the previous assignment) should therefore keep what it computed
// only once the member's Rebalance says it led (Rebalance.Leader).
type Assignor interface {
	// Assign returns each member's assignment, keyed by member id. The
	// member sets every assignment's Version to the group's subprotocol
	// and fills an empty Leader and LeaderURL with the leader's; a member
	// left out gets an empty assignment. An error fails this round: the
	// member rejoins and the group rebalances again.
	Assign(ctx context.Context, g Group) (map[string]proto.Assignment, error)
}

// Event is one thing the caller must act on: exactly one field is set.
type Event struct {
	Assigned *Rebalance
	Lost     *Lost
}

// Rebalance is a completed rebalance: this member's share of a
// generation.
type Rebalance struct {
	Generation int32
	MemberID   string
	// LeaderID is the member whose Assignor made the assignment (the
	// assignment's leader field), Leader whether that is this member.
	LeaderID string
	Leader   bool
	Protocol proto.Protocol
	// Assignment is this member's assignment. The caller acts on it:
	// waits for Assignment.ConfigOffset in the configs topic, stops what
	// is revoked and calls Rejoin (cooperative protocols), and on
	// proto.ConfigMismatch reads the configs topic and calls Rejoin.
	// When Assignment.Delay is positive the member rejoins by itself
	// after that many milliseconds.
	Assignment proto.Assignment
}

// Lost says the caller must stop everything it runs for the group: its
// assignment may already be running elsewhere.
type Lost struct {
	// Err wraps ErrContactLost or ErrMembershipLost.
	Err error
	// Generation is the generation whose assignment is lost.
	Generation int32
}

// ErrContactLost: the coordinator did not answer for longer than
// heartbeat.interval.ms.
var ErrContactLost = errors.New("lost contact with the group coordinator")

// ErrMembershipLost: the coordinator dropped the member or moved to a
// generation without it (it missed its session timeout or a rebalance).
var ErrMembershipLost = errors.New("no longer a member of the group's current generation")

// Member is one worker's membership in its group. Its methods are safe
// for concurrent use.
type Member struct {
	cl       *kgo.Client
	cfg      Config
	state    func() State
	assignor Assignor

	events chan Event
	rejoin chan string // reasons; capacity 1, never blocks a sender
	pauseC chan chan struct{}

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
	err       error // set before done is closed

	// Owned by the run goroutine.
	memberID   string
	generation int32
	pending    []Event
	holding    bool      // the caller may run an assignment (an Assigned was queued and no Lost since)
	lastOK     time.Time // last answer from the coordinator
	lastFailed bool      // the last heartbeat got no answer

	// lease is when the coordinator may drop the member at the earliest,
	// as nanoseconds on the monotonic clock since epoch (see Leased).
	epoch time.Time
	lease atomic.Int64
}

// Leased reports whether the member is surely still in the group: the
// coordinator answered a request sent less than session.timeout.ms ago
// (it resets the member's session timer when it gets a request, so the
// member cannot have been dropped before then). A process that was
// frozen (SIGSTOP, a VM suspended, a long GC pause) for longer than the
// session timeout finds its lease over before its member goroutine
// learns that the group went on without it, and must not act on its old
// assignment (start work, write statuses) in that window. Safe for
// concurrent use.
func (m *Member) Leased() bool {
	return time.Since(m.epoch).Nanoseconds() < m.lease.Load()
}

// renew extends the lease after the coordinator answered a request sent
// at sent.
func (m *Member) renew(sent time.Time) {
	end := sent.Sub(m.epoch) + m.cfg.SessionTimeout
	if end.Nanoseconds() > m.lease.Load() {
		m.lease.Store(end.Nanoseconds())
	}
}

// New returns a member that will join cfg.Group through cl once started.
// state is called before every join; assignor runs when this member
// leads. The client is the caller's: Close does not close it.
func New(cl *kgo.Client, cfg Config, state func() State, assignor Assignor) (*Member, error) {
	cfg.ensureDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cl == nil || state == nil || assignor == nil {
		return nil, errors.New("member.New: client, state and assignor are required")
	}
	return &Member{
		cl:         cl,
		cfg:        cfg,
		state:      state,
		assignor:   assignor,
		events:     make(chan Event),
		rejoin:     make(chan string, 1),
		pauseC:     make(chan chan struct{}),
		done:       make(chan struct{}),
		generation: -1,
		epoch:      time.Now(),
	}, nil
}

// Events returns the channel of rebalances and losses. The member closes
// it when it stops (Close, or a failure the caller must fix: Close then
// returns it).
func (m *Member) Events() <-chan Event { return m.events }

// Start starts joining the group. Calling it again does nothing.
func (m *Member) Start() {
	m.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel = cancel
		go m.run(ctx)
	})
}

// Rejoin makes the member join the group again once the caller has taken
// every pending event: after stopping revoked work, or when the configs
// changed. The coordinator starts a rebalance when the leader rejoins or
// a member's metadata (State) changed; a follower that rejoins with
// unchanged metadata gets its current assignment again, delivered as
// another Assigned of the same generation (Kafka's rule, which Connect
// relies on too). It never blocks.
func (m *Member) Rejoin(reason string) {
	select {
	case m.rejoin <- reason:
	default: // one is already requested
	}
}

// Close stops the member and leaves the group (so the others rebalance at
// once rather than after the session timeout), waiting for the LeaveGroup
// answer at most until ctx ends. It returns the error that stopped the
// member on its own, if one did. Close is idempotent.
func (m *Member) Close(ctx context.Context) error {
	m.Start() // a never-started member just stops
	m.closeOnce.Do(func() {
		m.cancel()
		<-m.done
		if m.memberID != "" {
			m.leave(ctx)
		}
	})
	return m.err
}

// Done is closed when the member has stopped.
func (m *Member) Done() <-chan struct{} { return m.done }

// pause, for tests, stops the member in its stable state (no heartbeats,
// no events) until resume is called.
func (m *Member) pause(ctx context.Context) (resume func(), err error) {
	ch := make(chan struct{})
	select {
	case m.pauseC <- ch:
		return sync.OnceFunc(func() { close(ch) }), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run is the member's goroutine.
func (m *Member) run(ctx context.Context) {
	defer close(m.done)
	defer close(m.events)
	log := m.cfg.Logger.With("group", m.cfg.Group)
	reason := "starting"
	for {
		rb, err := m.joinAndSync(ctx, reason)
		if err != nil {
			if ctx.Err() == nil {
				m.err = err
				log.Error("left the worker group", "error", err)
			}
			return
		}
		if rb == nil {
			reason = "retrying"
			continue // join or sync failed in a way that asks for another round
		}
		log.Info("joined the worker group", "generation", rb.Generation, "member", rb.MemberID,
			"leader", rb.Leader, "protocol", rb.Protocol)
		m.queue(Event{Assigned: rb})
		m.holding = true
		if reason, err = m.stable(ctx, rb); err != nil {
			return // ctx ended
		}
	}
}

// queue adds an event; a Lost voids an Assigned not yet taken.
func (m *Member) queue(ev Event) {
	if ev.Lost != nil {
		kept := m.pending[:0]
		for _, p := range m.pending {
			if p.Assigned == nil {
				kept = append(kept, p)
			}
		}
		m.pending = kept
	}
	m.pending = append(m.pending, ev)
}

// lose queues a Lost if the caller may be running an assignment.
func (m *Member) lose(err error) {
	if !m.holding {
		return
	}
	m.holding = false
	m.cfg.Logger.Warn("stop the group's work: its assignment is lost", "group", m.cfg.Group,
		"generation", m.generation, "error", err)
	m.queue(Event{Lost: &Lost{Err: err, Generation: m.generation}})
}

// checkContact reports ErrContactLost once the coordinator has not
// answered for longer than a heartbeat interval.
func (m *Member) checkContact(cause error) {
	if m.holding && time.Since(m.lastOK) > m.cfg.HeartbeatInterval {
		m.lose(fmt.Errorf("%w for %v (heartbeat.interval.ms %d): %v", ErrContactLost,
			time.Since(m.lastOK).Round(time.Millisecond), m.cfg.HeartbeatInterval.Milliseconds(), cause))
	}
}

// wait waits d while delivering pending events; false if ctx ended.
func (m *Member) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		var out chan<- Event
		var next Event
		if len(m.pending) > 0 {
			out, next = m.events, m.pending[0]
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case out <- next:
			m.pending = m.pending[1:]
		}
	}
}
