package jdbc

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
	"github.com/sluice-cdc/sluice/it/harness"
)

// target is one database server the integration tests write to.
type target struct {
	name  string
	newDB func(t *testing.T) string
	url   func(db string) string
	user  string
	// query returns the rows of a query as "a|b|c" strings, NULL for null.
	query   func(t *testing.T, db, q string) []string
	restart func(t *testing.T)
	// crash kills the server (kill -9) and starts it again.
	crash func(t *testing.T)
	exec  func(t *testing.T, db string, sqls ...string)
}

func pgTarget(t *testing.T) *target {
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	return &target{
		name:  "postgres",
		newDB: func(t *testing.T) string { return pg.CreateDB(t, "sink") },
		url:   pg.JDBCURL,
		user:  pg.User,
		query: func(t *testing.T, db, q string) []string {
			t.Helper()
			c := pg.Connect(t, db)
			rows, err := c.Query(context.Background(), q, pgx.QueryResultFormats{pgx.TextFormatCode})
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var parts []string
				for _, v := range rows.RawValues() {
					if v == nil {
						parts = append(parts, "NULL")
					} else {
						parts = append(parts, string(v))
					}
				}
				out = append(out, strings.Join(parts, "|"))
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return out
		},
		restart: func(t *testing.T) { pg.Restart(t, false) },
		crash:   func(t *testing.T) { pg.Restart(t, true) },
		exec:    func(t *testing.T, db string, sqls ...string) { pg.Exec(t, db, sqls...) },
	}
}

func mariaTarget(t *testing.T) *target {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{NoBinlog: true})
	return &target{
		name:    "mariadb",
		newDB:   func(t *testing.T) string { return m.CreateDB(t, "sink") },
		url:     m.JDBCURL,
		user:    m.User,
		query:   func(t *testing.T, db, q string) []string { t.Helper(); return sqlRows(t, m.Open(t, db), q) },
		restart: func(t *testing.T) { m.Restart(t, false) },
		crash:   func(t *testing.T) { m.Restart(t, true) },
		exec:    func(t *testing.T, db string, sqls ...string) { m.Exec(t, db, sqls...) },
	}
}

func TestPostgres(t *testing.T) { runSuite(t, pgTarget(t)) }

func TestMariaDB(t *testing.T) { runSuite(t, mariaTarget(t)) }

func runSuite(t *testing.T, tg *target) {
	t.Run("changes", func(t *testing.T) { testChanges(t, tg) })
	t.Run("pk change", func(t *testing.T) { testPKChange(t, tg) })
	t.Run("placeholder", func(t *testing.T) { testPlaceholder(t, tg) })
	t.Run("types", func(t *testing.T) { testTypes(t, tg, "1000") })
	t.Run("iso strings", func(t *testing.T) { testIsoStrings(t, tg, "1000") })
	if tg.name == "postgres" {
		t.Run("types copy", func(t *testing.T) { testTypes(t, tg, "1") })
		t.Run("iso strings copy", func(t *testing.T) { testIsoStrings(t, tg, "1") })
		t.Run("large batch copy", func(t *testing.T) { testLarge(t, tg) })
	}
	t.Run("evolve", func(t *testing.T) { testEvolve(t, tg) })
	t.Run("fillfactor", func(t *testing.T) { testFillFactor(t, tg) })
	if tg.name == "postgres" {
		t.Run("quoting", func(t *testing.T) { testQuoting(t, tg) })
		t.Run("no-op replay", func(t *testing.T) { testNoopReplay(t, tg) })
		t.Run("rejected value copy", func(t *testing.T) { testRejectedCopy(t, tg) })
	}
	t.Run("incompatible", func(t *testing.T) { testIncompatible(t, tg) })
	t.Run("replay", func(t *testing.T) { testReplay(t, tg) })
	t.Run("flat and modes", func(t *testing.T) { testFlatModes(t, tg) })
	t.Run("missing key", func(t *testing.T) { testMissingKey(t, tg) })
	t.Run("rejected value", func(t *testing.T) { testRejected(t, tg) })
	t.Run("validate", func(t *testing.T) { testValidate(t, tg) })
	t.Run("restart", func(t *testing.T) { testRestart(t, tg) })
	if tg.name == "mariadb" {
		t.Run("packet split", func(t *testing.T) { testPacketSplit(t, tg) })
	}
	t.Run("lost partition", func(t *testing.T) { testLostPartition(t, tg) })
	t.Run("crash mid-run", func(t *testing.T) { testCrash(t, tg) })
	t.Run("stop during retries", func(t *testing.T) { testStopDuringRetries(t, tg) })
	t.Run("traces", func(t *testing.T) { testTraces(t, tg) })
}

// logCtx is a task context whose logger keeps every line, debug included.
type logCtx struct {
	testCtx
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCtx) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCtx) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (c *logCtx) lines() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// testTraces: the sink names the trace ids (traceparent headers) of the
// records of each batch it writes in its log lines.
func testTraces(t *testing.T, tg *target) {
	db := tg.newDB(t)
	lc := &logCtx{testCtx: testCtx{t: t}}
	task := startTaskCtx(t, tg, db, lc)
	g := newGen("srv.public.items")
	tpA, tpB := tracectx.Parent("srv", "771:100"), tracectx.Parent("srv", "772:200")
	idA, _ := tracectx.TraceID(tpA)
	idB, _ := tracectx.TraceID(tpB)
	a1, a2, b1, none := g.upsert(1, "a", 1), g.upsert(2, "a", 2), g.upsert(3, "b", 3), g.upsert(4, "n", 4)
	a1.Headers = []connectors.Header{{Key: tracectx.Header, Value: tpA}}
	a2.Headers = []connectors.Header{{Key: "x", Value: []byte("y")}, {Key: tracectx.Header, Value: tpA}}
	b1.Headers = []connectors.Header{{Key: tracectx.Header, Value: tpB}}
	write(t, task, a1, a2, none, b1)
	var wrote string
	for _, l := range strings.Split(lc.lines(), "\n") {
		if strings.Contains(l, `msg="wrote batch"`) {
			wrote = l
		}
	}
	if want := fmt.Sprintf("trace_ids=\"[%s %s]\"", idA, idB); !strings.Contains(wrote, want) {
		t.Errorf("log line of the batch %q does not name %s", wrote, want)
	}

}

// startTask starts a sink task on db with upserts, deletes, truncates and
// schema evolution on, plus kv overrides.
func startTask(t *testing.T, tg *target, db string, kv ...string) *Task {
	t.Helper()
	return startTaskCtx(t, tg, db, &testCtx{t: t}, kv...)
}

// testCtx is the task context of the tests: it logs to the test's output
// and, when tolerate is set, takes errant records as errors.tolerance=all
// does.
type testCtx struct {
	t        *testing.T
	tolerate bool
	mu       sync.Mutex
	errant   []int64
}

func (c *testCtx) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(c.t.Output(), nil)) }

