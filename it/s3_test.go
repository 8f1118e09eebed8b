package it

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hamba/avro/v2/ocf"
	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/it/harness"
)

// TestS3SinkKill9 runs datagen → Kafka → three S3 sinks (Avro with the
// Default partitioner, JSON lines with the Field partitioner and the keys
// in objects beside the values, Parquet with snappy and the Default
// partitioner) in a real
// worker, kills the worker with SIGKILL while they upload, restarts it,
// and then reads every object back with independent readers (hamba/avro's
// OCF reader, encoding/json, parquet-go's reader): each Kafka offset is in S3 exactly once, with
// the value Kafka holds at that offset, and the names written before the
// kill are still there with the same bytes.
func TestS3SinkKill9(t *testing.T) {
	t.Parallel()
	srv := harness.StartS3(t)
	bucket := srv.CreateBucket(t, "kill9")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: props})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	topic := "s3orders-" + sfx
	const n = 4000
	const flush = 250
	create(t, w, "dg", datagen(topic, map[string]string{"quickstart": "orders", "tasks.max": "1",
		"iterations": fmt.Sprint(n), "datagen.rate": "3000"}))
	sink := func(format, dir string, extra ...string) map[string]string {
		c := map[string]string{"connector.class": "io.confluent.connect.s3.S3SinkConnector", "tasks.max": "1",
			"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
			"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": format, "topics.dir": dir, "flush.size": fmt.Sprint(flush)}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		return c
	}
	create(t, w, "s3avro", sink("io.confluent.connect.s3.format.avro.AvroFormat", "avro", "avro.codec", "deflate"))
	create(t, w, "s3json", sink("json", "json", "partitioner.class", "io.confluent.connect.storage.partitioner.FieldPartitioner",
		"partition.field.name", "address.state", "store.kafka.keys", "true"))
	create(t, w, "s3parquet", sink("io.confluent.connect.s3.format.parquet.ParquetFormat", "parquet"))
	waitState(t, w, "s3avro", "RUNNING", 1, "RUNNING")
	waitState(t, w, "s3json", "RUNNING", 1, "RUNNING")
	waitState(t, w, "s3parquet", "RUNNING", 1, "RUNNING")

	cl := srv.Client(t)
	list := func(prefix string) map[string][]byte { return s3Objects(t, cl, bucket, prefix) }

	// Kill -9 in the middle of the uploads.
	harness.WaitFor(t, 2*time.Minute, "some Avro objects", func() error {
		if got := len(list("avro/")); got < 4 {
			return fmt.Errorf("%d objects", got)
		}
		return nil
	})
	w.Kill()
	beforeKill := list("")
	w.Start(t)

	// datagen finishes (its source offset reaches the last seq), then one
	// record with another schema closes the open objects (a schema change
	// rotates them), so that every datagen record ends in S3.
	harness.WaitFor(t, 3*time.Minute, "datagen done", func() error {
		if seq := taskOffsets(t, w, "dg")[0]; seq < n-1 {
			return fmt.Errorf("datagen at seq %d", seq)
		}
		return nil
	})
	kc, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	marker := `{"schema":{"type":"struct","name":"end","fields":[{"field":"end","type":"int32"},{"field":"address","type":"struct","fields":[{"field":"state","type":"string"}]}]},"payload":{"end":1,"address":{"state":"State_end"}}}`
	markerKey := `{"schema":{"type":"struct","name":"endk","fields":[{"field":"orderid","type":"int32"}]},"payload":{"orderid":-1}}`
	if err := kc.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(markerKey), Value: []byte(marker)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(kc)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[topic][0].Offset // the marker is at end-1
	if end < n+1 {
		t.Fatalf("topic ends at %d, want at least %d", end, n+1)
	}
	// Kafka's records, by offset: the payload of each value and key.
	want := make([]map[string]any, 0, end)
	wantKeys := make([]map[string]any, 0, end)
	for int64(len(want)) < end {
		fs := kc.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != int64(len(want)) {
				t.Fatalf("topic offset %d after %d records", r.Offset, len(want))
			}
			var env struct {
				Payload map[string]any `json:"payload"`
			}
			if err := json.Unmarshal(r.Value, &env); err != nil {
				t.Fatal(err)
			}
			want = append(want, env.Payload)
			env.Payload = nil
			if err := json.Unmarshal(r.Key, &env); err != nil {
				t.Fatal(err)
			}
			wantKeys = append(wantKeys, env.Payload)
		})
	}

	for _, conn := range []string{"s3avro", "s3json", "s3parquet"} {
		harness.WaitFor(t, 3*time.Minute, conn+" committed every datagen record", func() error {
			offs, err := adm.FetchOffsets(ctx, "connect-"+conn)
			if err != nil {
				return err
			}
			o, ok := offs.Lookup(topic, 0)
			if !ok || o.At != end-1 {
				return fmt.Errorf("committed %+v, want %d (the marker's offset: its object stays open)", o, end-1)
			}
			return nil
		})
		if st := getStatus(t, w, conn); st.Tasks[0].State != "RUNNING" {
			t.Fatalf("%s: task %s: %s", conn, st.Tasks[0].State, st.Tasks[0].Trace)
		}
	}

	objs := list("")
	for k, b := range beforeKill {
		if !bytes.Equal(objs[k], b) {
			t.Errorf("%s: written before the kill, changed or gone after the restart", k)
		}
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]map[int64]string{"avro": {}, "json": {}, "parquet": {}}
	for _, k := range keys {
		if strings.Contains(k, ".keys.") {
			continue // read with its object of values
		}
		dir := strings.SplitN(k, "/", 2)[0]
		base := k[strings.LastIndexByte(k, '/')+1:]
		var start int64
		if _, err := fmt.Sscanf(strings.TrimPrefix(base, topic+"+0+"), "%d", &start); err != nil || !strings.HasPrefix(base, topic+"+0+") {
			t.Fatalf("object %s: not named <topic>+<partition>+<start offset>", k)
		}
		if len(strings.SplitN(strings.TrimPrefix(base, topic+"+0+"), ".", 2)[0]) != 10 {
			t.Errorf("object %s: the start offset is not written with 10 digits", k)
		}
		rows := readObject(t, k, objs[k])
		// Offsets of the rows: the Default partitioner puts consecutive
		// offsets in one object; the Field partitioner spreads them, so
		// they are found by their datagen seq and orderid.
		offsets := make([]int64, len(rows))
		if dir == "avro" || dir == "parquet" {
			if dir == "parquet" && !strings.HasSuffix(k, ".snappy.parquet") {
				t.Errorf("%s: a Parquet object with the default codec is named .snappy.parquet", k)
			}
			for i := range rows {
				offsets[i] = start + int64(i)
			}
		} else {
			next := start
			for i, row := range rows {
				for next < end-1 && !sameOrder(want[next], row) {
					next++
				}
				if next >= end-1 {
					t.Fatalf("%s: row %d (%v) matches no Kafka record at or after offset %d", k, i, row, start)
				}
				offsets[i] = next
				next++
			}
			if offsets[0] != start {
				t.Errorf("%s: its first row is offset %d, the name says %d", k, offsets[0], start)
			}
		}
		var krows []map[string]any
		for i, row := range rows {
			off := offsets[i]
			if off >= end-1 {
				t.Fatalf("%s: row %d is offset %d, past the last datagen record", k, i, off)
			}
			if !sameOrder(want[off], row) {
				t.Fatalf("%s: offset %d read back as %v, Kafka holds %v", k, off, row, want[off])
			}
			if dir == "json" {
				if krows == nil {
					kk := strings.Replace(k, ".json", ".keys.json", 1)
					kb, ok := objs[kk]
					if !ok {
						t.Fatalf("%s: no keys object %s", k, kk)
					}
					krows = readObject(t, kk, kb)
					if len(krows) != len(rows) {
						t.Fatalf("%s: %d values, %d keys", k, len(rows), len(krows))
					}
				}
				if !reflect.DeepEqual(krows[i], wantKeys[off]) {
					t.Fatalf("%s: offset %d: key %v, Kafka key %v", k, off, krows[i], wantKeys[off])
				}
				if !reflect.DeepEqual(row, want[off]) {
					t.Fatalf("%s: offset %d: JSON line %v, Kafka payload %v", k, off, row, want[off])
				}
				state := want[off]["address"].(map[string]any)["state"].(string)
				if !strings.HasPrefix(k, "json/"+topic+"/state="+state+"/") {
					t.Errorf("%s: offset %d (state %s) is under the wrong partition path", k, off, state)
				}
			}
			if prev, dup := seen[dir][off]; dup {
				t.Fatalf("%s: offset %d is in S3 twice: %s and %s", dir, off, prev, k)
			}
			seen[dir][off] = k
		}
	}
	for dir, s := range seen {
		if int64(len(s)) != end-1 {
			var missing []int64
			for o := int64(0); o < end-1 && len(missing) < 10; o++ {
				if _, ok := s[o]; !ok {
					missing = append(missing, o)
				}
			}
			t.Errorf("%s: %d of %d offsets in S3; missing (first 10) %v", dir, len(s), end-1, missing)
		}
	}
	t.Logf("%d objects, %d records each format, %d before the kill", len(objs), end-1, len(beforeKill))
}

// sameOrder compares the identifying fields of a datagen order as Kafka
// holds it and as an S3 reader decoded it.
func sameOrder(k, s map[string]any) bool {
	num := func(v any) float64 {
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		case int32:
			return float64(x)
		case int:
			return float64(x)
		}
		return -1
	}
	if num(k["seq"]) != num(s["seq"]) || num(k["orderid"]) != num(s["orderid"]) || k["itemid"] != s["itemid"] {
		return false
	}
	ka, _ := k["address"].(map[string]any)
	sa, _ := s["address"].(map[string]any)
	return ka != nil && sa != nil && ka["city"] == sa["city"]
}

// readObject decodes an S3 object: Avro container files with hamba/avro's
// reader, Parquet files with parquet-go's, JSON lines with encoding/json.
func readObject(t *testing.T, key string, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if strings.HasSuffix(key, ".parquet") {
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		r := parquet.NewReader(f)
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
		return out
	}
	if strings.HasSuffix(key, ".avro") {
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
		if err := d.Error(); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out = append(out, m)
	}
	return out
}

// s3Objects reads every object of bucket under prefix, by key.
func s3Objects(t *testing.T, cl *s3.Client, bucket, prefix string) map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			g, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
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
