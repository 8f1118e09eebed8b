package offsetstore

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets/offsetstest"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestKafkaStoreSurvivesReopen(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func() *Kafka {
		s, err := Open(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
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
	offsetstest.Exercise(t, s)
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
	s, err := Open(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
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
	offsetstest.Exercise(t, s) // the behaviour suite, reader not held

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
