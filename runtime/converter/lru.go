package converter

// lru is a bounded least-recently-used cache. It is not safe for concurrent
// use: a converter (and so its caches) serves one task goroutine at a time.
// Callers index m directly (so that a []byte key converted with string(b)
// does not allocate) and call touch on a hit.
type lru[K comparable, V any] struct {
	max  int
	m    map[K]*lruEntry[K, V]
	root lruEntry[K, V] // sentinel: root.next is the most recently used
}

type lruEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruEntry[K, V]
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	c := &lru[K, V]{max: max, m: make(map[K]*lruEntry[K, V])}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// touch marks e as the most recently used.
func (c *lru[K, V]) touch(e *lruEntry[K, V]) {
	if c.root.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.pushFront(e)
}

func (c *lru[K, V]) pushFront(e *lruEntry[K, V]) {
	e.prev, e.next = &c.root, c.root.next
	c.root.next.prev = e
	c.root.next = e
}

// add stores k (which must not be present) and evicts the least recently
// used entry beyond max. With max 0 nothing is stored.
func (c *lru[K, V]) add(k K, v V) {
	if c.max <= 0 {
		return
	}
	if len(c.m) >= c.max {
		old := c.root.prev
		old.prev.next, c.root.prev = &c.root, old.prev
		delete(c.m, old.key)
	}
	e := &lruEntry[K, V]{key: k, val: v}
	c.m[k] = e
	c.pushFront(e)
}

// remove drops e.
func (c *lru[K, V]) remove(e *lruEntry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	delete(c.m, e.key)
}
