package it

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/it/harness"
)

// restoreRecord is a record as the tests compare it: the payloads of its
// key and value (the JSON converter's envelopes), decoded.
type restoreRecord struct {
	Key, Value any
}

// TestS3RestoreKill9 archives a 3-partition topic with keys through three
// S3 sinks (JSON lines, Avro, Parquet, keys stored) in a real worker with
// exactly.once.source.support=enabled, then restores each archive with
// s3-restore (2 tasks, keep.partitions) into a fresh 3-partition topic,
// kills the worker with SIGKILL while the restores run and restarts it.
// Each restored topic, read read_committed, holds every archived record
// exactly once, in its original partition and order, with the same key
// and value payloads.
func TestS3RestoreKill9(t *testing.T) {
	t.Parallel()
	srv := harness.StartS3(t)
	bucket := srv.CreateBucket(t, "restore")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200", "exactly.once.source.support": "enabled"})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: props})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	kc, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)

	const parts = 3
	const n = 9000
	topic := "restsrc-" + sfx
	if _, err := adm.CreateTopic(ctx, parts, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	keySchema := `{"type":"struct","name":"restore.Key","optional":false,"fields":[{"field":"id","type":"int64","optional":false}]}`
	valSchema := `{"type":"struct","name":"restore.Value","optional":false,"fields":[` +
		`{"field":"id","type":"int64","optional":false},{"field":"note","type":"string","optional":true},` +
		`{"field":"at","type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},` +
		`{"field":"amount","type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"}}]}`
	var batch []*kgo.Record
	for i := range n {
		note := fmt.Sprintf("%q", fmt.Sprintf("note %d", i))
		if i%7 == 0 {
			note = "null"
		}
		amount := base64.StdEncoding.EncodeToString(twos(int64(i*37 - 5000)))
		batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(i % parts),
			Key: []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, keySchema, i)),
			Value: []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":%d,"note":%s,"at":%d,"amount":"%s"}}`,
				valSchema, i, note, 1764806400000+int64(i)*1000, amount))})
	}
	if err := kc.ProduceSync(ctx, batch...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A record of another schema in each partition closes the sinks'
	// open objects (a schema change rotates them), so that every record
	// before it is in S3.
	for p := range parts {
		m := &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":-1}}`, keySchema)),
			Value: []byte(`{"schema":{"type":"struct","name":"end","fields":[{"field":"end","type":"int32"}]},"payload":{"end":1}}`)}
		if err := kc.ProduceSync(ctx, m).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	want := readTopic(t, listen, topic, n+parts, false) // the markers come last in each partition
	for p := range want {
		want[p] = want[p][:len(want[p])-1]
	}

	sink := func(format string, extra ...string) map[string]string {
		c := map[string]string{"connector.class": "s3", "tasks.max": "1",
			"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
			"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": format, "topics.dir": format, "flush.size": "200", "store.kafka.keys": "true"}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		return c
	}
	formats := []string{"json", "avro", "parquet"}
	create(t, w, "s3json", sink("json", "s3.compression.type", "gzip"))
	create(t, w, "s3avro", sink("avro", "avro.codec", "deflate"))
	create(t, w, "s3parquet", sink("parquet"))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range formats {
		harness.WaitFor(t, 3*time.Minute, "s3"+f+" archived every record", func() error {
			offs, err := adm.FetchOffsets(ctx, "connect-s3"+f)
			if err != nil {
				return err
			}
			for p := range int32(parts) {
				e, _ := ends.Lookup(topic, p)
				o, ok := offs.Lookup(topic, p)
				if !ok || o.At != e.Offset-1 {
					return fmt.Errorf("partition %d committed %+v, want %d", p, o, e.Offset-1)
				}
			}
			return nil
		})
	}

	for _, f := range formats {
		target := "restored-" + f + "-" + sfx
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, target); err != nil {
			t.Fatal(err)
		}
		create(t, w, "restore"+f, map[string]string{"connector.class": "s3-restore", "tasks.max": "2",
			"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
			"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": f, "topics.dir": f, "store.kafka.keys": "true", "s3.restore.batch.size": "100",
			"s3.restore.topic.rename": topic + ":" + target})
	}
	// Kill -9 as soon as the restores have produced something.
	harness.WaitFor(t, 2*time.Minute, "the restores under way", func() error {
		for _, f := range formats {
			ends, err := adm.ListEndOffsets(ctx, "restored-"+f+"-"+sfx)
			if err != nil {
				return err
			}
			var sum int64
			ends.Each(func(e kadm.ListedOffset) { sum += e.Offset })
			if sum == 0 {
				return fmt.Errorf("nothing in restored-%s yet", f)
			}
		}
		return nil
	})
	w.Kill()
	// The embedded broker went down with the worker: what the restored
	// topics held at the kill is read once it is back.
	w.Start(t)
	for _, f := range formats {
		ends, err := adm.ListEndOffsets(ctx, "restored-"+f+"-"+sfx)
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		ends.Each(func(e kadm.ListedOffset) { sum += e.Offset })
		t.Logf("%s: %d of %d records (and transaction markers) in the restored topic after the kill", f, sum, n)
	}

	for _, f := range formats {
		waitState(t, w, "restore"+f, "RUNNING", 2, "RUNNING")
		got := readTopic(t, listen, "restored-"+f+"-"+sfx, n, true)
		for p := range parts {
			if len(got[p]) != len(want[p]) {
				t.Fatalf("%s: partition %d holds %d records, want %d", f, p, len(got[p]), len(want[p]))
			}
			for i := range got[p] {
				if !reflect.DeepEqual(got[p][i], want[p][i]) {
					t.Fatalf("%s: partition %d record %d is %v, want %v", f, p, i, got[p][i], want[p][i])
				}
			}
		}
		if st := getStatus(t, w, "restore"+f); st.Tasks[0].State != "RUNNING" || st.Tasks[1].State != "RUNNING" {
			t.Fatalf("%s: tasks %+v", f, st.Tasks)
		}
	}

	// keep.partitions into a topic with fewer partitions than the
	// archive: the task that restores partition 1 or 2 fails, naming the
	// partition and the topic.
	few := "restored-few-" + sfx
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, few); err != nil {
		t.Fatal(err)
	}
	create(t, w, "restorefew", map[string]string{"connector.class": "s3-restore", "tasks.max": "1",
		"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
		"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
		"format.class": "avro", "topics.dir": "avro", "s3.restore.topic.rename": topic + ":" + few})
	harness.WaitFor(t, 2*time.Minute, "the restore into too few partitions failed", func() error {
		st := getStatus(t, w, "restorefew")
		if len(st.Tasks) != 1 || st.Tasks[0].State != "FAILED" {
			return fmt.Errorf("tasks %+v", st.Tasks)
		}
		if !strings.Contains(st.Tasks[0].Trace, "partition 1 of topic "+few) && !strings.Contains(st.Tasks[0].Trace, "partition 2 of topic "+few) {
			t.Fatalf("trace does not name the partition and the topic: %s", st.Tasks[0].Trace)
		}
		return nil
	})
}

