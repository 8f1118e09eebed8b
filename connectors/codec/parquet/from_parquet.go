package parquet

import (
	"strconv"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// FromParquet returns a Connect schema whose Parquet form (NewSchema) is
// the layout of s, for a file that does not carry its Connect schema
// under SchemaMetadataKey: a file of this package written before the
// metadata was, or one of another writer with the same layout. It reads
// the logical types back as the mapping in the package doc writes them,
// choosing where two Connect schemas share one Parquet type: DATE is
// Date, TIME(MILLIS) Time, TIME(MICROS|NANOS) Debezium's MicroTime and
// NanoTime, TIMESTAMP adjusted to UTC Timestamp (millisecond precision),
// TIMESTAMP not adjusted Debezium's Timestamp, MicroTimestamp or
// NanoTimestamp. Struct names other than the root's, versions, defaults
// and the VariableScaleDecimal type (a string column) do not come back,
// and a file of a non-struct value comes back as a struct of its one
// column. A layout NewSchema would not write (a two-level list, an
// unsigned integer) is a *codec.DataError.
func FromParquet(s *pq.Schema) (*connectors.Schema, error) {
	name := s.Name()
	if name == "connect_default" {
		name = ""
	}
	out := connectors.NewStruct(name, false)
	for _, f := range s.Fields() {
		fs, err := fromNode(f)
		if err != nil {
			return nil, codec.InField(err, f.Name())
		}
		out.Fields = append(out.Fields, connectors.Field{Name: f.Name(), Index: len(out.Fields), Schema: fs})
	}
	if len(out.Fields) == 0 {
		return nil, codec.Errorf("the Parquet schema has no columns")
	}
	return connectors.NewStruct(out.Name, false, out.Fields...), nil
}

func fromNode(n pq.Node) (*connectors.Schema, error) {
	if n.Repeated() {
		return nil, codec.Errorf("a repeated field outside a LIST or MAP group has no Connect schema")
	}
	s, err := fromType(n)
	if err != nil {
		return nil, err
	}
	s.Optional = n.Optional()
	return s, nil
}

func fromType(n pq.Node) (*connectors.Schema, error) {
	var lt *format.LogicalType
	if t := n.Type(); t != nil {
		lt = t.LogicalType()
	}
	if !n.Leaf() {
		if lt != nil {
			switch lt.Value.(type) {
			case *format.ListType:
				rep := n.Fields()
				if len(rep) != 1 || !rep[0].Repeated() || rep[0].Leaf() || len(rep[0].Fields()) != 1 {
					return nil, codec.Errorf("a LIST that is not a three-level list (list > element)")
				}
				elem, err := fromNode(rep[0].Fields()[0])
				if err != nil {
					return nil, codec.InIndex(err, 0)
				}
				return &connectors.Schema{Type: connectors.Array, Items: elem}, nil
			case *format.MapType:
				kv := n.Fields()
				if len(kv) != 1 || !kv[0].Repeated() || kv[0].Leaf() || len(kv[0].Fields()) != 2 {
					return nil, codec.Errorf("a MAP that is not key_value > key, value")
				}
				k, err := fromNode(kv[0].Fields()[0])
				if err != nil {
					return nil, codec.InField(err, "(key)")
				}
				v, err := fromNode(kv[0].Fields()[1])
				if err != nil {
					return nil, codec.InField(err, "(value)")
				}
				return &connectors.Schema{Type: connectors.Map, Keys: k, Values: v}, nil
			}
		}
		st := connectors.NewStruct("", false)
		for _, f := range n.Fields() {
			fs, err := fromNode(f)
			if err != nil {
				return nil, codec.InField(err, f.Name())
			}
			st.Fields = append(st.Fields, connectors.Field{Name: f.Name(), Index: len(st.Fields), Schema: fs})
		}
		if len(st.Fields) == 0 {
			return nil, codec.Errorf("an empty group")
		}
		return connectors.NewStruct("", false, st.Fields...), nil
	}
	kind := n.Type().Kind()
	if lt != nil && lt.Value != nil {
		switch x := lt.Value.(type) {
		case *format.StringType:
			if kind == pq.ByteArray {
				return &connectors.Schema{Type: connectors.String}, nil
			}
		case *format.IntType:
			switch {
			case x.IsSigned && kind == pq.Int32 && x.BitWidth == 8:
				return &connectors.Schema{Type: connectors.Int8}, nil
			case x.IsSigned && kind == pq.Int32 && x.BitWidth == 16:
				return &connectors.Schema{Type: connectors.Int16}, nil
			case x.IsSigned && kind == pq.Int32 && x.BitWidth == 32:
				return &connectors.Schema{Type: connectors.Int32}, nil
			case x.IsSigned && kind == pq.Int64 && x.BitWidth == 64:
				return &connectors.Schema{Type: connectors.Int64}, nil
			}
			return nil, codec.Errorf("an INT(%d, signed=%t) column has no Connect schema of this mapping", x.BitWidth, x.IsSigned)
		case *format.DecimalType:
			want := pq.ByteArray
			switch {
			case x.Precision <= 9:
				want = pq.Int32
			case x.Precision <= 18:
				want = pq.Int64
			}
			if kind != want {
				return nil, codec.Errorf("a DECIMAL(%d, %d) stored as %s, not as this mapping stores it", x.Precision, x.Scale, kind)
			}
			s := connectors.DecimalSchema(x.Scale, false)
			s.Parameters[PrecisionParam] = strconv.Itoa(int(x.Precision))
			return s, nil
		case *format.DateType:
			if kind == pq.Int32 {
				return &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1}, nil
			}
		case *format.TimeType:
			switch x.Unit.Value.(type) {
			case *format.MilliSeconds:
				return &connectors.Schema{Type: connectors.Int32, Name: connectors.TimeName, Version: 1}, nil
			case *format.MicroSeconds:
				return &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimeName, Version: 1}, nil
			case *format.NanoSeconds:
				return &connectors.Schema{Type: connectors.Int64, Name: cdc.NanoTimeName, Version: 1}, nil
			}
		case *format.TimestampType:
			switch x.Unit.Value.(type) {
			case *format.MilliSeconds:
				if x.IsAdjustedToUTC {
					return &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1}, nil
				}
				return &connectors.Schema{Type: connectors.Int64, Name: cdc.TimestampName, Version: 1}, nil
			case *format.MicroSeconds:
				if !x.IsAdjustedToUTC {
					return &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimestampName, Version: 1}, nil
				}
			case *format.NanoSeconds:
				if !x.IsAdjustedToUTC {
					return &connectors.Schema{Type: connectors.Int64, Name: cdc.NanoTimestampName, Version: 1}, nil
				}
			}
		}
		return nil, codec.Errorf("a %s column annotated %s has no Connect schema of this mapping", kind, lt)
	}
	switch kind {
	case pq.Boolean:
		return &connectors.Schema{Type: connectors.Boolean}, nil
	case pq.Int32:
		return &connectors.Schema{Type: connectors.Int32}, nil
	case pq.Int64:
		return &connectors.Schema{Type: connectors.Int64}, nil
	case pq.Float:
		return &connectors.Schema{Type: connectors.Float32}, nil
	case pq.Double:
		return &connectors.Schema{Type: connectors.Float64}, nil
	case pq.ByteArray:
		return &connectors.Schema{Type: connectors.Bytes}, nil
	}
	return nil, codec.Errorf("a %s column has no Connect schema of this mapping", kind)
}
