package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kgo"
)

// committedSeqs reads topic read_committed from its start until want
// distinct datagen sequence numbers were seen and then quiet more,
// and returns how often each was seen.
func committedSeqs(t *testing.T, bootstrap, topic string, want int, quiet time.Duration) map[int64]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[int64]int{}
	deadline := time.Now().Add(90 * time.Second)
	var done time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == datagen.SeqHeader {
					n, err := strconv.ParseInt(string(h.Value), 10, 64)
					if err != nil {
						t.Fatalf("seq header %q: %v", h.Value, err)
					}
					seen[n]++
				}
			}
		})
		if len(seen) >= want && done.IsZero() {
			done = time.Now()
		}
		if !done.IsZero() && time.Since(done) > quiet {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d distinct sequence numbers of %d within 90 s", len(seen), want)
		}
	}
}

func checkExactlyOnce(t *testing.T, seen map[int64]int, n int) {
	t.Helper()
	var dups, missing []int64
	for i := int64(0); i < int64(n); i++ {
		switch c := seen[i]; {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			dups = append(dups, i)
		}
	}
	if len(dups)+len(missing) > 0 {
		t.Fatalf("of %d sequence numbers, %d committed more than once (first %v), %d never (first %v)",
			n, len(dups), head(dups), len(missing), head(missing))
	}
}

func head(s []int64) []int64 { return s[:min(len(s), 10)] }

// TestExactlyOnceSourceSurvivesRestarts: with exactly-once enabled, a
// read_committed consumer sees every record once although the tasks are
// restarted, paused and resumed while they write.
func TestExactlyOnceSourceSurvivesRestarts(t *testing.T) {
	for _, boundary := range []string{"poll", "interval"} {
		t.Run(boundary, func(t *testing.T) {
			w := startWorker(t, map[string]string{config.ExactlyOnceSourceSupport: "enabled", config.GroupID: "eos"})
			const n = 30000
			w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
				"connector.class": "datagen", "kafka.topic": "eos", "iterations": strconv.Itoa(n), "tasks.max": "2",
				"datagen.rate": "6000", "transaction.boundary": boundary, "transaction.boundary.interval.ms": "150"}}, 201, nil)
			waitFor(t, "both tasks RUNNING", func() bool {
				st := w.status(t, "gen")
				return len(st.Tasks) == 2 && st.Tasks[0].State == api.StateRunning && st.Tasks[1].State == api.StateRunning
			})
			for i := range 6 {
				time.Sleep(400 * time.Millisecond)
				if i == 3 {
					w.do(t, "PUT", "/connectors/gen/pause", nil, 202, nil)
					time.Sleep(200 * time.Millisecond)
					w.do(t, "PUT", "/connectors/gen/resume", nil, 202, nil)
					continue
				}
				w.do(t, "POST", "/connectors/gen/restart?includeTasks=true", nil, 202, nil)
			}
			checkExactlyOnce(t, committedSeqs(t, w.bootstrap, "eos", n, 2*time.Second), n)
			for _, ts := range w.status(t, "gen").Tasks {
				if ts.State == api.StateFailed {
					t.Errorf("task %d FAILED: %s", ts.ID, ts.Trace)
				}
			}
		})
	}
}

// TestExactlyOnceRefusesWhatItCannotDo: properties the worker cannot
// honour are refused with what to change.
func TestExactlyOnceRefusesWhatItCannotDo(t *testing.T) {
	w := startWorker(t, nil)
	for prop, val := range map[string]string{"exactly.once.support": "required", "transaction.boundary": "connector", "offsets.storage.topic": "mine"} {
		b, _ := json.Marshal(map[string]any{"name": "x", "config": map[string]string{
			"connector.class": "datagen", "kafka.topic": "t", prop: val}})
		resp, err := http.Post(w.url+"/connectors", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), prop) {
			t.Errorf("%s=%s: %d %s, want a 400 naming %s", prop, val, resp.StatusCode, body, prop)
		}
	}
}

// TestExactlyOnceFencedTaskCommitsNothing: a task whose transactional id
// is fenced by another producer (what a new instance of it does to a
// zombie) fails, commits nothing more, and its restart resends exactly
// what was not committed.
func TestExactlyOnceFencedTaskCommitsNothing(t *testing.T) {
	w := startWorker(t, map[string]string{config.ExactlyOnceSourceSupport: "enabled", config.GroupID: "eos"})
	const n = 30000
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "eos", "iterations": strconv.Itoa(n), "tasks.max": "2",
		"datagen.rate": "5000", "sluice.task.restart.backoff.initial.ms": "100"}}, 201, nil)
	waitFor(t, "both tasks RUNNING", func() bool {
		st := w.status(t, "gen")
		return len(st.Tasks) == 2 && st.Tasks[0].State == api.StateRunning && st.Tasks[1].State == api.StateRunning
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 6 {
		time.Sleep(500 * time.Millisecond)
		if err := fenceProducer(context.Background(), cl, "eos-gen-"+strconv.Itoa(i%2)); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnce(t, committedSeqs(t, w.bootstrap, "eos", n, 2*time.Second), n)
	if !strings.Contains(w.logs.String(), "task failed") {
		t.Error("no task failed after its transactional id was fenced")
	}
}
