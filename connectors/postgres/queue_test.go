package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// testQueueBytes streams rows of about 1 KB through a queue bounded to
// 16 KB, polling slowly: every row arrives and the queue's bytes stay
// within the bound.
func testQueueBytes(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "qbytes")
	pg.Exec(t, db, "CREATE TABLE big (id int PRIMARY KEY, s text NOT NULL)")
	const limit, rows = 16 << 10, 2000
	task := startTask(t, props(pg, db, "qbytes", SnapshotMode, SnapshotNoData, MaxQueueSizeInBytes, "16384",
		MaxBatchSize, "5", TableIncludeList, "public.big", SlotDropOnStop, "true"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO big SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g")
	recs := data(pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		used := task.bytes.Used()
		if used > limit {
			t.Fatalf("%d bytes queued, bound %d", used, limit)
		}
		return countOps(rs, "big", cdc.OpCreate) == rows
	}))
	if len(recs) != rows {
		t.Errorf("%d records, want %d", len(recs), rows)
	}
	if task.bytes.Peak() > limit || task.bytes.Peak() < limit/2 {
		t.Errorf("peak %d bytes queued, bound %d", task.bytes.Peak(), limit)
	}
	t.Logf("peak %d bytes queued (bound %d), %d bytes per record", task.bytes.Peak(), limit, cdc.RecordSize(recs[0]))
}

// BenchmarkRecordSize sizes a streamed insert record of the benchmark
// table (the per-record cost of max.queue.size.in.bytes).
func BenchmarkRecordSize(b *testing.B) {
	task, s, msg := benchStreamer(b)
	if err := s.handle(context.Background(), 1, msg); err != nil {
		b.Fatal(err)
	}
	recs, _, _ := task.queue.Take(nil, 1, &task.prog)
	r := recs[0]
	b.ReportAllocs()
	b.ResetTimer()
	var n int64
	for i := 0; i < b.N; i++ {
		n += cdc.RecordSize(r)
	}
	b.ReportMetric(float64(n)/float64(b.N), "bytes/record")
}
