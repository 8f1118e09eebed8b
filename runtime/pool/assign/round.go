package assign

import (
	"math"
	"slices"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// none marks "no member" in the per-work arrays of a round.
const none = -1

// round computes one assignment; see the package doc for the algorithm.
//
// The configured work is numbered in sorted order (connector name, then
// task index, the Connector object first), and each fact about a piece of
// work is an array indexed by that number, holding a member's index in
// members or none. Iterating by number therefore visits work in the
// deterministic order, without maps or sorting on the hot path.
type round struct {
	in      Input
	members []Member       // sorted by id
	byURL   map[string]int // REST URL -> lowest member index with it

	all    []work       // configured work, sorted
	number map[work]int // work -> its index in all

	holder []int    // the member that runs it and keeps it
	pinned []int    // the member it goes back to (it ran it before)
	free   []bool   // new work, or lost work released now
	held   []bool   // lost work held back for a departed member
	to     []int    // the member it is assigned to in this round
	from   []int    // the member that gives it up to balance the load
	gone   [][]work // per member: deleted or duplicated work it must stop

	next  State
	delay time.Duration // the follow-up rebalance wanted, 0 for none
}

func newRound(in Input, members []Member) *round {
	names := make([]string, 0, len(in.Config.Tasks))
	size := 0
	for c, n := range in.Config.Tasks {
		names = append(names, c)
		size += 1 + n
	}
	slices.Sort(names)
	r := &round{
		in: in, members: members,
		byURL:  map[string]int{},
		all:    make([]work, 0, size),
		number: make(map[work]int, size),
		holder: filled(size, none), pinned: filled(size, none),
		to: filled(size, none), from: filled(size, none),
		free: make([]bool, size), held: make([]bool, size),
		gone: make([][]work, len(members)),
		next: State{
			owner: make(map[work]string, size),
			urls:  make(map[string]string, len(members)),
			lost:  map[work]lostWork{},
		},
	}
	for _, c := range names {
		r.number[work{conn: c, task: connectorTask}] = len(r.all)
		r.all = append(r.all, work{conn: c, task: connectorTask})
		for i := range in.Config.Tasks[c] {
			r.number[work{conn: c, task: i}] = len(r.all)
			r.all = append(r.all, work{conn: c, task: i})
		}
	}
	for i, m := range members {
		r.next.urls[m.ID] = m.URL
		if _, ok := r.byURL[m.URL]; !ok && m.URL != "" {
			r.byURL[m.URL] = i
		}
	}
	return r
}

func filled(n, v int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func (r *round) run() {
	r.sortClaims()
	r.placeUnclaimed()

	balancing := len(r.next.lost) == 0 && !r.in.Now.Before(r.in.Previous.notBefore)
	needC := r.balance(false, balancing)
	needT := r.balance(true, balancing)
	switch {
	case !needC && !needT:
		// Balanced (or only waiting on lost work): the back-off starts over.
	case balancing:
		r.next.streak = r.in.Previous.streak + 1
		r.next.notBefore = r.in.Now.Add(balanceBackoff(r.next.streak, r.in.MaxDelay))
	default:
		r.next.streak, r.next.notBefore = r.in.Previous.streak, r.in.Previous.notBefore
		if len(r.next.lost) == 0 {
			r.want(r.next.notBefore)
		}
	}

	for n, w := range r.all {
		if m := r.holder[n]; m != none {
			r.next.owner[w] = r.members[m].ID
		} else if m := r.to[n]; m != none {
			r.next.owner[w] = r.members[m].ID
		}
	}
}

// sortClaims sorts the work members report: deleted work is revoked from
// all, duplicated work kept by one member and revoked from the others.
func (r *round) sortClaims() {
	var dups map[int][]int // work number -> further claimers, rarely any
	claim := func(m int, w work) {
		n, ok := r.number[w]
		switch {
		case !ok:
			r.gone[m] = append(r.gone[m], w)
		case r.holder[n] == none:
			r.holder[n] = m
		case r.holder[n] != m && !slices.Contains(dups[n], m):
			if dups == nil {
				dups = map[int][]int{}
			}
			dups[n] = append(dups[n], m)
		}
	}
	for m, mem := range r.members { // by id: the first claimer has the lowest id
		for _, c := range mem.Connectors {
			claim(m, work{conn: c, task: connectorTask})
		}
		for _, t := range mem.Tasks {
			claim(m, work{conn: t.Connector, task: t.Task})
		}
	}
	for n, others := range dups {
		claimers := append([]int{r.holder[n]}, others...)
		keeper := r.holder[n]
		if prev, ok := r.in.Previous.owner[r.all[n]]; ok {
			for _, m := range claimers {
				if r.members[m].ID == prev {
					keeper = m
				}
			}
		}
		r.holder[n] = keeper
		for _, m := range claimers {
			if m != keeper {
				r.gone[m] = append(r.gone[m], r.all[n])
			}
		}
	}
}

// placeUnclaimed decides what becomes of configured work nobody runs: back
// to its member if it is in the group, held back if its member departed
// less than MaxDelay ago, free otherwise.
func (r *round) placeUnclaimed() {
	prev := r.in.Previous
	present := make(map[string]int, len(r.members))
	for i, m := range r.members {
		present[m.ID] = i
	}
	for n, w := range r.all {
		if r.holder[n] != none {
			continue
		}
		var lw lostWork
		if id, ok := prev.owner[w]; ok {
			lw = lostWork{member: id, url: prev.urls[id]}
		} else if held, ok := prev.lost[w]; ok {
			lw = held
		} else {
			r.free[n] = true
			continue
		}
		if m, ok := present[lw.member]; ok {
			r.pinned[n] = m
			continue
		}
		if m, ok := r.byURL[lw.url]; ok && lw.url != "" {
			r.pinned[n] = m
			continue
		}
		if r.in.MaxDelay == 0 {
			r.free[n] = true
			continue
		}
		if lw.deadline.IsZero() {
			lw.deadline = r.in.Now.Add(r.in.MaxDelay)
		}
		if !r.in.Now.Before(lw.deadline) {
			r.free[n] = true
			continue
		}
		r.held[n] = true
		r.next.lost[w] = lw
		r.want(lw.deadline)
	}
}

// want asks for a follow-up rebalance at t (the earliest one wins).
func (r *round) want(t time.Time) {
	d := t.Sub(r.in.Now)
	if d <= 0 {
		return
	}
	d = min(d, r.in.MaxDelay)
	if rem := d % time.Millisecond; rem != 0 {
		d += time.Millisecond - rem
	}
	d = min(d, math.MaxInt32*time.Millisecond)
	if r.delay == 0 || d < r.delay {
		r.delay = d
	}
}

// balance gives out the work of one kind (connectors or tasks): each
// member gets its share, given-back work first, then free work to those
// below their share. With revoke, a member above its share gives up the
// surplus of what it runs. It reports whether some member runs more than
// its share.
func (r *round) balance(tasks bool, revoke bool) (needed bool) {
	k := len(r.members)
	load := make([]int, k)
	kept := make([][]int, k) // per member, the work numbers of this kind
	pinned := make([][]int, k)
	var free []int
	total := 0
	for n, w := range r.all {
		if w.isTask() != tasks {
			continue
		}
		total++
		if m := r.holder[n]; m != none {
			kept[m] = append(kept[m], n)
			load[m]++
		} else if m := r.pinned[n]; m != none {
			pinned[m] = append(pinned[m], n)
			load[m]++
		} else if r.free[n] {
			free = append(free, n)
		}
	}
	// The members that run the most get the extra ones, so the fewest move.
	order := make([]int, k)
	for m := range order {
		order[m] = m
	}
	slices.SortStableFunc(order, func(a, b int) int { return load[b] - load[a] })
	share := make([]int, k)
	for i, m := range order {
		share[m] = total / k
		if i < total%k {
			share[m]++
		}
	}

	trimmed := false
	for m := range k {
		over := load[m] - share[m]
		// Given-back work beyond the share goes to others instead.
		for _, n := range r.surplus(pinned[m], over) {
			pinned[m] = slices.DeleteFunc(pinned[m], func(x int) bool { return x == n })
			free = append(free, n)
			load[m]--
			over--
			trimmed = true
		}
		for _, n := range pinned[m] {
			r.to[n] = m
		}
		if over <= 0 {
			continue
		}
		needed = true
		if !revoke {
			continue
		}
		for _, n := range r.surplus(kept[m], over) {
			r.holder[n], r.from[n] = none, m
			load[m]--
		}
	}
	if trimmed {
		slices.Sort(free)
	}

	for _, n := range free {
		best := 0
		for m := 1; m < k; m++ {
			if lighter(m, best, load, share) {
				best = m
			}
		}
		r.to[n] = best
		load[best]++
	}
	return needed
}

// surplus picks count work numbers of one kind to take away from ns
// (sorted): for connectors the last by name; for tasks, one at a time,
// the highest index of the connector with the most tasks in ns (by name
// on a tie), so that a connector's tasks end up spread over the members.
func (r *round) surplus(ns []int, count int) []int {
	if count <= 0 || len(ns) == 0 {
		return nil
	}
	count = min(count, len(ns))
	if !r.all[ns[0]].isTask() {
		out := slices.Clone(ns[len(ns)-count:])
		slices.Reverse(out)
		return out
	}
	// runs[i] is the slice of ns that holds one connector's tasks.
	var runs [][]int
	for i := 0; i < len(ns); {
		j := i + 1
		for j < len(ns) && r.all[ns[j]].conn == r.all[ns[i]].conn {
			j++
		}
		runs = append(runs, ns[i:j:j])
		i = j
	}
	out := make([]int, 0, count)
	for range count {
		best := 0
		for i := range runs {
			if len(runs[i]) > len(runs[best]) {
				best = i
			}
		}
		run := runs[best]
		out = append(out, run[len(run)-1])
		runs[best] = run[:len(run)-1]
	}
	return out
}

// lighter reports whether member a should get the next free work before
// b: members below their share first, then the least loaded.
func lighter(a, b int, load, share []int) bool {
	ua, ub := load[a] < share[a], load[b] < share[b]
	if ua != ub {
		return ua
	}
	return load[a] < load[b]
}

// output returns what member m starts and stops, sorted.
func (r *round) output(m int) (a Assignment) {
	for n, w := range r.all {
		switch m {
		case r.to[n]:
			if w.isTask() {
				a.Tasks = append(a.Tasks, api.TaskID{Connector: w.conn, Task: w.task})
			} else {
				a.Connectors = append(a.Connectors, w.conn)
			}
		case r.from[n]:
			if w.isTask() {
				a.RevokedTasks = append(a.RevokedTasks, api.TaskID{Connector: w.conn, Task: w.task})
			} else {
				a.RevokedConnectors = append(a.RevokedConnectors, w.conn)
			}
		}
	}
	if len(r.gone[m]) == 0 {
		return a
	}
	for _, w := range r.gone[m] {
		if w.isTask() {
			a.RevokedTasks = append(a.RevokedTasks, api.TaskID{Connector: w.conn, Task: w.task})
		} else {
			a.RevokedConnectors = append(a.RevokedConnectors, w.conn)
		}
	}
	slices.Sort(a.RevokedConnectors)
	a.RevokedConnectors = slices.Compact(a.RevokedConnectors)
	slices.SortFunc(a.RevokedTasks, compareTask)
	a.RevokedTasks = slices.Compact(a.RevokedTasks)
	return a
}

// heldWork returns the work held back in this round, sorted.
func (r *round) heldWork() (connectors []string, tasks []api.TaskID) {
	for n, w := range r.all {
		if !r.held[n] {
			continue
		}
		if w.isTask() {
			tasks = append(tasks, api.TaskID{Connector: w.conn, Task: w.task})
		} else {
			connectors = append(connectors, w.conn)
		}
	}
	return connectors, tasks
}
