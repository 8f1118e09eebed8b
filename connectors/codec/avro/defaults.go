package avro

import (
	"github.com/sluice-cdc/sluice/connectors/codec"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// defaultValue converts a default read from an Avro schema (JSON decoded
// to float64, string, bool, []any, map[string]any, or the typed values
// hamba/avro makes of a field default) to the Connect value of s.
func defaultValue(s *connectors.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch s.Type {
	case connectors.Int8, connectors.Int16, connectors.Int32, connectors.Int64:
		n, ok := jsonInt(v)
		if !ok {
			return nil, codec.TypeError(s, v, "an integer")
		}
		switch {
		case s.Name == connectors.DateName:
			return time.Unix(n*86400, 0).UTC(), nil
		case s.Name == connectors.TimeName:
			return time.UnixMilli(n).UTC(), nil
		case s.Name == connectors.TimestampName:
			return time.UnixMilli(n).UTC(), nil
		case s.Type == connectors.Int8 && n >= math.MinInt8 && n <= math.MaxInt8:
			return int8(n), nil
		case s.Type == connectors.Int16 && n >= math.MinInt16 && n <= math.MaxInt16:
			return int16(n), nil
		case s.Type == connectors.Int32 && n >= math.MinInt32 && n <= math.MaxInt32:
			return int32(n), nil
		case s.Type == connectors.Int64:
			return n, nil
		}
		return nil, codec.Errorf("default %d is out of range for %s", n, s.Type)
	case connectors.Float32, connectors.Float64:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		default:
			n, ok := jsonInt(v)
			if !ok {
				return nil, codec.TypeError(s, v, "a number")
			}
			f = float64(n)
		}
		if s.Type == connectors.Float32 {
			return float32(f), nil
		}
		return f, nil
	case connectors.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, codec.TypeError(s, v, "a boolean")
		}
		return b, nil
	case connectors.String:
		str, ok := v.(string)
		if !ok {
			return nil, codec.TypeError(s, v, "a string")
		}
		return str, nil
	case connectors.Bytes:
		var raw []byte
		switch x := v.(type) {
		case []byte:
			raw = slices.Clone(x)
		case string:
			// Avro writes bytes defaults as ISO-8859-1 strings.
			for _, r := range x {
				if r > 0xff {
					return nil, codec.Errorf("bytes default has the character %q, outside ISO-8859-1", r)
				}
				raw = append(raw, byte(r))
			}
			if raw == nil {
				raw = []byte{}
			}
		default:
			return nil, codec.TypeError(s, v, "a string of bytes")
		}
		if s.Name == connectors.DecimalName {
			scale, _, err := decimalParams(s)
			if err != nil {
				return nil, err
			}
			return connectors.Decimal{Unscaled: fromTwosComplement(raw), Scale: scale}, nil
		}
		return raw, nil
	case connectors.Array:
		arr, ok := v.([]any)
		if !ok {
			return nil, codec.TypeError(s, v, "a JSON array")
		}
		out := make([]any, len(arr))
		for i, e := range arr {
			x, err := defaultValue(s.Items, e)
			if err != nil {
				return nil, codec.InIndex(err, i)
			}
			out[i] = x
		}
		return out, nil
	case connectors.Map:
		var out []connectors.MapEntry
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				val, err := defaultValue(s.Values, x[k])
				if err != nil {
					return nil, codec.InKey(err, k)
				}
				out = append(out, connectors.MapEntry{Key: k, Value: val})
			}
		case []any:
			for i, e := range x {
				pair, ok := e.([]any)
				if rec, isRec := e.(map[string]any); isRec && len(rec) == 2 {
					pair, ok = []any{rec["key"], rec["value"]}, true
				}
				if !ok || len(pair) != 2 {
					return nil, codec.InIndex(codec.Errorf("map default entry %v is neither a [key, value] pair nor a key/value record", e), i)
				}
				k, err := defaultValue(s.Keys, pair[0])
				if err != nil {
					return nil, codec.InIndex(err, i)
				}
				val, err := defaultValue(s.Values, pair[1])
				if err != nil {
					return nil, codec.InIndex(err, i)
				}
				out = append(out, connectors.MapEntry{Key: k, Value: val})
			}
		default:
			return nil, codec.TypeError(s, v, "a JSON object")
		}
		if out == nil {
			out = []connectors.MapEntry{}
		}
		return out, nil
	case connectors.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, codec.TypeError(s, v, "a JSON object")
		}
		out := connectors.NewStructValue(s)
		for i, f := range s.Fields {
			x, err := defaultValue(f.Schema, m[f.Name])
			if err != nil {
				return nil, codec.InField(err, f.Name)
			}
			out.Values[i] = x
		}
		return out, nil
	}
	return nil, codec.Errorf("unsupported schema type %q", s.Type)
}

// jsonInt reads a whole number from a decoded JSON or hamba default.
func jsonInt(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float32:
		return jsonInt(float64(x))
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}
