package transforms

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// A Debezium PostgreSQL change event's schemas, as the postgres
// connector builds them.
var (
	dbzSource = func() *connectors.Schema {
		s := connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
			connectors.Opt("version", connectors.StringSchema),
			connectors.Opt("connector", connectors.StringSchema),
			connectors.Opt("name", connectors.StringSchema),
			connectors.Opt("ts_ms", connectors.Int64Schema),
			connectors.Opt("snapshot", connectors.OptionalStringSchema),
			connectors.Opt("db", connectors.StringSchema),
			connectors.Opt("schema", connectors.StringSchema),
			connectors.Opt("table", connectors.StringSchema),
			connectors.Opt("txId", connectors.OptionalInt64Schema),
			connectors.Opt("lsn", connectors.OptionalInt64Schema))
		s.Version = 1
		return s
	}()
	dbzTx = connectors.NewStruct("event.block", true,
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("total_order", connectors.Int64Schema),
		connectors.Opt("data_collection_order", connectors.Int64Schema))
)

func dbzSchemas(topic string, row ...connectors.Field) (key, value, env *connectors.Schema) {
	key = connectors.NewStruct(topic+".Key", false, connectors.Opt("id", connectors.Int32Schema))
	value = connectors.NewStruct(topic+".Value", true, row...)
	env = connectors.NewStruct(topic+".Envelope", false,
		connectors.Opt("before", value),
		connectors.Opt("after", value),
		connectors.Opt("source", dbzSource),
		connectors.Opt("transaction", dbzTx),
		connectors.Opt("op", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.OptionalInt64Schema))
	env.Version = 2
	return
}

var dbzKey, dbzValue, dbzEnv = dbzSchemas("db.public.customers",
	connectors.Opt("id", connectors.Int32Schema),
	connectors.Opt("name", connectors.OptionalStringSchema),
	connectors.Opt("email", connectors.StringSchema),
	connectors.Opt("region", connectors.OptionalStringSchema))

func dbzRow(id int32, name string) *connectors.StructValue {
	return &connectors.StructValue{Schema: dbzValue, Values: []any{id, name, name + "@x.org", "eu"}}
}

func dbzEvent(op string, before, after *connectors.StructValue) connectors.Record {
	src := &connectors.StructValue{Schema: dbzSource, Values: []any{"0.1.0", "postgresql", "db", int64(1700000000000), "false", "shop", "public", "customers", int64(771), int64(2345)}}
	var b, a any
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	env := &connectors.StructValue{Schema: dbzEnv, Values: []any{b, a, src,
		&connectors.StructValue{Schema: dbzTx, Values: []any{"771:2345", int64(1), int64(1)}}, op, int64(1700000000123)}}
	var id int32
	if after != nil {
		id = after.Values[0].(int32)
	} else if before != nil {
		id = before.Values[0].(int32)
	}
	return rec("db.public.customers", dbzKey, &connectors.StructValue{Schema: dbzKey, Values: []any{id}}, dbzEnv, env)
}

func dbzTombstone(id int32) connectors.Record {
	return rec("db.public.customers", dbzKey, &connectors.StructValue{Schema: dbzKey, Values: []any{id}}, nil, nil)
}

// dbzMap is the same event read without a schema.
func dbzMap(op string, before, after []connectors.MapEntry) connectors.Record {
	src := []connectors.MapEntry{{Key: "table", Value: "customers"}, {Key: "ts_ms", Value: int64(1700000000000)}}
	var b, a any
	if before != nil {
		b = before
	}
	if after != nil {
		a = after
	}
	return rec("db.public.customers", nil, []connectors.MapEntry{{Key: "id", Value: int64(1)}}, nil,
		[]connectors.MapEntry{{Key: "before", Value: b}, {Key: "after", Value: a}, {Key: "source", Value: src}, {Key: "op", Value: op}, {Key: "ts_ms", Value: int64(1700000000123)}})
}

