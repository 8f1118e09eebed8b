package configstore

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStoreRebuildsFromTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	open := func() *Store {
		s, err := Open(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.New("configs", cb, kgo.SeedBrokers(c.ListenAddrs()...))
		}, slog.Default(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "configs", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "1"}, ""))
	must(s.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "2"}, ""))
	must(s.PutTaskConfigs(ctx, "a", []map[string]string{{"t": "0"}, {"t": "1"}}))
	must(s.PutConnector(ctx, "b", map[string]string{"connector.class": "datagen"}, TargetPaused))
	must(s.PutTarget(ctx, "b", TargetStopped))
	must(s.PutConnector(ctx, "gone", map[string]string{"connector.class": "datagen"}, ""))
	must(s.PutTaskConfigs(ctx, "gone", []map[string]string{{"t": "0"}}))
	must(s.DeleteConnector(ctx, "gone"))
	check := func(snap Snapshot) {
		t.Helper()
		if snap.Connectors["a"]["v"] != "2" || len(snap.Tasks["a"]) != 2 || snap.Tasks["a"][1]["t"] != "1" {
			t.Fatalf("connector a: %+v", snap)
		}
		if snap.Targets["b"] != TargetStopped {
			t.Fatalf("target b = %q", snap.Targets["b"])
		}
		if _, ok := snap.Connectors["gone"]; ok || len(snap.Tasks["gone"]) != 0 {
			t.Fatalf("deleted connector still present: %+v", snap)
		}
	}
	check(s.Snapshot())
	s.Close()
	c.Compact()
	s2 := open()
	defer s2.Close()
	check(s2.Snapshot())
}

// Under RequireClaim only the claimant writes: a store that released its
// claim (a leader that lost the pool) is refused rather than written
// around the transaction, and a store whose claim was taken over by
// another is fenced; what either tried is never read back.
func TestClaimedWritesFenceTheFormerLeader(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seeds := kgo.SeedBrokers(c.ListenAddrs()...)
	open := func() *Store {
		s, err := Open(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.NewCommitted("configs", cb, seeds)
		}, slog.Default(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "configs", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		s.RequireClaim()
		t.Cleanup(s.Close)
		return s
	}
	claim := func(s *Store) *kgo.Client {
		t.Helper()
		cl, err := kgo.NewClient(seeds, kgo.TransactionalID("connect-cluster-g"), kgo.RequiredAcks(kgo.AllISRAcks()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		if err := s.Claim(ctx, cl, "connect-cluster-g"); err != nil {
			t.Fatal(err)
		}
		return cl
	}
	old, next := open(), open()
	if err := old.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "0"}, ""); !errors.Is(err, ErrNotClaimed) {
		t.Fatalf("write without a claim: %v, want ErrNotClaimed", err)
	}
	claim(old)
	if err := old.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "1"}, ""); err != nil {
		t.Fatal(err)
	}
	claim(next) // fences old's producer
	var conflict *api.Error
	if err := old.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "fenced"}, ""); !errors.As(err, &conflict) || conflict.Status != http.StatusConflict {
		t.Fatalf("the fenced former leader's write: %v, want a 409 conflict", err)
	}
	if err := next.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "2"}, ""); err != nil {
		t.Fatal(err)
	}
	old.Release()
	if err := old.PutConnector(ctx, "a", map[string]string{"connector.class": "datagen", "v": "released"}, ""); !errors.Is(err, ErrNotClaimed) {
		t.Fatalf("write after the claim was released: %v, want ErrNotClaimed", err)
	}
	if err := old.ReadToEnd(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{old, next} {
		if v := s.Snapshot().Connectors["a"]["v"]; v != "2" {
			t.Errorf("connector a read back with v=%s, want 2", v)
		}
	}
}
