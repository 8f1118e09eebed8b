package parquet

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

func decimalSchema(scale, precision int, optional bool) *connectors.Schema {
	s := connectors.DecimalSchema(int32(scale), optional)
	s.Parameters[PrecisionParam] = itoa(precision)
	return s
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

func named(t connectors.Type, name string) *connectors.Schema {
	return &connectors.Schema{Type: t, Name: name}
}

func dec(s string) connectors.Decimal {
	d, err := connectors.ParseDecimal(s)
	if err != nil {
		panic(err)
	}
	return d
}

// allTypes is a Debezium-like envelope with a column of every kind.
func allTypes() *connectors.Schema {
	row := connectors.NewStruct("db.public.t.Value", true,
		connectors.Opt("i8", connectors.Primitive(connectors.Int8, false)),
		connectors.Opt("i16", connectors.Primitive(connectors.Int16, false)),
		connectors.Opt("i32", connectors.Int32Schema),
		connectors.Opt("i64", connectors.OptionalInt64Schema),
		connectors.Opt("f32", connectors.Primitive(connectors.Float32, false)),
		connectors.Opt("f64", connectors.Float64Schema),
		connectors.Opt("b", connectors.BooleanSchema),
		connectors.Opt("s", connectors.OptionalStringSchema),
		connectors.Opt("raw", connectors.OptionalBytesSchema),
		connectors.Opt("d9", decimalSchema(2, 9, false)),
		connectors.Opt("d18", decimalSchema(4, 18, false)),
		connectors.Opt("d38", decimalSchema(10, 38, true)),
		connectors.Opt("dnoprec", connectors.DecimalSchema(3, true)),
		connectors.Opt("vsd", connectors.NewStruct(cdc.VariableScaleDecimalName, true,
			connectors.Opt("scale", connectors.Int32Schema), connectors.Opt("value", connectors.BytesSchema))),
		connectors.Opt("date", named(connectors.Int32, connectors.DateName)),
		connectors.Opt("time", named(connectors.Int32, connectors.TimeName)),
		connectors.Opt("ts", named(connectors.Int64, connectors.TimestampName)),
		connectors.Opt("dbz_date", named(connectors.Int32, cdc.DateName)),
		connectors.Opt("dbz_time", named(connectors.Int32, cdc.TimeName)),
		connectors.Opt("dbz_microtime", named(connectors.Int64, cdc.MicroTimeName)),
		connectors.Opt("dbz_ts", named(connectors.Int64, cdc.TimestampName)),
		connectors.Opt("dbz_microts", named(connectors.Int64, cdc.MicroTimestampName)),
		connectors.Opt("dbz_nanots", named(connectors.Int64, cdc.NanoTimestampName)),
		connectors.Opt("dbz_zoned", &connectors.Schema{Type: connectors.String, Name: cdc.ZonedTimestampName, Optional: true}),
		connectors.Opt("tags", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.OptionalStringSchema}),
		connectors.Opt("attrs", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.Int64Schema}),
		connectors.Opt("points", &connectors.Schema{Type: connectors.Array, Items: connectors.NewStruct("pt", false,
			connectors.Opt("x", connectors.Int32Schema), connectors.Opt("y", connectors.OptionalInt32Schema))}),
	)
	source := connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
		connectors.Opt("db", connectors.StringSchema), connectors.Opt("lsn", connectors.OptionalInt64Schema))
	return connectors.NewStruct("db.public.t.Envelope", false,
		connectors.Opt("before", row), connectors.Opt("after", row), connectors.Opt("source", source),
		connectors.Opt("op", connectors.StringSchema), connectors.Opt("ts_ms", connectors.OptionalInt64Schema))
}

var (
	tsVal   = time.Date(2026, 12, 3, 21, 43, 34, 123_000_000, time.UTC)
	dateVal = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	timeVal = time.Date(1970, 1, 1, 21, 43, 34, 5_000_000, time.UTC)
)

