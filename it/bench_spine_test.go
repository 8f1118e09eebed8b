package it

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	dgen "github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// benchRecords is how many records each side of BenchmarkSourcePipeline
// sends.
var benchRecords = envInt("SLUICE_BENCH_RECORDS", 500_000)

// benchPartitions is the partition count of BenchmarkSourcePipeline's
// topics, on both sides: 1 is Kafka's default and the worker's.
var benchPartitions = envInt("SLUICE_BENCH_PARTITIONS", 1)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v > 0 {
		return v
	}
	return def
}

// generate runs a datagen task in-process and converts its records with
// the JSON converter (schemas.enable=true, the worker's default), giving
// the exact bytes the worker sends.
func generate(b *testing.B, n int) []*kgo.Record {
	b.Helper()
	conn := dgen.Plugin().New().(connectors.SourceConnector)
	props := map[string]string{"name": "gen", "kafka.topic": "raw", "iterations": strconv.Itoa(n)}
	if err := conn.Start(context.Background(), nil, props); err != nil {
		b.Fatal(err)
	}
	tcs, err := conn.TaskConfigs(1)
	if err != nil {
		b.Fatal(err)
	}
	task := conn.NewTask()
	if err := task.Start(context.Background(), benchTaskContext{}, tcs[0]); err != nil {
		b.Fatal(err)
	}
	defer task.Stop(context.Background())
	keyConv, _ := converter.Builtin().New("json")
	valConv, _ := converter.Builtin().New("json")
	_ = keyConv.Configure(map[string]string{}, true)
	_ = valConv.Configure(map[string]string{}, false)
	out := make([]*kgo.Record, 0, n)
	for len(out) < n {
		recs, err := task.Poll(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			k, err := keyConv.Encode(nil, "raw", r.KeySchema, r.Key)
			if err != nil {
				b.Fatal(err)
			}
			v, err := valConv.Encode(nil, "raw", r.ValueSchema, r.Value)
			if err != nil {
				b.Fatal(err)
			}
			kr := &kgo.Record{Topic: "raw", Key: k, Value: v}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			out = append(out, kr)
		}
	}
	return out[:n]
}

type benchTaskContext struct{}

func (benchTaskContext) Offset(context.Context, map[string]any) (map[string]any, error) {
	return nil, nil
}
func (benchTaskContext) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkSourcePipeline compares datagen → worker → topic (JSON,
// acks=all, idempotent producer, offsets committed) with a bare franz-go
// producer sending the same bytes to the same broker (a `sluice broker`
// process), in one run. The figure that matters is ratio = worker
// records/s ÷ bare producer records/s (target ≥ 0.7).
func BenchmarkSourcePipeline(b *testing.B) {
	for i := 0; i < b.N; i++ {
		br := harness.StartBroker(b)
		recs := generate(b, benchRecords)

		// Raw limit: the same bytes through one idempotent producer with
		// the worker's producer settings.
		cl := br.Client(b, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
			kgo.MaxBufferedRecords(50_000), kgo.MaxBufferedBytes(8<<20), kgo.MetadataMinAge(250*time.Millisecond))
		// Created as the worker creates its topic (the broker creates
		// none by itself), with benchPartitions partitions on both sides.
		if resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), int32(benchPartitions), -1, nil, "raw"); err != nil || resp.Err != nil {
			b.Fatal(err, resp.Err)
		}
		start := time.Now()
		for _, r := range recs {
			cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
		if err := cl.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		raw := float64(len(recs)) / time.Since(start).Seconds()
		recs = nil

		w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{})})
		adm := kadm.NewClient(cl)
		start = time.Now()
		w.JSON("POST", "/connectors", map[string]any{"name": "bench", "config": map[string]string{
			"connector.class": "datagen", "kafka.topic": "pipeline", "iterations": strconv.Itoa(benchRecords),
			"datagen.batch.size": "2000", "topic.creation.default.partitions": strconv.Itoa(benchPartitions)}}, 201, nil)
		harness.WaitFor(b, 10*time.Minute, "all records in the topic", func() error {
			ends, err := adm.ListEndOffsets(context.Background(), "pipeline")
			if err != nil {
				return err
			}
			var n int64
			ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
			if n < int64(benchRecords) {
				return fmt.Errorf("%d of %d", n, benchRecords)
			}
			return nil
		})
		sluice := float64(benchRecords) / time.Since(start).Seconds()
		b.ReportMetric(raw, "bare-records/s")
		b.ReportMetric(sluice, "sluice-records/s")
		b.ReportMetric(sluice/raw, "ratio")
		b.Logf("records=%d partitions=%d bare producer %.0f rec/s, sluice datagen→worker→topic %.0f rec/s, ratio %.2f", benchRecords, benchPartitions, raw, sluice, sluice/raw)
	}
}

// BenchmarkWorkerStartup measures a worker process with the embedded
// broker from exec to its REST API answering, and its resident memory
// once idle.
func BenchmarkWorkerStartup(b *testing.B) {
	bin := harness.Binary(b)
	var total time.Duration
	var rss int64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		port := harness.FreePort(b)
		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		cmd := exec.Command(bin, "worker", "--data-dir", dir, "--listeners", strings.TrimSuffix(url, "/"),
			"--broker-listen", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(b)), "--log-level", "warn")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatal("worker not ready after 30s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(start)
		time.Sleep(2 * time.Second) // idle
		rss = max(rss, rssKB(cmd.Process.Pid))
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-ready")
	b.ReportMetric(float64(rss)/1024, "idle-RSS-MB")
}

func rssKB(pid int) int64 { return procStatusKB(pid, "VmRSS:") }

// peakRSSKB returns the process's peak resident memory (VmHWM).
func peakRSSKB(pid int) int64 { return procStatusKB(pid, "VmHWM:") }

func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			f := strings.Fields(l)
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// cpuSeconds returns the user and system CPU time the process has used
// (Linux: utime + stime from /proc/<pid>/stat, in clock ticks of 10 ms).
func cpuSeconds(pid int) float64 {
	f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	return float64(f[11]+f[12]) / 100
}

// treeCPUSeconds returns the CPU time of pid, of its children, and of the
// children they waited for: for PostgreSQL, the postmaster and every
// backend, live or gone. A child reaped while the children are read would
// be in neither sum: the reading is repeated until the parent's count of
// its reaped children's time held still across it (a backend that ended
// with the snapshot once made PostgreSQL read 0.01 CPU-µs/row).
func treeCPUSeconds(pid int) float64 {
	all := func(f []int64) float64 { return float64(f[11]+f[12]+f[13]+f[14]) / 100 }
	for range 10 {
		f := procStat(pid)
		if len(f) < 15 {
			return 0
		}
		sum := all(f)
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			child, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if cf := procStat(child); len(cf) >= 15 && cf[1] == int64(pid) {
				sum += all(cf)
			}
		}
		if g := procStat(pid); len(g) >= 15 && g[13] == f[13] && g[14] == f[14] {
			return sum
		}
	}
	return 0
}

// procStat returns the numeric fields of /proc/<pid>/stat after the
// command name (which may hold spaces), the state field as 0.
func procStat(pid int) []int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	out := make([]int64, len(f))
	for i, v := range f {
		out[i], _ = strconv.ParseInt(v, 10, 64)
	}
	return out
}
