package transforms

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var castTypes = map[string]connectors.Type{
	"int8": connectors.Int8, "int16": connectors.Int16, "int32": connectors.Int32, "int64": connectors.Int64,
	"float32": connectors.Float32, "float64": connectors.Float64, "boolean": connectors.Boolean, "string": connectors.String,
}

var castDef = config.NewDef(
	config.Key{Name: "spec", Type: config.List, Default: config.NoDefault, Validator: validCastSpec,
		Doc: "field:type pairs (f1:int32,f2:string), or one type to cast the whole key or value. Types: int8, int16, int32, int64, float32, float64, boolean, string."},
	v1Only,
)

func validCastSpec(_ string, v any) error {
	_, _, err := parseCastSpec(v.([]string))
	return err
}

// parseCastSpec returns the whole-value type ("" if by field) and the
// per-field types.
func parseCastSpec(l []string) (connectors.Type, map[string]connectors.Type, error) {
	if len(l) == 0 {
		return "", nil, fmt.Errorf("must name a type, or field:type pairs")
	}
	fields := map[string]connectors.Type{}
	var whole connectors.Type
	for _, p := range l {
		name, typ, ok := strings.Cut(p, ":")
		if !ok {
			name, typ = "", p
		}
		t, known := castTypes[strings.ToLower(strings.TrimSpace(typ))]
		if !known {
			return "", nil, fmt.Errorf("%q: unknown type %q; use int8, int16, int32, int64, float32, float64, boolean or string", p, typ)
		}
		if !ok {
			if len(l) > 1 {
				return "", nil, fmt.Errorf("%q casts the whole value, so it must be the only entry of spec", p)
			}
			whole = t
			continue
		}
		if name = strings.TrimSpace(name); name == "" {
			return "", nil, fmt.Errorf("%q: empty field name", p)
		}
		fields[name] = t
	}
	return whole, fields, nil
}

// Cast changes the type of fields, or of the whole key or value, to a
// primitive type (Kafka's Cast).
type Cast struct {
	side    side
	whole   connectors.Type
	fields  map[string]connectors.Type
	schemas *cache[*connectors.Schema, *connectors.Schema]
}

func (*Cast) Config() *config.Def { return castDef }

func (t *Cast) Configure(props map[string]string) error {
	v, err := castDef.Parse(props)
	if err != nil {
		return err
	}
	t.whole, t.fields, _ = parseCastSpec(v.List("spec"))
	t.schemas = newCache[*connectors.Schema, *connectors.Schema](schemaCacheSize)
	return nil
}

func (t *Cast) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil {
		return nil, err
	}
	if t.whole != "" {
		if sc != nil && !castable(sc) {
			return nil, recordErr(r, "Cast: cannot cast a %s %s", sc.Type, t.side)
		}
		out, err := castValue(v, t.whole)
		if err != nil {
			return nil, recordErr(r, "Cast: %v", err)
		}
		var ns *connectors.Schema
		if sc != nil {
			var ok bool
			if ns, ok = t.schemas.get(sc); !ok {
				ns = &connectors.Schema{Type: t.whole, Optional: sc.Optional}
				t.schemas.put(sc, ns)
			}
		}
		return t.side.set(r, ns, out), nil
	}
	if v == nil {
		return r, nil
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "Cast")
		if err != nil {
			return nil, err
		}
		out := append([]connectors.MapEntry(nil), m...)
		for i, e := range out {
			k, _ := e.Key.(string)
			if typ, ok := t.fields[k]; ok {
				if out[i].Value, err = castValue(e.Value, typ); err != nil {
					return nil, recordErr(r, "Cast: field %q: %v", k, err)
				}
			}
		}
		return t.side.set(r, nil, out), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "Cast")
	if err != nil {
		return nil, err
	}
	ns, ok := t.schemas.get(sc)
	if !ok {
		fields := make([]connectors.Field, len(sc.Fields))
		for i, f := range sc.Fields {
			fields[i] = connectors.Opt(f.Name, f.Schema)
			if typ, ok := t.fields[f.Name]; ok {
				if !castable(f.Schema) {
					return nil, recordErr(r, "Cast: field %q is a %s, which cannot be cast; remove it from spec", f.Name, f.Schema.Type)
				}
				fs := &connectors.Schema{Type: typ, Optional: f.Schema.Optional}
				if f.Schema.Default != nil {
					if fs.Default, err = castValue(f.Schema.Default, typ); err != nil {
						return nil, recordErr(r, "Cast: default of field %q: %v", f.Name, err)
					}
				}
				fields[i].Schema = fs
			}
		}
		ns = newStructLike(sc, fields)
		t.schemas.put(sc, ns)
	}
	out := &connectors.StructValue{Schema: ns, Values: append([]any(nil), sv.Values...)}
	for i, f := range sc.Fields {
		if typ, ok := t.fields[f.Name]; ok {
			if out.Values[i], err = castValue(sv.Values[i], typ); err != nil {
				return nil, recordErr(r, "Cast: field %q: %v", f.Name, err)
			}
		}
	}
	return t.side.set(r, ns, out), nil
}

