package it

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sizes of the PostgreSQL source tests. CI runs small ones; the issue's
// full runs are SLUICE_IT_IDLE_BYTES=1073741824 and
// SLUICE_IT_BIGTX_ROWS=2000000 (and the pgbench sizes of
// replication_test.go).
var (
	idleBytes = envInt("SLUICE_IT_IDLE_BYTES", 64<<20)
	bigTxRows = envInt("SLUICE_IT_BIGTX_ROWS", 300_000)
)

// bigTxRSSMB bounds the worker's peak RSS in the large-transaction test.
const bigTxRSSMB = 150

// pgSourceConfig is a postgres source connector config for db on pg.
func pgSourceConfig(pg *harness.Postgres, db, prefix, slot string, extra map[string]string) map[string]string {
	cfg := map[string]string{
		"connector.class":   "postgres",
		"database.hostname": pg.Host,
		"database.port":     strconv.Itoa(pg.Port),
		"database.user":     pg.User,
		"database.dbname":   db,
		"topic.prefix":      prefix,
		"slot.name":         slot,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// jsonPayload returns the payload of a JsonConverter message, with or
// without the schema envelope; nil for a tombstone.
func jsonPayload(b []byte) (map[string]any, error) {
	if b == nil {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%q is not a JSON object: %w", b, err)
	}
	if p, ok := m["payload"]; ok {
		if _, ok := m["schema"]; ok {
			pm, _ := p.(map[string]any)
			return pm, nil
		}
	}
	return m, nil
}

// keyString renders a key struct as its field values in field-name order,
// joined by "|" (for a one-column key, just that value).
func keyString(key map[string]any) string {
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = normValue(key[n])
	}
	return strings.Join(parts, "|")
}

// normValue renders a JSON or pgx value the same way: numbers and strings
// as their text, null as "null".
func normValue(v any) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(v)
}

// cdcTable is the state of one change topic rebuilt by a consumer: the
// last `after` per key, and how many events arrived twice (same key,
// LSN and op).
type cdcTable struct {
	rows   map[string]map[string]string
	seen   map[string]struct{}
	events int
	dups   int
	ops    map[string]int // events per op
	reads  map[string]int // snapshot reads (op r) per key
}

// rereads is how many snapshot reads repeated a key already read.
func (tb *cdcTable) rereads() int {
	n := 0
	for _, c := range tb.reads {
		n += c - 1
	}
	return n
}

// cdcState consumes change topics from the start and rebuilds each
// table's last state.
type cdcState struct {
	mu     sync.Mutex
	tables map[string]*cdcTable // by topic
	read   map[string]int64     // records polled, by topic
}

func newCDCState() *cdcState {
	return &cdcState{tables: map[string]*cdcTable{}, read: map[string]int64{}}
}

