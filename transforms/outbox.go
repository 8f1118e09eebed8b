package transforms

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var eventRouterDef = config.NewDef(
	config.Key{Name: "table.field.event.id", Type: config.String, Default: "id", Validator: config.NonEmpty, Doc: "Outbox column holding the event id, sent as the header id."},
	config.Key{Name: "table.field.event.key", Type: config.String, Default: "aggregateid", Doc: "Outbox column whose value becomes the record key; empty for no key."},
	config.Key{Name: "table.field.event.type", Type: config.String, Default: "type",
		Doc: "Outbox column holding the event type; the row must have it. Emit it with table.fields.additional.placement (type:header:eventType), as Debezium does."},
	config.Key{Name: "table.field.event.payload", Type: config.String, Default: "payload", Validator: config.NonEmpty, Doc: "Outbox column whose value becomes the record value."},
	config.Key{Name: "table.field.event.timestamp", Type: config.String, Default: "",
		Doc: "Outbox column (Timestamp, or int64 milliseconds) for the record timestamp; empty uses the change event's ts_ms."},
	config.Key{Name: "table.fields.additional.placement", Type: config.List, Default: "", Validator: validPlacements,
		Doc: "Extra columns to emit, column:header[:name] or column:envelope[:name]. With envelope placements the value becomes a struct of payload and those columns."},
	config.Key{Name: "table.fields.additional.error.on.missing", Type: config.Boolean, Default: "true",
		Doc: "Whether a row lacking a column of table.fields.additional.placement fails the record; false leaves it out."},
	config.Key{Name: "route.by.field", Type: config.String, Default: "aggregatetype", Validator: config.NonEmpty, Doc: "Outbox column whose value routes the event to a topic."},
	config.Key{Name: "route.topic.regex", Type: config.String, Default: "(?<routedByValue>.*)", Validator: validRegex, Doc: "Regular expression the whole route.by.field value must match."},
	config.Key{Name: "route.topic.replacement", Type: config.String, Default: "outbox.event.${routedByValue}",
		Doc: "Topic for an event, with ${name} and $1 referring to groups of route.topic.regex."},
	config.Key{Name: "route.tombstone.on.empty.payload", Type: config.Boolean, Default: "false", Doc: "Whether an event with a null payload becomes a tombstone (null value schema too)."},
	config.Key{Name: "table.expand.json.payload", Type: config.Boolean, Default: "false", Doc: "Not supported: must stay false; the payload is passed as it is."},
	config.Key{Name: "table.op.invalid.behavior", Type: config.String, Default: "warn", Validator: config.In("warn", "error", "fatal"),
		Doc: "What an update to the outbox table does: warn and error drop it with a log line at that level; fatal fails the task."},
)

type placement struct {
	column, name string
	header       bool
}

func validPlacements(_ string, v any) error {
	_, err := parsePlacements(v.([]string))
	return err
}

func parsePlacements(l []string) ([]placement, error) {
	var out []placement
	for _, s := range l {
		parts := strings.Split(s, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("%q: must be column:header[:name] or column:envelope[:name]", s)
		}
		p := placement{column: parts[0], name: parts[0]}
		switch strings.ToLower(parts[1]) {
		case "header":
			p.header = true
		case "envelope":
		case "partition":
			return nil, fmt.Errorf("%q: partition placement is not supported: the producer partitions by key", s)
		default:
			return nil, fmt.Errorf("%q: placement %q must be header or envelope", s, parts[1])
		}
		if len(parts) == 3 && parts[2] != "" {
			p.name = parts[2]
		}
		out = append(out, p)
	}
	return out, nil
}

// EventRouter routes the rows of an outbox table as events: the payload
// column becomes the value, the key column the key, and the topic comes
// from the route.by.field column (Debezium's outbox EventRouter). Only
// inserts (and snapshot reads) are events; deletes and tombstones are
// dropped, updates follow table.op.invalid.behavior.
type EventRouter struct {
	id, key, typ, payload, ts string
	placements                []placement
	errorOnMissing            bool
	routeBy                   string
	re                        *regexp.Regexp
	tmpl                      string
	tombstoneOnEmpty          bool
	onUpdate                  string
	schemas                   *cache[*connectors.Schema, *outboxShape]
}

// outboxShape is where the columns sit in one outbox row schema.
type outboxShape struct {
	id, key, payload, ts, routeBy int
	place                         []int // per placement, -1 when absent
	envelope                      *connectors.Schema
}

func (*EventRouter) Config() *config.Def { return eventRouterDef }

func (t *EventRouter) Configure(props map[string]string) error {
	v, err := eventRouterDef.Parse(props)
	if err != nil {
		return err
	}
	if v.Bool("table.expand.json.payload") {
		return &config.Error{Key: "table.expand.json.payload", Value: "true",
			Reason: "not supported by Sluice: the payload is passed as it is; remove the option or set it to false"}
	}
	t.id, t.key, t.typ = v.String("table.field.event.id"), v.String("table.field.event.key"), v.String("table.field.event.type")
	t.payload, t.ts = v.String("table.field.event.payload"), v.String("table.field.event.timestamp")
	t.placements, _ = parsePlacements(v.List("table.fields.additional.placement"))
	t.errorOnMissing = v.Bool("table.fields.additional.error.on.missing")
	t.routeBy = v.String("route.by.field")
	t.re, t.tmpl = wholeMatch(v.String("route.topic.regex")), goTemplate(v.String("route.topic.replacement"))
	t.tombstoneOnEmpty = v.Bool("route.tombstone.on.empty.payload")
	t.onUpdate = strings.ToLower(v.String("table.op.invalid.behavior"))
	t.schemas = newCache[*connectors.Schema, *outboxShape](schemaCacheSize)
	return nil
}

