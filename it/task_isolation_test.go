package it

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	dg "github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// childrenOf returns the pids of pid's live children.
func childrenOf(pid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := procStat(child); len(f) >= 2 && f[1] == int64(pid) {
			out = append(out, child)
		}
	}
	return out
}

// TestIsolatedTaskDiesWithItsWorker: a `sluice worker` with the embedded
// broker runs a task with task.isolation=process in a `sluice task-host`
// child that reaches the broker over 127.0.0.1 and writes; kill -9 of
// the worker kills the child too (Pdeathsig), and a restarted worker
// resumes the task without a gap in the sequence numbers.
func TestIsolatedTaskDiesWithItsWorker(t *testing.T) {
	t.Parallel()
	listen := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	w := harness.StartWorker(t, harness.WorkerOptions{BrokerListen: listen, Props: map[string]string{"offset.flush.interval.ms": "200"}})
	create(t, w, "gen", datagen("gen", map[string]string{"datagen.rate": "2000", "iterations": "20000",
		"task.isolation": "process", "sluice.task.restart.backoff.initial.ms": "100"}))
	var child int
	harness.WaitFor(t, 30*time.Second, "the task process", func() error {
		cs := childrenOf(w.PID())
		if len(cs) != 1 {
			return fmt.Errorf("children %v", cs)
		}
		child = cs[0]
		return nil
	})
	r := newTopicReader(t, listen, "gen")
	harness.WaitFor(t, 30*time.Second, "records from the task process", func() error {
		r.pollOnce(200 * time.Millisecond)
		if len(r.counts) < 1000 {
			return fmt.Errorf("%d records", len(r.counts))
		}
		return nil
	})
	w.Kill()
	harness.WaitFor(t, 10*time.Second, "the task process gone with its worker", func() error {
		if err := syscall.Kill(child, 0); err == nil {
			if f := procStat(child); len(f) > 0 && f[1] != 1 {
				return fmt.Errorf("task process %d still runs", child)
			}
			return fmt.Errorf("task process %d outlived its worker", child)
		}
		return nil
	})
	w.Start(t)
	harness.WaitFor(t, 60*time.Second, "all 20000 sequence numbers", func() error {
		r.pollOnce(200 * time.Millisecond)
		if len(r.counts) < 20000 {
			return fmt.Errorf("%d distinct", len(r.counts))
		}
		return nil
	})
	for i := int64(0); i < 20000; i++ {
		if r.counts[i] == 0 {
			t.Fatalf("sequence number %d missing", i)
		}
	}
}

// BenchmarkTaskIsolation compares a datagen task with task.isolation=
// process against none, alternated in the same run (SLUICE_BENCH_ROUNDS,
// 3), each on a broker of its own writing SLUICE_BENCH_RECORDS (300,000)
// (with task.memory.max.bytes=SLUICE_BENCH_TASK_MEMORY when set):
// records/s until a consumer read them all, and the CPU of the worker and
// its task processes per record.
func BenchmarkTaskIsolation(b *testing.B) {
	n := envInt("SLUICE_BENCH_RECORDS", 300_000)
	rounds := envInt("SLUICE_BENCH_ROUNDS", 3)
	for range b.N {
		var sum [2]struct{ rate, cpu float64 }
		for round := range rounds {
			for i, iso := range []string{"none", "process"} {
				br := harness.StartBroker(b)
				w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap})
				cl := br.Client(b, kgo.ConsumeTopics("gen"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
				load := loadAvg()
				cpu0 := treeCPUSeconds(w.PID())
				start := time.Now()
				cfg := datagen("gen", map[string]string{"iterations": strconv.Itoa(n), "task.isolation": iso})
				if m := os.Getenv("SLUICE_BENCH_TASK_MEMORY"); m != "" && iso == "process" {
					cfg["task.memory.max.bytes"] = m
				}
				w.JSON("POST", "/connectors", map[string]any{"name": "gen", "config": cfg}, http.StatusCreated, nil)
				got := 0
				for got < n {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					fs := cl.PollFetches(ctx)
					cancel()
					fs.EachRecord(func(r *kgo.Record) {
						for _, h := range r.Headers {
							if h.Key == dg.SeqHeader {
								got++
							}
						}
					})
					if time.Since(start) > 5*time.Minute {
						b.Fatalf("%s: %d of %d records after 5 minutes", iso, got, n)
					}
				}
				elapsed := time.Since(start)
				rate := float64(n) / elapsed.Seconds()
				cpu := (treeCPUSeconds(w.PID()) - cpu0) * 1e6 / float64(n)
				var rss int64
				for _, c := range childrenOf(w.PID()) {
					if f := procStat(c); len(f) > 21 {
						rss = f[21] * int64(os.Getpagesize())
					}
				}
				b.Logf("round %d %-7s %8.0f records/s  %.2f CPU-µs/record (worker+task process)  task process RSS %d MiB  load %s",
					round, iso, rate, cpu, rss>>20, load)
				sum[i].rate += rate
				sum[i].cpu += cpu
				w.Stop()
				cl.Close()
			}
		}
		b.ReportMetric(sum[1].rate/sum[0].rate, "rate-ratio")
		b.ReportMetric(sum[1].cpu/sum[0].cpu, "cpu-ratio")
		b.Logf("process/none over %d rounds: rate %.3f, CPU per record %.3f", rounds, sum[1].rate/sum[0].rate, sum[1].cpu/sum[0].cpu)
	}
}
