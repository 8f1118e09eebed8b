package connectjson

import (
	"bytes"
	"slices"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// This file reads and writes Connect schemas in the JSON form of Kafka
// Connect's JsonConverter (JsonSchema.java).

// appendSchema writes the Connect JSON form of s in Jackson's field order:
// type, items|keys,values|fields, optional, name, version, doc,
// parameters, default, and field (the name, for a struct's field).
func (c *Codec) appendSchema(dst []byte, s *connectors.Schema, field *string, memo map[*connectors.Schema]*plan) ([]byte, error) {
	if s == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, `{"type":`...)
	var err error
	switch s.Type {
	case connectors.Int8, connectors.Int16, connectors.Int32, connectors.Int64, connectors.Float32,
		connectors.Float64, connectors.Boolean, connectors.String, connectors.Bytes:
		dst = AppendString(dst, string(s.Type))
	case connectors.Array:
		if s.Items == nil {
			return dst, codec.Errorf("array schema has no Items schema")
		}
		dst = append(dst, `"array","items":`...)
		if dst, err = c.appendSchema(dst, s.Items, nil, memo); err != nil {
			return dst, codec.InField(err, "items")
		}
	case connectors.Map:
		if s.Keys == nil || s.Values == nil {
			return dst, codec.Errorf("map schema needs Keys and Values schemas")
		}
		dst = append(dst, `"map","keys":`...)
		if dst, err = c.appendSchema(dst, s.Keys, nil, memo); err != nil {
			return dst, codec.InField(err, "keys")
		}
		dst = append(dst, `,"values":`...)
		if dst, err = c.appendSchema(dst, s.Values, nil, memo); err != nil {
			return dst, codec.InField(err, "values")
		}
	case connectors.Struct:
		dst = append(dst, `"struct","fields":[`...)
		for i := range s.Fields {
			f := &s.Fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			if f.Schema == nil {
				return dst, codec.InField(codec.Errorf("field has no schema"), f.Name)
			}
			if dst, err = c.appendSchema(dst, f.Schema, &f.Name, memo); err != nil {
				return dst, codec.InField(err, f.Name)
			}
		}
		dst = append(dst, ']')
	default:
		return dst, codec.Errorf("unsupported schema type %q", s.Type)
	}
	if s.Optional {
		dst = append(dst, `,"optional":true`...)
	} else {
		dst = append(dst, `,"optional":false`...)
	}
	if s.Name != "" {
		dst = append(dst, `,"name":`...)
		dst = AppendString(dst, s.Name)
	}
	if s.Version != 0 {
		dst = append(dst, `,"version":`...)
		dst = strconv.AppendInt(dst, int64(s.Version), 10)
	}
	if s.Doc != "" {
		dst = append(dst, `,"doc":`...)
		dst = AppendString(dst, s.Doc)
	}
	if len(s.Parameters) > 0 {
		keys := make([]string, 0, len(s.Parameters))
		for k := range s.Parameters {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, `,"parameters":{`...)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendString(dst, s.Parameters[k])
		}
		dst = append(dst, '}')
	}
	if s.Name == connectors.DecimalName && s.Type == connectors.Bytes {
		if _, err := decimalScale(s); err != nil {
			return dst, err
		}
	}
	if s.Default != nil {
		dst = append(dst, `,"default":`...)
		if dst, err = c.appendValue(dst, compile(s, memo), s.Default); err != nil {
			return dst, codec.InField(err, "default")
		}
	}
	if field != nil {
		dst = append(dst, `,"field":`...)
		dst = AppendString(dst, *field)
	}
	return append(dst, '}'), nil
}

// schemaFromJSON returns the schema written as b (validated JSON), from
// the cache when the same text was read before.
func (c *Codec) schemaFromJSON(b []byte) (*connectors.Schema, error) {
	if string(b) == "null" {
		return nil, nil
	}
	if e, ok := c.decSchemas.M[string(b)]; ok {
		c.decSchemas.Touch(e)
		c.lastSchema = &lastSchema{text: []byte(e.Key), schema: e.Val}
		return e.Val, nil
	}
	p := parser{data: b, c: c}
	s, _, _, err := p.schema()
	if err != nil {
		return nil, err
	}
	if c.decSchemas.Max() > 0 {
		c.decSchemas.Add(string(b), s)
		c.lastSchema = &lastSchema{text: bytes.Clone(b), schema: s}
	}
	return s, nil
}

