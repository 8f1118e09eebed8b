package cdc

import (
	"time"

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
	// TxTopicSuffix follows topic.prefix in the topic of transaction
	// events.
	TxTopicSuffix = ".transaction"
	TxBegin       = "BEGIN"
	TxEnd         = "END"
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

// TxCount is how many events of one table (data_collection:
// "schema.table" or "database.table") a transaction had.
type TxCount struct {
	Collection string
	Count      int64
}

// Transaction returns a transaction metadata event: status TxBegin or
// TxEnd, the transaction's id and commit time; an END carries the
// transaction's event count and per-table counts (ignored for BEGIN).
func (b *Builder) Transaction(status, id string, commit time.Time, count int64, tables []TxCount, offset map[string]any) *connectors.Record {
	key := connectors.NewStructValue(txKeySchema)
	key.Values[0] = id
	v := connectors.NewStructValue(txValueSchema)
	v.Values[0] = status
	v.Values[1] = id
	v.Values[4] = commit.UnixMilli()
	if status == TxEnd {
		v.Values[2] = count
		cols := make([]any, 0, len(tables))
		for _, t := range tables {
			c := connectors.NewStructValue(txCollectionSchema)
			c.Values[0] = t.Collection
			c.Values[1] = t.Count
			cols = append(cols, c)
		}
		v.Values[3] = cols
	}
	return &connectors.Record{Topic: b.prefix + TxTopicSuffix, Partition: -1, KeySchema: txKeySchema, Key: key,
		ValueSchema: txValueSchema, Value: v, Timestamp: b.Now(), SourcePartition: b.Partition, SourceOffset: offset}
}
