package s3

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
	pq "github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/codec/codectest"
)

// compactedRecords returns n records of topic orders, partition p, as a
// compacted topic holds them: offsets with gaps (compaction removed the
// records between), a key on each, every fifth a tombstone (a null value
// without a schema) when tombstones is set, headers of several shapes (none,
// one, a repeated key with a null and an empty value, binary bytes) and
// Kafka timestamps (none on every eleventh).
func compactedRecords(p int32, n int, tombstones bool) []*connectors.Record {
	var out []*connectors.Record
	off := int64(0)
	for i := range n {
		off += int64(1 + i%4) // gaps of 0 to 3 offsets
		r := rec("orders", p, off)
		r.KeySchema = keySchema
		r.Key = connectors.NewStructValue(keySchema).Set("id", off*10)
		if tombstones && i%5 == 4 {
			r.ValueSchema, r.Value = nil, nil
		}
		switch i % 4 {
		case 1:
			r.Headers = []connectors.Header{{Key: "trace", Value: []byte(fmt.Sprintf("t-%d", off))}}
		case 2:
			r.Headers = []connectors.Header{{Key: "dup", Value: nil}, {Key: "dup", Value: []byte{}}, {Key: "bin", Value: []byte{0xff, 0x00, 0x80}}}
		case 3:
			r.Headers = []connectors.Header{{Key: "é", Value: []byte("ü")}}
		}
		r.Timestamp = time.UnixMilli(1764806400000 + off*1000).UTC()
		if i%11 == 10 {
			r.Timestamp = time.Time{}
		}
		out = append(out, r)
	}
	return out
}

// countIndependently counts the entries of an object with readers that
// share no code with the sink: encoding/json, hamba/avro's OCF reader,
// parquet-go's generic reader.
func countIndependently(t *testing.T, key string, b []byte) int {
	t.Helper()
	n := 0
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
			n++
		}
	case strings.HasSuffix(key, ".avro"):
		d, err := ocf.NewDecoder(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if string(d.Metadata()["avro.schema"]) == avroNullSchema {
			// hamba/avro's reader reads no file of the schema "null",
			// not even one its own writer wrote (a value of no bytes
			// ends its block reader): count with the restore's.
			r, err := newRestoreCodecs().newRecordReader("avro", io.NopCloser(bytes.NewReader(b)))
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			defer r.close()
			for {
				if _, _, err := r.next(); err == io.EOF {
					return n
				} else if err != nil {
					t.Fatalf("%s: %v", key, err)
				}
				n++
			}
		}
		for d.HasNext() {
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			n++
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
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("%s: line %q: %v", key, sc.Text(), err)
			}
			n++
		}
	}
	return n
}

