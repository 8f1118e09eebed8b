package avro

import (
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// envelope builds a Debezium-shaped change event schema: before and after
// share one optional row struct, source is a required struct, transaction
// an optional one.
func envelope() (row, env *connectors.Schema) {
	row = connectors.NewStruct("dbserver1.inventory.customers.Value", true,
		connectors.Opt("id", connectors.Int32Schema),
		connectors.Opt("small", connectors.Primitive(connectors.Int16, false)),
		connectors.Opt("tiny", &connectors.Schema{Type: connectors.Int8, Optional: true}),
		connectors.Opt("email", connectors.OptionalStringSchema),
		connectors.Opt("balance", connectors.DecimalSchema(2, true)),
		connectors.Opt("big", connectors.DecimalSchema(0, true)),
		connectors.Opt("born", &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1, Optional: true}),
		connectors.Opt("wakes", &connectors.Schema{Type: connectors.Int32, Name: connectors.TimeName, Version: 1, Optional: true}),
		connectors.Opt("seen", &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1}),
		connectors.Opt("updated", &connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroTimestamp", Version: 1, Optional: true}),
		connectors.Opt("score", &connectors.Schema{Type: connectors.Float32, Optional: true}),
		connectors.Opt("ratio", connectors.Float64Schema),
		connectors.Opt("ok", connectors.OptionalBooleanSchema),
		connectors.Opt("blob", connectors.OptionalBytesSchema),
		connectors.Opt("tags", &connectors.Schema{Type: connectors.Array, Optional: true, Items: &connectors.Schema{Type: connectors.Array, Items: connectors.OptionalStringSchema}}),
		connectors.Opt("attrs", &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.StringSchema,
			Values: &connectors.Schema{Type: connectors.Map, Keys: connectors.Int64Schema, Values: connectors.OptionalStringSchema}}),
		connectors.Opt("level", &connectors.Schema{Type: connectors.String, Default: "info"}),
	)
	source := connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
		connectors.Opt("version", connectors.StringSchema),
		connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("snapshot", &connectors.Schema{Type: connectors.String, Optional: true, Name: "io.debezium.data.Enum", Version: 1,
			Parameters: map[string]string{"allowed": "true,last,false,incremental"}, Default: "false"}),
		connectors.Opt("db", connectors.StringSchema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema),
	)
	txn := connectors.NewStruct("event.block", true,
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("total_order", connectors.Int64Schema),
		connectors.Opt("data_collection_order", connectors.Int64Schema),
	)
	env = connectors.NewStruct("dbserver1.inventory.customers.Envelope", false,
		connectors.Opt("before", row),
		connectors.Opt("after", row),
		connectors.Opt("source", source),
		connectors.Opt("op", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.OptionalInt64Schema),
		connectors.Opt("transaction", txn),
	)
	env.Version = 1
	return row, env
}

func bigDec(s string, scale int32) connectors.Decimal {
	u, _ := new(big.Int).SetString(s, 10)
	return connectors.Decimal{Unscaled: u, Scale: scale}
}

func rowValue(row *connectors.Schema, id int32) *connectors.StructValue {
	v := connectors.NewStructValue(row)
	v.Set("id", id).Set("small", int16(-300)).Set("tiny", int8(-7)).Set("email", "a@example.com").
		Set("balance", bigDec("-12345", 2)).Set("big", bigDec("-123456789012345678901234567890", 0)).
		Set("born", time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)).
		Set("wakes", time.Date(1970, 1, 1, 6, 30, 0, 250e6, time.UTC)).
		Set("seen", time.UnixMilli(1700000000123).UTC()).Set("updated", int64(1700000000123456)).
		Set("score", float32(1.5)).Set("ratio", -0.25).Set("ok", true).Set("blob", []byte{0, 1, 0xff}).
		Set("tags", []any{[]any{"a", nil}, []any{}}).
		Set("attrs", []connectors.MapEntry{{Key: "k", Value: []connectors.MapEntry{{Key: int64(-1), Value: "minus one"}, {Key: int64(2), Value: nil}}}}).
		Set("level", "warn")
	return v
}

