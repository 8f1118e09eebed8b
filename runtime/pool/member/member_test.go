package member

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/runtime/broker"
	"github.com/sluice-cdc/sluice/runtime/pool/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startBroker starts the embedded broker and lowers its
// group.min.session.timeout.ms (6000 by default, as on Kafka) so the
// tests can use sub-second sessions.
func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start(t.TempDir(), "127.0.0.1:0", quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resps, err := kadm.NewClient(cl).AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "group.min.session.timeout.ms", Value: kadm.StringPtr("100")}})
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		t.Fatalf("lowering group.min.session.timeout.ms: %v", err)
	}
	return b
}

// recorder is an Assignor that gives member i of a generation the
// connector "c<i>" and task <generation> of it, and remembers what it
// computed.
type recorder struct {
	mu  sync.Mutex
	out map[round]map[string]proto.Assignment
	in  map[round]Group
}

// round is one Assign call: kfake may ask several members of one
// generation to assign (see Assignor), so the key includes the leader.
type round struct {
	gen    int32
	leader string
}

func newRecorder() *recorder {
	return &recorder{out: map[round]map[string]proto.Assignment{}, in: map[round]Group{}}
}

func (r *recorder) Assign(_ context.Context, g Group) (map[string]proto.Assignment, error) {
	out := map[string]proto.Assignment{}
	for i, p := range g.Members {
		c := fmt.Sprintf("c%d", i)
		out[p.ID] = proto.Assignment{
			ConfigOffset: p.Metadata.ConfigOffset,
			Connectors:   []string{c},
			Tasks:        []proto.TaskID{{Connector: c, Task: g.Generation}},
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := round{g.Generation, g.LeaderID}
	r.out[k] = out
	r.in[k] = g
	return out, nil
}

func (r *recorder) computed(gen int32, leader string) (map[string]proto.Assignment, Group, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := round{gen, leader}
	out, ok := r.out[k]
	return out, r.in[k], ok
}

// worker is a member under test with the events it received.
type worker struct {
	name string
	m    *Member
	cl   *kgo.Client

	offset atomic.Int64 // the config offset its State reports
	closed bool

	mu     sync.Mutex
	events []Event
	done   chan struct{}
}

func (w *worker) lastAssigned() *Rebalance {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.events) - 1; i >= 0; i-- {
		if w.events[i].Assigned != nil {
			return w.events[i].Assigned
		}
	}
	return nil
}

func (w *worker) snapshot() []Event {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.events)
}

func (w *worker) close(t *testing.T) {
	t.Helper()
	w.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.m.Close(ctx); err != nil {
		t.Errorf("%s: close: %v", w.name, err)
	}
	<-w.done
	w.cl.Close()
}

var testCfg = Config{
	Group:             "pool",
	SessionTimeout:    1500 * time.Millisecond,
	HeartbeatInterval: 100 * time.Millisecond,
	RebalanceTimeout:  5 * time.Second,
	RetryBackoff:      50 * time.Millisecond,
}

