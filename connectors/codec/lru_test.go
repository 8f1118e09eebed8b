package codec

import "testing"

func TestLRU(t *testing.T) {
	c := NewLRU[string, int](2)
	c.Add("a", 1)
	c.Add("b", 2)
	c.Touch(c.M["a"]) // b is now the least recently used
	c.Add("c", 3)
	if _, ok := c.M["b"]; ok || c.Len() != 2 || c.M["a"].Val != 1 || c.M["c"].Val != 3 {
		t.Fatalf("after evicting the least recently used: %v", c.M)
	}
	c.Remove(c.M["a"])
	c.Add("d", 4)
	if c.Len() != 2 || c.M["c"] == nil || c.M["d"] == nil {
		t.Fatalf("after a removal: %v", c.M)
	}
	c.Add("e", 5) // evicts c, the older
	if _, ok := c.M["c"]; ok {
		t.Fatalf("c not evicted: %v", c.M)
	}
	z := NewLRU[string, int](0)
	z.Add("a", 1)
	if z.Len() != 0 || z.Max() != 0 {
		t.Fatalf("a cache of size 0 stored %v", z.M)
	}
}
