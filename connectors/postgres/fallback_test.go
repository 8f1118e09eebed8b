package postgres

import (
	"reflect"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// TestKeyOnlyOldTupleFallbacks: the old tuple of a delete under REPLICA
// IDENTITY DEFAULT holds only the key; the before image still has to be
// a valid struct. NOT NULL columns get Debezium's fallback (the zero of
// their type), nullable ones stay null, and the JSON converter writes it.
// Before the fix the before image had nulls in required fields and the
// converter failed the task ("null value for a required string field").
func TestKeyOnlyOldTupleFallbacks(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	cols := []colDesc{
		{Name: "id", TypeOID: 23, Typmod: -1, NotNull: true, KeySeq: 1},
		{Name: "item", TypeOID: 25, Typmod: -1, NotNull: true},
		{Name: "qty", TypeOID: 20, Typmod: -1, NotNull: true},
		{Name: "small", TypeOID: 21, Typmod: -1, NotNull: true},
		{Name: "flag", TypeOID: 16, Typmod: -1, NotNull: true},
		{Name: "amount", TypeOID: 1700, Typmod: (10<<16 | 2) + 4, NotNull: true},
		{Name: "anynum", TypeOID: 1700, Typmod: -1, NotNull: true},
		{Name: "ratio", TypeOID: 701, Typmod: -1, NotNull: true},
		{Name: "at", TypeOID: 1184, Typmod: -1, NotNull: true},
		{Name: "day", TypeOID: 1082, Typmod: -1, NotNull: true},
		{Name: "uid", TypeOID: 2950, Typmod: -1, NotNull: true},
		{Name: "doc", TypeOID: 114, Typmod: -1, NotNull: true},
		{Name: "ints", TypeOID: 1007, Typmod: -1, NotNull: true},
		{Name: "mood", TypeOID: 90001, Typmod: -1, NotNull: true},
		{Name: "note", TypeOID: 25, Typmod: -1},
	}
	tb, err := buildTable(cfg, testCatalog(), 16384, "public", "orders", cols, newBuilder(cfg).Source)
	if err != nil {
		t.Fatal(err)
	}
	old := make([]pgoutput.Column, len(cols))
	old[0] = pgoutput.Column{Kind: pgoutput.KindText, Data: []byte("7")}
	for i := 1; i < len(old); i++ {
		old[i] = pgoutput.Column{Kind: pgoutput.KindNull}
	}
	var sl cdc.Slab
	before, err := tb.rowValue(&sl, old)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": int32(7), "item": "", "qty": int64(0), "small": int16(0), "flag": false,
		"ratio": float64(0), "at": "1970-01-01T00:00:00Z", "day": int32(0),
		"uid": "", "doc": "", "ints": []any{}, "mood": "", "note": nil,
	}
	for name, w := range want {
		if got := before.Get(name); !reflect.DeepEqual(got, w) {
			t.Errorf("before.%s = %#v, want %#v", name, got, w)
		}
	}
	if d, ok := before.Get("amount").(connectors.Decimal); !ok || d.String() != "0.00" {
		t.Errorf("before.amount = %#v, want the decimal 0.00", before.Get("amount"))
	}
	if v, ok := before.Get("anynum").(*connectors.StructValue); !ok || v.Get("scale") != int32(0) || !reflect.DeepEqual(v.Get("value"), []byte{0}) {
		t.Errorf("before.anynum = %#v, want VariableScaleDecimal zero", before.Get("anynum"))
	}
	if _, err := connectjson.New(connectjson.DefaultOptions()).Encode(nil, tb.valueSchema, before); err != nil {
		t.Errorf("encoding the before image: %v", err)
	}
	// A nullable column that is null, and a row carrying every column,
	// are as they were.
	full := make([]pgoutput.Column, len(cols))
	for i, s := range []string{"7", "x", "1", "2", "t", "1.50", "3.25", "0.5", "2024-02-29 13:14:15+00", "2024-02-29",
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{}", "{1}", "ok"} {
		full[i] = pgoutput.Column{Kind: pgoutput.KindText, Data: []byte(s)}
	}
	full[len(full)-1] = pgoutput.Column{Kind: pgoutput.KindNull}
	after, err := tb.rowValue(&sl, full)
	if err != nil {
		t.Fatal(err)
	}
	if after.Get("item") != "x" || after.Get("note") != nil || after.Get("qty") != int64(1) {
		t.Errorf("full row: item %v, note %v, qty %v", after.Get("item"), after.Get("note"), after.Get("qty"))
	}
}
