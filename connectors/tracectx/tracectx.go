// Package tracectx gives change events a W3C Trace Context: a traceparent
// header (https://www.w3.org/TR/trace-context/) that names one trace per
// source transaction, so every event of a database transaction, on
// whatever topics it lands, and every log line a sink writes about them,
// can be followed as one unit in a tracing or logging system.
//
// The ids are derived, not random: the trace id and the parent (span) id
// are the first 24 bytes of SHA-256 over the source's name and the
// transaction's id. A transaction replayed after a crash, or restored
// from tiered storage, carries the same traceparent as the first time.
// The sampled flag is set.
package tracectx

import (
	"crypto/sha256"
	"encoding/hex"
)

// Header is the record header that carries the context.
const Header = "traceparent"

// Parent returns the traceparent of the transaction txn of the source
// named source (a connector's topic.prefix, say): "00-<trace id, 32 hex
// digits>-<parent id, 16 hex digits>-01".
func Parent(source, txn string) []byte {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(txn))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	// An all-zero id is invalid; one in 2^64 sums would give it.
	sum[15] |= nonZero(sum[:16])
	sum[23] |= nonZero(sum[16:24])
	out := make([]byte, 0, 55)
	out = append(out, "00-"...)
	out = hex.AppendEncode(out, sum[:16])
	out = append(out, '-')
	out = hex.AppendEncode(out, sum[16:24])
	return append(out, "-01"...)
}

// nonZero is 1 when every byte of b is zero, else 0.
func nonZero(b []byte) byte {
	for _, c := range b {
		if c != 0 {
			return 0
		}
	}
	return 1
}

// TraceID returns the trace id of a traceparent value, and whether the
// value is a well-formed traceparent of a version this package reads
// (00, or a later one, whose first four fields it reads as 00's).
func TraceID(traceparent []byte) (string, bool) {
	p := traceparent
	if len(p) < 55 || p[2] != '-' || p[35] != '-' || p[52] != '-' || (len(p) > 55 && (p[0] == '0' && p[1] == '0' || p[55] != '-')) {
		return "", false
	}
	if string(p[:2]) == "ff" || !isHex(p[:2]) || !isHex(p[3:35]) || !isHex(p[36:52]) || !isHex(p[53:55]) {
		return "", false
	}
	id := string(p[3:35])
	if id == "00000000000000000000000000000000" || string(p[36:52]) == "0000000000000000" {
		return "", false
	}
	return id, true
}

// isHex reports whether b is lowercase hexadecimal, as the spec requires.
func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
