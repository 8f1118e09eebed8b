package transforms

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var replaceFieldDef = config.NewDef(
	config.Key{Name: "exclude", Type: config.List, Default: "", Aliases: []string{"blacklist"}, Doc: "Fields to drop; they win over include."},
	config.Key{Name: "include", Type: config.List, Default: "", Aliases: []string{"whitelist"}, Doc: "Fields to keep; empty keeps every field not excluded."},
	config.Key{Name: "renames", Type: config.List, Default: "", Doc: "Field renames, old:new pairs separated by commas.", Validator: validRenames},
	v1Only,
)

func validRenames(_ string, v any) error {
	_, err := parseRenames(v.([]string))
	return err
}

func parseRenames(l []string) (map[string]string, error) {
	out := make(map[string]string, len(l))
	for _, p := range l {
		old, nw, ok := strings.Cut(p, ":")
		if !ok || old == "" || nw == "" || strings.Contains(nw, ":") {
			return nil, fmt.Errorf("%q must be old:new", p)
		}
		out[old] = nw
	}
	return out, nil
}

// ReplaceField keeps, drops and renames fields (Kafka's ReplaceField).
type ReplaceField struct {
	side             side
	exclude, include map[string]bool
	renames          map[string]string
	schemas          *cache[*connectors.Schema, *replaced]
}

// replaced is the output schema of one input schema and, per output
// field, the input field it takes its value from.
type replaced struct {
	schema *connectors.Schema
	from   []int
}

func (*ReplaceField) Config() *config.Def { return replaceFieldDef }

func set(l []string) map[string]bool {
	m := make(map[string]bool, len(l))
	for _, s := range l {
		m[s] = true
	}
	return m
}

func (t *ReplaceField) Configure(props map[string]string) error {
	v, err := replaceFieldDef.Parse(props)
	if err != nil {
		return err
	}
	t.exclude, t.include = set(v.List("exclude")), set(v.List("include"))
	t.renames, _ = parseRenames(v.List("renames"))
	t.schemas = newCache[*connectors.Schema, *replaced](schemaCacheSize)
	return nil
}

func (t *ReplaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *ReplaceField) rename(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

func (t *ReplaceField) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil || v == nil {
		return r, err
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "ReplaceField")
		if err != nil {
			return nil, err
		}
		out := make([]connectors.MapEntry, 0, len(m))
		for _, e := range m {
			k, _ := e.Key.(string)
			if t.keep(k) {
				out = append(out, connectors.MapEntry{Key: t.rename(k), Value: e.Value})
			}
		}
		return t.side.set(r, nil, out), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "ReplaceField")
	if err != nil {
		return nil, err
	}
	rp, ok := t.schemas.get(sc)
	if !ok {
		rp = &replaced{}
		var fields []connectors.Field
		for i, f := range sc.Fields {
			if t.keep(f.Name) {
				fields = append(fields, connectors.Opt(t.rename(f.Name), f.Schema))
				rp.from = append(rp.from, i)
			}
		}
		rp.schema = newStructLike(sc, fields)
		t.schemas.put(sc, rp)
	}
	out := &connectors.StructValue{Schema: rp.schema, Values: make([]any, len(rp.from))}
	for i, j := range rp.from {
		out.Values[i] = sv.Values[j]
	}
	return t.side.set(r, rp.schema, out), nil
}
