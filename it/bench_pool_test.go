package it

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The pool's and exactly-once's figures (issue 13, "Performance"). Each
// benchmark logs the machine's load average next to its figures: the
// machine is two cores shared with other work.

// loadAvg returns the 1-, 5- and 15-minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// envInts parses a comma-separated list of integers from env, or def.
func envInts(env, def string) []int {
	v := os.Getenv(env)
	if v == "" {
		v = def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkPoolRebalance measures the pool's rebalances with 3 workers and
// SLUICE_BENCH_POOL_CONNECTORS (100) datagen connectors of one slow task,
// with scheduled.rebalance.max.delay.ms=0, once per heartbeat.interval.ms
// of SLUICE_BENCH_HEARTBEATS (3000,1000,500):
//
//   - join: a fourth worker's process starts; the time until every member
//     logged the generation that gives it its share ("joined the pool"
//     with nothing revoked), and until the status shows the pool balanced
//     over four with everything RUNNING;
//   - stop: a worker stopped cleanly (SIGINT); the time until its work
//     runs elsewhere;
//   - kill: a worker killed with kill -9; the time until its work runs
//     elsewhere, bounded below by session.timeout.ms (10000 with a
//     heartbeat of 3000, as Connect's defaults; 6000, the broker's
//     minimum, below; SLUICE_BENCH_SESSION_MS overrides).
//
// The target: < 2 s on the cooperative path with zero delay.
func BenchmarkPoolRebalance(b *testing.B) {
	conns := envInt("SLUICE_BENCH_POOL_CONNECTORS", 100)
	for _, hb := range envInts("SLUICE_BENCH_HEARTBEATS", "3000,1000,500") {
		session := envInt("SLUICE_BENCH_SESSION_MS", 0)
		if session == 0 {
			session = 6000
			if hb >= 3000 {
				session = 10000
			}
		}
		b.Run(fmt.Sprintf("heartbeat=%d", hb), func(b *testing.B) {
			for range b.N {
				poolRebalance(b, conns, hb, session)
			}
		})
	}
}

func poolRebalance(b *testing.B, conns, hb, session int) {
	props, sfx := isolated(b, map[string]string{
		"scheduled.rebalance.max.delay.ms": "0",
		"heartbeat.interval.ms":            strconv.Itoa(hb),
		"session.timeout.ms":               strconv.Itoa(session),
	})
	p := harness.StartPool(b, 3, harness.PoolOptions{Props: props})
	names := make([]string, conns)
	for i := range names {
		names[i] = fmt.Sprintf("c%03d", i)
		cfg := datagen("rb-"+names[i]+"-"+sfx, map[string]string{"tasks.max": "1", "datagen.rate": "1"})
		harness.Write(b, p.Workers[i%3], "POST", "/connectors", map[string]any{"name": names[i], "config": cfg}, http.StatusCreated, 2*time.Minute)
	}
	waitBalanced(b, p.Workers[0], p.Workers, names, 5*time.Minute)

	// (a) A fourth worker.
	load := loadAvg()
	start := time.Now()
	nw := p.AddWorker(b)
	waitBalanced(b, nw, p.Live(), names, 2*time.Minute)
	running := time.Now()
	firstJoin, assigned, gens, err := joinTimes(p.Live(), nw)
	if err != nil {
		b.Fatalf("%v\n%s", err, poolLines(p.Live()))
	}
	joinAssigned, joinRunning := assigned.Sub(start), running.Sub(start)
	fromFirstJoin := assigned.Sub(firstJoin)

	// (b) A worker stopped cleanly: one of the first three, not the
	// leader (a new leader spreads a departed leader's work at once as
	// well, but also has the pool's state to take over).
	leader := p.Leader(b)
	var victim *harness.Worker
	for _, w := range p.Workers[:3] {
		if w != leader {
			victim = w
			break
		}
	}
	stopLoad := loadAvg()
	start = time.Now()
	stopped := make(chan struct{})
	go func() { defer close(stopped); victim.Stop() }()
	rest := without(p.Workers, victim)
	waitBalanced(b, leader, rest, names, 2*time.Minute)
	stopMoved := time.Since(start)
	<-stopped

	// (c) A worker killed with kill -9: again not the leader.
	var killed *harness.Worker
	for _, w := range rest {
		if w != leader {
			killed = w
			break
		}
	}
	killLoad := loadAvg()
	start = time.Now()
	killed.Kill()
	waitBalanced(b, leader, without(rest, killed), names, 2*time.Minute)
	killMoved := time.Since(start)

	// A worker that has not heard from the coordinator for longer than
	// heartbeat.interval.ms stops its work: count how often that
	// happened, which a short heartbeat on a busy machine risks.
	lost := 0
	for _, w := range p.Workers {
		lost += strings.Count(w.Log(), "its assignment is lost")
	}
	b.ReportMetric(float64(lost), "assignments-lost")
	b.ReportMetric(joinAssigned.Seconds(), "join-assigned-s")
	b.ReportMetric(joinRunning.Seconds(), "join-running-s")
	b.ReportMetric(stopMoved.Seconds(), "stop-running-s")
	b.ReportMetric(killMoved.Seconds(), "kill-running-s")
	b.Logf("%d connectors × 1 task, heartbeat.interval.ms=%d session.timeout.ms=%d delay 0: "+
		"4th worker: last member assigned %v after exec (%v after its first join; its generations+added-revoked %s), moved work RUNNING %v after exec [load %s]; "+
		"clean stop: work RUNNING elsewhere after %v [load %s]; kill -9: after %v [load %s]; assignments lost for want of contact: %d",
		conns, hb, session, joinAssigned.Round(time.Millisecond), fromFirstJoin.Round(time.Millisecond), gens, joinRunning.Round(time.Millisecond), load,
		stopMoved.Round(time.Millisecond), stopLoad, killMoved.Round(time.Millisecond), killLoad, lost)
}

// poolLines returns each worker's log lines about its membership, for a
// failure's message.
func poolLines(ws []*harness.Worker) string {
	var sb strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&sb, "worker %s:\n", w.ID())
		for _, l := range strings.Split(w.Log(), "\n") {
			if strings.Contains(l, "group") || strings.Contains(l, "pool") || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
				fmt.Fprintf(&sb, "  %s\n", l)
			}
		}
	}
	return sb.String()
}

