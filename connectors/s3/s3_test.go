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
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hamba/avro/v2/ocf"
	pq "github.com/parquet-go/parquet-go"
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

// settle waits for the task's background upload (Flush does).
func settle(t testing.TB, task *Task) {
	t.Helper()
	if _, err := task.Flush(context.Background(), nil); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (e *env) start(t testing.TB, tctx connectors.SinkTaskContext, props map[string]string, tps ...connectors.TopicPartition) *Task {
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
	case strings.HasSuffix(key, ".parquet"):
		f, err := pq.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		r := pq.NewReader(f)
		for {
			m := map[string]any{}
			if err := r.Read(&m); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			out = append(out, m)
		}
		if int64(len(out)) != f.NumRows() {
			t.Fatalf("%s: read %d rows of %d", key, len(out), f.NumRows())
		}
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

// checkExactlyOnce reads every values object and checks that offsets [0,
// n) of each partition are there once, with their values, in the object
// whose name and path say so.
func checkExactlyOnce(t *testing.T, objs map[string][]byte, partitions []int32, n int64, pathOf func(r *connectors.Record) string) {
	t.Helper()
	seen := map[[2]int64]string{}
	for key, b := range objs {
		if _, kind, _ := parseObjectName("topics", "orders", key); kind != kindValues {
			continue
		}
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
		{"parquet/default", []string{"format.class", "io.confluent.connect.s3.format.parquet.ParquetFormat"}, ".snappy.parquet", defaultPath},
		{"parquet-zstd/field", []string{"format.class", "parquet", "parquet.codec", "zstd", "partitioner.class", "field", "partition.field.name", "region"}, ".zstd.parquet", regionPath},
		{"parquet-none/hourly-record", []string{"format.class", "parquet", "parquet.codec", "none", "partitioner.class", "Hourly", "timezone", "UTC", "timestamp.extractor", "Record"}, ".parquet", hourPath2},
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
				if base := k[strings.LastIndexByte(k, '/')+1:]; !strings.HasSuffix(k, c.ext) || strings.Count(base, ".") != strings.Count(c.ext, ".") {
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
			settle(t, task2)
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
	for _, format := range []string{"avro", "parquet"} {
		t.Run(format, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "replay")
			testReplay(t, e, format)
		})
	}
	// The objects of headers and timestamps beside the values' are
	// replayed to the same names and bytes too.
	for _, format := range []string{"json", "avro", "parquet"} {
		t.Run(format+" headers timestamps", func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "replay")
			testReplay(t, e, format, "store.kafka.headers", "true", "sluice.store.kafka.timestamps", "true")
		})
	}
}

// withHeaders gives each record a header or two.
func withHeaders(rs []*connectors.Record) []*connectors.Record {
	for _, r := range rs {
		r.Headers = []connectors.Header{{Key: "n", Value: []byte(fmt.Sprint(r.Offset))}}
		if r.Offset%2 == 0 {
			r.Headers = append(r.Headers, connectors.Header{Key: "even"})
		}
	}
	return rs
}

func testReplay(t *testing.T, e *env, format string, kv ...string) {
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 3}
	props := e.props(append([]string{"format.class", format, "partitioner.class", "field", "partition.field.name", "region", "flush.size", "7"}, kv...)...)
	recs := func(topic string, partition int32, from, to int64) []*connectors.Record {
		return withHeaders(recs(topic, partition, from, to))
	}
	task := e.start(t, &testCtx{}, props, tp)
	if err := task.Put(ctx, recs("orders", 3, 0, 50)); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
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
	settle(t, task2)
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
	settle(t, task3)
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

