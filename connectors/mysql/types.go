package mysql

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"golang.org/x/text/encoding/charmap"
)

// kind is a column's type family, as both the binlog's table map and
// information_schema describe it; the Connect schema and value follow
// from it and the modes alone, so a snapshot and the stream give equal
// schemas and values for the same column.
type kind uint8

const (
	kInt kind = iota + 1
	kDecimal
	kFloat // FLOAT: a float32, given as FLOAT64 as Debezium does
	kDouble
	kBit
	kDate
	kTime
	kDatetime
	kTimestamp
	kYear
	kString
	kBytes
	kEnum
	kSet
	kJSON
	kGeometry // any spatial type: Debezium's Geometry {wkb, srid}
	// MariaDB's UUID, INET4 and INET6: strings in the server's text form.
	// The binlog has their bytes (a BINARY(16) or BINARY(4) without its
	// trailing zero bytes), which are formatted as the server prints them.
	kUUID
	kInet4
	kInet6
)

// column describes one column of a captured table.
type column struct {
	name     string
	kind     kind
	size     int // kInt: bytes (1, 2, 3, 4, 8); kBit: bits; kBytes: BINARY(n) length (0: not fixed)
	unsigned bool
	// precision and scale of a DECIMAL.
	precision, scale int
	// fsp is the fractional seconds precision of TIME, DATETIME and
	// TIMESTAMP.
	fsp int
	// charset of kString ("utf8mb4", "latin1", ...).
	charset string
	// fixed marks CHAR(n): trailing spaces are not part of the value.
	fixed    bool
	values   []string // ENUM and SET members
	nullable bool
}

// sameShape reports whether two descriptions give the same schema and
// values.
func (c *column) sameShape(o *column) bool {
	if c.name != o.name || c.kind != o.kind || c.size != o.size || c.unsigned != o.unsigned || c.precision != o.precision ||
		c.scale != o.scale || c.fsp != o.fsp || c.charset != o.charset || c.fixed != o.fixed || c.nullable != o.nullable || len(c.values) != len(o.values) {
		return false
	}
	for i := range c.values {
		if c.values[i] != o.values[i] {
			return false
		}
	}
	return true
}

func named(t connectors.Type, name string, optional bool) *connectors.Schema {
	return &connectors.Schema{Type: t, Name: name, Version: 1, Optional: optional}
}

func decimalSchema(precision, scale int, optional bool) *connectors.Schema {
	s := connectors.DecimalSchema(int32(scale), optional)
	s.Parameters[cdc.DecimalPrecisionParam] = strconv.Itoa(precision)
	return s
}

// schema returns the column's Connect schema under modes m, as
// Debezium's MySqlValueConverters gives it.
func (c *column) schema(m Modes) *connectors.Schema {
	opt := c.nullable
	switch c.kind {
	case kInt:
		switch {
		case c.size == 1:
			return connectors.Primitive(connectors.Int16, opt)
		case c.size == 2 && !c.unsigned:
			return connectors.Primitive(connectors.Int16, opt)
		case c.size == 2, c.size == 3, c.size == 4 && !c.unsigned:
			return connectors.Primitive(connectors.Int32, opt)
		case c.size == 4, !c.unsigned:
			return connectors.Primitive(connectors.Int64, opt)
		case m.Bigint == BigintPrecise:
			return decimalSchema(20, 0, opt)
		default:
			return connectors.Primitive(connectors.Int64, opt)
		}
	case kDecimal:
		switch m.Decimal {
		case cdc.DecimalDouble:
			return connectors.Primitive(connectors.Float64, opt)
		case cdc.DecimalString:
			return connectors.Primitive(connectors.String, opt)
		}
		return decimalSchema(c.precision, c.scale, opt)
	case kFloat, kDouble:
		return connectors.Primitive(connectors.Float64, opt)
	case kBit:
		if c.size == 1 {
			return connectors.Primitive(connectors.Boolean, opt)
		}
		s := named(connectors.Bytes, cdc.BitsName, opt)
		s.Parameters = map[string]string{"length": strconv.Itoa(c.size)}
		return s
	case kDate:
		return named(connectors.Int32, cdc.DateName, opt)
	case kTime:
		if m.Time == cdc.TimeAdaptive && c.fsp <= 3 {
			return named(connectors.Int32, cdc.TimeName, opt)
		}
		return named(connectors.Int64, cdc.MicroTimeName, opt)
	case kDatetime:
		if c.fsp <= 3 {
			return named(connectors.Int64, cdc.TimestampName, opt)
		}
		return named(connectors.Int64, cdc.MicroTimestampName, opt)
	case kTimestamp:
		return named(connectors.String, cdc.ZonedTimestampName, opt)
	case kYear:
		return named(connectors.Int32, cdc.YearName, opt)
	case kBytes:
		if m.Binary == cdc.BinaryBytes || m.Binary == "" {
			return connectors.Primitive(connectors.Bytes, opt)
		}
		return connectors.Primitive(connectors.String, opt)
	case kEnum, kSet:
		name := cdc.EnumName
		if c.kind == kSet {
			name = cdc.EnumSetName
		}
		s := named(connectors.String, name, opt)
		s.Parameters = map[string]string{cdc.EnumAllowedParam: strings.Join(c.values, ",")}
		return s
	case kJSON:
		return named(connectors.String, cdc.JSONName, opt)
	case kUUID:
		return named(connectors.String, cdc.UUIDName, opt)
	case kInet4, kInet6:
		return connectors.Primitive(connectors.String, opt)
	case kGeometry:
		if opt {
			return optionalGeometrySchema
		}
		return geometrySchema
	default:
		return connectors.Primitive(connectors.String, opt)
	}
}

