package converter

import (
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

func TestString(t *testing.T) {
	c := &String{}
	if err := c.Configure(map[string]string{ConverterEncoding: "utf8"}, false); err != nil {
		t.Fatal(err)
	}
	if err := c.Configure(map[string]string{ConverterEncoding: "ISO-8859-1"}, true); err == nil {
		t.Error("ISO-8859-1 accepted")
	}
	st := connectors.NewStruct("s", false,
		connectors.Opt("a", connectors.Int32Schema), connectors.Opt("b", connectors.OptionalStringSchema),
		connectors.Opt("c", &connectors.Schema{Type: connectors.Array, Items: connectors.Float64Schema}))
	for _, tt := range []struct {
		in   any
		want string
	}{
		{"héllo", "héllo"},
		{[]byte{0xff, 'a'}, "\xffa"},
		{int8(-1), "-1"}, {int16(2), "2"}, {int32(3), "3"}, {int64(4), "4"},
		{1.0, "1.0"}, {float32(1e10), "1.0E10"}, {math.NaN(), "NaN"}, {math.Inf(-1), "-Infinity"},
		{true, "true"},
		{connectors.Decimal{Unscaled: big.NewInt(-1234), Scale: 2}, "-12.34"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2024-01-02T02:04:05Z"},
		{&connectors.StructValue{Schema: st, Values: []any{int32(1), nil, []any{1.5, 2.0}}}, "Struct{a=1,c=[1.5, 2.0]}"},
		{[]connectors.MapEntry{{Key: "k", Value: []byte("hi")}, {Key: int64(2), Value: nil}}, "{k=aGk=, 2=null}"},
	} {
		got, err := c.Encode(nil, "t", nil, tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("%#v: got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := c.Encode(nil, "t", connectors.OptionalStringSchema, nil); got != nil || err != nil {
		t.Errorf("nil: %q %v", got, err)
	}
	if got, err := c.Encode(nil, "t", connectors.StringSchema, ""); got == nil || len(got) != 0 || err != nil {
		t.Errorf("empty string must be an empty, non-null value: %#v %v", got, err)
	}
	if got, err := c.Encode([]byte("a"), "t", nil, "b"); string(got) != "ab" || err != nil {
		t.Errorf("append: %q %v", got, err)
	}
	if _, err := c.Encode(nil, "t", nil, struct{}{}); err == nil {
		t.Error("struct{}{} encoded")
	}

	for _, tt := range []struct {
		in   []byte
		want any
	}{{nil, nil}, {[]byte{}, ""}, {[]byte("héllo"), "héllo"}, {[]byte("a\xffb"), "a\uFFFDb"}} {
		s, v, err := c.Decode("t", tt.in)
		if err != nil || s != connectors.OptionalStringSchema || v != tt.want {
			t.Errorf("decode %q: %v %#v %v", tt.in, s, v, err)
		}
	}
	data := []byte("abc")
	_, v, _ := c.Decode("t", data)
	data[0] = 'x'
	if v != "abc" {
		t.Errorf("decoded value retains data: %v", v)
	}
}
