package converter

import (
	"strconv"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// BenchmarkJSONEncodeEnvelope encodes the value of a 10-column Debezium
// update event through the JsonConverter into a reused buffer, as a source
// task does for every row: connectjson's benchmark of the same name plus
// what the adapter costs.
func BenchmarkJSONEncodeEnvelope(b *testing.B) {
	_, value := codectest.Envelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			c := NewJSON()
			if err := c.Configure(map[string]string{SchemasEnable: strconv.FormatBool(schemas)}, false); err != nil {
				b.Fatal(err)
			}
			buf, err := c.Encode(nil, "t", codectest.ValueSchema, value)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if buf, err = c.Encode(buf[:0], "t", codectest.ValueSchema, value); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkJSONDecodeEnvelope decodes the same event through the
// JsonConverter, as a sink task does.
func BenchmarkJSONDecodeEnvelope(b *testing.B) {
	_, value := codectest.Envelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			c := NewJSON()
			if err := c.Configure(map[string]string{SchemasEnable: strconv.FormatBool(schemas)}, false); err != nil {
				b.Fatal(err)
			}
			data, err := c.Encode(nil, "t", codectest.ValueSchema, value)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.Decode("t", data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
