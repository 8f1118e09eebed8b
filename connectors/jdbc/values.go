package jdbc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// kind is the sink's view of a column type: the Connect type refined by
// its logical or Debezium semantic name. Each dialect maps a kind to a SQL
// type (see the table in doc.go) and a normalized value to a driver value.
type kind uint8

const (
	kInt8 kind = iota + 1
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBool
	kString
	kBytes
	kDecimal    // Decimal with a known scale (and maybe precision)
	kVarDecimal // io.debezium.data.VariableScaleDecimal
	kDate
	kTime        // time of day without zone, prec = fractional digits
	kTimestamp   // timestamp without zone, prec = fractional digits
	kTimestampTZ // io.debezium.time.ZonedTimestamp
	kTimeTZ      // io.debezium.time.ZonedTime
	kJSON
	kUUID
	kArray
	kInterval // io.debezium.time.Interval (an ISO 8601 duration string)
)

// column is one target column of a table shape.
type column struct {
	name     string // field name as in the record
	schema   *connectors.Schema
	kind     kind
	prec     int // fractional seconds digits (times) or decimal precision (0 = unknown)
	scale    int // decimal scale
	length   int // string length from the source column, 0 = unknown
	elem     *column
	optional bool
	pk       bool
	src      source
	idx      int // field index in the key or value struct
}

// source says where a column's value comes from.
type source uint8

const (
	srcValue source = iota
	srcKey
	srcKeyWhole // a primitive key as one column
	srcTopic
	srcPartition
	srcOffset
)

// columnFor derives a column from a Connect field schema.
func columnFor(name string, s *connectors.Schema) (*column, error) {
	c := &column{name: name, schema: s, optional: s.Optional}
	switch s.Name {
	case connectors.DecimalName:
		c.kind = kDecimal
		c.scale, _ = strconv.Atoi(s.Parameters[connectors.DecimalScaleParam])
		c.prec, _ = strconv.Atoi(s.Parameters[cdc.DecimalPrecisionParam])
		return c, nil
	case cdc.VariableScaleDecimalName:
		c.kind = kVarDecimal
		return c, nil
	case connectors.DateName, cdc.DateName, cdc.IsoDateName:
		c.kind = kDate
		return c, nil
	case connectors.TimeName, cdc.TimeName:
		c.kind, c.prec = kTime, 3
		return c, nil
	case cdc.MicroTimeName, cdc.NanoTimeName, cdc.IsoTimeName:
		c.kind, c.prec = kTime, 6
		return c, nil
	case connectors.TimestampName, cdc.TimestampName:
		c.kind, c.prec = kTimestamp, 3
		return c, nil
	case cdc.MicroTimestampName, cdc.NanoTimestampName, cdc.IsoTimestampName:
		// IsoTime and IsoTimestamp strings carry up to nine fractional
		// digits; both databases keep six.
		c.kind, c.prec = kTimestamp, 6
		return c, nil
	case cdc.IntervalName:
		if s.Type == connectors.String {
			c.kind = kInterval
			return c, nil
		}
	case cdc.ZonedTimestampName:
		c.kind, c.prec = kTimestampTZ, 6
		return c, nil
	case cdc.ZonedTimeName:
		c.kind, c.prec = kTimeTZ, 6
		return c, nil
	case cdc.JSONName:
		c.kind = kJSON
		return c, nil
	case cdc.UUIDName:
		c.kind = kUUID
		return c, nil
	}
	if strings.HasPrefix(s.Name, cdc.GeometryPrefix) {
		return nil, fmt.Errorf("field %q is a %s (WKB and SRID), which the sink cannot write: spatial columns need PostGIS or MySQL's ST_GeomFromWKB; drop the field with a ReplaceField transform", name, s.Name)
	}
	switch s.Type {
	case connectors.Int8:
		c.kind = kInt8
	case connectors.Int16:
		c.kind = kInt16
	case connectors.Int32:
		c.kind = kInt32
	case connectors.Int64:
		c.kind = kInt64
	case connectors.Float32:
		c.kind = kFloat32
	case connectors.Float64:
		c.kind = kFloat64
	case connectors.Boolean:
		c.kind = kBool
	case connectors.String:
		c.kind = kString
		c.length, _ = strconv.Atoi(s.Parameters[cdc.SourceColumnLengthParam])
	case connectors.Bytes:
		c.kind = kBytes
	case connectors.Array:
		if s.Items == nil {
			return nil, fmt.Errorf("array field %q has no item schema", name)
		}
		e, err := columnFor(name, s.Items)
		if err != nil {
			return nil, err
		}
		if e.kind == kArray {
			return nil, fmt.Errorf("field %q: nested arrays are not supported", name)
		}
		c.kind, c.elem = kArray, e
	default:
		return nil, fmt.Errorf("field %q has Connect type %s (%s) which has no column type; drop it with a ReplaceField transform or flatten it", name, s.Type, s.Name)
	}
	return c, nil
}

