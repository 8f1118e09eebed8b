package assign

import (
	"math"
	"slices"
	"time"
)

// plan is what one member keeps, starts and stops in a round.
type plan struct {
	kept     workSet // runs it and keeps it
	pinned   workSet // its own work, given back to it
	assigned workSet // starts it
	revoked  workSet // stops it
}

func newPlan() *plan {
	return &plan{kept: workSet{}, pinned: workSet{}, assigned: workSet{}, revoked: workSet{}}
}

// round computes one assignment; see the package doc for the algorithm.
type round struct {
	in      Input
	members []Member // sorted by id
	plans   map[string]*plan
	byURL   map[string]string // REST URL -> lowest member id with it
	free    workSet           // new work and lost work released now
	next    State
	delay   time.Duration // the follow-up rebalance wanted, 0 for none
}

func newRound(in Input, members []Member) *round {
	r := &round{
		in: in, members: members,
		plans: make(map[string]*plan, len(members)),
		byURL: map[string]string{},
		free:  workSet{},
		next: State{
			urls:  make(map[string]string, len(members)),
			lost:  map[work]lostWork{},
		},
	}
	for _, m := range members {
		p := newPlan()
		p.kept = make(workSet, len(m.Connectors)+len(m.Tasks))
		r.plans[m.ID] = p
		r.next.urls[m.ID] = m.URL
		if _, ok := r.byURL[m.URL]; !ok && m.URL != "" {
			r.byURL[m.URL] = m.ID
		}
	}
	return r
}

func (r *round) run() {
	size := len(r.in.Config.Tasks)
	for _, n := range r.in.Config.Tasks {
		size += n
	}
	configured := make(workSet, size)
	r.next.owner = make(map[work]string, size)
	for c, n := range r.in.Config.Tasks {
		configured.add(work{conn: c, task: connectorTask})
		for i := range n {
			configured.add(work{conn: c, task: i})
		}
	}
	claimed := r.sortClaims(configured)
	r.placeUnclaimed(configured, claimed)

	balancing := len(r.next.lost) == 0 && !r.in.Now.Before(r.in.Previous.notBefore)
	needC := r.balance(false, configured.count(false), balancing)
	needT := r.balance(true, configured.count(true), balancing)
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

	for id, p := range r.plans {
		for w := range p.kept {
			r.next.owner[w] = id
		}
		for w := range p.assigned {
			r.next.owner[w] = id
		}
	}
}

// sortClaims sorts the work members report into kept and revoked (deleted
// and duplicated work) and returns the set of work someone keeps.
func (r *round) sortClaims(configured workSet) workSet {
	claims := make(map[work][]string, len(configured))
	for _, m := range r.members { // by id, so each claim list is sorted
		for _, c := range m.Connectors {
			claims[work{conn: c, task: connectorTask}] = appendOnce(claims[work{conn: c, task: connectorTask}], m.ID)
		}
		for _, t := range m.Tasks {
			w := work{conn: t.Connector, task: t.Task}
			claims[w] = appendOnce(claims[w], m.ID)
		}
	}
	kept := make(workSet, len(claims))
	for w, ids := range claims {
		if !configured.has(w) {
			for _, id := range ids {
				r.plans[id].revoked.add(w)
			}
			continue
		}
		keeper := ids[0]
		if prev, ok := r.in.Previous.owner[w]; ok && slices.Contains(ids, prev) {
			keeper = prev
		}
		for _, id := range ids {
			if id == keeper {
				r.plans[id].kept.add(w)
			} else {
				r.plans[id].revoked.add(w)
			}
		}
		kept.add(w)
	}
	return kept
}

func appendOnce(ids []string, id string) []string {
	if len(ids) > 0 && ids[len(ids)-1] == id {
		return ids // a member that lists the same work twice
	}
	return append(ids, id)
}

// placeUnclaimed decides what becomes of configured work nobody runs: back
// to its member if it is in the group, held back if its member departed
// less than MaxDelay ago, free otherwise.
func (r *round) placeUnclaimed(configured, claimed workSet) {
	prev := r.in.Previous
	for w := range configured {
		if claimed.has(w) {
			continue
		}
		var lw lostWork
		if id, ok := prev.owner[w]; ok {
			lw = lostWork{member: id, url: prev.urls[id]}
		} else if held, ok := prev.lost[w]; ok {
			lw = held
		} else {
			r.free.add(w)
			continue
		}
		if _, ok := r.plans[lw.member]; ok {
			r.plans[lw.member].pinned.add(w)
			continue
		}
		if id, ok := r.byURL[lw.url]; ok && lw.url != "" {
			r.plans[id].pinned.add(w)
			continue
		}
		if r.in.MaxDelay == 0 {
			r.free.add(w)
			continue
		}
		if lw.deadline.IsZero() {
			lw.deadline = r.in.Now.Add(r.in.MaxDelay)
		}
		if !r.in.Now.Before(lw.deadline) {
			r.free.add(w)
			continue
		}
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

// balance gives out the work of one kind (connectors or tasks) for a total
// of total configured: each member gets its share, given back work first,
// then free work to those below their share. With revoke, a member above
// its share gives up the surplus of what it runs. It reports whether some
// member runs more than its share.
func (r *round) balance(tasks bool, total int, revoke bool) (needed bool) {
	n := len(r.members)
	load := make(map[string]int, n)
	order := make([]string, n)
	for i, m := range r.members {
		p := r.plans[m.ID]
		load[m.ID] = p.kept.count(tasks) + p.pinned.count(tasks)
		order[i] = m.ID
	}
	// The members that run the most get the extra ones, so the fewest move.
	slices.SortStableFunc(order, func(a, b string) int { return load[b] - load[a] })
	share := make(map[string]int, n)
	for i, id := range order {
		share[id] = total / n
		if i < total%n {
			share[id]++
		}
	}

	free := workSet{}
	for w := range r.free {
		if w.isTask() == tasks {
			free.add(w)
		}
	}
	for _, m := range r.members {
		p := r.plans[m.ID]
		over := load[m.ID] - share[m.ID]
		// Given-back work beyond the share goes to others instead.
		for _, w := range p.pinned.surplus(tasks, over) {
			delete(p.pinned, w)
			free.add(w)
			load[m.ID]--
			over--
		}
		for w := range p.pinned {
			if w.isTask() == tasks {
				p.assigned.add(w)
			}
		}
		if over <= 0 {
			continue
		}
		needed = true
		if !revoke {
			continue
		}
		for _, w := range p.kept.surplus(tasks, over) {
			delete(p.kept, w)
			p.revoked.add(w)
			load[m.ID]--
		}
	}

	for _, w := range free.sorted(tasks) {
		best := ""
		for _, m := range r.members {
			if best == "" || lighter(m.ID, best, load, share) {
				best = m.ID
			}
		}
		r.plans[best].assigned.add(w)
		load[best]++
	}
	return needed
}

// lighter reports whether member a should get the next free work before
// b: members below their share first, then the least loaded.
func lighter(a, b string, load, share map[string]int) bool {
	ua, ub := load[a] < share[a], load[b] < share[b]
	if ua != ub {
		return ua
	}
	return load[a] < load[b]
}
