package converter

import (
	"bytes"
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// The Go types hamba/avro encodes the Debezium envelope from, field for
// field the schema the AvroConverter registers for codectest.ValueSchema.
type (
	hbRow struct {
		ID        int32      `avro:"id"`
		FirstName string     `avro:"first_name"`
		LastName  string     `avro:"last_name"`
		Email     *string    `avro:"email"`
		Balance   []byte     `avro:"balance"`
		Active    bool       `avro:"active"`
		Score     *float64   `avro:"score"`
		BirthDate *time.Time `avro:"birth_date"`
		CreatedAt time.Time  `avro:"created_at"`
		UpdatedAt *int64     `avro:"updated_at"`
	}
	hbSource struct {
		Version   string  `avro:"version"`
		Connector string  `avro:"connector"`
		Name      string  `avro:"name"`
		TsMs      int64   `avro:"ts_ms"`
		Snapshot  *string `avro:"snapshot"`
		DB        string  `avro:"db"`
		Sequence  *string `avro:"sequence"`
		Schema    string  `avro:"schema"`
		Table     string  `avro:"table"`
		TxID      *int64  `avro:"txId"`
		LSN       *int64  `avro:"lsn"`
		Xmin      *int64  `avro:"xmin"`
	}
	hbTx struct {
		ID                  string `avro:"id"`
		TotalOrder          int64  `avro:"total_order"`
		DataCollectionOrder int64  `avro:"data_collection_order"`
	}
	hbEnvelope struct {
		Before      *hbRow   `avro:"before"`
		After       *hbRow   `avro:"after"`
		Source      hbSource `avro:"source"`
		Op          string   `avro:"op"`
		TsMs        *int64   `avro:"ts_ms"`
		Transaction *hbTx    `avro:"transaction"`
	}
)

// hbValue is codectest.Envelope(i)'s value as hamba/avro Go structs, with the
// schema to encode it with: the registered schema without the decimal
// logical type (hamba would want a *big.Rat and allocate converting it),
// so that both encoders write the same bytes.
func hbValue(t testing.TB, registered string, i int) (hamba.Schema, *hbEnvelope) {
	t.Helper()
	schema, err := hamba.Parse(strings.ReplaceAll(registered, `,"logicalType":"decimal"`, ""))
	if err != nil {
		t.Fatal(err)
	}
	row := func() *hbRow {
		r := codectest.Row(i)
		email, score, born, upd := r.Values[3].(string), r.Values[6].(float64), r.Values[7].(time.Time), r.Values[9].(int64)
		return &hbRow{ID: r.Values[0].(int32), FirstName: r.Values[1].(string), LastName: r.Values[2].(string), Email: &email,
			Balance: big.NewInt(1234567 + int64(i)).Bytes(), Active: r.Values[5].(bool), Score: &score, BirthDate: &born,
			CreatedAt: r.Values[8].(time.Time), UpdatedAt: &upd}
	}
	before := row()
	before.Email, before.Score = nil, nil
	snapshot, seq := "false", `["24023119","24023128"]`
	txID, lsn, ts := int64(767), int64(24023128), int64(1709296245456)
	return schema, &hbEnvelope{Before: before, After: row(), Op: "u", TsMs: &ts,
		Source: hbSource{Version: "2.7.0.Final", Connector: "postgresql", Name: "dbserver1", TsMs: 1709296245123,
			Snapshot: &snapshot, DB: "inventory", Sequence: &seq, Schema: "public", Table: "customers", TxID: &txID, LSN: &lsn}}
}

// TestAvroMatchesHamba: the converter's Avro binary is byte for byte what
// hamba/avro writes for the same record with the registered schema.
func TestAvroMatchesHamba(t *testing.T) {
	store := openStore(t)
	c := avroConv(t, store, nil, false)
	_, value := codectest.Envelope(4)
	data, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		t.Fatal(err)
	}
	text, err := store.SchemaByID(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	schema, hv := hbValue(t, text, 4)
	want, err := hamba.Marshal(schema, hv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data[5:], want) {
		t.Fatalf("converter wrote % x\nhamba wrote     % x", data[5:], want)
	}
}

// BenchmarkAvroEncodeEnvelope encodes the value of the Debezium update
// event through the AvroConverter (wire header and Avro binary) into a
// reused buffer, as a source task does per row; the schema id is cached
// after the first record.
func BenchmarkAvroEncodeEnvelope(b *testing.B) {
	c := avroConv(b, openStore(b), nil, false)
	_, value := codectest.Envelope(1)
	buf, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if buf, err = c.Encode(buf[:0], fxTopic, codectest.ValueSchema, value); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAvroEncodeEnvelopeHamba encodes the same record with bare
// hamba/avro, the reference of issue 14: Marshal, and an Encoder writing
// to a reused buffer.
func BenchmarkAvroEncodeEnvelopeHamba(b *testing.B) {
	store := openStore(b)
	if _, err := avroConv(b, store, nil, false).Encode(nil, fxTopic, codectest.ValueSchema, func() any { _, v := codectest.Envelope(1); return v }()); err != nil {
		b.Fatal(err)
	}
	text, err := store.SchemaByID(context.Background(), 1)
	if err != nil {
		b.Fatal(err)
	}
	schema, v := hbValue(b, text, 1)
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := hamba.Marshal(schema, v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("Encoder", func(b *testing.B) {
		var buf bytes.Buffer
		enc := hamba.NewEncoderForSchema(schema, &buf)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			buf.Reset()
			if err := enc.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkAvroDecodeEnvelope decodes the same event, as a sink task does.
func BenchmarkAvroDecodeEnvelope(b *testing.B) {
	c := avroConv(b, openStore(b), nil, false)
	_, value := codectest.Envelope(1)
	data, err := c.Encode(nil, fxTopic, codectest.ValueSchema, value)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := c.Decode(fxTopic, data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
