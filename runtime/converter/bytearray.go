package converter

import (
	"bytes"
	"fmt"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var byteArrayDef = config.NewDef()

// ByteArray is Kafka Connect's ByteArrayConverter
// (org.apache.kafka.connect.converters.ByteArrayConverter): []byte values
// pass through unchanged.
type ByteArray struct{}

// Config returns the definition of the ByteArrayConverter's properties
// (it has none).
func (*ByteArray) Config() *config.Def { return byteArrayDef }

// Configure implements Converter.
func (*ByteArray) Configure(props map[string]string, isKey bool) error {
	_, err := parseProps(byteArrayDef, props, isKey)
	return err
}

// Encode implements Converter: it appends a []byte value. The schema, if
// any, must be of type bytes; any other Go type is an error.
func (*ByteArray) Encode(dst []byte, _ string, s *connectors.Schema, v any) ([]byte, error) {
	if s != nil && s.Type != connectors.Bytes {
		return dst, fmt.Errorf("ByteArrayConverter: invalid schema type %s; it converts bytes only, use another converter for this %s", s.Type, s.Type)
	}
	switch x := v.(type) {
	case nil:
		if len(dst) == 0 {
			return nil, nil
		}
		return dst, nil
	case []byte:
		if len(x) == 0 && dst == nil {
			return []byte{}, nil // empty, not a Kafka null
		}
		return append(dst, x...), nil
	}
	return dst, fmt.Errorf("ByteArrayConverter: cannot convert a value of Go type %T; it converts []byte only, use the JSON or String converter for other values", v)
}

// Decode implements Converter: a copy of data with an optional bytes
// schema; Kafka null is a nil value.
func (*ByteArray) Decode(_ string, data []byte) (*connectors.Schema, any, error) {
	if data == nil {
		return connectors.OptionalBytesSchema, nil, nil
	}
	return connectors.OptionalBytesSchema, bytes.Clone(data), nil
}
