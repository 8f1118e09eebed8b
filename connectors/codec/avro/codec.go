package avro

import (
	"crypto/sha256"
	"fmt"
	"github.com/sluice-cdc/sluice/connectors/codec"
	"sync"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// Options are the AvroConverter settings that change the mapping.
type Options struct {
	// ConnectMetaData (connect.meta.data, default true) writes the
	// connect.* properties that carry Connect names, versions, docs,
	// parameters and defaults through Avro, and reads them back.
	ConnectMetaData bool
	// EnhancedSchemaSupport (enhanced.avro.schema.support, default false)
	// writes Connect strings carrying an Avro enum back as enums, and
	// names union struct fields by the members' full names.
	EnhancedSchemaSupport bool
	// CacheSize (schemas.cache.config, default 1000) bounds each schema
	// cache; a full cache is emptied and refilled.
	CacheSize int
}

// DefaultOptions returns Confluent's defaults.
func DefaultOptions() Options {
	return Options{ConnectMetaData: true, CacheSize: 1000}
}

// Codec compiles Connect schemas to Avro and back and caches the result.
// It is safe for concurrent use.
type Codec struct {
	opts Options
	mu   struct {
		sync.RWMutex
		byConnect map[*connectors.Schema]*Schema
		byText    map[[32]byte]*Schema
	}
}

// New returns a Codec; a zero CacheSize means 1000.
func New(opts Options) *Codec {
	if opts.CacheSize <= 0 {
		opts.CacheSize = 1000
	}
	c := &Codec{opts: opts}
	c.mu.byConnect = map[*connectors.Schema]*Schema{}
	c.mu.byText = map[[32]byte]*Schema{}
	return c
}

// Schema is a compiled schema: a Connect schema, its Avro schema, and the
// plan that encodes and decodes values between them. It is immutable and
// safe for concurrent use.
type Schema struct {
	connect *connectors.Schema
	avro    hamba.Schema
	text    string
	root    *node
}

// Connect returns the Connect schema. Treat it as immutable.
func (s *Schema) Connect() *connectors.Schema { return s.connect }

// Avro returns the Avro schema, as parsed by hamba/avro.
func (s *Schema) Avro() hamba.Schema { return s.avro }

// String returns the Avro schema JSON, as a registry stores it.
func (s *Schema) String() string { return s.text }

// Schema returns the compiled schema of a Connect schema, from the cache
// when this pointer was compiled before. Errors are *DataError: the
// schema cannot be written in Avro (two different records with one name,
// a Decimal without a scale, ...).
func (c *Codec) Schema(cs *connectors.Schema) (*Schema, error) {
	c.mu.RLock()
	s, ok := c.mu.byConnect[cs]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	text, err := schemaJSON(cs, c.opts)
	if err != nil {
		return nil, err
	}
	a, err := c.parse(text)
	if err != nil {
		return nil, fmt.Errorf("avro: the Avro schema made of Connect schema %q is invalid: %w", schemaLabel(cs), err)
	}
	root, err := compile(a, cs)
	if err != nil {
		return nil, err
	}
	s = &Schema{connect: cs, avro: a, text: string(text), root: root}
	c.mu.Lock()
	if len(c.mu.byConnect) >= c.opts.CacheSize {
		clear(c.mu.byConnect)
	}
	c.mu.byConnect[cs] = s
	c.mu.Unlock()
	return s, nil
}

// parse parses Avro schema text with a cache of its own: hamba/avro's
// default cache is global, and would let one schema's named types leak
// into another's.
func (c *Codec) parse(text []byte) (hamba.Schema, error) {
	return hamba.ParseBytesWithCache(text, "", &hamba.SchemaCache{})
}

// FromAvro returns the compiled schema of Avro schema text, as a consumer
// needs it: the Connect schema is what Confluent's converter makes of the
// Avro schema, and the plan reads data written with exactly that Avro
// schema. It is cached by the SHA-256 of the text.
func (c *Codec) FromAvro(text string) (*Schema, error) {
	key := sha256.Sum256([]byte(text))
	c.mu.RLock()
	s, ok := c.mu.byText[key]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	a, err := c.parse([]byte(text))
	if err != nil {
		return nil, &DataError{Reason: "invalid Avro schema: " + err.Error()}
	}
	cs, err := connectSchema(a, c.opts)
	if err != nil {
		return nil, err
	}
	root, err := compile(a, cs)
	if err != nil {
		return nil, err
	}
	s = &Schema{connect: cs, avro: a, text: text, root: root}
	c.mu.Lock()
	if len(c.mu.byText) >= c.opts.CacheSize {
		clear(c.mu.byText)
	}
	c.mu.byText[key] = s
	c.mu.Unlock()
	return s, nil
}

// Append appends the Avro binary of v to dst and returns the extended
// buffer. On error the returned buffer holds dst's bytes and possibly part
// of the value; the error is a *DataError naming the field.
func (s *Schema) Append(dst []byte, v any) ([]byte, error) {
	return s.root.encode(dst, v)
}

// Decode reads one value from data, which must hold exactly that value's
// Avro binary. The value does not alias data. Errors are *DataError.
func (s *Schema) Decode(data []byte) (any, error) {
	r := &reader{b: data}
	v, err := s.root.decode(r)
	if err != nil {
		return nil, err
	}
	if r.pos != len(data) {
		return nil, codec.Errorf("%d bytes left over after the value; the data was written with another schema", len(data)-r.pos)
	}
	return v, nil
}

// WriterFor returns a compiled schema that writes values of the Connect
// schema cs as the Avro schema text, for a producer that must write with a
// schema the registry already holds (Confluent's use.latest.version)
// rather than the one cs maps to. The two must have the same record
// fields by name (in any order) and types that fit each other (a Connect
// string as an Avro string or enum, bytes as bytes or fixed, an optional
// value as a union with null); anything else is a *DataError naming the
// field. Unlike Schema and FromAvro the result is not cached: the caller
// keeps it.
func (c *Codec) WriterFor(cs *connectors.Schema, text string) (*Schema, error) {
	a, err := c.parse([]byte(text))
	if err != nil {
		return nil, &DataError{Reason: "invalid Avro schema: " + err.Error()}
	}
	root, err := compile(a, cs)
	if err != nil {
		return nil, err
	}
	return &Schema{connect: cs, avro: a, text: text, root: root}, nil
}

// DecodeNext reads one value from the front of data and returns it with
// the number of bytes it took: a reader of a block that holds many values
// one after the other (an object container file's) calls it until the
// block is used up. The value does not alias data. Errors are *DataError.
func (s *Schema) DecodeNext(data []byte) (any, int, error) {
	r := &reader{b: data}
	v, err := s.root.decode(r)
	if err != nil {
		return nil, 0, err
	}
	return v, r.pos, nil
}
