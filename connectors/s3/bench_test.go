package s3

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// BenchmarkSink writes 100,000 records of one Kafka partition through the
// task into versitygw (flush.size 10,000: ten objects), then uploads the
// very bytes of those objects again with bare PutObject calls of the SDK
// to the same server, and reports both rates and their ratio (sink/bare).
// The sink's time includes encoding; the bare upload's does not. The
// -meta cases also store headers (one or two per record) and timestamps
// in objects of their own: thirty objects, all counted in MB/s. The
// records are built before the sink's time starts, and the GC runs before
// each side's time starts.
func BenchmarkSink(b *testing.B) {
	srv := harness.StartS3(b)
	const n = 100_000
	for _, f := range []struct{ name, format, extra string }{
		{"json", "json", ""}, {"json-gzip", "json", "gzip"}, {"avro", "avro", ""}, {"avro-deflate", "avro", "deflate"},
		{"parquet-snappy", "parquet", "snappy"}, {"parquet-zstd", "parquet", "zstd"}, {"parquet-none", "parquet", "none"},
		{"json-meta", "json", "meta"}, {"avro-meta", "avro", "meta"}, {"parquet-snappy-meta", "parquet", "meta"},
	} {
		b.Run(f.name, func(b *testing.B) {
			e := &env{srv: srv, bucket: srv.CreateBucket(b, "bench")}
			kv := []string{"format.class", f.format, "flush.size", "10000"}
			switch f.extra {
			case "gzip":
				kv = append(kv, "s3.compression.type", "gzip")
			case "deflate":
				kv = append(kv, "avro.codec", "deflate")
			case "snappy", "zstd", "none":
				kv = append(kv, "parquet.codec", f.extra)
			}
			// Only this case's records are live while it runs: the GC
			// marks them during the sink's time (as it marks a worker's
			// batches), not the other cases' too.
			b.StopTimer() // nor in the allocations reported
			records, objects := recs("orders", 0, 0, n), n/10000
			if f.extra == "meta" {
				kv = append(kv, "store.kafka.headers", "true", "sluice.store.kafka.timestamps", "true")
				records, objects = withHeaders(records), 3*n/10000
			}
			b.StartTimer()
			ctx := context.Background()
			// The bare side sends what the sink's client sends: no
			// checksum where S3 does not require one (newStore).
			cl := s3.New(srv.Client(b).Options(), func(o *s3.Options) {
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
				o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
			})
			var sinkTime, bareTime time.Duration
			var bytesOut int64
			for i := 0; i < b.N; i++ {
				dir := fmt.Sprintf("run%d", i)
				p := e.props(append(kv, "topics.dir", dir)...)
				task := NewTask()
				if err := task.Start(ctx, &testCtx{}, p); err != nil {
					b.Fatal(err)
				}
				tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
				if err := task.Open(ctx, []connectors.TopicPartition{tp}); err != nil {
					b.Fatal(err)
				}
				runtime.GC() // the previous iteration's garbage is not the sink's
				start := time.Now()
				for j := 0; j < n; j += 500 {
					if err := task.Put(ctx, records[j:j+500]); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := task.Flush(ctx, nil); err != nil {
					b.Fatal(err)
				}
				sinkTime += time.Since(start)
				_ = task.Stop(ctx)

				// The same bytes, uploaded bare.
				var objs [][]byte
				pg := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket), Prefix: aws.String(dir + "/")})
				for pg.HasMorePages() {
					page, err := pg.NextPage(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range page.Contents {
						g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
						if err != nil {
							b.Fatal(err)
						}
						var buf bytes.Buffer
						_, _ = buf.ReadFrom(g.Body)
						g.Body.Close()
						objs = append(objs, buf.Bytes())
					}
				}
				if len(objs) != objects {
					b.Fatalf("%d objects, want %d", len(objs), objects)
				}
				runtime.GC()
				start = time.Now()
				for k, o := range objs {
					if _, err := cl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(fmt.Sprintf("bare%d/%d", i, k)),
						Body: bytes.NewReader(o), ContentLength: aws.Int64(int64(len(o)))}); err != nil {
						b.Fatal(err)
					}
					bytesOut += int64(len(o))
				}
				bareTime += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/sinkTime.Seconds(), "records/s")
			b.ReportMetric(float64(bytesOut)/1e6/sinkTime.Seconds(), "MB/s")
			b.ReportMetric(float64(bytesOut)/1e6/bareTime.Seconds(), "bare-MB/s")
			b.ReportMetric(bareTime.Seconds()/sinkTime.Seconds(), "ratio")
		})
	}
}

