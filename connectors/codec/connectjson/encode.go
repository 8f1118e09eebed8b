package connectjson

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// kind is a schema's type with its logical type folded in, so that the
// encoder dispatches on a small integer rather than on type-name strings.
type kind uint8

const (
	kInvalid kind = iota
	kInt8
	kInt16
	kInt32
	kInt64
	kFloat32
	kFloat64
	kBoolean
	kString
	kBytes
	kDate
	kTime
	kTimestamp
	kDecimal
	kArray
	kMap
	kStruct
)

// plan is a schema prepared for encoding: its kind, a Decimal's scale, a
// struct's field names already escaped as `,"name":`. Plans are built once
// per top-level schema and cached with it.
type plan struct {
	s      *connectors.Schema
	kind   kind
	bad    string // why the schema cannot encode a non-null value
	scale  int32
	keys   [][]byte
	fields []*plan
	items  *plan // array items, map values
	mkeys  *plan // map keys
	memo   *structMemo
	// shared and sharedJSON: the last value a lazy struct handed over as
	// shared (connectors.FieldWriter.Shared) and its JSON.
	shared     *connectors.StructValue
	sharedJSON []byte
	// rest, restFrom and restJSON: the last struct a lazy struct of this
	// plan handed over as its rest (connectors.FieldWriter.Rest), the field
	// it started at and the JSON of its members from there on.
	rest     *connectors.StructValue
	restFrom int
	restJSON []byte
	// rowLayout and rowOps: the last TextRow layout written under this
	// plan and its fields' program (appendRow).
	rowLayout *connectors.RowLayout
	rowOps    []rowOp
	// env: what surrounds the row of the last RowEnvelope written under
	// this plan (appendEnvelope).
	env *envParts
}

// structMemo remembers the JSON of the last struct a plan encoded, for
// structs that repeat value for value in consecutive records (the source
// block of snapshot rows read in the same millisecond). A hit is decided
// by comparing the values, never by pointer, so a struct changed in place
// is still encoded afresh. Only structs whose values are all scalars
// (compared exactly with ==) are remembered. It switches itself off for
// a while when few structs repeat, so that unique rows pay almost nothing.
type structMemo struct {
	vals       []any
	json       []byte
	valid      bool
	tries, hit int
	skip       int // structs to encode without trying the memo
	hits       int // over its life
}

const (
	memoWindow = 1024      // structs per hit-rate check
	memoPause  = 16 * 1024 // structs skipped after a window of few hits
)

// scalars reports whether every value compares exactly with ==: not
// floats, where -0 == 0 though they encode differently.
func scalars(vals []any) bool {
	for _, v := range vals {
		switch v.(type) {
		case nil, string, bool, int8, int16, int32, int64:
		default:
			return false
		}
	}
	return true
}

// lookup returns the remembered JSON when vals equal the remembered ones.
func (m *structMemo) lookup(vals []any) ([]byte, bool) {
	if m.skip > 0 {
		m.skip--
		return nil, false
	}
	m.tries++
	if m.tries == memoWindow {
		if m.hit < memoWindow/4 {
			m.skip, m.valid = memoPause, false
		}
		m.tries, m.hit = 0, 0
	}
	if !m.valid || len(vals) != len(m.vals) {
		return nil, false
	}
	for i, v := range vals {
		if v != m.vals[i] {
			return nil, false
		}
	}
	m.hit++
	m.hits++
	return m.json, true
}

// store remembers the JSON of vals, unless the memo is paused or a value
// is not a scalar.
func (m *structMemo) store(vals []any, json []byte) {
	if m.skip > 0 || !scalars(vals) {
		m.valid = false
		return
	}
	m.vals = append(m.vals[:0], vals...)
	m.json = append(m.json[:0], json...)
	m.valid = true
}