func startWorker(t *testing.T, b *broker.Broker, name string, cfg Config, a Assignor) *worker {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = quiet()
	w := &worker{name: name, cl: cl, done: make(chan struct{})}
	w.offset.Store(7)
	w.m, err = New(cl, cfg, func() State { return State{URL: "http://" + name + "/", ConfigOffset: w.offset.Load()} }, a)
	if err != nil {
		t.Fatal(err)
	}
	w.m.Start()
	go func() { // owned by the test: ends when the member closes Events
		defer close(w.done)
		for ev := range w.m.Events() {
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if !w.closed {
			w.close(t)
		}
	})
	return w
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settled reports whether every worker's latest assignment is of one
// generation with exactly these workers in it, and returns it.
func settled(r *recorder, ws ...*worker) (int32, bool) {
	var gen int32 = -1
	leader := ""
	for _, w := range ws {
		rb := w.lastAssigned()
		if rb == nil || (gen >= 0 && (rb.Generation != gen || rb.LeaderID != leader)) {
			return 0, false
		}
		gen, leader = rb.Generation, rb.LeaderID
	}
	_, g, ok := r.computed(gen, leader)
	return gen, ok && len(g.Members) == len(ws)
}

// checkGeneration checks that the workers agree on the leader of gen,
// that exactly one of them led it, and that each got what the leader's
// Assignor computed for it.
func checkGeneration(t *testing.T, r *recorder, gen int32, ws ...*worker) (leader *worker) {
	t.Helper()
	out, g, _ := r.computed(gen, ws[0].lastAssigned().LeaderID)
	for _, w := range ws {
		rb := w.lastAssigned()
		if rb.LeaderID != g.LeaderID {
			t.Errorf("%s: leader %s, want %s", w.name, rb.LeaderID, g.LeaderID)
		}
		if rb.Leader {
			if leader != nil {
				t.Errorf("%s and %s both lead generation %d", leader.name, w.name, gen)
			}
			leader = w
		}
		want := out[rb.MemberID]
		want.Version = rb.Protocol.Version()
		want.Leader = g.LeaderID
		if rb.Protocol != proto.Sessioned {
			t.Errorf("%s: protocol %s, want %s", w.name, rb.Protocol, proto.Sessioned)
		}
		if !reflect.DeepEqual(rb.Assignment, withLeaderURL(want, g)) {
			t.Errorf("%s: assignment %+v, want %+v", w.name, rb.Assignment, want)
		}
	}
	if leader == nil {
		t.Fatalf("nobody leads generation %d", gen)
	}
	if got := leader.lastAssigned().MemberID; got != g.LeaderID {
		t.Errorf("leader member id %s, group says %s", got, g.LeaderID)
	}
	return leader
}

func withLeaderURL(a proto.Assignment, g Group) proto.Assignment {
	for _, p := range g.Members {
		if p.ID == g.LeaderID {
			a.LeaderURL = p.Metadata.URL
		}
	}
	return a
}

func TestTwoThenThreeMembersShareTheLeadersAssignment(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	w1 := startWorker(t, b, "w1", testCfg, r)
	w2 := startWorker(t, b, "w2", testCfg, r)
	var gen int32
	waitFor(t, "two members in one generation", func() (ok bool) { gen, ok = settled(r, w1, w2); return })
	checkGeneration(t, r, gen, w1, w2)

	w3 := startWorker(t, b, "w3", testCfg, r)
	var gen3 int32
	waitFor(t, "three members in one generation", func() (ok bool) { gen3, ok = settled(r, w1, w2, w3); return })
	if gen3 <= gen {
		t.Fatalf("generation %d after %d", gen3, gen)
	}
	checkGeneration(t, r, gen3, w1, w2, w3)
	// The member metadata reached the leader intact.
	_, g, _ := r.computed(gen3, w1.lastAssigned().LeaderID)
	var urls []string
	for _, p := range g.Members {
		urls = append(urls, p.Metadata.URL)
		if p.Metadata.Version != 2 || p.Metadata.ConfigOffset != 7 {
			t.Errorf("member %s metadata %+v", p.ID, p.Metadata)
		}
	}
	slices.Sort(urls)
	if want := []string{"http://w1/", "http://w2/", "http://w3/"}; !slices.Equal(urls, want) {
		t.Errorf("urls %v, want %v", urls, want)
	}

	// A follower rejoining with unchanged metadata gets its assignment
	// of the same generation again; with a new config offset it makes
	// the group rebalance.
	follower := w1
	if follower.lastAssigned().Leader {
		follower = w2
	}
	before := len(follower.snapshot())
	follower.m.Rejoin("test, same metadata")
	waitFor(t, "the same generation again", func() bool { return len(follower.snapshot()) > before })
	if rb := follower.lastAssigned(); rb.Generation != gen3 {
		t.Fatalf("a follower's rejoin with unchanged metadata made generation %d, want %d again", rb.Generation, gen3)
	}
	follower.offset.Store(8)
	follower.m.Rejoin("test, configs changed")
	var gen4 int32
	waitFor(t, "a rebalance after Rejoin", func() (ok bool) { gen4, ok = settled(r, w1, w2, w3); return ok && gen4 > gen3 })
	checkGeneration(t, r, gen4, w1, w2, w3)
	if _, g, _ := r.computed(gen4, w1.lastAssigned().LeaderID); !slices.ContainsFunc(g.Members, func(p Peer) bool {
		return p.Metadata.ConfigOffset == 8
	}) {
		t.Errorf("the leader did not see the new config offset: %+v", g.Members)
	}
	for _, w := range []*worker{w1, w2, w3} {
		for _, ev := range w.snapshot() {
			if ev.Lost != nil {
				t.Errorf("%s: unexpected %v", w.name, ev.Lost.Err)
			}
		}
	}
}

func TestClosedMemberLeavesAtOnce(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	cfg := testCfg
	cfg.SessionTimeout = 6 * time.Second // the others must not wait for it
	w1 := startWorker(t, b, "w1", cfg, r)
	w2 := startWorker(t, b, "w2", cfg, r)
	w3 := startWorker(t, b, "w3", cfg, r)
	var gen int32
	waitFor(t, "three members", func() (ok bool) { gen, ok = settled(r, w1, w2, w3); return })

	start := time.Now()
	w2.close(t)
	var gen2 int32
	waitFor(t, "two members after a Close", func() (ok bool) { gen2, ok = settled(r, w1, w3); return ok && gen2 > gen })
	if took := time.Since(start); took >= cfg.SessionTimeout/2 {
		t.Errorf("the others rebalanced %v after the Close; LeaveGroup should make it immediate", took)
	}
	checkGeneration(t, r, gen2, w1, w3)
}

func TestLeaderLeavesAndAnotherLeads(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	ws := []*worker{startWorker(t, b, "w1", testCfg, r), startWorker(t, b, "w2", testCfg, r), startWorker(t, b, "w3", testCfg, r)}
	var gen int32
	waitFor(t, "three members", func() (ok bool) { gen, ok = settled(r, ws...); return })
	leader := checkGeneration(t, r, gen, ws...)
	oldLeaderID := leader.lastAssigned().MemberID
	leader.close(t)
	rest := slices.DeleteFunc(slices.Clone(ws), func(w *worker) bool { return w == leader })
	var gen2 int32
	waitFor(t, "two members after the leader left", func() (ok bool) { gen2, ok = settled(r, rest...); return ok && gen2 > gen })
	newLeader := checkGeneration(t, r, gen2, rest...)
	if id := newLeader.lastAssigned().MemberID; id == oldLeaderID {
		t.Fatalf("the leader that left (%s) still leads", id)
	}
}

func TestSilentMemberIsDroppedAndRejoinsInANewGeneration(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	w1 := startWorker(t, b, "w1", testCfg, r)
	w2 := startWorker(t, b, "w2", testCfg, r)
	var gen int32
	waitFor(t, "two members", func() (ok bool) { gen, ok = settled(r, w1, w2); return })
	if !w2.m.Leased() {
		t.Fatal("w2 is in the group but not leased")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resume, err := w2.m.pause(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer resume()
	paused := time.Now()
	var gen2 int32
	waitFor(t, "w1 alone after w2 went silent", func() (ok bool) { gen2, ok = settled(r, w1); return ok && gen2 > gen })
	// The coordinator waited for the session timeout from w2's last
	// heartbeat (at most one interval before the pause).
	if took := time.Since(paused); took < testCfg.SessionTimeout-testCfg.HeartbeatInterval {
		t.Errorf("w2 dropped %v after going silent, before session.timeout.ms %v", took, testCfg.SessionTimeout)
	}
	checkGeneration(t, r, gen2, w1)
	if rb := w2.lastAssigned(); rb.Generation != gen {
		t.Fatalf("paused w2 got generation %d", rb.Generation)
	}
	// Dropped from the group, and before its own goroutine learns of it,
	// w2 knows it may not act on its assignment: its lease is over.
	if w2.m.Leased() {
		t.Errorf("w2 silent for %v (session.timeout.ms %v) still leased", time.Since(paused), testCfg.SessionTimeout)
	}
	if !w1.m.Leased() {
		t.Error("w1, heartbeating, is not leased")
	}

	resume()
	var gen3 int32
	waitFor(t, "w2 back in a new generation", func() (ok bool) { gen3, ok = settled(r, w1, w2); return ok && gen3 > gen2 })
	checkGeneration(t, r, gen3, w1, w2)
	if !w2.m.Leased() {
		t.Error("w2, back in the group, is not leased")
	}
	// w2 was told to stop its work before it got new work.
	evs := w2.snapshot()
	var lostAt, reassignedAt = -1, -1
	for i, ev := range evs {
		if ev.Lost != nil && lostAt < 0 {
			lostAt = i
			if !errors.Is(ev.Lost.Err, ErrMembershipLost) || ev.Lost.Generation != gen {
				t.Errorf("lost %v of generation %d, want ErrMembershipLost of %d", ev.Lost.Err, ev.Lost.Generation, gen)
			}
		}
		if ev.Assigned != nil && ev.Assigned.Generation == gen3 {
			reassignedAt = i
		}
	}
	if lostAt < 0 || reassignedAt < lostAt {
		t.Fatalf("w2 events %v: want a Lost before the generation %d assignment", describe(evs), gen3)
	}
}

func TestUnreachableCoordinatorIsReportedWithinAboutAHeartbeat(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	w1 := startWorker(t, b, "w1", testCfg, r)
	w2 := startWorker(t, b, "w2", testCfg, r)
	var gen int32
	waitFor(t, "two members", func() (ok bool) { gen, ok = settled(r, w1, w2); return })
	stopped := time.Now()
	b.Close()
	for _, w := range []*worker{w1, w2} {
		waitFor(t, w.name+" reporting lost contact", func() bool {
			for _, ev := range w.snapshot() {
				if ev.Lost != nil {
					if !errors.Is(ev.Lost.Err, ErrContactLost) || ev.Lost.Generation != gen {
						t.Fatalf("%s: lost %v of generation %d", w.name, ev.Lost.Err, ev.Lost.Generation)
					}
					return true
				}
			}
			return false
		})
	}
	// Detected after one interval without an answer, within about two
	// more (a heartbeat in flight, the next one) — well before the
	// session timeout hands the work to others.
	if took := time.Since(stopped); took > testCfg.SessionTimeout {
		t.Errorf("lost contact reported %v after the broker stopped; session.timeout.ms is %v", took, testCfg.SessionTimeout)
	}
}

func TestEagerOnlyMemberMakesTheGroupEager(t *testing.T) {
	b := startBroker(t)
	r := newRecorder()
	eager := testCfg
	eager.Protocols = []proto.Protocol{proto.Eager}
	w1 := startWorker(t, b, "w1", testCfg, r)
	w2 := startWorker(t, b, "w2", eager, r)
	var gen int32
	waitFor(t, "two members", func() (ok bool) { gen, ok = settled(r, w1, w2); return })
	_, g, _ := r.computed(gen, w1.lastAssigned().LeaderID)
	for _, w := range []*worker{w1, w2} {
		rb := w.lastAssigned()
		if rb.Protocol != proto.Eager || rb.Assignment.Version != 0 {
			t.Errorf("%s: protocol %s version %d, want default version 0", w.name, rb.Protocol, rb.Assignment.Version)
		}
	}
	for _, p := range g.Members {
		if p.Metadata.Version != 0 || p.Metadata.Allocation != nil {
			t.Errorf("member %s metadata %+v, want version 0", p.ID, p.Metadata)
		}
	}
}

func TestGroupOfAnotherProtocolTypeIsAUserError(t *testing.T) {
	b := startBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// A consumer takes the group id first.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = testCfg.Group
	req.SessionTimeoutMillis = 6000
	req.RebalanceTimeoutMillis = 6000
	req.ProtocolType = "consumer"
	rp := kmsg.NewJoinGroupRequestProtocol()
	rp.Name = "range"
	req.Protocols = append(req.Protocols, rp)
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.ErrorCode == 0 {
			break
		}
		req.MemberID = resp.MemberID // MEMBER_ID_REQUIRED
	}
	w := startWorker(t, b, "w1", testCfg, newRecorder())
	select {
	case <-w.m.Done():
	case <-ctx.Done():
		t.Fatal("the member did not stop")
	}
	<-w.done // Events closed
	w.closed = true
	defer w.cl.Close()
	err = w.m.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), `group.id "pool"`) || !strings.Contains(err.Error(), "of their own") {
		t.Fatalf("error %v: want one that names group.id and the fix", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  Config
		want string
	}{
		"no group":             {Config{}, "group.id is empty"},
		"heartbeat >= session": {Config{Group: "g", SessionTimeout: time.Second, HeartbeatInterval: time.Second}, "heartbeat.interval.ms 1000 must be lower than session.timeout.ms 1000"},
		"negative":             {Config{Group: "g", RebalanceTimeout: -time.Second}, "rebalance.timeout.ms -1000"},
		"unknown protocol":     {Config{Group: "g", Protocols: []proto.Protocol{"range"}}, `"range" is not one of`},
		"defaults":             {Config{Group: "g"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			c := tc.cfg
			c.ensureDefaults()
			err := c.validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.SessionTimeout != 10*time.Second || c.HeartbeatInterval != 3*time.Second || c.RebalanceTimeout != time.Minute {
					t.Fatalf("defaults %+v", c)
				}
				if !slices.Equal(c.Protocols, []proto.Protocol{proto.Sessioned, proto.Compatible, proto.Eager}) {
					t.Fatalf("protocols %v", c.Protocols)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func describe(evs []Event) string {
	var s []string
	for _, ev := range evs {
		if ev.Lost != nil {
			s = append(s, "lost("+ev.Lost.Err.Error()+")")
		} else {
			s = append(s, fmt.Sprintf("assigned(gen %d)", ev.Assigned.Generation))
		}
	}
	return strings.Join(s, ", ")
}
