package transforms

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

const (
	optDeleteTombstoneMode = "delete.tombstone.handling.mode"
	optDeleteHandling      = "delete.handling.mode"
	optDropTombstones      = "drop.tombstones"
)

var extractNewRecordStateDef = config.NewDef(
	config.Key{Name: optDeleteTombstoneMode, Type: config.String, Default: nil,
		Validator: config.In("drop", "tombstone", "rewrite", "rewrite-with-tombstone", "delete-to-tombstone", "delete"),
		Doc: "What becomes of delete events and tombstones. drop: both dropped. tombstone (the default): delete events dropped, tombstones kept. " +
			"rewrite: a delete becomes its before state with <prefix>deleted=true, tombstones dropped. rewrite-with-tombstone: the same, tombstones kept. " +
			"delete-to-tombstone (or delete): a delete becomes a tombstone, the original tombstones dropped. Replaces delete.handling.mode and drop.tombstones."},
	config.Key{Name: optDeleteHandling, Type: config.String, Default: nil, Validator: config.In("drop", "rewrite", "none"),
		Doc: "Deprecated: use delete.tombstone.handling.mode. drop (the default), rewrite, or none (a delete becomes a tombstone)."},
	config.Key{Name: optDropTombstones, Type: config.Boolean, Default: nil,
		Doc: "Deprecated: use delete.tombstone.handling.mode. Whether tombstones are dropped (default true)."},
	config.Key{Name: "add.fields", Type: config.List, Default: "", Validator: validFieldRefs,
		Doc: "Envelope fields to add to the value, named <prefix><field>: op, ts_ms, a source field (table, lsn, or source.ts_ms), or struct.field (transaction.id); field:alias names it <prefix><alias>. A dot in the name becomes _."},
	config.Key{Name: "add.fields.prefix", Type: config.String, Default: "__", Doc: "Prefix of the added fields and of the deleted field."},
	config.Key{Name: "add.headers", Type: config.List, Default: "", Validator: validFieldRefs,
		Doc: "Envelope fields to add as headers, named as add.fields names them, with add.headers.prefix."},
	config.Key{Name: "add.headers.prefix", Type: config.String, Default: "__", Doc: "Prefix of the added headers."},
	config.Key{Name: "route.by.field", Type: config.String, Default: "", Doc: "A field of the row whose value becomes the topic (from before for a delete)."},
)

// unsupportedUnwrap are Debezium options Sluice refuses rather than ignores.
var unsupportedUnwrap = []string{"drop.fields.header.name", "drop.fields.from.key", "drop.fields.keep.schema.compatible"}

// fieldRef is one add.fields or add.headers entry.
type fieldRef struct {
	parent, field, name string
}

func validFieldRefs(_ string, v any) error {
	_, err := parseFieldRefs(v.([]string), "")
	return err
}

func parseFieldRefs(l []string, prefix string) ([]fieldRef, error) {
	var out []fieldRef
	for _, s := range l {
		path, alias, _ := strings.Cut(s, ":")
		ref := fieldRef{field: path}
		if p, f, ok := strings.Cut(path, "."); ok {
			ref.parent, ref.field = p, f
		}
		if ref.field == "" || strings.Contains(ref.field, ".") || strings.Contains(alias, ":") {
			return nil, fmt.Errorf("%q: must be field, struct.field, or either followed by :alias", s)
		}
		ref.name = prefix + strings.ReplaceAll(path, ".", "_")
		if alias != "" {
			ref.name = prefix + alias
		}
		out = append(out, ref)
	}
	return out, nil
}

// deleteAction is what a delete event becomes.
type deleteAction int

const (
	deleteDrop deleteAction = iota
	deleteRewrite
	deleteTombstone
)

// ExtractNewRecordState replaces a Debezium change event with the row
// state after the change (Debezium's ExtractNewRecordState, "unwrap").
// Records that are not change events (heartbeats, schema changes,
// truncates, messages) pass through unchanged.
type ExtractNewRecordState struct {
	onDelete       deleteAction
	keepTombstones bool
	fields         []fieldRef
	headers        []fieldRef
	deletedField   string
	routeBy        string
	schemas        *cache[*connectors.Schema, *unwrapped]
}

// unwrapped is the output schema for one envelope schema and where each
// added field comes from.
type unwrapped struct {
	rowSchema *connectors.Schema // the before/after schema
	schema    *connectors.Schema
	before    int
	after     int
	op        int
	fields    []refPos
	headers   []refPos
	routeBy   int
}

// refPos locates a field of the envelope: top is the envelope field,
// sub the field inside it (-1 for the envelope field itself).
type refPos struct {
	top, sub int
	schema   *connectors.Schema
}

func (*ExtractNewRecordState) Config() *config.Def { return extractNewRecordStateDef }