func (s *cdcState) apply(r *kgo.Record) error {
	key, err := jsonPayload(r.Key)
	if err != nil {
		return fmt.Errorf("%s/%d@%d key: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if key == nil {
		return fmt.Errorf("%s/%d@%d has no key", r.Topic, r.Partition, r.Offset)
	}
	val, err := jsonPayload(r.Value)
	if err != nil {
		return fmt.Errorf("%s/%d@%d value: %w", r.Topic, r.Partition, r.Offset, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tb := s.tables[r.Topic]
	if tb == nil {
		tb = &cdcTable{rows: map[string]map[string]string{}, seen: map[string]struct{}{}, ops: map[string]int{}, reads: map[string]int{}}
		s.tables[r.Topic] = tb
	}
	k := keyString(key)
	if val == nil { // tombstone
		delete(tb.rows, k)
		return nil
	}
	tb.events++
	op, _ := val["op"].(string)
	src, _ := val["source"].(map[string]any)
	tb.ops[op]++
	if op == "r" {
		tb.reads[k]++
	}
	id := k + "@" + normValue(src["lsn"]) + "/" + op
	if _, dup := tb.seen[id]; dup {
		tb.dups++
	}
	tb.seen[id] = struct{}{}
	after, _ := val["after"].(map[string]any)
	if op == "d" || after == nil {
		delete(tb.rows, k)
		return nil
	}
	row := make(map[string]string, len(after))
	for c, v := range after {
		row[c] = normValue(v)
	}
	tb.rows[k] = row
	return nil
}

// poll applies what the client fetches within d.
func (s *cdcState) poll(t testing.TB, cl *kgo.Client, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := cl.PollFetches(ctx)
	fs.EachError(func(topic string, p int32, err error) {
		if ctx.Err() == nil {
			t.Logf("consuming %s[%d]: %v", topic, p, err)
		}
	})
	var applyErr error
	fs.EachRecord(func(r *kgo.Record) {
		if err := s.apply(r); err != nil && applyErr == nil {
			applyErr = err
		}
		s.mu.Lock()
		s.read[r.Topic]++
		s.mu.Unlock()
	})
	if applyErr != nil {
		t.Fatal(applyErr)
	}
}

func (s *cdcState) table(topic string) *cdcTable {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tb := s.tables[topic]; tb != nil {
		return tb
	}
	return &cdcTable{}
}

// sqlTable reads every row of table as key → column → text, the key
// being the values of keyCols joined by "|".
func sqlTable(ctx context.Context, c *pgx.Conn, table string, keyCols ...string) (map[string]map[string]string, error) {
	rows, err := c.Query(ctx, "SELECT * FROM "+table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	fields := rows.FieldDescriptions()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		row := make(map[string]string, len(vals))
		for i, v := range vals {
			row[fields[i].Name] = normValue(v)
		}
		parts := make([]string, len(keyCols))
		for i, k := range keyCols {
			parts[i] = row[k]
		}
		out[strings.Join(parts, "|")] = row
	}
	return out, rows.Err()
}

// diffRows says how got (rebuilt from a topic) differs from want (the
// table), or returns nil when they are equal.
func diffRows(table string, want, got map[string]map[string]string) error {
	if len(want) != len(got) {
		// Which keys: a lost snapshot chunk shows as a range of missing
		// integer keys.
		var missing, extra []string
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		return fmt.Errorf("%s: %d keys in the topic, %d rows in the table; missing from the topic %s; in the topic only %s",
			table, len(got), len(want), keySummary(missing), keySummary(extra))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Errorf("%s: key %s missing from the topic", table, k)
		}
		for c, wv := range w {
			if gv, ok := g[c]; !ok || gv != wv {
				return fmt.Errorf("%s key %s column %s: topic has %q, table has %q", table, k, c, gv, wv)
			}
		}
		if len(g) != len(w) {
			return fmt.Errorf("%s key %s: topic row has columns %v, table %v", table, k, g, w)
		}
	}
	return nil
}

// keySummary describes a set of keys: how many, and for integer keys
// their range and the runs of consecutive ones.
func keySummary(keys []string) string {
	if len(keys) == 0 {
		return "none"
	}
	var ints []int64
	for _, k := range keys {
		n, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			sort.Strings(keys)
			return fmt.Sprintf("%d keys, first %v", len(keys), keys[:min(len(keys), 20)])
		}
		ints = append(ints, n)
	}
	slices.Sort(ints)
	var runs []string
	for i := 0; i < len(ints); {
		j := i
		for j+1 < len(ints) && ints[j+1] <= ints[j]+50 {
			j++
		}
		runs = append(runs, fmt.Sprintf("%d-%d (%d keys)", ints[i], ints[j], j-i+1))
		i = j + 1
	}
	if len(runs) > 20 {
		runs = append(runs[:20], "...")
	}
	return fmt.Sprintf("%d keys in runs %v", len(ints), runs)
}

// sourceOffsets returns the connector's committed source offsets.
func sourceOffsets(t testing.TB, w *harness.Worker, name string) []map[string]any {
	t.Helper()
	st, out := w.Do("GET", "/connectors/"+name+"/offsets", nil)
	if st != http.StatusOK {
		return nil
	}
	var body offsetsBody
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("offsets of %s: %s: %v", name, out, err)
	}
	var res []map[string]any
	for _, o := range body.Offsets {
		res = append(res, o.Offset)
	}
	return res
}

