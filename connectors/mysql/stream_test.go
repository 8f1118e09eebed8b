package mysql

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// testChanges covers update, delete with its tombstone, a key change, a
// table without a key, DDL between changes and the source block.
func testChanges(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "changes")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE nokey (v VARCHAR(10))")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData), nil)
	m.Exec(t, db, "INSERT INTO t VALUES (1, 'a')", "UPDATE t SET v = 'b' WHERE id = 1", "UPDATE t SET id = 2 WHERE id = 1",
		"DELETE FROM t WHERE id = 2", "INSERT INTO nokey VALUES ('n')",
		"ALTER TABLE t ADD COLUMN w INT DEFAULT 7", "INSERT INTO t (id, v) VALUES (3, 'c')",
		"BEGIN; SAVEPOINT a; INSERT INTO t (id, v) VALUES (4, 's'); INSERT INTO t (id, v) VALUES (5, 's'); COMMIT")
	recs := pollUntil(t, task, 30*time.Second, nChanges(9))
	// The savepoint does not end the transaction: the offset of its
	// first row is still inside it.
	for _, r := range recs {
		if q := sourceOf2(r); q != nil {
			t.Errorf("source.query %v without include.query", q)
		}
		if r.Topic != "" && r.Value != nil && afterOf(r) != nil && afterOf(r).Values[0] == int32(4) {
			if r.SourceOffset["tx_gtid"] == nil || r.SourceOffset["event"] != int64(1) {
				t.Errorf("offset of the first row after a savepoint: %v", r.SourceOffset)
			}
		}
	}
	var got []string
	tombstones := 0
	for _, r := range recs {
		if r.Topic == "" {
			continue
		}
		if r.Value == nil {
			tombstones++
			got = append(got, "tombstone "+payload(t, r.KeySchema, r.Key))
			continue
		}
		e := envOf(r)
		line := opOf(r)
		for _, f := range []int{cdc.EnvBefore, cdc.EnvAfter} {
			if v, ok := e.Values[f].(*connectors.StructValue); ok {
				line += " " + payload(t, v.Schema, v)
			} else {
				line += " null"
			}
		}
		got = append(got, line)
		src := sourceOf(r)
		if src.Values[srcTable] != r.Topic[strings.LastIndexByte(r.Topic, '.')+1:] || src.Values[srcServerID] != int64(1) ||
			src.Values[srcGTID] == nil || !strings.HasPrefix(src.Values[srcFile].(string), "binlog.") || src.Values[srcPos].(int64) <= 4 ||
			src.Values[cdc.SrcSnapshot] != cdc.SnapFalse || src.Values[cdc.SrcConnector] != "mysql" || src.Values[cdc.SrcDB] != db {
			t.Errorf("source block %v", src.Values)
		}
	}
	want := []string{
		`c null {"id":1,"v":"a"}`,
		`u {"id":1,"v":"a"} {"id":1,"v":"b"}`,
		`d {"id":1,"v":"b"} null`, `tombstone {"id":1}`, `c null {"id":2,"v":"b"}`,
		`d {"id":2,"v":"b"} null`, `tombstone {"id":2}`,
		`c null {"v":"n"}`,
		`c null {"id":3,"v":"c","w":7}`,
		`c null {"id":4,"v":"s","w":7}`,
		`c null {"id":5,"v":"s","w":7}`,
	}
	// message.key.columns keys the key-less table by its column.
	keyed := startTask(t, props(m, db, SnapshotMode, SnapshotInitialOnly, MessageKeyColumns, `changes_\d+\.nokey:v`, TableIncludeList, `.*\.nokey`), nil)
	kr := changes(pollUntil(t, keyed, 20*time.Second, nChanges(1)))
	if got := payload(t, kr[0].KeySchema, kr[0].Key); got != `{"v":"n"}` {
		t.Errorf("message.key.columns key %s", got)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// testRestartMidTx stops the task in the middle of a transaction of many
// rows events, as a crash after the runtime committed the offset of the
// last record it had acknowledged, and checks that the next task sends
// exactly the rest.
func testRestartMidTx(t *testing.T, m *harness.MariaDB, meta bool) {
	const rows = 3000
	db := m.CreateDB(t, "midtx")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(200))", "CREATE TABLE u (id INT PRIMARY KEY)")
	p := props(m, db, SnapshotMode, SnapshotNoData, MaxBatchSize, "100", ProvideTxMetadata, fmt.Sprint(meta))
	task := startTask(t, p, nil)
	// Wait for the task to stream before writing.
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return true })
	var stmts []string
	stmts = append(stmts, "BEGIN")
	for i := 0; i < rows; i += 500 {
		var vals []string
		for j := i; j < i+500; j++ {
			vals = append(vals, fmt.Sprintf("(%d, REPEAT('x', 150))", j))
		}
		stmts = append(stmts, "INSERT INTO t VALUES "+strings.Join(vals, ","), fmt.Sprintf("INSERT INTO u VALUES (%d)", i))
	}
	stmts = append(stmts, "UPDATE t SET pad = 'y' WHERE id < 100", "DELETE FROM t WHERE id >= 2900", "COMMIT", "INSERT INTO u VALUES (999999)")
	m.Exec(t, db, strings.Join(stmts, ";"))
	all := expectedMidTx(rows, meta)
	// Take about half the transaction's records, then stop as a crash
	// would: the committed offset is the last with one.
	first := pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool { return len(r) >= len(all)/2 })
	stopTask(t, task)
	cut := len(first) - 1
	for first[cut].SourceOffset == nil {
		cut--
	}
	stored := first[cut].SourceOffset
	if stored["event"] == nil && stored["row"] == nil {
		t.Fatalf("offset %v is not inside the transaction", stored)
	}
	task2 := startTask(t, p, stored)
	rest := pollUntil(t, task2, 30*time.Second, func(r []*connectors.Record) bool {
		c := changes(r)
		return len(c) > 0 && summary(t, c[len(c)-1]) == all[len(all)-1]
	})
	var got []string
	for _, r := range append(first[:cut+1], rest...) {
		if r.Topic != "" {
			got = append(got, summary(t, r))
		}
	}
	if len(got) != len(all) {
		t.Fatalf("%d records across the restart (offset %v), want %d", len(got), stored, len(all))
	}
	for i := range all {
		if got[i] != all[i] {
			t.Fatalf("record %d is %q, want %q (offset %v)", i, got[i], all[i], stored)
		}
	}
}

