package runtime

import (
	"sync"
	"sync/atomic"
)

// encSlab is a buffer that converted keys and values are written into,
// one after the other, so that most records cost no allocation of their
// own. A slab counts its users: one for the runner while it writes into
// it, and one per record key or value it holds that the producer has not
// finished with. When the count drops to zero the slab goes back to its
// pool and is written again; until then its bytes are never touched.
type encSlab struct {
	buf  []byte
	refs atomic.Int32
	pool *slabPool
}

// release drops one use; the last one returns the slab to its pool.
func (s *encSlab) release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		s.pool.put(s)
	case n < 0:
		panic("runtime: encode slab released more often than used")
	}
}

// slabPool keeps slabs whose records were all acknowledged, up to max,
// for the next ones; beyond it they are left to the GC. Recycling them
// spares allocating (and zeroing) a slab per 256 KiB of records, which was
// the largest share of a source task's garbage.
type slabPool struct {
	size, max int
	mu        sync.Mutex
	free      []*encSlab
}

func newSlabPool(size, max int) *slabPool { return &slabPool{size: size, max: max} }

// get returns an empty slab, held once by the caller.
func (p *slabPool) get() *encSlab {
	p.mu.Lock()
	var s *encSlab
	if n := len(p.free); n > 0 {
		s = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if s == nil {
		s = &encSlab{buf: make([]byte, 0, p.size), pool: p}
	}
	s.buf = s.buf[:0]
	s.refs.Store(1)
	return s
}

func (p *slabPool) put(s *encSlab) {
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, s)
	}
	p.mu.Unlock()
}
