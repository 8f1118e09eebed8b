package pgtypes

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice/connectors"
)

func byteaConverter(optional bool, mode BinaryMode) *Converter {
	c := &Converter{TypeName: "bytea"}
	switch mode {
	case BinaryBase64:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			raw, err := decodeBytea(b)
			return base64.StdEncoding.EncodeToString(raw), err
		}
	case BinaryBase64URLSafe:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			raw, err := decodeBytea(b)
			return base64.URLEncoding.EncodeToString(raw), err
		}
	case BinaryHex:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			raw, err := decodeBytea(b)
			return hex.EncodeToString(raw), err
		}
	default:
		c.Schema = connectors.Primitive(connectors.Bytes, optional)
		c.fn = func(b []byte) (any, error) { return decodeBytea(b) }
	}
	return c
}

// decodeBytea decodes bytea's hex output format ("\x0a0b").
func decodeBytea(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != '\\' || b[1] != 'x' {
		return nil, fmt.Errorf("bytea value is not in hex format (set bytea_output=hex)")
	}
	out := make([]byte, (len(b)-2)/2)
	if _, err := hex.Decode(out, b[2:]); err != nil {
		return nil, fmt.Errorf("invalid bytea: %w", err)
	}
	return out, nil
}

// Interval units in microseconds; a month is 30.4375 days (365.25/12) as
// in Debezium's MicroDuration.
const (
	usPerMonth  = 2629800e6
	usPerDay    = 86400e6
	usPerHour   = 3600e6
	usPerMinute = 60e6
)

func intervalConverter(optional bool, mode IntervalMode) *Converter {
	if mode == IntervalString {
		return &Converter{TypeName: "interval", Schema: named(connectors.String, IntervalName, optional), fn: convString}
	}
	return &Converter{TypeName: "interval", Schema: named(connectors.Int64, MicroDurationName, optional),
		fn: func(b []byte) (any, error) { return ParseInterval(b) }}
}

// ParseInterval parses interval output in IntervalStyle iso_8601
// ("P1Y2M3DT4H5M6.5S", "PT-1H") into microseconds.
func ParseInterval(b []byte) (int64, error) {
	if len(b) < 3 || b[0] != 'P' {
		return 0, fmt.Errorf("invalid interval %q (set IntervalStyle=iso_8601)", b)
	}
	var total int64
	timePart := false
	i := 1
	for i < len(b) {
		if b[i] == 'T' {
			timePart = true
			i++
			continue
		}
		start := i
		if b[i] == '-' || b[i] == '+' {
			i++
		}
		for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == '.') {
			i++
		}
		if i == start || i >= len(b) {
			return 0, fmt.Errorf("invalid interval %q", b)
		}
		num := b[start:i]
		unit := b[i]
		i++
		if unit == 'S' {
			us, err := parseSeconds(num)
			if err != nil {
				return 0, fmt.Errorf("invalid interval %q", b)
			}
			total += us
			continue
		}
		n, err := parseInt(num)
		if err != nil {
			return 0, fmt.Errorf("invalid interval %q", b)
		}
		switch {
		case unit == 'Y' && !timePart:
			total += n * 12 * usPerMonth
		case unit == 'M' && !timePart:
			total += n * usPerMonth
		case unit == 'W' && !timePart:
			total += n * 7 * usPerDay
		case unit == 'D' && !timePart:
			total += n * usPerDay
		case unit == 'H' && timePart:
			total += n * usPerHour
		case unit == 'M' && timePart:
			total += n * usPerMinute
		default:
			return 0, fmt.Errorf("invalid interval %q", b)
		}
	}
	return total, nil
}

func parseSeconds(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg || (len(b) > 0 && b[0] == '+') {
		b = b[1:]
	}
	var whole, frac int64
	n := 0
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		if b[i] < '0' || b[i] > '9' {
			return 0, fmt.Errorf("bad seconds")
		}
		whole = whole*10 + int64(b[i]-'0')
	}
	if i < len(b) {
		for i++; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, fmt.Errorf("bad seconds")
			}
			if n < 6 {
				frac = frac*10 + int64(b[i]-'0')
				n++
			}
		}
	}
	for ; n < 6; n++ {
		frac *= 10
	}
	us := whole*1e6 + frac
	if neg {
		us = -us
	}
	return us, nil
}

func bitConverter(name string, typmod int32, optional bool) *Converter {
	if name == "bit" && typmod == 1 {
		return &Converter{TypeName: name, Schema: connectors.Primitive(connectors.Boolean, optional),
			fn: func(b []byte) (any, error) {
				if len(b) != 1 || (b[0] != '0' && b[0] != '1') {
					return nil, fmt.Errorf("invalid bit %q", b)
				}
				return b[0] == '1', nil
			}}
	}
	length := int(typmod)
	if length < 0 {
		length = 0
	}
	s := named(connectors.Bytes, BitsName, optional)
	s.Parameters = map[string]string{"length": strconv.Itoa(length)}
	return &Converter{TypeName: name, Schema: s, fn: convBits}
}

// convBits turns a bit string ("0101") into the little-endian bytes of the
// number it spells, ceil(n/8) bytes long, as Debezium's Bits.
func convBits(b []byte) (any, error) {
	out := make([]byte, (len(b)+7)/8)
	for i := range b {
		bit := len(b) - 1 - i // bit position from the least significant end
		switch b[i] {
		case '1':
			out[bit/8] |= 1 << (bit % 8)
		case '0':
		default:
			return nil, fmt.Errorf("invalid bit string %q", b)
		}
	}
	return out, nil
}

