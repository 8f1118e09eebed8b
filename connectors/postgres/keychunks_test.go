package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// keyChunkTables are tables whose keys are not a single integer: a
// composite (text, int) key whose text holds the plan's separators, and
// a uuid key. Row counts are not multiples of the chunk size, so the last
// chunk of each is not empty.
var keyChunkTables = []struct {
	name, ddl, fill string
	rows            int
	keys            []string
}{
	{"ck", "CREATE TABLE ck (a text, b int, v int NOT NULL, PRIMARY KEY (a, b))",
		"INSERT INTO ck SELECT 'k:' || (g % 53) || ',%;x', g, 0 FROM generate_series(1, 6001) g", 6001, []string{"a", "b"}},
	{"uu", "CREATE TABLE uu (id uuid PRIMARY KEY, v int NOT NULL)",
		"INSERT INTO uu SELECT gen_random_uuid(), 0 FROM generate_series(1, 5003) g", 5003, []string{"id"}},
}

// recordKey is a row's key as text, for the key chunk tables.
func recordKey(r *connectors.Record) string {
	k := r.Key.(*connectors.StructValue)
	if v, ok := k.Get("id").(string); ok {
		return v
	}
	return k.Get("a").(string) + "/" + strconv.Itoa(int(k.Get("b").(int32)))
}

func setupKeyChunks(t *testing.T, pg *harness.Postgres, db string) map[uint32]*table {
	t.Helper()
	var stmts []string
	for _, kt := range keyChunkTables {
		stmts = append(stmts, kt.ddl, kt.fill, "ANALYZE "+kt.name)
	}
	pg.Exec(t, db, stmts...)
	c := pg.Connect(t, db)
	byID := map[uint32]*table{}
	for _, kt := range keyChunkTables {
		tb := &table{schema: "public", name: kt.name}
		if err := c.QueryRow(context.Background(), "SELECT $1::regclass::oid", kt.name).Scan(&tb.relID); err != nil {
			t.Fatal(err)
		}
		for i, k := range kt.keys {
			tb.cols = append(tb.cols, colDesc{Name: k, NotNull: true, KeySeq: i + 1})
			tb.keyCols = append(tb.keyCols, i)
		}
		byID[tb.relID] = tb
	}
	return byID
}

// testKeyChunks snapshots tables with text, composite and uuid keys in
// key-range chunks on two threads: every row exactly once.
func testKeyChunks(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "keychunks")
	byID := setupKeyChunks(t, pg, db)
	task := startTask(t, props(pg, db, "keychunks", SnapshotMode, SnapshotInitialOnly, SnapshotChunkSize, "1000",
		SnapshotMaxThreads, "2", TableIncludeList, "public.ck,public.uu", SlotDropOnStop, "true"), nil)
	recs := data(pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		return len(rs) > 0 && rs[len(rs)-1].Value != nil && source(rs[len(rs)-1]).Get("snapshot") == cdc.SnapLast
	}))
	var plan string
	for _, r := range recs { // the first record that carries an offset
		if r.SourceOffset != nil {
			plan, _ = r.SourceOffset[offSnapshotPlan].(string)
			break
		}
	}
	plans, err := parsePlans(plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		if tb := byID[p.relID]; tb == nil || len(p.bounds) == 0 || p.n < 5 {
			t.Errorf("plan %v: want key boundaries and at least 5 chunks", p)
		}
	}
	reads := map[string]map[string]int{}
	for _, r := range recs {
		if op(r) != cdc.OpRead {
			t.Fatalf("op %s in an initial_only snapshot", op(r))
		}
		tn := source(r).Get("table").(string)
		if reads[tn] == nil {
			reads[tn] = map[string]int{}
		}
		reads[tn][recordKey(r)]++
	}
	for _, kt := range keyChunkTables {
		if len(reads[kt.name]) != kt.rows {
			t.Errorf("%s: %d distinct rows read, want %d", kt.name, len(reads[kt.name]), kt.rows)
		}
		for k, n := range reads[kt.name] {
			if n != 1 {
				t.Errorf("%s: key %s read %d times", kt.name, k, n)
			}
		}
	}
	t.Logf("plan %d bytes, %d records", len(plan), len(recs))

	// Tables of many chunks take their boundaries from a block sample:
	// the chunks still hold every row exactly once.
	conn := pg.Connect(t, db)
	for _, tb := range byID {
		for _, est := range []float64{60 * 100, 0} { // sampled; walked (no statistics)
			p, err := planTable(context.Background(), conn, tb, est, 100)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, c := range p.chunks(tb) {
				sql, params := chunkSQL(c)
				rr := conn.PgConn().ExecParams(context.Background(), sql, params, nil, nil, nil)
				for rr.NextRow() {
					v := rr.Values()
					got[string(v[0])+"/"+string(v[len(v)-1])]++
				}
				if _, err := rr.Close(); err != nil {
					t.Fatal(err)
				}
			}
			rows := 0
			for _, kt := range keyChunkTables {
				if kt.name == tb.name {
					rows = kt.rows
				}
			}
			if len(got) != rows || p.n < 20 {
				t.Errorf("%s (estimate %v): %d chunks hold %d rows, want %d in at least 20", tb.name, est, p.n, len(got), rows)
			}
			for k, n := range got {
				if n != 1 {
					t.Errorf("%s: key %s in %d chunks", tb.name, k, n)
				}
			}
		}
	}
}

