package it

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jackc/pgx/v5"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The exactly-once pool tests (issue 13, items 3–4): source tasks of a
// pool with exactly.once.source.support=enabled write through
// transactional producers, so a consumer with isolation.level=
// read_committed must see every datagen sequence number exactly once
// however the pool's workers die (kill -9) or freeze (SIGSTOP), and a
// leader that froze must not write the configs topic once another leads.

// seqLog consumes a topic in the background, from its start, with one
// isolation level, and records per datagen sequence number how often it
// arrived and, per task and partition, which producer (id and epoch)
// wrote it.
type seqLog struct {
	name  string
	tasks int64
	cl    *kgo.Client

	mu       sync.Mutex
	counts   map[int64]int
	records  int
	distinct int
	last     time.Time         // when the last record arrived
	maxSeq   map[int64]int64   // task → highest sequence number read
	writers  map[[2]int64][]pe // {task, partition} → producers in the order they first wrote
	regress  []string          // a producer that wrote again after a newer one
	problems []string          // records without a datagen.seq header, consumer errors

	stop context.CancelFunc
	done chan struct{}
}

// pe is a producer id and epoch.
type pe struct {
	id    int64
	epoch int16
}

// newSeqLog starts consuming topic; committed selects read_committed.
// The consumer stops when t ends.
func newSeqLog(t *testing.T, bootstrap, topic string, tasks int, committed bool) *seqLog {
	t.Helper()
	iso, name := kgo.ReadUncommitted(), "read_uncommitted"
	if committed {
		iso, name = kgo.ReadCommitted(), "read_committed"
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &seqLog{name: name, tasks: int64(tasks), cl: cl, counts: map[int64]int{}, maxSeq: map[int64]int64{},
		writers: map[[2]int64][]pe{}, stop: cancel, done: make(chan struct{})}
	go l.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-l.done
		cl.Close()
	})
	return l
}

func (l *seqLog) run(ctx context.Context) {
	defer close(l.done)
	for ctx.Err() == nil {
		fs := l.cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				l.mu.Lock()
				l.problems = append(l.problems, fmt.Sprintf("consuming %s[%d]: %v", topic, p, err))
				l.mu.Unlock()
			}
		})
		fs.EachRecord(l.add)
	}
}

func (l *seqLog) add(r *kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := int64(-1)
	for _, h := range r.Headers {
		if h.Key == "datagen.seq" {
			if n, err := strconv.ParseInt(string(h.Value), 10, 64); err == nil {
				seq = n
			}
		}
	}
	if seq < 0 {
		l.problems = append(l.problems, fmt.Sprintf("record %s[%d]@%d has no datagen.seq header", r.Topic, r.Partition, r.Offset))
		return
	}
	l.records++
	l.last = time.Now()
	if l.counts[seq] == 0 {
		l.distinct++
	}
	l.counts[seq]++
	task := seq % l.tasks
	if m, ok := l.maxSeq[task]; !ok || seq > m {
		l.maxSeq[task] = seq
	}
	key := [2]int64{task, int64(r.Partition)}
	w, ws := pe{r.ProducerID, r.ProducerEpoch}, l.writers[key]
	if i := slices.Index(ws, w); i < 0 {
		l.writers[key] = append(ws, w)
	} else if i != len(ws)-1 && len(l.regress) < 20 {
		l.regress = append(l.regress, fmt.Sprintf("task %d's seq %d at partition %d offset %d written by producer %d epoch %d after producer %d epoch %d had written there",
			task, seq, r.Partition, r.Offset, w.id, w.epoch, ws[len(ws)-1].id, ws[len(ws)-1].epoch))
	}
}

func (l *seqLog) totals() (records, distinct int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.distinct
}

// maxes returns each task's highest sequence number read (-1 for none).
func (l *seqLog) maxes() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]int64, l.tasks)
	for i := range out {
		out[i] = -1
		if m, ok := l.maxSeq[int64(i)]; ok {
			out[i] = m
		}
	}
	return out
}

// quiet reports how long ago the last record arrived.
func (l *seqLog) quiet() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Since(l.last)
}

