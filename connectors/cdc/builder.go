package cdc

import (
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Builder makes a source's records: change events, tombstones and
// heartbeats, in Debezium's shapes. It is used by one goroutine at a
// time (its Slab is not safe for concurrent use).
type Builder struct {
	// Slab serves the envelope and source structs.
	Slab Slab
	// Source is the source block schema (SourceSchema).
	Source *connectors.Schema
	// Partition is the source partition of every record.
	Partition map[string]any
	// Now is the clock (replaced in golden tests).
	Now func() time.Time
	// version, connector and name are boxed once.
	version, connector, name any
	prefix                   string
}

// NewBuilder returns a Builder of a connector (source.connector, e.g.
// "postgresql", "mysql") at version, for topic.prefix prefix, with the
// source block schema source and source partition partition.
func NewBuilder(version, connector, prefix string, source *connectors.Schema, partition map[string]any) *Builder {
	return &Builder{Source: source, Partition: partition, Now: time.Now,
		version: version, connector: connector, name: prefix, prefix: prefix}
}

// SourceValue returns a source block with its common fields set: ts the
// event's time, snapshot its source.snapshot marker ("" is false), db the
// database (a boxed string). sequence and the connector's own fields
// (from SrcSpecific on) are left for the caller.
func (b *Builder) SourceValue(ts Times, snapshot string, db any) *connectors.StructValue {
	// The source block and the envelope that points at it come from the
	// same arrays (see Slab); a caller that carves the record's other
	// structs from b.Slab reserves for all of them first.
	b.Slab.Reserve(2, len(b.Source.Fields)+envelopeFields)
	s := b.Slab.NewStruct(b.Source)
	v := s.Values
	v[SrcVersion] = b.version
	v[SrcConnector] = b.connector
	v[SrcName] = b.name
	v[SrcTsMs] = ts.Ms
	v[SrcSnapshot] = snapshot
	if snapshot == "" {
		v[SrcSnapshot] = SnapFalse
	}
	v[SrcDB] = db
	v[SrcTsUs] = ts.Us
	v[SrcTsNs] = ts.Ns
	return s
}

// Change returns a data change record on topic with the envelope schema
// envelope: op, the row's key (nil for none), before and after images
// (nil when absent), the source block src, the transaction block tx (nil
// without transaction metadata) and the source offset (nil when a later
// record's covers it). ts_* of the envelope are Now.
func (b *Builder) Change(topic string, envelope, keySchema *connectors.Schema, op string, key, before, after, src, tx *connectors.StructValue, offset map[string]any) *connectors.Record {
	env := b.Slab.NewStruct(envelope)
	v := env.Values
	if before != nil {
		v[EnvBefore] = before
	}
	if after != nil {
		v[EnvAfter] = after
	}
	v[EnvSource] = src
	if tx != nil {
		v[EnvTransaction] = tx
	}
	v[EnvOp] = op
	now := b.Now()
	ts := TimeBoxes(now)
	v[EnvTsMs], v[EnvTsUs], v[EnvTsNs] = ts.Ms, ts.Us, ts.Ns
	r := &connectors.Record{Topic: topic, Partition: -1, ValueSchema: envelope, Value: env,
		Timestamp: now, SourcePartition: b.Partition, SourceOffset: offset}
	if key != nil {
		r.KeySchema, r.Key = keySchema, key
	}
	return r
}

// Tombstone returns the record following a delete: same key, null value.
func (b *Builder) Tombstone(topic string, keySchema *connectors.Schema, key *connectors.StructValue, offset map[string]any) *connectors.Record {
	r := &connectors.Record{Topic: topic, Partition: -1, Timestamp: b.Now(), SourcePartition: b.Partition, SourceOffset: offset}
	if key != nil {
		r.KeySchema, r.Key = keySchema, key
	}
	return r
}

// Heartbeat returns a record on __debezium-heartbeat.<prefix> whose
// offset lets the source's position advance while nothing captured
// changes.
func (b *Builder) Heartbeat(offset map[string]any) *connectors.Record {
	now := b.Now()
	key := connectors.NewStructValue(heartbeatKeySchema)
	key.Values[0] = b.prefix
	val := connectors.NewStructValue(heartbeatValueSchema)
	val.Values[0] = now.UnixMilli()
	return &connectors.Record{Topic: HeartbeatTopicPrefix + "." + b.prefix, Partition: -1,
		KeySchema: heartbeatKeySchema, Key: key, ValueSchema: heartbeatValueSchema, Value: val,
		Timestamp: now, SourcePartition: b.Partition, SourceOffset: offset}
}

// envelopeFields is the number of fields of a change event's envelope.
const envelopeFields = EnvTsNs + 1

// RowReserve is what Slab.Reserve needs for the records of one row change
// of a table whose value and key structs have valueFields and keyFields
// fields, carved from b.Slab: at most two records (an update that changes
// the key is a delete and a create), each with before and after values,
// a key, a source block, an envelope and a transaction block.
func (b *Builder) RowReserve(valueFields, keyFields int) (structs, vals int) {
	return 12, 2 * (2*valueFields + keyFields + len(b.Source.Fields) + envelopeFields + 3)
}
