package it

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-cdc/sluice/it/harness"
)

// TestPostgresToS3: a PostgreSQL table's snapshot and changes go through
// the PostgreSQL source and Kafka into two S3 sinks in one worker: Parquet
// with the Debezium envelope as it is, and Avro flattened by
// ExtractNewRecordState (deletes rewritten with __deleted). The Parquet
// files carry the logical types a query engine needs (DECIMAL, DATE,
// TIMESTAMP), every change is in them once, and the last Avro image of each
// row is the table's row (the flattened value is optional, so the files'
// schema is a union of null and the row's record, as Confluent's AvroData
// makes it).
func TestPostgresToS3(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	srv := harness.StartS3(t)
	br := harness.StartBroker(t)
	bucket := srv.CreateBucket(t, "pgs3")
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	db := pg.CreateDB(t, "pgs3")
	const rows, updates, deletes = 100, 20, 10
	pg.Exec(t, db, `CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2) NOT NULL, placed timestamp NOT NULL,
		day date NOT NULL, note text, paid boolean NOT NULL)`,
		fmt.Sprintf(`INSERT INTO orders SELECT g, g * 1.25, TIMESTAMP '2026-01-01 00:00:00' + g * INTERVAL '1 minute',
		DATE '2026-01-01' + g, CASE WHEN g %% 7 = 0 THEN NULL ELSE 'note ' || g END, g %% 2 = 0 FROM generate_series(1, %d) g`, rows))
	prefix := "pgs3" + sfx
	topic := prefix + ".public.orders"
	create(t, w, "src", pgSourceConfig(pg, db, prefix, "pgs3_"+sfx, map[string]string{"tombstones.on.delete": "false"}))
	sink := func(format, dir string, extra ...string) map[string]string {
		c := map[string]string{"connector.class": "s3", "topics": topic, "s3.bucket.name": bucket, "store.url": srv.Endpoint,
			"s3.region": srv.Region, "aws.access.key.id": srv.AccessKey, "aws.secret.access.key": srv.SecretKey,
			"format.class": format, "topics.dir": dir, "flush.size": "10"}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i]] = extra[i+1]
		}
		return c
	}
	create(t, w, "envelope", sink("parquet", "env"))
	create(t, w, "flat", sink("avro", "flat", "transforms", "unwrap",
		"transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.tombstone.handling.mode", "rewrite"))
	waitState(t, w, "src", "RUNNING", 1, "RUNNING")
	waitState(t, w, "envelope", "RUNNING", 1, "RUNNING")
	waitState(t, w, "flat", "RUNNING", 1, "RUNNING")

	// After the snapshot: updates and deletes, one transaction each.
	cl := srv.Client(t)
	list := func(prefix string) map[string][]byte { return s3Objects(t, cl, bucket, prefix) }
	harness.WaitFor(t, 2*time.Minute, "the snapshot in S3", func() error {
		if n := len(list("env/")); n < rows/10 {
			return fmt.Errorf("%d objects", n)
		}
		return nil
	})
	for i := 1; i <= updates; i++ {
		pg.Exec(t, db, fmt.Sprintf("UPDATE orders SET amount = amount + 100, note = 'updated %d', paid = NOT paid WHERE id = %d", i, i*3))
	}
	for i := 1; i <= deletes; i++ {
		pg.Exec(t, db, fmt.Sprintf("DELETE FROM orders WHERE id = %d", 100-i))
	}
	const changes = rows + updates + deletes // flush.size divides it: every object closes
	var env, flat map[string][]byte
	harness.WaitFor(t, 2*time.Minute, "every change in S3", func() error {
		env, flat = list("env/"), list("flat/")
		if len(env) < changes/10 || len(flat) < changes/10 {
			return fmt.Errorf("%d and %d objects, want %d each", len(env), len(flat), changes/10)
		}
		return nil
	})

	// Parquet: the file schema's logical types, and each change once.
	ops := map[string]int{}
	seen := map[string]bool{}
	for _, k := range sortedKeys(env) {
		b := env[k]
		if !strings.HasSuffix(k, ".snappy.parquet") {
			t.Fatalf("object %s: want a .snappy.parquet object", k)
		}
		f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		after := f.Schema().Fields()
		var afterGroup parquet.Field
		for _, fl := range after {
			if fl.Name() == "after" {
				afterGroup = fl
			}
		}
		if afterGroup == nil {
			t.Fatalf("%s: no after column in %v", k, f.Schema())
		}
		types := map[string]string{}
		for _, fl := range afterGroup.Fields() {
			lt := fl.Type().LogicalType()
			types[fl.Name()] = fmt.Sprint(lt)
		}
		for col, want := range map[string]string{"amount": "DECIMAL(10,2)", "day": "DATE", "placed": "TIMESTAMP(isAdjustedToUTC=false,unit=MICROS)", "note": "STRING"} {
			if !strings.EqualFold(strings.ReplaceAll(types[col], " ", ""), want) {
				t.Errorf("%s: after.%s has logical type %q, want %s", k, col, types[col], want)
			}
		}
		for _, m := range readObject(t, k, b) {
			op, _ := m["op"].(string)
			ops[op]++
			var id any
			if a, ok := m["after"].(map[string]any); ok && a != nil {
				id = a["id"]
			} else if bf, ok := m["before"].(map[string]any); ok {
				id = bf["id"]
			}
			key := fmt.Sprintf("%s/%v/%v", op, id, m["source"].(map[string]any)["lsn"])
			if seen[key] {
				t.Errorf("change %s twice in Parquet", key)
			}
			seen[key] = true
		}
	}
	if ops["r"] != rows || ops["u"] != updates || ops["d"] != deletes {
		t.Errorf("Parquet holds ops %v, want r=%d u=%d d=%d", ops, rows, updates, deletes)
	}

	// Avro, flattened: the last image of each id is the table's row.
	last := map[int32]map[string]any{}
	for _, k := range sortedKeys(flat) {
		d, err := ocf.NewDecoder(bytes.NewReader(flat[k]))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for d.HasNext() {
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if len(m) == 1 {
				// The flattened value's schema is optional: a union of
				// null and the record at the top, as Confluent's
				// AvroData writes it; hamba/avro names the branch.
				for _, v := range m {
					m, _ = v.(map[string]any)
				}
			}
			id, ok := m["id"].(int) // hamba/avro decodes an Avro int as int
			if !ok {
				t.Fatalf("%s: record without an int id: %v", k, m)
			}
			last[int32(id)] = m
		}
	}
	conn := pg.Connect(t, db)
	got := map[int32]string{}
	for id, m := range last {
		if m["__deleted"] == "true" {
			continue
		}
		amount := m["amount"].(*big.Rat).FloatString(2)
		note := "<nil>"
		if n, ok := m["note"].(string); ok {
			note = n
		} else if u, ok := m["note"].(map[string]any); ok {
			note = fmt.Sprint(u["string"])
		}
		got[id] = fmt.Sprintf("%s|%s|%v", amount, note, m["paid"])
	}
	want := map[int32]string{}
	rs, err := conn.Query(context.Background(), "SELECT id, amount::text, coalesce(note, '<nil>'), paid FROM orders")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id int32
		var amount, note string
		var paid bool
		if err := rs.Scan(&id, &amount, &note, &paid); err != nil {
			t.Fatal(err)
		}
		want[id] = fmt.Sprintf("%s|%s|%v", amount, note, paid)
	}
	rs.Close()
	if len(want) != rows-deletes || fmt.Sprint(sortedMap(got)) != fmt.Sprint(sortedMap(want)) {
		t.Errorf("flattened Avro in S3 (%d rows) differs from the table (%d rows):\n got %v\nwant %v", len(got), len(want), sortedMap(got), sortedMap(want))
	}
}

func sortedKeys(m map[string][]byte) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedMap(m map[int32]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, fmt.Sprintf("%d=%s", k, v))
	}
	sort.Strings(out)
	return out
}
