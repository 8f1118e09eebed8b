package postgres

import (
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Version is reported as source.version and as the plugin version.
const Version = "0.1.0"

// SourceSchemaName is the name of the source block schema, as Debezium's.
const SourceSchemaName = "io.debezium.connector.postgresql.Source"

// Positions of PostgreSQL's own fields in the source block, after the
// common ones (cdc.SrcSpecific).
const (
	srcSchema = cdc.SrcSpecific + iota
	srcTable
	srcTxID
	srcLSN
	srcXmin
	srcOrigin
	srcOriginLSN
)

// sourceSchema is Debezium's PostgresSourceInfoStructMaker schema: the
// common fields, then the PostgreSQL ones, origin and origin_lsn last.
func sourceSchema() *connectors.Schema {
	return cdc.SourceSchema(SourceSchemaName,
		connectors.Opt("schema", connectors.StringSchema),
		connectors.Opt("table", connectors.StringSchema),
		connectors.Opt("txId", connectors.OptionalInt64Schema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema),
		connectors.Opt("xmin", connectors.OptionalInt64Schema),
		connectors.Opt("origin", connectors.OptionalStringSchema),
		connectors.Opt("origin_lsn", connectors.OptionalInt64Schema))
}

// position is where an event sits in the WAL, for the source block. The
// boxed fields are shared by every event of a transaction, so that the
// per-row path does not box them again.
type position struct {
	// ts is the commit time (snapshot: read time).
	ts       cdc.Times
	snapshot string
	txID     any // nil: none
	lsn      uint64
	// prevCommit is the commit LSN of the previous transaction, for
	// source.sequence.
	prevCommit uint64
	hasSeq     bool
	xmin       any // the slot's catalog_xmin (int64), nil when not fetched
	// src, when set, is the source block to use as is: snapshot rows
	// read at the same time share one.
	src *connectors.StructValue
}

// builder makes records: cdc.Builder with PostgreSQL's source block.
// It is used by one goroutine at a time (the snapshot emitter, then the
// streamer).
type builder struct {
	*cdc.Builder
	cfg          *Config
	db           any // boxed once
	messageValue *connectors.Schema
}

func newBuilder(cfg *Config) *builder {
	src := sourceSchema()
	return &builder{Builder: cdc.NewBuilder(Version, "postgresql", cfg.TopicPrefix, src, map[string]any{"server": cfg.TopicPrefix}),
		cfg: cfg, db: cfg.DBName, messageValue: messageValueSchema(src)}
}

func (b *builder) sourceValue(t *table, p *position) *connectors.StructValue {
	s := b.SourceValue(p.ts, p.snapshot, b.db)
	v := s.Values
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
	v[cdc.SrcSequence] = string(append(seq, ']'))
	v[srcSchema] = t.boxedSchema
	v[srcTable] = t.boxedName
	// PostgresSourceInfoStructMaker leaves txId, lsn and xmin out of
	// incremental snapshot rows.
	if p.snapshot != cdc.SnapIncremental {
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
	src := p.src
	if src == nil {
		src = b.sourceValue(t, p)
	}
	return b.Change(t.topic, t.envelopeSchema, t.keySchema, op, key, before, after, src, tx, offset)
}

// tombstone returns the record following a delete: same key, null value.
func (b *builder) tombstone(t *table, key *connectors.StructValue, offset map[string]any) *connectors.Record {
	return b.Tombstone(t.topic, t.keySchema, key, offset)
}
