package avro

import (
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// toAvro writes the Avro schema JSON of a Connect schema, as Confluent's
// AvroData.fromConnectSchema builds it and Avro's Schema.toString prints
// it: the same property order, a record's namespace written only where it
// differs from the enclosing one, and a record written once and referred
// to by name after that.
type toAvro struct {
	opts Options
	// defs are the records written so far, by full name, with the Connect
	// schema each was written for.
	defs map[string]*connectors.Schema
	// unnamed are the unnamed structs given default names, in order.
	unnamed []unnamedDef
	space   string // the enclosing namespace while writing
}

type unnamedDef struct {
	s    *connectors.Schema
	full string
}

// schemaJSON returns the Avro schema JSON of s.
func schemaJSON(s *connectors.Schema, opts Options) ([]byte, error) {
	g := &toAvro{opts: opts, defs: map[string]*connectors.Schema{}}
	return g.schema(nil, s, false)
}

// schema writes s: a union with null when s is optional (null first, or
// second when s has a default, whose type must come first in Avro).
func (g *toAvro) schema(b []byte, s *connectors.Schema, ignoreOptional bool) ([]byte, error) {
	if s == nil {
		return b, codec.Errorf("schema is nil")
	}
	if s.Type == connectors.Struct && s.Name == unionName {
		return g.union(b, s)
	}
	if !s.Optional || ignoreOptional {
		return g.base(b, s)
	}
	var err error
	if s.Default != nil {
		b = append(b, '[')
		if b, err = g.base(b, s); err != nil {
			return b, err
		}
		return append(b, `,"null"]`...), nil
	}
	b = append(b, `["null",`...)
	if b, err = g.base(b, s); err != nil {
		return b, err
	}
	return append(b, ']'), nil
}

// union writes a Connect struct standing for an Avro union: its fields
// are the members.
func (g *toAvro) union(b []byte, s *connectors.Schema) ([]byte, error) {
	b = append(b, '[')
	if s.Optional {
		b = append(b, `"null"`...)
	}
	var err error
	for i, f := range s.Fields {
		if i > 0 || s.Optional {
			b = append(b, ',')
		}
		if f.Schema == nil {
			return b, codec.InField(codec.Errorf("union member has no schema"), f.Name)
		}
		if b, err = g.schema(b, f.Schema, true); err != nil {
			return b, codec.InField(err, f.Name)
		}
	}
	return append(b, ']'), nil
}

// base writes s without the optional union.
func (g *toAvro) base(b []byte, s *connectors.Schema) ([]byte, error) {
	var (
		connectType string
		logical     string
		err         error
	)
	// open writes the start of an object; primitives without properties
	// are written as a bare type name instead, as Avro does.
	start := len(b)
	switch s.Type {
	case connectors.Int8, connectors.Int16:
		connectType = string(s.Type)
		b = append(b, `{"type":"int"`...)
	case connectors.Int32:
		b = append(b, `{"type":"int"`...)
		switch s.Name {
		case connectors.DateName:
			logical = "date"
		case connectors.TimeName:
			logical = "time-millis"
		}
	case connectors.Int64:
		b = append(b, `{"type":"long"`...)
		if s.Name == connectors.TimestampName {
			logical = "timestamp-millis"
		}
	case connectors.Float32:
		b = append(b, `{"type":"float"`...)
	case connectors.Float64:
		b = append(b, `{"type":"double"`...)
	case connectors.Boolean:
		b = append(b, `{"type":"boolean"`...)
	case connectors.String:
		if g.opts.EnhancedSchemaSupport && isEnum(s) {
			return g.enum(b, s)
		}
		b = append(b, `{"type":"string"`...)
	case connectors.Bytes:
		b = append(b, `{"type":"bytes"`...)
		if s.Name == connectors.DecimalName {
			scale, precision, err := decimalParams(s)
			if err != nil {
				return b, err
			}
			b = append(b, `,"scale":`...)
			b = strconv.AppendInt(b, int64(scale), 10)
			b = append(b, `,"precision":`...)
			b = strconv.AppendInt(b, int64(precision), 10)
			logical = "decimal"
		}
	case connectors.Array:
		if s.Items == nil {
			return b, codec.Errorf("array schema has no Items schema")
		}
		b = append(b, `{"type":"array","items":`...)
		if b, err = g.schema(b, s.Items, false); err != nil {
			return b, codec.InIndex(err, 0)
		}
	case connectors.Map:
		if s.Keys == nil || s.Values == nil {
			return b, codec.Errorf("map schema needs Keys and Values schemas")
		}
		if stringKeys(s) {
			b = append(b, `{"type":"map","values":`...)
			if b, err = g.schema(b, s.Values, false); err != nil {
				return b, err
			}
			break
		}
		b = append(b, `{"type":"array","items":`...)
		if b, err = g.mapEntry(b, s); err != nil {
			return b, err
		}
	case connectors.Struct:
		if b, err = g.record(b, s); err != nil {
			return b, err
		}
		if b[len(b)-1] == '"' { // a reference to a record written before
			return b, nil
		}
		b = b[:len(b)-1] // reopen the record for its properties
	default:
		return b, codec.Errorf("unsupported schema type %q", s.Type)
	}
	n := len(b)
	if b, err = g.props(b, s, connectType, logical); err != nil {
		return b, err
	}
	if n == len(b) && s.Type != connectors.Struct && s.Type != connectors.Array && s.Type != connectors.Map && s.Name != connectors.DecimalName {
		// A primitive without properties: a bare name, "int".
		typ := string(b[start+len(`{"type":`):])
		b = append(b[:start], typ...)
		return b, nil
	}
	return append(b, '}'), nil
}

// props writes the connect.* properties (when connect.meta.data is on),
// then logicalType and the schema's avro* parameters, in AvroData's order.
func (g *toAvro) props(b []byte, s *connectors.Schema, connectType, logical string) ([]byte, error) {
	if g.opts.ConnectMetaData {
		if s.Doc != "" {
			b = append(b, `,"connect.doc":`...)
			b = connectjson.AppendString(b, s.Doc)
		}
		if s.Version != 0 {
			b = append(b, `,"connect.version":`...)
			b = strconv.AppendInt(b, int64(s.Version), 10)
		}
		if keys := paramKeys(s.Parameters); len(keys) > 0 {
			b = append(b, `,"connect.parameters":{`...)
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				b = connectjson.AppendString(b, k)
				b = append(b, ':')
				b = connectjson.AppendString(b, s.Parameters[k])
			}
			b = append(b, '}')
		}
		if s.Default != nil {
			if _, flagged := s.Parameters[fieldDefaultFlag]; !flagged {
				b = append(b, `,"connect.default":`...)
				var err error
				if b, err = defaultJSON(b, s, s.Default); err != nil {
					return b, codec.InField(err, "(default)")
				}
			}
		}
		if s.Name != "" {
			b = append(b, `,"connect.name":`...)
			b = connectjson.AppendString(b, s.Name)
		}
		if connectType != "" {
			b = append(b, `,"connect.type":`...)
			b = connectjson.AppendString(b, connectType)
		}
	}
	if logical != "" {
		b = append(b, `,"logicalType":`...)
		b = connectjson.AppendString(b, logical)
	}
	for _, k := range sortedKeys(s.Parameters) {
		if strings.HasPrefix(k, "avro") {
			b = append(b, ',')
			b = connectjson.AppendString(b, k)
			b = append(b, ':')
			b = connectjson.AppendString(b, s.Parameters[k])
		}
	}
	return b, nil
}