func sameHeaders(a, b []connectors.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || (a[i].Value == nil) != (b[i].Value == nil) || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// TestCompactedRoundTrip: a compacted topic (gaps in the offsets,
// tombstones, headers, timestamps) archived with store.kafka.keys,
// store.kafka.headers, sluice.store.kafka.timestamps and
// behavior.on.null.values=write comes back from s3-restore equal: the
// same keys, values (tombstones as null values without a schema),
// headers (order, repeated keys, null and empty values, binary bytes)
// and timestamps, in the same order per partition. Objects written
// without timestamps, or restored with s3.restore.keep.timestamps=false,
// give records without one (the producer's time).
func TestCompactedRoundTrip(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, format string
		kv           []string
		tombstones   bool
	}{
		{"json", "json", nil, true},
		{"json gzip", "json", []string{"s3.compression.type", "gzip"}, true},
		{"avro", "avro", nil, true},
		{"avro deflate", "avro", []string{"avro.codec", "deflate"}, true},
		{"parquet", "parquet", nil, false}, // Parquet refuses tombstones
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "compacted")
			const n = 60
			tps := []connectors.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}
			kv := append([]string{"format.class", tc.format, "store.kafka.keys", "true", "store.kafka.headers", "true",
				"sluice.store.kafka.timestamps", "true", "flush.size", "9"}, tc.kv...)
			if tc.tombstones {
				kv = append(kv, "behavior.on.null.values", "write")
			}
			task := e.start(t, &testCtx{}, e.props(kv...), tps...)
			want := map[int32][]*connectors.Record{}
			for _, tp := range tps {
				want[tp.Partition] = compactedRecords(tp.Partition, n, tc.tombstones)
				if err := task.Put(context.Background(), want[tp.Partition]); err != nil {
					t.Fatal(err)
				}
				if st := task.parts[tp]; st.set != nil {
					if err := task.rotate(context.Background(), st); err != nil {
						t.Fatal(err)
					}
				}
			}
			settle(t, task)
			objs := e.objects(t)
			var values [numKinds]int
			for k, b := range objs {
				_, kind, ok := parseObjectName("topics", "orders", k)
				if !ok {
					t.Fatalf("unexpected object %s", k)
				}
				values[kind]++
				if kind == kindValues {
					continue
				}
				// Readers that share no code with the sink read the
				// objects beside the values', one entry per value.
				vk := strings.Replace(k, "."+kind.infix(), ".", 1)
				if got, want := countIndependently(t, k, b), countIndependently(t, vk, objs[vk]); got != want {
					t.Fatalf("%s holds %d entries, %s %d", k, got, vk, want)
				}
			}
			if values[kindKeys] != values[kindValues] || values[kindHeaders] != values[kindValues] || values[kindTimestamps] != values[kindValues] {
				t.Fatalf("objects by kind %v: want as many keys, headers and timestamps objects as values objects", values)
			}
			if tc.format == "json" && values[kindValues] != 2*((n+8)/9) {
				// A JSON tombstone is a line null: it closes no object.
				t.Fatalf("%d values objects, want %d (flush.size alone closes JSON objects)", values[kindValues], 2*((n+8)/9))
			}

			restored := func(keep string) []*connectors.Record {
				return restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", tc.format, "store.kafka.keys", "true",
					"store.kafka.headers", "true", "s3.restore.keep.timestamps", keep, "s3.restore.topic.rename", "orders:orders_restored"), 0)
			}
			got := restored("true")
			if len(got) != 2*n {
				t.Fatalf("restored %d records, want %d", len(got), 2*n)
			}
			for i, r := range got {
				w := want[int32(i/n)][i%n]
				if r.Topic != "orders_restored" || r.Partition != w.Partition {
					t.Fatalf("record %d to %s-%d, want partition %d", i, r.Topic, r.Partition, w.Partition)
				}
				if !r.Timestamp.Equal(w.Timestamp) || r.Timestamp.IsZero() != w.Timestamp.IsZero() {
					t.Fatalf("record %d (offset %d): timestamp %v, want %v", i, w.Offset, r.Timestamp, w.Timestamp)
				}
				if !sameHeaders(r.Headers, w.Headers) {
					t.Fatalf("record %d (offset %d): headers %q, want %q", i, w.Offset, r.Headers, w.Headers)
				}
				if w.Value == nil {
					if r.Value != nil || r.ValueSchema != nil {
						t.Fatalf("record %d (offset %d): tombstone restored as %v (schema %v)", i, w.Offset, r.Value, r.ValueSchema)
					}
				}
				switch {
				case tc.format == "json":
					checkSchemaless(t, r.Key, w.Key.(*connectors.StructValue))
					if w.Value != nil {
						checkSchemaless(t, r.Value, w.Value.(*connectors.StructValue))
					}
				default:
					ws, wks := w.ValueSchema, w.KeySchema
					if tc.format == "avro" {
						wks = avroRoundTrip(t, wks)
						if ws != nil {
							ws = avroRoundTrip(t, ws)
						}
					}
					wk := &connectors.StructValue{Schema: wks, Values: w.Key.(*connectors.StructValue).Values}
					if !codectest.ValuesEqual(r.Key, wk) {
						t.Fatalf("record %d: key %v, want %v", i, r.Key, w.Key)
					}
					if w.Value != nil {
						wv := &connectors.StructValue{Schema: ws, Values: w.Value.(*connectors.StructValue).Values}
						if !codectest.SchemasEquivalent(r.ValueSchema, ws) || !codectest.ValuesEqual(r.Value, wv) {
							t.Fatalf("record %d: value %v, want %v", i, r.Value, w.Value)
						}
					}
				}
			}
			for i, r := range restored("false") {
				if !r.Timestamp.IsZero() {
					t.Fatalf("record %d: timestamp %v with s3.restore.keep.timestamps=false", i, r.Timestamp)
				}
			}
			if !tc.tombstones {
				return
			}
			// A time range by value field meets a tombstone: the task
			// fails naming it and the fix.
			rt := NewRestoreTask()
			if err := rt.Start(context.Background(), &restoreCtx{}, e.restoreProps("format.class", tc.format, RestoreTaskPartitions, "orders+0",
				"s3.restore.time.field", "at", "s3.restore.start.time", "0", "s3.restore.batch.size", "1000")); err != nil {
				t.Fatal(err)
			}
			defer rt.Stop(context.Background())
			var err error
			for range 10 {
				if _, err = rt.Poll(context.Background()); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), "is a tombstone") || !strings.Contains(err.Error(), "leave s3.restore.time.field empty") {
				t.Fatalf("Poll: %v", err)
			}
		})
	}
}

