package it

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
)

// pathsEnv is what the subtests of TestPostgresPaths share: a source
// PostgreSQL, a target PostgreSQL, a target MariaDB, a broker and one
// worker. Each subtest captures its own source database (own slot, topic
// prefix and connectors) into its own target databases.
type pathsEnv struct {
	src, dst *harness.Postgres
	my       *harness.MariaDB
	br       *harness.Broker
	w        *harness.Worker
	adm      *kadm.Client
}

// TestPostgresPaths runs PostgreSQL source → Kafka → JDBC sink into
// PostgreSQL and into MariaDB for paths the other suites do not take:
// pgoutput protocol 1, several non-public schemas, a keyless table with
// REPLICA IDENTITY FULL, and columns dropped, retyped and renamed while
// streaming. Every subtest asserts both targets row by row.
//
// The source runs with logical_decoding_work_mem=64kB (its minimum), so
// that a transaction of a few thousand rows is past it: under protocol 2
// the server would stream it, under protocol 1 it spills it to its disk.
func TestPostgresPaths(t *testing.T) {
	t.Parallel()
	env := &pathsEnv{
		src: harness.StartPostgres(t, harness.PostgresOptions{Settings: map[string]string{"logical_decoding_work_mem": "64kB"}}),
		dst: harness.StartPostgres(t, harness.PostgresOptions{}),
		my:  harness.StartMariaDB(t, harness.MariaDBOptions{NoBinlog: true}),
		br:  harness.StartBroker(t),
	}
	props, _ := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	env.w = harness.StartWorker(t, harness.WorkerOptions{Bootstrap: env.br.Bootstrap, Props: props})
	env.adm = kadm.NewClient(env.br.Client(t, freshMetadata))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(env.w.Log(), 8000))
		}
	})
	t.Run("protocol 1", func(t *testing.T) { t.Parallel(); testPathProtocol1(t, env) })
	t.Run("schemas", func(t *testing.T) { t.Parallel(); testPathSchemas(t, env) })
	t.Run("keyless", func(t *testing.T) { t.Parallel(); testPathKeyless(t, env) })
	t.Run("column changes", func(t *testing.T) { t.Parallel(); testPathColumnChanges(t, env) })
}

// pathTargets are one subtest's target databases and the names of its
// connectors.
type pathTargets struct {
	pgDB, myDB string
	pg         *pgx.Conn
	my         *sql.DB
	connectors []string
}

// sinks creates the subtest's target databases and two jdbc sinks of the
// topics matching topics (upsert by record key, deletes, schema
// evolution basic, tables named ${source.table}), one into each; extraPG and extraMy are more
// properties (name, value pairs) of the PostgreSQL and the MariaDB sink.
func (env *pathsEnv) sinks(t *testing.T, name, topics string, extraPG, extraMy []string) *pathTargets {
	t.Helper()
	pt := &pathTargets{pgDB: env.dst.CreateDB(t, name), myDB: env.my.CreateDB(t, name)}
	pt.pg = env.dst.Connect(t, pt.pgDB)
	pt.my = env.my.Open(t, pt.myDB)
	sink := func(conn, url, user string, extra []string) {
		create(t, env.w, conn, upsertSink(url, user, topics, extra...))
		pt.connectors = append(pt.connectors, conn)
	}
	sink(name+"-pg", env.dst.JDBCURL(pt.pgDB), env.dst.User, extraPG)
	sink(name+"-my", env.my.JDBCURL(pt.myDB), "root", extraMy)
	return pt
}

// lines renders rows as "a|b|c" with NULL for null.
func lines(rows [][]*string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			if v == nil {
				parts[j] = "NULL"
			} else {
				parts[j] = *v
			}
		}
		out[i] = strings.Join(parts, "|")
	}
	return out
}

