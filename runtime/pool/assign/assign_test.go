package assign

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

const fiveMinutes = 5 * time.Minute

// threeByEight is 3 members running 8 connectors of 3 tasks, settled.
func threeByEight(t *testing.T, maxDelay time.Duration) *pool {
	t.Helper()
	p := newPool(t, maxDelay)
	for _, id := range []string{"a", "b", "c"} {
		p.join(id, "http://"+id+":8083")
	}
	for i := range 8 {
		p.setConnector(fmt.Sprintf("conn%d", i), 3)
	}
	p.settle()
	return p
}

func TestBalance(t *testing.T) {
	p := newPool(t, fiveMinutes)
	for _, id := range []string{"a", "b", "c"} {
		p.join(id, "http://"+id+":8083")
	}
	for i := range 8 {
		p.setConnector(fmt.Sprintf("conn%d", i), 3)
	}
	res := p.round()
	for _, a := range res.Assignments {
		if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
			t.Errorf("%s: revoked %v %v from members that run nothing", a.Member, a.RevokedConnectors, a.RevokedTasks)
		}
		if a.Delay != 0 || a.Error != NoError || a.Leader != "a" || a.LeaderURL != "http://a:8083" || a.ConfigOffset != 8 {
			t.Errorf("%s: delay %v, error %d, leader %s %s, offset %d", a.Member, a.Delay, a.Error, a.Leader, a.LeaderURL, a.ConfigOffset)
		}
	}
	p.checkExactlyOnce()
	p.checkBalanced()
	for _, n := range p.members {
		if len(n.tasks) != 8 {
			t.Errorf("%s runs %d tasks, want 8", n.id, len(n.tasks))
		}
		// The tasks of one connector go to different members.
		per := map[string]int{}
		for task := range n.tasks {
			per[task.Connector]++
		}
		for c, k := range per {
			if k > 1 {
				t.Errorf("%s runs %d tasks of %s", n.id, k, c)
			}
		}
	}
	// Nothing moves once balanced.
	if res := p.round(); changed(res) {
		t.Fatalf("a second round changed a balanced pool: %+v", res.Assignments)
	}
	// The state knows where everything went.
	for id, n := range p.members {
		for c := range n.connectors {
			if got, ok := p.state.ConnectorOwner(c); !ok || got != id {
				t.Errorf("ConnectorOwner(%s) = %q, %v; want %s", c, got, ok, id)
			}
		}
		for task := range n.tasks {
			if got, ok := p.state.TaskOwner(task); !ok || got != id {
				t.Errorf("TaskOwner(%v) = %q, %v; want %s", task, got, ok, id)
			}
		}
	}
}

func TestNoStopTheWorld(t *testing.T) {
	t.Run("a fourth member", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		before := p.owners()
		p.join("d", "http://d:8083")

		res := p.round()
		revokedC, revokedT := 0, 0
		for _, a := range res.Assignments {
			if len(a.Connectors)+len(a.Tasks) > 0 {
				t.Errorf("%s is assigned %v %v in the revoking round", a.Member, a.Connectors, a.Tasks)
			}
			if len(a.RevokedTasks) != 2 && a.Member != "d" {
				t.Errorf("%s gives up %d tasks, want its surplus of 2 (8 -> 6)", a.Member, len(a.RevokedTasks))
			}
			revokedC += len(a.RevokedConnectors)
			revokedT += len(a.RevokedTasks)
		}
		if revokedC != 2 || revokedT != 6 {
			t.Errorf("revoked %d connectors and %d tasks, want 2 (3,3,2 -> 2,2,2,2) and 6 (8,8,8 -> 6,6,6,6)", revokedC, revokedT)
		}

		res = p.round()
		if d, _ := res.For("d"); len(d.Tasks) != 6 || len(d.Connectors) != 2 {
			t.Errorf("d gets %d tasks and %d connectors, want 6 and 2", len(d.Tasks), len(d.Connectors))
		}
		for _, a := range res.Assignments {
			if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
				t.Errorf("%s: revoked %v %v in the assigning round", a.Member, a.RevokedConnectors, a.RevokedTasks)
			}
			if a.Member != "d" && len(a.Connectors)+len(a.Tasks) > 0 {
				t.Errorf("%s: assigned %v %v; only d should get anything", a.Member, a.Connectors, a.Tasks)
			}
		}
		p.checkExactlyOnce()
		p.checkBalanced()
		if rounds := p.settle(); rounds != 1 {
			t.Errorf("%d more rounds to settle, want 1", rounds)
		}
		moved := 0
		for w, id := range p.owners() {
			if before[w] != id {
				moved++
			}
		}
		if moved != 8 {
			t.Errorf("%d connectors and tasks moved, want the 2 connectors and 6 tasks d needs", moved)
		}
	})

	t.Run("a ninth connector", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		before := p.owners()
		p.setConnector("conn8", 3)
		res := p.round()
		if changed(p.round()) {
			t.Error("a second round changed something")
		}
		for _, a := range res.Assignments {
			if len(a.RevokedConnectors)+len(a.RevokedTasks) > 0 {
				t.Errorf("%s: revoked %v %v for a new connector", a.Member, a.RevokedConnectors, a.RevokedTasks)
			}
			if len(a.Tasks) != 1 {
				t.Errorf("%s: gets %v of the new connector's 3 tasks, want one", a.Member, a.Tasks)
			}
		}
		if a, _ := res.For("c"); !slices.Equal(a.Connectors, []string{"conn8"}) {
			t.Errorf("the new connector goes to %v, want c, the member with 2", res.Assignments)
		}
		for w, id := range before {
			if p.owners()[w] != id {
				t.Errorf("%s moved from %s", w, id)
			}
		}
		p.checkExactlyOnce()
		p.checkBalanced()
	})
}

