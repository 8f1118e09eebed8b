package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The sink circuit breaker.
//
// When a sink's Put keeps failing with a retriable error (its database is
// down) past errors.retry.timeout, the breaker opens instead of failing
// the task: the runner keeps the batch that failed, pauses fetching every
// topic it consumes and polls no more, so nothing is buffered beyond that
// one batch and no loop spins. The task stays RUNNING, its status trace
// saying since when the breaker is open, why, and when it tries again.
// Half-open probes offer the same batch to Put again, after
// sluice.circuit.breaker.probe.initial.ms, doubling (with jitter) up to
// sluice.circuit.breaker.probe.max.ms. The first probe that succeeds
// closes the breaker: the batch's offsets become committable, fetching
// resumes and the trace clears. Nothing is lost: offsets are never
// committed past the held batch, and partitions taken away meanwhile drop
// their held records (their next owner reads them from the committed
// offset).
//
// The breaker's state is guarded by the sink runner's mu; the probes run
// on the runner's goroutine.

// Properties of the circuit breaker.
const (
	propBreakerEnable  = "sluice.circuit.breaker.enable"
	propBreakerInitial = "sluice.circuit.breaker.probe.initial.ms"
	propBreakerMax     = "sluice.circuit.breaker.probe.max.ms"
	groupBreaker       = "Circuit breaker"
)

var breakerKeys = []config.Key{
	{Name: propBreakerEnable, Type: config.Boolean, Default: "true", Importance: config.Medium, Group: groupBreaker,
		Doc: "When a sink's put keeps failing with a retriable error (the target is down) past errors.retry.timeout, pause consumption and probe the target with back-off, staying RUNNING (the status trace says why and when the next probe is), instead of failing the task. false fails the task (and restarts it by sluice.task.restart.*)."},
	{Name: propBreakerInitial, Type: config.Long, Default: "1000", Importance: config.Low, Group: groupBreaker, Validator: config.AtLeast(1),
		Doc: "Wait before the first probe once the circuit breaker opened; doubled (with jitter) after each failed probe."},
	{Name: propBreakerMax, Type: config.Long, Default: "60000", Importance: config.Low, Group: groupBreaker, Validator: config.AtLeast(1),
		Doc: "Longest wait between two probes of an open circuit breaker."},
}

// breaker is a sink task's circuit breaker.
type breaker struct {
	enabled          bool
	initial, maxWait time.Duration

	// Guarded by the sink runner's mu.
	held     *delivery // the batch that failed; nil: closed
	openedAt time.Time
	attempt  int
	next     time.Time // the next probe
	cause    error
	paused   []string // topics whose fetching is paused
}

// parseBreaker reads the breaker's properties of a parsed sink config.
func parseBreaker(v *config.Values) breaker {
	return breaker{enabled: v.Bool(propBreakerEnable), initial: v.Duration(propBreakerInitial), maxWait: v.Duration(propBreakerMax)}
}

// delivery is one batch for Put, with what committing it takes.
type delivery struct {
	batch []*connectors.Record
	// origs[i] is the consumed record batch[i] came from.
	origs []*kgo.Record
	// next and first are the next offset after the batch, and the first
	// offset of it, per partition (of every record fetched, also those
	// skipped or dropped by a transform).
	next, first map[connectors.TopicPartition]int64
}

// openBreaker holds d, pauses fetching and reports the problem; r.mu is
// held.
func (r *sinkRunner) openBreaker(d *delivery, cause error) {
	b := &r.brk
	now := time.Now()
	b.held, b.openedAt, b.attempt, b.cause = d, now, 0, cause
	b.next = now.Add(jitteredBackoff(b.initial, b.maxWait, 0))
	b.paused = r.client.GetConsumeTopics()
	r.client.PauseFetchTopics(b.paused...)
	r.logger.Warn("circuit breaker open: put keeps failing with a retriable error; consumption paused", "error", cause,
		"next_probe", b.next.Format(time.RFC3339Nano))
	r.reportBreaker()
}

// reportBreaker shows the open breaker in the task's status trace; r.mu
// is held.
func (r *sinkRunner) reportBreaker() {
	if r.onProblem == nil {
		return
	}
	b := &r.brk
	r.onProblem(fmt.Errorf("circuit breaker open since %s: put keeps failing with a retriable error past errors.retry.timeout "+
		"(%d probes failed so far); consumption is paused and no offset is committed past the unwritten records; "+
		"next probe at %s: %w", b.openedAt.UTC().Format(time.RFC3339), b.attempt, b.next.UTC().Format(time.RFC3339Nano), b.cause))
}

// breakerOpen reports whether the breaker is open.
func (r *sinkRunner) breakerOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.brk.held != nil
}

// probe waits for the next probe time (or until ctx ends or the task is
// paused) and then offers the held batch to Put again. It returns the
// error that fails the task.
func (r *sinkRunner) probe(ctx context.Context) error {
	r.mu.Lock()
	wait := time.Until(r.brk.next)
	r.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		case <-r.pause.pausedChan():
			return nil
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.brk
	d := b.held
	if d == nil {
		return nil
	}
	err := r.deliver(ctx, d, true)
	if err != nil || ctx.Err() != nil {
		return err
	}
	if r.brk.held != nil {
		// Failed again, retriably.
		b.attempt++
		b.next = time.Now().Add(jitteredBackoff(b.initial, b.maxWait, b.attempt))
		r.logger.Warn("circuit breaker probe failed; consumption stays paused", "error", b.cause, "next_probe", b.next.Format(time.RFC3339Nano))
		r.reportBreaker()
	}
	return nil
}

// closeBreaker resumes fetching after a probe succeeded; r.mu is held.
func (r *sinkRunner) closeBreaker() {
	b := &r.brk
	r.logger.Info("circuit breaker closed: put succeeded; consumption resumed", "open_for", time.Since(b.openedAt).Round(time.Millisecond),
		"probes", b.attempt+1)
	r.client.ResumeFetchTopics(b.paused...)
	b.held, b.paused, b.cause = nil, nil, nil
	if r.onProblem != nil {
		r.onProblem(nil)
	}
}

// dropHeld drops the held records of partitions taken away; r.mu is held.
func (r *sinkRunner) dropHeld(tps []connectors.TopicPartition) {
	d := r.brk.held
	if d == nil {
		return
	}
	gone := map[connectors.TopicPartition]bool{}
	for _, tp := range tps {
		gone[tp] = true
		delete(d.next, tp)
		delete(d.first, tp)
	}
	keep := 0
	for i, o := range d.origs {
		if gone[connectors.TopicPartition{Topic: o.Topic, Partition: o.Partition}] {
			continue
		}
		d.batch[keep], d.origs[keep] = d.batch[i], o
		keep++
	}
	clear(d.batch[keep:])
	clear(d.origs[keep:])
	d.batch, d.origs = d.batch[:keep], d.origs[:keep]
}
