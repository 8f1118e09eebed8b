package runtime

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A status write while Kafka is down gives up after the store's timeout
// even when the caller's context has no deadline, so a broker outage
// cannot hold a stopping task or the worker's shutdown.
func TestStatusWriteIsBoundedWhenKafkaIsDown(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const timeout = 500 * time.Millisecond
	newLog := func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
		return kafkalog.New("status", cb, kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTimeout(time.Second))
	}
	s, err := openStatusStore(newLog, slog.New(slog.DiscardHandler), timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer s.log.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "status", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.log.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id := api.TaskID{Connector: "c", Task: 0}
	s.putTask(context.Background(), id, statusValue{State: api.StateRunning})

	c.Close() // the broker goes away
	start := time.Now()
	s.putTask(context.Background(), id, statusValue{State: api.StateFailed, Trace: "x"})
	s.putConnector(context.Background(), "c", statusValue{State: api.StateFailed})
	s.deleteTasks(context.Background(), []api.TaskID{id, {Connector: "c", Task: 1}})
	s.deleteConnector(context.Background(), "c")
	s.putTopic(context.Background(), "c", "t", 0)
	if err := s.resetTopics(context.Background(), "c"); err == nil {
		t.Error("resetTopics with the broker down returned no error")
	}
	// Six writes, each bounded by timeout (a batch of tombstones is one
	// write); generous slack for a loaded machine, far below "forever".
	if d := time.Since(start); d > 6*timeout+5*time.Second {
		t.Fatalf("six status writes with Kafka down took %v; each should give up after %v", d, timeout)
	}
	// The local view has the latest state even though Kafka has not.
	if _, ok := s.task(id); ok {
		t.Errorf("deleted task still in the local view")
	}
}
