package avro

import (
	"encoding/binary"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"math"
	"math/big"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Avro binary is built from two primitives: a long as a zig-zag varint
// (exactly encoding/binary's signed varint; an int is the same), and
// IEEE floats little-endian. They are appended straight to the caller's
// buffer, so an encode allocates nothing of its own.

func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendBytes(b []byte, x []byte) []byte {
	b = binary.AppendVarint(b, int64(len(x)))
	return append(b, x...)
}

func appendString(b []byte, x string) []byte {
	b = binary.AppendVarint(b, int64(len(x)))
	return append(b, x...)
}

// encode appends the Avro binary of v, a value of n's schema.
func (n *node) encode(b []byte, v any) ([]byte, error) {
	s := n.s
	if isNil(v) {
		if s.Default != nil {
			// As Connect's Struct.get: a null field reads as its default.
			v = s.Default
		} else if n.kind == kNullUnion {
			return appendLong(b, int64(n.nullIndex)), nil
		} else if n.kind == kUnion && n.unionNull >= 0 {
			return appendLong(b, int64(n.unionNull)), nil
		} else {
			return b, codec.Errorf("null value for a required %s field without a default", s.Type)
		}
	}
	switch n.kind {
	case kNullUnion:
		b = appendLong(b, int64(n.valueIndex))
		return n.value.encode(b, v)
	case kInt8:
		x, ok := v.(int8)
		if !ok {
			return b, codec.TypeError(s, v, "int8")
		}
		return appendLong(b, int64(x)), nil
	case kInt16:
		x, ok := v.(int16)
		if !ok {
			return b, codec.TypeError(s, v, "int16")
		}
		return appendLong(b, int64(x)), nil
	case kInt32:
		x, ok := v.(int32)
		if !ok {
			return b, codec.TypeError(s, v, "int32")
		}
		return appendLong(b, int64(x)), nil
	case kInt64:
		x, ok := v.(int64)
		if !ok {
			return b, codec.TypeError(s, v, "int64")
		}
		return appendLong(b, x), nil
	case kDate:
		t, ok := v.(time.Time)
		if !ok {
			return b, codec.TypeError(s, v, "time.Time")
		}
		d, err := dateDays(t)
		if err != nil {
			return b, err
		}
		return appendLong(b, d), nil
	case kTime:
		t, ok := v.(time.Time)
		if !ok {
			return b, codec.TypeError(s, v, "time.Time")
		}
		return appendLong(b, timeMillis(t)), nil
	case kTimestamp:
		t, ok := v.(time.Time)
		if !ok {
			return b, codec.TypeError(s, v, "time.Time")
		}
		return appendLong(b, t.UnixMilli()), nil
	case kFloat32:
		x, ok := v.(float32)
		if !ok {
			return b, codec.TypeError(s, v, "float32")
		}
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(x)), nil
	case kFloat64:
		x, ok := v.(float64)
		if !ok {
			return b, codec.TypeError(s, v, "float64")
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)), nil
	case kBoolean:
		x, ok := v.(bool)
		if !ok {
			return b, codec.TypeError(s, v, "bool")
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case kString:
		x, ok := v.(string)
		if !ok {
			return b, codec.TypeError(s, v, "string")
		}
		return appendString(b, x), nil
	case kEnum:
		x, ok := v.(string)
		if !ok {
			return b, codec.TypeError(s, v, "string")
		}
		i, ok := n.symbol[x]
		if !ok {
			return b, codec.Errorf("%q is not a symbol of the enum %s (symbols %q)", x, s.Parameters[enumParam], n.symbols)
		}
		return appendLong(b, int64(i)), nil
	case kBytes:
		x, ok := v.([]byte)
		if !ok {
			return b, codec.TypeError(s, v, "[]byte")
		}
		return appendBytes(b, x), nil
	case kFixed:
		x, ok := v.([]byte)
		if !ok {
			return b, codec.TypeError(s, v, "[]byte")
		}
		if len(x) != n.size {
			return b, codec.Errorf("%d bytes for an Avro fixed of size %d", len(x), n.size)
		}
		return append(b, x...), nil
	case kDecimal:
		return n.encodeDecimal(b, v)
	case kArray:
		x, ok := v.([]any)
		if !ok {
			return b, codec.TypeError(s, v, "[]any")
		}
		if len(x) > 0 {
			b = appendLong(b, int64(len(x)))
			for i, e := range x {
				var err error
				if b, err = n.items.encode(b, e); err != nil {
					return b, codec.InIndex(err, i)
				}
			}
		}
		return append(b, 0), nil
	case kMap, kEntryMap:
		return n.encodeMap(b, v)
	case kStruct:
		x, ok := v.(*connectors.StructValue)
		if !ok {
			if l, ok := v.(connectors.LazyStruct); ok {
				return n.encodeLazy(b, l)
			}
			return b, codec.TypeError(s, v, "*connectors.StructValue")
		}
		if x.Schema != s && !sameStruct(x.Schema, s) {
			return b, codec.Errorf("struct value's schema %q differs from the field's schema %q", schemaLabel(x.Schema), schemaLabel(s))
		}
		if len(x.Values) != len(s.Fields) {
			return b, codec.Errorf("struct value has %d values for %d fields", len(x.Values), len(s.Fields))
		}
		for i, f := range n.fields {
			var err error
			j := n.index[i]
			if b, err = f.encode(b, x.Values[j]); err != nil {
				return b, codec.InField(err, s.Fields[j].Name)
			}
		}
		return b, nil
	case kUnion:
		x, ok := v.(*connectors.StructValue)
		if !ok {
			return b, codec.TypeError(s, v, "*connectors.StructValue")
		}
		for i, e := range x.Values {
			if isNil(e) || i >= len(n.members) {
				continue
			}
			b = appendLong(b, int64(n.memberBase+i))
			var err error
			if b, err = n.members[i].encode(b, e); err != nil {
				return b, codec.InField(err, s.Fields[i].Name)
			}
			return b, nil
		}
		if n.unionNull >= 0 {
			return appendLong(b, int64(n.unionNull)), nil
		}
		return b, codec.Errorf("union has no member set and does not allow null")
	}
	return b, codec.Errorf("unsupported schema type %q", s.Type)
}

