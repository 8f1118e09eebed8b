// Package converter holds the worker's converters: they turn Connect data
// (a *connectors.Schema and a Go value) into the bytes of a Kafka record key
// or value and back, as Kafka Connect's converters do. JsonConverter,
// StringConverter, ByteArrayConverter and Confluent's AvroConverter are
// built in (Builtin); the worker finds them by class name or short name in
// the Catalog it is given. The formats themselves live below the runtime,
// in connectors/codec (connectjson, avro): the converters here parse their
// properties, frame the bytes and talk to the schema registry.
//
// Converters are on the per-row hot path: Encode appends to a caller-owned
// buffer, and the JSON converter serializes a schema once per schema pointer,
// not once per record.
package converter

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
)

// Converter turns Connect data into Kafka bytes and back. A converter
// instance is used by one task goroutine at a time.
type Converter interface {
	// Configure is called once with the converter's properties (the
	// "key.converter."/"value.converter." prefix already stripped) and
	// whether it converts keys.
	Configure(props map[string]string, isKey bool) error
	// Encode appends the serialized form of (schema, value) for topic to dst
	// and returns the extended slice. A nil value with a nil or optional
	// schema encodes as a nil slice (Kafka null / tombstone) when dst is
	// empty.
	Encode(dst []byte, topic string, s *connectors.Schema, v any) ([]byte, error)
	// Decode parses data (nil = Kafka null) into a schema (may be nil for
	// schemaless) and value. The result must not retain data.
	Decode(topic string, data []byte) (*connectors.Schema, any, error)
}

// LazyEncoder is a Converter that encodes connectors.LazyStruct values
// itself; other converters are handed built StructValues.
type LazyEncoder interface {
	EncodesLazy() bool
}

// EncodesLazy reports whether c encodes connectors.LazyStruct values
// itself.
func EncodesLazy(c Converter) bool {
	l, ok := c.(LazyEncoder)
	return ok && l.EncodesLazy()
}

// Plugin describes an installed converter.
type Plugin struct {
	// Name is the short name ("json").
	Name string
	// Class is the Kafka Connect class name users already have in their
	// configs; it is the name reported in listings.
	Class string
	// Aliases are further accepted names.
	Aliases []string
	// New returns a fresh, unconfigured converter.
	New func() Converter
}

// BuiltinPlugins lists the converters Sluice ships: Kafka Connect's
// JsonConverter, StringConverter and ByteArrayConverter, and Confluent's
// AvroConverter.
func BuiltinPlugins() []Plugin {
	return []Plugin{
		{Name: "json", Class: "org.apache.kafka.connect.json.JsonConverter",
			New: func() Converter { return NewJSON() }},
		{Name: "string", Class: "org.apache.kafka.connect.storage.StringConverter",
			New: func() Converter { return &String{} }},
		{Name: "bytearray", Class: "org.apache.kafka.connect.converters.ByteArrayConverter",
			New: func() Converter { return &ByteArray{} }},
		{Name: "avro", Class: "io.confluent.connect.avro.AvroConverter",
			New: func() Converter { return NewAvro() }},
	}
}

// Builtin returns a catalog of BuiltinPlugins.
func Builtin() *Catalog { return NewCatalog(BuiltinPlugins()...) }

// Catalog is a set of installed converters, looked up by name. The worker
// is given one (runtime.Options.Converters) and looks every key.converter
// and value.converter up in it. A Catalog does not change once built and
// is safe for concurrent use.
type Catalog struct {
	byName  map[string]*Plugin
	plugins []*Plugin
}

// NewCatalog returns a catalog of plugins, each under its short name, class
// name, the class's simple name ("JsonConverter") and its aliases; names
// match without regard to case. A test adds its own converter with
// NewCatalog(append(BuiltinPlugins(), p)...). NewCatalog panics when a
// plugin has no Name or New function or a name is taken: that is a
// programming error.
func NewCatalog(plugins ...Plugin) *Catalog {
	c := &Catalog{byName: map[string]*Plugin{}}
	for _, p := range plugins {
		if p.New == nil || p.Name == "" {
			panic("converter: a catalog's plugins need a Name and a New function")
		}
		if p.Class == "" {
			p.Class = p.Name
		}
		pp := &p
		names := append([]string{p.Name, p.Class}, p.Aliases...)
		if i := strings.LastIndexByte(p.Class, '.'); i >= 0 {
			names = append(names, p.Class[i+1:])
		}
		for _, n := range names {
			key := strings.ToLower(n)
			if q, ok := c.byName[key]; ok && q != pp {
				panic(fmt.Sprintf("converter: name %q given to two converters", n))
			}
			c.byName[key] = pp
		}
		c.plugins = append(c.plugins, pp)
	}
	sort.Slice(c.plugins, func(i, j int) bool { return c.plugins[i].Class < c.plugins[j].Class })
	return c
}

// New returns a fresh, unconfigured converter for a class name
// ("org.apache.kafka.connect.json.JsonConverter"), its simple name
// ("JsonConverter") or a short name ("json"). Call Configure before use.
// An unknown name gives an *UnknownClassError listing the installed ones.
func (c *Catalog) New(class string) (Converter, error) {
	p, ok := c.byName[strings.ToLower(strings.TrimSpace(class))]
	if !ok {
		return nil, &UnknownClassError{Class: class, Known: c.Names()}
	}
	return p.New(), nil
}

// Plugins lists the installed converters ordered by class name.
func (c *Catalog) Plugins() []Plugin {
	out := make([]Plugin, len(c.plugins))
	for i, p := range c.plugins {
		out[i] = *p
	}
	return out
}

// Names lists every installed converter as "short (class)", for messages.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.plugins))
	for _, p := range c.plugins {
		out = append(out, p.Name+" ("+p.Class+")")
	}
	return out
}

// UnknownClassError says that no installed converter has the name.
type UnknownClassError struct {
	Class string
	Known []string
}

func (e *UnknownClassError) Error() string {
	return fmt.Sprintf("converter class %q is not an installed converter; installed converters: %s",
		e.Class, strings.Join(e.Known, ", "))
}