func (t *ExtractNewRecordState) Configure(props map[string]string) error {
	v, err := extractNewRecordStateDef.Parse(props)
	if err != nil {
		return err
	}
	for _, k := range unsupportedUnwrap {
		if _, ok := props[k]; ok {
			return &config.Error{Key: k, Value: props[k], Reason: "not supported by Sluice's ExtractNewRecordState; remove it"}
		}
	}
	mode := strings.ToLower(v.String(optDeleteTombstoneMode))
	if mode != "" && (v.IsSet(optDeleteHandling) || v.IsSet(optDropTombstones)) {
		return &config.Error{Key: optDeleteTombstoneMode, Value: mode,
			Reason: "set together with the deprecated " + optDeleteHandling + "/" + optDropTombstones + ": keep only " + optDeleteTombstoneMode}
	}
	if mode == "" {
		// The deprecated pair, with its defaults (drop, true).
		switch strings.ToLower(v.String(optDeleteHandling)) {
		case "rewrite":
			t.onDelete = deleteRewrite
		case "none":
			t.onDelete = deleteTombstone
		default:
			t.onDelete = deleteDrop
		}
		t.keepTombstones = v.IsSet(optDropTombstones) && !v.Bool(optDropTombstones)
		if !v.IsSet(optDeleteHandling) && !v.IsSet(optDropTombstones) {
			mode = "tombstone"
		}
	}
	switch mode {
	case "drop":
		t.onDelete, t.keepTombstones = deleteDrop, false
	case "tombstone":
		t.onDelete, t.keepTombstones = deleteDrop, true
	case "rewrite":
		t.onDelete, t.keepTombstones = deleteRewrite, false
	case "rewrite-with-tombstone":
		t.onDelete, t.keepTombstones = deleteRewrite, true
	case "delete-to-tombstone", "delete":
		t.onDelete, t.keepTombstones = deleteTombstone, false
	}
	prefix := v.String("add.fields.prefix")
	t.fields, _ = parseFieldRefs(v.List("add.fields"), prefix)
	t.headers, _ = parseFieldRefs(v.List("add.headers"), v.String("add.headers.prefix"))
	t.deletedField = prefix + "deleted"
	t.routeBy = v.String("route.by.field")
	t.schemas = newCache[*connectors.Schema, *unwrapped](schemaCacheSize)
	return nil
}

// locate finds a field reference in an envelope schema: a qualified one
// in its struct, a bare one in the envelope or else in source.
func locate(env *connectors.Schema, ref fieldRef) (refPos, bool) {
	if ref.parent == "" {
		if f, ok := env.Field(ref.field); ok {
			return refPos{top: f.Index, sub: -1, schema: f.Schema}, true
		}
		ref.parent = "source"
	}
	p, ok := env.Field(ref.parent)
	if !ok || p.Schema.Type != connectors.Struct {
		return refPos{}, false
	}
	f, ok := p.Schema.Field(ref.field)
	if !ok {
		return refPos{}, false
	}
	return refPos{top: p.Index, sub: f.Index, schema: f.Schema}, true
}

func (p refPos) get(env *connectors.StructValue) any {
	v := env.Values[p.top]
	if p.sub < 0 || v == nil {
		return v
	}
	sv, ok := v.(*connectors.StructValue)
	if !ok || sv == nil {
		return nil
	}
	return sv.Values[p.sub]
}

// isEnvelope reports whether s is a Debezium change event's schema.
func isEnvelope(s *connectors.Schema) bool {
	if s == nil || s.Type != connectors.Struct {
		return false
	}
	_, op := s.Field("op")
	a, after := s.Field("after")
	_, before := s.Field("before")
	return op && after && before && a.Schema.Type == connectors.Struct
}

func (t *ExtractNewRecordState) shape(r *connectors.Record, env *connectors.Schema) (*unwrapped, error) {
	a, _ := env.Field("after")
	b, _ := env.Field("before")
	o, _ := env.Field("op")
	u := &unwrapped{rowSchema: a.Schema, before: b.Index, after: a.Index, op: o.Index, routeBy: -1}
	fields := append([]connectors.Field(nil), a.Schema.Fields...)
	for _, ref := range t.fields {
		p, ok := locate(env, ref)
		if !ok {
			return nil, recordErr(r, "ExtractNewRecordState: add.fields names %q, which the envelope %q does not have", refString(ref), env.Name)
		}
		u.fields = append(u.fields, p)
		fields = append(fields, connectors.Opt(ref.name, withOptional(p.schema)))
	}
	for _, ref := range t.headers {
		p, ok := locate(env, ref)
		if !ok {
			return nil, recordErr(r, "ExtractNewRecordState: add.headers names %q, which the envelope %q does not have", refString(ref), env.Name)
		}
		u.headers = append(u.headers, p)
	}
	if t.onDelete == deleteRewrite {
		fields = append(fields, connectors.Opt(t.deletedField, connectors.OptionalStringSchema))
	}
	if t.routeBy != "" {
		f, ok := a.Schema.Field(t.routeBy)
		if !ok {
			return nil, recordErr(r, "ExtractNewRecordState: route.by.field %q is not a field of %q", t.routeBy, a.Schema.Name)
		}
		u.routeBy = f.Index
	}
	u.schema = newStructLike(a.Schema, fields)
	t.schemas.put(env, u)
	return u, nil
}

