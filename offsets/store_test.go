package offsets

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestKeyFormatMatchesKafkaConnect(t *testing.T) {
	k, err := Key("pg", map[string]any{"server": "inventory"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(k), `["pg",{"server":"inventory"}]`; got != want {
		t.Fatalf("key = %s, want %s", got, want)
	}
	c, p, err := ParseKey(k)
	if err != nil || c != "pg" || p["server"] != "inventory" {
		t.Fatalf("ParseKey = %q %v %v", c, p, err)
	}
	k, _ = Key("c", map[string]any{"f": 1.0, "i": int64(1), "s": "x"})
	if got, want := string(k), `["c",{"f":1.0,"i":1,"s":"x"}]`; got != want {
		t.Fatalf("key = %s, want %s (floats keep their fraction, as Jackson writes them)", got, want)
	}
	if _, p, _ := ParseKey(k); p["f"] != 1.0 || p["i"] != int64(1) {
		t.Fatalf("types not kept: %#v", p)
	}
	for _, bad := range []string{`{}`, `["a"]`, `[1,{}]`, `not json`} {
		if _, _, err := ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%s) succeeded", bad)
		}
	}
}

func TestValidateRejectsNonPrimitives(t *testing.T) {
	if err := Validate("source offset", map[string]any{"lsn": int64(5), "snap": "x", "b": true, "n": nil}); err != nil {
		t.Fatal(err)
	}
	if err := Validate("source offset", map[string]any{"chunks": []int{1}}); err == nil {
		t.Fatal("a list was accepted")
	}
}

func exercise(t *testing.T, s Store) {
	ctx := context.Background()
	p1 := map[string]any{"task": int64(0)}
	p2 := map[string]any{"task": int64(1)}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p1, Offset: map[string]any{"seq": int64(10)}}, {Partition: p2, Offset: map[string]any{"seq": int64(3)}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p1, Offset: map[string]any{"seq": int64(20)}}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "dg", p1)
	if err != nil || got["seq"] != int64(20) {
		t.Fatalf("Get p1 = %v %v, want seq 20", got, err)
	}
	if got, _ := s.Get(ctx, "other", p1); got != nil {
		t.Fatalf("other connector sees %v", got)
	}
	all, _ := s.All(ctx, "dg")
	if len(all) != 2 {
		t.Fatalf("All = %v", all)
	}
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p2}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "dg", p2); got != nil {
		t.Fatalf("deleted offset still there: %v", got)
	}
}

func TestMemory(t *testing.T) { exercise(t, NewMemory()) }

func TestKafkaStoreSurvivesReopen(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func() *Kafka {
		s, err := OpenKafka(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.New("offsets", cb, kgo.SeedBrokers(c.ListenAddrs()...))
		}, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "offsets", Partitions: 25}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	exercise(t, s)
	s.Close()
	c.Compact()
	s2 := open()
	defer s2.Close()
	got, _ := s2.Get(ctx, "dg", map[string]any{"task": int64(0)})
	if got["seq"] != int64(20) {
		t.Fatalf("after reopen seq = %v, want 20", got)
	}
	if got, _ := s2.Get(ctx, "dg", map[string]any{"task": int64(1)}); got != nil {
		t.Fatalf("tombstoned offset came back: %v", got)
	}
}

// TestTableKeepsTheLaterRecord checks both orders in which Put and the
// topic reader can apply records of one source partition.
func TestTableKeepsTheLaterRecord(t *testing.T) {
	var tb table
	k := []byte(`["c",{"p":1}]`)
	part := map[string]any{"p": int64(1)}
	at := func(p int32, o int64) position { return position{known: true, partition: p, offset: o} }
	seq := func() any { return tb.get("c", k)["seq"] }

	tb.set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // Put acknowledged at 2
	tb.set("c", k, part, map[string]any{"seq": int64(1)}, at(0, 1)) // reader lagging at 1
	if seq() != int64(2) {
		t.Fatalf("a lagging reader moved the offset back to %v", seq())
	}
	tb.set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // reader reaches 2
	tb.set("c", k, part, map[string]any{"seq": int64(3)}, at(0, 3)) // another worker's record
	tb.set("c", k, part, map[string]any{"seq": int64(2)}, at(0, 2)) // a late Put of an older record
	if seq() != int64(3) {
		t.Fatalf("a Put of an older record moved the offset back to %v", seq())
	}
	tb.set("c", k, part, nil, at(0, 4)) // deleted
	tb.set("c", k, part, map[string]any{"seq": int64(3)}, at(0, 3))
	if got := tb.get("c", k); got != nil {
		t.Fatalf("an older record brought a deleted offset back: %v", got)
	}
	if all := tb.all("c"); len(all) != 0 {
		t.Fatalf("All lists a deleted offset: %v", all)
	}
	tb.set("c", k, part, map[string]any{"seq": int64(5)}, at(0, 5))
	if seq() != int64(5) {
		t.Fatalf("a newer record after a deletion was not applied: %v", seq())
	}
}

// TestKafkaStoreDelayedReader runs the store with its topic reader held
// back: records Put acknowledged reach the reader only when the test lets
// them, one by one, and a Get never sees an offset older than the last
// acknowledged Put. ReadToEnd then waits for the reader.
func TestKafkaStoreDelayedReader(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var held atomic.Bool
	gate := make(chan struct{})     // one receive lets one record through
	applied := make(chan int64, 16) // offsets of records applied while held
	s, err := OpenKafka(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
		return kafkalog.New("offsets", func(r kafkalog.Record) {
			if !held.Load() {
				cb(r)
				return
			}
			select {
			case <-gate:
			case <-ctx.Done():
				return
			}
			cb(r)
			applied <- r.Offset
		}, kgo.SeedBrokers(c.ListenAddrs()...))
	}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer cancel() // before Close: a held reader stops waiting
	if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "offsets", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exercise(t, s) // the behaviour suite, reader not held

	p := map[string]any{"task": int64(7)}
	put := func(seq int64) {
		t.Helper()
		if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p, Offset: map[string]any{"seq": seq}}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func() any {
		t.Helper()
		got, err := s.Get(ctx, "dg", p)
		if err != nil {
			t.Fatal(err)
		}
		return got["seq"]
	}
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	held.Store(true)
	for seq := int64(1); seq <= 5; seq++ {
		put(seq)
		if got := get(); got != seq {
			t.Fatalf("after Put of seq %d, Get = %v", seq, got)
		}
	}
	// The reader now applies the five records, oldest first: the offset
	// stays at the last Put's.
	for i := 0; i < 5; i++ {
		select {
		case gate <- struct{}{}:
		case <-ctx.Done():
			t.Fatal("reader never asked for the next record")
		}
		<-applied
		if got := get(); got != int64(5) {
			t.Fatalf("after the reader applied %d older records, Get = %v, want 5", i+1, got)
		}
	}
	// A deletion is ordered the same way.
	if err := s.Put(ctx, "dg", []connectors.SourceOffset{{Partition: p}}); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != nil {
		t.Fatalf("after deleting, Get = %v", got)
	}
	gate <- struct{}{}
	<-applied
	held.Store(false)
	put(6)
	if err := s.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != int64(6) {
		t.Fatalf("after reading to the end, Get = %v, want 6", got)
	}
}