func allValue(s *connectors.Schema, i int) *connectors.StructValue {
	row := s.Fields[1].Schema
	after := connectors.NewStructValue(row).
		Set("i8", int8(-8)).Set("i16", int16(-1600)).Set("i32", int32(i)).Set("i64", int64(1)<<40).
		Set("f32", float32(1.5)).Set("f64", 2.25).Set("b", true).Set("s", "héllo").Set("raw", []byte{0, 1, 2}).
		Set("d9", dec("-1234567.89")).Set("d18", dec("12345678901234.5678")).
		Set("d38", dec("-1234567890123456789012345678.0123456789")).Set("dnoprec", dec("1.5")).
		Set("vsd", connectors.NewStructValue(row.Fields[13].Schema).Set("scale", int32(3)).Set("value", []byte{0xfe, 0x0c})). // -500 -> -0.500
		Set("date", dateVal).Set("time", timeVal).Set("ts", tsVal).
		Set("dbz_date", int32(20425)).Set("dbz_time", int32(3_600_000)).Set("dbz_microtime", int64(3_600_000_001)).
		Set("dbz_ts", int64(1_764_798_214_123)).Set("dbz_microts", int64(1_764_798_214_123_456)).Set("dbz_nanots", int64(1_764_798_214_123_456_789)).
		Set("dbz_zoned", "2026-12-03T21:43:34.123Z").
		Set("tags", []any{"a", nil, "c"}).
		Set("attrs", []connectors.MapEntry{{Key: "k1", Value: int64(1)}, {Key: "k2", Value: int64(2)}}).
		Set("points", []any{
			connectors.NewStructValue(row.Fields[26].Schema.Items).Set("x", int32(1)).Set("y", int32(2)),
			connectors.NewStructValue(row.Fields[26].Schema.Items).Set("x", int32(3)),
		})
	src := connectors.NewStructValue(s.Fields[2].Schema).Set("db", "shop").Set("lsn", int64(42))
	return connectors.NewStructValue(s).Set("after", after).Set("source", src).Set("op", "c").Set("ts_ms", int64(7))
}

