package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// readRows reads every row of a Parquet file as parquet-go's reader gives
// them, each converted by s.Value.
func readRows(t *testing.T, s *Schema, b []byte) []any {
	t.Helper()
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		buf := make([]pq.Row, 3)
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				v, verr := s.Value(row)
				if verr != nil {
					t.Fatalf("row %d: %v", len(out), verr)
				}
				out = append(out, v)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		_ = rows.Close()
	}
	return out
}

// TestValueRoundTrip: what AppendRow writes, Value reads back as the same
// Connect value, for every kind of column, nulls, empty and nested lists
// and maps, and a value that is not a struct.
func TestValueRoundTrip(t *testing.T) {
	cs := allTypes()
	full := allValue(cs, 1)
	// A decimal comes back at its column's scale: 1.5 in a column of
	// scale 3 is 1.500.
	full.Get("after").(*connectors.StructValue).Set("dnoprec", dec("1.500"))
	sparse := allValue(cs, 2)
	after := sparse.Get("after").(*connectors.StructValue)
	after.Set("dnoprec", dec("-2.000")).Set("i64", nil).Set("s", nil).Set("raw", nil).Set("d38", nil).Set("vsd", nil).
		Set("tags", nil).Set("attrs", []connectors.MapEntry{}).Set("points", []any{})
	sparse.Set("before", after).Set("ts_ms", nil)

	listOfLists := connectors.NewStruct("lol", false,
		connectors.Opt("m", &connectors.Schema{Type: connectors.Array, Optional: true,
			Items: &connectors.Schema{Type: connectors.Array, Items: connectors.Int32Schema}}),
		connectors.Opt("mm", &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.StringSchema,
			Values: &connectors.Schema{Type: connectors.Map, Optional: true, Keys: connectors.Int32Schema, Values: connectors.OptionalStringSchema}}))
	lol := connectors.NewStructValue(listOfLists).
		Set("m", []any{[]any{int32(1), int32(2)}, []any{}, []any{int32(3)}}).
		Set("mm", []connectors.MapEntry{{Key: "a", Value: []connectors.MapEntry{{Key: int32(1), Value: "x"}, {Key: int32(2), Value: nil}}}, {Key: "b", Value: nil}})
	lolEmpty := connectors.NewStructValue(listOfLists)

	for _, tc := range []struct {
		name   string
		schema *connectors.Schema
		values []any
	}{
		{"envelope", cs, []any{full, sparse}},
		{"nested lists and maps", listOfLists, []any{lol, lolEmpty, lol}},
		{"not a struct", connectors.OptionalStringSchema, []any{"a", nil, "c"}},
		{"debezium fixture", codectest.ValueSchema, func() []any {
			var out []any
			for i := range 5 {
				_, v := codectest.Envelope(i)
				// A null with a default is written as the default
				// (Parquet has no null in a required column).
				if src := v.Get("source").(*connectors.StructValue); src.Get("snapshot") == nil {
					src.Set("snapshot", "false")
				}
				out = append(out, v)
			}
			return out
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchema(tc.schema)
			if err != nil {
				t.Fatal(err)
			}
			got := readRows(t, s, write(t, tc.schema, tc.values...))
			if len(got) != len(tc.values) {
				t.Fatalf("read %d rows, wrote %d", len(got), len(tc.values))
			}
			for i := range got {
				if !codectest.ValuesEqual(got[i], tc.values[i]) {
					t.Errorf("row %d differs at %s", i, diffPath(got[i], tc.values[i]))
				}
			}
		})
	}
}

// TestValueRejectsForeignRow: a row of another schema is an error, not a
// wrong value.
func TestValueRejectsForeignRow(t *testing.T) {
	a, err := NewSchema(connectors.NewStruct("a", false, connectors.Opt("x", connectors.Int32Schema)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSchema(connectors.NewStruct("b", false, connectors.Opt("x", connectors.Int32Schema), connectors.Opt("y", connectors.Int32Schema)))
	if err != nil {
		t.Fatal(err)
	}
	row, err := b.AppendRow(nil, connectors.NewStructValue(b.Connect()).Set("x", int32(1)).Set("y", int32(2)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Value(row); err == nil {
		t.Fatal("a row of two columns decoded with a one-column schema")
	}
	if _, err := b.Value(row[:1]); err == nil {
		t.Fatal("a row missing a column decoded")
	}
}

// diffPath names the first field where got and want differ.
func diffPath(got, want any) string {
	g, ok1 := got.(*connectors.StructValue)
	w, ok2 := want.(*connectors.StructValue)
	if ok1 && ok2 && g != nil && w != nil && len(g.Values) == len(w.Values) {
		for i := range g.Values {
			if !codectest.ValuesEqual(g.Values[i], w.Values[i]) {
				return g.Schema.Fields[i].Name + "." + diffPath(g.Values[i], w.Values[i])
			}
		}
	}
	return fmt.Sprintf("(got %#v, want %#v)", got, want)
}

// TestFromParquet: a file without its Connect schema reads back through
// the schema FromParquet derives from its Parquet schema: decoding each
// row and encoding the value again gives the same row, for every kind of
// column.
func TestFromParquet(t *testing.T) {
	cs := allTypes()
	b := write(t, cs, allValue(cs, 1), allValue(cs, 2))
	f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	derived, err := FromParquet(f.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if derived.Name != cs.Name || len(derived.Fields) != len(cs.Fields) {
		t.Fatalf("derived %s with %d fields", derived.Name, len(derived.Fields))
	}
	s, err := NewSchema(derived)
	if err != nil {
		t.Fatal(err)
	}
	rows := f.RowGroups()[0].Rows()
	defer rows.Close()
	buf := make([]pq.Row, 4)
	n, err := rows.ReadRows(buf)
	if n != 2 || err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read %d rows: %v", n, err)
	}
	for i, row := range buf[:n] {
		v, err := s.Value(row)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		again, err := s.AppendRow(nil, v)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !again.Equal(row) {
			t.Fatalf("row %d changed through FromParquet:\n got %v\nwant %v", i, again, row)
		}
	}
	after := derived.Fields[1].Schema
	for name, want := range map[string]string{"date": connectors.DateName, "ts": connectors.TimestampName, "dbz_microts": "io.debezium.time.MicroTimestamp"} {
		if f, _ := after.Field(name); f.Schema.Name != want {
			t.Errorf("%s: derived %q, want %q", name, f.Schema.Name, want)
		}
	}
}
