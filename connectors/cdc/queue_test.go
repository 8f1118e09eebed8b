package cdc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// noProgress is the Progress of records without positions.
type noProgress struct{}

func (noProgress) Note(*int) { panic("a record without a position was noted") }

// TestByteBudget runs a producer against a slow consumer: the bytes in
// flight never exceed the limit, except for a single record larger than
// the limit, which is admitted alone.
func TestByteBudget(t *testing.T) {
	const limit = 1000
	b := NewByteBudget(limit)
	ch := make(chan int64, 1000) // record count never binds: only bytes do
	sizes := make([]int64, 2000)
	for i := range sizes {
		sizes[i] = 10 + rand.Int64N(290)
	}
	sizes[700] = 5000 // larger than the whole budget
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range sizes {
			n := <-ch
			if rand.IntN(50) == 0 {
				time.Sleep(time.Millisecond)
			}
			b.Release(n)
		}
	}()
	ctx := context.Background()
	for _, n := range sizes {
		if err := b.Acquire(ctx, n); err != nil {
			t.Fatal(err)
		}
		b.mu.Lock()
		used := b.used
		b.mu.Unlock()
		if used > limit && used != n {
			t.Fatalf("%d bytes in flight after queuing %d, limit %d", used, n, limit)
		}
		ch <- n
	}
	wg.Wait()
	if b.used != 0 {
		t.Errorf("%d bytes left after all were released", b.used)
	}
	if b.peak < limit/2 {
		t.Errorf("peak %d: the budget was never used", b.peak)
	}

	// A full budget waits until the context ends.
	full := NewByteBudget(10)
	if err := full.Acquire(ctx, 10); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := full.Acquire(cctx, 1); err == nil {
		t.Fatal("acquire over a full budget returned without waiting")
	}
}

// TestRecQueue runs a writer against readers that take batches of
// random sizes at random paces: every record arrives once, in order, the
// queue never holds more than its limit, a writer on a full queue and a
// reader on an empty one are woken, and a waiting put ends with its
// context.
func TestRecQueue(t *testing.T) {
	const limit, total = 37, 20000
	q := NewQueue[int](limit)
	recs := make([]*connectors.Record, total)
	for i := range recs {
		recs[i] = &connectors.Record{Topic: "t", Key: i}
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		for i, r := range recs {
			if err := q.Put(ctx, Queued[int]{R: r, N: 1}); err != nil {
				done <- err
				return
			}
			if n := q.Len(); n > limit {
				done <- fmt.Errorf("%d queued after put %d, limit %d", n, i, limit)
				return
			}
			if rand.IntN(500) == 0 {
				time.Sleep(100 * time.Microsecond)
			}
		}
		done <- nil
	}()
	next := 0
	for next < total {
		batch, size, _ := q.Take(nil, 1+rand.IntN(2*limit), noProgress{})
		if len(batch) == 0 {
			select {
			case <-q.Ready():
			case <-time.After(10 * time.Second):
				t.Fatalf("reader not woken after %d records", next)
			}
			continue
		}
		if size != int64(len(batch)) {
			t.Fatalf("batch of %d records sized %d", len(batch), size)
		}
		for _, r := range batch {
			if r.Key != next {
				t.Fatalf("record %v, want %d", r.Key, next)
			}
			next++
		}
		if rand.IntN(100) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 {
		t.Fatalf("%d left", q.Len())
	}

	// A put on a full queue waits until its context ends.
	full := NewQueue[int](1)
	if err := full.Put(ctx, Queued[int]{R: recs[0]}); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := full.Put(cctx, Queued[int]{R: recs[1]}); err == nil {
		t.Fatal("put on a full queue returned without waiting")
	}
	if got, _, _ := full.Take(nil, 10, noProgress{}); len(got) != 1 || got[0] != recs[0] {
		t.Fatalf("after the abandoned put: %v", got)
	}
}

func TestRecordSize(t *testing.T) {
	s := connectors.NewStruct("v", true, connectors.Opt("id", connectors.Int32Schema), connectors.Opt("s", connectors.StringSchema))
	small := &connectors.Record{Topic: "p.t", Value: &connectors.StructValue{Schema: s, Values: []any{int32(1), "x"}}}
	big := &connectors.Record{Topic: "p.t", Value: &connectors.StructValue{Schema: s, Values: []any{int32(1), strings.Repeat("x", 10000)}}}
	ns, nb := RecordSize(small), RecordSize(big)
	if ns <= 0 || ns > 1000 {
		t.Errorf("small record: %d bytes", ns)
	}
	if nb-ns != 9999 {
		t.Errorf("10000-byte string adds %d bytes over a 1-byte one, want 9999", nb-ns)
	}
}