// without returns ws without x.
func without(ws []*harness.Worker, x *harness.Worker) []*harness.Worker {
	var out []*harness.Worker
	for _, w := range ws {
		if w != x {
			out = append(out, w)
		}
	}
	return out
}

// joinLine is one "joined the pool" line of a worker's log
// (runtime/pool.go).
type joinLine struct {
	at                 time.Time
	generation         int
	connectors, tasks  int
	revokedConnectors  int
	revokedTasks       int
	leader             bool
	connectorsAndTasks int
}

// joinLines returns the "joined the pool" lines of a log, in order.
func joinLines(log string) []joinLine {
	var out []joinLine
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="joined the pool"`) {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, attr(line, "time"))
		if err != nil {
			continue
		}
		n := func(k string) int { v, _ := strconv.Atoi(attr(line, k)); return v }
		j := joinLine{at: at, generation: n("generation"), connectors: n("connectors"), tasks: n("tasks"),
			revokedConnectors: n("revoked_connectors"), revokedTasks: n("revoked_tasks"), leader: attr(line, "leader") == "true"}
		j.connectorsAndTasks = j.connectors + j.tasks
		out = append(out, j)
	}
	return out
}

// attr returns the unquoted value of key=value in a slog text line.
func attr(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// joinTimes reads, once the pool is balanced with the newest worker nw,
// when nw first joined and when the last member logged the generation
// that gave nw the last of its work. A "joined the pool" line counts
// only what the generation adds (incremental cooperative assignment), so
// that is nw's last line adding anything; gens sums up nw's lines as
// generation+added-revoked.
func joinTimes(live []*harness.Worker, nw *harness.Worker) (first, last time.Time, gens string, err error) {
	ls := joinLines(nw.Log())
	if len(ls) == 0 {
		return first, last, "", fmt.Errorf("new worker %s never joined", nw.ID())
	}
	first = ls[0].at
	gen := -1
	var parts []string
	for _, l := range ls {
		if l.connectorsAndTasks > 0 {
			gen = l.generation
		}
		parts = append(parts, fmt.Sprintf("%d+%d-%d", l.generation, l.connectorsAndTasks, l.revokedConnectors+l.revokedTasks))
	}
	gens = strings.Join(parts, " ")
	if gen < 0 {
		return first, last, gens, fmt.Errorf("new worker %s was given nothing: %s", nw.ID(), gens)
	}
	for _, w := range live {
		found := false
		for _, l := range joinLines(w.Log()) {
			if l.generation == gen {
				found = true
				if l.at.After(last) {
					last = l.at
				}
			}
		}
		if !found {
			return first, last, gens, fmt.Errorf("worker %s logged no generation %d", w.ID(), gen)
		}
	}
	return first, last, gens, nil
}

// expandedStatus is GET /connectors?expand=status on w.
func expandedStatus(w *harness.Worker) (map[string]harness.Status, error) {
	code, body := w.Do("GET", "/connectors?expand=status", nil)
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET %s/connectors?expand=status: %d %s", w.URL, code, body)
	}
	var m map[string]struct {
		Status harness.Status `json:"status"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", body, err)
	}
	out := make(map[string]harness.Status, len(m))
	for k, v := range m {
		out[k] = v.Status
	}
	return out, nil
}

