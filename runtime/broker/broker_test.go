package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, dir string, opts ...Option) *Broker {
	t.Helper()
	b, err := Start(dir, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The broker creates no topic on a client's request, even one that asks
// for auto-creation; a topic created with the default partition count has
// Kafka's 1, not kfake's 10.
func TestNoAutoCreationAndOnePartitionByDefault(t *testing.T) {
	b := start(t, t.TempDir())
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(0),
		kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "unknown", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("producing to an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, "unknown")
	if err != nil {
		t.Fatal(err)
	}
	if td.Has("unknown") {
		t.Fatal("the broker auto-created topic unknown")
	}
	resp, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.NumPartitions != 1 {
		t.Fatalf("topic created with -1 partitions has %d, want 1", resp.NumPartitions)
	}
}