func TestDepartedMember(t *testing.T) {
	p := threeByEight(t, fiveMinutes)
	lostC := slices.Sorted(mapsKeys(p.members["c"].connectors))
	lostT := slices.SortedFunc(mapsKeys(p.members["c"].tasks), compareTask)
	p.leave("c")

	// The departed member's work waits; nothing else moves.
	res := p.round()
	if changed(res) {
		t.Fatalf("work moved right after c left: %+v", res.Assignments)
	}
	if got := res.Assignments[0].Delay; got != fiveMinutes {
		t.Errorf("delay %v, want the full %v", got, fiveMinutes)
	}
	if !slices.Equal(res.HeldConnectors, lostC) || !reflect.DeepEqual(res.HeldTasks, lostT) {
		t.Errorf("held %v %v, want c's %v %v", res.HeldConnectors, res.HeldTasks, lostC, lostT)
	}

	t.Run("returns in time", func(t *testing.T) {
		p := *p
		p.members = map[string]*node{"a": p.members["a"].clone(), "b": p.members["b"].clone()}
		p.now = p.now.Add(2 * time.Minute)
		res := p.round()
		if changed(res) || res.Assignments[0].Delay != 3*time.Minute {
			t.Fatalf("2 minutes later: delay %v (want 3m), changes %+v", res.Assignments[0].Delay, res.Assignments)
		}
		// c restarts and joins under a new member id with the same URL.
		p.now = p.now.Add(time.Minute)
		p.join("c2", "http://c:8083")
		res = p.round()
		c2, _ := res.For("c2")
		if !slices.Equal(c2.Connectors, lostC) || !reflect.DeepEqual(c2.Tasks, lostT) {
			t.Errorf("c2 (c's URL) gets %v %v, want c's %v %v", c2.Connectors, c2.Tasks, lostC, lostT)
		}
		for _, a := range res.Assignments {
			if a.Member != "c2" && changed(Result{Assignments: []Assignment{a}}) {
				t.Errorf("%s: %+v", a.Member, a)
			}
			if a.Delay != 0 {
				t.Errorf("%s: delay %v after everything came back", a.Member, a.Delay)
			}
		}
		if len(res.HeldTasks)+len(res.HeldConnectors) > 0 {
			t.Errorf("still held: %v %v", res.HeldConnectors, res.HeldTasks)
		}
		p.checkExactlyOnce()
		p.checkBalanced()
	})

	t.Run("does not return", func(t *testing.T) {
		p := *p
		p.members = map[string]*node{"a": p.members["a"].clone(), "b": p.members["b"].clone()}
		p.now = p.now.Add(fiveMinutes)
		res := p.round()
		got := 0
		for _, a := range res.Assignments {
			got += len(a.Tasks)
			if len(a.Tasks) != 4 {
				t.Errorf("%s gets %d of c's 8 tasks, want 4", a.Member, len(a.Tasks))
			}
			if a.Delay != 0 {
				t.Errorf("%s: delay %v", a.Member, a.Delay)
			}
		}
		p.checkExactlyOnce()
		p.checkBalanced()
		// c coming back now is a new member: it gets its share by balancing.
		p.join("c2", "http://c:8083")
		p.settle()
		p.checkExactlyOnce()
		p.checkBalanced()
	})

	t.Run("zero delay", func(t *testing.T) {
		p := threeByEight(t, 0)
		p.leave("c")
		res := p.round()
		if len(res.HeldTasks) > 0 || res.Assignments[0].Delay != 0 {
			t.Errorf("held %v with delay %v", res.HeldTasks, res.Assignments[0].Delay)
		}
		p.checkExactlyOnce()
		p.checkBalanced()
	})

	t.Run("two departures, two deadlines", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		p.join("d", "http://d:8083")
		p.settle()
		p.leave("c")
		p.round()
		p.now = p.now.Add(time.Minute)
		p.leave("d")
		res := p.round()
		if d := res.Assignments[0].Delay; d != 4*time.Minute {
			t.Errorf("delay %v, want c's remaining 4m", d)
		}
		p.now = p.now.Add(4 * time.Minute)
		res = p.round()
		if d := res.Assignments[0].Delay; d != time.Minute {
			t.Errorf("delay %v after c's work was released, want d's remaining 1m", d)
		}
		if len(res.HeldTasks) != 6 {
			t.Errorf("%d tasks held, want d's 6", len(res.HeldTasks))
		}
		p.now = p.now.Add(time.Minute)
		p.settle()
		p.checkExactlyOnce()
		p.checkBalanced()
	})
}

