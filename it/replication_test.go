package it

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
)

// pgbench load of the replication tests. CI runs the issues' 60 s at a
// small scale (under the race detector); the full run adds
// SLUICE_IT_PGBENCH_SCALE=10.
var (
	pgbenchScale   = envInt("SLUICE_IT_PGBENCH_SCALE", 1)
	pgbenchSeconds = envInt("SLUICE_IT_PGBENCH_SECONDS", 60)
	// pgbenchRate is pgbench's -R (transactions per second over all
	// clients); SLUICE_IT_PGBENCH_RATE=0 runs it flat out.
	pgbenchRate = envIntZero("SLUICE_IT_PGBENCH_RATE", 300)
)

// pgbenchTables are compared source to target, by primary key.
var pgbenchTables = []struct{ name, key, cols string }{
	{"pgbench_branches", "bid", "bid, bbalance"},
	{"pgbench_tellers", "tid", "tid, bid, tbalance"},
	{"pgbench_accounts", "aid", "aid, bid, abalance"},
	{"pgbench_history", "id", "id, tid, bid, aid, delta"},
}

// TestReplicationUnderLoad replicates a pgbench database through the
// postgres source, Kafka and the jdbc sink into a second PostgreSQL
// server and into MariaDB while pgbench runs, kills the worker with
// kill -9 mid-run, restarts the target PostgreSQL mid-run, and checks
// that every target table ends equal to its source, row for row.
func TestReplicationUnderLoad(t *testing.T) {
	t.Parallel()
	src := harness.StartPostgres(t, harness.PostgresOptions{})
	dst := harness.StartPostgres(t, harness.PostgresOptions{})
	my := harness.StartMariaDB(t, harness.MariaDBOptions{})
	br := harness.StartBroker(t)

	db := src.CreateDB(t, "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if out, err := src.Pgbench(ctx, db, "-i", "-q", "-s", strconv.Itoa(pgbenchScale)); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	// pgbench_history has no key; a key makes its replica idempotent
	// (pgbench names the columns it inserts, so it is unaffected).
	src.Exec(t, db, "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY")
	pgTarget := dst.CreateDB(t, "replica")
	myTarget := my.CreateDB(t, "replica")

	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap,
		Props: map[string]string{"offset.flush.interval.ms": "1000", "group.id": "repl", "config.storage.topic": "repl-configs",
			"offset.storage.topic": "repl-offsets", "status.storage.topic": "repl-status"}})
	w.JSON("POST", "/connectors", map[string]any{"name": "pg-source", "config": map[string]string{
		"connector.class":      "io.debezium.connector.postgresql.PostgresConnector",
		"database.hostname":    src.Host,
		"database.port":        strconv.Itoa(src.Port),
		"database.user":        src.User,
		"database.dbname":      db,
		"topic.prefix":         "bench",
		"plugin.name":          "pgoutput",
		"slot.name":            "sluice_repl",
		"table.include.list":   "public.pgbench_.*",
		"snapshot.max.threads": "2",
	}}, 201, nil)
	sink := func(name, url, user string) {
		w.JSON("POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
			"connector.class":     "io.debezium.connector.jdbc.JdbcSinkConnector",
			"connection.url":      url,
			"connection.username": user,
			"topics.regex":        `bench\.public\.pgbench_.*`,
			"insert.mode":         "upsert",
			"primary.key.mode":    "record_key",
			"delete.enabled":      "true",
			"schema.evolution":    "basic",
			"table.name.format":   "${source.table}",
			"tasks.max":           "2",
		}}, 201, nil)
	}
	sink("pg-sink", dst.JDBCURL(pgTarget), dst.User)
	sink("mariadb-sink", my.JDBCURL(myTarget), "root")

	// Load during the snapshot and the stream.
	loadDone := make(chan error, 1)
	go func() {
		out, err := src.Pgbench(ctx, db, pgbenchArgs(pgbenchSeconds)...)
		if err != nil {
			err = fmt.Errorf("pgbench: %v\n%s", err, out)
		}
		loadDone <- err
	}()
	third := time.Duration(pgbenchSeconds) * time.Second / 3
	time.Sleep(third)
	t.Log("kill -9 of the worker")
	w.Kill()
	w.Start(t)
	time.Sleep(third)
	t.Log("restarting the target PostgreSQL and the target MariaDB")
	dst.Restart(t, false)
	my.Restart(t, false)
	if err := <-loadDone; err != nil {
		t.Fatal(err)
	}

	srcConn := src.Connect(t, db)
	myDB := my.Open(t, myTarget)
	harness.WaitFor(t, 10*time.Minute, "targets equal to the source", func() error {
		dstConn, err := pgx.Connect(ctx, dst.DBURL(pgTarget))
		if err != nil {
			return err
		}
		defer dstConn.Close(ctx)
		for _, tb := range pgbenchTables {
			want, err := pgRows(ctx, srcConn, tb.name, tb.key, tb.cols)
			if err != nil {
				return err
			}
			got, err := pgRows(ctx, dstConn, tb.name, tb.key, tb.cols)
			if err != nil {
				return fmt.Errorf("postgres target: %w", err)
			}
			if err := sameRows("postgres", tb.name, want, got); err != nil {
				return err
			}
			got, err = myRows(ctx, myDB, tb.name, tb.key, tb.cols)
			if err != nil {
				return fmt.Errorf("mariadb target: %w", err)
			}
			if err := sameRows("mariadb", tb.name, want, got); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tb := range pgbenchTables {
		var n int
		if err := srcConn.QueryRow(ctx, "SELECT count(*) FROM "+tb.name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("%s is empty: the comparison proved nothing", tb.name)
		}
		t.Logf("%s: %d rows equal in the source, the PostgreSQL target and the MariaDB target", tb.name, n)
	}
	var st struct {
		Tasks []struct{ State, Trace string }
	}
	for _, c := range []string{"pg-source", "pg-sink", "mariadb-sink"} {
		w.JSON("GET", "/connectors/"+c+"/status", nil, 200, &st)
		for _, task := range st.Tasks {
			if task.State != "RUNNING" {
				t.Errorf("%s task %s: %s", c, task.State, task.Trace)
			}
		}
	}
}

func pgRows(ctx context.Context, c *pgx.Conn, table, key, cols string) ([]string, error) {
	rows, err := c.Query(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", cols, table, key))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, rowString(vals))
	}
	return out, rows.Err()
}

func myRows(ctx context.Context, db *sql.DB, table, key, cols string) ([]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", cols, table, key))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := len(strings.Split(cols, ","))
	var out []string
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, rowString(vals))
	}
	return out, rows.Err()
}

// rowString renders a row the same way whichever driver read it: all the
// compared columns are integers.
func rowString(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, "|")
}

func sameRows(target, table string, want, got []string) error {
	if len(want) != len(got) {
		return fmt.Errorf("%s %s: %d rows, source has %d", target, table, len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Errorf("%s %s: row %d is %s, source has %s", target, table, i, got[i], want[i])
		}
	}
	return nil
}

// pgbenchArgs are the arguments of a pgbench load run of seconds.
func pgbenchArgs(seconds int) []string {
	args := []string{"-c", "4", "-j", "2", "-T", strconv.Itoa(seconds), "-n"}
	if pgbenchRate > 0 {
		args = append(args, "-R", strconv.Itoa(pgbenchRate))
	}
	return args
}

// envIntZero is envInt that also accepts 0.
func envIntZero(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil && v >= 0 {
		return v
	}
	return def
}
