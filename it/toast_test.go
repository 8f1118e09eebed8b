package it

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// toastCol is a column of the TOAST test and an SQL expression of a
// value of it larger than 2 kB and not compressible (random md5s; the
// columns are STORAGE EXTERNAL, so the value is moved out of line
// uncompressed).
type toastCol struct{ name, typ, big string }

var toastCols = []toastCol{
	{"c_text", "text", "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100))"},
	{"c_bytea", "bytea", "(SELECT decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 200))"},
	{"c_jsonb", "jsonb", "(SELECT jsonb_object_agg(md5(g::text || random()::text), md5(random()::text)) FROM generate_series(1, 60) g)"},
	{"c_hstore", "hstore", "(SELECT hstore(array_agg(md5(g::text || random()::text)), array_agg(md5(random()::text))) FROM generate_series(1, 60) g)"},
	{"c_int_arr", "int[]", "(SELECT array_agg((random() * 2e9 - 1e9)::int) FROM generate_series(1, 1000))"},
	{"c_int2_arr", "int2[]", "(SELECT array_agg((random() * 60000 - 30000)::int2) FROM generate_series(1, 1500))"},
	{"c_int8_arr", "int8[]", "(SELECT array_agg((random() * 9e18)::int8) FROM generate_series(1, 500))"},
	{"c_float_arr", "float8[]", "(SELECT array_agg(random()) FROM generate_series(1, 500))"},
	{"c_num_arr", "numeric(12,4)[]", "(SELECT array_agg(round((random() * 1e7)::numeric, 4)) FROM generate_series(1, 400))"},
	{"c_bool_arr", "bool[]", "(SELECT array_agg(random() < 0.5) FROM generate_series(1, 3000))"},
	{"c_text_arr", "text[]", "(SELECT array_agg(md5(random()::text)) FROM generate_series(1, 100))"},
	{"c_uuid_arr", "uuid[]", "(SELECT array_agg(gen_random_uuid()) FROM generate_series(1, 200))"},
	{"c_date_arr", "date[]", "(SELECT array_agg(date '2000-01-01' + (random() * 10000)::int) FROM generate_series(1, 1000))"},
}

// toastNum is a numeric of about 5,600 digits (2.8 kB): only the
// PostgreSQL targets get it, MariaDB's DECIMAL has 65 digits at most.
var toastNum = toastCol{"c_num", "numeric", "(SELECT ('1' || string_agg(lpad((random() * 1e8)::bigint::text, 8, '0'), ''))::numeric FROM generate_series(1, 700))"}

func toastDDL(table string, cols []toastCol) []string {
	defs := []string{"id int PRIMARY KEY", "n int NOT NULL"}
	var ext []string
	for _, c := range cols {
		defs = append(defs, c.name+" "+c.typ)
		ext = append(ext, "ALTER COLUMN "+c.name+" SET STORAGE EXTERNAL")
	}
	return []string{"CREATE TABLE " + table + " (" + strings.Join(defs, ", ") + ")",
		"ALTER TABLE " + table + " " + strings.Join(ext, ", ")}
}

func toastInsert(table string, cols []toastCol, id int) string {
	names, vals := []string{"id", "n"}, []string{fmt.Sprint(id), "0"}
	for _, c := range cols {
		names = append(names, c.name)
		vals = append(vals, c.big)
	}
	return "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
}

