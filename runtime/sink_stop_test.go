package runtime

import (
	"context"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countSink counts what it is given and reports all of it durable; while
// hang is set, Flush blocks until its context ends, as a sink whose
// database stopped answering does, and fails retriably.
type countSink struct {
	n       *atomic.Int64
	hang    *atomic.Bool
	flushes *atomic.Int64
}

func (s *countSink) Start(context.Context, connectors.SinkTaskContext, map[string]string) error {
	return nil
}
func (s *countSink) Put(_ context.Context, recs []*connectors.Record) error {
	s.n.Add(int64(len(recs)))
	return nil
}
func (s *countSink) Flush(ctx context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	s.flushes.Add(1)
	if s.hang.Load() {
		<-ctx.Done()
		return nil, connectors.Retry(ctx.Err())
	}
	return cur, nil
}
func (s *countSink) Stop(context.Context) error { return nil }

// A sink task stopped while its Flush hangs (its database stopped
// answering) or while Kafka is unreachable returns within
// task.shutdown.graceful.timeout.ms. Before, the flush running when the
// stop came, the final flush and the flush of the revoke callback run by
// leaving the group each waited offset.flush.timeout.ms + 30 s: 70 s and
// more with the default 5 s.
func TestSinkStopIsBounded(t *testing.T) {
	t.Run("flush hangs", func(t *testing.T) { testSinkStopIsBounded(t, false) })
	t.Run("kafka down", func(t *testing.T) { testSinkStopIsBounded(t, true) })
}

func testSinkStopIsBounded(t *testing.T, kafkaDown bool) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seed := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DialTimeout(time.Second)}
	prod, err := kgo.NewClient(seed...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "in", Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()

	chain, err := transforms.NewRegistry().NewChain(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	var got, flushes atomic.Int64
	var hang atomic.Bool
	const grace = time.Second
	r := &sinkRunner{id: api.TaskID{Connector: "stopper"}, task: &countSink{n: &got, hang: &hang, flushes: &flushes}, chain: chain,
		keyConv: &converter.ByteArray{}, valConv: &converter.ByteArray{},
		clientOpts: append(seed, kgo.ConsumeTopics("in")), maxPoll: 100, logger: logger,
		flushEvery: 200 * time.Millisecond, flushTimeout: 5 * time.Second, stopTimeout: grace,
		onRunning: func() {}, onTopics: func([]string) {}, pause: &pauser{}}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.run(rctx) }()
	waitFor(t, "the sink to get every record", func() bool { return got.Load() == 10 })

	if kafkaDown {
		c.Close() // Kafka goes away with a flush still to do
	} else {
		hang.Store(true)
		// Stop while a flush hangs.
		n := flushes.Load()
		waitFor(t, "a flush to hang", func() bool { return flushes.Load() > n })
	}
	start := time.Now()
	stop()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("sink did not stop in 2 minutes")
	}
	// The bound plus slack for a loaded machine.
	if d := time.Since(start); d > grace+4*time.Second {
		t.Fatalf("sink stop took %v with a graceful timeout of %v", d, grace)
	}
}
