package jdbc

import (
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/connectors"
)

// TestAppendNumeric checks the direct numeric encoding against pgx's
// decoder, and that values it does not handle are left to pgx.
func TestAppendNumeric(t *testing.T) {
	m := pgtype.NewMap()
	for _, s := range []string{"0", "0.00", "1", "-1", "10000", "12345.6789", "-0.0001", "0.5", "100.10", "999999999999999",
		"-99999999999999.9", "0.000000000000001", "123456789.012345", "1.00000000", "20000", "-20000.000"} {
		t.Run(s, func(t *testing.T) {
			d, err := connectors.ParseDecimal(s)
			if err != nil {
				t.Fatal(err)
			}
			b, ok := appendNumeric(nil, d)
			if !ok {
				t.Fatalf("appendNumeric(%s) left it to pgx", s)
			}
			if got := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3]); got != len(b)-4 {
				t.Fatalf("length word %d, value %d bytes", got, len(b)-4)
			}
			var n pgtype.Numeric
			if err := m.Scan(pgtype.NumericOID, pgtype.BinaryFormatCode, b[4:], &n); err != nil {
				t.Fatal(err)
			}
			// The same value at the same display scale.
			want := new(big.Int).Set(d.Unscaled)
			got := new(big.Int).Set(n.Int)
			for e := n.Exp; e > -d.Scale; e-- {
				got.Mul(got, big.NewInt(10))
			}
			if got.Cmp(want) != 0 || int(b[10])<<8|int(b[11]) != int(d.Scale) {
				t.Fatalf("decoded %s e%d, dscale %d; want %s", n.Int, n.Exp, int(b[10])<<8|int(b[11]), s)
			}
		})
	}
	for _, d := range []connectors.Decimal{
		{Unscaled: big.NewInt(5), Scale: -2},
		{Unscaled: big.NewInt(math.MaxInt64), Scale: 2},
		// money's minimum, -92233720368547758.08: negating it overflowed
		// and COPY wrote 0.00.
		{Unscaled: big.NewInt(math.MinInt64), Scale: 2},
		{Unscaled: big.NewInt(-maxFastUnscaled), Scale: 0},
		{Unscaled: new(big.Int).Lsh(big.NewInt(1), 70), Scale: 0},
	} {
		if _, ok := appendNumeric(nil, d); ok {
			t.Errorf("appendNumeric(%v) did not leave it to pgx", d)
		}
	}
}

// TestCopyEncoder checks every direct encoding against pgx's encoding of
// the same value, and the fallback to pgx for other pairs.
func TestCopyEncoder(t *testing.T) {
	m := pgtype.NewMap()
	e := &copyEncoder{m: m}
	ts := time.Date(2024, 2, 29, 13, 14, 15, 123456789, time.UTC)
	col := func(k kind) *column { return &column{kind: k} }
	for _, c := range []struct {
		oid uint32
		col *column
		v   any
	}{
		{oidInt8, col(kInt64), int64(-5)},
		{oidInt4, col(kInt64), int64(math.MaxInt32)},
		{oidInt4, col(kInt64), int64(math.MaxInt32) + 1}, // pgx reports it
		{oidInt2, col(kInt64), int64(-300)},
		{pgtype.Float4OID, col(kFloat64), 1.5}, // via pgx
		{oidFloat8, col(kFloat64), math.Copysign(0, -1)},
		{oidBool, col(kBool), true},
		{oidText, col(kString), "héllo"},
		{oidVarchar, col(kString), ""},
		{oidJSONB, col(kJSON), `{"a": 1}`},
		{oidJSON, col(kJSON), `[1, 2]`},
		{oidUUID, col(kUUID), "0b7e5c36-4c8e-4f06-9b5a-8d2a1c3f5e7d"},
		{oidBytea, col(kBytes), []byte{0, 1, 255}},
		{oidTimestamp, col(kTimestamp), ts},
		{oidTimestamp, col(kTimestamp), time.Date(1960, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{oidTimestampTZ, col(kTimestampTZ), ts},
		{oidDate, col(kDate), time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{oidDate, col(kDate), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{oidTime, col(kTime), timeOfDay(13*time.Hour + 5*time.Microsecond)},
		{oidNumeric, col(kDecimal), connectors.Decimal{Unscaled: big.NewInt(-123456), Scale: 3}},
		{oidNumeric, col(kDecimal), connectors.Decimal{Unscaled: new(big.Int).Lsh(big.NewInt(3), 80), Scale: 4}},
		{pgtype.Int8ArrayOID, &column{kind: kArray, elem: col(kInt64)}, []any{int64(1), nil}},
		{oidText, col(kString), nil},
	} {
		t.Run(fmt.Sprintf("%d %T %v", c.oid, c.v, c.v), func(t *testing.T) {
			got, gotErr := e.field(nil, c.col, c.oid, c.v)
			want, wantErr := m.Encode(c.oid, pgtype.BinaryFormatCode, pgValue(c.col, c.v), nil)
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error %v, pgx's %v", gotErr, wantErr)
			}
			if gotErr != nil {
				return
			}
			if c.v == nil {
				if string(got) != "\xff\xff\xff\xff" {
					t.Fatalf("null encoded as % x", got)
				}
				return
			}
			if c.oid == oidNumeric {
				// pgx may strip zero digits differently: compare values.
				var a, b pgtype.Numeric
				if err := m.Scan(c.oid, pgtype.BinaryFormatCode, got[4:], &a); err != nil {
					t.Fatal(err)
				}
				if err := m.Scan(c.oid, pgtype.BinaryFormatCode, want, &b); err != nil {
					t.Fatal(err)
				}
				av, _ := a.Value()
				bv, _ := b.Value()
				if av != bv {
					t.Fatalf("numeric %v, pgx's %v", av, bv)
				}
				return
			}
			if string(got[4:]) != string(want) || int(got[0])<<24|int(got[1])<<16|int(got[2])<<8|int(got[3]) != len(want) {
				t.Fatalf("encoded % x, pgx's % x", got, want)
			}
		})
	}
}

func TestExactEquality(t *testing.T) {
	for typ, want := range map[string]bool{
		"bigint": true, "integer": true, "text": true, "character varying(24)": true, "numeric(10,2)": true,
		"timestamp(6) without time zone": true, "timestamp with time zone": true, "time(3) without time zone": true,
		"uuid": true, "bytea": true, "date": true, "boolean": true,
		"numeric": false, "double precision": false, "real": false, "jsonb": false, "bigint[]": false,
		"numeric(10,2)[]": false, "time with time zone": false,
	} {
		if got := exactEquality(typ); got != want {
			t.Errorf("exactEquality(%q) = %v, want %v", typ, got, want)
		}
	}
}
