package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestChunkedSnapshots covers the snapshots read in chunks while
// streaming: signals (execute-snapshot, stop, pause, resume), the rest of
// an initial snapshot after a restart, and DDL and writes during a
// snapshot. Each checks the last-value-per-key view of the events
// against the tables.
func TestChunkedSnapshots(t *testing.T) {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	t.Run("execute-snapshot under writes", func(t *testing.T) { testSignalSnapshot(t, m) })
	t.Run("stop and pause signals", func(t *testing.T) { testStopPause(t, m) })
	t.Run("Kafka signal", func(t *testing.T) { testKafkaSignal(t, m) })
	t.Run("initial snapshot resumed after a restart", func(t *testing.T) { testSnapshotResume(t, m) })
	t.Run("parallel snapshot under writes, restarted", func(t *testing.T) { testParallelSnapshot(t, m) })
	t.Run("DDL of tables read and not yet read during the snapshot", func(t *testing.T) { testSnapshotDDL(t, m, "a", "c") })
	t.Run("DDL of a table not yet read during the snapshot", func(t *testing.T) { testSnapshotDDL(t, m, "c") })
	t.Run("chunks do not read the GTID position", func(t *testing.T) { testChunkNoGTIDLookup(t, m) })
}

// testChunkNoGTIDLookup snapshots a table in 20 chunks on a signal and
// counts, in the server's general log, the BINLOG_GTID_POS calls made
// meanwhile: none. The function reads the binlog file from its start, so
// one per chunk cost about a second each once the file held 360 MB
// (TestMySQLSysbench's resumed snapshot read 800 rows/s).
func testChunkNoGTIDLookup(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "nogtid")
	m.Exec(t, db, signalTableDDL, "CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a SELECT seq, seq FROM seq_1_to_2000")
	sqlDB := m.Open(t, db)
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, SignalDataCollection, db+".signals", SnapshotChunkSize, "100"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return true })
	m.Exec(t, "", "TRUNCATE mysql.general_log", "SET GLOBAL log_output = 'TABLE'", "SET GLOBAL general_log = 1")
	defer m.Exec(t, "", "SET GLOBAL general_log = 0", "TRUNCATE mysql.general_log")
	signal(t, sqlDB, "execute-snapshot", fmt.Sprintf(`{"data-collections": ["%s\\.a"], "type": "incremental"}`, db))
	recs := pollUntil(t, task, 60*time.Second, func(r []*connectors.Record) bool { return countReads(r, "srv."+db+".a") >= 2000 })
	var chunks, lookups int
	if err := sqlDB.QueryRow("SELECT COUNT(*) FROM mysql.general_log WHERE argument LIKE 'START TRANSACTION WITH CONSISTENT SNAPSHOT%'").Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.QueryRow("SELECT COUNT(*) FROM mysql.general_log WHERE argument LIKE '%BINLOG\\_GTID\\_POS%' AND argument NOT LIKE '%general_log%'").Scan(&lookups); err != nil {
		t.Fatal(err)
	}
	if chunks < 20 {
		t.Errorf("%d chunk transactions in the general log, want at least 20 (2000 rows, chunks of 100)", chunks)
	}
	if lookups != 0 {
		t.Errorf("%d BINLOG_GTID_POS calls while %d chunks were read, want none", lookups, chunks)
	}
	v := newView()
	v.add(t, "srv."+db+".a", recs)
	v.compare(t, "a", tableView(t, sqlDB, "SELECT id, v FROM a", 1))
}

// view is the last value per key of the change events of a topic:
// key text → value text; reads counts op r events per key.
type view struct {
	rows  map[string]string
	reads map[string]int
}

func newView() *view { return &view{rows: map[string]string{}, reads: map[string]int{}} }

// add applies the change records of topic.
func (v *view) add(t *testing.T, topic string, recs []*connectors.Record) {
	t.Helper()
	for _, r := range recs {
		if r.Topic != topic {
			continue
		}
		k := structText(r.Key.(*connectors.StructValue))
		if r.Value == nil {
			delete(v.rows, k)
			continue
		}
		switch opOf(r) {
		case cdc.OpDelete:
			delete(v.rows, k)
		case cdc.OpRead:
			v.reads[k]++
			v.rows[k] = structText(afterOf(r))
		default:
			v.rows[k] = structText(afterOf(r))
		}
	}
}

