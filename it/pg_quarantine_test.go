package it

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPostgresQuarantineToDeadLetterQueue: with
// sluice.table.failure.mode=quarantine and a dead letter queue, the
// changes of a table set aside (the one with a value the converters
// reject, and the next ones) land in the dead letter queue with each
// column's text and the failure in the __connect.errors.* headers, while
// the other tables keep streaming; the task stays RUNNING and its offset
// moves past them.
func TestPostgresQuarantineToDeadLetterQueue(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	db := pg.CreateDB(t, "quar")
	pg.Exec(t, db, "CREATE TABLE bad (id int PRIMARY KEY, a int[])", "CREATE TABLE good (id int PRIMARY KEY)")
	prefix, dlq := "q"+sfx, "q-dlq-"+sfx
	create(t, w, "quar", pgSourceConfig(pg, db, prefix, "quar_"+sfx, map[string]string{
		"sluice.table.failure.mode":                     "quarantine",
		"errors.deadletterqueue.topic.name":             dlq,
		"errors.deadletterqueue.context.headers.enable": "true",
		"value.converter.schemas.enable":                "false",
	}))
	waitState(t, w, "quar", "RUNNING", 1, "RUNNING")
	pg.Exec(t, db, "INSERT INTO good VALUES (1)", "INSERT INTO bad VALUES (1, '{{1,2},{3,4}}')", "INSERT INTO good VALUES (2)",
		"INSERT INTO bad VALUES (2, '{1}')", "UPDATE bad SET a = '{5}' WHERE id = 2", "DELETE FROM bad WHERE id = 1", "INSERT INTO good VALUES (3)")

	read := func(topic string, want int) []*kgo.Record {
		cl := br.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []*kgo.Record
		harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d records in %s", want, topic), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			got = append(got, cl.PollFetches(ctx).Records()...)
			if len(got) < want {
				return fmt.Errorf("%d of %d", len(got), want)
			}
			return nil
		})
		// Nothing more comes.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got = append(got, cl.PollFetches(ctx).Records()...)
		if len(got) != want {
			t.Fatalf("%d records in %s, want %d", len(got), topic, want)
		}
		return got
	}
	read(prefix+".public.good", 3)
	dead := read(dlq, 4)
	wantOps := []string{"c", "c", "u", "d"}
	for i, r := range dead {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		for k, want := range map[string]string{"__connect.errors.topic": prefix + ".public.bad", "__connect.errors.connector.name": "quar",
			"__connect.errors.task.id": "0", "__connect.errors.stage": "TASK_POLL", "__connect.errors.class.name": "postgres"} {
			if h[k] != want {
				t.Errorf("dead letter record %d: %s = %q, want %q", i, k, h[k], want)
			}
		}
		if m := h["__connect.errors.exception.message"]; !strings.Contains(m, "public.bad") || !strings.Contains(m, "column a") {
			t.Errorf("dead letter record %d: message %q does not name the table and the column", i, m)
		}
		if !strings.HasPrefix(h["__sluice.errors.source.offset"], "{") {
			t.Errorf("dead letter record %d: source offset header %q", i, h["__sluice.errors.source.offset"])
		}
		var v map[string]any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("dead letter record %d: value %q: %v", i, r.Value, err)
		}
		if p, ok := v["payload"].(map[string]any); ok {
			v = p
		}
		if v["table"] != "public.bad" || v["op"] != wantOps[i] || v["lsn"] == nil {
			t.Errorf("dead letter record %d: %v, want table public.bad, op %s", i, v, wantOps[i])
		}
		after, _ := v["after"].(map[string]any)
		switch i {
		case 0:
			if after["id"] != "1" || after["a"] != "{{1,2},{3,4}}" {
				t.Errorf("dead letter record 0: after %v, want the row's text", after)
			}
		case 2:
			if after["id"] != "2" || after["a"] != "{5}" {
				t.Errorf("dead letter record 2: after %v", after)
			}
		case 3:
			if before, _ := v["before"].(map[string]any); before["id"] != "1" {
				t.Errorf("dead letter record 3: before %v", v["before"])
			}
		}
	}
	st := harness.WaitStatus(t, w, "quar", harness.AllRunning(1), 10*time.Second)
	if st.Tasks[0].State != "RUNNING" {
		t.Fatalf("task %s: %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
}
