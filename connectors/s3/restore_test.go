package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
	"github.com/sluice-cdc/sluice/connectors/codec/parquet"
)

func TestParseObjectName(t *testing.T) {
	for _, tc := range []struct {
		dir, key string
		want     archived
		keys, ok bool
	}{
		{"topics", "topics/orders/partition=3/orders+3+0000000042.json", archived{partition: 3, start: 42, path: "partition=3", ext: "json"}, false, true},
		{"topics", "topics/orders/partition=3/orders+3+0000000042.keys.json.gz", archived{partition: 3, start: 42, path: "partition=3", ext: "json.gz"}, true, true},
		{"topics", "topics/orders/year=2026/month=12/orders+0+12345678901.snappy.parquet", archived{partition: 0, start: 12345678901, path: "year=2026/month=12", ext: "snappy.parquet"}, false, true},
		{"", "orders/orders+1+0000000000.avro", archived{partition: 1, start: 0, ext: "avro"}, false, true},
		{"a/b", "a/b/orders/region=eu/orders+0+0000000007.avro", archived{partition: 0, start: 7, path: "region=eu", ext: "avro"}, false, true},
		{"topics", "topics/orders2/partition=0/orders2+0+0000000000.json", archived{}, false, false}, // another topic
		{"topics", "topics/orders/partition=0/orders+0+42.json", archived{}, false, false},           // not 10 digits
		{"topics", "topics/orders/partition=0/orders+-1+0000000000.json", archived{}, false, false},  // negative partition
		{"topics", "topics/orders/partition=0/orders+01+0000000000.json", archived{}, false, false},  // not canonical
		{"topics", "topics/orders/partition=0/orders+0+0000000000", archived{}, false, false},        // no extension
		{"topics", "topics/orders/partition=0/other+0+0000000000.json", archived{}, false, false},    // another topic's name
		{"topics", "other/orders/partition=0/orders+0+0000000000.json", archived{}, false, false},    // outside topics.dir
		{"topics", "topics/orders/partition=0/orders+0+000000000x0.json", archived{}, false, false},  // not a number
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, kind, ok := parseObjectName(tc.dir, "orders", tc.key)
			if keys := kind == kindKeys; ok != tc.ok || keys != tc.keys {
				t.Fatalf("ok %v keys %v, want %v %v", ok, keys, tc.ok, tc.keys)
			}
			if !ok {
				return
			}
			tc.want.key, tc.want.topic = tc.key, "orders"
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPathMatches(t *testing.T) {
	for _, tc := range []struct {
		path, prefix string
		want         bool
	}{
		{"year=2026/month=12/day=03", "year=2026/month=12", true},
		{"year=2026/month=12/day=03", "year=2026/month=1", false},
		{"year=2026/month=12", "year=2026/month=12/day=03", false},
		{"partition=3", "partition=3", true},
		{"partition=30", "partition=3", false},
		{"anything", "", true},
	} {
		var prefix []string
		if tc.prefix != "" {
			prefix = strings.Split(tc.prefix, "/")
		}
		if got := pathMatches(tc.path, prefix); got != tc.want {
			t.Errorf("pathMatches(%q, %q) = %v, want %v", tc.path, tc.prefix, got, tc.want)
		}
	}
}

func TestParseRestoreConfig(t *testing.T) {
	base := func(kv ...string) map[string]string {
		p := map[string]string{"s3.bucket.name": "b", "topics": "orders,users", "format.class": "avro"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	c, err := ParseRestoreConfig(base("s3.restore.topic.rename", "orders:orders_restored", "s3.restore.start.time", "2026-12-03T00:00:00Z",
		"s3.restore.end.time", "1796342400000", "s3.restore.time.field", "after.at", "s3.restore.path.prefix", "/year=2026/month=12/"))
	if err != nil {
		t.Fatal(err)
	}
	if c.target("orders") != "orders_restored" || c.target("users") != "users" || !c.KeepPartitions ||
		c.Start.UnixMilli() != 1796256000000 || c.End.UnixMilli() != 1796342400000 || !slices.Equal(c.PathPrefix, []string{"year=2026", "month=12"}) ||
		c.S3.Format != FormatAvro || c.S3.TopicsDir != "topics" || c.BatchSize != 1000 {
		t.Fatalf("parsed %+v", c)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		key  string
	}{
		{"rename not a topic of topics", []string{"s3.restore.topic.rename", "other:x"}, RestoreTopicRename},
		{"rename malformed", []string{"s3.restore.topic.rename", "orders"}, RestoreTopicRename},
		{"two topics into one", []string{"s3.restore.topic.rename", "orders:users"}, RestoreTopicRename},
		{"field without time", []string{"s3.restore.time.field", "at"}, RestoreTimeField},
		{"end before start", []string{"s3.restore.start.time", "2000", "s3.restore.end.time", "1000", "s3.restore.time.field", "at"}, RestoreEndTime},
		{"bad time", []string{"s3.restore.start.time", "yesterday", "s3.restore.time.field", "at"}, RestoreStartTime},
		{"bad format", []string{"format.class", "csv"}, FormatClass},
		{"half credentials", []string{"aws.access.key.id", "k"}, AccessKeyID},
		{"bad topic", []string{"topics", "a b"}, Topics},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRestoreConfig(base(tc.kv...))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
	if _, err := ParseRestoreConfig(map[string]string{"s3.bucket.name": "b", "format.class": "json"}); err == nil || !strings.Contains(err.Error(), "topics") {
		t.Fatalf("missing topics: %v", err)
	}
}

// TestListingOrder: objects listed in any order come back per topic
// partition by start offset (then name), keys objects paired with their
// values, other formats, other topics and other paths left out.
func TestListingOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.srv.Client(t)
	var names []string
	for p := range 3 {
		for _, start := range []int64{0, 7, 14, 1000, 99999999999} {
			for _, region := range []string{"region=eu", "region=us"} {
				base := fmt.Sprintf("topics/orders/%s/orders+%d+%010d", region, p, start+int64(len(region)%2))
				names = append(names, base+".avro", base+".keys.avro")
			}
		}
	}
	names = append(names, "topics/orders/region=eu/orders+0+0000000003.json", "topics/orders2/region=eu/orders2+0+0000000003.avro",
		"topics/orders/region=eu/README.txt")
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	for _, n := range names {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(n), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := ParseRestoreConfig(map[string]string{"s3.bucket.name": e.bucket, "store.url": e.srv.Endpoint, "s3.region": e.srv.Region,
		"aws.access.key.id": e.srv.AccessKey, "aws.secret.access.key": e.srv.SecretKey, "topics": "orders", "format.class": "avro", "store.kafka.keys": "true"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := newStore(ctx, cfg.S3)
	if err != nil {
		t.Fatal(err)
	}
	arch := archive{}
	if err := listArchive(ctx, st, cfg, "orders", nil, arch); err != nil {
		t.Fatal(err)
	}
	if len(arch) != 3 {
		t.Fatalf("%d partitions, want 3", len(arch))
	}
	for tp, objs := range arch {
		if len(objs) != 10 {
			t.Fatalf("%s: %d objects, want 10", tp, len(objs))
		}
		for i, o := range objs {
			if o.side[kindKeys] != strings.TrimSuffix(o.key, ".avro")+".keys.avro" {
				t.Fatalf("%s: keys object %q", o.key, o.side[kindKeys])
			}
			if i > 0 && compareArchived(objs[i-1], o) >= 0 {
				t.Fatalf("%s before %s", objs[i-1].key, o.key)
			}
		}
	}
	// The path prefix and a partition filter.
	cfg.PathPrefix = []string{"region=us"}
	arch = archive{}
	if err := listArchive(ctx, st, cfg, "orders", map[topicPartition]bool{{"orders", 1}: true}, arch); err != nil {
		t.Fatal(err)
	}
	objs := arch[topicPartition{"orders", 1}]
	if len(arch) != 1 || len(objs) != 5 || objs[0].path != "region=us" || objs[4].start != 99999999999+1 {
		t.Fatalf("filtered listing: %+v", arch)
	}
}

// restoreCtx is a SourceTaskContext with committed offsets.
type restoreCtx struct {
	mu      sync.Mutex
	offsets map[string]map[string]any
}

func (c *restoreCtx) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (c *restoreCtx) Offset(_ context.Context, p map[string]any) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(p)
	off := c.offsets[string(b)]
	if off == nil {
		return nil, nil
	}
	// Through JSON, as the offsets store gives them back.
	ob, _ := json.Marshal(off)
	var out map[string]any
	_ = json.Unmarshal(ob, &out)
	return out, nil
}

func (c *restoreCtx) commit(r *connectors.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.offsets == nil {
		c.offsets = map[string]map[string]any{}
	}
	b, _ := json.Marshal(r.SourcePartition)
	c.offsets[string(b)] = r.SourceOffset
}

// restoreProps are the props of a task of the archive written by e's sink.
func (e *env) restoreProps(kv ...string) map[string]string {
	p := map[string]string{
		"s3.bucket.name": e.bucket, "store.url": e.srv.Endpoint, "s3.region": e.srv.Region,
		"aws.access.key.id": e.srv.AccessKey, "aws.secret.access.key": e.srv.SecretKey,
		"topics": "orders", "format.class": "json", RestoreTaskPartitions: "orders+0,orders+1",
		"s3.restore.batch.size": "7",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return p
}

// restoreAll runs a restore task until it has nothing left and returns
// what it produced; offsets are committed into tctx as records come. With
// stopAfter > 0 it stops once that many records came and returns those
// up to the last committed offset: the ones after it are not committed,
// and a restarted task produces them again (at least once).
func restoreAll(t *testing.T, tctx *restoreCtx, props map[string]string, stopAfter int) []*connectors.Record {
	t.Helper()
	ctx := context.Background()
	task := NewRestoreTask()
	if err := task.Start(ctx, tctx, props); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer task.Stop(ctx)
	var out []*connectors.Record
	committed := 0
	for task.nextPart() != nil || task.mu.cur != nil {
		batch, err := task.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		for _, r := range batch {
			if r.Topic != "" {
				out = append(out, r)
			}
			if r.SourceOffset != nil {
				tctx.commit(r)
				committed = len(out)
			}
			if stopAfter > 0 && len(out) >= stopAfter {
				return out[:committed]
			}
		}
	}
	if committed != len(out) {
		t.Fatalf("the last %d records have no source offset", len(out)-committed)
	}
	return out
}

// writeArchive writes offsets [0, n) of partitions 0 and 1 of orders with
// the sink, keys (an int64 id*10 struct) included.
func writeArchive(t *testing.T, e *env, n int64, kv ...string) map[connectors.TopicPartition][]*connectors.Record {
	t.Helper()
	tps := []connectors.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}
	props := e.props(append([]string{"store.kafka.keys", "true", "flush.size", "9"}, kv...)...)
	task := e.start(t, &testCtx{}, props, tps...)
	want := map[connectors.TopicPartition][]*connectors.Record{}
	for _, tp := range tps {
		batch := recs("orders", tp.Partition, 0, n)
		for _, r := range batch {
			r.KeySchema = keySchema
			r.Key = connectors.NewStructValue(keySchema).Set("id", r.Offset*10)
		}
		if err := task.Put(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		want[tp] = batch
	}
	// Close the open sets: a flush.size-independent rotation.
	for _, tp := range tps {
		if st := task.parts[tp]; st.set != nil {
			if err := task.rotate(context.Background(), st); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t, task)
	return want
}

// TestRestoreRoundTrip: what the sink's encoders write, the restore's
// decoders give back: the same Connect schema and values (Avro,
// Parquet) or the JSON converter's schemaless form of them (JSON), the
// keys with them, in offset order per partition, to their partitions.
func TestRestoreRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, format string
		kv           []string
	}{
		{"json", "json", nil},
		{"json gzip", "json", []string{"s3.compression.type", "gzip"}},
		{"avro", "avro", nil},
		{"avro deflate", "avro", []string{"avro.codec", "deflate"}},
		{"parquet snappy", "parquet", nil},
		{"parquet zstd", "parquet", []string{"parquet.codec", "zstd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "restore")
			const n = 40
			want := writeArchive(t, e, n, append([]string{"format.class", tc.format}, tc.kv...)...)
			got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", tc.format, "store.kafka.keys", "true",
				"s3.restore.topic.rename", "orders:orders_restored"), 0)
			if len(got) != 2*n {
				t.Fatalf("restored %d records, want %d", len(got), 2*n)
			}
			for i, r := range got {
				tp := connectors.TopicPartition{Topic: "orders", Partition: int32(i / n)}
				w := want[tp][i%n]
				if r.Topic != "orders_restored" || r.Partition != tp.Partition || !r.PinPartition {
					t.Fatalf("record %d to %s-%d (pinned %v)", i, r.Topic, r.Partition, r.PinPartition)
				}
				if tc.format == "json" {
					checkSchemaless(t, r.Value, w.Value.(*connectors.StructValue))
					checkSchemaless(t, r.Key, w.Key.(*connectors.StructValue))
					continue
				}
				ws, wks := w.ValueSchema, w.KeySchema
				if tc.format == "avro" {
					// What Confluent's AvroConverter gives back of the
					// schema (a Timestamp gets its version 1).
					ws, wks = avroRoundTrip(t, ws), avroRoundTrip(t, wks)
				}
				if !codectest.SchemasEquivalent(r.ValueSchema, ws) || !codectest.SchemasEquivalent(r.KeySchema, wks) {
					t.Fatalf("record %d: schema %v, want %v", i, r.ValueSchema, w.ValueSchema)
				}
				wv := &connectors.StructValue{Schema: ws, Values: w.Value.(*connectors.StructValue).Values}
				wk := &connectors.StructValue{Schema: wks, Values: w.Key.(*connectors.StructValue).Values}
				if !codectest.ValuesEqual(r.Value, wv) || !codectest.ValuesEqual(r.Key, wk) {
					t.Fatalf("record %d: value %v key %v, want %v %v", i, r.Value, r.Key, w.Value, w.Key)
				}
			}
		})
	}
}

// avroRoundTrip returns the Connect schema a consumer reads back from the
// Avro schema of s.
func avroRoundTrip(t *testing.T, s *connectors.Schema) *connectors.Schema {
	t.Helper()
	c := avro.New(avro.DefaultOptions())
	as, err := c.Schema(s)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.FromAvro(as.String())
	if err != nil {
		t.Fatal(err)
	}
	return back.Connect()
}

// checkSchemaless compares a schemaless JSON object with the struct the
// sink wrote: every field by name, times as epoch milliseconds.
func checkSchemaless(t *testing.T, got any, want *connectors.StructValue) {
	t.Helper()
	entries, ok := got.([]connectors.MapEntry)
	if !ok || len(entries) != len(want.Values) {
		t.Fatalf("got %#v, want the fields of %v", got, want)
	}
	for i, f := range want.Schema.Fields {
		w := want.Values[i]
		if f.Schema.Name == connectors.TimestampName {
			w = w.(interface{ UnixMilli() int64 }).UnixMilli()
		}
		if entries[i].Key != f.Name || fmt.Sprint(entries[i].Value) != fmt.Sprint(w) {
			t.Fatalf("field %d: %v=%v, want %s=%v", i, entries[i].Key, entries[i].Value, f.Name, w)
		}
	}
}

// TestRestoreResume: a task restarted with the committed offset of the
// last record it produced goes on with the next one: nothing twice,
// nothing missed, whether it stopped mid-object or at an object's end.
func TestRestoreResume(t *testing.T) {
	e := newEnv(t)
	const n = 40
	writeArchive(t, e, n, "format.class", "avro")
	props := e.restoreProps("format.class", "avro", "store.kafka.keys", "true")
	all := restoreAll(t, &restoreCtx{}, props, 0)
	for _, stopAt := range []int{1, 5, 9, 18, 39, 40, 41, 79} {
		t.Run(fmt.Sprint(stopAt), func(t *testing.T) {
			tctx := &restoreCtx{}
			first := restoreAll(t, tctx, props, stopAt)
			rest := restoreAll(t, tctx, props, 0)
			got := append(first, rest...)
			if len(got) != len(all) {
				t.Fatalf("restored %d+%d records, want %d", len(first), len(rest), len(all))
			}
			for i := range got {
				if !codectest.ValuesEqual(got[i].Value, all[i].Value) || got[i].Partition != all[i].Partition {
					t.Fatalf("record %d: %v, want %v", i, got[i].Value, all[i].Value)
				}
			}
		})
	}
}

// TestRestoreFilters: the time range reads the value's field; records
// left out still move the committed position (an offset marker at the
// object's end), and keep.partitions=false leaves the partition to the
// producer.
func TestRestoreFilters(t *testing.T) {
	e := newEnv(t)
	const n = 40
	writeArchive(t, e, n, "format.class", "parquet", "partitioner.class", "field", "partition.field.name", "region")
	// Records are one minute apart from base: [10, 20) minutes.
	props := e.restoreProps("format.class", "parquet", "s3.restore.keep.partitions", "false", RestoreTaskPartitions, "orders+1",
		"s3.restore.time.field", "at", "s3.restore.start.time", base.Add(10*time.Minute).Format(time.RFC3339),
		"s3.restore.end.time", fmt.Sprint(base.Add(20*time.Minute).UnixMilli()))
	tctx := &restoreCtx{}
	got := restoreAll(t, tctx, props, 0)
	var ids []int64
	for _, r := range got {
		if r.PinPartition || r.Key != nil {
			t.Fatalf("record pinned %v, key %v", r.PinPartition, r.Key)
		}
		ids = append(ids, r.Value.(*connectors.StructValue).Get("id").(int64))
	}
	slices.Sort(ids)
	if len(ids) != 10 || ids[0] != 10 || ids[9] != 19 {
		t.Fatalf("restored ids %v, want 10..19", ids)
	}
	// Everything was read, so a restart has nothing to produce.
	if again := restoreAll(t, tctx, props, 0); len(again) != 0 {
		t.Fatalf("restart produced %d records", len(again))
	}
	// Region eu only, by path.
	eu := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "parquet", "s3.restore.path.prefix", "region=eu"), 0)
	for _, r := range eu {
		if r.Value.(*connectors.StructValue).Get("region") != "eu" {
			t.Fatalf("path prefix region=eu restored %v", r.Value)
		}
	}
	if len(eu) != 2*14 {
		t.Fatalf("restored %d eu records, want 28", len(eu))
	}
}

// TestRestoreMissingKeys: store.kafka.keys=true on an archive without
// keys fails naming the object.
func TestRestoreMissingKeys(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, &testCtx{}, e.props("flush.size", "5"), connectors.TopicPartition{Topic: "orders"})
	if err := task.Put(context.Background(), recs("orders", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	rt := NewRestoreTask()
	if err := rt.Start(context.Background(), &restoreCtx{}, e.restoreProps("store.kafka.keys", "true", RestoreTaskPartitions, "orders+0")); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	_, err := rt.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "orders+0+0000000000.json has no keys object") {
		t.Fatalf("Poll: %v", err)
	}
}

// TestRestoreLargeObjects: an object read over many polls (several Avro
// blocks, JSON past the read buffer) streams to its end: its request
// lives as long as the task, not as one poll.
func TestRestoreLargeObjects(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"avro", []string{"format.class", "avro", "avro.codec", "deflate"}},
		{"json", []string{"format.class", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "large")
			const n = 20000
			task := e.start(t, &testCtx{}, e.props(append([]string{"flush.size", fmt.Sprint(n)}, tc.kv...)...), connectors.TopicPartition{Topic: "orders"})
			if err := task.Put(context.Background(), recs("orders", 0, 0, n)); err != nil {
				t.Fatal(err)
			}
			settle(t, task)
			got := restoreAll(t, &restoreCtx{}, e.restoreProps(tc.kv[0], tc.kv[1], RestoreTaskPartitions, "orders+0", "s3.restore.batch.size", "100"), 0)
			if len(got) != n {
				t.Fatalf("restored %d records, want %d", len(got), n)
			}
			for i, r := range got {
				var id any
				switch v := r.Value.(type) {
				case *connectors.StructValue:
					id = v.Get("id")
				case []connectors.MapEntry:
					id = v[0].Value
				}
				if id != int64(i) {
					t.Fatalf("record %d is %v", i, r.Value)
				}
			}
		})
	}
}

