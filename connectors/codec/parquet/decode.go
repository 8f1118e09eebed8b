package parquet

import (
	"bytes"
	"math/big"
	"time"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// SchemaMetadataKey is the key of the Parquet file's key-value metadata
// under which the S3 sink keeps the Connect schema of the file's values in
// its Connect JSON form (connectjson's AppendSchema). The Parquet schema
// alone does not say everything a Connect schema does (names, versions,
// parameters, defaults, which of Date and io.debezium.time.Date a DATE
// column was), so a reader that wants the records back as they were
// written reads the schema from there and the rows with Value.
const SchemaMetadataKey = "sluice.connect.schema"

// Value returns the Connect value of row, a row written by AppendRow of a
// Schema made of the same Connect schema: the inverse of AppendRow. A row
// that does not have the schema's shape is a *codec.DataError. The value
// does not retain row (strings and bytes are copied).
//
// What AppendRow does not keep does not come back: a null in a required
// field with a default comes back as the default, an empty list or map of
// an optional field as an empty one, a VariableScaleDecimal with a
// negative scale with scale 0, and times in UTC.
func (s *Schema) Value(row pq.Row) (any, error) {
	d := decoder{cols: make([][]pq.Value, s.ncols), pos: make([]int, s.ncols)}
	for _, v := range row {
		c := v.Column()
		if c < 0 || c >= s.ncols {
			return nil, codec.Errorf("row has a value of column %d; the schema has %d columns", c, s.ncols)
		}
		d.cols[c] = append(d.cols[c], v)
	}
	var v any
	var err error
	if s.root.wrapped {
		v, err = d.read(s.root.fields[0])
	} else {
		v, err = d.readStruct(s.root)
	}
	if err != nil {
		return nil, err
	}
	for c := range d.cols {
		if d.pos[c] != len(d.cols[c]) {
			return nil, codec.Errorf("row has %d values in column %d; the schema's value used %d", len(d.cols[c]), c, d.pos[c])
		}
	}
	return v, nil
}

// decoder walks the values of one row, column by column.
type decoder struct {
	cols [][]pq.Value
	pos  []int
}

// peek returns the next value of column c.
func (d *decoder) peek(c int) (pq.Value, bool) {
	if d.pos[c] >= len(d.cols[c]) {
		return pq.Value{}, false
	}
	return d.cols[c][d.pos[c]], true
}

// skip moves every column under n past one value (a null or an empty list
// or map written by nulls).
func (d *decoder) skip(n *node) {
	for c := n.first; c < n.end; c++ {
		d.pos[c]++
	}
}

func (d *decoder) read(n *node) (any, error) {
	lead, ok := d.peek(n.first)
	if !ok {
		return nil, codec.Errorf("row ends before a value of column %d", n.first)
	}
	if n.optional && lead.DefinitionLevel() < n.def {
		d.skip(n)
		return nil, nil
	}
	switch n.kind {
	case kStruct:
		return d.readStruct(n)
	case kList:
		items := []any{}
		if lead.DefinitionLevel() == n.def {
			d.skip(n)
			return items, nil
		}
		for i := 0; ; i++ {
			e, err := d.read(n.elem)
			if err != nil {
				return nil, codec.InIndex(err, i)
			}
			items = append(items, e)
			if next, ok := d.peek(n.first); !ok || next.RepetitionLevel() != n.elem.rep {
				return items, nil
			}
		}
	case kMap:
		entries := []connectors.MapEntry{}
		if lead.DefinitionLevel() == n.def {
			d.skip(n)
			return entries, nil
		}
		for {
			k, err := d.read(n.key)
			if err != nil {
				return nil, codec.InField(err, "(key)")
			}
			v, err := d.read(n.value)
			if err != nil {
				return nil, codec.InKey(err, k)
			}
			entries = append(entries, connectors.MapEntry{Key: k, Value: v})
			if next, ok := d.peek(n.first); !ok || next.RepetitionLevel() != n.key.rep {
				return entries, nil
			}
		}
	}
	d.pos[n.col]++
	return leafValue(n, lead)
}

func (d *decoder) readStruct(n *node) (any, error) {
	sv := connectors.NewStructValue(n.s)
	for i, f := range n.fields {
		v, err := d.read(f)
		if err != nil {
			return nil, codec.InField(err, n.s.Fields[i].Name)
		}
		sv.Values[i] = v
	}
	return sv, nil
}

// leafValue converts a leaf column's value back to its Connect value.
func leafValue(n *node, v pq.Value) (any, error) {
	switch n.kind {
	case kBoolean:
		return v.Boolean(), nil
	case kInt8:
		return int8(v.Int32()), nil
	case kInt16:
		return int16(v.Int32()), nil
	case kInt32:
		return v.Int32(), nil
	case kInt64:
		return v.Int64(), nil
	case kFloat32:
		return v.Float(), nil
	case kFloat64:
		return v.Double(), nil
	case kString:
		return string(v.ByteArray()), nil
	case kBytes:
		return bytes.Clone(v.ByteArray()), nil
	case kDate:
		return time.UnixMilli(int64(v.Int32()) * msPerDay).UTC(), nil
	case kTime:
		return time.UnixMilli(int64(v.Int32())).UTC(), nil
	case kTimestamp:
		return time.UnixMilli(v.Int64()).UTC(), nil
	case kDecimal:
		var u *big.Int
		switch {
		case n.precision <= 9:
			u = big.NewInt(int64(v.Int32()))
		case n.precision <= 18:
			u = big.NewInt(v.Int64())
		default:
			u = fromTwosComplement(v.ByteArray())
		}
		return connectors.Decimal{Unscaled: u, Scale: n.scale}, nil
	case kVarDecimal:
		dec, err := connectors.ParseDecimal(string(v.ByteArray()))
		if err != nil {
			return nil, codec.Errorf("VariableScaleDecimal column: %v", err)
		}
		sv := connectors.NewStructValue(n.s)
		sv.Set("scale", dec.Scale)
		sv.Set("value", appendTwosComplement(nil, dec.Unscaled))
		return sv, nil
	}
	return nil, codec.Errorf("no Connect value for a column of schema type %s%s", n.s.Type, codec.SchemaSuffix(n.s))
}
