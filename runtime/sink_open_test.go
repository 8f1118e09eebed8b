package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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

// openErrSink is countSink whose Open fails with err.
type openErrSink struct {
	countSink
	err error
}

func (s *openErrSink) Open(context.Context, []connectors.TopicPartition) error { return s.err }
func (s *openErrSink) Close(context.Context, []connectors.TopicPartition) error {
	return nil
}

// TestSinkOpenError: an error of a sink task's Open that is not retriable
// fails the task naming the partitions, as Kafka Connect fails a task
// whose open() throws (it used to be logged only); a retriable one is
// the task's to retry, and records keep coming.
func TestSinkOpenError(t *testing.T) {
	for _, retriable := range []bool{false, true} {
		t.Run(map[bool]string{false: "fatal", true: "retriable"}[retriable], func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			seed := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
			prod, err := kgo.NewClient(seed...)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			for range 5 {
				if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "in", Value: []byte("v")}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			chain, err := transforms.NewRegistry().NewChain(map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			openErr := errors.New("bucket sluice-x: AccessDenied")
			if retriable {
				openErr = connectors.Retry(errors.New("S3 unavailable: 503"))
			}
			var got, flushes atomic.Int64
			var hang atomic.Bool
			r := &sinkRunner{id: api.TaskID{Connector: "opener"}, task: &openErrSink{countSink: countSink{n: &got, hang: &hang, flushes: &flushes}, err: openErr},
				chain: chain, keyConv: &converter.ByteArray{}, valConv: &converter.ByteArray{},
				clientOpts: append(seed, kgo.ConsumeTopics("in")), maxPoll: 100, logger: slog.Default(),
				flushEvery: 50 * time.Millisecond, flushTimeout: 5 * time.Second, stopTimeout: 5 * time.Second,
				onRunning: func() {}, onTopics: func([]string) {}, pause: &pauser{}}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			done := make(chan error, 1)
			go func() { done <- r.run(ctx) }()
			if !retriable {
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), "opening partitions [{in 0}]") || !strings.Contains(err.Error(), "AccessDenied") {
						t.Fatalf("run = %v, want the Open error naming the partitions", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("a task whose Open failed did not fail")
				}
				return
			}
			waitFor(t, "the records", func() bool { return got.Load() == 5 })
			stop()
			if err := <-done; err != nil {
				t.Fatalf("run: %v", err)
			}
		})
	}
}
