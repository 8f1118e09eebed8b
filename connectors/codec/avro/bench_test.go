package avro

import (
	"testing"

	hamba "github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice/connectors"
)

// benchEnvelope is a Debezium-like record with a 10-field row.
func benchEnvelope() (*connectors.Schema, *connectors.StructValue) {
	row := connectors.NewStruct("db.public.t.Value", true,
		connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("name", connectors.OptionalStringSchema),
		connectors.Opt("email", connectors.OptionalStringSchema),
		connectors.Opt("age", connectors.OptionalInt32Schema),
		connectors.Opt("active", connectors.OptionalBooleanSchema),
		connectors.Opt("balance", connectors.DecimalSchema(2, true)),
		connectors.Opt("score", &connectors.Schema{Type: connectors.Float64, Optional: true}),
		connectors.Opt("created", &connectors.Schema{Type: connectors.Int64, Name: "io.debezium.time.MicroTimestamp", Version: 1, Optional: true}),
		connectors.Opt("city", connectors.OptionalStringSchema),
		connectors.Opt("version", connectors.OptionalInt64Schema),
	)
	source := connectors.NewStruct("io.debezium.connector.postgresql.Source", false,
		connectors.Opt("connector", connectors.StringSchema),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("lsn", connectors.OptionalInt64Schema),
	)
	env := connectors.NewStruct("db.public.t.Envelope", false,
		connectors.Opt("before", row), connectors.Opt("after", row), connectors.Opt("source", source),
		connectors.Opt("op", connectors.StringSchema), connectors.Opt("ts_ms", connectors.OptionalInt64Schema))
	r := connectors.NewStructValue(row)
	r.Set("id", int64(42)).Set("name", "Ada Lovelace").Set("email", "ada@example.com").Set("age", int32(36)).
		Set("active", true).Set("balance", bigDec("123456", 2)).Set("score", 98.5).Set("created", int64(1700000000123456)).
		Set("city", "London").Set("version", int64(7))
	src := connectors.NewStructValue(source).Set("connector", "postgresql").Set("ts_ms", int64(1700000000000)).Set("lsn", int64(24023128))
	v := connectors.NewStructValue(env).Set("after", r).Set("source", src).Set("op", "c").Set("ts_ms", int64(1700000000500))
	return env, v
}

func BenchmarkEncodeEnvelope(b *testing.B) {
	env, v := benchEnvelope()
	w, err := New(DefaultOptions()).Schema(env)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = w.Append(buf[:0], v); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkEncodeEnvelopeHamba encodes the same record with hamba/avro's
// own encoder from Go structs, the reference the issue compares against.
func BenchmarkEncodeEnvelopeHamba(b *testing.B) {
	env, _ := benchEnvelope()
	w, err := New(DefaultOptions()).Schema(env)
	if err != nil {
		b.Fatal(err)
	}
	type row struct {
		ID      int64    `avro:"id"`
		Name    *string  `avro:"name"`
		Email   *string  `avro:"email"`
		Age     *int32   `avro:"age"`
		Active  *bool    `avro:"active"`
		Balance *[]byte  `avro:"balance"`
		Score   *float64 `avro:"score"`
		Created *int64   `avro:"created"`
		City    *string  `avro:"city"`
		Version *int64   `avro:"version"`
	}
	type source struct {
		Connector string `avro:"connector"`
		TsMs      int64  `avro:"ts_ms"`
		LSN       *int64 `avro:"lsn"`
	}
	type envelope struct {
		Before *row   `avro:"before"`
		After  *row   `avro:"after"`
		Source source `avro:"source"`
		Op     string `avro:"op"`
		TsMs   *int64 `avro:"ts_ms"`
	}
	str := func(s string) *string { return &s }
	i64 := func(i int64) *int64 { return &i }
	age, active, score, bal := int32(36), true, 98.5, []byte{0x01, 0xe2, 0x40}
	v := envelope{After: &row{ID: 42, Name: str("Ada Lovelace"), Email: str("ada@example.com"), Age: &age, Active: &active,
		Balance: &bal, Score: &score, Created: i64(1700000000123456), City: str("London"), Version: i64(7)},
		Source: source{Connector: "postgresql", TsMs: 1700000000000, LSN: i64(24023128)}, Op: "c", TsMs: i64(1700000000500)}
	// The decimal's logical type makes hamba want *big.Rat; encode
	// against the schema without logical types for a like-for-like count
	// of bytes written.
	plain, err := hamba.Parse(stripLogical(w.String()))
	if err != nil {
		b.Fatal(err)
	}
	ours, _ := w.Append(nil, benchValue())
	theirs, err := hamba.Marshal(plain, v)
	if err != nil {
		b.Fatal(err)
	}
	if string(ours) != string(theirs) {
		b.Fatalf("hamba wrote % x\nwe wrote    % x", theirs, ours)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hamba.Marshal(plain, v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func benchValue() *connectors.StructValue {
	_, v := benchEnvelope()
	return v
}

func stripLogical(s string) string {
	for _, lt := range []string{`,"logicalType":"decimal"`} {
		for {
			i := indexOf(s, lt)
			if i < 0 {
				break
			}
			s = s[:i] + s[i+len(lt):]
		}
	}
	return s
}