// waitBalanced polls the status on w (every 50 ms) until every connector
// of names and each of its tasks is RUNNING on a worker of ws, each of
// them running the floor or ceiling of its share of connectors and of
// tasks.
func waitBalanced(b *testing.B, w *harness.Worker, ws []*harness.Worker, names []string, timeout time.Duration) {
	b.Helper()
	var ids []string
	for _, x := range ws {
		ids = append(ids, x.ID())
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if last = balanced(w, ids, names); last == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%d connectors not balanced over %v after %v: %v\n%s", len(names), ids, timeout, last, poolLines(ws))
}

func balanced(w *harness.Worker, ids, names []string) error {
	sts, err := expandedStatus(w)
	if err != nil {
		return err
	}
	conns, tasks := map[string]int{}, map[string]int{}
	nTasks := 0
	for _, n := range names {
		s, ok := sts[n]
		if !ok {
			return fmt.Errorf("no status of %s", n)
		}
		if s.Connector.State != "RUNNING" || !slices.Contains(ids, s.Connector.WorkerID) {
			return fmt.Errorf("connector %s %s on %q", n, s.Connector.State, s.Connector.WorkerID)
		}
		conns[s.Connector.WorkerID]++
		if len(s.Tasks) == 0 {
			return fmt.Errorf("connector %s has no tasks", n)
		}
		for _, ts := range s.Tasks {
			if ts.State != "RUNNING" || !slices.Contains(ids, ts.WorkerID) {
				return fmt.Errorf("task %s/%d %s on %q", n, ts.ID, ts.State, ts.WorkerID)
			}
			tasks[ts.WorkerID]++
			nTasks++
		}
	}
	k := len(ids)
	for _, id := range ids {
		if c := conns[id]; c < len(names)/k || c > (len(names)+k-1)/k {
			return fmt.Errorf("worker %s runs %d connectors (%v)", id, c, conns)
		}
		if t := tasks[id]; t < nTasks/k || t > (nTasks+k-1)/k {
			return fmt.Errorf("worker %s runs %d tasks (%v)", id, t, tasks)
		}
	}
	return nil
}

// BenchmarkExactlyOnceThroughput compares at-least-once with exactly-once
// sources in the same run, each on a worker process and a broker process
// of its own:
//
//   - datagen: SLUICE_BENCH_EOS_RECORDS (1,000,000) records of one task
//     (datagen.batch.size 1000, the default, or SLUICE_BENCH_DATAGEN_BATCH),
//     until a read_committed
//     consumer started before the connector has read them all; at least
//     once, exactly once with transaction.boundary=poll (a transaction
//     per poll of 1000 records) and with interval (200 ms);
//   - postgres: BenchmarkPostgresStreaming's WAL read by three slots
//     created before the rows were written: pg_recvlogical on one, a
//     worker with exactly.once.source.support disabled and one with it
//     enabled on the others (which goes first alternates per iteration).
//
// Target: exactly-once ≥ 0.8 × at-least-once.
func BenchmarkExactlyOnceThroughput(b *testing.B) {
	b.Run("datagen", func(b *testing.B) {
		n := envInt("SLUICE_BENCH_EOS_RECORDS", 1_000_000)
		modes := []struct{ name, eos, boundary string }{
			{"at-least-once", "disabled", "poll"},
			{"exactly-once-poll", "enabled", "poll"},
			{"exactly-once-interval", "enabled", "interval"},
		}
		for range b.N {
			rate := map[string]float64{}
			var line []string
			for _, m := range modes {
				r := datagenDelivery(b, m.name, m.eos, m.boundary, n)
				rate[m.name] = r.rate
				line = append(line, fmt.Sprintf("%s %.0f rec/s (worker %.2f, broker %.2f CPU-µs/rec) [load %s]", m.name, r.rate, r.workerCPU, r.brokerCPU, r.load))
			}
			alo := rate["at-least-once"]
			b.ReportMetric(alo, "alo-records/s")
			b.ReportMetric(rate["exactly-once-poll"], "eos-poll-records/s")
			b.ReportMetric(rate["exactly-once-interval"], "eos-interval-records/s")
			b.ReportMetric(rate["exactly-once-poll"]/alo, "ratio-poll")
			b.ReportMetric(rate["exactly-once-interval"]/alo, "ratio-interval")
			b.Logf("records=%d: %s; EOS/ALO poll %.2f, interval %.2f", n, strings.Join(line, "; "),
				rate["exactly-once-poll"]/alo, rate["exactly-once-interval"]/alo)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		rows := envInt("SLUICE_BENCH_PG_ROWS", 1_000_000)
		for range b.N {
			pg := harness.StartPostgres(b, harness.PostgresOptions{})
			wal := loadStreamWAL(b, pg, "stream", rows, "raw", "alo", "eos")
			eosRuns++
			load := loadAvg()
			raw := wal.recvlogical(b, "raw")
			order := []string{"disabled", "enabled"}
			if eosRuns%2 == 0 {
				slices.Reverse(order)
			}
			rate, loads := map[string]float64{}, map[string]string{}
			for _, eos := range order {
				slot := map[string]string{"disabled": "alo", "enabled": "eos"}[eos]
				br := harness.StartBroker(b)
				w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap,
					Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{"offset.flush.interval.ms": "200",
						"sluice.debug.pprof": "true", "exactly.once.source.support": eos})})
				stop := captureProfilesAs(b, w, b.Name()+"_eos-"+eos)
				loads[eos] = loadAvg()
				run := wal.stream(b, br, w, "pg", "bench", slot)
				stop()
				rate[eos] = float64(rows) / run.committed.Seconds()
			}
			alo, eos := rate["disabled"], rate["enabled"]
			b.ReportMetric(raw, "pg_recvlogical-rows/s")
			b.ReportMetric(alo, "alo-rows/s")
			b.ReportMetric(eos, "eos-rows/s")
			b.ReportMetric(alo/raw, "alo-ratio")
			b.ReportMetric(eos/raw, "eos-ratio")
			b.ReportMetric(eos/alo, "eos/alo")
			b.Logf("rows=%d pg_recvlogical %.0f rows/s [load %s]; at-least-once %.0f rows/s (%.2f×) [load %s]; exactly-once %.0f rows/s (%.2f×) [load %s]; EOS/ALO %.2f (order %v)",
				rows, raw, load, alo, alo/raw, loads["disabled"], eos, eos/raw, loads["enabled"], eos/alo, order)
		}
	})
}

