package it

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Sizes of the exactly-once PostgreSQL test.
var (
	eosRows   = envInt("SLUICE_IT_EOS_ROWS", 100_000)
	eosBigTx  = envInt("SLUICE_IT_EOS_BIGTX_ROWS", 20_000)
	eosRate   = envInt("SLUICE_IT_EOS_RATE", 15_000) // records/s of the source, so that restarts land mid-snapshot
	eosChunks = 10
)

// TestPgEOS runs a PostgreSQL source under a worker with
// exactly.once.source.support=enabled while the test restarts its task
// three times and kills the worker (kill -9) once during the snapshot of
// a 100k-row table (two snapshot threads), and again restarts the task
// and kills the worker in the middle of two large transactions that the
// server streams and the task spills to disk; rows change all along. A
// read_committed consumer must see every snapshot row once (a row changed
// meanwhile at most once), every change exactly once (by table, key, op,
// LSN and txId) and nothing missing; a JDBC replica ends equal to the
// source. The control run does the same with exactly-once disabled and
// shows that the scenario does produce duplicates there.
func TestPgEOS(t *testing.T) {
	t.Run("ExactlyOnce", func(t *testing.T) {
		res := runPgEOS(t, true)
		t.Logf("exactly once: %d snapshot reads, %d changes; %d read twice, %d changes twice", res.reads, res.changes, res.readDups, res.changeDups)
		if res.readDups != 0 || res.changeDups != 0 {
			t.Errorf("duplicates under exactly-once: %d snapshot rows read more than once, %d change events more than once (first: %v)",
				res.readDups, res.changeDups, res.examples)
		}
	})
	t.Run("AtLeastOnceControl", func(t *testing.T) {
		res := runPgEOS(t, false)
		t.Logf("at least once: %d snapshot reads, %d changes; %d read twice, %d changes twice", res.reads, res.changes, res.readDups, res.changeDups)
		if res.readDups+res.changeDups == 0 {
			t.Errorf("the control run (exactly-once disabled) saw no duplicate: the scenario does not test what it claims")
		}
	})
}

// eosResult is what a run of the scenario saw.
type eosResult struct {
	reads, changes       int
	readDups, changeDups int
	examples             []string
}

// eosEvents is what a read_committed consumer of the table's topic saw.
type eosEvents struct {
	mu      sync.Mutex
	reads   map[string]int // snapshot reads per key
	events  map[string]int // change events per key@lsn/txId/op
	changes map[string]int // change events per key/op
	bigSeen map[string]int // change events per txId
	total   int
	err     error
}

func (e *eosEvents) apply(r *kgo.Record) {
	val, err := jsonPayload(r.Value)
	if err != nil || val == nil { // a tombstone
		if err != nil && e.err == nil {
			e.err = err
		}
		return
	}
	key, err := jsonPayload(r.Key)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return
	}
	k := keyString(key)
	op, _ := val["op"].(string)
	src, _ := val["source"].(map[string]any)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	if op == "r" {
		e.reads[k]++
		return
	}
	tx := normValue(src["txId"])
	e.events[k+"@"+normValue(src["lsn"])+"/"+tx+"/"+op]++
	e.changes[k+"/"+op]++
	e.bigSeen[tx]++
}

func (e *eosEvents) counts() (reads, distinctReads, total int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.reads {
		reads += n
	}
	return reads, len(e.reads), e.total
}

// txSeen is how many change events of transaction txID arrived.
func (e *eosEvents) txSeen(txID int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bigSeen[strconv.FormatInt(txID, 10)]
}

// eosWriter changes rows while the snapshot runs, and logs what each
// change must produce.
type eosWriter struct {
	mu      sync.Mutex
	want    map[string]int // change events per key/op
	touched map[string]bool
	nextID  int
}

func (w *eosWriter) log(id int, op string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := strconv.Itoa(id)
	w.want[k+"/"+op]++
	w.touched[k] = true
}

