package it

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSinkOffsetsNeverGoBack runs a JDBC sink with tasks.max=2 into
// PostgreSQL while its partitions move between the tasks (a task
// restarts, a partition is added to the topic, the other task restarts),
// polling the sink group's committed offsets all along: they never go
// back, and the table ends with the last value of every key.
func TestSinkOffsetsNeverGoBack(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	db := pg.CreateDB(t, "moving")
	topic := "moving-" + sfx
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cl := br.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MetadataMinAge(100*time.Millisecond))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, -1, nil, topic); err != nil {
		t.Fatal(err)
	}

	// Keys 0..199 stay on partition id%2; keys 200..299 go to the
	// partition added later, so each key's records keep their order.
	last := map[int]int{}
	ends := map[int32]int64{}
	seq := 0
	produce := func(partitions int32, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			seq++
			id := seq % 200
			p := int32(id % 2)
			if partitions == 3 && seq%3 == 0 {
				id = 200 + seq%100
				p = 2
			}
			key := fmt.Sprintf(`{"schema":{"type":"struct","name":"k","fields":[{"field":"id","type":"int32"}]},"payload":{"id":%d}}`, id)
			val := fmt.Sprintf(`{"schema":{"type":"struct","name":"v","fields":[{"field":"id","type":"int32"},{"field":"v","type":"int32"}]},"payload":{"id":%d,"v":%d}}`, id, seq)
			r := &kgo.Record{Topic: topic, Partition: p, Key: []byte(key), Value: []byte(val)}
			for try := 0; ; try++ {
				err := cl.ProduceSync(ctx, r).FirstErr()
				if err == nil {
					break
				}
				if try == 200 {
					t.Fatal(err)
				}
				cl.ForceMetadataRefresh() // a partition just added
				time.Sleep(50 * time.Millisecond)
			}
			last[id] = seq
			ends[p] = r.Offset + 1
		}
	}

	// The watcher polls the committed offsets of the sink's group.
	var (
		mu         sync.Mutex
		committed  = map[int32]int64{}
		violations []string
	)
	wctx, wstop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for wctx.Err() == nil {
			if fetched, err := adm.FetchOffsets(wctx, "connect-sink"); err == nil {
				mu.Lock()
				fetched.Each(func(o kadm.OffsetResponse) {
					if o.Err != nil || o.Topic != topic {
						return
					}
					if prev, ok := committed[o.Partition]; ok && o.At < prev {
						violations = append(violations, fmt.Sprintf("%s[%d] went from %d back to %d", o.Topic, o.Partition, prev, o.At))
					}
					committed[o.Partition] = o.At
				})
				mu.Unlock()
			}
			select {
			case <-wctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer func() { wstop(); wg.Wait() }()
	waitCommitted := func(what string) {
		t.Helper()
		harness.WaitFor(t, 3*time.Minute, what+": every record committed", func() error {
			mu.Lock()
			defer mu.Unlock()
			for p, e := range ends {
				if committed[p] != e {
					return fmt.Errorf("committed %v, want %v", committed, ends)
				}
			}
			return nil
		})
	}

	create(t, w, "sink", map[string]string{
		"connector.class":                "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":                 pg.JDBCURL(db),
		"connection.username":            pg.User,
		"topics.regex":                   topic, // new partitions are seen within 10 s
		"insert.mode":                    "upsert",
		"primary.key.mode":               "record_key",
		"schema.evolution":               "basic",
		"table.name.format":              "moving",
		"tasks.max":                      "2",
		"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
		"key.converter.schemas.enable":   "true",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
	})
	waitState(t, w, "sink", "RUNNING", 2, "RUNNING")
	produce(2, 400)
	waitCommitted("two tasks")

	restart := func(task int) {
		t.Helper()
		if code, body := w.Do("POST", fmt.Sprintf("/connectors/sink/tasks/%d/restart", task), nil); code != http.StatusNoContent && code != http.StatusOK && code != http.StatusAccepted {
			t.Fatalf("restarting task %d: %d %s", task, code, body)
		}
	}
	// Records flow while task 1 restarts: its partitions go to task 0
	// and come back.
	restart(1)
	produce(2, 400)
	waitState(t, w, "sink", "RUNNING", 2, "RUNNING")
	produce(2, 200)
	waitCommitted("task 1 restarted")

	if _, err := adm.CreatePartitions(ctx, 1, topic); err != nil {
		t.Fatal(err)
	}
	produce(3, 600)
	waitCommitted("a partition added")

	restart(0)
	produce(3, 300)
	waitState(t, w, "sink", "RUNNING", 2, "RUNNING")
	produce(3, 300)
	waitCommitted("task 0 restarted")

	conn := pg.Connect(t, db)
	rows, err := conn.Query(ctx, "SELECT id, v FROM moving")
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]int{}
	for rows.Next() {
		var id, v int
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		got[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(last) {
		t.Errorf("%d rows, want %d", len(got), len(last))
	}
	for id, v := range last {
		if got[id] != v {
			t.Errorf("id %d: v %d, want the last written %d", id, got[id], v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range violations {
		t.Error(v)
	}
	if len(committed) != 3 {
		t.Errorf("committed offsets of %d partitions, want 3: %v", len(committed), committed)
	}
}
