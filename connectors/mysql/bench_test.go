package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/it/harness"
)

// benchRows is the size of the streaming benchmark's transactions
// (SLUICE_BENCH_MYSQL_ROWS, default 200000).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_MYSQL_ROWS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// benchQueueBytes is max.queue.size.in.bytes for the streaming benchmark
// (SLUICE_BENCH_MYSQL_QUEUE_BYTES, default 0: no bound).
func benchQueueBytes() string {
	if v := os.Getenv("SLUICE_BENCH_MYSQL_QUEUE_BYTES"); v != "" {
		return v
	}
	return "0"
}

// BenchmarkStreaming measures the streaming path (binlog → Debezium
// records in the task's queue, taken by Poll) against the raw limit in
// the same run: a bare go-mysql BinlogSyncer reading and decoding the
// same events. The rows are inserted in transactions of 10000 rows into
// a table of an integer key, a VARCHAR, a DECIMAL and a DATETIME(6);
// the server runs with innodb_flush_log_at_trx_commit=2 and sync_binlog=0
// (the harness's), which does not matter here: both read a binlog that
// is already written.
func BenchmarkStreaming(b *testing.B) {
	n := benchRows()
	m := harness.StartMariaDB(b, harness.MariaDBOptions{})
	db := m.CreateDB(b, "bench")
	m.Exec(b, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(40), d DECIMAL(12,3), ts DATETIME(6))")
	sqlDB := m.Open(b, db)
	start := currentPos(b, sqlDB)
	for i := 0; i < n; i += 10000 {
		m.Exec(b, db, fmt.Sprintf("INSERT INTO t SELECT seq, CONCAT('row ', seq), seq / 8, '2024-01-01 00:00:00.000001' + INTERVAL seq SECOND FROM seq_%d_to_%d", i+1, min(i+10000, n)))
	}
	end := currentPos(b, sqlDB)
	b.Logf("binlog range %s:%d (%s) .. %s:%d", start.file, start.pos, start.gtids, end.file, end.pos)

	// Each iteration reads the range with both, one after the other, so
	// that the machine's load (other tests) weighs on both alike.
	var rawTime, taskTime, binlogTime time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		mariadbBinlog(b, m, start, end)
		binlogTime += time.Since(t0)
		t0 = time.Now()
		if got := rawRead(b, m, start, end); got != n {
			b.Fatalf("read %d rows, want %d", got, n)
		}
		rawTime += time.Since(t0)
		t0 = time.Now()
		task, err := tryStart(props(m, db, SnapshotMode, SnapshotNoData, MaxQueueSizeInBytes, benchQueueBytes()), start.toMap())
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			recs, err := task.Poll(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if r.Topic != "" {
					got++
				}
			}
		}
		taskTime += time.Since(t0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := task.Stop(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	rows := float64(n * b.N)
	b.ReportMetric(rows/taskTime.Seconds(), "rows/s")
	b.ReportMetric(rows/rawTime.Seconds(), "raw-rows/s")
	b.ReportMetric(rawTime.Seconds()/taskTime.Seconds(), "ratio")
	b.ReportMetric(rows/binlogTime.Seconds(), "mariadb-binlog-rows/s")
	b.ReportMetric(binlogTime.Seconds()/taskTime.Seconds(), "ratio-mariadb-binlog")
}

// mariadbBinlog copies the binlog files from start's to end's with
// mariadb-binlog --read-from-remote-server --raw, the raw limit:
// no decoding at all. The files hold little besides the benchmark's
// rows (a fresh server).
func mariadbBinlog(b *testing.B, m *harness.MariaDB, start, end offset) {
	dir := b.TempDir()
	files := []string{start.file}
	if end.file != start.file {
		files = append(files, end.file) // the benchmark's range spans at most a rotation
	}
	args := append([]string{"--read-from-remote-server", "--raw", "--host=" + m.Host, "--port=" + strconv.Itoa(m.Port),
		"--user=" + m.User, "--result-file=" + dir + "/"}, files...)
	if out, err := exec.Command("mariadb-binlog", args...).CombinedOutput(); err != nil {
		b.Fatalf("mariadb-binlog: %v\n%s", err, out)
	}
}

// currentPos returns the server's binlog position and GTID position.
func currentPos(b testing.TB, db *sql.DB) offset {
	var o offset
	var skip1, skip2 any
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&o.file, &o.pos, &skip1, &skip2); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow("SELECT BINLOG_GTID_POS(?, ?)", o.file, o.pos).Scan(&o.gtids); err != nil {
		b.Fatal(err)
	}
	return o
}

