package connectjson

import (
	"strconv"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// BenchmarkJSONEncodeEnvelope encodes the value of a 10-column Debezium
// update event (before and after rows, source block) into a reused buffer,
// as a source task does for every row.
func BenchmarkJSONEncodeEnvelope(b *testing.B) {
	_, value := codectest.Envelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			o := DefaultOptions()
			o.Schemas = schemas
			c := New(o)
			buf, err := c.Encode(nil, codectest.ValueSchema, value)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if buf, err = c.Encode(buf[:0], codectest.ValueSchema, value); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkJSONDecodeEnvelope decodes the same event, as a sink task does.
func BenchmarkJSONDecodeEnvelope(b *testing.B) {
	_, value := codectest.Envelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			o := DefaultOptions()
			o.Schemas = schemas
			c := New(o)
			data, err := c.Encode(nil, codectest.ValueSchema, value)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.Decode(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
