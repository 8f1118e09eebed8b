package it

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPostgresStreaming measures the PostgreSQL source end to end —
// WAL → pgoutput → records → JSON → Kafka acknowledged → offset committed —
// against the raw limit of pg_recvlogical draining the same WAL with
// pgoutput to /dev/null, in the same run. Both slots exist before the rows
// are written, so both read exactly the same changes:
// SLUICE_BENCH_PG_ROWS rows (default 1,000,000) inserted in transactions
// of 100,000 into a 10-column table. Target: ratio ≥ 0.8.
func BenchmarkPostgresStreaming(b *testing.B) {
	rows := envInt("SLUICE_BENCH_PG_ROWS", 1_000_000)
	for i := 0; i < b.N; i++ {
		pg := harness.StartPostgres(b, harness.PostgresOptions{})
		br := harness.StartBroker(b)
		wal := loadStreamWAL(b, pg, "stream", rows, "raw", "sluice")
		raw := wal.recvlogical(b, "raw")

		w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap,
			Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true"})})
		stopProfile := captureProfiles(b, w)
		run := wal.stream(b, br, w, "pg", "bench", "sluice")
		stopProfile()
		sluice := float64(rows) / run.committed.Seconds()
		b.ReportMetric(raw, "pg_recvlogical-rows/s")
		b.ReportMetric(sluice, "sluice-rows/s")
		b.ReportMetric(sluice/raw, "ratio")
		b.ReportMetric(float64(peakRSSKB(w.PID()))/1024, "peak-RSS-MB")
		b.Logf("rows=%d pg_recvlogical %.0f rows/s; sluice WAL→Kafka acked in %v, offset committed in %v: %.0f rows/s; ratio %.2f; worker peak RSS %.0f MB",
			rows, raw, run.acked.Round(time.Millisecond), run.committed.Round(time.Millisecond), sluice, sluice/raw, float64(peakRSSKB(w.PID()))/1024)
	}
}

// streamWAL is the WAL of one database's streaming benchmark: rows
// inserted into table t, published as "bench", with slots created before
// the rows were written so that each reads exactly the same changes.
type streamWAL struct {
	pg      *harness.Postgres
	db      string
	rows    int
	lastXid int64  // the last inserting transaction
	endLSN  string // the WAL's end after it, as text
	end     uint64 // and as a number
}