// rawRead reads the binlog from start to end with a bare BinlogSyncer
// (rows decoded, nothing converted) and returns the rows seen.
func rawRead(b *testing.B, m *harness.MariaDB, start, end offset) int {
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{ServerID: 7001, Flavor: mysql.MariaDBFlavor,
		Host: m.Host, Port: uint16(m.Port), User: m.User, Password: m.Password, ParseTime: true, DisableRetrySync: true,
		Logger: slog.New(slog.DiscardHandler)})
	defer syncer.Close()
	set, err := mysql.ParseMariadbGTIDSet(start.gtids)
	if err != nil {
		b.Fatal(err)
	}
	s, err := syncer.StartSyncGTID(set)
	if err != nil {
		b.Fatal(err)
	}
	rows, file := 0, start.file
	for {
		ev, err := s.GetEvent(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		switch e := ev.Event.(type) {
		case *replication.RotateEvent:
			file = string(e.NextLogName)
		case *replication.RowsEvent:
			rows += len(e.Rows)
		}
		if file == end.file && ev.Header.LogPos >= end.pos {
			return rows
		}
	}
}

// BenchmarkSnapshot measures snapshot rows/s into the task's queue, taken
// by Poll: "consistent" is the initial snapshot (one transaction, tables
// in key order), "chunked" the same tables read in chunks of
// incremental.snapshot.chunk.size rows while streaming, as after a
// restart or on an execute-snapshot signal, on snapshot.max.threads
// connections. Two tables of the shape of BenchmarkStreaming's.
func BenchmarkSnapshot(b *testing.B) {
	n := benchRows()
	m := harness.StartMariaDB(b, harness.MariaDBOptions{})
	db := m.CreateDB(b, "bench")
	m.Exec(b, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(40), d DECIMAL(12,3), ts DATETIME(6))",
		"CREATE TABLE t2 LIKE t", "CREATE TABLE signals (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32), data TEXT)")
	// Two tables of n/2 rows: parallel snapshots read chunks of different
	// tables at once.
	for _, tb := range []string{"t", "t2"} {
		for i := 0; i < n/2; i += 10000 {
			m.Exec(b, db, fmt.Sprintf("INSERT INTO %s SELECT seq, CONCAT('row ', seq), seq / 8, '2024-01-01 00:00:00.000001' + INTERVAL seq SECOND FROM seq_%d_to_%d", tb, i+1, min(i+10000, n/2)))
		}
	}
	n = n / 2 * 2
	sqlDB := m.Open(b, db)
	count := func(b *testing.B, task *Task, want int) {
		got := 0
		for got < want {
			recs, err := task.Poll(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if r.Topic != "" && r.Value != nil && opOf(r) == "r" {
					got++
				}
			}
		}
	}
	stop := func(b *testing.B, task *Task) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := task.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct{ chunk, threads string }{{"", "1"}, {"1024", "1"}, {"8192", "1"}, {"8192", "2"}} {
		chunk := tc.chunk
		name := "consistent"
		if chunk != "" {
			name = "chunked-" + chunk + "-threads-" + tc.threads
		}
		b.Run(name, func(b *testing.B) {
			var took time.Duration
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p := props(m, db, TableIncludeList, db+`\.t2?`)
				if chunk != "" {
					p = props(m, db, SnapshotMode, SnapshotNoData, SignalDataCollection, db+".signals", SnapshotChunkSize, chunk, TableIncludeList, db+`\.t2?`,
						SnapshotMaxThreads, tc.threads)
				}
				task, err := tryStart(p, nil)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if chunk != "" {
					if _, err := sqlDB.Exec("INSERT INTO signals VALUES (?, 'execute-snapshot', ?)", strconv.FormatInt(time.Now().UnixNano(), 10), `{"data-collections": [".*\\.t2?"]}`); err != nil {
						b.Fatal(err)
					}
				}
				count(b, task, n)
				took += time.Since(t0)
				stop(b, task)
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "rows/s")
		})
	}
}