func structText(s *connectors.StructValue) string {
	parts := make([]string, len(s.Values))
	for i, x := range s.Values {
		if b, ok := x.([]byte); ok {
			x = string(b)
		}
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, "|")
}

// tableView reads a table's rows as the view renders them; cols lists
// the key columns then the others, in the table's column order for
// the value.
func tableView(t *testing.T, db *sql.DB, q string, nkey int) map[string]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]string{}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var key, val []string
		for i, v := range vals {
			s := "<nil>"
			if v.Valid {
				s = v.String
			}
			if i < nkey {
				key = append(key, s)
			}
			val = append(val, s)
		}
		out[strings.Join(key, "|")] = strings.Join(val, "|")
	}
	return out
}

// compare reports differences between the view and the table.
func (v *view) compare(t *testing.T, name string, want map[string]string) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g, ok := v.rows[k]; !ok || g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s: key %s: events say %q (present %v), the table %q", name, k, g, ok, w)
			}
		}
	}
	for k, g := range v.rows {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: key %s: events say %q, the table has no such row", name, k, g)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d keys differ of %d", name, bad, len(want))
	}
}

// writer runs random inserts, updates and deletes on table (id INT, v
// INT) with ids in [1, span] until stopped.
type writer struct {
	stop chan struct{}
	wg   sync.WaitGroup
	n    atomic.Int64
	err  atomic.Value
}

func startWriter(t *testing.T, db *sql.DB, table string, span int) *writer {
	w := &writer{stop: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			id := 1 + rng.IntN(span)
			var q string
			switch rng.IntN(4) {
			case 0:
				q = fmt.Sprintf("INSERT INTO %s (id, v) VALUES (%d, %d) ON DUPLICATE KEY UPDATE v = v + 1", table, id, rng.IntN(1000))
			case 1:
				q = fmt.Sprintf("DELETE FROM %s WHERE id = %d", table, id)
			default:
				q = fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", table, id)
			}
			if _, err := db.Exec(q); err != nil {
				w.err.Store(err)
				return
			}
			w.n.Add(1)
		}
	}()
	return w
}

func (w *writer) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	w.wg.Wait()
	if err, _ := w.err.Load().(error); err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// pollQuiet polls until nothing came for quiet, at most timeout.
func pollQuiet(t *testing.T, task *Task, quiet, timeout time.Duration) []*connectors.Record {
	t.Helper()
	var all []*connectors.Record
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for time.Since(last) < quiet {
		if time.Now().After(deadline) {
			t.Fatalf("still receiving records after %v", timeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := task.Poll(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if len(recs) > 0 {
			last = time.Now()
		}
		all = append(all, recs...)
	}
	return all
}

// lastOffset is the offset of the last record that carries one.
func lastOffset(recs []*connectors.Record) map[string]any {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].SourceOffset != nil {
			return recs[i].SourceOffset
		}
	}
	return nil
}

const signalTableDDL = "CREATE TABLE signals (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data TEXT)"

func signal(t *testing.T, db *sql.DB, kind, data string) {
	t.Helper()
	if _, err := db.Exec("INSERT INTO signals VALUES (?, ?, ?)", fmt.Sprint(time.Now().UnixNano()), kind, data); err != nil {
		t.Fatal(err)
	}
}

// testSignalSnapshot streams without a snapshot, then snapshots three
// tables on a signal (an int key, a composite string/binary key, no
// key) while a writer changes the first: the events give every table's
// rows exactly, each read with source.snapshot incremental.
func testSignalSnapshot(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "sig")
	m.Exec(t, db, signalTableDDL,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)",
		"INSERT INTO a SELECT seq, seq FROM seq_1_to_5000",
		"CREATE TABLE b (s VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, k VARBINARY(8), v INT, PRIMARY KEY (s, k))",
		"INSERT INTO b SELECT CONCAT(CHAR(65 + seq % 26), IF(seq % 2 = 0, 'é', 'e'), seq DIV 26), UNHEX(HEX(seq % 7)), seq FROM seq_1_to_1500",
		"CREATE TABLE c (x INT, y VARCHAR(10))",
		"INSERT INTO c SELECT seq, 'x' FROM seq_1_to_700")
	sqlDB := m.Open(t, db)
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, SignalDataCollection, db+".signals", SnapshotChunkSize, "100",
		MaxQueueSize, "500"), nil)
	w := startWriter(t, sqlDB, "a", 6000)
	time.Sleep(200 * time.Millisecond)
	signal(t, sqlDB, "execute-snapshot", fmt.Sprintf(`{"data-collections": ["%s\\.(a|b|c)"], "type": "incremental"}`, db))
	var recs []*connectors.Record
	pollUntil(t, task, 90*time.Second, func(r []*connectors.Record) bool {
		recs = r
		return countReads(r, "srv."+db+".c") >= 700
	})
	w.finish(t)
	recs = append(recs, pollQuiet(t, task, 2*time.Second, 60*time.Second)...)
	for _, tc := range []struct {
		table, q string
		nkey     int
	}{
		{"a", "SELECT id, v FROM a", 1},
		{"b", "SELECT s, k, v FROM b", 2},
	} {
		v := newView()
		v.add(t, "srv."+db+"."+tc.table, recs)
		v.compare(t, tc.table, tableView(t, sqlDB, tc.q, tc.nkey))
		dups := 0
		for _, n := range v.reads {
			if n > 1 {
				dups++
			}
		}
		if dups > 0 {
			t.Errorf("%s: %d keys read more than once", tc.table, dups)
		}
	}
	if n := countReads(recs, "srv."+db+".c"); n != 700 {
		t.Errorf("keyless table c: %d reads, want 700", n)
	}
	for _, r := range recs {
		if r.Topic != "" && r.Value != nil && opOf(r) == cdc.OpRead {
			if s := sourceOf(r).Values[cdc.SrcSnapshot]; s != cdc.SnapIncremental {
				t.Fatalf("a read marked source.snapshot=%v, want incremental", s)
			}
		}
	}
	if w.n.Load() < 100 {
		t.Errorf("only %d writes ran during the snapshot", w.n.Load())
	}
	if o := lastOffset(recs); o[offsetIncremental] != nil {
		t.Errorf("the offset after the snapshot still has a plan: %v", o)
	}
}