// loadStreamWAL creates database db with the 10-column table t, the
// publication bench and one pgoutput slot per name of slots, then inserts
// rows rows in transactions of 100,000.
func loadStreamWAL(b *testing.B, pg *harness.Postgres, db string, rows int, slots ...string) *streamWAL {
	b.Helper()
	const perTx = 100_000
	w := &streamWAL{pg: pg, db: pg.CreateDB(b, db), rows: rows}
	stmts := []string{
		`CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz, d numeric(12,2), e boolean,
		 f double precision, g varchar(40), h date, j jsonb)`,
		"CREATE PUBLICATION bench FOR TABLE t",
	}
	for _, s := range slots {
		stmts = append(stmts, fmt.Sprintf("SELECT pg_create_logical_replication_slot('%s', 'pgoutput')", s))
	}
	pg.Exec(b, w.db, stmts...)
	conn := pg.Connect(b, w.db)
	ctx := context.Background()
	for from := 0; from < rows; from += perTx {
		tx, err := conn.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO t SELECT g, g % 1000, md5(g::text), now(), g / 7.0, g % 2 = 0,
			g * 1.5, 'name-' || g, current_date, jsonb_build_object('k', g)
			FROM generate_series($1::bigint, $2::bigint) g`, from, min(from+perTx, rows)-1); err != nil {
			b.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&w.lastXid); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text, pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&w.endLSN, &w.end); err != nil {
		b.Fatal(err)
	}
	return w
}

// recvlogicalCmd is the raw limit's command: pg_recvlogical with pgoutput
// (protocol 1) draining slot up to the WAL's end into /dev/null.
func (w *streamWAL) recvlogicalCmd(slot string) *exec.Cmd {
	pg := w.pg
	return exec.Command(filepath.Join(harness.PGBinDir, "pg_recvlogical"), "-h", pg.Host, "-p", strconv.Itoa(pg.Port),
		"-U", pg.User, "-d", w.db, "--slot", slot, "--start", "--endpos", w.endLSN, "--no-loop",
		"-o", "proto_version=1", "-o", "publication_names=bench", "-f", "/dev/null")
}

// recvlogical runs the raw limit on slot and returns its rows/s.
func (w *streamWAL) recvlogical(b *testing.B, slot string) float64 {
	b.Helper()
	start := time.Now()
	if out, err := w.recvlogicalCmd(slot).CombinedOutput(); err != nil {
		b.Fatalf("pg_recvlogical: %v\n%s", err, out)
	}
	return float64(w.rows) / time.Since(start).Seconds()
}

// streamRun is how long a connector took to stream a streamWAL.
type streamRun struct {
	acked     time.Duration // until every row was in Kafka
	committed time.Duration // until the last transaction's offset was committed
}

// connectorConfig is the PostgreSQL connector reading slot of the WAL's
// database into topics prefixed prefix (SLUICE_BENCH_CONNECTOR_PROPS
// overrides).
func (w *streamWAL) connectorConfig(prefix, slot string) map[string]string {
	pg := w.pg
	return envProps("SLUICE_BENCH_CONNECTOR_PROPS", map[string]string{
		"connector.class": "postgres", "database.hostname": pg.Host, "database.port": strconv.Itoa(pg.Port),
		"database.user": pg.User, "database.dbname": w.db, "topic.prefix": prefix, "slot.name": slot,
		"publication.name": "bench", "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
	})
}

// stream creates connector name on worker wk, reading slot into topic
// <prefix>.public.t, and waits until every row is in Kafka and the last
// transaction's offset is committed.
func (w *streamWAL) stream(b *testing.B, br *harness.Broker, wk *harness.Worker, name, prefix, slot string) streamRun {
	b.Helper()
	start := time.Now()
	wk.JSON("POST", "/connectors", map[string]any{"name": name, "config": w.connectorConfig(prefix, slot)}, 201, nil)
	return w.await(b, br, wk, name, prefix, start)
}

// await waits until connector name (reading into <prefix>.public.t) has
// every row of the WAL in Kafka and its last transaction's offset
// committed, as worker wk answers, and returns both times since start.
// With exactly-once, the end offsets count transaction markers as well,
// so only the committed offset says that every row is there.
func (w *streamWAL) await(b *testing.B, br *harness.Broker, wk *harness.Worker, name, prefix string, start time.Time) streamRun {
	b.Helper()
	ctx := context.Background()
	// A short metadata age, or "topic unknown" is cached for 5 s.
	adm := kadm.NewClient(br.Client(b, kgo.MetadataMinAge(50*time.Millisecond)))
	var run streamRun
	harness.WaitFor(b, 30*time.Minute, "every row in Kafka", func() error {
		ends, err := adm.ListEndOffsets(ctx, prefix+".public.t")
		if err != nil {
			return err
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		if n < int64(w.rows) {
			return fmt.Errorf("%d of %d rows", n, w.rows)
		}
		return nil
	})
	run.acked = time.Since(start)
	harness.WaitFor(b, 5*time.Minute, "the last transaction's offset committed", func() error { return w.committedOn(wk, name) })
	run.committed = time.Since(start)
	return run
}

// committedOn returns nil once connector name's committed offset, as
// worker wk answers, covers the WAL's last transaction.
func (w *streamWAL) committedOn(wk *harness.Worker, name string) error {
	var o struct {
		Offsets []struct {
			Offset map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	wk.JSON("GET", "/connectors/"+name+"/offsets", nil, 200, &o)
	for _, e := range o.Offsets {
		// The last transaction's own offset, or a later one (an idle
		// heartbeat's lsn_proc) that covers everything before it.
		if x, ok := e.Offset["txId"].(float64); ok && int64(x) == w.lastXid {
			return nil
		}
		if x, ok := e.Offset["lsn_proc"].(float64); ok && uint64(x) >= w.end {
			return nil
		}
	}
	return fmt.Errorf("offsets %v", o.Offsets)
}

// captureProfiles, when SLUICE_BENCH_PROFILE names a directory, records a
// CPU profile of the worker while the benchmark runs, and a heap profile
// and the worker's output when the returned function is called.
func captureProfiles(b *testing.B, w *harness.Worker) func() {
	return captureProfilesAs(b, w, b.Name())
}

// captureProfilesAs is captureProfiles with files named after name, for
// a benchmark that runs several workers.
func captureProfilesAs(b *testing.B, w *harness.Worker, name string) func() {
	dir := os.Getenv("SLUICE_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetch(b, w.URL+"/sluice/debug/pprof/profile?seconds=8", filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".cpu.prof"))
	}()
	// An execution trace of one second, 2 s in (go tool trace -pprof=sched|sync|net).
	traced := make(chan struct{})
	go func() {
		defer close(traced)
		time.Sleep(2 * time.Second)
		fetch(b, w.URL+"/sluice/debug/pprof/trace?seconds=1", filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".trace"))
	}()
	// The live heap while the work runs, 4 s in.
	go func() {
		time.Sleep(4 * time.Second)
		fetch(b, w.URL+"/sluice/debug/pprof/heap?gc=1", filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".midheap.prof"))
	}()
	return func() {
		fetch(b, w.URL+"/sluice/debug/pprof/heap", filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".heap.prof"))
		<-done
		<-traced
		// The worker's output, with GODEBUG=gctrace=1 its GC cycles.
		_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".log"), []byte(w.Output()), 0o644)
	}
}

func fetch(b *testing.B, url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		b.Log(err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Log(err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
