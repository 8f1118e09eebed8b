package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// The offset Poll builds for the last record of a batch names every chunk
// in progress with the key of its last row taken, and no chunk that the
// record's base lists as finished.
func TestSnapProgressOffsets(t *testing.T) {
	tb := &table{relID: 16384}
	c0, c1 := &chunk{t: tb, idx: 0}, &chunk{t: tb, idx: 1}
	run := &snapRun{}
	b1 := &snapBase{run: run, seq: 1, off: offset{snapshot: true, snapshotPlan: "16384:1:500:2", lsnProc: 7, lsn: 7}}
	var p snapProgress
	p.Note(&snapPos{base: b1, c: c0, key: []byte("1")})
	p.Note(&snapPos{base: b1, c: c1, key: []byte("501")})
	p.Note(&snapPos{base: b1, c: c0, key: []byte("2")})
	got, err := parseOffsetMap(p.offsetMap())
	if err != nil {
		t.Fatal(err)
	}
	if got.snapshotKeys != "16384:0:2;16384:1:501" || got.snapshotChunks != "" || !got.snapshot || got.lsn != 7 {
		t.Fatalf("offset %+v", got)
	}
	// The emitter finished c0 (base 2); Poll has not taken a record of
	// base 2 yet: c0 is still in progress for it.
	c0.doneAt.Store(2)
	if got, _ := parseOffsetMap(p.offsetMap()); got.snapshotKeys != "16384:0:2;16384:1:501" {
		t.Fatalf("a chunk finished after the last record taken left the offset: %q", got.snapshotKeys)
	}
	b2 := &snapBase{run: run, seq: 2, off: offset{snapshot: true, snapshotPlan: b1.off.snapshotPlan, snapshotChunks: "16384:0", lsnProc: 7, lsn: 7}}
	p.Note(&snapPos{base: b2, c: c1, key: []byte("502")})
	if got, _ := parseOffsetMap(p.offsetMap()); got.snapshotKeys != "16384:1:502" || got.snapshotChunks != "16384:0" {
		t.Fatalf("after c0 finished: %+v", got)
	}
	// An unordered chunk has no key: the offset names only finished
	// chunks and the ordered ones.
	c2 := &chunk{t: &table{relID: 9}}
	p.Note(&snapPos{base: b2, c: c2})
	if got, _ := parseOffsetMap(p.offsetMap()); got.snapshotKeys != "16384:1:502" {
		t.Fatalf("unordered chunk: %q", got.snapshotKeys)
	}
	// Another run (a watermarked chunk) starts from its own base's keys.
	b3 := &snapBase{run: &snapRun{}, seq: 1, off: offset{incremental: true, snapshotPlan: "x", lsnProc: 9, snapshotKeys: "5:3:abc"}}
	p.Note(&snapPos{base: b3, c: &chunk{t: &table{relID: 5}, idx: 4}, key: []byte("q%3Br")})
	got, _ = parseOffsetMap(p.offsetMap())
	if got.snapshotKeys != "5:3:abc;5:4:q%3Br" || !got.incremental || got.snapshot {
		t.Fatalf("incremental run: %+v", got)
	}
	keys, err := parseSnapshotKeys(got.snapshotKeys)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys["5:4"], []string{"q;r"}) || !slices.Equal(keys["5:3"], []string{"abc"}) {
		t.Fatalf("parsed keys %v", keys)
	}
}

// Key texts with the list's separators survive the round trip.
func TestSnapshotKeysRoundTrip(t *testing.T) {
	tb := &table{relID: 77, keyCols: []int{2, 0}}
	vals := [][]byte{[]byte("a:b;c,d%e"), []byte("ignored"), []byte("été 100%")}
	var kb keyBlock
	key := kb.add(tb, vals)
	s := string(appendChunkKey([]byte("1:0:5"), &chunk{t: tb, idx: 3}, key))
	got, err := parseSnapshotKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"été 100%", "a:b;c,d%e"}; !slices.Equal(got["77:3"], want) {
		t.Fatalf("%q parsed as %q, want %q", s, got["77:3"], want)
	}
	if !slices.Equal(got["1:0"], []string{"5"}) {
		t.Fatalf("first entry: %q", got["1:0"])
	}
	if escapeKeys(got["77:3"]) != string(key) {
		t.Fatalf("escapeKeys %q, key text %q", escapeKeys(got["77:3"]), key)
	}
	// A later key does not overwrite an earlier one's bytes.
	key2 := kb.add(tb, [][]byte{[]byte("x"), nil, []byte("y")})
	if string(key) != "été 100%25,a%3Ab%3Bc%2Cd%25e" || string(key2) != "y,x" {
		t.Fatalf("keys %q %q", key, key2)
	}
	for _, bad := range []string{"1:0", "x:0:1", "1:y:1", "1:0:%4"} {
		if _, err := parseSnapshotKeys(bad); err == nil || !strings.Contains(err.Error(), offSnapshotKeys) {
			t.Errorf("%q: error %v, want one naming %s", bad, err, offSnapshotKeys)
		}
	}
}

