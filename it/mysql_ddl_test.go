package it

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMySQLSourceSchemaChanges streams ADD, MODIFY and DROP COLUMN,
// RENAME TABLE, TRUNCATE and DROP TABLE of a MariaDB table through a
// worker into Kafka and the JDBC sink into PostgreSQL, with a graceful
// restart of the worker on the way. After each step and more rows the
// sink's table equals the source's (a dropped column stays in the sink,
// NULL in later rows), and the schema change topic holds the snapshot's
// CREATE of the table, then one event per DDL statement, none twice.
func TestMySQLSourceSchemaChanges(t *testing.T) {
	t.Parallel()
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(w.Log(), 8000))
		}
	})
	db := m.CreateDB(t, "ddl")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	prefix := "myddl" + sfx
	create(t, w, "my-ddl", mysqlSourceConfig(m, db, prefix, map[string]string{"database.server.id": "6002", "skipped.operations": "none"}))
	pgDB := pg.CreateDB(t, "myddl")
	create(t, w, "my-ddl-pg", upsertSink(pg.JDBCURL(pgDB), pg.User, regexp.QuoteMeta(prefix+"."+db+".")+".*", "truncate.enabled", "true"))

	// The schema change topic, as "TYPE table" lines.
	var mu sync.Mutex
	var schema []string
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(br.Bootstrap), kgo.ConsumeTopics(prefix), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cl.Close()
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				key, err := jsonPayload(r.Key)
				if err != nil || key["databaseName"] != db {
					t.Errorf("schema change key %s (%v)", r.Key, err)
				}
				v, err := jsonPayload(r.Value)
				if err != nil {
					t.Errorf("schema change value: %v", err)
					return
				}
				line := ""
				for _, c := range v["tableChanges"].([]any) {
					cm := c.(map[string]any)
					line += fmt.Sprintf("%s %s ", cm["type"], strings.ReplaceAll(cm["id"].(string), db, "db"))
				}
				mu.Lock()
				schema = append(schema, strings.TrimSpace(line))
				mu.Unlock()
			})
		}
	}()

	sqlDB := m.Open(t, db)
	pgConn := pg.Connect(t, pgDB)
	same := func(what, table, myQ, pgQ string) {
		t.Helper()
		harness.WaitFor(t, 60*time.Second, what, func() error {
			want, err := myLines(context.Background(), sqlDB, myQ)
			if err != nil {
				return err
			}
			got, err := pgLines(context.Background(), pgConn, pgQ)
			if err != nil {
				return err
			}
			if d := diffLines(want, got); d != "" {
				return fmt.Errorf("%s in PostgreSQL differs from MariaDB's: %s", table, d)
			}
			return nil
		})
	}
	same("the snapshot in the sink", "t", "SELECT id, a FROM t ORDER BY id", "SELECT id::text, a FROM t ORDER BY id")

	m.Exec(t, db, "ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7", "UPDATE t SET a = CONCAT(a, '!')", "INSERT INTO t VALUES (3, 'c', 8)")
	same("ADD COLUMN in the sink", "t", "SELECT id, a, b FROM t ORDER BY id", "SELECT id::text, a, b::text FROM t ORDER BY id")

	m.Exec(t, db, "ALTER TABLE t MODIFY COLUMN a VARCHAR(100)", "INSERT INTO t VALUES (4, REPEAT('x', 60), 1)")
	same("MODIFY COLUMN in the sink", "t", "SELECT id, a, b FROM t ORDER BY id", "SELECT id::text, a, b::text FROM t ORDER BY id")

	w.Stop()
	w.Start(t)
	m.Exec(t, db, "ALTER TABLE t DROP COLUMN b", "INSERT INTO t VALUES (5, 'e')", "UPDATE t SET a = 'upd' WHERE id = 1")
	same("DROP COLUMN in the sink", "t", "SELECT id, a, CASE WHEN id = 5 THEN NULL ELSE 'kept' END FROM t ORDER BY id",
		"SELECT id::text, a, CASE WHEN b IS NULL THEN NULL ELSE 'kept' END FROM t ORDER BY id")

	// A renamed table goes to a new topic, and so to a new sink table,
	// which holds the rows changed after the rename.
	m.Exec(t, db, "RENAME TABLE t TO t2", "UPDATE t2 SET a = CONCAT(a, '.')", "INSERT INTO t2 VALUES (6, 'f')")
	same("RENAME TABLE in the sink", "t2", "SELECT id, a FROM t2 ORDER BY id", "SELECT id::text, a FROM t2 ORDER BY id")

	m.Exec(t, db, "TRUNCATE TABLE t2", "INSERT INTO t2 VALUES (7, 'g')")
	same("TRUNCATE in the sink", "t2", "SELECT id, a FROM t2 ORDER BY id", "SELECT id::text, a FROM t2 ORDER BY id")

	m.Exec(t, db, "DROP TABLE t2")
	// The snapshot's CREATE of t, then one event per DDL statement.
	want := []string{`CREATE "db"."t"`, `ALTER "db"."t"`, `ALTER "db"."t"`, `ALTER "db"."t"`, `ALTER "db"."t2"`, `DROP "db"."t2"`}
	harness.WaitFor(t, 60*time.Second, "the schema change topic", func() error {
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(schema, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("schema change events:\n%s\nwant:\n%s", strings.Join(schema, "\n"), strings.Join(want, "\n"))
		}
		return nil
	})
	st := getStatus(t, w, "my-ddl")
	if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
		t.Errorf("status %+v", st)
	}
	w.JSON("DELETE", "/connectors/my-ddl", nil, http.StatusNoContent, nil)
	w.JSON("DELETE", "/connectors/my-ddl-pg", nil, http.StatusNoContent, nil)
}
