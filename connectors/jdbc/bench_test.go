package jdbc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

const benchRows = 10_000

// benchRecords returns benchRows Debezium update events for table bench:
// id, name (24 chars), qty, price numeric(10,2), updated MicroTimestamp.
func benchRecords() []*connectors.Record {
	key := connectors.NewStruct("srv.public.bench.Key", false, connectors.Opt("id", connectors.Int64Schema))
	price := connectors.DecimalSchema(2, true)
	price.Parameters[cdc.DecimalPrecisionParam] = "10"
	row := connectors.NewStruct("srv.public.bench.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("name", connectors.OptionalStringSchema), connectors.Opt("qty", connectors.OptionalInt32Schema),
		connectors.Opt("price", price),
		connectors.Opt("updated", &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimestampName, Optional: true}))
	g := newGenWith("srv.public.bench", key, row)
	recs := make([]*connectors.Record, benchRows)
	for i := range recs {
		v := connectors.NewStructValue(row).Set("id", int64(i)).Set("name", fmt.Sprintf("customer-%015d", i)).
			Set("qty", int32(i%1000)).Set("price", connectors.Decimal{Unscaled: big.NewInt(int64(i) * 7), Scale: 2}).
			Set("updated", int64(1_700_000_000_000_000)+int64(i))
		recs[i] = g.create(v)
	}
	return recs
}

// benchLoop runs b.N iterations of: the sink writes recs (Put + Flush),
// then raw writes the same rows the fastest way the database has. The two
// alternate so that both see the same load on a shared machine. With
// fresh, the table is emptied (untimed) before each; otherwise every
// row's qty changes so each upsert updates a row, and raw loads into an
// emptied twin table of the same definition.
func benchLoop(b *testing.B, task *Task, recs []*connectors.Record, fresh bool, empty func(table string), raw func(table string)) {
	var sink, rawTime time.Duration
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		if fresh {
			empty("srv_public_bench")
		} else {
			for i, r := range recs {
				r.Value.(*connectors.StructValue).Get("after").(*connectors.StructValue).Set("qty", int32((i+n+1)%1000))
			}
		}
		b.StartTimer()
		start := time.Now()
		if err := task.Put(ctx, recs); err != nil {
			b.Fatal(err)
		}
		if _, err := task.Flush(ctx, nil); err != nil {
			b.Fatal(err)
		}
		sink += time.Since(start)
		b.StopTimer()
		target := "srv_public_bench"
		if !fresh {
			target = "bench_twin"
		}
		empty(target)
		start = time.Now()
		raw(target)
		rawTime += time.Since(start)
		b.StartTimer()
	}
	rows := float64(b.N * benchRows)
	b.ReportMetric(rows/sink.Seconds(), "rows/s")
	b.ReportMetric(rows/rawTime.Seconds(), "raw-rows/s")
	b.ReportMetric(rawTime.Seconds()/sink.Seconds(), "ratio")
}

