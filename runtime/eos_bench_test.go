package runtime

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkSourceDelivery measures a datagen source's throughput into an
// in-process kfake broker at least once and exactly once (a transaction
// per poll, and per 200 ms), same run: records/s until the last record is
// committed. go test -run '^$' -bench SourceDelivery -benchtime 1x ./runtime/
func BenchmarkSourceDelivery(b *testing.B) {
	const n = 1000000
	for _, c := range []struct{ name, eos, boundary string }{
		{"at-least-once", "disabled", "poll"},
		{"exactly-once-poll", "enabled", "poll"},
		{"exactly-once-interval", "enabled", "interval"},
	} {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			for range b.N {
				w := startWorker(b, map[string]string{config.ExactlyOnceSourceSupport: c.eos, config.GroupID: "bench"})
				start := time.Now()
				w.do(b, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
					"connector.class": "datagen", "kafka.topic": "bench", "iterations": strconv.Itoa(n), "tasks.max": "1",
					"transaction.boundary": c.boundary, "transaction.boundary.interval.ms": "200"}}, 201, nil)
				waitCommitted(b, w.bootstrap, "bench", n)
				total += time.Since(start)
				w.stop(b)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
		})
	}
}

// waitCommitted waits until topic's read_committed end offsets hold n
// records (transaction markers excluded: it counts records read).
func waitCommitted(b *testing.B, bootstrap, topic string, n int) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	got := 0
	deadline := time.Now().Add(5 * time.Minute)
	for got < n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		got += fs.NumRecords()
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d records committed after 5 minutes", got, n)
		}
	}
}