func (n *node) clone() *node {
	c := &node{id: n.id, url: n.url, connectors: map[string]bool{}, tasks: map[api.TaskID]bool{}}
	for k := range n.connectors {
		c.connectors[k] = true
	}
	for k := range n.tasks {
		c.tasks[k] = true
	}
	return c
}

func mapsKeys[K comparable](m map[K]bool) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestDuplicates(t *testing.T) {
	task := api.TaskID{Connector: "x", Task: 0}
	cfg := Config{Offset: 1, Tasks: map[string]int{"x": 1}}
	both := []Member{
		{ID: "a", Connectors: []string{"x"}, Tasks: []api.TaskID{task}},
		{ID: "b", Tasks: []api.TaskID{task}},
		{ID: "c", Tasks: []api.TaskID{task}},
	}
	t.Run("no previous owner: the lowest id keeps it", func(t *testing.T) {
		res, err := Assign(Input{Leader: "a", Members: both, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"b", "c"} {
			if a, _ := res.For(id); !reflect.DeepEqual(a.RevokedTasks, []api.TaskID{task}) {
				t.Errorf("%s: revoked %v, want %v", id, a.RevokedTasks, task)
			}
		}
		if a, _ := res.For("a"); len(a.RevokedTasks) > 0 {
			t.Errorf("a: revoked %v", a.RevokedTasks)
		}
		if owner, _ := res.State.TaskOwner(task); owner != "a" {
			t.Errorf("owner %q, want a", owner)
		}
	})
	t.Run("the previous owner keeps it", func(t *testing.T) {
		prev, err := Assign(Input{Leader: "b", Members: []Member{{ID: "b"}}, Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		owner, _ := prev.State.TaskOwner(task)
		if owner != "b" {
			t.Fatalf("setup: task went to %q, want b", owner)
		}
		res, err := Assign(Input{Leader: "a", Members: both, Config: cfg, Previous: prev.State})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Assignments {
			want := []api.TaskID{task}
			if a.Member == "b" {
				want = nil
			}
			if !reflect.DeepEqual(a.RevokedTasks, want) || len(a.Tasks) > 0 {
				t.Errorf("%s: revoked %v, assigned %v; want revoked %v", a.Member, a.RevokedTasks, a.Tasks, want)
			}
		}
	})
}

func TestDeleted(t *testing.T) {
	t.Run("connector removed", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		owner := p.owners()
		p.deleteConnector("conn3")
		res := p.round()
		for _, a := range res.Assignments {
			for _, c := range a.RevokedConnectors {
				if c != "conn3" || owner["conn3"] != a.Member {
					t.Errorf("%s: connector %s revoked", a.Member, c)
				}
			}
			if len(a.RevokedTasks) != 1 || a.RevokedTasks[0].Connector != "conn3" {
				t.Errorf("%s: revoked tasks %v, want its one task of conn3", a.Member, a.RevokedTasks)
			}
			if len(a.Connectors)+len(a.Tasks) > 0 {
				t.Errorf("%s: assigned %v %v", a.Member, a.Connectors, a.Tasks)
			}
		}
		p.checkExactlyOnce()
		p.settle()
		p.checkExactlyOnce()
		p.checkBalanced()
	})
	t.Run("task count shrinks", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		owner := p.owners()
		p.setConnector("conn5", 1)
		res := p.round()
		var revoked []string
		for _, a := range res.Assignments {
			for _, task := range a.RevokedTasks {
				w := fmt.Sprintf("%s-%d", task.Connector, task.Task)
				if owner[w] != a.Member {
					t.Errorf("%s revoked from %s, which does not run it", w, a.Member)
				}
				revoked = append(revoked, w)
			}
			if len(a.RevokedConnectors) > 0 {
				t.Errorf("%s: connectors revoked %v", a.Member, a.RevokedConnectors)
			}
		}
		slices.Sort(revoked)
		if !slices.Equal(revoked, []string{"conn5-1", "conn5-2"}) {
			t.Errorf("revoked %v, want conn5-1 and conn5-2", revoked)
		}
		p.checkExactlyOnce()
	})
	t.Run("held work of a deleted connector", func(t *testing.T) {
		p := threeByEight(t, fiveMinutes)
		p.leave("c")
		res := p.round()
		c := res.HeldConnectors[0]
		p.deleteConnector(c)
		res = p.round()
		if slices.Contains(res.HeldConnectors, c) || slices.ContainsFunc(res.HeldTasks, func(t api.TaskID) bool { return t.Connector == c }) {
			t.Errorf("deleted %s still held: %v %v", c, res.HeldConnectors, res.HeldTasks)
		}
	})
}

func TestConfigOffsets(t *testing.T) {
	cfg := Config{Offset: 10, Tasks: map[string]int{"x": 2}}
	t.Run("a member behind", func(t *testing.T) {
		res, err := Assign(Input{Leader: "a", Config: cfg, Members: []Member{
			{ID: "a", URL: "http://a", ConfigOffset: 10},
			{ID: "b", URL: "http://b", ConfigOffset: 7},
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Assignments {
			if a.Error != NoError || a.ConfigOffset != 10 {
				t.Errorf("%s: error %d, offset %d; want 0 and 10", a.Member, a.Error, a.ConfigOffset)
			}
		}
		if b, _ := res.For("b"); len(b.Tasks) != 1 {
			t.Errorf("b (behind) gets %v, want its share of one task", b.Tasks)
		}
	})
	t.Run("the leader behind", func(t *testing.T) {
		prev, err := Assign(Input{Leader: "a", Config: cfg, Members: []Member{{ID: "a", ConfigOffset: 10}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Assign(Input{Leader: "a", Config: cfg, Previous: prev.State, Members: []Member{
			{ID: "b", URL: "http://b", ConfigOffset: 12},
			{ID: "a", URL: "http://a", ConfigOffset: 10, Connectors: []string{"x"}},
		}})
		var mismatch *ConfigMismatchError
		if !errors.Is(err, ErrConfigMismatch) || !errors.As(err, &mismatch) || mismatch.Leader != 10 || mismatch.Max != 12 {
			t.Fatalf("err = %v, want a ConfigMismatchError 10 < 12", err)
		}
		if !strings.Contains(err.Error(), "read the configs topic to the end") {
			t.Errorf("message %q does not say what to do", err)
		}
		if len(res.Assignments) != 2 || res.Assignments[0].Member != "a" {
			t.Fatalf("assignments %+v, want a and b", res.Assignments)
		}
		for _, a := range res.Assignments {
			if a.Error != ConfigMismatch || a.Leader != "a" || a.LeaderURL != "http://a" || a.ConfigOffset != 12 ||
				changed(Result{Assignments: []Assignment{a}}) {
				t.Errorf("%+v, want only CONFIG_MISMATCH from leader a at 12", a)
			}
		}
		if !reflect.DeepEqual(res.State, prev.State) {
			t.Error("the state changed on a mismatch")
		}
	})
}

func TestInputErrors(t *testing.T) {
	cfg := Config{Tasks: map[string]int{"x": 1}}
	for _, tc := range []struct {
		name string
		in   Input
		want string
	}{
		{"no members", Input{Config: cfg}, "no members"},
		{"empty id", Input{Leader: "", Members: []Member{{ID: ""}}}, "empty id"},
		{"twice", Input{Leader: "a", Members: []Member{{ID: "a"}, {ID: "a"}}}, `"a" appears twice`},
		{"leader", Input{Leader: "z", Members: []Member{{ID: "a"}}}, `leader "z" is not among`},
		{"tasks", Input{Leader: "a", Members: []Member{{ID: "a"}}, Config: Config{Tasks: map[string]int{"x": -1}}}, `"x" has a negative task count`},
		{"delay", Input{Leader: "a", Members: []Member{{ID: "a"}}, MaxDelay: -1}, "max.delay.ms is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Assign(tc.in)
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InputError saying %q", err, tc.want)
			}
		})
	}
}

func TestRevocationBackoff(t *testing.T) {
	// a runs 12 tasks; b joins, then c joins before the pool settles.
	setup := func(maxDelay time.Duration) *pool {
		p := newPool(t, maxDelay)
		p.join("a", "http://a")
		p.setConnector("x", 12)
		p.settle()
		p.join("b", "http://b")
		if res, _ := p.round().For("a"); len(res.RevokedTasks) != 6 {
			t.Fatalf("a gives up %v, want 6 tasks", res.RevokedTasks)
		}
		p.join("c", "http://c")
		p.now = p.now.Add(time.Millisecond)
		return p
	}

	p := setup(fiveMinutes)
	res := p.round()
	if a, _ := res.For("a"); len(a.RevokedTasks) > 0 {
		t.Errorf("a second revocation right after the first: %v", a.RevokedTasks)
	}
	if d := res.Assignments[0].Delay; d != 39*time.Millisecond {
		t.Errorf("delay %v, want the 40ms back-off less the 1ms gone", d)
	}
	p.now = p.now.Add(39 * time.Millisecond)
	if a, _ := p.round().For("a"); len(a.RevokedTasks) != 2 {
		t.Errorf("after the back-off a gives up %v, want 2 tasks (6 -> 4)", a.RevokedTasks)
	}
	if got := p.state.notBefore.Sub(p.now); got != 1600*time.Millisecond {
		t.Errorf("next back-off %v, want 1.6s", got)
	}
	p.round()
	p.checkBalanced()
	p.checkExactlyOnce()
	if p.state.streak != 0 || !p.state.notBefore.IsZero() {
		t.Errorf("a balanced round left streak %d, not before %v", p.state.streak, p.state.notBefore)
	}

	p = setup(0)
	if a, _ := p.round().For("a"); len(a.RevokedTasks) != 2 {
		t.Errorf("with zero delay a gives up %v at once, want 2 tasks", a.RevokedTasks)
	}
	for n, want := range []time.Duration{0, 40 * time.Millisecond, 1600 * time.Millisecond, 64 * time.Second, fiveMinutes, fiveMinutes} {
		if got := balanceBackoff(n, fiveMinutes); n > 0 && got != want {
			t.Errorf("balanceBackoff(%d) = %v, want %v", n, got, want)
		}
		if got := balanceBackoff(n, 0); got != 0 {
			t.Errorf("balanceBackoff(%d) with no delay = %v, want 0", n, got)
		}
	}
}

func TestDeterministic(t *testing.T) {
	p := threeByEight(t, fiveMinutes)
	p.join("d", "http://d")
	p.setConnector("new", 5)
	in := p.input()
	want, err := Assign(in)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		in := in
		in.Members = slices.Clone(in.Members)
		rng.Shuffle(len(in.Members), func(i, j int) { in.Members[i], in.Members[j] = in.Members[j], in.Members[i] })
		for i := range in.Members {
			m := &in.Members[i]
			m.Tasks = slices.Clone(m.Tasks)
			rng.Shuffle(len(m.Tasks), func(i, j int) { m.Tasks[i], m.Tasks[j] = m.Tasks[j], m.Tasks[i] })
		}
		got, err := Assign(in)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("a shuffled input gave another result:\n%+v\nwant\n%+v", got.Assignments, want.Assignments)
		}
	}
}
