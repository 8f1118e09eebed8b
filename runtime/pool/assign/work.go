package assign

import (
	"cmp"
	"maps"
	"slices"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// connectorTask is the task index that stands for the Connector object, as
// in the Connect protocol.
const connectorTask = -1

// work is one unit of assignment: a connector (task == connectorTask) or
// one of its tasks.
type work struct {
	conn string
	task int
}

func (w work) isTask() bool { return w.task != connectorTask }

func compareWork(a, b work) int {
	if c := cmp.Compare(a.conn, b.conn); c != 0 {
		return c
	}
	return cmp.Compare(a.task, b.task)
}

// workSet is a set of work.
type workSet map[work]struct{}

func (s workSet) add(w work) { s[w] = struct{}{} }

func (s workSet) has(w work) bool { _, ok := s[w]; return ok }

// sorted returns the work of one kind (tasks or connectors), in order.
func (s workSet) sorted(tasks bool) []work {
	out := make([]work, 0, len(s))
	for w := range s {
		if w.isTask() == tasks {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, compareWork)
	return out
}

func (s workSet) count(tasks bool) int {
	n := 0
	for w := range s {
		if w.isTask() == tasks {
			n++
		}
	}
	return n
}

// connectors returns the connectors of s, sorted; nil when there are none.
func (s workSet) connectors() []string {
	var out []string
	for _, w := range s.sorted(false) {
		out = append(out, w.conn)
	}
	return out
}

// tasks returns the tasks of s, sorted; nil when there are none.
func (s workSet) tasks() []api.TaskID {
	var out []api.TaskID
	for _, w := range s.sorted(true) {
		out = append(out, api.TaskID{Connector: w.conn, Task: w.task})
	}
	return out
}

// surplus picks n work items of one kind to take away from s: for
// connectors the last by name; for tasks, one at a time, the highest index
// of the connector with the most tasks in s (by name on a tie), so that a
// connector's tasks end up spread over the members.
func (s workSet) surplus(tasks bool, n int) []work {
	items := s.sorted(tasks)
	if n <= 0 || len(items) == 0 {
		return nil
	}
	n = min(n, len(items))
	if !tasks {
		out := slices.Clone(items[len(items)-n:])
		slices.Reverse(out)
		return out
	}
	byConn := map[string][]work{}
	for _, w := range items {
		byConn[w.conn] = append(byConn[w.conn], w)
	}
	names := slices.Sorted(maps.Keys(byConn))
	out := make([]work, 0, n)
	for range n {
		best, most := "", 0
		for _, c := range names {
			if len(byConn[c]) > most {
				best, most = c, len(byConn[c])
			}
		}
		ws := byConn[best]
		out = append(out, ws[len(ws)-1])
		byConn[best] = ws[:len(ws)-1]
	}
	return out
}