// step makes one random change: an update, an insert or a delete.
func (w *eosWriter) step(ctx context.Context, c *pgx.Conn) error {
	var id int
	switch n := rand.IntN(10); {
	case n < 6:
		err := c.QueryRow(ctx, "UPDATE acct SET v = v + 1 WHERE id = $1 RETURNING id", 1+rand.IntN(eosRows)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted earlier
		}
		if err != nil {
			return err
		}
		w.log(id, "u")
	case n < 8:
		w.mu.Lock()
		w.nextID++
		id = w.nextID
		w.mu.Unlock()
		if _, err := c.Exec(ctx, "INSERT INTO acct VALUES ($1, 0, 'new')", id); err != nil {
			return err
		}
		w.log(id, "c")
	default:
		err := c.QueryRow(ctx, "DELETE FROM acct WHERE id = $1 RETURNING id", 1+rand.IntN(eosRows)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		w.log(id, "d")
	}
	return nil
}

// tableDigest is the row count and an md5 of every row of acct in key
// order.
func tableDigest(ctx context.Context, c *pgx.Conn) (string, error) {
	var n int64
	var sum *string
	err := c.QueryRow(ctx, "SELECT count(*), md5(string_agg(id::text || ':' || v::text || ':' || coalesce(pad, '~'), ',' ORDER BY id)) FROM acct").Scan(&n, &sum)
	if err != nil {
		return "", err
	}
	if sum == nil {
		return fmt.Sprintf("%d rows", n), nil
	}
	return fmt.Sprintf("%d rows, md5 %s", n, *sum), nil
}

func runPgEOS(t *testing.T, eos bool) eosResult {
	began := time.Now()
	pg := harness.StartPostgres(t, harness.PostgresOptions{Settings: map[string]string{"logical_decoding_work_mem": "64kB"}})
	br := harness.StartBroker(t)
	db := pg.CreateDB(t, "eos")
	replica := pg.CreateDB(t, "eosreplica")
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, pad text)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0, repeat('p', 20) FROM generate_series(1, %d) g", eosRows), "ANALYZE acct")
	support := "disabled"
	if eos {
		support = "enabled"
	}
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: map[string]string{
		"group.id": "eos", "config.storage.topic": "eos-configs", "offset.storage.topic": "eos-offsets",
		"status.storage.topic": "eos-status", "exactly.once.source.support": support,
		// At least once, offsets are flushed every 10 s: a kill -9 resends
		// what was sent since.
		"offset.flush.interval.ms": "10000"}})
	w.JSON("POST", "/connectors", map[string]any{"name": "c", "config": pgSourceConfig(pg, db, "eos", "eos_slot", map[string]string{
		"table.include.list":                "public.acct",
		"snapshot.max.threads":              "2",
		"sluice.snapshot.chunk.size":        strconv.Itoa(eosRows / eosChunks),
		"sluice.stream.buffer.bytes":        "65536", // large transactions spill to disk
		"sluice.rate.limit.records.per.sec": strconv.Itoa(eosRate),
	})}, 201, nil)
	w.JSON("POST", "/connectors", map[string]any{"name": "s", "config": map[string]string{
		"connector.class": "jdbc", "connection.url": pg.JDBCURL(replica), "connection.username": pg.User,
		"topics": "eos.public.acct", "insert.mode": "upsert", "primary.key.mode": "record_key", "delete.enabled": "true",
		"schema.evolution": "basic", "table.name.format": "${source.table}",
	}}, 201, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := &eosEvents{reads: map[string]int{}, events: map[string]int{}, changes: map[string]int{}, bigSeen: map[string]int{}}
	cl := br.Client(t, kgo.ConsumeTopics("eos.public.acct"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(ev.apply)
		}
	}()
	defer wg.Wait()
	defer cancel()
	// Where the worker stands, for the interruptions: the records it
	// wrote to the topic (committed or not). The consumer may lag behind.
	adm := kadm.NewClient(br.Client(t, freshMetadata))
	produced := func() int64 { return endOffsets(t, adm, "eos.public.acct") }
	waitProduced := func(n int64, what string) int64 {
		t.Helper()
		var got int64
		harness.WaitFor(t, 5*time.Minute, what, func() error {
			if got = produced(); got < n {
				return fmt.Errorf("%d records written, waiting for %d", got, n)
			}
			return nil
		})
		return got
	}
	offset := func() map[string]any {
		for _, o := range sourceOffsets(t, w, "c") {
			return o
		}
		return nil
	}
	// brief is an offset without its plan, for the log.
	brief := func(o map[string]any) string {
		var b []string
		for _, k := range []string{"snapshot", "snapshot_incremental", "snapshot_chunks", "snapshot_keys", "txId", "event", "event_part"} {
			if v, ok := o[k]; ok {
				b = append(b, fmt.Sprintf("%s=%v", k, v))
			}
		}
		return fmt.Sprint(b)
	}

	// Rows change during the snapshot, from its first rows on (after the
	// slot's consistent point).
	wr := &eosWriter{want: map[string]int{}, touched: map[string]bool{}, nextID: eosRows + 1000}
	waitReads := func(n int, what string) {
		t.Helper()
		harness.WaitFor(t, 5*time.Minute, what, func() error {
			if reads, _, _ := ev.counts(); reads < n {
				return fmt.Errorf("%d snapshot rows read so far, waiting for %d", reads, n)
			}
			return nil
		})
	}
	waitReads(1, "the snapshot's first rows")
	writeCtx, stopWrites := context.WithCancel(ctx)
	writeErr := make(chan error, 1)
	go func() {
		c, err := pgx.Connect(writeCtx, pg.DBURL(db))
		if err != nil {
			writeErr <- err
			return
		}
		defer c.Close(context.Background())
		for writeCtx.Err() == nil {
			// A statement once sent runs to its answer: cancelled midway,
			// a change the server made would go unlogged, and the test
			// would count its event as "a change never made".
			if err := wr.step(context.WithoutCancel(writeCtx), c); err != nil && writeCtx.Err() == nil {
				writeErr <- err
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		writeErr <- nil
	}()
	restart := func() {
		t.Helper()
		if code, out := w.Do("POST", "/connectors/c/tasks/0/restart", nil); code != http.StatusNoContent {
			t.Fatalf("POST /connectors/c/tasks/0/restart: %d %s", code, out)
		}
	}
	for i, at := range []int64{int64(eosRows) / 8, int64(eosRows) / 4, 3 * int64(eosRows) / 8} {
		n := waitProduced(at, fmt.Sprintf("%d records before restart %d", at, i+1))
		t.Logf("restarting the task after %d records; committed offset %s", n, brief(offset()))
		restart()
	}
	n := waitProduced(int64(eosRows)/2, "half the snapshot")
	o := offset()
	t.Logf("kill -9 of the worker after %d records; committed offset %s", n, brief(o))
	if o["snapshot"] != true && o["snapshot_incremental"] != true {
		t.Errorf("the kill -9 came after the snapshot: committed offset %v", o)
	}
	w.Kill()
	w.Start(t)
	// The snapshot is over when the committed offset says neither
	// snapshot nor incremental.
	harness.WaitFor(t, 5*time.Minute, "the snapshot to finish", func() error {
		for _, o := range sourceOffsets(t, w, "c") {
			if o["snapshot"] == true || o["snapshot_incremental"] == true {
				return fmt.Errorf("still snapshotting: %v", o)
			}
			if o != nil {
				return nil
			}
		}
		return errors.New("no offset yet")
	})
	stopWrites()
	if err := <-writeErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	wr.mu.Lock()
	touched := len(wr.touched)
	wr.mu.Unlock()
	t.Logf("snapshot done after %v (committed offset %s); %d rows changed meanwhile", time.Since(began).Round(time.Second), brief(offset()), touched)

	// Streaming: small changes, and two large transactions (streamed by
	// the server, spilled by the task), one interrupted by a task restart
	// and one by kill -9.
	conn := pg.Connect(t, db)
	for range 50 {
		if err := wr.step(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	bigTx := func(lo int, interrupt func()) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var txID int64
		if err := tx.QueryRow(ctx, "SELECT txid_current()").Scan(&txID); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "UPDATE acct SET v = v + 1, pad = repeat('b', 40) WHERE id >= $1 AND id < $2 RETURNING id", lo, lo+eosBigTx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		start := produced()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			wr.log(id, "u")
		}
		// Interrupt once the worker wrote a few thousand of its records.
		n := waitProduced(start+3000, fmt.Sprintf("the first records of transaction %d", txID)) - start
		if n >= int64(len(ids)) {
			t.Errorf("transaction %d (%d rows) was written before the interruption (%d records): not interrupted mid-stream", txID, len(ids), n)
		}
		t.Logf("interrupting transaction %d after about %d of its %d records; committed offset %s", txID, n, len(ids), brief(offset()))
		interrupt()
		harness.WaitFor(t, 3*time.Minute, fmt.Sprintf("all events of transaction %d", txID), func() error {
			if n := ev.txSeen(txID); n < len(ids) {
				return fmt.Errorf("%d of %d", n, len(ids))
			}
			return nil
		})
	}
	bigTx(1, restart)
	for range 50 {
		if err := wr.step(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}
	bigTx(eosRows/2, func() {
		w.Kill()
		w.Start(t)
	})
	for range 50 {
		if err := wr.step(ctx, conn); err != nil {
			t.Fatal(err)
		}
	}

	// Everything arrives, and the replica is the source.
	want := func() map[string]int {
		wr.mu.Lock()
		defer wr.mu.Unlock()
		out := make(map[string]int, len(wr.want))
		for k, v := range wr.want {
			out[k] = v
		}
		return out
	}()
	var lastCheck time.Time
	harness.WaitFor(t, 5*time.Minute, "every change in the topic and the replica equal to the source", func() error {
		ev.mu.Lock()
		missing := 0
		for k, n := range want {
			if ev.changes[k] < n {
				missing++
			}
		}
		ev.mu.Unlock()
		if missing > 0 {
			return fmt.Errorf("%d keys/ops short of their change events", missing)
		}
		// A digest of each table, computed by the server, once a second.
		if time.Since(lastCheck) < time.Second {
			return errors.New("checking the replica once a second")
		}
		lastCheck = time.Now()
		src, err := tableDigest(ctx, conn)
		if err != nil {
			return err
		}
		rc, err := pgx.Connect(ctx, pg.DBURL(replica))
		if err != nil {
			return err
		}
		defer rc.Close(context.Background())
		dst, err := tableDigest(ctx, rc)
		if err != nil {
			return fmt.Errorf("replica: %w", err)
		}
		if src != dst {
			return fmt.Errorf("replica %s, source %s", dst, src)
		}
		return nil
	})
	t.Logf("all changes arrived and the replica equals the source after %v", time.Since(began).Round(time.Second))
	cancel()
	wg.Wait()

	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.err != nil {
		t.Fatalf("consuming: %v", ev.err)
	}
	var res eosResult
	for k, n := range ev.reads {
		res.reads += n
		if n > 1 {
			res.readDups++
			if len(res.examples) < 5 {
				res.examples = append(res.examples, fmt.Sprintf("key %s read %d times", k, n))
			}
		}
	}
	for k, n := range ev.events {
		res.changes += n
		if n > 1 {
			res.changeDups++
			if len(res.examples) < 10 {
				res.examples = append(res.examples, fmt.Sprintf("%s %d times", k, n))
			}
		}
	}
	// Nothing missing: every row not changed during the snapshot was read,
	// and every change made arrived (exactly the changes made, when
	// exactly once).
	unread := 0
	for id := 1; id <= eosRows; id++ {
		k := strconv.Itoa(id)
		if ev.reads[k] == 0 && !wr.touched[k] {
			unread++
		}
	}
	if unread > 0 {
		t.Errorf("%d rows never changed were not read by the snapshot", unread)
	}
	for k, n := range want {
		got := ev.changes[k]
		if got < n || (eos && got != n) {
			t.Errorf("%s: %d change events, want %d", k, got, n)
		}
	}
	if eos {
		for k, n := range ev.changes {
			if want[k] == 0 {
				t.Errorf("%s: %d change events of a change never made", k, n)
			}
		}
	}
	return res
}