func TestParseConfig(t *testing.T) {
	base := map[string]string{"s3.bucket.name": "b", "topics": "t", "format.class": "json", "flush.size": "3"}
	with := func(kv ...string) map[string]string {
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(p, kv[i])
				continue
			}
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	for _, c := range []struct {
		name    string
		props   map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		{name: "defaults", props: with(), check: func(t *testing.T, c *Config) {
			if c.Region != "us-west-2" || c.TopicsDir != "topics" || c.Partitioner != PartitionerDefault || c.PartSize != 26214400 ||
				c.Extractor != ExtractorWallclock || !c.PathStyle || c.AvroCodec != "null" || c.extension() != "json" {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "class names", props: with("format.class", "io.confluent.connect.s3.format.avro.AvroFormat",
			"partitioner.class", "io.confluent.connect.storage.partitioner.DailyPartitioner", "timezone", "Europe/Paris",
			"timestamp.extractor", "io.confluent.connect.storage.partitioner.TimeBasedPartitioner$RecordTimestampExtractor"),
			check: func(t *testing.T, c *Config) {
				if c.Format != FormatAvro || c.Partitioner != PartitionerDaily || c.Extractor != ExtractorRecord ||
					c.PartitionDur != 24*time.Hour || c.extension() != "avro" {
					t.Errorf("%+v", c)
				}
			}},
		{name: "gzip json", props: with("s3.compression.type", "gzip"), check: func(t *testing.T, c *Config) {
			if c.extension() != "json.gz" {
				t.Errorf("extension %s", c.extension())
			}
		}},
		{name: "parquet", props: with("format.class", "io.confluent.connect.s3.format.parquet.ParquetFormat"), check: func(t *testing.T, c *Config) {
			if c.Format != FormatParquet || c.ParquetCodec != "snappy" || c.extension() != "snappy.parquet" {
				t.Errorf("%+v, extension %s", c, c.extension())
			}
		}},
		{name: "parquet codecs", props: with("format.class", "parquet", "parquet.codec", "Uncompressed"), check: func(t *testing.T, c *Config) {
			if c.ParquetCodec != "none" || c.extension() != "parquet" {
				t.Errorf("codec %s, extension %s", c.ParquetCodec, c.extension())
			}
			for codec, ext := range map[string]string{"none": "parquet", "gzip": "gz.parquet", "zstd": "zstd.parquet", "lz4_raw": "lz4raw.parquet", "snappy": "snappy.parquet"} {
				c2, err := ParseConfig(with("format.class", "parquet", "parquet.codec", codec))
				if err != nil || c2.extension() != ext {
					t.Errorf("parquet.codec=%s: %v, extension %v", codec, err, c2)
				}
			}
		}},
		{name: "parquet lz4", props: with("format.class", "parquet", "parquet.codec", "lz4"), wantErr: "use lz4_raw"},
		{name: "parquet brotli", props: with("format.class", "parquet", "parquet.codec", "brotli"), wantErr: "brotli codec is not implemented"},
		{name: "parquet unknown codec", props: with("format.class", "parquet", "parquet.codec", "bzip2"), wantErr: "must be one of none, uncompressed, snappy"},
		{name: "gzip parquet", props: with("format.class", "parquet", "s3.compression.type", "gzip"), wantErr: "for Parquet parquet.codec"},
		{name: "unknown format", props: with("format.class", "orc"), wantErr: "unknown format"},
		{name: "flush.size required", props: with("flush.size", "<unset>"), wantErr: "flush.size"},
		{name: "gzip avro", props: with("format.class", "avro", "s3.compression.type", "gzip"), wantErr: "avro.codec=deflate"},
		{name: "snappy", props: with("format.class", "avro", "avro.codec", "snappy"), wantErr: "snappy codec is not implemented"},
		{name: "keys", props: with("store.kafka.keys", "true"), check: func(t *testing.T, c *Config) {
			if !c.StoreKeys {
				t.Error("store.kafka.keys=true not parsed")
			}
		}},
		{name: "parquet tombstones", props: with("behavior.on.null.values", "write", "format.class", "parquet"), wantErr: "format.class=json or avro"},
		{name: "half credentials", props: with("aws.access.key.id", "AK"), wantErr: "set both aws.access.key.id and aws.secret.access.key"},
		{name: "no topics", props: with("topics", "<unset>"), wantErr: "set topics or topics.regex"},
		{name: "field without fields", props: with("partitioner.class", "Field"), wantErr: "list them in partition.field.name"},
		{name: "timebased without format", props: with("partitioner.class", "TimeBased", "timezone", "UTC", "partition.duration.ms", "1000"), wantErr: "needs path.format"},
		{name: "timebased without duration", props: with("partitioner.class", "TimeBased", "timezone", "UTC", "path.format", "YYYY"), wantErr: "partition.duration.ms > 0"},
		{name: "hourly without zone", props: with("partitioner.class", "Hourly"), wantErr: "set timezone"},
		{name: "bad zone", props: with("timezone", "Mars/Base"), wantErr: "unknown time zone"},
		{name: "text month", props: with("partitioner.class", "TimeBased", "timezone", "UTC", "partition.duration.ms", "1000", "path.format", "MMM"), wantErr: "not supported"},
		{name: "small part", props: with("s3.part.size", "1024"), wantErr: "at least"},
		{name: "bad endpoint", props: with("store.url", "localhost:9000"), wantErr: "http:// or https://"},
		{name: "bad null behavior", props: with("behavior.on.null.values", "keep"), wantErr: "must be one of"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseConfig(c.props)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, cfg)
		})
	}
}

