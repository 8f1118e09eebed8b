package it

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDatagenKillAndResume runs 200,000 datagen records over 2 tasks
// through a worker that is killed with SIGKILL about a third of the way in
// and started again: every sequence number must arrive, and a number may
// only arrive twice when it was produced after the offsets the worker had
// committed before it died.
func TestDatagenKillAndResume(t *testing.T) {
	t.Parallel()
	const (
		total = 200_000
		tasks = 2
	)
	b := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	topic := "kill-resume-" + sfx
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
	create(t, w, "kr", datagen(topic, map[string]string{
		"tasks.max": "2", "iterations": fmt.Sprint(total), "datagen.rate": "8000",
	}))

	r := newTopicReader(t, b.Bootstrap, topic)
	r.check = func(rec *kgo.Record, n int64) {
		if n < 0 || n >= total {
			t.Fatalf("record with seq %d, outside 0..%d", n, total-1)
		}
		if v := valueSeq(t, rec); v != n {
			t.Fatalf("record with datagen.seq header %d has value seq %d", n, v)
		}
	}
	// Kill when about 30% of the records are in the topic (counted by its
	// end offsets: the consumer may lag behind the worker).
	adm := kadm.NewClient(b.Client(t, freshMetadata))
	r.until(2*time.Minute, "30% of the records", func() error {
		if end := endOffsets(t, adm, topic); end < total*3/10 {
			return fmt.Errorf("%d records in the topic so far", end)
		}
		return nil
	})
	// Read the committed offsets just before the kill: everything at or
	// below them was committed, so it must not be produced again.
	committed := taskOffsets(t, w, "kr")
	w.Kill()
	before := endOffsets(t, adm, topic)
	t.Logf("killed the worker with %d records in the topic; committed offsets %v", before, committed)
	if len(committed) != tasks {
		t.Fatalf("offsets before the kill: %v, want one per task (offset.flush.interval.ms=1000 and %d records were acknowledged)",
			committed, before)
	}
	for task, seq := range committed {
		if seq%tasks != int64(task) {
			t.Fatalf("task %d committed seq %d, which is not one of its numbers (task i of %d produces i, i+%d, ...)", task, seq, tasks, tasks)
		}
	}

	w.Start(t)
	r.until(3*time.Minute, "every seq 0..199999", func() error {
		if _, d := r.totals(); d < total {
			return fmt.Errorf("%d of %d distinct sequence numbers", d, total)
		}
		return nil
	})
	// All numbers are there, so both tasks are done; read what remains up
	// to the end offsets so that every duplicate is counted.
	end := endOffsets(t, adm, topic)
	r.until(time.Minute, "the topic's end", func() error {
		if n, _ := r.totals(); int64(n) < end {
			return fmt.Errorf("consumed %d of %d records", n, end)
		}
		return nil
	})

	var missing, dups []int64
	var bad []string
	for n := int64(0); n < total; n++ {
		switch c := r.count(n); {
		case c == 0:
			missing = append(missing, n)
		case c > 1:
			dups = append(dups, n)
			if task := int(n % tasks); n <= committed[task] {
				bad = append(bad, fmt.Sprintf("seq %d (task %d, committed %d) arrived %d times", n, task, committed[task], c))
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d sequence numbers are missing, first %v", len(missing), missing[:min(10, len(missing))])
	}
	records, _ := r.totals()
	if len(dups) > 0 {
		t.Logf("%d records in the topic, %d duplicated sequence numbers after the kill (from %d to %d)",
			records, len(dups), dups[0], dups[len(dups)-1])
	} else {
		t.Logf("%d records in the topic, no duplicates after the kill", records)
	}
	if len(bad) > 0 {
		t.Errorf("%d sequence numbers at or below the committed offsets were produced again, e.g. %s",
			len(bad), strings.Join(bad[:min(5, len(bad))], "; "))
	}

	// The restarted worker reports the final offsets.
	harness.WaitFor(t, 30*time.Second, "final offsets", func() error {
		got := taskOffsets(t, w, "kr")
		want := map[int]int64{0: total - 2, 1: total - 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("offsets %v, want %v", got, want)
		}
		return nil
	})
}

// TestEmbeddedBrokerKeepsState stops a worker running the embedded broker
// and starts it again on the same data directory: its connector, offsets
// and topic data must all still be there, and nothing is produced again.
func TestEmbeddedBrokerKeepsState(t *testing.T) {
	t.Parallel()
	const total = 5000
	listen := freeAddr(t)
	w := harness.StartWorker(t, harness.WorkerOptions{BrokerListen: listen,
		Props: map[string]string{"offset.flush.interval.ms": "500"}})
	mustContain(t, "worker log", w.Log(), "embedded", listen)
	create(t, w, "keep", datagen("kept", map[string]string{"tasks.max": "2", "iterations": fmt.Sprint(total)}))
	want := map[int]int64{0: total - 2, 1: total - 1}
	harness.WaitFor(t, time.Minute, "offsets at the end", func() error {
		if got := taskOffsets(t, w, "keep"); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("offsets %v, want %v", got, want)
		}
		return nil
	})
	w.Stop()
	if !strings.Contains(w.Log(), "worker stopped") {
		t.Fatalf("worker did not stop cleanly:\n%s", w.Log())
	}

	w.Start(t)
	var names []string
	w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
	if len(names) != 1 || names[0] != "keep" {
		t.Fatalf("after restart GET /connectors = %v, want [keep]", names)
	}
	waitState(t, w, "keep", "RUNNING", 2, "RUNNING")
	if got := taskOffsets(t, w, "keep"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart offsets %v, want %v", got, want)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(listen), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	r := newTopicReader(t, listen, "kept")
	r.until(time.Minute, "the records written before the restart", func() error {
		if _, d := r.totals(); d < total {
			return fmt.Errorf("%d of %d distinct sequence numbers", d, total)
		}
		return nil
	})
	// The tasks are RUNNING again with their committed offsets at the
	// end: they must not produce anything. Watch over a few flush
	// intervals.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if end := endOffsets(t, adm, "kept"); end != total {
			t.Fatalf("topic kept has %d records after the restart, want %d (the restarted tasks produced again)", end, total)
		}
		r.pollOnce(300 * time.Millisecond)
	}
	if n, d := r.totals(); n != total || d != total {
		t.Fatalf("consumed %d records (%d distinct), want %d once each", n, d, total)
	}
	if got := taskOffsets(t, w, "keep"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("offsets moved after the restart: %v, want %v", got, want)
	}
}