// compile builds the plan of s; memo shares the plans of schemas that
// appear more than once (the before and after of an envelope).
func compile(s *connectors.Schema, memo map[*connectors.Schema]*plan) *plan {
	if p, ok := memo[s]; ok {
		return p
	}
	p := &plan{s: s}
	memo[s] = p
	switch s.Type {
	case connectors.Int8:
		p.kind = kInt8
	case connectors.Int16:
		p.kind = kInt16
	case connectors.Int32:
		p.kind = kInt32
		switch s.Name {
		case connectors.DateName:
			p.kind = kDate
		case connectors.TimeName:
			p.kind = kTime
		}
	case connectors.Int64:
		p.kind = kInt64
		if s.Name == connectors.TimestampName {
			p.kind = kTimestamp
		}
	case connectors.Float32:
		p.kind = kFloat32
	case connectors.Float64:
		p.kind = kFloat64
	case connectors.Boolean:
		p.kind = kBoolean
	case connectors.String:
		p.kind = kString
	case connectors.Bytes:
		p.kind = kBytes
		if s.Name == connectors.DecimalName {
			p.kind = kDecimal
			scale, err := decimalScale(s)
			if err != nil {
				p.bad = err.Error()
			}
			p.scale = scale
		}
	case connectors.Array:
		p.kind = kArray
		if s.Items == nil {
			p.bad = "array schema has no Items schema"
			break
		}
		p.items = compile(s.Items, memo)
	case connectors.Map:
		p.kind = kMap
		if s.Keys == nil || s.Values == nil {
			p.bad = "map schema needs Keys and Values schemas"
			break
		}
		p.mkeys, p.items = compile(s.Keys, memo), compile(s.Values, memo)
	case connectors.Struct:
		p.kind = kStruct
		p.memo = &structMemo{}
		p.keys = make([][]byte, len(s.Fields))
		p.fields = make([]*plan, len(s.Fields))
		for i, f := range s.Fields {
			p.keys[i] = MemberKey(f.Name, i == 0)
			if f.Schema == nil {
				p.bad = "field " + f.Name + " has no schema"
				continue
			}
			p.fields[i] = compile(f.Schema, memo)
		}
	default:
		p.bad = fmt.Sprintf("unsupported schema type %q", s.Type)
	}
	return p
}

