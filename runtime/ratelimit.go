package runtime

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Rate limits (sluice.rate.limit.*): token buckets in the task loops.
//
// A connector's limit is divided evenly among its tasks: each task gets
// limit/tasks per second and a burst of one second of that share. A
// source task waits for tokens before Poll and before handing each
// record to the producer, so a limited task polls its database no faster
// than it may write; a sink task waits before fetching and polls no more
// records than it may hand to Put, so the consumer stops fetching instead
// of buffering.
//
// Records are counted against a bucket that must hold a whole token; bytes
// are only known once a record is serialized (sources) or fetched (sinks),
// so the bytes bucket may go into debt by one record (or one poll, for
// sinks) and the next record waits until the debt is paid. Either way the
// long-run rate is the limit.

// Connector properties of the rate limits.
const (
	propRateRecords = "sluice.rate.limit.records.per.sec"
	propRateBytes   = "sluice.rate.limit.bytes.per.sec"
	groupRateLimits = "Rate limits"
)

// rateLimitKeys are the rate limit properties, part of commonDef.
var rateLimitKeys = []config.Key{
	{Name: propRateRecords, Type: config.Double, Default: "0", Importance: config.Medium, Group: groupRateLimits,
		Validator: nonNegativeRate("records"),
		Doc: "Most records per second the connector hands to Kafka (a source) or to the sink (a sink), divided evenly " +
			"among its tasks, with a burst of at most one second's worth; 0 means no limit."},
	{Name: propRateBytes, Type: config.Long, Default: "0", Importance: config.Medium, Group: groupRateLimits,
		Validator: nonNegativeRate("bytes"),
		Doc: "Most bytes per second (serialized keys and values) the connector hands to Kafka (a source) or fetches " +
			"for the sink (a sink), divided evenly among its tasks, with a burst of about one second's worth; 0 means no limit."},
}

// nonNegativeRate accepts a finite number >= 0.
func nonNegativeRate(unit string) config.Validator {
	return func(name string, value any) error {
		var f float64
		switch n := value.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		}
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("must be a number of %s per second, at least 0 (0 means no limit); set a non-negative number or remove the property", unit)
		}
		return nil
	}
}

// rateLimits is one task's share of the connector's limits, per second;
// 0 is no limit.
type rateLimits struct {
	records, bytes float64
}

// parseRateLimits returns a task's share of the limits in v, a connector
// config parsed by commonDef, for a connector with tasks tasks.
func parseRateLimits(v *config.Values, tasks int) rateLimits {
	tasks = max(tasks, 1)
	return rateLimits{records: v.Double(propRateRecords) / float64(tasks), bytes: float64(v.Long(propRateBytes)) / float64(tasks)}
}

func (l rateLimits) set() bool { return l.records > 0 || l.bytes > 0 }

// bucket is a token bucket: rate tokens a second, at most burst kept.
// It is not safe for concurrent use; it reads no clock (the caller
// passes now), so tests drive it with a fake one.
type bucket struct {
	rate   float64 // tokens per second
	burst  float64 // most tokens kept: one second's worth, at least 1
	tokens float64 // may be negative: a debt the next takers wait for
	last   time.Time
}

// newBucket returns an empty bucket: a task starts without a burst.
func newBucket(rate float64, now time.Time) *bucket {
	return &bucket{rate: rate, burst: max(rate, 1), last: now}
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
}

// maxRateWait bounds one computed wait, so that a tiny rate cannot
// overflow a time.Duration; the waiter computes the rest again.
const maxRateWait = time.Minute

// delay returns how long from now until the bucket holds need tokens
// (0: it does now), at most maxRateWait.
func (b *bucket) delay(now time.Time, need float64) time.Duration {
	b.refill(now)
	if b.tokens >= need {
		return 0
	}
	ns := math.Ceil((need - b.tokens) / b.rate * float64(time.Second))
	if ns >= float64(maxRateWait) {
		return maxRateWait
	}
	return time.Duration(ns)
}

// take removes n tokens, going into debt when there are fewer.
func (b *bucket) take(n float64) { b.tokens -= n }

// minRateWait is the shortest wait for tokens: at high rates, tokens
// gather for a few milliseconds and go in a burst, rather than the loop
// waking for every record. Sleeping longer than needed costs no
// throughput: the tokens gathered meanwhile are spent at once.
const minRateWait = 5 * time.Millisecond

// limiter is a task's rate limiter. A runner holds a nil *limiter when no
// limit is set, so the per-record cost of an unlimited task is one nil
// check. It is used by the task loop only.
type limiter struct {
	records, bytes *bucket // nil: that limit is unset
	now            func() time.Time
	pause          *pauser
	timer          *time.Timer
}

// newLimiter returns a limiter for l, or nil when l sets no limit. While
// pause is paused, a wait does not end (but ctx still ends it).
func newLimiter(l rateLimits, pause *pauser, now func() time.Time) *limiter {
	if !l.set() {
		return nil
	}
	t := now()
	lim := &limiter{now: now, pause: pause}
	if l.records > 0 {
		lim.records = newBucket(l.records, t)
	}
	if l.bytes > 0 {
		lim.bytes = newBucket(l.bytes, t)
	}
	return lim
}

// delay is how long until one more record may go: the records bucket
// holds a whole token and the bytes bucket is out of debt.
func (l *limiter) delay(now time.Time) time.Duration {
	var d time.Duration
	if l.records != nil {
		d = l.records.delay(now, 1)
	}
	if l.bytes != nil {
		d = max(d, l.bytes.delay(now, 0))
	}
	return d
}

// wait blocks until one more record may go. It returns ctx.Err() when
// ctx ends first; while the task is paused it keeps waiting, so a paused
// task hands nothing over even in the middle of a poll's records.
func (l *limiter) wait(ctx context.Context) error {
	if l.pause != nil && !l.pause.wait(ctx) {
		return ctx.Err()
	}
	for {
		d := l.delay(l.now())
		if d <= 0 {
			return nil
		}
		if err := l.sleep(ctx, max(d, minRateWait)); err != nil {
			return err
		}
	}
}

// sleep sleeps for d, returning early with ctx.Err() when ctx ends, and
// staying until resumed when the task is paused meanwhile.
func (l *limiter) sleep(ctx context.Context, d time.Duration) error {
	if l.timer == nil {
		l.timer = time.NewTimer(d)
	} else {
		l.timer.Reset(d)
	}
	var paused <-chan struct{}
	if l.pause != nil {
		paused = l.pause.pausedChan()
	}
	select {
	case <-l.timer.C:
		return nil
	case <-ctx.Done():
		l.timer.Stop()
		return ctx.Err()
	case <-paused:
		l.timer.Stop()
		if !l.pause.wait(ctx) {
			return ctx.Err()
		}
		return nil
	}
}

// allowance is how many records may go now, at most limit (and at least
// 1: call it after wait).
func (l *limiter) allowance(limit int) int {
	if l.records == nil {
		return limit
	}
	return max(1, min(limit, int(l.records.tokens)))
}

// charge counts records and bytes that went.
func (l *limiter) charge(records, bytes int) {
	if l.records != nil {
		l.records.take(float64(records))
	}
	if l.bytes != nil {
		l.bytes.take(float64(bytes))
	}
}

// stop releases the limiter's timer.
func (l *limiter) stop() {
	if l != nil && l.timer != nil {
		l.timer.Stop()
	}
}
