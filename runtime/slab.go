package runtime

import (
	"sync"
	"sync/atomic"
)

// slab is a buffer of items — converted keys and values (encSlab) or the
// records handed to the producer (recSlab) — filled one after the other,
// so that most records cost no allocation of their own. A slab counts its
// users: one for the runner while it fills it, and one per record using
// it that the producer has not finished with. When the count drops to
// zero the slab goes back to its pool and is filled again; until then
// its items are never touched.
type slab[T any] struct {
	buf  []T
	refs atomic.Int32
	pool *slabPool[T]
}

// encSlab holds the bytes of converted keys and values.
type encSlab = slab[byte]

// recSlab holds the records handed to the producer.
type recSlab = slab[sentRecord]

// release drops one use; the last one returns the slab to its pool.
func (s *slab[T]) release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		s.pool.put(s)
	case n < 0:
		panic("runtime: slab released more often than used")
	}
}

// slabPool keeps slabs whose records were all acknowledged, up to max,
// for the next ones; beyond it they are left to the GC. Recycling them
// spares allocating (and zeroing) a slab per 256 KiB of records, which was
// the largest share of a source task's garbage.
type slabPool[T any] struct {
	size, max int
	mu        sync.Mutex
	free      []*slab[T]
}

func newSlabPool[T any](size, max int) *slabPool[T] { return &slabPool[T]{size: size, max: max} }

// get returns an empty slab of capacity size, held once by the caller.
// A recycled slab keeps its old items beyond its length until they are
// overwritten.
func (p *slabPool[T]) get() *slab[T] {
	p.mu.Lock()
	var s *slab[T]
	if n := len(p.free); n > 0 {
		s = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if s == nil {
		s = &slab[T]{buf: make([]T, 0, p.size), pool: p}
	}
	s.buf = s.buf[:0]
	s.refs.Store(1)
	return s
}

func (p *slabPool[T]) put(s *slab[T]) {
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}
