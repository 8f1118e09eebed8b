package assign

import (
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// State is what the leader remembers between rebalances: the assignment it
// computed, the lost work it holds back and the load-balancing back-off.
// The zero State is a new leader's. A State is never modified after Assign
// returns it, so it may be kept and read from any goroutine.
type State struct {
	// owner maps the work each member runs or was assigned to its member
	// id. Revoked and held work has no owner.
	owner map[work]string
	// urls maps the member ids of that round to their REST URLs.
	urls map[string]string
	// lost is the work held back for a departed member.
	lost map[work]lostWork
	// streak counts the load-balancing revocations since the last
	// balanced round; notBefore is when the next one may happen.
	streak    int
	notBefore time.Time
}

// lostWork remembers whose lost work is and until when it waits for it.
type lostWork struct {
	member, url string
	deadline    time.Time
}

// ConnectorOwner returns the member that runs the connector or was
// assigned it in the round that produced s.
func (s State) ConnectorOwner(connector string) (member string, ok bool) {
	member, ok = s.owner[work{conn: connector, task: connectorTask}]
	return member, ok
}

// TaskOwner returns the member that runs the task or was assigned it in the
// round that produced s.
func (s State) TaskOwner(t api.TaskID) (member string, ok bool) {
	if t.Task < 0 {
		return "", false
	}
	member, ok = s.owner[work{conn: t.Connector, task: t.Task}]
	return member, ok
}

// balanceBackoff is how long the load-balancing revocation after the
// streak-th consecutive one waits: 40 ms, 1.6 s, 64 s, ... (a factor of
// 40 from 1 ms, as Kafka Connect's), never more than maxDelay; zero when
// maxDelay is.
func balanceBackoff(streak int, maxDelay time.Duration) time.Duration {
	d := time.Millisecond
	for range streak {
		if d >= maxDelay {
			break
		}
		d *= 40
	}
	return min(d, maxDelay)
}
