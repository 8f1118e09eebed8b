package offsets

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/kafkalog"
)

// Kafka is a Store on the compacted offsets topic. It reads the whole
// topic at start and follows it, so offsets written by other workers are
// visible after ReadToEnd.
type Kafka struct {
	log    *kafkalog.Log
	t      table
	logger *slog.Logger
}

// OpenKafka returns a store whose log newLog creates with the store's
// callback; call Start before use.
func OpenKafka(newLog func(callback func(kafkalog.Record)) (*kafkalog.Log, error), logger *slog.Logger) (*Kafka, error) {
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

func (s *Kafka) apply(r kafkalog.Record) {
	connector, partition, err := ParseKey(r.Key)
	if err != nil {
		// Not ours (another tool wrote it) or corrupt: skip, loudly.
		s.logger.Warn("skipping unreadable record in offsets topic", "topic", s.log.Topic(),
			"partition", r.Partition, "offset", r.Offset, "error", err)
		return
	}
	offset, err := DecodeMap(r.Value)
	if err != nil {
		s.logger.Warn("skipping unreadable offset", "topic", s.log.Topic(), "connector", connector,
			"partition", r.Partition, "offset", r.Offset, "error", err)
		return
	}
	s.t.set(connector, r.Key, partition, offset)
}

// Get implements Store.
func (s *Kafka) Get(_ context.Context, connector string, partition map[string]any) (map[string]any, error) {
	k, err := Key(connector, partition)
	if err != nil {
		return nil, err
	}
	return s.t.get(connector, k), nil
}

// Put implements Store: it writes every entry (tombstones for nil offsets)
// and returns once Kafka acknowledged them all.
func (s *Kafka) Put(ctx context.Context, connector string, entries []connectors.SourceOffset) error {
	kvs := make([]kafkalog.KV, 0, len(entries))
	for _, e := range entries {
		if err := Validate("source partition", e.Partition); err != nil {
			return err
		}
		if err := Validate("source offset", e.Offset); err != nil {
			return err
		}
		k, err := Key(connector, e.Partition)
		if err != nil {
			return err
		}
		var v []byte
		if e.Offset != nil {
			if v, err = EncodeMap(e.Offset); err != nil {
				return fmt.Errorf("encoding offset of %s: %w", connector, err)
			}
		}
		kvs = append(kvs, kafkalog.KV{Key: k, Value: v})
	}
	if err := s.log.Write(ctx, kvs...); err != nil {
		return err
	}
	for i, e := range entries {
		s.t.set(connector, kvs[i].Key, e.Partition, e.Offset)
	}
	return nil
}

// All implements Store.
func (s *Kafka) All(_ context.Context, connector string) ([]connectors.SourceOffset, error) {
	return s.t.all(connector), nil
}

var _ Store = (*Kafka)(nil)
var _ Store = (*Memory)(nil)