func castable(s *connectors.Schema) bool {
	switch s.Type {
	case connectors.Struct, connectors.Array, connectors.Map:
		return false
	}
	return true
}

// castValue converts a primitive or logical value to type to.
func castValue(v any, to connectors.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	if to == connectors.String {
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Format("2006-01-02T15:04:05.000Z"), nil
		case *connectors.StructValue, []any, []connectors.MapEntry, map[string]any:
			return nil, fmt.Errorf("cannot cast a %T to string", v)
		}
		return scalarString(v), nil
	}
	var f float64
	var i int64
	isInt := false
	switch x := v.(type) {
	case bool:
		if x {
			i = 1
		}
		isInt = true
	case int8:
		i, isInt = int64(x), true
	case int16:
		i, isInt = int64(x), true
	case int32:
		i, isInt = int64(x), true
	case int64:
		i, isInt = x, true
	case int:
		i, isInt = int64(x), true
	case float32:
		f = float64(x)
	case float64:
		f = x
	case connectors.Decimal:
		if to == connectors.Float32 || to == connectors.Float64 {
			bf, _ := new(big.Float).SetString(x.String())
			f, _ = bf.Float64()
		} else {
			q := new(big.Int).Set(x.Unscaled)
			if x.Scale > 0 {
				q.Quo(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(x.Scale)), nil))
			} else if x.Scale < 0 {
				q.Mul(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-x.Scale)), nil))
			}
			if !q.IsInt64() {
				return nil, fmt.Errorf("%s is out of range of %s", x, to)
			}
			i, isInt = q.Int64(), true
		}
	case string:
		s := strings.TrimSpace(x)
		if to == connectors.Boolean {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("cannot cast %q to boolean", x)
			}
			return b, nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			i, isInt = n, true
		} else if g, err := strconv.ParseFloat(s, 64); err == nil {
			f = g
		} else {
			return nil, fmt.Errorf("cannot cast %q to %s: not a number", x, to)
		}
	default:
		return nil, fmt.Errorf("cannot cast a %T to %s", v, to)
	}
	if !isInt && to != connectors.Float32 && to != connectors.Float64 && to != connectors.Boolean {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("cannot cast %v to %s", f, to)
		}
		i = int64(f) // truncation, as Java's narrowing conversion
	}
	switch to {
	case connectors.Boolean:
		if isInt {
			return i != 0, nil
		}
		return f != 0, nil
	case connectors.Int8:
		return int8(i), nil
	case connectors.Int16:
		return int16(i), nil
	case connectors.Int32:
		return int32(i), nil
	case connectors.Int64:
		return i, nil
	case connectors.Float32:
		if isInt {
			return float32(i), nil
		}
		return float32(f), nil
	case connectors.Float64:
		if isInt {
			return float64(i), nil
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot cast to %s", to)
}