// paramKeys are the parameters written as connect.parameters, sorted: Go
// maps have no order, Connect's LinkedHashMap keeps insertion order.
func paramKeys(p map[string]string) []string {
	keys := sortedKeys(p)
	return slices.DeleteFunc(keys, func(k string) bool { return k == fieldDefaultFlag })
}

func sortedKeys(p map[string]string) []string {
	if len(p) == 0 {
		return nil
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stringKeys reports whether a map schema becomes an Avro map: its keys
// are required strings.
func stringKeys(s *connectors.Schema) bool {
	return s.Keys.Type == connectors.String && !s.Keys.Optional
}

// writeName writes "name" and, where it differs from the enclosing one,
// "namespace" of a named type, and returns the enclosing namespace to
// restore once the type is written.
func (g *toAvro) writeName(b []byte, ns, name string) ([]byte, string) {
	b = append(b, `,"name":`...)
	b = connectjson.AppendString(b, name)
	if ns != g.space {
		b = append(b, `,"namespace":`...)
		b = connectjson.AppendString(b, ns)
	}
	outer := g.space
	g.space = ns
	return b, outer
}

// ref writes a reference to a named type written before.
func (g *toAvro) ref(b []byte, full string) []byte {
	ns, name := splitName(full)
	if ns == g.space {
		return connectjson.AppendString(b, name)
	}
	return connectjson.AppendString(b, full)
}

// record writes a struct as a record, or a reference to the same record
// written before. The record's properties are written by the caller: it
// reopens the closing brace.
func (g *toAvro) record(b []byte, s *connectors.Schema) ([]byte, error) {
	full, seen, err := g.recordName(s)
	if err != nil {
		return b, err
	}
	if seen {
		return g.ref(b, full), nil
	}
	ns, name := splitName(full)
	b = append(b, `{"type":"record"`...)
	b, outer := g.writeName(b, ns, name)
	defer func() { g.space = outer }()
	if doc := s.Parameters[recordDocParam]; doc != "" {
		b = append(b, `,"doc":`...)
		b = connectjson.AppendString(b, doc)
	}
	b = append(b, `,"fields":[`...)
	for i, f := range s.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = g.field(b, f.Name, f.Schema, s.Parameters[fieldDocPrefix+f.Name]); err != nil {
			return b, codec.InField(err, f.Name)
		}
	}
	return append(b, "]}"...), nil
}

// recordName finds the full name of a struct's record, and whether a
// record for an equal struct was written already. Unnamed structs are
// named io.confluent.connect.avro.ConnectDefault, then ConnectDefault2,
// ..., in the order they are met, as AvroData names them.
func (g *toAvro) recordName(s *connectors.Schema) (full string, seen bool, err error) {
	if s.Name == "" {
		for _, d := range g.unnamed {
			if equalIgnoringOptional(d.s, s) {
				return d.full, true, nil
			}
		}
		full = Namespace + "." + DefaultName
		if n := len(g.unnamed); n > 0 {
			full += strconv.Itoa(n + 1)
		}
		g.unnamed = append(g.unnamed, unnamedDef{s: s, full: full})
		g.defs[full] = s
		return full, false, nil
	}
	return g.named(s.Name, s)
}

// named checks a named type against those written before: an equal one is
// referred to, a different one with the same name is an error, since Avro
// cannot define a name twice.
func (g *toAvro) named(full string, s *connectors.Schema) (string, bool, error) {
	if d, ok := g.defs[full]; ok {
		if equalIgnoringOptional(d, s) {
			return full, true, nil
		}
		return full, false, codec.Errorf("two different schemas are named %q; Avro needs distinct names for distinct records (rename one, for example with the SetSchemaMetadata transform)", full)
	}
	g.defs[full] = s
	return full, false, nil
}

// field writes a record field: name, type, doc and default (a Connect
// default, or null for an optional field).
func (g *toAvro) field(b []byte, name string, s *connectors.Schema, doc string) ([]byte, error) {
	if s == nil {
		return b, codec.Errorf("field has no schema")
	}
	b = append(b, `{"name":`...)
	b = connectjson.AppendString(b, name)
	b = append(b, `,"type":`...)
	var err error
	if b, err = g.schema(b, s, false); err != nil {
		return b, err
	}
	if doc != "" {
		b = append(b, `,"doc":`...)
		b = connectjson.AppendString(b, doc)
	}
	switch {
	case s.Default != nil:
		b = append(b, `,"default":`...)
		if b, err = fieldDefaultJSON(b, s, s.Default); err != nil {
			return b, codec.InField(err, "(default)")
		}
	case s.Optional:
		b = append(b, `,"default":null`...)
	}
	return append(b, '}'), nil
}

// mapEntry writes the record of a map whose keys are not required
// strings: Avro maps only have string keys, so such a map is an array of
// key/value records.
func (g *toAvro) mapEntry(b []byte, s *connectors.Schema) ([]byte, error) {
	full := Namespace + "." + mapEntryName
	if s.Name != "" {
		full = s.Name
	}
	// A map entry record is identified by the map's key and value schemas.
	entry := &connectors.Schema{Type: connectors.Struct, Name: full,
		Fields: []connectors.Field{{Name: "key", Schema: s.Keys}, {Name: "value", Schema: s.Values, Index: 1}}}
	full, seen, err := g.named(full, entry)
	if err != nil {
		return b, err
	}
	if seen {
		return g.ref(b, full), nil
	}
	ns, name := splitName(full)
	b = append(b, `{"type":"record"`...)
	b, outer := g.writeName(b, ns, name)
	defer func() { g.space = outer }()
	b = append(b, `,"fields":[`...)
	if b, err = g.field(b, "key", s.Keys, ""); err != nil {
		return b, codec.InField(err, "(key)")
	}
	b = append(b, ',')
	if b, err = g.field(b, "value", s.Values, ""); err != nil {
		return b, codec.InField(err, "(value)")
	}
	b = append(b, ']')
	if s.Name != "" {
		b = append(b, `,"connect.internal.type":"MapEntry"`...)
	}
	return append(b, '}'), nil
}

// enum writes a Connect string carrying an Avro enum (only with
// enhanced.avro.schema.support). Its symbols are the parameters
// io.confluent.connect.avro.Enum.<symbol>; Go maps have no order, so
// the symbols are written sorted.
func (g *toAvro) enum(b []byte, s *connectors.Schema) ([]byte, error) {
	full := s.Parameters[enumParam]
	full, seen, err := g.named(full, s)
	if err != nil {
		return b, err
	}
	if seen {
		return g.ref(b, full), nil
	}
	ns, name := splitName(full)
	b = append(b, `{"type":"enum"`...)
	b, outer := g.writeName(b, ns, name)
	g.space = outer // an enum has no fields to write in its namespace
	if doc := s.Parameters[enumDocPrefix+name]; doc != "" {
		b = append(b, `,"doc":`...)
		b = connectjson.AppendString(b, doc)
	}
	b = append(b, `,"symbols":[`...)
	for i, sym := range enumSymbols(s) {
		if i > 0 {
			b = append(b, ',')
		}
		b = connectjson.AppendString(b, sym)
	}
	b = append(b, ']')
	if def := s.Parameters[enumDefaultPrefix+name]; def != "" {
		b = append(b, `,"default":`...)
		b = connectjson.AppendString(b, def)
	}
	if b, err = g.props(b, s, "", ""); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// enumSymbols returns the symbols of an enum string schema, sorted.
func enumSymbols(s *connectors.Schema) []string {
	var syms []string
	for k, v := range s.Parameters {
		if strings.HasPrefix(k, enumParam+".") {
			syms = append(syms, v)
		}
	}
	slices.Sort(syms)
	return syms
}

// decimalParams reads a Decimal schema's scale and precision.
func decimalParams(s *connectors.Schema) (scale, precision int32, err error) {
	p, ok := s.Parameters[connectors.DecimalScaleParam]
	if !ok {
		return 0, 0, codec.Errorf("Decimal schema has no %q parameter", connectors.DecimalScaleParam)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || n > maxDecimalScale || n < -maxDecimalScale {
		return 0, 0, codec.Errorf("Decimal schema has an invalid %q parameter %q; want an integer between %d and %d",
			connectors.DecimalScaleParam, p, -maxDecimalScale, maxDecimalScale)
	}
	precision = defaultPrecision
	if p, ok := s.Parameters[PrecisionParam]; ok {
		m, err := strconv.ParseInt(p, 10, 32)
		if err != nil || m < 1 {
			return 0, 0, codec.Errorf("Decimal schema has an invalid %q parameter %q; want a positive integer", PrecisionParam, p)
		}
		precision = int32(m)
	}
	return int32(n), precision, nil
}

// maxDecimalScale bounds a Decimal's scale, so that hostile input cannot
// make the codec build enormous numbers.
const maxDecimalScale = 10000

// defaultJSON writes a Connect default value as Avro JSON, as AvroData
// does: bytes (and a Decimal's unscaled two's complement) as an
// ISO-8859-1 string, the temporal types as their integers, maps with
// string keys as objects and other maps as arrays of [key, value] pairs.
func defaultJSON(b []byte, s *connectors.Schema, v any) ([]byte, error) {
	return writeDefault(b, s, v, false)
}

// fieldDefaultJSON writes a default as a record field's "default", which
// Avro validates against the field's type: a map that is an array of
// key/value records is written as such records there, where
// connect.default keeps AvroData's [key, value] pairs.
func fieldDefaultJSON(b []byte, s *connectors.Schema, v any) ([]byte, error) {
	return writeDefault(b, s, v, true)
}

func writeDefault(b []byte, s *connectors.Schema, v any, field bool) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	switch s.Type {
	case connectors.Int8, connectors.Int16, connectors.Int32, connectors.Int64:
		n, err := intOf(s, v)
		if err != nil {
			return b, err
		}
		return strconv.AppendInt(b, n, 10), nil
	case connectors.Float32, connectors.Float64:
		var f float64
		switch x := v.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			return b, codec.TypeError(s, v, "a float")
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, codec.Errorf("default %v cannot be written in an Avro schema", f)
		}
		bits := 64
		if s.Type == connectors.Float32 {
			bits = 32
		}
		n := len(b)
		b = strconv.AppendFloat(b, f, 'g', -1, bits)
		if !strings.ContainsAny(string(b[n:]), ".e") {
			b = append(b, ".0"...)
		}
		return b, nil
	case connectors.Boolean:
		x, ok := v.(bool)
		if !ok {
			return b, codec.TypeError(s, v, "bool")
		}
		return strconv.AppendBool(b, x), nil
	case connectors.String:
		x, ok := v.(string)
		if !ok {
			return b, codec.TypeError(s, v, "string")
		}
		return connectjson.AppendString(b, x), nil
	case connectors.Bytes:
		var raw []byte
		if s.Name == connectors.DecimalName {
			d, ok := v.(connectors.Decimal)
			if !ok {
				return b, codec.TypeError(s, v, "connectors.Decimal")
			}
			scale, _, err := decimalParams(s)
			if err != nil {
				return b, err
			}
			u, err := rescale(d, scale)
			if err != nil {
				return b, err
			}
			raw = appendTwosComplement(nil, u)
		} else {
			x, ok := v.([]byte)
			if !ok {
				return b, codec.TypeError(s, v, "[]byte")
			}
			raw = x
		}
		runes := make([]rune, len(raw))
		for i, c := range raw {
			runes[i] = rune(c)
		}
		return connectjson.AppendString(b, string(runes)), nil
	case connectors.Array:
		x, ok := v.([]any)
		if !ok {
			return b, codec.TypeError(s, v, "[]any")
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = writeDefault(b, s.Items, e, field); err != nil {
				return b, codec.InIndex(err, i)
			}
		}
		return append(b, ']'), nil
	case connectors.Map:
		entries, err := mapEntries(s, v)
		if err != nil {
			return b, err
		}
		obj := stringKeys(s)
		if obj {
			b = append(b, '{')
		} else {
			b = append(b, '[')
		}
		for i, e := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			if obj {
				k, ok := e.Key.(string)
				if !ok {
					return b, codec.InKey(codec.TypeError(s.Keys, e.Key, "string"), e.Key)
				}
				b = connectjson.AppendString(b, k)
				b = append(b, ':')
			} else {
				if field {
					b = append(b, `{"key":`...)
				} else {
					b = append(b, '[')
				}
				if b, err = writeDefault(b, s.Keys, e.Key, field); err != nil {
					return b, codec.InKey(err, e.Key)
				}
				if field {
					b = append(b, `,"value":`...)
				} else {
					b = append(b, ',')
				}
			}
			if b, err = writeDefault(b, s.Values, e.Value, field); err != nil {
				return b, codec.InKey(err, e.Key)
			}
			if !obj && field {
				b = append(b, '}')
			} else if !obj {
				b = append(b, ']')
			}
		}
		if obj {
			return append(b, '}'), nil
		}
		return append(b, ']'), nil
	case connectors.Struct:
		x, ok := v.(*connectors.StructValue)
		if !ok || x == nil {
			return b, codec.TypeError(s, v, "*connectors.StructValue")
		}
		if len(x.Values) != len(s.Fields) {
			return b, codec.Errorf("struct value has %d values for %d fields", len(x.Values), len(s.Fields))
		}
		b = append(b, '{')
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = connectjson.AppendString(b, f.Name)
			b = append(b, ':')
			var err error
			if b, err = writeDefault(b, f.Schema, x.Values[i], field); err != nil {
				return b, codec.InField(err, f.Name)
			}
		}
		return append(b, '}'), nil
	}
	return b, codec.Errorf("unsupported schema type %q", s.Type)
}

