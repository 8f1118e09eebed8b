package datagen

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

var allQuickstarts = []string{"users", "orders", "pageviews"}

func TestDeterministic(t *testing.T) {
	for _, qs := range allQuickstarts {
		t.Run(qs, func(t *testing.T) {
			const n = 60
			props := testProps(Quickstart+"="+qs, Iterations+"="+strconv.Itoa(n), Seed+"=42", BatchSize+"=7")
			one := drain(t, startTasks(t, props, 1, nil)[0], n)
			again := drain(t, startTasks(t, props, 1, nil)[0], n)
			bySeq := map[int64]*connectors.Record{}
			for _, task := range startTasks(t, props, 4, nil) {
				for _, r := range drain(t, task, n/4) {
					bySeq[seqOf(t, r)] = r
				}
			}
			for i, r := range one {
				seq := seqOf(t, r)
				if seq != int64(i) {
					t.Fatalf("record %d has seq %d", i, seq)
				}
				for name, other := range map[string]*connectors.Record{"second run": again[i], "4 tasks": bySeq[seq]} {
					if other == nil {
						t.Fatalf("%s: no record %d", name, seq)
					}
					if !reflect.DeepEqual(r.Key, other.Key) || !reflect.DeepEqual(r.Value, other.Value) ||
						!reflect.DeepEqual(r.Headers, other.Headers) || !r.Timestamp.Equal(other.Timestamp) {
						t.Fatalf("%s: record %d differs:\n%s\n%s", name, seq, render(r), render(other))
					}
				}
				if want := epoch.Add(time.Duration(seq) * time.Millisecond); !r.Timestamp.Equal(want) {
					t.Errorf("record %d timestamp %v, want %v", seq, r.Timestamp, want)
				}
				if r.Topic != "t" || r.Partition != -1 || r.KeySchema != quickstarts[qs].keySchema || r.ValueSchema != quickstarts[qs].valueSchema {
					t.Errorf("record %d: topic %q partition %d schemas %p %p", seq, r.Topic, r.Partition, r.KeySchema, r.ValueSchema)
				}
				if err := conforms(r.KeySchema, r.Key); err != nil {
					t.Errorf("record %d key: %v", seq, err)
				}
				if err := conforms(r.ValueSchema, r.Value); err != nil {
					t.Errorf("record %d value: %v", seq, err)
				}
			}

			// Another seed gives other data for the same sequence numbers.
			other := drain(t, startTasks(t, testProps(Quickstart+"="+qs, Iterations+"="+strconv.Itoa(n), Seed+"=43"), 1, nil)[0], n)
			same := 0
			for i := range one {
				if reflect.DeepEqual(one[i].Value, other[i].Value) {
					same++
				}
			}
			if same > n/10 {
				t.Errorf("seeds 42 and 43 agree on %d of %d values", same, n)
			}
		})
	}
}

func TestKeysAreSpread(t *testing.T) {
	for _, qs := range allQuickstarts {
		recs := drain(t, startTasks(t, testProps(Quickstart+"="+qs, Iterations+"=1000"), 1, nil)[0], 1000)
		keys := map[any]bool{}
		for _, r := range recs {
			keys[r.Key.(*connectors.StructValue).Values[0]] = true
		}
		if len(keys) < 400 {
			t.Errorf("%s: 1000 records have only %d distinct keys", qs, len(keys))
		}
	}
}

