package connectjson

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// opts returns the default options with schemas on or off.
func opts(schemas bool) Options {
	o := DefaultOptions()
	o.Schemas = schemas
	return o
}

func prim(t connectors.Type) *connectors.Schema { return &connectors.Schema{Type: t} }

func dec(s string) connectors.Decimal {
	d, err := connectors.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

var (
	dateSchema = &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1}
	timeSchema = &connectors.Schema{Type: connectors.Int32, Name: connectors.TimeName, Version: 1}
	tsSchema   = &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1}
)

// TestJSONTypes writes every type without and with schemas, checks the
// exact payload JSON, and reads it back to an equal value.
func TestJSONTypes(t *testing.T) {
	point := connectors.NewStruct("geo.Point", false,
		connectors.Opt("x", prim(connectors.Float64)),
		connectors.Opt("y", prim(connectors.Float64)),
		connectors.Opt("label", connectors.OptionalStringSchema))
	nested := connectors.NewStruct("shop.Order", false,
		connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("where", point),
		connectors.Opt("tags", &connectors.Schema{Type: connectors.Array, Items: connectors.StringSchema}),
		connectors.Opt("attrs", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.OptionalInt32Schema}),
		connectors.Opt("byCode", &connectors.Schema{Type: connectors.Map, Keys: prim(connectors.Int16), Values: point}),
		connectors.Opt("history", &connectors.Schema{Type: connectors.Array, Optional: true,
			Items: &connectors.Schema{Type: connectors.Array, Items: connectors.OptionalInt64Schema}}))
	pt := func(x, y float64, label any) *connectors.StructValue {
		return &connectors.StructValue{Schema: point, Values: []any{x, y, label}}
	}
	order := &connectors.StructValue{Schema: nested, Values: []any{
		int64(7), pt(1.5, -2, nil), []any{"a", "b\n"},
		[]connectors.MapEntry{{Key: "one", Value: int32(1)}, {Key: "none", Value: nil}},
		[]connectors.MapEntry{{Key: int16(3), Value: pt(0, 0, "origin")}},
		[]any{[]any{int64(1), nil}, []any{}},
	}}

	tests := []struct {
		name   string
		schema *connectors.Schema
		value  any
		want   string // payload JSON
	}{
		{"int8", prim(connectors.Int8), int8(-128), `-128`},
		{"int16", prim(connectors.Int16), int16(32767), `32767`},
		{"int32", connectors.Int32Schema, int32(-2147483648), `-2147483648`},
		{"int64", connectors.Int64Schema, int64(math.MaxInt64), `9223372036854775807`},
		{"float", prim(connectors.Float32), float32(0.1), `0.1`},
		{"float whole", prim(connectors.Float32), float32(3), `3.0`},
		{"double", connectors.Float64Schema, 12345.678, `12345.678`},
		{"double whole", connectors.Float64Schema, 1.0, `1.0`},
		{"double large", connectors.Float64Schema, 1e21, `1.0E21`},
		{"double small", connectors.Float64Schema, 1.5e-7, `1.5E-7`},
		{"double 1e7", connectors.Float64Schema, 1e7, `1.0E7`},
		{"double below 1e7", connectors.Float64Schema, 9999999.5, `9999999.5`},
		{"double 0.001", connectors.Float64Schema, 0.001, `0.001`},
		{"double negative zero", connectors.Float64Schema, math.Copysign(0, -1), `-0.0`},
		{"double NaN", connectors.Float64Schema, math.NaN(), `"NaN"`},
		{"double +Inf", connectors.Float64Schema, math.Inf(1), `"Infinity"`},
		{"double -Inf", connectors.Float64Schema, math.Inf(-1), `"-Infinity"`},
		{"boolean", connectors.BooleanSchema, true, `true`},
		{"string", connectors.StringSchema, "héllo <&> \"q\" \\ \t\x01 \u2028", `"héllo <&> \"q\" \\ \t\u0001 \u2028"`},
		{"empty string", connectors.StringSchema, "", `""`},
		{"bytes", connectors.BytesSchema, []byte{0, 1, 0xfe, 0xff}, `"AAH+/w=="`},
		{"empty bytes", connectors.BytesSchema, []byte{}, `""`},
		{"decimal", connectors.DecimalSchema(2, false), dec("-12.34"), `"+y4="`},
		{"decimal zero", connectors.DecimalSchema(2, false), dec("0.00"), `"AA=="`},
		{"decimal 128", connectors.DecimalSchema(0, false), dec("128"), `"AIA="`},
		{"decimal -128", connectors.DecimalSchema(0, false), dec("-128"), `"gA=="`},
		{"decimal -129", connectors.DecimalSchema(0, false), dec("-129"), `"/38="`},
		{"decimal big", connectors.DecimalSchema(3, false), dec("123456789012345678901234567890.123"), `"BhY+ZlvrfKai4aZCRMs="`},
		{"decimal big negative", connectors.DecimalSchema(3, false), dec("-123456789012345678901234567890.123"), `"+enBmaQUg1ldHlm9uzU="`},
		{"decimal rescaled", connectors.DecimalSchema(2, false), dec("1.5"), `"AJY="`},
		{"date", dateSchema, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), `19782`},
		{"date before epoch", dateSchema, time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), `-1`},
		{"time", timeSchema, time.Date(1970, 1, 1, 13, 14, 15, 16_000_000, time.UTC), `47655016`},
		{"time 24:00", timeSchema, time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), `86400000`},
		{"timestamp", tsSchema, time.Date(2024, 2, 29, 13, 14, 15, 16_000_000, time.UTC), `1709212455016`},
		{"timestamp before epoch", tsSchema, time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC), `-1`},
		{"optional null", connectors.OptionalInt64Schema, nil, ``},
		{"nested", nested, order, `{"id":7,"where":{"x":1.5,"y":-2.0,"label":null},"tags":["a","b\n"],` +
			`"attrs":{"one":1,"none":null},"byCode":[[3,{"x":0.0,"y":0.0,"label":"origin"}]],"history":[[1,null],[]]}`},
		{"array", &connectors.Schema{Type: connectors.Array, Items: connectors.OptionalBooleanSchema}, []any{true, nil, false}, `[true,null,false]`},
		{"map string keys", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.StringSchema},
			[]connectors.MapEntry{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}, `{"b":"2","a":"1"}`},
		{"map int keys", &connectors.Schema{Type: connectors.Map, Keys: connectors.Int64Schema, Values: connectors.StringSchema},
			[]connectors.MapEntry{{Key: int64(2), Value: "two"}, {Key: int64(1), Value: "one"}}, `[[2,"two"],[1,"one"]]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := New(opts(false))
			got, err := plain.Encode(nil, tt.schema, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("payload\ngot  %s\nwant %s", got, tt.want)
			}
			if tt.want == "" {
				if got != nil {
					t.Fatalf("null value: got %q, want a nil slice (tombstone)", got)
				}
				return
			}
			if !json.Valid(got) {
				t.Fatalf("invalid JSON %s", got)
			}
			withSchema := New(DefaultOptions())
			env, err := withSchema.Encode(nil, tt.schema, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(env), `,"payload":`+tt.want+`}`) || !json.Valid(env) {
				t.Fatalf("envelope %s does not end with the payload", env)
			}
			s, v, err := withSchema.Decode(env)
			if err != nil {
				t.Fatalf("decode %s: %v", env, err)
			}
			if !codectest.SchemasEquivalent(s, tt.schema) {
				t.Errorf("schema round trip: got %+v, want %+v", s, tt.schema)
			}
			want := tt.value
			if d, ok := want.(connectors.Decimal); ok && tt.name == "decimal rescaled" {
				want = connectors.Decimal{Unscaled: new(big.Int).Mul(d.Unscaled, big.NewInt(10)), Scale: 2}
			}
			if !codectest.ValuesEqual(v, want) {
				t.Errorf("value round trip: got %#v, want %#v", v, want)
			}
		})
	}
}

// TestJSONSchemaJSON pins the schema JSON for the shapes not covered by the
// golden envelope.
func TestJSONSchemaJSON(t *testing.T) {
	tests := []struct {
		name   string
		schema *connectors.Schema
		want   string
	}{
		{"primitive", connectors.OptionalInt64Schema, `{"type":"int64","optional":true}`},
		{"all metadata", &connectors.Schema{Type: connectors.String, Name: "n", Version: 3, Doc: "d \"q\"",
			Parameters: map[string]string{"b": "2", "a": "1"}, Default: "x"},
			`{"type":"string","optional":false,"name":"n","version":3,"doc":"d \"q\"","parameters":{"a":"1","b":"2"},"default":"x"}`},
		{"array", &connectors.Schema{Type: connectors.Array, Items: connectors.Int32Schema, Optional: true},
			`{"type":"array","items":{"type":"int32","optional":false},"optional":true}`},
		{"map", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.OptionalBytesSchema},
			`{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"bytes","optional":true},"optional":false}`},
		{"decimal default", func() *connectors.Schema {
			s := connectors.DecimalSchema(2, true)
			s.Default = dec("1.00")
			return s
		}(), `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"default":"ZA=="}`},
		{"struct default", func() *connectors.Schema {
			s := connectors.NewStruct("p", true, connectors.Opt("a", connectors.Int32Schema))
			s.Default = &connectors.StructValue{Schema: s, Values: []any{int32(5)}}
			return s
		}(), `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"}],"optional":true,"name":"p","default":{"a":5}}`},
		{"empty struct", connectors.NewStruct("", false), `{"type":"struct","fields":[],"optional":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(DefaultOptions())
			got, err := c.appendSchema(nil, tt.schema, nil, map[*connectors.Schema]*plan{})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("\ngot  %s\nwant %s", got, tt.want)
			}
			s, _, _, err := (&parser{data: got, c: c}).schema()
			if err != nil {
				t.Fatal(err)
			}
			if !codectest.SchemasEquivalent(s, tt.schema) {
				t.Fatalf("read back %+v, want %+v", s, tt.schema)
			}
		})
	}
}

func TestJSONDecimalNumeric(t *testing.T) {
	c := New(Options{DecimalNumeric: true, ReplaceNullWithDefault: true, CacheSize: 1000})
	for _, tt := range []struct {
		scale int32
		in    connectors.Decimal
		want  string
	}{
		{2, dec("-12.34"), "-12.34"},
		{2, dec("0.05"), "0.05"},
		{2, dec("-0.05"), "-0.05"},
		{3, dec("7"), "7.000"},
		{0, dec("123456789012345678901234567890"), "123456789012345678901234567890"},
		{25, dec("1.0000000000000000000000001"), "1.0000000000000000000000001"},
		{-2, connectors.Decimal{Unscaled: big.NewInt(15), Scale: -2}, "1500"},
	} {
		s := connectors.DecimalSchema(tt.scale, false)
		got, err := c.Encode(nil, s, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s at scale %d: got %s, want %s", tt.in, tt.scale, got, tt.want)
		}
		// Both forms read back, at the schema's scale.
		withSchema := New(Options{Schemas: true, DecimalNumeric: true, ReplaceNullWithDefault: true, CacheSize: 1000})
		env, err := withSchema.Encode(nil, s, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		_, v, err := withSchema.Decode(env)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if d := v.(connectors.Decimal); d.Scale != tt.scale || d.String() != tt.want {
			t.Errorf("read %s back as %s (scale %d)", env, d, d.Scale)
		}
	}
	// Numbers with an exponent and with fewer digits than the scale.
	withSchema := New(DefaultOptions())
	for in, want := range map[string]string{"1.5E+3": "1500.00", "2": "2.00", "1.230": "1.23", "-4e-2": "-0.04"} {
		env := `{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":` + in + `}`
		_, v, err := withSchema.Decode([]byte(env))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := v.(connectors.Decimal).String(); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
	env := `{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":1.234}`
	if _, _, err := withSchema.Decode([]byte(env)); err == nil || !strings.Contains(err.Error(), "scale 2") {
		t.Errorf("1.234 at scale 2: got %v, want an error naming the scale", err)
	}
}

func TestJSONTwosComplement(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "127", "128", "-128", "-129", "255", "256", "32767", "-32768", "-32769",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
		"340282366920938463463374607431768211455", "-340282366920938463463374607431768211456"} {
		u, _ := new(big.Int).SetString(s, 10)
		enc := appendTwosComplementBase64(nil, u)
		var raw []byte
		if err := json.Unmarshal(enc, &raw); err != nil {
			t.Fatal(err)
		}
		// Minimal: dropping the first byte would change the value.
		if len(raw) > 1 && (raw[0] == 0 && raw[1]&0x80 == 0 || raw[0] == 0xff && raw[1]&0x80 != 0) {
			t.Errorf("%s: %x is not minimal", s, raw)
		}
		if got := fromTwosComplement(raw); got.Cmp(u) != 0 {
			t.Errorf("%s: %x reads back as %s", s, raw, got)
		}
		if !u.IsInt64() {
			continue
		}
		if got := twosComplement(u); string(got) != string(raw) {
			t.Errorf("%s: big path %x, int64 path %x", s, got, raw)
		}
	}
}