// check reports the problems the consumer met and producers that wrote
// a task's partition again after a newer producer of it (a zombie's
// commit).
func (l *seqLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.problems {
		t.Errorf("%s consumer: %s", l.name, p)
	}
	for _, r := range l.regress {
		t.Errorf("%s consumer: %s", l.name, r)
	}
}

// exactly checks that the sequence numbers read are 0..total-1, each
// exactly once (atLeast: at least once), and returns how many
// sequence numbers were read more than once.
func (l *seqLog) exactly(t *testing.T, total int64, atLeast bool) (dupSeqs int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, extra, twice []int64
	for seq := int64(0); seq < total; seq++ {
		switch n := l.counts[seq]; {
		case n == 0:
			missing = append(missing, seq)
		case n > 1:
			dupSeqs++
			twice = append(twice, seq)
		}
	}
	for seq := range l.counts {
		if seq >= total {
			extra = append(extra, seq)
		}
	}
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("%s: %d of the sequence numbers 0..%d never arrived, first %v", l.name, len(missing), total-1, missing[:min(10, len(missing))])
	}
	if len(extra) > 0 {
		t.Errorf("%s: %d sequence numbers at or past iterations=%d arrived, first %v", l.name, len(extra), total, extra[:min(10, len(extra))])
	}
	if !atLeast && len(twice) > 0 {
		t.Errorf("%s: %d sequence numbers arrived more than once (%d records, %d distinct), first %v with counts %d",
			l.name, len(twice), l.records, l.distinct, twice[:min(10, len(twice))], l.counts[twice[0]])
	}
	return dupSeqs
}

// contiguous checks, for a stopped connector, that each task's sequence
// numbers read are task, task+tasks, ... up to its highest, each exactly
// once.
func (l *seqLog) contiguous(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for task := int64(0); task < l.tasks; task++ {
		m, ok := l.maxSeq[task]
		if !ok {
			t.Errorf("%s: no record of task %d", l.name, task)
			continue
		}
		var missing, twice []int64
		for seq := task; seq <= m; seq += l.tasks {
			switch l.counts[seq] {
			case 0:
				missing = append(missing, seq)
			case 1:
			default:
				twice = append(twice, seq)
			}
		}
		if len(missing) > 0 || len(twice) > 0 {
			t.Errorf("%s: task %d (up to seq %d): %d sequence numbers missing (first %v), %d more than once (first %v)",
				l.name, task, m, len(missing), missing[:min(10, len(missing))], len(twice), twice[:min(10, len(twice))])
		}
	}
}

// waitQuiet waits until l has read nothing for d, after the producers
// stopped.
func (l *seqLog) waitQuiet(t *testing.T, d, timeout time.Duration) {
	t.Helper()
	harness.WaitFor(t, timeout, l.name+" consumer to drain the topic", func() error {
		if q := l.quiet(); q < d {
			return fmt.Errorf("last record %v ago", q.Round(time.Millisecond))
		}
		return nil
	})
}

// eosProps are the worker properties of an exactly-once pool (or of one
// with it disabled, for comparison).
func eosProps(enabled bool, extra map[string]string) map[string]string {
	props := map[string]string{
		"exactly.once.source.support": "disabled",
		"offset.flush.interval.ms":    "1000",
		"rebalance.timeout.ms":        "10000",
	}
	if enabled {
		props["exactly.once.source.support"] = "enabled"
	}
	for k, v := range extra {
		props[k] = v
	}
	return props
}

// TestPoolExactlyOnceChaos: a busy datagen connector of six tasks on a
// pool of three workers, one worker at a time killed with kill -9 and
// started again, the leader among them. With exactly-once enabled a
// read_committed consumer reads every sequence number exactly once (a
// read_uncommitted one shows the records of the transactions the kills
// left open), and a PostgreSQL source beside it, under continuous inserts
// and increments, has every change of its tables in its topics once
// (every row of the insert-only table, each counter's values in order,
// the topics equal to the tables); with it disabled the same load
// duplicates records.
func TestPoolExactlyOnceChaos(t *testing.T) {
	t.Parallel()
	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		poolChaos(t, true, 10)
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		poolChaos(t, false, 4)
	})
}

