package transforms

import (
	"regexp"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var byLogicalTableRouterDef = config.NewDef(
	config.Key{Name: "topic.regex", Type: config.String, Default: config.NoDefault, Validator: validRegex, Doc: "Regular expression the whole topic must match for the record to be rerouted."},
	config.Key{Name: "topic.replacement", Type: config.String, Default: config.NoDefault, Validator: config.NonEmpty, Doc: "The logical table's topic; $1 and ${name} refer to groups of topic.regex."},
	config.Key{Name: "key.enforce.uniqueness", Type: config.Boolean, Default: "true", Doc: "Whether to add a key field naming the physical table, so keys of different tables stay distinct."},
	config.Key{Name: "key.field.name", Type: config.String, Default: "__dbz__physicalTableIdentifier", Validator: config.NonEmpty, Doc: "Name of the key field added for uniqueness."},
	config.Key{Name: "key.field.regex", Type: config.String, Default: nil, Validator: validRegex, Doc: "Regular expression over the original topic for the key field's value; unset uses the whole topic."},
	config.Key{Name: "key.field.replacement", Type: config.String, Default: nil, Doc: "Value of the key field, with groups of key.field.regex; needed with key.field.regex."},
)

// ByLogicalTableRouter sends the change events of several physical tables
// (shards, partitions) to one logical table's topic, renaming the key,
// envelope and row schemas after it and adding the physical table to the
// key (Debezium's ByLogicalTableRouter).
type ByLogicalTableRouter struct {
	re             *regexp.Regexp
	tmpl           string
	unique         bool
	keyField       string
	keyRe          *regexp.Regexp
	keyTmpl        string
	keySchemas     *cache[schemaTopic, *connectors.Schema]
	envelopeShapes *cache[schemaTopic, *renamedEnvelope]
}

type schemaTopic struct {
	s     *connectors.Schema
	topic string
}

type renamedEnvelope struct {
	schema        *connectors.Schema
	row           *connectors.Schema
	before, after int
}

func (*ByLogicalTableRouter) Config() *config.Def { return byLogicalTableRouterDef }

func (t *ByLogicalTableRouter) Configure(props map[string]string) error {
	v, err := byLogicalTableRouterDef.Parse(props)
	if err != nil {
		return err
	}
	t.re, t.tmpl = wholeMatch(v.String("topic.regex")), goTemplate(v.String("topic.replacement"))
	t.unique, t.keyField = v.Bool("key.enforce.uniqueness"), v.String("key.field.name")
	switch {
	case v.IsSet("key.field.regex") && !v.IsSet("key.field.replacement"):
		return &config.Error{Key: "key.field.replacement", Reason: "missing: key.field.regex is set, so set key.field.replacement too"}
	case v.IsSet("key.field.replacement") && !v.IsSet("key.field.regex"):
		return &config.Error{Key: "key.field.regex", Reason: "missing: key.field.replacement is set, so set key.field.regex too"}
	case v.IsSet("key.field.regex"):
		t.keyRe, t.keyTmpl = wholeMatch(v.String("key.field.regex")), goTemplate(v.String("key.field.replacement"))
	}
	t.keySchemas = newCache[schemaTopic, *connectors.Schema](schemaCacheSize)
	t.envelopeShapes = newCache[schemaTopic, *renamedEnvelope](schemaCacheSize)
	return nil
}

func (t *ByLogicalTableRouter) Apply(r *connectors.Record) (*connectors.Record, error) {
	topic, ok := replaceWhole(t.re, t.tmpl, r.Topic)
	if !ok {
		return r, nil
	}
	old := r.Topic
	r.Topic = topic
	if err := t.rekey(r, old); err != nil {
		return nil, err
	}
	sc, v, err := valueSide.get(r)
	if err != nil || v == nil || !isEnvelope(sc) {
		return r, err
	}
	env, ok := v.(*connectors.StructValue)
	if !ok {
		return r, nil
	}
	k := schemaTopic{sc, topic}
	re, ok := t.envelopeShapes.get(k)
	if !ok {
		a, _ := sc.Field("after")
		b, _ := sc.Field("before")
		re = &renamedEnvelope{before: b.Index, after: a.Index}
		re.row = newStructLike(a.Schema, append([]connectors.Field(nil), a.Schema.Fields...))
		re.row.Name = topic + ".Value"
		fields := append([]connectors.Field(nil), sc.Fields...)
		fields[a.Index].Schema, fields[b.Index].Schema = re.row, re.row
		re.schema = newStructLike(sc, fields)
		re.schema.Name = topic + ".Envelope"
		t.envelopeShapes.put(k, re)
	}
	out := &connectors.StructValue{Schema: re.schema, Values: append([]any(nil), env.Values...)}
	for _, i := range []int{re.before, re.after} {
		if row, ok := out.Values[i].(*connectors.StructValue); ok && row != nil {
			out.Values[i] = &connectors.StructValue{Schema: re.row, Values: row.Values}
		}
	}
	return valueSide.set(r, re.schema, out), nil
}

// rekey renames the key schema after the new topic and, with
// key.enforce.uniqueness, adds the physical table's field.
func (t *ByLogicalTableRouter) rekey(r *connectors.Record, oldTopic string) error {
	sc, v, err := keySide.get(r)
	if err != nil || v == nil {
		return err // a keyless table keeps its null key
	}
	physical := oldTopic
	if t.keyRe != nil {
		physical, _ = replaceWhole(t.keyRe, t.keyTmpl, oldTopic)
	}
	if sc == nil {
		m, err := requireMap(r, keySide, v, "ByLogicalTableRouter")
		if err != nil {
			return err
		}
		if t.unique {
			m = mapPut(append([]connectors.MapEntry(nil), m...), t.keyField, physical)
		}
		keySide.set(r, nil, m)
		return nil
	}
	kv, err := requireStruct(r, keySide, sc, v, "ByLogicalTableRouter")
	if err != nil {
		return err
	}
	k := schemaTopic{sc, r.Topic}
	ns, ok := t.keySchemas.get(k)
	if !ok {
		fields := append([]connectors.Field(nil), sc.Fields...)
		if t.unique {
			if _, dup := sc.Field(t.keyField); dup {
				return recordErr(r, "ByLogicalTableRouter: the key already has a field %q; set key.field.name to another name", t.keyField)
			}
			fields = append(fields, connectors.Opt(t.keyField, connectors.StringSchema))
		}
		ns = newStructLike(sc, fields)
		ns.Name = r.Topic + ".Key"
		t.keySchemas.put(k, ns)
	}
	vals := kv.Values
	if t.unique {
		vals = append(append(make([]any, 0, len(vals)+1), vals...), physical)
	}
	keySide.set(r, ns, &connectors.StructValue{Schema: ns, Values: vals})
	return nil
}
