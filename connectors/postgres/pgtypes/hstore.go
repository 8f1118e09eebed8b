package pgtypes

import (
	"fmt"
	"unicode/utf16"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Debezium reads hstore with pgjdbc's HStoreConverter, which fills a
// java.util.HashMap; both the JSON string (hstore.handling.mode=json) and
// the Connect map (map) then list the pairs in that HashMap's iteration
// order, which is neither PostgreSQL's order nor sorted. javaHashMapOrder
// reproduces it so that the JSON is byte for byte Debezium's.

// javaStringHash is java.lang.String.hashCode: s[0]*31^(n-1) + ... over
// the UTF-16 code units, in 32-bit arithmetic.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r < 0x10000 {
			h = 31*h + int32(r)
			continue
		}
		r1, r2 := utf16.EncodeRune(r)
		h = 31*h + int32(r1)
		h = 31*h + int32(r2)
	}
	return h
}

// javaSpread is HashMap.hash: the high 16 bits folded into the low ones.
func javaSpread(h int32) uint32 {
	u := uint32(h)
	return u ^ (u >> 16)
}

// javaHashMapOrder returns entries (distinct keys, in insertion order) in
// the iteration order of a java.util.HashMap built by putting them one by
// one into new HashMap<>(). It follows HashMap.putVal: a table of 16 that
// doubles when the size passes 3/4 of it, or when a bucket reaches the
// treeify threshold (8) while the table is smaller than 64; a resize keeps
// the relative order of the entries of a bucket. Buckets that Java would
// turn into trees (8 or more colliding keys in a table of 64 or more) keep
// their insertion order here, which may differ from Java's.
func javaHashMapOrder(entries []connectors.MapEntry) []connectors.MapEntry {
	if len(entries) < 2 {
		return entries
	}
	type node struct {
		hash uint32
		e    connectors.MapEntry
	}
	n := 16
	buckets := make([][]node, n)
	size := 0
	resize := func() {
		n *= 2
		nb := make([][]node, n)
		for _, b := range buckets {
			for _, x := range b {
				i := int(x.hash) & (n - 1)
				nb[i] = append(nb[i], x)
			}
		}
		buckets = nb
	}
	for _, e := range entries {
		k, _ := e.Key.(string)
		h := javaSpread(javaStringHash(k))
		i := int(h) & (n - 1)
		before := len(buckets[i])
		buckets[i] = append(buckets[i], node{h, e})
		if before >= 8 && n < 64 {
			// treeifyBin on a small table resizes instead.
			resize()
		}
		size++
		if size > n*3/4 {
			resize()
		}
	}
	out := make([]connectors.MapEntry, 0, len(entries))
	for _, b := range buckets {
		for _, x := range b {
			out = append(out, x.e)
		}
	}
	return out
}

// appendJacksonString appends s as a JSON string the way Jackson's
// JsonGenerator.writeString does by default: '"' and '\\' escaped, the
// control characters below 0x20 as \b \t \n \f \r or \u00XX (upper-case
// hex), everything else, including '/', '<', '>', '&', U+2028 and
// non-ASCII, as is.
func appendJacksonString(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c >= 0x20:
			dst = append(dst, c)
		case c == '\b':
			dst = append(dst, '\\', 'b')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\f':
			dst = append(dst, '\\', 'f')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
	}
	return append(dst, '"')
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
	return javaHashMapOrder(out), nil
}

// hstoreConverter gives, in json mode, Debezium's JSON object string
// (Jackson: no spaces, null for NULL values) and, in map mode, a map of
// string to optional string; both in Java HashMap order.
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
	return &Converter{TypeName: "hstore", Schema: named(connectors.String, cdc.JSONName, optional),
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
				k, _ := e.Key.(string)
				out = appendJacksonString(out, k)
				out = append(out, ':')
				if v, ok := e.Value.(string); ok {
					out = appendJacksonString(out, v)
				} else {
					out = append(out, "null"...)
				}
			}
			return string(append(out, '}')), nil
		}}
}
