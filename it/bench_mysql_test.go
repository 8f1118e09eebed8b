package it

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkMySQLStreaming measures the MySQL source end to end (issue 15):
// SLUICE_BENCH_MYSQL_ROWS rows (default 1,000,000) inserted in
// transactions of 100,000 while the connector is paused, then drained:
// from the resume until every row is in Kafka (acknowledged) and until
// the offset of the last transaction is committed. The raw limit, in the
// same run, is mariadb-binlog --read-from-remote-server --raw copying the
// same binlog files (bytes, no decoding). The table is the MySQL
// package's benchmark table: an integer key, a VARCHAR, a DECIMAL(12,3)
// and a DATETIME(6). Reported: rows/s of both, their ratio, the worker's
// CPU-µs per row over the drain and its peak RSS.
func BenchmarkMySQLStreaming(b *testing.B) {
	rows := envInt("SLUICE_BENCH_MYSQL_ROWS", 1_000_000)
	const perTx = 100_000
	for i := 0; i < b.N; i++ {
		m := harness.StartMariaDB(b, harness.MariaDBOptions{})
		br := harness.StartBroker(b)
		db := m.CreateDB(b, "bench")
		m.Exec(b, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(40), d DECIMAL(12,3), ts DATETIME(6))")
		sqlDB := m.Open(b, db)

		w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap,
			Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true"})})
		cfg := envProps("SLUICE_BENCH_CONNECTOR_PROPS", mysqlSourceConfig(m, db, "mybench", map[string]string{
			"database.server.id": "6201", "snapshot.mode": "no_data", "include.schema.changes": "false"}))
		w.JSON("POST", "/connectors", map[string]any{"name": "mybench", "config": cfg}, 201, nil)
		waitState := func(state string) {
			harness.WaitFor(b, 60*time.Second, "the connector "+state, func() error {
				var st struct {
					Connector struct{ State string } `json:"connector"`
					Tasks     []struct{ State, Trace string }
				}
				w.JSON("GET", "/connectors/mybench/status", nil, 200, &st)
				if len(st.Tasks) != 1 || st.Tasks[0].State != state {
					return fmt.Errorf("status %+v", st)
				}
				return nil
			})
		}
		waitState("RUNNING")
		w.JSON("PUT", "/connectors/mybench/pause", nil, 202, nil)
		waitState("PAUSED")

		var startFile string
		var skip1, skip2, skip3 any
		if err := sqlDB.QueryRow("SHOW MASTER STATUS").Scan(&startFile, &skip1, &skip2, &skip3); err != nil {
			b.Fatal(err)
		}
		for from := 0; from < rows; from += perTx {
			m.Exec(b, db, fmt.Sprintf("INSERT INTO t SELECT seq, CONCAT('row ', seq), seq / 8, '2024-01-01 00:00:00.000001' + INTERVAL seq SECOND FROM seq_%d_to_%d",
				from+1, min(from+perTx, rows)))
		}
		var endFile, gtids string
		var endPos int64
		if err := sqlDB.QueryRow("SHOW MASTER STATUS").Scan(&endFile, &endPos, &skip1, &skip2); err != nil {
			b.Fatal(err)
		}
		if err := sqlDB.QueryRow("SELECT @@gtid_binlog_pos").Scan(&gtids); err != nil {
			b.Fatal(err)
		}

		// The raw limit: the same binlog files copied, nothing decoded.
		files := []string{startFile}
		if endFile != startFile {
			files = append(files, endFile)
		}
		rawStart := time.Now()
		args := append([]string{"--read-from-remote-server", "--raw", "--host=" + m.Host, "--port=" + strconv.Itoa(m.Port),
			"--user=" + m.User, "--result-file=" + b.TempDir() + "/"}, files...)
		if out, err := exec.Command("mariadb-binlog", args...).CombinedOutput(); err != nil {
			b.Fatalf("mariadb-binlog: %v\n%s", err, out)
		}
		raw := float64(rows) / time.Since(rawStart).Seconds()

		stopProfile := captureProfiles(b, w)
		cpu0 := cpuSeconds(w.PID())
		start := time.Now()
		w.JSON("PUT", "/connectors/mybench/resume", nil, 202, nil)
		ctx := context.Background()
		adm := kadm.NewClient(br.Client(b, kgo.MetadataMinAge(50*time.Millisecond)))
		harness.WaitFor(b, 30*time.Minute, "every row in Kafka", func() error {
			ends, err := adm.ListEndOffsets(ctx, "mybench."+db+".t")
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
		harness.WaitFor(b, 5*time.Minute, "the last transaction's offset committed", func() error {
			var o struct {
				Offsets []struct {
					Offset map[string]any `json:"offset"`
				} `json:"offsets"`
			}
			w.JSON("GET", "/connectors/mybench/offsets", nil, 200, &o)
			for _, e := range o.Offsets {
				if e.Offset["gtids"] == gtids && e.Offset["tx_gtid"] == nil {
					return nil
				}
			}
			return fmt.Errorf("offsets %v, want gtids %s", o.Offsets, gtids)
		})
		committed := time.Since(start)
		cpu := cpuSeconds(w.PID()) - cpu0
		stopProfile()
		sluice := float64(rows) / committed.Seconds()
		rss := float64(peakRSSKB(w.PID())) / 1024
		b.ReportMetric(sluice, "sluice-rows/s")
		b.ReportMetric(raw, "mariadb-binlog-rows/s")
		b.ReportMetric(sluice/raw, "ratio")
		b.ReportMetric(cpu*1e6/float64(rows), "worker-CPU-µs/row")
		b.ReportMetric(rss, "peak-RSS-MB")
		b.Logf("rows=%d mariadb-binlog --raw %.0f rows/s; sluice binlog→Kafka acked in %v, offset committed in %v: %.0f rows/s; ratio %.3f; worker %.2f CPU-µs/row, peak RSS %.0f MB",
			rows, raw, acked.Round(time.Millisecond), committed.Round(time.Millisecond), sluice, sluice/raw, cpu*1e6/float64(rows), rss)
	}
}
