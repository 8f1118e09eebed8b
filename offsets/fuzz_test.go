package offsets

import (
	"reflect"
	"testing"
)

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{`["pg",{"server":"a"}]`, `["x",{}]`, `["x",{"n":1,"f":1.5,"b":true,"z":null}]`, `[`, `["a",null]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, p, err := ParseKey(b)
		if err != nil {
			return
		}
		// What parses must round-trip through Key.
		k, err := Key(c, p)
		if err != nil {
			return // e.g. a partition value Key cannot encode
		}
		c2, p2, err := ParseKey(k)
		if err != nil || c2 != c || !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip of %s: %q %v -> %s -> %q %v (%v)", b, c, p, k, c2, p2, err)
		}
	})
}