// expectedMidTx lists the records of testRestartMidTx's transactions,
// with the transaction events and orders when meta is set.
func expectedMidTx(rows int, meta bool) []string {
	var out []string
	total, per := 0, map[string]int{}
	data := func(op, table string, id int) {
		total++
		per[table]++
		if meta {
			out = append(out, fmt.Sprintf("%s %s %d #%d/%d", op, table, id, total, per[table]))
		} else {
			out = append(out, fmt.Sprintf("%s %s %d", op, table, id))
		}
	}
	if meta {
		out = append(out, "BEGIN")
	}
	for i := 0; i < rows; i += 500 {
		for j := i; j < i+500; j++ {
			data("c", "t", j)
		}
		data("c", "u", i)
	}
	for j := 0; j < 100; j++ {
		data("u", "t", j)
	}
	for j := 2900; j < rows; j++ {
		data("d", "t", j)
		out = append(out, fmt.Sprintf("tombstone t %d", j))
	}
	if meta {
		out = append(out, fmt.Sprintf("END %d t=%d u=%d", total, per["t"], per["u"]), "BEGIN")
	}
	total, per = 0, map[string]int{}
	data("c", "u", 999999)
	if meta {
		out = append(out, "END 1 u=1")
	}
	return out
}

func summary(t *testing.T, r *connectors.Record) string {
	if strings.HasSuffix(r.Topic, cdc.TxTopicSuffix) {
		v := r.Value.(*connectors.StructValue)
		if v.Values[0] == cdc.TxBegin {
			return "BEGIN"
		}
		line := fmt.Sprintf("END %d", v.Values[2])
		for _, c := range v.Values[3].([]any) {
			cv := c.(*connectors.StructValue)
			coll := cv.Values[0].(string)
			line += fmt.Sprintf(" %s=%d", coll[strings.LastIndexByte(coll, '.')+1:], cv.Values[1])
		}
		return line
	}
	table := r.Topic[strings.LastIndexByte(r.Topic, '.')+1:]
	id := r.Key.(*connectors.StructValue).Values[0]
	if r.Value == nil {
		return fmt.Sprintf("tombstone %s %v", table, id)
	}
	line := fmt.Sprintf("%s %s %v", opOf(r), table, id)
	if tx, ok := envOf(r).Values[cdc.EnvTransaction].(*connectors.StructValue); ok {
		if want := sourceOf(r).Values[srcGTID]; tx.Values[0] != want {
			t.Errorf("transaction id %v, source.gtid %v", tx.Values[0], want)
		}
		line += fmt.Sprintf(" #%d/%d", tx.Values[1], tx.Values[2])
	}
	return line
}

