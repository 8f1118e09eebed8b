package it

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sysbenchLoad is the size of TestMySQLSysbench: a short CI run by
// default; the size (4 tables × 100k rows, 60 s phases, 4 threads,
// unthrottled) with SLUICE_IT_SYSBENCH_FULL=1; SLUICE_IT_SYSBENCH_ROWS,
// _SECONDS (per phase) and _RATE (transactions per second over all
// threads, 0 unthrottled) override either.
type sysbenchLoad struct {
	tables, rows, threads int
	phase                 time.Duration
	rate                  int
}

func sysbenchLoadFromEnv() sysbenchLoad {
	l := sysbenchLoad{tables: 4, rows: 10000, threads: 4, phase: 15 * time.Second, rate: 100}
	if os.Getenv("SLUICE_IT_SYSBENCH_FULL") == "1" {
		l.rows, l.phase, l.rate = 100000, 60*time.Second, 0
	}
	l.rows = envInt("SLUICE_IT_SYSBENCH_ROWS", l.rows)
	l.phase = time.Duration(envInt("SLUICE_IT_SYSBENCH_SECONDS", int(l.phase/time.Second))) * time.Second
	if v, err := strconv.Atoi(os.Getenv("SLUICE_IT_SYSBENCH_RATE")); err == nil && v >= 0 {
		l.rate = v
	}
	return l
}

// args is sysbench's oltp_write_only command line for cmd (prepare, or
// run for secs seconds). Prepared statements are off and a lost
// connection ends a run: sysbench 1.0.20, linked with libmariadb, crashes
// (SIGSEGV in mysql_real_connect) when it reconnects, so it cannot ride
// through a MariaDB restart; the test starts a new run instead. Deadlocks,
// lock wait timeouts and duplicate keys (4 threads on the same rows) are
// ignored: sysbench retries the transaction. The tables read afterwards
// are the truth the topics are compared with.
func (l sysbenchLoad) args(cmd string, secs int) []string {
	a := []string{"oltp_write_only", "--tables=" + strconv.Itoa(l.tables), "--table-size=" + strconv.Itoa(l.rows),
		"--threads=" + strconv.Itoa(l.threads), "--report-interval=0", "--db-ps-mode=disable"}
	if cmd == "run" {
		a = append(a, "--time="+strconv.Itoa(secs), "--rate="+strconv.Itoa(l.rate), "--mysql-ignore-errors=1062,1213,1205,1020")
	}
	return append(a, cmd)
}

// sysbenchPhase is what one phase of TestMySQLSysbench did: the GTID
// sequence numbers of its transactions (after from, up to to), sysbench's
// figures, and what the topics got.
type sysbenchPhase struct {
	name                     string
	from, to                 int64
	txs                      int64
	tps                      float64
	ignored, reconnects      int64
	deletes                  int64
	events, dups, distinctTx int64
}

var (
	sbTransactions = regexp.MustCompile(`transactions:\s+(\d+)\s+\(([\d.]+) per sec`)
	sbIgnored      = regexp.MustCompile(`ignored errors:\s+(\d+)`)
	sbReconnects   = regexp.MustCompile(`reconnects:\s+(\d+)`)
)

