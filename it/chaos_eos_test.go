package it

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// eosChaosRounds is SLUICE_IT_CHAOS_ROUNDS, 3 by default.
var eosChaosRounds = envInt("SLUICE_IT_CHAOS_ROUNDS", 3)

// TestEmbeddedBrokerExactlyOnceChaos kills a `sluice worker` that runs the
// embedded broker with exactly.once.source.support=enabled, with kill -9
// at random moments, SLUICE_IT_CHAOS_ROUNDS times (every fourth round
// also during the next start-up, before its REST API answers). The
// process killed holds the data: the broker's log, its transaction and
// producer state die with the worker whose tasks write in transactions.
// A datagen connector (2 tasks, each record carries its task's seq) and
// a PostgreSQL connector run meanwhile, the latter on an insert-only
// table under continuous insert load and on a table whose rows only ever
// count up (v = v + 1).
//
// After each restart a fresh read_committed consumer reads every data
// topic from its start and the test asserts:
//   - datagen: no seq twice; each task's seqs are task, task+2, ... up to
//     the highest read, with none missing, and that highest is at least
//     the committed offset (read just before the topic); committed
//     offsets never go back across a kill;
//   - the insert-only table: no row twice, and every row of the table up
//     to the highest id read is there (one loader connection, so the
//     ids commit in order: a hole is a lost change);
//   - the counting table: per key the values are 0 (its snapshot read),
//     1, 2, ... each once (a repeat is a duplicate, a jump a loss);
//   - a read_uncommitted consumer of the datagen topic may read more: the
//     records of the transactions the kills left open, later aborted. It
//     only logs how many.
//
// At the end the load stops and the datagen connector is paused: every
// row of the insert-only table is in its topic exactly once, the counting
// topic's last values are the table, and each datagen task's committed
// offset is its highest seq read_committed (a seq committed past its
// offset would be produced again on the next start).
//
// It found three faults of the embedded broker after a kill -9, all fixed
// in runtime/broker at start-up: a transaction left open had no abort
// marker, so the worker's read of its offsets topic to the last stable
// offset never ended; a commit interrupted between the markers of two
// partitions was committed in one and aborted in the other
// (txncomplete.go); and a transaction left open behind other producers'
// records, aborted by kfake without a marker, was taken at the next full
// replay for part of the commit of its producer's next instance, so a
// datagen task's seqs were read twice (txnseal.go; one run in five at 6
// rounds before the fix). The duplicates showed only the copies'
// partition, offset, producer id and epoch, which dgWhere reports.
func TestEmbeddedBrokerExactlyOnceChaos(t *testing.T) {
	t.Parallel()
	began := time.Now()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	db := pg.CreateDB(t, "eoschaos")
	const counters = 50
	pg.Exec(t, db,
		"CREATE TABLE ins (id bigserial PRIMARY KEY, note text NOT NULL)",
		"CREATE TABLE cnt (id int PRIMARY KEY, v bigint NOT NULL)",
		"INSERT INTO ins (note) SELECT 'seed ' || g FROM generate_series(1, 100) g",
		fmt.Sprintf("INSERT INTO cnt SELECT g, 0 FROM generate_series(1, %d) g", counters),
	)

	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: map[string]string{
		"exactly.once.source.support": "enabled",
		"offset.flush.interval.ms":    "200",
	}})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	const (
		dgTopic  = "eoschaos-datagen"
		insTopic = "eoschaos.public.ins"
		cntTopic = "eoschaos.public.cnt"
		dgTasks  = 2
	)
	dgCfg := datagen(dgTopic, map[string]string{"tasks.max": strconv.Itoa(dgTasks), "datagen.rate": "400"})
	// The default transaction.boundary (poll) is what runs here: one
	// transaction per poll, records and offsets together.
	pgCfg := pgSourceConfig(pg, db, "eoschaos", "sluice_eoschaos", map[string]string{"table.include.list": "public.(ins|cnt)"})
	create(t, w, "dg", dgCfg)
	create(t, w, "pg", pgCfg)
	waitState(t, w, "dg", "RUNNING", dgTasks, "RUNNING")
	waitState(t, w, "pg", "RUNNING", 1, "RUNNING")

	check := &eosChaosCheck{t: t, bootstrap: listen, dgTopic: dgTopic, insTopic: insTopic, cntTopic: cntTopic, dgTasks: dgTasks}
	verify := pg.Connect(t, db)
	// The snapshot (100 inserted rows, 50 counters at 0) is in before the
	// load and the kills begin.
	harness.WaitFor(t, 60*time.Second, "the snapshot of ins and cnt read_committed", func() error {
		v := check.read(true)
		if v.err != nil {
			return v.err
		}
		if len(v.ins) < 100 || len(v.cnt) < counters {
			return fmt.Errorf("%d rows of ins and %d of cnt read so far", len(v.ins), len(v.cnt))
		}
		return nil
	})

	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	loadErr := make(chan error, 1)
	loadConn := pg.Connect(t, db)
	go func() { loadErr <- eosChaosLoad(loadCtx, loadConn, counters) }()

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("kill moments drawn with seed %d", seed)
	earlyKills, aborted := 0, 0
	for round := 1; round <= eosChaosRounds; round++ {
		time.Sleep(time.Duration(300+rng.IntN(4000)) * time.Millisecond)
		dgBefore := taskOffsets(t, w, "dg")
		pgBefore := lsnProc(t, w)
		select {
		case err := <-loadErr:
			t.Fatalf("round %d: the load stopped: %v", round, err)
		default:
		}
		w.Kill()

		if round%4 == 0 {
			// Kill again during start-up: while the broker compacts and
			// loads, or the tasks fence their predecessors.
			cmd := exec.Command(harness.Binary(t), w.Args...)
			cmd.Env = w.Env
			p := harness.Start(t, "sluice worker (killed during start-up)", cmd)
			time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
			if resp, err := http.Get(w.URL + "/"); err == nil {
				resp.Body.Close()
			} else {
				earlyKills++
			}
			p.Kill()
		}
		w.Start(t)

		var names []string
		w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
		sort.Strings(names)
		if fmt.Sprint(names) != "[dg pg]" {
			t.Fatalf("round %d: connectors after the restart %v, want [dg pg]\n%s", round, names, tail(w.Log(), 40))
		}
		dgAfter := taskOffsets(t, w, "dg")
		for task, seq := range dgBefore {
			if dgAfter[task] < seq {
				t.Fatalf("round %d: datagen task %d offset went back from %d to %d", round, task, seq, dgAfter[task])
			}
		}
		if after := lsnProc(t, w); after < pgBefore {
			t.Fatalf("round %d: PostgreSQL offset lsn_proc went back from %d to %d", round, pgBefore, after)
		}

		v := check.read(true)
		if v.err != nil {
			t.Fatalf("round %d: read_committed: %v", round, v.err)
		}
		check.assert(round, v, dgAfter, verify)
		u := check.read(false)
		if u.err != nil {
			t.Fatalf("round %d: read_uncommitted: %v", round, u.err)
		}
		aborted = u.dgRecords - v.dgRecords
		t.Logf("round %d: datagen offsets %v, highest seqs read %v; %d datagen records read_committed, %d read_uncommitted (%d aborted or still open); ins %d rows, cnt %d updates",
			round, dgAfter, v.dgMax, v.dgRecords, u.dgRecords, aborted, len(v.ins), v.cntEvents)
	}
	stopLoad()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("%d rounds, %d of %d start-up kills landed before the REST API answered", eosChaosRounds, earlyKills, eosChaosRounds/4)

	// The topics catch up with the tables, and the paused datagen
	// connector's committed offsets are its last records.
	w.JSON("PUT", "/connectors/dg/pause", nil, http.StatusAccepted, nil)
	wantIns, err := sqlTable(context.Background(), verify, "ins", "id")
	if err != nil {
		t.Fatal(err)
	}
	wantCnt, err := sqlTable(context.Background(), verify, "cnt", "id")
	if err != nil {
		t.Fatal(err)
	}
	var last eosChaosView
	var dgOffsets map[int]int64
	harness.WaitFor(t, 3*time.Minute, "every row in the topics and datagen's offsets at its last records", func() error {
		dgOffsets = taskOffsets(t, w, "dg")
		last = check.read(true)
		if last.err != nil {
			return last.err
		}
		if err := check.problems(last, dgOffsets, verify); err != nil {
			t.Fatalf("at the end: %v", err)
		}
		if err := tablesInTopics(last, wantIns, wantCnt); err != nil {
			return err
		}
		for task := 0; task < dgTasks; task++ {
			if dgOffsets[task] != last.dgMax[task] {
				return fmt.Errorf("datagen task %d: committed offset %d, highest seq read_committed %d", task, dgOffsets[task], last.dgMax[task])
			}
		}
		return nil
	})
	u := check.read(false)
	if u.err != nil {
		t.Fatalf("read_uncommitted: %v", u.err)
	}
	t.Logf("after %d rounds in %v: ins %d rows once each, cnt %d updates once each; datagen %d records read_committed (offsets %v), %d read_uncommitted: %d records of aborted transactions",
		eosChaosRounds, time.Since(began).Round(time.Second), len(last.ins), last.cntEvents, last.dgRecords, dgOffsets, u.dgRecords, u.dgRecords-last.dgRecords)
	if u.dgRecords < last.dgRecords {
		t.Errorf("read_uncommitted read %d datagen records, fewer than read_committed (%d)", u.dgRecords, last.dgRecords)
	}
}

