package jdbc

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
)

// ddlRecorder is a dialect with PostgreSQL's SQL that serves one table's
// metadata and records the DDL it is given instead of running it.
type ddlRecorder struct {
	*postgres
	meta *tableMeta
	ddl  []string
}

func (r *ddlRecorder) loadTable(context.Context, tableName) (*tableMeta, error) {
	cp := *r.meta
	cp.cols = slices.Clone(r.meta.cols)
	return &cp, nil
}

func (r *ddlRecorder) exec(_ context.Context, sql string) error {
	r.ddl = append(r.ddl, sql)
	return nil
}

// TestEvolveColumnsDroppedAndRenamed: with schema evolution, a column
// renamed in the source (the record has a new required field and lacks
// the old NOT NULL one) adds the new column as nullable and lets the old
// one hold NULL; columns the database fills (defaults, identities), the
// key, nullable columns and columns the records have are left alone.
// Before the fix the sink refused the new required field, and rows
// without the old column failed on its NOT NULL.
func TestEvolveColumnsDroppedAndRenamed(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{ConnectionURL: "jdbc:postgresql://h/db", Topics: "a", PrimaryKeyMode: "record_key",
		InsertMode: "upsert", SchemaEvolution: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &ddlRecorder{postgres: &postgres{cfg: cfg}, meta: &tableMeta{
		name: tableName{name: "items"},
		cols: []colMeta{
			{name: "id", typ: "bigint"},
			{name: "keep", typ: "text"},
			{name: "gone", typ: "text"},                     // dropped in the source
			{name: "old_name", typ: "text"},                 // renamed new_name
			{name: "stamp", typ: "timestamp", filled: true}, // has a default
			{name: "note", typ: "text", nullable: true},     // nullable already
			{name: "seq", typ: "bigint", filled: true},      // identity
			{name: "code", typ: "text"},                     // in a unique index
			{name: "qty", typ: "integer", nullable: true},   // still sent
			{name: "Mixed", typ: "text"},                    // sent as mixed: matched ignoring case
			{name: "unused_but_null", typ: "text", nullable: true},
		},
		uniques: [][]string{{"id"}, {"code"}},
	}}
	task := &Task{cfg: cfg, log: slog.New(slog.DiscardHandler), d: rec, meta: metaCache{}}
	task.dec = &decoder{cfg: cfg, shapes: map[shapeKey]*shape{}, names: map[string]tableName{}, dialect: rec}

	key := connectors.NewStruct("k", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct("v", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("keep", connectors.StringSchema), connectors.Opt("new_name", connectors.StringSchema),
		connectors.Opt("qty", connectors.OptionalInt32Schema), connectors.Opt("mixed", connectors.OptionalStringSchema))
	g := newGenWith("srv.public.items", key, row)
	c, err := task.dec.decode(g.create(connectors.NewStructValue(row).Set("id", int64(1)).Set("keep", "k").Set("new_name", "n")))
	if err != nil {
		t.Fatal(err)
	}
	c.table = tableName{name: "items"}
	b := newBuffer()
	b.add(c)
	if _, err := task.ensure(context.Background(), b.order[0]); err != nil {
		t.Fatalf("ensure: %v", err)
	}
	want := []string{
		`ALTER TABLE "items" ADD COLUMN "new_name" text NULL`,
		`ALTER TABLE "items" ALTER COLUMN "gone" DROP NOT NULL`,
		`ALTER TABLE "items" ALTER COLUMN "old_name" DROP NOT NULL`,
	}
	if !slices.Equal(rec.ddl, want) {
		t.Errorf("DDL:\n%q\nwant\n%q", rec.ddl, want)
	}

	// Without schema evolution nothing is altered: the missing column is
	// refused as before.
	cfg2, err := ParseConfig(map[string]string{ConnectionURL: "jdbc:postgresql://h/db", Topics: "a", PrimaryKeyMode: "record_key",
		InsertMode: "upsert"})
	if err != nil {
		t.Fatal(err)
	}
	rec.ddl = nil
	task.cfg, task.meta = cfg2, metaCache{}
	if _, err := task.ensure(context.Background(), b.order[0]); err == nil || len(rec.ddl) != 0 {
		t.Errorf("without schema evolution: error %v, DDL %q; want the new column refused and no DDL", err, rec.ddl)
	}
}

// TestMySQLDropNotNull: MODIFY COLUMN restates the declared type with
// its case and collation.
func TestMySQLDropNotNull(t *testing.T) {
	m := &mysqlDialect{}
	got := m.dropNotNull(tableName{schema: "shop", name: "items"}, colMeta{name: "mood", typ: "enum('ok','sad')",
		decl: "enum('OK','Sad') COLLATE utf8mb4_bin"})
	if want := "ALTER TABLE `shop`.`items` MODIFY COLUMN `mood` enum('OK','Sad') COLLATE utf8mb4_bin NULL"; got != want {
		t.Errorf("dropNotNull = %q, want %q", got, want)
	}
}