func envValue(row, env *connectors.Schema) *connectors.StructValue {
	v := connectors.NewStructValue(env)
	src := connectors.NewStructValue(env.Fields[2].Schema)
	src.Set("version", "2.7.0").Set("connector", "postgresql").Set("name", "dbserver1").Set("ts_ms", int64(1700000000000)).
		Set("snapshot", "false").Set("db", "inventory").Set("lsn", int64(24023128))
	txn := connectors.NewStructValue(env.Fields[5].Schema)
	txn.Set("id", "571:53195829").Set("total_order", int64(1)).Set("data_collection_order", int64(1))
	v.Set("before", nil).Set("after", rowValue(row, 1004)).Set("source", src).Set("op", "c").
		Set("ts_ms", int64(1700000000500)).Set("transaction", txn)
	return v
}

func TestEnvelopeRoundTrip(t *testing.T) {
	row, env := envelope()
	c := New(DefaultOptions())
	w, err := c.Schema(env)
	if err != nil {
		t.Fatal(err)
	}
	// The row struct is written once and referred to by name after.
	if n := strings.Count(w.String(), `"name":"Value"`); n != 1 {
		t.Errorf("row record defined %d times in %s", n, w)
	}
	if !strings.Contains(w.String(), `"name":"after","type":["null","Value"],"default":null`) {
		t.Errorf("after is not a reference to the row record: %s", w)
	}
	in := envValue(row, env)
	data, err := w.Append(nil, in)
	if err != nil {
		t.Fatal(err)
	}

	// Same schema, same Connect types back.
	out, err := w.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	want := envValue(row, env)
	want.Get("after").(*connectors.StructValue).Set("wakes", time.UnixMilli(6*3600000+30*60000+250).UTC())
	assertValue(t, out, want)

	// A consumer that only has the Avro text gets an equal Connect
	// schema back, Debezium's names and parameters included.
	r, err := c.FromAvro(w.String())
	if err != nil {
		t.Fatal(err)
	}
	if !schemasEqualTest(r.Connect(), env) {
		t.Errorf("Connect schema from Avro differs:\n got  %s\n want %s", dump(r.Connect()), dump(env))
	}
	got, err := r.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	// Struct values carry the consumer's schema; compare values.
	assertValue(t, got, want)
	// And the consumer's schema writes the same bytes.
	again, err := r.Append(nil, got)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Errorf("re-encoded bytes differ")
	}
}

// TestIndependentReader reads our bytes with hamba/avro's own decoder,
// which knows nothing of Connect.
func TestIndependentReader(t *testing.T) {
	row, env := envelope()
	w, err := New(DefaultOptions()).Schema(env)
	if err != nil {
		t.Fatal(err)
	}
	data, err := w.Append(nil, envValue(row, env))
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := hamba.Unmarshal(w.Avro(), data, &generic); err != nil {
		t.Fatal(err)
	}
	after := generic["after"].(map[string]any)
	if len(after) == 1 { // hamba names the union branch
		after = after["dbserver1.inventory.customers.Value"].(map[string]any)
	}
	checks := map[string]any{
		"id": 1004, "small": -300, "tiny": -7, "email": "a@example.com", "ratio": -0.25, "ok": true,
		"seen": time.UnixMilli(1700000000123).UTC(), "updated": int64(1700000000123456), "level": "warn",
		"born": time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
	}
	for k, want := range checks {
		got := after[k]
		if ts, ok := got.(time.Time); ok {
			got = ts.UTC()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after.%s = %#v (%T), want %#v", k, got, got, want)
		}
	}
	bal := after["balance"].(*big.Rat)
	if bal.RatString() != "-2469/20" { // -123.45
		t.Errorf("after.balance = %s, want -123.45", bal.FloatString(2))
	}
	bigv := after["big"].(*big.Rat)
	if bigv.RatString() != "-123456789012345678901234567890" {
		t.Errorf("after.big = %s", bigv.RatString())
	}
	if generic["before"] != nil || generic["op"] != "c" {
		t.Errorf("before = %v, op = %v", generic["before"], generic["op"])
	}
	if src := generic["source"].(map[string]any); src["lsn"] != int64(24023128) || src["snapshot"] != "false" {
		t.Errorf("source = %v", src)
	}

	// And the other way: bytes hamba/avro writes decode to Connect values.
	native := map[string]any{"before": nil, "after": nil, "op": "d", "ts_ms": nil, "transaction": nil,
		"source": map[string]any{"version": "v", "connector": "postgresql", "name": "n", "ts_ms": int64(5), "snapshot": "true", "db": "d", "lsn": nil}}
	raw, err := hamba.Marshal(w.Avro(), native)
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	sv := v.(*connectors.StructValue)
	if sv.Get("op") != "d" || sv.Get("source").(*connectors.StructValue).Get("snapshot") != "true" {
		t.Errorf("decoded %v", sv.Values)
	}
}

