package runtime

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countingSink records what each Put was given.
type countingSink struct {
	mu       sync.Mutex
	records  int
	bytes    int
	maxBatch int
	parts    map[int32]int
}

func (s *countingSink) Start(context.Context, connectors.SinkTaskContext, map[string]string) error {
	return nil
}

func (s *countingSink) Put(_ context.Context, recs []*connectors.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts == nil {
		s.parts = map[int32]int{}
	}
	s.records += len(recs)
	s.maxBatch = max(s.maxBatch, len(recs))
	for _, r := range recs {
		b, _ := r.Value.([]byte)
		s.bytes += len(b)
		s.parts[r.Partition]++
	}
	return nil
}

func (s *countingSink) Flush(_ context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	return cur, nil
}

func (s *countingSink) Stop(context.Context) error { return nil }

func (s *countingSink) counts() (records, bytes, maxBatch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records, s.bytes, s.maxBatch
}

func (s *countingSink) partition(p int32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[p]
}

// produceN writes n records of 100-byte values to topic, spread over its
// partitions.
func produceN(t *testing.T, seeds []string, topic string, partitions int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	val := bytes.Repeat([]byte("v"), 100)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Partition: int32(i) % partitions, Value: val}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// runSink runs r until the test ends; stop cancels it and reports how
// long it took to return.
func runSink(t *testing.T, r *sinkRunner) (stop func() time.Duration) {
	r.stopTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.run(ctx); err != nil {
			t.Errorf("sink task %v: %v", r.id, err)
		}
	}()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			start := time.Now()
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("sink task did not stop")
			}
			took = time.Since(start)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// measure waits for the sink's first records, then returns what it was
// handed per second over d.
func measure(t *testing.T, s *countingSink, d time.Duration) (records, bytes float64) {
	t.Helper()
	waitFor(t, "the sink's first records", func() bool { n, _, _ := s.counts(); return n > 0 })
	time.Sleep(500 * time.Millisecond)
	r0, b0, _ := s.counts()
	t0 := time.Now()
	time.Sleep(d)
	r1, b1, _ := s.counts()
	secs := time.Since(t0).Seconds()
	return float64(r1-r0) / secs, float64(b1-b0) / secs
}

// TestSinkRateLimitRecords: a sink task limited to 1,000 records/s is
// handed 1,000 records/s (±5%), in Puts of at most one second's worth
// though it may poll 5,000 at a time, with 20,000 records waiting.
func TestSinkRateLimitRecords(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "rs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the sink tasks stopped
	produceN(t, c.ListenAddrs(), "rs", 1, 20_000)
	s := &countingSink{}
	r := newTestSinkRunner(t, 0, s, c.ListenAddrs(), "rs")
	r.id.Connector = "rate-records"
	r.maxPoll = 5000
	r.flushEvery = 200 * time.Millisecond
	r.limit = newLimiter(rateLimits{records: 1000}, r.pause, time.Now)
	runSink(t, r)
	rate, _ := measure(t, s, 5*time.Second)
	_, _, maxBatch := s.counts()
	t.Logf("%.0f records/s, largest Put %d records", rate, maxBatch)
	if rate < 950 || rate > 1050 {
		t.Errorf("rate %.0f records/s, want 1000 ± 5%%", rate)
	}
	if maxBatch > 1000 {
		t.Errorf("a Put of %d records: more than one second's worth", maxBatch)
	}
	// Paused for two seconds, the task gathers one second's worth, no
	// more: the next Put has at most 1,000 records.
	r.pause.set(true)
	time.Sleep(2 * time.Second)
	r.pause.set(false)
	waitFor(t, "a Put of the gathered burst", func() bool { _, _, m := s.counts(); return m > 900 })
	if _, _, maxBatch = s.counts(); maxBatch > 1000 {
		t.Errorf("a Put of %d records after a pause: more than one second's worth", maxBatch)
	}
}

// TestSinkRateLimitBytes: a sink task limited to 20,000 bytes/s of
// 100-byte records is handed 200 records/s (±5%).
func TestSinkRateLimitBytes(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "rsb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the sink tasks stopped
	produceN(t, c.ListenAddrs(), "rsb", 1, 5000)
	s := &countingSink{}
	r := newTestSinkRunner(t, 0, s, c.ListenAddrs(), "rsb")
	r.id.Connector = "rate-bytes"
	r.maxPoll = 500
	r.flushEvery = 200 * time.Millisecond
	r.limit = newLimiter(rateLimits{bytes: 20_000}, r.pause, time.Now)
	runSink(t, r)
	_, rate := measure(t, s, 5*time.Second)
	t.Logf("%.0f bytes/s", rate)
	if rate < 19_000 || rate > 21_000 {
		t.Errorf("rate %.0f bytes/s, want 20000 ± 5%%", rate)
	}
}

// TestRateLimitedSinkRebalancesAndStops: a sink task waiting on a long
// rate limit debt lets its group rebalance (a second task joins and gets
// records of a partition it took over) and stops at once when told.
func TestRateLimitedSinkRebalancesAndStops(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "rsr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the sink tasks stopped
	seeds := c.ListenAddrs()
	produceN(t, seeds, "rsr", 2, 200)
	slow := &countingSink{}
	a := newTestSinkRunner(t, 0, slow, seeds, "rsr")
	a.id.Connector = "rate-rebalance"
	// 1 byte/s: the first poll leaves minutes of debt.
	a.limit = newLimiter(rateLimits{bytes: 1}, a.pause, time.Now)
	stopA := runSink(t, a)
	waitFor(t, "the slow task's first Put", func() bool { n, _, _ := slow.counts(); return n > 0 })

	fast := &countingSink{}
	b := newTestSinkRunner(t, 1, fast, seeds, "rsr")
	b.id.Connector = "rate-rebalance"
	runSink(t, b)
	// Records for both partitions: the one the new task takes over
	// reaches it once the group has rebalanced.
	deadline := time.Now().Add(30 * time.Second)
	for fast.partition(0)+fast.partition(1) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the group did not rebalance while a task waited on its rate limit")
		}
		produceN(t, seeds, "rsr", 2, 10)
		time.Sleep(200 * time.Millisecond)
	}
	if d := stopA(); d > 2*time.Second {
		t.Errorf("stopping the waiting task took %v", d)
	}
}
