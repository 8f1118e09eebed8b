package postgres

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/connectors"
)

// Transaction metadata events (provide.transaction.metadata=true) on
// <topic.prefix>.transaction, in Debezium's shape: a BEGIN before the
// first event of a transaction and an END with per-table counts at its
// commit.
const (
	TxKeyName        = "io.debezium.connector.common.TransactionMetadataKey"
	TxValueName      = "io.debezium.connector.common.TransactionMetadataValue"
	TxCollectionName = "event.collection"
)

var (
	txKeySchema        = connectors.NewStruct(TxKeyName, false, connectors.Opt("id", connectors.StringSchema))
	txCollectionSchema = connectors.NewStruct(TxCollectionName, false,
		connectors.Opt("data_collection", connectors.StringSchema),
		connectors.Opt("event_count", connectors.Int64Schema))
	txValueSchema = connectors.NewStruct(TxValueName, false,
		connectors.Opt("status", connectors.StringSchema),
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("event_count", connectors.OptionalInt64Schema),
		connectors.Opt("data_collections", &connectors.Schema{Type: connectors.Array, Optional: true, Items: txCollectionSchema}),
		connectors.Opt("ts_ms", connectors.Int64Schema))
)

func (s *streamer) txID() string { return fmt.Sprintf("%d:%d", s.txXid, s.txFinal) }

func (s *streamer) txRecord(status string, o *offset, om map[string]any) *connectors.Record {
	id := s.txID()
	key := connectors.NewStructValue(txKeySchema)
	key.Values[0] = id
	v := connectors.NewStructValue(txValueSchema)
	v.Values[0] = status
	v.Values[1] = id
	v.Values[4] = s.txTime.UnixMilli()
	if status == "END" {
		v.Values[2] = s.txCount
		cols := make([]any, 0, len(s.txTables))
		for _, t := range s.txTables {
			c := connectors.NewStructValue(txCollectionSchema)
			c.Values[0] = t.schema + "." + t.name
			c.Values[1] = s.txPerTable[t.relID]
			cols = append(cols, c)
		}
		v.Values[3] = cols
	}
	b := s.t.b
	return &connectors.Record{Topic: s.t.cfg.TopicPrefix + ".transaction", Partition: -1, KeySchema: txKeySchema, Key: key,
		ValueSchema: txValueSchema, Value: v, Timestamp: b.Now(), SourcePartition: b.Partition, SourceOffset: om}
}

// txBegin emits the BEGIN event before the transaction's first event.
func (s *streamer) txBegin(ctx context.Context, lsn uint64) error {
	if !s.t.cfg.ProvideTxMetadata || s.txBegun {
		return nil
	}
	s.txBegun = true
	o := s.offset(lsn, true)
	return s.emitChange(ctx, s.txRecord("BEGIN", &o, s.offsetMap(&o)), &o)
}

// txEnd emits the END event at the commit of a transaction that had
// events.
func (s *streamer) txEnd(ctx context.Context, lsn uint64) error {
	if !s.txBegun {
		return nil
	}
	s.txBegun = false
	// END counts as one more change, so that its own offset says it
	// was delivered and a resume at the last change still sends it.
	if s.nextEvent() {
		return nil
	}
	o := s.offset(lsn, false)
	return s.emitChange(ctx, s.txRecord("END", &o, s.offsetMap(&o)), &o)
}