// eosRuns counts the postgres runs of BenchmarkExactlyOnceThroughput
// (with -count as well), so that which side goes first alternates.
var eosRuns int

// delivery is one datagenDelivery run.
type delivery struct {
	rate                 float64 // records/s
	workerCPU, brokerCPU float64 // CPU-µs per record
	load                 string
}

// datagenDelivery runs n datagen records through a worker with
// exactly.once.source.support=eos and transaction.boundary=boundary, on
// a broker of its own, until a read_committed consumer has read them.
func datagenDelivery(b *testing.B, name, eos, boundary string, n int) delivery {
	b.Helper()
	br := harness.StartBroker(b)
	w := harness.StartWorker(b, harness.WorkerOptions{Bootstrap: br.Bootstrap,
		Props: envProps("SLUICE_BENCH_WORKER_PROPS", map[string]string{"exactly.once.source.support": eos, "sluice.debug.pprof": "true"})})
	cl := br.Client(b, kgo.ConsumeTopics("eos-bench"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.MetadataMinAge(50*time.Millisecond))
	stop := captureProfilesAs(b, w, b.Name()+"_"+name)
	d := delivery{load: loadAvg()}
	wcpu, bcpu := cpuSeconds(w.PID()), cpuSeconds(br.PID())
	start := time.Now()
	w.JSON("POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "eos-bench", "iterations": strconv.Itoa(n), "tasks.max": "1",
		"transaction.boundary": boundary, "transaction.boundary.interval.ms": "200",
		"datagen.batch.size": strconv.Itoa(envInt("SLUICE_BENCH_DATAGEN_BATCH", 1000))}}, http.StatusCreated, nil)
	got := 0
	deadline := start.Add(10 * time.Minute)
	for got < n {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		got += fs.NumRecords()
		if time.Now().After(deadline) {
			b.Fatalf("%s: %d of %d records read_committed after 10 minutes", name, got, n)
		}
	}
	elapsed := time.Since(start)
	d.rate = float64(n) / elapsed.Seconds()
	d.workerCPU = (cpuSeconds(w.PID()) - wcpu) * 1e6 / float64(n)
	d.brokerCPU = (cpuSeconds(br.PID()) - bcpu) * 1e6 / float64(n)
	stop()
	w.Stop()
	return d
}

