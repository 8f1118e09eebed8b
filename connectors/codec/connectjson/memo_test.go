package connectjson

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// The struct memo never changes what is written: records whose nested
// struct repeats, changes in place, holds floats (-0 == 0 in Go) or
// stops repeating encode exactly as a fresh codec encodes them.
func TestStructMemoMatchesFreshEncoding(t *testing.T) {
	src := connectors.NewStruct("src", false,
		connectors.Opt("name", connectors.StringSchema), connectors.Opt("ts", connectors.Int64Schema),
		connectors.Opt("f", &connectors.Schema{Type: connectors.Float64, Optional: true}), connectors.Opt("n", connectors.OptionalInt32Schema))
	env := connectors.NewStruct("env", false, connectors.Opt("id", connectors.Int64Schema), connectors.Opt("source", src))
	for _, schemas := range []bool{false, true} {
		c := New(opts(schemas))
		rng := rand.New(rand.NewPCG(1, 2))
		shared := connectors.NewStructValue(src).Set("name", "a").Set("ts", int64(1)).Set("n", int32(7))
		for i := range 40_000 {
			switch r := rng.IntN(100); {
			case r < 2: // changed in place
				shared.Set("ts", int64(rng.IntN(3)))
			case r < 3:
				switch shared.Get("f") {
				case nil:
					shared.Set("f", 0.0)
				case 0.0: // also -0
					if rng.IntN(2) == 0 {
						shared.Set("f", negZero())
					} else {
						shared.Set("f", nil)
					}
				}
			case r < 4:
				shared.Set("n", nil)
			case r < 5:
				shared = connectors.NewStructValue(src).Set("name", "b").Set("ts", int64(1)).Set("n", int32(7))
			}
			// Long stretches of unique structs exercise the pause.
			s := shared
			if (i/5000)%2 == 1 {
				s = connectors.NewStructValue(src).Set("name", "u").Set("ts", int64(i))
			}
			v := connectors.NewStructValue(env).Set("id", int64(i)).Set("source", s)
			got, err := c.Encode(nil, env, v)
			if err != nil {
				t.Fatal(err)
			}
			want, err := New(opts(schemas)).Encode(nil, env, v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("record %d: memo wrote %s, fresh %s", i, got, want)
			}
		}
		if h := c.entry(env).plan.fields[1].memo.hits; h < 2_000 {
			t.Errorf("schemas=%v: the memo served %d of 40000 source structs; it is not being used", schemas, h)
		}
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

// BenchmarkStructMemo encodes envelopes whose source block repeats.
func BenchmarkStructMemo(b *testing.B) {
	src := connectors.NewStruct("src", false,
		connectors.Opt("version", connectors.StringSchema), connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("name", connectors.StringSchema), connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("snapshot", connectors.OptionalStringSchema), connectors.Opt("db", connectors.StringSchema),
		connectors.Opt("schema", connectors.StringSchema), connectors.Opt("table", connectors.StringSchema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema))
	env := connectors.NewStruct("env", false, connectors.Opt("id", connectors.Int64Schema), connectors.Opt("source", src))
	c := New(opts(false))
	s := connectors.NewStructValue(src).Set("version", "0.1.0").Set("connector", "postgresql").Set("name", "srv").
		Set("ts_ms", int64(1_700_000_000_000)).Set("snapshot", "true").Set("db", "shop").Set("schema", "public").
		Set("table", "orders").Set("lsn", int64(123456789))
	v := connectors.NewStructValue(env).Set("id", int64(1)).Set("source", s)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.Encode(buf[:0], env, v); err != nil {
			b.Fatal(err)
		}
	}
}
