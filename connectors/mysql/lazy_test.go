package mysql

import (
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
)

// lazyColumns has a column of every kind, nullable and not, and both
// signednesses and every size of integer.
var lazyColumns = []column{
	{name: "id", kind: kInt, size: 4},
	{name: "region", kind: kString, charset: "utf8mb4"},
	{name: "ti", kind: kInt, size: 1, nullable: true},
	{name: "tiu", kind: kInt, size: 1, unsigned: true, nullable: true},
	{name: "si", kind: kInt, size: 2, nullable: true},
	{name: "siu", kind: kInt, size: 2, unsigned: true, nullable: true},
	{name: "mi", kind: kInt, size: 3, nullable: true},
	{name: "miu", kind: kInt, size: 3, unsigned: true, nullable: true},
	{name: "iu", kind: kInt, size: 4, unsigned: true, nullable: true},
	{name: "bi", kind: kInt, size: 8, nullable: true},
	{name: "biu", kind: kInt, size: 8, unsigned: true, nullable: true},
	{name: "dec", kind: kDecimal, precision: 12, scale: 3, nullable: true},
	{name: "dec0", kind: kDecimal, precision: 30, scale: 0, nullable: true},
	{name: "decbig", kind: kDecimal, precision: 38, scale: 10, nullable: true},
	{name: "f", kind: kFloat, nullable: true},
	{name: "dbl", kind: kDouble, nullable: true},
	{name: "bit1", kind: kBit, size: 1, nullable: true},
	{name: "bit12", kind: kBit, size: 12, nullable: true},
	{name: "da", kind: kDate, nullable: true},
	{name: "dan", kind: kDate},
	{name: "tm", kind: kTime, fsp: 6, nullable: true},
	{name: "tm0", kind: kTime, nullable: true},
	{name: "dt", kind: kDatetime, fsp: 6, nullable: true},
	{name: "dt3", kind: kDatetime, fsp: 3, nullable: true},
	{name: "ts", kind: kTimestamp, fsp: 6, nullable: true},
	{name: "ts0", kind: kTimestamp},
	{name: "y", kind: kYear, nullable: true},
	{name: "name", kind: kString, charset: "utf8mb4", nullable: true},
	{name: "fixed", kind: kString, charset: "latin1", fixed: true, nullable: true},
	{name: "bin", kind: kBytes, nullable: true},
	{name: "bin4", kind: kBytes, size: 4, nullable: true},
	{name: "mood", kind: kEnum, values: []string{"ok", "sad"}, nullable: true},
	{name: "tags", kind: kSet, values: []string{"a", "b", "c"}, nullable: true},
	{name: "doc", kind: kJSON, nullable: true},
	{name: "geo", kind: kGeometry, nullable: true},
	{name: "uid", kind: kUUID, nullable: true},
	{name: "ip4", kind: kInet4, nullable: true},
	{name: "ip6", kind: kInet6, nullable: true},
}

func p(s string) []byte { return []byte(s) }