// appendValue appends the JSON of v under the plan p. It writes without
// reflection and allocates only for decimals beyond int64. A nil []byte,
// []any or []connectors.MapEntry is null, as encoding/json treats nil
// slices; an empty one is an empty value.
func (c *Codec) appendValue(dst []byte, p *plan, v any) ([]byte, error) {
	s := p.s
	if v == nil {
		switch {
		case s.Default != nil && c.replaceNull:
			v = s.Default
		case s.Optional:
			return append(dst, "null"...), nil
		default:
			return dst, codec.Errorf("null value for a required %s field without a default", s.Type)
		}
	}
	if p.bad != "" {
		return dst, &codec.DataError{Reason: p.bad}
	}
	switch p.kind {
	case kInt8:
		x, ok := v.(int8)
		if !ok {
			return dst, codec.TypeError(s, v, "int8")
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case kInt16:
		x, ok := v.(int16)
		if !ok {
			return dst, codec.TypeError(s, v, "int16")
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case kInt32:
		x, ok := v.(int32)
		if !ok {
			return dst, codec.TypeError(s, v, "int32")
		}
		return strconv.AppendInt(dst, int64(x), 10), nil
	case kInt64:
		x, ok := v.(int64)
		if !ok {
			return dst, codec.TypeError(s, v, "int64")
		}
		return strconv.AppendInt(dst, x, 10), nil
	case kDate:
		return appendDate(dst, s, v)
	case kTime:
		return appendTime(dst, s, v)
	case kTimestamp:
		t, ok := v.(time.Time)
		if !ok {
			return dst, codec.TypeError(s, v, "time.Time")
		}
		return strconv.AppendInt(dst, t.UnixMilli(), 10), nil
	case kFloat32:
		x, ok := v.(float32)
		if !ok {
			return dst, codec.TypeError(s, v, "float32")
		}
		return appendJavaFloat(dst, float64(x), 32), nil
	case kFloat64:
		x, ok := v.(float64)
		if !ok {
			return dst, codec.TypeError(s, v, "float64")
		}
		return appendJavaFloat(dst, x, 64), nil
	case kBoolean:
		x, ok := v.(bool)
		if !ok {
			return dst, codec.TypeError(s, v, "bool")
		}
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case kString:
		x, ok := v.(string)
		if !ok {
			return dst, codec.TypeError(s, v, "string")
		}
		return c.appendStr(dst, x)
	case kBytes:
		x, ok := v.([]byte)
		if !ok {
			return dst, codec.TypeError(s, v, "[]byte")
		}
		if x == nil { // a nil slice is null, as in encoding/json
			return c.appendValue(dst, p, nil)
		}
		return appendBase64(dst, x), nil
	case kDecimal:
		return c.appendDecimal(dst, p, v)
	case kArray:
		x, ok := v.([]any)
		if !ok {
			return dst, codec.TypeError(s, v, "[]any")
		}
		if x == nil {
			return c.appendValue(dst, p, nil)
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = c.appendValue(dst, p.items, e); err != nil {
				return dst, codec.InIndex(err, i)
			}
		}
		return append(dst, ']'), nil
	case kMap:
		return c.appendMap(dst, p, v)
	case kStruct:
		x, ok := v.(*connectors.StructValue)
		if !ok {
			if l, ok := v.(connectors.LazyStruct); ok {
				return c.appendLazy(dst, p, l)
			}
			return dst, codec.TypeError(s, v, "*connectors.StructValue")
		}
		if x == nil {
			return c.appendValue(dst, p, nil)
		}
		if x.Schema != s && !codec.SchemaEqual(x.Schema, s) {
			return dst, codec.Errorf("struct value's schema %q differs from the field's schema %q", schemaLabel(x.Schema), schemaLabel(s))
		}
		if len(x.Values) != len(p.fields) {
			return dst, codec.Errorf("struct value has %d values for %d fields", len(x.Values), len(p.fields))
		}
		if p.memo != nil {
			if b, ok := p.memo.lookup(x.Values); ok {
				return append(dst, b...), nil
			}
		}
		start := len(dst)
		dst = append(dst, '{')
		for i, fp := range p.fields {
			dst = append(dst, p.keys[i]...)
			var err error
			if dst, err = c.appendValue(dst, fp, x.Values[i]); err != nil {
				return dst, codec.InField(err, s.Fields[i].Name)
			}
		}
		dst = append(dst, '}')
		if p.memo != nil {
			p.memo.store(x.Values, dst[start:])
		}
		return dst, nil
	}
	return dst, codec.Errorf("unsupported schema type %q", s.Type)
}

func schemaLabel(s *connectors.Schema) string {
	if s == nil {
		return "<nil>"
	}
	if s.Name != "" {
		return s.Name
	}
	return string(s.Type)
}

func (c *Codec) appendMap(dst []byte, p *plan, v any) ([]byte, error) {
	s := p.s
	x, ok := v.([]connectors.MapEntry)
	if !ok {
		return dst, codec.TypeError(s, v, "[]connectors.MapEntry")
	}
	if x == nil {
		return c.appendValue(dst, p, nil)
	}
	var err error
	if p.mkeys.kind == kString {
		// String keys: a JSON object, as Connect writes it.
		dst = append(dst, '{')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			k := e.Key
			if k == nil && s.Keys.Default != nil && c.replaceNull {
				k = s.Keys.Default
			}
			ks, ok := k.(string)
			if !ok {
				return dst, codec.InKey(codec.TypeError(s.Keys, k, "string"), k)
			}
			if dst, err = c.appendStr(dst, ks); err != nil {
				return dst, codec.InKey(err, ks)
			}
			dst = append(dst, ':')
			if dst, err = c.appendValue(dst, p.items, e.Value); err != nil {
				return dst, codec.InKey(err, ks)
			}
		}
		return append(dst, '}'), nil
	}
	// Other keys: an array of [key, value] pairs.
	dst = append(dst, '[')
	for i, e := range x {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		if dst, err = c.appendValue(dst, p.mkeys, e.Key); err != nil {
			return dst, codec.InKey(err, e.Key)
		}
		dst = append(dst, ',')
		if dst, err = c.appendValue(dst, p.items, e.Value); err != nil {
			return dst, codec.InKey(err, e.Key)
		}
		dst = append(dst, ']')
	}
	return append(dst, ']'), nil
}

// appendSchemaless writes a value without a schema, choosing the JSON form
// from the Go type as Connect does from the Java class. Decimal and
// time.Time have no schema type of their own there either.
func (c *Codec) appendSchemaless(dst []byte, v any) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float32:
		return appendJavaFloat(dst, float64(x), 32), nil
	case float64:
		return appendJavaFloat(dst, x, 64), nil
	case bool:
		if x {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return c.appendStr(dst, x)
	case []byte:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendBase64(dst, x), nil
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.appendSchemaless(dst, e); err != nil {
				return dst, codec.InIndex(err, i)
			}
		}
		return append(dst, ']'), nil
	case []connectors.MapEntry:
		if x == nil {
			return append(dst, "null"...), nil
		}
		objectMode := true
		for _, e := range x {
			if _, ok := e.Key.(string); !ok {
				objectMode = false
				break
			}
		}
		if objectMode {
			dst = append(dst, '{')
			for i, e := range x {
				if i > 0 {
					dst = append(dst, ',')
				}
				if dst, err = c.appendStr(dst, e.Key.(string)); err != nil {
					return dst, codec.InKey(err, e.Key)
				}
				dst = append(dst, ':')
				if dst, err = c.appendSchemaless(dst, e.Value); err != nil {
					return dst, codec.InKey(err, e.Key)
				}
			}
			return append(dst, '}'), nil
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			if dst, err = c.appendSchemaless(dst, e.Key); err != nil {
				return dst, codec.InKey(err, e.Key)
			}
			dst = append(dst, ',')
			if dst, err = c.appendSchemaless(dst, e.Value); err != nil {
				return dst, codec.InKey(err, e.Key)
			}
			dst = append(dst, ']')
		}
		return append(dst, ']'), nil
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = c.appendStr(dst, k); err != nil {
				return dst, codec.InKey(err, k)
			}
			dst = append(dst, ':')
			if dst, err = c.appendSchemaless(dst, x[k]); err != nil {
				return dst, codec.InKey(err, k)
			}
		}
		return append(dst, '}'), nil
	case *connectors.StructValue:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if x.Schema == nil {
			return dst, codec.Errorf("struct value has no schema")
		}
		return c.appendValue(dst, c.entry(x.Schema).plan, x)
	}
	return dst, codec.Errorf("Go value of type %T has no Kafka Connect schema type; give it a schema", v)
}