// A chunk read in key order resumes after its key, inside its range.
func TestChunkSQLResumesAfterKey(t *testing.T) {
	tb := &table{schema: "public", name: "acct", cols: []colDesc{{Name: "id"}, {Name: "v"}}}
	lo, hi := int64(100), int64(200)
	c := &chunk{t: tb, keyCol: "id", lo: &lo, hi: &hi, order: []string{"id"}, from: []string{"150"}}
	sql, params := chunkSQL(c)
	want := `SELECT "id", "v" FROM "public"."acct" WHERE "id" >= $1 AND "id" < $2 AND ("id") > ($3) ORDER BY "id"`
	if sql != want {
		t.Fatalf("sql\n%s\nwant\n%s", sql, want)
	}
	if len(params) != 3 || string(params[2]) != "150" {
		t.Fatalf("params %q", params)
	}
	k := &chunk{t: tb, keyCols: []string{"a", "b"}, after: []string{"1", "x"}, order: []string{"a", "b"}, from: []string{"2", "y"}}
	sql, params = chunkSQL(k)
	want = `SELECT "id", "v" FROM "public"."acct" WHERE ("a", "b") > ($1, $2) AND ("a", "b") > ($3, $4) ORDER BY "a", "b"`
	if sql != want || len(params) != 4 {
		t.Fatalf("sql\n%s\nwant\n%s (%q)", sql, want, params)
	}
	if sql, _ := chunkSQL(&chunk{t: tb}); strings.Contains(sql, "ORDER") {
		t.Fatalf("an unordered chunk is sorted: %s", sql)
	}
}

// A plan entry keeps its additional-conditions filter through the
// offset, whatever characters the filter holds, and every chunk of the
// plan reads only the rows the filter lets through.
func TestPlanFilterRoundTrip(t *testing.T) {
	tb := &table{relID: 7, schema: "public", name: "acct", cols: []colDesc{{Name: "id"}, {Name: "v"}}, keyCols: []int{0}}
	for _, p := range []tablePlan{
		{relID: 7, lo: 1, step: 100, n: 3, filter: `v = 1 AND "id" % 2 = 0`},
		{relID: 7, n: 1, filter: `v::text LIKE '%a;b:c,d%!' OR v IS NULL`},
		{relID: 8, bounds: [][]string{{"a:b", "%!x"}, {"c", "d"}}, n: 3, filter: "true"},
		{relID: 9, n: 1},
	} {
		s := joinPlans([]tablePlan{p, {relID: 10, n: 1}})
		back, err := parsePlans(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if len(back) != 2 || back[0].filter != p.filter || back[0].n != p.n || back[1].filter != "" || joinPlans(back) != s {
			t.Fatalf("%q came back as %+v", s, back)
		}
		if p.relID != 7 {
			continue
		}
		for _, c := range back[0].chunks(tb) {
			if sql, _ := chunkSQL(c); !strings.HasSuffix(sql, "("+p.filter+")") {
				t.Errorf("chunk %d of %q reads %s", c.idx, s, sql)
			}
		}
	}
	for _, bad := range []string{"7:1:%!", "7:1:%!%4", "7:1:%!%zz"} {
		if _, err := parsePlans(bad); err == nil || !strings.Contains(err.Error(), "filter") {
			t.Errorf("%q: error %v, want one about the filter", bad, err)
		}
	}
}

// Poll gives an offset only to the last record of a batch when it is a
// snapshot row, and that offset covers exactly the rows taken.
func TestTakeGivesTheBatchItsOffset(t *testing.T) {
	task := &Task{cfg: &Config{MaxBatchSize: 3}, queue: cdc.NewQueue[snapPos](100)}
	tb := &table{relID: 1}
	c0 := &chunk{t: tb, idx: 0}
	base := &snapBase{run: &snapRun{}, seq: 1, off: offset{snapshot: true, snapshotPlan: "1:1:10:2", lsnProc: 5, lsn: 5}}
	ctx := context.Background()
	for i := range 5 {
		r := &connectors.Record{Topic: "t"}
		o := base.off
		if err := task.emitAt(ctx, r, &o, snapPos{base: base, c: c0, key: []byte{'1' + byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	final := offset{lsnProc: 5, lastSnapshot: true}
	last := &connectors.Record{Topic: "t", SourceOffset: final.toMap()}
	if err := task.emit(ctx, last, &final); err != nil {
		t.Fatal(err)
	}
	b1 := task.take()
	if len(b1) != 3 || b1[0].SourceOffset != nil || b1[1].SourceOffset != nil {
		t.Fatalf("first batch %d records, offsets %v %v", len(b1), b1[0].SourceOffset, b1[1].SourceOffset)
	}
	if got, _ := parseOffsetMap(b1[2].SourceOffset); got.snapshotKeys != "1:0:3" {
		t.Fatalf("first batch's offset %v", b1[2].SourceOffset)
	}
	b2 := task.take()
	if len(b2) != 3 || b2[2] != last || b2[1].SourceOffset != nil {
		t.Fatalf("second batch: %d records, last %v", len(b2), b2[len(b2)-1].SourceOffset)
	}
	if got, _ := parseOffsetMap(b2[2].SourceOffset); !got.lastSnapshot {
		t.Fatalf("the final record's own offset was replaced: %v", b2[2].SourceOffset)
	}
	// waitCommitted's condition: the last offset returned is committed.
	part := map[string]any{"server": ""}
	if err := task.Commit(ctx, []connectors.SourceOffset{{Partition: part, Offset: b1[2].SourceOffset}}); err != nil {
		t.Fatal(err)
	}
	if task.allCommitted() {
		t.Fatal("all committed with the first batch's offset, though the second batch was returned")
	}
	if err := task.Commit(ctx, []connectors.SourceOffset{{Partition: part, Offset: b2[2].SourceOffset}}); err != nil {
		t.Fatal(err)
	}
	if !task.allCommitted() || task.queue.Len() != 0 {
		t.Fatal("the last offset returned is committed, yet not all committed")
	}
}
