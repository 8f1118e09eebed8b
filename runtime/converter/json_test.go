package converter

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// TestJSONProperties checks that each JsonConverter property reaches the
// codec: the bytes of one value under each setting.
func TestJSONProperties(t *testing.T) {
	dec := connectors.DecimalSchema(2, false)
	withDefault := &connectors.Schema{Type: connectors.Int32, Optional: true, Default: int32(42)}
	tests := []struct {
		props  map[string]string
		schema *connectors.Schema
		value  any
		want   string
	}{
		{nil, connectors.Int32Schema, int32(1), `{"schema":{"type":"int32","optional":false},"payload":1}`},
		{map[string]string{SchemasEnable: "false"}, connectors.Int32Schema, int32(1), `1`},
		{map[string]string{SchemasEnable: "false"}, dec, connectors.Decimal{Unscaled: mustBig(t, "1234"), Scale: 2}, `"BNI="`},
		{map[string]string{SchemasEnable: "false", DecimalFormat: "numeric"}, dec, connectors.Decimal{Unscaled: mustBig(t, "1234"), Scale: 2}, `12.34`},
		{map[string]string{SchemasEnable: "false"}, withDefault, nil, `42`},
		{map[string]string{SchemasEnable: "false", ReplaceNullWithDefault: "false"}, withDefault, nil, ``},
	}
	for _, tt := range tests {
		c := NewJSON()
		if err := c.Configure(tt.props, false); err != nil {
			t.Fatal(err)
		}
		got, err := c.Encode(nil, "t", tt.schema, tt.value)
		if err != nil {
			t.Fatalf("%v: %v", tt.props, err)
		}
		if string(got) != tt.want {
			t.Errorf("%v: got %s, want %s", tt.props, got, tt.want)
		}
	}
}

// TestJSONErrorsNameTopicAndSide checks the words the converter adds to
// the codec's errors: the converter, the side, the topic, and whether the
// schema or the value is at fault.
func TestJSONErrorsNameTopicAndSide(t *testing.T) {
	key := NewJSON()
	if err := key.Configure(nil, true); err != nil {
		t.Fatal(err)
	}
	_, err := key.Encode(nil, "orders", connectors.Int64Schema, "x")
	var de *codec.DataError
	if err == nil || !strings.HasPrefix(err.Error(), `JsonConverter: converting the key for topic "orders": `) || !errors.As(err, &de) {
		t.Errorf("bad value: %v", err)
	}
	dst := []byte("keep")
	got, err := key.Encode(dst, "orders", &connectors.Schema{Type: connectors.Array}, []any{})
	if err == nil || !strings.HasPrefix(err.Error(), `JsonConverter: converting the key schema for topic "orders": array schema has no Items schema`) ||
		!errors.As(err, &de) || string(got) != "keep" {
		t.Errorf("bad schema: %q, %v", got, err)
	}
	_, _, err = NewJSON().Decode("orders", []byte(`{"a":1}`))
	if err == nil || !strings.HasPrefix(err.Error(), `JsonConverter: converting the value of topic "orders": JsonConverter with schemas.enable requires`) {
		t.Errorf("bad envelope: %v", err)
	}
	if _, _, err := NewJSON().Decode("orders", []byte(`{"schema":null`)); err == nil || !strings.Contains(err.Error(), "invalid JSON at offset") {
		t.Errorf("bad JSON: %v", err)
	}
	c := NewJSON()
	if err := c.Configure(map[string]string{SchemasCacheSize: "-1"}, false); err == nil || !strings.Contains(err.Error(), "value.converter.schemas.cache.size") {
		t.Errorf("negative cache size: %v", err)
	}
	if !EncodesLazy(c) {
		t.Error("JsonConverter does not encode lazy structs")
	}
}

func mustBig(t *testing.T, s string) *big.Int {
	t.Helper()
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad integer %q", s)
	}
	return n
}
