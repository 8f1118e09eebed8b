package it

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cdcIDs consumes change topics from their start and keeps the id of
// every row in an after image, per topic.
type cdcIDs struct {
	t  testing.TB
	cl *kgo.Client

	mu  sync.Mutex
	ids map[string]map[string]bool // topic → ids
}

func newCDCIDs(t testing.TB, bootstrap string, topics ...string) *cdcIDs {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return &cdcIDs{t: t, cl: cl, ids: map[string]map[string]bool{}}
}

// waitFor consumes until topic holds a change with after.id == id.
func (c *cdcIDs) waitFor(timeout time.Duration, topic string, id int) {
	c.t.Helper()
	want := fmt.Sprint(id)
	harness.WaitFor(c.t, timeout, fmt.Sprintf("row id=%d in topic %s", id, topic), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		fs := c.cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			v, err := jsonPayload(r.Value)
			if err != nil || v == nil {
				return
			}
			after, _ := v["after"].(map[string]any)
			if after == nil {
				return
			}
			c.mu.Lock()
			if c.ids[r.Topic] == nil {
				c.ids[r.Topic] = map[string]bool{}
			}
			c.ids[r.Topic][normValue(after["id"])] = true
			c.mu.Unlock()
		})
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.ids[topic][want] {
			return fmt.Errorf("not yet; ids so far %v", c.ids[topic])
		}
		return nil
	})
}

// TestPostgresSourceOutage stops PostgreSQL for longer than the old
// reconnect budget (12 attempts, about a minute) under two runtime
// settings whose budgets must not be touched: the defaults
// (errors.retry.timeout=0, ten restarts) and errors.retry.timeout=-1 with
// no restart at all. While the server is down both tasks stay RUNNING
// with a trace naming the server; a task restarted during the outage
// does the same; once the server is back a row written afterwards
// arrives with no operator action.
func TestPostgresSourceOutage(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	names := []string{"pg-defaults", "pg-forever"}
	dbs := map[string]string{}
	for _, n := range names {
		db := pg.CreateDB(t, "outage")
		pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
		dbs[n] = db
	}
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	topic := func(n string) string { return strings.ReplaceAll(n, "-", "_") + sfx + ".public.t" }
	for _, n := range names {
		extra := map[string]string{
			// The real mechanism with a shorter cap on the wait between
			// attempts, so the server is found within 2 s of its return.
			"retriable.restart.connector.wait.ms": "2000",
		}
		if n == "pg-forever" {
			extra["errors.retry.timeout"] = "-1"
			extra["sluice.task.restart.max.attempts"] = "0"
		}
		create(t, w, n, pgSourceConfig(pg, dbs[n], strings.ReplaceAll(n, "-", "_")+sfx, strings.ReplaceAll(n, "-", "_")+"_slot", extra))
	}
	for _, n := range names {
		waitState(t, w, n, "RUNNING", 1, "RUNNING")
	}
	c := newCDCIDs(t, br.Bootstrap, topic(names[0]), topic(names[1]))
	for _, n := range names {
		pg.Exec(t, dbs[n], "INSERT INTO t VALUES (1, 'before')")
		c.waitFor(60*time.Second, topic(n), 1)
	}

	pg.Stop(t)
	down := time.Now()
	addr := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	const outage = 70 * time.Second
	restarted := false
	for time.Since(down) < outage {
		for _, n := range names {
			st := getStatus(t, w, n)
			if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" || st.Connector.State != "RUNNING" {
				t.Fatalf("%s after %v of outage: %+v; want the connector and its task RUNNING", n, time.Since(down).Round(time.Second), st)
			}
			// The trace appears with the first failed attempt.
			if time.Since(down) > 15*time.Second {
				mustContain(t, n+"'s task trace during the outage", st.Tasks[0].Trace, "PostgreSQL at "+addr, "unreachable since", "last error")
			}
		}
		if !restarted && time.Since(down) > 20*time.Second {
			// A task started while the server is down waits for it too.
			if code, out := w.Do("POST", "/connectors/pg-forever/tasks/0/restart", nil); code != http.StatusNoContent {
				t.Fatalf("restarting pg-forever's task: %d %s", code, out)
			}
			restarted = true
		}
		time.Sleep(2 * time.Second)
	}
	if !restarted {
		t.Fatal("the task was not restarted during the outage")
	}
	pg.Start(t)
	for _, n := range names {
		pg.Exec(t, dbs[n], "INSERT INTO t VALUES (2, 'after')")
	}
	for _, n := range names {
		c.waitFor(90*time.Second, topic(n), 2)
	}
	for _, n := range names {
		harness.WaitFor(t, 30*time.Second, n+" RUNNING with no trace", func() error {
			st := getStatus(t, w, n)
			if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" || st.Tasks[0].Trace != "" {
				return fmt.Errorf("status %+v", st)
			}
			return nil
		})
	}
	if log := w.Log(); strings.Contains(log, "task failed") {
		t.Errorf("a task failed during the outage; the worker's log:\n%s", log)
	}
}