func TestJSONNullsAndDefaults(t *testing.T) {
	withDefault := &connectors.Schema{Type: connectors.Int32, Default: int32(42)}
	optWithDefault := &connectors.Schema{Type: connectors.Int32, Optional: true, Default: int32(42)}
	st := connectors.NewStruct("r", false,
		connectors.Opt("req", withDefault),
		connectors.Opt("opt", optWithDefault),
		connectors.Opt("plain", connectors.OptionalInt32Schema))
	row := &connectors.StructValue{Schema: st, Values: []any{nil, nil, nil}}

	on := New(opts(false))
	got, err := on.Encode(nil, st, row)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"req":42,"opt":42,"plain":null}` {
		t.Errorf("replace.null.with.default=true: %s", got)
	}
	off := New(Options{CacheSize: 1000})
	if _, err := off.Encode(nil, st, row); err == nil || !strings.Contains(err.Error(), "field req: null value for a required int32 field") {
		t.Errorf("replace.null.with.default=false, required field: got %v", err)
	}
	row.Values[0] = int32(1)
	if got, err = off.Encode(nil, st, row); err != nil || string(got) != `{"req":1,"opt":null,"plain":null}` {
		t.Errorf("replace.null.with.default=false: %s, %v", got, err)
	}

	// Decoding: null and missing fields take the default when asked to.
	env := []byte(`{"schema":{"type":"struct","fields":[` +
		`{"type":"int32","optional":false,"default":42,"field":"req"},` +
		`{"type":"int32","optional":true,"default":42,"field":"opt"},` +
		`{"type":"int32","optional":true,"field":"plain"}],"optional":false},` +
		`"payload":{"opt":null,"unknown":[1,{"x":2}]}}`)
	_, v, err := New(DefaultOptions()).Decode(env)
	if err != nil {
		t.Fatal(err)
	}
	if vals := v.(*connectors.StructValue).Values; !codectest.ValuesEqual(vals, []any{int32(42), int32(42), nil}) {
		t.Errorf("decoded with defaults: %v", vals)
	}
	_, v, err = New(Options{Schemas: true, CacheSize: 1000}).Decode(
		[]byte(strings.Replace(string(env), `{"opt":null,`, `{"req":3,"opt":null,`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if vals := v.(*connectors.StructValue).Values; !codectest.ValuesEqual(vals, []any{int32(3), nil, nil}) {
		t.Errorf("decoded without defaults: %v", vals)
	}

	// A null top-level value with a required schema that has a default
	// writes the default; with an optional one it is a tombstone.
	if got, err := on.Encode(nil, withDefault, nil); err != nil || string(got) != "42" {
		t.Errorf("required with default: %q, %v", got, err)
	}
	if got, err := on.Encode(nil, optWithDefault, nil); err != nil || string(got) != "42" {
		t.Errorf("optional with default: %q, %v", got, err)
	}
	if got, err := off.Encode(nil, optWithDefault, nil); err != nil || got != nil {
		t.Errorf("optional with default, no replacement: %q, %v", got, err)
	}
	if got, err := on.Encode([]byte("prefix"), nil, nil); err != nil || string(got) != "prefix" {
		t.Errorf("null with a non-empty dst: %q, %v", got, err)
	}
	if _, err := on.Encode(nil, connectors.Int32Schema, nil); err == nil {
		t.Error("null for a required schema without default: no error")
	}

	// Nil slices are null, empty ones are empty.
	slices := connectors.NewStruct("sl", false,
		connectors.Opt("b", connectors.OptionalBytesSchema),
		connectors.Opt("a", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.Int32Schema}),
		connectors.Opt("m", &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.StringSchema, Values: connectors.Int32Schema}),
		connectors.Opt("rb", connectors.BytesSchema))
	for _, tt := range []struct {
		vals []any
		want string
	}{
		{[]any{[]byte(nil), []any(nil), []connectors.MapEntry(nil), []byte{}}, `{"b":null,"a":null,"m":null,"rb":""}`},
		{[]any{[]byte{}, []any{}, []connectors.MapEntry{}, []byte{1}}, `{"b":"","a":[],"m":{},"rb":"AQ=="}`},
	} {
		got, err := on.Encode(nil, slices, &connectors.StructValue{Schema: slices, Values: tt.vals})
		if err != nil || string(got) != tt.want {
			t.Errorf("got %s, %v; want %s", got, err, tt.want)
		}
	}
	if _, err := on.Encode(nil, slices, &connectors.StructValue{Schema: slices, Values: []any{nil, nil, nil, []byte(nil)}}); err == nil ||
		!strings.Contains(err.Error(), "field rb: null value for a required bytes field") {
		t.Errorf("nil []byte in a required field: %v", err)
	}
	if got, err := on.Encode(nil, nil, []any{[]byte(nil), []any(nil), map[string]any(nil)}); err != nil || string(got) != `[null,null,null]` {
		t.Errorf("schemaless nil slices: %s, %v", got, err)
	}
}

func TestJSONSchemaless(t *testing.T) {
	c := New(opts(false))
	in := `{"b":1,"a":[1.5,"x",null,true,{"k":-2}],"big":123456789012345678901,"b":2, "e": 1e2, "neg": -0, "s":"\u00e9\ud83d\ude00"}`
	s, v, err := c.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if s != nil {
		t.Errorf("schema %+v, want nil", s)
	}
	want := []connectors.MapEntry{
		{Key: "b", Value: int64(2)},
		{Key: "a", Value: []any{1.5, "x", nil, true, []connectors.MapEntry{{Key: "k", Value: int64(-2)}}}},
		{Key: "big", Value: 123456789012345678901.0},
		{Key: "e", Value: 100.0},
		{Key: "neg", Value: int64(0)},
		{Key: "s", Value: "é😀"},
	}
	if !codectest.ValuesEqual(v, want) {
		t.Fatalf("got %#v\nwant %#v", v, want)
	}
	out, err := c.Encode(nil, nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"b":2,"a":[1.5,"x",null,true,{"k":-2}],"big":1.2345678901234568E20,"e":100.0,"neg":0,"s":"é😀"}` {
		t.Errorf("re-encoded: %s", out)
	}

	// Go values without a schema, as Connect infers their types.
	for _, tt := range []struct {
		in   any
		want string
	}{
		{map[string]any{"z": int(1), "a": []byte("hi")}, `{"a":"aGk=","z":1}`},
		{[]connectors.MapEntry{{Key: int32(1), Value: float32(2)}}, `[[1,2.0]]`},
		{[]any{int8(1), int16(2), "x", false}, `[1,2,"x",false]`},
		{&connectors.StructValue{Schema: codectest.KeySchema, Values: []any{int32(5)}}, `{"id":5}`},
	} {
		got, err := c.Encode(nil, nil, tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("%#v: got %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := c.Encode(nil, nil, time.Now()); err == nil || !strings.Contains(err.Error(), "time.Time has no Kafka Connect schema type") {
		t.Errorf("time without schema: %v", err)
	}
	// With schemas.enable a nil schema is written as null.
	got, err := New(DefaultOptions()).Encode(nil, nil, "x")
	if err != nil || string(got) != `{"schema":null,"payload":"x"}` {
		t.Errorf("schemaless envelope: %s, %v", got, err)
	}
}

func TestJSONEncodeErrors(t *testing.T) {
	_, good := codectest.Envelope(1)
	wrongType := func() any {
		_, v := codectest.Envelope(1)
		v.Values[1].(*connectors.StructValue).Values[4] = 12.5 // balance
		return v
	}
	missing := func() any {
		_, v := codectest.Envelope(1)
		v.Values[1].(*connectors.StructValue).Values[0] = nil // after.id
		return v
	}
	shortStruct := func() any {
		_, v := codectest.Envelope(1)
		v.Values[2] = &connectors.StructValue{Schema: codectest.SourceSchema, Values: []any{"x"}}
		return v
	}
	otherSchema := func() any {
		_, v := codectest.Envelope(1)
		v.Values[1] = &connectors.StructValue{Schema: codectest.KeySchema, Values: []any{int32(1)}}
		return v
	}
	inArray := &connectors.Schema{Type: connectors.Array, Items: &connectors.Schema{Type: connectors.Map,
		Keys: connectors.StringSchema, Values: connectors.Int32Schema}}
	tests := []struct {
		name   string
		schema *connectors.Schema
		value  any
		want   string
	}{
		{"wrong Go type", codectest.ValueSchema, wrongType(), "field after.balance: Go value of type float64 does not fit schema type bytes (org.apache.kafka.connect.data.Decimal); want connectors.Decimal"},
		{"null in required field", codectest.ValueSchema, missing(), "field after.id: null value for a required int32 field without a default"},
		{"short struct", codectest.ValueSchema, shortStruct(), "field source: struct value has 1 values for 12 fields"},
		{"mismatched struct schema", codectest.ValueSchema, otherSchema(), `field after: struct value's schema "dbserver1.public.customers.Key" differs`},
		{"path through array and map", inArray, []any{[]connectors.MapEntry{}, []connectors.MapEntry{{Key: "k", Value: int64(1)}}},
			`field [1]["k"]: Go value of type int64 does not fit schema type int32; want int32`},
		{"int for int64", connectors.Int64Schema, 5, "Go value of type int does not fit schema type int64; want int64"},
		{"date with time of day", dateSchema, time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC), "has a time of day"},
		{"decimal loses digits", connectors.DecimalSchema(1, false), dec("1.25"), "more digits after the point than the schema's scale 1"},
		{"decimal without scale", &connectors.Schema{Type: connectors.Bytes, Name: connectors.DecimalName}, dec("1"), `Decimal schema has no "scale" parameter`},
		{"array without items", &connectors.Schema{Type: connectors.Array}, []any{}, "array schema has no Items schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, schemas := range []string{"true", "false"} {
				c := New(opts(schemas == "true"))
				dst := []byte("keep")
				got, err := c.Encode(dst, tt.schema, tt.value)
				if err == nil {
					t.Fatalf("schemas.enable=%s: no error, wrote %s", schemas, got)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("schemas.enable=%s: error %q does not contain %q", schemas, err, tt.want)
				}
				if string(got) != "keep" {
					t.Errorf("dst not restored: %q", got)
				}
				var de *codec.DataError
				if !errors.As(err, &de) {
					t.Errorf("error %v is not a *DataError", err)
				}
			}
		})
	}
	// The fixture itself is fine.
	if _, err := New(DefaultOptions()).Encode(nil, codectest.ValueSchema, good); err != nil {
		t.Fatal(err)
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		schemas string
		in      string
		want    string
	}{
		{"plain JSON with schemas", "true", `{"id":1}`, envelopeError},
		{"extra field", "true", `{"schema":null,"payload":1,"x":2}`, envelopeError},
		{"missing payload", "true", `{"schema":null}`, envelopeError},
		{"not an object", "true", `[1]`, envelopeError},
		{"empty object", "true", `{}`, envelopeError},
		{"syntax", "true", `{"schema":null,"payload":1`, "invalid JSON at offset 26"},
		{"trailing data", "false", `1 2`, `invalid JSON at offset 2: unexpected '2' after the JSON value`},
		{"empty", "false", ``, "unexpected end of data"},
		{"bad escape", "false", `"\x"`, `invalid escape \x`},
		{"control char", "false", "\"a\x01\"", "control character"},
		{"invalid UTF-8", "false", "\"\xff\"", "invalid UTF-8"},
		{"leading zero", "false", `01`, "after the JSON value"},
		{"bare NaN", "false", `NaN`, "unexpected 'N'"},
		{"number out of range", "false", `1e400`, "out of the range of a double"},
		{"too deep", "false", strings.Repeat("[", 1001) + strings.Repeat("]", 1001), "nesting deeper than 1000"},
		{"wrong kind", "true", `{"schema":{"type":"struct","fields":[{"type":"int32","field":"id"}]},"payload":{"id":"7"}}`,
			"field id: int32 schema wants an integer, found a string"},
		{"required missing", "true", `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"string","field":"b"}],"field":"a"}]},"payload":{"a":{}}}`,
			"field a.b: missing value for a required string field"},
		{"null for required", "true", `{"schema":{"type":"array","items":{"type":"int64"}},"payload":[1,null]}`,
			"field [1]: null value for a required int64 field"},
		{"int out of range", "true", `{"schema":{"type":"int8"},"payload":300}`, "int8 schema wants an integer between -128 and 127, found 300"},
		{"fraction for int", "true", `{"schema":{"type":"int64"},"payload":1.5}`, "found 1.5"},
		{"bad base64", "true", `{"schema":{"type":"bytes"},"payload":"!!"}`, "invalid base64"},
		{"no type", "true", `{"schema":{"optional":true},"payload":1}`, `schema must contain a "type" string`},
		{"unknown type", "true", `{"schema":{"type":"uuid"},"payload":1}`, `unknown schema type "uuid"`},
		{"array without items", "true", `{"schema":{"type":"array"},"payload":[]}`, "array schema did not specify the element type"},
		{"struct without fields", "true", `{"schema":{"type":"struct"},"payload":{}}`, `struct schema's "fields" is not an array`},
		{"field without name", "true", `{"schema":{"type":"struct","fields":[{"type":"int32"}]},"payload":{}}`, `field fields[0]: struct schema's field has no "field" name`},
		{"duplicate field", "true", `{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"},{"type":"int32","field":"a"}]},"payload":{}}`, `two fields named "a"`},
		{"parameter not a string", "true", `{"schema":{"type":"string","parameters":{"a":1}},"payload":"x"}`, "parameters must have string values"},
		{"decimal without scale", "true", `{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal"},"payload":"AA=="}`, `no "scale" parameter`},
		{"time out of range", "true", `{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Time"},"payload":86400001}`, "not between 0 and 86400000"},
		{"map entry not a pair", "true", `{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1,2,3]]}`, "more than 2 elements"},
		{"string keys need an object", "true", `{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"int32"}},"payload":[["a",1]]}`, "wants an object"},
		{"bad default", "true", `{"schema":{"type":"int32","default":"x"},"payload":1}`, "field default: int32 schema wants an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(opts(tt.schemas == "true"))
			s, v, err := c.Decode([]byte(tt.in))
			if err == nil {
				t.Fatalf("no error; got %+v, %#v", s, v)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestJSONEnvelopeMessage checks Connect's exact words, which users search for.
func TestJSONEnvelopeMessage(t *testing.T) {
	_, _, err := New(DefaultOptions()).Decode([]byte(`{"a":1}`))
	const want = `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. ` +
		`If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v", err)
	}
}

func TestJSONDecodeEnvelopeForms(t *testing.T) {
	c := New(DefaultOptions())
	for _, in := range []string{
		`{"payload":{"id":5},"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false}}`,
		" \n{ \"schema\" : {\"fields\":[{\"field\":\"id\",\"type\":\"int32\"}],\"type\":\"struct\"} , \"payload\" : {\"id\":5} } \n",
		`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":4},"payload":{"id":5}}`,
	} {
		s, v, err := c.Decode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if s.Type != connectors.Struct || v.(*connectors.StructValue).Get("id") != int32(5) {
			t.Errorf("%s: got %+v %#v", in, s, v)
		}
	}
	// Kafka null and JSON null.
	if s, v, err := c.Decode(nil); s != nil || v != nil || err != nil {
		t.Errorf("Kafka null: %v %v %v", s, v, err)
	}
	if s, v, err := c.Decode([]byte(`{"schema":null,"payload":null}`)); s != nil || v != nil || err != nil {
		t.Errorf("null envelope: %v %v %v", s, v, err)
	}
	// Non-finite floats, as Jackson writes them.
	_, v, err := c.Decode([]byte(`{"schema":{"type":"float"},"payload":"-Infinity"}`))
	if err != nil || !math.IsInf(float64(v.(float32)), -1) {
		t.Errorf("-Infinity: %v %v", v, err)
	}
	// Integers written with an exponent.
	_, v, err = c.Decode([]byte(`{"schema":{"type":"int64"},"payload":1.5e3}`))
	if err != nil || v != int64(1500) {
		t.Errorf("1.5e3: %v %v", v, err)
	}
}

func TestJSONSchemaCache(t *testing.T) {
	c := New(Options{Schemas: true, ReplaceNullWithDefault: true, CacheSize: 2})
	var schemas []*connectors.Schema
	for i := range 5 {
		schemas = append(schemas, connectors.NewStruct("s"+string(rune('a'+i)), false, connectors.Opt("id", connectors.Int32Schema)))
	}
	var envs [][]byte
	for round := range 2 {
		for i, s := range schemas {
			got, err := c.Encode(nil, s, &connectors.StructValue{Schema: s, Values: []any{int32(i)}})
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				envs = append(envs, got)
			} else if string(got) != string(envs[i]) {
				t.Errorf("schema %d: %s after eviction, %s before", i, got, envs[i])
			}
			if n := c.encSchemas.Len(); n > 2 {
				t.Fatalf("encode cache holds %d schemas, limit 2", n)
			}
			if _, _, err := c.Decode(got); err != nil {
				t.Fatal(err)
			}
			if n := c.decSchemas.Len(); n > 2 {
				t.Fatalf("decode cache holds %d schemas, limit 2", n)
			}
		}
	}
	// The same schema text decodes to the same schema pointer.
	s1, _, _ := c.Decode(envs[4])
	s2, _, _ := c.Decode(envs[4])
	if s1 != s2 {
		t.Error("decoding the same schema twice gave two schemas")
	}
	// Size 0 caches nothing and still works.
	z := New(Options{Schemas: true, ReplaceNullWithDefault: true})
	if _, err := z.Encode(nil, codectest.ValueSchema, func() any { _, v := codectest.Envelope(0); return v }()); err != nil || z.encSchemas.Len() != 0 {
		t.Errorf("size 0: %v, %d cached", err, z.encSchemas.Len())
	}
}

// TestAppendStringMatchesEncodingJSON checks the hand-written escaping
// against encoding/json without HTML escaping.
func TestAppendStringCases(t *testing.T) {
	cases := []string{"", "plain", "\"\\/", "\b\f\n\r\t", "\x00\x1f\x7f", "<script>&amp;</script>", "\u2028\u2029",
		"é中😀", "bad \xff utf8 \xc3", "\xed\xa0\x80 surrogate", "ends with \xe2\x80"}
	for i := range 256 {
		cases = append(cases, "x"+string(rune(i))+"y", "x"+string([]byte{byte(i)})+"y")
	}
	for _, s := range cases {
		var sb strings.Builder
		enc := json.NewEncoder(&sb)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(sb.String(), "\n")
		if got := string(AppendString(nil, s)); got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestJavaFloatFormat(t *testing.T) {
	point1 := 0.1 // a variable, so that 0.1+0.2 is float64 arithmetic
	// Expected strings are Java's Double.toString / Float.toString.
	for _, tt := range []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {-1, 64, "-1.0"}, {0.5, 64, "0.5"}, {100, 64, "100.0"}, {123.456, 64, "123.456"},
		{0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"}, {1234567, 64, "1234567.0"}, {12345678, 64, "1.2345678E7"},
		{1e100, 64, "1.0E100"}, {-2.5e-10, 64, "-2.5E-10"}, {math.MaxFloat64, 64, "1.7976931348623157E308"},
		{point1 + 0.2, 64, "0.30000000000000004"},
		{float64(float32(0.1)), 32, "0.1"}, {float64(float32(1e10)), 32, "1.0E10"}, {float64(float32(3.4028235e38)), 32, "3.4028235E38"},
	} {
		if got := string(AppendJavaNumber(nil, tt.f, tt.bits)); got != tt.want {
			t.Errorf("%v (%d bits): got %s, want %s", tt.f, tt.bits, got, tt.want)
		}
	}
}

// TestJSONDecodeDoesNotRetainData overwrites the input after decoding.
func TestJSONDecodeDoesNotRetainData(t *testing.T) {
	_, value := codectest.Envelope(3)
	value.Values[2].(*connectors.StructValue).Values[4] = "true" // else decoded as its default
	for _, schemas := range []string{"true", "false"} {
		c := New(opts(schemas == "true"))
		data, err := c.Encode(nil, codectest.ValueSchema, value)
		if err != nil {
			t.Fatal(err)
		}
		orig := string(data)
		s, v, err := c.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			data[i] = 'x'
		}
		s2, v2, err := New(opts(schemas == "true")).Decode([]byte(orig))
		if err != nil {
			t.Fatal(err)
		}
		if !codectest.SchemasEquivalent(s, s2) || !codectest.ValuesEqual(v, v2) {
			t.Errorf("schemas.enable=%s: decoded value changed when the input was overwritten", schemas)
		}
		if schemas == "true" && !codectest.ValuesEqual(v, value) {
			t.Errorf("decoded %#v, encoded %#v", v, value)
		}
	}
}
