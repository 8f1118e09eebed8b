// Package parquet maps Kafka Connect schemas and values to Parquet
// (github.com/parquet-go/parquet-go): a Connect schema becomes a Parquet
// schema with logical types, so that DuckDB, Spark, Athena and Trino read
// the right column types, and a Connect value becomes a parquet.Row of that
// schema. The S3 sink writes its Parquet objects with it.
//
// The mapping, by Connect schema (name first, then type):
//
//   - int8, int16: INT32 annotated INT(8|16, signed); int32: INT32; int64:
//     INT64; float: FLOAT; double: DOUBLE; boolean: BOOLEAN; string: BYTE_ARRAY
//     annotated STRING; bytes: BYTE_ARRAY.
//   - Decimal: DECIMAL(precision, scale), precision from the
//     connect.decimal.precision parameter (64 without it, as Confluent's
//     AvroData assumes), stored as INT32 up to precision 9, INT64 up to 18,
//     else BYTE_ARRAY (big-endian two's complement). A scale below 0 or above
//     the precision cannot be written in Parquet and is refused.
//   - Date and io.debezium.time.Date: DATE. Time: TIME(MILLIS);
//     io.debezium.time.Time, MicroTime and NanoTime: TIME(MILLIS|MICROS|NANOS);
//     all with isAdjustedToUTC=false, a time of day (DuckDB: TIME).
//   - Timestamp: TIMESTAMP(MILLIS, isAdjustedToUTC=true), an instant (DuckDB:
//     TIMESTAMP WITH TIME ZONE). io.debezium.time.Timestamp, MicroTimestamp
//     and NanoTimestamp: TIMESTAMP(MILLIS|MICROS|NANOS, isAdjustedToUTC=false):
//     Debezium gives them to columns without a time zone, whose value is a
//     local date and time (DuckDB: TIMESTAMP).
//   - io.debezium.time.ZonedTimestamp (and the other string-based Debezium
//     types): STRING, as Debezium writes them.
//   - io.debezium.data.VariableScaleDecimal: STRING in plain notation
//     ("-12.340"): each value has its own scale, which no DECIMAL column
//     holds, and the string keeps it (CAST it to a DECIMAL in a query).
//   - struct: a group with the fields in their order (a Debezium envelope's
//     before, after and source become nested groups); array: LIST; map:
//     MAP (its keys required: a null key is refused).
//   - optional: OPTIONAL; otherwise REQUIRED. A null in a required field
//     takes the schema's default, else it is refused.
//
// A value whose schema is not a struct is written as a one-column file,
// the column named "value".
//
// A Codec, and the Schemas it returns, serve one goroutine at a time.
package parquet

