package converter

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// JsonConverter property names.
const (
	SchemasEnable          = "schemas.enable"
	SchemasCacheSize       = "schemas.cache.size"
	DecimalFormat          = "decimal.format"
	ReplaceNullWithDefault = "replace.null.with.default"
)

// Values of decimal.format.
const (
	DecimalBase64  = "BASE64"
	DecimalNumeric = "NUMERIC"
)

var jsonDef = config.NewDef(
	config.Key{Name: SchemasEnable, Type: config.Boolean, Default: "true", Importance: config.High,
		Doc: "Include schemas within each of the serialized values and keys: {\"schema\":...,\"payload\":...}. " +
			"Set to false to write and read plain JSON."},
	config.Key{Name: SchemasCacheSize, Type: config.Int, Default: "1000", Importance: config.High,
		Validator: config.AtLeast(0),
		Doc:       "The maximum number of schemas that can be cached in this converter instance, in each direction."},
	config.Key{Name: DecimalFormat, Type: config.String, Default: DecimalBase64, Importance: config.Low,
		Validator: config.In(DecimalBase64, DecimalNumeric),
		Doc: "How Decimal values are written: BASE64 (the base64 of the big-endian two's-complement unscaled " +
			"value) or NUMERIC (a JSON number). Both are read."},
	config.Key{Name: ReplaceNullWithDefault, Type: config.Boolean, Default: "true", Importance: config.Low,
		Doc: "Whether a null field with a default value is written and read as that default."},
)

// JSON is Kafka Connect's JsonConverter
// (org.apache.kafka.connect.json.JsonConverter): with schemas.enable (the
// default) a record is {"schema":<Connect schema as JSON>,"payload":<value>};
// without it, the bare value. The format is connectjson's; JSON parses the
// properties into connectjson.Options and names the topic and side in
// errors.
//
// A JSON converter is used by one goroutine at a time; its schema caches are
// not locked.
type JSON struct {
	side  string // "key" or "value", for messages
	codec *connectjson.Codec
}

// NewJSON returns a JsonConverter with Kafka Connect's defaults; Configure
// changes them.
func NewJSON() *JSON {
	c := &JSON{}
	if err := c.Configure(nil, false); err != nil {
		panic(err) // the defaults are valid
	}
	return c
}

// Config returns the definition of the JsonConverter's properties.
func (*JSON) Config() *config.Def { return jsonDef }

// Configure implements Converter.
func (c *JSON) Configure(props map[string]string, isKey bool) error {
	v, err := parseProps(jsonDef, props, isKey)
	if err != nil {
		return err
	}
	c.side = "value"
	if isKey {
		c.side = "key"
	}
	c.codec = connectjson.New(connectjson.Options{
		Schemas:                v.Bool(SchemasEnable),
		DecimalNumeric:         strings.EqualFold(v.String(DecimalFormat), DecimalNumeric),
		ReplaceNullWithDefault: v.Bool(ReplaceNullWithDefault),
		CacheSize:              v.Int(SchemasCacheSize),
	})
	return nil
}

// Encode implements Converter with connectjson's Codec.Encode, whose
// documentation says where the bytes differ from Connect's. A nil value
// whose schema is nil or optional (without a default that
// replace.null.with.default would write) is a Kafka null. On error dst is
// returned truncated to its original length.
func (c *JSON) Encode(dst []byte, topic string, s *connectors.Schema, v any) ([]byte, error) {
	out, err := c.codec.Encode(dst, s, v)
	if err != nil {
		if se, ok := errors.AsType[*connectjson.SchemaError](err); ok {
			return out, fmt.Errorf("JsonConverter: converting the %s schema for topic %q: %w", c.side, topic, se.Err)
		}
		return out, fmt.Errorf("JsonConverter: converting the %s for topic %q: %w", c.side, topic, err)
	}
	return out, nil
}

// EncodesLazy reports that Encode writes connectors.LazyStruct values
// itself, without building them.
func (*JSON) EncodesLazy() bool { return true }

// Decode implements Converter with connectjson's Codec.Decode: Kafka null
// decodes as a nil schema and value; schemas read from envelopes are cached
// by their JSON text, so every record of a shape gets the same
// *connectors.Schema. The result does not retain data.
func (c *JSON) Decode(topic string, data []byte) (*connectors.Schema, any, error) {
	s, v, err := c.codec.Decode(data)
	if err != nil {
		return nil, nil, fmt.Errorf("JsonConverter: converting the %s of topic %q: %w", c.side, topic, err)
	}
	return s, v, nil
}