// Geometry schemas: Debezium's io.debezium.data.geometry.Geometry, the
// WKB without MySQL's SRID prefix and the SRID.
var (
	geometrySchema         = newGeometrySchema(false)
	optionalGeometrySchema = newGeometrySchema(true)
)

func newGeometrySchema(optional bool) *connectors.Schema {
	s := connectors.NewStruct(cdc.GeometryName, optional,
		connectors.Opt("wkb", connectors.BytesSchema),
		connectors.Opt("srid", connectors.OptionalInt32Schema))
	s.Version = 1
	s.Doc = "Geometry"
	return s
}

// geometryValue splits MySQL's internal geometry (a little-endian SRID,
// then WKB) into Debezium's Geometry struct.
func (c *column) geometryValue(b []byte, m Modes) (any, error) {
	if len(b) < 4 {
		return nil, c.bad(b, "a geometry shorter than its SRID")
	}
	v := connectors.NewStructValue(c.schema(m))
	v.Values[0] = append([]byte(nil), b[4:]...)
	v.Values[1] = int32(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	return v, nil
}

// ValueError is a value the type map cannot convert.
type ValueError struct {
	Column string
	Value  string
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("column %s: value %q: %s", e.Column, e.Value, e.Reason)
}

func (c *column) bad(v any, reason string) error {
	s := fmt.Sprint(v)
	if b, ok := v.([]byte); ok {
		s = string(b)
	}
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return &ValueError{Column: c.name, Value: s, Reason: reason}
}

// zero is the value of a zero date ("0000-00-00"): null in a nullable
// column, the epoch otherwise, as Debezium.
func (c *column) zero(m Modes) any {
	if c.nullable {
		return nil
	}
	switch c.schema(m).Type {
	case connectors.Int32:
		return int32(0)
	case connectors.Int64:
		return int64(0)
	default:
		return "1970-01-01T00:00:00Z"
	}
}

// fromBinlog converts a value as go-mysql decodes it from a row event
// (ParseTime on, UseDecimal off) into the column's Connect value.
func (c *column) fromBinlog(v any, m Modes) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kUUID, kInet4, kInet6:
		b, ok := v.(string)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("%s decoded as %T", c.kindName(), v))
		}
		return c.addressText([]byte(b))
	case kInt:
		var u uint64
		var s int64
		switch x := v.(type) {
		case int8:
			s, u = int64(x), uint64(uint8(x))
		case int16:
			s, u = int64(x), uint64(uint16(x))
		case int32:
			s, u = int64(x), uint64(uint32(x))
			if c.size == 3 {
				u &= 0xFFFFFF
			}
		case int64:
			s, u = x, uint64(x)
		default:
			return nil, c.bad(v, fmt.Sprintf("integer column decoded as %T", v))
		}
		return c.intValue(s, u, m), nil
	case kDecimal:
		if str, ok := v.(string); ok {
			return c.decimalValue(str, m)
		}
		return c.decimalValue(fmt.Sprint(v), m)
	case kFloat:
		f, ok := v.(float32)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("FLOAT decoded as %T", v))
		}
		return float64(f), nil
	case kDouble:
		f, ok := v.(float64)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("DOUBLE decoded as %T", v))
		}
		return f, nil
	case kBit:
		n, ok := v.(int64)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("BIT decoded as %T", v))
		}
		return c.bitValue(uint64(n)), nil
	case kDate:
		s, _ := v.(string)
		return c.dateValue(s, m)
	case kTime:
		s, _ := v.(string)
		return c.timeValue(s, m)
	case kDatetime, kTimestamp:
		switch x := v.(type) {
		case time.Time:
			return c.instantValue(x, m), nil
		case string:
			return c.datetimeText(x, m)
		}
		return nil, c.bad(v, fmt.Sprintf("temporal column decoded as %T", v))
	case kYear:
		switch x := v.(type) {
		case int:
			return int32(x), nil
		case int64:
			return int32(x), nil
		}
		return nil, c.bad(v, fmt.Sprintf("YEAR decoded as %T", v))
	case kEnum:
		n, ok := v.(int64)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("ENUM decoded as %T", v))
		}
		if n == 0 {
			return "", nil // the empty string of an invalid value
		}
		if int(n) > len(c.values) {
			return nil, c.bad(v, fmt.Sprintf("ENUM index beyond the %d members", len(c.values)))
		}
		return c.values[n-1], nil
	case kSet:
		n, ok := v.(int64)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("SET decoded as %T", v))
		}
		var b strings.Builder
		for i, name := range c.values {
			if n&(1<<i) != 0 {
				if b.Len() > 0 {
					b.WriteByte(',')
				}
				b.WriteString(name)
			}
		}
		return b.String(), nil
	case kBytes:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, c.bad(v, fmt.Sprintf("binary column decoded as %T", v))
		}
		if c.size > len(b) {
			p := make([]byte, c.size) // BINARY(n) pads with zero bytes
			copy(p, b)
			b = p
		}
		return c.bytesValue(b, m), nil
	case kGeometry:
		b, ok := v.([]byte)
		if !ok {
			return nil, c.bad(v, fmt.Sprintf("geometry decoded as %T", v))
		}
		return c.geometryValue(b, m)
	case kString, kJSON:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, c.bad(v, fmt.Sprintf("text column decoded as %T", v))
		}
		s, err := c.decode(s)
		if err != nil {
			return nil, c.bad(v, err.Error())
		}
		if c.fixed {
			s = strings.TrimRight(s, " ")
		}
		return s, nil
	}
	return nil, c.bad(v, "unsupported type")
}