// TestMySQLSysbench is issue 15's end-to-end test under load: sysbench
// oltp_write_only on a throwaway MariaDB, captured by the MySQL source
// (snapshot.mode=initial) on a worker with the embedded broker, into
// PostgreSQL through the JDBC sink (upserts and deletes). sysbench runs in
// three phases, each with a fault in its middle:
//
//  1. snapshot: during the initial snapshot, kill -9 of the worker (and
//     so of the broker inside it, which holds the topics); restarted on
//     the same data directory, it resumes the snapshot in chunks;
//  2. stream: kill -9 of the worker while it streams, restart;
//  3. MariaDB restart: kill -9 of mariadbd and a start on the same data
//     directory while the source streams; it reconnects and resumes by
//     GTID.
//
// A side writer also deletes rows now and then (sysbench re-inserts what it
// deletes in the same transaction), so some keys end deleted.
//
// Afterwards the last event of each key in each of the four topics equals
// the table (id, k, c, pad; deleted keys absent), every transaction
// sysbench and the side writer committed after the snapshot's position is
// in the topics (by GTID: none lost), and the JDBC sink's tables equal
// MariaDB's. Duplicates (at-least-once after a kill) and events per phase
// are logged, not failed.
func TestMySQLSysbench(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("sysbench"); err != nil {
		t.Fatalf("sysbench not found (apt-get install sysbench; .ci/run installs it): %v", err)
	}
	load := sysbenchLoadFromEnv()
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: map[string]string{"offset.flush.interval.ms": "200"}})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", tail(w.Log(), 10000))
		}
	})

	db := m.CreateDB(t, "sysbench")
	prefix := "sb"
	var topics []string
	for i := 1; i <= load.tables; i++ {
		topics = append(topics, fmt.Sprintf("%s.%s.sbtest%d", prefix, db, i))
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(listen))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	// inTopics is the number of records in the topics (-1 when the
	// broker does not answer).
	inTopics := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return -1
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n
	}
	// mark logs how long each step took, and the records in the topics.
	began, prev := time.Now(), time.Now()
	mark := func(what string) {
		t.Logf("%6.1fs (+%.1fs) %s; %d records in the topics", time.Since(began).Seconds(), time.Since(prev).Seconds(), what, inTopics())
		prev = time.Now()
	}
	phaseSecs := int(load.phase / time.Second)
	sysbench := func(cmd string, secs int) *harness.Process {
		p := harness.Start(t, "sysbench "+cmd, m.Sysbench(db, load.args(cmd, secs)...))
		t.Cleanup(p.Kill)
		return p
	}
	waitSysbench := func(p *harness.Process, timeout time.Duration) string {
		t.Helper()
		err, ok := p.Wait(timeout)
		if !ok {
			t.Fatalf("%s still running after %v:\n%s", p.Name, timeout, tail(p.Output(), 3000))
		}
		if err != nil {
			t.Fatalf("%s: %v\n%s", p.Name, err, tail(p.Output(), 3000))
		}
		return p.Output()
	}
	mark("servers and worker started")
	waitSysbench(sysbench("prepare", 0), 10*time.Minute)
	mark(fmt.Sprintf("sysbench prepare: %d tables × %d rows", load.tables, load.rows))

	sqlDB := m.Open(t, db)
	gtidSeq := func() int64 {
		t.Helper()
		var pos string
		if err := sqlDB.QueryRow("SELECT @@gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		return mariaSeq(t, pos)
	}

	src := map[string]string{"database.server.id": "6201"}
	if load.rate > 0 {
		// The short run's snapshot (40,000 rows) would otherwise finish,
		// on a quiet machine, between two looks at the topics, before
		// the kill meant to land in its middle. The throttled load
		// streams a few hundred records a second, far below the limit.
		src["sluice.rate.limit.records.per.sec"] = "4000"
	}
	create(t, w, "sb-src", mysqlSourceConfig(m, db, prefix, src))
	pgDB := pg.CreateDB(t, "sysbench")
	create(t, w, "sb-pg", upsertSink(pg.JDBCURL(pgDB), pg.User, regexp.QuoteMeta(prefix+"."+db+".")+`sbtest\d+`))

	// The topics are read from the start as they fill, across the kills
	// (a client reading while the load runs keeps the final wait short:
	// the records are large, JSON with schemas).
	got := newSysbenchTopics()
	stopConsumer := got.consume(t, listen, topics)
	defer stopConsumer()

	// The side writer: a delete of a random row every 20 ms until
	// stopped; errors (MariaDB down) are retried at the next tick.
	var deletes atomic.Int64
	sideWriter := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				q := fmt.Sprintf("DELETE FROM sbtest%d WHERE id = ?", 1+rand.IntN(load.tables))
				if r, err := sqlDB.ExecContext(ctx, q, 1+rand.IntN(load.rows)); err == nil {
					if n, _ := r.RowsAffected(); n > 0 {
						deletes.Add(n)
					}
				}
			}
		}()
		return func() { cancel(); <-done }
	}
	var phases []*sysbenchPhase
	// runPhase runs sysbench for a phase with fault in its middle; fault
	// returns the run to wait for (another when the fault ended the
	// first).
	runPhase := func(name string, fault func(*harness.Process) *harness.Process) {
		t.Helper()
		ph := &sysbenchPhase{name: name, from: gtidSeq()}
		del0 := deletes.Load()
		stop := sideWriter()
		p := fault(sysbench("run", phaseSecs))
		out := waitSysbench(p, load.phase+5*time.Minute)
		stop()
		ph.to = gtidSeq()
		ph.deletes = deletes.Load() - del0
		if mm := sbTransactions.FindStringSubmatch(out); mm != nil {
			ph.txs, _ = strconv.ParseInt(mm[1], 10, 64)
			ph.tps, _ = strconv.ParseFloat(mm[2], 64)
		} else {
			t.Fatalf("sysbench run printed no transaction count:\n%s", tail(out, 3000))
		}
		if mm := sbIgnored.FindStringSubmatch(out); mm != nil {
			ph.ignored, _ = strconv.ParseInt(mm[1], 10, 64)
		}
		if mm := sbReconnects.FindStringSubmatch(out); mm != nil {
			ph.reconnects, _ = strconv.ParseInt(mm[1], 10, 64)
		}
		phases = append(phases, ph)
		mark("phase " + name)
	}

	// Phase 1: the snapshot starts before the load (so the GTIDs of every
	// sysbench transaction are after its position and must all be
	// streamed); the worker is killed once a fifth of the rows are in the
	// topics.
	harness.WaitFor(t, 60*time.Second, "the snapshot to start", func() error {
		if !strings.Contains(w.Log(), "snapshot started") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	runPhase("snapshot, worker kill -9", func(p *harness.Process) *harness.Process {
		harness.WaitFor(t, 120*time.Second, "a fifth of the snapshot in the topics", func() error {
			if n := inTopics(); n < int64(load.tables*load.rows/5) {
				return fmt.Errorf("%d records", n)
			}
			return nil
		})
		mark("a fifth of the snapshot in the topics")
		w.Kill()
		killed := w.Log()
		if strings.Contains(killed, "snapshot done") || strings.Contains(killed, "handed over to chunks") {
			t.Fatalf("the snapshot finished before the kill: make the tables larger (SLUICE_IT_SYSBENCH_ROWS)\n%s", tail(killed, 4000))
		}
		w.Start(t)
		return p
	})
	harness.WaitFor(t, 10*time.Minute, "the resumed snapshot to finish", func() error {
		if !strings.Contains(w.Log(), "chunked snapshot finished") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	mark("the resumed snapshot finished")
	if !strings.Contains(w.Log(), "resuming an interrupted snapshot") {
		t.Errorf("the restarted worker did not resume the snapshot:\n%s", tail(w.Log(), 4000))
	}

	// Phase 2: kill -9 of the worker half-way through, while it streams.
	runPhase("stream, worker kill -9", func(p *harness.Process) *harness.Process {
		time.Sleep(load.phase / 2)
		w.Kill()
		w.Start(t)
		return p
	})

	// Phase 3: kill -9 of mariadbd half-way through, with sysbench's
	// transactions in flight; sysbench dies of the lost connection (see
	// args) and runs again for the rest of the phase once MariaDB is back.
	// The source must reconnect by itself.
	runPhase("stream, MariaDB kill -9 and restart", func(p *harness.Process) *harness.Process {
		time.Sleep(load.phase / 2)
		if ok, err := p.Exited(); ok {
			t.Fatalf("sysbench ended before MariaDB was killed: %v\n%s", err, tail(p.Output(), 3000))
		}
		m.Restart(t, true)
		err, ok := p.Wait(30 * time.Second)
		if !ok || err == nil || !strings.Contains(p.Output(), "Lost connection") {
			t.Fatalf("sysbench did not end with the lost connection (ended %v, %v):\n%s", ok, err, tail(p.Output(), 3000))
		}
		return sysbench("run", phaseSecs-phaseSecs/2)
	})
	// The stream's own reconnection is what this phase is for. On a
	// machine so loaded that the worker missed its group heartbeats (the
	// coordinator is in the same process), the pool may have stopped and
	// restarted the task around the restart instead: logged, as that
	// run did not exercise the reconnection.
	reconnected := strings.Contains(w.Log(), "binlog stream lost; reconnecting")
	for _, l := range strings.Split(w.Log(), "\n") {
		if strings.Contains(l, "binlog stream lost") || strings.Contains(l, "msg=streaming") ||
			strings.Contains(l, "lost the pool's assignment") || strings.Contains(l, "task failed") {
			t.Logf("worker: %s", l[:min(len(l), 400)])
		}
	}
	if !reconnected {
		if strings.Contains(w.Log(), "lost the pool's assignment") {
			t.Logf("the source did not reconnect by itself: the worker lost its group assignment (overloaded machine) and restarted the task instead")
		} else {
			t.Errorf("the worker log does not say the source reconnected")
		}
	}

	// The truth: the tables once the load stopped.
	want := map[string]map[string]string{}
	for i, topic := range topics {
		rows := map[string]string{}
		lines, err := myLines(context.Background(), sqlDB, fmt.Sprintf("SELECT CONCAT(id, '|', k, '|', c, '|', pad) FROM sbtest%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			id, _, _ := strings.Cut(l, "|")
			rows[id] = l
		}
		want[topic] = rows
	}

	// The consumer read to the end of the topics, and they equal the
	// tables.
	harness.WaitFor(t, 10*time.Minute, "the topics to equal the tables", func() error {
		got.mu.Lock()
		defer got.mu.Unlock()
		if got.err != nil {
			t.Fatal(got.err)
		}
		if n, end := got.read(), inTopics(); n != end {
			return fmt.Errorf("%d records read, %d in the topics", n, end)
		}
		for _, topic := range topics {
			if err := got.diff(topic, want[topic]); err != nil {
				return err
			}
		}
		return nil
	})
	stopConsumer()

	mark("the topics equal the tables")

	// None lost: every transaction committed after the snapshot's
	// position changed a captured table (sysbench's, or a delete that
	// found its row; a delete of nothing writes no GTID), so each GTID
	// is in the topics.
	first, last := phases[0].from, phases[len(phases)-1].to
	var lost []int64
	for s := first + 1; s <= last; s++ {
		if got.gtids[s] == 0 {
			lost = append(lost, s)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of the %d transactions after the snapshot's position are not in the topics, e.g. GTID sequence numbers %v",
			len(lost), last-first, lost[:min(10, len(lost))])
	}

	// The JDBC sink's tables equal MariaDB's.
	pgConn := pg.Connect(t, pgDB)
	harness.WaitFor(t, 10*time.Minute, "the JDBC sink's tables to equal MariaDB's", func() error {
		for i, topic := range topics {
			lines, err := pgLines(context.Background(), pgConn,
				fmt.Sprintf("SELECT id::text || '|' || k || '|' || c || '|' || pad FROM sbtest%d", i+1))
			if err != nil {
				return err
			}
			if len(lines) != len(want[topic]) {
				return fmt.Errorf("sbtest%d: %d rows in PostgreSQL, %d in MariaDB", i+1, len(lines), len(want[topic]))
			}
			for _, l := range lines {
				id, _, _ := strings.Cut(l, "|")
				if want[topic][id] != l {
					return fmt.Errorf("sbtest%d: row %s in PostgreSQL, %s in MariaDB", i+1, l, want[topic][id])
				}
			}
		}
		return nil
	})
	mark("the JDBC sink's tables equal MariaDB's")
	for _, name := range []string{"sb-src", "sb-pg"} {
		if st := getStatus(t, w, name); len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
			t.Errorf("%s: status %+v", name, st)
		}
	}

	// The report.
	for _, ph := range phases {
		for s := ph.from + 1; s <= ph.to; s++ {
			if n := got.gtids[s]; n > 0 {
				ph.distinctTx++
			}
		}
		ph.events, ph.dups = got.phaseCounts(ph.from, ph.to)
	}
	tableRows := 0
	for _, rows := range want {
		tableRows += len(rows)
	}
	deleted := load.tables*load.rows - tableRows
	loadavg, _ := os.ReadFile("/proc/loadavg")
	t.Logf("sysbench oltp_write_only, %d tables × %d rows, %d threads, %v per phase, rate %d tx/s (0 = unthrottled); race detector %v; load average %s",
		load.tables, load.rows, load.threads, load.phase, load.rate, raceDetector, strings.TrimSpace(string(loadavg)))
	t.Logf("snapshot: %d rows read, %d of them read twice (across the kill -9)", got.reads, got.rereads())
	for _, ph := range phases {
		t.Logf("%s: %d sysbench transactions (%.0f tps, %d errors ignored, %d reconnects), %d side deletes; GTIDs %d..%d: %d transactions in the topics, %d change events, %d duplicates",
			ph.name, ph.txs, ph.tps, ph.ignored, ph.reconnects, ph.deletes, ph.from+1, ph.to, ph.distinctTx, ph.events, ph.dups)
	}
	t.Logf("end: %d rows in the tables (%d keys net deleted), %d records in the topics (%d tombstones), %d change events, %d duplicates",
		tableRows, deleted, got.records, got.tombstones, got.changes, got.dupTotal())
}

// mariaSeq returns the sequence number of domain 0 in a MariaDB GTID
// position ("0-1-123").
func mariaSeq(t testing.TB, pos string) int64 {
	t.Helper()
	for _, g := range strings.Split(pos, ",") {
		parts := strings.Split(strings.TrimSpace(g), "-")
		if len(parts) == 3 && parts[0] == "0" {
			n, err := strconv.ParseInt(parts[2], 10, 64)
			if err != nil {
				t.Fatalf("GTID position %q: %v", pos, err)
			}
			return n
		}
	}
	if pos == "" {
		return 0
	}
	t.Fatalf("GTID position %q has no domain 0", pos)
	return 0
}

// sysbenchTopics is the sysbench tables rebuilt from their topics: the
// last row per key ("id|k|c|pad"), the snapshot reads per key, and each
// change event (op, GTID, binlog position and row) with how many times it
// came.
type sysbenchTopics struct {
	mu sync.Mutex
	// next is the offset after the last record applied, per topic and
	// partition: a record at a lower offset (the client reset to the
	// start after a broker restart) is not applied twice.
	next                         map[string]map[int32]int64
	err                          error // the first malformed record
	rows                         map[string]map[string]string
	reads                        int
	readKeys                     map[string]int
	seen                         map[string]int
	changeSeq                    map[string]int64
	gtids                        map[int64]int
	records, tombstones, changes int
}

func newSysbenchTopics() *sysbenchTopics {
	return &sysbenchTopics{next: map[string]map[int32]int64{}, rows: map[string]map[string]string{}, readKeys: map[string]int{}, seen: map[string]int{},
		changeSeq: map[string]int64{}, gtids: map[int64]int{}}
}

// consume reads topics from their start into s until the returned stop is
// called; the client rides through the broker's restarts.
func (s *sysbenchTopics) consume(t testing.TB, bootstrap string, topics []string) (stop func()) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			s.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if s.err != nil {
					return
				}
				if s.next[r.Topic] == nil {
					s.next[r.Topic] = map[int32]int64{}
				}
				if r.Offset < s.next[r.Topic][r.Partition] {
					return
				}
				s.next[r.Topic][r.Partition] = r.Offset + 1
				s.err = s.add(r)
			})
			s.mu.Unlock()
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// read is the number of records read (offsets are contiguous: no
// transactions).
func (s *sysbenchTopics) read() int64 {
	var n int64
	for _, ps := range s.next {
		for _, o := range ps {
			n += o
		}
	}
	return n
}

func (s *sysbenchTopics) add(r *kgo.Record) error {
	s.records++
	key, err := jsonPayload(r.Key)
	if err != nil {
		return fmt.Errorf("%s@%d key: %w", r.Topic, r.Offset, err)
	}
	k := keyString(key)
	rows := s.rows[r.Topic]
	if rows == nil {
		rows = map[string]string{}
		s.rows[r.Topic] = rows
	}
	if r.Value == nil {
		s.tombstones++
		delete(rows, k)
		return nil
	}
	v, err := jsonPayload(r.Value)
	if err != nil {
		return fmt.Errorf("%s@%d value: %w", r.Topic, r.Offset, err)
	}
	op, _ := v["op"].(string)
	src, _ := v["source"].(map[string]any)
	if op == "r" {
		s.reads++
		s.readKeys[r.Topic+"|"+k]++
	} else {
		s.changes++
		gtid, _ := src["gtid"].(string)
		if gtid == "" {
			return fmt.Errorf("%s@%d: a %s event without source.gtid: %v", r.Topic, r.Offset, op, src)
		}
		parts := strings.Split(gtid, "-")
		seq, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		if err != nil {
			return fmt.Errorf("%s@%d: source.gtid %q: %w", r.Topic, r.Offset, gtid, err)
		}
		id := fmt.Sprint(r.Topic, op, gtid, src["file"], src["pos"], src["row"])
		s.seen[id]++
		s.changeSeq[id] = seq
		s.gtids[seq]++
	}
	if op == "d" {
		delete(rows, k)
		return nil
	}
	after, _ := v["after"].(map[string]any)
	if after == nil {
		return fmt.Errorf("%s@%d: %s event without after", r.Topic, r.Offset, op)
	}
	rows[k] = fmt.Sprintf("%v|%v|%v|%v", after["id"], after["k"], after["c"], after["pad"])
	return nil
}

// diff compares topic's rows with want.
func (s *sysbenchTopics) diff(topic string, want map[string]string) error {
	got := s.rows[topic]
	var bad []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			bad = append(bad, "missing key "+k)
		} else if g != w {
			bad = append(bad, fmt.Sprintf("key %s: %q, want %q", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			bad = append(bad, "key "+k+" deleted in the table, present in the topic")
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%s: %d differences (%d keys in the topic, %d rows), e.g. %s", topic, len(bad), len(got), len(want),
			strings.Join(bad[:min(3, len(bad))], "; "))
	}
	return nil
}

// rereads is how many snapshot reads repeated a key already read.
func (s *sysbenchTopics) rereads() int {
	n := 0
	for _, c := range s.readKeys {
		n += c - 1
	}
	return n
}

// phaseCounts returns the change events (with repeats) of the GTIDs after
// from, up to to, and how many of them came again.
func (s *sysbenchTopics) phaseCounts(from, to int64) (events, dups int64) {
	for id, n := range s.seen {
		if seq := s.changeSeq[id]; seq > from && seq <= to {
			events += int64(n)
			dups += int64(n - 1)
		}
	}
	return events, dups
}

func (s *sysbenchTopics) dupTotal() int {
	n := 0
	for _, c := range s.seen {
		n += c - 1
	}
	return n
}
