package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lastIncremental reports whether rs holds the last row of an incremental
// snapshot (its offset no longer carries the snapshot's chunks).
func lastIncremental(rs []*connectors.Record) bool {
	for _, r := range rs {
		if r.Value != nil && source(r).Get("snapshot") == "incremental" && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
			return true
		}
	}
	return false
}

// incrementalReads counts the op "r" records per id of table tn.
func incrementalReads(t *testing.T, recs []*connectors.Record, tn string) map[int32]int {
	t.Helper()
	reads := map[int32]int{}
	for _, r := range data(recs) {
		if source(r).Get("table") == tn && op(r) == cdc.OpRead {
			reads[after(r).Get("id").(int32)]++
		}
	}
	return reads
}

// testKafkaSignal requests an incremental snapshot through a Kafka signal
// topic (an in-process kfake broker): a record keyed by another
// connector's prefix is ignored, the one keyed by topic.prefix snapshots
// the table, and the consumer group's position is committed only after a
// source offset holding the signal's effect is.
func testKafkaSignal(t *testing.T, pg *harness.Postgres) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "srv-signal"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	db := pg.CreateDB(t, "ksignal")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)", "INSERT INTO t SELECT g, 0 FROM generate_series(1, 3000) g", "ANALYZE t",
		"CREATE TABLE u (id int PRIMARY KEY)", "INSERT INTO u SELECT generate_series(1, 10)",
		"CREATE TABLE w (id int PRIMARY KEY)", "INSERT INTO w SELECT generate_series(1, 5)")
	task := startTask(t, props(pg, db, "ksignal", SnapshotMode, SnapshotNoData, SnapshotChunkSize, "1000",
		SignalEnabledChannels, "source,kafka", SignalKafkaBootstrap, strings.Join(kc.ListenAddrs(), ","),
		SignalKafkaGroupID, "ksignal-group", TableIncludeList, "public.t,public.u,public.w", SlotDropOnStop, "true"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })

	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	value := []byte(`{"type": "execute-snapshot", "data": {"data-collections": ["public\\.t"], "type": "INCREMENTAL"}}`)
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "srv-signal", Key: []byte("other"), Value: []byte(`{"type": "execute-snapshot", "data": {"data-collections": ["public\\.u"]}}`)},
		&kgo.Record{Topic: "srv-signal", Key: []byte("srv"), Value: []byte(`not json`)},
		&kgo.Record{Topic: "srv-signal", Key: []byte("srv"), Value: value},
		// data as a JSON string, as the signal table's column holds it.
		&kgo.Record{Topic: "srv-signal", Key: []byte("srv"), Value: []byte(`{"type": "execute-snapshot", "data": "{\"data-collections\": [\"public\\\\.w\"]}"}`)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	recs := pollUntil(t, task, 30*time.Second, lastIncremental)
	t.Logf("snapshot through the Kafka signal in %v", time.Since(start))
	if n := len(incrementalReads(t, recs, "u")); n != 0 {
		t.Errorf("%d rows of u read: the signal keyed by another prefix was taken", n)
	}
	if n := len(incrementalReads(t, recs, "w")); n != 5 {
		t.Errorf("%d rows of w read, want 5 (signal data given as a JSON string)", n)
	}
	reads := incrementalReads(t, recs, "t")
	if len(reads) != 3000 {
		t.Errorf("%d rows read, want 3000", len(reads))
	}
	for id, n := range reads {
		if n != 1 {
			t.Errorf("id %d read %d times", id, n)
		}
	}
	// A context of its own for what follows, however long the snapshot
	// took.
	ctx, cancel = context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	groupAt := func() int64 {
		offs, err := adm.FetchOffsets(ctx, "ksignal-group")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := offs.Lookup("srv-signal", 0)
		if !ok {
			return -1
		}
		return o.At
	}
	// Nothing was committed on the source side: a crash now would lose the
	// snapshot's plan, so the signals must be read again.
	time.Sleep(500 * time.Millisecond)
	if at := groupAt(); at > 0 {
		t.Fatalf("the signal group committed position %d before any source offset was", at)
	}
	// Writes go on, and the offsets committed are always some records
	// behind the last one emitted, as under a steady load: the signals
	// are answered once an offset after their marker is committed, not
	// when the task has nothing left to commit.
	wctx, stopWriter := context.WithCancel(context.Background())
	writer := make(chan error, 1)
	go func() {
		c := pg.Connect(t, db)
		defer func() { _ = c.Close(context.Background()) }()
		for id := 10001; ; id++ {
			if _, err := c.Exec(wctx, "INSERT INTO t VALUES ($1, 1)", id); err != nil {
				writer <- err
				return
			}
			select {
			case <-wctx.Done():
				writer <- nil
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	defer func() {
		stopWriter()
		if err := <-writer; err != nil && wctx.Err() == nil {
			t.Errorf("writer: %v", err)
		}
	}()
	harness.WaitFor(t, 20*time.Second, "the signal group to commit its position", func() error {
		more, err := task.Poll(ctx)
		if err != nil {
			return err
		}
		recs = append(recs, more...)
		// The offset of the last insert but one.
		seen := 0
		for i := len(recs) - 1; i >= 0; i-- {
			if r := recs[i]; r.SourceOffset != nil && r.Value != nil && !beat(r) && op(r) == cdc.OpCreate {
				if seen++; seen == 2 {
					commit(t, task, r)
					break
				}
			}
		}
		if at := groupAt(); at != 4 {
			return fmt.Errorf("committed %d", at)
		}
		return nil
	})
}

// testPauseResume pauses an incremental snapshot through the signal
// table: no chunk starts while paused but streaming goes on, also after
// the task restarts from an offset taken while paused; resuming reads the
// rest, each row once in each task and every row in all.
func testPauseResume(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "pause")
	const rows, chunk = 5000, 500
	pg.Exec(t, db, "CREATE TABLE p (id int PRIMARY KEY, v int NOT NULL)", "INSERT INTO p SELECT g, 0 FROM generate_series(1, 5000) g",
		"ANALYZE p", "CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))")
	task := startTask(t, props(pg, db, "pause", SnapshotMode, SnapshotNoData, SignalDataCollection, "public.dbz_signal",
		SnapshotChunkSize, "500", TableIncludeList, "public.p"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, `INSERT INTO dbz_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public\\.p"]}')`,
		`INSERT INTO dbz_signal VALUES ('s2', 'pause-snapshot', NULL)`,
		"UPDATE p SET v = 1 WHERE id = 4999")
	// The update follows the pause in the WAL: once it arrives the pause
	// was handled; a chunk already being read may still finish.
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "p", cdc.OpUpdate) == 1 })
	deadline := time.Now().Add(1500 * time.Millisecond)
	pg.Exec(t, db, "UPDATE p SET v = 2 WHERE id = 4998")
	recs = append(recs, pollUntil(t, task, 5*time.Second, func(rs []*connectors.Record) bool { return time.Now().After(deadline) })...)
	paused := len(incrementalReads(t, recs, "p"))
	if countOps(recs, "p", cdc.OpUpdate) != 2 {
		t.Errorf("%d updates streamed while paused, want 2", countOps(recs, "p", cdc.OpUpdate))
	}
	if paused > chunk {
		t.Fatalf("%d rows read after the pause, want at most one chunk (%d)", paused, chunk)
	}

	// Restart from the offset of the second update, taken while paused.
	var stored map[string]any
	for _, r := range data(recs) {
		if op(r) == cdc.OpUpdate && after(r).Get("id") == int32(4998) {
			stored = r.SourceOffset
		}
	}
	if stored[offPaused] != true {
		t.Fatalf("offset taken while paused: %v", stored)
	}
	stopTask(t, task)
	p := props(pg, db, "pause", SnapshotMode, SnapshotNoData, SignalDataCollection, "public.dbz_signal",
		SnapshotChunkSize, "500", TableIncludeList, "public.p")
	task2 := startTask(t, p, stored)
	pollUntil(t, task2, 10*time.Second, func([]*connectors.Record) bool { return task2.replConn.Load() != nil })
	deadline = time.Now().Add(1500 * time.Millisecond)
	pg.Exec(t, db, "UPDATE p SET v = 3 WHERE id = 4997")
	recs2 := pollUntil(t, task2, 5*time.Second, func(rs []*connectors.Record) bool {
		return countOps(rs, "p", cdc.OpUpdate) == 1 && time.Now().After(deadline)
	})
	if n := len(incrementalReads(t, recs2, "p")); n != 0 {
		t.Fatalf("the restarted task read %d rows before resume-snapshot: the pause was lost", n)
	}

	pg.Exec(t, db, `INSERT INTO dbz_signal VALUES ('s3', 'resume-snapshot', NULL)`)
	recs2 = append(recs2, pollUntil(t, task2, 30*time.Second, lastIncremental)...)
	all := map[int32]bool{}
	for i, rs := range [][]*connectors.Record{recs, recs2} {
		for id, n := range incrementalReads(t, rs, "p") {
			all[id] = true
			if n != 1 {
				t.Errorf("task %d read id %d %d times", i+1, id, n)
			}
		}
	}
	if len(all) != rows {
		t.Errorf("%d rows read, want %d", len(all), rows)
	}
	stopTask(t, task2)
	// The server's walsender may outlive the connection for a moment.
	c := pg.Connect(t, db)
	harness.WaitFor(t, 15*time.Second, "slot pause dropped", func() error {
		_, err := c.Exec(context.Background(), "SELECT pg_drop_replication_slot('pause')")
		return err
	})
	t.Logf("%d rows read while paused, %d in all", paused, len(all))
}

