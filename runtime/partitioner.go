package runtime

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// pinnedCtx marks a produced record whose source record pinned its
// partition (connectors.Record.PinPartition): the partitioner keeps the
// record's Partition. A kgo.Record has no field of its own for that, and
// its Context is only read for cancellation, which this one never is.
var pinnedCtx = context.WithValue(context.Background(), pinnedKey{}, true)

type pinnedKey struct{}

// pinningPartitioner is inner for every record but those marked with
// pinnedCtx, which go to the partition they name. A partition the topic
// does not have fails the record in the producer ("invalid record
// partitioning choice").
type pinningPartitioner struct{ inner kgo.Partitioner }

func (p pinningPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &pinningTopicPartitioner{inner: p.inner.ForTopic(t)}
}

type pinningTopicPartitioner struct{ inner kgo.TopicPartitioner }

func pinned(r *kgo.Record) bool { return r.Context == pinnedCtx }

func (p *pinningTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return pinned(r) || p.inner.RequiresConsistency(r)
}

func (p *pinningTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if pinned(r) {
		return int(r.Partition)
	}
	return p.inner.Partition(r, n)
}

// OnNewBatch passes the producer's new-batch signal on to the inner
// partitioner (the sticky partitioner moves to another partition on it).
func (p *pinningTopicPartitioner) OnNewBatch() {
	if o, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		o.OnNewBatch()
	}
}