import (
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// PrecisionParam is the Connect schema parameter holding a Decimal's
// precision, as Confluent's AvroConverter and Debezium set it.
const PrecisionParam = "connect.decimal.precision"

// defaultPrecision is a Decimal's precision without PrecisionParam, as
// Confluent's AvroData assumes it.
const defaultPrecision = 64

// ValueColumn names the one column of a file whose records' schema is not
// a struct.
const ValueColumn = "value"

// cacheSize bounds the schemas a Codec keeps.
const cacheSize = 256

// Codec converts Connect schemas to Parquet and caches the result by
// schema pointer. It is not safe for concurrent use.
type Codec struct {
	byConnect map[*connectors.Schema]*Schema
}

// New returns a Codec.
func New() *Codec { return &Codec{byConnect: map[*connectors.Schema]*Schema{}} }

// Schema is the Parquet form of one Connect schema, with what AppendRow
// needs to turn that schema's values into rows. It is not safe for
// concurrent use (AppendRow reuses buffers of its own).
type Schema struct {
	connect *connectors.Schema
	schema  *pq.Schema
	root    *node
	ncols   int
	cols    [][]pq.Value // per leaf column, while a row is built
	arena   []byte       // bytes the values of the row being built point into
}

// Schema returns the Parquet form of cs; an error is a *codec.DataError
// naming the field that has no Parquet form.
func (c *Codec) Schema(cs *connectors.Schema) (*Schema, error) {
	if s, ok := c.byConnect[cs]; ok {
		return s, nil
	}
	s, err := NewSchema(cs)
	if err != nil {
		return nil, err
	}
	if len(c.byConnect) >= cacheSize {
		clear(c.byConnect)
	}
	c.byConnect[cs] = s
	return s, nil
}

// NewSchema maps cs to Parquet without a cache.
func NewSchema(cs *connectors.Schema) (*Schema, error) {
	if cs == nil {
		return nil, codec.Errorf("the Parquet format needs a value schema; this record has none")
	}
	b := &builder{}
	var root *node
	var err error
	if cs.Type == connectors.Struct {
		root, err = b.structNode(cs, 0, 0)
	} else {
		// Not a struct: a one-column file.
		wrapper := connectors.NewStruct("", false, connectors.Opt(ValueColumn, cs))
		root, err = b.structNode(wrapper, 0, 0)
		if err == nil {
			root.wrapped = true
		}
	}
	if err != nil {
		return nil, err
	}
	if b.cols > pq.MaxColumnIndex+1 {
		return nil, codec.Errorf("schema has %d leaf columns, more than the %d a Parquet file of parquet-go holds", b.cols, pq.MaxColumnIndex+1)
	}
	name := cs.Name
	if name == "" {
		name = "connect_default"
	}
	s := &Schema{connect: cs, root: root, ncols: b.cols}
	s.schema = pq.NewSchema(name, root.pq)
	s.cols = make([][]pq.Value, b.cols)
	return s, nil
}

// Parquet returns the Parquet schema.
func (s *Schema) Parquet() *pq.Schema { return s.schema }

// Connect returns the Connect schema s was made of.
func (s *Schema) Connect() *connectors.Schema { return s.connect }

// kind is what a node is written as.
type kind uint8

const (
	kBoolean kind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kString
	kBytes
	kDecimal
	kDate       // Connect Date: time.Time
	kTime       // Connect Time: time.Time, millis of the day
	kTimestamp  // Connect Timestamp: time.Time, epoch millis
	kVarDecimal // Debezium VariableScaleDecimal struct, as a string
	kStruct
	kList
	kMap
)

// node is one Connect schema in the Parquet tree: its levels and, for a
// leaf, its column.
type node struct {
	kind     kind
	s        *connectors.Schema
	pq       pq.Node
	optional bool
	// def is the definition level of a present value of this node; rep is
	// the repetition level of the innermost repeated node above it (a
	// list's or map's repeated group counts for its items).
	def, rep int
	// col is a leaf's column; first and end are the leaf columns under
	// the node.
	col, first, end int
	// decimal: bound is 10^precision
	scale, precision int32
	bound            *big.Int
	// struct fields, list element, map key and value
	fields     []*node
	elem       *node
	key, value *node
	wrapped    bool // the root of a non-struct value
}

type builder struct{ cols int }

// build maps s found at definition level def and repetition level rep
// (those of its parent).
func (b *builder) build(s *connectors.Schema, def, rep int) (*node, error) {
	if s == nil {
		return nil, codec.Errorf("schema is nil")
	}
	if s.Optional {
		def++
	}
	if def > pq.MaxDefinitionLevel || rep > pq.MaxRepetitionLevel {
		return nil, codec.Errorf("schema nests optional fields, arrays and maps more than %d deep, more than Parquet's levels hold", pq.MaxDefinitionLevel)
	}
	var n *node
	var err error
	switch s.Type {
	case connectors.Struct:
		if s.Name == cdc.VariableScaleDecimalName {
			n = b.leaf(kVarDecimal, pq.String())
			break
		}
		if n, err = b.structNode(s, def, rep); err != nil {
			return nil, err
		}
	case connectors.Array:
		if s.Items == nil {
			return nil, codec.Errorf("array schema has no Items schema")
		}
		first := b.cols
		// list (def+1 when the list has an element) > element.
		elem, err := b.build(s.Items, def+1, rep+1)
		if err != nil {
			return nil, codec.InIndex(err, 0)
		}
		n = &node{kind: kList, pq: pq.List(elem.pq), elem: elem, first: first, end: b.cols}
	case connectors.Map:
		if s.Keys == nil || s.Values == nil {
			return nil, codec.Errorf("map schema needs Keys and Values schemas")
		}
		first := b.cols
		// Parquet map keys are required.
		ks := *s.Keys
		ks.Optional = false
		key, err := b.build(&ks, def+1, rep+1)
		if err != nil {
			return nil, codec.InField(err, "(key)")
		}
		val, err := b.build(s.Values, def+1, rep+1)
		if err != nil {
			return nil, codec.InField(err, "(value)")
		}
		n = &node{kind: kMap, pq: pq.Map(key.pq, val.pq), key: key, value: val, first: first, end: b.cols}
	default:
		if n, err = b.primitive(s); err != nil {
			return nil, err
		}
	}
	n.s, n.def, n.rep, n.optional = s, def, rep, s.Optional
	if s.Optional {
		n.pq = pq.Optional(n.pq)
	} else if s.Type != connectors.Map && s.Type != connectors.Array {
		n.pq = pq.Required(n.pq)
	}
	return n, nil
}

func (b *builder) structNode(s *connectors.Schema, def, rep int) (*node, error) {
	if len(s.Fields) == 0 {
		return nil, codec.Errorf("struct %s has no fields; Parquet has no empty groups", schemaLabel(s))
	}
	n := &node{kind: kStruct, first: b.cols}
	g := &group{fields: make([]pq.Field, 0, len(s.Fields))}
	for _, f := range s.Fields {
		c, err := b.build(f.Schema, def, rep)
		if err != nil {
			return nil, codec.InField(err, f.Name)
		}
		n.fields = append(n.fields, c)
		g.fields = append(g.fields, &field{Node: c.pq, name: f.Name})
	}
	n.pq, n.end, n.s = g, b.cols, s
	return n, nil
}

func (b *builder) leaf(k kind, p pq.Node) *node {
	// Past MaxColumnIndex, NewSchema refuses the schema.
	n := &node{kind: k, pq: p, col: b.cols, first: b.cols, end: b.cols + 1}
	b.cols++
	return n
}

// primitive maps a schema of a primitive type, by its name first.
func (b *builder) primitive(s *connectors.Schema) (*node, error) {
	switch s.Name {
	case connectors.DecimalName:
		if s.Type != connectors.Bytes {
			break
		}
		scale, precision, err := decimalParams(s)
		if err != nil {
			return nil, err
		}
		var t pq.Type
		switch {
		case precision <= 9:
			t = pq.Int32Type
		case precision <= 18:
			t = pq.Int64Type
		default:
			t = pq.ByteArrayType
		}
		n := b.leaf(kDecimal, pq.Decimal(int(scale), int(precision), t))
		n.scale, n.precision = scale, precision
		n.bound = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(precision)), nil)
		return n, nil
	case connectors.DateName, cdc.DateName:
		if s.Type != connectors.Int32 {
			break
		}
		if s.Name == connectors.DateName {
			return b.leaf(kDate, pq.Date()), nil
		}
		return b.leaf(kInt32, pq.Date()), nil
	case connectors.TimeName:
		if s.Type == connectors.Int32 {
			return b.leaf(kTime, pq.TimeAdjusted(pq.Millisecond, false)), nil
		}
	case cdc.TimeName:
		if s.Type == connectors.Int32 {
			return b.leaf(kInt32, pq.TimeAdjusted(pq.Millisecond, false)), nil
		}
	case cdc.MicroTimeName, cdc.NanoTimeName:
		if s.Type == connectors.Int64 {
			u := pq.Microsecond
			if s.Name == cdc.NanoTimeName {
				u = pq.Nanosecond
			}
			return b.leaf(kInt64, pq.TimeAdjusted(u, false)), nil
		}
	case connectors.TimestampName:
		if s.Type == connectors.Int64 {
			return b.leaf(kTimestamp, pq.TimestampAdjusted(pq.Millisecond, true)), nil
		}
	case cdc.TimestampName, cdc.MicroTimestampName, cdc.NanoTimestampName:
		if s.Type == connectors.Int64 {
			u := pq.Millisecond
			switch s.Name {
			case cdc.MicroTimestampName:
				u = pq.Microsecond
			case cdc.NanoTimestampName:
				u = pq.Nanosecond
			}
			return b.leaf(kInt64, pq.TimestampAdjusted(u, false)), nil
		}
	}
	switch s.Type {
	case connectors.Boolean:
		return b.leaf(kBoolean, pq.Leaf(pq.BooleanType)), nil
	case connectors.Int8:
		return b.leaf(kInt8, pq.Int(8)), nil
	case connectors.Int16:
		return b.leaf(kInt16, pq.Int(16)), nil
	case connectors.Int32:
		return b.leaf(kInt32, pq.Leaf(pq.Int32Type)), nil
	case connectors.Int64:
		return b.leaf(kInt64, pq.Leaf(pq.Int64Type)), nil
	case connectors.Float32:
		return b.leaf(kFloat32, pq.Leaf(pq.FloatType)), nil
	case connectors.Float64:
		return b.leaf(kFloat64, pq.Leaf(pq.DoubleType)), nil
	case connectors.String:
		return b.leaf(kString, pq.String()), nil
	case connectors.Bytes:
		return b.leaf(kBytes, pq.Leaf(pq.ByteArrayType)), nil
	}
	return nil, codec.Errorf("unsupported schema type %q%s", s.Type, codec.SchemaSuffix(s))
}