func countReads(recs []*connectors.Record, topic string) int {
	n := 0
	for _, r := range recs {
		if r.Topic == topic && r.Value != nil && opOf(r) == cdc.OpRead {
			n++
		}
	}
	return n
}

// testStopPause pauses a signalled snapshot (no reads while paused, the
// pause survives a restart), resumes it, then stops it.
func testStopPause(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "stop")
	m.Exec(t, db, signalTableDDL,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)",
		"INSERT INTO a SELECT seq, seq FROM seq_1_to_3000")
	sqlDB := m.Open(t, db)
	p := props(m, db, SnapshotMode, SnapshotNoData, SignalDataCollection, db+".signals", SnapshotChunkSize, "10", MaxQueueSize, "50", MaxBatchSize, "50")
	task := startTask(t, p, nil)
	signal(t, sqlDB, "execute-snapshot", fmt.Sprintf(`{"data-collections": ["%s.a"]}`, db))
	recs := pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool { return countReads(r, "srv."+db+".a") >= 100 })
	signal(t, sqlDB, "pause-snapshot", "")
	recs = append(recs, pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool {
		o := lastOffset(r)
		return o != nil && strings.Contains(fmt.Sprint(o[offsetIncremental]), `"paused":true`)
	})...)
	recs = append(recs, pollQuiet(t, task, 1500*time.Millisecond, 30*time.Second)...)
	before := countReads(recs, "srv."+db+".a")
	if before >= 3000 {
		t.Fatalf("the snapshot finished (%d reads) before the pause", before)
	}
	// Paused across a restart.
	stopTask(t, task)
	task = startTask(t, p, lastOffset(recs))
	more := pollQuiet(t, task, 1500*time.Millisecond, 30*time.Second)
	if n := countReads(more, "srv."+db+".a"); n != 0 {
		t.Errorf("%d reads while paused", n)
	}
	recs = append(recs, more...)
	signal(t, sqlDB, "resume-snapshot", "")
	recs = append(recs, pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool { return countReads(r, "srv."+db+".a") >= 200 })...)
	signal(t, sqlDB, "stop-snapshot", fmt.Sprintf(`{"data-collections": ["%s.a"]}`, db))
	recs = append(recs, pollQuiet(t, task, 1500*time.Millisecond, 30*time.Second)...)
	n := countReads(recs, "srv."+db+".a")
	if n >= 3000 {
		t.Errorf("stop-snapshot: all %d rows were read", n)
	}
	if o := lastOffset(recs); o[offsetIncremental] != nil {
		t.Errorf("the offset after stop-snapshot still has a plan: %v", o)
	}
	// Reads went in key order, each key once.
	v := newView()
	v.add(t, "srv."+db+".a", recs)
	for k, c := range v.reads {
		if c > 1 {
			t.Errorf("key %s read %d times", k, c)
		}
	}
}

