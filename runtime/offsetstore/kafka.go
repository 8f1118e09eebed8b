// Package offsetstore keeps source offsets in the compacted offsets topic
// (offsets.Store on Kafka). It lives on the runtime side, beside the
// topic reader it is built on, so that the offsets package stays free of
// the Kafka client.
package offsetstore

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// Kafka is an offsets.Store on the compacted offsets topic. It reads the whole
// topic at start and follows it, so offsets written by other workers are
// visible after ReadToEnd.
//
// Each source partition's offset is the one of the latest record of the
// topic the store knows of: Put applies its entries once Kafka
// acknowledged them, the reader applies every record it reads, and
// whichever comes second does not replace a later record's offset with
// an earlier one's. So a Get never goes back, however far the reader
// lags; it may miss what other workers wrote until ReadToEnd.
type Kafka struct {
	log    *kafkalog.Log
	t      offsets.Table
	logger *slog.Logger
}

// Open returns a store whose log newLog creates with the store's
// callback; call Start before use.
func Open(newLog func(callback func(kafkalog.Record)) (*kafkalog.Log, error), logger *slog.Logger) (*Kafka, error) {
	s := &Kafka{logger: logger}
	l, err := newLog(s.apply)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

// Start reads the topic to its end.
func (s *Kafka) Start(ctx context.Context) error { return s.log.Start(ctx) }

// Close stops following the topic.
func (s *Kafka) Close() { s.log.Close() }

// ReadToEnd waits until the store has seen every offset written so far.
func (s *Kafka) ReadToEnd(ctx context.Context) error { return s.log.ReadToEnd(ctx) }

// ReadPastOpenTxns is ReadToEnd that also waits for the transactions open
// on the topic to end (kafkalog.Log.ReadPastOpenTxns): afterwards the
// store holds the latest committed offset of every source partition, even
// one committed behind another producer's open transaction.
func (s *Kafka) ReadPastOpenTxns(ctx context.Context) error { return s.log.ReadPastOpenTxns(ctx) }

func (s *Kafka) apply(r kafkalog.Record) {
	connector, partition, err := offsets.ParseKey(r.Key)
	if err != nil {
		// Not ours (another tool wrote it) or corrupt: skip, loudly.
		s.logger.Warn("skipping unreadable record in offsets topic", "topic", s.log.Topic(),
			"partition", r.Partition, "offset", r.Offset, "error", err)
		return
	}
	offset, err := offsets.DecodeMap(r.Value)
	if err != nil {
		s.logger.Warn("skipping unreadable offset", "topic", s.log.Topic(), "connector", connector,
			"partition", r.Partition, "offset", r.Offset, "error", err)
		return
	}
	s.t.Set(connector, r.Key, partition, offset, offsets.Position{Known: true, Partition: r.Partition, Offset: r.Offset})
}

// Get implements offsets.Store.
func (s *Kafka) Get(_ context.Context, connector string, partition map[string]any) (map[string]any, error) {
	k, err := offsets.Key(connector, partition)
	if err != nil {
		return nil, err
	}
	return s.t.Get(connector, k), nil
}

// Put implements offsets.Store: it writes every entry (tombstones for nil offsets)
// and returns once Kafka acknowledged them all.
func (s *Kafka) Put(ctx context.Context, connector string, entries []connectors.SourceOffset) error {
	kvs, err := s.Encode(connector, entries)
	if err != nil {
		return err
	}
	written, err := s.log.WriteRecords(ctx, kvs...)
	if err != nil {
		return err
	}
	s.Applied(connector, entries, written)
	return nil
}

// Topic returns the offsets topic.
func (s *Kafka) Topic() string { return s.log.Topic() }

// Encode returns the offsets topic's records for entries (tombstones for
// nil offsets), for a writer that produces them itself: an exactly-once
// source task writes them in the transaction of its records.
func (s *Kafka) Encode(connector string, entries []connectors.SourceOffset) ([]kafkalog.KV, error) {
	kvs := make([]kafkalog.KV, 0, len(entries))
	for _, e := range entries {
		if err := offsets.Validate("source partition", e.Partition); err != nil {
			return nil, err
		}
		if err := offsets.Validate("source offset", e.Offset); err != nil {
			return nil, err
		}
		k, err := offsets.Key(connector, e.Partition)
		if err != nil {
			return nil, err
		}
		var v []byte
		if e.Offset != nil {
			if v, err = offsets.EncodeMap(e.Offset); err != nil {
				return nil, fmt.Errorf("encoding offset of %s: %w", connector, err)
			}
		}
		kvs = append(kvs, kafkalog.KV{Key: k, Value: v})
	}
	return kvs, nil
}

// Applied records entries, written (committed) as the records in written
// (in the same order, with their partitions and offsets), so that Get
// returns them before the reader has read them.
func (s *Kafka) Applied(connector string, entries []connectors.SourceOffset, written []kafkalog.Record) {
	for i, e := range entries {
		w := written[i]
		s.t.Set(connector, w.Key, e.Partition, e.Offset, offsets.Position{Known: true, Partition: w.Partition, Offset: w.Offset})
	}
}

// All implements offsets.Store.
func (s *Kafka) All(_ context.Context, connector string) ([]connectors.SourceOffset, error) {
	return s.t.All(connector), nil
}

var _ offsets.Store = (*Kafka)(nil)
