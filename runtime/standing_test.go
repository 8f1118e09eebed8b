package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seqTask returns one record per Poll, its source offset counting up.
type seqTask struct{ n int64 }

func (*seqTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}

func (s *seqTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	select {
	case <-ctx.Done():
		return nil, nil
	case <-time.After(2 * time.Millisecond):
	}
	s.n++
	return []*connectors.Record{{Topic: "held", Value: []byte(fmt.Sprint(s.n)),
		SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"n": s.n}}}, nil
}

func (*seqTask) Stop(context.Context) error { return nil }

// TestSourceTaskHoldsWithoutStanding: while its worker has lost its
// standing in the pool (a worker frozen past its lease: its task may run
// elsewhere), a source task sends no record and commits no offset; it
// goes on when the standing comes back, and when it is stopped before
// that, what it held is neither sent nor committed (the task's new owner
// sends it).
func TestSourceTaskHoldsWithoutStanding(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	end := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), "held")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := ends.Lookup("held", 0)
		return o.Offset
	}
	st := offsets.NewMemory()
	stored := func() int64 {
		m, err := st.Get(context.Background(), "c", map[string]any{"p": "x"})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := m["n"].(int64)
		return n
	}
	var standing atomic.Bool
	standing.Store(true)
	r := &sourceRunner{id: api.TaskID{Connector: "c"}, task: &seqTask{}, producer: producer, offsets: st,
		logger: slog.Default(), onRunning: func() {}, pause: &pauser{}, standing: standing.Load,
		keyConv: &converter.ByteArray{}, valConv: &converter.ByteArray{},
		topics: map[string]bool{"held": true}, onTopic: func(string) {},
		flushEvery: 10 * time.Millisecond, flushTimeout: 5 * time.Second,
		bufferedBytes: 1 << 20, bufferedRecords: 1000}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx) }()

	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for dl := time.Now().Add(10 * time.Second); !ok(); {
			if time.Now().After(dl) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil("20 committed records", func() bool { return stored() >= 20 })

	standing.Store(false)
	time.Sleep(200 * time.Millisecond) // a batch past the check when it changed lands
	n0, o0 := end(), stored()
	time.Sleep(300 * time.Millisecond)
	if n1, o1 := end(), stored(); n1 != n0 || o1 != o0 {
		t.Fatalf("without standing the task went on: records %d → %d, committed offset %d → %d", n0, n1, o0, o1)
	}

	standing.Store(true)
	waitUntil("records and commits after the standing came back", func() bool { return end() > n0+10 && stored() > o0+10 })

	standing.Store(false)
	time.Sleep(200 * time.Millisecond)
	n2, o2 := end(), stored()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if n3, o3 := end(), stored(); n3 != n2 || o3 != o2 {
		t.Fatalf("a task stopped without standing sent or committed what it held: records %d → %d, committed offset %d → %d", n2, n3, o2, o3)
	}
	if o2 > n2 {
		t.Fatalf("committed offset %d beyond the %d records sent", o2, n2)
	}
}

// TestSinkTaskHoldsWithoutStanding: while its worker has lost its
// standing, a sink task hands the records it fetched to no Put and flushes
// nothing (its partitions may be another task's, which may have written
// newer versions of the same rows); it goes on when the standing comes
// back, and stopped before that, it flushes nothing.
func TestSinkTaskHoldsWithoutStanding(t *testing.T) {
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
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: "in", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(10)
	chain, err := transforms.NewRegistry().NewChain(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	var got, flushes atomic.Int64
	var hang, standing atomic.Bool
	r := &sinkRunner{id: api.TaskID{Connector: "held"}, task: &countSink{n: &got, hang: &hang, flushes: &flushes}, chain: chain,
		keyConv: &converter.ByteArray{}, valConv: &converter.ByteArray{}, standing: standing.Load,
		clientOpts: append(seed, kgo.ConsumeTopics("in")), maxPoll: 100, logger: slog.Default(),
		flushEvery: 50 * time.Millisecond, flushTimeout: 5 * time.Second, stopTimeout: 5 * time.Second,
		onRunning: func() {}, onTopics: func([]string) {}, pause: &pauser{}}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx) }()

	time.Sleep(time.Second)
	if g, f := got.Load(), flushes.Load(); g != 0 || f != 0 {
		t.Fatalf("without standing the sink took %d records and flushed %d times", g, f)
	}
	standing.Store(true)
	waitFor(t, "the sink to take and flush every record", func() bool { return got.Load() == 10 && flushes.Load() > 0 })

	standing.Store(false)
	time.Sleep(200 * time.Millisecond)
	f0 := flushes.Load()
	produce(10)
	time.Sleep(500 * time.Millisecond)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if g, f := got.Load(), flushes.Load(); g != 10 || f != f0 {
		t.Fatalf("a sink task without standing took %d records (want 10) and flushed %d times more", g, f-f0)
	}
}