func (c *testCtx) Errant(_ context.Context, r *connectors.Record, err error) error {
	if !c.tolerate {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errant = append(c.errant, r.Offset)
	return nil
}

func startTaskCtx(t *testing.T, tg *target, db string, tctx connectors.SinkTaskContext, kv ...string) *Task {
	t.Helper()
	props := map[string]string{
		"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
		ConnectionURL:     tg.url(db), ConnectionUsername: tg.user, Topics: "srv.public.items",
		InsertMode: "upsert", PrimaryKeyMode: "record_key", DeleteEnabled: "true", TruncateEnabled: "true",
		SchemaEvolution: "basic", RetryBackoffMs: "100", MaxRetries: "30",
	}
	for i := 0; i < len(kv); i += 2 {
		props[kv[i]] = kv[i+1]
		// Confluent's alias given: drop the Debezium name so it counts.
		if k, ok := def.Key(kv[i]); ok && k.Name != kv[i] {
			delete(props, k.Name)
		}
	}
	task := NewTask()
	if err := task.Start(context.Background(), tctx, props); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := task.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return task
}

// write puts records and flushes, checking the returned offsets.
func write(t *testing.T, task *Task, recs ...*connectors.Record) {
	t.Helper()
	if err := writeErr(task, recs...); err != nil {
		t.Fatal(err)
	}
}

func writeErr(task *Task, recs ...*connectors.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := task.Put(ctx, recs); err != nil {
		return err
	}
	cur := map[connectors.TopicPartition]int64{}
	for _, r := range recs {
		cur[connectors.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.Offset + 1
	}
	got, err := task.Flush(ctx, cur)
	if err != nil {
		return err
	}
	for tp, o := range cur {
		if got[tp] != o {
			return fmt.Errorf("Flush offsets %v, want %v", got, cur)
		}
	}
	return nil
}

// dump returns the rows of query as "a|b|c" strings.
func dump(t *testing.T, tg *target, db, query string) []string {
	t.Helper()
	return tg.query(t, db, query)
}

func sqlRows(t *testing.T, d *sql.DB, query string) []string {
	t.Helper()
	rows, err := d.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			if v.Valid {
				parts[i] = v.String
			} else {
				parts[i] = "NULL"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantRows(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const items = "SELECT id, name, qty FROM srv_public_items ORDER BY id"

func testChanges(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "one", 1), g.upsert(2, "two", 2), g.upsert(3, "three", 3), g.upsert(4, "four", nil))
	wantRows(t, dump(t, tg, db, items), "1|one|1", "2|two|2", "3|three|3", "4|four|NULL")
	write(t, task,
		g.upsert(1, "uno", 11), // update
		g.del(2), g.tomb(2),    // delete + tombstone
		g.del(3), g.tomb(3), g.upsert(3, "tres", 33), // delete and re-insert in one batch
		g.upsert(5, "five", 5), g.del(5), g.tomb(5), // insert then delete in one batch
		g.tomb(4), // a lone tombstone deletes (flat-record deletes)
	)
	wantRows(t, dump(t, tg, db, items), "1|uno|11", "3|tres|33")
	// Truncate, then rows after it in the same batch.
	write(t, task, g.upsert(6, "six", 6), g.truncate(), g.upsert(7, "seven", 7))
	wantRows(t, dump(t, tg, db, items), "7|seven|7")
	// Deletes disabled: d and tombstones are skipped, offsets still advance.
	task2 := startTask(t, tg, db, DeleteEnabled, "false")
	write(t, task2, g.del(7), g.tomb(7))
	wantRows(t, dump(t, tg, db, items), "7|seven|7")
}

func testPKChange(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "a", 1), g.upsert(2, "b", 2))
	// Debezium's PK update: delete old key, tombstone, create new key.
	write(t, task, g.del(1), g.tomb(1), g.upsert(10, "a", 1))
	wantRows(t, dump(t, tg, db, items), "2|b|2", "10|a|1")
	// A table of key columns only upserts too (twice: idempotent).
	kg := newGenWith("srv.public.keys", g.key, connectors.NewStruct("srv.public.keys.Value", true, connectors.Opt("id", connectors.Int64Schema)))
	tk := startTask(t, tg, db, Topics, "srv.public.keys")
	only := kg.create(connectors.NewStructValue(kg.row).Set("id", int64(5)))
	write(t, tk, only, only)
	write(t, tk, only)
	wantRows(t, dump(t, tg, db, "SELECT id FROM srv_public_keys"), "5")
	// Across batches too.
	write(t, task, g.del(2), g.tomb(2))
	write(t, task, g.upsert(20, "b", 2))
	wantRows(t, dump(t, tg, db, items), "10|a|1", "20|b|2")
}

func testPlaceholder(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	long := strings.Repeat("toast", 1000)
	write(t, task, g.upsert(1, long, 1), g.upsert(2, long, 2), g.upsert(3, "x", 3))
	// Unchanged TOAST column: name holds the placeholder, qty changes.
	// Row 3 changes name and qty normally in the same batch (different
	// column set, different statement).
	write(t, task, g.upsert(1, DefaultPlaceholder, 10), g.upsert(3, "y", 30))
	// Placeholder in a row first inserted in the same batch: taken from there.
	write(t, task, g.upsert(4, "fresh", 4), g.upsert(4, DefaultPlaceholder, 40))
	got := dump(t, tg, db, "SELECT id, length(name), qty FROM srv_public_items ORDER BY id")
	wantRows(t, got, "1|5000|10", "2|5000|2", "3|1|30", "4|5|40")
	wantRows(t, dump(t, tg, db, "SELECT count(*) FROM srv_public_items WHERE name = '"+DefaultPlaceholder+"'"), "0")

	// A bytes column with the placeholder's bytes.
	key := connectors.NewStruct("srv.public.blobs.Key", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct("srv.public.blobs.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("data", connectors.OptionalBytesSchema), connectors.Opt("v", connectors.OptionalInt32Schema))
	bg := newGenWith("srv.public.blobs", key, row)
	task2 := startTask(t, tg, db, Topics, "srv.public.blobs")
	write(t, task2, bg.create(connectors.NewStructValue(row).Set("id", int64(1)).Set("data", []byte{1, 2, 3}).Set("v", int32(1))))
	write(t, task2, bg.create(connectors.NewStructValue(row).Set("id", int64(1)).Set("data", []byte(DefaultPlaceholder)).Set("v", int32(2))))
	wantRows(t, dump(t, tg, db, "SELECT id, length(data), v FROM srv_public_blobs"), "1|3|2")
}

// typesSchema has a field of every type the sink maps.
func typesSchema(topic string) (*connectors.Schema, *connectors.Schema) {
	sch := func(t connectors.Type, name string, params ...string) *connectors.Schema {
		s := &connectors.Schema{Type: t, Name: name, Optional: true}
		if len(params) > 0 {
			s.Parameters = map[string]string{}
			for i := 0; i < len(params); i += 2 {
				s.Parameters[params[i]] = params[i+1]
			}
		}
		return s
	}
	vsd := connectors.NewStruct(cdc.VariableScaleDecimalName, true, connectors.Opt("scale", connectors.Int32Schema), connectors.Opt("value", connectors.BytesSchema))
	dec := connectors.DecimalSchema(3, true)
	dec.Parameters[cdc.DecimalPrecisionParam] = "12"
	key := connectors.NewStruct(topic+".Key", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct(topic+".Value", true,
		connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("i8", sch(connectors.Int8, "")),
		connectors.Opt("i16", sch(connectors.Int16, "")),
		connectors.Opt("i32", sch(connectors.Int32, "")),
		connectors.Opt("i64", sch(connectors.Int64, "")),
		connectors.Opt("f32", sch(connectors.Float32, "")),
		connectors.Opt("f64", sch(connectors.Float64, "")),
		connectors.Opt("b", sch(connectors.Boolean, "")),
		connectors.Opt("s", sch(connectors.String, "")),
		connectors.Opt("vc", sch(connectors.String, "", cdc.SourceColumnLengthParam, "20")),
		connectors.Opt("by", sch(connectors.Bytes, "")),
		connectors.Opt("dec", dec),
		connectors.Opt("vdec", vsd),
		connectors.Opt("d", sch(connectors.Int32, cdc.DateName)),
		connectors.Opt("t", sch(connectors.Int64, cdc.MicroTimeName)),
		connectors.Opt("ts", sch(connectors.Int64, cdc.MicroTimestampName)),
		connectors.Opt("tsm", sch(connectors.Int64, cdc.TimestampName)),
		connectors.Opt("tz", sch(connectors.String, cdc.ZonedTimestampName)),
		connectors.Opt("j", sch(connectors.String, cdc.JSONName)),
		connectors.Opt("u", sch(connectors.String, cdc.UUIDName)),
		connectors.Opt("cd", &connectors.Schema{Type: connectors.Int32, Name: connectors.DateName, Optional: true}),
		connectors.Opt("cts", &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName, Optional: true}),
		connectors.Opt("arr", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.Int32Schema}),
		connectors.Opt("tt", sch(connectors.String, cdc.ZonedTimeName)),
		connectors.Opt("sarr", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.OptionalStringSchema}),
		connectors.Opt("yr", sch(connectors.Int32, "io.debezium.time.Year")),
	)
	return key, row
}

func testTypes(t *testing.T, tg *target, copyThreshold string) {
	db := tg.newDB(t)
	const topic = "srv.public.types"
	key, row := typesSchema(topic)
	g := newGenWith(topic, key, row)
	task := startTask(t, tg, db, Topics, topic, CopyThreshold, copyThreshold)
	vsd := connectors.NewStructValue(row.Fields[12].Schema).Set("scale", int32(4)).Set("value", big.NewInt(-1234567).Bytes())
	vsd.Set("value", []byte{0xed, 0x29, 0x79}) // -1234567
	full := connectors.NewStructValue(row).Set("id", int64(1)).Set("i8", int8(-8)).Set("i16", int16(-16)).Set("i32", int32(-32)).
		Set("i64", int64(-1)<<40).Set("f32", float32(1.5)).Set("f64", 2.25).Set("b", true).Set("s", "héllo 'q' \\ \"x\"").
		Set("vc", "short").Set("by", []byte{0, 1, 0xfe, 0xff}).
		Set("dec", connectors.Decimal{Unscaled: big.NewInt(-123456789), Scale: 3}).Set("vdec", vsd).
		Set("d", int32(19000)).Set("t", int64(45296_123456)).Set("ts", int64(1_700_000_000_123456)).Set("tsm", int64(1_700_000_000_123)).
		Set("tz", "2024-05-01T10:00:00.25+02:00").Set("j", `{"a": [1, 2]}`).Set("u", "8f14e45f-ceea-467f-a0f2-1d3c2a5b6c7d").
		Set("cd", time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)).Set("cts", time.Date(2021, 3, 4, 5, 6, 7, 8e6, time.UTC)).
		Set("arr", []any{int32(1), int32(2), int32(3)}).Set("tt", "10:15:30.5Z").Set("sarr", []any{"a", nil, "c,d"}).Set("yr", int32(2024))
	nulls := connectors.NewStructValue(row).Set("id", int64(2))
	write(t, task, g.create(full), g.create(nulls))
	var q string
	var want []string
	if tg.name == "postgres" {
		q = `SELECT id, i8, i16, i32, i64, f32, f64, b, s, vc, encode("by", 'hex'), "dec", vdec, d, t, ts, tsm,
			tz AT TIME ZONE 'UTC', j::text, u, cd, cts, arr, tt, sarr, yr FROM srv_public_types ORDER BY id`
		want = []string{
			`1|-8|-16|-32|-1099511627776|1.5|2.25|t|héllo 'q' \ "x"|short|0001feff|-123456.789|-123.4567|2022-01-08|12:34:56.123456|2023-11-14 22:13:20.123456|2023-11-14 22:13:20.123|2024-05-01 08:00:00.25|{"a": [1, 2]}|8f14e45f-ceea-467f-a0f2-1d3c2a5b6c7d|2020-02-29|2021-03-04 05:06:07.008|{1,2,3}|10:15:30.5+00|{a,NULL,"c,d"}|2024`,
			`2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL`,
		}
	} else {
		q = `SELECT id, i8, i16, i32, i64, f32, f64, b, s, vc, hex(` + "`by`" + `), ` + "`dec`" + `, vdec, d, t, ts, tsm, tz, j, u, cd, cts, arr, tt, sarr, yr
			FROM srv_public_types ORDER BY id`
		want = []string{
			`1|-8|-16|-32|-1099511627776|1.5|2.25|1|héllo 'q' \ "x"|short|0001FEFF|-123456.789|-123.456700000000000000000000000000|2022-01-08T00:00:00Z|12:34:56.123456|2023-11-14T22:13:20.123456Z|2023-11-14T22:13:20.123Z|2024-05-01T08:00:00.25Z|{"a": [1, 2]}|8f14e45f-ceea-467f-a0f2-1d3c2a5b6c7d|2020-02-29T00:00:00Z|2021-03-04T05:06:07.008Z|[1,2,3]|10:15:30.500000|["a",null,"c,d"]|2024`,
			`2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL`,
		}
	}
	wantRows(t, dump(t, tg, db, q), want...)
	// Writing the same rows again (now an update) changes nothing.
	write(t, task, g.create(full), g.create(nulls))
	wantRows(t, dump(t, tg, db, q), want...)
}