func TestTaskSplit(t *testing.T) {
	for _, iterations := range []int{0, 1, 7, 100, 1001} {
		for _, tasks := range []int{1, 2, 3, 8, 16} {
			t.Run(strconv.Itoa(iterations)+"/"+strconv.Itoa(tasks), func(t *testing.T) {
				props := testProps(Iterations+"="+strconv.Itoa(iterations), BatchSize+"=64")
				running := startTasks(t, props, tasks, nil)
				seen := make([]int, iterations)
				for i, task := range running {
					n := len(running)
					want := 0
					if i < iterations {
						want = (iterations - i + n - 1) / n
					}
					prev := int64(-1)
					for _, r := range drain(t, task, want) {
						seq := seqOf(t, r)
						if seq < 0 || seq >= int64(iterations) || seq%int64(n) != int64(i) || seq <= prev {
							t.Fatalf("task %d of %d produced seq %d after %d", i, n, seq, prev)
						}
						if p := r.SourcePartition; p[PartitionKey] != int64(i) || len(p) != 1 {
							t.Fatalf("task %d: source partition %v", i, p)
						}
						if reflect.ValueOf(r.SourcePartition).UnsafePointer() != reflect.ValueOf(task.partition).UnsafePointer() {
							t.Fatalf("task %d: record has its own partition map", i)
						}
						prev = seq
						seen[seq]++
					}
				}
				for seq, c := range seen {
					if c != 1 {
						t.Fatalf("seq %d produced %d times", seq, c)
					}
				}
			})
		}
	}
}

func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stored any
		index  int
		want   int64 // first seq after the restart
	}{
		{"int64", int64(7), 1, 10},
		{"float64 from JSON", float64(7), 1, 10},
		{"json.Number", json.Number("7"), 2, 8},
		{"string", "9", 0, 12},
		{"int", 3, 0, 6},
		{"own seq", int64(4), 1, 7},
		{"before start", int64(-1), 2, 2},
		{"exhausted", int64(28), 1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offs := &memOffsets{m: map[int64]map[string]any{int64(tc.index): {OffsetKey: tc.stored}}}
			tasks := startTasks(t, testProps(Iterations+"=30"), 3, offs)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			recs, err := tasks[tc.index].Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 {
				if len(recs) != 0 {
					t.Fatalf("exhausted task returned %d records", len(recs))
				}
				return
			}
			if len(recs) == 0 || seqOf(t, recs[0]) != tc.want {
				t.Fatalf("first record after restart: %v, want seq %d", recs, tc.want)
			}
		})
	}
}

func TestResumeBadOffset(t *testing.T) {
	for _, off := range []map[string]any{
		{"lsn": int64(3)},
		{OffsetKey: "x"},
		{OffsetKey: 1.5},
		{OffsetKey: int64(-5)},
		{OffsetKey: true},
	} {
		task := NewTask()
		err := task.Start(context.Background(), &memOffsets{m: map[int64]map[string]any{0: off}}, testProps(TaskIndex+"=0", TaskCount+"=1"))
		if err == nil || !strings.Contains(err.Error(), "reset the connector's offsets") {
			t.Errorf("offset %v: Start error = %v", off, err)
		}
	}
	boom := errors.New("boom")
	err := NewTask().Start(context.Background(), &memOffsets{err: boom}, testProps(TaskIndex+"=0", TaskCount+"=1"))
	if !errors.Is(err, boom) {
		t.Errorf("Start with a failing offset reader = %v", err)
	}
}

// TestRestartLosesNothing stops a task midway, commits the offset of what
// it returned and restarts: together the two runs produce every record
// once.
func TestRestartLosesNothing(t *testing.T) {
	props := testProps(Iterations+"=500", BatchSize+"=33", Quickstart+"=orders")
	offs := &memOffsets{}
	seen := map[int64]int{}
	var first []*connectors.Record
	for _, task := range startTasks(t, props, 2, offs) {
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, recs...)
		offs.commit(recs)
	}
	for _, r := range first {
		seen[seqOf(t, r)]++
	}
	for i, task := range startTasks(t, props, 2, offs) {
		for _, r := range drain(t, task, 250-33) {
			if seqOf(t, r)%2 != int64(i) {
				t.Fatalf("task %d produced %d", i, seqOf(t, r))
			}
			seen[seqOf(t, r)]++
		}
	}
	for seq := range int64(500) {
		if seen[seq] != 1 {
			t.Fatalf("seq %d produced %d times", seq, seen[seq])
		}
	}
}