// TestConfigProviderNotStoredResolved creates a connector whose topic is
// a ${env:...} reference: the records go to the resolved topic, while the
// REST API and the configs topic only ever hold the reference.
func TestConfigProviderNotStoredResolved(t *testing.T) {
	t.Parallel()
	const ref = "${env:SLUICE_IT_TOPIC_SECRET}"
	b := harness.StartBroker(t)
	// Providers are opt-in: the worker enables the env provider for
	// this variable only.
	props, sfx := isolated(t, map[string]string{"config.providers": "env", "config.providers.env.class": "env",
		"config.providers.env.param.allowlist.pattern": "SLUICE_IT_TOPIC_SECRET"})
	secret := "mytopic-" + sfx
	w := harness.PrepareWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
	w.Env = append(w.Env, "SLUICE_IT_TOPIC_SECRET="+secret)
	w.Start(t)
	create(t, w, "secret", datagen(ref, map[string]string{"iterations": "100", "tasks.max": "1"}))

	r := newTopicReader(t, b.Bootstrap, secret)
	r.until(time.Minute, "100 records", func() error {
		if _, d := r.totals(); d < 100 {
			return fmt.Errorf("%d of 100", d)
		}
		return nil
	})

	var cfg map[string]string
	w.JSON("GET", "/connectors/secret/config", nil, http.StatusOK, &cfg)
	if cfg["kafka.topic"] != ref {
		t.Errorf("GET /connectors/secret/config kafka.topic = %q, want the reference %q", cfg["kafka.topic"], ref)
	}
	var tasks []struct {
		Config map[string]string `json:"config"`
	}
	w.JSON("GET", "/connectors/secret/tasks", nil, http.StatusOK, &tasks)
	if len(tasks) != 1 {
		t.Fatalf("GET /connectors/secret/tasks: %d tasks, want 1", len(tasks))
	}
	if got := tasks[0].Config["kafka.topic"]; got != ref {
		t.Errorf("task config kafka.topic = %q, want the reference %q", got, ref)
	}
	for k, v := range tasks[0].Config {
		if strings.Contains(v, secret) {
			t.Errorf("task config %s = %q holds the resolved secret", k, v)
		}
	}

	// Nothing written to the configs topic holds the resolved value.
	configs := props["config.storage.topic"]
	cl := b.Client(t, kgo.ConsumeTopics(configs), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	end := endOffsets(t, kadm.NewClient(b.Client(t)), configs)
	var seen int64
	var keys []string
	deadline := time.Now().Add(30 * time.Second)
	for seen < end {
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d records of %s", seen, end, configs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(rec *kgo.Record) {
			seen++
			keys = append(keys, string(rec.Key))
			if strings.Contains(string(rec.Value), secret) {
				t.Errorf("configs topic record %s holds the resolved value: %s", rec.Key, rec.Value)
			}
		})
	}
	sort.Strings(keys)
	mustContain(t, "configs topic keys", strings.Join(keys, " "), "connector-secret", "task-secret-0")
}
