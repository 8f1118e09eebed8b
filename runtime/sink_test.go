package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// staleTask is a sink task that never forgets a partition: Flush reports
// every partition it was ever handed, at the offset it last saw, as
// durable (what the JDBC sink did before it watched partitions). It does
// not implement connectors.PartitionWatcher.
type staleTask struct {
	mu   sync.Mutex
	seen map[connectors.TopicPartition]int64
}

func (s *staleTask) Start(context.Context, connectors.SinkTaskContext, map[string]string) error {
	s.seen = map[connectors.TopicPartition]int64{}
	return nil
}

func (s *staleTask) Put(_ context.Context, recs []*connectors.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.seen[connectors.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.Offset + 1
	}
	return nil
}

func (s *staleTask) Flush(context.Context, map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := maps.Clone(s.seen)
	// A partition of a topic the task does not consume: never to be
	// committed.
	out[connectors.TopicPartition{Topic: "elsewhere", Partition: 0}] = 7
	return out, nil
}

func (s *staleTask) Stop(context.Context) error { return nil }

func newTestSinkRunner(t *testing.T, task int, st connectors.SinkTask, seeds []string, topic string) *sinkRunner {
	t.Helper()
	conv := func() converter.Converter {
		c, err := converter.Builtin().New("ByteArrayConverter")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Configure(nil, false); err != nil {
			t.Fatal(err)
		}
		return c
	}
	return &sinkRunner{
		id: api.TaskID{Connector: "owned", Task: task}, task: st, keyConv: conv(), valConv: conv(),
		clientOpts: []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.MetadataMinAge(100 * time.Millisecond), kgo.MetadataMaxAge(time.Second)},
		maxPoll:    100, logger: slog.Default(), flushEvery: 50 * time.Millisecond, flushTimeout: 5 * time.Second,
		onRunning: func() {}, onTopics: func([]string) {}, pause: &pauser{},
	}
}

