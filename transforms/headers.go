package transforms

import (
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var insertHeaderDef = config.NewDef(
	config.Key{Name: "header", Type: config.String, Default: config.NoDefault, Validator: config.NonEmpty, Doc: "Name of the header to add."},
	config.Key{Name: "value.literal", Type: config.String, Default: config.NoDefault, Doc: "Value of the header, as UTF-8 bytes."},
)

// InsertHeader adds a header with a fixed value (Kafka's InsertHeader).
type InsertHeader struct {
	header string
	value  []byte
}

func (*InsertHeader) Config() *config.Def { return insertHeaderDef }

func (t *InsertHeader) Configure(props map[string]string) error {
	v, err := insertHeaderDef.Parse(props)
	if err != nil {
		return err
	}
	t.header, t.value = v.String("header"), []byte(v.String("value.literal"))
	return nil
}

func (t *InsertHeader) Apply(r *connectors.Record) (*connectors.Record, error) {
	r.Headers = append(r.Headers[:len(r.Headers):len(r.Headers)], connectors.Header{Key: t.header, Value: t.value})
	return r, nil
}

var dropHeadersDef = config.NewDef(
	config.Key{Name: "headers", Type: config.List, Default: config.NoDefault, Validator: nonEmptyList, Doc: "Names of the headers to remove."},
)

// DropHeaders removes headers by name (Kafka's DropHeaders).
type DropHeaders struct{ names map[string]bool }

func (*DropHeaders) Config() *config.Def { return dropHeadersDef }

func (t *DropHeaders) Configure(props map[string]string) error {
	v, err := dropHeadersDef.Parse(props)
	if err != nil {
		return err
	}
	t.names = set(v.List("headers"))
	return nil
}

func (t *DropHeaders) Apply(r *connectors.Record) (*connectors.Record, error) {
	r.Headers = dropHeaders(r.Headers, t.names)
	return r, nil
}

// dropHeaders returns hs without the named headers; it copies rather than
// filters in place, as the slice may be shared.
func dropHeaders(hs []connectors.Header, names map[string]bool) []connectors.Header {
	n := 0
	for _, h := range hs {
		if names[h.Key] {
			n++
		}
	}
	if n == 0 {
		return hs
	}
	out := make([]connectors.Header, 0, len(hs)-n)
	for _, h := range hs {
		if !names[h.Key] {
			out = append(out, h)
		}
	}
	return out
}

var headerFromDef = config.NewDef(
	config.Key{Name: "fields", Type: config.List, Default: config.NoDefault, Validator: nonEmptyList, Doc: "Fields whose values become headers."},
	config.Key{Name: "headers", Type: config.List, Default: config.NoDefault, Validator: nonEmptyList, Doc: "Header names, one per field in the same order."},
	config.Key{Name: "operation", Type: config.String, Default: config.NoDefault, Validator: config.In("move", "copy"),
		Doc: "move removes the fields from the key or value; copy keeps them."},
	v1Only,
)

// HeaderFrom copies or moves fields into headers (Kafka's HeaderFrom).
// Values are written as Connect's SimpleHeaderConverter writes them.
type HeaderFrom struct {
	side    side
	fields  []string
	headers []string
	move    bool
	schemas *cache[*connectors.Schema, *replaced]
}

func (*HeaderFrom) Config() *config.Def { return headerFromDef }

func (t *HeaderFrom) Configure(props map[string]string) error {
	v, err := headerFromDef.Parse(props)
	if err != nil {
		return err
	}
	t.fields, t.headers = v.List("fields"), v.List("headers")
	if len(t.fields) != len(t.headers) {
		return &config.Error{Key: "headers", Value: v.String("headers"), Reason: "must name as many headers as fields lists fields, in the same order"}
	}
	t.move = strings.EqualFold(v.String("operation"), "move")
	t.schemas = newCache[*connectors.Schema, *replaced](schemaCacheSize)
	return nil
}

func (t *HeaderFrom) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil || v == nil {
		return r, err
	}
	hs := r.Headers[:len(r.Headers):len(r.Headers)]
	if sc == nil {
		m, err := requireMap(r, t.side, v, "HeaderFrom")
		if err != nil {
			return nil, err
		}
		for i, f := range t.fields {
			fv, _ := mapGet(m, f)
			b, err := headerBytes(fv)
			if err != nil {
				return nil, recordErr(r, "HeaderFrom: field %q: %v", f, err)
			}
			hs = append(hs, connectors.Header{Key: t.headers[i], Value: b})
		}
		r.Headers = hs
		if t.move {
			drop := set(t.fields)
			out := make([]connectors.MapEntry, 0, len(m))
			for _, e := range m {
				if k, _ := e.Key.(string); !drop[k] {
					out = append(out, e)
				}
			}
			t.side.set(r, nil, out)
		}
		return r, nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "HeaderFrom")
	if err != nil {
		return nil, err
	}
	for i, name := range t.fields {
		f, ok := sc.Field(name)
		if !ok {
			return nil, recordErr(r, "HeaderFrom: the %s schema %q has no field %q; fix fields", t.side, sc.Name, name)
		}
		b, err := headerBytes(sv.Values[f.Index])
		if err != nil {
			return nil, recordErr(r, "HeaderFrom: field %q: %v", name, err)
		}
		hs = append(hs, connectors.Header{Key: t.headers[i], Value: b})
	}
	r.Headers = hs
	if !t.move {
		return r, nil
	}
	rp, ok := t.schemas.get(sc)
	if !ok {
		drop := set(t.fields)
		rp = &replaced{}
		var fields []connectors.Field
		for i, f := range sc.Fields {
			if !drop[f.Name] {
				fields = append(fields, connectors.Opt(f.Name, f.Schema))
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

// Filter drops every record; with a predicate it drops the records that
// match (Kafka's Filter).
type Filter struct{}

var filterDef = config.NewDef()

func (Filter) Config() *config.Def                                  { return filterDef }
func (Filter) Configure(map[string]string) error                    { return nil }
func (Filter) Apply(*connectors.Record) (*connectors.Record, error) { return nil, nil }
