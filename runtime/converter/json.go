package converter

import (
	"fmt"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
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
// without it, the bare value. Output is byte-compatible with Connect's for
// the same data except where noted on Encode.
//
// A JSON converter is used by one goroutine at a time; its schema caches are
// not locked.
type JSON struct {
	side        string // "key" or "value", for messages
	schemas     bool
	numeric     bool
	replaceNull bool
	encSchemas  *lru[*connectors.Schema, *encEntry]
	decSchemas  *lru[string, *connectors.Schema]
	scratch     []byte // reused by Decode for unescaping and base64
	stacks      decodeStacks
	lastSchema  *lastSchema
}

// lastSchema is the schema of the previous record Decode read, with its
// JSON text, recognized by comparing bytes instead of scanning them.
type lastSchema struct {
	text   []byte
	schema *connectors.Schema
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
	c.schemas = v.Bool(SchemasEnable)
	c.numeric = strings.EqualFold(v.String(DecimalFormat), DecimalNumeric)
	c.replaceNull = v.Bool(ReplaceNullWithDefault)
	size := v.Int(SchemasCacheSize)
	c.encSchemas = newLRU[*connectors.Schema, *encEntry](size)
	c.decSchemas = newLRU[string, *connectors.Schema](size)
	c.lastSchema = nil
	return nil
}

// Encode implements Converter. It differs from Connect's bytes only where
// Go and Java disagree on a representation, never in meaning:
//
//   - A nil value whose schema is nil or optional (without a default that
//     replace.null.with.default would write) is a Kafka null, so that
//     compaction sees a tombstone; Connect writes {"schema":...,"payload":null}
//     for an optional schema.
//   - Schema parameters are written in sorted key order (Go maps have none),
//     and a Version of 0 (unset in Go) is not written.
//   - Decimals with decimal.format=NUMERIC are written in plain notation
//     ("0.0000001"), where Java's BigDecimal.toString may use an exponent.
//   - Strings are escaped as encoding/json escapes them without HTML
//     escaping (lowercase \u00xx, and \u2028/\u2029 escaped); Jackson writes
//     uppercase hex and leaves U+2028/U+2029 raw.
//
// Floats are formatted as Java's Double.toString/Float.toString do ("1.0",
// "1.0E10"), so that a consumer reading without a schema still sees a
// floating-point number. NaN and ±Infinity are written as the JSON strings
// "NaN", "Infinity" and "-Infinity": that is what Jackson's default
// (QUOTE_NON_NUMERIC_NUMBERS) writes for Connect, and Decode reads them back
// for float schemas.
//
// The schema JSON is built once per *connectors.Schema and cached (up to
// schemas.cache.size schemas), so schemas must not be modified once used.
// On error dst is returned truncated to its original length.
func (c *JSON) Encode(dst []byte, topic string, s *connectors.Schema, v any) ([]byte, error) {
	if v == nil && (s == nil || (s.Optional && (s.Default == nil || !c.replaceNull))) {
		if len(dst) == 0 {
			return nil, nil
		}
		return dst, nil
	}
	lz, lazy := v.(connectors.LazyStruct)
	if lazy && s == nil {
		// Written without a schema: built like any struct.
		sv, err := lz.Build()
		if err != nil {
			return dst, fmt.Errorf("JsonConverter: converting the %s for topic %q: %w", c.side, topic, err)
		}
		v, lazy = sv, false
	}
	start := len(dst)
	var p *plan
	var e *encEntry
	if s != nil {
		e = c.entry(s)
		p = e.plan
		if c.schemas {
			if e.json == nil {
				b, err := c.appendSchema(nil, s, nil, e.memo)
				if err != nil {
					return dst[:start], fmt.Errorf("JsonConverter: converting the %s schema for topic %q: %w", c.side, topic, err)
				}
				e.json = b
			}
			dst = append(dst, `{"schema":`...)
			dst = append(dst, e.json...)
			dst = append(dst, `,"payload":`...)
		}
	} else if c.schemas {
		dst = append(dst, `{"schema":null,"payload":`...)
	}
	var err error
	if lazy {
		dst, err = lz.AppendJSON(dst, e.lazy)
	} else if p != nil {
		dst, err = c.appendValue(dst, p, v)
	} else {
		dst, err = c.appendSchemaless(dst, v)
	}
	if err != nil {
		return dst[:start], fmt.Errorf("JsonConverter: converting the %s for topic %q: %w", c.side, topic, err)
	}
	if c.schemas {
		dst = append(dst, '}')
	}
	return dst, nil
}

// encEntry is what the encoder caches per top-level schema: its plan and,
// with schemas.enable, its JSON.
type encEntry struct {
	plan *plan
	memo map[*connectors.Schema]*plan
	json []byte
	lazy *lazyEncoder
}

// EncodesLazy reports that Encode writes connectors.LazyStruct values
// itself, without building them.
func (*JSON) EncodesLazy() bool { return true }

// lazyEncoder is the connectors.JSONEncoder handed to a LazyStruct: it
// encodes values of the record's schema and of the schemas reachable from
// it, with their cached plans.
type lazyEncoder struct {
	c    *JSON
	memo map[*connectors.Schema]*plan
}

func (l *lazyEncoder) AppendJSON(dst []byte, s *connectors.Schema, v any) ([]byte, error) {
	p, ok := l.memo[s]
	if !ok {
		return dst, codec.Errorf("schema %q is not part of the record's schema", schemaLabel(s))
	}
	return l.c.appendValue(dst, p, v)
}

// entry returns the cached encoding entry of s, building it on a miss.
func (c *JSON) entry(s *connectors.Schema) *encEntry {
	if e, ok := c.encSchemas.m[s]; ok {
		c.encSchemas.touch(e)
		return e.val
	}
	memo := map[*connectors.Schema]*plan{}
	e := &encEntry{plan: compile(s, memo), memo: memo}
	e.lazy = &lazyEncoder{c: c, memo: memo}
	c.encSchemas.add(s, e)
	return e
}

// Decode implements Converter. Kafka null decodes as a nil schema and
// value. With schemas.enable the data must be an object with exactly the
// fields "schema" and "payload" (Connect's rule and message); a schema
// read once is cached by its JSON text (up to schemas.cache.size), so every
// record of a shape gets the same *connectors.Schema. Without
// schemas.enable, or with "schema":null, the value is decoded without a
// schema: objects become []connectors.MapEntry with string keys in input
// order (a repeated key keeps its first position and last value, as
// Jackson does), arrays []any, integers int64, other numbers float64.
//
// Decode is stricter than Jackson where leniency would lose data: the input
// must be one complete JSON text in valid UTF-8, an integer schema rejects a
// number with a fraction, Decimal schemas need a "scale" parameter (at most
// 10000 in magnitude) and NUMERIC values are rescaled to it exactly.
func (c *JSON) Decode(topic string, data []byte) (*connectors.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	p := parser{data: data, c: c, scratch: c.scratch[:0]}
	s, v, err := p.top()
	if cap(p.scratch) <= maxKeptScratch {
		c.scratch = p.scratch
	}
	c.stacks.trim()
	if err != nil {
		return nil, nil, fmt.Errorf("JsonConverter: converting the %s of topic %q: %w", c.side, topic, err)
	}
	return s, v, nil
}

// maxKeptScratch bounds the decode buffer a converter keeps between records.
const maxKeptScratch = 64 << 10

// envelopeError is Connect's message for data that is not a schema
// envelope while schemas.enable is on.
const envelopeError = `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields.` +
	` If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`