// TestRestoreWithoutStoredTimestamps: objects written without
// sluice.store.kafka.timestamps (what this version wrote before) restore
// with s3.restore.keep.timestamps=true (the default): their records get
// no timestamp, so the producer's time.
func TestRestoreWithoutStoredTimestamps(t *testing.T) {
	e := newEnv(t)
	for _, format := range []string{"json", "avro", "parquet"} {
		t.Run(format, func(t *testing.T) {
			e.bucket = e.srv.CreateBucket(t, "nots")
			writeArchive(t, e, 20, "format.class", format)
			got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", format, "store.kafka.keys", "true"), 0)
			if len(got) != 40 {
				t.Fatalf("restored %d records, want 40", len(got))
			}
			for i, r := range got {
				if !r.Timestamp.IsZero() || r.Headers != nil {
					t.Fatalf("record %d: timestamp %v headers %v", i, r.Timestamp, r.Headers)
				}
			}
		})
	}
}

// TestRestoreMissingHeaders: store.kafka.headers=true on an archive
// without headers fails naming the object and the property.
func TestRestoreMissingHeaders(t *testing.T) {
	e := newEnv(t)
	task := e.start(t, &testCtx{}, e.props("flush.size", "5"), connectors.TopicPartition{Topic: "orders"})
	if err := task.Put(context.Background(), recs("orders", 0, 0, 5)); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	rt := NewRestoreTask()
	if err := rt.Start(context.Background(), &restoreCtx{}, e.restoreProps("store.kafka.headers", "true", RestoreTaskPartitions, "orders+0")); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	_, err := rt.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "orders+0+0000000000.json has no headers object") || !strings.Contains(err.Error(), "store.kafka.headers=false") {
		t.Fatalf("Poll: %v", err)
	}
}

// TestTombstones: behavior.on.null.values=fail fails naming the record and
// the fix, ignore skips it, write keeps it; in Avro a tombstone without a
// schema closes the objects of the schema before it, and one whose
// schema is optional goes into that schema's objects.
func TestTombstones(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	tomb := func(off int64) *connectors.Record {
		return &connectors.Record{Topic: "orders", Offset: off, Key: "k"}
	}
	t.Run("fail", func(t *testing.T) {
		e.bucket = e.srv.CreateBucket(t, "tomb")
		task := e.start(t, &testCtx{}, e.props(), tp)
		err := task.Put(ctx, []*connectors.Record{tomb(0)})
		if err == nil || !strings.Contains(err.Error(), "behavior.on.null.values=ignore") || !strings.Contains(err.Error(), "write") {
			t.Fatalf("Put: %v", err)
		}
	})
	t.Run("ignore", func(t *testing.T) {
		e.bucket = e.srv.CreateBucket(t, "tomb")
		task := e.start(t, &testCtx{}, e.props("behavior.on.null.values", "ignore", "flush.size", "2"), tp)
		if err := task.Put(ctx, []*connectors.Record{rec("orders", 0, 0), tomb(1), rec("orders", 0, 2)}); err != nil {
			t.Fatal(err)
		}
		settle(t, task)
		objs := e.objects(t)
		if b, ok := objs["topics/orders/partition=0/orders+0+0000000000.json"]; !ok || len(readBack(t, "x.json", b)) != 2 {
			t.Fatalf("objects %v", keys(objs))
		}
	})
	t.Run("avro", func(t *testing.T) {
		e.bucket = e.srv.CreateBucket(t, "tomb")
		task := e.start(t, &testCtx{}, e.props("format.class", "avro", "behavior.on.null.values", "write", "flush.size", "100"), tp)
		optional := *rowSchema
		optional.Optional = true
		nullWithSchema := &connectors.Record{Topic: "orders", Offset: 5, ValueSchema: &optional}
		withOptional := rec("orders", 0, 6)
		withOptional.ValueSchema = &optional
		withOptional.Value.(*connectors.StructValue).Schema = &optional
		if err := task.Put(ctx, []*connectors.Record{rec("orders", 0, 0), rec("orders", 0, 1), tomb(2), tomb(3), rec("orders", 0, 4), nullWithSchema, withOptional}); err != nil {
			t.Fatal(err)
		}
		if err := task.rotate(ctx, task.parts[tp]); err != nil {
			t.Fatal(err)
		}
		settle(t, task)
		objs := e.objects(t)
		want := []string{"orders+0+0000000000.avro", "orders+0+0000000002.avro", "orders+0+0000000004.avro", "orders+0+0000000005.avro"}
		if len(objs) != len(want) {
			t.Fatalf("objects %v, want %v", keys(objs), want)
		}
		for _, w := range want {
			if _, ok := objs["topics/orders/partition=0/"+w]; !ok {
				t.Fatalf("objects %v, want %v", keys(objs), want)
			}
		}
		got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "avro", RestoreTaskPartitions, "orders+0"), 0)
		if len(got) != 7 {
			t.Fatalf("restored %d records, want 7", len(got))
		}
		for i, r := range got {
			if isNull := r.Value == nil; isNull != (i == 2 || i == 3 || i == 5) {
				t.Fatalf("record %d: value %v", i, r.Value)
			}
			if (i == 2 || i == 3) != (r.ValueSchema == nil) {
				t.Fatalf("record %d: schema %v", i, r.ValueSchema)
			}
		}
	})
}

