package it

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// mysqlSourceConfig is a mysql source connector config capturing db on m.
func mysqlSourceConfig(m *harness.MariaDB, db, prefix string, extra map[string]string) map[string]string {
	cfg := map[string]string{
		"connector.class":       "io.debezium.connector.mariadb.MariaDbConnector",
		"database.hostname":     m.Host,
		"database.port":         strconv.Itoa(m.Port),
		"database.user":         m.User,
		"database.password":     m.Password,
		"database.include.list": db,
		"topic.prefix":          prefix,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// myChanges rebuilds a table from its change topic: the last row per
// key, every version of column v seen per key, and duplicates (the same
// change twice: same op, GTID, binlog position and row).
type myChanges struct {
	mu       sync.Mutex
	rows     map[string]map[string]any
	versions map[string][]int64
	seen     map[string]bool
	reads    map[string]int
	events   int
	dups     int
	// hist, when not nil, gets every event per key in topic order, to
	// explain a difference when a test fails.
	hist map[string][]myEvent
	// next is the offset after the last record read (one partition).
	next int64
}

// myEvent is one change of a key as the topic holds it.
type myEvent struct {
	offset   int64
	op       string
	v        any
	snapshot any
	file     any
	pos, row any
	gtid     any
}

func (e myEvent) String() string {
	return fmt.Sprintf("@%d %s v=%v snapshot=%v %v:%v row %v gtid %v", e.offset, e.op, e.v, e.snapshot, e.file, e.pos, e.row, e.gtid)
}

// history returns the events of key k, one a line.
func (c *myChanges) history(k string) string {
	var b strings.Builder
	for _, e := range c.hist[k] {
		b.WriteString("\n    " + e.String())
	}
	return b.String()
}

func newMyChanges() *myChanges {
	return &myChanges{rows: map[string]map[string]any{}, versions: map[string][]int64{}, seen: map[string]bool{}, reads: map[string]int{}}
}

func (c *myChanges) add(t testing.TB, r *kgo.Record) {
	key, err := jsonPayload(r.Key)
	if err != nil {
		t.Fatalf("key: %v", err)
	}
	k := keyString(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = r.Offset + 1
	if r.Value == nil {
		return // a tombstone
	}
	v, err := jsonPayload(r.Value)
	if err != nil {
		t.Fatalf("value: %v", err)
	}
	c.events++
	op, _ := v["op"].(string)
	src, _ := v["source"].(map[string]any)
	if op == "r" {
		c.reads[k]++
	} else {
		id := fmt.Sprint(op, src["gtid"], src["file"], src["pos"], src["row"])
		if c.seen[id] {
			c.dups++
		}
		c.seen[id] = true
	}
	if c.hist != nil {
		e := myEvent{offset: r.Offset, op: op, snapshot: src["snapshot"], file: src["file"], pos: src["pos"], row: src["row"], gtid: src["gtid"]}
		if after, _ := v["after"].(map[string]any); after != nil {
			e.v = after["v"]
		}
		c.hist[k] = append(c.hist[k], e)
	}
	if op == "d" {
		delete(c.rows, k)
		return
	}
	after, _ := v["after"].(map[string]any)
	c.rows[k] = after
	if n, err := after["v"].(json.Number).Int64(); err == nil {
		c.versions[k] = append(c.versions[k], n)
	}
}

// consume reads topic from its start into c until ctx ends.
func (c *myChanges) consume(ctx context.Context, t testing.TB, bootstrap, topic string, wg *sync.WaitGroup) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(r *kgo.Record) { c.add(t, r) })
		}
	}()
}

