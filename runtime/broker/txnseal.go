package broker

// Sealing the transactions a crash left open.
//
// A transactional producer's records are in a partition before its
// transaction ends; a kill -9 of the process leaves them there with no
// commit or abort marker after them. kfake aborts such a transaction when
// it loads the partition (loadPartitionFullReplay in
// kfake@v0.0.0-20260918054303-01f206a7e32c persist.go: "Implicitly abort
// in-flight transactions"), but it writes no abort marker, and that
// abort lives only in memory and in the snapshot kfake writes when it
// closes. Two faults follow, both found by it/chaos_eos_test.go:
//
//   - When those records are a partition's tail, a read_committed reader
//     is given nothing at their offsets, below the last stable offset: a
//     reader that waits until it reached the last stable offset (the
//     worker reading its offsets topic at start-up, before any of its
//     tasks can write there) waits until something else is written there.
//   - Worse, the abort is forgotten at the next full replay (after the
//     next kill -9, when the snapshot no longer matches the segments):
//     kfake's replay tracks one open transaction per producer id, so
//     when the producer's next instance (same id, a higher epoch) later
//     commits in that partition, the replay takes the crashed
//     transaction's records for part of the committed one. A source
//     task's records that were aborted with their offsets then become
//     visible read_committed, and the task, which resumed from the
//     offsets before them, has sent them again: duplicates.
//
// Real Kafka never leaves an ended transaction without its marker: its
// coordinator writes the abort marker. At start-up, before any client can
// reach the broker, the broker does the same: it scans every partition's
// segment files (scanPartitions, once for this and txncomplete.go) and,
// for every producer whose transaction is open at the end of a partition —
// whether its records are the tail or other producers wrote after them —
// and that has no transaction in progress there (kfake restores, from a
// clean shutdown, transactions that were still open; those end with a
// marker when their producer ends them or is fenced), writes the abort
// marker kfake did not (kfake's WriteTxnMarkers: a control batch, nothing
// else changes). Each replay then finds the transaction ended by its own
// marker, before any later batch of the same producer.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch attributes (Kafka's message format v2).
const (
	attrTransactional = 0x10
	attrControl       = 0x20
)

// openTail is a partition where a producer's transaction is open at the
// end of the log.
type openTail struct {
	topic     string
	partition int32
	producer  int64
	epoch     int16
}

// openTxnsIn returns, from the scans, every partition's transactions that
// are open at its end, except those that half lists (commits a crash
// interrupted, which txncomplete.go completes).
func openTxnsIn(scans []*partScan, half []halfCommit) []openTail {
	completed := map[openTail]bool{}
	for _, h := range half {
		completed[openTail(h)] = true
	}
	var out []openTail
	for _, s := range scans {
		for _, id := range sortedProducers(s.open) {
			tl := openTail{topic: s.topic, partition: s.partition, producer: id, epoch: s.open[id]}
			if !completed[tl] {
				out = append(out, tl)
			}
		}
	}
	return out
}

// sealCrashedTxns writes, through the compacting cluster's in-process
// listener, the abort marker of every transaction in open whose producer
// has no transaction in progress there. It returns how many it wrote.
func sealCrashedTxns(pl *pipeListener, open []openTail, logger *slog.Logger) (int, error) {
	if len(open) == 0 {
		return 0, nil
	}
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.Dialer(pl.dial))
	if err != nil {
		return 0, err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open, err = withoutLiveTxns(ctx, client, open)
	if err != nil {
		return 0, err
	}
	for _, tl := range open {
		if err := writeMarker(ctx, client, tl.topic, tl.partition, tl.producer, tl.epoch, false); err != nil {
			return 0, err
		}
		logger.Info("embedded broker: wrote the abort marker of a transaction the last run left open when it stopped",
			"topic", tl.topic, "partition", tl.partition, "producer_id", tl.producer, "producer_epoch", tl.epoch)
	}
	return len(open), nil
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
