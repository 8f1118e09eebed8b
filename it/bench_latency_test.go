package it

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPostgresLatency measures the latency from a PostgreSQL commit
// to the change being in Kafka at a steady SLUICE_BENCH_LATENCY_RATE rows/s
// (default 10,000), written as transactions of rate/100 rows every 10 ms
// for SLUICE_BENCH_LATENCY_SECONDS (default 15). Latency is the time a
// consumer polling with FetchMaxWait 10 ms receives the record minus the
// commit time in the envelope (source.ts_ms) — an upper bound of commit →
// Kafka acknowledgement; the record's own timestamp (when the worker
// produced it) minus source.ts_ms is reported too. The first 2 s are
// warm-up. Targets: p99 < 50 ms, worker RSS < 100 MB.
func BenchmarkPostgresLatency(b *testing.B) {
	rate := envInt("SLUICE_BENCH_LATENCY_RATE", 10_000)
	seconds := envInt("SLUICE_BENCH_LATENCY_SECONDS", 15)
	const tick = 10 * time.Millisecond
	perTx := max(rate/100, 1)
	for i := 0; i < b.N; i++ {
		// The harness runs PostgreSQL with synchronous_commit=off, where a
		// commit reaches the WAL flush position (the most a walsender
		// sends) only at the WAL writer's next round, 200 ms later: that
		// would be measured as latency. Commits here flush, as in
		// production (fsync stays off).
		pg := harness.StartPostgres(b, harness.PostgresOptions{Settings: map[string]string{"synchronous_commit": "on"}})
		br := harness.StartBroker(b)
		db := pg.CreateDB(b, "lat")
		pg.Exec(b, db, "CREATE TABLE lat (id bigserial PRIMARY KEY, v int, payload text)")
		props, sfx := isolated(b, map[string]string{"offset.flush.interval.ms": "1000"})
		w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
		create(b, w, "lat", pgSourceConfig(pg, db, "lat", "sluice_lat_"+sfx, map[string]string{"snapshot.mode": "no_data"}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		meta := pg.Connect(b, "postgres")
		harness.WaitFor(b, time.Minute, "the slot active", func() error {
			var active bool
			if err := meta.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", "sluice_lat_"+sfx).Scan(&active); err != nil {
				return err
			}
			if !active {
				return fmt.Errorf("inactive")
			}
			return nil
		})

		cl := br.Client(b, kgo.ConsumeTopics("lat.public.lat"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(10*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
		var (
			mu          sync.Mutex
			recvLat     []float64 // ms, receive time − source.ts_ms
			produceLat  []float64 // ms, record timestamp − source.ts_ms
			consumed    int
			decodeErr   error
			warmUpUntil = time.Now().Add(2 * time.Second).UnixMilli()
		)
		consumeCtx, stopConsume := context.WithCancel(ctx)
		consumerDone := make(chan struct{})
		go func() {
			defer close(consumerDone)
			for consumeCtx.Err() == nil {
				fs := cl.PollFetches(consumeCtx)
				now := time.Now()
				fs.EachRecord(func(r *kgo.Record) {
					var v struct {
						Payload struct {
							Source struct {
								TsMs int64 `json:"ts_ms"`
							} `json:"source"`
						} `json:"payload"`
						Source struct {
							TsMs int64 `json:"ts_ms"`
						} `json:"source"`
					}
					err := json.Unmarshal(r.Value, &v)
					ts := v.Payload.Source.TsMs
					if ts == 0 {
						ts = v.Source.TsMs
					}
					mu.Lock()
					defer mu.Unlock()
					consumed++
					if err != nil || ts == 0 {
						if decodeErr == nil {
							decodeErr = fmt.Errorf("record %d: no source.ts_ms in %q: %v", r.Offset, r.Value, err)
						}
						return
					}
					if ts < warmUpUntil {
						return
					}
					recvLat = append(recvLat, float64(now.UnixMicro()-ts*1000)/1000)
					produceLat = append(produceLat, float64(r.Timestamp.UnixMicro()-ts*1000)/1000)
				})
			}
		}()

		// Steady load: one transaction of perTx rows every tick.
		conn := pg.Connect(b, db)
		b.ResetTimer()
		start := time.Now()
		tk := time.NewTicker(tick)
		sent := 0
		behind := 0
		for time.Since(start) < time.Duration(seconds)*time.Second {
			<-tk.C
			if _, err := conn.Exec(ctx, "INSERT INTO lat (v, payload) SELECT g, md5(g::text) FROM generate_series(1, $1::int) g", perTx); err != nil {
				b.Fatal(err)
			}
			sent += perTx
			if len(tk.C) > 0 {
				behind++
			}
		}
		tk.Stop()
		achieved := float64(sent) / time.Since(start).Seconds()
		harness.WaitFor(b, 5*time.Minute, "every row consumed", func() error {
			mu.Lock()
			defer mu.Unlock()
			if decodeErr != nil {
				b.Fatal(decodeErr)
			}
			if consumed < sent {
				return fmt.Errorf("%d of %d", consumed, sent)
			}
			return nil
		})
		b.StopTimer()
		stopConsume()
		<-consumerDone
		cancel()
		adm := kadm.NewClient(br.Client(b, kgo.MetadataMinAge(50*time.Millisecond)))
		if n := endOffsets(b, adm, "lat.public.lat"); n != int64(sent) {
			b.Errorf("lat.public.lat has %d records, %d rows were inserted", n, sent)
		}
		if len(recvLat) == 0 {
			b.Fatal("no record after the warm-up")
		}
		p := func(xs []float64, q float64) float64 {
			return xs[min(len(xs)-1, int(q*float64(len(xs))))]
		}
		sort.Float64s(recvLat)
		sort.Float64s(produceLat)
		peak := float64(peakRSSKB(w.PID())) / 1024
		b.ReportMetric(achieved, "rows/s")
		b.ReportMetric(p(recvLat, 0.50), "p50-ms")
		b.ReportMetric(p(recvLat, 0.99), "p99-ms")
		b.ReportMetric(recvLat[len(recvLat)-1], "max-ms")
		b.ReportMetric(p(produceLat, 0.99), "produce-p99-ms")
		b.ReportMetric(peak, "peak-RSS-MB")
		b.Logf("rate %s rows/s asked, %.0f achieved (%d rows in transactions of %d; the writer fell behind its tick %d times); commit→consumer latency p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d rows; commit→produce p50 %.1f ms p99 %.1f ms; worker peak RSS %.0f MB",
			strconv.Itoa(rate), achieved, sent, perTx, behind, p(recvLat, 0.5), p(recvLat, 0.99), recvLat[len(recvLat)-1], len(recvLat),
			p(produceLat, 0.5), p(produceLat, 0.99), peak)
	}
}