// eosChaosCheck reads the topics of TestEmbeddedBrokerExactlyOnceChaos
// and checks what it read.
type eosChaosCheck struct {
	t                           *testing.T
	bootstrap                   string
	dgTopic, insTopic, cntTopic string
	dgTasks                     int64
}

// eosChaosView is what one reading of the topics saw.
type eosChaosView struct {
	err       error
	dgRecords int           // datagen records
	dgSeqs    map[int64]int // datagen seq → times read
	// dgWhere says where each datagen seq was read: partition, offset,
	// producer id and epoch (to tell the copies of a duplicate apart).
	dgWhere   map[int64][]string
	dgMax     map[int]int64   // task → highest seq read (-1: none)
	ins       map[int64]int   // ins id → times read (snapshot read or insert)
	cnt       map[int64]int64 // cnt id → last v read
	cntEvents int             // updates of cnt read
	// cntBad are events of cnt whose v is not the previous one plus 1.
	cntBad []string
	// insBad are events of ins that are neither a read nor an insert.
	insBad []string
	// plain counts data records written outside a transaction: with
	// exactly-once on there must be none.
	plain int
}

// read reads every data topic from its start to the end offsets they had
// when it began, read_committed or read_uncommitted. Transaction markers
// are kept so that the reading knows it passed them.
func (c *eosChaosCheck) read(committed bool) eosChaosView {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	v := eosChaosView{dgSeqs: map[int64]int{}, dgWhere: map[int64][]string{}, dgMax: map[int]int64{}, ins: map[int64]int{}, cnt: map[int64]int64{}}
	for task := 0; task < int(c.dgTasks); task++ {
		v.dgMax[task] = -1
	}
	topics := []string{c.dgTopic, c.insTopic, c.cntTopic}
	// No fetch sessions: franz-go v1.22.2's Close kills them while the
	// fetch loop it has just restarted reads them (a data race the race
	// detector reports in this test, which closes a client per read).
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.bootstrap), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(iso),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond), freshMetadata,
		kgo.DisableFetchSessions())
	if err != nil {
		v.err = err
		return v
	}
	defer cl.Close()
	v.err = readToEnd(cl, c.bootstrap, topics, nil, func(r *kgo.Record) error {
		if r.Attrs.IsControl() {
			return nil
		}
		if !r.Attrs.IsTransactional() {
			v.plain++
		}
		switch r.Topic {
		case c.dgTopic:
			seq := int64(-1)
			for _, h := range r.Headers {
				if h.Key == "datagen.seq" {
					if n, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
						seq = n
					}
				}
			}
			if seq < 0 {
				return fmt.Errorf("%s[%d]@%d has no datagen.seq header", r.Topic, r.Partition, r.Offset)
			}
			v.dgRecords++
			v.dgSeqs[seq]++
			v.dgWhere[seq] = append(v.dgWhere[seq], fmt.Sprintf("[%d]@%d pid %d epoch %d", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch))
			if task := int(seq % c.dgTasks); seq > v.dgMax[task] {
				v.dgMax[task] = seq
			}
		case c.insTopic, c.cntTopic:
			key, err := jsonPayload(r.Key)
			if err != nil {
				return fmt.Errorf("%s[%d]@%d key: %w", r.Topic, r.Partition, r.Offset, err)
			}
			val, err := jsonPayload(r.Value)
			if err != nil {
				return fmt.Errorf("%s[%d]@%d value: %w", r.Topic, r.Partition, r.Offset, err)
			}
			id, err := strconv.ParseInt(keyString(key), 10, 64)
			if err != nil {
				return fmt.Errorf("%s[%d]@%d key %v: %w", r.Topic, r.Partition, r.Offset, key, err)
			}
			op := "tombstone"
			var after map[string]any
			if val != nil {
				op, _ = val["op"].(string)
				after, _ = val["after"].(map[string]any)
			}
			if r.Topic == c.insTopic {
				if op != "r" && op != "c" {
					v.insBad = append(v.insBad, fmt.Sprintf("id %d: op %s at offset %d", id, op, r.Offset))
					return nil
				}
				v.ins[id]++
				return nil
			}
			if after == nil || (op != "r" && op != "u") {
				v.cntBad = append(v.cntBad, fmt.Sprintf("id %d: op %s at offset %d", id, op, r.Offset))
				return nil
			}
			n, err := strconv.ParseInt(normValue(after["v"]), 10, 64)
			if err != nil {
				return fmt.Errorf("%s[%d]@%d: v %v: %w", r.Topic, r.Partition, r.Offset, after["v"], err)
			}
			prev, seen := v.cnt[id]
			switch {
			case op == "r" && (seen || n != 0):
				v.cntBad = append(v.cntBad, fmt.Sprintf("id %d: snapshot read of v=%d at offset %d (after v=%d: %v)", id, n, r.Offset, prev, seen))
			case op == "u" && (!seen || n != prev+1):
				v.cntBad = append(v.cntBad, fmt.Sprintf("id %d: update to v=%d at offset %d after v=%d (read before: %v)", id, n, r.Offset, prev, seen))
			}
			if op == "u" {
				v.cntEvents++
			}
			v.cnt[id] = n
		}
		return nil
	})
	return v
}

