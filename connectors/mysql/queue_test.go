package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// TestQueueBytes snapshots and then streams (in one transaction) rows
// of 16 KiB, 64 times max.queue.size.in.bytes in all, with a
// max.queue.size that alone would hold all of them: the queue's bytes
// never exceed the bound, the reader waits while Poll does not take,
// and every row arrives once.
func TestQueueBytes(t *testing.T) {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	db := m.CreateDB(t, "qbytes")
	const rows, pad, limit = 512, 16 << 10, 128 << 10
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, pad MEDIUMTEXT)",
		fmt.Sprintf("INSERT INTO t SELECT seq, REPEAT('s', %d) FROM seq_1_to_%d", pad, rows))
	task := startTask(t, props(m, db, MaxQueueSize, "100000", MaxQueueSizeInBytes, fmt.Sprint(limit), MaxBatchSize, "16"), nil)

	// Nobody polls: the snapshot stops at the bound.
	stalled := func(what string) {
		t.Helper()
		var used int64
		harness.WaitFor(t, 30*time.Second, what+" waiting on the byte bound", func() error {
			before := task.queue.Len()
			time.Sleep(200 * time.Millisecond)
			if n := task.queue.Len(); n == 0 || n != before {
				return fmt.Errorf("%d records queued (was %d)", n, before)
			}
			used = task.bytes.Used()
			return nil
		})
		if n := task.queue.Len(); n >= rows/4 {
			t.Fatalf("%s: %d records queued (%d bytes estimated) with max.queue.size.in.bytes=%d", what, n, used, limit)
		}
		t.Logf("%s: %d records, %d bytes queued", what, task.queue.Len(), used)
		if used > limit {
			t.Fatalf("%s: %d bytes queued, above max.queue.size.in.bytes=%d", what, used, limit)
		}
	}
	stalled("the snapshot")
	drain := func(from int) {
		t.Helper()
		recs := changes(pollUntil(t, task, 60*time.Second, nChanges(rows)))
		for i, r := range recs[:rows] {
			if id := afterOf(r).Values[0]; id != int32(from+i) {
				t.Fatalf("change %d has id %v, want %d", i, id, from+i)
			}
			if p := afterOf(r).Values[1].(string); len(p) != pad || strings.Trim(p, "sx") != "" {
				t.Fatalf("change %d: pad of %d bytes", i, len(p))
			}
		}
		if len(recs) != rows {
			t.Fatalf("%d changes, want %d", len(recs), rows)
		}
	}
	drain(1)

	m.Exec(t, db, fmt.Sprintf("INSERT INTO t SELECT %d + seq, REPEAT('x', %d) FROM seq_1_to_%d", rows, pad, rows))
	stalled("the binlog stream")
	drain(rows + 1)
	t.Logf("peak %d bytes", task.bytes.Peak())
	if peak := task.bytes.Peak(); peak > limit {
		t.Fatalf("peak of %d bytes queued, above max.queue.size.in.bytes=%d", peak, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var rest []*connectors.Record
	for {
		recs, err := task.Poll(ctx)
		if err != nil || len(recs) == 0 {
			break
		}
		rest = append(rest, changes(recs)...)
	}
	if len(rest) != 0 {
		t.Fatalf("%d changes more than the rows written", len(rest))
	}
}
