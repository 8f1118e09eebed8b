package transforms

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var valueToKeyDef = config.NewDef(
	config.Key{Name: "fields", Type: config.List, Default: config.NoDefault, Doc: "Value fields that make up the new key.", Validator: nonEmptyList},
	v1Only,
)

// ValueToKey replaces the key with a struct (or map) of value fields
// (Kafka's ValueToKey).
type ValueToKey struct {
	fields  []string
	schemas *cache[*connectors.Schema, *keyFrom]
}

type keyFrom struct {
	schema *connectors.Schema
	from   []int
}

func (*ValueToKey) Config() *config.Def { return valueToKeyDef }

func (t *ValueToKey) Configure(props map[string]string) error {
	v, err := valueToKeyDef.Parse(props)
	if err != nil {
		return err
	}
	t.fields = v.List("fields")
	t.schemas = newCache[*connectors.Schema, *keyFrom](schemaCacheSize)
	return nil
}

func (t *ValueToKey) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := valueSide.get(r)
	if err != nil || v == nil {
		return r, err // a tombstone keeps its key
	}
	if sc == nil {
		m, err := requireMap(r, valueSide, v, "ValueToKey")
		if err != nil {
			return nil, err
		}
		key := make([]connectors.MapEntry, len(t.fields))
		for i, f := range t.fields {
			val, _ := mapGet(m, f)
			key[i] = connectors.MapEntry{Key: f, Value: val}
		}
		return keySide.set(r, nil, key), nil
	}
	sv, err := requireStruct(r, valueSide, sc, v, "ValueToKey")
	if err != nil {
		return nil, err
	}
	kf, ok := t.schemas.get(sc)
	if !ok {
		kf = &keyFrom{}
		fields := make([]connectors.Field, len(t.fields))
		for i, name := range t.fields {
			f, ok := sc.Field(name)
			if !ok {
				return nil, recordErr(r, "ValueToKey: the value schema %q has no field %q; fix fields", sc.Name, name)
			}
			fields[i] = connectors.Opt(name, f.Schema)
			kf.from = append(kf.from, f.Index)
		}
		kf.schema = connectors.NewStruct("", false, fields...)
		t.schemas.put(sc, kf)
	}
	key := &connectors.StructValue{Schema: kf.schema, Values: make([]any, len(kf.from))}
	for i, j := range kf.from {
		key.Values[i] = sv.Values[j]
	}
	return keySide.set(r, kf.schema, key), nil
}

var extractFieldDef = config.NewDef(
	config.Key{Name: "field", Type: config.String, Default: config.NoDefault, Validator: config.NonEmpty,
		Doc: "Field to extract; with field.syntax.version=V2 a dotted path into nested structs or maps (quote a name holding dots in backticks)."},
	config.Key{Name: "field.syntax.version", Type: config.String, Default: "V1", Validator: config.In("V1", "V2"),
		Doc: "V1: field is one top-level name; V2: field is a dotted path (KIP-821)."},
)

// parsePath splits a V2 field path: names separated by dots, a name in
// backticks may hold dots (a doubled backtick is a literal one).
func parsePath(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '`' && cur.Len() == 0 && (i == 0 || s[i-1] == '.'):
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '`' {
					if j+1 < len(s) && s[j+1] == '`' {
						cur.WriteByte('`')
						j++
						continue
					}
					break
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unclosed backtick in field path %q", s)
			}
			i = j
		case c == '.':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	out = append(out, cur.String())
	for _, p := range out {
		if p == "" {
			return nil, fmt.Errorf("empty name in field path %q", s)
		}
	}
	return out, nil
}

// ExtractField replaces the key or value with one of its fields (Kafka's
// ExtractField).
type ExtractField struct {
	side side
	path []string
}

func (*ExtractField) Config() *config.Def { return extractFieldDef }

func (t *ExtractField) Configure(props map[string]string) error {
	v, err := extractFieldDef.Parse(props)
	if err != nil {
		return err
	}
	t.path = []string{v.String("field")}
	if strings.EqualFold(v.String("field.syntax.version"), "V2") {
		if t.path, err = parsePath(v.String("field")); err != nil {
			return &config.Error{Key: "field", Value: v.String("field"), Reason: err.Error()}
		}
	}
	return nil
}

func (t *ExtractField) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil {
		return nil, err
	}
	if sc == nil {
		for _, p := range t.path {
			if v == nil {
				break
			}
			m, err := requireMap(r, t.side, v, "ExtractField")
			if err != nil {
				return nil, err
			}
			v, _ = mapGet(m, p)
		}
		return t.side.set(r, nil, v), nil
	}
	for _, p := range t.path {
		if sc.Type != connectors.Struct {
			return nil, recordErr(r, "ExtractField: %q is not inside a struct (schema type %s)", p, sc.Type)
		}
		f, ok := sc.Field(p)
		if !ok {
			return nil, recordErr(r, "ExtractField: the %s schema %q has no field %q; fix field", t.side, sc.Name, p)
		}
		sc = f.Schema
		if sv, ok := v.(*connectors.StructValue); ok && sv != nil {
			v = sv.Values[f.Index]
		} else {
			v = nil
		}
	}
	return t.side.set(r, sc, v), nil
}

var hoistFieldDef = config.NewDef(
	config.Key{Name: "field", Type: config.String, Default: config.NoDefault, Validator: config.NonEmpty, Doc: "Name of the single field of the struct (or map) that wraps the key or value."},
)

// HoistField wraps the key or value in a struct or map of one field
// (Kafka's HoistField).
type HoistField struct {
	side    side
	field   string
	schemas *cache[*connectors.Schema, *connectors.Schema]
}

func (*HoistField) Config() *config.Def { return hoistFieldDef }

func (t *HoistField) Configure(props map[string]string) error {
	v, err := hoistFieldDef.Parse(props)
	if err != nil {
		return err
	}
	t.field = v.String("field")
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *HoistField) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil {
		return nil, err
	}
	if sc == nil {
		return t.side.set(r, nil, []connectors.MapEntry{{Key: t.field, Value: v}}), nil
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		ns = connectors.NewStruct("", false, connectors.Opt(t.field, sc))
		t.schemas.put(sc, ns)
	}
	return t.side.set(r, ns, &connectors.StructValue{Schema: ns, Values: []any{v}}), nil
}