// intOf returns an integer value (or a Date, Time or Timestamp as Avro
// writes it) as an int64.
func intOf(s *connectors.Schema, v any) (int64, error) {
	switch s.Name {
	case connectors.DateName:
		t, ok := v.(time.Time)
		if !ok {
			return 0, codec.TypeError(s, v, "time.Time")
		}
		return dateDays(t)
	case connectors.TimeName:
		t, ok := v.(time.Time)
		if !ok {
			return 0, codec.TypeError(s, v, "time.Time")
		}
		return timeMillis(t), nil
	case connectors.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return 0, codec.TypeError(s, v, "time.Time")
		}
		return t.UnixMilli(), nil
	}
	switch x := v.(type) {
	case int8:
		if s.Type == connectors.Int8 {
			return int64(x), nil
		}
	case int16:
		if s.Type == connectors.Int16 {
			return int64(x), nil
		}
	case int32:
		if s.Type == connectors.Int32 {
			return int64(x), nil
		}
	case int64:
		if s.Type == connectors.Int64 {
			return x, nil
		}
	}
	return 0, codec.TypeError(s, v, goType(s.Type))
}

func goType(t connectors.Type) string {
	switch t {
	case connectors.Float32:
		return "float32"
	case connectors.Float64:
		return "float64"
	case connectors.Boolean:
		return "bool"
	}
	return string(t)
}

