package connectjson

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// parser is a strict JSON (RFC 8259) reader that decodes straight into
// Connect values, guided by a schema when there is one. It never keeps a
// reference to data in what it returns.
type parser struct {
	data    []byte
	pos     int
	depth   int
	c       *Codec
	scratch []byte
}

// decodeStacks are reused between records: objects and arrays collect
// their elements here and are copied out once at their exact size.
type decodeStacks struct {
	entries  []connectors.MapEntry
	items    []any
	interned map[string]string // object keys seen before, to share their strings
}

// maxInterned bounds the object keys a converter remembers.
const maxInterned = 1024

func (st *decodeStacks) intern(b []byte) string {
	if s, ok := st.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(b) <= 64 && len(st.interned) < maxInterned {
		if st.interned == nil {
			st.interned = make(map[string]string)
		}
		st.interned[s] = s
	}
	return s
}

// trim drops oversized stacks after a record, so that one huge record
// does not pin memory.
func (st *decodeStacks) trim() {
	if cap(st.entries) > 4096 {
		st.entries = nil
	}
	if cap(st.items) > 4096 {
		st.items = nil
	}
}

// maxDepth bounds nesting, as Jackson's StreamReadConstraints do.
const maxDepth = 1000

// SyntaxError is malformed JSON; Offset is the byte offset of the problem.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

func (p *parser) syntaxErr(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, 0 at the end.
func (p *parser) peek() byte {
	p.ws()
	if p.pos >= len(p.data) {
		return 0
	}
	return p.data[p.pos]
}

func (p *parser) unexpected(want string) error {
	if p.pos >= len(p.data) {
		return p.syntaxErr("unexpected end of data, want %s", want)
	}
	return p.syntaxErr("unexpected %q, want %s", p.data[p.pos], want)
}

func (p *parser) expect(b byte) error {
	if p.peek() != b {
		return p.unexpected(strconv.QuoteRune(rune(b)))
	}
	p.pos++
	return nil
}

func (p *parser) literal(word string) bool {
	if len(p.data)-p.pos >= len(word) && string(p.data[p.pos:p.pos+len(word)]) == word {
		p.pos += len(word)
		return true
	}
	return false
}

// end checks that only whitespace is left.
func (p *parser) end() error {
	if p.peek() != 0 {
		return p.syntaxErr("unexpected %q after the JSON value", p.data[p.pos])
	}
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.syntaxErr("nesting deeper than %d", maxDepth)
	}
	return nil
}

// top decodes a whole record.
func (p *parser) top() (*connectors.Schema, any, error) {
	if !p.c.schemas {
		v, err := p.value(nil)
		if err != nil {
			return nil, nil, err
		}
		return nil, v, p.end()
	}
	if p.peek() != '{' {
		if err := p.skip(); err != nil {
			return nil, nil, err
		}
		if err := p.end(); err != nil {
			return nil, nil, err
		}
		return nil, nil, &codec.DataError{Reason: envelopeError}
	}
	p.pos++
	var (
		schema             *connectors.Schema
		haveSchema, extra  bool
		havePayload, ready bool // ready: payload decoded against schema already
		payload            any
		payloadAt          int
	)
	if p.peek() == '}' {
		p.pos++
	} else {
		for {
			key, err := p.stringBytes()
			if err != nil {
				return nil, nil, err
			}
			if err := p.expect(':'); err != nil {
				return nil, nil, err
			}
			p.ws()
			switch string(key) {
			case "schema":
				start := p.pos
				if last := p.c.lastSchema; last != nil && bytes.HasPrefix(p.data[start:], last.text) {
					// The schema of the previous record: a JSON object
					// ends where its text ends, so no need to scan it.
					p.pos += len(last.text)
					schema = last.schema
				} else {
					if err := p.skip(); err != nil {
						return nil, nil, err
					}
					if schema, err = p.c.schemaFromJSON(p.data[start:p.pos]); err != nil {
						return nil, nil, fmt.Errorf("reading the schema: %w", err)
					}
				}
				haveSchema = true
				ready = false
			case "payload":
				havePayload = true
				payloadAt = p.pos
				ready = false
				if haveSchema {
					if payload, err = p.value(schema); err != nil {
						return nil, nil, err
					}
					ready = true
				} else if err := p.skip(); err != nil {
					return nil, nil, err
				}
			default:
				extra = true
				if err := p.skip(); err != nil {
					return nil, nil, err
				}
			}
			if p.peek() == ',' {
				p.pos++
				continue
			}
			if err := p.expect('}'); err != nil {
				return nil, nil, err
			}
			break
		}
	}
	if err := p.end(); err != nil {
		return nil, nil, err
	}
	if extra || !haveSchema || !havePayload {
		return nil, nil, &codec.DataError{Reason: envelopeError}
	}
	if !ready {
		// The payload came before the schema: decode it now.
		sub := parser{data: p.data, pos: payloadAt, c: p.c, scratch: p.scratch}
		var err error
		payload, err = sub.value(schema)
		p.scratch = sub.scratch
		if err != nil {
			return nil, nil, err
		}
	}
	return schema, payload, nil
}

