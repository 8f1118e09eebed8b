package cdc

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

func fieldNames(s *connectors.Schema) string {
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	return strings.Join(names, ",")
}

// TestSourceSchemaTakesTheConnectorsFields builds MySQL's source block:
// the common fields first, at the Src* positions, then the connector's.
func TestSourceSchemaTakesTheConnectorsFields(t *testing.T) {
	s := SourceSchema("io.debezium.connector.mysql.Source",
		connectors.Opt("table", connectors.OptionalStringSchema),
		connectors.Opt("server_id", connectors.Int64Schema),
		connectors.Opt("gtid", connectors.OptionalStringSchema),
		connectors.Opt("file", connectors.StringSchema),
		connectors.Opt("pos", connectors.Int64Schema),
		connectors.Opt("row", connectors.Int32Schema),
		connectors.Opt("thread", connectors.OptionalInt64Schema),
		connectors.Opt("query", connectors.OptionalStringSchema))
	want := "version,connector,name,ts_ms,snapshot,db,sequence,ts_us,ts_ns,table,server_id,gtid,file,pos,row,thread,query"
	if got := fieldNames(s); got != want {
		t.Errorf("fields %s\nwant %s", got, want)
	}
	if s.Version != 1 || s.Optional {
		t.Errorf("version %d optional %v, want 1 and required", s.Version, s.Optional)
	}
	for i, name := range map[int]string{SrcVersion: "version", SrcSnapshot: "snapshot", SrcSequence: "sequence", SrcTsNs: "ts_ns", SrcSpecific: "table"} {
		if s.Fields[i].Name != name {
			t.Errorf("field %d is %s, want %s", i, s.Fields[i].Name, name)
		}
	}
	snap := s.Fields[SrcSnapshot].Schema
	if snap.Name != EnumName || snap.Default != SnapFalse || snap.Parameters[EnumAllowedParam] != "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental" {
		t.Errorf("snapshot field %+v", snap)
	}
	env := EnvelopeSchema("p.db.t.Envelope", connectors.NewStruct("p.db.t.Value", true), s)
	if got := fieldNames(env); got != "before,after,source,transaction,op,ts_ms,ts_us,ts_ns" || env.Version != 2 {
		t.Errorf("envelope %s v%d", got, env.Version)
	}
	if tx := env.Fields[EnvTransaction].Schema; tx.Name != TransactionSchemaName || !tx.Optional || fieldNames(tx) != "id,total_order,data_collection_order" {
		t.Errorf("transaction block %s %s", tx.Name, fieldNames(tx))
	}
}

