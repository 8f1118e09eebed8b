package it

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/it/harness"
	sluiceruntime "github.com/sluice-cdc/sluice/runtime"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkPostgresSnapshot measures the initial snapshot end to end —
// rows read inside the exported snapshot → records → JSON → Kafka
// acknowledged (offset committed, reported apart) — for pgbench_accounts at pgbench scale
// SLUICE_BENCH_SNAPSHOT_SCALE (default 50: 5,000,000 rows), once per
// snapshot.max.threads in SLUICE_BENCH_SNAPSHOT_THREADS (default "1,2").
//
// Two raw limits are measured in the same run, next to each snapshot:
// COPY pgbench_accounts TO STDOUT, and a bare franz-go producer with the
// worker's producer settings sending the very bytes Sluice wrote (read
// back from its topic). The ratio is against the lower of the two. Keys
// and values are JSON without embedded schemas, so that the replayed bytes
// fit in memory; with schemas each value would carry ~1.5 KB of schema.
// The bare producer runs three times and its median is the limit: its
// pace against the same broker process varies by 2x from run to run.
func BenchmarkPostgresSnapshot(b *testing.B) {
	scale := envInt("SLUICE_BENCH_SNAPSHOT_SCALE", 50)
	rows := int64(scale) * 100_000
	var threads []int
	for _, s := range strings.Split(cmp.Or(os.Getenv("SLUICE_BENCH_SNAPSHOT_THREADS"), "1,2"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("SLUICE_BENCH_SNAPSHOT_THREADS: %q", s)
		}
		threads = append(threads, n)
	}
	pg := harness.StartPostgres(b, harness.PostgresOptions{})
	br := harness.StartBroker(b)
	db := pg.CreateDB(b, "snap")
	ctx := context.Background()
	began := time.Now()
	if out, err := pg.Pgbench(ctx, db, "-i", "-s", strconv.Itoa(scale), "-q"); err != nil {
		b.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	b.Logf("pgbench -i -s %d: %d accounts in %v", scale, rows, time.Since(began).Round(time.Second))
	conn := pg.Connect(b, db)
	cl := bareProducer(b, br)
	adm := kadm.NewClient(cl)
	run := 0
	for _, n := range threads {
		b.Run(fmt.Sprintf("threads=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				run++
				prefix, slot := fmt.Sprintf("snap%d", run), fmt.Sprintf("snap%d", run)
				topic := prefix + ".public.pgbench_accounts"

				// Raw limit 1: COPY TO STDOUT of the same table.
				start := time.Now()
				tag, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY pgbench_accounts TO STDOUT")
				if err != nil {
					b.Fatal(err)
				}
				if tag.RowsAffected() != rows {
					b.Fatalf("COPY read %d rows, want %d", tag.RowsAffected(), rows)
				}
				copyRate := float64(rows) / time.Since(start).Seconds()

				props, _ := isolated(b, envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{
					"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true",
					"key.converter.schemas.enable": "false", "value.converter.schemas.enable": "false"}))
				w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
				stopProfile := captureProfiles(b, w)
				cpu0, pg0, br0 := cpuSeconds(w.PID()), treeCPUSeconds(pg.PID()), cpuSeconds(br.PID())
				start = time.Now()
				w.JSON("POST", "/connectors", map[string]any{"name": "snap", "config": envProps("SLUICE_BENCH_CONNECTOR_PROPS", map[string]string{
					"connector.class": "postgres", "database.hostname": pg.Host, "database.port": strconv.Itoa(pg.Port),
					"database.user": pg.User, "database.dbname": db, "topic.prefix": prefix, "slot.name": slot,
					"publication.name": slot, "publication.autocreate.mode": "filtered",
					"table.include.list": "public.pgbench_accounts", "snapshot.mode": "initial_only",
					"snapshot.max.threads": strconv.Itoa(n),
				})}, 201, nil)
				harness.WaitFor(b, 30*time.Minute, "every row in Kafka", func() error {
					if got := endOffsets(b, adm, topic); got < rows {
						return fmt.Errorf("%d of %d rows", got, rows)
					}
					return nil
				})
				acked := time.Since(start)
				pgPerRow := (treeCPUSeconds(pg.PID()) - pg0) * 1e6 / float64(rows)
				brPerRow := (cpuSeconds(br.PID()) - br0) * 1e6 / float64(rows)
				harness.WaitFor(b, 5*time.Minute, "the end of the snapshot committed", func() error {
					var o struct {
						Offsets []struct {
							Offset map[string]any `json:"offset"`
						} `json:"offsets"`
					}
					w.JSON("GET", "/connectors/snap/offsets", nil, 200, &o)
					for _, e := range o.Offsets {
						if e.Offset["snapshot"] != true && e.Offset["snapshot_incremental"] != true {
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
				harness.WaitFor(b, 15*time.Second, "slot "+slot+" dropped", func() error {
					_, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot)
					return err
				})
				// The snapshot's pace is rows over the time until Kafka
				// acknowledged the last one; committing its offset follows
				// within offset.flush.interval.ms and is reported apart.
				sluice := float64(rows) / acked.Seconds()

				// Raw limit 2: the bytes Sluice wrote, through a bare producer,
				// three times (the broker's pace varies from run to run); the
				// median is the limit.
				bares, bareCPU, bareBr := replayBare(b, br, cl, adm, topic, rows)
				bare := median(bares)

				limit := min(copyRate, bare)
				b.ReportMetric(copyRate, "copy-rows/s")
				b.ReportMetric(bare, "bare-producer-rows/s")
				b.ReportMetric(sluice, "sluice-rows/s")
				b.ReportMetric(sluice/limit, "ratio")
				b.ReportMetric(rss, "peak-RSS-MB")
				b.ReportMetric(cpuPerRow, "worker-CPU-µs/row")
				b.ReportMetric(pgPerRow, "postgres-CPU-µs/row")
				b.ReportMetric(brPerRow, "broker-CPU-µs/row")
				b.Logf("rows=%d threads=%d COPY %.0f rows/s, bare producer %.0f rows/s (median of %.0f, %.0f, %.0f; client %.2f, broker %.2f CPU-µs/row); "+
					"sluice all acked in %v (%.0f rows/s), offset committed in %v; ratio to the lower %.2f; CPU-µs/row: worker %.2f, postgres %.2f, broker %.2f; worker peak RSS %.0f MB",
					rows, n, copyRate, bare, bares[0], bares[1], bares[2], median(bareCPU), median(bareBr),
					acked.Round(time.Millisecond), sluice, committed.Round(time.Millisecond), sluice/limit, cpuPerRow, pgPerRow, brPerRow, rss)
			}
		})
	}
}

// bareProducer returns a client with the worker's producer settings (its
// defaults, or what SLUICE_BENCH_WORKER_PROPS sets), the raw limit that
// replays what a worker wrote (replayBare).
func bareProducer(b *testing.B, br *harness.Broker) *kgo.Client {
	wv, err := config.WorkerDef.Parse(envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{}))
	if err != nil {
		b.Fatal(err)
	}
	return br.Client(b, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(wv.Duration(config.ProducerLinger)),
		kgo.MaxBufferedRecords(wv.Int(config.ProducerMaxBufferedRecords)), kgo.MaxBufferedBytes(int(wv.Long(config.ProducerMaxBufferedBytes))),
		kgo.ProducerBatchCompression(sluiceruntime.ProducerCompression(wv.String(config.ProducerCompression))),
		kgo.MetadataMinAge(50*time.Millisecond))
}

// replayBare reads the rows records of topic back, deletes the topic (the
// broker replays into the state the worker met) and produces the very
// bytes three times with cl into fresh topics of as many partitions: the
// rates, and the client's and the broker's CPU-µs per record, of each run.
func replayBare(b *testing.B, br *harness.Broker, cl *kgo.Client, adm *kadm.Client, topic string, rows int64) (rates, clientCPU, brokerCPU []float64) {
	ctx := context.Background()
	recs := readAll(b, br, topic, rows)
	parts := partitionsOf(b, adm, topic)
	if _, err := adm.DeleteTopics(ctx, topic); err != nil {
		b.Logf("deleting topics: %v", err)
	}
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			b.Error(err)
		}
	}
	for k := range 3 {
		replay := fmt.Sprintf("%s.replay%d", topic, k)
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, replay); err != nil {
			b.Fatal(err)
		}
		self0, br0 := selfCPUSeconds(), cpuSeconds(br.PID())
		start := time.Now()
		for i := range recs.recs {
			k, v := recs.record(i)
			cl.Produce(ctx, &kgo.Record{Topic: replay, Key: k, Value: v}, promise)
		}
		if err := cl.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		rates = append(rates, float64(rows)/time.Since(start).Seconds())
		clientCPU = append(clientCPU, (selfCPUSeconds()-self0)*1e6/float64(rows))
		brokerCPU = append(brokerCPU, (cpuSeconds(br.PID())-br0)*1e6/float64(rows))
		if _, err := adm.DeleteTopics(ctx, replay); err != nil {
			b.Logf("deleting topics: %v", err)
		}
	}
	return rates, clientCPU, brokerCPU
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// selfCPUSeconds returns the CPU time this process has used.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// envProps adds to props the properties listed in the environment
// variable env as "k=v,k=v": SLUICE_BENCH_WORKER_PROPS for the worker,
// SLUICE_BENCH_CONNECTOR_PROPS for the connector, to compare settings in
// the same session.
func envProps(env string, props map[string]string) map[string]string {
	for _, kv := range strings.Split(os.Getenv(env), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			props[k] = v
		}
	}
	return props
}