// value decodes one JSON value under schema s (nil: schemaless).
func (p *parser) value(s *connectors.Schema) (any, error) {
	ch := p.peek()
	if ch == 'n' {
		if !p.literal("null") {
			return nil, p.unexpected("a JSON value")
		}
		if s == nil {
			return nil, nil
		}
		switch {
		case s.Default != nil && p.c.replaceNull:
			return s.Default, nil
		case s.Optional:
			return nil, nil
		}
		return nil, codec.Errorf("null value for a required %s field without a default", s.Type)
	}
	if s == nil {
		return p.schemaless()
	}
	switch s.Type {
	case connectors.Boolean:
		switch {
		case p.literal("true"):
			return true, nil
		case p.literal("false"):
			return false, nil
		}
		return nil, p.kindErr(s, "a boolean")
	case connectors.Int8:
		n, err := p.integer(s, math.MinInt8, math.MaxInt8)
		return int8(n), err
	case connectors.Int16:
		n, err := p.integer(s, math.MinInt16, math.MaxInt16)
		return int16(n), err
	case connectors.Int32:
		n, err := p.integer(s, math.MinInt32, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		switch s.Name {
		case connectors.DateName:
			return time.Unix(n*86400, 0).UTC(), nil
		case connectors.TimeName:
			// 86400000 is 24:00:00, which PostgreSQL has and Debezium writes.
			if n < 0 || n > msPerDay {
				return nil, codec.Errorf("Time value %d is not between 0 and 86400000 milliseconds", n)
			}
			return time.UnixMilli(n).UTC(), nil
		}
		return int32(n), nil
	case connectors.Int64:
		n, err := p.integer(s, math.MinInt64, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		if s.Name == connectors.TimestampName {
			return time.UnixMilli(n).UTC(), nil
		}
		return n, nil
	case connectors.Float32:
		f, err := p.float(s, 32)
		return float32(f), err
	case connectors.Float64:
		return p.float(s, 64)
	case connectors.String:
		if ch != '"' {
			return nil, p.kindErr(s, "a string")
		}
		return p.string()
	case connectors.Bytes:
		if s.Name == connectors.DecimalName {
			return p.decimal(s)
		}
		if ch != '"' {
			return nil, p.kindErr(s, "a base64 string")
		}
		return p.base64()
	case connectors.Array:
		if ch != '[' {
			return nil, p.kindErr(s, "an array")
		}
		return p.arrayItems(func() (any, error) { return p.value(s.Items) })
	case connectors.Map:
		return p.mapValue(s)
	case connectors.Struct:
		return p.structValue(s)
	}
	return nil, codec.Errorf("unsupported schema type %q", s.Type)
}

// kindErr reports JSON of the wrong kind for a schema.
func (p *parser) kindErr(s *connectors.Schema, want string) error {
	found := "end of data"
	switch p.peek() {
	case '{':
		found = "an object"
	case '[':
		found = "an array"
	case '"':
		found = "a string"
	case 't', 'f':
		found = "a boolean"
	case 0:
	default:
		found = "a number"
	}
	return codec.Errorf("%s schema%s wants %s, found %s", s.Type, codec.SchemaSuffix(s), want, found)
}

// array calls each for every element of a JSON array.
func (p *parser) array(each func(i int) error) error {
	if err := p.expect('['); err != nil {
		return err
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	if p.peek() == ']' {
		p.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := each(i); err != nil {
			return err
		}
		if p.peek() == ',' {
			p.pos++
			continue
		}
		return p.expect(']')
	}
}

// object calls each with every key of a JSON object, positioned at its
// value. key is only valid during the call.
func (p *parser) object(each func(key []byte) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		key, err := p.stringBytes()
		if err != nil {
			return err
		}
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := each(key); err != nil {
			return err
		}
		if p.peek() == ',' {
			p.pos++
			continue
		}
		return p.expect('}')
	}
}

func (p *parser) structValue(s *connectors.Schema) (any, error) {
	if p.peek() != '{' {
		return nil, p.kindErr(s, "an object")
	}
	sv := &connectors.StructValue{Schema: s, Values: make([]any, len(s.Fields))}
	var seenSmall [4]uint64
	seen := seenSmall[:]
	if n := (len(s.Fields) + 63) / 64; n > len(seen) {
		seen = make([]uint64, n)
	}
	next := 0
	err := p.object(func(key []byte) error {
		// Fields usually come in schema order: try the next one first.
		idx := -1
		if next < len(s.Fields) && s.Fields[next].Name == string(key) {
			idx = next
		} else {
			for i := range s.Fields {
				if s.Fields[i].Name == string(key) {
					idx = i
					break
				}
			}
		}
		if idx < 0 {
			return p.skip() // Connect ignores fields its schema lacks
		}
		next = idx + 1
		v, err := p.value(s.Fields[idx].Schema)
		if err != nil {
			return codec.InField(err, s.Fields[idx].Name)
		}
		sv.Values[idx] = v
		seen[idx/64] |= 1 << (idx % 64)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range s.Fields {
		if seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		fs := s.Fields[i].Schema
		switch {
		case fs.Default != nil && p.c.replaceNull:
			sv.Values[i] = fs.Default
		case fs.Optional:
		default:
			return nil, codec.InField(codec.Errorf("missing value for a required %s field without a default", fs.Type), s.Fields[i].Name)
		}
	}
	return sv, nil
}

func (p *parser) mapValue(s *connectors.Schema) (any, error) {
	if s.Keys.Type == connectors.String {
		if p.peek() != '{' {
			return nil, p.kindErr(s, "an object (maps with string keys are JSON objects)")
		}
		return p.objectEntries(func() (any, error) { return p.value(s.Values) })
	}
	if p.peek() != '[' {
		return nil, p.kindErr(s, "an array of [key, value] pairs (maps with non-string keys)")
	}
	out := []connectors.MapEntry{}
	err := p.array(func(i int) error {
		if p.peek() != '[' {
			return codec.InIndex(codec.Errorf("map entry is not a [key, value] array"), i)
		}
		var e connectors.MapEntry
		err := p.array(func(j int) error {
			switch j {
			case 0:
				k, err := p.value(s.Keys)
				e.Key = k
				return err
			case 1:
				v, err := p.value(s.Values)
				e.Value = v
				return err
			}
			return codec.Errorf("map entry has more than 2 elements")
		})
		if err != nil {
			return codec.InIndex(err, i)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// objectEntries reads a JSON object whose values val reads. A repeated
// key replaces the earlier value in place, as Jackson's ObjectNode does.
func (p *parser) objectEntries(val func() (any, error)) ([]connectors.MapEntry, error) {
	st := &p.c.stacks
	base := len(st.entries)
	var index map[string]int
	err := p.object(func(key []byte) error {
		k := st.intern(key) // key is only valid until the value is read
		v, err := val()
		if err != nil {
			return codec.InKey(err, k)
		}
		cur := st.entries[base:]
		const linear = 16
		if index == nil && len(cur) >= linear {
			index = make(map[string]int, 2*len(cur))
			for i := range cur {
				index[cur[i].Key.(string)] = i
			}
		}
		if index != nil {
			if i, ok := index[k]; ok {
				cur[i].Value = v
				return nil
			}
			index[k] = len(cur)
		} else {
			for i := range cur {
				if cur[i].Key.(string) == k {
					cur[i].Value = v
					return nil
				}
			}
		}
		st.entries = append(st.entries, connectors.MapEntry{Key: k, Value: v})
		return nil
	})
	out := make([]connectors.MapEntry, len(st.entries)-base)
	copy(out, st.entries[base:])
	clear(st.entries[base:])
	st.entries = st.entries[:base]
	return out, err
}

// arrayItems reads a JSON array whose elements val reads.
func (p *parser) arrayItems(val func() (any, error)) ([]any, error) {
	st := &p.c.stacks
	base := len(st.items)
	err := p.array(func(i int) error {
		v, err := val()
		if err != nil {
			return codec.InIndex(err, i)
		}
		st.items = append(st.items, v)
		return nil
	})
	out := make([]any, len(st.items)-base)
	copy(out, st.items[base:])
	clear(st.items[base:])
	st.items = st.items[:base]
	return out, err
}

// schemaless decodes a value without a schema, as Connect infers one.
func (p *parser) schemaless() (any, error) {
	switch p.peek() {
	case '{':
		return p.objectEntries(p.schemaless)
	case '[':
		return p.arrayItems(p.schemaless)
	case '"':
		return p.string()
	case 't':
		if p.literal("true") {
			return true, nil
		}
	case 'f':
		if p.literal("false") {
			return false, nil
		}
	case 'n':
		if p.literal("null") {
			return nil, nil
		}
	default:
		num, integral, err := p.number()
		if err != nil {
			return nil, err
		}
		if integral {
			if n, ok := parseInt(num); ok {
				return n, nil
			}
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return nil, codec.Errorf("number %s is out of the range of a double", num)
		}
		return f, nil
	}
	return nil, p.unexpected("a JSON value")
}

// number scans a JSON number and reports whether it is written as an
// integer (no fraction, no exponent).
func (p *parser) number() (num []byte, integral bool, err error) {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return nil, false, p.unexpected("a JSON value")
	}
	integral = true
	if i < len(d) && d[i] == '.' {
		integral = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, false, p.unexpected("a digit")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		integral = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			p.pos = i
			return nil, false, p.unexpected("a digit")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	p.pos = i
	return d[start:i], integral, nil
}

// parseInt parses a JSON integer that fits an int64.
func parseInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, ch := range b {
		u = u*10 + uint64(ch-'0')
	}
	if u > 1<<63 || (!neg && u == 1<<63) { // 19 digits never overflow a uint64
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// integer reads a number for an integer schema. A number written with a
// fraction or exponent is accepted when its value is a whole number.
func (p *parser) integer(s *connectors.Schema, lo, hi int64) (int64, error) {
	ch := p.peek()
	if ch != '-' && (ch < '0' || ch > '9') {
		if ch == 0 || ch == '{' || ch == '[' || ch == '"' || ch == 't' || ch == 'f' {
			return 0, p.kindErr(s, "an integer")
		}
		return 0, p.unexpected("a JSON value")
	}
	num, integral, err := p.number()
	if err != nil {
		return 0, err
	}
	var n int64
	ok := false
	if integral {
		n, ok = parseInt(num)
	} else if f, err := strconv.ParseFloat(string(num), 64); err == nil && f == math.Trunc(f) &&
		f >= -9223372036854775808 && f < 9223372036854775808 {
		n, ok = int64(f), true
	}
	if !ok || n < lo || n > hi {
		return 0, codec.Errorf("%s schema%s wants an integer between %d and %d, found %s", s.Type, codec.SchemaSuffix(s), lo, hi, num)
	}
	return n, nil
}

// float reads a number, or one of the strings "NaN", "Infinity" and
// "-Infinity" that Jackson writes for non-finite values.
func (p *parser) float(s *connectors.Schema, bits int) (float64, error) {
	switch ch := p.peek(); {
	case ch == '"':
		b, err := p.stringBytes()
		if err != nil {
			return 0, err
		}
		switch string(b) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, codec.Errorf("%s schema wants a number, found the string %q", s.Type, b)
	case ch == '-' || ch >= '0' && ch <= '9':
	case ch == 0 || ch == '{' || ch == '[' || ch == 't' || ch == 'f':
		return 0, p.kindErr(s, "a number")
	default:
		return 0, p.unexpected("a JSON value")
	}
	num, _, err := p.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(num), bits)
	if err != nil && !math.IsInf(f, 0) {
		return 0, codec.Errorf("%s schema: cannot read number %s", s.Type, num)
	}
	return f, nil // overflow reads as ±Infinity, as in Java
}

// decimal reads a Decimal written as base64 of the two's-complement
// unscaled value or as a JSON number, and returns it at the schema's scale.
func (p *parser) decimal(s *connectors.Schema) (any, error) {
	scale, err := decimalScale(s)
	if err != nil {
		return nil, err
	}
	switch ch := p.peek(); {
	case ch == '"':
		b, err := p.base64()
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, codec.Errorf("Decimal value has no bytes")
		}
		return connectors.Decimal{Unscaled: fromTwosComplement(b), Scale: scale}, nil
	case ch == '-' || ch >= '0' && ch <= '9':
		num, _, err := p.number()
		if err != nil {
			return nil, err
		}
		u, written, err := parseDecimalNumber(num)
		if err != nil {
			return nil, err
		}
		if written != int64(scale) {
			if written > int64(scale)+2*maxDecimalScale || written < int64(scale)-2*maxDecimalScale {
				return nil, codec.Errorf("Decimal value %s is out of range for scale %d", num, scale)
			}
			if u, err = rescale(u, int32(written), scale); err != nil {
				return nil, err
			}
		}
		return connectors.Decimal{Unscaled: u, Scale: scale}, nil
	}
	return nil, p.kindErr(s, "a number or a base64 string")
}

// parseDecimalNumber splits a JSON number into an unscaled integer and the
// scale it is written with ("1.50" → 150, 2; "1.5E+3" → 15, -2).
func parseDecimalNumber(num []byte) (*big.Int, int64, error) {
	digits := make([]byte, 0, len(num))
	var scale int64
	i := 0
	for ; i < len(num) && num[i] != 'e' && num[i] != 'E'; i++ {
		switch ch := num[i]; {
		case ch == '.':
			scale = int64(len(num) - i - 1) // corrected below if there is an exponent
		default:
			digits = append(digits, ch)
		}
	}
	if i < len(num) {
		frac := int64(0)
		for j := 0; j < i; j++ {
			if num[j] == '.' {
				frac = int64(i - j - 1)
			}
		}
		exp, err := strconv.ParseInt(string(num[i+1:]), 10, 32)
		if err != nil {
			return nil, 0, codec.Errorf("Decimal value %s has an exponent out of range", num)
		}
		scale = frac - exp
	}
	u, ok := new(big.Int).SetString(string(digits), 10)
	if !ok {
		return nil, 0, codec.Errorf("Decimal value %s is not a number", num)
	}
	return u, scale, nil
}

// fromTwosComplement reads big-endian two's-complement bytes.
func fromTwosComplement(b []byte) *big.Int {
	if len(b) <= 8 {
		x := int64(int8(b[0]))
		for _, c := range b[1:] {
			x = x<<8 | int64(c)
		}
		return big.NewInt(x)
	}
	u := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return u
}

// base64 reads a JSON string of standard base64 (padding optional) into
// new bytes.
func (p *parser) base64() ([]byte, error) {
	b, err := p.stringBytes()
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding
	if len(b)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	out := make([]byte, 0, enc.DecodedLen(len(b)))
	out, err = enc.AppendDecode(out, b)
	if err != nil {
		return nil, codec.Errorf("invalid base64 bytes: %v", err)
	}
	return out, nil
}

// string reads a JSON string into a new Go string.
func (p *parser) string() (string, error) {
	b, err := p.stringBytes()
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// stringBytes reads a JSON string and returns its contents, either a
// sub-slice of data or of the scratch buffer: valid only until the next
// call, never to be kept.
func (p *parser) stringBytes() ([]byte, error) {
	if p.peek() != '"' {
		return nil, p.unexpected("a string")
	}
	p.pos++
	d := p.data
	start := p.pos
	if q := bytes.IndexByte(d[start:], '"'); q >= 0 {
		if span := d[start : start+q]; plainASCII(span) {
			p.pos = start + q + 1
			return span, nil
		}
	}
	ascii := true
	i := start
	for ; i < len(d); i++ {
		ch := d[i]
		if ch == '"' {
			p.pos = i + 1
			if !ascii && !utf8.Valid(d[start:i]) {
				p.pos = start
				return nil, p.syntaxErr("invalid UTF-8 in string")
			}
			return d[start:i], nil
		}
		if ch == '\\' {
			break
		}
		if ch < 0x20 {
			p.pos = i
			return nil, p.syntaxErr("control character %q in string", ch)
		}
		if ch >= utf8.RuneSelf {
			ascii = false
		}
	}
	if i >= len(d) {
		p.pos = i
		return nil, p.unexpected("the end of the string")
	}
	// Escapes: unescape into scratch.
	out := append(p.scratch[:0], d[start:i]...)
	for i < len(d) {
		ch := d[i]
		switch {
		case ch == '"':
			p.pos = i + 1
			p.scratch = out
			if !ascii && !utf8.Valid(out) {
				p.pos = start
				return nil, p.syntaxErr("invalid UTF-8 in string")
			}
			return out, nil
		case ch < 0x20:
			p.pos = i
			return nil, p.syntaxErr("control character %q in string", ch)
		case ch != '\\':
			if ch >= utf8.RuneSelf {
				ascii = false
			}
			out = append(out, ch)
			i++
			continue
		}
		i++
		if i >= len(d) {
			break
		}
		switch e := d[i]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d[i+1:])
			if !ok {
				p.pos = i
				return nil, p.syntaxErr("invalid \\u escape")
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2, ok2 := rune(0), false
				if i+2 < len(d) && d[i+1] == '\\' && d[i+2] == 'u' {
					r2, ok2 = hex4(d[i+3:])
				}
				if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			p.pos = i
			return nil, p.syntaxErr("invalid escape \\%c", e)
		}
		i++
	}
	p.pos = len(d)
	p.scratch = out
	return nil, p.unexpected("the end of the string")
}

// plainASCII reports whether b has only printable ASCII and no backslash,
// so that it is a JSON string's contents as they are. It tests eight bytes
// at a time; a false "no" only sends the string to the careful path.
func plainASCII(b []byte) bool {
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		const lo, hi = 0x2020202020202020, 0x8080808080808080
		if (x|(x-lo))&hi != 0 || hasByte(x, '\\') {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// hasByte reports whether any byte of x equals c.
func hasByte(x uint64, c byte) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	y := x ^ (lo * uint64(c))
	return (y-lo)&^y&hi != 0
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip validates and steps over one JSON value.
func (p *parser) skip() error {
	switch p.peek() {
	case '{':
		return p.object(func([]byte) error { return p.skip() })
	case '[':
		return p.array(func(int) error { return p.skip() })
	case '"':
		_, err := p.stringBytes()
		return err
	case 't':
		if p.literal("true") {
			return nil
		}
	case 'f':
		if p.literal("false") {
			return nil
		}
	case 'n':
		if p.literal("null") {
			return nil
		}
	default:
		_, _, err := p.number()
		return err
	}
	return p.unexpected("a JSON value")
}
