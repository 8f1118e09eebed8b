package connectjson

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-cdc/sluice/connectors/codec"
)

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes written as they are inside a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// AppendString writes s as a JSON string exactly as encoding/json does with
// SetEscapeHTML(false): quote, backslash and control characters escaped
// (\b \f \n \r \t short forms, others \u00xx), U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by \ufffd.
func AppendString(dst []byte, s string) []byte {
	dst, _ = appendString(dst, s, false)
	return dst
}

// appendString is AppendString; when strict, it stops at the first invalid
// UTF-8 byte and returns false rather than replacing it.
func appendString(dst []byte, s string, strict bool) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	// s's bytes, read eight at a time (one load where the machine has
	// one) while they are plain ASCII: most text has nothing to escape.
	sb := unsafe.Slice(unsafe.StringData(s), len(s))
	for i := 0; i < len(s); {
		for i+16 <= len(sb) && unsafe16(binary.LittleEndian.Uint64(sb[i:]), binary.LittleEndian.Uint64(sb[i+8:])) == 0 {
			i += 16
		}
		if i+8 <= len(sb) && safe8(binary.LittleEndian.Uint64(sb[i:])) {
			i += 8
			continue
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			if strict {
				return dst, false
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// appendStr writes s as AppendString does, or fails on invalid UTF-8 when
// the codec is strict (Options.RejectInvalidUTF8).
func (c *Codec) appendStr(dst []byte, s string) ([]byte, error) {
	start := len(dst)
	dst, ok := appendString(dst, s, c.strict)
	if !ok {
		// A new error each time: InField writes its path into it.
		return dst[:start], codec.Errorf("a string that is not valid UTF-8, which JSON cannot hold unchanged (it would write U+FFFD in place of its bad bytes); write it in a binary format (Avro, Parquet) or as bytes")
	}
	return dst, nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// safe8 reports whether the eight bytes of x are all written as they are
// (jsonSafe): none is below 0x20, a quote, a backslash or non-ASCII. It
// uses the exact has-a-zero-byte and has-a-byte-below-n tests.
func safe8(x uint64) bool { return unsafe8(x) == 0 }

// unsafe8 has a high bit set for (at least) the first byte of x that safe8
// rejects, and none when safe8 accepts x.
func unsafe8(x uint64) uint64 {
	below20 := (x - 0x20*ones) & ^x & highs
	return (x & highs) | below20 | zero8(x^('"'*ones)) | zero8(x^('\\'*ones))
}

// unsafe16 is unsafe8 of two words at once: zero when both are safe.
func unsafe16(x, y uint64) uint64 { return unsafe8(x) | unsafe8(y) }

// zero8 has the high bit of each zero byte of v set (and of no byte
// before the first zero one).
func zero8(v uint64) uint64 { return (v - ones) & ^v & highs }

// MemberKey returns a struct field's name as an object member's key,
// `"name":`, with a comma before it unless it is the first member.
func MemberKey(name string, first bool) []byte {
	var k []byte
	if !first {
		k = append(k, ',')
	}
	k = AppendString(k, name)
	return append(k, ':')
}

// AppendBytes writes b, text, as AppendString writes it. b is not
// retained.
func AppendBytes(dst, b []byte) []byte {
	return AppendString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}
