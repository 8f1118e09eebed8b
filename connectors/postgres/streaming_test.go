package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// TestStreamingLargeTransactions makes the server stream transactions
// while they run (protocol 2, logical_decoding_work_mem=64kB) and spills
// them to disk on our side (a 100 kB buffer): committed rows arrive once,
// a rolled-back transaction and a rolled-back savepoint leave nothing.
func TestStreamingLargeTransactions(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{Settings: map[string]string{"logical_decoding_work_mem": "64kB"}})
	db := pg.CreateDB(t, "stream")
	pg.Exec(t, db, "CREATE TABLE big (id int PRIMARY KEY, pad text)", "CREATE TABLE marker (id int PRIMARY KEY)")
	task := startTask(t, props(pg, db, "stream", StreamBufferBytes, "100000"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db,
		"INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g",
		"BEGIN; INSERT INTO big SELECT g, repeat('y', 100) FROM generate_series(20001, 30000) g; ROLLBACK",
		"BEGIN; INSERT INTO big SELECT g, 'a' FROM generate_series(30001, 35000) g; SAVEPOINT s;"+
			" INSERT INTO big SELECT g, repeat('b', 100) FROM generate_series(35001, 40000) g; ROLLBACK TO s;"+
			" INSERT INTO big SELECT g, 'c' FROM generate_series(40001, 41000) g; COMMIT",
		"INSERT INTO marker VALUES (1)")
	recs := data(pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "marker", "c") == 1 }))
	seen := map[int32]int{}
	for _, r := range recs {
		if source(r).Get("table") == "big" {
			seen[after(r).Get("id").(int32)]++
		}
	}
	want := 0
	for _, rng := range [][2]int32{{1, 20000}, {30001, 35000}, {40001, 41000}} {
		for id := rng[0]; id <= rng[1]; id++ {
			want++
			if seen[id] != 1 {
				t.Fatalf("id %d seen %d times", id, seen[id])
			}
		}
	}
	if len(seen) != want {
		t.Errorf("%d ids, want %d (aborted rows leaked)", len(seen), want)
	}
	var streamed int64
	if err := pg.Connect(t, db).QueryRow(context.Background(),
		"SELECT stream_txns FROM pg_stat_replication_slots WHERE slot_name = 'stream'").Scan(&streamed); err != nil {
		t.Fatal(err)
	}
	if streamed == 0 {
		t.Errorf("the server streamed no transaction; the test did not exercise protocol 2 streaming")
	}
	last := recs[len(recs)-1]
	commit(t, task, last)
	waitConfirmed(t, pg, db, "stream", uint64(last.SourceOffset[offLSNCommit].(int64)))
}