// TestPostgresSourceReconfigure replaces and patches the config of a
// running PostgreSQL connector: validation sees the connector's own
// walsender on the slot and must let it through (200), the task restarts
// with the new config and keeps capturing. Another reader of the slot is
// still refused.
func TestPostgresSourceReconfigure(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	db := pg.CreateDB(t, "reconf")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	prefix := "reconf" + sfx
	cfg := pgSourceConfig(pg, db, prefix, "reconf_slot", nil)
	create(t, w, "pg-reconf", cfg)
	waitState(t, w, "pg-reconf", "RUNNING", 1, "RUNNING")
	c := newCDCIDs(t, br.Bootstrap, prefix+".public.t")
	pg.Exec(t, db, "INSERT INTO t VALUES (1, 'a')")
	c.waitFor(60*time.Second, prefix+".public.t", 1)

	// The slot is read by the running task's walsender now.
	active := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.DBURL(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var a bool
		if err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'reconf_slot'").Scan(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	harness.WaitFor(t, 30*time.Second, "the slot active", func() error {
		if !active() {
			return fmt.Errorf("slot inactive")
		}
		return nil
	})

	// PUT with a harmless change.
	put := map[string]string{}
	for k, v := range cfg {
		put[k] = v
	}
	put["poll.interval.ms"] = "250"
	if code, out := w.Do("PUT", "/connectors/pg-reconf/config", put); code != http.StatusOK {
		t.Fatalf("PUT of the running connector's config: %d %s", code, out)
	}
	harness.WaitFor(t, 30*time.Second, "the new config in use", func() error {
		var got map[string]string
		w.JSON("GET", "/connectors/pg-reconf/config", nil, http.StatusOK, &got)
		if got["poll.interval.ms"] != "250" {
			return fmt.Errorf("config %v", got)
		}
		return nil
	})
	waitState(t, w, "pg-reconf", "RUNNING", 1, "RUNNING")
	pg.Exec(t, db, "INSERT INTO t VALUES (2, 'b')")
	c.waitFor(60*time.Second, prefix+".public.t", 2)

	// PATCH another harmless property.
	if code, out := w.Do("PATCH", "/connectors/pg-reconf/config", map[string]any{"max.batch.size": "512"}); code != http.StatusOK {
		t.Fatalf("PATCH of the running connector's config: %d %s", code, out)
	}
	harness.WaitFor(t, 30*time.Second, "the patched config in use", func() error {
		var got map[string]string
		w.JSON("GET", "/connectors/pg-reconf/config", nil, http.StatusOK, &got)
		if got["max.batch.size"] != "512" || got["poll.interval.ms"] != "250" {
			return fmt.Errorf("config %v", got)
		}
		return nil
	})
	waitState(t, w, "pg-reconf", "RUNNING", 1, "RUNNING")
	pg.Exec(t, db, "INSERT INTO t VALUES (3, 'c')")
	c.waitFor(60*time.Second, prefix+".public.t", 3)

	// Another connector on the same slot is still refused while the
	// first one reads it.
	harness.WaitFor(t, 30*time.Second, "the slot active again", func() error {
		if !active() {
			return fmt.Errorf("slot inactive")
		}
		return nil
	})
	msg := expectError(t, w, "PUT", "/connectors/pg-intruder/config", pgSourceConfig(pg, db, prefix+"x", "reconf_slot", nil), http.StatusBadRequest)
	mustContain(t, "the refusal of a second reader", msg, "reconf_slot", "is active for PID")
}