// testIsoStrings writes Debezium's string temporal types
// (time.precision.mode=isostring, interval.handling.mode=string) into
// auto-created columns and reads them back.
func testIsoStrings(t *testing.T, tg *target, copyThreshold string) {
	db := tg.newDB(t)
	const topic = "srv.public.iso"
	str := func(name string) *connectors.Schema {
		return &connectors.Schema{Type: connectors.String, Name: name, Optional: true}
	}
	key := connectors.NewStruct(topic+".Key", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct(topic+".Value", true,
		connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("d", str(cdc.IsoDateName)),
		connectors.Opt("t", str(cdc.IsoTimeName)),
		connectors.Opt("ts", str(cdc.IsoTimestampName)),
		connectors.Opt("iv", str(cdc.IntervalName)),
		connectors.Opt("ivs", &connectors.Schema{Type: connectors.Array, Optional: true, Items: str(cdc.IntervalName)}),
	)
	g := newGenWith(topic, key, row)
	task := startTask(t, tg, db, Topics, topic, CopyThreshold, copyThreshold)
	recs := []*connectors.Record{
		g.create(connectors.NewStructValue(row).Set("id", int64(1)).Set("d", "2023-11-21Z").Set("t", "10:15:30.123456789Z").
			Set("ts", "2023-11-21T18:29:26.5Z").Set("iv", "P1Y2M3DT4H5M6.78S").Set("ivs", []any{"P0Y0M1DT0H0M0S", nil})),
		g.create(connectors.NewStructValue(row).Set("id", int64(2)).Set("d", "1970-01-01Z").Set("t", "01:00:00+02:00").
			Set("ts", "2024-02-29T01:00:00+02:00").Set("iv", "P0Y0M-3DT-4H0M-0.5S").Set("ivs", []any{})),
		g.create(connectors.NewStructValue(row).Set("id", int64(3))),
	}
	write(t, task, recs...)
	var q string
	var want []string
	if tg.name == "postgres" {
		q = `SELECT id, d, t, ts, iv, ivs, format_type(atttypid, atttypmod) FROM srv_public_iso
			JOIN pg_attribute ON attrelid = 'srv_public_iso'::regclass AND attname = 'ts' ORDER BY id`
		want = []string{
			`1|2023-11-21|10:15:30.123456|2023-11-21 18:29:26.5|1 year 2 mons 3 days 04:05:06.78|{"1 day",NULL}|timestamp(6) without time zone`,
			`2|1970-01-01|23:00:00|2024-02-28 23:00:00|-3 days -04:00:00.5|{}|timestamp(6) without time zone`,
			`3|NULL|NULL|NULL|NULL|NULL|timestamp(6) without time zone`,
		}
	} else {
		q = `SELECT id, d, t, ts, iv, ivs FROM srv_public_iso ORDER BY id`
		want = []string{
			`1|2023-11-21T00:00:00Z|10:15:30.123456|2023-11-21T18:29:26.5Z|P1Y2M3DT4H5M6.78S|["P0Y0M1DT0H0M0S",null]`,
			`2|1970-01-01T00:00:00Z|23:00:00.000000|2024-02-28T23:00:00Z|P0Y0M-3DT-4H0M-0.5S|[]`,
			`3|NULL|NULL|NULL|NULL|NULL`,
		}
	}
	wantRows(t, dump(t, tg, db, q), want...)
	// The same values again change nothing; a changed one is written.
	write(t, task, recs...)
	wantRows(t, dump(t, tg, db, q), want...)
	recs[1].Value.(*connectors.StructValue).Get("after").(*connectors.StructValue).Set("iv", "P0Y0M0DT-76H0M-0.5S")
	write(t, task, recs...)
	got := dump(t, tg, db, "SELECT iv FROM srv_public_iso WHERE id = 2")
	if tg.name == "postgres" {
		wantRows(t, got, "-76:00:00.5")
	} else {
		wantRows(t, got, "P0Y0M0DT-76H0M-0.5S")
	}
	// Text columns (a table made before the sink knew these types) keep
	// getting the strings as Debezium wrote them.
	tg.exec(t, db, "CREATE TABLE srv_public_isotext (id bigint NOT NULL PRIMARY KEY, d text, t varchar(40), ts text)")
	const textTopic = "srv.public.isotext"
	trow := connectors.NewStruct(textTopic+".Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("d", str(cdc.IsoDateName)), connectors.Opt("t", str(cdc.IsoTimeName)), connectors.Opt("ts", str(cdc.IsoTimestampName)))
	gt := newGenWith(textTopic, key, trow)
	tt := startTask(t, tg, db, Topics, textTopic, CopyThreshold, copyThreshold)
	write(t, tt, gt.create(connectors.NewStructValue(trow).Set("id", int64(1)).Set("d", "2023-11-21Z").Set("t", "10:15:30.123456789Z").
		Set("ts", "2023-11-21T18:29:26.5Z")), gt.create(connectors.NewStructValue(trow).Set("id", int64(2))))
	wantRows(t, dump(t, tg, db, "SELECT id, d, t, ts FROM srv_public_isotext ORDER BY id"),
		"1|2023-11-21Z|10:15:30.123456789Z|2023-11-21T18:29:26.5Z", "2|NULL|NULL|NULL")
}

func testLarge(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db, CopyThreshold, "100", BatchSize, "100000")
	g := newGen("srv.public.items")
	var recs []*connectors.Record
	for i := range 3000 {
		recs = append(recs, g.upsert(int64(i), fmt.Sprint("n", i), i))
	}
	write(t, task, recs...)
	recs = recs[:0]
	for i := range 1000 {
		recs = append(recs, g.del(int64(i)), g.tomb(int64(i)))
	}
	for i := 1000; i < 2000; i++ {
		recs = append(recs, g.upsert(int64(i), DefaultPlaceholder, -i))
	}
	write(t, task, recs...)
	wantRows(t, dump(t, tg, db, "SELECT count(*), min(id), sum(qty), count(*) FILTER (WHERE name = 'n' || id) FROM srv_public_items"),
		fmt.Sprintf("2000|1000|%d|2000", -sum(1000, 2000)+sum(2000, 3000)))
}

func sum(a, b int) int {
	s := 0
	for i := a; i < b; i++ {
		s += i
	}
	return s
}

// testFillFactor: sluice.table.fillfactor sets the fillfactor of tables
// the sink creates on PostgreSQL, and is refused for MySQL and MariaDB.
func testFillFactor(t *testing.T, tg *target) {
	db := tg.newDB(t)
	if tg.name != "postgres" {
		_, err := ParseConfig(map[string]string{ConnectionURL: tg.url(db), Topics: "x", TableFillFactor: "50"})
		if err == nil || !strings.Contains(err.Error(), TableFillFactor) {
			t.Fatalf("fillfactor 50 on %s: %v, want an error naming %s", tg.name, err, TableFillFactor)
		}
		return
	}
	task := startTask(t, tg, db, TableFillFactor, "50")
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "a", 1))
	wantRows(t, dump(t, tg, db, "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'srv_public_items'"), "fillfactor=50")
	write(t, task, g.upsert(1, "b", 2))
	wantRows(t, dump(t, tg, db, "SELECT id, name, qty FROM srv_public_items"), "1|b|2")
	if _, err := ParseConfig(map[string]string{ConnectionURL: tg.url(db), Topics: "x", TableFillFactor: "5"}); err == nil {
		t.Fatal("fillfactor 5 accepted")
	}
}