// killRecord is one kill of poolChaos.
type killRecord struct {
	worker  string
	leader  bool
	restart time.Duration // from the kill until the new process answered REST
	recover time.Duration // from the kill until every task committed past where it had been
}

func poolChaos(t *testing.T, eos bool, kills int) {
	const (
		tasks = 6
		rate  = 500 // per task: 3000 records/s
	)
	p, sfx := startPool(t, 3, eosProps(eos, nil))
	topic := "pool-eos-chaos-" + sfx
	committed := newSeqLog(t, p.Bootstrap, topic, tasks, true)
	uncommitted := newSeqLog(t, p.Bootstrap, topic, tasks, false)
	leader := p.Leader(t)
	cfg := datagen(topic, map[string]string{"tasks.max": fmt.Sprint(tasks), "datagen.rate": fmt.Sprint(rate)})
	poolCreate(t, leader, "chaos", cfg)
	harness.WaitStatus(t, leader, "chaos", harness.AllRunning(tasks), 60*time.Second)
	harness.WaitFor(t, 60*time.Second, "a record of every task", func() error {
		for task, m := range committed.maxes() {
			if m < 0 {
				return fmt.Errorf("no record of task %d read_committed yet", task)
			}
		}
		return nil
	})

	// With exactly-once, a PostgreSQL source under continuous load runs
	// beside datagen: its changes are checked exactly once too.
	var pgc *poolPG
	if eos {
		pgc = startPoolPG(t, leader, p.Bootstrap, sfx, topic, tasks)
	}

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("exactly.once.source.support enabled=%v; victims drawn with seed %d", eos, seed)
	var log []killRecord
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
		lead := p.Leader(t)
		victim := p.Workers[rng.IntN(len(p.Workers))]
		if k%3 == 1 {
			victim = lead // every third kill takes the leader
		}
		if pgc != nil {
			// Every third kill, another, takes the worker running the
			// PostgreSQL task.
			if st, err := harness.GetStatus(lead, "pg"); err == nil && len(st.Tasks) == 1 {
				if w := p.ByID(st.Tasks[0].WorkerID); w != nil && k%3 == 2 {
					victim = w
				}
				if victim.ID() == st.Tasks[0].WorkerID {
					pgc.kills++
				}
			}
		}
		victim.Kill()
		killed := time.Now()
		// The victim's producers can send nothing more: what the
		// read_uncommitted consumer has read a second later is all it
		// wrote, committed or not.
		time.Sleep(time.Second)
		before := uncommitted.maxes()
		victim.Start(t)
		kr := killRecord{worker: victim.ID(), leader: victim == lead, restart: time.Since(killed)}
		harness.WaitFor(t, 90*time.Second, fmt.Sprintf("every task to commit past where it was at kill %d (of %s)", k+1, victim.ID()), func() error {
			now := committed.maxes()
			for task := range now {
				if now[task] <= before[task] {
					return fmt.Errorf("task %d: read_committed at seq %d, the killed instance had written up to %d", task, now[task], before[task])
				}
			}
			return nil
		})
		kr.recover = time.Since(killed)
		log = append(log, kr)
		t.Logf("kill %d: %s (leader %v) restarted after %v, every task committing again after %v",
			k+1, kr.worker, kr.leader, kr.restart.Round(time.Millisecond), kr.recover.Round(time.Millisecond))
	}
	leaders := 0
	for _, kr := range log {
		if kr.leader {
			leaders++
		}
	}

	if pgc != nil {
		pgc.check(t, "after the kills")
	}

	// Bound the connector so that it finishes: iterations past what any
	// task reached by 10 s of its rate, for the new config to reach the
	// tasks (a record past the bound fails the test).
	top := slices.Max(uncommitted.maxes())
	total := (top/tasks + 1 + 10*rate) * tasks
	cfg["iterations"] = fmt.Sprint(total)
	live := p.Live()
	harness.Write(t, live[rng.IntN(len(live))], "PUT", "/connectors/chaos/config", cfg, http.StatusOK, 60*time.Second)
	harness.WaitFor(t, 120*time.Second, fmt.Sprintf("the %d sequence numbers read_committed", total), func() error {
		if _, d := committed.totals(); int64(d) < total {
			return fmt.Errorf("%d distinct of %d", d, total)
		}
		return nil
	})
	committed.waitQuiet(t, 2*time.Second, 30*time.Second)
	uncommitted.waitQuiet(t, 2*time.Second, 30*time.Second)

	committed.check(t)
	uncommitted.check(t)
	crec, _ := committed.totals()
	urec, _ := uncommitted.totals()
	var cdup, udup int
	if eos {
		cdup = committed.exactly(t, total, false)
		udup = uncommitted.exactly(t, total, true)
		if udup == 0 {
			t.Logf("note: no kill of %d hit an open transaction (no duplicate read_uncommitted)", len(log))
		}
	} else {
		cdup = committed.exactly(t, total, true)
		udup = uncommitted.exactly(t, total, true)
		// At least once: each kill re-sends what its two tasks produced
		// since their last offset flush (offset.flush.interval.ms=1000, at
		// 500 records/s each).
		if cdup == 0 {
			t.Errorf("with exactly-once disabled %d kills duplicated nothing: were the tasks producing?", len(log))
		}
	}
	var recs []string
	for _, kr := range log {
		recs = append(recs, kr.recover.Round(100*time.Millisecond).String())
	}
	t.Logf("exactly-once %v: %d kills (%d of the leader), %d sequence numbers; read_committed %d records, %d sequence numbers twice or more; read_uncommitted %d records, %d twice or more; recovery per kill %s",
		eos, len(log), leaders, total, crec, cdup, urec, udup, strings.Join(recs, " "))
	if leaders == 0 {
		t.Errorf("no kill took the leader")
	}
}