// TestPostgresSourceOutageMidSnapshot stops PostgreSQL while the initial
// snapshot is being read, with restarts turned off
// (sluice.task.restart.max.attempts=0, so a FAILED task would stay
// FAILED): the task stays RUNNING with the problem in its trace, and once
// the server is back it goes on from the committed offset by itself;
// every row arrives, and so does one written afterwards.
func TestPostgresSourceOutageMidSnapshot(t *testing.T) {
	t.Parallel()
	const rows = 400_000
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	db := pg.CreateDB(t, "midsnap")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)",
		fmt.Sprintf("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, %d) g", rows), "ANALYZE t")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(w.Log(), 6000))
		}
	})
	prefix := "midsnap" + sfx
	topic := prefix + ".public.t"
	create(t, w, "pg-midsnap", pgSourceConfig(pg, db, prefix, "midsnap_slot", map[string]string{
		"sluice.snapshot.chunk.size":          "20000",
		"max.batch.size":                      "256",
		"retriable.restart.connector.wait.ms": "2000",
		"sluice.task.restart.max.attempts":    "0",
	}))
	cl := br.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), freshMetadata,
		kgo.FetchMaxWait(200*time.Millisecond))
	ids := map[string]bool{}
	consume := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			k, err := jsonPayload(r.Key)
			if err == nil && k != nil {
				ids[normValue(k["id"])] = true
			}
		})
	}
	harness.WaitFor(t, 3*time.Minute, "part of the snapshot in Kafka", func() error {
		consume()
		if len(ids) >= rows {
			t.Fatalf("the snapshot of %d rows finished before the outage could begin", rows)
		}
		if len(ids) < 30_000 {
			return fmt.Errorf("%d rows so far", len(ids))
		}
		return nil
	})
	pg.Stop(t)
	t.Logf("PostgreSQL stopped with %d of %d rows in Kafka", len(ids), rows)
	addr := fmt.Sprintf("127.0.0.1:%d", pg.Port)
	harness.WaitFor(t, 60*time.Second, "the outage in the task's trace", func() error {
		st := getStatus(t, w, "pg-midsnap")
		if len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED" {
			t.Fatalf("task FAILED during the outage: %s", st.Tasks[0].Trace)
		}
		if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" || !strings.Contains(st.Tasks[0].Trace, "PostgreSQL at "+addr) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	time.Sleep(10 * time.Second)
	if st := getStatus(t, w, "pg-midsnap"); len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
		t.Fatalf("status during the outage: %+v", st)
	}
	pg.Start(t)
	pg.Exec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d, 'after')", rows+1))
	harness.WaitFor(t, 5*time.Minute, "every row and the one written after the outage in Kafka", func() error {
		if st := getStatus(t, w, "pg-midsnap"); len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED" {
			t.Fatalf("task FAILED: %s", st.Tasks[0].Trace)
		}
		consume()
		if len(ids) < rows+1 {
			return fmt.Errorf("%d of %d distinct rows", len(ids), rows+1)
		}
		return nil
	})
	// The snapshot itself lost the server (not the streamer after it).
	mustContain(t, "the worker's log", w.Log(), "starting again from the committed offset once it is back")
}