func testEvolve(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "a", 1))
	// The source table got a new optional column mid-stream: new value
	// schema, same topic, in the same batch as old-shape events.
	row2 := connectors.NewStruct("srv.public.items.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("name", connectors.OptionalStringSchema), connectors.Opt("qty", connectors.OptionalInt32Schema),
		connectors.Opt("note", connectors.OptionalStringSchema))
	g2 := newGenWith("srv.public.items", g.key, row2)
	g2.off = g.off
	write(t, task, g.upsert(2, "b", 2), g2.create(connectors.NewStructValue(row2).Set("id", int64(3)).Set("name", "c").Set("note", "new")))
	wantRows(t, dump(t, tg, db, "SELECT id, name, qty, note FROM srv_public_items ORDER BY id"), "1|a|1|NULL", "2|b|2|NULL", "3|c|NULL|new")
	// A widened type: qty int32 → int64 widens the column.
	row3 := connectors.NewStruct("srv.public.items.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("qty", connectors.OptionalInt64Schema))
	g3 := newGenWith("srv.public.items", g.key, row3)
	g3.off = g2.off
	write(t, task, g3.create(connectors.NewStructValue(row3).Set("id", int64(4)).Set("qty", int64(1)<<40)))
	wantRows(t, dump(t, tg, db, "SELECT id, name, qty FROM srv_public_items WHERE id = 4"), "4|NULL|1099511627776")
	// Someone drops a column the task has cached: the write fails, the
	// task reads the table again and adds the column back.
	tg.exec(t, db, "ALTER TABLE srv_public_items DROP COLUMN note")
	write(t, task, g2.create(connectors.NewStructValue(row2).Set("id", int64(6)).Set("name", "f").Set("note", "back")))
	wantRows(t, dump(t, tg, db, "SELECT id, name, note FROM srv_public_items WHERE id >= 3 ORDER BY id"), "3|c|NULL", "4|NULL|NULL", "6|f|back")
	// Widened source columns: varchar(10) → varchar(40), numeric(6,2) →
	// numeric(12,2).
	wideRow := func(n, p int) *connectors.Schema {
		dec := connectors.DecimalSchema(2, true)
		dec.Parameters[cdc.DecimalPrecisionParam] = fmt.Sprint(p)
		return connectors.NewStruct("w.Value", true, connectors.Opt("id", connectors.Int64Schema),
			connectors.Opt("code", &connectors.Schema{Type: connectors.String, Optional: true, Parameters: map[string]string{cdc.SourceColumnLengthParam: fmt.Sprint(n)}}),
			connectors.Opt("amount", dec))
	}
	w1, w2 := wideRow(10, 6), wideRow(40, 12)
	gw := newGenWith("srv.public.wide", g.key, w1)
	tw := startTask(t, tg, db, Topics, "srv.public.wide")
	write(t, tw, gw.create(connectors.NewStructValue(w1).Set("id", int64(1)).Set("code", "short").
		Set("amount", connectors.Decimal{Unscaled: big.NewInt(123456), Scale: 2})))
	gw2 := newGenWith("srv.public.wide", g.key, w2)
	gw2.off = gw.off
	write(t, tw, gw2.create(connectors.NewStructValue(w2).Set("id", int64(2)).Set("code", strings.Repeat("long", 10)).
		Set("amount", connectors.Decimal{Unscaled: big.NewInt(123456789012), Scale: 2})))
	wantRows(t, dump(t, tg, db, "SELECT id, code, amount FROM srv_public_wide ORDER BY id"),
		"1|short|1234.56", "2|"+strings.Repeat("long", 10)+"|1234567890.12")
	// More fractional digits, fewer integer ones: numeric(12,2) and
	// numeric(8,4) need numeric(14,4), which keeps both.
	w3 := connectors.NewStruct("w.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("amount", &connectors.Schema{Type: connectors.Bytes, Name: connectors.DecimalName, Optional: true,
			Parameters: map[string]string{connectors.DecimalScaleParam: "4", cdc.DecimalPrecisionParam: "8"}}))
	gw3 := newGenWith("srv.public.wide", g.key, w3)
	gw3.off = gw2.off
	write(t, tw, gw3.create(connectors.NewStructValue(w3).Set("id", int64(3)).Set("amount", connectors.Decimal{Unscaled: big.NewInt(12345678), Scale: 4})))
	wantRows(t, dump(t, tg, db, "SELECT id, amount FROM srv_public_wide ORDER BY id"), "1|1234.5600", "2|1234567890.1200", "3|1234.5678")
	wantType := "numeric(14,4)"
	typeQuery := "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'srv_public_wide'::regclass AND attname = 'amount'"
	if tg.name == "mariadb" {
		wantType = "decimal(14,4)"
		typeQuery = "SELECT column_type FROM information_schema.columns WHERE table_schema = database() AND table_name = 'srv_public_wide' AND column_name = 'amount'"
	}
	wantRows(t, dump(t, tg, db, typeQuery), wantType)
	// A scale no column type can add to these integer digits is refused,
	// naming table, column and both types.
	w4 := connectors.NewStruct("w.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("amount", &connectors.Schema{Type: connectors.Bytes, Name: connectors.DecimalName, Optional: true,
			Parameters: map[string]string{connectors.DecimalScaleParam: "999", cdc.DecimalPrecisionParam: "1000"}}))
	gw4 := newGenWith("srv.public.wide", g.key, w4)
	gw4.off = gw3.off
	err := writeErr(startTask(t, tg, db, Topics, "srv.public.wide"), gw4.create(connectors.NewStructValue(w4).Set("id", int64(4)).
		Set("amount", connectors.Decimal{Unscaled: big.NewInt(1), Scale: 999})))
	var se *SchemaError
	if !errors.As(err, &se) || se.Table != "srv_public_wide" || se.Column != "amount" || se.Have != wantType || !strings.Contains(se.Want, "(1000,") {
		t.Fatalf("numeric too wide: error %v, want a SchemaError for srv_public_wide.amount naming %s and the record's type", err, wantType)
	}
	// A new required field (a column renamed or added NOT NULL in the
	// source) becomes a nullable column: the rows already there have no
	// value for it. The records lack the other columns, and name, made
	// NOT NULL here, lets the new row hold NULL.
	tg.exec(t, db, "UPDATE srv_public_items SET name = '' WHERE name IS NULL", map[string]string{
		"postgres": "ALTER TABLE srv_public_items ALTER COLUMN name SET NOT NULL",
		"mariadb":  "ALTER TABLE srv_public_items MODIFY COLUMN name longtext NOT NULL"}[tg.name])
	row4 := connectors.NewStruct("srv.public.items.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("must", connectors.StringSchema))
	g4 := newGenWith("srv.public.items", g.key, row4)
	write(t, startTask(t, tg, db), g4.create(connectors.NewStructValue(row4).Set("id", int64(5)).Set("must", "x")))
	wantRows(t, dump(t, tg, db, "SELECT id, name, must FROM srv_public_items WHERE id IN (1, 5) ORDER BY id"), "1|a|NULL", "5|NULL|x")
}