// poolPG is the PostgreSQL part of poolChaos: a source connector on an
// insert-only table and a table of counters, under a load that runs
// until check.
type poolPG struct {
	check0   *eosChaosCheck
	verify   *pgx.Conn
	stopLoad context.CancelFunc
	loadErr  chan error
	kills    int // kills of the worker running the PostgreSQL task
}

const poolPGCounters = 50

// startPoolPG starts PostgreSQL, its connector (through w) and the load,
// and waits for the snapshot.
func startPoolPG(t *testing.T, w *harness.Worker, bootstrap, sfx, dgTopic string, dgTasks int) *poolPG {
	t.Helper()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	db := pg.CreateDB(t, "poolchaos")
	pg.Exec(t, db,
		"CREATE TABLE ins (id bigserial PRIMARY KEY, note text NOT NULL)",
		"CREATE TABLE cnt (id int PRIMARY KEY, v bigint NOT NULL)",
		"INSERT INTO ins (note) SELECT 'seed ' || g FROM generate_series(1, 100) g",
		fmt.Sprintf("INSERT INTO cnt SELECT g, 0 FROM generate_series(1, %d) g", poolPGCounters),
	)
	prefix := "poolchaos" + sfx
	poolCreate(t, w, "pg", pgSourceConfig(pg, db, prefix, "sluice_poolchaos", map[string]string{"table.include.list": "public.(ins|cnt)"}))
	harness.WaitStatus(t, w, "pg", harness.AllRunning(1), 60*time.Second)
	c := &poolPG{
		check0:  &eosChaosCheck{t: t, bootstrap: bootstrap, dgTopic: dgTopic, insTopic: prefix + ".public.ins", cntTopic: prefix + ".public.cnt", dgTasks: int64(dgTasks)},
		verify:  pg.Connect(t, db),
		loadErr: make(chan error, 1),
	}
	harness.WaitFor(t, 60*time.Second, "the snapshot of ins and cnt read_committed", func() error {
		v := c.check0.read(true)
		if v.err != nil {
			return v.err
		}
		if len(v.ins) < 100 || len(v.cnt) < poolPGCounters {
			return fmt.Errorf("%d rows of ins and %d of cnt read so far", len(v.ins), len(v.cnt))
		}
		return nil
	})
	var ctx context.Context
	ctx, c.stopLoad = context.WithCancel(context.Background())
	t.Cleanup(c.stopLoad)
	load := pg.Connect(t, db)
	go func() { c.loadErr <- eosChaosLoad(ctx, load, poolPGCounters) }()
	return c
}