// testSnapshotResume stops the task in the middle of its initial
// snapshot, under writes, and starts it again from the last offset
// polled: it reads only what was left (plus at most a chunk) and the
// events give the tables exactly.
func testSnapshotResume(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "resume")
	m.Exec(t, db,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a SELECT seq, seq FROM seq_1_to_20000",
		"CREATE TABLE b (id INT PRIMARY KEY, v INT)", "INSERT INTO b SELECT seq, seq FROM seq_1_to_20000",
		"CREATE TABLE c (x INT, y INT)", "INSERT INTO c SELECT seq, seq FROM seq_1_to_300")
	sqlDB := m.Open(t, db)
	p := props(m, db, SnapshotChunkSize, "500", MaxQueueSize, "200", MaxBatchSize, "100")
	task := startTask(t, p, nil)
	w := startWriter(t, sqlDB, "b", 25000)
	recs := pollUntil(t, task, 60*time.Second, func(r []*connectors.Record) bool {
		return countReads(r, "srv."+db+".b") >= 3000
	})
	// Only what is committed survives: cut after the last offset.
	cut := len(recs)
	for cut > 0 && recs[cut-1].SourceOffset == nil {
		cut--
	}
	recs = recs[:cut]
	stopTask(t, task)
	stored := lastOffset(recs)
	if stored["snapshot"] != true || stored[offsetIncremental] == nil {
		t.Fatalf("the offset in the middle of the snapshot says nothing of its progress: %v", stored)
	}
	readA, readB := countReads(recs, "srv."+db+".a"), countReads(recs, "srv."+db+".b")
	task = startTask(t, p, stored)
	more := pollUntil(t, task, 90*time.Second, func(r []*connectors.Record) bool {
		return countReads(r, "srv."+db+".c") >= 300
	})
	w.finish(t)
	more = append(more, pollQuiet(t, task, 2*time.Second, 60*time.Second)...)
	if n := countReads(more, "srv."+db+".a"); n != 0 {
		t.Errorf("table a, read before the restart, read again: %d rows", n)
	}
	// b was read up to a checkpoint; the rest follows.
	if n := countReads(more, "srv."+db+".b"); readB+n > 20000+5000 {
		t.Errorf("table b: %d reads before the restart and %d after: much more than its rows", readB, n)
	}
	all := append(recs, more...)
	for _, tb := range []string{"a", "b"} {
		v := newView()
		v.add(t, "srv."+db+"."+tb, all)
		v.compare(t, tb, tableView(t, sqlDB, "SELECT id, v FROM "+tb, 1))
	}
	if n := countReads(more, "srv."+db+".c"); n != 300 {
		t.Errorf("keyless table c: %d reads after the restart, want 300", n)
	}
	t.Logf("reads before the restart: a %d, b %d; after: b %d; writes %d", readA, readB, countReads(more, "srv."+db+".b"), w.n.Load())
}

