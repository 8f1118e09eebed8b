package postgres

import (
	"context"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// Schemas of logical decoding message events (pg_logical_emit_message),
// named as Debezium names them; they go to <topic.prefix>.message.
const (
	MessageKeyName   = "io.debezium.connector.postgresql.MessageKey"
	MessageValueName = "io.debezium.connector.postgresql.MessageValue"
	MessageBlockName = "io.debezium.connector.postgresql.Message"
	// OpMessage is the op of a logical decoding message event.
	OpMessage = "m"
)

var (
	messageKeySchema = connectors.NewStruct(MessageKeyName, false,
		connectors.Opt("prefix", connectors.OptionalStringSchema))
	messageBlockSchema = connectors.NewStruct(MessageBlockName, false,
		connectors.Opt("prefix", connectors.OptionalStringSchema),
		connectors.Opt("content", connectors.OptionalBytesSchema))
)

func messageValueSchema(source *connectors.Schema) *connectors.Schema {
	return connectors.NewStruct(MessageValueName, false,
		connectors.Opt("op", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.OptionalInt64Schema),
		connectors.Opt("ts_us", connectors.OptionalInt64Schema),
		connectors.Opt("ts_ns", connectors.OptionalInt64Schema),
		connectors.Opt("source", source),
		connectors.Opt("message", messageBlockSchema))
}

// messageTable stands in for a table in the source block of message
// events (schema and table are empty, as in Debezium).
var messageTable = &table{boxedSchema: "", boxedName: ""}

// message turns a logical decoding message into an op "m" record on
// <topic.prefix>.message, unless its prefix is filtered out. Sluice's own
// watermarks are never emitted.
func (s *streamer) message(ctx context.Context, lsn uint64, m *pgoutput.LogicalMessage) error {
	if m.Transactional && s.nextEvent() {
		return nil
	}
	if m.Prefix == watermarkPrefix {
		return s.watermark(ctx, lsn, m)
	}
	cfg := s.t.cfg
	if (len(cfg.MessageInclude) > 0 && !anyMatch(cfg.MessageInclude, m.Prefix)) || anyMatch(cfg.MessageExclude, m.Prefix) {
		return nil
	}
	var p position
	var o offset
	var om map[string]any
	if m.Transactional {
		p = s.position(lsn)
		o = s.offset(lsn, false)
		om = s.offsetMap(&o)
	} else {
		// Outside any transaction: resume just past it.
		p = position{lsn: lsn}
		p.ts = cdc.TimeBoxes(s.t.b.Now())
		o = offset{lsnProc: lsn + 1, lsn: lsn}
		if s.incr != nil {
			o.incremental, o.snapshotPlan, o.snapshotChunks, o.snapshotKeys = true, s.incr.plan, s.incr.doneStr, s.incr.keys
		}
		om = o.toMap()
	}
	b := s.t.b
	key := connectors.NewStructValue(messageKeySchema)
	key.Values[0] = m.Prefix
	block := connectors.NewStructValue(messageBlockSchema)
	block.Values[0] = m.Prefix
	block.Values[1] = append([]byte(nil), m.Content...)
	val := connectors.NewStructValue(b.messageValue)
	now := b.Now()
	val.Values[0] = OpMessage
	ts := cdc.TimeBoxes(now)
	val.Values[1], val.Values[2], val.Values[3] = ts.Ms, ts.Us, ts.Ns
	val.Values[4] = b.sourceValue(messageTable, &p)
	val.Values[5] = block
	r := &connectors.Record{Topic: cfg.TopicPrefix + ".message", Partition: -1, KeySchema: messageKeySchema, Key: key,
		ValueSchema: b.messageValue, Value: val, Timestamp: now, SourcePartition: b.Partition, SourceOffset: om}
	return s.emit(ctx, r, &o)
}
