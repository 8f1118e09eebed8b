package assign

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// pool simulates a group: members that apply what the leader tells them,
// a configs topic, and the leader's State between rounds.
type pool struct {
	t        testing.TB
	members  map[string]*node // by member id
	cfg      map[string]int
	offset   int64
	lagging  map[string]bool // members behind the config offset
	state    State
	now      time.Time
	maxDelay time.Duration
	last     Result
}

// node is one member and what it runs.
type node struct {
	id, url    string
	connectors map[string]bool
	tasks      map[api.TaskID]bool
}

func newPool(t testing.TB, maxDelay time.Duration) *pool {
	return &pool{
		t: t, members: map[string]*node{}, cfg: map[string]int{}, lagging: map[string]bool{},
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), maxDelay: maxDelay,
	}
}

// join adds a member that runs nothing.
func (p *pool) join(id, url string) *node {
	n := &node{id: id, url: url, connectors: map[string]bool{}, tasks: map[api.TaskID]bool{}}
	p.members[id] = n
	return n
}

// leave removes a member (it crashed: its work runs nowhere).
func (p *pool) leave(id string) { delete(p.members, id) }

// setConnector writes a connector with n tasks to the configs topic.
func (p *pool) setConnector(name string, n int) {
	p.cfg[name] = n
	p.offset++
}

// deleteConnector removes a connector from the configs topic.
func (p *pool) deleteConnector(name string) {
	delete(p.cfg, name)
	p.offset++
}

func (p *pool) ids() []string { return slices.Sorted(maps.Keys(p.members)) }

func (p *pool) input() Input {
	ids := p.ids()
	in := Input{
		Leader:   ids[0],
		Config:   Config{Offset: p.offset, Tasks: maps.Clone(p.cfg)},
		Previous: p.state,
		Now:      p.now,
		MaxDelay: p.maxDelay,
	}
	for _, id := range ids {
		n := p.members[id]
		m := Member{ID: id, URL: n.url, ConfigOffset: p.offset}
		if p.lagging[id] {
			m.ConfigOffset = p.offset - 1
		}
		m.Connectors = slices.Sorted(maps.Keys(n.connectors))
		m.Tasks = slices.SortedFunc(maps.Keys(n.tasks), compareTask)
		in.Members = append(in.Members, m)
	}
	return in
}

// round runs one rebalance and applies it, checking that no member is told
// to start work that any member still runs and that revoked work was
// running where it is revoked.
func (p *pool) round() Result {
	p.t.Helper()
	res, err := Assign(p.input())
	if err != nil {
		p.t.Fatalf("Assign: %v", err)
	}
	runningC := map[string]string{}
	runningT := map[api.TaskID]string{}
	for _, id := range p.ids() {
		for c := range p.members[id].connectors {
			runningC[c] = id
		}
		for t := range p.members[id].tasks {
			runningT[t] = id
		}
	}
	for _, a := range res.Assignments {
		n := p.members[a.Member]
		for _, c := range a.Connectors {
			if on, ok := runningC[c]; ok {
				p.t.Fatalf("connector %s assigned to %s while %s runs it", c, a.Member, on)
			}
		}
		for _, t := range a.Tasks {
			if on, ok := runningT[t]; ok {
				p.t.Fatalf("task %v assigned to %s while %s runs it", t, a.Member, on)
			}
		}
		for _, c := range a.RevokedConnectors {
			if !n.connectors[c] {
				p.t.Fatalf("connector %s revoked from %s, which does not run it", c, a.Member)
			}
		}
		for _, t := range a.RevokedTasks {
			if !n.tasks[t] {
				p.t.Fatalf("task %v revoked from %s, which does not run it", t, a.Member)
			}
		}
	}
	for _, a := range res.Assignments {
		n := p.members[a.Member]
		for _, c := range a.RevokedConnectors {
			delete(n.connectors, c)
		}
		for _, t := range a.RevokedTasks {
			delete(n.tasks, t)
		}
		for _, c := range a.Connectors {
			n.connectors[c] = true
		}
		for _, t := range a.Tasks {
			n.tasks[t] = true
		}
	}
	p.state = res.State
	p.last = res
	return res
}

// changed reports whether a result starts or stops anything.
func changed(res Result) bool {
	for _, a := range res.Assignments {
		if len(a.Connectors)+len(a.Tasks)+len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
			return true
		}
	}
	return false
}

// settle runs rounds until one changes nothing and wants no follow-up,
// moving the clock on by the delay the leader asks for, and returns how
// many rounds that took.
func (p *pool) settle() int {
	p.t.Helper()
	for i := 1; i <= 50; i++ {
		res := p.round()
		delay := res.Assignments[0].Delay
		if !changed(res) && delay == 0 {
			return i
		}
		p.now = p.now.Add(delay + time.Millisecond)
	}
	p.t.Fatalf("no stable assignment after 50 rounds: %+v", p.last)
	return 0
}

// checkExactlyOnce checks that every configured connector and task runs on
// exactly one member and nothing else runs.
func (p *pool) checkExactlyOnce() {
	p.t.Helper()
	seenC := map[string]string{}
	seenT := map[api.TaskID]string{}
	for _, id := range p.ids() {
		n := p.members[id]
		for c := range n.connectors {
			if other, ok := seenC[c]; ok {
				p.t.Fatalf("connector %s runs on %s and %s", c, other, id)
			}
			seenC[c] = id
		}
		for t := range n.tasks {
			if other, ok := seenT[t]; ok {
				p.t.Fatalf("task %v runs on %s and %s", t, other, id)
			}
			seenT[t] = id
		}
	}
	want := 0
	for c, k := range p.cfg {
		if _, ok := seenC[c]; !ok {
			p.t.Fatalf("connector %s runs nowhere", c)
		}
		for i := range k {
			if _, ok := seenT[api.TaskID{Connector: c, Task: i}]; !ok {
				p.t.Fatalf("task %s-%d runs nowhere", c, i)
			}
		}
		want += k
	}
	if len(seenC) != len(p.cfg) || len(seenT) != want {
		p.t.Fatalf("%d connectors and %d tasks run, want %d and %d", len(seenC), len(seenT), len(p.cfg), want)
	}
}

// checkBalanced checks that connectors and tasks are each spread within
// one of each other.
func (p *pool) checkBalanced() {
	p.t.Helper()
	minC, maxC, minT, maxT := 1<<30, -1, 1<<30, -1
	for _, n := range p.members {
		minC, maxC = min(minC, len(n.connectors)), max(maxC, len(n.connectors))
		minT, maxT = min(minT, len(n.tasks)), max(maxT, len(n.tasks))
	}
	if maxC-minC > 1 || maxT-minT > 1 {
		p.t.Fatalf("unbalanced: connectors %d..%d, tasks %d..%d per member\n%s", minC, maxC, minT, maxT, p)
	}
}

// owners returns where every connector and task runs.
func (p *pool) owners() map[string]string {
	out := map[string]string{}
	for id, n := range p.members {
		for c := range n.connectors {
			out[c] = id
		}
		for t := range n.tasks {
			out[fmt.Sprintf("%s-%d", t.Connector, t.Task)] = id
		}
	}
	return out
}

func (p *pool) String() string {
	s := ""
	for _, id := range p.ids() {
		n := p.members[id]
		s += fmt.Sprintf("%s (%s): %d connectors %v, %d tasks\n", id, n.url, len(n.connectors),
			slices.Sorted(maps.Keys(n.connectors)), len(n.tasks))
	}
	return s
}
