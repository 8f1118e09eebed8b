package runtime

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pinTask returns records 1..n, record i pinned to partition part(i)
// (unpinned, keyed by i, when part returns -1), then nothing.
type pinTask struct {
	n, i int
	part func(int) int
}

func (*pinTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}

func (p *pinTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if p.i >= p.n {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
		return nil, nil
	}
	var recs []*connectors.Record
	for ; p.i < p.n && len(recs) < 50; p.i++ {
		v := strconv.Itoa(p.i + 1)
		r := &connectors.Record{Topic: "pins", Key: []byte(v), Value: []byte(v),
			SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"n": int64(p.i + 1)}}
		if part := p.part(p.i + 1); part >= 0 {
			r.Partition, r.PinPartition = int32(part), true
		}
		recs = append(recs, r)
	}
	return recs, nil
}

func (*pinTask) Stop(context.Context) error { return nil }

func runPinTask(t *testing.T, c *kfake.Cluster, task *pinTask) (*sourceRunner, context.CancelFunc, chan error) {
	producer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(pinningPartitioner{kgo.StickyKeyPartitioner(nil)}))
	if err != nil {
		t.Fatal(err)
	}
	r := &sourceRunner{id: api.TaskID{Connector: "c"}, task: task, producer: producer, offsets: offsets.NewMemory(),
		logger: slog.Default(), onRunning: func() {}, pause: &pauser{},
		keyConv: &converter.ByteArray{}, valConv: &converter.ByteArray{},
		topics: map[string]bool{"pins": true}, onTopic: func(string) {}, topicGone: func(string) {},
		flushEvery: 10 * time.Millisecond, flushTimeout: 5 * time.Second,
		bufferedBytes: 1 << 20, bufferedRecords: 1000}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.run(ctx) }()
	return r, cancel, done
}

// TestSourceRecordPinnedPartition: a source record with PinPartition goes
// to its Partition; one without goes where its key hashes to, as before.
func TestSourceRecordPinnedPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "pins"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 600
	// Every third record unpinned; the others pinned against the key's
	// own partition more often than not.
	part := func(i int) int {
		if i%3 == 0 {
			return -1
		}
		return (i / 3) % 3
	}
	_, cancel, done := runPinTask(t, c, &pinTask{n: n, part: part})
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("pins"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	hash := kgo.StickyKeyPartitioner(nil).ForTopic("pins")
	seen := 0
	for dl := time.Now().Add(20 * time.Second); seen < n; {
		if time.Now().After(dl) {
			t.Fatalf("%d of %d records read", seen, n)
		}
		ctx, c2 := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		c2()
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			i, _ := strconv.Atoi(string(r.Value))
			want := part(i)
			if want < 0 {
				want = hash.Partition(r, 3)
			}
			if int(r.Partition) != want {
				t.Errorf("record %d in partition %d, want %d", i, r.Partition, want)
			}
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// TestSourceRecordPinnedToMissingPartition: a record pinned to a
// partition the topic does not have fails the task, naming it.
func TestSourceRecordPinnedToMissingPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "pins"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, cancel, done := runPinTask(t, c, &pinTask{n: 10, part: func(i int) int { return i % 6 }})
	defer cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "partition 3 of topic pins") && !strings.Contains(err.Error(), "partition 4 of topic pins") &&
			!strings.Contains(err.Error(), "partition 5 of topic pins") {
			t.Fatalf("run = %v, want an error naming the missing partition", err)
		}
		t.Logf("the task failed with: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the task did not fail")
	}
}