func testIncompatible(t *testing.T, tg *target) {
	db := tg.newDB(t)
	g := newGen("srv.public.items")
	task := startTask(t, tg, db)
	write(t, task, g.upsert(1, "a", 1))
	row := connectors.NewStruct("srv.public.items.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("qty", connectors.OptionalStringSchema))
	g2 := newGenWith("srv.public.items", g.key, row)
	err := writeErr(task, g2.create(connectors.NewStructValue(row).Set("id", int64(2)).Set("qty", "lots")))
	var se *SchemaError
	if !errors.As(err, &se) || se.Column != "qty" || se.Have == "" || se.Want == "" || !strings.Contains(err.Error(), "srv_public_items") {
		t.Fatalf("error %v, want a SchemaError naming table, column qty and both types", err)
	}
	// An upsert into a table without a key on the record's key columns
	// would not be idempotent: refused, naming the table.
	tg.exec(t, db, "CREATE TABLE nokey (id bigint, name text, qty int)")
	err = writeErr(startTask(t, tg, db, Topics, "nokey"), newGen("nokey").upsert(1, "a", 1))
	if !errors.As(err, &se) || se.Table != "nokey" || !strings.Contains(err.Error(), "unique index") {
		t.Fatalf("table without a key: %v", err)
	}
	// Without evolution, a missing table is an error that says what to set.
	err = writeErr(startTask(t, tg, db, SchemaEvolution, "none", Topics, "other"), newGen("other").upsert(1, "a", 1))
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "schema.evolution=basic") {
		t.Fatalf("missing table error %v", err)
	}
}

func testReplay(t *testing.T, tg *target) {
	db := tg.newDB(t)
	g := newGen("srv.public.items")
	batch := []*connectors.Record{g.upsert(1, "a", 1), g.upsert(2, "b", 2), g.del(1), g.tomb(1), g.upsert(3, "c", 3),
		g.upsert(2, DefaultPlaceholder, 20), g.upsert(1, "again", 4)}
	task := startTask(t, tg, db)
	write(t, task, batch...)
	first := dump(t, tg, db, items)
	wantRows(t, first, "1|again|4", "2|b|20", "3|c|3")
	// A restarted task gets the same batch again (offsets not committed).
	write(t, startTask(t, tg, db), batch...)
	wantRows(t, dump(t, tg, db, items), first...)
}

