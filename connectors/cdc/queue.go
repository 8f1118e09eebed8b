package cdc

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Queued is a record in a Queue with its estimated size (0 when the
// byte budget is off) and Pos, what the source wants to learn about the
// record when Poll takes it (PostgreSQL: a snapshot record's progress);
// HasPos says Pos is set.
type Queued[P any] struct {
	R      *connectors.Record
	N      int64
	Pos    P
	HasPos bool
}

// Progress takes in the positions of the records Poll takes, in order.
type Progress[P any] interface {
	Note(p *P)
}

// Queue is the bounded queue (max.queue.size) between a task's reading
// goroutine (Put) and Poll (Take): a ring under a mutex. A channel of
// records costs a hand-off per record — and, when full, a wake-up of the
// writer per record Poll takes. Here a writer waits only when the queue
// is full and is woken once Poll has taken a batch, and Poll waits only
// when the queue is empty and is woken by the first record put. One
// goroutine puts and one takes.
type Queue[P any] struct {
	mu    sync.Mutex
	ring  []Queued[P] // len is a power of two ≥ limit
	head  int
	n     int
	limit int
	// readerWaits and writerWaits say a side is waiting for ready or for
	// space; each channel has capacity 1 and is poked by the other side.
	readerWaits, writerWaits bool
	ready, space             chan struct{}
}

// NewQueue returns a queue of at most limit records.
func NewQueue[P any](limit int) *Queue[P] {
	size := 1
	for size < limit {
		size <<= 1
	}
	return &Queue[P]{ring: make([]Queued[P], size), limit: limit, ready: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// Put appends e, waiting while the queue holds limit records; it returns
// ctx's error if ctx ends first.
func (q *Queue[P]) Put(ctx context.Context, e Queued[P]) error {
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

// Take moves up to max records into dst and returns it with the sum of
// their sizes; with none queued it returns dst unchanged and arms Ready,
// which the next Put pokes. prog notes the positions of the records
// taken that have one; last reports whether the last one has one (it
// then needs prog's offset).
func (q *Queue[P]) Take(dst []*connectors.Record, max int, prog Progress[P]) (out []*connectors.Record, size int64, last bool) {
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
	var zero Queued[P]
	for i := 0; i < k; i++ {
		e := &q.ring[(q.head+i)&mask]
		dst = append(dst, e.R)
		size += e.N
		last = e.HasPos
		if last {
			prog.Note(&e.Pos)
		}
		*e = zero
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

// Ready receives after a Put into a queue that a Take found empty (or
// holds a poke left from an earlier wait: Take then finds nothing and
// arms it again).
func (q *Queue[P]) Ready() <-chan struct{} { return q.ready }

// Len returns how many records are queued.
func (q *Queue[P]) Len() int {
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

// ByteBudget bounds the approximate bytes of the records in a queue
// (max.queue.size.in.bytes). The task's reading goroutine is its only
// acquirer; Poll releases. A record larger than the whole budget is
// admitted when the queue holds nothing else, so it cannot block forever.
type ByteBudget struct {
	limit int64
	freed chan struct{} // capacity 1: poked when bytes are released
	mu    sync.Mutex
	used  int64
	peak  int64
}

// NewByteBudget returns a budget of limit bytes.
func NewByteBudget(limit int64) *ByteBudget {
	return &ByteBudget{limit: limit, freed: make(chan struct{}, 1)}
}

// Acquire waits until n more bytes fit; it returns ctx's error if ctx
// ends first.
func (b *ByteBudget) Acquire(ctx context.Context, n int64) error {
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

// Release returns n bytes and wakes a waiting Acquire.
func (b *ByteBudget) Release(n int64) {
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

// Used returns the bytes held now.
func (b *ByteBudget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Peak returns the most bytes ever held at once.
func (b *ByteBudget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// Fixed costs of the size estimate: a record with its envelope and
// source block, a struct, a slice or map header, a boxed scalar.
const (
	RecordOverhead = 256
	StructOverhead = 48
	HeaderOverhead = 24
	ScalarSize     = 16
)

// Sizer is a value that estimates its own size (a value decoded lazily,
// whose fields are not built yet).
type Sizer interface {
	Size() int64
}

// RecordSize estimates the bytes a record holds from its decoded values:
// string and byte lengths plus fixed costs per struct and value. Schemas
// and offsets are shared between records and not counted.
func RecordSize(r *connectors.Record) int64 {
	return RecordOverhead + int64(len(r.Topic)) + ValueSize(r.Key) + ValueSize(r.Value)
}

// ValueSize estimates the bytes a Connect value holds.
func ValueSize(v any) int64 {
	switch v := v.(type) {
	case nil:
		return 0
	case Sizer:
		return v.Size()
	case string:
		return HeaderOverhead + int64(len(v))
	case []byte:
		return HeaderOverhead + int64(len(v))
	case *connectors.StructValue:
		n := int64(StructOverhead + ScalarSize*len(v.Values))
		for _, f := range v.Values {
			n += ValueSize(f)
		}
		return n
	case []any:
		n := int64(HeaderOverhead + ScalarSize*len(v))
		for _, e := range v {
			n += ValueSize(e)
		}
		return n
	case []connectors.MapEntry:
		n := int64(HeaderOverhead + 2*ScalarSize*len(v))
		for _, e := range v {
			n += ValueSize(e.Key) + ValueSize(e.Value)
		}
		return n
	case map[string]any:
		n := int64(HeaderOverhead + 2*ScalarSize*len(v))
		for k, e := range v {
			n += int64(len(k)) + ValueSize(e)
		}
		return n
	case connectors.Decimal:
		if v.Unscaled != nil {
			return StructOverhead + int64(len(v.Unscaled.Bits())*8)
		}
		return StructOverhead
	case time.Time:
		return HeaderOverhead
	default:
		return ScalarSize
	}
}
