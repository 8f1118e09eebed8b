package it

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
)

// myCol is one column of the MySQL type round trip: a MariaDB type, two
// non-null values (SQL literals) and how each side renders it for the
// comparison: src on the source (default CAST(col AS CHAR)), my on the
// MariaDB target (default src's), pg on the PostgreSQL target (default
// col::text); cmp says how the renderings are compared (see mySame).
type myCol struct {
	name, typ, a, b string
	src, my, pg     string
	cmp             string
}

// myTypes is the matrix of the MySQL source's types that the JDBC sink
// writes to both PostgreSQL and MariaDB. GEOMETRY is left out: the sink
// refuses io.debezium.data.geometry fields by design (connectors/jdbc
// doc.go). TIME values outside a day are in myTimes, MariaDB only.
var myTypes = []myCol{
	{name: "ti", typ: "TINYINT", a: "-128", b: "127"},
	{name: "tu", typ: "TINYINT UNSIGNED", a: "255", b: "0"},
	{name: "bo", typ: "BOOLEAN", a: "TRUE", b: "FALSE"},
	{name: "si", typ: "SMALLINT", a: "-32768", b: "32767"},
	{name: "su", typ: "SMALLINT UNSIGNED", a: "65535", b: "0"},
	{name: "mi", typ: "MEDIUMINT", a: "-8388608", b: "8388607"},
	{name: "mu", typ: "MEDIUMINT UNSIGNED", a: "16777215", b: "0"},
	{name: "i", typ: "INT", a: "-2147483648", b: "2147483647"},
	{name: "iu", typ: "INT UNSIGNED", a: "4294967295", b: "0"},
	{name: "bi", typ: "BIGINT", a: "-9223372036854775808", b: "9223372036854775807"},
	// bigint.unsigned.handling.mode=precise: a Decimal of scale 0.
	{name: "bu", typ: "BIGINT UNSIGNED", a: "18446744073709551615", b: "0", cmp: "num"},
	{name: "d1", typ: "DECIMAL(5,2)", a: "-123.45", b: "999.99", cmp: "num"},
	{name: "d2", typ: "DECIMAL(30,10)", a: "12345678901234567890.0123456789", b: "-0.0000000001", cmp: "num"},
	{name: "d3", typ: "DECIMAL(10,0)", a: "42", b: "-9999999999", cmp: "num"},
	// FLOAT is a FLOAT64 (as Debezium): the double the binlog holds.
	// rendered as the double it is (MariaDB prints FLOAT with 6 digits).
	{name: "f", typ: "FLOAT", a: "3.14159274", b: "-1e30", src: "CAST(CAST(%s AS DOUBLE) AS CHAR)", my: "CAST(%s AS CHAR)", cmp: "f64"},
	{name: "db", typ: "DOUBLE", a: "2.718281828459045", b: "1e300", cmp: "f64"},
	// BIT(1) is a boolean; wider BITs are io.debezium.data.Bits, bytes in
	// little-endian order, written as bytea / longblob.
	{name: "b1", typ: "BIT(1)", a: "b'1'", b: "b'0'", src: "CAST(%s+0 AS CHAR)", my: "CAST(%s+0 AS CHAR)", cmp: "bool"},
	{name: "b9", typ: "BIT(9)", a: "b'100000001'", b: "b'0'", src: "CAST(%s+0 AS CHAR)", my: "HEX(%s)", pg: "encode(%s, 'hex')", cmp: "bits"},
	{name: "b64", typ: "BIT(64)", a: "b'1111111111111111111111111111111111111111111111111111111111111111'", b: "b'1000000000000000000000000000000000000000000000000000000000000001'",
		src: "CAST(%s+0 AS CHAR)", my: "HEX(%s)", pg: "encode(%s, 'hex')", cmp: "bits"},
	{name: "c", typ: "CHAR(5)", a: "'ab'", b: "'abcde'"},
	{name: "vc", typ: "VARCHAR(20)", a: "'héllo wörld'", b: "''"},
	{name: "tx", typ: "TEXT", a: "'some text ✓ ''q'' \\\\ 😀'", b: "'line\\nbreak\\ttab'"},
	{name: "l1", typ: "VARCHAR(10) CHARACTER SET latin1", a: "'café'", b: "'naïve'"},
	{name: "lt", typ: "TEXT CHARACTER SET latin1", a: "'Ærøskøbing'", b: "''"},
	{name: "bn", typ: "BINARY(4)", a: "x'0102'", b: "x'00000000'", src: "HEX(%s)", pg: "upper(encode(%s, 'hex'))"},
	{name: "vb", typ: "VARBINARY(10)", a: "x'0a0b0c'", b: "x''", src: "HEX(%s)", pg: "upper(encode(%s, 'hex'))"},
	{name: "bl", typ: "BLOB", a: "x'00ff00'", b: "x'ff'", src: "HEX(%s)", pg: "upper(encode(%s, 'hex'))"},
	{name: "dt", typ: "DATE", a: "'2024-02-29'", b: "'1000-01-01'"},
	{name: "tm", typ: "TIME", a: "'13:14:15'", b: "'00:00:00'", cmp: "time"},
	{name: "tm3", typ: "TIME(3)", a: "'12:34:56.789'", b: "'23:59:59.999'", cmp: "time"},
	{name: "tm6", typ: "TIME(6)", a: "'23:59:59.999999'", b: "'00:00:00.000001'", cmp: "time"},
	{name: "dtt", typ: "DATETIME", a: "'2024-02-29 13:14:15'", b: "'1969-12-31 23:59:59'", cmp: "time"},
	{name: "dt3", typ: "DATETIME(3)", a: "'1999-12-31 23:59:59.123'", b: "'1970-01-01 00:00:00.001'", cmp: "time"},
	{name: "dt6", typ: "DATETIME(6)", a: "'2024-02-29 13:14:15.123456'", b: "'1900-01-01 00:00:00.000001'", cmp: "time"},
	// TIMESTAMP is a ZonedTimestamp (UTC): the source renders in its
	// session's UTC, PostgreSQL's timestamptz in UTC, MariaDB's DATETIME
	// holds the UTC wall clock (database.time_zone).
	{name: "ts", typ: "TIMESTAMP NULL", a: "'2024-02-29 13:14:15'", b: "'1970-01-01 02:00:01'", pg: "(%s AT TIME ZONE 'UTC')::text", cmp: "time"},
	{name: "ts3", typ: "TIMESTAMP(3) NULL", a: "'2024-02-29 13:14:15.5'", b: "'2038-01-19 03:14:07.999'", pg: "(%s AT TIME ZONE 'UTC')::text", cmp: "time"},
	{name: "ts6", typ: "TIMESTAMP(6) NULL", a: "'1970-01-01 02:00:01.000001'", b: "'2001-09-09 01:46:40.123456'", pg: "(%s AT TIME ZONE 'UTC')::text", cmp: "time"},
	{name: "yr", typ: "YEAR", a: "2024", b: "1901"},
	{name: "en", typ: "ENUM('a','b''c','d')", a: "'b''c'", b: "'a'"},
	{name: "st", typ: "SET('x','y','z')", a: "'x,z'", b: "''"},
	{name: "js", typ: "JSON", a: `'{"k": [1, 2.5, "s"], "n": null}'`, b: `'[]'`, cmp: "json"},
	// MariaDB's UUID (io.debezium.data.Uuid: PostgreSQL's uuid, MariaDB's
	// char(36)), INET4 and INET6 (text).
	{name: "uu", typ: "UUID", a: "'6ccd780c-baba-1026-9564-5b8c656024db'", b: "'00000000-0000-0000-0000-000000000000'"},
	{name: "i4", typ: "INET4", a: "'192.168.0.1'", b: "'0.0.0.0'"},
	{name: "i6", typ: "INET6", a: "'2001:db8::ff00:42:8329'", b: "'::ffff:1.2.3.4'"},
}