func TestPartitionPaths(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	ts := time.Date(2026, 7, 4, 23, 59, 59, 123e6, time.UTC) // 01:59:59 on 5 July in Paris
	r := rec("orders", 7, 4)
	r.Timestamp = ts
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "partition=7"},
		{map[string]string{"partitioner.class": "Field", "partition.field.name": "region,id"}, "region=us/id=4"},
		{map[string]string{"partitioner.class": "Daily", "timezone": "UTC", "timestamp.extractor": "Record"}, "year=2026/month=07/day=04"},
		{map[string]string{"partitioner.class": "Hourly", "timezone": "Europe/Paris", "timestamp.extractor": "Record"}, "year=2026/month=07/day=05/hour=01"},
		{map[string]string{"partitioner.class": "TimeBased", "timezone": "UTC", "timestamp.extractor": "Record",
			"path.format": "'dt'=yyyy-MM-dd/'m'=mm", "partition.duration.ms": "900000"}, "dt=2026-07-04/m=45"},
		{map[string]string{"partitioner.class": "TimeBased", "timezone": "UTC", "timestamp.extractor": "RecordField", "timestamp.field": "at",
			"path.format": "YYYY/MM/dd/HH", "partition.duration.ms": "3600000"}, "2026/12/03/10"},
	} {
		p := map[string]string{"s3.bucket.name": "b", "topics": "t", "format.class": "json", "flush.size": "3"}
		for k, v := range c.props {
			p[k] = v
		}
		cfg, err := ParseConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		var rt time.Time
		if cfg.usesTime() {
			if rt, err = cfg.recordTime(r, time.Now); err != nil {
				t.Fatal(err)
			}
		}
		got, err := cfg.encodePartition(r, rt)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.props, got, c.want)
		}
	}
	if got := bucketTime(ts, 24*time.Hour, paris); !got.Equal(time.Date(2026, 7, 5, 0, 0, 0, 0, paris)) {
		t.Errorf("bucketTime: %v", got)
	}
}

