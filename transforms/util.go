package transforms

import (
	"container/list"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// side says which half of a record a $Key or $Value transform works on.
type side bool

const (
	keySide   side = true
	valueSide side = false
)

func (s side) String() string {
	if s == keySide {
		return "key"
	}
	return "value"
}

// get returns the schema and value of this side, building a lazy struct.
func (s side) get(r *connectors.Record) (*connectors.Schema, any, error) {
	sc, v := r.ValueSchema, r.Value
	if s == keySide {
		sc, v = r.KeySchema, r.Key
	}
	if l, ok := v.(connectors.LazyStruct); ok {
		sv, err := l.Build()
		if err != nil {
			return nil, nil, recordErr(r, "building the %s: %v", s, err)
		}
		v = sv
	}
	return sc, v, nil
}

// set replaces this side's schema and value in place: the chain owns r.
func (s side) set(r *connectors.Record, sc *connectors.Schema, v any) *connectors.Record {
	if s == keySide {
		r.KeySchema, r.Key = sc, v
	} else {
		r.ValueSchema, r.Value = sc, v
	}
	return r
}

// RecordError is a record a transform cannot handle; it says where the
// record came from.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Reason    string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s (record topic %q partition %d offset %d)", e.Reason, e.Topic, e.Partition, e.Offset)
}

func recordErr(r *connectors.Record, format string, args ...any) error {
	return &RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Reason: fmt.Sprintf(format, args...)}
}

// asMap returns a schemaless map value as ordered entries: the JSON
// converter decodes objects to []MapEntry; map[string]any is accepted
// too, in key order.
func asMap(v any) ([]connectors.MapEntry, bool) {
	switch m := v.(type) {
	case []connectors.MapEntry:
		return m, true
	case map[string]any:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]connectors.MapEntry, len(keys))
		for i, k := range keys {
			out[i] = connectors.MapEntry{Key: k, Value: m[k]}
		}
		return out, true
	}
	return nil, false
}

// mapGet returns the value of key k and its position, or -1.
func mapGet(m []connectors.MapEntry, k string) (any, int) {
	for i, e := range m {
		if s, ok := e.Key.(string); ok && s == k {
			return e.Value, i
		}
	}
	return nil, -1
}

// mapPut sets k in m (appending when absent) and returns m.
func mapPut(m []connectors.MapEntry, k string, v any) []connectors.MapEntry {
	if _, i := mapGet(m, k); i >= 0 {
		m[i].Value = v
		return m
	}
	return append(m, connectors.MapEntry{Key: k, Value: v})
}

func requireMap(r *connectors.Record, s side, v any, purpose string) ([]connectors.MapEntry, error) {
	m, ok := asMap(v)
	if !ok {
		return nil, recordErr(r, "%s: without a schema the record %s must be a map, found %T", purpose, s, v)
	}
	return m, nil
}

func requireStruct(r *connectors.Record, s side, sc *connectors.Schema, v any, purpose string) (*connectors.StructValue, error) {
	sv, ok := v.(*connectors.StructValue)
	if !ok || sc.Type != connectors.Struct {
		return nil, recordErr(r, "%s: the record %s must be a struct, found schema type %s", purpose, s, sc.Type)
	}
	return sv, nil
}

// newStructLike returns a struct schema with base's name, version, doc,
// parameters and optionality and the given fields.
func newStructLike(base *connectors.Schema, fields []connectors.Field) *connectors.Schema {
	s := connectors.NewStruct(base.Name, base.Optional, fields...)
	s.Version, s.Doc, s.Parameters, s.Default = base.Version, base.Doc, base.Parameters, base.Default
	return s
}

// withOptional returns s, or a copy of s made optional.
func withOptional(s *connectors.Schema) *connectors.Schema {
	if s.Optional {
		return s
	}
	if s.Type == connectors.Struct {
		c := newStructLike(s, append([]connectors.Field(nil), s.Fields...))
		c.Optional = true
		return c
	}
	c := *s
	c.Optional = true
	return &c
}

