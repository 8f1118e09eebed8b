package s3

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hamba/avro/v2/ocf"
	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The SDK's HTTP transport keeps idle connections alive.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

type testCtx struct {
	errant   []error
	tolerate bool
}

func (c *testCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (c *testCtx) Errant(_ context.Context, r *connectors.Record, err error) error {
	c.errant = append(c.errant, err)
	if c.tolerate {
		return nil
	}
	return err
}

var rowSchema = connectors.NewStruct("shop.order", false,
	connectors.Field{Name: "id", Schema: connectors.Int64Schema},
	connectors.Field{Name: "region", Schema: connectors.StringSchema},
	connectors.Field{Name: "note", Schema: connectors.OptionalStringSchema},
	connectors.Field{Name: "at", Schema: &connectors.Schema{Type: connectors.Int64, Name: connectors.TimestampName}},
)

var base = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// rec returns the record at offset off of topic/partition: its id is the
// offset, its region one of three, its time one minute per offset.
func rec(topic string, partition int32, off int64) *connectors.Record {
	ts := base.Add(time.Duration(off) * time.Minute)
	v := connectors.NewStructValue(rowSchema).
		Set("id", off).Set("region", []string{"eu", "us", "ap"}[off%3]).
		Set("note", fmt.Sprintf("note %d", off)).Set("at", ts)
	return &connectors.Record{Topic: topic, Partition: partition, Offset: off, ValueSchema: rowSchema, Value: v, Timestamp: ts}
}

func recs(topic string, partition int32, from, to int64) []*connectors.Record {
	var out []*connectors.Record
	for o := from; o < to; o++ {
		out = append(out, rec(topic, partition, o))
	}
	return out
}

type env struct {
	srv    *harness.S3
	bucket string
}

func newEnv(t *testing.T) *env {
	srv := harness.StartS3(t)
	return &env{srv: srv, bucket: srv.CreateBucket(t, "s3sink")}
}

func (e *env) props(kv ...string) map[string]string {
	p := map[string]string{
		"s3.bucket.name": e.bucket, "store.url": e.srv.Endpoint, "s3.region": e.srv.Region,
		"aws.access.key.id": e.srv.AccessKey, "aws.secret.access.key": e.srv.SecretKey,
		"topics": "orders", "format.class": "json", "flush.size": "10",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

func (e *env) start(t *testing.T, tctx connectors.SinkTaskContext, props map[string]string, tps ...connectors.TopicPartition) *Task {
	t.Helper()
	task := NewTask()
	ctx := context.Background()
	if err := task.Start(ctx, tctx, props); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := task.Open(ctx, tps); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = task.Stop(context.Background()) })
	return task
}

// objects returns every object of the bucket, key → bytes.
func (e *env) objects(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	c := e.srv.Client(t)
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(e.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[aws.ToString(o.Key)] = b
		}
	}
	return out
}

// readBack decodes an object with independent readers (encoding/json,
// hamba/avro's OCF reader) into maps with at least id and region.
func readBack(t *testing.T, key string, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	switch {
	case strings.HasSuffix(key, ".avro"):
		d, err := ocf.NewDecoder(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		for d.HasNext() {
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out = append(out, m)
		}
		if d.Error() != nil {
			t.Fatalf("%s: %v", key, d.Error())
		}
	default:
		var r io.Reader = bytes.NewReader(b)
		if strings.HasSuffix(key, ".gz") {
			zr, err := gzip.NewReader(r)
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: line %q: %v", key, sc.Text(), err)
			}
			out = append(out, m)
		}
	}
	return out
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case time.Time:
		return x.UnixMilli()
	}
	panic(fmt.Sprintf("%T", v))
}

