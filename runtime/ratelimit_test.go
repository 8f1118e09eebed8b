package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestBucketRefillsAtItsRateUpToOneSecond(t *testing.T) {
	c := newFakeClock()
	b := newBucket(5000, c.now())
	// A new bucket is empty: a task starts without a burst.
	if d := b.delay(c.now(), 1); d != 200*time.Microsecond {
		t.Fatalf("delay of a new bucket = %v, want 200µs", d)
	}
	c.advance(100 * time.Millisecond)
	if d := b.delay(c.now(), 1); d != 0 || b.tokens != 500 {
		t.Fatalf("after 100ms: delay %v, tokens %v; want 0, 500", d, b.tokens)
	}
	// Idle for ten seconds: at most one second's worth is kept.
	c.advance(10 * time.Second)
	b.refill(c.now())
	if b.tokens != 5000 {
		t.Fatalf("tokens after 10s idle = %v, want the burst 5000", b.tokens)
	}
	// Debt: taking more than there is makes the next taker wait for it.
	b.take(5500)
	if d := b.delay(c.now(), 0); d != 100*time.Millisecond {
		t.Fatalf("delay with a debt of 500 = %v, want 100ms", d)
	}
	// A clock going back adds no tokens.
	c.advance(-time.Second)
	if d := b.delay(c.now(), 0); d != 100*time.Millisecond || b.tokens != -500 {
		t.Fatalf("after the clock went back: delay %v, tokens %v; want 100ms, -500", d, b.tokens)
	}
}

func TestBucketTinyRateDoesNotOverflow(t *testing.T) {
	c := newFakeClock()
	b := newBucket(1e-12, c.now())
	if d := b.delay(c.now(), 1); d != maxRateWait {
		t.Fatalf("delay at 1e-12 tokens/s = %v, want the cap %v", d, maxRateWait)
	}
}

func TestBucketBelowOneTokenPerSecond(t *testing.T) {
	c := newFakeClock()
	b := newBucket(0.5, c.now())
	if b.burst != 1 {
		t.Fatalf("burst = %v, want 1 (a whole record)", b.burst)
	}
	if d := b.delay(c.now(), 1); d != 2*time.Second {
		t.Fatalf("delay = %v, want 2s", d)
	}
}

// simulate runs a task loop on the fake clock for d: wait as the limiter
// would (at least minRateWait), then send one record of size bytes. It
// returns the records sent in each second.
func simulate(l *limiter, c *fakeClock, d time.Duration, size int) []int {
	start := c.now()
	perSec := make([]int, int(d/time.Second))
	for c.now().Sub(start) < d {
		if w := l.delay(c.now()); w > 0 {
			c.advance(max(w, minRateWait))
			continue
		}
		perSec[int(c.now().Sub(start)/time.Second)]++
		l.charge(1, size)
	}
	return perSec
}

func TestLimiterRecordsRate(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(rateLimits{records: 5000}, nil, c.now)
	perSec := simulate(l, c, 20*time.Second, 100)
	total := 0
	for i, n := range perSec {
		total += n
		// The first wait is minRateWait: 25 records fewer in second 0.
		if n < 4970 || n > 5010 {
			t.Errorf("second %d: %d records, want 5000", i, n)
		}
	}
	if total < 99_970 || total > 100_000 {
		t.Errorf("%d records in 20s, want 100000", total)
	}
	// After a pause of five seconds, one second's worth goes at once,
	// then the rate holds again.
	c.advance(5 * time.Second)
	burst := 0
	for l.delay(c.now()) == 0 {
		l.charge(1, 100)
		burst++
	}
	if burst != 5000 {
		t.Errorf("burst after idling = %d, want 5000", burst)
	}
}

func TestLimiterBytesRate(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(rateLimits{bytes: 100_000}, nil, c.now)
	// Records of 300 bytes: 333 a second; a record larger than the
	// burst still goes, and the ones after it wait for its debt.
	perSec := simulate(l, c, 10*time.Second, 300)
	for i, n := range perSec {
		if n < 332 || n > 335 {
			t.Errorf("second %d: %d records of 300 bytes, want 333", i, n)
		}
	}
	c.advance(time.Second)
	if d := l.delay(c.now()); d != 0 {
		t.Fatalf("delay after idling = %v", d)
	}
	l.charge(1, 250_000)
	// The bucket held at most its burst (100 kB) before the record.
	if d := l.delay(c.now()); d != 1500*time.Millisecond {
		t.Errorf("delay after a 250 kB record = %v, want 1.5s", d)
	}
}