// check stops the load and waits until the topics hold every change of
// the tables, each once: every row of ins once, each counter's values
// 0, 1, 2, ... once each up to the table's.
func (c *poolPG) check(t *testing.T, when string) {
	t.Helper()
	c.stopLoad()
	if err := <-c.loadErr; err != nil {
		t.Fatalf("%s: the PostgreSQL load failed: %v", when, err)
	}
	ins, err := sqlTable(context.Background(), c.verify, "ins", "id")
	if err != nil {
		t.Fatal(err)
	}
	cnt, err := sqlTable(context.Background(), c.verify, "cnt", "id")
	if err != nil {
		t.Fatal(err)
	}
	var v eosChaosView
	harness.WaitFor(t, 3*time.Minute, when+": every change of ins and cnt in their topics", func() error {
		v = c.check0.read(true)
		if v.err != nil {
			return v.err
		}
		if err := c.check0.problems(v, nil, c.verify); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		return tablesInTopics(v, ins, cnt)
	})
	t.Logf("%s: PostgreSQL (its worker killed %d times) read_committed: ins %d rows once each, cnt %d updates once each (%d counters at the table's values)",
		when, c.kills, len(v.ins), v.cntEvents, poolPGCounters)
	if c.kills == 0 {
		t.Errorf("%s: no kill took the worker running the PostgreSQL task", when)
	}
}