// appendDate writes a Date: days since the epoch. Like Connect, it rejects
// a time of day other than midnight UTC.
func appendDate(dst []byte, s *connectors.Schema, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return dst, codec.TypeError(s, v, "time.Time")
	}
	sec := t.Unix()
	days := floorDiv(sec, 86400)
	if sec-days*86400 != 0 || t.Nanosecond() != 0 {
		return dst, codec.Errorf("Date value %s has a time of day; a Kafka Connect Date is midnight UTC", t.UTC().Format(time.RFC3339Nano))
	}
	if days < math.MinInt32 || days > math.MaxInt32 {
		return dst, codec.Errorf("Date value %s is out of range", t.UTC().Format(time.RFC3339))
	}
	return strconv.AppendInt(dst, days, 10), nil
}

// appendTime writes a Time: milliseconds since midnight UTC. Go has no
// time-of-day type, so the date part of the time.Time is ignored (Connect
// insists on 1970-01-01); Decode returns times on 1970-01-01 UTC.
func appendTime(dst []byte, s *connectors.Schema, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return dst, codec.TypeError(s, v, "time.Time")
	}
	ms := t.UnixMilli()
	if ms < 0 || ms > msPerDay {
		ms -= floorDiv(ms, msPerDay) * msPerDay
	}
	// 1970-01-02T00:00 stays 86400000: PostgreSQL's 24:00:00, as Debezium
	// writes it.
	return strconv.AppendInt(dst, ms, 10), nil
}

const msPerDay = 86400000

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// maxDecimalScale bounds a Decimal schema's scale (and rescaling), so that
// hostile input cannot make the converter build enormous numbers.
const maxDecimalScale = 10000