// BenchmarkMemory100Partitions writes 100 Kafka partitions interleaved
// (2,000 records of ~1 KB each per partition, JSON, Avro or Parquet,
// flush.size never reached) under sluice.s3.memory.bytes=32 MiB, sampling
// the Go heap and the resident memory after every batch, and reports the
// peak heap in use (HeapInuse: the spans holding objects), the peak of
// live objects (HeapAlloc after the GC), the peak growth of VmRSS (and of
// its anonymous and file-backed parts) as sampled, and of VmHWM (every
// peak, between samples too), next to the bound, and how many objects
// the bound closed.
// The notes are random letters, so that Parquet's compression does not
// make the bound trivial.
func BenchmarkMemory100Partitions(b *testing.B) {
	srv := harness.StartS3(b)
	for _, format := range []string{"json", "avro", "parquet"} {
		b.Run(format, func(b *testing.B) { benchMemory(b, srv, format) })
	}
}

func benchMemory(b *testing.B, srv *harness.S3, format string) {
	const parts, per, bound = 100, 2000, 32 << 20
	rnd := rand.New(rand.NewPCG(3, 4))
	pool := make([]byte, 4<<20)
	for j := range pool {
		pool[j] = byte('a' + rnd.IntN(26))
	}
	notes := string(pool)
	for i := 0; i < b.N; i++ {
		e := &env{srv: srv, bucket: srv.CreateBucket(b, "mem")}
		var tps []connectors.TopicPartition
		for p := int32(0); p < parts; p++ {
			tps = append(tps, connectors.TopicPartition{Topic: "orders", Partition: p})
		}
		ctx := context.Background()
		task := NewTask()
		if err := task.Start(ctx, &testCtx{}, e.props("sluice.s3.memory.bytes", fmt.Sprint(bound), "flush.size", "1000000", "format.class", format)); err != nil {
			b.Fatal(err)
		}
		if err := task.Open(ctx, tps); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		baseRSS := resetPeakRSS(b)
		baseAnon, baseFile := statusKB(b, "RssAnon:"), statusKB(b, "RssFile:")
		var peakRSS, peakAnon, peakFile uint64
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		baseAlloc := ms.HeapAlloc
		var peakAlloc uint64
		var peak, peakTask uint64
		for o := int64(0); o < per; o += 20 {
			batch := make([]*connectors.Record, 0, parts*20)
			for _, tp := range tps {
				for k := o; k < o+20; k++ {
					r := rec("orders", tp.Partition, k)
					r.Value.(*connectors.StructValue).Set("note", note(notes, rnd))
					batch = append(batch, r)
				}
			}
			if err := task.Put(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = nil
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse-min(base, ms.HeapInuse))
			peakAlloc = max(peakAlloc, ms.HeapAlloc-min(baseAlloc, ms.HeapAlloc))
			peakTask = max(peakTask, uint64(task.held()))
			peakRSS = max(peakRSS, rssBytes(b)-min(baseRSS, rssBytes(b)))
			an, fi := statusKB(b, "RssAnon:"), statusKB(b, "RssFile:")
			peakAnon = max(peakAnon, an-min(baseAnon, an))
			peakFile = max(peakFile, fi-min(baseFile, fi))
		}
		if _, err := task.Flush(ctx, nil); err != nil {
			b.Fatal(err)
		}
		peakHWM := statusKB(b, "VmHWM:") - baseRSS
		_ = task.Stop(ctx)
		// The objects the bound closed (the open ones were aborted).
		objects := 0
		pg := s3.NewListObjectsV2Paginator(srv.Client(b), &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
		for pg.HasMorePages() {
			page, err := pg.NextPage(ctx)
			if err != nil {
				b.Fatal(err)
			}
			objects += len(page.Contents)
		}
		b.ReportMetric(float64(objects), "objects")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(peakTask)/(1<<20), "peak-open-MiB")
		b.ReportMetric(float64(peakAlloc)/(1<<20), "peak-alloc-MiB")
		b.ReportMetric(float64(peakRSS)/(1<<20), "peak-rss-growth-MiB")
		b.ReportMetric(float64(peakHWM)/(1<<20), "hwm-growth-MiB")
		b.ReportMetric(float64(peakAnon)/(1<<20), "peak-anon-growth-MiB")
		b.ReportMetric(float64(peakFile)/(1<<20), "peak-file-growth-MiB")
		b.ReportMetric(float64(bound)/(1<<20), "bound-MiB")
	}
}

// rssBytes is the process's resident set (VmRSS), which counts what the
// Go heap does not: the runtime's own memory, stacks, freed spans not yet
// returned to the system.
func rssBytes(b *testing.B) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// note returns 1,000 random letters from pool, at a random place.
func note(pool string, rnd *rand.Rand) string {
	off := rnd.IntN(len(pool) - 1000)
	return pool[off : off+1000]
}

func statusKB(b *testing.B, field string) uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no " + field)
	return 0
}