func refString(ref fieldRef) string {
	if ref.parent == "" {
		return ref.field
	}
	return ref.parent + "." + ref.field
}

func (t *ExtractNewRecordState) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := valueSide.get(r)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if t.keepTombstones {
			return r, nil
		}
		return nil, nil
	}
	if sc == nil {
		return t.applySchemaless(r, v)
	}
	u, known := t.schemas.get(sc)
	if !known {
		if !isEnvelope(sc) {
			return r, nil
		}
		if u, err = t.shape(r, sc); err != nil {
			return nil, err
		}
	}
	env, ok := v.(*connectors.StructValue)
	if !ok {
		return nil, recordErr(r, "ExtractNewRecordState: the value is a %T, not a struct of its envelope schema", v)
	}
	op, _ := env.Values[u.op].(string)
	var row *connectors.StructValue
	switch op {
	case "c", "u", "r":
		row, _ = env.Values[u.after].(*connectors.StructValue)
	case "d":
		switch t.onDelete {
		case deleteDrop:
			return nil, nil
		case deleteTombstone:
			r.ValueSchema, r.Value = nil, nil
			return r, nil
		}
		row, _ = env.Values[u.before].(*connectors.StructValue)
	default:
		return r, nil // truncate, message: not a row change
	}
	if err := t.addHeaders(r, env, u.headers); err != nil {
		return nil, err
	}
	if row == nil {
		return valueSide.set(r, u.schema, nil), nil
	}
	out := &connectors.StructValue{Schema: u.schema, Values: make([]any, 0, len(u.schema.Fields))}
	out.Values = append(out.Values, row.Values...)
	for _, p := range u.fields {
		out.Values = append(out.Values, p.get(env))
	}
	if t.onDelete == deleteRewrite {
		if op == "d" {
			out.Values = append(out.Values, "true")
		} else {
			out.Values = append(out.Values, "false")
		}
	}
	if u.routeBy >= 0 {
		if rv := row.Values[u.routeBy]; rv != nil {
			r.Topic = scalarString(rv)
		}
	}
	return valueSide.set(r, u.schema, out), nil
}

func (t *ExtractNewRecordState) addHeaders(r *connectors.Record, env *connectors.StructValue, ps []refPos) error {
	if len(ps) == 0 {
		return nil
	}
	hs := r.Headers[:len(r.Headers):len(r.Headers)]
	for i, p := range ps {
		b, err := headerBytes(p.get(env))
		if err != nil {
			return recordErr(r, "ExtractNewRecordState: header %q: %v", t.headers[i].name, err)
		}
		hs = append(hs, connectors.Header{Key: t.headers[i].name, Value: b})
	}
	r.Headers = hs
	return nil
}

// applySchemaless unwraps an envelope read without a schema (a map with
// op, before and after); other values pass through.
func (t *ExtractNewRecordState) applySchemaless(r *connectors.Record, v any) (*connectors.Record, error) {
	env, ok := asMap(v)
	if !ok {
		return r, nil
	}
	opv, opAt := mapGet(env, "op")
	_, afterAt := mapGet(env, "after")
	if opAt < 0 || afterAt < 0 {
		return r, nil
	}
	op, _ := opv.(string)
	var rowv any
	switch op {
	case "c", "u", "r":
		rowv, _ = mapGet(env, "after")
	case "d":
		switch t.onDelete {
		case deleteDrop:
			return nil, nil
		case deleteTombstone:
			r.Value = nil
			return r, nil
		}
		rowv, _ = mapGet(env, "before")
	default:
		return r, nil
	}
	get := func(ref fieldRef) any {
		if ref.parent == "" {
			if x, i := mapGet(env, ref.field); i >= 0 {
				return x
			}
			ref.parent = "source"
		}
		pv, _ := mapGet(env, ref.parent)
		pm, ok := asMap(pv)
		if !ok {
			return nil
		}
		x, _ := mapGet(pm, ref.field)
		return x
	}
	hs := r.Headers[:len(r.Headers):len(r.Headers)]
	for _, ref := range t.headers {
		b, err := headerBytes(get(ref))
		if err != nil {
			return nil, recordErr(r, "ExtractNewRecordState: header %q: %v", ref.name, err)
		}
		hs = append(hs, connectors.Header{Key: ref.name, Value: b})
	}
	r.Headers = hs
	if rowv == nil {
		r.Value = nil
		return r, nil
	}
	row, ok := asMap(rowv)
	if !ok {
		return nil, recordErr(r, "ExtractNewRecordState: the envelope's row is a %T, not a map", rowv)
	}
	out := append(make([]connectors.MapEntry, 0, len(row)+len(t.fields)+1), row...)
	for _, ref := range t.fields {
		out = mapPut(out, ref.name, get(ref))
	}
	if t.onDelete == deleteRewrite {
		out = mapPut(out, t.deletedField, fmt.Sprint(op == "d"))
	}
	if t.routeBy != "" {
		if rv, _ := mapGet(row, t.routeBy); rv != nil {
			r.Topic = scalarString(rv)
		}
	}
	r.Value = out
	return r, nil
}