// timeOfDay is a time without a date, as a duration since midnight.
type timeOfDay time.Duration

// infinity is a timestamp at +infinity (1) or -infinity (-1): Debezium's
// PostgreSQL connector sends them as sentinels (the PGStatement
// DATE_POSITIVE_INFINITY and DATE_NEGATIVE_INFINITY milliseconds read as
// microseconds or milliseconds, Long.MAX_VALUE and MIN_VALUE nanoseconds,
// "infinity" and "-infinity" ZonedTimestamps). PostgreSQL stores them as
// infinity; MySQL refuses them (no DATETIME holds them).
type infinity int8

// Debezium's timestamp sentinels for ±infinity.
const (
	dbzPosInfMicros int64 = 9223372036825200000
	dbzNegInfMicros int64 = -9223372036832400000
)

// timestampInfinity returns the infinity an integer timestamp of schema
// name stands for, or 0.
func timestampInfinity(name string, n int64) infinity {
	switch name {
	case cdc.MicroTimestampName:
		switch n {
		case dbzPosInfMicros:
			return 1
		case dbzNegInfMicros:
			return -1
		}
	case cdc.NanoTimestampName:
		switch n {
		case math.MaxInt64:
			return 1
		case math.MinInt64:
			return -1
		}
	default: // Timestamp, io.debezium.time.Timestamp: milliseconds
		switch n {
		case dbzPosInfMicros / 1000:
			return 1
		case dbzNegInfMicros / 1000:
			return -1
		}
	}
	return 0
}

// normalize turns a Connect value of column c into the sink's neutral
// form: int64, float64, bool, string, []byte, connectors.Decimal,
// time.Time (dates and zone-less timestamps as UTC wall clock, zoned
// timestamps as instants), infinity (Debezium's ±infinity timestamps),
// timeOfDay, or []any of those for arrays.
// Debezium's ISO string dates, times and timestamps become the same
// values as their numeric forms; times of day with an offset (IsoTime)
// become the time of day in UTC.
func normalize(c *column, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kInt8, kInt16, kInt32, kInt64:
		if _, ok := v.(int64); ok {
			return v, nil // already boxed: no new allocation
		}
		return toInt64(v)
	case kFloat32, kFloat64:
		switch x := v.(type) {
		case float64:
			return v, nil
		case float32:
			return float64(x), nil
		}
		n, err := toInt64(v)
		return float64(n), err
	case kBool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
	case kString, kJSON, kUUID, kTimeTZ:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case kBytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
	case kDecimal:
		switch x := v.(type) {
		case connectors.Decimal:
			return v, nil
		case []byte:
			return connectors.Decimal{Unscaled: twosComplement(x), Scale: int32(c.scale)}, nil
		case string:
			return connectors.ParseDecimal(x)
		case float64:
			return connectors.ParseDecimal(strconv.FormatFloat(x, 'f', -1, 64))
		}
	case kVarDecimal:
		switch x := v.(type) {
		case *connectors.StructValue:
			scale, err := toInt64(x.Get("scale"))
			if err != nil {
				return nil, fmt.Errorf("VariableScaleDecimal scale: %w", err)
			}
			b, _ := x.Get("value").([]byte)
			return connectors.Decimal{Unscaled: twosComplement(b), Scale: int32(scale)}, nil
		case connectors.Decimal:
			return x, nil
		}
	case kDate:
		switch x := v.(type) {
		case time.Time:
			y, m, d := x.Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
		case string:
			return parseIsoDate(x)
		}
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		return time.Unix(n*86400, 0).UTC(), nil
	case kTime:
		if t, ok := v.(time.Time); ok {
			t = t.UTC()
			return timeOfDay(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
				time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())), nil
		}
		if s, ok := v.(string); ok {
			return parseIsoTime(s)
		}
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		switch c.schema.Name {
		case cdc.MicroTimeName:
			return timeOfDay(time.Duration(n) * time.Microsecond), nil
		case cdc.NanoTimeName:
			return timeOfDay(time.Duration(n)), nil
		}
		return timeOfDay(time.Duration(n) * time.Millisecond), nil
	case kTimestamp:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			return parseIsoTimestamp(x)
		}
		n, err := toInt64(v)
		if err != nil {
			return nil, err
		}
		if inf := timestampInfinity(c.schema.Name, n); inf != 0 {
			return inf, nil
		}
		switch c.schema.Name {
		case cdc.MicroTimestampName:
			return time.UnixMicro(n).UTC(), nil
		case cdc.NanoTimestampName:
			return time.Unix(0, n).UTC(), nil
		}
		return time.UnixMilli(n).UTC(), nil
	case kTimestampTZ:
		switch x := v.(type) {
		case time.Time:
			return x.UTC(), nil
		case string:
			switch x {
			case "infinity":
				return infinity(1), nil
			case "-infinity":
				return infinity(-1), nil
			}
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, fmt.Errorf("ZonedTimestamp %q: %w", x, err)
			}
			return t.UTC(), nil
		}
	case kInterval:
		if s, ok := v.(string); ok {
			// Kept as written (PostgreSQL reads the ISO form itself, MySQL
			// stores the text); parsed here to refuse a malformed one.
			if _, err := parseIsoInterval(s); err != nil {
				return nil, err
			}
			return s, nil
		}
	case kArray:
		xs, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(xs))
		for i, x := range xs {
			n, err := normalize(c.elem, x)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("value of Go type %T does not fit schema type %s %s", v, c.schema.Type, c.schema.Name)
}