type connCtx struct{}

func (connCtx) RequestTaskReconfiguration() {}
func (connCtx) RaiseError(error)            {}
func (connCtx) Logger() *slog.Logger        { return slog.New(slog.DiscardHandler) }

// TestRestoreConnector: the connector lists the archive's partitions and
// spreads them over at most tasks.max tasks, each once; Validate names a
// missing bucket.
func TestRestoreConnector(t *testing.T) {
	e := newEnv(t)
	tps := []connectors.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}, {Topic: "orders", Partition: 4}}
	task := e.start(t, &testCtx{}, e.props("flush.size", "3"), tps...)
	for _, tp := range tps {
		if err := task.Put(context.Background(), recs("orders", tp.Partition, 0, 3)); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, task)
	props := e.restoreProps()
	delete(props, RestoreTaskPartitions)
	c := &RestoreConnector{}
	if err := c.Start(context.Background(), connCtx{}, props); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		max  int
		want []string
	}{
		{1, []string{"orders+0,orders+1,orders+4"}},
		{2, []string{"orders+0,orders+4", "orders+1"}},
		{8, []string{"orders+0", "orders+1", "orders+4"}},
	} {
		cfgs, err := c.TaskConfigs(tc.max)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, cfg := range cfgs {
			got = append(got, cfg[RestoreTaskPartitions])
			if _, err := parseRestoreTask(cfg); err != nil {
				t.Fatalf("task config: %v", err)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("tasks.max %d: %q, want %q", tc.max, got, tc.want)
		}
	}
	props["s3.bucket.name"] = "no-such-bucket"
	errs := c.Validate(context.Background(), props)
	if msg := strings.Join(errs[BucketName], " "); !strings.Contains(msg, "no-such-bucket") || !strings.Contains(msg, "NoSuchBucket") {
		t.Fatalf("Validate: %v", errs)
	}
}