// problems says what a read_committed view shows of duplicates or loss:
// a datagen seq twice, a gap in a task's seqs, a committed offset past
// the seqs read, a row of ins twice, a row of ins missing below the
// highest id read, a count of cnt repeated or skipped.
func (c *eosChaosCheck) problems(v eosChaosView, offsets map[int]int64, db *pgx.Conn) error {
	var errs []string
	var twice []int64
	for seq, n := range v.dgSeqs {
		if n > 1 {
			twice = append(twice, seq)
		}
	}
	if len(twice) > 0 {
		slices.Sort(twice)
		var where []string
		for _, seq := range twice[:min(4, len(twice))] {
			where = append(where, fmt.Sprintf("%d at %s", seq, strings.Join(v.dgWhere[seq], " and ")))
		}
		errs = append(errs, fmt.Sprintf("%d datagen seqs read more than once, first %v (%s)", len(twice), twice[:min(10, len(twice))], strings.Join(where, "; ")))
	}
	for task := 0; task < int(c.dgTasks); task++ {
		var missing []int64
		for seq := int64(task); seq <= v.dgMax[task]; seq += c.dgTasks {
			if v.dgSeqs[seq] == 0 {
				missing = append(missing, seq)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Sprintf("datagen task %d: %d seqs missing below its highest read %d, first %v", task, len(missing), v.dgMax[task], missing[:min(10, len(missing))]))
		}
		if off, ok := offsets[task]; ok && off > v.dgMax[task] {
			errs = append(errs, fmt.Sprintf("datagen task %d: committed offset %d, but its highest seq read_committed is %d", task, off, v.dgMax[task]))
		}
	}
	var insTwice []string
	var hi int64
	for id, n := range v.ins {
		if n > 1 {
			insTwice = append(insTwice, strconv.FormatInt(id, 10))
		}
		hi = max(hi, id)
	}
	if len(insTwice) > 0 {
		errs = append(errs, fmt.Sprintf("ins: %s read more than once", keySummary(insTwice)))
	}
	rows, err := db.Query(context.Background(), "SELECT id FROM ins WHERE id <= $1", hi)
	if err != nil {
		return err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if v.ins[id] == 0 {
			missing = append(missing, strconv.FormatInt(id, 10))
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Sprintf("ins: %s of the table's rows up to id %d (the highest read) are not in the topic", keySummary(missing), hi))
	}
	if len(v.insBad) > 0 {
		errs = append(errs, fmt.Sprintf("ins: %d events neither a read nor an insert, first %v", len(v.insBad), v.insBad[:min(5, len(v.insBad))]))
	}
	if len(v.cntBad) > 0 {
		errs = append(errs, fmt.Sprintf("cnt: %d events repeat or skip a count, first %v", len(v.cntBad), v.cntBad[:min(5, len(v.cntBad))]))
	}
	if v.plain > 0 {
		errs = append(errs, fmt.Sprintf("%d data records were written outside a transaction", v.plain))
	}
	if len(errs) > 0 {
		return fmt.Errorf("read_committed: %s", strings.Join(errs, "; "))
	}
	return nil
}

