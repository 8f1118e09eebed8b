package converter

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// FuzzAvroDecode feeds arbitrary bytes to an AvroConverter whose registry
// holds the Debezium envelope's key and value schemas (ids 1 and 2) and a
// map/array/union-heavy schema (id 3). Decode must never panic; whatever
// it accepts must encode again to the same bytes, since Avro binary has
// one encoding per value and schema.
func FuzzAvroDecode(f *testing.F) {
	store := openStore(f)
	c := avroConv(f, store, nil, false)
	key, value := codectest.Envelope(2)
	kb, err := avroConv(f, store, nil, true).Encode(nil, "t", codectest.KeySchema, key)
	if err != nil {
		f.Fatal(err)
	}
	vb, err := c.Encode(nil, "t", codectest.ValueSchema, value)
	if err != nil {
		f.Fatal(err)
	}
	nested := connectors.NewStruct("nested", false,
		connectors.Opt("m", &connectors.Schema{Type: connectors.Map, Keys: connectors.StringSchema,
			Values: &connectors.Schema{Type: connectors.Array, Items: &connectors.Schema{Type: connectors.Float64, Optional: true}}}),
		connectors.Opt("e", &connectors.Schema{Type: connectors.Map, Keys: connectors.Int32Schema, Values: connectors.OptionalBytesSchema}),
	)
	nv := connectors.NewStructValue(nested).
		Set("m", []connectors.MapEntry{{Key: "a", Value: []any{1.5, nil}}}).
		Set("e", []connectors.MapEntry{{Key: int32(7), Value: []byte{1, 2}}})
	nb, err := c.Encode(nil, "n", nested, nv)
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{kb, vb, nb, vb[:len(vb)/2], {0, 0, 0, 0, 9}, {1, 0, 0, 0, 1, 2}, {}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, v, err := c.Decode("t", data)
		if err != nil {
			return
		}
		// One topic per schema id, so that no subject gets two schemas.
		again, err := c.Encode(nil, "again-"+hex.EncodeToString(data[1:5]), s, v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		// The header's id may differ (another subject); the Avro binary
		// may not, except where a null read back as its field's default.
		if !bytes.Equal(again[5:], data[5:]) {
			if _, v2, err := c.Decode("t", again); err != nil || !codectest.ValuesEqual(v2, v) {
				t.Fatalf("re-encoded value reads back differently: %v", err)
			}
		}
	})
}
