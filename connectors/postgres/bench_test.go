package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

// testCatalog is the types the unit tests and benchmarks build tables of.
func testCatalog() *pgtypes.Catalog {
	b := func(oid uint32, name string) pgtypes.TypeInfo {
		return pgtypes.TypeInfo{OID: oid, Namespace: "pg_catalog", Name: name, Kind: 'b'}
	}
	return pgtypes.NewCatalog(b(16, "bool"), b(21, "int2"), b(23, "int4"), b(20, "int8"), b(25, "text"), b(1043, "varchar"),
		b(1042, "bpchar"), b(2950, "uuid"), b(114, "json"), b(1700, "numeric"), b(701, "float8"), b(1184, "timestamptz"),
		b(1114, "timestamp"), b(1082, "date"),
		pgtypes.TypeInfo{OID: 1007, Namespace: "pg_catalog", Name: "_int4", Kind: 'b', Category: 'A', Elem: 23},
		pgtypes.TypeInfo{OID: 90001, Namespace: "public", Name: "mood", Kind: 'e', Labels: []string{"sad", "ok"}},
		pgtypes.TypeInfo{OID: 90002, Namespace: "public", Name: "posint", Kind: 'd', Base: 23, BaseTypmod: -1})
}

type col struct {
	name   string
	oid    uint32
	typmod int32
	text   string
}

var benchCols = []col{
	{"id", 20, -1, "1234567"},
	{"account", 23, -1, "42"},
	{"name", 1043, 104, "Ada Lovelace"},
	{"email", 25, -1, "ada@example.com"},
	{"balance", 1700, (12<<16 | 2) + 4, "12345.67"},
	{"created", 1184, -1, "2024-02-29 13:14:15.123456+00"},
	{"updated", 1114, -1, "2024-02-29 13:14:15.123456"},
	{"active", 16, -1, "t"},
	{"score", 701, -1, "0.75"},
	{"birthday", 1082, -1, "1990-05-17"},
}

// insertMessage encodes a pgoutput Insert of benchCols.
func insertMessage(relID uint32) []byte {
	m := []byte{'I'}
	m = binary.BigEndian.AppendUint32(m, relID)
	m = append(m, 'N')
	m = binary.BigEndian.AppendUint16(m, uint16(len(benchCols)))
	for _, c := range benchCols {
		m = append(m, 't')
		m = binary.BigEndian.AppendUint32(m, uint32(len(c.text)))
		m = append(m, c.text...)
	}
	return m
}

func beginMessage() []byte {
	m := []byte{'B'}
	m = binary.BigEndian.AppendUint64(m, 1<<32)
	m = binary.BigEndian.AppendUint64(m, 1)
	return binary.BigEndian.AppendUint32(m, 777)
}

// BenchmarkStreamInsert measures the per-row path of the stream: decoding
// a pgoutput Insert of a 10-column row and building its record (key,
// envelope, source block, offset) into the queue.
// The traceparent header (sluice.trace.context.enable, on by default) is
// measured on and off.
func BenchmarkStreamInsert(b *testing.B) {
	for _, trace := range []bool{true, false} {
		b.Run(fmt.Sprintf("trace=%v", trace), func(b *testing.B) { benchStreamInsert(b, trace) })
	}
}

func benchStreamInsert(b *testing.B, trace bool) {
	task, s, msg := benchStreamer(b)
	task.cfg.TraceContext = trace
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.handle(ctx, uint64(i), msg); err != nil {
			b.Fatal(err)
		}
		recs, _, _ := task.queue.Take(nil, 1, &task.prog)
		if len(recs) != 1 || recs[0].Key == nil {
			b.Fatal("no key")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchStreamer returns a task and streamer of the 10-column benchmark
// table inside a transaction, and an Insert message of one row.
func benchStreamer(b *testing.B) (*Task, *streamer, []byte) {
	b.Helper()
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "srv"})
	if err != nil {
		b.Fatal(err)
	}
	cols := make([]colDesc, len(benchCols))
	for i, c := range benchCols {
		cols[i] = colDesc{Name: c.name, TypeOID: c.oid, Typmod: c.typmod, NotNull: i == 0}
	}
	cols[0].KeySeq = 1
	cat := testCatalog()
	tb, err := buildTable(cfg, cat, 16384, "public", "accounts", cols, sourceSchema())
	if err != nil {
		b.Fatal(err)
	}
	task := &Task{cfg: cfg, b: newBuilder(cfg), log: slog.New(slog.DiscardHandler), cat: cat,
		queue: cdc.NewQueue[snapPos](1)}
	tb.envelopeSchema = cdc.EnvelopeSchema(tb.topic+".Envelope", tb.valueSchema, task.b.Source)
	s := newStreamer(task, map[uint32]*table{16384: tb}, offset{})
	ctx := context.Background()
	if err := s.handle(ctx, 1, beginMessage()); err != nil {
		b.Fatal(err)
	}
	return task, s, insertMessage(16384)
}