// pgLines runs q (text columns) on c.
func pgLines(ctx context.Context, c *pgx.Conn, q string) ([]string, error) {
	rows, err := pgTexts(ctx, c, q)
	if err != nil {
		return nil, err
	}
	return lines(rows), nil
}

// myLines runs q on db; every column is read as text.
func myLines(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]*string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make([]*string, len(cols))
		for i, v := range vals {
			if v.Valid {
				s := v.String
				r[i] = &s
			}
		}
		out = append(out, r)
	}
	return lines(out), rows.Err()
}

// diffLines says how got differs from want, row by row ("" when equal).
func diffLines(want, got []string) string {
	if slices.Equal(want, got) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d rows, want %d", len(got), len(want))
	shown := 0
	for i := 0; i < max(len(want), len(got)) && shown < 10; i++ {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "\n  row %d: got %q, want %q", i, g, w)
			shown++
		}
	}
	return b.String()
}

// waitTargets waits (failing the test after timeout, or at once when a
// connector fails) until both targets hold want: pgQ on the PostgreSQL
// target, myQ on MariaDB.
func (env *pathsEnv) waitTargets(t *testing.T, pt *pathTargets, what string, timeout time.Duration, want []string, pgQ, myQ string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	harness.WaitFor(t, timeout, what+" in both targets", func() error {
		if err := failedTask(t, env.w, pt.connectors...); err != nil {
			t.Fatal(err)
		}
		got, err := pgLines(ctx, pt.pg, pgQ)
		if err != nil {
			return fmt.Errorf("postgres target: %w", err)
		}
		if d := diffLines(want, got); d != "" {
			return fmt.Errorf("postgres target: %s", d)
		}
		got, err = myLines(ctx, pt.my, myQ)
		if err != nil {
			return fmt.Errorf("mariadb target: %w", err)
		}
		if d := diffLines(want, got); d != "" {
			return fmt.Errorf("mariadb target: %s", d)
		}
		return nil
	})
}

// srcLines reads want from the source.
func srcLines(t *testing.T, c *pgx.Conn, q string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := pgLines(ctx, c, q)
	if err != nil {
		t.Fatalf("source: %s: %v", q, err)
	}
	return out
}

// testPathProtocol1 captures with sluice.stream.in.progress=false, i.e.
// pgoutput protocol 1 as on PostgreSQL < 14. One transaction of 20,000
// inserts, updates and deletes (with a rolled-back subtransaction, and
// another transaction committing while it is open) is far over the
// server's 64 kB logical_decoding_work_mem: pg_stat_replication_slots
// must show it spilled by the server and never streamed, and both targets
// must end equal to the source, row by row.
func testPathProtocol1(t *testing.T, env *pathsEnv) {
	const rows = 20000
	db := env.src.CreateDB(t, "p1")
	env.src.Exec(t, db, "CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, s text)",
		"INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(1, 10) g")
	pt := env.sinks(t, "p1", `p1\.public\..*`, nil, nil)
	slot := "sluice_p1"
	create(t, env.w, "p1-source", pgSourceConfig(env.src, db, "p1", slot, map[string]string{
		"sluice.stream.in.progress": "false",
	}))
	pt.connectors = append(pt.connectors, "p1-source")
	const pgQ = "SELECT id::text, n::text, s FROM big ORDER BY big.id"
	const myQ = "SELECT CAST(id AS CHAR), CAST(n AS CHAR), s FROM big ORDER BY big.id"
	src := env.src.Connect(t, db)
	env.waitTargets(t, pt, "the snapshot", 2*time.Minute, srcLines(t, src, pgQ), pgQ, myQ)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tx, err := src.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO big SELECT g, g, md5(g::text) FROM generate_series(11, %d) g", rows),
		"SAVEPOINT s",
		"INSERT INTO big SELECT g, -g, 'rolled back' FROM generate_series(100001, 100500) g",
		"UPDATE big SET n = -1 WHERE id <= 10",
		"ROLLBACK TO SAVEPOINT s",
		"UPDATE big SET n = n * 10, s = NULL WHERE id % 10 = 0",
		"DELETE FROM big WHERE id % 7 = 0",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A small transaction commits while the large one is open: it comes
	// first in commit order.
	env.src.Exec(t, db, "UPDATE big SET s = 'before the large one' WHERE id = 1")
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	env.src.Exec(t, db, "UPDATE big SET s = 'after the large one' WHERE id = 2", fmt.Sprintf("INSERT INTO big VALUES (%d, 0, 'last')", rows+1))

	want := srcLines(t, src, pgQ)
	if n := len(want); n != rows+1-rows/7 {
		t.Fatalf("source has %d rows, want %d", n, rows+1-rows/7)
	}
	env.waitTargets(t, pt, "the large transaction", 5*time.Minute, want, pgQ, myQ)

	meta := env.src.Connect(t, "postgres")
	var spilled, streamed int64
	harness.WaitFor(t, time.Minute, "the slot's statistics", func() error {
		if err := meta.QueryRow(ctx, "SELECT spill_txns, stream_txns FROM pg_stat_replication_slots WHERE slot_name = $1", slot).Scan(&spilled, &streamed); err != nil {
			return err
		}
		if spilled == 0 {
			return fmt.Errorf("no transaction spilled yet")
		}
		return nil
	})
	if streamed != 0 {
		t.Errorf("slot %s: %d transactions streamed, want 0 under protocol 1", slot, streamed)
	}
	t.Logf("protocol 1: %d rows equal in the source and both targets; the server spilled %d transactions and streamed %d", len(want), spilled, streamed)
}