// BenchmarkUpsertPostgres writes batches of 10k rows through the sink
// (COPY into a stage table + MERGE), into an empty table (new) and over
// existing rows (existing; existing-fillfactor50 with the target's
// fillfactor at 50), next to the raw limit: COPY … FROM STDIN
// (binary, pgx CopyFrom) of the same rows into the same emptied table.
// The harness's server runs with fsync=off, synchronous_commit=off.
func BenchmarkUpsertPostgres(b *testing.B) {
	pg := harness.StartPostgres(b, harness.PostgresOptions{})
	db := pg.CreateDB(b, "bench")
	recs := benchRecords()
	conn := pg.Connect(b, db)
	ctx := context.Background()
	props := map[string]string{ConnectionURL: pg.JDBCURL(db), ConnectionUsername: pg.User, Topics: "srv.public.bench",
		InsertMode: "upsert", PrimaryKeyMode: "record_key", DeleteEnabled: "true", SchemaEvolution: "basic", BatchSize: "100000"}
	task := NewTask()
	if err := task.Start(ctx, nil, props); err != nil {
		b.Fatal(err)
	}
	defer task.Stop(ctx)
	// Create the table and warm up.
	if err := task.Put(ctx, recs); err != nil {
		b.Fatal(err)
	}
	if _, err := task.Flush(ctx, nil); err != nil {
		b.Fatal(err)
	}
	rows := make([][]any, len(recs))
	for i, r := range recs {
		v := r.Value.(*connectors.StructValue).Get("after").(*connectors.StructValue)
		d := v.Get("price").(connectors.Decimal)
		rows[i] = []any{v.Get("id"), v.Get("name"), v.Get("qty"), pgtype.Numeric{Int: d.Unscaled, Exp: -d.Scale, Valid: true},
			time.UnixMicro(v.Get("updated").(int64)).UTC()}
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE bench_twin (LIKE srv_public_bench INCLUDING ALL)"); err != nil {
		b.Fatal(err)
	}
	empty := func(table string) {
		if _, err := conn.Exec(ctx, "TRUNCATE "+table); err != nil {
			b.Fatal(err)
		}
	}
	raw := func(table string) {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "name", "qty", "price", "updated"},
			pgx.CopyFromRows(rows)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("new", func(b *testing.B) { benchLoop(b, task, recs, true, empty, raw) })
	b.Run("existing", func(b *testing.B) { benchLoop(b, task, recs, false, empty, raw) })
	// With room on each page for the new versions, updates are HOT: no
	// new index entries, which is most of an update's cost. The raw side
	// still loads the twin, at the default fillfactor.
	if _, err := conn.Exec(ctx, "ALTER TABLE srv_public_bench SET (fillfactor = 50)"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "VACUUM FULL srv_public_bench"); err != nil {
		b.Fatal(err)
	}
	b.Run("existing-fillfactor50", func(b *testing.B) { benchLoop(b, task, recs, false, empty, raw) })
}

// BenchmarkUpsertMariaDB writes batches of 10k rows through the sink
// (multi-row INSERT … ON DUPLICATE KEY UPDATE), next to the raw limit:
// LOAD DATA LOCAL INFILE of the same rows into the same (emptied) table.
// The harness's server runs with innodb_flush_log_at_trx_commit=2 and no
// binlog here.
func BenchmarkUpsertMariaDB(b *testing.B) {
	m := harness.StartMariaDB(b, harness.MariaDBOptions{NoBinlog: true})
	db := m.CreateDB(b, "bench")
	recs := benchRecords()
	ctx := context.Background()
	props := map[string]string{ConnectionURL: m.JDBCURL(db), ConnectionUsername: m.User, Topics: "srv.public.bench",
		InsertMode: "upsert", PrimaryKeyMode: "record_key", DeleteEnabled: "true", SchemaEvolution: "basic", BatchSize: "100000"}
	task := NewTask()
	if err := task.Start(ctx, nil, props); err != nil {
		b.Fatal(err)
	}
	defer task.Stop(ctx)
	if err := task.Put(ctx, recs); err != nil {
		b.Fatal(err)
	}
	if _, err := task.Flush(ctx, nil); err != nil {
		b.Fatal(err)
	}
	var tsv bytes.Buffer
	for _, r := range recs {
		v := r.Value.(*connectors.StructValue).Get("after").(*connectors.StructValue)
		fmt.Fprintf(&tsv, "%d\t%s\t%d\t%s\t%s\n", v.Get("id"), v.Get("name"), v.Get("qty"), v.Get("price").(connectors.Decimal),
			time.UnixMicro(v.Get("updated").(int64)).UTC().Format("2006-01-02 15:04:05.000000"))
	}
	data := tsv.Bytes()
	mysql.RegisterReaderHandler("sluice-bench", func() io.Reader { return bytes.NewReader(data) })
	defer mysql.DeregisterReaderHandler("sluice-bench")
	sqlDB := m.Open(b, db)
	if _, err := sqlDB.ExecContext(ctx, "CREATE TABLE bench_twin LIKE srv_public_bench"); err != nil {
		b.Fatal(err)
	}
	empty := func(table string) {
		if _, err := sqlDB.ExecContext(ctx, "TRUNCATE "+table); err != nil {
			b.Fatal(err)
		}
	}
	raw := func(table string) {
		res, err := sqlDB.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::sluice-bench' INTO TABLE "+table+
			" FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (id, name, qty, price, updated)")
		if err != nil {
			b.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != benchRows {
			b.Fatalf("LOAD DATA loaded %d rows, want %d", n, benchRows)
		}
	}
	b.Run("new", func(b *testing.B) { benchLoop(b, task, recs, true, empty, raw) })
	b.Run("existing", func(b *testing.B) { benchLoop(b, task, recs, false, empty, raw) })
}
