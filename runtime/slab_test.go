package runtime

import (
	"bytes"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A slab goes back to the pool only when the writer and every record in
// it are done, and is not handed out twice meanwhile.
func TestSlabRecycledAfterLastUse(t *testing.T) {
	p := newSlabPool[byte](64, 2)
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
	p := newSlabPool[byte](1024, 4)
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

// Records taken from record slabs stay intact until their promise runs,
// with promises running out of order on other goroutines as the
// producer's do, and every slab goes back to the pool once all its
// records are done.
func TestRecordSlabsRecycledAfterPromises(t *testing.T) {
	r := &sourceRunner{tracker: newTracker(), bufferedRecords: 2000}
	part := map[string]any{"p": 1}
	const n = 20000
	inFlight := make(chan *kgo.Record, 1500)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []*kgo.Record
			for kr := range inFlight {
				held = append(held, kr)
				if len(held) < 64 {
					continue
				}
				// Out of order: the last ones first.
				for i := len(held) - 1; i >= 0; i-- {
					checkSentRecord(t, held[i])
					r.done(held[i], nil)
				}
				held = held[:0]
			}
			for _, kr := range held {
				checkSentRecord(t, kr)
				r.done(kr, nil)
			}
		}()
	}
	for i := range n {
		tk, err := r.tracker.submit(part, map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		sr := r.nextRecord()
		*sr = sentRecord{Record: kgo.Record{Topic: strconv.Itoa(i), Key: []byte(strconv.Itoa(i))}, rs: sr.rs, tk: tk}
		inFlight <- &sr.Record
	}
	close(inFlight)
	wg.Wait()
	r.rslab.release()
	if got := r.tracker.inFlight(); got != 0 {
		t.Errorf("%d records not acknowledged", got)
	}
	if len(r.rslabs.free) == 0 || len(r.rslabs.free) > r.recSlabPoolSize() {
		t.Errorf("%d slabs back in the pool (at most %d kept)", len(r.rslabs.free), r.recSlabPoolSize())
	}
	for _, s := range r.rslabs.free {
		if s.refs.Load() != 0 {
			t.Errorf("pooled slab with %d uses", s.refs.Load())
		}
	}
}

func checkSentRecord(t *testing.T, kr *kgo.Record) {
	if string(kr.Key) != kr.Topic {
		t.Errorf("record %q changed in flight: key %q", kr.Topic, kr.Key)
	}
}