// testSnapshotDDL alters tables already read (a) or not yet read (c)
// while the snapshot runs, with a writer going: the ALTERs finish
// promptly (no lock held for long: the snapshot hands over to chunks when
// DDL waits for it, or when it finds a table altered under it) and the
// events give the tables exactly.
func testSnapshotDDL(t *testing.T, m *harness.MariaDB, alter ...string) {
	db := m.CreateDB(t, "ddl")
	m.Exec(t, db,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a SELECT seq, seq FROM seq_1_to_3000",
		"CREATE TABLE b (id INT PRIMARY KEY, v INT)", "INSERT INTO b SELECT seq, seq FROM seq_1_to_20000",
		"CREATE TABLE c (id INT PRIMARY KEY, v INT)", "INSERT INTO c SELECT seq, seq FROM seq_1_to_3000")
	sqlDB := m.Open(t, db)
	p := props(m, db, SnapshotChunkSize, "500", MaxQueueSize, "100", MaxBatchSize, "100")
	task := startTask(t, p, nil)
	w := startWriter(t, sqlDB, "b", 25000)
	recs := pollUntil(t, task, 60*time.Second, func(r []*connectors.Record) bool { return countReads(r, "srv."+db+".b") >= 1000 })
	// A consumer keeps polling, slowly, while the ALTERs run.
	var bg []*connectors.Record
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r, err := task.Poll(ctx)
			cancel()
			if err != nil {
				return
			}
			bg = append(bg, r...)
		}
	}()
	for _, tb := range alter {
		// FORCE rebuilds the table: a snapshot begun before cannot
		// read it any more (ER_TABLE_DEF_CHANGED).
		q := "ALTER TABLE " + tb + " ADD COLUMN z INT DEFAULT 8, FORCE"
		// The snapshot is in the middle of b, a was read, c was not:
		// the ALTERs must not wait for it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		_, err := sqlDB.ExecContext(ctx, q)
		cancel()
		if err != nil {
			t.Fatalf("%s during the snapshot: %v after %v (is a lock held?)", q, err, time.Since(start))
		}
		t.Logf("%s took %v", q, time.Since(start))
	}
	close(stop)
	<-done
	recs = append(recs, bg...)
	recs = append(recs, pollUntil(t, task, 90*time.Second, func(r []*connectors.Record) bool {
		return countReads(r, "srv."+db+".c") >= 3000
	})...)
	w.finish(t)
	recs = append(recs, pollQuiet(t, task, 2*time.Second, 60*time.Second)...)
	v := newView()
	v.add(t, "srv."+db+".b", recs)
	v.compare(t, "b", tableView(t, sqlDB, "SELECT id, v FROM b", 1))
	v = newView()
	v.add(t, "srv."+db+".c", recs)
	v.compare(t, "c", tableView(t, sqlDB, "SELECT id, v, z FROM c", 1))
	if n := countReads(recs, "srv."+db+".a"); n != 3000 {
		t.Errorf("table a: %d reads, want 3000", n)
	}
}

// testParallelSnapshot takes the initial snapshot with
// snapshot.max.threads=2 (chunks of two tables read ahead at once) while
// a writer changes one table, stops the task in the middle and starts it
// from the last offset polled: the events give the tables exactly, and
// rows are read twice only from the chunks after the last offset.
func testParallelSnapshot(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "par")
	m.Exec(t, db,
		"CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a SELECT seq, seq FROM seq_1_to_20000",
		"CREATE TABLE b (id INT PRIMARY KEY, v INT)", "INSERT INTO b SELECT seq, seq FROM seq_1_to_20000",
		"CREATE TABLE c (x INT, y INT)", "INSERT INTO c SELECT seq, seq FROM seq_1_to_300")
	sqlDB := m.Open(t, db)
	p := props(m, db, SnapshotMaxThreads, "2", SnapshotChunkSize, "500", MaxQueueSize, "200", MaxBatchSize, "100")
	task := startTask(t, p, nil)
	w := startWriter(t, sqlDB, "b", 25000)
	recs := pollUntil(t, task, 60*time.Second, func(r []*connectors.Record) bool {
		return countReads(r, "srv."+db+".a")+countReads(r, "srv."+db+".b") >= 10000
	})
	if countReads(recs, "srv."+db+".a") == 0 || countReads(recs, "srv."+db+".b") == 0 {
		t.Errorf("not read in parallel: a %d, b %d reads", countReads(recs, "srv."+db+".a"), countReads(recs, "srv."+db+".b"))
	}
	cut := len(recs)
	for cut > 0 && recs[cut-1].SourceOffset == nil {
		cut--
	}
	recs = recs[:cut]
	stopTask(t, task)
	stored := lastOffset(recs)
	if stored[offsetIncremental] == nil {
		t.Fatalf("the offset in the middle of the snapshot says nothing of its progress: %v", stored)
	}
	task = startTask(t, p, stored)
	more := pollUntil(t, task, 90*time.Second, func(r []*connectors.Record) bool {
		o := lastOffset(r)
		return o != nil && o[offsetIncremental] == nil && countReads(r, "srv."+db+".c") >= 300
	})
	w.finish(t)
	more = append(more, pollQuiet(t, task, 2*time.Second, 60*time.Second)...)
	all := append(recs, more...)
	for _, tb := range []string{"a", "b"} {
		v := newView()
		v.add(t, "srv."+db+"."+tb, all)
		v.compare(t, tb, tableView(t, sqlDB, "SELECT id, v FROM "+tb, 1))
		twice := 0
		for _, n := range v.reads {
			twice += n - 1
		}
		// At most the chunks in flight (2 of 500 rows) and those of the
		// queue (200 rows) after the last offset are read again.
		if twice > 1500 {
			t.Errorf("table %s: %d rows read twice", tb, twice)
		}
		t.Logf("table %s: %d rows read twice across the restart", tb, twice)
	}
	if n := countReads(all, "srv."+db+".c"); n != 300 {
		t.Errorf("keyless table c: %d reads, want 300", n)
	}
	var lastRead *connectors.Record
	for _, r := range all {
		if r.Topic != "" && r.Value != nil && opOf(r) == cdc.OpRead {
			lastRead = r
		}
	}
	if s := sourceOf(lastRead).Values[cdc.SrcSnapshot]; s != cdc.SnapLast {
		t.Errorf("the last read of the snapshot is marked %v, want last", s)
	}
}

