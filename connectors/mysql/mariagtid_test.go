package mysql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/it/harness"
)

// TestMariaGTIDOfNewServer writes two transactions with a domain and a
// server id new since the task started while the task's queue is full,
// so that go-mysql's syncer reads both before the task decodes the first
// (it caches events ahead): each change still carries its own GTID in
// source.gtid, as @@last_gtid reported it to the writer.
func TestMariaGTIDOfNewServer(t *testing.T) {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	db := m.CreateDB(t, "gtidnew")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	conn := m.Open(t, db)
	conn.SetMaxOpenConns(1)
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, MaxQueueSize, "1"), nil)
	want := map[int32]string{}
	insert := func(id int32, session ...string) {
		t.Helper()
		for _, q := range append(session, fmt.Sprintf("INSERT INTO t VALUES (%d)", id)) {
			if _, err := conn.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var g string
		if err := conn.QueryRow("SELECT @@last_gtid").Scan(&g); err != nil {
			t.Fatal(err)
		}
		want[id] = g
	}
	// The queue holds one record; the task blocks on the second.
	insert(1)
	insert(2)
	insert(3, "SET SESSION gtid_domain_id = 7", "SET SESSION server_id = 77")
	insert(4)
	insert(5)
	time.Sleep(500 * time.Millisecond) // let the syncer read ahead
	recs := changes(pollUntil(t, task, 30*time.Second, nChanges(5)))
	for _, r := range recs {
		id := afterOf(r).Values[0].(int32)
		src := sourceOf(r)
		var got any
		for i, f := range src.Schema.Fields {
			if f.Name == "gtid" {
				got = src.Values[i]
			}
		}
		if got != want[id] {
			t.Errorf("row %d: source.gtid %v, want %s", id, got, want[id])
		}
	}
}

// FuzzGTID feeds mariaGTID arbitrary event bytes and the GTID filter
// arbitrary GTID strings: neither panics, and a decoded MariaDB GTID is
// what gtidSource splits back into its domain-server.
func FuzzGTID(f *testing.F) {
	f.Add([]byte{}, "0-1-2")
	f.Add(make([]byte, replication.EventHeaderSize+13), "3e11fa47-71ca-11e1-9e33-c80aa9429562:7")
	f.Fuzz(func(t *testing.T, raw []byte, gtid string) {
		ev := &replication.BinlogEvent{RawData: raw, Header: &replication.EventHeader{ServerID: 9}}
		if g, err := mariaGTID(ev); err == nil {
			src, ok := gtidSource(g, true)
			if !ok || !strings.HasSuffix(src, "-9") {
				t.Fatalf("gtidSource(%q) = %q, %v", g, src, ok)
			}
		}
		flt := gtidFilter{include: gtidPatterns([]string{"0-1"})}
		flt.skips(gtid, true)
		flt.skips(gtid, false)
	})
}
