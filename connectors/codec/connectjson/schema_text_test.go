package connectjson

import (
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// TestSchemaTextRoundTrip: ParseSchema reads what AppendSchema writes as
// the same schema (names, parameters, defaults, optionality).
func TestSchemaTextRoundTrip(t *testing.T) {
	c := New(DefaultOptions())
	for name, in := range map[string]*connectors.Schema{"key": codectest.KeySchema, "envelope": codectest.ValueSchema} {
		t.Run(name, func(t *testing.T) {
			b, err := c.AppendSchema(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := New(DefaultOptions()).ParseSchema(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if !codectest.SchemasEquivalent(in, out) {
				t.Fatalf("schema changed through %s", b)
			}
		})
	}
	if _, err := c.ParseSchema([]byte(`{"type":"int32"} x`)); err == nil {
		t.Fatal("trailing data accepted")
	}
}
