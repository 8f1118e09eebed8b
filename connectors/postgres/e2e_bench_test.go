package postgres

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// BenchmarkDrainSlot measures the task against a real server: rows are
// inserted first (in 10k-row transactions) with two slots waiting, then
// pg_recvlogical drains one slot with pgoutput to /dev/null (the raw
// limit) and the task, started cold, drains the other into records
// (committing each batch), in the same run. The server runs with
// fsync=off (the harness's setting).
func BenchmarkDrainSlot(b *testing.B) {
	const rows = 200000
	pg := harness.StartPostgres(b, harness.PostgresOptions{})
	db := pg.CreateDB(b, "bench")
	pg.Exec(b, db, `CREATE TABLE accounts (id bigint PRIMARY KEY, account int, name varchar(100), email text,
		balance numeric(12,2), created timestamptz, updated timestamp, active bool, score float8, birthday date)`)
	ctx := context.Background()
	var task *Task
	var raw, ours, cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		slot := fmt.Sprintf("bench_%d", i)
		pg.Exec(b, db, "DELETE FROM accounts", "SELECT pg_create_logical_replication_slot('raw_"+slot+"', 'pgoutput')",
			"SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')", "CREATE PUBLICATION "+slot+"_pub FOR ALL TABLES")
		p := props(pg, db, slot, SnapshotMode, SnapshotNoData, MaxBatchSize, "2048", SlotDropOnStop, "true")
		for j := 0; j < rows; j += 10000 {
			pg.Exec(b, db, fmt.Sprintf(`INSERT INTO accounts SELECT g, g %% 1000, 'name ' || g, 'user' || g || '@example.com',
				g * 1.25, now(), now(), g %% 2 = 0, g / 3.0, date '1990-01-01' + (g %% 10000) FROM generate_series(%d, %d) g`, j+1, j+10000))
		}
		var end string
		if err := pg.Connect(b, db).QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&end); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		runRaw := func() {
			start := time.Now()
			cmd := exec.Command(filepath.Join(harness.PGBinDir, "pg_recvlogical"), "-h", pg.Host, "-p", fmt.Sprint(pg.Port), "-U", pg.User,
				"-d", db, "--slot", "raw_"+slot, "--start", "--endpos", end, "-o", "proto_version=1", "-o", "publication_names="+slot+"_pub",
				"-f", "/dev/null", "--no-loop")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("pg_recvlogical: %v\n%s", err, out)
			}
			raw += time.Since(start)

		}
		runOurs := func() {
			start := time.Now()
			c0 := cpuTime()
			task = NewTask()
			if err := task.Start(ctx, &taskContext{}, p); err != nil {
				b.Fatal(err)
			}
			got := 0
			for got < rows {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				recs, err := task.Poll(pctx)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range recs {
					if r.Value != nil && r.Topic == "srv.public.accounts" {
						got++
					}
				}
				if len(recs) > 0 {
					last := recs[len(recs)-1]
					if err := task.Commit(ctx, []connectors.SourceOffset{{Partition: last.SourcePartition, Offset: last.SourceOffset}}); err != nil {
						b.Fatal(err)
					}
				}
			}
			ours += time.Since(start)
			cpu += cpuTime() - c0
		}
		// Alternate which reader goes first, so neither always finds the
		// WAL in the page cache.
		if i%2 == 0 {
			runRaw()
			runOurs()
		} else {
			runOurs()
			runRaw()
		}
		b.StopTimer()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if err := task.Stop(sctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		pg.Exec(b, db, "SELECT pg_drop_replication_slot('raw_"+slot+"')", "DROP PUBLICATION "+slot+"_pub")
		b.StartTimer()
	}
	total := float64(rows * b.N)
	b.ReportMetric(total/ours.Seconds(), "rows/s")
	b.ReportMetric(total/raw.Seconds(), "raw_rows/s")
	b.ReportMetric(raw.Seconds()/ours.Seconds(), "ratio")
	b.ReportMetric(float64(cpu.Microseconds())/total, "cpu-us/row")
}

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSnapshot measures the initial snapshot of a 300k-row table into
// records with one and two threads, next to COPY TO STDOUT of the same
// table (the raw read limit) in the same run.
func BenchmarkSnapshot(b *testing.B) {
	const rows = 300000
	pg := harness.StartPostgres(b, harness.PostgresOptions{})
	db := pg.CreateDB(b, "snapbench")
	pg.Exec(b, db, `CREATE TABLE accounts (id bigint PRIMARY KEY, account int, name varchar(100), email text,
		balance numeric(12,2), created timestamptz, updated timestamp, active bool, score float8, birthday date)`,
		fmt.Sprintf(`INSERT INTO accounts SELECT g, g %% 1000, 'name ' || g, 'user' || g || '@example.com',
			g * 1.25, now(), now(), g %% 2 = 0, g / 3.0, date '1990-01-01' + (g %% 10000) FROM generate_series(1, %d) g`, rows),
		"VACUUM ANALYZE accounts")
	ctx := context.Background()
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			var raw, ours, cpu time.Duration
			for i := 0; i < b.N; i++ {
				conn := pg.Connect(b, db)
				start := time.Now()
				if _, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY accounts TO STDOUT"); err != nil {
					b.Fatal(err)
				}
				raw += time.Since(start)

				slot := fmt.Sprintf("snap_%d_%d", threads, i)
				p := props(pg, db, slot, SnapshotMaxThreads, fmt.Sprint(threads), SnapshotChunkSize, "25000",
					SlotDropOnStop, "true", SnapshotMode, SnapshotInitialOnly)
				start = time.Now()
				c0 := cpuTime()
				task := NewTask()
				if err := task.Start(ctx, &taskContext{}, p); err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < rows {
					pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					recs, err := task.Poll(pctx)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
					got += len(recs)
				}
				ours += time.Since(start)
				cpu += cpuTime() - c0
				sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				if err := task.Stop(sctx); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
			total := float64(rows * b.N)
			b.ReportMetric(total/ours.Seconds(), "rows/s")
			b.ReportMetric(total/raw.Seconds(), "copy_rows/s")
			b.ReportMetric(raw.Seconds()/ours.Seconds(), "ratio")
			b.ReportMetric(float64(cpu.Microseconds())/total, "cpu-us/row")
		})
	}
}
