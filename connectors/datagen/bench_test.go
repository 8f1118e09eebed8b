package datagen

import (
	"context"
	"strconv"
	"testing"
)

// BenchmarkPoll measures generating records with an unpaced task; one op
// is one record, so ns/op and allocs/op are per record (the per-batch slabs
// spread over the batch).
func BenchmarkPoll(b *testing.B) {
	for _, qs := range allQuickstarts {
		for _, batch := range []int{1000, 100} {
			b.Run(qs+"/batch="+strconv.Itoa(batch), func(b *testing.B) {
				task := startTasks(b, testProps(Quickstart+"="+qs, BatchSize+"="+strconv.Itoa(batch), PoisonEvery+"=0"), 1, nil)[0]
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				got := 0
				for got < b.N {
					recs, err := task.Poll(ctx)
					if err != nil {
						b.Fatal(err)
					}
					got += len(recs)
				}
				b.StopTimer()
				b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "rows/s")
			})
		}
	}
}