func TestExtractNewRecordState(t *testing.T) {
	const unwrap = "io.debezium.transforms.ExtractNewRecordState"
	row := `{"id":1,"name":"ann","email":"ann@x.org","region":"eu"}`
	rowSchema := "db.public.customers.Value{id:int32,name:string?,email:string,region:string?}?"
	rowMap := []connectors.MapEntry{{Key: "id", Value: int64(1)}, {Key: "name", Value: "ann"}}
	mode := func(m string) map[string]string { return map[string]string{"delete.tombstone.handling.mode": m} }
	runCases(t, []tc{
		{name: "create", typ: unwrap, in: dbzEvent("c", nil, dbzRow(1, "ann")), valueSchema: rowSchema, value: row,
			keySchema: "db.public.customers.Key{id:int32}", key: `{"id":1}`, topic: "db.public.customers"},
		{name: "update and read", typ: "ExtractNewRecordState", in: dbzEvent("u", dbzRow(1, "old"), dbzRow(1, "ann")), value: row},
		{name: "snapshot read", typ: unwrap, in: dbzEvent("r", nil, dbzRow(1, "ann")), value: row},
		{name: "default: delete dropped", typ: unwrap, in: dbzEvent("d", dbzRow(1, "ann"), nil), drop: true},
		{name: "default: tombstone kept", typ: unwrap, in: dbzTombstone(1), valueSchema: "-", value: "null", key: `{"id":1}`},
		{name: "drop: delete dropped", typ: unwrap, opts: mode("drop"), in: dbzEvent("d", dbzRow(1, "ann"), nil), drop: true},
		{name: "drop: tombstone dropped", typ: unwrap, opts: mode("drop"), in: dbzTombstone(1), drop: true},
		{name: "rewrite: delete rewritten", typ: unwrap, opts: mode("rewrite"), in: dbzEvent("d", dbzRow(1, "ann"), nil),
			valueSchema: "db.public.customers.Value{id:int32,name:string?,email:string,region:string?,__deleted:string?}?",
			value:       `{"id":1,"name":"ann","email":"ann@x.org","region":"eu","__deleted":"true"}`},
		{name: "rewrite: create marked", typ: unwrap, opts: mode("rewrite"), in: dbzEvent("c", nil, dbzRow(1, "ann")),
			value: `{"id":1,"name":"ann","email":"ann@x.org","region":"eu","__deleted":"false"}`},
		{name: "rewrite: tombstone dropped", typ: unwrap, opts: mode("rewrite"), in: dbzTombstone(1), drop: true},
		{name: "rewrite-with-tombstone keeps it", typ: unwrap, opts: mode("rewrite-with-tombstone"), in: dbzTombstone(1), value: "null"},
		{name: "delete-to-tombstone", typ: unwrap, opts: mode("delete-to-tombstone"), in: dbzEvent("d", dbzRow(1, "ann"), nil), valueSchema: "-", value: "null", key: `{"id":1}`},
		{name: "delete-to-tombstone drops tombstones", typ: unwrap, opts: mode("delete"), in: dbzTombstone(1), drop: true},
		{name: "legacy rewrite", typ: unwrap, opts: map[string]string{"delete.handling.mode": "rewrite", "drop.tombstones": "false"},
			in: dbzEvent("d", dbzRow(1, "ann"), nil), value: `{"id":1,"name":"ann","email":"ann@x.org","region":"eu","__deleted":"true"}`},
		{name: "legacy default drops tombstones", typ: unwrap, opts: map[string]string{"delete.handling.mode": "drop"}, in: dbzTombstone(1), drop: true},
		{name: "legacy none makes a tombstone", typ: unwrap, opts: map[string]string{"delete.handling.mode": "none"}, in: dbzEvent("d", dbzRow(1, "ann"), nil), value: "null"},
		{name: "legacy drop.tombstones=false", typ: unwrap, opts: map[string]string{"drop.tombstones": "false"}, in: dbzTombstone(1), value: "null"},
		{name: "add fields and headers", typ: unwrap,
			opts:        map[string]string{"add.fields": "op,table,source.ts_ms,transaction.id:tx", "add.headers": "db,lsn", "add.headers.prefix": "dbz."},
			in:          dbzEvent("u", nil, dbzRow(1, "ann")),
			valueSchema: "db.public.customers.Value{id:int32,name:string?,email:string,region:string?,__op:string?,__table:string?,__source_ts_ms:int64?,__tx:string?}?",
			value:       `{"id":1,"name":"ann","email":"ann@x.org","region":"eu","__op":"u","__table":"customers","__source_ts_ms":1700000000000,"__tx":"771:2345"}`,
			headers:     "dbz.db=shop;dbz.lsn=2345"},
		{name: "add fields prefix and rewrite", typ: unwrap, opts: map[string]string{"add.fields": "op", "add.fields.prefix": "_", "delete.tombstone.handling.mode": "rewrite"},
			in: dbzEvent("d", dbzRow(1, "ann"), nil), value: `{"id":1,"name":"ann","email":"ann@x.org","region":"eu","_op":"d","_deleted":"true"}`},
		{name: "unknown added field", typ: unwrap, opts: map[string]string{"add.fields": "nope"}, in: dbzEvent("c", nil, dbzRow(1, "ann")),
			wantErr: `add.fields names "nope"`},
		{name: "route by field", typ: unwrap, opts: map[string]string{"route.by.field": "region"}, in: dbzEvent("c", nil, dbzRow(1, "ann")), topic: "eu"},
		{name: "non-envelope passes", typ: unwrap, in: rec("hb", nil, nil, personSchema, person(1, "x")), valueSchema: describe(personSchema), topic: "hb"},
		{name: "truncate passes", typ: unwrap, in: dbzEvent("t", nil, nil), valueSchema: describe(dbzEnv)},
		{name: "schemaless create", typ: unwrap, opts: map[string]string{"add.fields": "op,table"}, in: dbzMap("c", nil, rowMap),
			valueSchema: "-", value: `{"id":1,"name":"ann","__op":"c","__table":"customers"}`},
		{name: "schemaless rewrite", typ: unwrap, opts: mode("rewrite"), in: dbzMap("d", rowMap, nil), value: `{"id":1,"name":"ann","__deleted":"true"}`},
		{name: "schemaless delete dropped", typ: unwrap, in: dbzMap("d", rowMap, nil), drop: true},
		{name: "schemaless non-envelope", typ: unwrap, in: rec("a", nil, nil, nil, personMap(1, "x")), value: render(t, personMap(1, "x"))},
		{name: "bad mode", typ: unwrap, opts: mode("explode"), wantConfigErr: "transforms.t.delete.tombstone.handling.mode"},
		{name: "new and legacy together", typ: unwrap, opts: map[string]string{"delete.tombstone.handling.mode": "drop", "drop.tombstones": "true"},
			wantConfigErr: "transforms.t.delete.tombstone.handling.mode"},
		{name: "bad add.fields", typ: unwrap, opts: map[string]string{"add.fields": "a.b.c"}, wantConfigErr: "transforms.t.add.fields"},
		{name: "unsupported option refused", typ: unwrap, opts: map[string]string{"drop.fields.header.name": "x"}, wantConfigErr: "transforms.t.drop.fields.header.name"},
	})
}