// decode turns text in the column's charset into UTF-8.
func (c *column) decode(s string) (string, error) {
	switch c.charset {
	case "", "utf8mb4", "utf8mb3", "utf8", "ascii", "binary":
		return s, nil
	case "latin1":
		// MariaDB's and MySQL's latin1 is Windows-1252.
		return charmap.Windows1252.NewDecoder().String(s)
	}
	return "", fmt.Errorf("character set %s is not supported yet (utf8mb4, utf8mb3, ascii and latin1 are)", c.charset)
}

// fromText converts a value as the server sends it in a text result
// (the snapshot's SELECT, session time_zone +00:00, character set
// utf8mb4, FLOAT columns cast to DOUBLE) into the column's Connect value.
func (c *column) fromText(b []byte, m Modes) (any, error) {
	if b == nil {
		return nil, nil
	}
	// s views b without copying for the kinds whose parsers keep nothing
	// of their input (numbers, dates and times; c.bad copies it): one
	// allocation less per value. The kinds that return text copy it.
	var s string
	switch c.kind {
	case kInt, kFloat, kDouble, kDate, kTime, kDatetime, kTimestamp, kYear:
		s = bstr(b)
	default:
		s = string(b)
	}
	switch c.kind {
	case kInt:
		if c.unsigned {
			u, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, c.bad(s, err.Error())
			}
			return c.intValue(int64(u), u, m), nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, c.bad(s, err.Error())
		}
		return c.intValue(n, uint64(n), m), nil
	case kDecimal:
		return c.decimalValue(s, m)
	case kFloat, kDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, c.bad(s, err.Error())
		}
		if c.kind == kFloat {
			f = float64(float32(f))
		}
		return f, nil
	case kBit:
		var n uint64
		for _, x := range b {
			n = n<<8 | uint64(x)
		}
		return c.bitValue(n), nil
	case kDate:
		return c.dateValue(s, m)
	case kTime:
		return c.timeValue(s, m)
	case kDatetime, kTimestamp:
		return c.datetimeText(s, m)
	case kYear:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, c.bad(s, err.Error())
		}
		return int32(n), nil
	case kEnum, kSet:
		return s, nil
	case kBytes:
		out := make([]byte, max(len(b), c.size))
		copy(out, b)
		return c.bytesValue(out, m), nil
	case kString, kJSON, kUUID, kInet4, kInet6:
		return s, nil
	case kGeometry:
		return c.geometryValue(b, m)
	}
	return nil, c.bad(s, "unsupported type")
}