// TestRestoreParquetWithoutMetadata: a Parquet object without the Connect
// schema in its metadata (an older sink's) is read with the schema of its
// logical types.
func TestRestoreParquetWithoutMetadata(t *testing.T) {
	e := newEnv(t)
	c := e.srv.Client(t)
	ps, err := parquet.NewSchema(rowSchema)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := newParquetEncoder(ps, "snappy", "", &buf) // no metadata
	codecs := newCodecs()
	for _, r := range recs("orders", 0, 0, 10) {
		row, err := codecs.encode(&Config{Format: FormatParquet}, kindValues, r.ValueSchema, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.add(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket),
		Key: aws.String("topics/orders/partition=0/orders+0+0000000000.snappy.parquet"), Body: bytes.NewReader(buf.Bytes())}); err != nil {
		t.Fatal(err)
	}
	got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "parquet", RestoreTaskPartitions, "orders+0"), 0)
	if len(got) != 10 {
		t.Fatalf("restored %d records, want 10", len(got))
	}
	for i, r := range got {
		v := r.Value.(*connectors.StructValue)
		if r.ValueSchema.Name != "shop.order" || v.Get("id") != int64(i) || !v.Get("at").(time.Time).Equal(base.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("record %d: %v of %s", i, v.Values, r.ValueSchema.Name)
		}
	}
}