func testFlatModes(t *testing.T, tg *target) {
	db := tg.newDB(t)
	row := connectors.NewStruct("flat.Value", false, connectors.Opt("sku", connectors.StringSchema),
		connectors.Opt("price", connectors.OptionalInt64Schema))
	flat := func(off int64, key any, sku string, price int64) *connectors.Record {
		return &connectors.Record{Topic: "flat", Offset: off, Key: key, Value: connectors.NewStructValue(row).Set("sku", sku).Set("price", price), ValueSchema: row}
	}
	// record_value with Confluent's names, writing a dotted table name.
	task := startTask(t, tg, db, Topics, "flat", "pk.mode", "record_value", "pk.fields", "sku", DeleteEnabled, "false",
		TableNameFormat, "flat_${topic}")
	write(t, task, flat(0, nil, "a", 1), flat(1, nil, "b", 2), flat(2, nil, "a", 3))
	wantRows(t, dump(t, tg, db, "SELECT sku, price FROM flat_flat ORDER BY sku"), "a|3", "b|2")
	// kafka mode: every record is a row keyed by its coordinates.
	task2 := startTask(t, tg, db, Topics, "flat", PrimaryKeyMode, "kafka", DeleteEnabled, "false", TableNameFormat, "k_${topic}")
	write(t, task2, flat(0, nil, "a", 1), flat(1, nil, "a", 2))
	write(t, task2, flat(1, nil, "a", 2)) // replayed
	wantRows(t, dump(t, tg, db, "SELECT __connect_topic, __connect_partition, __connect_offset, sku, price FROM k_flat ORDER BY 3"),
		"flat|0|0|a|1", "flat|0|1|a|2")
	// none + insert: plain inserts.
	task3 := startTask(t, tg, db, Topics, "flat", PrimaryKeyMode, "none", InsertMode, "insert", DeleteEnabled, "false", TableNameFormat, "n_${topic}")
	write(t, task3, flat(0, nil, "a", 1), flat(1, nil, "a", 1))
	wantRows(t, dump(t, tg, db, "SELECT sku, price FROM n_flat"), "a|1", "a|1")
	// insert.mode=update only touches existing rows.
	task4 := startTask(t, tg, db, Topics, "flat", "pk.mode", "record_value", "pk.fields", "sku", DeleteEnabled, "false",
		TableNameFormat, "flat_${topic}", InsertMode, "update")
	write(t, task4, flat(3, nil, "a", 30), flat(4, nil, "zzz", 40))
	wantRows(t, dump(t, tg, db, "SELECT sku, price FROM flat_flat ORDER BY sku"), "a|30", "b|2")
	// A schemaless value is refused with the record named.
	err := writeErr(task, &connectors.Record{Topic: "flat", Partition: 2, Offset: 9, Value: map[string]any{"sku": "x"}})
	var re *connectors.RecordError
	if !errors.As(err, &re) || re.Partition != 2 || re.Offset != 9 {
		t.Fatalf("schemaless value: %v", err)
	}
}

func testMissingKey(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	g.partion = 3
	write(t, task, g.upsert(1, "a", 1))
	ok := g.upsert(3, "c", 3)
	r := g.upsert(2, "b", 2)
	r.Key, r.KeySchema = nil, nil
	err := writeErr(task, ok, r)
	var re *connectors.RecordError
	if !errors.As(err, &re) || re.Topic != "srv.public.items" || re.Partition != 3 || re.Offset != r.Offset {
		t.Fatalf("error %v, want a RecordError for srv.public.items-3@%d", err, r.Offset)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("srv.public.items-3@%d", r.Offset)) || !strings.Contains(err.Error(), "key") {
		t.Fatalf("message %q does not name the record and the key", err)
	}
	// The failed record is never reported durable; the one before it may be.
	got, err := task.Flush(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := got[connectors.TopicPartition{Topic: "srv.public.items", Partition: 3}]; o != r.Offset {
		t.Fatalf("durable offset %d after the failed Put, want %d", o, r.Offset)
	}
}

func testValidate(t *testing.T, tg *target) {
	db := tg.newDB(t)
	c := &Connector{}
	base := map[string]string{ConnectionURL: tg.url(db), ConnectionUsername: tg.user, Topics: "x"}
	if errs := c.Validate(context.Background(), base); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	u, _ := ParseURL(tg.url(db))
	cases := []struct {
		name, key, want string
		props           map[string]string
	}{
		{"unknown database", ConnectionURL, "does not exist on " + u.Addr(),
			map[string]string{ConnectionURL: tg.url("nope_db"), ConnectionUsername: tg.user, Topics: "x"}},
		{"unreachable", ConnectionURL, "cannot reach 127.0.0.1:1",
			map[string]string{ConnectionURL: strings.Replace(tg.url(db), fmt.Sprint(":", u.Port, "/"), ":1/", 1), ConnectionUsername: tg.user, Topics: "x"}},
	}
	if tg.name == "mariadb" {
		// The harness's PostgreSQL trusts every local user; MariaDB checks.
		cases = append(cases, struct {
			name, key, want string
			props           map[string]string
		}{"wrong password", ConnectionPassword, "authentication as \"root\" failed at " + u.Addr(),
			map[string]string{ConnectionURL: tg.url(db), ConnectionUsername: tg.user, ConnectionPassword: "wrong", Topics: "x"}})
		// Without connection.username the driver logs in as nobody the
		// user chose: the message says so, under connection.username.
		cases = append(cases, struct {
			name, key, want string
			props           map[string]string
		}{"no user", ConnectionUsername, "no user set (connection.username is empty",
			map[string]string{ConnectionURL: tg.url(db), Topics: "x"}})
	}
	for _, tc := range cases {
		errs := c.Validate(context.Background(), tc.props)
		if len(errs[tc.key]) != 1 || !strings.Contains(errs[tc.key][0], tc.want) {
			t.Errorf("%s: Validate = %v, want %s: ...%s...", tc.name, errs, tc.key, tc.want)
		}
	}
}

func testRestart(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "a", 1))
	// The target restarts between two batches: the task's connection is
	// dead, the next flush retries on a new one and succeeds.
	tg.restart(t)
	write(t, task, g.upsert(2, "b", 2), g.upsert(1, "a2", 10))
	wantRows(t, dump(t, tg, db, items), "1|a2|10", "2|b|2")
	// With no retries allowed, the database's error fails the flush and no
	// offsets of the batch are reported.
	task2 := startTask(t, tg, db, MaxRetries, "0")
	write(t, task2, g.upsert(3, "c", 3))
	tg.restart(t)
	r := g.upsert(4, "d", 4)
	if err := task2.Put(context.Background(), []*connectors.Record{r}); err != nil {
		t.Fatal(err)
	}
	got, err := task2.Flush(context.Background(), nil)
	if err == nil {
		// database/sql may hand out a fresh connection on its own; then
		// the write went through and its offset is durable.
		if got[connectors.TopicPartition{Topic: r.Topic}] != r.Offset+1 {
			t.Fatalf("flush succeeded but reported %v", got)
		}
		return
	}
	if got[connectors.TopicPartition{Topic: r.Topic}] == r.Offset+1 {
		t.Fatalf("failed flush reported offset %d as durable", r.Offset+1)
	}
}

