package transforms

import (
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

var maskFieldDef = config.NewDef(
	config.Key{Name: "fields", Type: config.List, Default: config.NoDefault, Doc: "Fields to mask.", Validator: nonEmptyList},
	config.Key{Name: "replacement", Type: config.String, Default: nil, Doc: "Value for numeric and string fields, converted to the field's type; by default each type's empty value (0, false, \"\", empty bytes, the epoch, an empty array or map)."},
	v1Only,
)

func nonEmptyList(_ string, v any) error {
	if l, _ := v.([]string); len(l) == 0 {
		return fmt.Errorf("must list at least one name")
	}
	return nil
}

// MaskField replaces field values with their type's empty value or a
// replacement (Kafka's MaskField).
type MaskField struct {
	side        side
	fields      map[string]bool
	replacement *string
}

func (*MaskField) Config() *config.Def { return maskFieldDef }

func (t *MaskField) Configure(props map[string]string) error {
	v, err := maskFieldDef.Parse(props)
	if err != nil {
		return err
	}
	t.fields = set(v.List("fields"))
	if v.IsSet("replacement") {
		s := v.String("replacement")
		t.replacement = &s
	}
	return nil
}

func (t *MaskField) Apply(r *connectors.Record) (*connectors.Record, error) {
	sc, v, err := t.side.get(r)
	if err != nil || v == nil {
		return r, err
	}
	if sc == nil {
		m, err := requireMap(r, t.side, v, "MaskField")
		if err != nil {
			return nil, err
		}
		out := append([]connectors.MapEntry(nil), m...)
		for i, e := range out {
			if k, _ := e.Key.(string); t.fields[k] {
				if out[i].Value, err = t.mask(e.Value); err != nil {
					return nil, recordErr(r, "MaskField: field %q: %v", k, err)
				}
			}
		}
		return t.side.set(r, nil, out), nil
	}
	sv, err := requireStruct(r, t.side, sc, v, "MaskField")
	if err != nil {
		return nil, err
	}
	out := &connectors.StructValue{Schema: sv.Schema, Values: append([]any(nil), sv.Values...)}
	for i, f := range sc.Fields {
		if t.fields[f.Name] {
			if out.Values[i], err = t.mask(sv.Values[i]); err != nil {
				return nil, recordErr(r, "MaskField: field %q: %v", f.Name, err)
			}
		}
	}
	return t.side.set(r, sc, out), nil
}

// mask returns the masked form of v; null stays null.
func (t *MaskField) mask(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.replacement != nil {
		return replaceAs(v, *t.replacement)
	}
	switch x := v.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil
	case int64:
		return int64(0), nil
	case int:
		return 0, nil
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case string:
		return "", nil
	case []byte:
		return []byte{}, nil
	case connectors.Decimal:
		return connectors.Decimal{Unscaled: new(big.Int), Scale: x.Scale}, nil
	case time.Time:
		return time.Unix(0, 0).UTC(), nil
	case []any:
		return []any{}, nil
	case []connectors.MapEntry, map[string]any:
		return []connectors.MapEntry{}, nil
	}
	return nil, fmt.Errorf("cannot mask a value of type %T", v)
}

// replaceAs converts the replacement to v's type.
func replaceAs(v any, s string) (any, error) {
	bad := func(err error) error {
		return fmt.Errorf("replacement %q does not fit a %T field: %v", s, v, err)
	}
	switch x := v.(type) {
	case string:
		return s, nil
	case int8, int16, int32, int64, int:
		bits := map[string]int{"int8": 8, "int16": 16, "int32": 32, "int64": 64, "int": 64}[fmt.Sprintf("%T", v)]
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, bad(err)
		}
		switch v.(type) {
		case int8:
			return int8(n), nil
		case int16:
			return int16(n), nil
		case int32:
			return int32(n), nil
		case int:
			return int(n), nil
		}
		return n, nil
	case float32:
		f, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, bad(err)
		}
		return float32(f), nil
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, bad(err)
		}
		return f, nil
	case connectors.Decimal:
		d, err := connectors.ParseDecimal(s)
		if err != nil {
			return nil, bad(err)
		}
		return rescale(d, x.Scale)
	}
	return nil, fmt.Errorf("a replacement can only mask numeric and string fields, not %T", v)
}

// rescale returns d with the given scale, refusing to lose digits.
func rescale(d connectors.Decimal, scale int32) (connectors.Decimal, error) {
	u := new(big.Int).Set(d.Unscaled)
	if scale >= d.Scale {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil))
		return connectors.Decimal{Unscaled: u, Scale: scale}, nil
	}
	q, m := new(big.Int).QuoRem(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil), new(big.Int))
	if m.Sign() != 0 {
		return connectors.Decimal{}, fmt.Errorf("%s has more than %d decimal places", d, scale)
	}
	return connectors.Decimal{Unscaled: q, Scale: scale}, nil
}