// mapEntries returns a map value as entries: []connectors.MapEntry as
// it is, map[string]any sorted by key.
func mapEntries(s *connectors.Schema, v any) ([]connectors.MapEntry, error) {
	switch x := v.(type) {
	case []connectors.MapEntry:
		return x, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]connectors.MapEntry, len(keys))
		for i, k := range keys {
			out[i] = connectors.MapEntry{Key: k, Value: x[k]}
		}
		return out, nil
	}
	return nil, codec.TypeError(s, v, "[]connectors.MapEntry")
}

// dateDays returns a Date as days since the epoch; like Connect, it
// rejects a time of day other than midnight UTC.
func dateDays(t time.Time) (int64, error) {
	sec := t.Unix()
	days := floorDiv(sec, 86400)
	if sec-days*86400 != 0 || t.Nanosecond() != 0 {
		return 0, codec.Errorf("Date value %s has a time of day; a Kafka Connect Date is midnight UTC", t.UTC().Format(time.RFC3339Nano))
	}
	if days < math.MinInt32 || days > math.MaxInt32 {
		return 0, codec.Errorf("Date value %s is out of range", t.UTC().Format(time.RFC3339))
	}
	return days, nil
}

// timeMillis returns a Time as milliseconds since midnight UTC; the date
// part of the time.Time is ignored, and 1970-01-02T00:00 stays 86400000
// (PostgreSQL's 24:00:00, as Debezium writes it).
func timeMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if ms < 0 || ms > msPerDay {
		ms -= floorDiv(ms, msPerDay) * msPerDay
	}
	return ms
}

