package avro

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// The golden strings are written by hand from Confluent's documented
// mapping (AvroData.fromConnectSchema, printed as Avro's Schema.toString
// prints it).
func TestSchemaGolden(t *testing.T) {
	int8s := connectors.Primitive(connectors.Int8, false)
	dec := connectors.DecimalSchema(2, false)
	decP := connectors.DecimalSchema(3, true)
	decP.Parameters[PrecisionParam] = "10"
	date := &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1}
	tm := &connectors.Schema{Type: connectors.Int32, Name: connectors.TimeName, Version: 1}
	ts := &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1}
	micro := &connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroTimestamp", Version: 1}
	withDefault := &connectors.Schema{Type: connectors.String, Optional: true, Default: "foo", Name: "io.confluent.stringtype",
		Version: 2, Doc: "doc", Parameters: map[string]string{"foo": "bar", "baz": "baz"}}
	inner := connectors.NewStruct("", true, connectors.Opt("value", connectors.Int64Schema))
	nullNames := connectors.NewStruct("", false,
		connectors.Opt("struct", inner),
		connectors.Opt("array", &connectors.Schema{Type: connectors.Array, Items: inner}))
	cases := []struct {
		name string
		s    *connectors.Schema
		opts Options
		want string
	}{
		{"int8", int8s, DefaultOptions(), `{"type":"int","connect.type":"int8"}`},
		{"int16", connectors.Primitive(connectors.Int16, false), DefaultOptions(), `{"type":"int","connect.type":"int16"}`},
		{"int8 without metadata", int8s, Options{}, `"int"`},
		{"int32", connectors.Int32Schema, DefaultOptions(), `"int"`},
		{"int64", connectors.Int64Schema, DefaultOptions(), `"long"`},
		{"float32", connectors.Primitive(connectors.Float32, false), DefaultOptions(), `"float"`},
		{"float64", connectors.Float64Schema, DefaultOptions(), `"double"`},
		{"boolean", connectors.BooleanSchema, DefaultOptions(), `"boolean"`},
		{"string", connectors.StringSchema, DefaultOptions(), `"string"`},
		{"bytes", connectors.BytesSchema, DefaultOptions(), `"bytes"`},
		{"optional string", connectors.OptionalStringSchema, DefaultOptions(), `["null","string"]`},
		{"decimal", dec, DefaultOptions(),
			`{"type":"bytes","scale":2,"precision":64,"connect.version":1,"connect.parameters":{"scale":"2"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}`},
		{"decimal with precision, optional", decP, DefaultOptions(),
			`["null",{"type":"bytes","scale":3,"precision":10,"connect.version":1,"connect.parameters":{"connect.decimal.precision":"10","scale":"3"},"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}]`},
		{"decimal without metadata", dec, Options{}, `{"type":"bytes","scale":2,"precision":64,"logicalType":"decimal"}`},
		{"date", date, DefaultOptions(), `{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Date","logicalType":"date"}`},
		{"time", tm, DefaultOptions(), `{"type":"int","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Time","logicalType":"time-millis"}`},
		{"timestamp", ts, DefaultOptions(), `{"type":"long","connect.version":1,"connect.name":"org.apache.kafka.connect.data.Timestamp","logicalType":"timestamp-millis"}`},
		{"debezium semantic type", micro, DefaultOptions(), `{"type":"long","connect.version":1,"connect.name":"io.debezium.time.MicroTimestamp"}`},
		{"optional with default and metadata", withDefault, DefaultOptions(),
			`[{"type":"string","connect.doc":"doc","connect.version":2,"connect.parameters":{"baz":"baz","foo":"bar"},"connect.default":"foo","connect.name":"io.confluent.stringtype"},"null"]`},
		{"array", &connectors.Schema{Type: connectors.Array, Items: connectors.OptionalStringSchema}, DefaultOptions(),
			`{"type":"array","items":["null","string"]}`},
		{"map with string keys", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.Int32Schema}, DefaultOptions(),
			`{"type":"map","values":"int"}`},
		{"map with int keys", &connectors.Schema{Type: connectors.Map, Keys: connectors.Int32Schema, Values: connectors.OptionalStringSchema}, DefaultOptions(),
			`{"type":"array","items":{"type":"record","name":"MapEntry","namespace":"io.confluent.connect.avro","fields":[{"name":"key","type":"int"},{"name":"value","type":["null","string"],"default":null}]}}`},
		{"named map with optional string keys", &connectors.Schema{Type: connectors.Map, Name: "com.example.Tags", Keys: connectors.OptionalStringSchema, Values: connectors.Int32Schema}, DefaultOptions(),
			`{"type":"array","items":{"type":"record","name":"Tags","namespace":"com.example","fields":[{"name":"key","type":["null","string"],"default":null},{"name":"value","type":"int"}],"connect.internal.type":"MapEntry"},"connect.name":"com.example.Tags"}`},
		{"unnamed structs", nullNames, DefaultOptions(),
			`{"type":"record","name":"ConnectDefault","namespace":"io.confluent.connect.avro","fields":[` +
				`{"name":"struct","type":["null",{"type":"record","name":"ConnectDefault2","fields":[{"name":"value","type":"long"}]}],"default":null},` +
				`{"name":"array","type":{"type":"array","items":["null","ConnectDefault2"]}}]}`},
		{"struct field defaults", connectors.NewStruct("com.example.Rec", false,
			connectors.Opt("n", &connectors.Schema{Type: connectors.Int32, Default: int32(7)}),
			connectors.Opt("b", &connectors.Schema{Type: connectors.Bytes, Optional: true, Default: []byte{0, 0xff}}),
		), DefaultOptions(),
			`{"type":"record","name":"Rec","namespace":"com.example","fields":[` +
				`{"name":"n","type":{"type":"int","connect.default":7},"default":7},` +
				`{"name":"b","type":[{"type":"bytes","connect.default":"\u0000ÿ"},"null"],"default":"\u0000ÿ"}],"connect.name":"com.example.Rec"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New(tc.opts).Schema(tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSchemaNameClash(t *testing.T) {
	a := connectors.NewStruct("com.example.Row", false, connectors.Opt("x", connectors.Int32Schema))
	b := connectors.NewStruct("com.example.Row", false, connectors.Opt("y", connectors.StringSchema))
	top := connectors.NewStruct("com.example.Top", false, connectors.Opt("a", a), connectors.Opt("b", b))
	_, err := New(DefaultOptions()).Schema(top)
	if err == nil || !contains(err.Error(), `two different schemas are named "com.example.Row"`) || !contains(err.Error(), "field b") {
		t.Fatalf("err = %v, want a name clash at field b", err)
	}
}

func TestSchemaCachedByPointer(t *testing.T) {
	c := New(DefaultOptions())
	s := connectors.NewStruct("a.B", false, connectors.Opt("x", connectors.Int32Schema))
	x, err := c.Schema(s)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := c.Schema(s)
	if x != y {
		t.Error("second Schema call compiled again")
	}
	z, _ := c.FromAvro(x.String())
	w, _ := c.FromAvro(x.String())
	if z != w {
		t.Error("second FromAvro call compiled again")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func indexOf(s, sub string) int { return strings.Index(s, sub) }
