// Package connectjson is the Kafka Connect JSON format: Connect schemas and
// values to and from the bytes Kafka Connect's JsonConverter writes and
// reads, with schemas.enable envelopes ({"schema":...,"payload":...}),
// Connect's schema JSON, decimal.format BASE64 or NUMERIC, and
// replace.null.with.default. The runtime's JsonConverter is a thin adapter
// over it; connectors (the S3 sink's JSON lines) use it directly, so the
// format is spelled in one place. Lazy values (connectors.LazyStruct, the
// PostgreSQL snapshot's fast path) are written from the fields they visit
// by the same code as built ones.
//
// The package depends only on the connector SPI and the standard library.
//
// A Codec is on the per-row hot path: Encode appends to a caller-owned
// buffer and serializes a schema once per schema pointer, not once per
// record. AppendString is the JSON string spelling, for other writers of
// JSON text (the Avro schema writer) to spell strings as Encode does.
package connectjson

import (
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// Options are a Codec's settings, named after the JsonConverter properties
// they implement.
type Options struct {
	// Schemas is schemas.enable: write and read {"schema":...,"payload":...}
	// envelopes rather than bare values.
	Schemas bool
	// DecimalNumeric is decimal.format=NUMERIC: Decimal values are written
	// as JSON numbers rather than base64 (BASE64). Both are read.
	DecimalNumeric bool
	// ReplaceNullWithDefault is replace.null.with.default: a null field with
	// a default value is written and read as that default.
	ReplaceNullWithDefault bool
	// CacheSize is schemas.cache.size: the number of schemas kept in each
	// direction. 0 caches none.
	CacheSize int
	// RejectInvalidUTF8 makes Encode fail on a string (a value or a map
	// key) that is not valid UTF-8, rather than write U+FFFD in place of
	// its bad bytes as Connect's converter does: for writers whose output
	// must hold the data unchanged, such as an archive.
	RejectInvalidUTF8 bool
}

// DefaultOptions returns Kafka Connect's JsonConverter defaults: schemas
// enabled, BASE64 decimals, nulls replaced with defaults, 1000 schemas
// cached.
func DefaultOptions() Options {
	return Options{Schemas: true, ReplaceNullWithDefault: true, CacheSize: 1000}
}

// Codec encodes and decodes one side (keys or values) of a topic's records
// in the JsonConverter format. Output is byte-compatible with Connect's for
// the same data except where noted on Encode.
//
// A Codec is used by one goroutine at a time; its schema caches are not
// locked.
type Codec struct {
	schemas     bool
	numeric     bool
	replaceNull bool
	strict      bool // Options.RejectInvalidUTF8
	encSchemas  *codec.LRU[*connectors.Schema, *encEntry]
	decSchemas  *codec.LRU[string, *connectors.Schema]
	scratch     []byte // reused by Decode for unescaping and base64
	stacks      decodeStacks
	lastSchema  *lastSchema
	writers     []*lazyWriter // of nested lazy structs being written, by depth
	depth       int
}

// lastSchema is the schema of the previous record Decode read, with its
// JSON text, recognized by comparing bytes instead of scanning them.
type lastSchema struct {
	text   []byte
	schema *connectors.Schema
}

// New returns a Codec with the options o.
func New(o Options) *Codec {
	size := max(o.CacheSize, 0)
	return &Codec{
		schemas:     o.Schemas,
		numeric:     o.DecimalNumeric,
		replaceNull: o.ReplaceNullWithDefault,
		strict:      o.RejectInvalidUTF8,
		encSchemas:  codec.NewLRU[*connectors.Schema, *encEntry](size),
		decSchemas:  codec.NewLRU[string, *connectors.Schema](size),
	}
}

// SchemaError says that a schema cannot be written as Connect's schema
// JSON; Encode returns it so that a caller can tell a bad schema from a bad
// value. Err is a *codec.DataError.
type SchemaError struct {
	Err error
}

func (e *SchemaError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *SchemaError) Unwrap() error { return e.Err }

// Encode appends the JSON of (s, v) to dst and returns the extended slice.
// It differs from Connect's bytes only where Go and Java disagree on a
// representation, never in meaning:
//
//   - A nil value whose schema is nil or optional (without a default that
//     replace.null.with.default would write) is a Kafka null, so that
//     compaction sees a tombstone: Encode returns nil when dst is empty
//     and dst unchanged otherwise. Connect writes
//     {"schema":...,"payload":null} for an optional schema.
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
// A connectors.LazyStruct value with a schema is written from the fields
// it visits, without being built.
//
// The schema JSON is built once per *connectors.Schema and cached (up to
// CacheSize schemas), so schemas must not be modified once used. A value
// that does not fit its schema gives a *codec.DataError, a schema that
// cannot be written a *SchemaError; on error dst is returned truncated to
// its original length.
func (c *Codec) Encode(dst []byte, s *connectors.Schema, v any) ([]byte, error) {
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
			return dst, err
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
					return dst[:start], &SchemaError{Err: err}
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
		dst, err = c.appendLazy(dst, p, lz)
	} else if p != nil {
		dst, err = c.appendValue(dst, p, v)
	} else {
		dst, err = c.appendSchemaless(dst, v)
	}
	if err != nil {
		return dst[:start], err
	}
	if c.schemas {
		dst = append(dst, '}')
	}
	return dst, nil
}

// encEntry is what the encoder caches per top-level schema: its plan and,
// with schemas enabled, its JSON.
type encEntry struct {
	plan *plan
	memo map[*connectors.Schema]*plan
	json []byte
}

// entry returns the cached encoding entry of s, building it on a miss.
func (c *Codec) entry(s *connectors.Schema) *encEntry {
	if e, ok := c.encSchemas.M[s]; ok {
		c.encSchemas.Touch(e)
		return e.Val
	}
	memo := map[*connectors.Schema]*plan{}
	e := &encEntry{plan: compile(s, memo), memo: memo}
	c.encSchemas.Add(s, e)
	return e
}

// Decode parses data (nil = Kafka null) into a schema (nil when the data
// has none) and a value. Kafka null decodes as a nil schema and value. With
// schemas enabled the data must be an object with exactly the fields
// "schema" and "payload" (Connect's rule and message); a schema read once
// is cached by its JSON text (up to CacheSize), so every record of a shape
// gets the same *connectors.Schema. Without schemas, or with
// "schema":null, the value is decoded without a schema: objects become
// []connectors.MapEntry with string keys in input order (a repeated key
// keeps its first position and last value, as Jackson does), arrays []any,
// integers int64, other numbers float64.
//
// Decode is stricter than Jackson where leniency would lose data: the input
// must be one complete JSON text in valid UTF-8, an integer schema rejects a
// number with a fraction, Decimal schemas need a "scale" parameter (at most
// 10000 in magnitude) and NUMERIC values are rescaled to it exactly.
//
// Malformed JSON gives a *SyntaxError, JSON that does not fit its schema a
// *codec.DataError. The result does not retain data.
func (c *Codec) Decode(data []byte) (*connectors.Schema, any, error) {
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
		return nil, nil, err
	}
	return s, v, nil
}

// maxKeptScratch bounds the decode buffer a codec keeps between records.
const maxKeptScratch = 64 << 10

// envelopeError is Connect's message for data that is not a schema
// envelope while schemas.enable is on.
const envelopeError = `JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields.` +
	` If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`
