// Package connectors is the connector SPI: records, Connect-style schemas,
// the source and sink connector and task interfaces, and the plugin
// registry. Every connector and the runtime build on it; it depends on
// nothing in Sluice but config.
package connectors

import (
	"fmt"
	"math/big"
	"strconv"
)

// Type is a Kafka Connect schema type, spelled as Connect's JsonConverter
// spells it in a schema ("int32", "struct", ...).
type Type string

// The Connect schema types.
const (
	Int8    Type = "int8"
	Int16   Type = "int16"
	Int32   Type = "int32"
	Int64   Type = "int64"
	Float32 Type = "float"
	Float64 Type = "double"
	Boolean Type = "boolean"
	String  Type = "string"
	Bytes   Type = "bytes"
	Array   Type = "array"
	Map     Type = "map"
	Struct  Type = "struct"
)

// Logical type names from Kafka Connect. Their Go values are Decimal for
// DecimalName, and time.Time for the three temporal ones.
const (
	DecimalName   = "org.apache.kafka.connect.data.Decimal"
	DateName      = "org.apache.kafka.connect.data.Date"
	TimeName      = "org.apache.kafka.connect.data.Time"
	TimestampName = "org.apache.kafka.connect.data.Timestamp"
	// DecimalScaleParam is the schema parameter holding a Decimal's scale.
	DecimalScaleParam = "scale"
)

// Schema is a Kafka Connect schema. Schemas are built once per table shape
// and shared by every record of that shape: treat a schema reachable from a
// record as immutable.
//
// Go values by type: int8..int64, float32, float64, bool, string and []byte
// for the primitives; *StructValue for struct; []any for array; []MapEntry
// for map; Decimal for the Decimal logical type; time.Time for Date, Time
// and Timestamp. A nil value is null and needs Optional (or a Default).
type Schema struct {
	Type       Type
	Optional   bool
	Default    any
	Name       string
	Version    int32
	Doc        string
	Parameters map[string]string
	// Fields are the fields of a struct, in order; Field.Index equals the
	// position.
	Fields []Field
	// Items is an array's element schema.
	Items *Schema
	// Keys and Values are a map's key and value schemas.
	Keys, Values *Schema

	fieldIndex map[string]int
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// MapEntry is one entry of a map value. Maps are ordered slices so that
// non-string keys work and output is deterministic.
type MapEntry struct {
	Key, Value any
}

// Decimal is the value of the Decimal logical type: Unscaled × 10^-Scale.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// String formats the decimal in plain notation ("-12.340").
func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	s := d.Unscaled.String()
	if d.Scale <= 0 {
		if d.Scale < 0 && d.Unscaled.Sign() != 0 {
			s += string(zeros(int(-d.Scale)))
		}
		return s
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) <= int(d.Scale) {
		s = string(zeros(int(d.Scale)-len(s)+1)) + s
	}
	p := len(s) - int(d.Scale)
	s = s[:p] + "." + s[p:]
	if neg {
		s = "-" + s
	}
	return s
}

func zeros(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = '0'
	}
	return b
}

// ParseDecimal parses plain decimal notation ("-12.340", "7", "1e3" is not
// accepted) into a Decimal keeping the written scale.
func ParseDecimal(s string) (Decimal, error) {
	digits, scale := s, int32(0)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			digits = s[:i] + s[i+1:]
			scale = int32(len(s) - i - 1)
			break
		}
	}
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	return Decimal{Unscaled: v, Scale: scale}, nil
}

// DecimalSchema returns the schema of the Decimal logical type with the
// given scale.
func DecimalSchema(scale int32, optional bool) *Schema {
	return &Schema{Type: Bytes, Name: DecimalName, Version: 1, Optional: optional,
		Parameters: map[string]string{DecimalScaleParam: strconv.Itoa(int(scale))}}
}

// NewStruct returns a struct schema with the given fields; Index is filled
// in from the order, and the name index Field uses is built here, once,
// before the schema can be shared.
func NewStruct(name string, optional bool, fields ...Field) *Schema {
	s := &Schema{Type: Struct, Name: name, Optional: optional, Fields: fields}
	s.fieldIndex = make(map[string]int, len(fields))
	for i := range fields {
		fields[i].Index = i
		s.fieldIndex[fields[i].Name] = i
	}
	return s
}

// Field returns the struct field called name, with Index set to its
// position. It only reads s, so any number of goroutines may call it on a
// shared schema: a schema built with NewStruct answers from the index built
// there; one built as a literal (or whose Fields changed after NewStruct)
// is searched in order instead.
func (s *Schema) Field(name string) (Field, bool) {
	if s == nil || s.Type != Struct {
		return Field{}, false
	}
	if s.fieldIndex != nil && len(s.fieldIndex) == len(s.Fields) {
		i, ok := s.fieldIndex[name]
		if !ok {
			return Field{}, false
		}
		return s.Fields[i], true
	}
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			f := s.Fields[i]
			f.Index = i
			return f, true
		}
	}
	return Field{}, false
}

// Opt returns a field with the given name and schema.
func Opt(name string, s *Schema) Field { return Field{Name: name, Schema: s} }

// Primitive returns a fresh schema of a primitive type.
func Primitive(t Type, optional bool) *Schema { return &Schema{Type: t, Optional: optional} }

// Shared primitive schemas. They must not be modified.
var (
	OptionalStringSchema  = &Schema{Type: String, Optional: true}
	StringSchema          = &Schema{Type: String}
	Int64Schema           = &Schema{Type: Int64}
	OptionalInt64Schema   = &Schema{Type: Int64, Optional: true}
	Int32Schema           = &Schema{Type: Int32}
	OptionalInt32Schema   = &Schema{Type: Int32, Optional: true}
	BooleanSchema         = &Schema{Type: Boolean}
	OptionalBooleanSchema = &Schema{Type: Boolean, Optional: true}
	BytesSchema           = &Schema{Type: Bytes}
	OptionalBytesSchema   = &Schema{Type: Bytes, Optional: true}
	Float64Schema         = &Schema{Type: Float64}
)

// StructValue is the value of a struct schema: Values[i] belongs to
// Schema.Fields[i].
type StructValue struct {
	Schema *Schema
	Values []any
}

// NewStructValue returns an empty value of the struct schema s.
func NewStructValue(s *Schema) *StructValue {
	return &StructValue{Schema: s, Values: make([]any, len(s.Fields))}
}

// Get returns the value of the named field, or nil.
func (v *StructValue) Get(name string) any {
	if v == nil {
		return nil
	}
	f, ok := v.Schema.Field(name)
	if !ok {
		return nil
	}
	return v.Values[f.Index]
}

// Set sets the named field and returns v; it panics on an unknown field,
// which is a programming error.
func (v *StructValue) Set(name string, val any) *StructValue {
	f, ok := v.Schema.Field(name)
	if !ok {
		panic(fmt.Sprintf("connectors: struct %q has no field %q", v.Schema.Name, name))
	}
	v.Values[f.Index] = val
	return v
}
