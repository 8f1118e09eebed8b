// Package offsets stores source connectors' offsets: on the compacted
// offsets topic with Kafka Connect's key format, or in memory for unit
// tests. It also backs the KIP-875 offsets API.
package offsets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/connectors"
)

// Store keeps the latest offset of each source partition of each
// connector. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the offset of one partition, or nil.
	Get(ctx context.Context, connector string, partition map[string]any) (map[string]any, error)
	// Put makes the offsets durable; a nil Offset deletes the partition's
	// offset. When Put returns nil, a later Get (on any worker after it
	// read the store) sees them.
	Put(ctx context.Context, connector string, entries []connectors.SourceOffset) error
	// All returns every partition's offset of a connector, ordered by key.
	All(ctx context.Context, connector string) ([]connectors.SourceOffset, error)
}

// Key returns Kafka Connect's offsets-topic key for a connector's source
// partition: ["<connector>",{partition}] as compact JSON with the
// partition's keys sorted, spelled as Kafka Connect's JsonConverter
// (Jackson) spells it, so that a key Kafka Connect wrote for the same
// partition is the same bytes (compaction and lookups go by the bytes).
//
// Jackson writes a map's keys in the order the Java map iterates them;
// Sluice sorts them. For partitions of one key (Debezium's {"server":
// ...}, for example) and Java maps that iterate in sorted order, the
// bytes are the same; for other partitions of several keys written by a
// Java worker they may differ.
func Key(connector string, partition map[string]any) ([]byte, error) {
	b := appendString([]byte{'['}, connector)
	b = append(b, ',')
	b, err := appendMap(b, partition)
	if err != nil {
		return nil, fmt.Errorf("encoding source partition %v of %s: %w", partition, connector, err)
	}
	return append(b, ']'), nil
}

// EncodeMap encodes an offset or partition as compact JSON with sorted
// keys, spelled as Jackson spells JSON (see Key): strings escape only '"',
// '\\' and control characters, and floats are written as Java's
// Double.toString writes them ("1.0", "1.0E10"), so a float stays a float
// when read back.
func EncodeMap(m map[string]any) ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	return appendMap(nil, m)
}

func appendMap(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		var err error
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		return appendJavaFloat(b, x, 64)
	case float32:
		return appendJavaFloat(b, float64(x), 32)
	case map[string]any:
		return appendMap(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default:
		// Not a type Kafka Connect allows in offsets (Validate refuses
		// it in Put); spelled by encoding/json without HTML escaping.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
	}
}

// appendString appends s as a JSON string the way Jackson writes it: '"'
// and '\\' are escaped, control characters as \b \t \n \f \r or
// \u00XX (upper-case hex), and everything else as it is, in UTF-8 ('<',
// '>', '&', U+2028 and U+2029 included, which encoding/json escapes). A
// byte that is not UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = utf8.AppendRune(b, utf8.RuneError)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJavaFloat appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) writes it since JDK 19, which is what Jackson
// writes: the shortest decimal that reads back as f (of two digits when
// one would do, the closer of them), with at least one digit after the
// point, in plain notation when that decimal is at least 10^-3 and below
// 10^7, and as d.dddEn otherwise ("1.0E10", "1.0E-5").
func appendJavaFloat(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v cannot be stored in JSON", f)
	}
	if math.Signbit(f) {
		b = append(b, '-')
		f = -f
	}
	if f == 0 {
		return append(b, "0.0"...), nil
	}
	// d.ddde±x: the digits and the decimal exponent.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	mant, exp, _ := bytes.Cut(e, []byte{'e'})
	if len(mant) == 1 {
		// Java chooses among decimals of one and two digits the one
		// closest to f: its correctly rounded two-digit form.
		e = strconv.AppendFloat(tmp[:0], f, 'e', 1, bits)
		mant, exp, _ = bytes.Cut(e, []byte{'e'})
	}
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	x, _ := strconv.Atoi(string(exp))
	switch {
	case x >= -3 && x < 7:
		if x < 0 {
			b = append(b, "0."...)
			for i := -1; i > x; i-- {
				b = append(b, '0')
			}
			return append(b, digits...), nil
		}
		if len(digits) <= x+1 {
			b = append(b, digits...)
			for i := len(digits); i <= x; i++ {
				b = append(b, '0')
			}
			return append(b, ".0"...), nil
		}
		b = append(b, digits[:x+1]...)
		b = append(b, '.')
		return append(b, digits[x+1:]...), nil
	default:
		b = append(b, digits[0], '.')
		if len(digits) == 1 {
			b = append(b, '0')
		} else {
			b = append(b, digits[1:]...)
		}
		b = append(b, 'E')
		return strconv.AppendInt(b, int64(x), 10), nil
	}
}

