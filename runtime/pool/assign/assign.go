package assign

import (
	"cmp"
	"slices"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// Member is one group member as the leader sees it in a rebalance: its
// metadata and the work it runs now.
type Member struct {
	// ID is the member id the group coordinator gave it.
	ID string
	// URL is its advertised REST URL. A worker that rejoins under a new
	// member id keeps its URL, which lets its lost work go back to it.
	URL string
	// ConfigOffset is the configs-topic offset it has read.
	ConfigOffset int64
	// Connectors and Tasks are what it runs (its previous assignment).
	// A task index of -1 stands for the Connector object, as on the wire.
	Connectors []string
	Tasks      []api.TaskID
}

// Config is the leader's snapshot of the configs topic.
type Config struct {
	// Offset is the configs-topic offset the snapshot was read to.
	Offset int64
	// Tasks maps each configured connector to its committed task count
	// (0 while the connector has not generated task configs yet).
	Tasks map[string]int
}

// Input is everything one assignment is computed from.
type Input struct {
	// Leader is the member id of the leader (the caller).
	Leader string
	// Members are the members of this generation, in any order.
	Members []Member
	// Config is the leader's snapshot of the configs topic.
	Config Config
	// Previous is the State the previous call returned; the zero State
	// for a new leader.
	Previous State
	// Now is the time of the rebalance.
	Now time.Time
	// MaxDelay is scheduled.rebalance.max.delay.ms: how long lost work
	// waits for its member, and the cap of the revocation back-off.
	MaxDelay time.Duration
}

// Code is the error code of an assignment, as the Connect protocol sends it.
type Code int16

// Assignment error codes.
const (
	NoError Code = 0
	// ConfigMismatch tells members that the leader's config was behind
	// theirs; they rejoin after the leader has caught up.
	ConfigMismatch Code = 1
)

// Assignment is what one member is told in a rebalance. Connectors and
// Tasks are incremental: only the work it starts now; what it runs and
// is not revoked, it keeps.
type Assignment struct {
	Member       string
	Error        Code
	Leader       string
	LeaderURL    string
	ConfigOffset int64
	// Connectors and Tasks are the work to start, sorted.
	Connectors []string
	Tasks      []api.TaskID
	// RevokedConnectors and RevokedTasks are the work to stop, sorted.
	RevokedConnectors []string
	RevokedTasks      []api.TaskID
	// Delay, when positive, is how long after this rebalance the leader
	// wants another one (lost work to release, a revocation to retry).
	// Whole milliseconds: the protocol carries it as int32 ms.
	Delay time.Duration
}

// Result is the outcome of one assignment.
type Result struct {
	// Assignments has one entry per member, sorted by member id.
	Assignments []Assignment
	// HeldConnectors and HeldTasks are the lost work held back for a
	// departed member: assigned to nobody in this round (UNASSIGNED).
	HeldConnectors []string
	HeldTasks      []api.TaskID
	// State is what the next call needs as Input.Previous.
	State State
}

// For returns the assignment of the member with the given id.
func (r Result) For(member string) (Assignment, bool) {
	i, ok := slices.BinarySearchFunc(r.Assignments, member, func(a Assignment, id string) int {
		return cmp.Compare(a.Member, id)
	})
	if !ok {
		return Assignment{}, false
	}
	return r.Assignments[i], true
}

// Assign computes the assignment of one rebalance. It does not modify its
// input and is safe to call from any goroutine.
//
// It returns an *InputError for an input the leader should never build
// (no members, a leader that is not a member, duplicate member ids, a
// negative task count or delay). When a member has read the configs
// topic further than the leader's Config, it returns a
// *ConfigMismatchError (errors.Is ErrConfigMismatch) together with a
// Result whose assignments all carry ConfigMismatch and whose State is
// Previous unchanged: send those, or read the configs topic to the end
// and call Assign again.
func Assign(in Input) (Result, error) {
	if err := validate(in); err != nil {
		return Result{}, err
	}
	members := slices.Clone(in.Members)
	slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.ID, b.ID) })
	leaderURL := ""
	maxOffset := in.Config.Offset
	for _, m := range members {
		if m.ID == in.Leader {
			leaderURL = m.URL
		}
		maxOffset = max(maxOffset, m.ConfigOffset)
	}
	if maxOffset > in.Config.Offset {
		res := Result{State: in.Previous}
		for _, m := range members {
			res.Assignments = append(res.Assignments, Assignment{
				Member: m.ID, Error: ConfigMismatch, Leader: in.Leader, LeaderURL: leaderURL,
				ConfigOffset: maxOffset,
			})
		}
		return res, &ConfigMismatchError{Leader: in.Config.Offset, Max: maxOffset}
	}

	r := newRound(in, members)
	r.run()

	res := Result{State: r.next}
	for m, mem := range members {
		a := r.output(m)
		a.Member, a.Leader, a.LeaderURL, a.ConfigOffset, a.Delay = mem.ID, in.Leader, leaderURL, in.Config.Offset, r.delay
		res.Assignments = append(res.Assignments, a)
	}
	res.HeldConnectors, res.HeldTasks = r.heldWork()
	return res, nil
}

// validate reports an input no leader should build.
func validate(in Input) error {
	if len(in.Members) == 0 {
		return &InputError{Reason: "no members"}
	}
	seen := make(map[string]bool, len(in.Members))
	for _, m := range in.Members {
		if m.ID == "" {
			return &InputError{Reason: "a member has an empty id"}
		}
		if seen[m.ID] {
			return &InputError{Reason: "member id " + quote(m.ID) + " appears twice"}
		}
		seen[m.ID] = true
	}
	if !seen[in.Leader] {
		return &InputError{Reason: "leader " + quote(in.Leader) + " is not among the members"}
	}
	for c, n := range in.Config.Tasks {
		if n < 0 {
			return &InputError{Reason: "connector " + quote(c) + " has a negative task count"}
		}
	}
	if in.MaxDelay < 0 {
		return &InputError{Reason: "scheduled.rebalance.max.delay.ms is negative"}
	}
	return nil
}
