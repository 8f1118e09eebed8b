package transforms

import (
	"errors"
	"math/big"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

var idKey = connectors.NewStruct("Key", false, connectors.Opt("id", connectors.Int64Schema))

func key(id int64) *connectors.StructValue {
	return &connectors.StructValue{Schema: idKey, Values: []any{id}}
}

func TestInsertField(t *testing.T) {
	all := map[string]string{"topic.field": "t!", "partition.field": "p", "offset.field": "o?", "timestamp.field": "ts", "static.field": "s", "static.value": "v"}
	runCases(t, []tc{
		{name: "value schema'd", typ: "InsertField$Value", opts: all, in: rec("a", nil, nil, personSchema, person(1, "x")),
			valueSchema: "Person@3{id:int64,name:string?,age:int32,addr:Addr{city:string,zip:int32?}?,t:string,p:int32?,o:int64?,ts:int64(Timestamp)?,s:string?}",
			value:       `{"id":1,"name":"x","age":42,"addr":{"city":"Oslo","zip":150},"t":"a","p":2,"o":77,"ts":"2024-03-05T13:04:05.678Z","s":"v"}`},
		{name: "value schemaless", typ: "org.apache.kafka.connect.transforms.InsertField$Value", opts: map[string]string{"topic.field": "t", "static.field": "s", "static.value": "v"},
			in: rec("a", nil, nil, nil, []connectors.MapEntry{{Key: "x", Value: int64(1)}}), valueSchema: "-", value: `{"x":1,"t":"a","s":"v"}`},
		{name: "schemaless Go map", typ: "InsertField$Value", opts: map[string]string{"partition.field": "p"},
			in: rec("a", nil, nil, nil, map[string]any{"b": "2", "a": "1"}), value: `{"a":"1","b":"2","p":2}`},
		{name: "key", typ: "InsertField$Key", opts: map[string]string{"topic.field": "t"}, in: rec("a", idKey, key(5), nil, nil),
			keySchema: "Key{id:int64,t:string?}", key: `{"id":5,"t":"a"}`},
		{name: "tombstone passes", typ: "InsertField$Value", opts: all, in: rec("a", idKey, key(5), nil, nil), valueSchema: "-", value: "null"},
		{name: "offset on a source record", typ: "InsertField$Value", opts: map[string]string{"offset.field": "o"},
			in: func() connectors.Record {
				r := rec("a", nil, nil, personSchema, person(1, "x"))
				r.SourcePartition = map[string]any{"p": 1}
				return r
			}(), wantErr: "only in sink connectors"},
		{name: "partition of a source record is null", typ: "InsertField$Value", opts: map[string]string{"partition.field": "p"},
			in: func() connectors.Record {
				r := rec("a", nil, nil, nil, []connectors.MapEntry{})
				r.SourceOffset = map[string]any{"lsn": 1}
				return r
			}(), value: `{"p":null}`},
		{name: "required timestamp missing", typ: "InsertField$Value", opts: map[string]string{"timestamp.field": "ts!"},
			in: connectors.Record{Topic: "a", ValueSchema: personSchema, Value: person(1, "x")}, wantErr: `required field "ts"`},
		{name: "duplicate field", typ: "InsertField$Value", opts: map[string]string{"topic.field": "name"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `already has a field "name"`},
		{name: "not a map", typ: "InsertField$Value", opts: map[string]string{"topic.field": "t"},
			in: rec("a", nil, nil, nil, "str"), wantErr: `must be a map, found string (record topic "a" partition 2 offset 77)`},
		{name: "nothing to insert", typ: "InsertField$Value", opts: map[string]string{}, wantConfigErr: "transforms.t.topic.field"},
		{name: "static.field without value", typ: "InsertField$Value", opts: map[string]string{"static.field": "s"}, wantConfigErr: "transforms.t.static.value"},
	})
}

func TestReplaceField(t *testing.T) {
	runCases(t, []tc{
		{name: "exclude and rename", typ: "ReplaceField$Value", opts: map[string]string{"exclude": "age,addr", "renames": "id:pk,name:full_name"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: "Person@3{pk:int64,full_name:string?}", value: `{"pk":1,"full_name":"x"}`},
		{name: "include", typ: "ReplaceField$Value", opts: map[string]string{"include": "name,id"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: "Person@3{id:int64,name:string?}", value: `{"id":1,"name":"x"}`},
		{name: "exclude wins over include; whitelist/blacklist aliases", typ: "ReplaceField$Value", opts: map[string]string{"whitelist": "name,id", "blacklist": "id"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), value: `{"name":"x"}`},
		{name: "schemaless", typ: "ReplaceField$Value", opts: map[string]string{"exclude": "addr", "renames": "age:years"},
			in: rec("a", nil, nil, nil, personMap(1, "x")), value: `{"id":1,"name":"x","years":42}`},
		{name: "key", typ: "ReplaceField$Key", opts: map[string]string{"renames": "id:key_id"},
			in: rec("a", idKey, key(9), nil, nil), keySchema: "Key{key_id:int64}", key: `{"key_id":9}`},
		{name: "tombstone", typ: "ReplaceField$Value", opts: map[string]string{"exclude": "a"}, in: rec("a", idKey, key(9), nil, nil), value: "null"},
		{name: "bad rename", typ: "ReplaceField$Value", opts: map[string]string{"renames": "a"}, wantConfigErr: `transforms.t.renames "a": "a" must be old:new`},
	})
}

func TestMaskField(t *testing.T) {
	dec := connectors.DecimalSchema(2, false)
	money := connectors.NewStruct("M", false, connectors.Opt("amount", dec), connectors.Opt("at", timestampSchema(false)),
		connectors.Opt("ok", connectors.BooleanSchema), connectors.Opt("blob", connectors.BytesSchema))
	mv := &connectors.StructValue{Schema: money, Values: []any{connectors.Decimal{Unscaled: big.NewInt(12345), Scale: 2}, ts0, true, []byte("x")}}
	runCases(t, []tc{
		{name: "empty values", typ: "MaskField$Value", opts: map[string]string{"fields": "name,age,addr"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: describe(personSchema), value: `{"id":1,"name":"","age":0,"addr":null}`,
			wantErr: "cannot mask a value of type *connectors.StructValue"},
		{name: "primitives", typ: "MaskField$Value", opts: map[string]string{"fields": "name,age"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: describe(personSchema), value: `{"id":1,"name":"","age":0,"addr":{"city":"Oslo","zip":150}}`},
		{name: "logical", typ: "MaskField$Value", opts: map[string]string{"fields": "amount,at,ok,blob"},
			in: rec("a", nil, nil, money, mv), value: `{"amount":0.00,"at":"1970-01-01T00:00:00.000Z","ok":false,"blob":""}`},
		{name: "replacement", typ: "MaskField$Value", opts: map[string]string{"fields": "age,name", "replacement": "7"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), value: `{"id":1,"name":"7","age":7,"addr":{"city":"Oslo","zip":150}}`},
		{name: "decimal replacement rescaled", typ: "MaskField$Value", opts: map[string]string{"fields": "amount", "replacement": "1.5"},
			in: rec("a", nil, nil, money, mv), value: `{"amount":1.50,"at":"2024-03-05T13:04:05.678Z","ok":true,"blob":"eA=="}`},
		{name: "replacement does not fit", typ: "MaskField$Value", opts: map[string]string{"fields": "age", "replacement": "old"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `replacement "old" does not fit`},
		{name: "replacement on a timestamp", typ: "MaskField$Value", opts: map[string]string{"fields": "at", "replacement": "0"},
			in: rec("a", nil, nil, money, mv), wantErr: "only mask numeric and string"},
		{name: "schemaless", typ: "MaskField$Value", opts: map[string]string{"fields": "name,addr"},
			in: rec("a", nil, nil, nil, personMap(1, "x")), value: `{"id":1,"name":"","age":42,"addr":{}}`},
		{name: "key", typ: "MaskField$Key", opts: map[string]string{"fields": "id"}, in: rec("a", idKey, key(3), nil, nil), key: `{"id":0}`},
		{name: "fields required", typ: "MaskField$Value", opts: map[string]string{}, wantConfigErr: "transforms.t.fields"},
	}[1:])
	// The first case documents that structs cannot be masked.
	runCases(t, []tc{{name: "struct field", typ: "MaskField$Value", opts: map[string]string{"fields": "addr"},
		in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: "cannot mask a value of type *connectors.StructValue"}})
}

func TestValueToKey(t *testing.T) {
	runCases(t, []tc{
		{name: "schema'd", typ: "ValueToKey", opts: map[string]string{"fields": "name,id"}, in: rec("a", nil, nil, personSchema, person(1, "x")),
			keySchema: "{name:string?,id:int64}", key: `{"name":"x","id":1}`, value: `{"id":1,"name":"x","age":42,"addr":{"city":"Oslo","zip":150}}`},
		{name: "schemaless", typ: "org.apache.kafka.connect.transforms.ValueToKey", opts: map[string]string{"fields": "id"},
			in: rec("a", nil, nil, nil, personMap(4, "x")), keySchema: "-", key: `{"id":4}`},
		{name: "unknown field", typ: "ValueToKey", opts: map[string]string{"fields": "nope"}, in: rec("a", nil, nil, personSchema, person(1, "x")),
			wantErr: `has no field "nope"; fix fields`},
		{name: "tombstone keeps key", typ: "ValueToKey", opts: map[string]string{"fields": "id"}, in: rec("a", idKey, key(8), nil, nil), key: `{"id":8}`},
	})
}

func TestExtractField(t *testing.T) {
	runCases(t, []tc{
		{name: "schema'd", typ: "ExtractField$Value", opts: map[string]string{"field": "addr"}, in: rec("a", nil, nil, personSchema, person(1, "x")),
			valueSchema: "Addr{city:string,zip:int32?}?", value: `{"city":"Oslo","zip":150}`},
		{name: "nested V2", typ: "ExtractField$Value", opts: map[string]string{"field": "addr.zip", "field.syntax.version": "V2"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: "int32?", value: `150`},
		{name: "dotted name in V1", typ: "ExtractField$Value", opts: map[string]string{"field": "addr.zip"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `has no field "addr.zip"`},
		{name: "schemaless nested", typ: "ExtractField$Value", opts: map[string]string{"field": "addr.city", "field.syntax.version": "V2"},
			in: rec("a", nil, nil, nil, personMap(1, "x")), valueSchema: "-", value: `"Oslo"`},
		{name: "key", typ: "ExtractField$Key", opts: map[string]string{"field": "id"}, in: rec("a", idKey, key(6), nil, nil), keySchema: "int64", key: "6"},
		{name: "null value keeps field schema", typ: "ExtractField$Value", opts: map[string]string{"field": "name"},
			in: rec("a", nil, nil, personSchema, nil), valueSchema: "string?", value: "null"},
		{name: "bad version", typ: "ExtractField$Value", opts: map[string]string{"field": "a", "field.syntax.version": "V3"}, wantConfigErr: "transforms.t.field.syntax.version"},
		{name: "bad path", typ: "ExtractField$Value", opts: map[string]string{"field": "a..b", "field.syntax.version": "V2"}, wantConfigErr: "empty name"},
	})
	p, err := parsePath("a.`b.c`.d")
	if err != nil || len(p) != 3 || p[1] != "b.c" {
		t.Fatalf("parsePath = %q, %v", p, err)
	}
}

func TestHoistField(t *testing.T) {
	runCases(t, []tc{
		{name: "schema'd", typ: "HoistField$Value", opts: map[string]string{"field": "p"}, in: rec("a", nil, nil, personSchema, person(1, "x")),
			valueSchema: "{p:Person@3{id:int64,name:string?,age:int32,addr:Addr{city:string,zip:int32?}?}}", value: `{"p":{"id":1,"name":"x","age":42,"addr":{"city":"Oslo","zip":150}}}`},
		{name: "primitive key", typ: "HoistField$Key", opts: map[string]string{"field": "k"}, in: rec("a", connectors.StringSchema, "abc", nil, nil),
			keySchema: "{k:string}", key: `{"k":"abc"}`},
		{name: "schemaless", typ: "HoistField$Value", opts: map[string]string{"field": "v"}, in: rec("a", nil, nil, nil, int64(3)), valueSchema: "-", value: `{"v":3}`},
		{name: "field required", typ: "HoistField$Value", opts: map[string]string{}, wantConfigErr: "transforms.t.field"},
	})
}

func TestCast(t *testing.T) {
	dec := connectors.DecimalSchema(2, false)
	s := connectors.NewStruct("S", false, connectors.Opt("d", dec), connectors.Opt("f", connectors.Float64Schema),
		connectors.Opt("s", connectors.StringSchema), connectors.Opt("b", connectors.BooleanSchema), connectors.Opt("t", timestampSchema(true)))
	sv := &connectors.StructValue{Schema: s, Values: []any{connectors.Decimal{Unscaled: big.NewInt(-12345), Scale: 2}, 2.75, "12", true, ts0}}
	runCases(t, []tc{
		{name: "fields", typ: "Cast$Value", opts: map[string]string{"spec": "d:int32,f:int16,s:int64,b:string,t:string"}, in: rec("a", nil, nil, s, sv),
			valueSchema: "S{d:int32,f:int16,s:int64,b:string,t:string?}", value: `{"d":-123,"f":2,"s":12,"b":"true","t":"2024-03-05T13:04:05.678Z"}`},
		{name: "decimal to float and string", typ: "Cast$Value", opts: map[string]string{"spec": "d:float64,s:float32"}, in: rec("a", nil, nil, s, sv),
			value: `{"d":-123.45,"f":2.75,"s":12,"b":true,"t":"2024-03-05T13:04:05.678Z"}`},
		{name: "to boolean", typ: "Cast$Value", opts: map[string]string{"spec": "f:boolean"}, in: rec("a", nil, nil, s, sv), valueSchema: "S{d:bytes(Decimal),f:boolean,s:string,b:boolean,t:int64(Timestamp)?}"},
		{name: "whole value", typ: "Cast$Key", opts: map[string]string{"spec": "string"}, in: rec("a", connectors.Int64Schema, int64(5), nil, nil), keySchema: "string", key: `"5"`},
		{name: "schemaless", typ: "Cast$Value", opts: map[string]string{"spec": "id:string,age:int8"}, in: rec("a", nil, nil, nil, personMap(1, "x")),
			value: `{"id":"1","name":"x","age":42,"addr":{"city":"Oslo","zip":150}}`},
		{name: "schemaless whole", typ: "Cast$Value", opts: map[string]string{"spec": "int32"}, in: rec("a", nil, nil, nil, "17"), value: "17"},
		{name: "struct field", typ: "Cast$Value", opts: map[string]string{"spec": "addr:string"}, in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `field "addr" is a struct`},
		{name: "not a number", typ: "Cast$Value", opts: map[string]string{"spec": "name:int32"}, in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `cannot cast "x" to int32`},
		{name: "unknown type", typ: "Cast$Value", opts: map[string]string{"spec": "a:uuid"}, wantConfigErr: `transforms.t.spec "a:uuid": "a:uuid": unknown type`},
		{name: "nested paths refused", typ: "Cast$Value", opts: map[string]string{"spec": "a.b:int8", "field.syntax.version": "V2"}, wantConfigErr: "transforms.t.field.syntax.version"},
		{name: "whole plus field", typ: "Cast$Value", opts: map[string]string{"spec": "int32,a:int8"}, wantConfigErr: "must be the only entry"},
	})
}

func TestTimestampConverter(t *testing.T) {
	ev := connectors.NewStruct("E", false, connectors.Opt("at", timestampSchema(false)), connectors.Opt("unix", connectors.Int64Schema),
		connectors.Opt("text", connectors.OptionalStringSchema))
	evv := func() *connectors.StructValue {
		return &connectors.StructValue{Schema: ev, Values: []any{ts0, ts0.UnixMilli(), "2024-03-05 13:04:05"}}
	}
	runCases(t, []tc{
		{name: "to string", typ: "TimestampConverter$Value", opts: map[string]string{"field": "at", "target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss.SSSX"},
			in: rec("a", nil, nil, ev, evv()), valueSchema: "E{at:string,unix:int64,text:string?}", value: `{"at":"2024-03-05T13:04:05.678Z","unix":1709643845678,"text":"2024-03-05 13:04:05"}`},
		{name: "unix to Date", typ: "TimestampConverter$Value", opts: map[string]string{"field": "unix", "target.type": "Date"},
			in: rec("a", nil, nil, ev, evv()), valueSchema: "E{at:int64(Timestamp),unix:int32(Date),text:string?}", value: `{"at":"2024-03-05T13:04:05.678Z","unix":"2024-03-05T00:00:00.000Z","text":"2024-03-05 13:04:05"}`},
		{name: "string to unix seconds", typ: "TimestampConverter$Value", opts: map[string]string{"field": "text", "target.type": "unix", "format": "yyyy-MM-dd HH:mm:ss", "unix.precision": "seconds"},
			in: rec("a", nil, nil, ev, evv()), valueSchema: "E{at:int64(Timestamp),unix:int64,text:int64?}", value: `{"at":"2024-03-05T13:04:05.678Z","unix":1709643845678,"text":1709643845}`},
		{name: "Time", typ: "TimestampConverter$Value", opts: map[string]string{"field": "at", "target.type": "Time"},
			in: rec("a", nil, nil, ev, evv()), value: `{"at":"1970-01-01T13:04:05.678Z","unix":1709643845678,"text":"2024-03-05 13:04:05"}`},
		{name: "whole key unix to Timestamp", typ: "TimestampConverter$Key", opts: map[string]string{"target.type": "Timestamp", "unix.precision": "microseconds"},
			in: rec("a", connectors.Int64Schema, ts0.UnixMicro(), nil, nil), keySchema: "int64(Timestamp)", key: `"2024-03-05T13:04:05.678Z"`},
		{name: "schemaless", typ: "TimestampConverter$Value", opts: map[string]string{"field": "at", "target.type": "unix"},
			in: rec("a", nil, nil, nil, []connectors.MapEntry{{Key: "at", Value: ts0}}), value: `{"at":1709643845678}`},
		{name: "bad input string", typ: "TimestampConverter$Value", opts: map[string]string{"field": "text", "target.type": "unix", "format": "yyyy"},
			in: rec("a", nil, nil, ev, evv()), wantErr: `does not match format`},
		{name: "string needs format", typ: "TimestampConverter$Value", opts: map[string]string{"target.type": "string"}, wantConfigErr: "transforms.t.format"},
		{name: "bad format letter", typ: "TimestampConverter$Value", opts: map[string]string{"target.type": "string", "format": "yyyy-ww"}, wantConfigErr: `pattern letters "ww"`},
		{name: "bad target", typ: "TimestampConverter$Value", opts: map[string]string{"target.type": "epoch"}, wantConfigErr: "transforms.t.target.type"},
		{name: "unknown field", typ: "TimestampConverter$Value", opts: map[string]string{"field": "nope", "target.type": "unix"}, in: rec("a", nil, nil, ev, evv()), wantErr: `no field "nope"`},
	})
}

func TestJavaLayout(t *testing.T) {
	for _, c := range []struct{ java, want string }{
		{"yyyyMMdd", "20240305"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T13:04:05.678Z"},
		{"dd MMM yy hh:mm a", "05 Mar 24 01:04 PM"},
		{"EEE, d MMMM yyyy HH:mm:ss Z", "Tue, 5 March 2024 13:04:05 +0000"},
		{"'at' H 'o''clock'", "at 13 o'clock"},
		{"yyyy_MM_dd", "2024_03_05"},
		{"''yy''", "'24'"},
	} {
		l, err := javaLayout(c.java)
		if err != nil {
			t.Fatalf("%s: %v", c.java, err)
		}
		if got := ts0.Format(l); got != c.want {
			t.Errorf("%s: %q, want %q", c.java, got, c.want)
		}
	}
	for _, bad := range []string{"yyyy'", "SSS", "GG", "'1st' yyyy", "MM_d", "'Jan' yyyy"} {
		if _, err := javaLayout(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRouters(t *testing.T) {
	runCases(t, []tc{
		{name: "regex", typ: "RegexRouter", opts: map[string]string{"regex": `(.*)\.public\.(.*)`, "replacement": "$2_x$1"},
			in: rec("db.public.orders", nil, nil, nil, nil), topic: "orders_xdb"},
		{name: "regex named group and literal dollar", typ: "RegexRouter", opts: map[string]string{"regex": `(?<t>[a-z]+)`, "replacement": `\$${t}`},
			in: rec("abc", nil, nil, nil, nil), topic: "$abc"},
		{name: "regex must match whole topic", typ: "RegexRouter", opts: map[string]string{"regex": `public`, "replacement": "x"},
			in: rec("db.public.orders", nil, nil, nil, nil), topic: "db.public.orders"},
		{name: "bad regex", typ: "RegexRouter", opts: map[string]string{"regex": `(`, "replacement": "x"}, wantConfigErr: "transforms.t.regex"},
		{name: "replacement required", typ: "RegexRouter", opts: map[string]string{"regex": `x`}, wantConfigErr: "transforms.t.replacement"},
		{name: "timestamp default", typ: "TimestampRouter", in: rec("t", nil, nil, nil, nil), topic: "t-20240305"},
		{name: "timestamp format", typ: "TimestampRouter", opts: map[string]string{"topic.format": "${timestamp}_${topic}", "timestamp.format": "yyyy-MM"},
			in: rec("t", nil, nil, nil, nil), topic: "2024-03_t"},
		{name: "no timestamp", typ: "TimestampRouter", in: connectors.Record{Topic: "t"}, wantErr: "no timestamp"},
		{name: "bad timestamp format", typ: "TimestampRouter", opts: map[string]string{"timestamp.format": "yyyy-QQ"}, wantConfigErr: "transforms.t.timestamp.format"},
	})
}

func TestFlatten(t *testing.T) {
	runCases(t, []tc{
		{name: "schema'd", typ: "Flatten$Value", in: rec("a", nil, nil, personSchema, person(1, "x")),
			valueSchema: "Person@3{id:int64,name:string?,age:int32,addr.city:string?,addr.zip:int32?}", value: `{"id":1,"name":"x","age":42,"addr.city":"Oslo","addr.zip":150}`},
		{name: "null nested struct", typ: "Flatten$Value", opts: map[string]string{"delimiter": "_"},
			in:    rec("a", nil, nil, personSchema, &connectors.StructValue{Schema: personSchema, Values: []any{int64(1), nil, int32(3), nil}}),
			value: `{"id":1,"name":null,"age":3,"addr_city":null,"addr_zip":null}`},
		{name: "schemaless", typ: "Flatten$Value", opts: map[string]string{"delimiter": "_"}, in: rec("a", nil, nil, nil, personMap(1, "x")),
			value: `{"id":1,"name":"x","age":42,"addr_city":"Oslo","addr_zip":150}`},
		{name: "key", typ: "Flatten$Key", in: rec("a", personSchema, person(1, "x"), nil, nil), key: `{"id":1,"name":"x","age":42,"addr.city":"Oslo","addr.zip":150}`},
		{name: "arrays untouched", typ: "Flatten$Value", in: rec("a", nil, nil, nil, []connectors.MapEntry{{Key: "a", Value: []any{int64(1)}}}), value: `{"a":[1]}`},
	})
}

func TestSetSchemaMetadata(t *testing.T) {
	runCases(t, []tc{
		{name: "name and version", typ: "SetSchemaMetadata$Value", opts: map[string]string{"schema.name": "com.x.P", "schema.version": "7"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), valueSchema: "com.x.P@7{id:int64,name:string?,age:int32,addr:Addr{city:string,zip:int32?}?}"},
		{name: "primitive key", typ: "SetSchemaMetadata$Key", opts: map[string]string{"schema.name": "K"},
			in: rec("a", connectors.StringSchema, "k", nil, nil), keySchema: "string(K)", key: `"k"`},
		{name: "schemaless", typ: "SetSchemaMetadata$Value", opts: map[string]string{"schema.name": "K"}, in: rec("a", nil, nil, nil, "v"), wantErr: "has no schema"},
		{name: "neither", typ: "SetSchemaMetadata$Value", opts: map[string]string{}, wantConfigErr: "transforms.t.schema.name"},
		{name: "bad version", typ: "SetSchemaMetadata$Value", opts: map[string]string{"schema.version": "x"}, wantConfigErr: "transforms.t.schema.version"},
	})
	if personSchema.Name != "Person" || personSchema.Version != 3 {
		t.Fatal("the input schema was modified")
	}
}

func TestHeaders(t *testing.T) {
	withHeaders := func(r connectors.Record, hs ...connectors.Header) connectors.Record { r.Headers = hs; return r }
	runCases(t, []tc{
		{name: "insert", typ: "InsertHeader", opts: map[string]string{"header": "h", "value.literal": "v 1"},
			in: withHeaders(rec("a", nil, nil, nil, nil), connectors.Header{Key: "x", Value: []byte("1")}), headers: "x=1;h=v 1"},
		{name: "insert needs value", typ: "InsertHeader", opts: map[string]string{"header": "h"}, wantConfigErr: "transforms.t.value.literal"},
		{name: "drop", typ: "DropHeaders", opts: map[string]string{"headers": "x,z"},
			in: withHeaders(rec("a", nil, nil, nil, nil), connectors.Header{Key: "x"}, connectors.Header{Key: "y", Value: []byte("2")}, connectors.Header{Key: "x"}), headers: "y=2"},
		{name: "drop needs names", typ: "DropHeaders", opts: map[string]string{"headers": ""}, wantConfigErr: "transforms.t.headers"},
		{name: "from, move", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "id,addr", "headers": "h_id,h_addr", "operation": "move"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), headers: `h_id=1;h_addr={"city":"Oslo","zip":150}`,
			valueSchema: "Person@3{name:string?,age:int32}", value: `{"name":"x","age":42}`},
		{name: "from, MOVE in capitals", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "name", "headers": "n", "operation": "MOVE"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), headers: `n=x`, value: `{"id":1,"age":42,"addr":{"city":"Oslo","zip":150}}`},
		{name: "from, copy", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "name", "headers": "n", "operation": "copy"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), headers: `n=x`, valueSchema: describe(personSchema)},
		{name: "from key, schemaless move", typ: "HeaderFrom$Key", opts: map[string]string{"fields": "id", "headers": "k", "operation": "move"},
			in: rec("a", nil, []connectors.MapEntry{{Key: "id", Value: int64(4)}, {Key: "t", Value: "x"}}, nil, nil), headers: "k=4", key: `{"t":"x"}`},
		{name: "from unknown field", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "nope", "headers": "n", "operation": "copy"},
			in: rec("a", nil, nil, personSchema, person(1, "x")), wantErr: `no field "nope"`},
		{name: "from counts differ", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "a,b", "headers": "n", "operation": "copy"}, wantConfigErr: "transforms.t.headers"},
		{name: "from bad operation", typ: "HeaderFrom$Value", opts: map[string]string{"fields": "a", "headers": "n", "operation": "swap"}, wantConfigErr: "transforms.t.operation"},
		{name: "filter", typ: "Filter", in: rec("a", nil, nil, nil, nil), drop: true},
	})
}

func TestPredicates(t *testing.T) {
	base := func(pred map[string]string, negate bool) map[string]string {
		p := map[string]string{"transforms": "f", "transforms.f.type": "Filter", "transforms.f.predicate": "p", "predicates": "p"}
		if negate {
			p["transforms.f.negate"] = "true"
		}
		for k, v := range pred {
			p["predicates.p."+k] = v
		}
		return p
	}
	hdr := rec("db.orders", nil, nil, personSchema, person(1, "x"))
	hdr.Headers = []connectors.Header{{Key: "trace", Value: nil}}
	cases := []struct {
		name     string
		pred     map[string]string
		negate   bool
		in       connectors.Record
		dropped  bool
		cfgError string
	}{
		{"topic matches", map[string]string{"type": "TopicNameMatches", "pattern": `db\..*`}, false, hdr, true, ""},
		{"topic must match whole", map[string]string{"type": "TopicNameMatches", "pattern": `orders`}, false, hdr, false, ""},
		{"negated", map[string]string{"type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "pattern": `orders`}, true, hdr, true, ""},
		{"has header", map[string]string{"type": "HasHeaderKey", "name": "trace"}, false, hdr, true, ""},
		{"lacks header", map[string]string{"type": "HasHeaderKey", "name": "other"}, false, hdr, false, ""},
		{"tombstone", map[string]string{"type": "RecordIsTombstone"}, false, rec("a", idKey, key(1), nil, nil), true, ""},
		{"not a tombstone", map[string]string{"type": "RecordIsTombstone"}, false, hdr, false, ""},
		{"bad pattern", map[string]string{"type": "TopicNameMatches", "pattern": `[`}, false, hdr, false, "predicates.p.pattern"},
		{"no name", map[string]string{"type": "HasHeaderKey"}, false, hdr, false, "predicates.p.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ch, err := builtin.NewChain(base(c.pred, c.negate))
			if c.cfgError != "" {
				if err == nil || !contains(err.Error(), c.cfgError) {
					t.Fatalf("error %v, want %q", err, c.cfgError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			in := c.in
			out, err := ch.Apply(&in)
			if err != nil {
				t.Fatal(err)
			}
			if (out == nil) != c.dropped {
				t.Fatalf("dropped = %v, want %v", out == nil, c.dropped)
			}
		})
	}
}

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// TestSchemaCached checks that a transform builds one output schema per
// input schema, not one per record.
func TestSchemaCached(t *testing.T) {
	for _, typ := range []string{"InsertField$Value", "ReplaceField$Value", "Flatten$Value", "Cast$Value", "TimestampConverter$Value",
		"SetSchemaMetadata$Value", "HoistField$Value", "HeaderFrom$Value", "ValueToKey"} {
		opts := map[string]string{"topic.field": "t", "exclude": "age", "spec": "age:string", "field": "age", "target.type": "unix",
			"schema.name": "n", "fields": "age", "headers": "h", "operation": "move"}
		if typ == "TimestampConverter$Value" {
			opts["field"] = ""
		}
		ch, err := chainOf(t, typ, opts)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var first *connectors.Schema
		for i := 0; i < 3; i++ {
			r := rec("a", nil, nil, personSchema, person(int64(i), "x"))
			if typ == "TimestampConverter$Value" {
				r = rec("a", nil, nil, connectors.Int64Schema, int64(i)) // unix millis
			}
			out, err := ch.Apply(&r)
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			got := out.ValueSchema
			if typ == "ValueToKey" {
				got = out.KeySchema
			}
			if first == nil {
				first = got
			} else if got != first {
				t.Fatalf("%s built a new schema for record %d", typ, i)
			}
		}
	}
}

func TestCacheEvicts(t *testing.T) {
	c := newCache[int, int](2)
	c.put(1, 1)
	c.put(2, 2)
	c.get(1)
	c.put(3, 3)
	if _, ok := c.get(2); ok {
		t.Fatal("least recently used entry kept")
	}
	if v, ok := c.get(1); !ok || v != 1 {
		t.Fatal("recently used entry evicted")
	}
	if len(c.m) != 2 || c.l.Len() != 2 {
		t.Fatalf("cache holds %d/%d entries, max 2", len(c.m), c.l.Len())
	}
}

func TestCastValue(t *testing.T) {
	for _, c := range []struct {
		in   any
		to   connectors.Type
		want any
		err  bool
	}{
		{int8(-3), connectors.Int64, int64(-3), false},
		{int64(300), connectors.Int8, int8(44), false}, // narrowing wraps, as Java's
		{float32(2.5), connectors.Int32, int32(2), false},
		{2.9, connectors.Float32, float32(2.9), false},
		{true, connectors.Int16, int16(1), false},
		{0.0, connectors.Boolean, false, false},
		{"false", connectors.Boolean, false, false},
		{"1.5", connectors.Float64, 1.5, false},
		{"x", connectors.Boolean, nil, true},
		{[]byte("hi"), connectors.String, "aGk=", false},
		{connectors.Decimal{Unscaled: big.NewInt(5), Scale: -2}, connectors.Int32, int32(500), false},
		{connectors.Decimal{Unscaled: new(big.Int).Lsh(big.NewInt(1), 70), Scale: 0}, connectors.Int64, nil, true},
		{[]any{1}, connectors.String, nil, true},
		{[]byte("x"), connectors.Int32, nil, true},
		{nil, connectors.Int32, nil, false},
	} {
		got, err := castValue(c.in, c.to)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("castValue(%#v, %s) = %#v, %v; want %#v (error %v)", c.in, c.to, got, err, c.want, c.err)
		}
	}
}

// lazy is a LazyStruct as a source's snapshot fast path returns one.
type lazy struct{ v *connectors.StructValue }

func (l lazy) Build() (*connectors.StructValue, error) { return l.v, nil }
func (l lazy) Visit(connectors.FieldWriter) error {
	return errors.New("a transform visited a lazy value instead of building it")
}

func TestLazyValueBuilt(t *testing.T) {
	runCases(t, []tc{{name: "lazy value", typ: "ReplaceField$Value", opts: map[string]string{"include": "id"},
		in: rec("a", nil, nil, personSchema, lazy{person(1, "x")}), value: `{"id":1}`}})
}