const msPerDay = 86400000

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// rescale returns d's unscaled value at the given scale; it fails rather
// than round.
func rescale(d connectors.Decimal, scale int32) (*big.Int, error) {
	u := d.Unscaled
	if u == nil {
		u = new(big.Int)
	}
	if d.Scale == scale {
		return u, nil
	}
	if diff := int64(scale) - int64(d.Scale); diff > 0 && diff <= maxDecimalScale {
		m := new(big.Int).Exp(big.NewInt(10), big.NewInt(diff), nil)
		return m.Mul(m, u), nil
	} else if diff < 0 && diff >= -maxDecimalScale {
		m := new(big.Int).Exp(big.NewInt(10), big.NewInt(-diff), nil)
		q, r := new(big.Int).QuoRem(u, m, new(big.Int))
		if r.Sign() == 0 {
			return q, nil
		}
	}
	return nil, codec.Errorf("Decimal value %s has scale %d and cannot be written at the schema's scale %d without rounding", d, d.Scale, scale)
}

// equalIgnoringOptional reports whether two schemas are equal, apart
// from whether the outermost one is optional: AvroData reuses the record
// of an equal struct whether or not it is optional.
func equalIgnoringOptional(a, b *connectors.Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.Optional == b.Optional {
		return codec.SchemaEqual(a, b)
	}
	c := *b
	c.Optional = a.Optional
	return codec.SchemaEqual(a, &c)
}
