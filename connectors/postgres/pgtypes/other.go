package pgtypes

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

func byteaConverter(optional bool, mode cdc.BinaryMode) *Converter {
	c := &Converter{TypeName: "bytea"}
	switch mode {
	case cdc.BinaryBase64:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			raw, err := decodeBytea(b)
			return base64.StdEncoding.EncodeToString(raw), err
		}
	case cdc.BinaryBase64URLSafe:
		c.Schema = str(optional)
		c.fn = func(b []byte) (any, error) {
			raw, err := decodeBytea(b)
			return base64.URLEncoding.EncodeToString(raw), err
		}
	case cdc.BinaryHex:
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
// in Debezium's MicroDuration.DAYS_PER_MONTH_AVG.
const (
	usPerMonth  = 2629800e6
	usPerDay    = 86400e6
	usPerHour   = 3600e6
	usPerMinute = 60e6
)

func intervalConverter(optional bool, mode IntervalMode) *Converter {
	if mode == IntervalString {
		return &Converter{TypeName: "interval", Schema: named(connectors.String, cdc.IntervalName, optional),
			fn: func(b []byte) (any, error) {
				iv, err := parseInterval(b)
				if err != nil {
					return nil, err
				}
				return iv.isoString(), nil
			}}
	}
	return &Converter{TypeName: "interval", Schema: named(connectors.Int64, cdc.MicroDurationName, optional),
		fn: func(b []byte) (any, error) { return ParseInterval(b) }}
}

// interval holds the fields of an interval as pgjdbc's PGInterval does,
// which is what Debezium computes from: each field keeps its own sign and
// seconds are whole seconds plus microseconds of the same sign.
type interval struct {
	years, months, days, hours, minutes int64
	wholeSeconds, micros                int64
}

// seconds is PGInterval.getSeconds: wholeSeconds + (double) micros / 1e6.
func (iv interval) seconds() float64 {
	return float64(iv.wholeSeconds) + float64(iv.micros)/1e6
}

// durationMicros is MicroDuration.durationMicros with
// DAYS_PER_MONTH_AVG, done in the same double arithmetic (each step
// rounded, as in Java) and truncated to a long like Java's cast.
func (iv interval) durationMicros() int64 {
	const daysPerMonth = 365.25 / 12.0
	months := float64(int32(iv.years*12 + iv.months))
	days := float64(months*daysPerMonth) + float64(iv.days)
	secs := float64(days*24) + float64(iv.hours)
	secs = float64(secs*60) + float64(iv.minutes)
	secs = float64(secs*60) + iv.seconds()
	return javaLong(float64(secs * 1e6))
}

// javaLong converts like Java's (long) cast: NaN is 0, out of range
// values saturate.
func javaLong(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= 9223372036854775807:
		return math.MaxInt64
	case f <= -9223372036854775808:
		return math.MinInt64
	}
	return int64(f)
}

// isoString is Debezium's Interval.toIsoString of the fields, given the
// seconds as BigDecimal.valueOf(PGInterval.getSeconds()): every field is
// written ("P0Y0M0DT0H0M0S"), each with its own sign, and the seconds are
// the shortest decimal of the double, cut to 9 decimals and without
// trailing zeros.
func (iv interval) isoString() string {
	b := make([]byte, 0, 48)
	b = append(b, 'P')
	b = strconv.AppendInt(b, iv.years, 10)
	b = append(b, 'Y')
	b = strconv.AppendInt(b, iv.months, 10)
	b = append(b, 'M')
	b = strconv.AppendInt(b, iv.days, 10)
	b = append(b, "DT"...)
	b = strconv.AppendInt(b, iv.hours, 10)
	b = append(b, 'H')
	b = strconv.AppendInt(b, iv.minutes, 10)
	b = append(b, 'M')
	b = append(b, plainSeconds(iv.seconds())...)
	return string(append(b, 'S'))
}