// TestPostgresSourceUnderLoad captures a pgbench database while pgbench
// runs, kills the worker with kill -9 in the middle of the snapshot and
// again in the middle of the stream, restarts the source PostgreSQL in
// the middle of the stream, and checks
// that the last value per key in each topic equals the table and that
// pgbench_history's topic has every row. Sizes:
// SLUICE_IT_PGBENCH_SCALE, SLUICE_IT_PGBENCH_SECONDS.
func TestPostgresSourceUnderLoad(t *testing.T) {
	t.Parallel()
	src := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	db := src.CreateDB(t, "bench")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	if out, err := src.Pgbench(ctx, db, "-i", "-q", "-s", strconv.Itoa(pgbenchScale)); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	src.Exec(t, db, "ALTER TABLE pgbench_history ADD COLUMN id bigserial PRIMARY KEY", "ANALYZE")
	accounts := 100_000 * pgbenchScale

	props, _ := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	create(t, w, "pg-source", pgSourceConfig(src, db, "bench", "sluice_load", map[string]string{
		"table.include.list":   "public.pgbench_.*",
		"snapshot.max.threads": "2",
		// About 20 chunks in pgbench_accounts, so that the snapshot is
		// still running after an offset flush records finished chunks.
		"sluice.snapshot.chunk.size": strconv.Itoa(accounts / 20),
	}))

	// pgbench runs throughout; a run cut by the PostgreSQL restart is
	// started again until the time is up.
	var restarting atomic.Bool
	var restartedAt atomic.Int64
	var cuts atomic.Int32
	loadDone := make(chan error, 1)
	loadEnd := time.Now().Add(time.Duration(pgbenchSeconds) * time.Second)
	go func() {
		runs := 0
		for {
			left := time.Until(loadEnd).Round(time.Second)
			if left < time.Second {
				if runs == 0 {
					loadDone <- fmt.Errorf("pgbench never ran")
				} else {
					loadDone <- nil
				}
				return
			}
			out, err := src.Pgbench(ctx, db, pgbenchArgs(int(left.Seconds()))...)
			runs++
			if err == nil {
				continue
			}
			if !restarting.Load() && time.Since(time.Unix(0, restartedAt.Load())) > 3*time.Second {
				loadDone <- fmt.Errorf("pgbench: %v\n%s", err, out)
				return
			}
			cuts.Add(1)
			for restarting.Load() && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()

	adm := kadm.NewClient(br.Client(t, kgo.MetadataMinAge(50*time.Millisecond)))
	// Kill the worker once a committed offset records finished snapshot
	// chunks while the snapshot is still running.
	harness.WaitFor(t, 3*time.Minute, "a committed offset in the middle of the snapshot", func() error {
		for _, o := range sourceOffsets(t, w, "pg-source") {
			if o["snapshot"] == true {
				if chunks, _ := o["snapshot_chunks"].(string); chunks != "" {
					return nil
				}
			}
			if o["snapshot"] != true {
				t.Fatalf("the snapshot ended before an offset recorded it in progress (offset %v): nothing to kill mid-snapshot", o)
			}
		}
		return fmt.Errorf("no snapshot offset with finished chunks yet")
	})
	inTopic := endOffsets(t, adm, "bench.public.pgbench_accounts")
	atKill := sourceOffsets(t, w, "pg-source")
	t.Logf("kill -9 of the worker mid-snapshot: %d of %d pgbench_accounts rows in the topic, offsets %v", inTopic, accounts, atKill)
	if inTopic >= int64(accounts) {
		t.Fatalf("pgbench_accounts already has %d records (of %d rows): the kill was not mid-snapshot", inTopic, accounts)
	}
	w.Kill()
	w.Start(t)

	streaming := func(what string, after float64) {
		harness.WaitFor(t, 5*time.Minute, what, func() error {
			if time.Now().After(loadEnd) {
				// pgbench is done: make a transaction to stream.
				pg := src.Connect(t, db)
				defer pg.Close(context.Background())
				if _, err := pg.Exec(ctx, "UPDATE pgbench_tellers SET tbalance = tbalance WHERE tid = 1"); err != nil {
					return err
				}
			}
			for _, o := range sourceOffsets(t, w, "pg-source") {
				if lc, ok := o["lsn_commit"].(float64); ok && lc > after && o["snapshot"] == nil {
					return nil
				}
			}
			return fmt.Errorf("offsets %v", sourceOffsets(t, w, "pg-source"))
		})
	}
	streaming("the resumed task streaming with a committed offset", 0)
	// Kill it again mid-stream, once it committed a streamed transaction
	// and another one after that.
	var lastCommit float64
	for _, o := range sourceOffsets(t, w, "pg-source") {
		lastCommit, _ = o["lsn_commit"].(float64)
	}
	streaming("a second streamed transaction committed", lastCommit)
	atKill2 := sourceOffsets(t, w, "pg-source")
	for _, o := range atKill2 {
		lastCommit, _ = o["lsn_commit"].(float64)
	}
	t.Logf("kill -9 of the worker mid-stream: offsets %v", atKill2)
	w.Kill()
	w.Start(t)
	streaming("the restarted task streaming past the kill", lastCommit)
	// Restart the source two thirds into the load (or now, if the
	// snapshot took longer).
	if d := time.Until(loadEnd.Add(-time.Duration(pgbenchSeconds) * time.Second / 3)); d > 0 {
		select {
		case err := <-loadDone:
			t.Fatalf("pgbench ended early: %v", err)
		case <-time.After(d):
		}
	}
	if time.Until(loadEnd) < 2*time.Second {
		t.Logf("the snapshot outlasted most of the load: restarting the source PostgreSQL after it")
	}
	t.Log("restarting the source PostgreSQL mid-stream")
	restarting.Store(true)
	src.Restart(t, false)
	restartedAt.Store(time.Now().UnixNano())
	restarting.Store(false)
	if err := <-loadDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("pgbench runs cut by the PostgreSQL restart and started again: %d", cuts.Load())

	srcConn := src.Connect(t, db)
	type want struct {
		table, topic string
		rows         map[string]map[string]string
	}
	var wants []want
	for _, tb := range []struct{ name, key string }{{"pgbench_branches", "bid"}, {"pgbench_tellers", "tid"}, {"pgbench_accounts", "aid"}, {"pgbench_history", "id"}} {
		rows, err := sqlTable(ctx, srcConn, tb.name, tb.key)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			t.Fatalf("%s is empty: the comparison would prove nothing", tb.name)
		}
		wants = append(wants, want{tb.name, "bench.public." + tb.name, rows})
	}

	newReader := func() *kgo.Client {
		return br.Client(t, kgo.ConsumeRegex(), kgo.ConsumeTopics(`bench\.public\.pgbench_.*`),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(50*time.Millisecond),
			kgo.FetchMaxWait(200*time.Millisecond))
	}
	cl := newReader()
	state := newCDCState()
	deadline := time.Now().Add(5 * time.Minute)
	lastRead, lastProgress := int64(0), time.Now()
	for {
		state.poll(t, cl, time.Second)
		// The test's own reader has been seen to stop making progress
		// on a loaded machine after the broker restarts, while a fresh
		// client reads the records: replace a stalled reader (and say so)
		// so that a slow reader is not taken for lost records.
		state.mu.Lock()
		total := int64(0)
		for _, n := range state.read {
			total += n
		}
		state.mu.Unlock()
		if total != lastRead {
			lastRead, lastProgress = total, time.Now()
		} else if time.Since(lastProgress) > 30*time.Second {
			behind := false
			for _, wt := range wants {
				state.mu.Lock()
				n := state.read[wt.topic]
				state.mu.Unlock()
				if n < endOffsets(t, adm, wt.topic) {
					behind = true
				}
			}
			if behind {
				t.Logf("the test's reader made no progress for 30 s with records left to read; reading again with a new client")
				cl.Close()
				cl = newReader()
				state = newCDCState()
				lastRead, lastProgress = 0, time.Now()
			}
		}
		err := func() error {
			state.mu.Lock()
			defer state.mu.Unlock()
			for _, wt := range wants {
				got := state.tables[wt.topic]
				if got == nil {
					return fmt.Errorf("nothing consumed from %s", wt.topic)
				}
				if wt.table == "pgbench_history" {
					// Every row, by id (mtime is a timestamp, checked elsewhere).
					if len(got.rows) != len(wt.rows) {
						return fmt.Errorf("pgbench_history: %d ids in the topic, %d rows in the table", len(got.rows), len(wt.rows))
					}
					for id := range wt.rows {
						if _, ok := got.rows[id]; !ok {
							return fmt.Errorf("pgbench_history: id %s missing from the topic", id)
						}
					}
					continue
				}
				if err := diffRows(wt.table, wt.rows, got.rows); err != nil {
					return err
				}
			}
			return nil
		}()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			// A slow read and a lost record look alike: say which.
			var progress []string
			for _, wt := range wants {
				state.mu.Lock()
				n := state.read[wt.topic]
				state.mu.Unlock()
				progress = append(progress, fmt.Sprintf("%s: read %d of %d records", wt.topic, n, endOffsets(t, adm, wt.topic)))
			}
			t.Fatalf("topics not equal to the source after 5 min: %v\nconsumer: %s\nthe task's snapshot and reconnect lines:\n%s\nworker log:\n%s",
				err, strings.Join(progress, "; "), grepLines(w.Log(), "snapshot", "reconnect", "resum", "slot", "kill"), tail(w.Log(), 4000))
		}
	}
	for _, wt := range wants {
		tb := state.table(wt.topic)
		t.Logf("%s: %d rows equal to the topic's last values; %d events %v, %d duplicates (same key, LSN and op), %d snapshot reads of a key already read (rows of chunks unfinished at the kill, read again)",
			wt.table, len(wt.rows), tb.events, tb.ops, tb.dups, tb.rereads())
	}
	// No chunk the offset recorded as finished before the kill is read
	// again (the chunks are committed ranges of aid).
	var relid uint32
	if err := srcConn.QueryRow(ctx, "SELECT 'pgbench_accounts'::regclass::oid").Scan(&relid); err != nil {
		t.Fatal(err)
	}
	chunkOf, finished, err := finishedChunks(atKill, relid)
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for k, n := range state.table("bench.public.pgbench_accounts").reads {
		aid, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			t.Fatalf("pgbench_accounts key %q: %v", k, err)
		}
		if n > 1 && finished[chunkOf(aid)] {
			again++
		}
	}
	if again > 0 {
		t.Errorf("%d pgbench_accounts rows of chunks finished before the mid-snapshot kill (%v) were read again", again, finished)
	}
	t.Logf("pgbench_accounts chunks finished before the mid-snapshot kill and not read again: %v", finished)
	st := getStatus(t, w, "pg-source")
	for _, task := range st.Tasks {
		if task.State != "RUNNING" {
			t.Errorf("pg-source task %d %s: %s", task.ID, task.State, task.Trace)
		}
	}
}

