package postgres

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// BenchmarkLazyEncodePgbench encodes the key and envelope of a snapshot
// row of pgbench_accounts (the table BenchmarkPostgresSnapshot reads) to
// JSON with schemas, from the lazy row.
func BenchmarkLazyEncodePgbench(b *testing.B) {
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "srv"})
	if err != nil {
		b.Fatal(err)
	}
	cols := []colDesc{
		{Name: "aid", TypeOID: 23, Typmod: -1, NotNull: true, KeySeq: 1},
		{Name: "bid", TypeOID: 23, Typmod: -1},
		{Name: "abalance", TypeOID: 23, Typmod: -1},
		{Name: "filler", TypeOID: 1042, Typmod: 84 + 4},
	}
	bl := newBuilder(cfg)
	tb, err := buildTable(cfg, testCatalog(), 16384, "public", "pgbench_accounts", cols, bl.Source)
	if err != nil {
		b.Fatal(err)
	}
	pos := position{snapshot: cdc.SnapTrue, lsn: 1234, txID: int64(77)}
	pos.ts = cdc.TimeBoxes(time.Now())
	ls := newLazySource(tb.envelopeSchema, bl.sourceValue(tb, &pos), cdc.OpRead, time.Now().UnixNano())
	var arena rowArena
	env := &lazyEnvelope{src: ls}
	row := [][]byte{[]byte("4711"), []byte("1"), []byte("0"), []byte(strings.Repeat(" ", 84))}
	if err := arena.read(&env.lazyRow, tb, row); err != nil {
		b.Fatal(err)
	}
	key := (*lazyKey)(&env.lazyRow)
	jc := connectjson.New(connectjson.Options{ReplaceNullWithDefault: true, CacheSize: 1000})
	var buf []byte
	for b.Loop() {
		if buf, err = jc.Encode(buf[:0], tb.keySchema, key); err != nil {
			b.Fatal(err)
		}
		if buf, err = jc.Encode(buf, tb.envelopeSchema, env); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