// testPathSchemas captures a table of the same name, orders, in two
// non-public schemas, inv and "Sales" (quoted, mixed case), and not the
// public one. The topics are p2.inv.orders and p2.Sales.orders. The
// PostgreSQL sink writes ${source.schema}.${source.table} (schemas inv
// and sales in the target: unquoted names fold to lower case); the
// MariaDB sink the default ${topic} (p2_inv_orders, p2_Sales_orders).
func testPathSchemas(t *testing.T, env *pathsEnv) {
	db := env.src.CreateDB(t, "sch")
	env.src.Exec(t, db, `CREATE SCHEMA inv`, `CREATE SCHEMA "Sales"`)
	for _, s := range []string{"inv", `"Sales"`, "public"} {
		env.src.Exec(t, db, "CREATE TABLE "+s+".orders (id int PRIMARY KEY, item text NOT NULL, qty int)",
			"INSERT INTO "+s+".orders VALUES (1, "+quoteLit(s+" one")+", 1), (2, "+quoteLit(s+" two")+", NULL)")
	}
	pt := env.sinks(t, "sch", `p2\..*`, []string{"table.name.format", "${source.schema}.${source.table}"},
		[]string{"table.name.format", "${topic}"})
	env.dst.Exec(t, pt.pgDB, "CREATE SCHEMA inv", "CREATE SCHEMA sales")
	create(t, env.w, "sch-source", pgSourceConfig(env.src, db, "p2", "sluice_sch", map[string]string{
		"table.include.list": `inv\.orders,Sales\.orders`,
	}))
	pt.connectors = append(pt.connectors, "sch-source")

	// One query per target over both tables, the schema first (numbered,
	// as the two databases order its case differently).
	const pgQ = "SELECT '1 inv', id::text, item, qty::text FROM inv.orders UNION ALL SELECT '2 Sales', id::text, item, qty::text FROM sales.orders ORDER BY 1, 2"
	const myQ = "SELECT '1 inv', CAST(id AS CHAR), item, CAST(qty AS CHAR) FROM p2_inv_orders UNION ALL SELECT '2 Sales', CAST(id AS CHAR), item, CAST(qty AS CHAR) FROM p2_Sales_orders ORDER BY 1, 2"
	env.waitTargets(t, pt, "the snapshot", 2*time.Minute, []string{
		"1 inv|1|inv one|1", "1 inv|2|inv two|NULL",
		"2 Sales|1|\"Sales\" one|1", "2 Sales|2|\"Sales\" two|NULL",
	}, pgQ, myQ)

	// The same statements on each table, public's not captured.
	for _, s := range []string{"inv", `"Sales"`, "public"} {
		env.src.Exec(t, db,
			"INSERT INTO "+s+".orders VALUES (3, "+quoteLit(s+" three")+", 3)",
			"UPDATE "+s+".orders SET qty = 20, item = "+quoteLit(s+" two'")+" WHERE id = 2",
			"DELETE FROM "+s+".orders WHERE id = 1")
	}
	env.src.Exec(t, db, "UPDATE inv.orders SET qty = 33 WHERE id = 3", `DELETE FROM "Sales".orders WHERE id = 3`)
	env.waitTargets(t, pt, "the streamed changes", 2*time.Minute, []string{
		"1 inv|2|inv two'|20", "1 inv|3|inv three|33",
		"2 Sales|2|\"Sales\" two'|20",
	}, pgQ, myQ)

	// Exactly the two captured topics, with the records written.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := env.adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, "p2.") {
			got = append(got, name)
		}
	}
	slices.Sort(got)
	if want := []string{"p2.Sales.orders", "p2.inv.orders"}; !slices.Equal(got, want) {
		t.Errorf("topics %v, want %v", got, want)
	}
	// Snapshot 2, then insert, update, delete + tombstone; inv has one
	// more update, Sales a second delete + tombstone.
	for topic, want := range map[string]int64{"p2.inv.orders": 7, "p2.Sales.orders": 8} {
		if n := endOffsets(t, env.adm, topic); n != want {
			t.Errorf("%s has %d records, want %d", topic, n, want)
		}
	}
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// testPathKeyless captures a table without a primary key and with
// REPLICA IDENTITY FULL: its snapshot, updates (of other columns, of a
// NULL, and of the key column) and deletes.
//
// The JDBC sink needs a key to find a row again: with
// primary.key.mode=none it can only append (updates become new rows,
// deletes are impossible), and with record_value deletes are not applied
// (delete.enabled needs record_key, as in Debezium's sink), nor is an
// update that changes the key fields (the old row stays). What makes
// updates and deletes correct is Debezium's way for keyless tables: the
// source names the columns that identify a row in message.key.columns,
// so that every event has a key (for deletes and updates taken from the
// full old row that REPLICA IDENTITY FULL sends; an update that changes
// them becomes a delete of the old key, a tombstone and a create), and
// the sinks use primary.key.mode=record_key with delete.enabled. The
// target tables get that column as their primary key.
func testPathKeyless(t *testing.T, env *pathsEnv) {
	db := env.src.CreateDB(t, "kl")
	env.src.Exec(t, db, "CREATE TABLE events (code text NOT NULL, n int, note text)",
		"ALTER TABLE events REPLICA IDENTITY FULL",
		"INSERT INTO events VALUES ('a', 1, 'one'), ('b', 2, NULL), ('c', 3, 'three'), ('d', NULL, 'four')")
	pt := env.sinks(t, "kl", `p3\.public\..*`, nil, nil)
	create(t, env.w, "kl-source", pgSourceConfig(env.src, db, "p3", "sluice_kl", map[string]string{
		"message.key.columns": "public.events:code",
	}))
	pt.connectors = append(pt.connectors, "kl-source")
	const pgQ = "SELECT code, n::text, note FROM events ORDER BY code"
	const myQ = "SELECT code, CAST(n AS CHAR), note FROM events ORDER BY code"
	env.waitTargets(t, pt, "the snapshot", 2*time.Minute, []string{"a|1|one", "b|2|NULL", "c|3|three", "d|NULL|four"}, pgQ, myQ)

	env.src.Exec(t, db,
		"UPDATE events SET note = 'uno' WHERE code = 'a'",
		"UPDATE events SET note = 'two', n = NULL WHERE code = 'b'",
		"DELETE FROM events WHERE code = 'c'",
		"UPDATE events SET code = 'e', n = 5 WHERE code = 'd'",
		"INSERT INTO events VALUES ('f', 6, 'six')",
		"UPDATE events SET n = n + 10 WHERE code IN ('a', 'f')")
	want := []string{"a|11|uno", "b|NULL|two", "e|5|four", "f|16|six"}
	if got := srcLines(t, env.src.Connect(t, db), pgQ); !slices.Equal(got, want) {
		t.Fatalf("source rows %v, want %v", got, want)
	}
	env.waitTargets(t, pt, "the streamed changes", 2*time.Minute, want, pgQ, myQ)

	// The auto-created target tables are keyed by code.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pk string
	if err := pt.pg.QueryRow(ctx, "SELECT string_agg(a.attname, ',') FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'events'::regclass AND i.indisprimary").Scan(&pk); err != nil || pk != "code" {
		t.Errorf("postgres target: events primary key %q (%v), want code", pk, err)
	}
	if err := pt.my.QueryRowContext(ctx, "SELECT GROUP_CONCAT(column_name) FROM information_schema.key_column_usage WHERE table_schema = DATABASE() AND table_name = 'events' AND constraint_name = 'PRIMARY'").Scan(&pk); err != nil || pk != "code" {
		t.Errorf("mariadb target: events primary key %q (%v), want code", pk, err)
	}
}