// finishedChunks reads, from snapshot offsets, the integer-key plan of
// table relid ("relid:lo:step:n": chunk i holds keys from lo+i*step, the
// first has no lower bound and the last no upper one) and the chunks
// recorded as finished ("relid:i,..."). It returns the chunk of a key and
// the finished set.
func finishedChunks(offsets []map[string]any, relid uint32) (func(int64) int, map[int]bool, error) {
	id := strconv.FormatUint(uint64(relid), 10)
	for _, o := range offsets {
		plan, _ := o["snapshot_plan"].(string)
		done, _ := o["snapshot_chunks"].(string)
		for _, p := range strings.Split(plan, ";") {
			f := strings.Split(p, ":")
			if f[0] != id {
				continue
			}
			if len(f) != 4 {
				return nil, nil, fmt.Errorf("snapshot plan %q of table %s: want relid:lo:step:n", p, id)
			}
			lo, err1 := strconv.ParseInt(f[1], 10, 64)
			step, err2 := strconv.ParseInt(f[2], 10, 64)
			n, err3 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil || err3 != nil || step < 1 || n < 1 {
				return nil, nil, fmt.Errorf("snapshot plan %q of table %s: want relid:lo:step:n", p, id)
			}
			finished := map[int]bool{}
			for _, c := range strings.Split(done, ",") {
				if rel, idx, ok := strings.Cut(c, ":"); ok && rel == id {
					i, err := strconv.Atoi(idx)
					if err != nil {
						return nil, nil, fmt.Errorf("snapshot_chunks %q: %w", done, err)
					}
					finished[i] = true
				}
			}
			chunkOf := func(k int64) int {
				i := (k - lo) / step
				if k < lo {
					i = 0
				}
				return int(min(i, int64(n-1)))
			}
			return chunkOf, finished, nil
		}
	}
	return nil, nil, fmt.Errorf("no snapshot plan of table %s in offsets %v", id, offsets)
}