// checkExactlyOnce reads every object and checks that offsets [0, n) of
// each partition are there once, with their values, in the object whose
// name and path say so.
func checkExactlyOnce(t *testing.T, objs map[string][]byte, partitions []int32, n int64, pathOf func(r *connectors.Record) string) {
	t.Helper()
	seen := map[[2]int64]string{}
	for key, b := range objs {
		rows := readBack(t, key, b)
		if len(rows) == 0 {
			t.Errorf("%s: empty object", key)
		}
		var p int32
		var start int64
		base := key[strings.LastIndexByte(key, '/')+1:]
		if _, err := fmt.Sscanf(strings.SplitN(base, ".", 2)[0], "orders+%d+%d", &p, &start); err != nil {
			t.Fatalf("object name %s: %v", key, err)
		}
		for i, row := range rows {
			id := asInt(row["id"])
			want := rec("orders", p, id)
			if i == 0 && id != start {
				t.Errorf("%s: first record is offset %d, the name says %d", key, id, start)
			}
			if row["region"] != want.Value.(*connectors.StructValue).Get("region") || row["note"] != fmt.Sprintf("note %d", id) {
				t.Errorf("%s: offset %d read back as %v", key, id, row)
			}
			if asInt(row["at"]) != want.Timestamp.UnixMilli() {
				t.Errorf("%s: offset %d: at = %v, want %v", key, id, row["at"], want.Timestamp)
			}
			if dir := "topics/orders/" + pathOf(want) + "/"; !strings.HasPrefix(key, dir) {
				t.Errorf("%s: offset %d belongs under %s", key, id, dir)
			}
			k := [2]int64{int64(p), id}
			if prev, dup := seen[k]; dup {
				t.Errorf("partition %d offset %d written twice: %s and %s", p, id, prev, key)
			}
			seen[k] = key
		}
	}
	for _, p := range partitions {
		for o := int64(0); o < n; o++ {
			if _, ok := seen[[2]int64{int64(p), o}]; !ok {
				t.Errorf("partition %d offset %d missing", p, o)
			}
		}
	}
}

func TestSinkFormatsAndPartitioners(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tps := []connectors.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}
	type tc struct {
		name   string
		props  []string
		ext    string
		pathOf func(r *connectors.Record) string
	}
	defaultPath := func(r *connectors.Record) string { return fmt.Sprintf("partition=%d", r.Partition) }
	regionPath := func(r *connectors.Record) string {
		return "region=" + r.Value.(*connectors.StructValue).Get("region").(string)
	}
	hourPath2 := func(r *connectors.Record) string {
		ts := r.Timestamp.UTC()
		return fmt.Sprintf("year=%04d/month=%02d/day=%02d/hour=%02d", ts.Year(), ts.Month(), ts.Day(), ts.Hour())
	}
	for _, c := range []tc{
		{"json/default", []string{"format.class", "io.confluent.connect.s3.format.json.JsonFormat"}, ".json", defaultPath},
		{"json-gzip/field", []string{"s3.compression.type", "gzip", "partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner", "partition.field.name", "region"}, ".json.gz", regionPath},
		{"avro/hourly-record", []string{"format.class", "avro", "partitioner.class", "Hourly", "timezone", "UTC", "locale", "en-US", "timestamp.extractor", "Record"}, ".avro", hourPath2},
		{"avro-deflate/timebased-field", []string{"format.class", "io.confluent.connect.s3.format.avro.AvroFormat", "avro.codec", "deflate",
			"partitioner.class", "io.confluent.connect.storage.partitioner.TimeBasedPartitioner", "path.format", "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
			"partition.duration.ms", "3600000", "timezone", "UTC", "locale", "en", "timestamp.extractor", "RecordField", "timestamp.field", "at", "rotate.interval.ms", "1800000"}, ".avro", hourPath2},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "fmt")
			task := e.start(t, &testCtx{}, e.props(c.props...), tps...)
			const n = 137
			var batch []*connectors.Record
			for o := int64(0); o < n; o++ {
				batch = append(batch, rec("orders", 0, o), rec("orders", 1, o))
				if len(batch) >= 16 {
					if err := task.Put(ctx, batch); err != nil {
						t.Fatal(err)
					}
					batch = nil
				}
			}
			if err := task.Put(ctx, batch); err != nil {
				t.Fatal(err)
			}
			// Flush reports the start of the open sets: nothing after
			// them is committed before it is in S3.
			cur := map[connectors.TopicPartition]int64{tps[0]: n, tps[1]: n}
			got, err := task.Flush(ctx, cur)
			if err != nil {
				t.Fatal(err)
			}
			objs := e.objects(t)
			for k := range objs {
				if !strings.HasSuffix(k, c.ext) {
					t.Errorf("object %s: want extension %s", k, c.ext)
				}
			}
			for _, tp := range tps {
				if got[tp] >= n {
					t.Fatalf("Flush reported %d for %v with records still open", got[tp], tp)
				}
			}
			// Everything before the reported offsets is in S3; write the
			// rest by closing with more records past a rotation.
			covered := got[tps[0]]
			checkPrefix(t, objs, 0, covered)
			if err := task.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			// A new task resumes: it writes the open sets again from their
			// start (same names), and a flush.size of 1 closes them.
			task2 := e.start(t, &testCtx{}, e.props(append(c.props, "flush.size", "1")...), tps...)
			for _, tp := range tps {
				if err := task2.Put(ctx, recs("orders", tp.Partition, got[tp], n)); err != nil {
					t.Fatal(err)
				}
			}
			checkExactlyOnce(t, e.objects(t), []int32{0, 1}, n, c.pathOf)
		})
	}
}