// twos is the minimal big-endian two's complement of v, as the
// JsonConverter writes a Decimal's unscaled value.
func twos(v int64) []byte {
	b := big.NewInt(v)
	if v >= 0 {
		raw := b.Bytes()
		if len(raw) == 0 || raw[0]&0x80 != 0 {
			raw = append([]byte{0}, raw...)
		}
		return raw
	}
	n := (new(big.Int).Not(b).BitLen())/8 + 1
	m := new(big.Int).Add(b, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	return m.FillBytes(make([]byte, n))
}

// readTopic reads topic until it holds n records (after which it waits
// two seconds for any record too many) and returns them per partition in
// order, their key and value payloads decoded.
func readTopic(t *testing.T, bootstrap, topic string, n int, committed bool) map[int][]restoreRecord {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond)}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int][]restoreRecord{}
	count := 0
	deadline := time.Now().Add(4 * time.Minute)
	var quiet time.Time
	for {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d records read, want %d", topic, count, n)
		}
		if count >= n {
			if quiet.IsZero() {
				quiet = time.Now().Add(2 * time.Second)
			} else if time.Now().After(quiet) {
				return out
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if err != context.DeadlineExceeded {
				t.Fatalf("%s: %v", topic, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			var k, v struct {
				Payload any `json:"payload"`
			}
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("%s: key %s: %v", topic, r.Key, err)
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatalf("%s: value %s: %v", topic, r.Value, err)
			}
			out[int(r.Partition)] = append(out[int(r.Partition)], restoreRecord{Key: k.Payload, Value: v.Payload})
			count++
		})
	}
}

