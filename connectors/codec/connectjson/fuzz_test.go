package connectjson

import (
	"testing"

	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// FuzzJSONDecode feeds arbitrary bytes to the codec in each
// configuration. Decode must never panic; whatever it accepts must encode
// again, and decoding that must give the same schema and value.
func FuzzJSONDecode(f *testing.F) {
	key, value := codectest.Envelope(2)
	for _, schemas := range []string{"true", "false"} {
		for _, numeric := range []bool{false, true} {
			o := opts(schemas == "true")
			o.DecimalNumeric = numeric
			c := New(o)
			kb, err := c.Encode(nil, codectest.KeySchema, key)
			if err != nil {
				f.Fatal(err)
			}
			vb, err := c.Encode(nil, codectest.ValueSchema, value)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(kb)
			f.Add(vb)
		}
	}
	for _, s := range []string{
		`{"schema":{"type":"map","keys":{"type":"int64","optional":true},"values":{"type":"array","items":{"type":"double","optional":true}}},"payload":[[null,[1.5,"NaN",null]],[2,[]]]}`,
		`{"schema":{"type":"struct","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"3"},"default":"AQ==","field":"d"},{"type":"int32","name":"org.apache.kafka.connect.data.Time","optional":true,"field":"t"}],"optional":true,"default":{"d":1.5}},"payload":{"d":null,"t":1000}}`,
		`{"schema":{"type":"map","keys":{"type":"string"},"values":{"type":"float","optional":true}},"payload":{"a":1e39,"a":-0.0,"b":null}}`,
		`{"schema":null,"payload":{"x":[1,2.5,"\u00e9\ud83d\ude00",true,null,{}]}}`,
		`{"schema":{"type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},"payload":-9223372036854775808}`,
		`{"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Date","version":1},"payload":-2147483648}`,
		`[1,"a",{"b":[null]}]`, `"\u2028"`, `-0.0`, `12345678901234567890`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, schemas := range []string{"true", "false"} {
			for _, numeric := range []bool{false, true} {
				o := opts(schemas == "true")
				o.DecimalNumeric = numeric
				c := New(o)
				s, v, err := c.Decode(data)
				if err != nil {
					continue
				}
				// Again, through the schema caches.
				sAgain, vAgain, err := c.Decode(data)
				if err != nil || sAgain != s || !codectest.ValuesEqual(v, vAgain) {
					t.Fatalf("schemas.enable=%s numeric=%t: decoding %q twice: %v, schema %p then %p", schemas, numeric, data, err, s, sAgain)
				}
				out, err := c.Encode(nil, s, v)
				if err != nil {
					t.Fatalf("schemas.enable=%s numeric=%t: decoded %q but cannot encode it: %v", schemas, numeric, data, err)
				}
				s2, v2, err := c.Decode(out)
				if err != nil {
					t.Fatalf("schemas.enable=%s numeric=%t: cannot decode own output %q: %v", schemas, numeric, out, err)
				}
				if out != nil && !codectest.SchemasEquivalent(s, s2) {
					t.Fatalf("schemas.enable=%s numeric=%t: schema changed through %q", schemas, numeric, out)
				}
				if !codectest.ValuesEqual(v, v2) {
					t.Fatalf("schemas.enable=%s numeric=%t: value changed through %q: %#v then %#v", schemas, numeric, out, v, v2)
				}
			}
		}
	})
}
