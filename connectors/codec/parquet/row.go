package parquet

import (
	"math/big"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// AppendRow appends the row of v, a value of the Connect schema s was made
// of, to row and returns it; v that does not fit is a *codec.DataError
// naming the field, and row is then returned as it was.
//
// The values of string and decimal columns point into a buffer of s that
// the next AppendRow overwrites, and those of bytes columns into v: write
// the row (parquet.Writer.WriteRows copies it) before the next AppendRow
// on s, and before changing v.
func (s *Schema) AppendRow(row pq.Row, v any) (pq.Row, error) {
	for i := range s.cols {
		s.cols[i] = s.cols[i][:0]
	}
	s.arena = s.arena[:0]
	var err error
	if s.root.wrapped {
		err = s.write(s.root.fields[0], v, 0)
	} else {
		if v == nil {
			return row, codec.Errorf("the value is null; a Parquet row needs a value")
		}
		err = s.writeStruct(s.root, v, 0)
	}
	if err != nil {
		return row, err
	}
	// A row holds the values of each column in column order.
	for _, c := range s.cols {
		row = append(row, c...)
	}
	return row, nil
}

// nulls writes a null at definition level def into every column under n.
func (s *Schema) nulls(n *node, rep, def int) {
	for c := n.first; c < n.end; c++ {
		s.cols[c] = append(s.cols[c], pq.NullValue().Level(rep, def, c))
	}
}

// write writes v, a value of n's schema, whose first value in each column
// takes repetition level rep.
func (s *Schema) write(n *node, v any, rep int) error {
	if v == nil && n.s.Default != nil {
		v = n.s.Default
	}
	if v == nil {
		if !n.optional {
			return codec.Errorf("null in a required field (schema type %s%s is not optional and has no default)", n.s.Type, codec.SchemaSuffix(n.s))
		}
		s.nulls(n, rep, n.def-1)
		return nil
	}
	switch n.kind {
	case kStruct:
		return s.writeStruct(n, v, rep)
	case kList:
		items, ok := v.([]any)
		if !ok {
			return codec.TypeError(n.s, v, "[]any")
		}
		if len(items) == 0 {
			s.nulls(n, rep, n.def)
			return nil
		}
		for i, e := range items {
			r := rep
			if i > 0 {
				r = n.elem.rep
			}
			if err := s.write(n.elem, e, r); err != nil {
				return codec.InIndex(err, i)
			}
		}
		return nil
	case kMap:
		entries, ok := v.([]connectors.MapEntry)
		if !ok {
			return codec.TypeError(n.s, v, "[]connectors.MapEntry")
		}
		if len(entries) == 0 {
			s.nulls(n, rep, n.def)
			return nil
		}
		for i, e := range entries {
			r := rep
			if i > 0 {
				r = n.key.rep
			}
			if e.Key == nil {
				return codec.InKey(codec.Errorf("null map key; Parquet map keys are required"), "(null)")
			}
			if err := s.write(n.key, e.Key, r); err != nil {
				return codec.InKey(err, e.Key)
			}
			if err := s.write(n.value, e.Value, r); err != nil {
				return codec.InKey(err, e.Key)
			}
		}
		return nil
	}
	pv, err := s.leaf(n, v)
	if err != nil {
		return err
	}
	s.cols[n.col] = append(s.cols[n.col], pv.Level(rep, n.def, n.col))
	return nil
}

func (s *Schema) writeStruct(n *node, v any, rep int) error {
	sv, ok := v.(*connectors.StructValue)
	if !ok || sv == nil {
		return codec.TypeError(n.s, v, "*connectors.StructValue")
	}
	if sv.Schema != n.s && sv.Schema != nil && !codec.SchemaEqual(sv.Schema, n.s) || len(sv.Values) != len(n.fields) {
		return codec.Errorf("struct value of schema %s does not match the field's schema %s", schemaLabel(sv.Schema), schemaLabel(n.s))
	}
	for i, f := range n.fields {
		if err := s.write(f, sv.Values[i], rep); err != nil {
			return codec.InField(err, n.s.Fields[i].Name)
		}
	}
	return nil
}

const msPerDay = 24 * 60 * 60 * 1000

// leaf converts a leaf's value.
func (s *Schema) leaf(n *node, v any) (pq.Value, error) {
	switch n.kind {
	case kBoolean:
		if x, ok := v.(bool); ok {
			return pq.BooleanValue(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "bool")
	case kInt8:
		if x, ok := v.(int8); ok {
			return pq.Int32Value(int32(x)), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "int8")
	case kInt16:
		if x, ok := v.(int16); ok {
			return pq.Int32Value(int32(x)), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "int16")
	case kInt32:
		if x, ok := v.(int32); ok {
			return pq.Int32Value(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "int32")
	case kInt64:
		if x, ok := v.(int64); ok {
			return pq.Int64Value(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "int64")
	case kFloat32:
		if x, ok := v.(float32); ok {
			return pq.FloatValue(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "float32")
	case kFloat64:
		if x, ok := v.(float64); ok {
			return pq.DoubleValue(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "float64")
	case kString:
		if x, ok := v.(string); ok {
			return s.str(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "string")
	case kBytes:
		if x, ok := v.([]byte); ok {
			return pq.ByteArrayValue(x), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "[]byte")
	case kDate:
		if x, ok := v.(time.Time); ok {
			return pq.Int32Value(int32(floorDiv(x.UnixMilli(), msPerDay))), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "time.Time")
	case kTime:
		if x, ok := v.(time.Time); ok {
			ms := x.UnixMilli()
			return pq.Int32Value(int32(ms - floorDiv(ms, msPerDay)*msPerDay)), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "time.Time")
	case kTimestamp:
		if x, ok := v.(time.Time); ok {
			return pq.Int64Value(x.UnixMilli()), nil
		}
		return pq.Value{}, codec.TypeError(n.s, v, "time.Time")
	case kDecimal:
		d, ok := v.(connectors.Decimal)
		if !ok {
			return pq.Value{}, codec.TypeError(n.s, v, "connectors.Decimal")
		}
		return s.decimal(n, d)
	case kVarDecimal:
		sv, ok := v.(*connectors.StructValue)
		if !ok || sv == nil {
			return pq.Value{}, codec.TypeError(n.s, v, "*connectors.StructValue with scale and value")
		}
		scale, ok1 := sv.Get("scale").(int32)
		raw, ok2 := sv.Get("value").([]byte)
		if !ok1 || !ok2 {
			return pq.Value{}, codec.Errorf("VariableScaleDecimal needs an int32 scale and bytes value, got %T and %T", sv.Get("scale"), sv.Get("value"))
		}
		d := connectors.Decimal{Unscaled: fromTwosComplement(raw), Scale: scale}
		return s.str(d.String()), nil
	}
	return pq.Value{}, codec.Errorf("no Parquet value for schema type %s%s", n.s.Type, codec.SchemaSuffix(n.s))
}

// str copies x into the arena: a row's values must not point into
// strings the writer could outlive.
func (s *Schema) str(x string) pq.Value {
	start := len(s.arena)
	s.arena = append(s.arena, x...)
	return pq.ByteArrayValue(s.arena[start:len(s.arena):len(s.arena)])
}

var ten = big.NewInt(10)

// maxScaleShift bounds how far a value's scale may be from its column's,
// so that a hostile scale cannot make the codec build enormous numbers.
const maxScaleShift = 10000

// decimal converts d to n's scale and physical type, refusing a value
// that would not fit the column's precision or would lose digits.
func (s *Schema) decimal(n *node, d connectors.Decimal) (pq.Value, error) {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if diff := int64(d.Scale) - int64(n.scale); diff > maxScaleShift || diff < -maxScaleShift {
		return pq.Value{}, codec.Errorf("decimal of scale %d cannot be brought to the schema's scale %d", d.Scale, n.scale)
	}
	if d.Scale != n.scale {
		if d.Scale > n.scale {
			f := new(big.Int).Exp(ten, big.NewInt(int64(d.Scale-n.scale)), nil)
			q, r := new(big.Int).QuoRem(u, f, new(big.Int))
			if r.Sign() != 0 {
				return pq.Value{}, codec.Errorf("decimal %s has more digits after the point than the schema's scale %d", d.String(), n.scale)
			}
			u = q
		} else {
			u = new(big.Int).Mul(u, new(big.Int).Exp(ten, big.NewInt(int64(n.scale-d.Scale)), nil))
		}
	}
	if u.CmpAbs(n.bound) >= 0 {
		return pq.Value{}, codec.Errorf("decimal %s has more than the schema's precision of %d digits", d.String(), n.precision)
	}
	switch {
	case n.precision <= 9:
		return pq.Int32Value(int32(u.Int64())), nil
	case n.precision <= 18:
		return pq.Int64Value(u.Int64()), nil
	}
	start := len(s.arena)
	s.arena = appendTwosComplement(s.arena, u)
	return pq.ByteArrayValue(s.arena[start:len(s.arena):len(s.arena)]), nil
}

// appendTwosComplement appends the shortest big-endian two's complement
// form of x.
func appendTwosComplement(dst []byte, x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		return append(dst, b...)
	}
	// -x-1 >= 0; its bits, inverted, with a leading sign bit.
	m := new(big.Int).Not(x) // -x-1
	n := m.BitLen()/8 + 1
	b := m.FillBytes(make([]byte, n))
	for i := range b {
		b[i] = ^b[i]
	}
	return append(dst, b...)
}

// fromTwosComplement reads a big-endian two's complement integer.
func fromTwosComplement(b []byte) *big.Int {
	x := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return x
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