// testChecks starts tasks against a server set up wrong, one setting at
// a time, and checks each message names the fix.
func testChecks(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "checks")
	m.Exec(t, "", "CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'weak'@'%'")
	start := func(p map[string]string) string {
		task, err := tryStart(p, nil)
		if err == nil {
			stopTask(t, task)
			return ""
		}
		return err.Error()
	}
	for _, c := range []struct {
		name, set, reset string
		props            []string
		want             []string
	}{
		{name: "binlog_format", set: "SET GLOBAL binlog_format = 'STATEMENT'", reset: "SET GLOBAL binlog_format = 'ROW'",
			want: []string{"binlog_format is STATEMENT", "set binlog_format=ROW"}},
		{name: "binlog_row_image", set: "SET GLOBAL binlog_row_image = 'MINIMAL'", reset: "SET GLOBAL binlog_row_image = 'FULL'",
			want: []string{"binlog_row_image is MINIMAL", "set binlog_row_image=FULL"}},
		{name: "binlog_row_metadata", set: "SET GLOBAL binlog_row_metadata = 'MINIMAL'", reset: "SET GLOBAL binlog_row_metadata = 'FULL'",
			want: []string{"binlog_row_metadata is MINIMAL", "instead of parsing DDL", "set binlog_row_metadata=FULL"}},
		{name: "privileges", props: []string{User, "weak", Password, "pw"},
			want: []string{"lacks REPLICATION SLAVE", "GRANT REPLICATION SLAVE ON *.*", "lacks REPLICATION CLIENT"}},
		{name: "no select", props: []string{User, "nosel", Password, "pw"}, set: "CREATE USER 'nosel'@'%' IDENTIFIED BY 'pw'",
			want: []string{"has no SELECT privilege", "lacks REPLICATION SLAVE"}},
		{name: "password", props: []string{Password, "wrong"},
			want: []string{"refused the login", "check database.user and database.password"}},
		{name: "unreachable", props: []string{Port, fmt.Sprint(harness.FreePort(t)), ConnectTimeoutMs, "2000"},
			want: []string{"cannot reach MySQL at 127.0.0.1:", "check database.hostname and database.port"}},
		{name: "server id", props: []string{ServerID, "1"},
			want: []string{"database.server.id 1 is the server's own server_id"}},
		{name: "refused property", props: []string{SnapshotLockingMode, "minimal", "column.mask.with.12.chars", "x"},
			want: []string{"snapshot.locking.mode \"minimal\"", "takes no global or table lock", "column.mask.with.12.chars: column masking is not in this version"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.set != "" {
				m.Exec(t, "", c.set)
			}
			if c.reset != "" {
				defer m.Exec(t, "", c.reset)
			}
			msg := start(props(m, db, c.props...))
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	t.Run("binlog off", func(t *testing.T) {
		off := harness.StartMariaDB(t, harness.MariaDBOptions{NoBinlog: true})
		msg := start(props(off, db))
		if !strings.Contains(msg, "the binary log is off") || !strings.Contains(msg, "start the server with log-bin") {
			t.Errorf("error %q", msg)
		}
	})
}

// testServerRestart restarts MariaDB while the task streams: the task
// reconnects by itself and resumes after what it queued, so every insert
// arrives exactly once.
func testServerRestart(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "restart")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return true })
	insert := func(from, to int) {
		var vals []string
		for i := from; i < to; i++ {
			vals = append(vals, fmt.Sprintf("(%d)", i))
		}
		m.Exec(t, db, "INSERT INTO t VALUES "+strings.Join(vals, ","))
	}
	insert(0, 100)
	recs := pollUntil(t, task, 30*time.Second, nChanges(100))
	m.Restart(t, false)
	insert(100, 200)
	recs = append(recs, pollUntil(t, task, 60*time.Second, nChanges(100))...)
	seen := map[any]int{}
	for _, r := range changes(recs) {
		seen[afterOf(r).Values[0]]++
	}
	for i := 0; i < 200; i++ {
		if seen[int32(i)] != 1 {
			t.Errorf("row %d arrived %d times", i, seen[int32(i)])
		}
	}
	if len(changes(recs)) != 200 {
		t.Errorf("%d changes, want 200", len(changes(recs)))
	}
}

