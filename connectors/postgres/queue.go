package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// queued is a record in the task's queue with its estimated size (0 when
// max.queue.size.in.bytes is off).
type queued struct {
	r *connectors.Record
	n int64
	// pos is a snapshot record's progress (progress.go); pos.base is nil
	// for others.
	pos snapPos
}

// recQueue is the bounded queue between the task's goroutine (put) and
// Poll (take): a ring under a mutex. A channel of records costs a
// hand-off per record — and, when full, a wake-up of the writer per
// record Poll takes. Here a writer waits only when the queue is full and
// is woken once Poll has taken a batch, and Poll waits only when the queue
// is empty and is woken by the first record put.
type recQueue struct {
	mu    sync.Mutex
	ring  []queued // len is a power of two ≥ limit
	head  int
	n     int
	limit int
	// readerWaits and writerWaits say a side is waiting for ready or for
	// space; each channel has capacity 1 and is poked by the other side.
	readerWaits, writerWaits bool
	ready, space             chan struct{}
}

func newRecQueue(limit int) *recQueue {
	size := 1
	for size < limit {
		size <<= 1
	}
	return &recQueue{ring: make([]queued, size), limit: limit, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// put appends q, waiting while the queue holds limit records.
func (q *recQueue) put(ctx context.Context, e queued) error {
	for {
		q.mu.Lock()
		if q.n < q.limit {
			q.ring[(q.head+q.n)&(len(q.ring)-1)] = e
			q.n++
			wake := q.readerWaits
			q.readerWaits = false
			q.mu.Unlock()
			if wake {
				poke(q.ready)
			}
			return nil
		}
		q.writerWaits = true
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// take moves up to max records into dst and returns it with the sum of
// their sizes; with none queued it returns dst unchanged and arms ready,
// which the next put pokes. prog notes the snapshot positions of the
// records taken; last reports whether the last one has one (it then
// needs prog's offset).
func (q *recQueue) take(dst []*connectors.Record, max int, prog *snapProgress) (out []*connectors.Record, size int64, last bool) {
	q.mu.Lock()
	if q.n == 0 {
		q.readerWaits = true
		q.mu.Unlock()
		return dst, 0, false
	}
	k := min(max, q.n)
	if dst == nil {
		dst = make([]*connectors.Record, 0, k)
	}
	mask := len(q.ring) - 1
	for i := 0; i < k; i++ {
		e := &q.ring[(q.head+i)&mask]
		dst = append(dst, e.r)
		size += e.n
		last = e.pos.base != nil
		if last {
			prog.note(&e.pos)
		}
		*e = queued{}
	}
	q.head = (q.head + k) & mask
	q.n -= k
	wake := q.writerWaits
	q.writerWaits = false
	q.mu.Unlock()
	if wake {
		poke(q.space)
	}
	return dst, size, last
}

// len returns how many records are queued.
func (q *recQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// poke sends on a capacity-1 channel unless a poke is already pending.
func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// byteBudget bounds the approximate bytes of the records in the queue
// (max.queue.size.in.bytes). The task's goroutine is its only acquirer;
// Poll releases. A record larger than the whole budget is admitted when
// the queue holds nothing else, so it cannot block forever.
type byteBudget struct {
	limit int64
	freed chan struct{} // capacity 1: poked when bytes are released
	mu    sync.Mutex
	used  int64
	peak  int64
}

func newByteBudget(limit int64) *byteBudget {
	return &byteBudget{limit: limit, freed: make(chan struct{}, 1)}
}

// acquire waits until n more bytes fit.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		select {
		case <-b.freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n bytes and wakes a waiting acquire.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// Fixed costs of the size estimate: a record with its envelope and
// source block, a struct, a slice or map header, a boxed scalar.
const (
	recordOverhead = 256
	structOverhead = 48
	headerOverhead = 24
	scalarSize     = 16
)

// recordSize estimates the bytes a record holds from its decoded values:
// string and byte lengths plus fixed costs per struct and value. Schemas
// and offsets are shared between records and not counted.
func recordSize(r *connectors.Record) int64 {
	return recordOverhead + int64(len(r.Topic)) + valueSize(r.Key) + valueSize(r.Value)
}

func valueSize(v any) int64 {
	switch v := v.(type) {
	case nil:
		return 0
	case interface{ size() int64 }:
		return v.size()
	case string:
		return headerOverhead + int64(len(v))
	case []byte:
		return headerOverhead + int64(len(v))
	case *connectors.StructValue:
		n := int64(structOverhead + scalarSize*len(v.Values))
		for _, f := range v.Values {
			n += valueSize(f)
		}
		return n
	case []any:
		n := int64(headerOverhead + scalarSize*len(v))
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	case []connectors.MapEntry:
		n := int64(headerOverhead + 2*scalarSize*len(v))
		for _, e := range v {
			n += valueSize(e.Key) + valueSize(e.Value)
		}
		return n
	case connectors.Decimal:
		if v.Unscaled != nil {
			return structOverhead + int64(len(v.Unscaled.Bits())*8)
		}
		return structOverhead
	case time.Time:
		return headerOverhead
	default:
		return scalarSize
	}
}