// testWatermarkInvisibleCommit reads a chunk while a transaction that
// deleted one of its rows is committed in the WAL, before the chunk's low
// watermark, but not yet visible to new snapshots: a synchronous commit
// waiting for a synchronous standby that never answers stays in that state
// (its backend hands its xid back only once the standby confirmed), as a
// backend preempted between writing its commit record and ending its
// transaction does for a moment on a loaded server. The stream delivers
// the delete before the low watermark, so the window does not see it, yet
// the chunk's query still sees the row: emitted at the high watermark, the
// row would come back after its delete.
func testWatermarkInvisibleCommit(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "wminvis")
	pg.Exec(t, db, "CREATE TABLE w (id int PRIMARY KEY, v int NOT NULL)", "INSERT INTO w SELECT g, 0 FROM generate_series(1, 10) g",
		"CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))")
	logs := &logRecorder{}
	p := props(pg, db, "wminvis", SnapshotMode, SnapshotNoData, SignalDataCollection, "public.dbz_signal",
		TableIncludeList, "public.w")
	tc := &taskContext{logs: logs}
	task := startTaskCtx(t, p, tc)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })

	// Only sessions that ask for synchronous_commit wait for the standby:
	// the server's default here is off.
	pg.Exec(t, db, "ALTER SYSTEM SET synchronous_standby_names = 'sluice_no_such_standby'", "SELECT pg_reload_conf()")
	released := false
	release := func() {
		if !released {
			released = true
			pg.Exec(t, db, "ALTER SYSTEM RESET synchronous_standby_names", "SELECT pg_reload_conf()")
		}
	}
	defer release()
	c := pg.Connect(t, db)
	defer c.Close(context.Background())
	var pid int
	if err := c.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	deleted := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SET synchronous_commit = on; DELETE FROM w WHERE id = 5")
		deleted <- err
	}()
	m := pg.Connect(t, db)
	defer m.Close(context.Background())
	harness.WaitFor(t, 10*time.Second, "the delete to wait for the standby", func() error {
		var ev string
		if err := m.QueryRow(context.Background(), "SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = $1", pid).Scan(&ev); err != nil {
			return err
		}
		if ev != "SyncRep" {
			return fmt.Errorf("wait event %q", ev)
		}
		return nil
	})
	var visible bool
	if err := m.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM w WHERE id = 5)").Scan(&visible); err != nil || !visible {
		t.Fatalf("the waiting delete is visible already (%v, %v): the test sets up nothing", visible, err)
	}
	// The delete reaches the stream, then the signal.
	recs := pollUntil(t, task, 10*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "w", cdc.OpDelete) == 1 })
	pg.Exec(t, db, `INSERT INTO dbz_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public\\.w"]}')`)
	// While the delete stays invisible, no read of the chunk may finish
	// with the row; the task reads it again, less and less often, and
	// after six reads in a row says why it waits.
	const waiting = "most likely waiting for a synchronous standby"
	recs = append(recs, pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		return lastIncremental(rs) || tc.problem(waiting) != ""
	})...)
	if p := tc.problem(waiting); !strings.Contains(p, "incremental snapshot waiting: chunk") {
		t.Errorf("the wait was not reported as a problem: %q (problems %q)", p, tc.problems)
	}
	const again = "snapshot chunk read again: a transaction streamed before its low watermark was not visible to its query yet"
	if logs.count(again) == 0 {
		t.Errorf("the chunk was never read again while the delete was invisible (logs %v)", logs.msgs)
	}
	if n := incrementalReads(t, recs, "w")[5]; n != 0 {
		t.Fatalf("row 5 read %d times after its delete was streamed: the chunk's rows came back after their delete", n)
	}
	// A restart from the last offset, with the snapshot still to read:
	// the new stream starts after the delete's commit and never sees it.
	stored := recs[len(recs)-1].SourceOffset
	stopTask(t, task)
	logs2 := &logRecorder{}
	task2 := startTaskCtx(t, p, &taskContext{stored: stored, logs: logs2})
	defer stopTask(t, task2)
	deadline := time.Now().Add(2 * time.Second)
	recs2 := pollUntil(t, task2, 10*time.Second, func(rs []*connectors.Record) bool {
		return lastIncremental(rs) || time.Now().After(deadline)
	})
	release()
	if err := <-deleted; err != nil {
		t.Fatalf("delete: %v", err)
	}
	if !lastIncremental(recs2) {
		recs2 = append(recs2, pollUntil(t, task2, 20*time.Second, lastIncremental)...)
	}
	if logs2.count("transactions committed but not visible yet: no snapshot chunk is read before they are") == 0 {
		t.Errorf("the restarted task did not see the delete committed but not visible (logs %v)", logs2.msgs)
	}
	reads := incrementalReads(t, recs2, "w")
	if reads[5] != 0 {
		t.Errorf("row 5 read %d times by the restarted task after its delete was streamed", reads[5])
	}
	if len(reads) != 9 {
		t.Errorf("the restarted task read %d rows, want 9: %v", len(reads), reads)
	}
}