// testPathColumnChanges alters a captured table while streaming, with a
// change before and after each step: DROP COLUMN, int → bigint,
// varchar(10) → text, numeric(5,2) → numeric(12,4), RENAME COLUMN.
//
// What the targets end with (schema.evolution=basic adds columns and
// widens them, never drops or renames, as Debezium's jdbc sink; unlike
// it, it also lifts NOT NULL where needed, see below):
//   - gone, dropped in the source, stays in the targets: rows written
//     before keep their value, later rows have NULL, and a row updated
//     after the drop keeps its old value (the upsert sets only the fields
//     the record has);
//   - num is widened to bigint (PostgreSQL bigint, MariaDB bigint(20)) and
//     holds values past 2^31;
//   - short was created as text (longtext in MariaDB) from the start: the
//     sink does not learn a varchar's length without
//     column.propagate.source.type, so the change to text needs nothing;
//   - amount is widened from numeric(5,2) to numeric(12,4) (decimal in
//     MariaDB) and keeps the digits of both;
//   - old_name, renamed new_name in the source, stays; new_name is added
//     as a new nullable column: rows written after the rename have NULL
//     in old_name, and a row written before and updated after has both.
//
// gone and old_name are NOT NULL in the source, and so in the
// auto-created targets; once records lack them the sink makes them
// nullable, and it adds new_name (a required field) as a nullable column,
// as the rows already there have no value for it. Without that, every
// row after the drop or the rename failed.
func testPathColumnChanges(t *testing.T, env *pathsEnv) {
	db := env.src.CreateDB(t, "ddl")
	env.src.Exec(t, db, `CREATE TABLE items (id int PRIMARY KEY, keep text, gone text NOT NULL, num int,
		short varchar(10), amount numeric(5,2), old_name text NOT NULL)`,
		"INSERT INTO items VALUES (1, 'k1', 'g1', 1, 's1', 1.25, 'o1'), (2, 'k2', 'g2', 2, 's2', 2.50, 'o2')")
	pt := env.sinks(t, "ddl", `p4\.public\..*`, nil, nil)
	create(t, env.w, "ddl-source", pgSourceConfig(env.src, db, "p4", "sluice_ddl", map[string]string{
		"decimal.handling.mode": "precise",
	}))
	pt.connectors = append(pt.connectors, "ddl-source")
	const pgQ = "SELECT id::text, keep, gone, num::text, short, amount::text, old_name, %s FROM items ORDER BY items.id"
	const myQ = "SELECT CAST(id AS CHAR), keep, gone, CAST(num AS CHAR), short, CAST(amount AS CHAR), old_name, %s FROM items ORDER BY items.id"
	// new_name does not exist yet: a constant stands in for it.
	before := func(q string) string { return fmt.Sprintf(q, "'-'") }
	env.waitTargets(t, pt, "the snapshot", 2*time.Minute, []string{
		"1|k1|g1|1|s1|1.25|o1|-", "2|k2|g2|2|s2|2.50|o2|-",
	}, before(pgQ), before(myQ))

	env.src.Exec(t, db,
		"INSERT INTO items VALUES (3, 'k3', 'g3', 3, 's3', 3.75, 'o3')",
		"ALTER TABLE items DROP COLUMN gone",
		"INSERT INTO items VALUES (4, 'k4', 4, 's4', 4.00, 'o4')",
		"UPDATE items SET keep = 'k1 after drop' WHERE id = 1",
		"ALTER TABLE items ALTER COLUMN num TYPE bigint",
		"INSERT INTO items VALUES (5, 'k5', 5000000000, 's5', 5.00, 'o5')",
		"ALTER TABLE items ALTER COLUMN short TYPE text",
		"INSERT INTO items VALUES (6, 'k6', 6, 'a text longer than ten', 6.00, 'o6')",
		"ALTER TABLE items ALTER COLUMN amount TYPE numeric(12,4)",
		"INSERT INTO items VALUES (7, 'k7', 7, 's7', 12345678.1234, 'o7')",
		"ALTER TABLE items RENAME COLUMN old_name TO new_name",
		"INSERT INTO items VALUES (8, 'k8', 8, 's8', 8.00, 'n8')",
		"UPDATE items SET new_name = 'n2', num = num + 1 WHERE id = 2",
	)
	const pgQ2 = "SELECT id::text, keep, gone, num::text, short, amount::text, old_name, new_name FROM items ORDER BY items.id"
	const myQ2 = "SELECT CAST(id AS CHAR), keep, gone, CAST(num AS CHAR), short, CAST(amount AS CHAR), old_name, new_name FROM items ORDER BY items.id"
	// Numerics read back at the widened scale: 4 digits.
	env.waitTargets(t, pt, "the changes around each ALTER", 2*time.Minute, []string{
		"1|k1 after drop|g1|1|s1|1.2500|o1|NULL",
		"2|k2|g2|3|s2|2.5000|o2|n2",
		"3|k3|g3|3|s3|3.7500|o3|NULL",
		"4|k4|NULL|4|s4|4.0000|o4|NULL",
		"5|k5|NULL|5000000000|s5|5.0000|o5|NULL",
		"6|k6|NULL|6|a text longer than ten|6.0000|o6|NULL",
		"7|k7|NULL|7|s7|12345678.1234|o7|NULL",
		"8|k8|NULL|8|s8|8.0000|NULL|n8",
	}, pgQ2, myQ2)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pgTypes, err := pgLines(ctx, pt.pg, "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"id|integer", "keep|text", "gone|text", "num|bigint", "short|text", "amount|numeric(12,4)", "old_name|text", "new_name|text"}; !slices.Equal(pgTypes, want) {
		t.Errorf("postgres target columns %v, want %v", pgTypes, want)
	}
	myTypes, err := myLines(ctx, pt.my, "SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'items' ORDER BY ordinal_position")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"id|int(11)", "keep|longtext", "gone|longtext", "num|bigint(20)", "short|longtext", "amount|decimal(12,4)", "old_name|longtext", "new_name|longtext"}; !slices.Equal(myTypes, want) {
		t.Errorf("mariadb target columns %v, want %v", myTypes, want)
	}
}