// testCrash streams random changes while the target is killed (kill -9)
// during a flush; afterwards the table equals a model of the changes.
func testCrash(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db, CopyThreshold, "200")
	g := newGen("srv.public.items")
	rng := rand.New(rand.NewPCG(4, 2))
	model := map[int64]string{}
	const batches, perBatch, keys = 12, 600, 300
	for b := range batches {
		recs := make([]*connectors.Record, 0, perBatch+perBatch/5)
		for range perBatch {
			id := rng.Int64N(keys)
			if rng.IntN(5) == 0 {
				recs = append(recs, g.del(id), g.tomb(id))
				delete(model, id)
				continue
			}
			name := fmt.Sprintf("v%d", rng.IntN(1_000_000))
			qty := rng.IntN(1000)
			recs = append(recs, g.upsert(id, name, qty))
			model[id] = fmt.Sprintf("%d|%s|%d", id, name, qty)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := task.Put(ctx, recs); err != nil {
			cancel()
			t.Fatal(err)
		}
		if b == batches/2 {
			// Kill the server while the flush is running.
			done := make(chan error, 1)
			go func() {
				_, err := task.Flush(ctx, nil)
				done <- err
			}()
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			tg.crash(t)
			if err := <-done; err != nil {
				cancel()
				t.Fatalf("flush across a crash: %v", err)
			}
		} else if _, err := task.Flush(ctx, nil); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
	}
	got, err := task.Flush(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if o := got[connectors.TopicPartition{Topic: "srv.public.items"}]; o != g.off {
		t.Fatalf("durable offset %d, want %d", o, g.off)
	}
	ids := make([]int64, 0, len(model))
	for id := range model {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = model[id]
	}
	wantRows(t, dump(t, tg, db, items), want...)
}

// testRejected: a value the column refuses fails the batch with an error
// naming the record and, where the database says, the column.
func testRejected(t *testing.T, tg *target) {
	db := tg.newDB(t)
	tg.exec(t, db, "CREATE TABLE srv_public_items (id bigint PRIMARY KEY, name varchar(5), qty int NOT NULL)")
	task := startTask(t, tg, db, SchemaEvolution, "none")
	g := newGen("srv.public.items")
	var recs []*connectors.Record
	for i := range 40 {
		recs = append(recs, g.upsert(int64(i), "ok", i))
	}
	bad := g.upsert(7, "fine", nil) // qty null
	// The refused record's source transaction is named by its trace id.
	tp := tracectx.Parent("srv", "901:77")
	traceID, _ := tracectx.TraceID(tp)
	bad.Headers = []connectors.Header{{Key: tracectx.Header, Value: tp}}
	recs = append(recs, bad, g.upsert(100, "ok", 1))
	err := writeErr(task, recs...)
	var re *connectors.RecordError
	if !errors.As(err, &re) || re.Offset != bad.Offset || re.Column != "qty" || re.Topic != bad.Topic {
		t.Fatalf("error %v, want a RecordError for offset %d column qty", err, bad.Offset)
	}
	if !strings.Contains(err.Error(), "(trace "+traceID+")") {
		t.Errorf("error %v does not name the refused record's trace %s", err, traceID)
	}
	task2 := startTask(t, tg, db, SchemaEvolution, "none")
	long := g.upsert(8, "far too long", 8)
	err = writeErr(task2, g.upsert(1, "ok", 1), long, g.upsert(2, "ok", 2))
	if !errors.As(err, &re) || re.Offset != long.Offset {
		t.Fatalf("error %v, want a RecordError for offset %d", err, long.Offset)
	}
	wantRows(t, dump(t, tg, db, "SELECT count(*) FROM srv_public_items"), "0")

	// errors.tolerance=all: the refused records go to the dead letter
	// queue, the rest of the batch is written and every offset is durable.
	tol := &testCtx{t: t, tolerate: true}
	task3 := startTaskCtx(t, tg, db, tol, SchemaEvolution, "none")
	schemaless := &connectors.Record{Topic: "srv.public.items", Offset: g.off, Value: "not a struct"}
	g.off++
	write(t, task3, g.upsert(1, "ok", 1), long, g.upsert(2, "ok", 2), bad, schemaless, g.upsert(3, "ok", 3))
	wantRows(t, dump(t, tg, db, "SELECT id, name, qty FROM srv_public_items ORDER BY id"), "1|ok|1", "2|ok|2", "3|ok|3")
	slices.Sort(tol.errant)
	if want := []int64{bad.Offset, long.Offset, schemaless.Offset}; !slices.Equal(tol.errant, want) {
		t.Fatalf("errant offsets %v, want %v", tol.errant, want)
	}
}

// testPacketSplit writes a batch larger than max_allowed_packet: it goes
// as several statements in one transaction.
func testPacketSplit(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	m := task.d.(*mysqlDialect)
	var mode string
	if err := m.db.QueryRowContext(context.Background(), "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil || !strings.Contains(mode, "STRICT_ALL_TABLES") {
		t.Fatalf("session sql_mode %q (%v), want STRICT_ALL_TABLES", mode, err)
	}
	// The server says it is MariaDB (VERSION() …-MariaDB): upserts use
	// VALUES(c), as MariaDB has no row alias form; the upserts below and
	// in the other subtests run that statement.
	if m.rowAlias {
		t.Fatalf("MariaDB server detected as taking the row alias form of upserts")
	}
	m.maxPacket = 64 << 10
	g := newGen("srv.public.items")
	var recs []*connectors.Record
	for i := range 2000 {
		recs = append(recs, g.upsert(int64(i), strings.Repeat("x", 100), i))
	}
	write(t, task, recs...)
	wantRows(t, dump(t, tg, db, "SELECT count(*), sum(length(name)), sum(qty) FROM srv_public_items"), fmt.Sprintf("2000|200000|%d", sum(0, 2000)))
}

// testQuoting: quote.identifiers keeps the case of names; without it
// PostgreSQL names fold to lower case as unquoted SQL would, and a field
// finds its column whatever the case.
func testQuoting(t *testing.T, tg *target) {
	db := tg.newDB(t)
	key := connectors.NewStruct("k", false, connectors.Opt("ID", connectors.Int64Schema))
	row := connectors.NewStruct("v", true, connectors.Opt("ID", connectors.Int64Schema), connectors.Opt("Name", connectors.OptionalStringSchema))
	rec := func(off int64, id int64, name string) *connectors.Record {
		return &connectors.Record{Topic: "Shop.Items", Offset: off, KeySchema: key, Key: connectors.NewStructValue(key).Set("ID", id),
			ValueSchema: row, Value: connectors.NewStructValue(row).Set("ID", id).Set("Name", name)}
	}
	write(t, startTask(t, tg, db, Topics, "Shop.Items", QuoteSQLIdentifiers, "always"), rec(0, 1, "kept"))
	wantRows(t, dump(t, tg, db, `SELECT "ID", "Name" FROM "Shop_Items"`), "1|kept")
	write(t, startTask(t, tg, db, Topics, "Shop.Items"), rec(1, 2, "folded"))
	wantRows(t, dump(t, tg, db, `SELECT id, name FROM shop_items`), "2|folded")
}

// failingDialect fails every write with a retriable error.
type failingDialect struct{ dialect }

var errFlaky = errors.New("connection lost (test)")

func (f failingDialect) write(context.Context, []*tableWrite, bool) error { return errFlaky }
func (f failingDialect) retriable(err error) bool                         { return errors.Is(err, errFlaky) }

// testStopDuringRetries: Stop cancels a flush waiting out its retry
// back-off, and nothing of the batch is reported durable.
func testStopDuringRetries(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db, RetryBackoffMs, "60000", MaxRetries, "100")
	g := newGen("srv.public.items")
	write(t, task, g.upsert(1, "a", 1))
	task.d = failingDialect{task.d}
	r := g.upsert(2, "b", 2)
	if err := task.Put(context.Background(), []*connectors.Record{r}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		offsets map[connectors.TopicPartition]int64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		o, err := task.Flush(context.Background(), nil)
		done <- result{o, err}
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := task.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err == nil || !errors.Is(res.err, context.Canceled) {
		t.Fatalf("Flush after Stop: %v, want a cancellation", res.err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Stop took %v", d)
	}
	if o := res.offsets[connectors.TopicPartition{Topic: r.Topic}]; o != r.Offset {
		t.Fatalf("durable offset %d, want %d (the failed batch is not durable)", o, r.Offset)
	}
}

// testNoopReplay replays a batch of rows the table already holds, through
// COPY and through statements: no row gets a new version (xmin stays),
// and a change only in how an unconstrained numeric is written (1.0 to
// 1.00) is still applied.
func testNoopReplay(t *testing.T, tg *target) {
	for _, threshold := range []string{"1", "1000"} {
		t.Run("copy.threshold="+threshold, func(t *testing.T) {
			db := tg.newDB(t)
			key := connectors.NewStruct("srv.public.items.Key", false, connectors.Opt("id", connectors.Int64Schema))
			row := connectors.NewStruct("srv.public.items.Value", true, connectors.Opt("id", connectors.Int64Schema),
				connectors.Opt("name", connectors.OptionalStringSchema), connectors.Opt("qty", connectors.OptionalInt32Schema),
				connectors.Opt("amount", connectors.DecimalSchema(1, true)))
			g := newGenWith("srv.public.items", key, row)
			rec := func(id int64, qty int32, amount connectors.Decimal) *connectors.Record {
				return g.create(connectors.NewStructValue(row).Set("id", id).Set("name", fmt.Sprint("n", id)).Set("qty", qty).Set("amount", amount))
			}
			one := connectors.Decimal{Unscaled: big.NewInt(10), Scale: 1}
			var batch []*connectors.Record
			for i := range 50 {
				batch = append(batch, rec(int64(i), int32(i), one))
			}
			task := startTask(t, tg, db, CopyThreshold, threshold)
			write(t, task, batch...)
			const q = "SELECT id, xmin, name, qty, amount FROM srv_public_items ORDER BY id"
			first := dump(t, tg, db, q)
			write(t, task, batch...)
			wantRows(t, dump(t, tg, db, q), first...)
			// Replayed by a restarted task, as after a crash before the
			// offsets were committed.
			write(t, startTask(t, tg, db, CopyThreshold, threshold), batch...)
			wantRows(t, dump(t, tg, db, q), first...)
			batch[1] = rec(1, 100, one)
			batch[2] = rec(2, 2, connectors.Decimal{Unscaled: big.NewInt(100), Scale: 2})
			write(t, task, batch...)
			got := dump(t, tg, db, q)
			for i := range got {
				changed := got[i] != first[i]
				if changed != (i == 1 || i == 2) {
					t.Errorf("row %d: %s, was %s", i, got[i], first[i])
				}
			}
			wantRows(t, dump(t, tg, db, "SELECT id, name, qty, amount FROM srv_public_items WHERE id IN (1, 2) ORDER BY id"),
				"1|n1|100|1.0", "2|n2|2|1.00")
		})
	}
}

// testRejectedCopy has COPY refuse a row: a value the client cannot
// encode for the column (out of smallint's range) and one the server
// refuses (null in a NOT NULL column); each is reported naming its
// record and column.
func testRejectedCopy(t *testing.T, tg *target) {
	g := newGen("srv.public.items")
	for _, c := range []struct {
		name string
		bad  *connectors.Record
	}{
		{"out of range", g.upsert(7, "big", 100000)},
		{"null", g.upsert(7, "null", nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := tg.newDB(t)
			tg.exec(t, db, "CREATE TABLE srv_public_items (id bigint PRIMARY KEY, name text, qty smallint NOT NULL)")
			task := startTask(t, tg, db, SchemaEvolution, "none", CopyThreshold, "1")
			var recs []*connectors.Record
			for i := range 40 {
				recs = append(recs, g.upsert(int64(i), "ok", i))
			}
			recs = append(recs, c.bad)
			err := writeErr(task, recs...)
			var re *connectors.RecordError
			if !errors.As(err, &re) || re.Offset != c.bad.Offset || re.Column != "qty" {
				t.Fatalf("error %v, want a RecordError for offset %d column qty", err, c.bad.Offset)
			}
			wantRows(t, dump(t, tg, db, "SELECT count(*) FROM srv_public_items"), "0")
		})
	}
}

// testLostPartition drives connectors.PartitionWatcher as the runtime does
// when partitions are lost (Close without a Flush before it): rows
// buffered for them are never written, their offsets are never reported
// again, and the other partitions' rows are written as if nothing
// happened.
func testLostPartition(t *testing.T, tg *target) {
	db := tg.newDB(t)
	task := startTask(t, tg, db)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g0, g1 := newGen("srv.public.items"), newGen("srv.public.items")
	g1.partion = 1
	p0 := connectors.TopicPartition{Topic: g0.topic, Partition: 0}
	p1 := connectors.TopicPartition{Topic: g1.topic, Partition: 1}
	write(t, task, g0.upsert(1, "a", 1), g1.upsert(2, "b", 2))

	put := func(recs ...*connectors.Record) {
		t.Helper()
		if err := task.Put(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() map[connectors.TopicPartition]int64 {
		t.Helper()
		got, err := task.Flush(ctx, map[connectors.TopicPartition]int64{p0: g0.off, p1: g1.off})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	lose := func(tp connectors.TopicPartition) {
		t.Helper()
		if err := task.Close(ctx, []connectors.TopicPartition{tp}); err != nil {
			t.Fatal(err)
		}
	}

	// Partition 0 is lost with rows buffered: they are never written.
	put(g0.upsert(1, "stale", 10), g1.upsert(2, "kept", 20), g0.upsert(3, "never", 3), g1.upsert(4, "four", 4), g0.upsert(8, "never", 8), g0.del(8), g0.del(1))
	lose(p0)
	got := flush()
	if _, ok := got[p0]; ok || got[p1] != g1.off {
		t.Fatalf("Flush after losing %v = %v, want only %v at %d", p0, got, p1, g1.off)
	}
	wantRows(t, dump(t, tg, db, items), "1|a|1", "2|kept|20", "4|four|4")

	// The same key in two partitions: the first partition's row is
	// written before the second's is buffered, so losing the second
	// keeps the first's.
	if err := task.Open(ctx, []connectors.TopicPartition{p0}); err != nil {
		t.Fatal(err)
	}
	put(g0.upsert(5, "from p0", 5), g1.upsert(5, "from p1", 50))
	lose(p1)
	if got := flush(); got[p0] != g0.off {
		t.Fatalf("Flush = %v, want %v at %d", got, p0, g0.off)
	}
	wantRows(t, dump(t, tg, db, items), "1|a|1", "2|kept|20", "4|four|4", "5|from p0|5")

	// A truncate of a lost partition is dropped with it; one of another
	// partition first writes what other partitions buffered.
	if err := task.Open(ctx, []connectors.TopicPartition{p1}); err != nil {
		t.Fatal(err)
	}
	put(g0.upsert(6, "six", 6), g1.truncate(), g0.upsert(7, "seven", 7))
	lose(p1)
	flush()
	wantRows(t, dump(t, tg, db, items), "1|a|1", "2|kept|20", "4|four|4", "5|from p0|5", "6|six|6", "7|seven|7")
}