// testHeartbeat checks that an idle stream sends heartbeat records
// carrying the position after the last transaction, including one of a
// table not captured.
func testHeartbeat(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "beat")
	other := m.CreateDB(t, "other")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	m.Exec(t, other, "CREATE TABLE t (id INT PRIMARY KEY)")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, HeartbeatIntervalMs, "200"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return true })
	m.Exec(t, other, "INSERT INTO t VALUES (1)")
	var pos string
	if err := m.Open(t, "").QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
		t.Fatal(err)
	}
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Topic == "__debezium-heartbeat.srv" && r.SourceOffset["gtids"] == pos {
				return true
			}
		}
		return false
	})
	if n := len(changes(recs)); n != 0 {
		t.Errorf("%d changes of a table not captured", n)
	}
}

// testSnapshotNoLock holds a snapshot in the middle of a table (nobody
// polls, the queue is full) and writes to that table meanwhile: the
// writes finish at once, because the snapshot takes no table or global
// lock, and they arrive after the snapshot as streamed changes.
func testSnapshotNoLock(t *testing.T, m *harness.MariaDB) {
	const rows = 20000
	db := m.CreateDB(t, "nolock")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
		fmt.Sprintf("INSERT INTO t SELECT seq, 0 FROM seq_1_to_%d", rows))
	task := startTask(t, props(m, db, MaxQueueSize, "100", MaxBatchSize, "100"), nil)
	sqlDB := m.Open(t, db)
	// The snapshot is under way once the queue is full.
	harness.WaitFor(t, 10*time.Second, "the snapshot to fill the queue", func() error {
		if task.queue.Len() < 100 {
			return fmt.Errorf("%d queued", task.queue.Len())
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, q := range []string{"INSERT INTO t VALUES (0, 1)", "UPDATE t SET v = 2 WHERE id = 1", "DELETE FROM t WHERE id = 2"} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s during the snapshot: %v (is a lock held?)", q, err)
		}
	}
	recs := changes(pollUntil(t, task, 60*time.Second, nChanges(rows+3)))
	ops := map[string]int{}
	for _, r := range recs {
		ops[opOf(r)]++
	}
	if ops[cdc.OpRead] != rows || ops[cdc.OpCreate] != 1 || ops[cdc.OpUpdate] != 1 || ops[cdc.OpDelete] != 1 {
		t.Errorf("ops %v, want %d reads then one create, update and delete", ops, rows)
	}
	if last := sourceOf(recs[rows-1]).Values[cdc.SrcSnapshot]; last != cdc.SnapLast {
		t.Errorf("last snapshot record marked %v", last)
	}
	if first := sourceOf(recs[0]).Values[cdc.SrcSnapshot]; first != cdc.SnapFirst {
		t.Errorf("first snapshot record marked %v", first)
	}
}