// ParseKey parses a key written by Key (or by Kafka Connect).
func ParseKey(key []byte) (connector string, partition map[string]any, err error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(key, &parts); err != nil || len(parts) != 2 {
		return "", nil, fmt.Errorf("offsets key %q is not [\"<connector>\",{partition}]", key)
	}
	if err := json.Unmarshal(parts[0], &connector); err != nil {
		return "", nil, fmt.Errorf("offsets key %q: connector name: %w", key, err)
	}
	if partition, err = DecodeMap(parts[1]); err != nil {
		return "", nil, fmt.Errorf("offsets key %q: partition: %w", key, err)
	}
	return connector, partition, nil
}

// DecodeMap decodes a JSON object keeping integers as int64 (Kafka
// Connect writes offsets as JSON with Long values). null gives nil.
func DecodeMap(b []byte) (map[string]any, error) {
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	for k, v := range m {
		m[k] = normalize(v)
	}
	return m, nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		// The text decides the type, so 1.0 stays a float.
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

// Validate checks that an offset or partition holds only JSON primitives,
// as Kafka Connect requires (OffsetUtils).
func Validate(what string, m map[string]any) error {
	for k, v := range m {
		switch v.(type) {
		case nil, string, bool, int, int8, int16, int32, int64, uint8, uint16, uint32, float32, float64:
		default:
			return fmt.Errorf("%s field %q has a %T value; only strings, numbers, booleans and null are allowed", what, k, v)
		}
	}
	return nil
}

// Table is the in-memory view every offsets store keeps (Memory here, the Kafka one in runtime/offsetstore): connector → encoded
// partition key → entry.
//
// An entry written from the offsets topic remembers where the topic holds
// it, and Set keeps the entry of the later record: the store's own Put
// (known once Kafka acknowledged it) and the topic reader (applying what
// any worker wrote) may come in either order, and the older never
// replaces the newer. A deletion from the topic stays as an entry with a
// nil Offset so that an older record cannot bring the offset back.
type Table struct {
	mu sync.RWMutex
	m  map[string]map[string]slot
}

// slot is one source partition's entry; Offset nil is a deletion.
type slot struct {
	connectors.SourceOffset
	at Position
}

// Position is where the offsets topic holds a record; the zero value
// (Known false) is an entry not from the topic (the memory store).
type Position struct {
	Known     bool
	Partition int32
	Offset    int64
}

// after reports whether p is known to be a later record than q. Records
// of one key go to one topic partition; if they are in different ones
// (the topic's partitions were changed) they cannot be ordered, and the
// one applied last wins.
func (p Position) after(q Position) bool {
	return !p.Known || !q.Known || p.Partition != q.Partition || p.Offset > q.Offset
}

// Get returns the offset of a source partition by its key, nil when none.
func (t *Table) Get(connector string, key []byte) map[string]any {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m[connector][string(key)].Offset
}

// Set records offset (nil: deleted) for a source partition unless the
// table holds an entry from a later record of the topic.
func (t *Table) Set(connector string, key []byte, partition, offset map[string]any, at Position) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]map[string]slot{}
	}
	if prev, ok := t.m[connector][string(key)]; ok && !at.after(prev.at) {
		return
	}
	if offset == nil && !at.Known {
		delete(t.m[connector], string(key))
		return
	}
	if t.m[connector] == nil {
		t.m[connector] = map[string]slot{}
	}
	t.m[connector][string(key)] = slot{connectors.SourceOffset{Partition: partition, Offset: offset}, at}
}

// All returns a connector's offsets, sorted by key, without deletions.
func (t *Table) All(connector string) []connectors.SourceOffset {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keys := make([]string, 0, len(t.m[connector]))
	for k, e := range t.m[connector] {
		if e.Offset != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]connectors.SourceOffset, len(keys))
	for i, k := range keys {
		out[i] = t.m[connector][k].SourceOffset
	}
	return out
}

// Memory is an in-memory Store for tests.
type Memory struct{ t Table }

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{} }

// Get implements Store.
func (s *Memory) Get(_ context.Context, connector string, partition map[string]any) (map[string]any, error) {
	k, err := Key(connector, partition)
	if err != nil {
		return nil, err
	}
	return s.t.Get(connector, k), nil
}

// Put implements Store.
func (s *Memory) Put(_ context.Context, connector string, entries []connectors.SourceOffset) error {
	for _, e := range entries {
		k, err := Key(connector, e.Partition)
		if err != nil {
			return err
		}
		s.t.Set(connector, k, e.Partition, e.Offset, Position{})
	}
	return nil
}

// All implements Store.
func (s *Memory) All(_ context.Context, connector string) ([]connectors.SourceOffset, error) {
	return s.t.All(connector), nil
}

var _ Store = (*Memory)(nil)