// BenchmarkPoolPostgresConnectors compares one PostgreSQL connector on one
// worker with three (three databases on one server) on a pool of three
// workers, each against pg_recvlogical in the same run: alone on its
// database for the first, three at once for the second. Every database
// holds SLUICE_BENCH_PG_ROWS (1,000,000) rows of BenchmarkPostgresStreaming's
// table, all slots created before the rows were written. It reports each
// connector's rows/s and ratio, and the CPU the workers, PostgreSQL and
// the broker spent per row, which is what bounds three connectors on two
// cores.
func BenchmarkPoolPostgresConnectors(b *testing.B) {
	rows := envInt("SLUICE_BENCH_PG_ROWS", 1_000_000)
	for range b.N {
		pg := harness.StartPostgres(b, harness.PostgresOptions{})
		var wals []*streamWAL
		for i := 1; i <= 3; i++ {
			// Slot names are the server's, not the database's.
			slots := []string{fmt.Sprintf("raw%d", i), fmt.Sprintf("sluice%d", i)}
			if i == 1 {
				slots = append(slots, "raw_one", "sluice_one")
			}
			wals = append(wals, loadStreamWAL(b, pg, fmt.Sprintf("db%d", i), rows, slots...))
		}

		// One connector on one worker.
		load1 := loadAvg()
		pg0 := treeCPUSeconds(pg.PID())
		cmd := wals[0].recvlogicalCmd("raw_one")
		s1 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("pg_recvlogical: %v\n%s", err, out)
		}
		raw1 := float64(rows) / time.Since(s1).Seconds()
		rawUse1 := rawCPU{pg: treeCPUSeconds(pg.PID()) - pg0, client: procCPU(cmd), wall: time.Since(s1)}
		props, _ := isolated(b, map[string]string{"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true"})
		p1 := harness.StartPool(b, 1, harness.PoolOptions{Props: props})
		cpu1 := startCPU(pg, p1)
		start := time.Now()
		harness.Write(b, p1.Workers[0], "POST", "/connectors", map[string]any{"name": "pg1",
			"config": wals[0].connectorConfig("one", "sluice_one")}, http.StatusCreated, time.Minute)
		single := awaitCommitted(b, p1.Workers[0], []string{"pg1"}, wals[:1], start)[0]
		use1 := cpu1.since(start)
		rate1 := float64(rows) / single.Seconds()

		// Three raw readers at once, then three connectors on three workers.
		load3 := loadAvg()
		raw3 := make([]float64, 3)
		cmds := make([]chan float64, 3)
		clients := make([]float64, 3)
		pg0 = treeCPUSeconds(pg.PID())
		s3 := time.Now()
		for i, wal := range wals {
			cmds[i] = make(chan float64, 1)
			go func() {
				s := time.Now()
				cmd := wal.recvlogicalCmd(fmt.Sprintf("raw%d", i+1))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Errorf("pg_recvlogical on %s: %v\n%s", wal.db, err, out)
				}
				clients[i] = procCPU(cmd)
				cmds[i] <- float64(rows) / time.Since(s).Seconds()
			}()
		}
		for i := range cmds {
			raw3[i] = <-cmds[i]
		}
		rawUse3 := rawCPU{pg: treeCPUSeconds(pg.PID()) - pg0, client: clients[0] + clients[1] + clients[2], wall: time.Since(s3)}
		if b.Failed() {
			b.FailNow()
		}
		props, _ = isolated(b, map[string]string{"offset.flush.interval.ms": "200", "sluice.debug.pprof": "true"})
		p3 := harness.StartPool(b, 3, harness.PoolOptions{Props: props})
		names := []string{"pg-a", "pg-b", "pg-c"}
		// The pool settles before the connectors come, so that none of
		// them waits for a worker's join.
		p3.Leader(b)
		cpu3 := startCPU(pg, p3)
		start = time.Now()
		for i, n := range names {
			harness.Write(b, p3.Workers[i], "POST", "/connectors", map[string]any{"name": n,
				"config": wals[i].connectorConfig(n, fmt.Sprintf("sluice%d", i+1))}, http.StatusCreated, time.Minute)
		}
		loadPool := loadAvg()
		took := awaitCommitted(b, p3.Workers[0], names, wals, start)
		use3 := cpu3.since(start)
		placed := map[string]string{}
		for _, n := range names {
			if s, err := harness.GetStatus(p3.Workers[0], n); err == nil && len(s.Tasks) > 0 {
				placed[n] = s.Tasks[0].WorkerID
			}
		}

		b.ReportMetric(raw1, "raw1-rows/s")
		b.ReportMetric(rate1, "one-rows/s")
		b.ReportMetric(rate1/raw1, "one-ratio")
		var line []string
		var sumRate, sumRatio float64
		for i, n := range names {
			r := float64(rows) / took[i].Seconds()
			sumRate += r
			sumRatio += r / raw3[i]
			line = append(line, fmt.Sprintf("%s %.0f rows/s (pg_recvlogical %.0f, ratio %.2f, task on %s)", n, r, raw3[i], r/raw3[i], placed[n]))
		}
		b.ReportMetric(sumRate/3, "pool-rows/s/connector")
		b.ReportMetric(sumRatio/3, "pool-ratio")
		b.ReportMetric((raw3[0]+raw3[1]+raw3[2])/3, "raw3-rows/s/reader")
		b.Logf("rows=%d per database. One connector, one worker: %.0f rows/s, pg_recvlogical alone %.0f (%s), ratio %.2f [load %s]; %s",
			rows, rate1, raw1, rawUse1.String(rows), rate1/raw1, load1, use1.String(rows))
		b.Logf("Three connectors, three workers: %s; mean ratio %.2f, %.0f rows/s in all [pg_recvlogical load %s (%s), pool load %s]; %s",
			strings.Join(line, "; "), sumRatio/3, float64(3*rows)/slices.Max(took).Seconds(), load3, rawUse3.String(3*rows), loadPool, use3.String(3*rows))
	}
}

