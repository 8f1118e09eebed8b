package parquet

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec"
)

// FuzzDecimal: a decimal of any digits and scale, in a column of any
// precision and scale, is either refused with a DataError or written so
// that parquet-go reads back the same number at the column's scale, in
// each of the three physical types.
func FuzzDecimal(f *testing.F) {
	f.Add([]byte{0x30, 0x39}, int8(2), uint8(9), uint8(2))
	f.Add([]byte{0xff}, int8(0), uint8(1), uint8(0))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, int8(4), uint8(18), uint8(4))
	f.Add(bytes.Repeat([]byte{0x7f}, 20), int8(-3), uint8(60), uint8(10))
	f.Fuzz(func(t *testing.T, raw []byte, vscale int8, precision, scale uint8) {
		p := int(precision%70) + 1
		sc := int(scale) % (p + 1)
		cs := connectors.NewStruct("d", false, connectors.Opt("d", decimalSchema(sc, p, false)))
		s, err := NewSchema(cs)
		if err != nil {
			t.Fatal(err)
		}
		d := connectors.Decimal{Unscaled: fromTwosComplement(raw), Scale: int32(vscale)}
		row, err := s.AppendRow(nil, connectors.NewStructValue(cs).Set("d", d))
		if err != nil {
			var de *codec.DataError
			if !errors.As(err, &de) {
				t.Fatalf("%v: not a DataError", err)
			}
			return
		}
		// The exact value at the column's scale.
		want := new(big.Rat).SetFrac(d.Unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(int(vscale)))), nil))
		if vscale < 0 {
			want = new(big.Rat).SetInt(new(big.Int).Mul(d.Unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-int(vscale))), nil)))
		}
		want.Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)))
		if !want.IsInt() {
			t.Fatalf("%s at scale %d written although it has more digits", d.String(), sc)
		}
		var buf bytes.Buffer
		w := pq.NewGenericWriter[any](&buf, s.Parquet())
		if _, err := w.WriteRows([]pq.Row{row}); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file, err := pq.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]pq.Row, 1)
		rr := file.RowGroups()[0].Rows()
		defer rr.Close()
		if n, _ := rr.ReadRows(rows); n != 1 {
			t.Fatal("no row read back")
		}
		v := rows[0][0]
		var got *big.Int
		switch v.Kind() {
		case pq.Int32:
			got = big.NewInt(int64(v.Int32()))
		case pq.Int64:
			got = big.NewInt(v.Int64())
		default:
			got = fromTwosComplement(v.ByteArray())
		}
		if got.Cmp(want.Num()) != 0 {
			t.Fatalf("%s into DECIMAL(%d,%d): read back %s, want %s", d.String(), p, sc, got, want.Num())
		}
	})
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
