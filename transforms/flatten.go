package transforms

import (
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var flattenDef = config.NewDef(
	config.Key{Name: "delimiter", Type: config.String, Default: ".", Doc: "Separator between the names of a nested field's path."},
)

// Flatten turns nested structs (or maps) into top-level fields named by
// their path (Kafka's Flatten). Arrays are left as they are.
type Flatten struct {
	side    side
	delim   string
	schemas *cache[*connectors.Schema, *connectors.Schema]
}

func (*Flatten) Config() *config.Def { return flattenDef }

func (t *Flatten) Configure(props map[string]string) error {
	v, err := flattenDef.Parse(props)
	if err != nil {
		return err
	}
	t.delim = v.String("delimiter")
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *Flatten) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil || v == nil {
		return r, err
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "Flatten")
		if err != nil {
			return nil, err
		}
		return t.side.set(r, nil, t.flattenMap(nil, "", m)), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "Flatten")
	if err != nil {
		return nil, err
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		fields := t.flattenSchema(nil, "", sc, false)
		ns = newStructLike(sc, fields)
		t.schemas.put(sc, ns)
	}
	out := &connectors.StructValue{Schema: ns, Values: t.flattenValue(make([]any, 0, len(ns.Fields)), sc, sv)}
	return t.side.set(r, ns, out), nil
}

func (t *Flatten) name(prefix, n string) string {
	if prefix == "" {
		return n
	}
	return prefix + t.delim + n
}

func (t *Flatten) flattenMap(out []connectors.MapEntry, prefix string, m []connectors.MapEntry) []connectors.MapEntry {
	for _, e := range m {
		k := scalarString(e.Key)
		if sub, ok := asMap(e.Value); ok && e.Value != nil {
			out = t.flattenMap(out, t.name(prefix, k), sub)
			continue
		}
		out = append(out, connectors.MapEntry{Key: t.name(prefix, k), Value: e.Value})
	}
	if out == nil {
		out = []connectors.MapEntry{}
	}
	return out
}

// flattenSchema lists the leaf fields; a field under an optional struct is
// optional, as its struct may be null.
func (t *Flatten) flattenSchema(out []connectors.Field, prefix string, s *connectors.Schema, optional bool) []connectors.Field {
	for _, f := range s.Fields {
		opt := optional || f.Schema.Optional
		if f.Schema.Type == connectors.Struct {
			out = t.flattenSchema(out, t.name(prefix, f.Name), f.Schema, opt)
			continue
		}
		fs := f.Schema
		if opt && !fs.Optional {
			fs = withOptional(fs)
		}
		out = append(out, connectors.Opt(t.name(prefix, f.Name), fs))
	}
	return out
}

func (t *Flatten) flattenValue(out []any, s *connectors.Schema, v *connectors.StructValue) []any {
	for i, f := range s.Fields {
		var fv any
		if v != nil {
			fv = v.Values[i]
		}
		if f.Schema.Type == connectors.Struct {
			sub, _ := fv.(*connectors.StructValue)
			out = t.flattenValue(out, f.Schema, sub)
			continue
		}
		out = append(out, fv)
	}
	return out
}

var setSchemaMetadataDef = config.NewDef(
	config.Key{Name: "schema.name", Type: config.String, Default: nil, Doc: "Schema name to set."},
	config.Key{Name: "schema.version", Type: config.Int, Default: nil, Doc: "Schema version to set."},
)

// SetSchemaMetadata sets the name and/or version of the key or value
// schema (Kafka's SetSchemaMetadata).
type SetSchemaMetadata struct {
	side       side
	name       string
	version    int32
	hasName    bool
	hasVersion bool
	schemas    *cache[*connectors.Schema, *connectors.Schema]
}

func (*SetSchemaMetadata) Config() *config.Def { return setSchemaMetadataDef }

func (t *SetSchemaMetadata) Configure(props map[string]string) error {
	v, err := setSchemaMetadataDef.Parse(props)
	if err != nil {
		return err
	}
	t.name, t.hasName = v.String("schema.name"), v.IsSet("schema.name")
	t.version, t.hasVersion = int32(v.Int("schema.version")), v.IsSet("schema.version")
	if !t.hasName && !t.hasVersion {
		return &config.Error{Key: "schema.name", Reason: "neither schema.name nor schema.version is set: set at least one"}
	}
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *SetSchemaMetadata) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil {
		return nil, err
	}
	if sc == nil {
		return nil, recordErr(r, "SetSchemaMetadata: the record %s has no schema", t.side)
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		if sc.Type == connectors.Struct {
			ns = newStructLike(sc, append([]connectors.Field(nil), sc.Fields...))
		} else {
			c := *sc
			ns = &c
		}
		if t.hasName {
			ns.Name = t.name
		}
		if t.hasVersion {
			ns.Version = t.version
		}
		t.schemas.put(sc, ns)
	}
	if sv, ok := v.(*connectors.StructValue); ok && sv != nil {
		v = &connectors.StructValue{Schema: ns, Values: sv.Values}
	}
	return t.side.set(r, ns, v), nil
}