// TestRestorePartialBatch: the records read before a failure are returned
// (the runtime drops a failed Poll's records, while the task's position
// is past them), and the failure comes with the next Poll, naming the
// object and the record.
func TestRestorePartialBatch(t *testing.T) {
	e := newEnv(t)
	c := e.srv.Client(t)
	for key, body := range map[string]string{
		"topics/orders/partition=0/orders+0+0000000000.json": "{\"id\":0}\n{\"id\":1}\n{\"id\":2}\n",
		"topics/orders/partition=0/orders+0+0000000003.json": "{\"id\":3}\n{\"id\":4,,}\n{\"id\":5}\n",
	} {
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	task := NewRestoreTask()
	ctx := context.Background()
	if err := task.Start(ctx, &restoreCtx{}, e.restoreProps(RestoreTaskPartitions, "orders+0", "s3.restore.batch.size", "100")); err != nil {
		t.Fatal(err)
	}
	defer task.Stop(ctx)
	batch, err := task.Poll(ctx)
	if err != nil || len(batch) != 4 {
		t.Fatalf("first Poll: %d records, %v; want 4 and no error", len(batch), err)
	}
	if off := batch[3].SourceOffset; off[RestoreOffsetObject] != "topics/orders/partition=0/orders+0+0000000003.json" || off[RestoreOffsetRecord] != int64(0) {
		t.Fatalf("offset of the last record %v", off)
	}
	batch, err = task.Poll(ctx)
	if len(batch) != 0 || err == nil || !strings.Contains(err.Error(), "record 1 of object topics/orders/partition=0/orders+0+0000000003.json") {
		t.Fatalf("second Poll: %d records, %v", len(batch), err)
	}
	if connectors.Retriable(err) {
		t.Fatalf("a malformed object is retried: %v", err)
	}
}