// decimalParams returns the scale and precision of a Decimal schema, and
// refuses what a Parquet DECIMAL cannot hold.
func decimalParams(s *connectors.Schema) (scale, precision int32, err error) {
	p, ok := s.Parameters[connectors.DecimalScaleParam]
	if !ok {
		return 0, 0, codec.Errorf("Decimal schema has no %q parameter", connectors.DecimalScaleParam)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return 0, 0, codec.Errorf("Decimal schema has an invalid %q parameter %q", connectors.DecimalScaleParam, p)
	}
	precision = defaultPrecision
	if p, ok := s.Parameters[PrecisionParam]; ok {
		m, err := strconv.ParseInt(p, 10, 32)
		if err != nil || m < 1 {
			return 0, 0, codec.Errorf("Decimal schema has an invalid %q parameter %q; want a positive integer", PrecisionParam, p)
		}
		precision = int32(m)
	}
	if n < 0 || n > int64(precision) {
		return 0, 0, codec.Errorf("Decimal scale %d does not fit Parquet's DECIMAL(%d, scale), whose scale is between 0 and the precision; write this topic as Avro or JSON, or change the column's type", n, precision)
	}
	return int32(n), precision, nil
}

func schemaLabel(s *connectors.Schema) string {
	if s.Name != "" {
		return strconv.Quote(s.Name)
	}
	return "(unnamed)"
}

