package avro

import (
	"encoding/binary"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"math"
	"math/big"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// reader reads Avro binary from a byte slice. Every read checks the
// length left, so truncated or hostile input ends in a *DataError, never
// a panic or a huge allocation.
type reader struct {
	b   []byte
	pos int
}

func errTruncated() error {
	return codec.Errorf("Avro data ends early (truncated, or written with another schema)")
}

func (r *reader) long() (int64, error) {
	v, n := binary.Varint(r.b[r.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, errTruncated()
		}
		return 0, codec.Errorf("malformed Avro long at byte %d", r.pos)
	}
	r.pos += n
	return v, nil
}

func (r *reader) int() (int32, error) {
	v, err := r.long()
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, codec.Errorf("Avro int %d at byte %d is out of range", v, r.pos)
	}
	return int32(v), nil
}

func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, errTruncated()
	}
	out := r.b[r.pos : r.pos+n]
	r.pos += n
	return out, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.pos) {
		return nil, codec.Errorf("Avro length %d at byte %d runs past the end of the data", n, r.pos)
	}
	return r.next(int(n))
}

// count reads a block count; a negative count is followed by the block's
// size in bytes. zero says an item may take no bytes, so the count cannot
// be checked against the length left.
func (r *reader) count(zero bool) (int, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, codec.Errorf("malformed Avro block count at byte %d", r.pos)
		}
		n = -n
		if _, err := r.long(); err != nil {
			return 0, err
		}
	}
	limit := int64(len(r.b) - r.pos)
	if zero {
		limit = maxZeroItems
	}
	if n > limit {
		return 0, codec.Errorf("Avro block of %d items at byte %d cannot fit in the %d bytes left", n, r.pos, len(r.b)-r.pos)
	}
	return int(n), nil
}

// maxZeroItems bounds a block of items that take no bytes each.
const maxZeroItems = 1 << 20

// decode reads a value of n's schema.
func (n *node) decode(r *reader) (any, error) {
	switch n.kind {
	case kNullUnion:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		switch int(i) {
		case n.nullIndex:
			return nil, nil
		case n.valueIndex:
			return n.value.decode(r)
		}
		return nil, codec.Errorf("union index %d is out of range", i)
	case kInt8:
		v, err := r.int()
		if err != nil {
			return nil, err
		}
		if v < math.MinInt8 || v > math.MaxInt8 {
			return nil, codec.Errorf("%d is out of range for int8", v)
		}
		return int8(v), nil
	case kInt16:
		v, err := r.int()
		if err != nil {
			return nil, err
		}
		if v < math.MinInt16 || v > math.MaxInt16 {
			return nil, codec.Errorf("%d is out of range for int16", v)
		}
		return int16(v), nil
	case kInt32:
		return r.int()
	case kInt64:
		return r.long()
	case kDate:
		v, err := r.int()
		if err != nil {
			return nil, err
		}
		return time.Unix(int64(v)*86400, 0).UTC(), nil
	case kTime:
		v, err := r.int()
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(int64(v)).UTC(), nil
	case kTimestamp:
		v, err := r.long()
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(v).UTC(), nil
	case kFloat32:
		raw, err := r.next(4)
		if err != nil {
			return nil, err
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(raw)), nil
	case kFloat64:
		raw, err := r.next(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(raw)), nil
	case kBoolean:
		raw, err := r.next(1)
		if err != nil {
			return nil, err
		}
		if raw[0] > 1 {
			return nil, codec.Errorf("boolean byte is %d, want 0 or 1", raw[0])
		}
		return raw[0] == 1, nil
	case kString:
		raw, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return string(raw), nil
	case kEnum:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= int64(len(n.symbols)) {
			return nil, codec.Errorf("enum index %d is out of range (%d symbols)", i, len(n.symbols))
		}
		return n.symbols[i], nil
	case kBytes, kFixed, kDecimal:
		var raw []byte
		var err error
		if n.size > 0 {
			raw, err = r.next(n.size)
		} else {
			raw, err = r.bytes()
		}
		if err != nil {
			return nil, err
		}
		if n.kind == kDecimal {
			return connectors.Decimal{Unscaled: fromTwosComplement(raw), Scale: n.scale}, nil
		}
		return append([]byte{}, raw...), nil
	case kArray:
		var out []any
		for {
			c, err := r.count(n.items.zero)
			if err != nil {
				return nil, err
			}
			if c == 0 {
				break
			}
			if out == nil {
				out = make([]any, 0, c)
			}
			for range c {
				v, err := n.items.decode(r)
				if err != nil {
					return nil, codec.InIndex(err, len(out))
				}
				out = append(out, v)
			}
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	case kMap, kEntryMap:
		return n.decodeMap(r)
	case kStruct:
		v := connectors.NewStructValue(n.s)
		for i, f := range n.fields {
			x, err := f.decode(r)
			if err != nil {
				return nil, codec.InField(err, n.s.Fields[n.index[i]].Name)
			}
			v.Values[n.index[i]] = x
		}
		return v, nil
	case kUnion:
		i, err := r.long()
		if err != nil {
			return nil, err
		}
		if int(i) == n.unionNull {
			return nil, nil
		}
		m := int(i) - n.memberBase
		if m < 0 || m >= len(n.members) {
			return nil, codec.Errorf("union index %d is out of range", i)
		}
		x, err := n.members[m].decode(r)
		if err != nil {
			return nil, codec.InField(err, n.s.Fields[m].Name)
		}
		v := connectors.NewStructValue(n.s)
		v.Values[m] = x
		return v, nil
	}
	return nil, codec.Errorf("unsupported schema type %q", n.s.Type)
}

func (n *node) decodeMap(r *reader) (any, error) {
	out := []connectors.MapEntry{}
	zero := n.kind == kEntryMap && n.keys.zero && n.items.zero
	for {
		c, err := r.count(zero)
		if err != nil {
			return nil, err
		}
		if c == 0 {
			return out, nil
		}
		for range c {
			var e connectors.MapEntry
			if n.kind == kMap {
				raw, err := r.bytes()
				if err != nil {
					return nil, err
				}
				e.Key = string(raw)
				if e.Value, err = n.items.decode(r); err != nil {
					return nil, codec.InKey(err, e.Key)
				}
			} else {
				if n.keyFirst {
					if e.Key, err = n.keys.decode(r); err != nil {
						return nil, codec.InField(err, "(key)")
					}
				}
				if e.Value, err = n.items.decode(r); err != nil {
					return nil, codec.InKey(err, e.Key)
				}
				if !n.keyFirst {
					if e.Key, err = n.keys.decode(r); err != nil {
						return nil, codec.InField(err, "(key)")
					}
				}
			}
			out = append(out, e)
		}
	}
}

// fromTwosComplement reads big-endian two's complement.
func fromTwosComplement(raw []byte) *big.Int {
	x := new(big.Int).SetBytes(raw)
	if len(raw) > 0 && raw[0]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
	}
	return x
}