// TestRestoreFilterByKafkaTime: s3.restore.start.time and
// s3.restore.end.time without s3.restore.time.field keep the records whose
// stored Kafka timestamp is in the range, also with
// s3.restore.keep.timestamps=false (the records then get none); objects
// without timestamps fail naming the object and the fix.
func TestRestoreFilterByKafkaTime(t *testing.T) {
	e := newEnv(t)
	const n = 40
	writeArchive(t, e, n, "format.class", "avro", "sluice.store.kafka.timestamps", "true")
	// Records are one minute apart from base: [10, 20) minutes.
	for _, keep := range []string{"true", "false"} {
		got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "avro", RestoreTaskPartitions, "orders+1",
			"s3.restore.keep.timestamps", keep, "s3.restore.start.time", base.Add(10*time.Minute).Format(time.RFC3339),
			"s3.restore.end.time", fmt.Sprint(base.Add(20*time.Minute).UnixMilli())), 0)
		if len(got) != 10 {
			t.Fatalf("keep %s: restored %d records, want 10", keep, len(got))
		}
		for i, r := range got {
			id := r.Value.(*connectors.StructValue).Get("id").(int64)
			if id != int64(10+i) {
				t.Fatalf("keep %s: record %d has id %d", keep, i, id)
			}
			if wantTS := base.Add(time.Duration(id) * time.Minute); keep == "true" && !r.Timestamp.Equal(wantTS) || keep == "false" && !r.Timestamp.IsZero() {
				t.Fatalf("keep %s: record %d timestamp %v", keep, i, r.Timestamp)
			}
		}
	}

	e.bucket = e.srv.CreateBucket(t, "nots")
	writeArchive(t, e, 5, "format.class", "avro")
	rt := NewRestoreTask()
	if err := rt.Start(context.Background(), &restoreCtx{}, e.restoreProps("format.class", "avro", RestoreTaskPartitions, "orders+0",
		"s3.restore.start.time", "0")); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	_, err := rt.Poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "orders+0+0000000000.avro has no timestamps object") || !strings.Contains(err.Error(), "s3.restore.time.field") {
		t.Fatalf("Poll: %v", err)
	}
}

// TestHeaderKeyNotUTF8: a header key that is not valid UTF-8 is refused
// with the JSON format, which would store another key, and kept as it is
// with Avro.
func TestHeaderKeyNotUTF8(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	bad := rec("orders", 0, 0)
	bad.Headers = []connectors.Header{{Key: "k\xff", Value: []byte("v")}}
	task := e.start(t, &testCtx{}, e.props("store.kafka.headers", "true"), tp)
	if err := task.Put(ctx, []*connectors.Record{bad}); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") || !strings.Contains(err.Error(), "record orders-0@0") {
		t.Fatalf("Put: %v", err)
	}
	e.bucket = e.srv.CreateBucket(t, "utf8")
	task = e.start(t, &testCtx{}, e.props("format.class", "avro", "store.kafka.headers", "true", "flush.size", "1"), tp)
	if err := task.Put(ctx, []*connectors.Record{bad}); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "avro", "store.kafka.headers", "true", RestoreTaskPartitions, "orders+0"), 0)
	if len(got) != 1 || !sameHeaders(got[0].Headers, bad.Headers) {
		t.Fatalf("restored %v", got)
	}
}

// TestValueNotUTF8: a string value that is not valid UTF-8 fails the
// record with the JSON format, naming the record and the field, rather
// than being archived with U+FFFD in place of its bytes; Avro keeps it as
// it is.
func TestValueNotUTF8(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tp := connectors.TopicPartition{Topic: "orders", Partition: 0}
	bad := rec("orders", 0, 0)
	bad.Value.(*connectors.StructValue).Set("note", "caf\xe9")
	task := e.start(t, &testCtx{}, e.props(), tp)
	err := task.Put(ctx, []*connectors.Record{bad})
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") || !strings.Contains(err.Error(), "record orders-0@0") || !strings.Contains(err.Error(), "note") {
		t.Fatalf("Put: %v", err)
	}
	e.bucket = e.srv.CreateBucket(t, "utf8v")
	task = e.start(t, &testCtx{}, e.props("format.class", "avro", "flush.size", "1"), tp)
	if err := task.Put(ctx, []*connectors.Record{bad}); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	got := restoreAll(t, &restoreCtx{}, e.restoreProps("format.class", "avro", RestoreTaskPartitions, "orders+0"), 0)
	if len(got) != 1 || got[0].Value.(*connectors.StructValue).Get("note") != "caf\xe9" {
		t.Fatalf("restored %v", got)
	}
}