// group is a Parquet group whose fields keep the Connect struct's order
// (parquet.Group sorts them by name).
type group struct{ fields []pq.Field }

var _ pq.Node = (*group)(nil)

func (g *group) ID() int { return 0 }
func (g *group) String() string {
	var b strings.Builder
	_ = pq.PrintSchemaIndent(&b, "", g, "", " ")
	return b.String()
}
func (g *group) Type() pq.Type               { return pq.Group{}.Type() }
func (g *group) Optional() bool              { return false }
func (g *group) Repeated() bool              { return false }
func (g *group) Required() bool              { return true }
func (g *group) Leaf() bool                  { return false }
func (g *group) Fields() []pq.Field          { return g.fields }
func (g *group) Encoding() encoding.Encoding { return nil }
func (g *group) Compression() compress.Codec { return nil }

// GoType is a map: rows are built by AppendRow, never from Go values by
// reflection.
func (g *group) GoType() reflect.Type { return reflect.TypeFor[map[string]any]() }

type field struct {
	pq.Node
	name string
}

func (f *field) Name() string { return f.name }

// Value looks the field up in a map, the Go type of group.
func (f *field) Value(base reflect.Value) reflect.Value {
	if base.Kind() == reflect.Interface {
		base = base.Elem()
	}
	if base.Kind() != reflect.Map {
		return reflect.Value{}
	}
	return base.MapIndex(reflect.ValueOf(f.name))
}

// PrintSchema writes s's Parquet schema in Parquet's text form.
func (s *Schema) PrintSchema(w io.Writer) error {
	return pq.PrintSchema(w, s.schema.Name(), s.root.pq)
}

func (s *Schema) String() string {
	var b strings.Builder
	_ = s.PrintSchema(&b)
	return b.String()
}

var _ fmt.Stringer = (*Schema)(nil)
