package it

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// outboxEvent is one event the test wrote to the outbox table, as it
// must arrive: in topic outbox.event.<aggregatetype>, keyed by
// aggregateid, the payload as the value, id, type and tenant as headers.
type outboxEvent struct {
	id, aggType, aggID, typ, tenant string
	seq                             int
}

// TestOutboxRouterEndToEnd captures a PostgreSQL outbox table (Debezium's
// layout plus a tenant column) with the postgres source and
// transforms=outbox (io.debezium.transforms.outbox.EventRouter). Events
// of two aggregate types, written by the snapshot and in transactions
// (some deleting their rows in the same transaction, as the outbox pattern
// does, some later), land in outbox.event.<type> keyed by aggregateid,
// with the payload as the value, the id and the placed type and tenant as
// headers, in order per aggregate; the deletes (and an update) produce
// nothing, and nothing is left in the outbox table's own topic. It also
// checks, through the same worker, that a bad transform option is refused
// on create with a 400 naming transforms.<name>.<option>.
func TestOutboxRouterEndToEnd(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "1000"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	db := pg.CreateDB(t, "outbox")
	pg.Exec(t, db, `CREATE TABLE outbox (
		id uuid PRIMARY KEY,
		aggregatetype text NOT NULL,
		aggregateid text NOT NULL,
		type text NOT NULL,
		payload jsonb,
		tenant text NOT NULL)`)

	prefix := "ob" + sfx
	// The aggregate types carry the run's suffix, so that the routed
	// topics stay the test's own on a shared cluster.
	types := []string{"order" + sfx, "customer" + sfx}
	transforms := map[string]string{
		"transforms":                                          "outbox",
		"transforms.outbox.type":                              "io.debezium.transforms.outbox.EventRouter",
		"transforms.outbox.route.by.field":                    "aggregatetype",
		"transforms.outbox.route.topic.replacement":           "outbox.event.${routedByValue}",
		"transforms.outbox.table.field.event.key":             "aggregateid",
		"transforms.outbox.table.fields.additional.placement": "type:header:eventType,tenant:header",
		"key.converter":                                       "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                                     "org.apache.kafka.connect.storage.StringConverter",
	}
	srcCfg := func(extra map[string]string) map[string]string {
		cfg := pgSourceConfig(pg, db, prefix, "outbox_"+sfx, map[string]string{
			"table.include.list": "public.outbox",
			"publication.name":   "outbox_" + sfx,
		})
		for k, v := range transforms {
			cfg[k] = v
		}
		for k, v := range extra {
			cfg[k] = v
		}
		return cfg
	}

	t.Run("BadOptionOnCreate", func(t *testing.T) {
		cases := []struct {
			name, key, value string
			want             []string
		}{
			{"invalid behavior", "transforms.outbox.table.op.invalid.behavior", "explode",
				[]string{"transforms.outbox.table.op.invalid.behavior", "warn", "fatal"}},
			{"placement", "transforms.outbox.table.fields.additional.placement", "type:footer",
				[]string{"transforms.outbox.table.fields.additional.placement", "footer"}},
			{"regex", "transforms.outbox.route.topic.regex", "(unclosed",
				[]string{"transforms.outbox.route.topic.regex"}},
			{"unsupported", "transforms.outbox.table.expand.json.payload", "true",
				[]string{"transforms.outbox.table.expand.json.payload", "not supported"}},
		}
		for i, c := range cases {
			name := fmt.Sprintf("bad-%d", i)
			msg := expectError(t, w, "POST", "/connectors",
				map[string]any{"name": name, "config": srcCfg(map[string]string{c.key: c.value})}, http.StatusBadRequest)
			mustContain(t, c.name+" message", msg, c.want...)
			if st, body := w.Do("GET", "/connectors/"+name, nil); st != http.StatusNotFound {
				t.Errorf("%s: a refused connector exists: %d %s", c.name, st, body)
			}
		}
		// An unknown class is refused with the known ones listed.
		msg := expectError(t, w, "POST", "/connectors",
			map[string]any{"name": "bad-type", "config": srcCfg(map[string]string{"transforms.outbox.type": "com.example.NoSuchRouter"})}, http.StatusBadRequest)
		mustContain(t, "unknown transform message", msg, "transforms.outbox.type",
			"io.debezium.transforms.outbox.EventRouter", "io.debezium.transforms.ExtractNewRecordState")
		// The same for ExtractNewRecordState, on a sink.
		msg = expectError(t, w, "POST", "/connectors", map[string]any{"name": "bad-unwrap", "config": map[string]string{
			"connector.class": "jdbc", "connection.url": pg.JDBCURL(db), "connection.username": pg.User, "topics": "x",
			"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
			"transforms.unwrap.delete.tombstone.handling.mode": "shred",
		}}, http.StatusBadRequest)
		mustContain(t, "unwrap message", msg, "transforms.unwrap.delete.tombstone.handling.mode", "rewrite")
		if strings.Contains(msg, "connection.") {
			t.Errorf("unwrap message names more than the transform's option:\n%s", msg)
		}
	})

	var want []outboxEvent
	var n int
	newEvent := func(agg int, aggID string) outboxEvent {
		n++
		e := outboxEvent{id: fmt.Sprintf("00000000-0000-4000-8000-%012d", n), aggType: types[agg], aggID: aggID,
			tenant: "tenant-" + strconv.Itoa(n%3), seq: n}
		e.typ = []string{"OrderCreated", "CustomerUpdated"}[agg]
		return e
	}
	insert := func(tx pgx.Tx, e outboxEvent) {
		t.Helper()
		payload := fmt.Sprintf(`{"seq": %d, "aggregate": %q, "note": "event \"%d\""}`, e.seq, e.aggID, e.seq)
		if _, err := tx.Exec(context.Background(),
			"INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ($1, $2, $3, $4, $5, $6)",
			e.id, e.aggType, e.aggID, e.typ, payload, e.tenant); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	conn := pg.Connect(t, db)
	inTx := func(f func(pgx.Tx)) {
		t.Helper()
		ctx := context.Background()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f(tx)
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Rows there before the connector: the snapshot reads them (op r).
	inTx(func(tx pgx.Tx) {
		for i := 0; i < 4; i++ {
			insert(tx, newEvent(i%2, fmt.Sprintf("%d-%d", i%2, i%3)))
		}
	})

	create(t, w, "outbox", srcCfg(nil))
	waitState(t, w, "outbox", "RUNNING", 1, "RUNNING")
	// Rows inserted and deleted before the slot exists are in neither
	// the snapshot nor the stream, rightly; write once it does.
	waitSlot(t, pg, "outbox_"+sfx)

	// Streamed: each transaction writes events of both types for several
	// aggregates; every other one deletes its rows before committing (the
	// outbox pattern), the others' rows are deleted later.
	var kept []string
	for round := 0; round < 20; round++ {
		inTx(func(tx pgx.Tx) {
			var ids []string
			for i := 0; i < 5; i++ {
				e := newEvent(i%2, fmt.Sprintf("%d-%d", i%2, (round+i)%3))
				insert(tx, e)
				ids = append(ids, e.id)
			}
			if round%2 == 0 {
				if _, err := tx.Exec(context.Background(), "DELETE FROM outbox WHERE id = ANY($1::uuid[])", ids); err != nil {
					t.Fatal(err)
				}
			} else {
				kept = append(kept, ids...)
			}
		})
	}
	// An update of an outbox row is not an event (table.op.invalid.behavior=warn).
	pg.Exec(t, db, "UPDATE outbox SET payload = '{\"updated\": true}' WHERE id = '"+kept[0]+"'")
	pg.Exec(t, db, "DELETE FROM outbox")
	// A last event per type: once it arrived, everything before it in its
	// topic did (one partition), and the deletes had their chance to
	// show.
	inTx(func(tx pgx.Tx) {
		insert(tx, newEvent(0, "0-last"))
		insert(tx, newEvent(1, "1-last"))
	})

	byTopic := map[string][]outboxEvent{}
	for _, e := range want {
		byTopic["outbox.event."+e.aggType] = append(byTopic["outbox.event."+e.aggType], e)
	}
	topics := make([]string, 0, len(byTopic))
	for tp := range byTopic {
		topics = append(topics, tp)
	}
	sort.Strings(topics)
	cl := br.Client(t, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond), freshMetadata)
	got := map[string][]*kgo.Record{}
	harness.WaitFor(t, 60*time.Second, "every outbox event in its topic", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
		for _, tp := range topics {
			if len(got[tp]) < len(byTopic[tp]) {
				var seqs []string
				for _, r := range got[tp] {
					seqs = append(seqs, string(r.Key)+"/"+string(r.Value))
				}
				return fmt.Errorf("%s: %d of %d events: %v", tp, len(got[tp]), len(byTopic[tp]), seqs)
			}
		}
		return nil
	})
	// Anything the deletes or the update wrongly produced would follow
	// in the same topics or sit in the table's own.
	time.Sleep(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
	cancel()

	start := time.Now().Add(-10 * time.Minute)
	for _, tp := range topics {
		recs, exp := got[tp], byTopic[tp]
		if len(recs) != len(exp) {
			t.Errorf("%s: %d records, want %d (the deletes or the update produced records?)", tp, len(recs), len(exp))
			for _, r := range recs {
				t.Logf("  %s@%d key %q value %q headers %v", r.Topic, r.Offset, r.Key, r.Value, r.Headers)
			}
			continue
		}
		// In order per aggregate: the topic has one partition, and the
		// events of an aggregate follow each other as they were written
		// (so do all of a topic's: one source, commit order).
		for i, r := range recs {
			e := exp[i]
			where := fmt.Sprintf("%s@%d (event %d)", tp, r.Offset, e.seq)
			if string(r.Key) != e.aggID {
				t.Errorf("%s: key %q, want the aggregateid %q", where, r.Key, e.aggID)
			}
			var v struct {
				Seq       int    `json:"seq"`
				Aggregate string `json:"aggregate"`
				Note      string `json:"note"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("%s: value %q is not the JSON payload: %v", where, r.Value, err)
			} else if v.Seq != e.seq || v.Aggregate != e.aggID || v.Note != fmt.Sprintf("event %q", strconv.Itoa(e.seq)) {
				t.Errorf("%s: payload %s, want seq %d of %s", where, r.Value, e.seq, e.aggID)
			}
			hs := map[string]string{}
			for _, h := range r.Headers {
				if _, dup := hs[h.Key]; dup {
					t.Errorf("%s: header %q twice", where, h.Key)
				}
				hs[h.Key] = string(h.Value)
			}
			wantHs := map[string]string{"id": e.id, "eventType": e.typ, "tenant": e.tenant}
			for k, v := range wantHs {
				if hs[k] != v {
					t.Errorf("%s: header %q = %q, want %q (headers %v)", where, k, hs[k], v, hs)
				}
			}
			// The source transaction's trace context travels with a
			// streamed event; the snapshot's (the first four) have none.
			if tp, ok := hs[tracectx.Header]; e.seq <= 4 {
				if ok {
					t.Errorf("%s: snapshot read with a %s header %q", where, tracectx.Header, tp)
				}
			} else if !ok {
				t.Errorf("%s: no %s header (headers %v)", where, tracectx.Header, hs)
			} else if _, ok := tracectx.TraceID([]byte(tp)); !ok {
				t.Errorf("%s: %s header %q is not a W3C traceparent", where, tracectx.Header, tp)
			}
			delete(hs, tracectx.Header)
			// Only the placed columns: none of the others (aggregatetype,
			// aggregateid, payload) leaks into a header.
			for k := range hs {
				if _, ok := wantHs[k]; !ok {
					t.Errorf("%s: unexpected header %q = %q", where, k, hs[k])
				}
			}
			if r.Timestamp.Before(start) || r.Timestamp.After(time.Now().Add(time.Minute)) {
				t.Errorf("%s: timestamp %v is not the change's time", where, r.Timestamp)
			}
		}
	}
	// The outbox table's own topic got nothing: every insert was routed,
	// every delete, tombstone and update dropped.
	adm := kadm.NewClient(br.Client(t, freshMetadata))
	if n := endOffsets(t, adm, prefix+".public.outbox"); n != 0 {
		t.Errorf("%d records in %s.public.outbox, want none", n, prefix)
	}
	st := getStatus(t, w, "outbox")
	if st.Connector.State != "RUNNING" || len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
		t.Errorf("outbox connector status %+v", st)
	}
	mustContain(t, "the worker log", w.Log(), "outbox EventRouter dropped an update")
	t.Logf("%d outbox events routed to %v; then %d rows deleted and 1 updated", len(want), topics, len(want)-2)
}

// TestExtractNewRecordStateIntoJDBC replicates a table through the
// postgres source, Kafka, and the jdbc sink with transforms=unwrap
// (io.debezium.transforms.ExtractNewRecordState) into a second database:
// the sink sees flat rows plus __op and __source_ts_ms, and for a delete
// only the tombstone (delete.tombstone.handling.mode=tombstone), which it
// applies as a delete by key. After snapshot rows, inserts, updates,
// deletes, a key change and a delete-then-reinsert, the target table
// equals the source, each row's __op is the last change's, and the sink
// stays RUNNING.
func TestExtractNewRecordStateIntoJDBC(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	br := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "500"})
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: br.Bootstrap, Props: props})
	srcDB := pg.CreateDB(t, "unwrap_src")
	dstDB := pg.CreateDB(t, "unwrap_dst")
	pg.Exec(t, srcDB, `CREATE TABLE items (
		id int PRIMARY KEY,
		name text NOT NULL,
		qty int,
		price numeric(10,2),
		note text)`,
		// The soft-delete sink writes a delete's before state: all of it.
		"ALTER TABLE items REPLICA IDENTITY FULL",
		// items_gone keeps the last state of every deleted key (a key
		// change deletes the old key), for the soft-delete target.
		"CREATE TABLE items_gone (LIKE items INCLUDING ALL)",
		`CREATE FUNCTION keep_gone() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'DELETE' OR OLD.id <> NEW.id THEN
				DELETE FROM items_gone WHERE id = OLD.id;
				INSERT INTO items_gone SELECT OLD.*;
			END IF;
			RETURN NULL;
		END $$`,
		"CREATE TRIGGER keep_gone AFTER UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION keep_gone()")
	// ops is the op of each row's last change, as __op must hold it.
	ops := map[int]string{}
	pg.Exec(t, srcDB, "INSERT INTO items SELECT i, 'item '||i, i*10, i*1.25, CASE WHEN i%2=0 THEN 'even' END FROM generate_series(1, 30) i")
	for i := 1; i <= 30; i++ {
		ops[i] = "r"
	}

	prefix := "un" + sfx
	topic := prefix + ".public.items"
	create(t, w, "src", pgSourceConfig(pg, srcDB, prefix, "unwrap_"+sfx, map[string]string{
		"table.include.list": "public.items",
		"publication.name":   "unwrap_" + sfx,
	}))
	waitState(t, w, "src", "RUNNING", 1, "RUNNING")
	// Changes before the slot exists would show in the snapshot as op r.
	waitSlot(t, pg, "unwrap_"+sfx)
	create(t, w, "sink", map[string]string{
		"connector.class":        "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":         pg.JDBCURL(dstDB),
		"connection.username":    pg.User,
		"topics":                 topic,
		"table.name.format":      "items",
		"insert.mode":            "upsert",
		"primary.key.mode":       "record_key",
		"delete.enabled":         "true",
		"schema.evolution":       "basic",
		"transforms":             "unwrap",
		"transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.tombstone.handling.mode": "tombstone",
		"transforms.unwrap.add.fields":                     "op,source.ts_ms",
	})
	// Soft deletes: a delete becomes its before state with
	// __deleted=true, tombstones are dropped, so deleted rows stay.
	create(t, w, "soft", map[string]string{
		"connector.class":        "io.debezium.connector.jdbc.JdbcSinkConnector",
		"connection.url":         pg.JDBCURL(dstDB),
		"connection.username":    pg.User,
		"topics":                 topic,
		"table.name.format":      "items_soft",
		"insert.mode":            "upsert",
		"primary.key.mode":       "record_key",
		"schema.evolution":       "basic",
		"transforms":             "unwrap",
		"transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.tombstone.handling.mode": "rewrite",
		"transforms.unwrap.add.fields":                     "op",
	})
	waitState(t, w, "sink", "RUNNING", 1, "RUNNING")
	waitState(t, w, "soft", "RUNNING", 1, "RUNNING")

	streamStart := time.Now()
	stmts := []struct {
		sql string
		ops map[int]string // "" deletes the row from ops
	}{
		{"INSERT INTO items SELECT i, 'new '||i, i, NULL, 'streamed' FROM generate_series(31, 50) i", rangeOps(31, 50, "c")},
		{"UPDATE items SET qty = qty + 1, note = 'updated' WHERE id % 5 = 0", func() map[int]string {
			m := map[int]string{}
			for i := 5; i <= 50; i += 5 {
				m[i] = "u"
			}
			return m
		}()},
		{"DELETE FROM items WHERE id IN (3, 7, 33)", map[int]string{3: "", 7: "", 33: ""}},
		// A key change: Debezium's delete (+ tombstone) of 11 and create of 111.
		{"UPDATE items SET id = 111 WHERE id = 11", map[int]string{11: "", 111: "c"}},
		// Updated then deleted in one transaction.
		{"BEGIN; UPDATE items SET name = 'gone soon' WHERE id = 12; DELETE FROM items WHERE id = 12; COMMIT", map[int]string{12: ""}},
		// Deleted then inserted again.
		{"DELETE FROM items WHERE id = 13", map[int]string{13: ""}},
		{"INSERT INTO items VALUES (13, 'back', 1, 9.99, 'reinserted')", map[int]string{13: "c"}},
		{"UPDATE items SET price = NULL, note = NULL WHERE id = 14", map[int]string{14: "u"}},
		// A new column while streaming: the transform builds the new
		// row schema, the sinks add the column.
		{"ALTER TABLE items ADD COLUMN color text; ALTER TABLE items_gone ADD COLUMN color text", nil},
		{"UPDATE items SET color = 'red' WHERE id % 4 = 0", func() map[int]string {
			m := map[int]string{}
			for i := 4; i <= 50; i += 4 {
				if i != 12 { // deleted above
					m[i] = "u"
				}
			}
			return m
		}()},
		{"INSERT INTO items VALUES (60, 'colored', 6, 6.00, NULL, 'blue')", map[int]string{60: "c"}},
		{"DELETE FROM items WHERE id = 20", map[int]string{20: ""}},
	}
	for _, s := range stmts {
		pg.Exec(t, srcDB, s.sql)
		for k, op := range s.ops {
			if op == "" {
				delete(ops, k)
			} else {
				ops[k] = op
			}
		}
	}
	srcConn := pg.Connect(t, srcDB)
	cols := []string{"id", "name", "qty", "price", "note", "color"}
	project := func(tb map[string]map[string]string, cols ...string) map[string]map[string]string {
		out := make(map[string]map[string]string, len(tb))
		for k, row := range tb {
			p := map[string]string{}
			for _, c := range cols {
				p[c] = row[c]
			}
			out[k] = p
		}
		return out
	}
	var got, soft map[string]map[string]string
	var gone int
	harness.WaitFor(t, 90*time.Second, "the target tables equal to the source", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		want, err := sqlTable(ctx, srcConn, "items", "id")
		if err != nil {
			return err
		}
		dst, err := pgx.Connect(ctx, pg.DBURL(dstDB))
		if err != nil {
			return err
		}
		defer dst.Close(ctx)
		got, err = sqlTable(ctx, dst, "items", "id")
		if err != nil {
			return err
		}
		if err := diffRows("items", want, project(got, cols...)); err != nil {
			return err
		}
		for k, row := range got {
			id, _ := strconv.Atoi(k)
			if row["__op"] != ops[id] {
				return fmt.Errorf("row %s: __op %q, want %q", k, row["__op"], ops[id])
			}
		}
		// The soft-delete target: the live rows with __deleted=false and
		// their last op, and every deleted key's last state with
		// __deleted=true and op d.
		wantSoft := map[string]map[string]string{}
		for k, row := range want {
			id, _ := strconv.Atoi(k)
			r := project(map[string]map[string]string{k: row}, cols...)[k]
			r["__deleted"], r["__op"] = "false", ops[id]
			wantSoft[k] = r
		}
		deleted, err := sqlTable(ctx, srcConn, "items_gone", "id")
		if err != nil {
			return err
		}
		gone = 0
		for k, row := range deleted {
			if _, live := want[k]; live {
				continue
			}
			gone++
			r := project(map[string]map[string]string{k: row}, cols...)[k]
			r["__deleted"], r["__op"] = "true", "d"
			wantSoft[k] = r
		}
		soft, err = sqlTable(ctx, dst, "items_soft", "id")
		if err != nil {
			return err
		}
		return diffRows("items_soft", wantSoft, project(soft, append(cols, "__deleted", "__op")...))
	})
	if gone != 6 {
		t.Errorf("%d deleted keys in the soft-delete target, want 6 (3, 7, 11, 12, 20, 33; 13 came back)", gone)
	}
	if len(got) != len(ops) {
		t.Fatalf("%d target rows, %d expected", len(got), len(ops))
	}
	// The target's columns: the row's, then the added fields.
	var names []string
	for c := range got["1"] {
		names = append(names, c)
	}
	sort.Strings(names)
	if wantNames := []string{"__op", "__source_ts_ms", "color", "id", "name", "note", "price", "qty"}; !reflect.DeepEqual(names, wantNames) {
		t.Errorf("target columns %v, want %v", names, wantNames)
	}
	for k, row := range got {
		ms, err := strconv.ParseInt(row["__source_ts_ms"], 10, 64)
		if err != nil {
			t.Errorf("row %s: __source_ts_ms %q: %v", k, row["__source_ts_ms"], err)
			continue
		}
		ts := time.UnixMilli(ms)
		id, _ := strconv.Atoi(k)
		lo := streamStart.Add(-10 * time.Minute)
		if ops[id] != "r" {
			lo = streamStart.Add(-2 * time.Second)
		}
		if ts.Before(lo) || ts.After(time.Now().Add(time.Minute)) {
			t.Errorf("row %s (op %s): __source_ts_ms %v is not the change's commit time", k, ops[id], ts)
		}
	}
	for _, c := range []string{"src", "sink", "soft"} {
		st := getStatus(t, w, c)
		if st.Connector.State != "RUNNING" || len(st.Tasks) != 1 || st.Tasks[0].State != "RUNNING" {
			t.Errorf("%s status %+v", c, st)
		}
	}
	t.Logf("%d rows equal in source and target after %d statements (ops %v); soft-delete target: %d rows, %d of them deleted", len(got), len(stmts), opCounts(ops), len(soft), gone)
}

// waitSlot waits until the replication slot exists: changes committed
// from then on are streamed.
func waitSlot(t testing.TB, pg *harness.Postgres, slot string) {
	t.Helper()
	meta := pg.Connect(t, "postgres")
	harness.WaitFor(t, time.Minute, "replication slot "+slot, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var n int
		if err := meta.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("not created yet")
		}
		return nil
	})
}

func rangeOps(from, to int, op string) map[int]string {
	m := map[int]string{}
	for i := from; i <= to; i++ {
		m[i] = op
	}
	return m
}

func opCounts(ops map[int]string) map[string]int {
	m := map[string]int{}
	for _, op := range ops {
		m[op]++
	}
	return m
}
