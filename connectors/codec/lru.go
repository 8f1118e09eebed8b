package codec

// LRU is a bounded least-recently-used cache for the codecs' compiled
// schemas. It is not safe for concurrent use: a codec or converter (and
// so its caches) serves one goroutine at a time. Callers index M directly
// (so that a []byte key converted with string(b) does not allocate) and
// call Touch on a hit.
type LRU[K comparable, V any] struct {
	M    map[K]*LRUEntry[K, V]
	max  int
	root LRUEntry[K, V] // sentinel: root.next is the most recently used
}

// LRUEntry is one cached value.
type LRUEntry[K comparable, V any] struct {
	Key        K
	Val        V
	prev, next *LRUEntry[K, V]
}

// NewLRU returns a cache of at most max entries (0: it stores nothing).
func NewLRU[K comparable, V any](max int) *LRU[K, V] {
	c := &LRU[K, V]{max: max, M: make(map[K]*LRUEntry[K, V])}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// Touch marks e as the most recently used.
func (c *LRU[K, V]) Touch(e *LRUEntry[K, V]) {
	if c.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFront(e)
}

func (c *LRU[K, V]) pushFront(e *LRUEntry[K, V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}

// Add stores k (which must not be present) and evicts the least recently
// used entry beyond max. With max 0 nothing is stored.
func (c *LRU[K, V]) Add(k K, v V) {
	if c.max <= 0 {
		return
	}
	if len(c.M) >= c.max {
		old := c.root.prev
		old.prev.next, c.root.prev = &c.root, old.prev
		delete(c.M, old.Key)
	}
	e := &LRUEntry[K, V]{Key: k, Val: v}
	c.M[k] = e
	c.pushFront(e)
}

// Remove drops e.
func (c *LRU[K, V]) Remove(e *LRUEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(c.M, e.Key)
}

// Max is the most entries the cache holds.
func (c *LRU[K, V]) Max() int { return c.max }

// Len is the number of entries.
func (c *LRU[K, V]) Len() int { return len(c.M) }
