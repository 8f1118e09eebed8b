package jdbc

import (
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
)

var (
	sourceSchema = connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
		connectors.Opt("db", connectors.StringSchema), connectors.Opt("schema", connectors.OptionalStringSchema),
		connectors.Opt("table", connectors.StringSchema))
)

// gen builds Debezium change events for one topic, numbering offsets.
type gen struct {
	topic   string
	off     int64
	key     *connectors.Schema
	row     *connectors.Schema
	env     *connectors.Schema
	source  *connectors.StructValue
	partion int32
}

func newGen(topic string) *gen {
	key := connectors.NewStruct(topic+".Key", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct(topic+".Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("name", connectors.OptionalStringSchema), connectors.Opt("qty", connectors.OptionalInt32Schema))
	return newGenWith(topic, key, row)
}

func newGenWith(topic string, key, row *connectors.Schema) *gen {
	g := &gen{topic: topic, key: key, row: row, env: envelopeOf(topic, row)}
	parts := strings.Split(topic, ".")
	g.source = connectors.NewStructValue(sourceSchema).Set("db", "shop").Set("schema", "public").Set("table", parts[len(parts)-1])
	return g
}

func envelopeOf(topic string, row *connectors.Schema) *connectors.Schema {
	return connectors.NewStruct(topic+".Envelope", false, connectors.Opt("before", row), connectors.Opt("after", row),
		connectors.Opt("source", sourceSchema), connectors.Opt("op", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.OptionalInt64Schema))
}

func (g *gen) next(key, val any, ks, vs *connectors.Schema) *connectors.Record {
	r := &connectors.Record{Topic: g.topic, Partition: g.partion, Offset: g.off, KeySchema: ks, Key: key, ValueSchema: vs, Value: val}
	g.off++
	return r
}

func (g *gen) keyOf(id int64) *connectors.StructValue {
	return connectors.NewStructValue(g.key).Set("id", id)
}

// event returns an envelope record with op and after (nil for deletes).
func (g *gen) event(op string, id int64, after *connectors.StructValue) *connectors.Record {
	env := connectors.NewStructValue(g.env).Set("op", op).Set("source", g.source).Set("ts_ms", int64(1))
	if after != nil {
		env.Set("after", after)
	}
	if op == "d" {
		env.Set("before", connectors.NewStructValue(g.row).Set("id", id))
	}
	return g.next(g.keyOf(id), env, g.key, g.env)
}

// upsert returns an "u" event with name and qty (nil values allowed).
func (g *gen) upsert(id int64, name any, qty any) *connectors.Record {
	row := connectors.NewStructValue(g.row).Set("id", id).Set("name", name)
	if qty != nil {
		row.Set("qty", int32(qty.(int)))
	}
	return g.event("u", id, row)
}

// row returns an "c" event for a full value struct.
func (g *gen) create(row *connectors.StructValue) *connectors.Record {
	return g.event("c", row.Get("id").(int64), row)
}

func (g *gen) del(id int64) *connectors.Record { return g.event("d", id, nil) }

func (g *gen) tomb(id int64) *connectors.Record { return g.next(g.keyOf(id), nil, g.key, nil) }

func (g *gen) truncate() *connectors.Record {
	env := connectors.NewStructValue(g.env).Set("op", "t").Set("source", g.source)
	return g.next(nil, env, nil, g.env)
}