// kindName names a UUID, INET4 or INET6 column's type.
func (c *column) kindName() string {
	switch c.kind {
	case kUUID:
		return "UUID"
	case kInet4:
		return "INET4"
	}
	return "INET6"
}

// addressText formats the binlog bytes of a UUID, INET4 or INET6 value,
// whose trailing zero bytes the server leaves out, as the server prints
// the value.
func (c *column) addressText(b []byte) (any, error) {
	size := 16
	if c.kind == kInet4 {
		size = 4
	}
	if len(b) > size {
		return nil, c.bad(b, fmt.Sprintf("%d bytes for a %s", len(b), c.kindName()))
	}
	var full [16]byte
	copy(full[:], b)
	switch c.kind {
	case kUUID:
		h := hex.EncodeToString(full[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
	case kInet4:
		return netip.AddrFrom4([4]byte(full[:4])).String(), nil
	}
	return netip.AddrFrom16(full).String(), nil
}

func (c *column) intValue(s int64, u uint64, m Modes) any {
	switch {
	case c.size == 1 && c.unsigned:
		return int16(uint8(u))
	case c.size == 1:
		return int16(s)
	case c.size == 2 && c.unsigned:
		return int32(uint16(u))
	case c.size == 2:
		return int16(s)
	case c.size == 3 && c.unsigned:
		return int32(u & 0xFFFFFF)
	case c.size == 3:
		return int32(s)
	case c.size == 4 && c.unsigned:
		return int64(uint32(u))
	case c.size == 4:
		return int32(s)
	case c.unsigned && m.Bigint == BigintPrecise:
		return connectors.Decimal{Unscaled: new(big.Int).SetUint64(u)}
	case c.unsigned:
		return int64(u)
	default:
		return s
	}
}

func (c *column) decimalValue(s string, m Modes) (any, error) {
	switch m.Decimal {
	case cdc.DecimalString:
		return s, nil
	case cdc.DecimalDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, c.bad(s, err.Error())
		}
		return f, nil
	}
	if n, ok := decimal64(s, c.scale); ok {
		return connectors.Decimal{Unscaled: new(big.Int).SetInt64(n), Scale: int32(c.scale)}, nil
	}
	d, err := connectors.ParseDecimal(s)
	if err != nil {
		return nil, c.bad(s, err.Error())
	}
	// Keep the column's scale whatever the text shows.
	for d.Scale < int32(c.scale) {
		d.Unscaled.Mul(d.Unscaled, big.NewInt(10))
		d.Scale++
	}
	return d, nil
}

// bitValue returns BIT(1) as a boolean and BIT(n) as the little-endian
// bytes of its number, (n+7)/8 of them, as Debezium.
func (c *column) bitValue(n uint64) any {
	if c.size == 1 {
		return n&1 != 0
	}
	out := make([]byte, (c.size+7)/8)
	for i := range out {
		out[i] = byte(n >> (8 * i))
	}
	return out
}

func (c *column) bytesValue(b []byte, m Modes) any {
	switch m.Binary {
	case cdc.BinaryBase64:
		return base64.StdEncoding.EncodeToString(b)
	case cdc.BinaryBase64URLSafe:
		return base64.URLEncoding.EncodeToString(b)
	case cdc.BinaryHex:
		return hex.EncodeToString(b)
	}
	return b
}

// parseDate reads "YYYY-MM-DD"; ok is false for a zero or partly zero
// date.
func parseDate(s string) (y, mo, d int, ok bool, err error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false, fmt.Errorf("not a date")
	}
	if y, err = strconv.Atoi(s[:4]); err == nil {
		if mo, err = strconv.Atoi(s[5:7]); err == nil {
			d, err = strconv.Atoi(s[8:])
		}
	}
	return y, mo, d, err == nil && mo != 0 && d != 0, err
}