func TestDecimals(t *testing.T) {
	for _, tc := range []struct {
		in    connectors.Decimal
		want  string
		bytes []byte
	}{
		{bigDec("0", 2), "0.00", []byte{0}},
		{bigDec("127", 2), "1.27", []byte{0x7f}},
		{bigDec("128", 2), "1.28", []byte{0, 0x80}},
		{bigDec("-128", 2), "-1.28", []byte{0x80}},
		{bigDec("-129", 2), "-1.29", []byte{0xff, 0x7f}},
		{bigDec("15", 1), "1.50", []byte{0, 0x96}}, // rescaled exactly
		{bigDec("-9223372036854775809", 2), "-92233720368547758.09", []byte{0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{bigDec("18446744073709551616", 2), "184467440737095516.16", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.want, func(t *testing.T) {
			w, err := New(DefaultOptions()).Schema(connectors.DecimalSchema(2, false))
			if err != nil {
				t.Fatal(err)
			}
			data, err := w.Append(nil, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if want := appendBytes(nil, tc.bytes); string(data) != string(want) {
				t.Errorf("bytes % x, want % x", data, want)
			}
			out, err := w.Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(connectors.Decimal).String(); got != tc.want {
				t.Errorf("decoded %s, want %s", got, tc.want)
			}
		})
	}
	w, _ := New(DefaultOptions()).Schema(connectors.DecimalSchema(1, false))
	_, err := w.Append(nil, bigDec("155", 2))
	var de *DataError
	if !errors.As(err, &de) || !strings.Contains(de.Reason, "without rounding") {
		t.Errorf("rounding a decimal: err = %v", err)
	}
}

func TestDefaultsRoundTrip(t *testing.T) {
	inner := connectors.NewStruct("com.example.Point", false, connectors.Opt("x", connectors.Int32Schema))
	s := connectors.NewStruct("com.example.Defaults", false,
		connectors.Opt("n", &connectors.Schema{Type: connectors.Int16, Default: int16(-3)}),
		connectors.Opt("f", &connectors.Schema{Type: connectors.Float64, Default: 2.0}),
		connectors.Opt("d", &connectors.Schema{Type: connectors.Bytes, Name: connectors.DecimalName, Version: 1,
			Parameters: map[string]string{"scale": "2"}, Default: bigDec("-150", 2)}),
		connectors.Opt("day", &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1, Default: time.Unix(86400*3, 0).UTC()}),
		connectors.Opt("list", &connectors.Schema{Type: connectors.Array, Items: connectors.StringSchema, Default: []any{"a", "b"}}),
		connectors.Opt("m", &connectors.Schema{Type: connectors.Map, Keys: connectors.Int32Schema, Values: connectors.StringSchema,
			Default: []connectors.MapEntry{{Key: int32(1), Value: "one"}}}),
		connectors.Opt("p", &connectors.Schema{Type: connectors.Struct, Name: inner.Name, Fields: inner.Fields,
			Default: &connectors.StructValue{Schema: inner, Values: []any{int32(9)}}}),
	)
	c := New(DefaultOptions())
	w, err := c.Schema(s)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.FromAvro(w.String())
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range r.Connect().Fields {
		want := s.Fields[i].Schema.Default
		got := f.Schema.Default
		if pv, ok := got.(*connectors.StructValue); ok {
			got = pv.Values
			want = want.(*connectors.StructValue).Values
		}
		if d, ok := got.(connectors.Decimal); ok {
			got, want = d.String(), want.(connectors.Decimal).String()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("field %s default = %#v, want %#v", f.Name, got, want)
		}
	}
	// A null field with a default is written as the default, as Connect's
	// Struct.get reads it.
	v := connectors.NewStructValue(s)
	data, err := w.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := w.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*connectors.StructValue).Get("n"); got != int16(-3) {
		t.Errorf("n = %v, want the default -3", got)
	}
}

func TestEnhancedEnumAndUnion(t *testing.T) {
	text := `{"type":"record","name":"R","namespace":"x","fields":[` +
		`{"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},` +
		`{"name":"u","type":["null","int","string",{"type":"record","name":"P","fields":[{"name":"a","type":"int"}]}],"default":null}]}`
	for _, enhanced := range []bool{false, true} {
		c := New(Options{ConnectMetaData: true, EnhancedSchemaSupport: enhanced})
		r, err := c.FromAvro(text)
		if err != nil {
			t.Fatal(err)
		}
		cs := r.Connect()
		color, _ := cs.Field("color")
		if color.Schema.Type != connectors.String || color.Schema.Parameters[enumParam] != "x.Color" {
			t.Fatalf("color = %+v", color.Schema)
		}
		u, _ := cs.Field("u")
		wantMember := "P"
		if enhanced {
			wantMember = "x.P"
		}
		if u.Schema.Name != unionName || !u.Schema.Optional || len(u.Schema.Fields) != 3 || u.Schema.Fields[2].Name != wantMember {
			t.Fatalf("u = %s", dump(u.Schema))
		}
		// hamba writes, we read; we write, hamba reads.
		raw, err := hamba.Marshal(r.Avro(), map[string]any{"color": "GREEN", "u": map[string]any{"x.P": map[string]any{"a": 5}}})
		if err != nil {
			t.Fatal(err)
		}
		v, err := r.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		sv := v.(*connectors.StructValue)
		if sv.Get("color") != "GREEN" {
			t.Errorf("color = %v", sv.Get("color"))
		}
		p := sv.Get("u").(*connectors.StructValue).Get(wantMember).(*connectors.StructValue)
		if p.Get("a") != int32(5) {
			t.Errorf("u.%s.a = %v", wantMember, p.Get("a"))
		}
		again, err := r.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(again) != string(raw) {
			t.Errorf("re-encoded % x, want % x", again, raw)
		}
		// Connect → Avro: the enum survives only with enhanced support.
		w, err := New(Options{ConnectMetaData: true, EnhancedSchemaSupport: enhanced}).Schema(cs)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(w.String(), `"type":"enum"`); got != enhanced {
			t.Errorf("enhanced=%v: enum written = %v: %s", enhanced, got, w)
		}
		_, err = r.Append(nil, connectors.NewStructValue(cs).Set("color", "BLUE"))
		if err == nil || !strings.Contains(err.Error(), "field color") {
			t.Errorf("bad enum symbol: err = %v", err)
		}
	}
}

func TestValueErrorsNameThePath(t *testing.T) {
	row, env := envelope()
	w, err := New(DefaultOptions()).Schema(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(v *connectors.StructValue)
		path   string
		reason string
	}{
		{"wrong Go type", func(v *connectors.StructValue) { v.Get("after").(*connectors.StructValue).Set("id", 5) }, "after.id", "want int32"},
		{"null for required", func(v *connectors.StructValue) { v.Set("op", nil) }, "op", "null value for a required string"},
		{"nested array", func(v *connectors.StructValue) {
			v.Get("after").(*connectors.StructValue).Set("tags", []any{[]any{"x", 3}})
		}, "after.tags[0][1]", "want string"},
		{"map value", func(v *connectors.StructValue) {
			v.Get("after").(*connectors.StructValue).Set("attrs", []connectors.MapEntry{{Key: "k", Value: []connectors.MapEntry{{Key: "notint", Value: "x"}}}})
		}, `after.attrs["k"]["notint"]`, "want int64"},
		{"date with time of day", func(v *connectors.StructValue) {
			v.Get("after").(*connectors.StructValue).Set("born", time.Date(2000, 1, 1, 1, 0, 0, 0, time.UTC))
		}, "after.born", "time of day"},
		{"foreign struct", func(v *connectors.StructValue) { v.Set("after", connectors.NewStructValue(env.Fields[2].Schema)) }, "after", "differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := envValue(row, env)
			tc.mutate(v)
			_, err := w.Append(nil, v)
			var de *DataError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DataError", err)
			}
			if de.Path != tc.path || !strings.Contains(de.Reason, tc.reason) {
				t.Errorf("err = %v; want path %q and reason containing %q", err, tc.path, tc.reason)
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	row, env := envelope()
	w, _ := New(DefaultOptions()).Schema(env)
	data, err := w.Append(nil, envValue(row, env))
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(data) {
		if _, err := w.Decode(data[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(data))
		}
	}
	if _, err := w.Decode(append(data, 0)); err == nil || !strings.Contains(err.Error(), "left over") {
		t.Errorf("trailing byte: err = %v", err)
	}
	// A huge string length must fail without allocating it.
	s, _ := New(DefaultOptions()).Schema(connectors.StringSchema)
	if _, err := s.Decode(appendLong(nil, 1<<60)); err == nil {
		t.Error("huge length: no error")
	}
	// A huge block count of empty records must fail, not loop.
	empty := connectors.NewStruct("e.E", false)
	a, _ := New(DefaultOptions()).Schema(&connectors.Schema{Type: connectors.Array, Items: empty})
	if _, err := a.Decode(appendLong(nil, 1<<40)); err == nil {
		t.Error("huge count of empty records: no error")
	}
}

// assertValue compares decoded values, struct by struct, ignoring which
// schema pointer a struct carries.
func assertValue(t *testing.T, got, want any) {
	t.Helper()
	if !valueEqual(got, want) {
		t.Errorf("value differs:\n got  %s\n want %s", dumpValue(got), dumpValue(want))
	}
}

func valueEqual(a, b any) bool {
	switch x := a.(type) {
	case *connectors.StructValue:
		y, ok := b.(*connectors.StructValue)
		if !ok || x == nil || y == nil {
			return ok && x == y
		}
		if len(x.Values) != len(y.Values) {
			return false
		}
		for i := range x.Values {
			if !valueEqual(x.Values[i], y.Values[i]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case []connectors.MapEntry:
		y, ok := b.([]connectors.MapEntry)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i].Key, y[i].Key) || !valueEqual(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case connectors.Decimal:
		y, ok := b.(connectors.Decimal)
		return ok && x.String() == y.String() && x.Scale == y.Scale
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	}
	return reflect.DeepEqual(a, b)
}

func dumpValue(v any) string {
	switch x := v.(type) {
	case *connectors.StructValue:
		if x == nil {
			return "nil"
		}
		parts := make([]string, len(x.Values))
		for i, e := range x.Values {
			parts[i] = x.Schema.Fields[i].Name + ":" + dumpValue(e)
		}
		return "{" + strings.Join(parts, " ") + "}"
	case connectors.Decimal:
		return x.String()
	}
	return fmt.Sprintf("%#v", v)
}

func schemasEqualTest(a, b *connectors.Schema) bool { return codec.SchemaEqual(a, b) }

func dump(s *connectors.Schema) string {
	text, err := schemaJSON(s, DefaultOptions())
	if err != nil {
		return err.Error()
	}
	return string(text)
}