func TestLimiterBothLimits(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(rateLimits{records: 1000, bytes: 50_000}, nil, c.now)
	// 100-byte records: the bytes limit (500/s) is the tighter one.
	perSec := simulate(l, c, 5*time.Second, 100)
	for i, n := range perSec {
		if n < 497 || n > 501 {
			t.Errorf("second %d: %d records, want 500", i, n)
		}
	}
}

func TestLimiterAllowance(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(rateLimits{records: 100}, nil, c.now)
	c.advance(10 * time.Second)
	if l.delay(c.now()) != 0 {
		t.Fatal("no tokens after 10s")
	}
	if n := l.allowance(500); n != 100 {
		t.Errorf("allowance(500) = %d, want the burst 100", n)
	}
	if n := l.allowance(50); n != 50 {
		t.Errorf("allowance(50) = %d, want 50", n)
	}
	l.charge(100, 0)
	c.advance(15 * time.Millisecond)
	l.delay(c.now())
	if n := l.allowance(500); n != 1 {
		t.Errorf("allowance with 1.5 tokens = %d, want 1", n)
	}
	// Bytes only: the record count is the caller's.
	lb := newLimiter(rateLimits{bytes: 10}, nil, c.now)
	if n := lb.allowance(500); n != 500 {
		t.Errorf("bytes-only allowance = %d, want 500", n)
	}
}

func TestNoLimitIsNil(t *testing.T) {
	if l := newLimiter(rateLimits{}, nil, time.Now); l != nil {
		t.Fatalf("limiter without limits = %+v, want nil", l)
	}
	var l *limiter
	l.stop() // the runners' deferred stop of an unset limiter
}

// A wait ends as soon as its context does, however long the debt.
func TestLimiterWaitEndsWithContext(t *testing.T) {
	l := newLimiter(rateLimits{bytes: 1}, &pauser{}, time.Now)
	l.charge(1, 1_000_000) // eleven days of debt
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.wait(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("wait returned %v before the context ended", err)
	case <-time.After(100 * time.Millisecond):
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("wait = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("wait took %v to notice the cancellation", d)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("wait did not end with its context")
	}
}

// A wait that runs into a pause stays until the task is resumed, and a
// stop during the pause ends it.
func TestLimiterWaitHonoursPause(t *testing.T) {
	p := &pauser{}
	l := newLimiter(rateLimits{records: 20}, p, time.Now)
	l.charge(1, 0) // the next record may go in 100ms
	p.set(true)
	done := make(chan error, 1)
	go func() { done <- l.wait(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("wait returned %v while paused", err)
	case <-time.After(400 * time.Millisecond):
	}
	p.set(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("wait did not end after resume")
	}

	// Paused with tokens at hand: the wait stays until resumed.
	time.Sleep(200 * time.Millisecond)
	p.set(true)
	go func() { done <- l.wait(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("wait returned %v while paused with tokens at hand", err)
	case <-time.After(200 * time.Millisecond):
	}
	p.set(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Paused during the wait, then stopped.
	l.charge(100, 0) // five seconds of debt
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- l.wait(ctx) }()
	time.Sleep(50 * time.Millisecond)
	p.set(true)
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("wait = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a paused wait did not end with its context")
	}
}

func TestRateLimitProperties(t *testing.T) {
	base := map[string]string{propName: "c", propClass: "datagen"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for bk, bv := range base {
			m[bk] = bv
		}
		return m
	}
	for _, tc := range []struct{ key, value, want string }{
		{propRateRecords, "-1", "at least 0"},
		{propRateRecords, "abc", "expected a number"},
		{propRateRecords, "NaN", "at least 0"},
		{propRateRecords, "+Inf", "at least 0"},
		{propRateBytes, "-5", "at least 0"},
		{propRateBytes, "1.5", "expected a 64-bit integer"},
		{propRateBytes, "lots", "expected a 64-bit integer"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := commonDef.Parse(with(tc.key, tc.value))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s and say %q", err, tc.key, tc.want)
			}
		})
	}
	v, err := commonDef.Parse(with(propRateRecords, "0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if got := parseRateLimits(v, 2); got != (rateLimits{records: 0.25}) {
		t.Fatalf("share of 0.5 records/s among 2 tasks = %+v", got)
	}
	v, _ = commonDef.Parse(base)
	if parseRateLimits(v, 3).set() {
		t.Fatal("limits set by default")
	}
}

// The per-record work of a limited task (wait with tokens at hand, then
// charge) allocates nothing.
func TestLimiterPerRecordAllocations(t *testing.T) {
	c := newFakeClock()
	l := newLimiter(rateLimits{records: 1e9, bytes: 1e12}, &pauser{}, c.now)
	c.advance(time.Second)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
		l.charge(1, 200)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per record", allocs)
	}
}