// assert fails the test when a round's view shows a duplicate or a loss.
func (c *eosChaosCheck) assert(round int, v eosChaosView, offsets map[int]int64, db *pgx.Conn) {
	c.t.Helper()
	if err := c.problems(v, offsets, db); err != nil {
		c.t.Fatalf("round %d: %v", round, err)
	}
}

// tablesInTopics says how a view of the topics differs from the tables
// ins and cnt (as sqlTable returns them): a row of ins not read, or a
// counter whose last value read is not the table's.
func tablesInTopics(v eosChaosView, ins, cnt map[string]map[string]string) error {
	var missing []string
	for k := range ins {
		id, _ := strconv.ParseInt(k, 10, 64)
		if v.ins[id] == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || len(v.ins) != len(ins) {
		return fmt.Errorf("ins: %d rows in the table, %d in the topic; missing %s", len(ins), len(v.ins), keySummary(missing))
	}
	for k, row := range cnt {
		id, _ := strconv.ParseInt(k, 10, 64)
		if got := strconv.FormatInt(v.cnt[id], 10); got != row["v"] {
			return fmt.Errorf("cnt key %s: topic at v=%s, table at v=%s", k, got, row["v"])
		}
	}
	return nil
}

// eosChaosLoad runs small transactions on one connection until ctx ends:
// one to three inserts into ins and one increment of a cnt row each.
func eosChaosLoad(ctx context.Context, c *pgx.Conn, counters int) error {
	defer c.Close(context.Background())
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return nil
		}
		tx, err := c.Begin(ctx)
		if err == nil {
			_, err = tx.Exec(ctx, "INSERT INTO ins (note) SELECT $1::text || '.' || g FROM generate_series(1, $2::int) g", "l"+strconv.Itoa(i), 1+rng.IntN(3))
			if err == nil {
				_, err = tx.Exec(ctx, "UPDATE cnt SET v = v + 1 WHERE id = $1", 1+rng.IntN(counters))
			}
			if err == nil {
				err = tx.Commit(ctx)
			} else {
				_ = tx.Rollback(context.Background())
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
}
