package postgres

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// Under exactly-once delivery the runtime commits the offset of the last
// record of a transaction, which ends after a poll: a task started from
// that offset must send exactly the records after it, no more (a
// duplicate) and no fewer (a loss).

// recID identifies a record for these tests: topic, op (or tombstone),
// key, and the stream position (commit LSN, event, part) — not lsn_proc,
// which depends on where the reading started.
func recID(t *testing.T, r *connectors.Record) string {
	t.Helper()
	kind := "tombstone"
	if r.Value != nil {
		if r.ValueSchema != nil && r.ValueSchema.Name == cdc.TxValueName {
			kind = r.Value.(*connectors.StructValue).Get("status").(string)
		} else {
			kind = op(r)
		}
	}
	key := "-"
	if r.Key != nil {
		key = payloadJSON(t, r.KeySchema, r.Key)
	}
	return fmt.Sprintf("%s %s %s", r.Topic, kind, key)
}

// testResumeMidChange resumes streaming from the offset of every record
// of a transaction whose changes yield several records each (BEGIN before
// the first change, delete + tombstone, a key change, a truncate of two
// tables, END): each resumed task sends exactly the records after it.
func testResumeMidChange(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "midchange")
	pg.Exec(t, db, "CREATE TABLE a (id int PRIMARY KEY, v int)", "CREATE TABLE b (id int PRIMARY KEY)",
		"CREATE TABLE marker (id int PRIMARY KEY)")
	p := props(pg, db, "midchange", SnapshotMode, SnapshotNoData, ProvideTxMetadata, "true", MaxBatchSize, "3", SkippedOperations, "none")
	task := startTask(t, p, nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO a VALUES (1, 1), (2, 2)",
		`BEGIN; UPDATE a SET v = 3 WHERE id = 1; UPDATE a SET id = 10 WHERE id = 1; DELETE FROM a WHERE id = 2;
		 INSERT INTO b VALUES (1); TRUNCATE a, b; INSERT INTO a VALUES (5, 5); COMMIT`,
		"INSERT INTO marker VALUES (1)")
	isMarker := func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if strings.HasSuffix(r.Topic, ".marker") && r.Value != nil {
				return true
			}
		}
		return false
	}
	var all []*connectors.Record
	for _, r := range pollUntil(t, task, 30*time.Second, isMarker) {
		if r.Topic != "" {
			all = append(all, r)
		}
	}
	stopTask(t, task)
	// From the END of the first transaction to the marker's BEGIN.
	first, marker := -1, -1
	for i, r := range all {
		if (r.ValueSchema != nil && r.ValueSchema.Name == cdc.TxValueName) && first < 0 && i > 0 {
			first = i
		}
		if strings.HasSuffix(r.Topic, ".marker") {
			marker = i
		}
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, recID(t, r))
	}
	t.Logf("records:\n%s", strings.Join(ids, "\n"))
	parts := 0
	for k := first; k < marker; k++ {
		if all[k].SourceOffset[offEventPart] != nil {
			parts++
		}
		stored := all[k].SourceOffset
		tctx := &taskContext{stored: stored}
		resumed := startTaskCtx(t, p, tctx)
		var got []string
		for _, r := range pollUntil(t, resumed, 30*time.Second, isMarker) {
			if r.Topic != "" {
				got = append(got, recID(t, r))
			}
		}
		stopTask(t, resumed)
		want := upToMarker(ids[k+1:])
		if got = upToMarker(got); strings.Join(got, "\n") != strings.Join(want, "\n") {
			off, _ := json.Marshal(stored)
			t.Fatalf("resumed after record %d (%s, offset %s):\ngot\n%s\nwant\n%s", k, ids[k], off,
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if parts < 5 {
		t.Errorf("%d records of the transaction are a part of a change, want at least 5 (BEGIN, deletes, key change, truncate)", parts)
	}
}

// upToMarker cuts ids after the marker table's row.
func upToMarker(ids []string) []string {
	for i, id := range ids {
		if strings.HasPrefix(id, "srv.public.marker ") {
			return ids[:i+1]
		}
	}
	return ids
}

// testResumeSnapshotMidChunk stops a snapshot (two threads, chunks in
// key order) after a batch that ends inside chunks, resumes it, stops the
// resumed snapshot inside a watermarked chunk, and resumes again: every
// row is read exactly once over the three runs.
func testResumeSnapshotMidChunk(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "midchunk")
	const intRows, textRows = 3000, 1500
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)",
		"CREATE TABLE names (a text NOT NULL, b int NOT NULL, PRIMARY KEY (a, b))",
		fmt.Sprintf("INSERT INTO acct SELECT g, g FROM generate_series(1, %d) g", intRows),
		// Keys with the separators of snapshot_keys in them.
		fmt.Sprintf("INSERT INTO names SELECT 'k:' || (g %% 50) || ',;%%', g FROM generate_series(1, %d) g", textRows),
		"ANALYZE acct", "ANALYZE names")
	p := props(pg, db, "midchunk", SnapshotChunkSize, "400", SnapshotMaxThreads, "2", MaxBatchSize, "37", MaxQueueSize, "100",
		TableIncludeList, "public.acct,public.names")
	reads := map[string]int{}
	count := func(recs []*connectors.Record) {
		for _, r := range data(recs) {
			if op(r) == cdc.OpRead {
				reads[source(r).Get("table").(string)+"|"+payloadJSON(t, r.KeySchema, r.Key)]++
			}
		}
	}
	// Run 1: stop after a batch that ends inside two chunks, once a chunk
	// has finished. (Not after a fixed number of records: under load one
	// thread can run ahead and finish its table early, and then no later
	// batch ends inside two chunks.)
	task := startTask(t, p, nil)
	first := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		off := rs[len(rs)-1].SourceOffset
		keys, _ := off[offSnapshotKeys].(string)
		done, _ := off[offSnapshotChunks].(string)
		return done != "" && strings.Count(keys, ";") >= 1
	})
	stored := first[len(first)-1].SourceOffset
	stopTask(t, task)
	count(first)
	t.Logf("run 1: %d records; finished %v; in progress %v", len(first), stored[offSnapshotChunks], stored[offSnapshotKeys])

	// Run 2: the resumed snapshot, stopped inside a watermarked chunk.
	task2 := startTask(t, p, stored)
	second := pollUntil(t, task2, 60*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		r := rs[len(rs)-1]
		if r.Value == nil || source(r).Get("snapshot") != "incremental" {
			return false
		}
		inc, _ := r.SourceOffset[offIncremental].(bool)
		keys, _ := r.SourceOffset[offSnapshotKeys].(string)
		return inc && keys != "" && keys != stored[offSnapshotKeys]
	})
	stored2 := second[len(second)-1].SourceOffset
	stopTask(t, task2)
	count(second)
	t.Logf("run 2: %d records; finished %v; in progress %v", len(second), stored2[offSnapshotChunks], stored2[offSnapshotKeys])

	// Run 3: to the end of the snapshot.
	task3 := startTask(t, p, stored2)
	third := pollUntil(t, task3, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Value != nil && source(r).Get("snapshot") == "incremental" && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	})
	count(third)
	twice := 0
	for k, n := range reads {
		if n != 1 {
			twice++
			if twice < 10 {
				t.Errorf("%s read %d times", k, n)
			}
		}
	}
	if len(reads) != intRows+textRows {
		t.Errorf("%d rows read, want %d", len(reads), intRows+textRows)
	}
	if twice > 0 {
		t.Errorf("%d rows read more than once", twice)
	}
}
