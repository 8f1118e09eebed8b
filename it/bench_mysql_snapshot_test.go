package it

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
)

// BenchmarkMySQLSnapshot measures the MariaDB initial snapshot end to end
// (issue 15: a 5M-row table against `mariadb --quick`, ≥ 0.5×; worker RSS
// < 100 MB): rows read inside the snapshot → records → JSON → Kafka
// acknowledged (the offset's commit reported apart), for one table of
// SLUICE_BENCH_MYSQL_SNAPSHOT_ROWS rows (default 5,000,000) of the
// streaming benchmark's shape (an integer key, a VARCHAR, a DECIMAL(12,3)
// and a DATETIME(6)), once per snapshot.max.threads in
// SLUICE_BENCH_SNAPSHOT_THREADS (default "1,2"). One thread is the
// consistent snapshot (snapshot.mode=initial_only); more threads are the
// chunked snapshot, which reads while streaming (snapshot.mode=initial;
// initial_only has no stream).
//
// It follows BenchmarkPostgresSnapshot. Two raw limits are measured in the
// same run, next to each snapshot: `mariadb --quick --batch -e 'SELECT *
// FROM t' > /dev/null` (the server's rows through the C client, printed as
// text), and a bare franz-go producer with the worker's producer settings
// sending the very bytes Sluice wrote (read back from its topic), median
// of three. The ratio is against the lower. Keys and values are JSON
// without embedded schemas, as in the PostgreSQL benchmark.
func BenchmarkMySQLSnapshot(b *testing.B) {
	rows := int64(envInt("SLUICE_BENCH_MYSQL_SNAPSHOT_ROWS", 5_000_000))
	var threads []int
	for _, s := range strings.Split(cmp.Or(os.Getenv("SLUICE_BENCH_SNAPSHOT_THREADS"), "1,2"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("SLUICE_BENCH_SNAPSHOT_THREADS: %q", s)
		}
		threads = append(threads, n)
	}
	m := harness.StartMariaDB(b, harness.MariaDBOptions{})
	br := harness.StartBroker(b)
	db := m.CreateDB(b, "snap")
	m.Exec(b, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(40), d DECIMAL(12,3), ts DATETIME(6))")
	began := time.Now()
	const perTx = 500_000
	for from := int64(0); from < rows; from += perTx {
		m.Exec(b, db, fmt.Sprintf("INSERT INTO t SELECT seq, CONCAT('row ', seq), seq / 8, '2024-01-01 00:00:00.000001' + INTERVAL seq SECOND FROM seq_%d_to_%d",
			from+1, min(from+perTx, rows)))
	}
	b.Logf("filled %d rows in %v", rows, time.Since(began).Round(time.Second))
	cl := bareProducer(b, br)
	adm := kadm.NewClient(cl)
	run := 0
	for _, n := range threads {
		b.Run(fmt.Sprintf("threads=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run++
				prefix := fmt.Sprintf("mysnap%d", run)
				topic := prefix + "." + db + ".t"

				// Raw limit 1: the C client reading the same table.
				my0 := cpuSeconds(m.PID())
				start := time.Now()
				cmd := exec.Command("mariadb", "--quick", "--batch", "--host="+m.Host, "--port="+strconv.Itoa(m.Port), "--user="+m.User,
					"-e", "SELECT * FROM "+db+".t")
				if m.Password != "" {
					cmd.Env = append(os.Environ(), "MYSQL_PWD="+m.Password)
				}
				var stderr strings.Builder
				cmd.Stdout, cmd.Stderr = nil, &stderr // stdout: /dev/null
				if err := cmd.Run(); err != nil {
					b.Fatalf("mariadb --quick: %v\n%s", err, stderr.String())
				}
				clientRate := float64(rows) / time.Since(start).Seconds()
				clientMyPerRow := (cpuSeconds(m.PID()) - my0) * 1e6 / float64(rows)
				clientPerRow := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * 1e6 / float64(rows)

				props, _ := isolated(b, envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{
					"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true",
					"key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}))
				w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
				mode := "initial_only"
				if n > 1 {
					mode = "initial"
				}
				stopProfile := captureProfiles(b, w)
				cpu0, my0, br0 := cpuSeconds(w.PID()), cpuSeconds(m.PID()), cpuSeconds(br.PID())
				start = time.Now()
				w.JSON("POST", "/connectors", map[string]any{"name": "snap", "config": envProps("SLUICE_BENCH_CONNECTOR_PROPS",
					mysqlSourceConfig(m, db, prefix, map[string]string{
						"database.server.id": strconv.Itoa(6400 + run), "table.include.list": db + ".t",
						"snapshot.mode": mode, "snapshot.max.threads": strconv.Itoa(n), "include.schema.changes": "false",
					}))}, 201, nil)
				harness.WaitFor(b, 30*time.Minute, "every row in Kafka", func() error {
					if got := endOffsets(b, adm, topic); got < rows {
						return fmt.Errorf("%d of %d rows", got, rows)
					}
					return nil
				})
				acked := time.Since(start)
				myPerRow := (cpuSeconds(m.PID()) - my0) * 1e6 / float64(rows)
				brPerRow := (cpuSeconds(br.PID()) - br0) * 1e6 / float64(rows)
				harness.WaitFor(b, 5*time.Minute, "the end of the snapshot committed", func() error {
					var o struct {
						Offsets []struct {
							Offset map[string]any `json:"offset"`
						} `json:"offsets"`
					}
					w.JSON("GET", "/connectors/snap/offsets", nil, 200, &o)
					for _, e := range o.Offsets {
						if e.Offset["snapshot"] != true && e.Offset["incremental_snapshot"] == nil {
							return nil
						}
					}
					return fmt.Errorf("offsets %v", o.Offsets)
				})
				committed := time.Since(start)
				cpuPerRow := (cpuSeconds(w.PID()) - cpu0) * 1e6 / float64(rows)
				stopProfile()
				rss := float64(peakRSSKB(w.PID())) / 1024
				w.Stop()
				if got := endOffsets(b, adm, topic); got != rows {
					b.Errorf("%s has %d records, want %d", topic, got, rows)
				}
				sluice := float64(rows) / acked.Seconds()

				// Raw limit 2: the bytes Sluice wrote, through a bare
				// producer, three times; the median is the limit.
				bares, _, _ := replayBare(b, br, cl, adm, topic, rows)
				bare := median(bares)

				limit := min(clientRate, bare)
				b.ReportMetric(clientRate, "mariadb-client-rows/s")
				b.ReportMetric(bare, "bare-producer-rows/s")
				b.ReportMetric(sluice, "sluice-rows/s")
				b.ReportMetric(sluice/clientRate, "ratio-to-client")
				b.ReportMetric(sluice/limit, "ratio")
				b.ReportMetric(rss, "peak-RSS-MB")
				b.ReportMetric(cpuPerRow, "worker-CPU-µs/row")
				b.ReportMetric(myPerRow, "mariadb-CPU-µs/row")
				b.ReportMetric(brPerRow, "broker-CPU-µs/row")
				b.ReportMetric(clientPerRow, "mariadb-client-CPU-µs/row")
				b.Logf("rows=%d threads=%d mariadb --quick %.0f rows/s (CPU-µs/row: client %.2f, server %.2f), bare producer %.0f rows/s (median of %.0f, %.0f, %.0f); "+
					"sluice all acked in %v (%.0f rows/s), offset committed in %v; ratio to the client %.3f, to the lower %.3f; CPU-µs/row: worker %.2f, mariadb %.2f, broker %.2f; worker peak RSS %.0f MB",
					rows, n, clientRate, clientPerRow, clientMyPerRow, bare, bares[0], bares[1], bares[2],
					acked.Round(time.Millisecond), sluice, committed.Round(time.Millisecond), sluice/clientRate, sluice/limit, cpuPerRow, myPerRow, brPerRow, rss)
			}
		})
	}
}