// tail returns the last n bytes of s.
// grepLines returns the lines of s that contain any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// slotLSNs returns the slot's confirmed_flush_lsn and restart_lsn as
// numbers.
func slotLSNs(ctx context.Context, c *pgx.Conn, slot string) (confirmed, restart uint64, err error) {
	err = c.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn - '0/0'::pg_lsn, 0)::bigint, coalesce(restart_lsn - '0/0'::pg_lsn, 0)::bigint
		FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&confirmed, &restart)
	return confirmed, restart, err
}

func lsnText(n uint64) string { return fmt.Sprintf("%X/%X", n>>32, uint32(n)) }

// TestIdleSlotAdvances writes SLUICE_IT_IDLE_BYTES of WAL (the issue: 1
// GB) into a database the connector does not capture and checks that the
// slot's confirmed_flush_lsn and restart_lsn move past it, so the server
// can recycle that WAL without a heartbeat table.
func TestIdleSlotAdvances(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	db := pg.CreateDB(t, "idle")
	other := pg.CreateDB(t, "other")
	pg.Exec(t, db, "CREATE TABLE small (id int PRIMARY KEY, v text)", "INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	pg.Exec(t, other, "CREATE TABLE junk (id bigint, t text)")

	props, _ := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	create(t, w, "idle", pgSourceConfig(pg, db, "idle", "sluice_idle", map[string]string{"table.include.list": "public.small"}))
	adm := kadm.NewClient(br.Client(t, kgo.MetadataMinAge(50*time.Millisecond)))
	harness.WaitFor(t, 2*time.Minute, "the snapshot of public.small in Kafka", func() error {
		if n := endOffsets(t, adm, "idle.public.small"); n < 3 {
			return fmt.Errorf("%d of 3 records", n)
		}
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	meta := pg.Connect(t, "postgres")
	harness.WaitFor(t, time.Minute, "slot sluice_idle active", func() error {
		var active bool
		if err := meta.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'sluice_idle'").Scan(&active); err != nil {
			return err
		}
		if !active {
			return fmt.Errorf("inactive")
		}
		return nil
	})
	conf0, restart0, err := slotLSNs(ctx, meta, "sluice_idle")
	if err != nil {
		t.Fatal(err)
	}

	// Write the WAL into the other database, in statements of ~25 MB.
	oc := pg.Connect(t, other)
	var start uint64
	if err := oc.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").Scan(&start); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var end uint64
	for end < start+uint64(idleBytes) {
		if _, err := oc.Exec(ctx, "INSERT INTO junk SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 80000) g"); err != nil {
			t.Fatal(err)
		}
		if _, err := oc.Exec(ctx, "TRUNCATE junk"); err != nil {
			t.Fatal(err)
		}
		if err := oc.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").Scan(&end); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d MB of WAL into database %s in %v (slot before: confirmed %s, restart %s; WAL now at %s)",
		(end-start)>>20, other, time.Since(began).Round(time.Millisecond), lsnText(conf0), lsnText(restart0), lsnText(end))

	var conf, restart uint64
	harness.WaitFor(t, 3*time.Minute, "the slot's confirmed_flush_lsn and restart_lsn past the written WAL", func() error {
		conf, restart, err = slotLSNs(ctx, meta, "sluice_idle")
		if err != nil {
			return err
		}
		if conf < end {
			return fmt.Errorf("confirmed_flush_lsn %s is behind %s", lsnText(conf), lsnText(end))
		}
		// restart_lsn moves at the next running-xacts record after the
		// confirmed position (the bgwriter logs one every 15 s while WAL
		// is written).
		if restart <= restart0 || restart < start+uint64(idleBytes)/2 {
			return fmt.Errorf("restart_lsn %s has not moved past the written WAL (was %s, writes began at %s)", lsnText(restart), lsnText(restart0), lsnText(start))
		}
		return nil
	})
	var current uint64
	if err := meta.QueryRow(ctx, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").Scan(&current); err != nil {
		t.Fatal(err)
	}
	t.Logf("slot after %v: confirmed_flush_lsn %s, restart_lsn %s; WAL retained for the slot: %d kB of %d MB written",
		time.Since(began).Round(time.Millisecond), lsnText(conf), lsnText(restart), (current-restart)>>10, (end-start)>>20)
	if n := endOffsets(t, adm, "idle.public.small"); n != 3 {
		t.Errorf("idle.public.small has %d records, want the 3 of the snapshot", n)
	}
}

// TestLargeTransactionBoundedMemory commits one transaction of
// SLUICE_IT_BIGTX_ROWS rows (the issue: 2 M) into a captured table. The
// server streams it while it runs (logical_decoding_work_mem=1MB); the
// worker must buffer it beyond a small in-memory budget on disk, deliver
// every row, and keep its peak RSS under 150 MB (asserted without the
// race detector, which inflates memory several times).
func TestLargeTransactionBoundedMemory(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{Settings: map[string]string{"logical_decoding_work_mem": "1MB"}})
	br := harness.StartBroker(t)
	db := pg.CreateDB(t, "bigtx")
	pg.Exec(t, db, "CREATE TABLE big (id bigint PRIMARY KEY, a int, b text, c timestamptz)")

	props, _ := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	// The task spills into its scratch directory under the data directory.
	spillDir := filepath.Join(w.DataDir(), "spill", "bigtx", "0")
	w.Start(t)
	create(t, w, "bigtx", pgSourceConfig(pg, db, "bigtx", "sluice_bigtx", map[string]string{
		"snapshot.mode":              "no_data",
		"sluice.stream.buffer.bytes": strconv.Itoa(4 << 20),
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	meta := pg.Connect(t, "postgres")
	harness.WaitFor(t, time.Minute, "slot sluice_bigtx active", func() error {
		var active bool
		if err := meta.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'sluice_bigtx'").Scan(&active); err != nil {
			return err
		}
		if !active {
			return fmt.Errorf("inactive")
		}
		return nil
	})
	rssBefore := rssKB(w.PID())

	// Watch the spill directory while the transaction is buffered.
	var spilled atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			files, _ := filepath.Glob(filepath.Join(spillDir, "sluice-pg-xid*"))
			var sum int64
			for _, f := range files {
				if fi, err := os.Stat(f); err == nil {
					sum += fi.Size()
				}
			}
			if sum > spilled.Load() {
				spilled.Store(sum)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-watched
	}()

	began := time.Now()
	if _, err := pg.Connect(t, db).Exec(ctx, `INSERT INTO big SELECT g, g % 1000, md5(g::text), now() FROM generate_series(1, $1::bigint) g`, bigTxRows); err != nil {
		t.Fatal(err)
	}
	committed := time.Since(began)
	adm := kadm.NewClient(br.Client(t, kgo.MetadataMinAge(50*time.Millisecond)))
	harness.WaitFor(t, 20*time.Minute, "every row of the transaction in Kafka", func() error {
		if st := getStatus(t, w, "bigtx"); len(st.Tasks) == 1 && st.Tasks[0].State == "FAILED" {
			t.Fatalf("task failed: %s", st.Tasks[0].Trace)
		}
		if n := endOffsets(t, adm, "bigtx.public.big"); n < int64(bigTxRows) {
			return fmt.Errorf("%d of %d rows", n, bigTxRows)
		}
		return nil
	})
	delivered := time.Since(began)
	close(stop)
	<-watched
	if n := endOffsets(t, adm, "bigtx.public.big"); n != int64(bigTxRows) {
		t.Errorf("bigtx.public.big has %d records, want %d", n, bigTxRows)
	}
	peak := peakRSSKB(w.PID())
	t.Logf("%d-row transaction: committed in %v, all in Kafka after %v; worker RSS %d MB before, peak %d MB; largest spill file total %d MB (race detector: %v)",
		bigTxRows, committed.Round(time.Millisecond), delivered.Round(time.Millisecond), rssBefore>>10, peak>>10, spilled.Load()>>20, raceDetector)
	if spilled.Load() == 0 {
		t.Errorf("no spill file appeared in %s: the streamed transaction (over the 4 MB sluice.stream.buffer.bytes) was held in memory", spillDir)
	}
	if !raceDetector && peak > bigTxRSSMB<<10 {
		t.Errorf("worker peak RSS %d MB, want < %d MB", peak>>10, bigTxRSSMB)
	}
}
