package s3

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// TestMemoryRSS writes 100 Kafka partitions interleaved under a 64 MiB
// bound, for each format at GOGC=100 and 200, until the bound has closed objects several
// times over, and checks that the process's peak resident memory
// (VmHWM, reset before the task starts) grew by no more than the bound.
// The records are built batch by batch, as a worker's consumer hands
// them over, and count in the growth. Without the race detector only
// (make test runs it so): the detector multiplies resident memory.
func TestMemoryRSS(t *testing.T) {
	srv := harness.StartS3(t)
	const parts, bound = 100, 64 << 20
	per := int64(1000) // 100 MB of JSON: the bound is passed about once and a half
	if raceDetector {
		per = 300
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	pool := make([]byte, 4<<20)
	for j := range pool {
		pool[j] = byte('a' + rnd.IntN(26))
	}
	notes := string(pool)
	var tps []connectors.TopicPartition
	for p := int32(0); p < parts; p++ {
		tps = append(tps, connectors.TopicPartition{Topic: "orders", Partition: p})
	}
	// At Go's default GOGC and at the worker's (cmd/sluice sets 200):
	// the task counts what stays on the heap with the collector's
	// headroom, which it reads when it starts.
	for _, c := range []struct {
		format string
		gogc   int
	}{{"json", 100}, {"avro", 100}, {"parquet", 100}, {"json", 200}, {"avro", 200}, {"parquet", 200}} {
		format := c.format
		t.Run(fmt.Sprintf("%s-gogc%d", format, c.gogc), func(t *testing.T) {
			defer debug.SetGCPercent(debug.SetGCPercent(c.gogc))
			e := &env{srv: srv, bucket: srv.CreateBucket(t, "rss")}
			task := e.start(t, &testCtx{}, e.props("sluice.s3.memory.bytes", fmt.Sprint(bound), "flush.size", "1000000", "format.class", format), tps...)
			mk := func(o int64) []*connectors.Record {
				batch := make([]*connectors.Record, 0, parts*20)
				for _, tp := range tps {
					for k := o; k < o+20; k++ {
						r := rec("orders", tp.Partition, k)
						r.Value.(*connectors.StructValue).Set("note", note(notes, rnd))
						batch = append(batch, r)
					}
				}
				return batch
			}
			// The baseline is the process making batches without the
			// sink: its heap then takes the collector's headroom over
			// what the test itself keeps live (the notes, the harness).
			runtime.GC()
			debug.FreeOSMemory()
			for o := int64(0); o < 200; o += 20 {
				runtime.KeepAlive(mk(o))
			}
			base := resetPeakRSS(t)
			baseAnon, baseFile := procStatus(t, "RssAnon:"), procStatus(t, "RssFile:")
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			baseHeap := ms.HeapSys - ms.HeapReleased
			for o := int64(0); o < per; o += 20 {
				if err := task.Put(t.Context(), mk(o)); err != nil {
					t.Fatal(err)
				}
				if task.held() > bound {
					t.Fatalf("the objects hold %d bytes, over the %d bound", task.held(), bound)
				}
			}
			settle(t, task)
			peak := procStatus(t, "VmHWM:")
			runtime.ReadMemStats(&ms)
			// What the growth is made of, for a failure: the chunks, the
			// Go heap, the code pages.
			t.Logf("%s: chunks mapped at most %.1f MiB; now: anon +%.1f MiB, file +%.1f MiB, Go heap +%.1f MiB", format,
				float64(task.chunks.peakMapped*chunkSize)/(1<<20),
				float64(int64(procStatus(t, "RssAnon:"))-int64(baseAnon))/(1<<20), float64(int64(procStatus(t, "RssFile:"))-int64(baseFile))/(1<<20),
				float64(int64(ms.HeapSys-ms.HeapReleased)-int64(baseHeap))/(1<<20))
			growth := int64(peak) - int64(base)
			objects := len(e.objectKeys(t))
			t.Logf("%s, GOGC=%d: peak RSS growth %.1f MiB under a %d MiB bound (race detector %v); the bound closed %d objects",
				format, c.gogc, float64(growth)/(1<<20), bound>>20, raceDetector, objects)
			if objects < parts/2 && !raceDetector {
				t.Fatalf("the bound closed %d objects: not passed", objects)
			}
			if !raceDetector && growth > bound {
				t.Fatalf("peak RSS grew by %.1f MiB, over the %d MiB bound", float64(growth)/(1<<20), bound>>20)
			}
			if err := task.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			if task.chunks.mapped != 0 {
				t.Fatalf("%d chunks mapped after Stop", task.chunks.mapped)
			}
		})
	}
}

// resetPeakRSS resets the process's peak resident memory (VmHWM) to its
// current resident memory, and returns that.
func resetPeakRSS(t testing.TB) uint64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("resetting the peak RSS: %v", err)
	}
	return procStatus(t, "VmRSS:")
}