var outboxKey, outboxValue, outboxEnv = dbzSchemas("db.public.outbox",
	connectors.Opt("id", connectors.StringSchema),
	connectors.Opt("aggregatetype", connectors.StringSchema),
	connectors.Opt("aggregateid", connectors.StringSchema),
	connectors.Opt("type", connectors.StringSchema),
	connectors.Opt("payload", connectors.OptionalStringSchema),
	connectors.Opt("created", timestampSchema(true)))

func outboxEvent(op string, payload any) connectors.Record {
	row := &connectors.StructValue{Schema: outboxValue, Values: []any{"e-1", "Order", "o-7", "OrderCreated", payload, ts0}}
	env := &connectors.StructValue{Schema: outboxEnv, Values: []any{nil, row, nil, nil, op, int64(1700000000123)}}
	if op == "d" {
		env.Values[0], env.Values[1] = row, nil
	}
	return rec("db.public.outbox", outboxKey, &connectors.StructValue{Schema: outboxKey, Values: []any{int32(1)}}, outboxEnv, env)
}

func TestEventRouter(t *testing.T) {
	const router = "io.debezium.transforms.outbox.EventRouter"
	runCases(t, []tc{
		{name: "defaults", typ: router, in: outboxEvent("c", `{"total":3}`), topic: "outbox.event.Order",
			keySchema: "string", key: `"o-7"`, valueSchema: "string?", value: `"{\"total\":3}"`, headers: "id=e-1"},
		{name: "snapshot read", typ: "EventRouter", in: outboxEvent("r", "p"), topic: "outbox.event.Order"},
		{name: "delete dropped", typ: router, in: outboxEvent("d", "p"), drop: true},
		{name: "tombstone dropped", typ: router, in: rec("db.public.outbox", nil, nil, nil, nil), drop: true},
		{name: "update dropped with a warning", typ: router, in: outboxEvent("u", "p"), drop: true},
		{name: "update fatal", typ: router, opts: map[string]string{"table.op.invalid.behavior": "fatal"}, in: outboxEvent("u", "p"), wantErr: "table.op.invalid.behavior=fatal"},
		{name: "routing and placement", typ: router,
			opts: map[string]string{"route.topic.regex": "(?<routedByValue>[A-Z])(.*)", "route.topic.replacement": "events.${routedByValue}.$2",
				"table.fields.additional.placement": "type:header:eventType,type:envelope,aggregateid:envelope:agg", "table.field.event.timestamp": "created"},
			in: outboxEvent("c", "p"), topic: "events.O.rder", headers: "id=e-1;eventType=OrderCreated",
			valueSchema: "{payload:string?,type:string,agg:string}", value: `{"payload":"p","type":"OrderCreated","agg":"o-7"}`},
		{name: "tombstone on empty payload", typ: router, opts: map[string]string{"route.tombstone.on.empty.payload": "true"},
			in: outboxEvent("c", nil), valueSchema: "-", value: "null", key: `"o-7"`},
		{name: "null payload kept", typ: router, in: outboxEvent("c", nil), valueSchema: "string?", value: "null"},
		{name: "missing column", typ: router, opts: map[string]string{"table.field.event.key": "nope"}, in: outboxEvent("c", "p"), wantErr: `no column "nope"; fix table.field.event.key`},
		{name: "missing placement column tolerated", typ: router, opts: map[string]string{"table.fields.additional.placement": "nope:header", "table.fields.additional.error.on.missing": "false"},
			in: outboxEvent("c", "p"), headers: "id=e-1"},
		{name: "non-envelope passes", typ: router, in: rec("hb", nil, nil, personSchema, person(1, "x")), topic: "hb"},
		{name: "expand json refused", typ: router, opts: map[string]string{"table.expand.json.payload": "true"}, wantConfigErr: "transforms.t.table.expand.json.payload"},
		{name: "bad placement", typ: router, opts: map[string]string{"table.fields.additional.placement": "type:body"}, wantConfigErr: "transforms.t.table.fields.additional.placement"},
		{name: "partition placement refused", typ: router, opts: map[string]string{"table.fields.additional.placement": "type:partition"}, wantConfigErr: "partition placement is not supported"},
		{name: "bad regex", typ: router, opts: map[string]string{"route.topic.regex": "(?<x"}, wantConfigErr: "transforms.t.route.topic.regex"},
	})
	// The timestamp: the event's ts_ms, or the timestamp column.
	for _, c := range []struct {
		opts map[string]string
		want int64
	}{{nil, 1700000000123}, {map[string]string{"table.field.event.timestamp": "created"}, ts0.UnixMilli()}} {
		ch, err := chainOf(t, router, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		r := outboxEvent("c", "p")
		out, err := ch.Apply(&r)
		if err != nil {
			t.Fatal(err)
		}
		if out.Timestamp.UnixMilli() != c.want {
			t.Errorf("%v: timestamp %d, want %d", c.opts, out.Timestamp.UnixMilli(), c.want)
		}
	}
}

func TestByLogicalTableRouter(t *testing.T) {
	const router = "io.debezium.transforms.ByLogicalTableRouter"
	shard := func(n string) connectors.Record {
		r := dbzEvent("c", nil, dbzRow(1, "ann"))
		r.Topic = "db.public.customers_" + n
		return r
	}
	opts := map[string]string{"topic.regex": `(.*)customers_(\d+)`, "topic.replacement": "${1}customers_all"}
	runCases(t, []tc{
		{name: "reroute", typ: router, opts: opts, in: shard("2"), topic: "db.public.customers_all",
			keySchema:   "db.public.customers_all.Key{id:int32,__dbz__physicalTableIdentifier:string}",
			key:         `{"id":1,"__dbz__physicalTableIdentifier":"db.public.customers_2"}`,
			valueSchema: "db.public.customers_all.Envelope@2{before:db.public.customers_all.Value{id:int32,name:string?,email:string,region:string?}?,after:db.public.customers_all.Value{id:int32,name:string?,email:string,region:string?}?,source:io.debezium.connector.postgresql.Source@1{version:string,connector:string,name:string,ts_ms:int64,snapshot:string?,db:string,schema:string,table:string,txId:int64?,lsn:int64?},transaction:event.block{id:string,total_order:int64,data_collection_order:int64}?,op:string,ts_ms:int64?}"},
		{name: "key field regex", typ: router, opts: map[string]string{"topic.regex": `(.*)customers_(\d+)`, "topic.replacement": "all",
			"key.field.name": "shard", "key.field.regex": `.*_(\d+)`, "key.field.replacement": "s$1"},
			in: shard("3"), topic: "all", key: `{"id":1,"shard":"s3"}`},
		{name: "no uniqueness", typ: router, opts: map[string]string{"topic.regex": `(.*)customers_(\d+)`, "topic.replacement": "all", "key.enforce.uniqueness": "false"},
			in: shard("3"), keySchema: "all.Key{id:int32}", key: `{"id":1}`},
		{name: "tombstone rekeyed", typ: router, opts: opts, in: func() connectors.Record { r := dbzTombstone(1); r.Topic = "db.public.customers_9"; return r }(),
			value: "null", key: `{"id":1,"__dbz__physicalTableIdentifier":"db.public.customers_9"}`},
		{name: "schemaless key", typ: router, opts: opts, in: func() connectors.Record { r := dbzMap("c", nil, nil); r.Topic = "db.public.customers_1"; return r }(),
			key: `{"id":1,"__dbz__physicalTableIdentifier":"db.public.customers_1"}`},
		{name: "other topics pass", typ: router, opts: opts, in: dbzEvent("c", nil, dbzRow(1, "ann")), topic: "db.public.customers", keySchema: "db.public.customers.Key{id:int32}"},
		{name: "regex without replacement", typ: router, opts: map[string]string{"topic.regex": "a", "topic.replacement": "b", "key.field.regex": "x"}, wantConfigErr: "transforms.t.key.field.replacement"},
		{name: "required", typ: router, opts: map[string]string{}, wantConfigErr: "transforms.t.topic.regex"},
	})
	// Two shards share the logical schemas.
	ch, err := chainOf(t, router, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := shard("1"), shard("1")
	ra, _ := ch.Apply(&a)
	rb, _ := ch.Apply(&b)
	if ra.ValueSchema != rb.ValueSchema || ra.KeySchema != rb.KeySchema {
		t.Fatal("schemas rebuilt per record")
	}
	if !strings.HasSuffix(dbzEnv.Name, "customers.Envelope") {
		t.Fatal("input schema modified")
	}
}