// replaySet is records read back, kept without pointers (offsets into
// a few large arenas) so that the garbage collector of the process that
// replays them has nothing to scan: with a slice pair per record it marks
// millions of pointers per cycle and the bare producer measures that.
type replaySet struct {
	arenas [][]byte
	recs   []replayRecord
}

type replayRecord struct{ arena, off, klen, vlen uint32 }

func (s *replaySet) record(i int) (key, value []byte) {
	r := s.recs[i]
	a := s.arenas[r.arena]
	return a[r.off : r.off+r.klen : r.off+r.klen], a[r.off+r.klen : r.off+r.klen+r.vlen : r.off+r.klen+r.vlen]
}

// readAll reads the first n records of topic into memory.
func readAll(b *testing.B, br *harness.Broker, topic string, n int64) *replaySet {
	c := br.Client(b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20))
	out := &replaySet{recs: make([]replayRecord, 0, n)}
	var arena []byte
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for int64(len(out.recs)) < n {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatalf("reading %s back: %v (%d of %d records)", topic, err, len(out.recs), n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if cap(arena)-len(arena) < len(r.Key)+len(r.Value) {
				arena = make([]byte, 0, max(64<<20, len(r.Key)+len(r.Value)))
				out.arenas = append(out.arenas, arena)
			}
			off := len(arena)
			arena = append(arena, r.Key...)
			arena = append(arena, r.Value...)
			out.recs = append(out.recs, replayRecord{arena: uint32(len(out.arenas) - 1), off: uint32(off), klen: uint32(len(r.Key)), vlen: uint32(len(r.Value))})
		})
	}
	c.Close()
	return out
}

func partitionsOf(b *testing.B, adm *kadm.Client, topic string) int32 {
	td, err := adm.ListTopics(context.Background(), topic)
	if err != nil {
		b.Fatal(err)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		b.Fatalf("topic %s: %v", topic, d.Err)
	}
	return int32(len(d.Partitions))
}
