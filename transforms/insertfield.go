package transforms

import (
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var insertFieldDef = config.NewDef(
	config.Key{Name: "topic.field", Type: config.String, Default: nil, Doc: "Field for the record's topic. Suffix with ! to make the field required, ? (the default) optional."},
	config.Key{Name: "partition.field", Type: config.String, Default: nil, Doc: "Field for the record's Kafka partition (int32)."},
	config.Key{Name: "offset.field", Type: config.String, Default: nil, Doc: "Field for the record's Kafka offset (int64); sink connectors only."},
	config.Key{Name: "timestamp.field", Type: config.String, Default: nil, Doc: "Field for the record's timestamp (Timestamp logical type)."},
	config.Key{Name: "static.field", Type: config.String, Default: nil, Doc: "Field for a fixed string value, static.value."},
	config.Key{Name: "static.value", Type: config.String, Default: nil, Doc: "The value of static.field."},
	v1Only,
)

// insertSpec is one field to insert: its name and whether it is optional.
type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) *insertSpec {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	switch {
	case strings.HasSuffix(s, "!"):
		return &insertSpec{name: s[:len(s)-1]}
	case strings.HasSuffix(s, "?"):
		return &insertSpec{name: s[:len(s)-1], optional: true}
	}
	return &insertSpec{name: s, optional: true}
}

// InsertField adds fields holding the record's topic, partition, offset,
// timestamp or a fixed string (Kafka's InsertField).
type InsertField struct {
	side                                 side
	topic, partition, offset, ts, static *insertSpec
	staticValue                          string
	schemas                              *cache[*connectors.Schema, *connectors.Schema]
}

func (*InsertField) Config() *config.Def { return insertFieldDef }

func (t *InsertField) Configure(props map[string]string) error {
	v, err := insertFieldDef.Parse(props)
	if err != nil {
		return err
	}
	t.topic = parseInsertSpec(v.String("topic.field"))
	t.partition = parseInsertSpec(v.String("partition.field"))
	t.offset = parseInsertSpec(v.String("offset.field"))
	t.ts = parseInsertSpec(v.String("timestamp.field"))
	t.static = parseInsertSpec(v.String("static.field"))
	t.staticValue = v.String("static.value")
	if t.static != nil && !v.IsSet("static.value") {
		return &config.Error{Key: "static.value", Reason: "missing: static.field is set, so set static.value to the value to insert"}
	}
	if t.static == nil && v.IsSet("static.value") {
		return &config.Error{Key: "static.field", Reason: "missing: static.value is set, so set static.field to the field to insert it into"}
	}
	if t.topic == nil && t.partition == nil && t.offset == nil && t.ts == nil && t.static == nil {
		return &config.Error{Key: "topic.field", Reason: "no field to insert: set at least one of topic.field, partition.field, offset.field, timestamp.field or static.field"}
	}
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *InsertField) values(r *connectors.Record) ([]insertSpec, []any, error) {
	var specs []insertSpec
	var vals []any
	if t.topic != nil {
		specs, vals = append(specs, *t.topic), append(vals, r.Topic)
	}
	source := r.SourcePartition != nil || r.SourceOffset != nil
	if t.partition != nil {
		// A source record's partition is chosen by the producer later:
		// null here, as Connect's kafkaPartition() of a source record.
		var p any
		if !source {
			p = r.Partition
		}
		specs, vals = append(specs, *t.partition), append(vals, p)
	}
	if t.offset != nil {
		if source {
			return nil, nil, recordErr(r, "InsertField: offset.field works only in sink connectors: a source record has no Kafka offset yet")
		}
		specs, vals = append(specs, *t.offset), append(vals, r.Offset)
	}
	if t.ts != nil {
		var ts any
		if !r.Timestamp.IsZero() {
			ts = r.Timestamp
		}
		specs, vals = append(specs, *t.ts), append(vals, ts)
	}
	if t.static != nil {
		specs, vals = append(specs, *t.static), append(vals, t.staticValue)
	}
	return specs, vals, nil
}

func (t *InsertField) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil || v == nil {
		return r, err // a tombstone passes through
	}
	specs, vals, err := t.values(r)
	if err != nil {
		return nil, err
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "InsertField")
		if err != nil {
			return nil, err
		}
		out := append(make([]connectors.MapEntry, 0, len(m)+len(specs)), m...)
		for i, s := range specs {
			out = mapPut(out, s.name, vals[i])
		}
		return t.side.set(r, nil, out), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "InsertField")
	if err != nil {
		return nil, err
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		fields := append([]connectors.Field(nil), sc.Fields...)
		var dup string
		add := func(s *insertSpec, fs *connectors.Schema) {
			if s != nil {
				if _, ok := sc.Field(s.name); ok {
					dup = s.name
				}
				fields = append(fields, connectors.Opt(s.name, fs))
			}
		}
		add(t.topic, &connectors.Schema{Type: connectors.String, Optional: t.topic != nil && t.topic.optional})
		add(t.partition, &connectors.Schema{Type: connectors.Int32, Optional: t.partition != nil && t.partition.optional})
		add(t.offset, &connectors.Schema{Type: connectors.Int64, Optional: t.offset != nil && t.offset.optional})
		add(t.ts, timestampSchema(t.ts != nil && t.ts.optional))
		add(t.static, &connectors.Schema{Type: connectors.String, Optional: t.static != nil && t.static.optional})
		if dup != "" {
			return nil, recordErr(r, "InsertField: the %s schema %q already has a field %q; insert into another field name", t.side, sc.Name, dup)
		}
		ns = newStructLike(sc, fields)
		t.schemas.put(sc, ns)
	}
	out := &connectors.StructValue{Schema: ns, Values: append(append(make([]any, 0, len(ns.Fields)), sv.Values...), vals...)}
	for i, s := range specs {
		if vals[i] == nil && !s.optional {
			return nil, recordErr(r, "InsertField: required field %q has no value (a source record has no partition yet; the record may have no timestamp); make it optional with ?", s.name)
		}
	}
	return t.side.set(r, ns, out), nil
}