// myTimes are TIME values outside a time of day (negative, beyond 24
// hours): MariaDB's TIME holds them, PostgreSQL's time does not, so they
// go to the MariaDB target only.
var myTimes = []myCol{
	{name: "tn", typ: "TIME", a: "'-838:59:59'", b: "'838:59:59'", cmp: "time"},
	{name: "tn6", typ: "TIME(6)", a: "'-00:00:01.5'", b: "'100:00:00.000001'", cmp: "time"},
}

// TestMySQLTypeRoundTrip captures a MariaDB table with a column of every
// type the MySQL source maps (myTypes), through its snapshot and its
// stream, writes it with JDBC sinks that create the tables into
// PostgreSQL and into MariaDB, and compares every column of every row
// with the source. Rows 1 (a values) and 2 (NULLs) are in the snapshot;
// while streaming 3 (b) and 4 (NULLs) are inserted, 1 is updated to the b
// values and 2 to the a values.
func TestMySQLTypeRoundTrip(t *testing.T) {
	t.Parallel()
	m := harness.StartMariaDB(t, harness.MariaDBOptions{Args: []string{"--default-time-zone=+02:00"}})
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	db := m.CreateDB(t, "types")
	replica := m.CreateDB(t, "replica")
	pgDB := pg.CreateDB(t, "mytypes")

	tables := []struct {
		name string
		cols []myCol
		pg   bool
	}{{"mt", myTypes, true}, {"mt_time", myTimes, false}}
	src := m.Open(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srcConn, err := src.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srcConn.Close()
	if _, err := srcConn.ExecContext(ctx, "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_BACKSLASH_ESCAPES'"); err != nil {
		t.Fatal(err)
	}
	exec := func(q string) {
		t.Helper()
		if _, err := srcConn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	insert := func(table string, cols []myCol, id int, which string) {
		names, vals := []string{"id"}, []string{fmt.Sprint(id)}
		for _, c := range cols {
			names = append(names, c.name)
			switch which {
			case "a":
				vals = append(vals, c.a)
			case "b":
				vals = append(vals, c.b)
			default:
				vals = append(vals, "NULL")
			}
		}
		exec(fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", table, strings.Join(names, ", "), strings.Join(vals, ", ")))
	}
	update := func(table string, cols []myCol, id int, which string) {
		var sets []string
		for _, c := range cols {
			v := c.a
			if which == "b" {
				v = c.b
			}
			sets = append(sets, c.name+" = "+v)
		}
		exec(fmt.Sprintf("UPDATE %s SET %s WHERE id = %d", table, strings.Join(sets, ", "), id))
	}
	for _, tb := range tables {
		var defs []string
		for _, c := range tb.cols {
			defs = append(defs, c.name+" "+c.typ)
		}
		exec(fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, %s) DEFAULT CHARSET=utf8mb4", tb.name, strings.Join(defs, ", ")))
		insert(tb.name, tb.cols, 1, "a")
		insert(tb.name, tb.cols, 2, "")
	}

	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(w.Log(), 8000))
		}
	})
	prefix := "myrt" + sfx
	topic := func(table string) string { return prefix + "." + db + "." + table }
	create(t, w, "myrt-pg", upsertSink(pg.JDBCURL(pgDB), pg.User, strings.ReplaceAll(topic("mt"), ".", `\.`), "auto.create", "true"))
	create(t, w, "myrt-mariadb", upsertSink(m.JDBCURL(replica), m.User, strings.ReplaceAll(prefix+"."+db, ".", `\.`)+`\.mt.*`, "auto.create", "true"))
	create(t, w, "myrt-source", mysqlSourceConfig(m, db, prefix, map[string]string{
		"database.server.id":            "6101",
		"bigint.unsigned.handling.mode": "precise",
	}))
	connectors := []string{"myrt-source", "myrt-pg", "myrt-mariadb"}

	pgConn := pg.Connect(t, pgDB)
	if _, err := pgConn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	target := m.Open(t, replica)
	rowsIn := func(want int) func() error {
		return func() error {
			if err := failedTask(t, w, connectors...); err != nil {
				t.Fatal(err)
			}
			for _, tb := range tables {
				var n int
				if err := target.QueryRowContext(ctx, "SELECT count(*) FROM "+tb.name).Scan(&n); err != nil || n != want {
					return fmt.Errorf("mariadb %s: %d rows (%v)", tb.name, n, err)
				}
				if !tb.pg {
					continue
				}
				if err := pgConn.QueryRow(ctx, "SELECT count(*) FROM "+tb.name).Scan(&n); err != nil || n != want {
					return fmt.Errorf("postgres %s: %d rows (%v)", tb.name, n, err)
				}
			}
			return nil
		}
	}
	harness.WaitFor(t, 90*time.Second, "the snapshot rows in the targets", rowsIn(2))
	for _, tb := range tables {
		insert(tb.name, tb.cols, 3, "b")
		insert(tb.name, tb.cols, 4, "")
		update(tb.name, tb.cols, 1, "b")
		update(tb.name, tb.cols, 2, "a")
	}
	harness.WaitFor(t, 90*time.Second, "the streamed rows in the targets", rowsIn(4))

	// The updates of rows 1 and 2 come after the inserts: once a target
	// shows them, it holds the final state.
	if _, err := srcConn.ExecContext(ctx, "SET SESSION time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		want := myRender(ctx, t, srcConn, tb.name, tb.cols, func(c myCol) string { return c.src })
		targets := []string{"mariadb"}
		if tb.pg {
			targets = append(targets, "postgres")
		}
		for _, tg := range targets {
			var got [][]string
			harness.WaitFor(t, 60*time.Second, tg+" "+tb.name+" updated", func() error {
				if tg == "mariadb" {
					got = myRender(ctx, t, target, tb.name, tb.cols, func(c myCol) string { return cmpOr(c.my, c.src) })
				} else {
					got = pgRender(ctx, t, pgConn, tb.name, tb.cols)
				}
				if len(got) != len(want) {
					return fmt.Errorf("%d rows, want %d", len(got), len(want))
				}
				for id := range want {
					if why := mySame(tb.cols, got[id], want[id]); why != "" {
						return fmt.Errorf("row %d: %s", id+1, why)
					}
				}
				return nil
			})
			for r := range want {
				for i, c := range tb.cols {
					if why := mySameValue(c, got[r][i], want[r][i]); why != "" {
						t.Errorf("%s %s row %d column %s (%s): got %q, want %q: %s", tg, tb.name, r+1, c.name, c.typ, got[r][i], want[r][i], why)
					}
				}
			}
			t.Logf("%s %s: %d columns × %d rows equal to the source", tg, tb.name, len(tb.cols), len(want))
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// myRender renders the columns of rows 1–4 of table on a MariaDB
// connection with expr(c) (default CAST(col AS CHAR)); NULL is "NULL".
func myRender(ctx context.Context, t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, table string, cols []myCol, expr func(myCol) string) [][]string {
	t.Helper()
	var sel []string
	for _, c := range cols {
		sel = append(sel, strings.ReplaceAll(cmpOr(expr(c), "CAST(%s AS CHAR)"), "%s", "`"+c.name+"`"))
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY id", strings.Join(sel, ", "), table))
	if err != nil {
		t.Fatalf("rendering %s: %v", table, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = v.String
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pgRender renders the columns of rows 1–4 of table on PostgreSQL with
// each column's pg expression (default col::text).
func pgRender(ctx context.Context, t *testing.T, conn *pgx.Conn, table string, cols []myCol) [][]string {
	t.Helper()
	var sel []string
	for _, c := range cols {
		sel = append(sel, strings.ReplaceAll(cmpOr(c.pg, "%s::text"), "%s", `"`+c.name+`"`))
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s ORDER BY id", strings.Join(sel, ", "), table))
	if err != nil {
		t.Fatalf("rendering %s: %v", table, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v != nil {
				row[i] = *v
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// mySame returns why two rendered rows differ, or "".
func mySame(cols []myCol, got, want []string) string {
	var diffs []string
	for i, c := range cols {
		if why := mySameValue(c, got[i], want[i]); why != "" {
			diffs = append(diffs, fmt.Sprintf("%s %q, want %q (%s)", c.name, got[i], want[i], why))
		}
	}
	return strings.Join(diffs, "; ")
}

// mySameValue compares one rendered value as c.cmp says: "bool" true/1
// and false/0 alike, "bits" the target's little-endian hex (Debezium's
// Bits) against the source's number, the others as rtSame.
func mySameValue(c myCol, got, want string) string {
	if got == want {
		return ""
	}
	if got == "NULL" || want == "NULL" {
		return "null on one side only"
	}
	switch c.cmp {
	case "bool":
		norm := func(s string) string {
			switch strings.ToLower(s) {
			case "1", "t", "true":
				return "1"
			case "0", "f", "false":
				return "0"
			}
			return s
		}
		if norm(got) == norm(want) {
			return ""
		}
	case "bits":
		b, err := hex.DecodeString(got)
		if err != nil {
			return "not hex"
		}
		slices.Reverse(b) // little-endian
		if new(big.Int).SetBytes(b).String() == want {
			return ""
		}
	default:
		if rtSame(c.cmp)(want, got) {
			return ""
		}
	}
	return "differs"
}