// testKafkaSignal asks for a snapshot through the Kafka signal topic (an
// in-process kfake broker): a record keyed by another connector's prefix
// is ignored, the one keyed by topic.prefix snapshots the table, and the
// consumer group's position is committed only once a source offset
// holding the signal's effect is.
func testKafkaSignal(t *testing.T, m *harness.MariaDB) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "srv-signal"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	db := m.CreateDB(t, "ksig")
	m.Exec(t, db, "CREATE TABLE a (id INT PRIMARY KEY, v INT)", "INSERT INTO a SELECT seq, seq FROM seq_1_to_2500",
		"CREATE TABLE b (id INT PRIMARY KEY)", "INSERT INTO b SELECT seq FROM seq_1_to_10")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, SnapshotChunkSize, "1000", SignalEnabledChannels, "kafka",
		SignalKafkaBootstrap, strings.Join(kc.ListenAddrs(), ","), SignalKafkaGroupID, "ksig-group"), nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "srv-signal", Key: []byte("other"), Value: []byte(fmt.Sprintf(`{"type": "execute-snapshot", "data": {"data-collections": ["%s\\.b"]}}`, db))},
		&kgo.Record{Topic: "srv-signal", Key: []byte("srv"), Value: []byte(`not json`)},
		&kgo.Record{Topic: "srv-signal", Key: []byte("srv"), Value: []byte(fmt.Sprintf(`{"type": "execute-snapshot", "data": {"data-collections": ["%s\\.a"], "type": "INCREMENTAL"}}`, db))},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	recs := pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool { return countReads(r, "srv."+db+".a") >= 2500 })
	recs = append(recs, pollQuiet(t, task, time.Second, 20*time.Second)...)
	if n := countReads(recs, "srv."+db+".b"); n != 0 {
		t.Errorf("%d rows of b read: the signal keyed by another prefix was taken", n)
	}
	v := newView()
	v.add(t, "srv."+db+".a", recs)
	for k, n := range v.reads {
		if n != 1 {
			t.Errorf("key %s read %d times", k, n)
		}
	}
	adm := kadm.NewClient(cl)
	groupAt := func() int64 {
		offs, err := adm.FetchOffsets(ctx, "ksig-group")
		if err != nil {
			t.Fatal(err)
		}
		o, ok := offs.Lookup("srv-signal", 0)
		if !ok {
			return -1
		}
		return o.At
	}
	// Nothing was committed on the source side: a crash now would lose
	// the plan, so the signal must be read again.
	time.Sleep(500 * time.Millisecond)
	if at := groupAt(); at > 0 {
		t.Fatalf("the signal group committed position %d before any source offset was", at)
	}
	harness.WaitFor(t, 15*time.Second, "the signal group to commit its position", func() error {
		more, err := task.Poll(ctx)
		if err != nil {
			return err
		}
		recs = append(recs, more...)
		if o := lastOffset(recs); o != nil {
			var part map[string]any
			for _, r := range recs {
				if r.SourcePartition != nil {
					part = r.SourcePartition
				}
			}
			if err := task.Commit(ctx, []connectors.SourceOffset{{Partition: part, Offset: o}}); err != nil {
				return err
			}
		}
		if at := groupAt(); at != 3 {
			return fmt.Errorf("committed %d", at)
		}
		return nil
	})
}