func TestFirstAfter(t *testing.T) {
	for _, tc := range []struct{ stored, index, count, want int64 }{
		{-1, 0, 1, 0},
		{-1, 3, 4, 3},
		{0, 0, 1, 1},
		{3, 3, 4, 7},
		{4, 3, 4, 7},
		{6, 3, 4, 7},
		{7, 3, 4, 11},
		{-9, 1, 2, 1},
		{math.MaxInt64 - 1, 0, 1, math.MaxInt64},
	} {
		if got := firstAfter(tc.stored, tc.index, tc.count); got != tc.want {
			t.Errorf("firstAfter(%d, %d, %d) = %d, want %d", tc.stored, tc.index, tc.count, got, tc.want)
		}
	}
}

func FuzzFirstAfter(f *testing.F) {
	f.Add(int64(5), uint16(1), uint16(3))
	f.Add(int64(-1), uint16(0), uint16(1))
	f.Add(int64(math.MaxInt64-2), uint16(2), uint16(5))
	f.Fuzz(func(t *testing.T, stored int64, index, count uint16) {
		if count == 0 {
			return
		}
		i, n := int64(index%count), int64(count)
		got := firstAfter(stored, i, n)
		if got == math.MaxInt64 {
			if stored < math.MaxInt64-n {
				t.Fatalf("firstAfter(%d, %d, %d) = MaxInt64 too early", stored, i, n)
			}
			return
		}
		if got <= stored || got%n != i || got-n > max(stored, -1) {
			t.Fatalf("firstAfter(%d, %d, %d) = %d", stored, i, n, got)
		}
	})
}

func FuzzStoredSeq(f *testing.F) {
	for _, s := range []string{"0", "-1", "-2", "9223372036854775807", "1e3", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, json.Number(s)} {
			seq, ok, err := storedSeq(map[string]any{OffsetKey: v})
			if err != nil {
				if ok || !strings.Contains(err.Error(), OffsetKey) {
					t.Fatalf("storedSeq(%q) = %d, %v, %v", s, seq, ok, err)
				}
				continue
			}
			if n, perr := strconv.ParseInt(s, 10, 64); !ok || seq < -1 || perr != nil || n != seq {
				t.Fatalf("storedSeq(%q) = %d, %v", s, seq, ok)
			}
		}
	})
}

func TestPollBeforeStart(t *testing.T) {
	if _, err := NewTask().Poll(context.Background()); err == nil {
		t.Error("Poll before Start succeeded")
	}
}

func TestPoison(t *testing.T) {
	for _, qs := range allQuickstarts {
		t.Run(qs, func(t *testing.T) {
			recs := drain(t, startTasks(t, testProps(Quickstart+"="+qs, Iterations+"=100", PoisonEvery+"=10"), 1, nil)[0], 100)
			var poisoned []int64
			for _, r := range recs {
				seq := seqOf(t, r)
				isPoison := len(r.Headers) == 2 && r.Headers[1].Key == PoisonHeader && string(r.Headers[1].Value) == "true"
				err := conforms(r.ValueSchema, r.Value)
				if isPoison != (err != nil) {
					t.Fatalf("seq %d: poison header %v but schema check %v", seq, isPoison, err)
				}
				if !isPoison {
					if len(r.Headers) != 1 {
						t.Fatalf("seq %d: headers %v", seq, r.Headers)
					}
					continue
				}
				poisoned = append(poisoned, seq)
				q := quickstarts[qs]
				v := r.Value.(*connectors.StructValue)
				if _, ok := v.Values[q.poisonField].(chan int); !ok || q.valueSchema.Fields[q.poisonField].Schema.Type != connectors.String {
					t.Fatalf("seq %d: poisoned field %s holds %T", seq, q.valueSchema.Fields[q.poisonField].Name, v.Values[q.poisonField])
				}
				if err := conforms(r.KeySchema, r.Key); err != nil {
					t.Fatalf("seq %d: poison record's key is invalid too: %v", seq, err)
				}
				if _, err := json.Marshal(v.Values); err == nil {
					t.Fatalf("seq %d: poison value serialises as JSON", seq)
				}
			}
			if want := []int64{9, 19, 29, 39, 49, 59, 69, 79, 89, 99}; !reflect.DeepEqual(poisoned, want) {
				t.Errorf("poison records %v, want %v", poisoned, want)
			}
		})
	}
}