// TestS3RestoreJDBCReplica: PostgreSQL → Kafka (the postgres source) →
// S3 (Avro, keys stored) → s3-restore into a fresh topic → a new JDBC
// sink into another database: the replica's table ends equal to the
// source table, inserts, updates and deletes included.
func TestS3RestoreJDBCReplica(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	db := pg.CreateDB(t, "rjsrc")
	replica := pg.CreateDB(t, "rjreplica")
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL, note text)",
		"INSERT INTO acct SELECT g, g * 10, 'row ' || g FROM generate_series(1, 300) g")
	srv := harness.StartS3(t)
	bucket := srv.CreateBucket(t, "replica")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: props})
	w.Start(t)
	prefix := "rj" + sfx
	topic := prefix + ".public.acct"
	create(t, w, "pg", pgSourceConfig(pg, db, prefix, "rj_"+sfx, map[string]string{"table.include.list": "public.acct"}))
	create(t, w, "archive", map[string]string{"connector.class": "s3", "tasks.max": "1", "topics": topic,
		"s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
		"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
		"format.class": "avro", "flush.size": "50", "store.kafka.keys": "true",
		// Deletes are archived as their op=d events; the tombstones
		// after them carry nothing more.
		"behavior.on.null.values": "ignore"})
	waitState(t, w, "pg", "RUNNING", 1, "RUNNING")
	pg.Exec(t, db,
		"UPDATE acct SET v = v + 1, note = NULL WHERE id % 3 = 0",
		"DELETE FROM acct WHERE id % 7 = 0",
		"INSERT INTO acct SELECT g, g, 'late ' || g FROM generate_series(301, 340) g",
		"UPDATE acct SET note = 'again' WHERE id % 11 = 0")
	ctx := context.Background()
	src := pg.Connect(t, db)
	want, err := sqlTable(ctx, src, "acct", "id")
	if err != nil {
		t.Fatal(err)
	}
	// A change of the table's schema closes the sink's open objects (a
	// schema change rotates them): every change before it is then in S3.
	pg.Exec(t, db, "ALTER TABLE acct ADD COLUMN extra int", "INSERT INTO acct VALUES (1000, 0, 'after the archive', 1)")
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	kc, err := kgo.NewClient(kgo.SeedBrokers(listen))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	// The sink commits the first offset of its open objects: once that is
	// the last record (the insert of id 1000, in the new schema), every
	// change before it is in S3.
	harness.WaitFor(t, 3*time.Minute, "the archive holds every change before the schema change", func() error {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		e, ok := ends.Lookup(topic, 0)
		if !ok || e.Offset == 0 {
			return fmt.Errorf("topic %s not written yet", topic)
		}
		offs, err := adm.FetchOffsets(ctx, "connect-archive")
		if err != nil {
			return err
		}
		o, ok := offs.Lookup(topic, 0)
		if !ok || o.At != e.Offset-1 {
			return fmt.Errorf("archive committed %+v, the topic ends at %d", o.At, e.Offset)
		}
		return nil
	})

	target := prefix + ".restored.acct"
	create(t, w, "restore", map[string]string{"connector.class": "s3-restore", "tasks.max": "1",
		"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
		"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
		"format.class": "avro", "store.kafka.keys": "true", "s3.restore.topic.rename": topic + ":" + target})
	create(t, w, "replica", map[string]string{"connector.class": "jdbc", "connection.url": pg.JDBCURL(replica),
		"connection.username": pg.User, "topics": target, "insert.mode": "upsert", "primary.key.mode": "record_key",
		"delete.enabled": "true", "schema.evolution": "basic", "table.name.format": "${source.table}"})
	rep := pg.Connect(t, replica)
	harness.WaitFor(t, 3*time.Minute, "the replica equal to the source table", func() error {
		got, err := sqlTable(ctx, rep, "acct", "id")
		if err != nil {
			return err
		}
		return diffRows("acct", want, got)
	})
	if st := getStatus(t, w, "restore"); st.Tasks[0].State != "RUNNING" {
		t.Fatalf("restore task %s: %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
}

// fullRecord is a record as TestS3RestoreCompacted compares it: key and
// value payloads (Tomb for a null value), headers and timestamp.
type fullRecord struct {
	Offset  int64
	Key     any
	Value   any
	Tomb    bool
	Headers []kgo.RecordHeader
	TS      int64
}

func (r fullRecord) same(o fullRecord) bool {
	if !reflect.DeepEqual(r.Key, o.Key) || !reflect.DeepEqual(r.Value, o.Value) || r.Tomb != o.Tomb || r.TS != o.TS || len(r.Headers) != len(o.Headers) {
		return false
	}
	for i, h := range r.Headers {
		g := o.Headers[i]
		if h.Key != g.Key || (h.Value == nil) != (g.Value == nil) || string(h.Value) != string(g.Value) {
			return false
		}
	}
	return true
}

// readFull reads topic (read_committed) until it has read n records and
// nothing more came for two seconds.
func readFull(t *testing.T, bootstrap, topic string, n int) map[int][]fullRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int][]fullRecord{}
	count := 0
	deadline := time.Now().Add(3 * time.Minute)
	quiet := time.Now().Add(2 * time.Second)
	for count < n || time.Now().Before(quiet) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d records read, want %d", topic, count, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if err != context.DeadlineExceeded {
				t.Fatalf("%s: %v", topic, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			var k, v struct {
				Payload any `json:"payload"`
			}
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("%s: key %s: %v", topic, r.Key, err)
			}
			fr := fullRecord{Offset: r.Offset, Key: k.Payload, Tomb: r.Value == nil, Headers: r.Headers, TS: r.Timestamp.UnixMilli()}
			if r.Value != nil {
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatalf("%s: value %s: %v", topic, r.Value, err)
				}
				fr.Value = v.Payload
			}
			out[int(r.Partition)] = append(out[int(r.Partition)], fr)
			count++
			quiet = time.Now().Add(2 * time.Second)
		})
	}
	return out
}