// TestBadRecords: a record that does not fit fails the task naming topic,
// partition and offset, or goes to the runtime's errant path when
// tolerated; what is written stays exactly-once.
func TestBadRecords(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}

	for _, format := range []string{"avro", "parquet"} {
		task := e.start(t, &testCtx{}, e.props("format.class", format), tp)
		schemaless := &connectors.Record{Topic: "orders", Partition: 0, Offset: 5, Value: map[string]any{"id": 1}}
		err := task.Put(ctx, []*connectors.Record{schemaless})
		if err == nil || !strings.Contains(err.Error(), "record orders-0@5") || !strings.Contains(err.Error(), "need records with a value schema") {
			t.Fatalf("schemaless record in %s: %v", format, err)
		}
	}
	task := e.start(t, &testCtx{}, e.props("format.class", "avro"), tp)
	renamed := rec("archive.orders", 0, 5)
	if err := task.Put(ctx, []*connectors.Record{renamed}); err == nil || !strings.Contains(err.Error(), "remove that transform") {
		t.Fatalf("record of a renamed topic: %v", err)
	}
	tomb := &connectors.Record{Topic: "orders", Partition: 0, Offset: 6}
	if err := task.Put(ctx, []*connectors.Record{tomb}); err == nil || !strings.Contains(err.Error(), "behavior.on.null.values=ignore") {
		t.Fatalf("tombstone: %v", err)
	}

	tctx := &testCtx{tolerate: true}
	task2 := e.start(t, tctx, e.props("format.class", "avro", "flush.size", "3", "behavior.on.null.values", "ignore"), tp)
	batch := []*connectors.Record{rec("orders", 0, 0), {Topic: "orders", Partition: 0, Offset: 1}, rec("orders", 0, 2),
		{Topic: "orders", Partition: 0, Offset: 3, Value: "no schema"}, rec("orders", 0, 4)}
	if err := task2.Put(ctx, batch); err != nil {
		t.Fatal(err)
	}
	settle(t, task2)
	if len(tctx.errant) != 1 {
		t.Fatalf("errant records %v, want the schemaless one", tctx.errant)
	}
	objs := e.objects(t)
	if len(objs) != 1 {
		t.Fatalf("objects %v", objs)
	}
	for k, b := range objs {
		if k != "topics/orders/partition=0/orders+0+0000000000.avro" {
			t.Errorf("object %s", k)
		}
		var ids []int64
		for _, r := range readBack(t, k, b) {
			ids = append(ids, asInt(r["id"]))
		}
		if fmt.Sprint(ids) != "[0 2 4]" {
			t.Errorf("ids %v, want [0 2 4]", ids)
		}
	}
	got, err := task2.Flush(ctx, map[connectors.TopicPartition]int64{tp: 5})
	if err != nil || got[tp] != 5 {
		t.Fatalf("Flush: %v %v, want 5", got, err)
	}
}

// TestMultipart writes objects larger than s3.part.size: they go up in
// parts and read back whole.
func TestMultipart(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		format, key string
		n           int64
	}{
		{"json", "orders+0+0000000000.json", 6000},
		// A Parquet row group goes to the object's buffer at 16 MiB, so
		// the first part is sent after it: 24 MB of rows.
		{"parquet", "orders+0+0000000000.parquet", 24000},
	} {
		t.Run(c.format, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "multipart")
			testMultipart(t, e, c.format, "topics/orders/partition=0/"+c.key, c.n)
		})
	}
}

func testMultipart(t *testing.T, e *env, format, key string, n int64) {
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	task := e.start(t, &testCtx{}, e.props("s3.part.size", "5242880", "flush.size", fmt.Sprint(n), "format.class", format, "parquet.codec", "none"), tp)
	// Random letters, so that no encoding makes the object small.
	rnd := rand.New(rand.NewPCG(5, 6))
	pool := make([]byte, 1<<20)
	for i := range pool {
		pool[i] = byte('a' + rnd.IntN(26))
	}
	note := func(o int64) string { off := int(o*7919) % (len(pool) - 1000); return string(pool[off : off+1000]) }
	var batch []*connectors.Record
	for o := int64(0); o < n; o++ {
		r := rec("orders", 0, o)
		r.Value.(*connectors.StructValue).Set("note", note(o))
		batch = append(batch, r)
	}
	if err := task.Put(ctx, batch); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	objs := e.objects(t)
	b := objs[key]
	if len(objs) != 1 || len(b) <= 5<<20 {
		t.Fatalf("objects: %d, size %d", len(objs), len(b))
	}
	rows := readBack(t, key, b)
	if int64(len(rows)) != n {
		t.Fatalf("%d rows", len(rows))
	}
	for i, r := range rows {
		if asInt(r["id"]) != int64(i) || r["note"] != note(int64(i)) {
			t.Fatalf("row %d: id %v", i, r["id"])
		}
	}
	head, err := e.srv.Client(t).HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.Contains(etag, "-") {
		t.Errorf("ETag %s: not a multipart upload", etag)
	}
}