// testUndecodable streams a table whose column the type map cannot
// convert (a ucs2 charset): by default the task fails naming table,
// column and binlog position; with sluice.table.failure.mode=quarantine
// that table is set aside and the others keep streaming.
func testUndecodable(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "bad")
	m.Exec(t, db, "CREATE TABLE bad (id INT PRIMARY KEY, u VARCHAR(10) CHARACTER SET ucs2)", "CREATE TABLE good (id INT PRIMARY KEY)")
	quar := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, TableFailureMode, cdc.TableFailureQuarantine, ServerID, "6101"), nil)
	pollUntil(t, quar, 10*time.Second, func([]*connectors.Record) bool { return true })
	failing := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, ServerID, "6102"), nil)
	pollUntil(t, failing, 10*time.Second, func([]*connectors.Record) bool { return true })
	m.Exec(t, db, "INSERT INTO bad VALUES (1, 'x')", "INSERT INTO good VALUES (1)", "INSERT INTO bad VALUES (2, 'y')", "INSERT INTO good VALUES (2)")
	m.Exec(t, db, "INSERT INTO good VALUES (3)")
	recs := changes(pollUntil(t, quar, 20*time.Second, nChanges(3)))
	for _, r := range recs {
		if sourceOf(r).Values[srcTable] != "good" {
			t.Errorf("a change of %v passed the quarantine", sourceOf(r).Values[srcTable])
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := failing.Poll(ctx)
		cancel()
		if err != nil {
			for _, w := range []string{"table " + db + ".bad", "column u", "character set ucs2", "binlog position binlog.", "GTID 0-1-"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not fail on a column it cannot convert")
		}
	}
}

// sourceOf2 returns source.query of a change record (nil for others).
func sourceOf2(r *connectors.Record) any {
	if r.Topic == "" || r.Value == nil {
		return nil
	}
	return sourceOf(r).Values[srcQuery]
}

// testIncludeQuery checks source.query with include.query=true.
func testIncludeQuery(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "query")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, IncludeQuery, "true"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return true })
	m.Exec(t, db, "INSERT INTO t VALUES (1), (2)", "UPDATE t SET id = id + 10 WHERE id = 2 /* moved */")
	recs := changes(pollUntil(t, task, 20*time.Second, nChanges(4)))
	want := []string{"INSERT INTO t VALUES (1), (2)", "INSERT INTO t VALUES (1), (2)",
		"UPDATE t SET id = id + 10 WHERE id = 2 /* moved */", "UPDATE t SET id = id + 10 WHERE id = 2 /* moved */"}
	for i, r := range recs {
		if q := sourceOf2(r); q != want[i] {
			t.Errorf("record %d: source.query %v, want %q", i, q, want[i])
		}
	}
	m.Exec(t, "", "SET GLOBAL binlog_annotate_row_events = OFF")
	defer m.Exec(t, "", "SET GLOBAL binlog_annotate_row_events = ON")
	task2, err := tryStart(props(m, db, IncludeQuery, "true"), nil)
	if err == nil {
		stopTask(t, task2)
	}
	if err == nil || !strings.Contains(err.Error(), "set binlog_annotate_row_events=ON") {
		t.Errorf("start without annotations: %v", err)
	}
}