// write encodes values of cs into a Parquet file.
func write(t testing.TB, cs *connectors.Schema, values ...any) []byte {
	t.Helper()
	s, err := New().Schema(cs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := pq.NewGenericWriter[any](&buf, s.Parquet())
	var row pq.Row
	for _, v := range values {
		if row, err = s.AppendRow(row[:0], v); err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteRows([]pq.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// read reads a file back with parquet-go's own schema of it (not ours),
// into maps.
func read(t testing.TB, b []byte) (*pq.File, []map[string]any) {
	t.Helper()
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	r := pq.NewReader(f)
	var out []map[string]any
	for {
		m := map[string]any{}
		if err := r.Read(&m); err != nil {
			break
		}
		out = append(out, m)
	}
	if int64(len(out)) != f.NumRows() {
		t.Fatalf("read %d rows of %d", len(out), f.NumRows())
	}
	return f, out
}

// elements returns the file's schema elements by dotted path.
func elements(f *pq.File) map[string]format.SchemaElement {
	out := map[string]format.SchemaElement{}
	var walk func(i int, prefix string) int
	els := f.Metadata().Schema
	walk = func(i int, prefix string) int {
		e := els[i]
		path := e.Name
		if prefix != "" {
			path = prefix + "." + e.Name
		}
		if i == 0 {
			path = ""
		}
		out[path] = e
		i++
		for c := 0; c < int(e.NumChildren.V); c++ {
			i = walk(i, path)
		}
		return i
	}
	walk(0, "")
	return out
}

func TestLogicalTypes(t *testing.T) {
	cs := allTypes()
	f, _ := read(t, write(t, cs, allValue(cs, 1)))
	els := elements(f)
	for path, want := range map[string]string{
		"after.i8": "INT32 INT(8,true)", "after.i16": "INT32 INT(16,true)", "after.i32": "INT32 INT(32,true)", "after.i64": "INT64 INT(64,true)",
		"after.f32": "FLOAT -", "after.f64": "DOUBLE -", "after.b": "BOOLEAN -", "after.s": "BYTE_ARRAY STRING",
		"after.raw": "BYTE_ARRAY -", "after.d9": "INT32 DECIMAL(9,2)", "after.d18": "INT64 DECIMAL(18,4)",
		"after.d38": "BYTE_ARRAY DECIMAL(38,10)", "after.dnoprec": "BYTE_ARRAY DECIMAL(64,3)", "after.vsd": "BYTE_ARRAY STRING",
		"after.date": "INT32 DATE", "after.time": "INT32 TIME(isAdjustedToUTC=false,unit=MILLIS)",
		"after.ts": "INT64 TIMESTAMP(isAdjustedToUTC=true,unit=MILLIS)", "after.dbz_date": "INT32 DATE",
		"after.dbz_time": "INT32 TIME(isAdjustedToUTC=false,unit=MILLIS)", "after.dbz_microtime": "INT64 TIME(isAdjustedToUTC=false,unit=MICROS)",
		"after.dbz_ts": "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MILLIS)", "after.dbz_microts": "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)",
		"after.dbz_nanots": "INT64 TIMESTAMP(isAdjustedToUTC=false,unit=NANOS)", "after.dbz_zoned": "BYTE_ARRAY STRING",
		"after.tags": "- LIST", "after.tags.list.element": "BYTE_ARRAY STRING", "after.attrs": "- MAP",
		"after.attrs.key_value.key": "BYTE_ARRAY STRING", "after.attrs.key_value.value": "INT64 INT(64,true)",
		"after.points": "- LIST", "after.points.list.element.y": "INT32 INT(32,true)", "source.lsn": "INT64 INT(64,true)",
	} {
		e, ok := els[path]
		if !ok {
			t.Errorf("%s: no such column", path)
			continue
		}
		phys := "-"
		if e.Type.Valid {
			phys = e.Type.V.String()
		}
		logical := "-"
		if lt := e.LogicalType; lt.Value != nil {
			logical = strings.ReplaceAll(lt.String(), " ", "")
		}
		if got := phys + " " + logical; got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	for path, want := range map[string]format.FieldRepetitionType{
		"before": format.Optional, "source": format.Required, "op": format.Required, "ts_ms": format.Optional,
		"after.i32": format.Required, "after.s": format.Optional, "after.tags": format.Optional, "after.attrs": format.Required,
		"after.attrs.key_value": format.Repeated, "after.attrs.key_value.key": format.Required, "after.tags.list.element": format.Optional,
	} {
		if got := els[path].RepetitionType.V; got != want {
			t.Errorf("%s: repetition %v, want %v", path, got, want)
		}
	}
	// The columns keep the Connect field order.
	var names []string
	for _, c := range f.Schema().Fields() {
		names = append(names, c.Name())
	}
	if got := strings.Join(names, ","); got != "before,after,source,op,ts_ms" {
		t.Errorf("top-level columns %s", got)
	}
	if got := els["after"].NumChildren.V; got != 27 {
		t.Errorf("after has %d columns", got)
	}
	var afterNames []string
	for _, c := range f.Schema().Fields()[1].Fields() {
		afterNames = append(afterNames, c.Name())
	}
	if afterNames[0] != "i8" || afterNames[26] != "points" {
		t.Errorf("after's columns are not in field order: %v", afterNames)
	}
}

func TestValuesRoundTrip(t *testing.T) {
	cs := allTypes()
	v1 := allValue(cs, 1)
	v2 := allValue(cs, 2)
	// A second row with the nulls and empties.
	after2 := v2.Get("after").(*connectors.StructValue)
	after2.Set("i64", nil).Set("s", nil).Set("d38", nil).Set("vsd", nil).Set("tags", []any{}).
		Set("attrs", []connectors.MapEntry{}).Set("points", []any{})
	v2.Set("before", v1.Get("after")).Set("ts_ms", nil)
	_, rows := read(t, write(t, cs, v1, v2))
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	got := func(r map[string]any, path string) any {
		var cur any = r
		for _, p := range strings.Split(path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[p]
		}
		return cur
	}
	check := func(row int, path string, want any) {
		t.Helper()
		g := got(rows[row], path)
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("row %d %s: %s, want %s", row, path, gj, wj)
		}
	}
	check(0, "before", nil)
	check(0, "after.i8", -8)
	check(0, "after.i16", -1600)
	check(0, "after.i32", 1)
	check(0, "after.i64", int64(1)<<40)
	check(0, "after.f32", 1.5)
	check(0, "after.f64", 2.25)
	check(0, "after.b", true)
	check(0, "after.s", "héllo")
	check(0, "after.raw", "\x00\x01\x02")
	check(0, "after.vsd", "-0.500")
	check(0, "after.date", dateVal.Unix()/86400)
	check(0, "after.time", int32(timeVal.UnixMilli()))
	check(0, "after.ts", tsVal.UnixMilli())
	check(0, "after.dbz_date", 20425)
	check(0, "after.dbz_time", 3_600_000)
	check(0, "after.dbz_microtime", 3_600_000_001)
	check(0, "after.dbz_ts", 1_764_798_214_123)
	check(0, "after.dbz_microts", 1_764_798_214_123_456)
	check(0, "after.dbz_nanots", 1_764_798_214_123_456_789)
	check(0, "after.dbz_zoned", "2026-12-03T21:43:34.123Z")
	check(0, "source", map[string]any{"db": "shop", "lsn": 42})
	check(0, "op", "c")
	check(0, "ts_ms", 7)
	check(1, "before.i32", 1)
	check(1, "after.i32", 2)
	check(1, "after.i64", nil)
	check(1, "after.s", nil)
	check(1, "after.d38", nil)
	check(1, "after.vsd", nil)
	check(1, "ts_ms", nil)
	// Decimals, lists and maps: TestNestedColumns.
}

func TestNestedColumns(t *testing.T) {
	cs := allTypes()
	v1 := allValue(cs, 1)
	v2 := allValue(cs, 2)
	after2 := v2.Get("after").(*connectors.StructValue)
	after2.Set("tags", []any{}).Set("attrs", []connectors.MapEntry{}).Set("points", []any{}).Set("d38", nil)
	v3 := allValue(cs, 3)
	v3.Get("after").(*connectors.StructValue).Set("tags", nil)
	b := write(t, cs, v1, v2, v3)
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Collect every column's values as "rep/def:value" per row.
	rows := make([]pq.Row, 3)
	rr := f.RowGroups()[0].Rows()
	defer rr.Close()
	if n, _ := rr.ReadRows(rows); n != 3 {
		t.Fatalf("read %d rows", n)
	}
	leaf := map[string]int{}
	for i, c := range f.Schema().Columns() {
		leaf[strings.Join(c, ".")] = i
	}
	col := func(row int, path string) string {
		var parts []string
		rows[row].Range(func(ci int, vs []pq.Value) bool {
			if ci != leaf[path] {
				return true
			}
			for _, v := range vs {
				s := "null"
				if !v.IsNull() {
					switch v.Kind() {
					case pq.ByteArray:
						s = string(v.ByteArray())
						if strings.HasPrefix(path, "after.d") {
							s = fromTwosComplement(v.ByteArray()).String()
						}
					default:
						s = v.String()
					}
				}
				parts = append(parts, itoa(v.RepetitionLevel())+"/"+itoa(v.DefinitionLevel())+":"+s)
			}
			return false
		})
		return strings.Join(parts, " ")
	}
	for _, c := range []struct {
		row        int
		path, want string
	}{
		{0, "after.tags.list.element", "0/4:a 1/3:null 1/4:c"},
		{1, "after.tags.list.element", "0/2:null"},
		{2, "after.tags.list.element", "0/1:null"},
		{0, "after.attrs.key_value.key", "0/2:k1 1/2:k2"},
		{0, "after.attrs.key_value.value", "0/2:1 1/2:2"},
		{1, "after.attrs.key_value.key", "0/1:null"},
		{0, "after.points.list.element.x", "0/2:1 1/2:3"},
		{0, "after.points.list.element.y", "0/3:2 1/2:null"},
		{1, "after.points.list.element.y", "0/1:null"},
		{0, "before.i32", "0/0:null"},
		{0, "after.d38", "0/2:-12345678901234567890123456780123456789"},
		{1, "after.d38", "0/1:null"},
		{0, "after.dnoprec", "0/2:1500"},
		{0, "after.d9", "0/1:-123456789"},
		{0, "after.d18", "0/1:123456789012345678"},
	} {
		if got := col(c.row, c.path); got != c.want {
			t.Errorf("row %d %s: %s, want %s", c.row, c.path, got, c.want)
		}
	}
}

func TestPrimitiveValue(t *testing.T) {
	f, rows := read(t, write(t, connectors.StringSchema, "a", "b"))
	if len(f.Schema().Fields()) != 1 || f.Schema().Fields()[0].Name() != ValueColumn {
		t.Fatalf("schema %s", f.Schema())
	}
	if rows[0][ValueColumn] != "a" || rows[1][ValueColumn] != "b" {
		t.Fatalf("rows %v", rows)
	}
}

func TestBadValues(t *testing.T) {
	cs := allTypes()
	s, err := New().Schema(cs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edit  func(after *connectors.StructValue)
		want  string
		field string
	}{
		{"null required", func(a *connectors.StructValue) { a.Set("i32", nil) }, "null in a required field", "after.i32"},
		{"wrong type", func(a *connectors.StructValue) { a.Set("i32", int64(1)) }, "want int32", "after.i32"},
		{"too precise", func(a *connectors.StructValue) { a.Set("d9", dec("12345678.9")) }, "precision of 9", "after.d9"},
		{"too many decimals", func(a *connectors.StructValue) { a.Set("d9", dec("1.234")) }, "scale 2", "after.d9"},
		{"null map key", func(a *connectors.StructValue) {
			a.Set("attrs", []connectors.MapEntry{{Key: nil, Value: int64(1)}})
		}, "map keys are required", "after.attrs"},
		{"list element", func(a *connectors.StructValue) { a.Set("tags", []any{"a", 3}) }, "want string", "after.tags[1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := allValue(cs, 1)
			c.edit(v.Get("after").(*connectors.StructValue))
			row := pq.Row{pq.Int32Value(9)}
			out, err := s.AppendRow(row, v)
			var de *codec.DataError
			if !asDataError(err, &de) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(de.Path, c.field) {
				t.Fatalf("err %v, want a DataError at %s with %q", err, c.field, c.want)
			}
			if len(out) != 1 {
				t.Fatalf("row changed on error: %d values", len(out))
			}
		})
	}
	for _, c := range []struct {
		name string
		s    *connectors.Schema
		want string
	}{
		{"no schema", nil, "needs a value schema"},
		{"empty struct", connectors.NewStruct("e", false, connectors.Opt("x", connectors.NewStruct("inner", false))), "no fields"},
		{"negative scale", connectors.NewStruct("n", false, connectors.Opt("d", connectors.DecimalSchema(-2, false))), "scale -2"},
		{"too deep", deep(300), "more than 255 deep"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewSchema(c.s); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
		})
	}
}

func asDataError(err error, de **codec.DataError) bool {
	e, ok := err.(*codec.DataError)
	if ok {
		*de = e
	}
	return ok
}

func TestTwosComplement(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "127", "128", "-128", "-129", "255", "-256", "123456789012345678901234567890", "-98765432109876543210987654321"} {
		x, _ := new(big.Int).SetString(s, 10)
		b := appendTwosComplement(nil, x)
		if got := fromTwosComplement(b); got.Cmp(x) != 0 {
			t.Errorf("%s -> %x -> %s", s, b, got)
		}
		if len(b) > 1 && (b[0] == 0 && b[1]&0x80 == 0 || b[0] == 0xff && b[1]&0x80 != 0) {
			t.Errorf("%s -> %x is not the shortest form", s, b)
		}
	}
}

func BenchmarkAppendRow(b *testing.B) {
	order := connectors.NewStruct("shop.order", false,
		connectors.Opt("id", connectors.Int64Schema), connectors.Opt("region", connectors.StringSchema),
		connectors.Opt("note", connectors.OptionalStringSchema), connectors.Opt("at", named(connectors.Int64, connectors.TimestampName)))
	env := allTypes()
	for _, c := range []struct {
		name string
		s    *connectors.Schema
		v    any
	}{
		{"order", order, connectors.NewStructValue(order).Set("id", int64(7)).Set("region", "eu").Set("note", "note 7").Set("at", tsVal)},
		{"envelope", env, allValue(env, 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			s, err := New().Schema(c.s)
			if err != nil {
				b.Fatal(err)
			}
			var row pq.Row
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if row, err = s.AppendRow(row[:0], c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// deep returns a struct nesting n optional structs.
func deep(n int) *connectors.Schema {
	s := connectors.NewStruct("leaf", true, connectors.Opt("x", connectors.Int32Schema))
	for range n {
		s = connectors.NewStruct("", true, connectors.Opt("in", s))
	}
	s.Optional = false
	return s
}
