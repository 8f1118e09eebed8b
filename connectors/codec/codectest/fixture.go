// Package codectest holds what the tests and benchmarks of the codecs and
// the converters share: a Debezium PostgreSQL change event for a
// 10-column table (schemas and values), and comparisons of decoded values
// and schemas that treat NaN, times and defaults as a round trip leaves
// them. It is imported only by tests.
package codectest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// The fixture is a Debezium PostgreSQL change event for a 10-column table,
// built as the postgres source builds it: schemas once, values per row.

var (
	// KeySchema is the key schema of the customers table.
	KeySchema = connectors.NewStruct("dbserver1.public.customers.Key", false,
		connectors.Opt("id", connectors.Int32Schema))

	// RowSchema is the schema of a customers row (the before and after fields).
	RowSchema = connectors.NewStruct("dbserver1.public.customers.Value", true,
		connectors.Opt("id", connectors.Int32Schema),
		connectors.Opt("first_name", connectors.StringSchema),
		connectors.Opt("last_name", connectors.StringSchema),
		connectors.Opt("email", connectors.OptionalStringSchema),
		connectors.Opt("balance", &connectors.Schema{Type: connectors.Bytes, Name: connectors.DecimalName, Version: 1,
			Parameters: map[string]string{"scale": "2", "connect.decimal.precision": "12"}}),
		connectors.Opt("active", &connectors.Schema{Type: connectors.Boolean, Default: true}),
		connectors.Opt("score", &connectors.Schema{Type: connectors.Float64, Optional: true}),
		connectors.Opt("birth_date", &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1, Optional: true}),
		connectors.Opt("created_at", &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1}),
		connectors.Opt("updated_at", &connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroTimestamp", Version: 1, Optional: true}),
	)

	// SourceSchema is Debezium's PostgreSQL source block.
	SourceSchema = connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
		connectors.Opt("version", connectors.StringSchema),
		connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("snapshot", &connectors.Schema{Type: connectors.String, Optional: true, Default: "false",
			Name: "io.debezium.data.Enum", Version: 1, Parameters: map[string]string{"allowed": "true,last,false,incremental"}}),
		connectors.Opt("db", connectors.StringSchema),
		connectors.Opt("sequence", connectors.OptionalStringSchema),
		connectors.Opt("schema", connectors.StringSchema),
		connectors.Opt("table", connectors.StringSchema),
		connectors.Opt("txId", connectors.OptionalInt64Schema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema),
		connectors.Opt("xmin", connectors.OptionalInt64Schema),
	)

	// TxSchema is Debezium's transaction block.
	TxSchema = func() *connectors.Schema {
		s := connectors.NewStruct("event.block", true,
			connectors.Opt("id", connectors.StringSchema),
			connectors.Opt("total_order", connectors.Int64Schema),
			connectors.Opt("data_collection_order", connectors.Int64Schema))
		s.Version = 1
		return s
	}()

	// ValueSchema is the change event envelope.
	ValueSchema = func() *connectors.Schema {
		s := connectors.NewStruct("dbserver1.public.customers.Envelope", false,
			connectors.Opt("before", RowSchema),
			connectors.Opt("after", RowSchema),
			connectors.Opt("source", SourceSchema),
			connectors.Opt("op", connectors.StringSchema),
			connectors.Opt("ts_ms", connectors.OptionalInt64Schema),
			connectors.Opt("transaction", TxSchema))
		s.Version = 1
		return s
	}()
)

// Row returns one customers row; i varies the values.
func Row(i int) *connectors.StructValue {
	created := time.Date(2024, 3, 1, 12, 30, 45, 123_000_000, time.UTC).Add(time.Duration(i) * time.Second)
	return &connectors.StructValue{Schema: RowSchema, Values: []any{
		int32(1000 + i),
		"Sally",
		"Thomas \"the tank\" O'Neil",
		"sally.thomas@acme.com",
		connectors.Decimal{Unscaled: big.NewInt(1234567 + int64(i)), Scale: 2},
		true,
		98.5,
		time.Date(1990, 7, 14, 0, 0, 0, 0, time.UTC),
		created,
		created.UnixMicro(),
	}}
}

