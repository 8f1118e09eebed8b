package converter

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// ConverterEncoding is StringConverter's character set property.
const ConverterEncoding = "converter.encoding"

var stringDef = config.NewDef(
	config.Key{Name: ConverterEncoding, Type: config.String, Default: "UTF-8", Importance: config.High,
		Validator: config.In("UTF-8", "UTF8"),
		Doc:       "The character set of the strings; Sluice supports UTF-8 only."},
)

// String is Kafka Connect's StringConverter
// (org.apache.kafka.connect.storage.StringConverter): UTF-8 text. Encode
// ignores the schema and writes a value's string form; Decode returns an
// optional string schema.
type String struct{}

// Config returns the definition of the StringConverter's properties.
func (*String) Config() *config.Def { return stringDef }

// Configure implements Converter.
func (*String) Configure(props map[string]string, isKey bool) error {
	_, err := parseProps(stringDef, props, isKey)
	return err
}

// Encode implements Converter. A string is written as it is; other values
// as Java's toString writes them in Connect: numbers in Java's notation
// ("1.0", "1.0E10"), a struct as "Struct{a=1,b=x}" (null fields left out),
// an array as "[1, 2]", a map as "{k=v, k2=v2}". Where Java's form is
// useless Sluice writes something better: []byte as its raw bytes at the
// top level and as base64 inside a struct, array or map (Java prints an
// object id), time.Time as RFC 3339 in UTC (Java uses the JVM's zone).
func (*String) Encode(dst []byte, _ string, _ *connectors.Schema, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		if len(dst) == 0 {
			return nil, nil
		}
		return dst, nil
	case string:
		if x == "" && dst == nil {
			return []byte{}, nil // empty, not a Kafka null
		}
		return append(dst, x...), nil
	case []byte:
		if len(x) == 0 && dst == nil {
			return []byte{}, nil
		}
		return append(dst, x...), nil
	}
	return appendJavaString(dst, v)
}

// appendJavaString writes v as Java's String.valueOf would in Connect.
func appendJavaString(dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return append(dst, x...), nil
	case []byte:
		return base64.StdEncoding.AppendEncode(dst, x), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float32:
		return connectjson.AppendJavaNumber(dst, float64(x), 32), nil
	case float64:
		return connectjson.AppendJavaNumber(dst, x, 64), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case connectors.Decimal:
		return append(dst, x.String()...), nil
	case time.Time:
		return x.UTC().AppendFormat(dst, time.RFC3339Nano), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			if dst, err = appendJavaString(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []connectors.MapEntry:
		dst = append(dst, '{')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			if dst, err = appendJavaString(dst, e.Key); err != nil {
				return dst, err
			}
			dst = append(dst, '=')
			if dst, err = appendJavaString(dst, e.Value); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case *connectors.StructValue:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if len(x.Values) != len(x.Schema.Fields) {
			return dst, codec.Errorf("struct value has %d values for %d fields", len(x.Values), len(x.Schema.Fields))
		}
		dst = append(dst, "Struct{"...)
		first := true
		for i, e := range x.Values {
			if e == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, x.Schema.Fields[i].Name...)
			dst = append(dst, '=')
			if dst, err = appendJavaString(dst, e); err != nil {
				return dst, codec.InField(err, x.Schema.Fields[i].Name)
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("StringConverter: Go value of type %T has no string form", v)
}

// Decode implements Converter: the bytes as a string (invalid UTF-8
// sequences replaced by U+FFFD, as Java's decoder does) with an optional
// string schema; Kafka null is a nil value.
func (*String) Decode(_ string, data []byte) (*connectors.Schema, any, error) {
	if data == nil {
		return connectors.OptionalStringSchema, nil, nil
	}
	if !utf8.Valid(data) {
		return connectors.OptionalStringSchema, strings.ToValidUTF8(string(data), "\uFFFD"), nil
	}
	return connectors.OptionalStringSchema, string(data), nil
}