// schema reads a schema object; field is the "field" member, which names
// a struct's field.
func (p *parser) schema() (s *connectors.Schema, field string, hasField bool, err error) {
	if p.peek() != '{' {
		return nil, "", false, codec.Errorf("a schema must be a JSON object with a \"type\"")
	}
	var (
		typ                                        string
		optional                                   bool
		name, doc                                  string
		version                                    int32
		params                                     map[string]string
		fieldsAt, itemsAt, keysAt, valuesAt, defAt = -1, -1, -1, -1, -1
	)
	err = p.object(func(key []byte) error {
		var err error
		switch string(key) {
		case "type":
			typ = ""
			if p.peek() == '"' {
				typ, err = p.string()
				return err
			}
		case "optional":
			optional = p.peek() == 't' && p.literal("true")
			if optional {
				return nil
			}
		case "name":
			name = ""
			if p.peek() == '"' {
				name, err = p.string()
				return err
			}
		case "doc":
			doc = ""
			if p.peek() == '"' {
				doc, err = p.string()
				return err
			}
		case "field":
			field, hasField = "", false
			if p.peek() == '"' {
				field, err = p.string()
				hasField = err == nil
				return err
			}
		case "version":
			version = 0
			if ch := p.peek(); ch == '-' || ch >= '0' && ch <= '9' {
				num, integral, err := p.number()
				if err != nil {
					return err
				}
				if n, ok := parseInt(num); integral && ok && n >= -1<<31 && n < 1<<31 {
					version = int32(n)
				}
				return nil
			}
		case "parameters":
			params = nil
			if p.peek() == '{' {
				return p.object(func(k []byte) error {
					name := string(k)
					if p.peek() != '"' {
						return codec.Errorf("schema parameters must have string values; %q does not", name)
					}
					v, err := p.string()
					if err != nil {
						return err
					}
					if params == nil {
						params = map[string]string{}
					}
					params[name] = v
					return nil
				})
			}
		case "fields":
			fieldsAt = p.pos
		case "items":
			itemsAt = p.pos
		case "keys":
			keysAt = p.pos
		case "values":
			valuesAt = p.pos
		case "default":
			defAt = p.pos
		}
		return p.skip()
	})
	if err != nil {
		return nil, "", false, err
	}
	sub := func(at int) (*connectors.Schema, error) {
		if at < 0 {
			return nil, nil
		}
		q := parser{data: p.data, pos: at, depth: p.depth, c: p.c}
		if q.peek() == 'n' {
			return nil, nil
		}
		s, _, _, err := q.schema()
		return s, err
	}
	switch t := connectors.Type(typ); t {
	case connectors.Boolean, connectors.Int8, connectors.Int16, connectors.Int32, connectors.Int64,
		connectors.Float32, connectors.Float64, connectors.Bytes, connectors.String:
		s = &connectors.Schema{Type: t}
	case connectors.Array:
		items, err := sub(itemsAt)
		if err != nil {
			return nil, "", false, codec.InField(err, "items")
		}
		if items == nil {
			return nil, "", false, codec.Errorf("array schema did not specify the element type (\"items\")")
		}
		s = &connectors.Schema{Type: t, Items: items}
	case connectors.Map:
		keys, err := sub(keysAt)
		if err != nil {
			return nil, "", false, codec.InField(err, "keys")
		}
		values, err := sub(valuesAt)
		if err != nil {
			return nil, "", false, codec.InField(err, "values")
		}
		if keys == nil || values == nil {
			return nil, "", false, codec.Errorf("map schema did not specify the key and value types (\"keys\", \"values\")")
		}
		s = &connectors.Schema{Type: t, Keys: keys, Values: values}
	case connectors.Struct:
		q := parser{data: p.data, pos: fieldsAt, depth: p.depth, c: p.c}
		if fieldsAt < 0 || q.peek() != '[' {
			return nil, "", false, codec.Errorf("struct schema's \"fields\" is not an array")
		}
		var fields []connectors.Field
		err := q.array(func(i int) error {
			fs, fname, ok, err := q.schema()
			if err != nil {
				return codec.InIndex(err, i)
			}
			if !ok {
				return codec.InIndex(codec.Errorf("struct schema's field has no \"field\" name"), i)
			}
			for _, f := range fields {
				if f.Name == fname {
					return codec.Errorf("struct schema has two fields named %q", fname)
				}
			}
			fields = append(fields, connectors.Field{Name: fname, Schema: fs})
			return nil
		})
		if err != nil {
			return nil, "", false, codec.InField(err, "fields")
		}
		s = connectors.NewStruct(name, optional, fields...)
	case "":
		return nil, "", false, codec.Errorf("schema must contain a \"type\" string")
	default:
		return nil, "", false, codec.Errorf("unknown schema type %q", typ)
	}
	s.Optional, s.Name, s.Version, s.Doc, s.Parameters = optional, name, version, doc, params
	if s.Type == connectors.Bytes && s.Name == connectors.DecimalName {
		if _, err := decimalScale(s); err != nil {
			return nil, "", false, err
		}
	}
	// "default": null means no default (Connect rejects it for a required
	// schema; accepting it loses nothing).
	if q := (parser{data: p.data, pos: defAt, depth: p.depth, c: p.c, scratch: p.scratch}); defAt >= 0 && q.peek() != 'n' {
		d, err := q.value(s)
		p.scratch = q.scratch
		if err != nil {
			return nil, "", false, codec.InField(err, "default")
		}
		s.Default = d
	}
	return s, field, hasField, nil
}

// AppendSchema appends the Connect JSON form of s, the "schema" member of
// the JsonConverter's envelope, to dst. It is how a file that holds
// values without their Connect schema (a Parquet object of the S3 sink)
// keeps the schema beside them; ParseSchema reads it back.
func (c *Codec) AppendSchema(dst []byte, s *connectors.Schema) ([]byte, error) {
	return c.appendSchema(dst, s, nil, map[*connectors.Schema]*plan{})
}

// ParseSchema reads a schema written by AppendSchema (or the "schema"
// member of a JsonConverter envelope). A malformed text is a *SyntaxError
// or a *codec.DataError.
func (c *Codec) ParseSchema(b []byte) (*connectors.Schema, error) {
	p := parser{data: b, c: c}
	p.ws()
	if p.literal("null") {
		if err := p.end(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	s, _, _, err := p.schema()
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return s, nil
}
