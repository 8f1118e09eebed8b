package postgres

import (
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Version is reported as source.version and as the plugin version.
const Version = "0.1.0"

// Names of the envelope and source schemas, as Debezium's.
const (
	SourceSchemaName      = "io.debezium.connector.postgresql.Source"
	TransactionSchemaName = "event.block"
	HeartbeatKeyName      = "io.debezium.connector.common.ServerNameKey"
	HeartbeatValueName    = "io.debezium.connector.common.Heartbeat"
)

// Operations.
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

// Field positions in the source struct.
const (
	srcVersion = iota
	srcConnector
	srcName
	srcTsMs
	srcSnapshot
	srcDB
	srcSequence
	srcTsUs
	srcTsNs
	srcSchema
	srcTable
	srcTxID
	srcLSN
	srcXmin
	srcOrigin
	srcOriginLSN
)

// Field positions in the envelope.
const (
	envBefore = iota
	envAfter
	envSource
	envTransaction
	envOp
	envTsMs
	envTsUs
	envTsNs
)

// sourceSchema is Debezium's PostgresSourceInfoStructMaker schema: the
// common fields of SchemaFactory.sourceInfoSchemaBuilder (version 1), then
// the PostgreSQL ones, origin and origin_lsn last.
func sourceSchema() *connectors.Schema {
	snap := &connectors.Schema{Type: connectors.String, Optional: true, Default: SnapFalse, Name: "io.debezium.data.Enum", Version: 1,
		Parameters: map[string]string{"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}}
	s := connectors.NewStruct(SourceSchemaName, false,
		connectors.Opt("version", connectors.StringSchema),
		connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("snapshot", snap),
		connectors.Opt("db", connectors.StringSchema),
		connectors.Opt("sequence", connectors.OptionalStringSchema),
		connectors.Opt("ts_us", connectors.OptionalInt64Schema),
		connectors.Opt("ts_ns", connectors.OptionalInt64Schema),
		connectors.Opt("schema", connectors.StringSchema),
		connectors.Opt("table", connectors.StringSchema),
		connectors.Opt("txId", connectors.OptionalInt64Schema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema),
		connectors.Opt("xmin", connectors.OptionalInt64Schema),
		connectors.Opt("origin", connectors.OptionalStringSchema),
		connectors.Opt("origin_lsn", connectors.OptionalInt64Schema))
	s.Version = 1
	return s
}

var transactionSchema = func() *connectors.Schema {
	s := connectors.NewStruct(TransactionSchemaName, true,
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("total_order", connectors.Int64Schema),
		connectors.Opt("data_collection_order", connectors.Int64Schema))
	s.Version = 1
	return s
}()

func envelopeSchema(name string, value, source *connectors.Schema) *connectors.Schema {
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

// position is where an event sits in the WAL, for the source block. The
// boxed fields are shared by every event of a transaction, so that the
// per-row path does not box them again.
type position struct {
	// tsMs, tsUs and tsNs are the commit time (snapshot: read time).
	tsMs, tsUs, tsNs any
	snapshot         string
	txID             any // nil: none
	lsn              uint64
	// prevCommit is the commit LSN of the previous transaction, for
	// source.sequence.
	prevCommit uint64
	hasSeq     bool
	xmin       any // the slot's catalog_xmin (int64), nil when not fetched
	// src, when set, is the source block to use as is: snapshot rows
	// read at the same time share one.
	src *connectors.StructValue
}

// builder makes records. now is the clock (replaced in golden tests).
type builder struct {
	cfg          *Config
	name, db     any // boxed once
	messageValue *connectors.Schema
	// slab serves the envelope and source structs; the builder is used by
	// one goroutine at a time (the snapshot emitter, then the streamer).
	slab      slab
	source    *connectors.Schema
	partition map[string]any
	now       func() time.Time
}

func newBuilder(cfg *Config) *builder {
	src := sourceSchema()
	return &builder{cfg: cfg, name: cfg.TopicPrefix, db: cfg.DBName, source: src, messageValue: messageValueSchema(src),
		partition: map[string]any{"server": cfg.TopicPrefix}, now: time.Now}
}

// timeBoxes boxes a time as ts_ms, ts_us and ts_ns values.
func timeBoxes(t time.Time) (ms, us, ns any) {
	n := t.UnixNano()
	return n / 1e6, n / 1e3, n
}

func (b *builder) sourceValue(t *table, p *position) *connectors.StructValue {
	s := b.slab.newStruct(b.source)
	v := s.Values
	v[srcVersion] = Version
	v[srcConnector] = "postgresql"
	v[srcName] = b.name
	v[srcTsMs] = p.tsMs
	v[srcSnapshot] = p.snapshot
	if p.snapshot == "" {
		v[srcSnapshot] = SnapFalse
	}
	v[srcDB] = b.db
	// Debezium's SourceInfo.sequence is always set: the JSON array of the
	// last commit LSN and the event's LSN, each a string or null (no
	// commit seen yet, as in a snapshot).
	var buf [48]byte
	seq := append(buf[:0], '[')
	if p.hasSeq && p.prevCommit != 0 {
		seq = append(seq, '"')
		seq = strconv.AppendUint(seq, p.prevCommit, 10)
		seq = append(seq, '"')
	} else {
		seq = append(seq, "null"...)
	}
	seq = append(seq, ',')
	if p.lsn != 0 {
		seq = append(seq, '"')
		seq = strconv.AppendUint(seq, p.lsn, 10)
		seq = append(seq, '"')
	} else {
		seq = append(seq, "null"...)
	}
	v[srcSequence] = string(append(seq, ']'))
	v[srcTsUs] = p.tsUs
	v[srcTsNs] = p.tsNs
	v[srcSchema] = t.boxedSchema
	v[srcTable] = t.boxedName
	// PostgresSourceInfoStructMaker leaves txId, lsn and xmin out of
	// incremental snapshot rows.
	if p.snapshot != SnapIncremental {
		v[srcTxID] = p.txID
		if p.lsn != 0 {
			v[srcLSN] = int64(p.lsn)
		}
		v[srcXmin] = p.xmin
	}
	return s
}

// change returns a data change record.
func (b *builder) change(t *table, op string, key, before, after *connectors.StructValue, p *position, tx *connectors.StructValue, offset map[string]any) *connectors.Record {
	env := b.slab.newStruct(t.envelopeSchema)
	v := env.Values
	if before != nil {
		v[envBefore] = before
	}
	if after != nil {
		v[envAfter] = after
	}
	if p.src != nil {
		v[envSource] = p.src
	} else {
		v[envSource] = b.sourceValue(t, p)
	}
	if tx != nil {
		v[envTransaction] = tx
	}
	v[envOp] = op
	now := b.now()
	v[envTsMs], v[envTsUs], v[envTsNs] = timeBoxes(now)
	r := &connectors.Record{Topic: t.topic, Partition: -1, ValueSchema: t.envelopeSchema, Value: env,
		Timestamp: now, SourcePartition: b.partition, SourceOffset: offset}
	if key != nil {
		r.KeySchema, r.Key = t.keySchema, key
	}
	return r
}

// tombstone returns the record following a delete: same key, null value.
func (b *builder) tombstone(t *table, key *connectors.StructValue, offset map[string]any) *connectors.Record {
	r := &connectors.Record{Topic: t.topic, Partition: -1, Timestamp: b.now(), SourcePartition: b.partition, SourceOffset: offset}
	if key != nil {
		r.KeySchema, r.Key = t.keySchema, key
	}
	return r
}

// heartbeat returns a record on __debezium-heartbeat.<prefix> whose offset
// lets the slot advance while nothing captured changes.
func (b *builder) heartbeat(offset map[string]any) *connectors.Record {
	now := b.now()
	key := connectors.NewStructValue(heartbeatKeySchema)
	key.Values[0] = b.cfg.TopicPrefix
	val := connectors.NewStructValue(heartbeatValueSchema)
	val.Values[0] = now.UnixMilli()
	return &connectors.Record{Topic: "__debezium-heartbeat." + b.cfg.TopicPrefix, Partition: -1,
		KeySchema: heartbeatKeySchema, Key: key, ValueSchema: heartbeatValueSchema, Value: val,
		Timestamp: now, SourcePartition: b.partition, SourceOffset: offset}
}