func (c *column) dateValue(s string, m Modes) (any, error) {
	y, mo, d, ok, err := parseDate(s)
	if err != nil {
		return nil, c.bad(s, err.Error())
	}
	if !ok {
		return c.zero(m), nil
	}
	// Whole days from the Unix seconds of midnight: not t.Sub, whose
	// Duration saturates 292 years away from 1970 (DATE '1000-01-01'
	// came out as 1677-09-21).
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	return int32(t.Unix() / 86400), nil
}

// bstr views b as a string without copying, for parsers that do not
// retain their argument.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parseMicros reads "[-]H+:MM:SS[.ffffff]" (MySQL's TIME range, up to
// 838 hours; each of the three fields one to three digits, the fraction
// up to six) into microseconds. It allocates nothing: the snapshot calls
// it for every DATETIME, TIMESTAMP and TIME value.
func parseMicros(s string) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var v [3]int64
	i := 0
	for f := range v {
		if f > 0 {
			if i >= len(s) || s[i] != ':' {
				return 0, errNotTime
			}
			i++
		}
		n := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			v[f] = v[f]*10 + int64(s[i]-'0')
			n++
		}
		if n == 0 || n > 3 {
			return 0, errNotTime
		}
	}
	if i < len(s) && s[i] != '.' {
		return 0, errNotTime
	}
	if v[0] > 838 || v[1] > 59 || v[2] > 59 {
		return 0, errTimeRange
	}
	us := (v[0]*3600 + v[1]*60 + v[2]) * 1e6
	if i < len(s) {
		frac := s[i+1:]
		if len(frac) > 6 {
			return 0, errNotFraction
		}
		var f int64
		for j := 0; j < 6; j++ {
			f *= 10
			if j < len(frac) {
				if frac[j] < '0' || frac[j] > '9' {
					return 0, errNotFraction
				}
				f += int64(frac[j] - '0')
			}
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, nil
}

var (
	errNotTime     = errors.New("not a time")
	errTimeRange   = errors.New("time out of range")
	errNotFraction = errors.New("not a fraction of a second")
)

func (c *column) timeValue(s string, m Modes) (any, error) {
	us, err := parseMicros(s)
	if err != nil {
		return nil, c.bad(s, err.Error())
	}
	if m.Time == cdc.TimeAdaptive && c.fsp <= 3 {
		return int32(us / 1000), nil
	}
	return us, nil
}

// datetimeText reads "YYYY-MM-DD HH:MM:SS[.ffffff]" as UTC (DATETIME's
// wall clock, or a TIMESTAMP read with time_zone +00:00).
func (c *column) datetimeText(s string, m Modes) (any, error) {
	if len(s) < 19 || s[10] != ' ' {
		return nil, c.bad(s, "not a datetime")
	}
	y, mo, d, ok, err := parseDate(s[:10])
	if err != nil {
		return nil, c.bad(s, err.Error())
	}
	if !ok {
		return c.zero(m), nil
	}
	us, err := parseMicros(s[11:])
	if err != nil {
		return nil, c.bad(s, err.Error())
	}
	t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Add(time.Duration(us) * time.Microsecond)
	return c.instantValue(t, m), nil
}

// instantValue converts a DATETIME (wall clock as UTC) or a TIMESTAMP
// (an instant).
func (c *column) instantValue(t time.Time, m Modes) any {
	if c.kind == kTimestamp {
		return zonedTimestamp(t, c.fsp)
	}
	us := t.Unix()*1e6 + int64(t.Nanosecond()/1000)
	if c.fsp <= 3 {
		return floorDiv(us, 1000)
	}
	return us
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// zonedTimestamp formats t in UTC as ISO-8601 with fsp fractional
// digits, as Debezium's ZonedTimestamp for MySQL.
func zonedTimestamp(t time.Time, fsp int) string {
	t = t.UTC()
	b := t.AppendFormat(make([]byte, 0, 32), "2006-01-02T15:04:05")
	if fsp > 0 {
		frac := fmt.Sprintf("%09d", t.Nanosecond())
		b = append(b, '.')
		b = append(b, frac[:fsp]...)
	}
	return string(append(b, 'Z'))
}