// PointSchema is Debezium's schema for the point type.
func PointSchema(optional bool) *connectors.Schema {
	s := connectors.NewStruct(PointName, optional,
		connectors.Opt("x", connectors.Float64Schema),
		connectors.Opt("y", connectors.Float64Schema),
		connectors.Opt("wkb", connectors.OptionalBytesSchema),
		connectors.Opt("srid", connectors.OptionalInt32Schema))
	s.Version = 1
	s.Doc = "Geometry (POINT)"
	return s
}

func pointConverter(optional bool) *Converter {
	s := PointSchema(optional)
	return &Converter{TypeName: "point", Schema: s, fn: func(b []byte) (any, error) {
		var x, y float64
		n := len(b)
		if n < 5 || b[0] != '(' || b[n-1] != ')' {
			return nil, fmt.Errorf("invalid point %q", b)
		}
		comma := -1
		for i := 1; i < n-1; i++ {
			if b[i] == ',' {
				comma = i
				break
			}
		}
		if comma < 0 {
			return nil, fmt.Errorf("invalid point %q", b)
		}
		var err1, err2 error
		x, err1 = strconv.ParseFloat(bstr(b[1:comma]), 64)
		y, err2 = strconv.ParseFloat(bstr(b[comma+1:n-1]), 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("invalid point %q", b)
		}
		wkb := make([]byte, 21)
		wkb[0] = 1 // little endian
		binary.LittleEndian.PutUint32(wkb[1:], 1)
		binary.LittleEndian.PutUint64(wkb[5:], math.Float64bits(x))
		binary.LittleEndian.PutUint64(wkb[13:], math.Float64bits(y))
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1], v.Values[2] = x, y, wkb
		return v, nil
	}}
}

// arrayConverter parses one-dimensional array output ("{1,NULL,"a b"}").
func arrayConverter(elem *Converter, delim byte) func([]byte) (any, error) {
	return func(b []byte) (any, error) {
		// Arrays with explicit bounds print "[0:1]={...}".
		if len(b) > 0 && b[0] == '[' {
			for i := range b {
				if b[i] == '=' {
					b = b[i+1:]
					break
				}
			}
		}
		if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
			return nil, fmt.Errorf("invalid array %q", b)
		}
		body := b[1 : len(b)-1]
		out := []any{}
		if len(body) == 0 {
			return out, nil
		}
		if body[0] == '{' {
			return nil, fmt.Errorf("multi-dimensional arrays are not supported: %q", b)
		}
		var buf []byte
		for i := 0; i <= len(body); {
			// One element.
			buf = buf[:0]
			quoted := false
			if i < len(body) && body[i] == '"' {
				quoted = true
				i++
				for i < len(body) && body[i] != '"' {
					if body[i] == '\\' && i+1 < len(body) {
						i++
					}
					buf = append(buf, body[i])
					i++
				}
				i++ // closing quote
			} else {
				for i < len(body) && body[i] != delim {
					buf = append(buf, body[i])
					i++
				}
			}
			if !quoted && string(buf) == "NULL" {
				out = append(out, nil)
			} else {
				v, err := elem.Convert(buf)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			if i >= len(body) {
				break
			}
			if body[i] != delim {
				return nil, fmt.Errorf("invalid array %q", b)
			}
			i++
		}
		return out, nil
	}
}

// parseHstore parses hstore output (`"a"=>"1", "b"=>NULL`) in order.
func parseHstore(b []byte) ([]connectors.MapEntry, error) {
	var out []connectors.MapEntry
	i := 0
	readQuoted := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		i++
		var s []byte
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' && i+1 < len(b) {
				i++
			}
			s = append(s, b[i])
			i++
		}
		if i >= len(b) {
			return "", false
		}
		i++
		return string(s), true
	}
	for i < len(b) {
		for i < len(b) && (b[i] == ' ' || b[i] == ',') {
			i++
		}
		if i >= len(b) {
			break
		}
		k, ok := readQuoted()
		if !ok || i+2 > len(b) || b[i] != '=' || b[i+1] != '>' {
			return nil, fmt.Errorf("invalid hstore %q", b)
		}
		i += 2
		var v any
		if i+4 <= len(b) && string(b[i:i+4]) == "NULL" {
			i += 4
		} else {
			s, ok := readQuoted()
			if !ok {
				return nil, fmt.Errorf("invalid hstore %q", b)
			}
			v = s
		}
		out = append(out, connectors.MapEntry{Key: k, Value: v})
	}
	return out, nil
}

func hstoreConverter(mode HStoreMode, optional bool) *Converter {
	if mode == HStoreMap {
		s := &connectors.Schema{Type: connectors.Map, Optional: optional,
			Keys: connectors.StringSchema, Values: connectors.OptionalStringSchema}
		return &Converter{TypeName: "hstore", Schema: s, fn: func(b []byte) (any, error) {
			m, err := parseHstore(b)
			if m == nil && err == nil {
				m = []connectors.MapEntry{}
			}
			return m, err
		}}
	}
	return &Converter{TypeName: "hstore", Schema: named(connectors.String, JSONName, optional),
		fn: func(b []byte) (any, error) {
			m, err := parseHstore(b)
			if err != nil {
				return nil, err
			}
			out := []byte{'{'}
			for i, e := range m {
				if i > 0 {
					out = append(out, ',')
				}
				k, _ := json.Marshal(e.Key)
				out = append(out, k...)
				out = append(out, ':')
				v, _ := json.Marshal(e.Value)
				out = append(out, v...)
			}
			return string(append(out, '}')), nil
		}}
}