// rawCPU is the CPU that pg_recvlogical readers took: PostgreSQL's (its
// walsenders) and their own.
type rawCPU struct {
	pg, client float64 // CPU seconds
	wall       time.Duration
}

func (c rawCPU) String(rows int) string {
	r := float64(rows)
	return fmt.Sprintf("CPU-µs/row PostgreSQL %.2f, pg_recvlogical %.2f; %.2f cores busy",
		c.pg*1e6/r, c.client*1e6/r, (c.pg+c.client)/c.wall.Seconds())
}

// procCPU returns the user and system CPU seconds of a command that ran.
func procCPU(cmd *exec.Cmd) float64 {
	if cmd.ProcessState == nil {
		return 0
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
}

// awaitCommitted polls (every 100 ms) until each connector's committed
// offset covers its WAL's last transaction, and returns each one's time
// since start.
func awaitCommitted(b *testing.B, w *harness.Worker, names []string, wals []*streamWAL, start time.Time) []time.Duration {
	b.Helper()
	took := make([]time.Duration, len(names))
	deadline := start.Add(30 * time.Minute)
	for left := len(names); left > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("connectors %v: not every offset committed after 30 minutes (%v)", names, took)
		}
		for i, n := range names {
			if took[i] == 0 && wals[i].committedOn(w, n) == nil {
				took[i] = time.Since(start)
				left--
			}
		}
	}
	return took
}

