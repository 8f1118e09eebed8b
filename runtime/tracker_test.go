package runtime

import (
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

func TestTrackerCommitsOnlyAcknowledgedPrefix(t *testing.T) {
	tr := newTracker()
	pa := map[string]any{"task": int64(0)}
	var ta, tb []ticket
	for i := 0; i < 5; i++ {
		k, err := tr.submit(pa, map[string]any{"seq": int64(i)})
		if err != nil {
			t.Fatal(err)
		}
		ta = append(ta, k)
	}
	for i := 0; i < 3; i++ {
		// A fresh but equal map must land in the same partition.
		k, _ := tr.submit(map[string]any{"task": int64(1)}, map[string]any{"seq": int64(100 + i)})
		tb = append(tb, k)
	}
	// Out-of-order acks: 1, 3 then 0 → prefix 0..1 done.
	tr.ack(ta[1])
	tr.ack(ta[3])
	if got := take(tr); len(got) != 0 {
		t.Fatalf("committable before the first record was acked: %v", got)
	}
	tr.ack(ta[0])
	got := take(tr)
	if len(got) != 1 || got[0].Offset["seq"] != int64(1) {
		t.Fatalf("committable = %v, want seq 1", got)
	}
	if again := take(tr); len(again) != 0 {
		t.Fatalf("second call returned %v, want nothing new", again)
	}
	tr.ack(ta[2])
	tr.ack(tb[0])
	tr.ack(tb[2])
	got = take(tr)
	want := map[int64]int64{0: 3, 1: 100}
	if len(got) != 2 {
		t.Fatalf("committable = %v", got)
	}
	for _, o := range got {
		if w := want[o.Partition["task"].(int64)]; o.Offset["seq"] != w {
			t.Errorf("partition %v offset %v, want %d", o.Partition, o.Offset, w)
		}
	}
	if n := tr.inFlight(); n != 3 { // ta[4], tb[1], and tb[2] behind it
		t.Fatalf("inFlight = %d, want 3", n)
	}
}

func BenchmarkTracker(b *testing.B) {
	tr := newTracker()
	p := map[string]any{"server": "x"}
	off := map[string]any{"lsn": int64(1)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		k, _ := tr.submit(p, off)
		tr.ack(k)
	}
}

func TestTrackerRecordsWithoutOffsetAreCoveredByTheNext(t *testing.T) {
	tr := newTracker()
	p := map[string]any{"task": int64(0)}
	a, _ := tr.submit(p, nil)
	b, _ := tr.submit(p, nil)
	c, _ := tr.submit(p, map[string]any{"seq": int64(2)})
	d, _ := tr.submit(p, nil)
	tr.ack(a)
	tr.ack(b)
	if got := take(tr); len(got) != 0 {
		t.Fatalf("records without an offset committed %v", got)
	}
	tr.ack(d)
	tr.ack(c)
	got := take(tr)
	if len(got) != 1 || got[0].Offset["seq"] != int64(2) {
		t.Fatalf("committable = %v, want seq 2", got)
	}
}

// take returns what committable adds, as a list.
func take(tr *tracker) []connectors.SourceOffset {
	m := map[string]connectors.SourceOffset{}
	tr.committable(m)
	out := make([]connectors.SourceOffset, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	return out
}
