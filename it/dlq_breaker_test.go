package it

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDeadLetterQueueAndBreaker runs datagen with poison.every=1000 and
// errors.tolerance=all into a JDBC sink on PostgreSQL, and stops the
// server mid-run: the poison records land in the source's dead letter
// queue with their context headers; while PostgreSQL is down the sink's
// circuit breaker is open (task RUNNING, trace saying why and when it
// probes); once it is back the breaker closes, and the table holds every
// good record, none lost: good + dead = generated.
func TestDeadLetterQueueAndBreaker(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	db := pg.CreateDB(t, "dlq")
	topic, dlq := "pv-"+sfx, "pv-dlq-"+sfx
	const n, every = 20000, 1000

	create(t, w, "gen", datagen(topic, map[string]string{"quickstart": "pageviews", "iterations": strconv.Itoa(n),
		"poison.every": strconv.Itoa(every), "datagen.rate": "2000", "errors.tolerance": "all",
		"errors.deadletterqueue.topic.name": dlq, "errors.deadletterqueue.context.headers.enable": "true"}))
	create(t, w, "sink", map[string]string{
		"connector.class":     "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":      pg.JDBCURL(db),
		"connection.username": pg.User,
		"topics":              topic,
		"insert.mode":         "upsert",
		"primary.key.mode":    "record_key",
		"schema.evolution":    "basic",
		"table.name.format":   "pv",
		"max.retries":         "1",
		"errors.tolerance":    "all",
		// Put's own retries end after 1 s; then the breaker opens.
		"errors.retry.timeout":                    "1000",
		"errors.retry.delay.max.ms":               "500",
		"sluice.circuit.breaker.probe.initial.ms": "500",
		"sluice.circuit.breaker.probe.max.ms":     "2000",
	})
	waitState(t, w, "sink", "RUNNING", 1, "RUNNING")

	count := func() (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.DBURL(db))
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var c int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM pv").Scan(&c)
		return c, err
	}
	harness.WaitFor(t, 60*time.Second, "the first rows in PostgreSQL", func() error {
		if c, err := count(); err != nil || c < 2000 {
			return fmt.Errorf("%d rows (%v)", c, err)
		}
		return nil
	})

	pg.Stop(t)
	harness.WaitFor(t, 60*time.Second, "the sink's breaker to open", func() error {
		st := getStatus(t, w, "sink")
		if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" || !strings.Contains(st.Tasks[0].Trace, "circuit breaker open") {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	// Stays open, RUNNING, while the server is down.
	time.Sleep(5 * time.Second)
	st := getStatus(t, w, "sink")
	if st.Tasks[0].State != "RUNNING" {
		t.Fatalf("sink task %s while PostgreSQL is down: %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
	mustContain(t, "the open breaker's trace", st.Tasks[0].Trace, "circuit breaker open since", "next probe at")
	pg.Start(t)

	harness.WaitFor(t, 120*time.Second, "every good record in PostgreSQL", func() error {
		if c, err := count(); err != nil || c != n-n/every {
			return fmt.Errorf("%d rows of %d (%v)", c, n-n/every, err)
		}
		return nil
	})
	harness.WaitFor(t, 30*time.Second, "the breaker to close", func() error {
		if st := getStatus(t, w, "sink"); st.Tasks[0].Trace != "" {
			return fmt.Errorf("trace %q", st.Tasks[0].Trace)
		}
		return nil
	})

	// The dead letter queue: every poison record, with its headers.
	cl := br.Client(t, kgo.ConsumeTopics(dlq), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var dead []*kgo.Record
	harness.WaitFor(t, 30*time.Second, "every poison record in the dead letter queue", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		dead = append(dead, cl.PollFetches(ctx).Records()...)
		if len(dead) < n/every {
			return fmt.Errorf("%d of %d", len(dead), n/every)
		}
		return nil
	})
	if len(dead) != n/every {
		t.Fatalf("%d records in the dead letter queue, want %d", len(dead), n/every)
	}
	for i, r := range dead {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if want := strconv.Itoa(i*every + every - 1); h["datagen.seq"] != want || h["datagen.poison"] != "true" {
			t.Errorf("dead letter record %d: seq %q poison %q, want seq %s", i, h["datagen.seq"], h["datagen.poison"], want)
		}
		for k, want := range map[string]string{"__connect.errors.topic": topic, "__connect.errors.connector.name": "gen",
			"__connect.errors.task.id": "0", "__connect.errors.stage": "VALUE_CONVERTER"} {
			if h[k] != want {
				t.Errorf("dead letter record %d: %s = %q, want %q", i, k, h[k], want)
			}
		}
		for _, k := range []string{"__connect.errors.class.name", "__connect.errors.exception.class.name",
			"__connect.errors.exception.message", "__connect.errors.exception.stacktrace", "__sluice.errors.source.partition"} {
			if h[k] == "" {
				t.Errorf("dead letter record %d: %s missing", i, k)
			}
		}
	}
}