func TestBuilderRecords(t *testing.T) {
	src := SourceSchema("x.Source", connectors.Opt("table", connectors.StringSchema))
	part := map[string]any{"server": "p"}
	b := NewBuilder("9.9", "mysql", "p", src, part)
	now := time.UnixMilli(1700000000123)
	b.Now = func() time.Time { return now }
	ts := TimeBoxes(time.Unix(1, 5000))
	if ts.Ms != int64(1000) || ts.Us != int64(1000005) || ts.Ns != int64(1000005000) {
		t.Fatalf("time boxes %+v", ts)
	}
	sv := b.SourceValue(ts, "", "inventory")
	sv.Values[SrcSpecific] = "orders"
	want := []any{"9.9", "mysql", "p", int64(1000), SnapFalse, "inventory", nil, int64(1000005), int64(1000005000), "orders"}
	for i, w := range want {
		if sv.Values[i] != w {
			t.Errorf("source field %s = %v, want %v", src.Fields[i].Name, sv.Values[i], w)
		}
	}
	if v := b.SourceValue(ts, SnapLast, "db").Values[SrcSnapshot]; v != SnapLast {
		t.Errorf("snapshot marker %v", v)
	}

	value := connectors.NewStruct("p.db.t.Value", true, connectors.Opt("id", connectors.Int32Schema))
	keySchema := connectors.NewStruct("p.db.t.Key", false, connectors.Opt("id", connectors.Int32Schema))
	env := EnvelopeSchema("p.db.t.Envelope", value, src)
	key := connectors.NewStructValue(keySchema)
	after := connectors.NewStructValue(value)
	off := map[string]any{"pos": int64(4)}
	r := b.Change("p.db.t", env, keySchema, OpCreate, key, nil, after, sv, TransactionBlock("tx1", 3, 2), off)
	e := r.Value.(*connectors.StructValue)
	if e.Values[EnvBefore] != nil || e.Values[EnvAfter] != after || e.Values[EnvSource] != sv || e.Values[EnvOp] != OpCreate ||
		e.Values[EnvTsMs] != int64(1700000000123) || e.Values[EnvTsNs] != now.UnixNano() {
		t.Errorf("envelope values %v", e.Values)
	}
	if tx := e.Values[EnvTransaction].(*connectors.StructValue); tx.Values[0] != "tx1" || tx.Values[1] != int64(3) || tx.Values[2] != int64(2) {
		t.Errorf("transaction block %v", tx.Values)
	}
	if r.Topic != "p.db.t" || r.Partition != -1 || r.Key != key || r.KeySchema != keySchema || r.ValueSchema != env ||
		!r.Timestamp.Equal(now) || r.SourceOffset["pos"] != int64(4) || r.SourcePartition["server"] != "p" {
		t.Errorf("record %+v", r)
	}
	if r := b.Change("p.db.t", env, keySchema, OpTruncate, nil, nil, nil, sv, nil, nil); r.Key != nil || r.KeySchema != nil {
		t.Errorf("keyless change has key %v %v", r.Key, r.KeySchema)
	}

	tomb := b.Tombstone("p.db.t", keySchema, key, off)
	if tomb.Value != nil || tomb.ValueSchema != nil || tomb.Key != key || tomb.Topic != "p.db.t" {
		t.Errorf("tombstone %+v", tomb)
	}

	hb := b.Heartbeat(off)
	if hb.Topic != "__debezium-heartbeat.p" || hb.KeySchema.Name != HeartbeatKeyName || hb.ValueSchema.Name != HeartbeatValueName ||
		hb.Key.(*connectors.StructValue).Values[0] != "p" || hb.Value.(*connectors.StructValue).Values[0] != int64(1700000000123) {
		t.Errorf("heartbeat %+v", hb)
	}
}

func TestTransactionEvents(t *testing.T) {
	b := NewBuilder("1", "postgresql", "srv", SourceSchema("s"), map[string]any{"server": "srv"})
	commit := time.UnixMilli(42)
	begin := b.Transaction(TxBegin, "7:99", commit, 3, nil, nil)
	v := begin.Value.(*connectors.StructValue)
	if begin.Topic != "srv.transaction" || begin.Key.(*connectors.StructValue).Values[0] != "7:99" ||
		v.Values[0] != TxBegin || v.Values[1] != "7:99" || v.Values[2] != nil || v.Values[3] != nil || v.Values[4] != int64(42) {
		t.Errorf("BEGIN %v", v.Values)
	}
	end := b.Transaction(TxEnd, "7:99", commit, 3, []TxCount{{"public.a", 2}, {"public.b", 1}}, map[string]any{"lsn": 1})
	v = end.Value.(*connectors.StructValue)
	cols := v.Values[3].([]any)
	if v.Values[0] != TxEnd || v.Values[2] != int64(3) || len(cols) != 2 || end.SourceOffset["lsn"] != 1 {
		t.Fatalf("END %v", v.Values)
	}
	if c := cols[1].(*connectors.StructValue); c.Values[0] != "public.b" || c.Values[1] != int64(1) || c.Schema.Name != TxCollectionName {
		t.Errorf("data collection %v", c.Values)
	}
	if end.KeySchema.Name != TxKeyName || end.ValueSchema.Name != TxValueName {
		t.Errorf("schemas %s %s", end.KeySchema.Name, end.ValueSchema.Name)
	}
}

// TestSlabCarvesDistinctStructs checks that the structs a slab hands
// out never share values, across its refills.
func TestSlabCarvesDistinctStructs(t *testing.T) {
	s := connectors.NewStruct("v", false, connectors.Opt("a", connectors.Int32Schema), connectors.Opt("b", connectors.Int32Schema))
	var sl Slab
	var all []*connectors.StructValue
	for i := 0; i < 3*slabRows; i++ {
		v := sl.NewStruct(s)
		if v.Schema != s || len(v.Values) != 2 || cap(v.Values) != 2 || v.Values[0] != nil {
			t.Fatalf("struct %d: %+v", i, v)
		}
		v.Values[0], v.Values[1] = i, -i
		all = append(all, v)
	}
	for i, v := range all {
		if v.Values[0] != i || v.Values[1] != -i {
			t.Fatalf("struct %d overwritten: %v", i, v.Values)
		}
	}
}