// decimalScale reads the scale parameter of a Decimal schema.
func decimalScale(s *connectors.Schema) (int32, error) {
	p, ok := s.Parameters[connectors.DecimalScaleParam]
	if !ok {
		return 0, codec.Errorf("Decimal schema has no %q parameter", connectors.DecimalScaleParam)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil || n > maxDecimalScale || n < -maxDecimalScale {
		return 0, codec.Errorf("Decimal schema has an invalid %q parameter %q; want an integer between %d and %d",
			connectors.DecimalScaleParam, p, -maxDecimalScale, maxDecimalScale)
	}
	return int32(n), nil
}

func (c *Codec) appendDecimal(dst []byte, p *plan, v any) ([]byte, error) {
	d, ok := v.(connectors.Decimal)
	if !ok {
		return dst, codec.TypeError(p.s, v, "connectors.Decimal")
	}
	u := d.Unscaled
	if d.Scale != p.scale {
		var err error
		if u, err = rescale(u, d.Scale, p.scale); err != nil {
			return dst, err
		}
	}
	if c.numeric {
		return appendDecimalNumber(dst, u, p.scale), nil
	}
	return appendTwosComplementBase64(dst, u), nil
}

// rescale returns u×10^(to-from) when that is exact (to ≥ from, or the
// dropped digits are zeros).
func rescale(u *big.Int, from, to int32) (*big.Int, error) {
	if u == nil || u.Sign() == 0 {
		return u, nil
	}
	diff := int64(to) - int64(from)
	if diff > 2*maxDecimalScale || diff < -2*maxDecimalScale {
		return nil, codec.Errorf("decimal with scale %d cannot be written with the schema's scale %d", from, to)
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(abs(diff)), nil)
	if diff > 0 {
		return p.Mul(p, u), nil
	}
	q, r := new(big.Int).QuoRem(u, p, new(big.Int))
	if r.Sign() != 0 {
		return nil, codec.Errorf("decimal %s has more digits after the point than the schema's scale %d allows",
			connectors.Decimal{Unscaled: u, Scale: from}, to)
	}
	return q, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// appendDecimalNumber writes unscaled×10^-scale in plain notation. Values
// that fit an int64 are formatted without allocating.
func appendDecimalNumber(dst []byte, u *big.Int, scale int32) []byte {
	if u == nil || u.IsInt64() && scale >= 0 && scale <= 18 {
		var x int64
		if u != nil {
			x = u.Int64()
		}
		return appendScaledInt(dst, x, int(scale))
	}
	return append(dst, connectors.Decimal{Unscaled: u, Scale: scale}.String()...)
}

func appendScaledInt(dst []byte, x int64, scale int) []byte {
	var buf [24]byte
	neg := x < 0
	ux := uint64(x)
	if neg {
		ux = -ux
		dst = append(dst, '-')
	}
	digits := strconv.AppendUint(buf[:0], ux, 10)
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for i := len(digits); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	p := len(digits) - scale
	dst = append(dst, digits[:p]...)
	dst = append(dst, '.')
	return append(dst, digits[p:]...)
}

// appendTwosComplementBase64 writes the base64 of the minimal big-endian
// two's-complement bytes of u, as Java's BigInteger.toByteArray gives them.
func appendTwosComplementBase64(dst []byte, u *big.Int) []byte {
	var buf [8]byte
	var raw []byte
	if u == nil || u.IsInt64() {
		var x int64
		if u != nil {
			x = u.Int64()
		}
		n := 8
		for n > 1 {
			top, next := byte(x>>(8*(n-1))), byte(x>>(8*(n-2)))
			if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
				n--
				continue
			}
			break
		}
		for i := 0; i < n; i++ {
			buf[i] = byte(x >> (8 * (n - 1 - i)))
		}
		raw = buf[:n]
	} else {
		raw = twosComplement(u)
	}
	return appendBase64(dst, raw)
}

func twosComplement(u *big.Int) []byte {
	if u.Sign() >= 0 {
		b := u.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -u-1 is non-negative; its bytes inverted are u's two's complement.
	m := new(big.Int).Neg(u)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendJavaFloat formats f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) do, which is what Jackson writes: the shortest
// digits that read back as f, in plain notation with at least one digit
// after the point for 1e-3 ≤ |f| < 1e7, and as d.dddE±n otherwise.
// NaN and infinities become the strings Jackson writes for them.
func appendJavaFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		dst = append(dst, '"')
		dst = AppendJavaNumber(dst, f, bits)
		return append(dst, '"')
	}
	return AppendJavaNumber(dst, f, bits)
}

// AppendJavaNumber appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) write it, including "NaN", "Infinity" and
// "-Infinity" (unquoted). The StringConverter writes numbers with it, so
// that both converters spell a float the same way.
func AppendJavaNumber(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // -d.ddde±dd
	if e[0] == '-' {
		dst = append(dst, '-')
		e = e[1:]
	}
	// Split into digits and a decimal exponent: value = 0.d1d2... × 10^(exp+1).
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits[nd] = e[i]
			nd++
		}
	}
	exp := 0
	neg := e[i+1] == '-'
	for _, ch := range e[i+2:] {
		exp = exp*10 + int(ch-'0')
	}
	if neg {
		exp = -exp
	}
	d := digits[:nd]
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		if exp >= 0 {
			if nd <= exp+1 {
				dst = append(dst, d...)
				for j := nd; j <= exp; j++ {
					dst = append(dst, '0')
				}
				return append(dst, '.', '0')
			}
			dst = append(dst, d[:exp+1]...)
			dst = append(dst, '.')
			return append(dst, d[exp+1:]...)
		}
		dst = append(dst, '0', '.')
		for j := -1; j > exp; j-- {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[0], '.')
	if nd > 1 {
		dst = append(dst, d[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
