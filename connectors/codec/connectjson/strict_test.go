package connectjson

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// TestRejectInvalidUTF8: a strict codec refuses strings that are not valid
// UTF-8 wherever they are (a field, a map key, a schemaless value, a lazy
// text), naming where, and writes valid ones as the default codec does; the
// default codec writes U+FFFD in their place, as Connect's converter does.
func TestRejectInvalidUTF8(t *testing.T) {
	s := connectors.NewStruct("t", false,
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("attrs", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema, Values: connectors.StringSchema, Optional: true}))
	val := func(name string, attrs map[string]any) *connectors.StructValue {
		v := connectors.NewStructValue(s)
		v.Values[0] = name
		if attrs != nil {
			var m []connectors.MapEntry
			for k, x := range attrs {
				m = append(m, connectors.MapEntry{Key: k, Value: x})
			}
			v.Values[1] = m
		}
		return v
	}
	strict := New(Options{RejectInvalidUTF8: true})
	lenient := New(Options{})
	good := val("café ☕", map[string]any{"k": "v"})
	want, err := lenient.Encode(nil, s, good)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := strict.Encode(nil, s, good); err != nil || string(got) != string(want) {
		t.Fatalf("valid UTF-8: %s, %v; want %s", got, err, want)
	}
	if got, _ := lenient.Encode(nil, s, val("caf\xe9", nil)); !strings.Contains(string(got), `caf\ufffd`) {
		t.Fatalf("lenient: %s, want U+FFFD", got)
	}
	for _, c := range []struct {
		name   string
		schema *connectors.Schema
		v      any
		path   string
	}{
		{"field", s, val("caf\xe9", nil), "field name:"},
		{"map key", s, val("ok", map[string]any{"k\xff": "v"}), `field attrs["k\xff"]`},
		{"map value", s, val("ok", map[string]any{"k": "v\xff"}), `field attrs["k"]`},
		{"lazy text", s, codectest.Lazy(val("caf\xe9", nil), false), "field name:"},
		{"schemaless", nil, map[string]any{"k": "\xff"}, `field ["k"]`},
		{"schemaless key", nil, map[string]any{"\xff": "v"}, "field"},
	} {
		got, err := strict.Encode([]byte("x"), c.schema, c.v)
		if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %v, want one about UTF-8 at %s", c.name, err, c.path)
		}
		if string(got) != "x" {
			t.Errorf("%s: dst %q, want it cut back", c.name, got)
		}
	}
}
