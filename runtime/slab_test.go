package runtime

import (
	"bytes"
	"sync"
	"testing"
)

// A slab goes back to the pool only when the writer and every record in
// it are done, and is not handed out twice meanwhile.
func TestSlabRecycledAfterLastUse(t *testing.T) {
	p := newSlabPool(64, 2)
	s := p.get()
	s.buf = append(s.buf, "abc"...)
	s.refs.Add(2) // two records
	s.release()   // the writer retires it
	if len(p.free) != 0 {
		t.Fatal("recycled while records still use it")
	}
	s.release()
	if len(p.free) != 0 {
		t.Fatal("recycled with one record left")
	}
	s.release()
	if len(p.free) != 1 {
		t.Fatal("not recycled after the last use")
	}
	if again := p.get(); again != s || len(again.buf) != 0 || again.refs.Load() != 1 {
		t.Fatalf("recycled slab %p (want %p), len %d, refs %d", again, s, len(again.buf), again.refs.Load())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("releasing more often than used did not panic")
		}
	}()
	s.release()
	s.release()
}

// Records written into recycled slabs keep their bytes until released,
// with releases racing from other goroutines as producer callbacks do.
func TestSlabBytesStableUntilReleased(t *testing.T) {
	p := newSlabPool(1024, 4)
	type rec struct {
		b    []byte
		want []byte
		s    *encSlab
	}
	var wg sync.WaitGroup
	done := make(chan rec, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := range done {
			if !bytes.Equal(r.b, r.want) {
				t.Errorf("bytes changed while in flight: %q, want %q", r.b, r.want)
			}
			r.s.release()
		}
	}()
	cur := p.get()
	for i := range 20000 {
		want := []byte{byte(i), byte(i >> 8), 'x', byte(i % 251)}
		if cap(cur.buf)-len(cur.buf) < len(want) {
			cur.release()
			cur = p.get()
		}
		start := len(cur.buf)
		cur.buf = append(cur.buf, want...)
		cur.refs.Add(1)
		done <- rec{b: cur.buf[start:len(cur.buf):len(cur.buf)], want: want, s: cur}
	}
	cur.release()
	close(done)
	wg.Wait()
}
