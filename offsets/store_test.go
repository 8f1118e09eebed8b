package offsets

import (
	"context"
	"log/slog"
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