// TestS3Failures: a missing bucket and wrong credentials are reported by
// validation naming the bucket, the endpoint and the S3 error code; an
// unreachable server makes Put retriable and commits nothing.
func TestS3Failures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := &Connector{}
	if errs := c.Validate(ctx, e.props()); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	errs := c.Validate(ctx, e.props("s3.bucket.name", "no-such-bucket"))
	if msg := strings.Join(errs[BucketName], ";"); !strings.Contains(msg, `"no-such-bucket"`) || !strings.Contains(msg, e.srv.Endpoint) || !strings.Contains(msg, "NoSuchBucket") {
		t.Fatalf("missing bucket: %v", errs)
	}
	errs = c.Validate(ctx, e.props("aws.secret.access.key", "wrong"))
	if msg := strings.Join(errs[BucketName], ";"); !strings.Contains(msg, e.bucket) || !strings.Contains(msg, "SignatureDoesNotMatch") || !strings.Contains(msg, "aws.secret.access.key") {
		t.Fatalf("wrong secret: %v", errs)
	}

	// A server that goes away mid-run.
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	down := harness.StartS3(t)
	bucket := down.CreateBucket(t, "down")
	p := e.props("store.url", down.Endpoint, "s3.bucket.name", bucket, "aws.access.key.id", down.AccessKey,
		"aws.secret.access.key", down.SecretKey, "s3.part.retries", "2", "s3.retry.backoff.ms", "10")
	task := e.start(t, &testCtx{}, p, tp)
	if err := task.Put(ctx, recs("orders", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	down.Stop(t)
	// The set closed at offset 9 uploads in the background; its failure
	// comes back from Put or from Flush, retriable, and nothing is
	// reported durable.
	err := task.Put(ctx, recs("orders", 0, 5, 12))
	var got map[connectors.TopicPartition]int64
	if err == nil {
		got, err = task.Flush(ctx, map[connectors.TopicPartition]int64{tp: 12})
	}
	if err == nil || !connectors.Retriable(err) || !strings.Contains(err.Error(), bucket) {
		t.Fatalf("Put and Flush with the server down: %v %v (retriable %v)", got, err, connectors.Retriable(err))
	}
	// Retried, the same failure; the closed set stays pending.
	if _, err := task.Flush(ctx, map[connectors.TopicPartition]int64{tp: 12}); err == nil || !connectors.Retriable(err) {
		t.Fatalf("second Flush with the server down: %v", err)
	}
	// A partition assigned meanwhile cannot recover its position: Open
	// says so (the runtime only logs it), and Put tries again before
	// taking its records.
	tp2 := connectors.TopicPartition{Topic: "orders", Partition: 1}
	if err := task.Open(ctx, []connectors.TopicPartition{tp2}); err == nil || !connectors.Retriable(err) {
		t.Fatalf("Open with the server down: %v", err)
	}
	if err := task.Put(ctx, recs("orders", 1, 0, 1)); err == nil || !connectors.Retriable(err) || strings.Contains(err.Error(), "transform") {
		t.Fatalf("Put to a partition whose Open failed: %v", err)
	}
}

// TestMemoryBound writes four partitions interleaved under a 1 MiB bound:
// the task closes the fullest partition's objects whenever the bound is
// passed, so what its open objects hold never exceeds it. Then a crash and
// a replay from offset 0 without memory pressure (so the objects close at
// other points): the task resumes at the newest set of each partition and
// every record is in S3 exactly once.
func TestMemoryBound(t *testing.T) {
	e := newEnv(t)
	for _, format := range []string{"avro", "parquet"} {
		t.Run(format, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "mem")
			testMemoryBound(t, e, format)
		})
	}
}