// Envelope returns the key and value of an update event.
func Envelope(i int) (key, value *connectors.StructValue) {
	key = &connectors.StructValue{Schema: KeySchema, Values: []any{int32(1000 + i)}}
	before := Row(i)
	before.Values[3] = nil // email was null
	before.Values[6] = nil
	source := &connectors.StructValue{Schema: SourceSchema, Values: []any{
		"2.7.0.Final", "postgresql", "dbserver1", int64(1709296245123), nil, "inventory",
		`["24023119","24023128"]`, "public", "customers", int64(767), int64(24023128), nil,
	}}
	value = &connectors.StructValue{Schema: ValueSchema, Values: []any{
		before, Row(i), source, "u", int64(1709296245456), nil,
	}}
	return key, value
}

// ValuesEqual compares decoded Connect values: NaN equals NaN, times by
// instant, decimals by unscaled value and scale, nil and empty byte slices
// alike, structs by schema shape and values.
func ValuesEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case float32:
		y, ok := b.(float32)
		return ok && (x == y || x != x && y != y)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case connectors.Decimal:
		y, ok := b.(connectors.Decimal)
		if !ok || x.Scale != y.Scale {
			return false
		}
		xu, yu := x.Unscaled, y.Unscaled
		if xu == nil {
			xu = new(big.Int)
		}
		if yu == nil {
			yu = new(big.Int)
		}
		return xu.Cmp(yu) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ValuesEqual(x[i], y[i]) {
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
			if !ValuesEqual(x[i].Key, y[i].Key) || !ValuesEqual(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case *connectors.StructValue:
		y, ok := b.(*connectors.StructValue)
		if !ok || (x == nil) != (y == nil) {
			return false
		}
		if x == nil {
			return true
		}
		if !SchemasEquivalent(x.Schema, y.Schema) || len(x.Values) != len(y.Values) {
			return false
		}
		for i := range x.Values {
			if !ValuesEqual(x.Values[i], y.Values[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// SchemasEquivalent is codec.SchemaEqual with defaults compared by ValuesEqual.
func SchemasEquivalent(a, b *connectors.Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Optional != b.Optional || a.Name != b.Name || a.Version != b.Version ||
		a.Doc != b.Doc || len(a.Fields) != len(b.Fields) || len(a.Parameters) != len(b.Parameters) {
		return false
	}
	for k, v := range a.Parameters {
		if w, ok := b.Parameters[k]; !ok || w != v {
			return false
		}
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !SchemasEquivalent(a.Fields[i].Schema, b.Fields[i].Schema) {
			return false
		}
	}
	if !SchemasEquivalent(a.Items, b.Items) || !SchemasEquivalent(a.Keys, b.Keys) || !SchemasEquivalent(a.Values, b.Values) {
		return false
	}
	if (a.Default == nil) != (b.Default == nil) {
		return false
	}
	// A struct default refers to its own schema: compare its values only.
	if da, ok := a.Default.(*connectors.StructValue); ok {
		db, ok := b.Default.(*connectors.StructValue)
		if !ok || len(da.Values) != len(db.Values) {
			return false
		}
		for i := range da.Values {
			if !ValuesEqual(da.Values[i], db.Values[i]) {
				return false
			}
		}
		return true
	}
	return ValuesEqual(a.Default, b.Default)
}

// Lazy returns v as a connectors.LazyStruct that visits each field in the
// form a source would use for it: strings as Text, plain integers as Int
// (with their decimal spelling when decimal is set), booleans as Bool,
// structs named shared as Shared and other structs as nested lazy
// structs; everything else (and nulls) as Value.
func Lazy(v *connectors.StructValue, decimal bool, shared ...string) connectors.LazyStruct {
	return &lazy{v: v, decimal: decimal, shared: shared, rest: -1}
}

// LazyRest is Lazy that hands over v's fields from index from on as the
// struct's rest (connectors.FieldWriter.Rest), as a source hands over
// what many records share.
func LazyRest(v *connectors.StructValue, decimal bool, from int, shared ...string) connectors.LazyStruct {
	return &lazy{v: v, decimal: decimal, shared: shared, rest: from}
}

type lazy struct {
	v       *connectors.StructValue
	decimal bool
	shared  []string
	rest    int // the field of the rest; -1 for none
}

func (l *lazy) Build() (*connectors.StructValue, error) { return l.v, nil }

func (l *lazy) Visit(w connectors.FieldWriter) error {
	for i, f := range l.v.Schema.Fields {
		if i == l.rest {
			return w.Rest(l.v)
		}
		var err error
		var dec []byte
		switch x := l.v.Values[i].(type) {
		case string:
			err = w.Text([]byte(x))
		case int8, int16, int32, int64:
			if f.Schema.Name != "" {
				err = w.Value(x)
				break
			}
			n := reflectInt(x)
			if l.decimal {
				dec = strconv.AppendInt(nil, n, 10)
			}
			err = w.Int(n, dec)
		case bool:
			err = w.Bool(x)
		case *connectors.StructValue:
			if x != nil && slices.Contains(l.shared, f.Name) {
				err = w.Shared(x)
			} else if x != nil {
				err = w.Struct(Lazy(x, l.decimal, l.shared...))
			} else {
				err = w.Value(nil)
			}
		default:
			err = w.Value(x)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func reflectInt(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v.(int64)
}

// LazyFunc is a connectors.LazyStruct whose Visit is a function, for
// tests of what a codec does with a misbehaving lazy struct.
type LazyFunc func(w connectors.FieldWriter) error

// Build fails: a LazyFunc has no built form.
func (LazyFunc) Build() (*connectors.StructValue, error) {
	return nil, errors.New("codectest.LazyFunc has no built form")
}

// Visit calls f.
func (f LazyFunc) Visit(w connectors.FieldWriter) error { return f(w) }

// TextRow returns v as a connectors.TextRow: strings as text, integers
// without a logical type as their decimal text and value, booleans as
// "t" or "f", nulls as nulls, anything else as a value; its columns in
// the reverse of the fields' order, so that a codec must follow the
// layout. Its Visit is Lazy's, with decimals.
func TextRow(v *connectors.StructValue) connectors.LazyStruct {
	n := len(v.Values)
	r := &row{LazyStruct: Lazy(v, true)}
	r.layout = &connectors.RowLayout{Cols: make([]int, n), Forms: make([]connectors.TextForm, n)}
	r.data.Spans = make([]int32, 2*n)
	r.data.Values = make([]any, n)
	for i, f := range v.Schema.Fields {
		c := n - 1 - i
		r.layout.Cols[i] = c
		start := int32(len(r.data.Text))
		form := connectors.FormValue
		switch x := v.Values[i].(type) {
		case nil:
			r.data.Spans[2*c] = connectors.SpanNull
			continue
		case string:
			form = connectors.FormText
			r.data.Text = append(r.data.Text, x...)
		case int8, int16, int32, int64:
			if f.Schema.Name != "" {
				break
			}
			form = connectors.FormInt
			r.data.Text = strconv.AppendInt(r.data.Text, reflectInt(x), 10)
		case bool:
			form = connectors.FormBool
			if x {
				r.data.Text = append(r.data.Text, 't')
			} else {
				r.data.Text = append(r.data.Text, 'f')
			}
		}
		r.layout.Forms[i] = form
		if form == connectors.FormValue {
			r.data.Spans[2*c], r.data.Values[c] = connectors.SpanValue, v.Values[i]
			continue
		}
		r.data.Spans[2*c], r.data.Spans[2*c+1] = start, int32(len(r.data.Text))
		if form == connectors.FormInt {
			r.data.Text = binary.LittleEndian.AppendUint64(r.data.Text, uint64(reflectInt(v.Values[i])))
		}
	}
	return r
}

// RowFunc is a connectors.TextRow with the data d, whose Visit fails,
// for tests of what a codec does with a row that does not fit its schema.
func RowFunc(l *connectors.RowLayout, d connectors.RowData) connectors.LazyStruct {
	return &row{LazyStruct: LazyFunc(nil), layout: l, data: d}
}

type row struct {
	connectors.LazyStruct
	layout *connectors.RowLayout
	data   connectors.RowData
}

func (r *row) Row() (*connectors.RowLayout, *connectors.RowData) { return r.layout, &r.data }

// RowMisfit is a TextRow that does not fit the schema MisfitSchema and a
// part of the error a codec must return for it.
type RowMisfit struct {
	Name string
	Row  connectors.LazyStruct
	Want string
}

// MisfitSchema is the schema of RowMisfits: an INT8 a and a STRING b.
var MisfitSchema = connectors.NewStruct("t", false, connectors.Opt("a", &connectors.Schema{Type: connectors.Int8}),
	connectors.Opt("b", connectors.StringSchema))

// RowMisfits returns TextRows that do not fit MisfitSchema.
func RowMisfits() []RowMisfit {
	layout := func(forms ...connectors.TextForm) *connectors.RowLayout {
		return &connectors.RowLayout{Cols: []int{0, 1}[:len(forms)], Forms: forms}
	}
	ok := layout(connectors.FormInt, connectors.FormText)
	// Column 0 holds 1 (or 128), column 1 "x".
	text := func(n int64) []byte {
		b := strconv.AppendInt(nil, n, 10)
		b = binary.LittleEndian.AppendUint64(b, uint64(n))
		return append(b, 'x')
	}
	spans := func(n int64) []int32 {
		d := int32(len(strconv.FormatInt(n, 10)))
		return []int32{0, d, d + 8, d + 9}
	}
	return []RowMisfit{
		{"no layout", RowFunc(nil, connectors.RowData{Text: text(1), Spans: spans(1)}), "layout does not match"},
		{"too few fields", RowFunc(layout(connectors.FormInt), connectors.RowData{Text: text(1), Spans: spans(1)}), "layout does not match"},
		{"text for an int", RowFunc(layout(connectors.FormText, connectors.FormText), connectors.RowData{Text: text(1), Spans: spans(1)}),
			"a: a lazy text value does not fit schema type int8"},
		{"bool for a string", RowFunc(layout(connectors.FormInt, connectors.FormBool), connectors.RowData{Text: text(1), Spans: spans(1)}),
			"b: a lazy boolean value does not fit schema type string"},
		{"out of range", RowFunc(ok, connectors.RowData{Text: text(128), Spans: spans(128)}), "a: 128 is out of the range of int8"},
		{"text for a value", RowFunc(layout(connectors.FormValue, connectors.FormText), connectors.RowData{Text: text(1), Spans: spans(1)}),
			"a: the lazy row gave text for a field it holds as a value"},
		{"null for a required field", RowFunc(ok, connectors.RowData{Text: text(1), Spans: []int32{connectors.SpanNull, 0, 9, 10}}), "a: "},
		{"value of another type", RowFunc(ok, connectors.RowData{Text: text(1), Spans: []int32{connectors.SpanValue, 0, 9, 10},
			Values: []any{"one", nil}}), "a: "},
	}
}

// RowEnvelope returns v as a connectors.RowEnvelope: its fields before
// field at must be nulls and field at a struct, handed over as TextRow
// does, with v itself as the rest. Its Visit hands over the same parts
// (nulls, the row as a struct, the rest).
func RowEnvelope(v *connectors.StructValue, at int) connectors.LazyStruct {
	return &envelope{v: v, at: at, row: TextRow(v.Values[at].(*connectors.StructValue)).(*row)}
}

type envelope struct {
	v   *connectors.StructValue
	at  int
	row *row
}

func (e *envelope) Build() (*connectors.StructValue, error) { return e.v, nil }

func (e *envelope) Visit(w connectors.FieldWriter) error {
	for range e.at {
		if err := w.Value(nil); err != nil {
			return err
		}
	}
	if err := w.Struct(e.row); err != nil {
		return err
	}
	return w.Rest(e.v)
}

func (e *envelope) Envelope() (int, *connectors.RowLayout, *connectors.RowData, *connectors.StructValue) {
	return e.at, e.row.layout, &e.row.data, e.v
}

// EnvelopeAt returns the RowEnvelope e saying its row is at field at, for
// tests of an envelope that does not fit its schema.
func EnvelopeAt(e connectors.LazyStruct, at int) connectors.LazyStruct {
	return &misfitEnvelope{LazyStruct: e, at: at}
}

// EnvelopeWithRest returns the RowEnvelope e with the rest rest.
func EnvelopeWithRest(e connectors.LazyStruct, rest *connectors.StructValue) connectors.LazyStruct {
	return &misfitEnvelope{LazyStruct: e, at: -1, rest: rest}
}

type misfitEnvelope struct {
	connectors.LazyStruct
	at   int
	rest *connectors.StructValue
}

func (m *misfitEnvelope) Envelope() (int, *connectors.RowLayout, *connectors.RowData, *connectors.StructValue) {
	at, l, d, rest := m.LazyStruct.(connectors.RowEnvelope).Envelope()
	if m.at >= 0 {
		at = m.at
	}
	if m.rest != nil {
		rest = m.rest
	}
	return at, l, d, rest
}