// TestUnchangedToastKeptInTargets: PostgreSQL → Kafka → JDBC sinks into
// PostgreSQL (by statements and by COPY) and MariaDB. Rows hold TOASTed
// values of every type family (arrays of several element types, numeric,
// hstore, jsonb, bytea, text); an UPDATE of another column leaves them
// out of the WAL. The event names each of them in its
// __sluice.unavailable headers, and every target keeps the stored values
// (before the fix the non-string ones were emitted as null and written
// as NULL).
func TestUnchangedToastKeptInTargets(t *testing.T) {
	t.Parallel()
	src := harness.StartPostgres(t, harness.PostgresOptions{})
	dst := harness.StartPostgres(t, harness.PostgresOptions{})
	my := harness.StartMariaDB(t, harness.MariaDBOptions{})
	br := harness.StartBroker(t)

	db := src.CreateDB(t, "toast")
	src.Exec(t, db, "CREATE EXTENSION hstore")
	tables := map[string][]toastCol{"toast_all": toastCols, "toast_num": {toastNum}}
	for name, cols := range tables {
		src.Exec(t, db, toastDDL(name, cols)...)
		// Row 1 reaches the targets by the snapshot, row 2 streamed.
		src.Exec(t, db, toastInsert(name, cols, 1))
	}
	pgStmt, pgCopy := dst.CreateDB(t, "stmt"), dst.CreateDB(t, "copy")
	myTarget := my.CreateDB(t, "toast")

	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(w.Log(), 6000))
		}
	})
	prefix := "toast" + sfx
	sink := func(name, url, user, topics string, extra ...string) {
		create(t, w, name, upsertSink(url, user, topics, append([]string{"auto.create", "true"}, extra...)...))
	}
	sink("toast-pg", dst.JDBCURL(pgStmt), dst.User, prefix+`\.public\.toast_.*`)
	sink("toast-pg-copy", dst.JDBCURL(pgCopy), dst.User, prefix+`\.public\.toast_.*`, "sluice.copy.threshold", "1")
	sink("toast-mariadb", my.JDBCURL(myTarget), "root", prefix+`\.public\.toast_all`)
	create(t, w, "toast-source", pgSourceConfig(src, db, prefix, "sluice_toast", map[string]string{
		"table.include.list": `public\.toast_.*`,
	}))
	names := []string{"toast-source", "toast-pg", "toast-pg-copy", "toast-mariadb"}
	for _, n := range names {
		waitState(t, w, n, "RUNNING", 1, "RUNNING")
	}
	for name, cols := range tables {
		src.Exec(t, db, toastInsert(name, cols, 2))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type target struct {
		name   string
		tables []string
		read   func(table, col string, id int) (string, error) // md5 of the value's text; "NULL"
		n      func(table string, id int) (int, error)
	}
	pgTarget := func(name string, conn *pgx.Conn) target {
		return target{name: name, tables: []string{"toast_all", "toast_num"},
			read: func(table, col string, id int) (string, error) {
				var s *string
				err := conn.QueryRow(ctx, fmt.Sprintf("SELECT md5(%s::text) FROM %s WHERE id = $1", col, table), id).Scan(&s)
				if s == nil {
					return "NULL", err
				}
				return *s, err
			},
			n: func(table string, id int) (int, error) {
				var n int
				err := conn.QueryRow(ctx, "SELECT n FROM "+table+" WHERE id = $1", id).Scan(&n)
				return n, err
			}}
	}
	myDB := my.Open(t, myTarget)
	targets := []target{
		pgTarget("postgres", dst.Connect(t, pgStmt)),
		pgTarget("postgres (COPY)", dst.Connect(t, pgCopy)),
		{name: "mariadb", tables: []string{"toast_all"},
			read: func(table, col string, id int) (string, error) {
				var s sql.NullString
				err := myDB.QueryRowContext(ctx, fmt.Sprintf("SELECT MD5(%s) FROM %s WHERE id = ?", col, table), id).Scan(&s)
				if !s.Valid {
					return "NULL", err
				}
				return s.String, err
			},
			n: func(table string, id int) (int, error) {
				var n int
				err := myDB.QueryRowContext(ctx, "SELECT n FROM "+table+" WHERE id = ?", id).Scan(&n)
				return n, err
			}},
	}
	// stored is what each target holds per table, column and row.
	stored := map[string]string{}
	waitN := func(want int) {
		harness.WaitFor(t, 3*time.Minute, fmt.Sprintf("n = %d in every target row", want), func() error {
			if err := failedTask(t, w, names...); err != nil {
				t.Fatal(err)
			}
			for _, tg := range targets {
				for _, tb := range tg.tables {
					for id := 1; id <= 2; id++ {
						n, err := tg.n(tb, id)
						if err != nil || n != want {
							return fmt.Errorf("%s %s id %d: n %d (%v)", tg.name, tb, id, n, err)
						}
					}
				}
			}
			return nil
		})
	}
	waitN(0)
	for _, tg := range targets {
		for _, tb := range tg.tables {
			for _, c := range tables[tb] {
				for id := 1; id <= 2; id++ {
					v, err := tg.read(tb, c.name, id)
					if err != nil || v == "NULL" {
						t.Fatalf("%s %s.%s id %d before the update: %s (%v)", tg.name, tb, c.name, id, v, err)
					}
					stored[fmt.Sprint(tg.name, tb, c.name, id)] = v
				}
			}
		}
	}

	// Only n changes: the TOASTed values are not in the WAL.
	for name := range tables {
		src.Exec(t, db, "UPDATE "+name+" SET n = n + 1")
	}
	waitN(1)
	for _, tg := range targets {
		for _, tb := range tg.tables {
			for _, c := range tables[tb] {
				for id := 1; id <= 2; id++ {
					v, err := tg.read(tb, c.name, id)
					if err != nil {
						t.Fatal(err)
					}
					if want := stored[fmt.Sprint(tg.name, tb, c.name, id)]; v != want {
						t.Errorf("%s %s.%s id %d after updating n: md5 %s, was %s: the stored value was overwritten", tg.name, tb, c.name, id, v, want)
					}
				}
			}
		}
	}

	// The update events name every TOASTed column as unavailable, so the
	// test did exercise unchanged TOAST values of each type.
	cl := br.Client(t, kgo.ConsumeTopics(prefix+".public.toast_all", prefix+".public.toast_num"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	missing := map[string]bool{}
	for name, cols := range tables {
		for _, c := range cols {
			missing[name+"."+c.name] = true
		}
	}
	harness.WaitFor(t, 60*time.Second, "update events naming every TOASTed column", func() error {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		defer pcancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			table := r.Topic[strings.LastIndexByte(r.Topic, '.')+1:]
			for _, h := range r.Headers {
				if h.Key == "__sluice.unavailable" {
					delete(missing, table+"."+string(h.Value))
				}
			}
		})
		if len(missing) > 0 {
			var m []string
			for k := range missing {
				m = append(m, k)
			}
			sort.Strings(m)
			return fmt.Errorf("no __sluice.unavailable header yet for %v", m)
		}
		return nil
	})
}
