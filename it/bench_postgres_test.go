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
	const perTx = 100_000
	for i := 0; i < b.N; i++ {
		pg := harness.StartPostgres(b, harness.PostgresOptions{})
		br := harness.StartBroker(b)
		db := pg.CreateDB(b, "stream")
		pg.Exec(b, db,
			`CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz, d numeric(12,2), e boolean,
			 f double precision, g varchar(40), h date, j jsonb)`,
			"CREATE PUBLICATION bench FOR TABLE t",
			"SELECT pg_create_logical_replication_slot('raw', 'pgoutput')",
			"SELECT pg_create_logical_replication_slot('sluice', 'pgoutput')")
		conn := pg.Connect(b, db)
		ctx := context.Background()
		var lastXid int64
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
			if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&lastXid); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
		var endLSN string
		var end uint64
		if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text, pg_current_wal_lsn() - '0/0'::pg_lsn").Scan(&endLSN, &end); err != nil {
			b.Fatal(err)
		}

		// Raw limit: pg_recvlogical with pgoutput to /dev/null.
		start := time.Now()
		cmd := exec.Command(filepath.Join(harness.PGBinDir, "pg_recvlogical"), "-h", pg.Host, "-p", strconv.Itoa(pg.Port),
			"-U", pg.User, "-d", db, "--slot", "raw", "--start", "--endpos", endLSN, "--no-loop",
			"-o", "proto_version=1", "-o", "publication_names=bench", "-f", "/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pg_recvlogical: %v\n%s", err, out)
		}
		raw := float64(rows) / time.Since(start).Seconds()

		w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap,
			Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true"})})
		stopProfile := captureProfiles(b, w)
		// A short metadata age, or "topic unknown" is cached for 5 s.
		adm := kadm.NewClient(br.Client(b, kgo.MetadataMinAge(50*time.Millisecond)))
		start = time.Now()
		w.JSON("POST", "/connectors", map[string]any{"name": "pg", "config": envProps("SLUICE_BENCH_CONNECTOR_PROPS", map[string]string{
			"connector.class": "postgres", "database.hostname": pg.Host, "database.port": strconv.Itoa(pg.Port),
			"database.user": pg.User, "database.dbname": db, "topic.prefix": "bench", "slot.name": "sluice",
			"publication.name": "bench", "publication.autocreate.mode": "disabled", "snapshot.mode": "no_data",
		})}, 201, nil)
		harness.WaitFor(b, 30*time.Minute, "every row in Kafka", func() error {
			ends, err := adm.ListEndOffsets(ctx, "bench.public.t")
			if err != nil {
				return err
			}
			var n int64
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
			if n < int64(rows) {
				return fmt.Errorf("%d of %d rows", n, rows)
			}
			return nil
		})
		acked := time.Since(start)
		harness.WaitFor(b, time.Minute, "the last transaction's offset committed", func() error {
			var o struct {
				Offsets []struct {
					Offset map[string]any `json:"offset"`
				} `json:"offsets"`
			}
			w.JSON("GET", "/connectors/pg/offsets", nil, 200, &o)
			for _, e := range o.Offsets {
				// The last transaction's own offset, or a later one (an idle
				// heartbeat's lsn_proc) that covers everything before it.
				if x, ok := e.Offset["txId"].(float64); ok && int64(x) == lastXid {
					return nil
				}
				if x, ok := e.Offset["lsn_proc"].(float64); ok && uint64(x) >= end {
					return nil
				}
			}
			return fmt.Errorf("offsets %v", o.Offsets)
		})
		committed := time.Since(start)
		stopProfile()
		sluice := float64(rows) / committed.Seconds()
		b.ReportMetric(raw, "pg_recvlogical-rows/s")
		b.ReportMetric(sluice, "sluice-rows/s")
		b.ReportMetric(sluice/raw, "ratio")
		b.ReportMetric(float64(peakRSSKB(w.PID()))/1024, "peak-RSS-MB")
		b.Logf("rows=%d pg_recvlogical %.0f rows/s; sluice WAL→Kafka acked in %v, offset committed in %v: %.0f rows/s; ratio %.2f; worker peak RSS %.0f MB",
			rows, raw, acked.Round(time.Millisecond), committed.Round(time.Millisecond), sluice, sluice/raw, float64(peakRSSKB(w.PID()))/1024)
	}
}

// captureProfiles, when SLUICE_BENCH_PROFILE names a directory, records a
// CPU profile of the worker while the benchmark runs, and a heap profile
// and the worker's output when the returned function is called.
func captureProfiles(b *testing.B, w *harness.Worker) func() {
	dir := os.Getenv("SLUICE_BENCH_PROFILE")
	if dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetch(b, w.URL+"/sluice/debug/pprof/profile?seconds=8", filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".cpu.prof"))
	}()
	// An execution trace of one second, 2 s in (go tool trace -pprof=sched|sync|net).
	traced := make(chan struct{})
	go func() {
		defer close(traced)
		time.Sleep(2 * time.Second)
		fetch(b, w.URL+"/sluice/debug/pprof/trace?seconds=1", filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".trace"))
	}()
	// The live heap while the work runs, 4 s in.
	go func() {
		time.Sleep(4 * time.Second)
		fetch(b, w.URL+"/sluice/debug/pprof/heap?gc=1", filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".midheap.prof"))
	}()
	return func() {
		fetch(b, w.URL+"/sluice/debug/pprof/heap", filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".heap.prof"))
		<-done
		<-traced
		// The worker's output, with GODEBUG=gctrace=1 its GC cycles.
		_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_")+".log"), []byte(w.Output()), 0o644)
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
