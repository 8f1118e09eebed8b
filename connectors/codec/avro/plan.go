package avro

import (
	"fmt"
	"github.com/sluice-cdc/sluice/connectors/codec"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// kind is what a node encodes, with the logical type folded in, so that
// the per-record path dispatches on a small integer.
type kind uint8

const (
	kInvalid kind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBoolean
	kString
	kEnum
	kBytes
	kFixed
	kDate
	kTime
	kTimestamp
	kDecimal
	kArray
	kMap       // an Avro map: string keys
	kEntryMap  // an array of key/value records
	kStruct    // a record
	kUnion     // a Connect struct standing for an Avro union
	kNullUnion // an optional value: a union of null and one other type
)

// node is one Connect schema paired with the Avro schema it is written
// as: the plan both encoding and decoding follow. Nodes are built once per
// compiled schema and only read afterwards.
type node struct {
	s    *connectors.Schema
	kind kind

	// kNullUnion: the union index of null and of the value.
	nullIndex, valueIndex int
	value                 *node

	scale int32 // kDecimal
	size  int   // kFixed (and a fixed kDecimal)

	symbols []string       // kEnum
	symbol  map[string]int // kEnum

	// kStruct: the record's fields in Avro order, and the Connect field
	// index of each.
	fields []*node
	index  []int
	// inOrder: the Avro fields are the Connect fields in their order, so
	// a lazy struct's fields are written as it visits them.
	inOrder bool

	items      *node // kArray items, kMap and kEntryMap values
	keys       *node // kEntryMap keys
	keyFirst   bool  // kEntryMap: the key field comes first in the record
	members    []*node
	memberBase int // kUnion: the union index of the first member (1 when null comes first)
	unionNull  int // kUnion: the union index of null, or -1

	// zero: a value can be written in no bytes (a record without
	// fields), so a count of them says nothing about the input's length.
	zero bool
}

type pair struct {
	a hamba.Schema
	c *connectors.Schema
}

// compiler builds the nodes of one schema; memo shares the node of a
// pair met twice (the before and after of an envelope) and ends cycles.
type compiler struct {
	memo map[pair]*node
}

func compile(a hamba.Schema, c *connectors.Schema) (*node, error) {
	k := &compiler{memo: map[pair]*node{}}
	return k.node(a, c)
}

func deref(a hamba.Schema) hamba.Schema {
	for {
		r, ok := a.(*hamba.RefSchema)
		if !ok {
			return a
		}
		a = r.Schema()
	}
}

func (k *compiler) node(a hamba.Schema, c *connectors.Schema) (*node, error) {
	a = deref(a)
	if c == nil {
		return nil, codec.Errorf("schema is nil")
	}
	p := pair{a, c}
	if n, ok := k.memo[p]; ok {
		return n, nil
	}
	n := &node{s: c}
	k.memo[p] = n
	if err := k.fill(n, a, c); err != nil {
		delete(k.memo, p)
		return nil, err
	}
	return n, nil
}

func mismatch(a hamba.Schema, c *connectors.Schema) error {
	return codec.Errorf("Avro type %s does not fit Connect type %s%s", a.Type(), c.Type, codec.SchemaSuffix(c))
}

func (k *compiler) fill(n *node, a hamba.Schema, c *connectors.Schema) error {
	if u, ok := a.(*hamba.UnionSchema); ok {
		return k.union(n, u, c)
	}
	if c.Type == connectors.Struct && c.Name == unionName {
		// A single-member union struct over a non-union Avro type cannot
		// happen from our own mapping.
		return mismatch(a, c)
	}
	t := a.Type()
	switch c.Type {
	case connectors.Int8, connectors.Int16, connectors.Int32:
		if t != hamba.Int {
			return mismatch(a, c)
		}
		switch {
		case c.Type == connectors.Int8:
			n.kind = kInt8
		case c.Type == connectors.Int16:
			n.kind = kInt16
		case c.Name == connectors.DateName:
			n.kind = kDate
		case c.Name == connectors.TimeName:
			n.kind = kTime
		default:
			n.kind = kInt32
		}
	case connectors.Int64:
		if t != hamba.Long {
			return mismatch(a, c)
		}
		n.kind = kInt64
		if c.Name == connectors.TimestampName {
			n.kind = kTimestamp
		}
	case connectors.Float32:
		if t != hamba.Float {
			return mismatch(a, c)
		}
		n.kind = kFloat32
	case connectors.Float64:
		if t != hamba.Double {
			return mismatch(a, c)
		}
		n.kind = kFloat64
	case connectors.Boolean:
		if t != hamba.Boolean {
			return mismatch(a, c)
		}
		n.kind = kBoolean
	case connectors.String:
		switch t {
		case hamba.String:
			n.kind = kString
		case hamba.Enum:
			n.kind = kEnum
			n.symbols = a.(*hamba.EnumSchema).Symbols()
			n.symbol = make(map[string]int, len(n.symbols))
			for i, s := range n.symbols {
				n.symbol[s] = i
			}
		default:
			return mismatch(a, c)
		}
	case connectors.Bytes:
		switch t {
		case hamba.Bytes:
			n.kind = kBytes
		case hamba.Fixed:
			n.kind = kFixed
			n.size = a.(*hamba.FixedSchema).Size()
		default:
			return mismatch(a, c)
		}
		if c.Name == connectors.DecimalName {
			scale, _, err := decimalParams(c)
			if err != nil {
				return err
			}
			n.scale = scale
			n.kind = kDecimal
		}
	case connectors.Array:
		arr, ok := a.(*hamba.ArraySchema)
		if !ok || c.Items == nil {
			return mismatch(a, c)
		}
		n.kind = kArray
		var err error
		if n.items, err = k.node(arr.Items(), c.Items); err != nil {
			return codec.InIndex(err, 0)
		}
	case connectors.Map:
		if c.Keys == nil || c.Values == nil {
			return codec.Errorf("map schema needs Keys and Values schemas")
		}
		var err error
		switch x := a.(type) {
		case *hamba.MapSchema:
			if c.Keys.Type != connectors.String {
				return mismatch(a, c)
			}
			n.kind = kMap
			if n.items, err = k.node(x.Values(), c.Values); err != nil {
				return err
			}
		case *hamba.ArraySchema:
			rec, ok := deref(x.Items()).(*hamba.RecordSchema)
			if !ok || len(rec.Fields()) != 2 {
				return mismatch(a, c)
			}
			n.kind = kEntryMap
			for i, f := range rec.Fields() {
				switch f.Name() {
				case "key":
					n.keyFirst = i == 0
					if n.keys, err = k.node(f.Type(), c.Keys); err != nil {
						return codec.InField(err, "(key)")
					}
				case "value":
					if n.items, err = k.node(f.Type(), c.Values); err != nil {
						return codec.InField(err, "(value)")
					}
				}
			}
			if n.keys == nil || n.items == nil {
				return codec.Errorf("map encoded as an array of records needs fields \"key\" and \"value\"")
			}
		default:
			return mismatch(a, c)
		}
	case connectors.Struct:
		rec, ok := a.(*hamba.RecordSchema)
		if !ok {
			return mismatch(a, c)
		}
		n.kind = kStruct
		n.zero = true
		for _, f := range rec.Fields() {
			cf, ok := c.Field(f.Name())
			if !ok {
				return codec.Errorf("Avro record %s has field %q, which the Connect struct lacks", rec.FullName(), f.Name())
			}
			fn, err := k.node(f.Type(), cf.Schema)
			if err != nil {
				return codec.InField(err, f.Name())
			}
			n.fields = append(n.fields, fn)
			n.index = append(n.index, cf.Index)
			n.zero = n.zero && fn.zero
		}
		if len(n.fields) != len(c.Fields) {
			return codec.Errorf("Connect struct %q has %d fields, its Avro record %s %d", c.Name, len(c.Fields), rec.FullName(), len(n.fields))
		}
		n.inOrder = true
		for i, ci := range n.index {
			n.inOrder = n.inOrder && i == ci
		}
	default:
		return codec.Errorf("unsupported schema type %q", c.Type)
	}
	return nil
}

// union pairs an Avro union with an optional Connect schema (null and one
// type) or a Connect union struct (any members).
func (k *compiler) union(n *node, u *hamba.UnionSchema, c *connectors.Schema) error {
	types := u.Types()
	if c.Type == connectors.Struct && c.Name == unionName {
		n.kind = kUnion
		n.unionNull = -1
		n.memberBase = 0
		j := 0
		for i, t := range types {
			if t.Type() == hamba.Null {
				n.unionNull = i
				if i == 0 {
					n.memberBase = 1
				}
				continue
			}
			if j >= len(c.Fields) {
				return mismatch(u, c)
			}
			m, err := k.node(t, c.Fields[j].Schema)
			if err != nil {
				return codec.InField(err, c.Fields[j].Name)
			}
			n.members = append(n.members, m)
			j++
		}
		if j != len(c.Fields) || (n.unionNull > 0 && n.unionNull != len(types)-1) {
			return mismatch(u, c)
		}
		return nil
	}
	if len(types) != 2 || (types[0].Type() != hamba.Null && types[1].Type() != hamba.Null) {
		return codec.Errorf("Avro union %s needs a Connect union struct (%s)", u, unionName)
	}
	n.kind = kNullUnion
	n.nullIndex, n.valueIndex = 0, 1
	if types[1].Type() == hamba.Null {
		n.nullIndex, n.valueIndex = 1, 0
	}
	var err error
	n.value, err = k.node(types[n.valueIndex], c)
	if err != nil {
		return err
	}
	return nil
}

// String names the node's kind, for errors.
func (n *node) String() string { return fmt.Sprintf("%s%s", n.s.Type, codec.SchemaSuffix(n.s)) }