// procStatus returns a field of /proc/self/status in bytes.
func procStatus(t testing.TB, field string) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// objectKeys lists the bucket's object names.
func (e *env) objectKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(e.srv.Client(t), &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// TestUploadRetryReadsItsOwnChunks: every PutObject and UploadPart fails
// once, after the server read half its body, so that the SDK seeks the
// body back and sends it again; meanwhile the bound closes objects and
// their chunks are reused (and poisoned when freed). Every object must
// hold its records exactly: a chunk given back while a request could
// still read it would show as poison or as another object's bytes.
func TestUploadRetryReadsItsOwnChunks(t *testing.T) {
	poison(t)
	srv := harness.StartS3(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var failed atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.ContentLength > 0 {
			mu.Lock()
			first := !seen[r.URL.String()]
			seen[r.URL.String()] = true
			mu.Unlock()
			if first {
				_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				failed.Add(1)
				w.Header().Set("Connection", "close")
				http.Error(w, "injected", http.StatusServiceUnavailable)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	e := &env{srv: srv, bucket: srv.CreateBucket(t, "retry")}
	var tps []connectors.TopicPartition
	for p := int32(0); p < 3; p++ {
		tps = append(tps, connectors.TopicPartition{Topic: "orders", Partition: p})
	}
	// 16 MiB: objects of about 4.7 MiB close by memory, and the largest
	// outgrow a 5 MiB part.
	task := e.start(t, &testCtx{}, e.props("store.url", proxy.URL, "sluice.s3.memory.bytes", fmt.Sprint(16<<20),
		"s3.part.size", fmt.Sprint(5<<20), "flush.size", "1000000", "s3.retry.backoff.ms", "1"), tps...)
	rnd := rand.New(rand.NewPCG(9, 10))
	pool := make([]byte, 1<<20)
	for j := range pool {
		pool[j] = byte('a' + rnd.IntN(26))
	}
	notes := string(pool)
	noteOf := func(p int32, o int64) string {
		off := int(int64(p)*104729+o*7919) % (len(pool) - 1000)
		return notes[off : off+1000]
	}
	const n = 12000
	for o := int64(0); o < n; o += 500 {
		var batch []*connectors.Record
		// Partition 0 takes twice as much: its objects outgrow a part.
		for _, tp := range tps {
			k := int64(1)
			if tp.Partition == 0 {
				k = 2
			}
			for i := o * k; i < (o+500)*k && i < n*k; i++ {
				r := rec("orders", tp.Partition, i)
				r.Value.(*connectors.StructValue).Set("note", noteOf(tp.Partition, i))
				batch = append(batch, r)
			}
		}
		if err := task.Put(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	// Close what is open: a schema change rotates each partition's set.
	for _, tp := range tps {
		marker := &connectors.Record{Topic: "orders", Partition: tp.Partition, Offset: 1 << 40,
			ValueSchema: connectors.Int64Schema, Value: int64(-1)}
		if err := task.Put(t.Context(), []*connectors.Record{marker}); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, task)
	objs := e.objects(t)
	got := map[int32]int64{}
	multipart := 0
	for k, b := range objs {
		if bytes.IndexByte(b, poisonByte) >= 0 {
			t.Fatalf("%s holds a poisoned chunk", k)
		}
		if strings.Contains(k, fmt.Sprintf("+%010d.", int64(1)<<40)) {
			continue // a marker's object
		}
		if len(b) > 5<<20 {
			multipart++
		}
		var p int32
		var start int64
		base := k[strings.LastIndexByte(k, '/')+1:]
		if _, err := fmt.Sscanf(strings.SplitN(base, ".", 2)[0], "orders+%d+%d", &p, &start); err != nil {
			t.Fatal(err)
		}
		for i, row := range readBack(t, k, b) {
			o := start + int64(i)
			if asInt(row["id"]) != o || row["note"] != noteOf(p, o) {
				t.Fatalf("%s: row %d is not offset %d's record", k, i, o)
			}
			got[p]++
		}
	}
	for _, tp := range tps {
		want := int64(n)
		if tp.Partition == 0 {
			want = 2 * n
		}
		if got[tp.Partition] != want {
			t.Fatalf("partition %d: %d records, want %d", tp.Partition, got[tp.Partition], want)
		}
	}
	if len(objs) < 2*len(tps) || multipart == 0 || failed.Load() < int64(len(objs)) {
		t.Fatalf("%d objects, %d multipart, %d requests failed: the test did not exercise retries of reused chunks", len(objs), multipart, failed.Load())
	}
	t.Logf("%d objects (%d multipart), %d uploads failed once and were sent again", len(objs), multipart, failed.Load())
}
