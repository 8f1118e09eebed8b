package broker

// Sealing the transactions a crash left open.
//
// A transactional producer's records are in a partition before its
// transaction ends; a kill -9 of the process leaves them there with no
// commit or abort marker after them. kfake aborts such a transaction when
// it loads the partition (loadPartitionFullReplay in
// kfake@v0.0.0-20260918054303-01f206a7e32c persist.go: "Implicitly abort
// in-flight transactions"), so that the last stable offset moves past it,
// but it writes no abort marker. A read_committed consumer is then given
// nothing at those offsets: when they are a partition's tail, below the
// last stable offset, a reader that waits until it reached the last stable
// offset waits until something else is written there. The worker reads its
// offsets topic so at start-up (kafkalog.ReadToEnd), before any of its
// tasks can write to it: with exactly-once sources, a kill -9 during a
// transaction made the next start fail after its timeout (found by
// it/chaos_eos_test.go). Real Kafka never leaves an ended transaction
// without its marker: its coordinator writes the abort marker.
//
// At start-up, in the compacting cluster that no client can reach, the
// broker therefore looks at the last batch of every partition; when it
// is a transactional data batch of a producer that has no transaction in
// progress there (kfake restores, from a clean shutdown, transactions that
// were still open; those end with a marker when their producer ends them
// or is fenced), it writes the abort marker kfake did not (kfake's
// WriteTxnMarkers: a control batch, nothing else changes). Only the tail
// matters to readers: a marker-less aborted transaction followed by other
// records is stepped over when those are read.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch attributes (Kafka's message format v2).
const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

// openTail is a partition whose last batch is a transactional data batch.
type openTail struct {
	topic     string
	partition int32
	producer  int64
	epoch     int16
}

// sealCrashedTxns writes an abort marker after every partition tail that
// a transaction left open by a crash ends, through the compacting
// cluster's in-process listener. It returns how many it wrote.
func sealCrashedTxns(pl *pipeListener, logger *slog.Logger) (int, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.Dialer(pl.dial))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(client)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing topics: %w", err)
	}
	if len(topics) == 0 {
		return 0, nil
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Names()...)
	if err != nil {
		return 0, fmt.Errorf("listing end offsets: %w", err)
	}
	tails, err := lastBatches(ctx, client, topics, ends)
	if err != nil {
		return 0, err
	}
	if len(tails) == 0 {
		return 0, nil
	}
	tails, err = withoutLiveTxns(ctx, client, tails)
	if err != nil {
		return 0, err
	}
	for _, tl := range tails {
		if err := writeMarker(ctx, client, tl.topic, tl.partition, tl.producer, tl.epoch, false); err != nil {
			return 0, err
		}
		logger.Info("embedded broker: wrote the abort marker of a transaction the last run left open when it stopped",
			"topic", tl.topic, "partition", tl.partition, "producer_id", tl.producer, "producer_epoch", tl.epoch)
	}
	return len(tails), nil
}

// lastBatches fetches (read_uncommitted) the last batch of every
// non-empty partition and returns those that are transactional data. One
// fetch per partition: a broker returns a batch larger than the fetch's
// byte limits only for the first partition of a fetch.
func lastBatches(ctx context.Context, client *kgo.Client, topics kadm.TopicDetails, ends kadm.ListedOffsets) ([]openTail, error) {
	var out []openTail
	for _, td := range topics.Sorted() {
		for _, pd := range td.Partitions.Sorted() {
			end, ok := ends.Lookup(td.Topic, pd.Partition)
			if !ok || end.Err != nil || end.Offset <= 0 {
				continue
			}
			req := kmsg.NewPtrFetchRequest()
			req.MaxWaitMillis = 0
			req.MinBytes = 1
			req.MaxBytes = 1 << 30
			req.IsolationLevel = 0
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = td.Topic, td.ID
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition = pd.Partition
			rp.FetchOffset = end.Offset - 1
			rp.PartitionMaxBytes = 1 // the batch holding the offset comes whole all the same
			rp.CurrentLeaderEpoch = -1
			rp.LogStartOffset = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, client)
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
			}
			if err != nil {
				return nil, fmt.Errorf("reading the last batch of %s[%d]: %w", td.Topic, pd.Partition, err)
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						return nil, fmt.Errorf("reading the last batch of %s[%d]: %w", td.Topic, rp.Partition, err)
					}
					last, ok := lastBatch(rp.RecordBatches)
					if !ok || last.Attributes&attrTransactional == 0 || last.Attributes&attrControl != 0 {
						continue
					}
					out = append(out, openTail{topic: td.Topic, partition: rp.Partition, producer: last.ProducerID, epoch: last.ProducerEpoch})
				}
			}
		}
	}
	return out, nil
}

// lastBatch returns the last whole record batch in raw.
func lastBatch(raw []byte) (kmsg.RecordBatch, bool) {
	var last kmsg.RecordBatch
	found := false
	for len(raw) >= 12 {
		var b kmsg.RecordBatch
		n := 12 + int(int32(uint32(raw[8])<<24|uint32(raw[9])<<16|uint32(raw[10])<<8|uint32(raw[11])))
		if n < 12 || n > len(raw) || b.ReadFrom(raw[:n]) != nil {
			break // a partial batch at the end of a fetch
		}
		last, found = b, true
		raw = raw[n:]
	}
	return last, found
}

// withoutLiveTxns drops the tails whose producer has a transaction in
// progress in that partition (restored by kfake from a clean shutdown).
func withoutLiveTxns(ctx context.Context, client *kgo.Client, tails []openTail) ([]openTail, error) {
	req := kmsg.NewPtrDescribeProducersRequest()
	idx := map[string]int{}
	for _, tl := range tails {
		i, ok := idx[tl.topic]
		if !ok {
			i = len(req.Topics)
			idx[tl.topic] = i
			rt := kmsg.NewDescribeProducersRequestTopic()
			rt.Topic = tl.topic
			req.Topics = append(req.Topics, rt)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tl.partition)
	}
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("describing the producers of partitions ending in a transaction: %w", err)
	}
	live := map[openTail]bool{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("describing the producers of %s[%d]: %w", rt.Topic, rp.Partition, err)
			}
			for _, ap := range rp.ActiveProducers {
				live[openTail{topic: rt.Topic, partition: rp.Partition, producer: ap.ProducerID}] = true
			}
		}
	}
	out := tails[:0]
	for _, tl := range tails {
		if !live[openTail{topic: tl.topic, partition: tl.partition, producer: tl.producer}] {
			out = append(out, tl)
		}
	}
	return out, nil
}

// writeMarker writes a commit or abort marker of producer id and epoch in
// topic's partition (kfake's WriteTxnMarkers: a control batch, nothing
// else changes).
func writeMarker(ctx context.Context, client *kgo.Client, topic string, partition int32, id int64, epoch int16, commit bool) error {
	what := "abort"
	if commit {
		what = "commit"
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = id, epoch, commit
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{partition}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return fmt.Errorf("writing the %s marker of producer %d in %s[%d]: %w", what, id, topic, partition, err)
	}
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fmt.Errorf("writing the %s marker of producer %d in %s[%d]: %w", what, id, rt.Topic, rp.Partition, err)
				}
			}
		}
	}
	return nil
}
