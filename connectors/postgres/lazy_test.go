package postgres

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// lazyTable is a table with a two-column key and columns of direct and
// non-direct types, nullable and not.
func lazyTable(t testing.TB) (*builder, *table) {
	t.Helper()
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	cols := []colDesc{
		{Name: "id", TypeOID: 23, Typmod: -1, NotNull: true, KeySeq: 2},
		{Name: "region", TypeOID: 25, Typmod: -1, NotNull: true, KeySeq: 1},
		{Name: "flag", TypeOID: 16, Typmod: -1},
		{Name: "small", TypeOID: 21, Typmod: -1},
		{Name: "big", TypeOID: 20, Typmod: -1},
		{Name: "name", TypeOID: 1043, Typmod: 104},
		{Name: "padded", TypeOID: 1042, Typmod: 12},
		{Name: "uid", TypeOID: 2950, Typmod: -1},
		{Name: "doc", TypeOID: 114, Typmod: -1},
		{Name: "amount", TypeOID: 1700, Typmod: (10<<16 | 2) + 4},
		{Name: "ratio", TypeOID: 701, Typmod: -1},
		{Name: "at", TypeOID: 1184, Typmod: -1},
		{Name: "ints", TypeOID: 1007, Typmod: -1},
		{Name: "mood", TypeOID: 90001, Typmod: -1},
		{Name: "pos", TypeOID: 90002, Typmod: -1},
	}
	b := newBuilder(cfg)
	tb, err := buildTable(cfg, testCatalog(), 16384, "public", "things", cols, b.Source)
	if err != nil {
		t.Fatal(err)
	}
	return b, tb
}

func ptr(s string) []byte { return []byte(s) }