// TestS3RestoreCompacted backs a compacted topic up to S3 and restores it:
// records produced in transactions (so offsets have gaps where the commit
// markers are), compacted by the embedded broker's cleaner (more gaps),
// with tombstones, headers (a repeated key, a null and an empty value,
// binary bytes) and timestamps of two hours ago, are archived by S3 sinks
// (JSON lines and Avro) with store.kafka.keys, store.kafka.headers,
// sluice.store.kafka.timestamps and behavior.on.null.values=write, then
// restored by s3-restore into a new compacted topic: each partition holds
// the same records in the same order, keys, values, null values, headers
// and timestamps equal.
func TestS3RestoreCompacted(t *testing.T) {
	t.Parallel()
	srv := harness.StartS3(t)
	bucket := srv.CreateBucket(t, "compacted")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200", "sluice.broker.log.cleaner.backoff.ms": "500"})
	w := harness.PrepareWorker(t, harness.WorkerOptions{Props: props})
	w.Start(t)
	listen := ""
	for i, a := range w.Args {
		if a == "--broker-listen" {
			listen = w.Args[i+1]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	kc, err := kgo.NewClient(kgo.SeedBrokers(listen), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID("compacted-"+sfx))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	adm := kadm.NewClient(kc)
	const parts = 2
	compacted := map[string]*string{"cleanup.policy": kadm.StringPtr("compact"), "delete.retention.ms": kadm.StringPtr("315360000000")}
	topic := "compsrc-" + sfx
	if _, err := adm.CreateTopic(ctx, parts, 1, compacted, topic); err != nil {
		t.Fatal(err)
	}
	keySchema := `{"type":"struct","name":"comp.Key","optional":false,"fields":[{"field":"id","type":"int64","optional":false}]}`
	valSchema := `{"type":"struct","name":"comp.Value","optional":false,"fields":[{"field":"id","type":"int64","optional":false},{"field":"n","type":"int64","optional":false},{"field":"note","type":"string","optional":true}]}`
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	const txns, perTxn, ids = 40, 6, 25
	produced := 0
	for x := range txns + 1 {
		if err := kc.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		var batch []*kgo.Record
		if x == txns {
			// A record of another schema last in each partition closes
			// the sinks' open objects (a schema change rotates them), so
			// that every record before it is in S3.
			for p := range parts {
				batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(p), Key: []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, keySchema, 1000+p)),
					Value: []byte(`{"schema":{"type":"struct","name":"end","fields":[{"field":"end","type":"int32"}]},"payload":{"end":1}}`)})
			}
		}
		for j := range perTxn {
			if x == txns {
				break
			}
			i := x*perTxn + j
			id := (i * 7) % ids
			r := &kgo.Record{Topic: topic, Partition: int32(i % parts), Timestamp: base.Add(time.Duration(i) * time.Second),
				Key: []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":%d}}`, keySchema, id))}
			if i%5 != 3 {
				note := fmt.Sprintf("%q", fmt.Sprintf("note %d", i))
				if i%4 == 0 {
					note = "null"
				}
				r.Value = []byte(fmt.Sprintf(`{"schema":%s,"payload":{"id":%d,"n":%d,"note":%s}}`, valSchema, id, i, note))
			}
			switch i % 3 {
			case 1:
				r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprint(i))}}
			case 2:
				r.Headers = []kgo.RecordHeader{{Key: "dup", Value: nil}, {Key: "dup", Value: []byte{}}, {Key: "bin", Value: []byte{0xff, 0, byte(i)}}}
			}
			batch = append(batch, r)
		}
		produced += len(batch)
		if err := kc.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := kc.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	// The embedded broker's cleaner compacts the topic every 500 ms:
	// wait until it has (fewer records than produced), and for what it
	// leaves to stay put.
	var want map[int][]fullRecord
	harness.WaitFor(t, time.Minute, "the source topic compacted", func() error {
		got := readFull(t, listen, topic, 1)
		n := 0
		for _, rs := range got {
			n += len(rs)
		}
		if n >= produced {
			return fmt.Errorf("%d records of %d, not compacted yet", n, produced)
		}
		// Passes of the cleaner that began while the records were
		// produced may have left some to the next one.
		if again := readFull(t, listen, topic, 1); !reflect.DeepEqual(got, again) {
			return fmt.Errorf("still compacting")
		}
		want = got
		return nil
	})
	lastOff := map[int]int64{}
	wantN, tombs, gaps := 0, 0, 0
	for p, rs := range want {
		lastOff[p] = rs[len(rs)-1].Offset
		want[p] = rs[:len(rs)-1] // the markers stay in the open objects
		for i, r := range want[p] {
			wantN++
			if r.Tomb {
				tombs++
			}
			if i > 0 && r.Offset > want[p][i-1].Offset+1 {
				gaps++
			}
		}
	}
	if tombs == 0 || gaps == 0 {
		t.Fatalf("the compacted topic has %d tombstones and %d gaps in its offsets: the test needs both", tombs, gaps)
	}
	t.Logf("%d records produced, %d left by compaction (%d tombstones, %d gaps in the offsets)", produced, wantN+parts, tombs, gaps)

	formats := []string{"json", "avro"}
	for _, f := range formats {
		create(t, w, "s3c"+f, map[string]string{"connector.class": "s3", "tasks.max": "1",
			"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
			"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": f, "topics.dir": f, "flush.size": "5", "store.kafka.keys": "true", "store.kafka.headers": "true",
			"sluice.store.kafka.timestamps": "true", "behavior.on.null.values": "write"})
	}
	for _, f := range formats {
		harness.WaitFor(t, 2*time.Minute, "s3c"+f+" archived every record", func() error {
			offs, err := adm.FetchOffsets(ctx, "connect-s3c"+f)
			if err != nil {
				return err
			}
			for p := range int32(parts) {
				if o, ok := offs.Lookup(topic, p); !ok || o.At != lastOff[int(p)] {
					return fmt.Errorf("partition %d committed %+v, want %d (status %+v)", p, o, lastOff[int(p)], getStatus(t, w, "s3c"+f))
				}
			}
			return nil
		})
	}
	for _, f := range formats {
		target := "comprest-" + f + "-" + sfx
		if _, err := adm.CreateTopic(ctx, parts, 1, compacted, target); err != nil {
			t.Fatal(err)
		}
		create(t, w, "restc"+f, map[string]string{"connector.class": "s3-restore", "tasks.max": "2",
			"topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint, "s3.region": srv.Region,
			"aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": f, "topics.dir": f, "store.kafka.keys": "true", "store.kafka.headers": "true",
			"s3.restore.topic.rename": topic + ":" + target})
	}
	for _, f := range formats {
		got := readFull(t, listen, "comprest-"+f+"-"+sfx, wantN)
		for p := range parts {
			if len(got[p]) != len(want[p]) {
				t.Fatalf("%s: partition %d holds %d records, want %d", f, p, len(got[p]), len(want[p]))
			}
			for i := range got[p] {
				if !got[p][i].same(want[p][i]) {
					t.Fatalf("%s: partition %d record %d is %+v, want %+v", f, p, i, got[p][i], want[p][i])
				}
			}
		}
		if st := getStatus(t, w, "restc"+f); st.Tasks[0].State != "RUNNING" || st.Tasks[1].State != "RUNNING" {
			t.Fatalf("%s: tasks %+v", f, st.Tasks)
		}
	}
}