var errNotInt = errors.New("not an integer")

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d overflows a signed 64-bit integer", x)
		}
		return int64(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
	case json.Number:
		return x.Int64()
	}
	return 0, fmt.Errorf("%v (%T): %w", v, v, errNotInt)
}

// twosComplement decodes a big-endian two's complement integer, the
// encoding of Connect's Decimal bytes.
func twosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return n
}

// formatTimeOfDay writes t as HH:MM:SS.ffffff, with a minus sign before
// a negative duration (a MySQL TIME of -838:59:59 up to 838:59:59, which
// MySQL takes back in that form).
func formatTimeOfDay(t timeOfDay) string {
	d := time.Duration(t)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	d -= s * time.Second
	return fmt.Sprintf("%s%02d:%02d:%02d.%06d", sign, h, m, s, d/time.Microsecond)
}

// isPlaceholder reports whether v stands in for an unavailable value
// (an unchanged TOASTed PostgreSQL column): the placeholder as a string
// or bytes; as Debezium writes it into arrays, a one-element array of it
// (or of the name-based UUID of it), or its bytes as the elements of a
// numeric array; {placeholder: placeholder} for a map; and as Sluice's
// PostgreSQL source writes numerics, a Decimal or VariableScaleDecimal
// whose unscaled value is the placeholder's bytes.
func isPlaceholder(v any, placeholder string) bool {
	switch x := v.(type) {
	case string:
		return x == placeholder
	case []byte:
		return string(x) == placeholder
	case connectors.Decimal:
		return x.Unscaled != nil && x.Unscaled.Sign() > 0 && string(x.Unscaled.Bytes()) == placeholder
	case *connectors.StructValue:
		if x.Schema != nil && x.Schema.Name == cdc.VariableScaleDecimalName {
			b, _ := x.Get("value").([]byte)
			return len(b) > 0 && twosComplement(b).Sign() > 0 && string(twosComplement(b).Bytes()) == placeholder
		}
	case []connectors.MapEntry:
		return len(x) == 1 && x[0].Key == placeholder && x[0].Value == placeholder
	case []any:
		if len(x) == 1 {
			if s, ok := x[0].(string); ok && len(s) == 36 && s == connectors.UnavailableUUID(placeholder) {
				return true
			}
			if isPlaceholder(x[0], placeholder) {
				return true
			}
		}
		if len(x) != len(placeholder) || len(x) < 2 {
			return false
		}
		for i, e := range x {
			if b, ok := byteValue(e); !ok || b != placeholder[i] {
				return false
			}
		}
		return true
	}
	return false
}

// byteValue is a numeric array element as a byte, when it is one.
func byteValue(v any) (byte, bool) {
	var f float64
	switch x := v.(type) {
	case float32:
		f = float64(x)
	case float64:
		f = x
	default:
		n, err := toInt64(v)
		if err != nil || n < 0 || n > 255 {
			return 0, false
		}
		return byte(n), true
	}
	if f < 0 || f > 255 || f != math.Trunc(f) {
		return 0, false
	}
	return byte(f), true
}

// appendKey appends a type-tagged encoding of v to b, for reduction maps.
func appendKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 0)
	case int64:
		b = append(b, 1)
		return strconv.AppendInt(b, x, 10)
	case string:
		b = append(b, 2)
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...)
	case []byte:
		b = append(b, 3)
		b = strconv.AppendInt(b, int64(len(x)), 10)
		b = append(b, ':')
		return append(b, x...)
	case time.Time:
		// Seconds and nanoseconds: UnixNano is undefined beyond 292
		// years from 1970, where two keys could then meet.
		b = append(b, 4)
		b = strconv.AppendInt(b, x.Unix(), 10)
		b = append(b, '.')
		return strconv.AppendInt(b, int64(x.Nanosecond()), 10)
	case connectors.Decimal:
		b = append(b, 5)
		s := x.String()
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		return append(b, s...)
	default:
		b = append(b, 6)
		return fmt.Appendf(b, "%v|", x)
	}
}

func (x infinity) String() string {
	if x < 0 {
		return "-infinity"
	}
	return "infinity"
}