// cpuUse is the CPU time of a pool's workers, PostgreSQL and the broker
// since a starting point.
type cpuUse struct {
	pg      *harness.Postgres
	pool    *harness.Pool
	w, p, k float64 // CPU seconds: workers, PostgreSQL, broker
	wall    time.Duration
}

func startCPU(pg *harness.Postgres, p *harness.Pool) *cpuUse {
	c := &cpuUse{pg: pg, pool: p}
	c.w, c.p, c.k = c.read()
	return c
}

func (c *cpuUse) read() (w, p, k float64) {
	for _, x := range c.pool.Live() {
		w += cpuSeconds(x.PID())
	}
	return w, treeCPUSeconds(c.pg.PID()), cpuSeconds(c.pool.Broker.PID())
}

// since returns the CPU used since the start, over the wall time since
// start.
func (c *cpuUse) since(start time.Time) cpuUse {
	w, p, k := c.read()
	return cpuUse{w: w - c.w, p: p - c.p, k: k - c.k, wall: time.Since(start)}
}

// String says the CPU per row and how many cores were busy on average.
func (c cpuUse) String(rows int) string {
	r := float64(rows)
	return fmt.Sprintf("CPU-µs/row workers %.2f, PostgreSQL %.2f, broker %.2f (total %.2f); %.2f cores busy over %v",
		c.w*1e6/r, c.p*1e6/r, c.k*1e6/r, (c.w+c.p+c.k)*1e6/r, (c.w+c.p+c.k)/c.wall.Seconds(), c.wall.Round(time.Millisecond))
}