// TestMySQLSourceEndToEnd snapshots a MariaDB table and streams its
// changes through a worker into Kafka while a writer runs, with a kill -9
// of the worker and a graceful restart on the way: afterwards the last
// event per key equals the table, every key's versions arrived without a
// gap (nothing lost), and the JDBC sink made the same table in
// PostgreSQL. Duplicates after the kill are reported.
func TestMySQLSourceEndToEnd(t *testing.T) {
	t.Parallel()
	const rows, txs = 2000, 300
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
	db := m.CreateDB(t, "e2e")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v BIGINT NOT NULL, s VARCHAR(40), d DECIMAL(12,3), ts DATETIME(6))")
	var vals []string
	for i := 0; i < rows; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 0, 'row %d', %d.125, '2024-01-01 00:00:00.000001')", i, i, i))
	}
	m.Exec(t, db, "INSERT INTO t VALUES "+strings.Join(vals, ","))
	prefix := "my" + sfx
	topic := prefix + "." + db + ".t"
	create(t, w, "my-e2e", mysqlSourceConfig(m, db, prefix, map[string]string{"database.server.id": "6001"}))
	pgDB := pg.CreateDB(t, "mye2e")
	create(t, w, "my-e2e-pg", upsertSink(pg.JDBCURL(pgDB), pg.User, topic))

	ch := newMyChanges()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	ch.consume(ctx, t, br.Bootstrap, topic, &wg)

	// The writer: transactions of updates (v+1), inserts and deletes.
	sqlDB := m.Open(t, db)
	writerDone := make(chan error, 1)
	progress := make(chan int, txs)
	go func() {
		next := rows
		for i := 0; i < txs; i++ {
			tx, err := sqlDB.Begin()
			if err != nil {
				writerDone <- err
				return
			}
			for j := 0; j < 20; j++ {
				if _, err := tx.Exec("UPDATE t SET v = v + 1, ts = NOW(6) WHERE id = ?", rand.IntN(next)); err != nil {
					writerDone <- err
					return
				}
			}
			if _, err := tx.Exec("INSERT INTO t VALUES (?, 0, 'new', 1.5, NOW(6))", next); err != nil {
				writerDone <- err
				return
			}
			next++
			if i%10 == 0 {
				if _, err := tx.Exec("DELETE FROM t WHERE id = ?", rand.IntN(next)); err != nil {
					writerDone <- err
					return
				}
			}
			if i%50 == 0 {
				// A large update: many rows events in one transaction.
				if _, err := tx.Exec("UPDATE t SET v = v + 1 WHERE id % 7 = ?", i%7); err != nil {
					writerDone <- err
					return
				}
			}
			if err := tx.Commit(); err != nil {
				writerDone <- err
				return
			}
			progress <- i
			time.Sleep(5 * time.Millisecond)
		}
		writerDone <- nil
	}()
	waitTx := func(n int) {
		for i := range progress {
			if i >= n {
				return
			}
		}
	}
	waitTx(txs / 3)
	w.Kill()
	w.Start(t)
	waitTx(2 * txs / 3)
	w.Stop()
	w.Start(t)
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}

	want := map[string]string{}
	rs, err := sqlDB.Query("SELECT id, v, s FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id, v int64
		var s string
		if err := rs.Scan(&id, &v, &s); err != nil {
			t.Fatal(err)
		}
		want[strconv.FormatInt(id, 10)] = fmt.Sprintf("%d|%s", v, s)
	}
	rs.Close()
	harness.WaitFor(t, 120*time.Second, "the topic to equal the table", func() error {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if len(ch.rows) != len(want) {
			return fmt.Errorf("%d keys in the topic, %d rows in the table (%d events)", len(ch.rows), len(want), ch.events)
		}
		for k, wv := range want {
			r := ch.rows[k]
			if r == nil {
				return fmt.Errorf("key %s missing", k)
			}
			if got := fmt.Sprintf("%v|%v", r["v"], r["s"]); got != wv {
				return fmt.Errorf("key %s: %s, want %s", k, got, wv)
			}
		}
		return nil
	})
	// The JDBC sink's copy in PostgreSQL.
	var wantLines []string
	if wantLines, err = myLines(context.Background(), sqlDB, "SELECT CONCAT(id, '|', v, '|', s, '|', d) FROM t ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	pgConn := pg.Connect(t, pgDB)
	harness.WaitFor(t, 120*time.Second, "the JDBC sink's table to equal MariaDB's", func() error {
		got, err := pgLines(context.Background(), pgConn, "SELECT id::text || '|' || v || '|' || s || '|' || d FROM t ORDER BY id")
		if err != nil {
			return err
		}
		if len(got) != len(wantLines) {
			return fmt.Errorf("%d rows in PostgreSQL, %d in MariaDB", len(got), len(wantLines))
		}
		for i := range got {
			if got[i] != wantLines[i] {
				return fmt.Errorf("row %d: %s in PostgreSQL, %s in MariaDB", i, got[i], wantLines[i])
			}
		}
		return nil
	})
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for k, vs := range ch.versions {
		for i := 1; i < len(vs); i++ {
			if vs[i] > vs[i-1]+1 {
				t.Errorf("key %s: versions %v jump from %d to %d: an update was lost", k, vs, vs[i-1], vs[i])
				break
			}
		}
	}
	rereads := 0
	for _, n := range ch.reads {
		rereads += n - 1
	}
	if len(ch.reads) < rows {
		t.Errorf("%d keys read by the snapshot, want %d", len(ch.reads), rows)
	}
	t.Logf("%d events, %d duplicate changes and %d repeated snapshot reads across a kill -9 and a graceful restart of the worker", ch.events, ch.dups, rereads)
	st := getStatus(t, w, "my-e2e")
	if len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
		t.Errorf("status %+v", st)
	}
	w.JSON("DELETE", "/connectors/my-e2e", nil, http.StatusNoContent, nil)
	w.JSON("DELETE", "/connectors/my-e2e-pg", nil, http.StatusNoContent, nil)
}