// testBoundedMemory stalls Poll during a 150,000-row transaction: the
// reader stops when the queue is full, so the heap stays small whatever
// the size of the transaction, and every row arrives afterwards. (With
// go-mysql's default read-ahead of 10240 events the heap held 81 MB at
// 200,000 rows; with 256, 7 MB.) The read-ahead is now 32 events.
func testBoundedMemory(t *testing.T, m *harness.MariaDB) {
	const rows = 150_000
	db := m.CreateDB(t, "bigtx")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(300))")
	sqlDB := m.Open(t, db)
	var o offset
	var skip1, skip2 any
	if err := sqlDB.QueryRow("SHOW MASTER STATUS").Scan(&o.file, &o.pos, &skip1, &skip2); err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.QueryRow("SELECT BINLOG_GTID_POS(?, ?)", o.file, o.pos).Scan(&o.gtids); err != nil {
		t.Fatal(err)
	}
	m.Exec(t, db, fmt.Sprintf("INSERT INTO t SELECT seq, REPEAT('x', 250) FROM seq_1_to_%d", rows))
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, MaxQueueSize, "1000"), o.toMap())
	harness.WaitFor(t, 10*time.Second, "the queue to fill", func() error {
		if task.queue.Len() < 1000 {
			return fmt.Errorf("%d queued", task.queue.Len())
		}
		return nil
	})
	time.Sleep(time.Second) // the reader and go-mysql's read-ahead fill up
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("heap in use with Poll stalled in a %d-row transaction: %.1f MB", rows, float64(ms.HeapInuse)/1e6)
	if ms.HeapInuse > 40<<20 {
		t.Errorf("heap in use %d MB with Poll stalled: the read-ahead is not bounded", ms.HeapInuse>>20)
	}
	// Drained, with the records taken dropped, the heap stays bounded too:
	// slab arrays once chained to each other kept every record of the
	// stream alive (257 MB after 300,000 rows; see cdc.Slab).
	got, next := 0, rows/4
	deadline := time.Now().Add(120 * time.Second)
	for got < rows {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows in 120 s", got, rows)
		}
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got += len(changes(recs))
		if got >= next {
			next += rows / 4
			runtime.GC()
			runtime.ReadMemStats(&ms)
			t.Logf("heap in use after %d rows drained: %.1f MB", got, float64(ms.HeapInuse)/1e6)
			if ms.HeapInuse > 40<<20 {
				t.Errorf("heap in use %d MB after %d rows drained and dropped: records are kept alive", ms.HeapInuse>>20, got)
			}
		}
	}
	if got != rows {
		t.Errorf("%d rows, want %d", got, rows)
	}
}

// testPurged starts from a stored position whose binlog file the server
// purged: the task refuses to start, saying so, unless
// snapshot.mode=when_needed, which snapshots again.
func testPurged(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "purged")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	sqlDB := m.Open(t, db)
	var first string
	var size any
	if err := sqlDB.QueryRow("SHOW BINARY LOGS").Scan(&first, &size); err != nil {
		t.Fatal(err)
	}
	stored := (&offset{file: first, pos: 4, gtids: "0-1-1"}).toMap()
	// MariaDB keeps a file until its binlog checkpoint passes: flush and
	// purge until the first file is gone.
	harness.WaitFor(t, 30*time.Second, "the first binlog file to be purged", func() error {
		m.Exec(t, "", "FLUSH BINARY LOGS")
		var last string
		var pos, a, b any
		if err := sqlDB.QueryRow("SHOW MASTER STATUS").Scan(&last, &pos, &a, &b); err != nil {
			return err
		}
		m.Exec(t, "", "PURGE BINARY LOGS TO '"+last+"'")
		var oldest string
		if err := sqlDB.QueryRow("SHOW BINARY LOGS").Scan(&oldest, &size); err != nil {
			return err
		}
		if oldest == first {
			return fmt.Errorf("%s is still there", first)
		}
		return nil
	})
	task, err := tryStart(props(m, db), stored)
	if err == nil {
		stopTask(t, task)
	}
	if err == nil || !strings.Contains(err.Error(), "is no longer on the server: the binlog was purged") || !strings.Contains(err.Error(), "snapshot.mode=when_needed") {
		t.Errorf("start from a purged position: %v", err)
	}
	again := startTask(t, props(m, db, SnapshotMode, SnapshotWhenNeeded), stored)
	recs := changes(pollUntil(t, again, 20*time.Second, nChanges(2)))
	if opOf(recs[0]) != cdc.OpRead || opOf(recs[1]) != cdc.OpRead {
		t.Errorf("when_needed after a purge: ops %s, %s, want a snapshot", opOf(recs[0]), opOf(recs[1]))
	}
}
