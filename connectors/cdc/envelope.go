package cdc

import (
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Operations: the envelope's op field.
const (
	OpCreate   = "c"
	OpUpdate   = "u"
	OpDelete   = "d"
	OpRead     = "r"
	OpTruncate = "t"
)

// Values of source.snapshot.
const (
	SnapTrue        = "true"
	SnapFirst       = "first"
	SnapFirstInDC   = "first_in_data_collection"
	SnapLastInDC    = "last_in_data_collection"
	SnapLast        = "last"
	SnapFalse       = "false"
	SnapIncremental = "incremental"
)

// Names of the schemas every CDC source shares, as Debezium's.
const (
	TransactionSchemaName = "event.block"
	HeartbeatKeyName      = "io.debezium.connector.common.ServerNameKey"
	HeartbeatValueName    = "io.debezium.connector.common.Heartbeat"
	// HeartbeatTopicPrefix is Debezium's topic.heartbeat.prefix default:
	// heartbeats go to <HeartbeatTopicPrefix>.<topic.prefix>.
	HeartbeatTopicPrefix = "__debezium-heartbeat"
)

// Positions of the common fields of a source block (Debezium's
// SchemaFactory.sourceInfoSchemaBuilder); a connector's own fields
// follow from SrcSpecific on, in the order it gave SourceSchema.
const (
	SrcVersion = iota
	SrcConnector
	SrcName
	SrcTsMs
	SrcSnapshot
	SrcDB
	SrcSequence
	SrcTsUs
	SrcTsNs
	SrcSpecific
)

// Positions of the envelope's fields.
const (
	EnvBefore = iota
	EnvAfter
	EnvSource
	EnvTransaction
	EnvOp
	EnvTsMs
	EnvTsUs
	EnvTsNs
)

// snapshotAllowed lists the values of source.snapshot.
const snapshotAllowed = SnapTrue + "," + SnapFirst + "," + SnapFirstInDC + "," + SnapLastInDC + "," + SnapLast + "," + SnapFalse + "," + SnapIncremental

// SourceSchema returns a source block schema named name (version 1): the
// common fields (version, connector, name, ts_ms, snapshot, db,
// sequence, ts_us, ts_ns), then specific, the connector's own fields
// (PostgreSQL: schema, table, txId, lsn, xmin, origin, origin_lsn;
// MySQL: table, server_id, gtid, file, pos, row, thread, query).
func SourceSchema(name string, specific ...connectors.Field) *connectors.Schema {
	snap := &connectors.Schema{Type: connectors.String, Optional: true, Default: SnapFalse, Name: EnumName, Version: 1,
		Parameters: map[string]string{EnumAllowedParam: snapshotAllowed}}
	fields := []connectors.Field{
		connectors.Opt("version", connectors.StringSchema),
		connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("snapshot", snap),
		connectors.Opt("db", connectors.StringSchema),
		connectors.Opt("sequence", connectors.OptionalStringSchema),
		connectors.Opt("ts_us", connectors.OptionalInt64Schema),
		connectors.Opt("ts_ns", connectors.OptionalInt64Schema),
	}
	s := connectors.NewStruct(name, false, append(fields, specific...)...)
	s.Version = 1
	return s
}

// transactionSchema is the envelope's transaction block.
var transactionSchema = func() *connectors.Schema {
	s := connectors.NewStruct(TransactionSchemaName, true,
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("total_order", connectors.Int64Schema),
		connectors.Opt("data_collection_order", connectors.Int64Schema))
	s.Version = 1
	return s
}()

// EnvelopeSchema returns the schema of a table's change events (version
// 2): before and after of schema value, source of schema source, the
// transaction block, op and the ts_* of the event.
func EnvelopeSchema(name string, value, source *connectors.Schema) *connectors.Schema {
	s := connectors.NewStruct(name, false,
		connectors.Opt("before", value),
		connectors.Opt("after", value),
		connectors.Opt("source", source),
		connectors.Opt("transaction", transactionSchema),
		connectors.Opt("op", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.OptionalInt64Schema),
		connectors.Opt("ts_us", connectors.OptionalInt64Schema),
		connectors.Opt("ts_ns", connectors.OptionalInt64Schema))
	s.Version = 2
	return s
}

// TransactionBlock returns the envelope's transaction block (with
// provide.transaction.metadata): the transaction's id, the event's order
// in it and among the events of its table.
func TransactionBlock(id string, totalOrder, collectionOrder int64) *connectors.StructValue {
	v := connectors.NewStructValue(transactionSchema)
	v.Values[0] = id
	v.Values[1] = totalOrder
	v.Values[2] = collectionOrder
	return v
}

// Heartbeat schemas, as SchemaFactory.heartbeatKeySchema and
// heartbeatValueSchema: both at version 1.
var (
	heartbeatKeySchema = func() *connectors.Schema {
		s := connectors.NewStruct(HeartbeatKeyName, false, connectors.Opt("serverName", connectors.StringSchema))
		s.Version = 1
		return s
	}()
	heartbeatValueSchema = func() *connectors.Schema {
		s := connectors.NewStruct(HeartbeatValueName, false, connectors.Opt("ts_ms", connectors.Int64Schema))
		s.Version = 1
		return s
	}()
)

// Times is a time boxed once as the ts_ms, ts_us and ts_ns values (int64)
// of a source block or an envelope, so that the events of a transaction
// share the boxes.
type Times struct{ Ms, Us, Ns any }

// TimeBoxes boxes t.
func TimeBoxes(t time.Time) Times {
	n := t.UnixNano()
	return Times{n / 1e6, n / 1e3, n}
}
