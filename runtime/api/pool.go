package api

import (
	"context"
	"fmt"
	"net/http"
)

// The errors of a pool of workers: a request that one worker cannot
// complete because another one must. The REST layer forwards the request
// to the worker they name (runtime/rest, forward.go); when it cannot,
// both answer 409, as Connect does.

// NoLeaderMessage is Connect's answer to a write that arrives while the
// pool has no known leader.
const NoLeaderMessage = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."

// errWrongWorker is what NotLeaderError and NotOwnerError unwrap to, so
// that StatusOf and the REST layer see a 409 without knowing them.
var errWrongWorker = &Error{Status: http.StatusConflict, Message: "the request must be completed by another worker of the pool"}

// NotLeaderError says that this worker is not the pool's leader and the
// request must go to LeaderURL (the leader's REST URL, as its member
// metadata advertises it). LeaderURL is empty while the pool has no known
// leader, e.g. mid-rebalance. It is a 409 when it reaches a client
// unforwarded.
type NotLeaderError struct{ LeaderURL string }

func (e *NotLeaderError) Error() string {
	if e.LeaderURL == "" {
		return NoLeaderMessage
	}
	return fmt.Sprintf("Cannot complete request: this worker is not the leader of its pool; the leader is at %s", e.LeaderURL)
}

// Unwrap makes the error a 409 *Error for StatusOf.
func (e *NotLeaderError) Unwrap() error { return errWrongWorker }

// NotOwnerError says that the connector or task runs on another worker,
// at OwnerURL (restarts are done by the worker that runs the instance).
// What names the instance: "connector c1" or "task c1-0". OwnerURL is
// empty when no worker is known to run it (it is unassigned, or a
// rebalance is under way). It is a 409 when it reaches a client
// unforwarded.
type NotOwnerError struct {
	OwnerURL string
	What     string
}

func (e *NotOwnerError) Error() string {
	if e.OwnerURL == "" {
		return fmt.Sprintf("Cannot complete request momentarily: no worker is known to run %s, likely because a rebalance was underway; retry once it has been assigned", e.What)
	}
	return fmt.Sprintf("Cannot complete request: %s runs on another worker, at %s", e.What, e.OwnerURL)
}

// Unwrap makes the error a 409 *Error for StatusOf.
func (e *NotOwnerError) Unwrap() error { return errWrongWorker }

// Internal is what the pool's internal (worker-to-worker) REST endpoints
// call; the Herder implements it. Its methods are safe for concurrent use
// and return promptly, as Herder's do.
type Internal interface {
	// PutTaskConfigs writes task configs that connector's instance
	// computed on another worker. Only the leader accepts it; otherwise
	// *NotLeaderError.
	PutTaskConfigs(ctx context.Context, connector string, configs []map[string]string) error
	// FenceZombies fences the connector's previous task generation
	// (KIP-618). Only the leader accepts it; otherwise *NotLeaderError.
	FenceZombies(ctx context.Context, connector string) error
}