// cache is a small LRU, as Kafka's transforms keep one per instance
// (LRUCache of 16) so that a schema is built once per input schema.
type cache[K comparable, V any] struct {
	max int
	m   map[K]*list.Element
	l   list.List
}

type cacheEntry[K comparable, V any] struct {
	k K
	v V
}

func newCache[K comparable, V any](max int) *cache[K, V] {
	return &cache[K, V]{max: max, m: make(map[K]*list.Element, max)}
}

func (c *cache[K, V]) get(k K) (V, bool) {
	if e, ok := c.m[k]; ok {
		if c.l.Front() != e {
			c.l.MoveToFront(e)
		}
		return e.Value.(*cacheEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

func (c *cache[K, V]) put(k K, v V) {
	if e, ok := c.m[k]; ok {
		e.Value.(*cacheEntry[K, V]).v = v
		c.l.MoveToFront(e)
		return
	}
	c.m[k] = c.l.PushFront(&cacheEntry[K, V]{k, v})
	if c.l.Len() > c.max {
		last := c.l.Back()
		c.l.Remove(last)
		delete(c.m, last.Value.(*cacheEntry[K, V]).k)
	}
}

const schemaCacheSize = 16

// Logical schemas.
func dateSchema(optional bool) *connectors.Schema {
	return &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Version: 1, Optional: optional}
}

func timeSchema(optional bool) *connectors.Schema {
	return &connectors.Schema{Type: connectors.Int32, Name: connectors.TimeName, Version: 1, Optional: optional}
}

func timestampSchema(optional bool) *connectors.Schema {
	return &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Version: 1, Optional: optional}
}

// headerBytes renders a value as a header, as Connect's
// SimpleHeaderConverter does: strings as their bytes, other primitives in
// their string form, bytes as they are, and structs, maps and arrays as
// JSON.
func headerBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	case *connectors.StructValue, []connectors.MapEntry, map[string]any, []any:
		return appendJSON(nil, v)
	}
	return []byte(scalarString(v)), nil
}

// scalarString formats a primitive or logical value as Connect's
// Values.convertToString does.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case connectors.Decimal:
		return x.String()
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case []byte:
		return base64.StdEncoding.EncodeToString(x)
	}
	return fmt.Sprint(v)
}

// appendJSON writes a value as JSON without a schema.
func appendJSON(dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		b, _ := json.Marshal(x)
		return append(dst, b...), nil
	case bool, int8, int16, int32, int64, int:
		return append(dst, scalarString(x)...), nil
	case float32, float64:
		f, ok := x.(float64)
		if !ok {
			f = float64(x.(float32))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSON(dst, scalarString(x))
		}
		return append(dst, scalarString(x)...), nil
	case connectors.Decimal:
		return append(dst, x.String()...), nil
	case time.Time, []byte:
		return appendJSON(dst, scalarString(x))
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, e); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		m, _ := asMap(x)
		return appendJSON(dst, m)
	case []connectors.MapEntry:
		dst = append(dst, '{')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, scalarString(e.Key)); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = appendJSON(dst, e.Value); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case *connectors.StructValue:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '{')
		for i, f := range x.Schema.Fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst, _ = appendJSON(dst, f.Name)
			dst = append(dst, ':')
			if dst, err = appendJSON(dst, x.Values[i]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	return dst, fmt.Errorf("cannot write a %T as JSON", v)
}

// v1Only is field.syntax.version for the transforms that take nested
// paths in Kafka (KIP-821) but only top-level names in Sluice: V2 is
// refused rather than ignored.
var v1Only = config.Key{Name: "field.syntax.version", Type: config.String, Default: "V1",
	Validator: func(_ string, v any) error {
		if s, _ := v.(string); !strings.EqualFold(s, "V1") {
			return fmt.Errorf("only V1 (top-level field names) is supported by this transform; nested paths (V2) work in ExtractField")
		}
		return nil
	},
	Doc: "V1: fields are top-level names. V2 (nested paths) is not supported by this transform."}