func (n *node) encodeMap(b []byte, v any) ([]byte, error) {
	entries, ok := v.([]connectors.MapEntry)
	if !ok {
		var err error
		if entries, err = mapEntries(n.s, v); err != nil {
			return b, err
		}
	}
	if len(entries) == 0 {
		return append(b, 0), nil
	}
	b = appendLong(b, int64(len(entries)))
	var err error
	for _, e := range entries {
		if n.kind == kMap {
			k, ok := e.Key.(string)
			if !ok {
				return b, codec.InKey(codec.TypeError(n.s.Keys, e.Key, "string"), e.Key)
			}
			b = appendString(b, k)
			if b, err = n.items.encode(b, e.Value); err != nil {
				return b, codec.InKey(err, k)
			}
			continue
		}
		if n.keyFirst {
			if b, err = n.keys.encode(b, e.Key); err != nil {
				return b, codec.InKey(err, e.Key)
			}
		}
		if b, err = n.items.encode(b, e.Value); err != nil {
			return b, codec.InKey(err, e.Key)
		}
		if !n.keyFirst {
			if b, err = n.keys.encode(b, e.Key); err != nil {
				return b, codec.InKey(err, e.Key)
			}
		}
	}
	return append(b, 0), nil
}

// encodeDecimal writes a Decimal's unscaled value at the schema's scale,
// as big-endian two's complement in the fewest bytes (Java's
// BigInteger.toByteArray). Values that fit an int64 take no allocation.
func (n *node) encodeDecimal(b []byte, v any) ([]byte, error) {
	d, ok := v.(connectors.Decimal)
	if !ok {
		return b, codec.TypeError(n.s, v, "connectors.Decimal")
	}
	if d.Scale == n.scale && (d.Unscaled == nil || d.Unscaled.IsInt64()) {
		var x int64
		if d.Unscaled != nil {
			x = d.Unscaled.Int64()
		}
		var tmp [8]byte
		binary.BigEndian.PutUint64(tmp[:], uint64(x))
		i := 0
		// Drop leading bytes that only repeat the sign.
		for i < 7 && ((tmp[i] == 0 && tmp[i+1]&0x80 == 0) || (tmp[i] == 0xff && tmp[i+1]&0x80 != 0)) {
			i++
		}
		return n.appendRaw(b, tmp[i:])
	}
	u, err := rescale(d, n.scale)
	if err != nil {
		return b, err
	}
	return n.appendRaw(b, appendTwosComplement(nil, u))
}

func (n *node) appendRaw(b, raw []byte) ([]byte, error) {
	if n.size == 0 {
		return appendBytes(b, raw), nil
	}
	if len(raw) > n.size {
		return b, codec.Errorf("decimal needs %d bytes, more than the Avro fixed's %d", len(raw), n.size)
	}
	pad := byte(0)
	if raw[0]&0x80 != 0 {
		pad = 0xff
	}
	for i := len(raw); i < n.size; i++ {
		b = append(b, pad)
	}
	return append(b, raw...), nil
}

// appendTwosComplement appends x as big-endian two's complement in the
// fewest bytes that keep the sign.
func appendTwosComplement(b []byte, x *big.Int) []byte {
	switch x.Sign() {
	case 0:
		return append(b, 0)
	case 1:
		raw := x.Bytes()
		if raw[0]&0x80 != 0 {
			b = append(b, 0)
		}
		return append(b, raw...)
	}
	// -x-1 in one's complement is x in two's complement.
	m := new(big.Int).Neg(x)
	m.Sub(m, big.NewInt(1))
	raw := m.Bytes()
	if len(raw) == 0 || raw[0]&0x80 != 0 {
		b = append(b, 0xff)
	}
	for _, c := range raw {
		b = append(b, ^c)
	}
	return b
}

// isNil reports a null value: nil, or a nil slice, map or struct pointer
// of the types a schema allows.
func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []byte:
		return x == nil
	case []any:
		return x == nil
	case []connectors.MapEntry:
		return x == nil
	case map[string]any:
		return x == nil
	case *connectors.StructValue:
		return x == nil
	}
	return false
}

func schemaLabel(s *connectors.Schema) string {
	if s == nil {
		return "<nil>"
	}
	if s.Name != "" {
		return s.Name
	}
	return string(s.Type)
}

// sameStruct reports whether a struct value's schema fits a field's: equal
// apart from whether it is optional and its default (a default struct
// value is built with the schema that lacks the default).
func sameStruct(a, b *connectors.Schema) bool {
	if a == nil {
		return false
	}
	c := *a
	c.Optional, c.Default = b.Optional, b.Default
	return codec.SchemaEqual(&c, b)
}
