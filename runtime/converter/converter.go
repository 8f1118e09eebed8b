// Package converter holds the worker's converters: they turn Connect data
// (a *connectors.Schema and a Go value) into the bytes of a Kafka record key
// or value and back, as Kafka Connect's converters do. JsonConverter,
// StringConverter, ByteArrayConverter and Confluent's AvroConverter are
// built in, registered under their class names and short names; more
// register with Register.
//
// Converters are on the per-row hot path: Encode appends to a caller-owned
// buffer, and the JSON converter serializes a schema once per schema pointer,
// not once per record.
package converter

import (
	"fmt"
	"sort"
	"strings"
	"sync"

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

// installed holds the installed converters. It is filled by Register during
// package initialization (the built-ins here, Avro from its own package) and
// only read afterwards; the mutex makes a late Register safe anyway.
var installed struct {
	sync.RWMutex
	byName  map[string]*Plugin
	plugins []*Plugin
}

func init() {
	Register(Plugin{Name: "json", Class: "org.apache.kafka.connect.json.JsonConverter",
		New: func() Converter { return NewJSON() }})
	Register(Plugin{Name: "string", Class: "org.apache.kafka.connect.storage.StringConverter",
		New: func() Converter { return &String{} }})
	Register(Plugin{Name: "bytearray", Class: "org.apache.kafka.connect.converters.ByteArrayConverter",
		New: func() Converter { return &ByteArray{} }})
	Register(Plugin{Name: "avro", Class: "io.confluent.connect.avro.AvroConverter",
		New: func() Converter { return NewAvro() }})
}

// Register installs a converter under its short name, class name, the
// class's simple name ("JsonConverter") and its aliases; names match
// without regard to case. It panics when a name is taken: that is a build
// error.
func Register(p Plugin) {
	if p.New == nil || p.Name == "" {
		panic("converter: Register needs a Name and a New function")
	}
	if p.Class == "" {
		p.Class = p.Name
	}
	installed.Lock()
	defer installed.Unlock()
	if installed.byName == nil {
		installed.byName = map[string]*Plugin{}
	}
	pp := &p
	names := append([]string{p.Name, p.Class}, p.Aliases...)
	if i := strings.LastIndexByte(p.Class, '.'); i >= 0 {
		names = append(names, p.Class[i+1:])
	}
	for _, n := range names {
		key := strings.ToLower(n)
		if q, ok := installed.byName[key]; ok && q != pp {
			panic(fmt.Sprintf("converter: name %q registered twice", n))
		}
		installed.byName[key] = pp
	}
	installed.plugins = append(installed.plugins, pp)
	sort.Slice(installed.plugins, func(i, j int) bool { return installed.plugins[i].Class < installed.plugins[j].Class })
}

// New returns a fresh, unconfigured converter for a class name
// ("org.apache.kafka.connect.json.JsonConverter"), its simple name
// ("JsonConverter") or a short name ("json"). Call Configure before use.
// An unknown name gives an *UnknownClassError listing the installed ones.
func New(class string) (Converter, error) {
	installed.RLock()
	p, ok := installed.byName[strings.ToLower(strings.TrimSpace(class))]
	installed.RUnlock()
	if !ok {
		return nil, &UnknownClassError{Class: class, Known: Names()}
	}
	return p.New(), nil
}

// Plugins lists the installed converters ordered by class name.
func Plugins() []Plugin {
	installed.RLock()
	defer installed.RUnlock()
	out := make([]Plugin, len(installed.plugins))
	for i, p := range installed.plugins {
		out[i] = *p
	}
	return out
}

// Names lists every installed converter as "short (class)", for messages.
func Names() []string {
	var out []string
	for _, p := range Plugins() {
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