var lazyRows = [][][]byte{
	{ptr("1"), ptr("eu"), ptr("t"), ptr("-32768"), ptr("9223372036854775807"), ptr("Ada \"Countess\" Lovelace\n\ttab"),
		ptr("ab          "), ptr("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), ptr(`{"a": [1, "x"]}`), ptr("-12.34"), ptr("0.75"),
		ptr("2024-02-29 13:14:15.123456+00"), ptr("{1,NULL,3}"), ptr("ok"), ptr("7")},
	{ptr("-2147483648"), ptr("ünïcödé \u2028 \x01 <&>"), ptr("f"), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	// Spellings PostgreSQL does not write but the parser takes: written as
	// the value's one spelling.
	{ptr("+5"), ptr(""), nil, ptr("-0"), ptr("007"), ptr(""), ptr("   "), nil, ptr("null"), ptr("NaN"), ptr("-Infinity"),
		ptr("infinity"), ptr("{}"), ptr("sad"), ptr("0")},
}

// TestLazyRowsEncodeAsBuilt checks that a lazy snapshot record's JSON and
// Avro are byte for byte those of the record built the usual way, for
// each converter setting that changes the bytes, and that Build gives the
// same value.
func TestLazyRowsEncodeAsBuilt(t *testing.T) {
	b, tb := lazyTable(t)
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	b.Now = func() time.Time { return now }
	pos := position{snapshot: cdc.SnapTrue, lsn: 1234, txID: int64(77)}
	pos.ts = cdc.TimeBoxes(now)
	src := b.sourceValue(tb, &pos)
	settings := []connectjson.Options{
		{ReplaceNullWithDefault: true, CacheSize: 1000},
		{Schemas: true, ReplaceNullWithDefault: true, CacheSize: 1000},
		{Schemas: true, CacheSize: 1000},
	}
	avroSettings := []avro.Options{avro.DefaultOptions(), {EnhancedSchemaSupport: true}, {ConnectMetaData: true, EnhancedSchemaSupport: true}}
	var arena rowArena
	for ri, vals := range lazyRows {
		cols := textColumns(nil, vals)
		var sl cdc.Slab
		after, err := tb.rowValue(&sl, cols)
		if err != nil {
			t.Fatalf("row %d: %v", ri, err)
		}
		key, err := tb.rowKey(&sl, cols)
		if err != nil {
			t.Fatalf("row %d: %v", ri, err)
		}
		p := pos
		p.src = src
		built := b.change(tb, cdc.OpRead, key, nil, after, &p, nil, nil)

		env := &lazyEnvelope{src: newLazySource(tb.envelopeSchema, src, cdc.OpRead, now.UnixNano())}
		if err := arena.read(&env.lazyRow, tb, vals); err != nil {
			t.Fatalf("row %d: %v", ri, err)
		}
		lkey := (*lazyKey)(&env.lazyRow)

		for _, opts := range avroSettings {
			for _, side := range []struct {
				isKey      bool
				schema     *connectors.Schema
				built, lzy any
			}{{true, tb.keySchema, built.Key, lkey}, {false, tb.envelopeSchema, built.Value, env}} {
				as, err := avro.New(opts).Schema(side.schema)
				if err != nil {
					t.Fatal(err)
				}
				want, err := as.Append(nil, side.built)
				if err != nil {
					t.Fatalf("row %d avro %+v: encoding the built value: %v", ri, opts, err)
				}
				for range 2 {
					got, err := as.Append(nil, side.lzy)
					if err != nil {
						t.Fatalf("row %d avro %+v key=%v: encoding the lazy value: %v", ri, opts, side.isKey, err)
					}
					if string(got) != string(want) {
						t.Errorf("row %d avro %+v key=%v:\nlazy  %x\nbuilt %x", ri, opts, side.isKey, got, want)
					}
				}
			}
		}
		for _, opts := range settings {
			for _, side := range []struct {
				isKey      bool
				schema     *connectors.Schema
				built, lzy any
			}{{true, tb.keySchema, built.Key, lkey}, {false, tb.envelopeSchema, built.Value, env}} {
				c := connectjson.New(opts)
				want, err := c.Encode(nil, side.schema, side.built)
				if err != nil {
					t.Fatalf("row %d %v: encoding the built value: %v", ri, opts, err)
				}
				// Twice: the second time from the source block's cache.
				for range 2 {
					got, err := c.Encode(nil, side.schema, side.lzy)
					if err != nil {
						t.Fatalf("row %d %v key=%v: encoding the lazy value: %v", ri, opts, side.isKey, err)
					}
					if string(got) != string(want) {
						t.Errorf("row %d %v key=%v:\nlazy  %s\nbuilt %s", ri, opts, side.isKey, got, want)
					}
				}
			}
		}
		benv, err := env.Build()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(benv, built.Value) {
			t.Errorf("row %d: Build() = %v, want %v", ri, benv, built.Value)
		}
		bkey, err := lkey.Build()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(bkey, built.Key) {
			t.Errorf("row %d: key Build() = %v, want %v", ri, bkey, built.Key)
		}
	}
}

// TestLazyRowPoisonValue checks that a value that does not convert fails
// when read, naming its column, as the built path does.
func TestLazyRowPoisonValue(t *testing.T) {
	_, tb := lazyTable(t)
	vals := append([][]byte(nil), lazyRows[0]...)
	for _, c := range []struct {
		col  int
		text string
	}{{0, "12x"}, {3, "40000"}, {2, "yes"}, {9, "12.3.4"}} {
		vals[c.col] = []byte(c.text)
		var arena rowArena
		var row lazyRow
		err := arena.read(&row, tb, vals)
		var ce *ColumnError
		if !errors.As(err, &ce) || ce.Column != tb.cols[c.col].Name {
			t.Errorf("%s = %q: error %v, want a ColumnError naming the column", tb.cols[c.col].Name, c.text, err)
		}
		_, werr := tb.rowValue(&cdc.Slab{}, textColumns(nil, vals))
		if err == nil || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%s = %q: lazy error %v, built error %v", tb.cols[c.col].Name, c.text, err, werr)
		}
		vals[c.col] = lazyRows[0][c.col]
	}
}

// TestLazySnapshotMarker checks that marking one lazy record leaves the
// records sharing its source block alone.
func TestLazySnapshotMarker(t *testing.T) {
	b, tb := lazyTable(t)
	pos := position{snapshot: cdc.SnapTrue}
	pos.ts = cdc.TimeBoxes(time.Now())
	ls := newLazySource(tb.envelopeSchema, b.sourceValue(tb, &pos), cdc.OpRead, 1)
	var arena rowArena
	e1, e2 := &lazyEnvelope{src: ls}, &lazyEnvelope{src: ls}
	for _, e := range []*lazyEnvelope{e1, e2} {
		if err := arena.read(&e.lazyRow, tb, lazyRows[0]); err != nil {
			t.Fatal(err)
		}
	}
	r1 := &connectors.Record{Value: e1}
	setSnapshotMarker(r1, cdc.SnapLast)
	if e1.src.src.Values[cdc.SrcSnapshot] != cdc.SnapLast || e2.src.src.Values[cdc.SrcSnapshot] != cdc.SnapTrue || e2.src != ls {
		t.Errorf("markers: %v and %v", e1.src.src.Values[cdc.SrcSnapshot], e2.src.src.Values[cdc.SrcSnapshot])
	}
	if e1.src.op != ls.op || e1.src.ts != ls.ts {
		t.Errorf("op and time %s %d, want %s %d", e1.src.op, e1.src.ts, ls.op, ls.ts)
	}
}

// BenchmarkLazyEncode measures encoding one snapshot record (key and
// value) of lazyTable's first row, lazy and built, per format.
func BenchmarkLazyEncode(b *testing.B) {
	bl, tb := lazyTable(b)
	pos := position{snapshot: cdc.SnapTrue, lsn: 1234, txID: int64(77)}
	pos.ts = cdc.TimeBoxes(time.Now())
	ls := newLazySource(tb.envelopeSchema, bl.sourceValue(tb, &pos), cdc.OpRead, time.Now().UnixNano())
	var arena rowArena
	env := &lazyEnvelope{src: ls}
	if err := arena.read(&env.lazyRow, tb, lazyRows[0]); err != nil {
		b.Fatal(err)
	}
	key := (*lazyKey)(&env.lazyRow)
	type enc func(dst []byte, s *connectors.Schema, v any) ([]byte, error)
	jc := connectjson.New(connectjson.Options{ReplaceNullWithDefault: true, CacheSize: 1000})
	ac := avro.New(avro.DefaultOptions())
	avroEnc := func(dst []byte, s *connectors.Schema, v any) ([]byte, error) {
		as, err := ac.Schema(s)
		if err != nil {
			return dst, err
		}
		return as.Append(dst, v)
	}
	for _, f := range []struct {
		name string
		enc  enc
	}{{"json", jc.Encode}, {"avro", avroEnc}} {
		for _, lazy := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/lazy=%v", f.name, lazy), func(b *testing.B) {
				var buf []byte
				var err error
				for b.Loop() {
					var k, v any = key, env
					if !lazy {
						if k, err = key.Build(); err != nil {
							b.Fatal(err)
						}
						if v, err = env.Build(); err != nil {
							b.Fatal(err)
						}
					}
					if buf, err = f.enc(buf[:0], tb.keySchema, k); err != nil {
						b.Fatal(err)
					}
					if buf, err = f.enc(buf, tb.envelopeSchema, v); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}