// TestMemoryCloseIsDeterministic: the same records in the same order,
// under the same bound, close the same objects. Eight partitions of
// records of one size hold as much as each other (their buffers double
// in step), so the bound has ties to break.
func TestMemoryCloseIsDeterministic(t *testing.T) {
	e := newEnv(t)
	var tps []connectors.TopicPartition
	for p := int32(0); p < 8; p++ {
		tps = append(tps, connectors.TopicPartition{Topic: "orders", Partition: p})
	}
	var names [2][]string
	for run := range names {
		e.bucket = e.srv.CreateBucket(t, fmt.Sprintf("det%d", run))
		task := e.start(t, &testCtx{}, e.props("sluice.s3.memory.bytes", "1048576", "flush.size", "1000000"), tps...)
		for o := int64(0); o < 3000; o += 50 {
			var batch []*connectors.Record
			for _, tp := range tps {
				for i := o; i < o+50; i++ {
					r := rec("orders", tp.Partition, i)
					r.Value.(*connectors.StructValue).Set("note", strings.Repeat("x", 300))
					batch = append(batch, r)
				}
			}
			if err := task.Put(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
		}
		settle(t, task)
		for k := range e.objects(t) {
			names[run] = append(names[run], k)
		}
		slices.Sort(names[run])
	}
	if len(names[0]) < 8 {
		t.Fatalf("the bound closed %d objects", len(names[0]))
	}
	if !slices.Equal(names[0], names[1]) {
		t.Fatalf("two runs closed different objects:\n%v\n%v", names[0], names[1])
	}
}

// TestSinkReusesObjectBuffers: the chunks of an uploaded object go to the
// next objects, so that objects after the first few map no new memory;
// the task's count stays what its objects hold, and the objects are
// whole (every chunk reused while its upload still read it would show:
// freed chunks are poisoned).
func TestSinkReusesObjectBuffers(t *testing.T) {
	poison(t)
	e := newEnv(t)
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	task := e.start(t, &testCtx{}, e.props("flush.size", "1000"), tp)
	mapped := 0
	for o := int64(0); o < 6000; o += 250 {
		if err := task.Put(t.Context(), recs("orders", 0, o, o+250)); err != nil {
			t.Fatal(err)
		}
		if held := memHeld(task); task.mem != held {
			t.Fatalf("the task counts %d bytes, its objects hold %d", task.mem, held)
		}
		if o == 3000 {
			mapped = task.chunks.mapped
		}
	}
	settle(t, task)
	if task.chunks.mapped != mapped || mapped == 0 {
		t.Fatalf("%d chunks mapped after the third object, %d after the sixth: not reused", mapped, task.chunks.mapped)
	}
	objs := e.objects(t)
	if len(objs) != 6 {
		t.Fatalf("%d objects, want 6", len(objs))
	}
	for k, b := range objs {
		if n := bytes.Count(b, []byte("\n")); n != 1000 || bytes.IndexByte(b, poisonByte) >= 0 {
			t.Fatalf("%s: %d lines, want 1000 (poisoned: %v)", k, n, bytes.IndexByte(b, poisonByte) >= 0)
		}
	}
	if err := task.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if task.chunks.mapped != 0 {
		t.Fatalf("%d chunks still mapped after Stop", task.chunks.mapped)
	}
}

// poison makes freed chunks poisoned for the test.
func poison(t *testing.T) {
	poisonFreed = true
	t.Cleanup(func() { poisonFreed = false })
}

// memHeld sums what the task's objects hold: f.mem() of each object of
// the open and closing sets, and the count of the set being uploaded
// (whose objects its goroutine may be changing) and of the uploaded set.
func memHeld(task *Task) int64 {
	var n int64
	for _, st := range task.parts {
		for _, set := range []*fileSet{st.set, st.closing} {
			if set == nil {
				continue
			}
			for _, f := range set.files {
				n += f.mem()
			}
		}
	}
	if in := task.inflight; in != nil {
		n += in.set.mem
	}
	if task.uploaded != nil {
		n += task.uploaded.mem
	}
	return n
}

func testMemoryBound(t *testing.T, e *env, format string) {
	ctx := context.Background()
	var tps []connectors.TopicPartition
	for p := int32(0); p < 4; p++ {
		tps = append(tps, connectors.TopicPartition{Topic: "orders", Partition: p})
	}
	// ~900 bytes that do not compress (Parquet pages are compressed),
	// the same for the same offset.
	mk := func(p int32, o int64) *connectors.Record {
		r := rec("orders", p, o)
		rnd := rand.New(rand.NewPCG(uint64(p), uint64(o)))
		big := make([]byte, 900)
		for i := range big {
			big[i] = byte('a' + rnd.IntN(26))
		}
		r.Value.(*connectors.StructValue).Set("note", fmt.Sprintf("note %d", o)+string(big))
		return r
	}
	const n = 1500
	task := e.start(t, &testCtx{}, e.props("sluice.s3.memory.bytes", "1048576", "flush.size", "1000000", "format.class", format), tps...)
	for o := int64(0); o < n; o += 10 {
		var batch []*connectors.Record
		for _, tp := range tps {
			for i := o; i < o+10; i++ {
				batch = append(batch, mk(tp.Partition, i))
			}
		}
		if err := task.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if task.held() > 1<<20 {
			t.Fatalf("open objects hold %d bytes, over the 1 MiB bound", task.held())
		}
		if held := memHeld(task); task.mem != held {
			t.Fatalf("the task counts %d bytes, its objects hold %d", task.mem, held)
		}
	}
	settle(t, task)
	if len(e.objects(t)) < 4 {
		t.Fatal("the bound closed no objects")
	}
	_ = task.Stop(ctx) // crash: nothing committed

	task2 := e.start(t, &testCtx{}, e.props("flush.size", "1000000", "format.class", format), tps...)
	for _, tp := range tps {
		var batch []*connectors.Record
		for o := int64(0); o < n+1; o++ {
			batch = append(batch, mk(tp.Partition, o))
		}
		if err := task2.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Close what is open: a schema change rotates each partition's set.
	for _, tp := range tps {
		marker := &connectors.Record{Topic: "orders", Partition: tp.Partition, Offset: n + 1,
			ValueSchema: connectors.Int64Schema, Value: int64(-1)}
		if err := task2.Put(ctx, []*connectors.Record{marker}); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, task2)
	objs := e.objects(t)
	for k := range objs {
		if strings.Contains(k, fmt.Sprintf("+%010d.", n+1)) {
			delete(objs, k) // the markers' objects, if any
		}
	}
	seen := map[[2]int64]string{}
	for k, b := range objs {
		for _, row := range readBack(t, k, b) {
			var p int32
			var start int64
			base := k[strings.LastIndexByte(k, '/')+1:]
			if _, err := fmt.Sscanf(strings.SplitN(base, ".", 2)[0], "orders+%d+%d", &p, &start); err != nil {
				t.Fatal(err)
			}
			key := [2]int64{int64(p), asInt(row["id"])}
			if prev, dup := seen[key]; dup {
				t.Fatalf("partition %d offset %d in %s and %s", p, key[1], prev, k)
			}
			seen[key] = k
		}
	}
	for _, tp := range tps {
		for o := int64(0); o <= n; o++ {
			if _, ok := seen[[2]int64{int64(tp.Partition), o}]; !ok {
				t.Fatalf("partition %d offset %d missing", tp.Partition, o)
			}
		}
	}
}

// TestWallClock: rotate.schedule.interval.ms closes objects by the
// worker's clock, at Put and at Flush, and the Wallclock extractor files
// records by it.
func TestWallClock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	now := time.Date(2026, 12, 3, 8, 30, 0, 0, time.UTC)
	task := NewTask()
	task.now = func() time.Time { return now }
	p := e.props("rotate.schedule.interval.ms", "60000", "flush.size", "1000", "partitioner.class", "Hourly", "timezone", "UTC")
	if err := task.Start(ctx, &testCtx{}, p); err != nil {
		t.Fatal(err)
	}
	defer task.Stop(ctx)
	if err := task.Open(ctx, []connectors.TopicPartition{tp}); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(ctx, recs("orders", 0, 0, 3)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(61 * time.Second)
	if err := task.Put(ctx, recs("orders", 0, 3, 5)); err != nil { // record 3 finds the set due: closed before it
		t.Fatal(err)
	}
	now = now.Add(time.Hour)
	got, err := task.Flush(ctx, map[connectors.TopicPartition]int64{tp: 5})
	if err != nil || got[tp] != 5 {
		t.Fatalf("Flush after the schedule: %v %v, want 5 (everything closed)", got, err)
	}
	var keys []string
	for k := range e.objects(t) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{
		"topics/orders/year=2026/month=12/day=03/hour=08/orders+0+0000000000.json",
		"topics/orders/year=2026/month=12/day=03/hour=08/orders+0+0000000003.json",
	}
	if fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Fatalf("objects %v, want %v (the wall clock's hour, closed by the schedule)", keys, want)
	}
}

var keySchema = connectors.NewStruct("shop.order_key", false, connectors.Field{Name: "id", Schema: connectors.Int64Schema})

// TestStoreKeys: with store.kafka.keys=true every object of values has a
// keys object beside it, .keys.<ext>, whose n-th key is the n-th value's;
// a record without a key fails naming it.
func TestStoreKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	for _, format := range []string{"avro", "json", "parquet"} {
		t.Run(format, func(t *testing.T) {
			ext := map[string]string{"avro": "avro", "json": "json", "parquet": "snappy.parquet"}[format]
			e.bucket = e.srv.CreateBucket(t, "keys")
			task := e.start(t, &testCtx{}, e.props("format.class", format, "store.kafka.keys", "true", "flush.size", "7",
				"partitioner.class", "field", "partition.field.name", "region"), tp)
			batch := recs("orders", 0, 0, 21)
			for _, r := range batch {
				r.KeySchema = keySchema
				r.Key = connectors.NewStructValue(keySchema).Set("id", r.Offset*10)
			}
			if err := task.Put(ctx, batch); err != nil {
				t.Fatal(err)
			}
			settle(t, task)
			objs := e.objects(t)
			values, keys := 0, 0
			for k, b := range objs {
				if strings.Contains(k, ".keys.") {
					keys++
					continue
				}
				values++
				kk := strings.Replace(k, "."+ext, ".keys."+ext, 1)
				kb, ok := objs[kk]
				if !ok {
					t.Fatalf("%s has no keys object %s", k, kk)
				}
				vrows, krows := readBack(t, k, b), readBack(t, kk, kb)
				if len(vrows) != len(krows) {
					t.Fatalf("%s: %d values, %d keys", k, len(vrows), len(krows))
				}
				for i := range vrows {
					if asInt(krows[i]["id"]) != 10*asInt(vrows[i]["id"]) {
						t.Fatalf("%s: key %v with value %v", k, krows[i], vrows[i])
					}
				}
			}
			if values != keys || values != 9 {
				t.Fatalf("%d value objects and %d keys objects, want 9 and 9", values, keys)
			}
			// The keys objects do not disturb recovery.
			task2 := e.start(t, &testCtx{}, e.props("format.class", format, "store.kafka.keys", "true", "flush.size", "7",
				"partitioner.class", "field", "partition.field.name", "region"), tp)
			if task2.parts[tp].next != 14 {
				t.Fatalf("resume at %d, want 14", task2.parts[tp].next)
			}
			noKey := rec("orders", 0, 21)
			if err := task2.Put(ctx, []*connectors.Record{noKey}); err == nil || !strings.Contains(err.Error(), "record orders-0@21") || !strings.Contains(err.Error(), "has no key") {
				t.Fatalf("record without a key: %v", err)
			}
		})
	}
}