// plainSeconds formats f as BigDecimal.valueOf(f), with its scale cut to 9
// (RoundingMode.DOWN), stripTrailingZeros().toPlainString() does.
func plainSeconds(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	dot := strings.IndexByte(s, '.')
	if dot < 0 {
		return s
	}
	if len(s)-dot-1 > 9 {
		s = s[:dot+10]
	}
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// ParseInterval parses interval output in IntervalStyle iso_8601
// ("P1Y2M3DT4H5M6.5S", "PT-1H") into Debezium's MicroDuration
// microseconds.
func ParseInterval(b []byte) (int64, error) {
	iv, err := parseInterval(b)
	if err != nil {
		return 0, err
	}
	return iv.durationMicros(), nil
}

// parseInterval parses interval output in IntervalStyle iso_8601 into
// its fields.
func parseInterval(b []byte) (interval, error) {
	var iv interval
	if len(b) < 3 || b[0] != 'P' {
		return iv, fmt.Errorf("invalid interval %q (set IntervalStyle=iso_8601)", b)
	}
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
			return iv, fmt.Errorf("invalid interval %q", b)
		}
		num := b[start:i]
		unit := b[i]
		i++
		if unit == 'S' && timePart {
			us, err := parseSeconds(num)
			if err != nil {
				return iv, fmt.Errorf("invalid interval %q", b)
			}
			iv.wholeSeconds += us / 1e6
			iv.micros += us % 1e6
			continue
		}
		n, err := parseInt(num)
		if err != nil {
			return iv, fmt.Errorf("invalid interval %q", b)
		}
		switch {
		case unit == 'Y' && !timePart:
			iv.years += n
		case unit == 'M' && !timePart:
			iv.months += n
		case unit == 'W' && !timePart:
			iv.days += 7 * n
		case unit == 'D' && !timePart:
			iv.days += n
		case unit == 'H' && timePart:
			iv.hours += n
		case unit == 'M' && timePart:
			iv.minutes += n
		default:
			return iv, fmt.Errorf("invalid interval %q", b)
		}
	}
	return iv, nil
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

// unknownLength is the length pgjdbc reports for an unconstrained varbit
// (TypeInfoCache.getPrecision's unknownLength, Integer.MAX_VALUE), which
// Debezium puts in the Bits schema.
const unknownLength = 2147483647

// bitConverter follows PostgresValueConverter: a bit or varbit column of
// length 1 is a boolean, longer ones are io.debezium.data.Bits with the
// declared length (2147483647 for an unconstrained varbit).
func bitConverter(name string, typmod int32, optional bool) *Converter {
	length := int64(typmod)
	if length < 0 {
		length = unknownLength
	}
	if length == 1 {
		return &Converter{TypeName: name, Schema: connectors.Primitive(connectors.Boolean, optional),
			fn: func(b []byte) (any, error) {
				if len(b) != 1 || (b[0] != '0' && b[0] != '1') {
					return nil, fmt.Errorf("invalid bit %q", b)
				}
				return b[0] == '1', nil
			}}
	}
	s := named(connectors.Bytes, cdc.BitsName, optional)
	s.Parameters = map[string]string{"length": strconv.FormatInt(length, 10)}
	return &Converter{TypeName: name, Schema: s, fn: convBits}
}

// convBits turns a bit string ("0101") into the little-endian bytes of the
// number it spells, as Debezium's PostgresValueConverter.convertBits does
// through BitSet.toByteArray: only as many bytes as the highest set bit
// needs, so leading zero bits are dropped and all zeros give no bytes.
func convBits(b []byte) (any, error) {
	high := -1
	for i := range b {
		switch b[i] {
		case '1':
			if high < 0 {
				high = len(b) - 1 - i
			}
		case '0':
		default:
			return nil, fmt.Errorf("invalid bit string %q", b)
		}
	}
	out := make([]byte, (high+8)/8)
	for i := len(b) - 1 - high; i < len(b); i++ {
		if b[i] == '1' {
			bit := len(b) - 1 - i // bit position from the least significant end
			out[bit/8] |= 1 << (bit % 8)
		}
	}
	return out, nil
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
