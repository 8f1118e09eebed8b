package tracectx

import (
	"regexp"
	"testing"
)

var w3c = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

func TestParentIsW3CAndDeterministic(t *testing.T) {
	a := Parent("inventory", "771:24023128")
	if !w3c.Match(a) {
		t.Fatalf("traceparent %q is not W3C version 00", a)
	}
	if b := Parent("inventory", "771:24023128"); string(a) != string(b) {
		t.Errorf("the same transaction gave %q and %q", a, b)
	}
	for _, other := range [][2]string{{"inventory", "772:24023128"}, {"orders", "771:24023128"}, {"inventory7", "71:24023128"}} {
		o := Parent(other[0], other[1])
		if string(o[3:35]) == string(a[3:35]) {
			t.Errorf("source %q transaction %q has the trace id of inventory/771:24023128", other[0], other[1])
		}
	}
	id, ok := TraceID(a)
	if !ok || id != string(a[3:35]) {
		t.Errorf("TraceID(%q) = %q, %v", a, id, ok)
	}
}

func TestTraceIDRejectsMalformed(t *testing.T) {
	good := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if id, ok := TraceID([]byte(good)); !ok || id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("W3C's example: %q, %v", id, ok)
	}
	if _, ok := TraceID([]byte("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future")); !ok {
		t.Error("a later version with more fields is read")
	}
	for _, bad := range []string{
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",        // short
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       // uppercase
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",       // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       // zero parent id
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // invalid version
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", // version 00 has 4 fields
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // separator
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",       // not hex
	} {
		if id, ok := TraceID([]byte(bad)); ok {
			t.Errorf("TraceID(%q) = %q, want malformed", bad, id)
		}
	}
}

func BenchmarkParent(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Parent("inventory", "771:24023128")
	}
}