// TestRecordsIndependent changes one record of a batch and checks that no
// other record, and no later batch, sees it.
func TestRecordsIndependent(t *testing.T) {
	task := startTasks(t, testProps(Quickstart+"=orders", BatchSize+"=3"), 1, nil)[0]
	a, err := task.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := render(a[1])
	v0 := a[0].Value.(*connectors.StructValue)
	v0.Values = append(v0.Values, "extra")
	v0.Values[2] = "changed"
	v0.Values[4].(*connectors.StructValue).Values[0] = "changed"
	a[0].Key.(*connectors.StructValue).Values[0] = int64(-1)
	a[0].Headers = append(a[0].Headers, connectors.Header{Key: "k"})
	a[0].Headers[0].Value[0] = 'x'
	a[2].SourceOffset[OffsetKey] = int64(-1)
	if got := render(a[1]); got != want {
		t.Fatalf("changing record 0 changed record 1:\n%s\n%s", want, got)
	}
	b, err := task.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if seqOf(t, b[0]) != 3 {
		t.Fatalf("next batch starts at %d", seqOf(t, b[0]))
	}
}

func TestRatePacing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props []string
		n     int
		want  time.Duration // time to produce n records
	}{
		{"rate", []string{Rate + "=1000", BatchSize + "=100"}, 400, 399 * time.Millisecond},
		{"max.interval", []string{MaxInterval + "=2", BatchSize + "=50"}, 200, 398 * time.Millisecond},
		{"slower wins", []string{MaxInterval + "=1", Rate + "=500"}, 200, 398 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := startTasks(t, testProps(append(tc.props, Iterations+"="+strconv.Itoa(tc.n))...), 1, nil)[0]
			task.idleWait = time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			got, polls := 0, 0
			for got < tc.n {
				recs, err := task.Poll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got += len(recs)
				polls++
			}
			elapsed := time.Since(start)
			// Lower bound: pacing held. Upper bound: generous, for a
			// loaded machine running -race.
			if elapsed < tc.want*9/10 || elapsed > tc.want*3+time.Second {
				t.Errorf("%d records took %v, want about %v", tc.n, elapsed, tc.want)
			}
			// One sleep per batch, not per record: a poll per linger at most.
			if maxPolls := int(elapsed/linger) + 2; polls > maxPolls {
				t.Errorf("%d polls in %v, want at most %d", polls, elapsed, maxPolls)
			}
		})
	}
}

func TestPacer(t *testing.T) {
	ms := time.Millisecond
	t0 := time.Unix(1000, 0)
	type step struct {
		at       time.Duration
		want     int
		wantN    int
		wantWait time.Duration
	}
	for _, tc := range []struct {
		name     string
		interval time.Duration
		steps    []step
	}{
		{"unpaced", 0, []step{{0, 100, 100, 0}, {0, 100, 100, 0}}},
		{"full batch at once when due", ms, []step{
			{0, 10, 0, 9 * ms},       // records 0..9 due at 0..9ms: wait for all of them
			{9 * ms, 10, 10, 0},      // take all ten
			{9 * ms, 10, 0, 10 * ms}, // 10..19 due at 10..19ms
			{19 * ms, 10, 10, 0},
		}},
		{"partial batch after linger", ms, []step{
			{0, 1000, 0, linger},
			{linger, 1000, 51, 0},         // records 0..50 are due
			{linger, 1000, 0, 51 * ms},    // record 51 is due at 51ms; wait linger more
			{linger + 51*ms, 1000, 51, 0}, // 51..101
		}},
		{"slow rate", time.Second, []step{
			{0, 100, 0, linger},
			{linger, 100, 1, 0},
			{linger, 100, 0, time.Second},
			{time.Second + linger, 100, 1, 0},
		}},
		{"stall keeps one batch of backlog", ms, []step{
			{0, 10, 0, 9 * ms},
			{time.Second, 10, 10, 0}, // 1000 due, only 10 taken
			{time.Second, 10, 0, 10 * ms},
			{time.Second + 10*ms, 10, 10, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pacer{interval: tc.interval}
			for i, s := range tc.steps {
				n, wait := p.take(t0.Add(s.at), s.want)
				if n != s.wantN || wait != s.wantWait {
					t.Fatalf("step %d at %v: take(%d) = %d, %v; want %d, %v", i, s.at, s.want, n, wait, s.wantN, s.wantWait)
				}
			}
		})
	}
}

func TestPollReturnsOnCancel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		props []string
	}{
		{"paced", []string{Rate + "=0.001"}},
		{"exhausted", []string{Iterations + "=0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := startTasks(t, testProps(tc.props...), 1, nil)[0]
			task.idleWait = time.Minute
			ctx, cancel := context.WithCancel(context.Background())
			if tc.name == "paced" {
				// The first record is due at once; the next in 1000 s.
				if recs, err := task.Poll(ctx); err != nil || len(recs) != 1 {
					t.Fatalf("first Poll = %d records, %v", len(recs), err)
				}
			}
			done := make(chan error, 1)
			go func() {
				recs, err := task.Poll(ctx)
				if len(recs) != 0 {
					err = errors.New("got records")
				}
				done <- err
			}()
			time.Sleep(20 * time.Millisecond) // let Poll block
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Poll after cancel = %v, want context.Canceled", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Poll did not return after cancel")
			}
			if _, err := task.Poll(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Poll on a done ctx = %v", err)
			}
		})
	}
}