// checkPrefix checks that partition p's offsets [0, to) are in objs.
func checkPrefix(t *testing.T, objs map[string][]byte, p int32, to int64) {
	t.Helper()
	have := map[int64]bool{}
	for k, b := range objs {
		if !strings.Contains(k, fmt.Sprintf("orders+%d+", p)) {
			continue
		}
		for _, row := range readBack(t, k, b) {
			have[asInt(row["id"])] = true
		}
	}
	for o := int64(0); o < to; o++ {
		if !have[o] {
			t.Fatalf("Flush reported %d durable for partition %d but offset %d is not in S3", to, p, o)
		}
	}
}

// TestSinkReplayIsIdempotent replays a partition from offset 0 after a
// crash that lost the offset commit: the task resumes at the newest set's
// start, skips what is in S3, and the objects keep their names and bytes.
func TestSinkReplayIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 3}
	props := e.props("format.class", "avro", "partitioner.class", "field", "partition.field.name", "region", "flush.size", "7")
	task := e.start(t, &testCtx{}, props, tp)
	if err := task.Put(ctx, recs("orders", 3, 0, 50)); err != nil {
		t.Fatal(err)
	}
	before := e.objects(t)
	if len(before) == 0 {
		t.Fatal("no objects")
	}
	_ = task.Stop(ctx) // the crash: offsets never committed

	task2 := e.start(t, &testCtx{}, props, tp)
	if want := int64(42); task2.parts[tp].next != want {
		t.Fatalf("resume offset %d, want %d (start of the newest set)", task2.parts[tp].next, want)
	}
	// The consumer restarts from 0: everything is offered again.
	if err := task2.Put(ctx, recs("orders", 3, 0, 50)); err != nil {
		t.Fatal(err)
	}
	after := e.objects(t)
	if len(after) != len(before) {
		t.Fatalf("%d objects after the replay, %d before", len(after), len(before))
	}
	for k, b := range before {
		if !bytes.Equal(after[k], b) {
			t.Errorf("%s changed after the replay", k)
		}
	}
	_ = task2.Stop(ctx)

	// A replay without recovery (objects written by a tool that records
	// no set start) writes the same names and bytes too.
	task3 := e.start(t, &testCtx{}, props, tp)
	task3.parts[tp].next = -1
	if err := task3.Put(ctx, recs("orders", 3, 0, 56)); err != nil {
		t.Fatal(err)
	}
	final := e.objects(t)
	for k, b := range before {
		if !bytes.Equal(final[k], b) {
			t.Errorf("%s changed after a full replay", k)
		}
	}
	checkExactlyOnce(t, final, []int32{3}, 56, func(r *connectors.Record) string {
		return "region=" + r.Value.(*connectors.StructValue).Get("region").(string)
	})
}
