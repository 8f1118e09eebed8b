package converter

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

func TestByteArray(t *testing.T) {
	c := &ByteArray{}
	if err := c.Configure(map[string]string{"converter.type": "value"}, false); err != nil {
		t.Fatal(err)
	}
	got, err := c.Encode([]byte("x"), "t", connectors.BytesSchema, []byte{1, 2})
	if err != nil || string(got) != "x\x01\x02" {
		t.Errorf("encode: %q %v", got, err)
	}
	if got, err := c.Encode(nil, "t", nil, []byte{}); got == nil || len(got) != 0 || err != nil {
		t.Errorf("empty bytes must be an empty, non-null value: %#v %v", got, err)
	}
	if got, err := c.Encode(nil, "t", connectors.OptionalBytesSchema, nil); got != nil || err != nil {
		t.Errorf("nil: %q %v", got, err)
	}
	if _, err := c.Encode(nil, "t", nil, "text"); err == nil || !strings.Contains(err.Error(), "Go type string") {
		t.Errorf("string value: %v", err)
	}
	if _, err := c.Encode(nil, "t", connectors.StringSchema, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid schema type string") {
		t.Errorf("string schema: %v", err)
	}

	data := []byte{1, 2, 3}
	s, v, err := c.Decode("t", data)
	if err != nil || s != connectors.OptionalBytesSchema || string(v.([]byte)) != "\x01\x02\x03" {
		t.Fatalf("decode: %v %v %v", s, v, err)
	}
	data[0] = 9
	if v.([]byte)[0] != 1 {
		t.Error("decoded value retains data")
	}
	if s, v, err := c.Decode("t", nil); s != connectors.OptionalBytesSchema || v != nil || err != nil {
		t.Errorf("decode nil: %v %v %v", s, v, err)
	}
	if _, v, _ := c.Decode("t", []byte{}); v == nil || len(v.([]byte)) != 0 || v.([]byte) == nil {
		t.Errorf("decode empty: %#v", v)
	}
}