// others returns the pool's workers but w.
func others(p *harness.Pool, w *harness.Worker) []*harness.Worker {
	var out []*harness.Worker
	for _, x := range p.Workers {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}

// TestPoolZombieTaskIsFenced: a worker running exactly-once tasks, each
// holding a transaction open for 2 s, is frozen with SIGSTOP past its
// session timeout; its tasks start on the others, and fence it. Thawed
// with SIGCONT it commits nothing (read_committed: every sequence number
// once, and no task's partition written by an older producer after a
// newer one), and it rejoins and takes its share back.
func TestPoolZombieTaskIsFenced(t *testing.T) {
	t.Parallel()
	const tasks = 6
	p, sfx := startPool(t, 3, eosProps(true, map[string]string{"scheduled.rebalance.max.delay.ms": "2000"}))
	topic := "pool-eos-zombie-" + sfx
	committed := newSeqLog(t, p.Bootstrap, topic, tasks, true)
	uncommitted := newSeqLog(t, p.Bootstrap, topic, tasks, false)
	leader := p.Leader(t)
	victim := others(p, leader)[0]
	poolCreate(t, leader, "zt", datagen(topic, map[string]string{"tasks.max": fmt.Sprint(tasks), "datagen.rate": "100",
		"transaction.boundary": "interval", "transaction.boundary.interval.ms": "2000"}))
	st := harness.WaitStatus(t, leader, "zt", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	mine := st.TasksOn("RUNNING")[victim.ID()]
	harness.WaitFor(t, 60*time.Second, "committed records of every task", func() error {
		for task, m := range committed.maxes() {
			if m < 0 {
				return fmt.Errorf("no record of task %d read_committed yet", task)
			}
		}
		return nil
	})

	if err := victim.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	time.Sleep(time.Second)
	before := uncommitted.maxes()
	if w, _ := uncommitted.totals(); w == 0 {
		t.Fatal("nothing read_uncommitted")
	}
	others := others(p, victim)
	harness.WaitStatus(t, leader, "zt", both(harness.AllRunning(tasks), tasksPer(others, tasks/len(others))), 60*time.Second)
	moved := time.Since(frozen)
	harness.WaitFor(t, 60*time.Second, "the frozen worker's tasks "+fmt.Sprint(mine)+" to commit on the others", func() error {
		now := committed.maxes()
		for _, task := range mine {
			if now[task] <= before[task] {
				return fmt.Errorf("task %d: read_committed at seq %d, the frozen instance had written up to %d", task, now[task], before[task])
			}
		}
		return nil
	})
	committing := time.Since(frozen)
	if err := victim.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed, logAtThaw := time.Now(), len(victim.Log())
	settled := harness.WaitStatus(t, leader, "zt", both(harness.AllRunning(tasks), tasksPer(p.Workers, 2)), 60*time.Second)
	rejoined := time.Since(thawed)
	if l := p.Leader(t); l != leader {
		t.Errorf("leader changed from %s to %s though the leader was never frozen", leader.ID(), l.ID())
	}
	// Let the returned worker's tasks commit a few transactions.
	time.Sleep(5 * time.Second)
	harness.Write(t, leader, "PUT", "/connectors/zt/pause", nil, http.StatusAccepted, 30*time.Second)
	harness.WaitFor(t, 60*time.Second, "connector zt paused", func() error {
		s, err := harness.GetStatus(leader, "zt")
		if err != nil {
			return err
		}
		for _, ts := range s.Tasks {
			if ts.State != "PAUSED" {
				return fmt.Errorf("task %d %s", ts.ID, ts.State)
			}
		}
		return nil
	})
	committed.waitQuiet(t, 3*time.Second, 60*time.Second)
	uncommitted.waitQuiet(t, 3*time.Second, 60*time.Second)
	committed.check(t)
	committed.contiguous(t)
	uncommitted.check(t)
	crec, cdist := committed.totals()
	urec, udist := uncommitted.totals()
	// What the thawed worker's own tasks ran into: the broker refusing
	// their old producers.
	var fenced []string
	for _, line := range strings.Split(victim.Log()[logAtThaw:], "\n") {
		if strings.Contains(line, "FENCED") || strings.Contains(line, "INVALID_PRODUCER_EPOCH") {
			fenced = append(fenced, line)
		}
	}
	t.Logf("frozen %s (tasks %v): they ran elsewhere %v after SIGSTOP and committed there after %v; rejoined %v after SIGCONT (%v); read_committed %d records, %d duplicates; read_uncommitted %d records, %d duplicates; %d log lines of the thawed worker report its producers fenced, first %q",
		victim.ID(), mine, moved.Round(time.Millisecond), committing.Round(time.Millisecond), rejoined.Round(time.Millisecond), placement(settled),
		crec, crec-cdist, urec, urec-udist, len(fenced), append(fenced, "")[0])
}

// joinedLine matches a worker's log line of each rebalance its herder
// has acted on (runtime/pool.go: "joined the pool"), which is when its
// REST API knows the new leader.
var joinedLine = regexp.MustCompile(`msg="joined the pool".*\bgeneration=(\d+)\b.*\bleader=(true|false)\b`)

// lastJoinOf returns the generation and leadership of the last
// rebalance w's current process logged.
func lastJoinOf(w *harness.Worker) (gen int, leader, ok bool) {
	m := joinedLine.FindAllStringSubmatch(w.Log(), -1)
	if len(m) == 0 {
		return 0, false, false
	}
	gen, _ = strconv.Atoi(m[len(m)-1][1])
	return gen, m[len(m)-1][2] == "true", true
}

// TestPoolZombieLeaderIsFenced: the leader of an exactly-once pool is
// frozen with SIGSTOP right after a config write was sent to it. The
// survivors elect a new leader, which claims the configs topic; writes
// through a survivor succeed. Thawed with SIGCONT, the old leader no
// longer leads, releases its claim, agrees with the others on every
// config (the write it may have had in flight never lands over a later
// one), and forwards writes to the new leader.
func TestPoolZombieLeaderIsFenced(t *testing.T) {
	t.Parallel()
	p, sfx := startPool(t, 3, eosProps(true, map[string]string{"scheduled.rebalance.max.delay.ms": "2000"}))
	old := p.Leader(t)
	gen0, _, _ := lastJoinOf(old)
	survivors := others(p, old)
	if n := strings.Count(old.Log(), "claimed the configs topic"); n != 1 {
		t.Errorf("leader %s logged %d claims of the configs topic, want 1", old.ID(), n)
	}
	cfg := datagen("pool-eos-leader-"+sfx, map[string]string{"tasks.max": "3", "datagen.rate": "10"})
	poolCreate(t, survivors[0], "zl", cfg)
	for _, w := range p.Workers {
		harness.WaitStatus(t, w, "zl", harness.AllRunning(3), 60*time.Second)
	}

	// A write in flight on the leader as it freezes: datagen.rate=11.
	inflight := make(chan string, 1)
	cfg11 := datagen("pool-eos-leader-"+sfx, map[string]string{"tasks.max": "3", "datagen.rate": "11"})
	go func() { inflight <- rawPut(old.URL+"/connectors/zl/config", cfg11) }()
	time.Sleep(5 * time.Millisecond)
	if err := old.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	t.Cleanup(func() { _ = old.Signal(syscall.SIGCONT) }) // never leave it stopped

	var next *harness.Worker
	harness.WaitFor(t, 60*time.Second, "the survivors to elect a new leader", func() error {
		next = nil
		gen := -1
		for _, w := range survivors {
			g, l, ok := lastJoinOf(w)
			if !ok || g <= gen0 {
				return fmt.Errorf("worker %s last joined generation %d, the frozen leader's was %d", w.ID(), g, gen0)
			}
			if gen != -1 && g != gen {
				return fmt.Errorf("survivors on generations %d and %d", gen, g)
			}
			gen = g
			if l {
				next = w
			}
		}
		if next == nil {
			return fmt.Errorf("no survivor leads generation %d", gen)
		}
		return nil
	})
	elected := time.Since(frozen)
	harness.WaitFor(t, 30*time.Second, "the new leader to claim the configs topic", func() error {
		if !strings.Contains(next.Log(), "claimed the configs topic") {
			return errors.New("not logged yet")
		}
		return nil
	})

	// Writes through a survivor that does not lead, and through the new
	// leader: datagen.rate=22, then a pause.
	follower := survivors[0]
	if follower == next {
		follower = survivors[1]
	}
	cfg22 := datagen("pool-eos-leader-"+sfx, map[string]string{"tasks.max": "3", "datagen.rate": "22"})
	_, retries := harness.Write(t, follower, "PUT", "/connectors/zl/config", cfg22, http.StatusOK, 60*time.Second)
	harness.Write(t, next, "PUT", "/connectors/zl/pause", nil, http.StatusAccepted, 60*time.Second)
	for _, w := range survivors {
		harness.WaitFor(t, 30*time.Second, "the new config and the pause on "+w.ID(), func() error {
			if r := connectorConfig(t, w, "zl")["datagen.rate"]; r != "22" {
				return fmt.Errorf("datagen.rate=%s", r)
			}
			s, err := harness.GetStatus(w, "zl")
			if err != nil {
				return err
			}
			if s.Connector.State != "PAUSED" {
				return fmt.Errorf("connector %s", s.Connector.State)
			}
			return nil
		})
	}

	if err := old.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	thawed := time.Now()
	var answer string
	select {
	case answer = <-inflight:
	case <-time.After(90 * time.Second):
		t.Fatal("the write sent to the frozen leader got no answer 90 s after SIGCONT")
	}
	harness.WaitFor(t, 60*time.Second, "the old leader to rejoin as a follower", func() error {
		g, l, ok := lastJoinOf(old)
		ng, _, _ := lastJoinOf(next)
		switch {
		case !ok || g <= gen0:
			return fmt.Errorf("old leader's last join: generation %d (was %d)", g, gen0)
		case l:
			return fmt.Errorf("old leader leads generation %d again", g)
		case g != ng:
			return fmt.Errorf("old leader on generation %d, new leader on %d", g, ng)
		}
		return nil
	})
	rejoined := time.Since(thawed)
	if l := p.Leader(t); l != next {
		t.Errorf("leader after SIGCONT is %s, want %s", l.ID(), next.ID())
	}
	harness.WaitFor(t, 30*time.Second, "the old leader to release the configs topic", func() error {
		if !strings.Contains(old.Log(), "released the configs topic") {
			return errors.New("not logged")
		}
		return nil
	})
	// Every worker, the old leader too, has the write made while it was
	// frozen, and not the one it had in flight.
	for _, w := range p.Workers {
		harness.WaitFor(t, 30*time.Second, "the configs to agree on "+w.ID(), func() error {
			if r := connectorConfig(t, w, "zl")["datagen.rate"]; r != "22" {
				return fmt.Errorf("datagen.rate=%s, want 22 (the write through %s after the freeze)", r, follower.ID())
			}
			s, err := harness.GetStatus(w, "zl")
			if err != nil {
				return err
			}
			if s.Connector.State != "PAUSED" {
				return fmt.Errorf("connector %s, want PAUSED", s.Connector.State)
			}
			return nil
		})
	}
	// A write through the old leader is forwarded to the new one.
	harness.Write(t, old, "PUT", "/connectors/zl/resume", nil, http.StatusAccepted, 60*time.Second)
	cfg33 := datagen("pool-eos-leader-"+sfx, map[string]string{"tasks.max": "3", "datagen.rate": "33"})
	harness.Write(t, old, "PUT", "/connectors/zl/config", cfg33, http.StatusOK, 60*time.Second)
	for _, w := range p.Workers {
		harness.WaitFor(t, 60*time.Second, "the old leader's writes on "+w.ID(), func() error {
			if r := connectorConfig(t, w, "zl")["datagen.rate"]; r != "33" {
				return fmt.Errorf("datagen.rate=%s, want 33", r)
			}
			return nil
		})
		harness.WaitStatus(t, w, "zl", harness.AllRunning(3), 60*time.Second)
	}
	if n := strings.Count(old.Log(), "claimed the configs topic"); n != 1 {
		t.Errorf("old leader %s logged %d claims of the configs topic, want the 1 of before its freeze", old.ID(), n)
	}

	// The configs topic itself: the datagen.rate of each committed write
	// of connector zl, in order. The write in flight on the frozen leader
	// is there only if it was acknowledged.
	configsTopic := "it-" + sfx + "-configs"
	committedRates := configRates(t, p.Bootstrap, configsTopic, "zl", true)
	allRates := configRates(t, p.Bootstrap, configsTopic, "zl", false)
	ok := strings.HasPrefix(answer, "200 ")
	switch i, j := slices.Index(committedRates, "11"), slices.Index(committedRates, "22"); {
	case ok && (i < 0 || i > j):
		t.Errorf("the frozen leader acknowledged datagen.rate=11 (%s) but the configs topic's committed writes are %v", answer, committedRates)
	case !ok && i >= 0:
		t.Errorf("the frozen leader failed the write of datagen.rate=11 (%s) but it was committed to the configs topic: %v", answer, committedRates)
	}
	if len(committedRates) == 0 || committedRates[len(committedRates)-1] != "33" {
		t.Errorf("the configs topic's last committed write of zl has datagen.rate %v, want 33", committedRates)
	}
	t.Logf("froze leader %s (generation %d) with a write in flight (answered %s); %s elected %v later and claimed the configs topic; write through %s took %d 409 retries; old leader rejoined as follower %v after SIGCONT; datagen.rate of zl's writes in the configs topic: read_committed %v, read_uncommitted %v",
		old.ID(), gen0, strings.TrimSpace(answer), next.ID(), elected.Round(time.Millisecond), follower.ID(), retries, rejoined.Round(time.Millisecond),
		committedRates, allRates)
}

// configRates reads the configs topic from its start with the given
// isolation and returns the datagen.rate of each record of the
// connector's config, in order.
func configRates(t *testing.T, bootstrap, topic, connector string, committed bool) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer cl.Close()
	var rates []string
	last := time.Now()
	for time.Since(last) < 2*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			last = time.Now()
			if string(r.Key) != "connector-"+connector || len(r.Value) == 0 {
				return
			}
			var v struct {
				Properties map[string]string `json:"properties"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("configs topic %s@%d: value %q: %v", topic, r.Offset, r.Value, err)
				return
			}
			rates = append(rates, v.Properties["datagen.rate"])
		})
	}
	return rates
}

// rawPut sends a PUT from any goroutine and describes the answer.
func rawPut(url string, body any) string {
	j, err := json.Marshal(body)
	if err != nil {
		return err.Error()
	}
	req, err := http.NewRequest("PUT", url, bytes.NewReader(j))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 3 * time.Minute}
	resp, err := cl.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%d %s", resp.StatusCode, out)
}

// connectorConfig is GET /connectors/{c}/config on w.
func connectorConfig(t *testing.T, w *harness.Worker, name string) map[string]string {
	t.Helper()
	var cfg map[string]string
	w.JSON("GET", "/connectors/"+name+"/config", nil, http.StatusOK, &cfg)
	return cfg
}
