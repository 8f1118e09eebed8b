package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// copyDir copies the tree src to dst file by file: the image a kill -9
// leaves of a running broker's directory (kfake fsyncs every write before
// it acknowledges it, and writes nothing else until it closes).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		return copyFile(path, filepath.Join(dst, rel), 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readCommitted reads topic read_committed, transaction markers
// included, until it returned a record (or marker) at the partition's
// last stable offset minus one, as the worker's state-topic readers do
// (kafkalog.ReadToEnd). It returns the data records' values, or an error
// when it could not get there within d.
func readCommitted(t *testing.T, addr, topic string, d time.Duration) ([]string, error) {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	want, next := map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	behind := func() []string {
		var b []string
		for p, lso := range want {
			if next[p] < lso {
				b = append(b, fmt.Sprintf("partition %d at offset %d, last stable offset %d", p, next[p], lso))
			}
		}
		return b
	}
	var vals []string
	for len(behind()) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return vals, fmt.Errorf("read_committed reader of %s after %v: %v: %w", topic, d, behind(), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			next[r.Partition] = r.Offset + 1
			if !r.Attrs.IsControl() {
				vals = append(vals, string(r.Value))
			}
		})
	}
	return vals, nil
}

// A transaction left open by a kill -9 is aborted when the broker starts
// again (kfake marks it aborted while loading), but kfake writes no abort
// marker for it: its records are the partition's tail, below the last
// stable offset, and a read_committed reader is given nothing at those
// offsets. A reader that waits to reach the last stable offset — the
// worker reading its offsets topic at start-up, before any task can write
// there — would wait forever. The start-up therefore writes the missing
// abort markers.
func TestCrashOpenTransactionIsSealed(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	cl := client(t, b.Addr(), kgo.TransactionalID("task-0"), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact := "compact"
	// Several partitions per topic: the start-up looks at every one.
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": &compact}, "offsets"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "data"); err != nil {
		t.Fatal(err)
	}
	txn := func(commit bool, vals ...string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		// Like a source task: the records to a data topic, then their
		// offset, in partition 2 of each topic.
		for _, v := range vals {
			for _, topic := range []string{"data", "offsets"} {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 2, Key: []byte("k" + v), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	txn(true, "a", "b")
	txn(false, "c", "d") // left open: the kill comes now
	crashed := filepath.Join(t.TempDir(), "crashed")
	copyDir(t, dir, crashed)
	cl.Close()
	b.Close()

	b = start(t, crashed)
	defer b.Close()
	for _, topic := range []string{"data", "offsets"} {
		vals, err := readCommitted(t, b.Addr(), topic, 10*time.Second)
		if err != nil {
			t.Fatalf("after the crash: %v (read %v)", err, vals)
		}
		if fmt.Sprint(vals) != "[a b]" {
			t.Fatalf("%s read_committed after the crash: %v, want [a b]", topic, vals)
		}
	}

	// The producer's next instance fences the old one and commits.
	cl = client(t, b.Addr(), kgo.TransactionalID("task-0"), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn(true, "e")
	cl.Close()
	for _, topic := range []string{"data", "offsets"} {
		vals, err := readCommitted(t, b.Addr(), topic, 10*time.Second)
		if err != nil || fmt.Sprint(vals) != "[a b e]" {
			t.Fatalf("%s after the next transaction: %v (error %v), want [a b e]", topic, vals, err)
		}
	}
}

// A transaction left open by a kill -9 and followed, in its partition, by
// another producer's records is not the partition's tail. kfake aborts it
// as it loads the partition but writes no marker, and at the next full
// replay (after the next kill -9) it forgot that abort: its replay tracks
// one open transaction per producer id, so once the producer's next
// instance (same id, a higher epoch) commits there, it took the crashed
// transaction's records for part of that commit. A source task's aborted
// records then showed up read_committed after the records it sent again
// in their place: duplicates (it/chaos_eos_test.go). The start-up writes
// the abort marker of every open transaction, tail or not.
func TestCrashOpenTransactionBehindOtherRecordsStaysAborted(t *testing.T) {
	dir := t.TempDir()
	b := start(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	producer := func(id string) *kgo.Client {
		return client(t, b.Addr(), kgo.TransactionalID(id), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	task, other := producer("task-0"), producer("task-1")
	compact := "compact"
	if _, err := kadm.NewClient(task).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, "offsets"); err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(task).CreateTopic(ctx, 1, 1, nil, "data"); err != nil {
		t.Fatal(err)
	}
	txn := func(cl *kgo.Client, commit bool, vals ...string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			for _, topic := range []string{"data", "offsets"} {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k" + v), Value: []byte(v)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if commit {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	// crash copies the directory as a kill -9 leaves it and starts a
	// broker on the copy.
	crash := func() {
		t.Helper()
		crashed := filepath.Join(t.TempDir(), "crashed")
		copyDir(t, dir, crashed)
		task.Close()
		other.Close()
		b.Close()
		dir = crashed
		b = start(t, dir)
	}
	expect := func(when string, want string) {
		t.Helper()
		for _, topic := range []string{"data", "offsets"} {
			vals, err := readCommitted(t, b.Addr(), topic, 10*time.Second)
			if err != nil || fmt.Sprint(vals) != want {
				t.Fatalf("%s: %s read_committed %v (error %v), want %s", when, topic, vals, err, want)
			}
		}
	}

	txn(task, true, "a")
	txn(task, false, "c", "d") // left open: the kill comes after the next
	txn(other, true, "x")
	crash()
	expect("after the first kill", "[a x]")

	// The task's next instance fences the old one and commits; the other
	// producer goes on.
	task, other = producer("task-0"), producer("task-1")
	txn(task, true, "e")
	txn(other, true, "y")
	crash()
	defer b.Close()
	expect("after the second kill", "[a x e y]")
}

// dropLastBatch removes the last record batch of a partition's segment
// files: the image of a kill -9 just before kfake wrote it.
func dropLastBatch(t *testing.T, pdir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(pdir, "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("segments of %s: %v %v", pdir, files, err)
	}
	// The active segment has the highest base offset.
	last, base := "", int64(-1)
	for _, f := range files {
		var b int64
		if _, err := fmt.Sscanf(filepath.Base(f), "%d.dat", &b); err == nil && b > base {
			last, base = f, b
		}
	}
	raw, err := os.ReadFile(last)
	if err != nil {
		t.Fatal(err)
	}
	pos, prev := 0, -1
	for pos+12 <= len(raw) {
		n := 12 + int(binary.BigEndian.Uint32(raw[pos+8:pos+12]))
		prev, pos = pos, pos+n
	}
	if prev < 0 {
		t.Fatalf("%s holds no batch", last)
	}
	if err := os.Truncate(last, int64(prev)); err != nil {
		t.Fatal(err)
	}
}

// kfake commits a transaction by writing a marker to each of its
// partitions in turn; a kill -9 between two leaves it committed in some
// and, once kfake loads them again, aborted in the others. The start-up
// completes the commit: a source task's records and offsets are both
// visible, or neither.
func TestCrashInterruptedCommitIsCompleted(t *testing.T) {
	for _, missing := range []string{"data", "offsets"} {
		t.Run("no marker in "+missing, func(t *testing.T) {
			dir := t.TempDir()
			b := start(t, dir)
			cl := client(t, b.Addr(), kgo.TransactionalID("task-0"), kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			adm := kadm.NewClient(cl)
			for _, topic := range []string{"data", "offsets"} {
				if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
					t.Fatal(err)
				}
			}
			txn := func(commit bool, vals ...string) {
				t.Helper()
				if err := cl.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				for _, v := range vals {
					for _, topic := range []string{"data", "offsets"} {
						if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 2, Value: []byte(v)}).FirstErr(); err != nil {
							t.Fatal(err)
						}
					}
				}
				if commit {
					if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
						t.Fatal(err)
					}
				}
			}
			txn(true, "a")
			txn(true, "b", "c")
			crashed := filepath.Join(t.TempDir(), "crashed")
			copyDir(t, dir, crashed)
			cl.Close()
			b.Close()
			// The kill came after the marker of one partition, before the
			// other's.
			dropLastBatch(t, filepath.Join(crashed, kafkaDir, "partitions", missing+"-2"))

			b = start(t, crashed)
			for _, topic := range []string{"data", "offsets"} {
				vals, err := readCommitted(t, b.Addr(), topic, 10*time.Second)
				if err != nil || fmt.Sprint(vals) != "[a b c]" {
					t.Errorf("%s read_committed after the crash: %v (error %v), want [a b c]", topic, vals, err)
				}
			}
			// A later start changes nothing.
			b.Close()
			b = start(t, crashed)
			defer b.Close()
			for _, topic := range []string{"data", "offsets"} {
				vals, err := readCommitted(t, b.Addr(), topic, 10*time.Second)
				if err != nil || fmt.Sprint(vals) != "[a b c]" {
					t.Errorf("%s read_committed after a second start: %v (error %v), want [a b c]", topic, vals, err)
				}
			}
		})
	}
}
