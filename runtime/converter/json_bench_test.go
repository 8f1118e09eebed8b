package converter

import (
	"strconv"
	"testing"
)

// BenchmarkJSONEncodeEnvelope encodes the value of a 10-column Debezium
// update event (before and after rows, source block) into a reused buffer,
// as a source task does for every row.
func BenchmarkJSONEncodeEnvelope(b *testing.B) {
	_, value := fxEnvelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			c := NewJSON()
			if err := c.Configure(map[string]string{SchemasEnable: strconv.FormatBool(schemas)}, false); err != nil {
				b.Fatal(err)
			}
			buf, err := c.Encode(nil, "t", fxValueSchema, value)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if buf, err = c.Encode(buf[:0], "t", fxValueSchema, value); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkJSONDecodeEnvelope decodes the same event, as a sink task does.
func BenchmarkJSONDecodeEnvelope(b *testing.B) {
	_, value := fxEnvelope(1)
	for _, schemas := range []bool{true, false} {
		b.Run("schemas.enable="+strconv.FormatBool(schemas), func(b *testing.B) {
			c := NewJSON()
			if err := c.Configure(map[string]string{SchemasEnable: strconv.FormatBool(schemas)}, false); err != nil {
				b.Fatal(err)
			}
			data, err := c.Encode(nil, "t", fxValueSchema, value)
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