// testKeyChunksResume interrupts such a snapshot after three chunks and
// resumes it: the unfinished chunks are read with watermarks while
// streaming, no finished chunk is read again, and every row arrives.
func testKeyChunksResume(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "keyresume")
	byID := setupKeyChunks(t, pg, db)
	p := props(pg, db, "keyresume", SnapshotChunkSize, "1000", SnapshotMaxThreads, "2", MaxQueueSize, "50",
		MaxBatchSize, "50", TableIncludeList, "public.ck,public.uu")
	task := startTask(t, p, nil)
	kept := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		chunks, _ := rs[len(rs)-1].SourceOffset[offSnapshotChunks].(string)
		return strings.Count(chunks, ",") >= 2
	})
	stored := kept[len(kept)-1].SourceOffset
	stopTask(t, task)
	finished := stored[offSnapshotChunks].(string)

	// The keys of the finished chunks, read with the chunks' own queries.
	plans, err := parsePlans(stored[offSnapshotPlan].(string))
	if err != nil {
		t.Fatal(err)
	}
	conn := pg.Connect(t, db)
	inFinished := map[string]bool{}
	for _, pl := range plans {
		tb := byID[pl.relID]
		for _, c := range pl.chunks(tb) {
			if !strings.Contains(","+finished+",", ","+chunkID(c)+",") {
				continue
			}
			sql, params := chunkSQL(c)
			rr := conn.PgConn().ExecParams(context.Background(), sql, params, nil, nil, nil)
			for rr.NextRow() {
				v := rr.Values()
				k := string(v[0])
				if len(v) == 2 {
					k += "/" + string(v[1])
				}
				inFinished[tb.name+"|"+k] = true
			}
			if _, err := rr.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(inFinished) < 1500 { // three sampled chunks of about 1000 rows
		t.Fatalf("finished chunks %s hold %d rows, want at least 1500", finished, len(inFinished))
	}

	p[SlotDropOnStop] = "true"
	task2 := startTask(t, p, stored)
	second := data(pollUntil(t, task2, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Value != nil && source(r).Get("snapshot") == "incremental" && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	}))
	seen := map[string]bool{}
	for _, r := range data(kept) {
		seen[source(r).Get("table").(string)+"|"+recordKey(r)] = true
	}
	reread := 0
	again := map[string]int{}
	for _, r := range second {
		k := source(r).Get("table").(string) + "|" + recordKey(r)
		if inFinished[k] {
			reread++
		}
		again[k]++
		seen[k] = true
	}
	if reread > 0 {
		t.Errorf("%d rows of finished chunks were read again", reread)
	}
	for k, n := range again {
		if n > 1 {
			t.Errorf("%s read %d times after resuming", k, n)
		}
	}
	total := 0
	for _, kt := range keyChunkTables {
		total += kt.rows
	}
	if len(seen) != total {
		t.Errorf("%d distinct rows over both runs, want %d", len(seen), total)
	}
	t.Logf("first run %d records (%s finished), resumed run %d records", len(kept), finished, len(second))
}

// testKeyChangedResume resumes a snapshot whose key-range plan was made
// for a key that has since changed: the table is read again whole.
func testKeyChangedResume(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "keychange")
	pg.Exec(t, db, "CREATE TABLE kc (a text, b int, v int NOT NULL, PRIMARY KEY (a, b))",
		"INSERT INTO kc SELECT 'k' || g, g, 0 FROM generate_series(1, 300) g")
	c := pg.Connect(t, db)
	var relID uint32
	var lsn string
	if err := c.QueryRow(context.Background(), "SELECT 'kc'::regclass::oid").Scan(&relID); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(context.Background(), "SELECT lsn::text FROM pg_create_logical_replication_slot('keychange', 'pgoutput')").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	var hi, lo uint32
	if _, err := fmt.Sscanf(lsn, "%X/%X", &hi, &lo); err != nil {
		t.Fatal(err)
	}
	at := int64(hi)<<32 | int64(lo)
	id := strconv.FormatUint(uint64(relID), 10)
	stored := map[string]any{offSnapshot: true, offLSN: at, offLSNProc: at,
		offSnapshotPlan: id + ":k:k150,150", offSnapshotChunks: id + ":0"}
	pg.Exec(t, db, "ALTER TABLE kc DROP CONSTRAINT kc_pkey, ADD PRIMARY KEY (a)")
	task := startTask(t, props(pg, db, "keychange", TableIncludeList, "public.kc", SlotDropOnStop, "true"), stored)
	recs := pollUntil(t, task, 20*time.Second, lastIncremental)
	reads := map[string]int{}
	for _, r := range data(recs) {
		if op(r) == cdc.OpRead {
			reads[after(r).Get("a").(string)]++
		}
	}
	if len(reads) != 300 {
		t.Errorf("%d rows read, want the whole table (300)", len(reads))
	}
}