// TestMySQLSourceChecks drives the pre-start checks through a worker:
// PUT .../config/validate names each problem under its property, and
// POST /connectors refuses the config with the same message.
func TestMySQLSourceChecks(t *testing.T) {
	t.Parallel()
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	props, _ := isolated(t, nil)
	w := harness.StartWorker(t, harness.WorkerOptions{Props: props})
	db := m.CreateDB(t, "checks")
	m.Exec(t, "", "CREATE USER 'weak'@'%' IDENTIFIED BY 'pw'", "GRANT SELECT ON *.* TO 'weak'@'%'")
	validate := func(cfg map[string]string) map[string][]string {
		var infos struct {
			ErrorCount int `json:"error_count"`
			Configs    []struct {
				Value struct {
					Name   string   `json:"name"`
					Errors []string `json:"errors"`
				} `json:"value"`
			} `json:"configs"`
		}
		w.JSON("PUT", "/connector-plugins/mysql/config/validate", cfg, http.StatusOK, &infos)
		out := map[string][]string{}
		for _, c := range infos.Configs {
			if len(c.Value.Errors) > 0 {
				out[c.Value.Name] = c.Value.Errors
			}
		}
		return out
	}
	base := func(kv ...string) map[string]string {
		cfg := mysqlSourceConfig(m, db, "chk", nil)
		cfg["connector.class"] = "mysql"
		cfg["name"] = "my-checks"
		for i := 0; i+1 < len(kv); i += 2 {
			cfg[kv[i]] = kv[i+1]
		}
		return cfg
	}
	if errs := validate(base()); len(errs) != 0 {
		t.Errorf("a good config: %v", errs)
	}
	for _, c := range []struct {
		name     string
		kv       []string
		key      string
		contains string
	}{
		{"password", []string{"database.password", "nope"}, "database.password", "check database.user and database.password"},
		{"grants", []string{"database.user", "weak", "database.password", "pw"}, "database.user", "lacks REPLICATION SLAVE"},
		{"refused property", []string{"snapshot.locking.mode", "minimal"}, "snapshot.locking.mode", "takes no global or table lock"},
		{"unreachable", []string{"database.port", strconv.Itoa(harness.FreePort(t)), "connect.timeout.ms", "2000"}, "database.hostname", "cannot reach MySQL"},
	} {
		errs := validate(base(c.kv...))
		if !strings.Contains(strings.Join(errs[c.key], " "), c.contains) {
			t.Errorf("%s: validate errors %v, want %q under %s", c.name, errs, c.contains, c.key)
		}
	}
	m.Exec(t, "", "SET GLOBAL binlog_row_metadata = 'MINIMAL'")
	defer m.Exec(t, "", "SET GLOBAL binlog_row_metadata = 'FULL'")
	if errs := validate(base()); !strings.Contains(strings.Join(errs["database.hostname"], " "), "set binlog_row_metadata=FULL") {
		t.Errorf("binlog_row_metadata MINIMAL: validate errors %v", errs)
	}
	msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "my-checks", "config": base()}, http.StatusBadRequest)
	if !strings.Contains(msg, "binlog_row_metadata is MINIMAL") || !strings.Contains(msg, "instead of parsing DDL") {
		t.Errorf("create refused with %q", msg)
	}
}