func TestStopUnblocksPoll(t *testing.T) {
	task := startTasks(t, testProps(Iterations+"=0"), 1, nil)[0]
	task.idleWait = time.Minute
	done := make(chan error, 1)
	go func() {
		_, err := task.Poll(context.Background())
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := task.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Poll after Stop = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Poll did not return after Stop")
	}
	if recs, err := task.Poll(context.Background()); len(recs) != 0 || err != nil {
		t.Fatalf("Poll after Stop = %d records, %v", len(recs), err)
	}
}

func TestExhaustedTaskIdles(t *testing.T) {
	task := startTasks(t, testProps(Iterations+"=3"), 1, nil)[0]
	task.idleWait = 30 * time.Millisecond
	drain(t, task, 3)
	for range 3 {
		start := time.Now()
		recs, err := task.Poll(context.Background())
		if err != nil || len(recs) != 0 {
			t.Fatalf("Poll = %d records, %v", len(recs), err)
		}
		if d := time.Since(start); d < task.idleWait {
			t.Fatalf("empty Poll returned after %v, before the idle wait of %v (spinning)", d, task.idleWait)
		}
	}
}

func TestSeqOrderWithinBatch(t *testing.T) {
	recs := drain(t, startTasks(t, testProps(Iterations+"=20", BatchSize+"=6"), 2, nil)[1], 10)
	seqs := make([]int64, len(recs))
	for i, r := range recs {
		seqs[i] = seqOf(t, r)
	}
	if !sort.SliceIsSorted(seqs, func(i, j int) bool { return seqs[i] < seqs[j] }) || seqs[0] != 1 || seqs[9] != 19 {
		t.Errorf("task 1 of 2 produced %v", seqs)
	}
}

// TestOffsetsCoverEveryRecord checks that each batch ends with an offset
// (so committing a batch covers all of it) and that the record before a
// poison record carries one (so a task failing on the poison record has
// everything before it committed).
func TestOffsetsCoverEveryRecord(t *testing.T) {
	task := startTasks(t, testProps(BatchSize+"=10", PoisonEvery+"=7", Iterations+"=100"), 1, nil)[0]
	for seen := 0; seen < 100; {
		batch, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			continue
		}
		if last := batch[len(batch)-1]; last.SourceOffset[OffsetKey] != seqOf(t, last) {
			t.Fatalf("batch ends at seq %d without its offset: %v", seqOf(t, last), last.SourceOffset)
		}
		for _, r := range batch {
			if seq := seqOf(t, r); seq%7 == 5 && r.SourceOffset[OffsetKey] != seq {
				t.Fatalf("record %d, before poison record %d, has no offset", seq, seq+1)
			}
		}
		seen += len(batch)
	}
}