func (t *EventRouter) shape(r *connectors.Record, row *connectors.Schema) (*outboxShape, error) {
	if s, ok := t.schemas.get(row); ok {
		return s, nil
	}
	col := func(opt, name string, required bool) (int, error) {
		if name == "" {
			return -1, nil
		}
		f, ok := row.Field(name)
		if !ok {
			if !required {
				return -1, nil
			}
			return -1, recordErr(r, "EventRouter: the outbox row %q has no column %q; fix %s", row.Name, name, opt)
		}
		return f.Index, nil
	}
	s := &outboxShape{}
	var err error
	if s.id, err = col("table.field.event.id", t.id, true); err != nil {
		return nil, err
	}
	if s.key, err = col("table.field.event.key", t.key, true); err != nil {
		return nil, err
	}
	if _, err = col("table.field.event.type", t.typ, true); err != nil {
		return nil, err
	}
	if s.payload, err = col("table.field.event.payload", t.payload, true); err != nil {
		return nil, err
	}
	if s.ts, err = col("table.field.event.timestamp", t.ts, true); err != nil {
		return nil, err
	}
	if s.routeBy, err = col("route.by.field", t.routeBy, true); err != nil {
		return nil, err
	}
	envFields := []connectors.Field{connectors.Opt("payload", row.Fields[s.payload].Schema)}
	for _, p := range t.placements {
		i, err := col("table.fields.additional.placement", p.column, t.errorOnMissing)
		if err != nil {
			return nil, err
		}
		s.place = append(s.place, i)
		if !p.header && i >= 0 {
			envFields = append(envFields, connectors.Opt(p.name, row.Fields[i].Schema))
		}
	}
	if len(envFields) > 1 {
		s.envelope = connectors.NewStruct("", false, envFields...)
	}
	t.schemas.put(row, s)
	return s, nil
}

func (t *EventRouter) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := valueSide.get(r)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil // the tombstone of a deleted outbox row
	}
	if !isEnvelope(sc) {
		return r, nil
	}
	env, ok := v.(*connectors.StructValue)
	if !ok {
		return nil, recordErr(r, "EventRouter: the value is a %T, not a struct of its envelope schema", v)
	}
	op, _ := env.Get("op").(string)
	switch op {
	case "c", "r":
	case "d":
		return nil, nil
	case "u":
		switch t.onUpdate {
		case "fatal":
			return nil, recordErr(r, "EventRouter: an update to the outbox table; outbox rows must only be inserted (table.op.invalid.behavior=fatal)")
		case "error":
			slog.Error("outbox EventRouter dropped an update to the outbox table; rows must only be inserted", "topic", r.Topic, "offset", r.Offset)
		default:
			slog.Warn("outbox EventRouter dropped an update to the outbox table; rows must only be inserted", "topic", r.Topic, "offset", r.Offset)
		}
		return nil, nil
	default:
		return r, nil
	}
	a, _ := sc.Field("after")
	row, _ := env.Values[a.Index].(*connectors.StructValue)
	if row == nil {
		return nil, recordErr(r, "EventRouter: the insert has no after state")
	}
	s, err := t.shape(r, a.Schema)
	if err != nil {
		return nil, err
	}
	rv := row.Values[s.routeBy]
	if rv == nil {
		return nil, recordErr(r, "EventRouter: the route.by.field column %q is null", t.routeBy)
	}
	topic, _ := replaceWhole(t.re, t.tmpl, scalarString(rv))

	out := *r
	out.Topic = topic
	out.KeySchema, out.Key = nil, nil
	if s.key >= 0 {
		out.KeySchema, out.Key = row.Schema.Fields[s.key].Schema, row.Values[s.key]
	}
	idb, err := headerBytes(row.Values[s.id])
	if err != nil {
		return nil, recordErr(r, "EventRouter: event id: %v", err)
	}
	hs := append(r.Headers[:len(r.Headers):len(r.Headers)], connectors.Header{Key: "id", Value: idb})
	var envVals []any
	for i, p := range t.placements {
		j := s.place[i]
		if j < 0 {
			continue
		}
		if p.header {
			b, err := headerBytes(row.Values[j])
			if err != nil {
				return nil, recordErr(r, "EventRouter: column %q: %v", p.column, err)
			}
			hs = append(hs, connectors.Header{Key: p.name, Value: b})
		} else {
			envVals = append(envVals, row.Values[j])
		}
	}
	out.Headers = hs
	if s.ts >= 0 {
		switch ts := row.Values[s.ts].(type) {
		case time.Time:
			out.Timestamp = ts
		case int64:
			out.Timestamp = time.UnixMilli(ts).UTC()
		}
	} else if ms, ok := env.Get("ts_ms").(int64); ok {
		out.Timestamp = time.UnixMilli(ms).UTC()
	}
	payload := row.Values[s.payload]
	switch {
	case payload == nil && t.tombstoneOnEmpty:
		out.ValueSchema, out.Value = nil, nil
	case s.envelope != nil:
		out.ValueSchema = s.envelope
		out.Value = &connectors.StructValue{Schema: s.envelope, Values: append([]any{payload}, envVals...)}
	default:
		out.ValueSchema, out.Value = row.Schema.Fields[s.payload].Schema, payload
	}
	*r = out
	return r, nil
}
