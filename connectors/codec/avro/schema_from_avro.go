package avro

import (
	"github.com/sluice-cdc/sluice/connectors/codec"
	"math"
	"strconv"
	"strings"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// toConnect maps an Avro schema to the Connect schema Confluent's
// AvroData.toConnectSchema gives: connect.name, connect.version,
// connect.doc, connect.parameters and connect.default restore what
// fromConnectSchema wrote, so Connect-only names such as Debezium's
// io.debezium.time.MicroTimestamp survive the round trip.
type toConnect struct {
	opts Options
	// records are the Connect structs of records being or already
	// converted: a record met again (a reference) is the same struct.
	records map[hamba.Schema]*connectors.Schema
}

func connectSchema(a hamba.Schema, opts Options) (*connectors.Schema, error) {
	t := &toConnect{opts: opts, records: map[hamba.Schema]*connectors.Schema{}}
	return t.schema(a, false, nil, false)
}

func props(a hamba.Schema) map[string]any {
	if p, ok := a.(interface{ Props() map[string]any }); ok {
		return p.Props()
	}
	return nil
}

// schema converts a; optional makes the result optional (a member of a
// union with null); def is the Avro field default when hasDef.
func (t *toConnect) schema(a hamba.Schema, optional bool, def any, hasDef bool) (*connectors.Schema, error) {
	a = deref(a)
	p := props(a)
	connectType, _ := p[propConnectType].(string)
	s := &connectors.Schema{}
	switch x := a.(type) {
	case *hamba.PrimitiveSchema:
		var logical hamba.LogicalType
		if l := x.Logical(); l != nil {
			logical = l.Type()
		}
		switch x.Type() {
		case hamba.Boolean:
			s.Type = connectors.Boolean
		case hamba.Int:
			s.Type = connectors.Int32
			switch {
			case logical == hamba.Date:
				s.Type, s.Name, s.Version = connectors.Int32, connectors.DateName, 1
			case logical == hamba.TimeMillis:
				s.Type, s.Name, s.Version = connectors.Int32, connectors.TimeName, 1
			case connectType == "int8":
				s.Type = connectors.Int8
			case connectType == "int16":
				s.Type = connectors.Int16
			case connectType != "":
				return nil, codec.Errorf("unknown connect.type %q on an Avro int; want int8 or int16", connectType)
			}
		case hamba.Long:
			s.Type = connectors.Int64
			if logical == hamba.TimestampMillis {
				s.Name, s.Version = connectors.TimestampName, 1
			}
		case hamba.Float:
			s.Type = connectors.Float32
		case hamba.Double:
			s.Type = connectors.Float64
		case hamba.String:
			s.Type = connectors.String
		case hamba.Bytes:
			s.Type = connectors.Bytes
			if d, ok := x.Logical().(*hamba.DecimalLogicalSchema); ok {
				decimal(s, d.Scale(), d.Precision())
			} else if lt, _ := p[propLogicalType].(string); lt == "decimal" {
				// A scale above the precision, which hamba/avro does not
				// take as a decimal: Confluent's legacy form.
				scale, _ := p["scale"].(float64)
				precision, _ := p["precision"].(float64)
				decimal(s, int(scale), int(precision))
			}
		case hamba.Null:
			return nil, codec.Errorf("a standalone Avro null has no Connect schema; use it only in a union")
		default:
			return nil, codec.Errorf("unsupported Avro type %s", x.Type())
		}
	case *hamba.FixedSchema:
		s.Type = connectors.Bytes
		if d, ok := x.Logical().(*hamba.DecimalLogicalSchema); ok {
			decimal(s, d.Scale(), d.Precision())
		}
	case *hamba.ArraySchema:
		items := deref(x.Items())
		if rec, ok := items.(*hamba.RecordSchema); ok && isMapEntry(rec) {
			var kf, vf *hamba.Field
			for _, f := range rec.Fields() {
				switch f.Name() {
				case "key":
					kf = f
				case "value":
					vf = f
				}
			}
			if len(rec.Fields()) != 2 || kf == nil || vf == nil {
				return nil, codec.Errorf("map encoded as an array of key/value records, but record %s does not have exactly the fields key and value", rec.FullName())
			}
			k, err := t.schema(kf.Type(), false, nil, false)
			if err != nil {
				return nil, codec.InField(err, "(key)")
			}
			v, err := t.schema(vf.Type(), false, nil, false)
			if err != nil {
				return nil, codec.InField(err, "(value)")
			}
			s.Type, s.Keys, s.Values = connectors.Map, k, v
			break
		}
		it, err := t.schema(items, false, nil, false)
		if err != nil {
			return nil, codec.InIndex(err, 0)
		}
		s.Type, s.Items = connectors.Array, it
	case *hamba.MapSchema:
		v, err := t.schema(x.Values(), false, nil, false)
		if err != nil {
			return nil, err
		}
		s.Type, s.Keys, s.Values = connectors.Map, connectors.StringSchema, v
	case *hamba.RecordSchema:
		r, ok := t.records[x]
		if !ok {
			r = t.record(x)
			t.records[x] = r
			if err := t.fields(r, x); err != nil {
				return nil, err
			}
		}
		if !optional {
			return r, nil
		}
		// The optional copy; the record itself stays required, as every
		// other reference to it expects.
		c := *r
		c.Optional = true
		return &c, nil
	case *hamba.EnumSchema:
		s.Type = connectors.String
		s.Parameters = map[string]string{enumParam: x.FullName()}
		if t.opts.ConnectMetaData {
			if x.Doc() != "" {
				s.Parameters[enumDocPrefix+x.Name()] = x.Doc()
			}
			if x.HasDefault() {
				s.Parameters[enumDefaultPrefix+x.Name()] = x.Default()
			}
		}
		for _, sym := range x.Symbols() {
			s.Parameters[enumParam+"."+sym] = sym
		}
	case *hamba.UnionSchema:
		return t.union(x, optional)
	default:
		return nil, codec.Errorf("unsupported Avro type %s", a.Type())
	}
	if err := t.meta(s, a, p, def, hasDef); err != nil {
		return nil, err
	}
	s.Optional = optional || s.Optional
	return s, nil
}

func decimal(s *connectors.Schema, scale, precision int) {
	s.Name, s.Version = connectors.DecimalName, 1
	s.Parameters = map[string]string{connectors.DecimalScaleParam: strconv.Itoa(scale)}
	if precision != defaultPrecision {
		s.Parameters[PrecisionParam] = strconv.Itoa(precision)
	}
}

func isMapEntry(rec *hamba.RecordSchema) bool {
	if rec.FullName() == Namespace+"."+mapEntryName {
		return true
	}
	it, _ := rec.Prop(propInternalType).(string)
	return it == mapEntryName
}

// record starts the Connect struct of a record; its fields come after,
// so that a record referring to itself finds it.
func (t *toConnect) record(x *hamba.RecordSchema) *connectors.Schema {
	s := &connectors.Schema{Type: connectors.Struct}
	if t.opts.ConnectMetaData && x.Doc() != "" {
		setParam(s, recordDocParam, x.Doc())
	}
	return s
}

func (t *toConnect) fields(s *connectors.Schema, x *hamba.RecordSchema) error {
	fields := make([]connectors.Field, 0, len(x.Fields()))
	for _, f := range x.Fields() {
		if t.opts.ConnectMetaData && f.Doc() != "" {
			setParam(s, fieldDocPrefix+f.Name(), f.Doc())
		}
		fs, err := t.schema(f.Type(), false, f.Default(), f.HasDefault())
		if err != nil {
			return codec.InField(err, f.Name())
		}
		fields = append(fields, connectors.Field{Name: f.Name(), Schema: fs})
	}
	built := connectors.NewStruct("", false, fields...)
	s.Fields = built.Fields
	// NewStruct's name index is unexported; rebuild through it so Field
	// lookups stay fast.
	meta := *s
	*s = *built
	s.Parameters, s.Doc = meta.Parameters, meta.Doc
	return t.meta(s, x, props(x), nil, false)
}

// union converts a union: null and one type is that type, optional; any
// other union is a Connect struct named io.confluent.connect.avro.Union
// with a field per member, named by the member's type (or record name).
func (t *toConnect) union(u *hamba.UnionSchema, optional bool) (*connectors.Schema, error) {
	types := u.Types()
	if len(types) == 2 && (types[0].Type() == hamba.Null || types[1].Type() == hamba.Null) {
		m := types[0]
		if m.Type() == hamba.Null {
			m = types[1]
		}
		return t.schema(m, true, nil, false)
	}
	var fields []connectors.Field
	seen := map[string]bool{}
	nullable := optional
	for _, m := range types {
		m = deref(m)
		if m.Type() == hamba.Null {
			nullable = true
			continue
		}
		name := string(m.Type())
		if n, ok := m.(hamba.NamedSchema); ok && (m.Type() == hamba.Record || m.Type() == hamba.Enum) {
			name = n.Name()
			if t.opts.EnhancedSchemaSupport {
				name = n.FullName()
			}
		}
		if seen[name] {
			return nil, codec.Errorf("two members of the union %s map to the Connect field name %q", u, name)
		}
		seen[name] = true
		ms, err := t.schema(m, true, nil, false)
		if err != nil {
			return nil, codec.InField(err, name)
		}
		fields = append(fields, connectors.Field{Name: name, Schema: ms})
	}
	return connectors.NewStruct(unionName, nullable, fields...), nil
}

// meta applies the connect.* properties and the Avro field default.
func (t *toConnect) meta(s *connectors.Schema, a hamba.Schema, p map[string]any, def any, hasDef bool) error {
	if d, ok := p[propConnectDoc].(string); ok && t.opts.ConnectMetaData {
		s.Doc = d
	}
	if v, ok := p[propConnectVersion]; ok {
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
			return codec.Errorf("connect.version %v is not a version number", v)
		}
		if s.Version != 0 && s.Version != int32(f) {
			return codec.Errorf("connect.version %v differs from the logical type's version %d", v, s.Version)
		}
		s.Version = int32(f)
	}
	if v, ok := p[propConnectParams]; ok && t.opts.ConnectMetaData {
		m, ok := v.(map[string]any)
		if !ok {
			return codec.Errorf("connect.parameters is %v, want a JSON object of strings", v)
		}
		for k, x := range m {
			str, ok := x.(string)
			if !ok {
				return codec.Errorf("connect.parameters %q is %v, want a string", k, x)
			}
			setParam(s, k, str)
		}
	}
	for k, v := range p {
		if strings.HasPrefix(k, "avro") {
			str, ok := v.(string)
			if !ok {
				continue
			}
			setParam(s, k, str)
		}
	}
	cdef, hasConnectDef := p[propConnectDefault]
	switch {
	case hasConnectDef:
		def, hasDef = cdef, true
	case hasDef && def != nil:
		setParam(s, fieldDefaultFlag, "true")
	}
	if hasDef && def != nil {
		v, err := defaultValue(s, def)
		if err != nil {
			return codec.InField(err, "(default)")
		}
		s.Default = v
	}
	if n, ok := p[propConnectName]; ok {
		name, ok := n.(string)
		if !ok {
			return codec.Errorf("connect.name %v is not a string", n)
		}
		if !isDefaultName(name) {
			s.Name = name
		}
	} else if named, ok := a.(hamba.NamedSchema); ok && (a.Type() == hamba.Record || a.Type() == hamba.Enum) {
		if full := named.FullName(); !isDefaultName(full) {
			s.Name = full
		}
	}
	return nil
}

func setParam(s *connectors.Schema, k, v string) {
	if s.Parameters == nil {
		s.Parameters = map[string]string{}
	}
	s.Parameters[k] = v
}