// TestSinkCommitsOnlyOwnedPartitions runs two sink tasks in one group
// whose Flush keeps reporting partitions they no longer own: as the
// partitions move between them (a second task joins, a partition is
// added, a task leaves), the group's committed offsets never go back and
// a partition the task never consumed is never committed.
func TestSinkCommitsOnlyOwnedPartitions(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "moving"), kfake.SeedTopics(1, "elsewhere"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seeds := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic("moving"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var produced sync.Mutex
	ends := map[int32]int64{}
	produce := func(partitions int32, n int) {
		t.Helper()
		produced.Lock()
		defer produced.Unlock()
		for i := 0; i < n; i++ {
			p := int32(i) % partitions
			r := &kgo.Record{Partition: p, Value: []byte(fmt.Sprint(i))}
			for try := 0; ; try++ {
				err := cl.ProduceSync(ctx, r).FirstErr()
				if err == nil {
					break
				}
				if try == 100 {
					t.Fatal(err)
				}
				// A partition just added is not in the client's metadata yet.
				cl.ForceMetadataRefresh()
				time.Sleep(50 * time.Millisecond)
			}
			ends[p] = r.Offset + 1
		}
	}

	// The watcher polls the group's committed offsets throughout.
	var (
		wmu        sync.Mutex
		last       = map[string]map[int32]int64{}
		violations []string
	)
	wctx, wstop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for wctx.Err() == nil {
			fetched, err := adm.FetchOffsets(wctx, consumerGroup("owned"))
			if err == nil {
				wmu.Lock()
				fetched.Each(func(o kadm.OffsetResponse) {
					if o.Err != nil {
						return
					}
					if last[o.Topic] == nil {
						last[o.Topic] = map[int32]int64{}
					}
					if prev, ok := last[o.Topic][o.Partition]; ok && o.At < prev {
						violations = append(violations, fmt.Sprintf("%s[%d] went from %d back to %d", o.Topic, o.Partition, prev, o.At))
					}
					last[o.Topic][o.Partition] = o.At
				})
				wmu.Unlock()
			}
			select {
			case <-wctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	committed := func() map[string]map[int32]int64 {
		wmu.Lock()
		defer wmu.Unlock()
		out := map[string]map[int32]int64{}
		for topic, ps := range last {
			out[topic] = maps.Clone(ps)
		}
		return out
	}
	waitCommitted := func(what string) {
		t.Helper()
		produced.Lock()
		want := maps.Clone(ends)
		produced.Unlock()
		deadline := time.Now().Add(90 * time.Second)
		for {
			got := committed()["moving"]
			ok := true
			for p, e := range want {
				ok = ok && got[p] == e
			}
			if ok {
				return
			}
			if t.Failed() || time.Now().After(deadline) {
				t.Fatalf("%s: committed %v, want %v", what, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	type running struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(task int) running {
		r := newTestSinkRunner(t, task, &staleTask{}, seeds, "moving")
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := r.run(rctx); err != nil {
				t.Errorf("sink task %d: %v", task, err)
			}
		}()
		return running{rcancel, done}
	}
	stop := func(r running) {
		r.cancel()
		<-r.done
	}

	a := start(0)
	produce(2, 200)
	waitCommitted("one task owns both partitions")

	// A second task joins: one partition moves to it, and the first
	// task's Flush still reports it.
	b := start(1)
	for round := 0; round < 5; round++ {
		produce(2, 100)
		waitCommitted(fmt.Sprintf("two tasks, round %d", round))
	}

	// A partition is added to the topic: the group rebalances again.
	if _, err := adm.CreatePartitions(ctx, 1, "moving"); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		produce(3, 99)
		waitCommitted(fmt.Sprintf("three partitions, round %d", round))
	}

	// One task restarts: its partitions move to the other and back.
	stop(a)
	produce(3, 99)
	waitCommitted("one task left")
	a = start(0)
	for round := 0; round < 5; round++ {
		produce(3, 99)
		waitCommitted(fmt.Sprintf("task restarted, round %d", round))
	}
	stop(a)
	stop(b)
	wstop()
	wg.Wait()

	wmu.Lock()
	defer wmu.Unlock()
	for _, v := range violations {
		t.Error(v)
	}
	if _, ok := last["elsewhere"]; ok {
		t.Errorf("a partition no task consumed was committed: %v", last["elsewhere"])
	}
}

// watchingTask records the calls the runner makes to a sink task that
// watches its partitions; Flush reports durable as set.
type watchingTask struct {
	staleTask
	calls   []string
	durable map[connectors.TopicPartition]int64
}

func (w *watchingTask) Flush(context.Context, map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	w.calls = append(w.calls, "Flush")
	return w.durable, nil
}

func (w *watchingTask) Open(_ context.Context, tps []connectors.TopicPartition) error {
	w.calls = append(w.calls, fmt.Sprint("Open ", tps))
	return nil
}

func (w *watchingTask) Close(_ context.Context, tps []connectors.TopicPartition) error {
	w.calls = append(w.calls, fmt.Sprint("Close ", tps))
	return nil
}

// TestSinkLostPartitionIsNeitherFlushedNorCommitted drives the runner's
// rebalance callbacks directly: a revoked partition is flushed before the
// task closes it; a lost one is closed without a flush, and what the task
// still reports of it afterwards is not committed.
func TestSinkLostPartitionIsNeitherFlushedNorCommitted(t *testing.T) {
	ctx := context.Background()
	task := &watchingTask{}
	// No client: a commit would panic, so the test also proves nothing
	// was committed.
	r := &sinkRunner{task: task, logger: slog.Default(), flushTimeout: time.Second, onTopics: func([]string) {},
		current: map[connectors.TopicPartition]int64{}, first: map[connectors.TopicPartition]int64{}}
	p0 := connectors.TopicPartition{Topic: "t", Partition: 0}
	p1 := connectors.TopicPartition{Topic: "t", Partition: 1}
	r.assigned(ctx, nil, map[string][]int32{"t": {0, 1}})
	r.current[p0], r.first[p0] = 10, 5
	r.current[p1], r.first[p1] = 20, 15

	r.lost(ctx, nil, map[string][]int32{"t": {0}})
	if want := []string{"Open [{t 0} {t 1}]", "Close [{t 0}]"}; fmt.Sprint(task.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q, want %q (no Flush for a lost partition)", task.calls, want)
	}
	// The task (wrongly) still reports the lost partition: not committed.
	task.durable = map[connectors.TopicPartition]int64{p0: 10}
	if err := r.flushLocked(ctx, nil); err != nil {
		t.Fatal(err)
	}

	task.calls, task.durable = nil, nil
	r.revoked(ctx, nil, map[string][]int32{"t": {1}})
	if want := []string{"Flush", "Close [{t 1}]"}; fmt.Sprint(task.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %q, want %q (a revoked partition is flushed first)", task.calls, want)
	}
	if len(r.current) != 0 || len(r.first) != 0 {
		t.Fatalf("runner still tracks %v %v", r.current, r.first)
	}
}
