package it

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// chaosRounds is the number of kill -9 rounds of TestEmbeddedBrokerChaos:
// a short smoke by default, 100 with `make chaos`.
var chaosRounds = envInt("SLUICE_IT_CHAOS_ROUNDS", 6)

// TestEmbeddedBrokerChaos kills a `sluice worker` running the embedded
// broker with kill -9 at random moments, SLUICE_IT_CHAOS_ROUNDS times,
// while a datagen connector (2 tasks) and a PostgreSQL connector (three
// tables under insert/update/delete load) run. SLUICE_IT_CHAOS_CLEANER_MS
// also runs kfake's cleaner while serving (unsafe; off by default). Every
// fourth round the
// process is killed during its start-up instead, before its REST API
// answers, which is when the embedded broker compacts its topics (it
// compacts at every start, so every round compacts).
//
// After each restart:
//   - both connectors are there with the configs they were created with;
//   - the committed source offsets did not go backwards from those read
//     just before the kill;
//   - every datagen record the committed offsets say was produced is in
//     the topic (task i of 2 produces seq i, i+2, ...; a committed seq n
//     means every seq of that task up to n was acknowledged);
//   - every record read from a data topic in an earlier round is still
//     there, at the same offset, with the same key and value.
//
// At the end the load stops and each PostgreSQL topic must equal its
// table: the last value per key is the row, deleted rows are absent, and
// the insert-only table's topic has every row.
func TestEmbeddedBrokerChaos(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	db := pg.CreateDB(t, "chaos")
	pg.Exec(t, db,
		// Non-key columns are nullable: a delete's before image holds the
		// key only, and the source fails it for a NOT NULL column (a bug
		// outside this test's subject).
		"CREATE TABLE kv (id int PRIMARY KEY, v bigint, s text)",
		"CREATE TABLE counters (id int PRIMARY KEY, n bigint)",
		"CREATE TABLE events (id bigserial PRIMARY KEY, kv_id int, note text)",
		"INSERT INTO kv SELECT g, g, 'row ' || g FROM generate_series(1, 200) g",
		"INSERT INTO counters SELECT g, 0 FROM generate_series(1, 20) g",
	)

	props := map[string]string{"offset.flush.interval.ms": "200"}
	if ms := os.Getenv("SLUICE_IT_CHAOS_CLEANER_MS"); ms != "" {
		// Also run kfake's cleaner while serving, every ms: the unsafe
		// mode, to see what the start-up compaction avoids.
		props["sluice.broker.log.cleaner.backoff.ms"] = ms
	}
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: props})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	const dgTopic = "chaos-datagen"
	pgTopics := []string{"chaos.public.kv", "chaos.public.counters", "chaos.public.events"}
	dgCfg := datagen(dgTopic, map[string]string{"tasks.max": "2", "datagen.rate": "400"})
	pgCfg := pgSourceConfig(pg, db, "chaos", "sluice_chaos", map[string]string{"table.include.list": "public.(kv|counters|events)"})
	create(t, w, "dg", dgCfg)
	create(t, w, "pg", pgCfg)
	waitState(t, w, "dg", "RUNNING", 2, "RUNNING")
	waitState(t, w, "pg", "RUNNING", 1, "RUNNING")

	// The load runs on its own connection until stopLoad; its goroutine
	// is joined before the final comparison.
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	loadErr := make(chan error, 1)
	loadConn := pg.Connect(t, db)
	go func() { loadErr <- chaosLoad(loadCtx, loadConn) }()

	seen := newPrefixes()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	earlyKills := 0
	for round := 1; round <= chaosRounds; round++ {
		time.Sleep(time.Duration(300+rng.IntN(4000)) * time.Millisecond)
		dgBefore := taskOffsets(t, w, "dg")
		pgBefore := lsnProc(t, w)
		w.Kill()

		if round%4 == 0 {
			// Kill again during start-up, before the REST API answers.
			cmd := exec.Command(harness.Binary(t), w.Args...)
			cmd.Env = w.Env
			p := harness.Start(t, "sluice worker (killed during start-up)", cmd)
			time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
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
		for name, want := range map[string]map[string]string{"dg": dgCfg, "pg": pgCfg} {
			var got map[string]string
			w.JSON("GET", "/connectors/"+name+"/config", nil, http.StatusOK, &got)
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("round %d: connector %s config %s = %q after the restart, want %q", round, name, k, got[k], v)
				}
			}
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

		// Read every data topic from the start: what earlier rounds read
		// is unchanged, and the datagen records below the committed
		// offsets are there.
		present := seen.check(t, listen, append([]string{dgTopic}, pgTopics...), round)
		for task, seq := range dgAfter {
			for n := int64(task); n <= seq; n += 2 {
				if !present[n] {
					t.Fatalf("round %d: datagen seq %d (task %d, committed %d) is not in %s", round, n, task, seq, dgTopic)
				}
			}
		}
		t.Logf("round %d: datagen offsets %v, lsn_proc %d, %d records read so far", round, dgAfter, lsnProc(t, w), seen.total())
	}
	stopLoad()
	if err := <-loadErr; err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Logf("%d rounds, %d of %d start-up kills landed before the REST API answered", chaosRounds, earlyKills, chaosRounds/4)

	// The topics catch up with the tables. Datagen is paused first: after
	// 100 rounds its topic holds millions of records and its produce
	// load slowed the final reads past their deadline.
	w.JSON("PUT", "/connectors/dg/pause", nil, http.StatusAccepted, nil)
	st := getStatus(t, w, "pg")
	t.Logf("pg connector %s, tasks %+v", st.Connector.State, st.Tasks)
	c := pg.Connect(t, db)
	want := map[string]map[string]map[string]string{}
	for _, tb := range []string{"kv", "counters", "events"} {
		rows, err := sqlTable(context.Background(), c, tb, "id")
		if err != nil {
			t.Fatal(err)
		}
		want["chaos.public."+tb] = rows
	}
	// history is every event of each key, kept for the report of a
	// failed comparison.
	var last *cdcState
	history := map[string][]string{}
	defer func() {
		if !t.Failed() || last == nil {
			return
		}
		for _, topic := range pgTopics {
			got := last.table(topic).rows
			var odd []string
			for k := range got {
				if _, ok := want[topic][k]; !ok {
					odd = append(odd, k+" (in the topic only)")
				}
			}
			for k, w := range want[topic] {
				if g, ok := got[k]; !ok {
					odd = append(odd, k+" (in the table only)")
				} else if fmt.Sprint(g) != fmt.Sprint(w) {
					odd = append(odd, fmt.Sprintf("%s (topic %v, table %v)", k, g, w))
				}
			}
			sort.Strings(odd)
			for _, k := range odd {
				key, _, _ := strings.Cut(k, " ")
				t.Logf("%s: %s; events: %v", topic, k, history[topic+"|"+key])
			}
		}
		t.Logf("worker log:\n%s", tail(w.Log(), 300))
	}()
	// One client reads the topics for every try: a try goes on from where
	// the previous one stopped rather than reading them again from the
	// start (after 100 rounds they hold hundreds of thousands of records).
	state := newCDCState()
	last = state
	cl, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.ConsumeTopics(pgTopics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pos := map[string]map[int32]int64{}
	harness.WaitFor(t, 8*time.Minute, "the PostgreSQL topics equal the tables", func() error {
		record := func(r *kgo.Record) error {
			if err := state.apply(r); err != nil {
				// The client does not read it again: a malformed record
				// fails the test here.
				t.Fatalf("%s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
			key, _ := jsonPayload(r.Key)
			val, _ := jsonPayload(r.Value)
			ev := fmt.Sprintf("@%d tombstone", r.Offset)
			if val != nil {
				src, _ := val["source"].(map[string]any)
				ev = fmt.Sprintf("@%d %v lsn=%v tx=%v snapshot=%v", r.Offset, val["op"], normValue(src["lsn"]), normValue(src["txId"]), src["snapshot"])
			}
			k := r.Topic + "|" + keyString(key)
			history[k] = append(history[k], ev)
			return nil
		}
		if err := readToEnd(cl, listen, pgTopics, pos, record); err != nil {
			return err
		}
		for _, topic := range pgTopics {
			if err := diffRows(topic, want[topic], state.table(topic).rows); err != nil {
				return err
			}
		}
		return nil
	})
}

// chaosLoad runs small transactions until ctx ends: inserts into events,
// updates of kv and counters, deletes and re-inserts of kv rows.
func chaosLoad(ctx context.Context, c *pgx.Conn) error {
	defer c.Close(context.Background())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; ; i++ {
		if ctx.Err() != nil {
			return nil
		}
		id := 1 + rng.IntN(200)
		var sqls []string
		switch i % 4 {
		case 0:
			sqls = []string{fmt.Sprintf("UPDATE kv SET v = v + 1, s = 'u%d' WHERE id = %d", i, id)}
		case 1:
			sqls = []string{fmt.Sprintf("UPDATE counters SET n = n + 1 WHERE id = %d", 1+rng.IntN(20))}
		case 2:
			sqls = []string{fmt.Sprintf("DELETE FROM kv WHERE id = %d", id)}
		case 3:
			sqls = []string{fmt.Sprintf("INSERT INTO kv VALUES (%d, %d, 'i%d') ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, s = EXCLUDED.s", id, i, i)}
		}
		sqls = append(sqls, fmt.Sprintf("INSERT INTO events (kv_id, note) VALUES (%d, 'e%d')", id, i))
		tx, err := c.Begin(ctx)
		if err == nil {
			for _, q := range sqls {
				if _, err = tx.Exec(ctx, q); err != nil {
					break
				}
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

// lsnProc returns the PostgreSQL connector's committed lsn_proc (0 before
// the first commit).
func lsnProc(t testing.TB, w *harness.Worker) int64 {
	t.Helper()
	var hi int64
	for _, o := range sourceOffsets(t, w, "pg") {
		if v, ok := o["lsn_proc"].(float64); ok && int64(v) > hi {
			hi = int64(v)
		}
	}
	return hi
}

// prefixes remembers, per topic partition, a hash of the key and value of
// every record read so far, by offset.
type prefixes struct {
	mu   sync.Mutex
	recs map[string]map[int32][]uint64
}

func newPrefixes() *prefixes { return &prefixes{recs: map[string]map[int32][]uint64{}} }

func (p *prefixes) total() int {
	n := 0
	for _, parts := range p.recs {
		for _, hs := range parts {
			n += len(hs)
		}
	}
	return n
}

// check reads topics from the start to their end offsets, fails the test
// when a record read in an earlier round is gone or changed, remembers
// the new ones, and returns the datagen seqs present in the first topic.
func (p *prefixes) check(t testing.TB, bootstrap string, topics []string, round int) map[int64]bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), freshMetadata)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	fresh := map[string]map[int32][]uint64{}
	present := map[int64]bool{}
	err = readToEnd(cl, bootstrap, topics, nil, func(r *kgo.Record) error {
		parts := fresh[r.Topic]
		if parts == nil {
			parts = map[int32][]uint64{}
			fresh[r.Topic] = parts
		}
		if int64(len(parts[r.Partition])) != r.Offset {
			return fmt.Errorf("%s[%d]: record at offset %d after %d records: a gap in a data topic", r.Topic, r.Partition, r.Offset, len(parts[r.Partition]))
		}
		h := fnv.New64a()
		h.Write(r.Key)
		h.Write([]byte{0})
		h.Write(r.Value)
		parts[r.Partition] = append(parts[r.Partition], h.Sum64())
		if r.Topic == topics[0] {
			present[seqOf(t, r)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic, parts := range p.recs {
		for part, old := range parts {
			now := fresh[topic][part]
			if len(now) < len(old) {
				t.Fatalf("round %d: %s[%d] has %d records, %d were read before the kill", round, topic, part, len(now), len(old))
			}
			for i := range old {
				if now[i] != old[i] {
					t.Fatalf("round %d: %s[%d] offset %d changed since it was read before the kill", round, topic, part, i)
				}
			}
		}
	}
	p.recs = fresh
	return present
}

// readToEnd consumes topics with cl until it reached the end offsets they
// had when it began, calling fn for every record. pos, when not nil, holds
// the next offset cl will return per partition, so that a client that
// already read part of the topics in an earlier call goes on from there;
// nil means cl consumes them from the start.
func readToEnd(cl *kgo.Client, bootstrap string, topics []string, pos map[string]map[int32]int64, fn func(*kgo.Record) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("end offsets of %s: %w", strings.Join(topics, ", "), err)
	}
	left := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if left[o.Topic] == nil {
				left[o.Topic] = map[int32]int64{}
			}
			if pos[o.Topic][o.Partition] < o.Offset {
				left[o.Topic][o.Partition] = o.Offset
			}
			if len(left[o.Topic]) == 0 {
				delete(left, o.Topic)
			}
		}
	})
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("reading %s from %s: still to read %v: %w", strings.Join(topics, ", "), bootstrap, left, ctx.Err())
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("reading %s[%d]: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for _, r := range fs.Records() {
			if err := fn(r); err != nil {
				return err
			}
			if pos != nil {
				if pos[r.Topic] == nil {
					pos[r.Topic] = map[int32]int64{}
				}
				pos[r.Topic][r.Partition] = r.Offset + 1
			}
			if end, ok := left[r.Topic][r.Partition]; ok && r.Offset >= end-1 {
				delete(left[r.Topic], r.Partition)
				if len(left[r.Topic]) == 0 {
					delete(left, r.Topic)
				}
			}
		}
	}
	return nil
}
