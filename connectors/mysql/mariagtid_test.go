package mysql

import (
	"fmt"
	"testing"
	"time"

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