// lazyRowsText are rows of lazyColumns as the server sends them (text
// protocol), nil for NULL.
var lazyRowsText = [][][]byte{
	{p("1"), p("eu"), p("-128"), p("255"), p("-32768"), p("65535"), p("-8388608"), p("16777215"), p("4294967295"),
		p("-9223372036854775808"), p("18446744073709551615"), p("-123456789.125"), p("123456789012345678901234567890"),
		p("-1234567890123456789012345678.0123456789"), p("3.4028235e38"), p("-1.7976931348623157e308"), p("\x01"), p("\x0f\xff"),
		p("1000-01-01"), p("9999-12-31"), p("-838:59:59.000000"), p("838:59:59"), p("1001-02-03 04:05:06.789012"),
		p("2024-02-29 23:59:59.999"), p("2038-01-19 03:14:07.999999"), p("1970-01-01 00:00:01"), p("2155"),
		p("Ada \"Countess\" Lovelace\n\ttab \u2028 \x01 <&>"), p("café"), p("\x00\x01\xff"), p("ab\x00\x00"), p("sad"), p("a,c"),
		p(`{"a": [1, "x"]}`), p("\x00\x00\x00\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\xf0?\x00\x00\x00\x00\x00\x00\x00@"),
		p("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), p("192.168.0.1"), p("2001:db8::1")},
	{p("-2147483648"), p(""), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
		nil, p("0000-00-00"), nil, nil, nil, nil, nil, p("0000-00-00 00:00:00"), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
	{p("0"), p("ünïcödé"), p("0"), p("0"), p("0"), p("0"), p("0"), p("0"), p("0"), p("0"), p("9223372036854775808"), p("-0.000"), p("0"),
		p("0.0000000001"), p("0"), p("-0"), p("\x00"), p("\x00\x00"), p("0000-00-00"), p("1970-01-01"), p("00:00:00.000001"), p("-00:00:01"),
		p("0000-00-00 00:00:00.000000"), p("1969-12-31 23:59:59.999"), p("1969-12-31 23:59:59.000001"), p("2024-01-01 00:00:00"), p("0"),
		p(""), p(""), p(""), p("\x00\x00\x00\x00"), p(""), p(""), p("null"), p("\xe6\x10\x00\x00\x01\x01\x00\x00\x00"),
		p("00000000-0000-0000-0000-000000000000"), p("0.0.0.0"), p("::")},
	// Spellings the server does not write (ZEROFILL aside) but the
	// parsers take.
	{p("+5"), p("x"), p("007"), p("001"), p("-0"), p("00001"), nil, nil, nil, p("+9"), nil, p("5"), p("-007"), p("1.5"), nil, nil,
		nil, nil, nil, p("2000-13-40"), nil, nil, p("2000-02-30 23:59:59"), nil, nil, p("2000-02-30 12:00:00.5"), nil, nil, nil, nil,
		nil, nil, nil, nil, nil, nil, nil, nil},
}

// lazyDescribed is a table of lazyColumns keyed by (region, id) under
// cfg, as describe gives it.
func lazyDescribed(t testing.TB, props map[string]string) (*Config, *cdc.Builder, *described) {
	t.Helper()
	all := map[string]string{Hostname: "h", User: "u", TopicPrefix: "srv", "connector.class": MariaDBClass}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := ParseConfig(all)
	if err != nil {
		t.Fatal(err)
	}
	b := newBuilder(cfg)
	cols := append([]column(nil), lazyColumns...)
	tb := newTable(cfg, b.Source, "shop", "things", cols, []int{1, 0})
	d := &described{db: "shop", name: "things", cols: cols, tb: tb, pk: []int{1, 0}}
	for i := range cols {
		if tb.include[i] {
			d.sel = append(d.sel, cols[i].name)
		}
	}
	d.nval = len(d.sel)
	return cfg, b, d
}

// builtRecord is the record readRows builds for the row raw of d (the
// select list's values), without lazy values.
func builtRecord(cfg *Config, b *cdc.Builder, d *described, src *connectors.StructValue, raw [][]byte) (*connectors.Record, error) {
	tb := d.tb
	after := connectors.NewStructValue(tb.value)
	key := connectors.NewStructValue(tb.keyS)
	for i := range d.cols {
		if !tb.include[i] {
			continue
		}
		v, err := d.cols[i].fromText(raw[tb.pos[i]], cfg.Modes)
		if err != nil {
			return nil, err
		}
		after.Values[tb.pos[i]] = v
	}
	for j, k := range tb.key {
		key.Values[j] = after.Values[tb.pos[k]]
	}
	return b.Change(tb.topic, tb.env, tb.keyS, cdc.OpRead, key, nil, after, src, nil, nil), nil
}

// TestLazyRowsEncodeAsBuilt checks that a lazy snapshot record's JSON and
// Avro are byte for byte those of the record built the usual way, for
// every column kind and each mode and converter setting that changes the
// bytes, and that Build gives the same values.
func TestLazyRowsEncodeAsBuilt(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	jsonSettings := []connectjson.Options{
		{ReplaceNullWithDefault: true, CacheSize: 1000},
		{Schemas: true, ReplaceNullWithDefault: true, CacheSize: 1000},
		{Schemas: true, CacheSize: 1000},
		{DecimalNumeric: true, CacheSize: 1000},
	}
	avroSettings := []avro.Options{avro.DefaultOptions(), {EnhancedSchemaSupport: true}, {ConnectMetaData: true, EnhancedSchemaSupport: true}}
	for _, props := range []map[string]string{
		{},
		{"decimal.handling.mode": "string", "time.precision.mode": "adaptive", "binary.handling.mode": "base64", "bigint.unsigned.handling.mode": "precise"},
		{"decimal.handling.mode": "double", "binary.handling.mode": "hex", "column.exclude.list": `shop\.things\.(f|geo)`},
	} {
		t.Run(fmt.Sprint(props), func(t *testing.T) {
			cfg, b, d := lazyDescribed(t, props)
			b.Now = func() time.Time { return now }
			tb := d.tb
			p := &srcPosition{ts: cdc.TimeBoxes(now), snapshot: cdc.SnapTrue, serverID: int64(0), file: "bin.000001", pos: int64(4)}
			src := sourceValue(b, tb, p)
			plan := newLazyPlan(d, cfg.Modes)
			ls := newLazySource(tb.env, src, now.UnixNano())
			var arena rowArena
			for ri, all := range lazyRowsText {
				raw := make([][]byte, 0, d.nval)
				for i := range d.cols {
					if tb.include[i] {
						raw = append(raw, all[i])
					}
				}
				built, err := builtRecord(cfg, b, d, src, raw)
				if err != nil {
					t.Fatalf("row %d: %v", ri, err)
				}
				env, err := arena.row(plan, raw)
				if err != nil {
					t.Fatalf("row %d: %v", ri, err)
				}
				env.src = ls
				lkey := (*lazyKey)(&env.lazyRow)
				sides := []struct {
					isKey      bool
					schema     *connectors.Schema
					built, lzy any
				}{{true, tb.keyS, built.Key, lkey}, {false, tb.env, built.Value, env}}
				for _, opts := range avroSettings {
					for _, side := range sides {
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
				for _, opts := range jsonSettings {
					for _, side := range sides {
						c := connectjson.New(opts)
						want, err := c.Encode(nil, side.schema, side.built)
						if err != nil {
							t.Fatalf("row %d %+v: encoding the built value: %v", ri, opts, err)
						}
						// Twice: the second time from the source block's cache.
						for range 2 {
							got, err := c.Encode(nil, side.schema, side.lzy)
							if err != nil {
								t.Fatalf("row %d %+v key=%v: encoding the lazy value: %v", ri, opts, side.isKey, err)
							}
							if string(got) != string(want) {
								t.Errorf("row %d %+v key=%v:\nlazy  %s\nbuilt %s", ri, opts, side.isKey, got, want)
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
				if lkey.Size() <= 0 || env.Size() <= 0 {
					t.Errorf("row %d: sizes %d and %d", ri, lkey.Size(), env.Size())
				}
			}
		})
	}
}

// TestLazyRowBadValue checks that a value that does not convert fails
// when read, with the built path's error.
func TestLazyRowBadValue(t *testing.T) {
	cfg, _, d := lazyDescribed(t, nil)
	plan := newLazyPlan(d, cfg.Modes)
	for _, c := range []struct {
		col  int
		text string
	}{{0, "12x"}, {0, "99999999999999999999"}, {3, "-1"}, {11, "12.3.4"}, {11, "1e5"}, {18, "yesterday"}, {22, "2024-01-01"}} {
		raw := append([][]byte(nil), lazyRowsText[0]...)
		raw[c.col] = []byte(c.text)
		var arena rowArena
		_, err := arena.row(plan, raw)
		_, werr := d.cols[c.col].fromText(raw[c.col], cfg.Modes)
		var ve *ValueError
		if !errors.As(err, &ve) || ve.Column != d.cols[c.col].name || werr == nil || err.Error() != werr.Error() {
			t.Errorf("%s = %q: lazy error %v, built error %v", d.cols[c.col].name, c.text, err, werr)
		}
	}
}

// TestLazySnapshotMarker checks that marking one lazy record leaves the
// records sharing its source block alone.
func TestLazySnapshotMarker(t *testing.T) {
	cfg, b, d := lazyDescribed(t, nil)
	p := &srcPosition{ts: cdc.TimeBoxes(time.Now()), snapshot: cdc.SnapTrue, serverID: int64(0), file: "f", pos: int64(4)}
	ls := newLazySource(d.tb.env, sourceValue(b, d.tb, p), 1)
	plan := newLazyPlan(d, cfg.Modes)
	var arena rowArena
	var envs []*lazyEnvelope
	for range 2 {
		e, err := arena.row(plan, lazyRowsText[0])
		if err != nil {
			t.Fatal(err)
		}
		e.src = ls
		envs = append(envs, e)
	}
	markSnapshot(&connectors.Record{Value: envs[0]}, cdc.SnapLast)
	if envs[0].src.src.Values[cdc.SrcSnapshot] != cdc.SnapLast || envs[1].src.src.Values[cdc.SrcSnapshot] != cdc.SnapTrue || envs[1].src != ls {
		t.Errorf("markers: %v and %v", envs[0].src.src.Values[cdc.SrcSnapshot], envs[1].src.src.Values[cdc.SrcSnapshot])
	}
	if envs[0].src.ts != ls.ts {
		t.Errorf("time %d, want %d", envs[0].src.ts, ls.ts)
	}
}

// TestDecimal64 checks the int64 fast path of DECIMAL text against
// connectors.ParseDecimal at the column's scale.
func TestDecimal64(t *testing.T) {
	for _, c := range []struct {
		s     string
		scale int
	}{{"0", 0}, {"-0", 0}, {"0.000", 3}, {"-0.000", 3}, {"1.5", 3}, {"-123456789.125", 3}, {"999999999999999999", 0},
		{"9999999999999999999", 0}, {"99999999999999999.9", 1}, {"1", 18}, {"1", 17}, {"+1", 0}, {"1.", 0}, {".5", 1}, {"1.25", 1},
		{"", 0}, {"-", 0}, {"1e5", 0}, {"1.2.3", 3}, {"12a", 0}, {"--1", 0}} {
		n, ok := decimal64(c.s, c.scale)
		ref, err := connectors.ParseDecimal(c.s)
		if ok {
			if err != nil {
				t.Errorf("%q: fast path took text ParseDecimal refuses: %d", c.s, n)
				continue
			}
			want := new(big.Int).Set(ref.Unscaled)
			for s := ref.Scale; s < int32(c.scale); s++ {
				want.Mul(want, big.NewInt(10))
			}
			if ref.Scale > int32(c.scale) || want.Cmp(big.NewInt(n)) != 0 {
				t.Errorf("%q scale %d: %d, want %v scale %d", c.s, c.scale, n, want, ref.Scale)
			}
		}
		if strings.Count(c.s, ".") > 1 && ok {
			t.Errorf("%q taken", c.s)
		}
	}
}

// BenchmarkLazyRow measures reading a row of the snapshot benchmark's
// table (INT key, VARCHAR, DECIMAL(12,3), DATETIME(6)) and encoding its
// record as JSON, lazy and built.
func BenchmarkLazyRow(b *testing.B) {
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", TopicPrefix: "srv", "connector.class": MariaDBClass})
	if err != nil {
		b.Fatal(err)
	}
	bl := newBuilder(cfg)
	cols := []column{{name: "id", kind: kInt, size: 4}, {name: "s", kind: kString, charset: "utf8mb4", nullable: true},
		{name: "d", kind: kDecimal, precision: 12, scale: 3, nullable: true}, {name: "ts", kind: kDatetime, fsp: 6, nullable: true}}
	tb := newTable(cfg, bl.Source, "snap", "t", cols, []int{0})
	d := &described{db: "snap", name: "t", cols: cols, tb: tb, sel: []string{"id", "s", "d", "ts"}, nval: 4}
	raw := [][]byte{p("1234567"), p("row 1234567"), p("154320.875"), p("2024-01-15 06:56:07.000001")}
	p := &srcPosition{ts: cdc.TimeBoxes(time.Now()), snapshot: cdc.SnapTrue, serverID: int64(0), file: "f", pos: int64(4)}
	src := sourceValue(bl, tb, p)
	jc := connectjson.New(connectjson.Options{CacheSize: 1000})
	for _, lazy := range []bool{true, false} {
		b.Run(fmt.Sprintf("lazy=%v", lazy), func(b *testing.B) {
			plan := newLazyPlan(d, cfg.Modes)
			ls := newLazySource(tb.env, src, time.Now().UnixNano())
			var arena rowArena
			var buf []byte
			for b.Loop() {
				var k, v any
				if lazy {
					e, err := arena.row(plan, raw)
					if err != nil {
						b.Fatal(err)
					}
					e.src = ls
					k, v = (*lazyKey)(&e.lazyRow), e
				} else {
					r, err := builtRecord(cfg, bl, d, src, raw)
					if err != nil {
						b.Fatal(err)
					}
					k, v = r.Key, r.Value
				}
				if buf, err = jc.Encode(buf[:0], tb.keyS, k); err != nil {
					b.Fatal(err)
				}
				if buf, err = jc.Encode(buf, tb.env, v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
