package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
	"github.com/sluice-cdc/sluice/it/harness"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPostgres runs the integration tests against one server.
func TestPostgres(t *testing.T) {
	// Each subtest keeps its slot: more than the harness's default 20.
	pg := harness.StartPostgres(t, harness.PostgresOptions{Settings: map[string]string{
		"max_replication_slots": "40", "max_wal_senders": "40"}})
	t.Run("Basic", func(t *testing.T) { testBasic(t, pg) })
	t.Run("Validate", func(t *testing.T) { testValidate(t, pg) })
	t.Run("Handover", func(t *testing.T) { testHandover(t, pg) })
	t.Run("Types", func(t *testing.T) { testTypes(t, pg) })
	t.Run("Changes", func(t *testing.T) { testChanges(t, pg) })
	t.Run("Toast", func(t *testing.T) { testToast(t, pg) })
	t.Run("TraceContext", func(t *testing.T) { testTraceContext(t, pg) })
	t.Run("Resume", func(t *testing.T) { testResume(t, pg) })
	t.Run("IdleSlotAdvance", func(t *testing.T) { testIdleAdvance(t, pg) })
	t.Run("Heartbeat", func(t *testing.T) { testHeartbeat(t, pg) })
	t.Run("Xmin", func(t *testing.T) { testXmin(t, pg) })
	t.Run("OffsetBehindSlot", func(t *testing.T) { testOffsetBehindSlot(t, pg) })
	t.Run("ResumeSnapshot", func(t *testing.T) { testResumeSnapshot(t, pg) })
	t.Run("ResumeSnapshotReconnect", func(t *testing.T) { testResumeSnapshotReconnect(t, pg) })
	t.Run("ResumeSnapshotChurn", func(t *testing.T) { testResumeSnapshotChurn(t, pg) })
	t.Run("ResumeMidChange", func(t *testing.T) { testResumeMidChange(t, pg) })
	t.Run("ResumeSnapshotMidChunk", func(t *testing.T) { testResumeSnapshotMidChunk(t, pg) })
	t.Run("SnapshotDoneMeansEmitted", func(t *testing.T) { testSnapshotDoneMeansEmitted(t, pg) })
	t.Run("RestartBeforeFirstCommit", func(t *testing.T) { testRestartBeforeFirstCommit(t, pg) })
	t.Run("SchemaChange", func(t *testing.T) { testSchemaChange(t, pg) })
	t.Run("TransactionMetadata", func(t *testing.T) { testTransactionMetadata(t, pg) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, pg) })
	t.Run("PoisonValue", func(t *testing.T) { testPoisonValue(t, pg) })
	t.Run("NaNNotNull", func(t *testing.T) { testNaNNotNull(t, pg) })
	t.Run("KeyChunks", func(t *testing.T) { testKeyChunks(t, pg) })
	t.Run("KeyChunksResume", func(t *testing.T) { testKeyChunksResume(t, pg) })
	t.Run("KeyChangedResume", func(t *testing.T) { testKeyChangedResume(t, pg) })
	t.Run("QueueBytes", func(t *testing.T) { testQueueBytes(t, pg) })
	t.Run("SignalSnapshot", func(t *testing.T) { testSignalSnapshot(t, pg) })
	t.Run("SignalConditions", func(t *testing.T) { testSignalConditions(t, pg) })
	t.Run("KafkaSignal", func(t *testing.T) { testKafkaSignal(t, pg) })
	t.Run("PauseResume", func(t *testing.T) { testPauseResume(t, pg) })
	t.Run("WatermarkInvisibleCommit", func(t *testing.T) { testWatermarkInvisibleCommit(t, pg) })
	t.Run("Messages", func(t *testing.T) { testMessages(t, pg) })
	t.Run("PollAndStop", func(t *testing.T) { testPollAndStop(t, pg) })
	// Last: it restarts the server.
	t.Run("ServerCrash", func(t *testing.T) { testServerCrash(t, pg) })
}

func waitConfirmed(t *testing.T, pg *harness.Postgres, db, slot string, atLeast uint64) {
	t.Helper()
	harness.WaitFor(t, 15*time.Second, "slot "+slot+" to confirm "+lsnString(atLeast), func() error {
		if got := confirmedFlush(t, pg, db, slot); got < atLeast {
			return fmt.Errorf("confirmed_flush_lsn %s", lsnString(got))
		}
		return nil
	})
}

func testBasic(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "basic")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v'||g FROM generate_series(1,10) g")
	task := startTask(t, props(pg, db, "basic", PublicationName, "Basic_Pub"), nil)
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "r") == 10 })
	markers := map[string]int{}
	for _, r := range recs {
		markers[source(r).Get("snapshot").(string)]++
		if r.KeySchema == nil {
			t.Fatalf("record on %s without key: %+v", r.Topic, r)
		}
		if r.Topic != "srv.public.t" || r.KeySchema.Name != "srv.public.t.Key" || r.ValueSchema.Name != "srv.public.t.Envelope" {
			t.Fatalf("record names: topic %s key %s value %s", r.Topic, r.KeySchema.Name, r.ValueSchema.Name)
		}
	}
	if markers[cdc.SnapFirst] != 1 || markers[cdc.SnapLast] != 1 || markers[cdc.SnapTrue] != 8 {
		t.Errorf("snapshot markers %v, want first, 8 true, last", markers)
	}
	if last := recs[len(recs)-1]; last.SourceOffset[offLastSnapshot] != true {
		t.Errorf("last snapshot record offset %v lacks %s", last.SourceOffset, offLastSnapshot)
	}
	pg.Exec(t, db, "INSERT INTO t VALUES (11, 'x')")
	recs = pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 1 })
	last := recs[len(recs)-1]
	if got := after(last).Get("v"); got != "x" {
		t.Errorf("after.v = %v", got)
	}
	if src := source(last); src.Get("snapshot") != cdc.SnapFalse || src.Get("txId") == nil || src.Get("lsn") == nil {
		t.Errorf("source %v", src.Values)
	}
	commit(t, task, last)
	waitConfirmed(t, pg, db, "basic", uint64(last.SourceOffset[offLSNCommit].(int64)))
}

func testValidate(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "validate")
	c := &Connector{}
	ctx := context.Background()
	if errs := c.Validate(ctx, props(pg, db, "val")); len(errs) != 0 {
		t.Fatalf("valid config: %v", errs)
	}
	check := func(name string, p map[string]string, key, want string) {
		t.Helper()
		errs := c.Validate(ctx, p)
		if !strings.Contains(strings.Join(errs[key], "\n"), want) {
			t.Errorf("%s: errors %v, want %q under %s", name, errs, want, key)
		}
	}
	check("unreachable", props(pg, db, "val", Port, "1"), Hostname, "127.0.0.1:1")
	pg.Exec(t, db, "CREATE ROLE norepl LOGIN")
	check("no replication", props(pg, db, "val", User, "norepl"), User, "REPLICATION")
	check("all_tables needs superuser", props(pg, db, "val", User, "norepl"), PublicationAutocreate, "superuser")
	check("missing publication", props(pg, db, "val", PublicationAutocreate, "disabled"), PublicationName, "does not exist")
	check("missing database", props(pg, db+"_nope", "val"), DBName, "set database.dbname to a database that exists")
	// filtered sets the tables of a publication that only its owner may
	// change; an all_tables or disabled one is used as it is.
	pg.Exec(t, db, "CREATE ROLE pubowner", "CREATE PUBLICATION owned_pub", "ALTER PUBLICATION owned_pub OWNER TO pubowner")
	check("publication of another owner", props(pg, db, "val", User, "norepl", PublicationName, "owned_pub", PublicationAutocreate, "filtered"),
		PublicationName, `owned by pubowner, not by "norepl"`)
	if errs := c.Validate(ctx, props(pg, db, "val", User, "norepl", PublicationName, "owned_pub", PublicationAutocreate, "disabled")); len(errs[PublicationName]) != 0 {
		t.Errorf("publication of another owner with autocreate disabled: %v", errs[PublicationName])
	}

	// A slot another process reads.
	pg.Exec(t, db, "SELECT pg_create_logical_replication_slot('busy', 'pgoutput')", "CREATE PUBLICATION busy_pub")
	pc, err := pgconn.Connect(ctx, pg.DBURL(db)+"&replication=database")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	if err := pglogrepl.StartReplication(ctx, pc, "busy", 0, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication, PluginArgs: []string{"proto_version '1'", "publication_names 'busy_pub'"}}); err != nil {
		t.Fatal(err)
	}
	pid := pc.PID()
	errs := c.Validate(ctx, props(pg, db, "busy"))
	if !strings.Contains(strings.Join(errs[SlotName], ""), fmt.Sprintf("active for PID %d", pid)) {
		t.Errorf("busy slot: errors %v, want PID %d", errs, pid)
	}
	if err := NewTask().Start(ctx, &taskContext{}, props(pg, db, "busy")); err == nil || !strings.Contains(err.Error(), fmt.Sprint(pid)) {
		t.Errorf("Start on a busy slot: %v", err)
	}

	infos := def.Validate(Class, props(pg, db, "val", PluginName, "decoderbufs"), nil)
	if !strings.Contains(strings.Join(infos.Messages(), "\n"), "only pgoutput is supported") {
		t.Errorf("plugin.name=decoderbufs: %v", infos.Messages())
	}
	if _, err := ParseConfig(props(pg, db, "Bad-Name")); err == nil {
		t.Errorf("slot.name Bad-Name accepted")
	} else if ce, ok := err.(config.Errors); !ok || ce[0].Key != SlotName {
		t.Errorf("slot.name Bad-Name: %v", err)
	}
}

// TestValidateWalLevel checks the wal_level message on a server that
// cannot decode logically.
func TestValidateWalLevel(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{WalLevel: "replica"})
	errs := (&Connector{}).Validate(context.Background(), props(pg, "postgres", "wal"))
	if !strings.Contains(strings.Join(errs[Hostname], ""), "set wal_level=logical in postgresql.conf and restart") {
		t.Errorf("errors %v", errs)
	}
	task := NewTask()
	err := task.Start(context.Background(), &taskContext{}, props(pg, "postgres", "wal"))
	if err == nil || !strings.Contains(err.Error(), "wal_level") {
		t.Errorf("Start: %v", err)
	}
}

// testHandover writes during the snapshot and checks that the events,
// applied in order, give the table's final contents, with no row both
// read by the snapshot and created by the stream.
func testHandover(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "handover")
	const rows = 30000
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)", "CREATE TABLE marker (id int PRIMARY KEY)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0 FROM generate_series(1,%d) g", rows), "ANALYZE acct")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	writer := pg.Connect(t, db)
	wg.Add(1)
	var writes int
	go func() {
		defer wg.Done()
		ctx := context.Background()
		next := rows + 1
		for {
			select {
			case <-stop:
				return
			default:
			}
			tx, err := writer.Begin(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < 5; i++ {
				_, err = tx.Exec(ctx, "INSERT INTO acct VALUES ($1, 1)", next)
				next++
				if err == nil {
					_, err = tx.Exec(ctx, "UPDATE acct SET v = v + 1 WHERE id = $1", rand.IntN(next-1)+1)
				}
				if err == nil && i == 0 {
					_, err = tx.Exec(ctx, "DELETE FROM acct WHERE id = $1", rand.IntN(next-1)+1)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Error(err)
				return
			}
			writes++
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	time.Sleep(100 * time.Millisecond) // writes before the slot exists
	task := startTask(t, props(pg, db, "handover", SnapshotMaxThreads, "3", SnapshotChunkSize, "4000", MaxQueueSize, "512", MaxBatchSize, "100"), nil)
	recs := pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool {
		return len(rs) > 0 && rs[len(rs)-1].SourceOffset[offLastSnapshot] == true
	})
	time.Sleep(300 * time.Millisecond) // writes after the snapshot
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	pg.Exec(t, db, "INSERT INTO marker VALUES (1)")
	recs = append(recs, pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "marker", "c") == 1 })...)

	state := map[int32]int32{}
	seen := map[int32]int{}
	for _, r := range data(recs) {
		if source(r).Get("table") != "acct" {
			continue
		}
		switch op(r) {
		case cdc.OpRead, cdc.OpCreate, cdc.OpUpdate:
			a := after(r)
			id := a.Get("id").(int32)
			state[id] = a.Get("v").(int32)
			if op(r) != cdc.OpUpdate {
				seen[id]++
			}
		case cdc.OpDelete:
			delete(state, before(r).Get("id").(int32))
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("id %d was read or created %d times", id, n)
		}
	}
	want := idValues(t, pg, db, "acct")
	if len(want) != len(state) {
		t.Errorf("events give %d rows, table has %d", len(state), len(want))
	}
	diffs := 0
	for id, v := range want {
		if got, ok := state[id]; !ok || got != v {
			diffs++
			if diffs < 5 {
				t.Errorf("id %d: events give %d (present %v), table has %d", id, got, ok, v)
			}
		}
	}
	t.Logf("snapshot of %d rows, %d writer transactions during the handover, %d events, %d differences", rows, writes, len(recs), diffs)
}

const typesDDL = `CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE types (
 id int PRIMARY KEY,
 c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
 c_float4 float4, c_float8 float8, c_float8_nan float8, c_float8_inf float8,
 c_num numeric(10,3), c_num_var numeric, c_num_nan numeric, c_money money,
 c_char char(5), c_varchar varchar(20), c_text text, c_name name,
 c_bytea bytea, c_json json, c_jsonb jsonb, c_xml xml, c_uuid uuid,
 c_date date, c_date_inf date, c_date_bc date, c_time time, c_time3 time(3), c_timetz timetz,
 c_ts timestamp, c_ts3 timestamp(3), c_ts_inf timestamp, c_tstz timestamptz, c_tstz_ninf timestamptz,
 c_date_ninf date, c_time_24 time, c_ts0 timestamp(0), c_ts_ninf timestamp, c_ts_bc timestamp, c_ts_far timestamp,
 c_date_arr date[], c_time_arr time[], c_ts_arr timestamp[], c_tstz_arr timestamptz[], c_timetz_arr timetz[],
 c_interval interval, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_macaddr8 macaddr8,
 c_bit1 bit(1), c_bit bit(10), c_varbit varbit(20),
 c_int_arr int[], c_text_arr text[], c_enum mood, c_domain posint, c_hstore hstore,
 c_point point, c_box box, c_circle circle, c_tsvector tsvector, c_int4range int4range,
 c_null text
)`

const typesRow = `(%d, true, -32768, 2147483647, -9223372036854775808, 4294967295, 1.5, 3.141592653589793, 'NaN', '-Infinity',
 1234567.891, 3.14159265358979323846264338327950288, 'NaN', -1234.56,
 'ab', 'varchar', 'text ü', 'name',
 '\x00ff10', '{"a": [1, 2]}', '{"b": {"c": null}}', '<a>x</a>', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
 '2024-02-29', 'infinity', '0044-03-15 BC', '13:14:15.123456', '13:14:15.123', '13:14:15.5+02:30',
 '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123', 'infinity', '2024-02-29 13:14:15.123456+01', '-infinity',
 '-infinity', '24:00:00', '2024-02-29 13:14:15', '-infinity', '0044-03-15 13:14:15.5 BC', '3000-01-01 00:00:00',
 '{2024-02-29,infinity,NULL}', '{13:14:15.123456,24:00:00}', '{"2024-02-29 13:14:15.25",-infinity}',
 '{"2024-02-29 13:14:15.25+01",infinity}', '{13:14:15.5+02:30}',
 '1 year 2 mons 3 days 04:05:06.789', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
 B'1', B'1010101011', B'10101',
 '{1,NULL,3}', '{"a b","c\"d",NULL}', 'happy', 5, 'a=>1, b=>NULL',
 '(1.5,-2)', '((0,0),(1,1))', '<(1,1),2>', 'a fat cat', '[1,10)', NULL)`

// checkLazySnapshot snapshots db again with lazy values offered, and checks
// that the record of the table of snap has lazy key and value whose JSON
// has the key and after of snap, the snapshot built the usual way.
func checkLazySnapshot(t *testing.T, pg *harness.Postgres, db, slot string, extra []string, snap *connectors.Record) {
	t.Helper()
	task := startTaskCtx(t, props(pg, db, slot, append(extra, SlotDropOnStop, "true", SnapshotMode, "initial_only")...), &taskContext{lazy: true})
	defer stopTask(t, task)
	var lr *connectors.Record
	pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Topic == snap.Topic {
				lr = r
				return true
			}
		}
		return false
	})
	if _, ok := lr.Value.(connectors.LazyStruct); !ok {
		t.Fatalf("lazy snapshot value is a %T", lr.Value)
	}
	if _, ok := lr.Key.(connectors.LazyStruct); !ok {
		t.Fatalf("lazy snapshot key is a %T", lr.Key)
	}
	if got, want := payloadJSON(t, lr.KeySchema, lr.Key), payloadJSON(t, snap.KeySchema, snap.Key); got != want {
		t.Errorf("lazy snapshot key:\nlazy  %s\nbuilt %s", got, want)
	}
	var m struct {
		Payload struct {
			After json.RawMessage `json:"after"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(encodeJSON(t, "t", lr.ValueSchema, lr.Value), &m); err != nil {
		t.Fatal(err)
	}
	if got, want := string(m.Payload.After), payloadJSON(t, after(snap).Schema, after(snap)); got != want {
		t.Errorf("lazy snapshot after:\nlazy  %s\nbuilt %s", got, want)
	}
}

// testTypes reads one row through the snapshot and the same values
// through the stream: both must give identical JSON, and the stream's
// envelope must match the golden file.
func testTypes(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "types")
	pg.Exec(t, db, typesDDL, fmt.Sprintf("INSERT INTO types VALUES "+typesRow, 1))
	for _, mode := range []struct {
		name  string
		id    int // of the row the mode inserts to stream; removed after
		extra []string
	}{
		{"default", 2, nil},
		{"string_modes", 112, []string{DecimalHandlingMode, "string", BinaryHandlingMode, "hex", IntervalHandlingMode, "string",
			TimePrecisionMode, "connect", HStoreHandlingMode, "map"}},
		{"double", 106, []string{DecimalHandlingMode, "double", BinaryHandlingMode, "base64", TimePrecisionMode, "adaptive_time_microseconds"}},
		{"isostring", 109, []string{TimePrecisionMode, "isostring"}},
		{"microseconds", 113, []string{TimePrecisionMode, "microseconds"}},
		{"nanoseconds", 111, []string{TimePrecisionMode, "nanoseconds"}},
		{"structured", 110, []string{TimePrecisionMode, "structured"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			slot := "types_" + mode.name
			task := startTask(t, props(pg, db, slot, append(mode.extra, SlotDropOnStop, "true")...), nil)
			recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "types", "r") >= 1 })
			snap := data(recs)[0]
			checkLazySnapshot(t, pg, db, "types_lazy_"+mode.name, mode.extra, snap)
			id := mode.id
			pg.Exec(t, db, fmt.Sprintf("INSERT INTO types VALUES "+typesRow, id))
			recs = pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "types", "c") == 1 })
			stream := data(recs)[0]
			sa, ta := after(snap), after(stream)
			sa.Set("id", int32(0))
			ta.Set("id", int32(0))
			sj, tj := payloadJSON(t, sa.Schema, sa), payloadJSON(t, ta.Schema, ta)
			if sj != tj {
				t.Errorf("snapshot and stream differ:\nsnapshot %s\nstream   %s", sj, tj)
			}
			golden(t, "types_"+mode.name+".json", normalized(t, stream))
			if mode.name == "default" {
				golden(t, "types_default_snapshot.json", normalized(t, snap))
			}
			stopTask(t, task)
			pg.Exec(t, db, fmt.Sprintf("DELETE FROM types WHERE id = %d", id))
		})
	}
}

// normalized renders a record's key and value as the JsonConverter does,
// with the values that change from run to run replaced.
func normalized(t *testing.T, r *connectors.Record) []byte {
	t.Helper()
	// fix copies a struct with the values that vary between runs replaced.
	var fix func(v *connectors.StructValue) *connectors.StructValue
	fix = func(v *connectors.StructValue) *connectors.StructValue {
		cp := *v
		cp.Values = append([]any(nil), v.Values...)
		for i, f := range v.Schema.Fields {
			if cp.Values[i] == nil {
				continue
			}
			switch f.Name {
			case "ts_ms", "ts_us", "ts_ns", "txId", "lsn":
				cp.Values[i] = int64(1)
			case "db":
				cp.Values[i] = "db"
			case "sequence":
				cp.Values[i] = `["1","1"]`
			case "source":
				cp.Values[i] = fix(cp.Values[i].(*connectors.StructValue))
			}
		}
		return &cp
	}
	var out bytes.Buffer
	for _, part := range []struct {
		s *connectors.Schema
		v any
	}{{r.KeySchema, r.Key}, {r.ValueSchema, fix(r.Value.(*connectors.StructValue))}} {
		raw := encodeJSON(t, r.Topic, part.s, part.v)
		if err := json.Indent(&out, raw, "", " "); err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

// testChanges covers update, delete with its tombstone, a primary key
// change and truncate.
func testChanges(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "changes")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "CREATE TABLE nokey (v text)", "CREATE TABLE full_t (id int PRIMARY KEY, v text)",
		"ALTER TABLE full_t REPLICA IDENTITY FULL")
	task := startTask(t, props(pg, db, "changes", SkippedOperations, "none"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO t VALUES (1, 'a')", "UPDATE t SET v = 'b' WHERE id = 1", "UPDATE t SET id = 2 WHERE id = 1",
		"DELETE FROM t WHERE id = 2", "INSERT INTO nokey VALUES ('x')", "INSERT INTO full_t VALUES (1, 'a')",
		"UPDATE full_t SET v = 'b'", "DELETE FROM full_t", "TRUNCATE t")
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "t") == 1 })
	var got []string
	for _, r := range recs {
		if beat(r) {
			continue
		}
		desc := r.Topic[len("srv.public."):] + " "
		if r.Value == nil {
			desc += "tombstone"
		} else {
			desc += op(r)
			if b := before(r); b != nil {
				desc += fmt.Sprintf(" before=%v", b.Values)
			}
			if a := after(r); a != nil {
				desc += fmt.Sprintf(" after=%v", a.Values)
			}
		}
		if r.Key != nil {
			desc += fmt.Sprintf(" key=%v", r.Key.(*connectors.StructValue).Values)
		} else {
			desc += " key=null"
		}
		got = append(got, desc)
	}
	want := []string{
		"t c after=[1 a] key=[1]",
		"t u after=[1 b] key=[1]",
		"t d before=[1 <nil>] key=[1]",
		"t tombstone key=[1]",
		"t c after=[2 b] key=[2]",
		"t d before=[2 <nil>] key=[2]",
		"t tombstone key=[2]",
		"nokey c after=[x] key=null",
		"full_t c after=[1 a] key=[1]",
		"full_t u before=[1 a] after=[1 b] key=[1]",
		"full_t d before=[1 b] key=[1]",
		"full_t tombstone key=[1]",
		"t t key=null",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// testToast checks the placeholder for unchanged TOASTed values.
func testToast(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "toast")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, big text, bin bytea, n int)",
		"ALTER TABLE t ALTER big SET STORAGE EXTERNAL", "ALTER TABLE t ALTER bin SET STORAGE EXTERNAL")
	task := startTask(t, props(pg, db, "toast"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO t VALUES (1, repeat('x', 10000), decode(repeat('ab', 10000), 'hex'), 1)", "UPDATE t SET n = 2")
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "u") == 1 })
	var upd *connectors.Record
	for _, r := range data(recs) {
		if op(r) == cdc.OpUpdate {
			upd = r
		}
	}
	a := after(upd)
	if a.Get("big") != "__debezium_unavailable_value" || string(a.Get("bin").([]byte)) != "__debezium_unavailable_value" || a.Get("n") != int32(2) {
		t.Errorf("after %v", a.Values)
	}
	// Both fields are named unavailable by header, whatever their type.
	var named []string
	for _, h := range upd.Headers {
		if h.Key == connectors.UnavailableHeader {
			named = append(named, string(h.Value))
		}
	}
	if strings.Join(named, ",") != "big,bin" {
		t.Errorf("unavailable headers name %v, want big and bin", named)
	}
}

// testTraceContext checks the traceparent header: one per streamed
// transaction, on every event of it whatever its table, derived from
// topic.prefix and the transaction's id; none on snapshot reads, none when
// sluice.trace.context.enable is false.
func testTraceContext(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "tracectx")
	pg.Exec(t, db, "CREATE TABLE a (id int PRIMARY KEY, v int)", "CREATE TABLE b (id int PRIMARY KEY)", "INSERT INTO a VALUES (0, 0)")
	traces := func(r *connectors.Record) []string {
		var out []string
		for _, h := range r.Headers {
			if h.Key == tracectx.Header {
				out = append(out, string(h.Value))
			}
		}
		return out
	}
	for _, on := range []bool{true, false} {
		slot := "tracectx_" + strconv.FormatBool(on)
		task := startTask(t, props(pg, db, slot, ProvideTxMetadata, "true", TraceContextEnable, strconv.FormatBool(on), SnapshotMode, "initial"), nil)
		pollUntil(t, task, 20*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
		n := 1
		if !on {
			n = 11
		}
		pg.Exec(t, db, fmt.Sprintf("BEGIN; INSERT INTO a VALUES (%d, 1), (%d, 2); INSERT INTO b VALUES (%d); COMMIT", n, n+1, n),
			fmt.Sprintf("UPDATE a SET v = v + 10 WHERE id = %d", n), fmt.Sprintf("DELETE FROM b WHERE id = %d", n))
		recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
			for _, r := range rs {
				if r.Topic == "srv.public.b" && r.Value != nil && op(r) == cdc.OpDelete {
					return true
				}
			}
			return false
		})
		byTx := map[string]string{}
		streamed := 0
		for _, r := range recs {
			if !strings.HasPrefix(r.Topic, "srv.public.") {
				continue // heartbeats, transaction metadata
			}
			tp := traces(r)
			if r.Value == nil { // a tombstone: same transaction as its delete
				if on && len(tp) != 1 {
					t.Errorf("tombstone on %s has traceparents %v, want one", r.Topic, tp)
				}
				continue
			}
			if op(r) == cdc.OpRead {
				if len(tp) != 0 {
					t.Errorf("snapshot read of %s has traceparents %v, want none", r.Topic, tp)
				}
				continue
			}
			streamed++
			if !on {
				if len(tp) != 0 {
					t.Errorf("with %s=false, %s %s has traceparents %v", TraceContextEnable, op(r), r.Topic, tp)
				}
				continue
			}
			if len(tp) != 1 {
				t.Fatalf("%s on %s has traceparents %v, want one", op(r), r.Topic, tp)
			}
			txID := env(r).Get("transaction").(*connectors.StructValue).Get("id").(string)
			if want := string(tracectx.Parent("srv", txID)); tp[0] != want {
				t.Errorf("%s on %s in transaction %s: traceparent %s, want %s", op(r), r.Topic, txID, tp[0], want)
			}
			if seen, ok := byTx[txID]; ok && seen != tp[0] {
				t.Errorf("transaction %s has traceparents %s and %s", txID, seen, tp[0])
			}
			byTx[txID] = tp[0]
		}
		if streamed != 5 {
			t.Errorf("trace context %v: %d streamed events, want 5", on, streamed)
		}
		if on {
			distinct := map[string]bool{}
			for _, tp := range byTx {
				distinct[tp] = true
			}
			if len(byTx) != 3 || len(distinct) != 3 {
				t.Errorf("three transactions gave traceparents %v, want three distinct", byTx)
			}
		}
		stopTask(t, task)
	}
}

// testResume commits an offset in the middle of a transaction, restarts
// from it, and expects exactly the rest.
func testResume(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "resume")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	p := props(pg, db, "resume")
	task := startTask(t, p, nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO t SELECT g FROM generate_series(1, 10) g", "INSERT INTO t VALUES (11)", "INSERT INTO t VALUES (12)")
	recs := data(pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 12 }))
	mid := recs[4] // id 5, inside the first transaction
	commit(t, task, mid)
	waitConfirmed(t, pg, db, "resume", uint64(mid.SourceOffset[offLSNCommit].(int64)))
	stopTask(t, task)
	pg.Exec(t, db, "INSERT INTO t VALUES (13)")

	task2 := startTask(t, p, mid.SourceOffset)
	recs2 := data(pollUntil(t, task2, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") >= 8 }))
	var ids []int32
	for _, r := range recs2 {
		ids = append(ids, after(r).Get("id").(int32))
	}
	if fmt.Sprint(ids) != "[6 7 8 9 10 11 12 13]" {
		t.Errorf("after resuming from id 5: %v", ids)
	}
	// Committing the last record advances the slot past everything.
	last := recs2[len(recs2)-1]
	commit(t, task2, last)
	waitConfirmed(t, pg, db, "resume", uint64(last.SourceOffset[offLSNCommit].(int64)))
}

// testIdleAdvance writes only to a database the connector does not
// capture: heartbeats let the slot confirm the WAL anyway.
func testIdleAdvance(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "idle")
	other := pg.CreateDB(t, "other")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	pg.Exec(t, other, "CREATE TABLE noise (id int, pad text)")
	task := startTask(t, props(pg, db, "idle", StatusUpdateIntervalMs, "200"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, other, "INSERT INTO noise SELECT g, repeat('x', 200) FROM generate_series(1, 100000) g")
	target := currentLSN(t, pg, other)
	deadline := time.Now().Add(30 * time.Second)
	for confirmedFlush(t, pg, db, "idle") < target {
		if time.Now().After(deadline) {
			t.Fatalf("slot stuck at %s, WAL at %s", lsnString(confirmedFlush(t, pg, db, "idle")), lsnString(target))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		recs, err := task.Poll(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if !beat(r) {
				t.Fatalf("unexpected record on %s", r.Topic)
			}
			commit(t, task, r)
		}
	}
}

// testXmin: with xmin.fetch.interval.ms, streamed events carry the slot's
// catalog_xmin in source.xmin; without it, null.
func testXmin(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "xmin")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	for _, interval := range []string{"0", "50"} {
		slot := "xmin_" + interval
		task := startTask(t, props(pg, db, slot, XminFetchIntervalMs, interval, SlotDropOnStop, "true"), nil)
		pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
		time.Sleep(200 * time.Millisecond) // past one fetch interval
		pg.Exec(t, db, "INSERT INTO t SELECT coalesce(max(id), 0) + 1 FROM t")
		recs := data(pollUntil(t, task, 10*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", cdc.OpCreate) == 1 }))
		x := source(recs[len(recs)-1]).Get("xmin")
		if interval == "0" && x != nil {
			t.Errorf("xmin.fetch.interval.ms=0: source.xmin = %v, want null", x)
		}
		if interval != "0" {
			if v, ok := x.(int64); !ok || v <= 0 {
				t.Errorf("xmin.fetch.interval.ms=%s: source.xmin = %#v, want the slot's catalog_xmin", interval, x)
			}
		}
		stopTask(t, task)
	}
}

// testHeartbeat: with heartbeat.interval.ms, heartbeat records come
// though nothing changes, each after running heartbeat.action.query; a
// query the server rejects fails the task, naming the property.
func testHeartbeat(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "beat")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE TABLE beats (at timestamptz)")
	task := startTask(t, props(pg, db, "beat", HeartbeatIntervalMs, "200", TableIncludeList, "public.t",
		HeartbeatActionQuery, "INSERT INTO beats VALUES (now())"), nil)
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		n := 0
		for _, r := range rs {
			if r.Topic == "__debezium-heartbeat.srv" {
				n++
			}
		}
		return n >= 3
	})
	for _, r := range recs {
		if r.Topic == "__debezium-heartbeat.srv" {
			if k := r.Key.(*connectors.StructValue); k.Get("serverName") != "srv" {
				t.Errorf("heartbeat key %v", k.Values)
			}
			if r.SourceOffset == nil {
				t.Errorf("heartbeat without an offset")
			}
		}
	}
	c := pg.Connect(t, db)
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM beats").Scan(&n); err != nil || n < 3 {
		t.Fatalf("heartbeat.action.query ran %d times (%v), want at least 3", n, err)
	}
	if _, err := ParseConfig(props(pg, db, "beat", HeartbeatActionQuery, "SELECT 1")); err == nil || !strings.Contains(err.Error(), HeartbeatIntervalMs) {
		t.Errorf("an action query without heartbeats: %v", err)
	}

	bad := NewTask()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bad.Start(ctx, &taskContext{}, props(pg, db, "beat_bad", HeartbeatIntervalMs, "100",
		HeartbeatActionQuery, "INSERT INTO no_such_table VALUES (1)")); err != nil {
		t.Fatal(err)
	}
	defer stopTask(t, bad)
	for {
		recs, err := bad.Poll(ctx)
		if err != nil {
			if !strings.Contains(err.Error(), HeartbeatActionQuery) || !strings.Contains(err.Error(), "no_such_table") {
				t.Fatalf("error %v does not name the property and the table", err)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the task never failed on a rejected heartbeat.action.query")
		}
		_ = recs
	}
}

// testOffsetBehindSlot stores an offset older than the slot's confirmed
// position: the task must refuse to start, unless when_needed.
func testOffsetBehindSlot(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "behind")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
	p := props(pg, db, "behind")
	task := startTask(t, p, nil)
	recs := pollUntil(t, task, 10*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "r") == 1 })
	stopTask(t, task)
	old := map[string]any{offLSNProc: int64(1000), offLSNCommit: int64(1000), offLSN: int64(1000), offTxID: int64(1), offEvent: int64(0)}
	err := NewTask().Start(context.Background(), &taskContext{stored: old}, p)
	if err == nil || !strings.Contains(err.Error(), "behind replication slot") {
		t.Fatalf("Start with an offset behind the slot: %v", err)
	}
	_ = recs
	p[SnapshotMode] = SnapshotWhenNeeded
	task2 := startTask(t, p, old)
	pollUntil(t, task2, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "r") == 1 })
}

// testSchemaChange adds a column mid-stream: the next events carry the
// new schema.
func testSchemaChange(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "ddl")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	task := startTask(t, props(pg, db, "ddl"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO t VALUES (1)", "ALTER TABLE t ADD COLUMN note text NOT NULL DEFAULT 'n'", "INSERT INTO t VALUES (2, 'hello')")
	recs := data(pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 2 }))
	if n := len(after(recs[0]).Schema.Fields); n != 1 {
		t.Errorf("first event has %d fields", n)
	}
	a := after(recs[1])
	f, ok := a.Schema.Field("note")
	if !ok || f.Schema.Optional || a.Get("note") != "hello" {
		t.Errorf("second event after %v schema %+v", a.Values, a.Schema.Fields)
	}
}

func testTransactionMetadata(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "txmeta")
	pg.Exec(t, db, "CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
	task := startTask(t, props(pg, db, "txmeta", ProvideTxMetadata, "true"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "BEGIN; INSERT INTO a VALUES (1); INSERT INTO b VALUES (1); INSERT INTO a VALUES (2); COMMIT")
	all := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		n := 0
		for _, r := range rs {
			if r.Topic == "srv.transaction" {
				n++
			}
		}
		return n == 2
	})
	var topics []string
	var recs []*connectors.Record
	for _, r := range all {
		if beat(r) {
			continue
		}
		topics = append(topics, r.Topic)
		if r.Topic != "srv.transaction" {
			recs = append(recs, r)
		}
	}
	if strings.Join(topics, ",") != "srv.transaction,srv.public.a,srv.public.b,srv.public.a,srv.transaction" {
		t.Fatalf("topics %v", topics)
	}
	begin, end := all[0].Value.(*connectors.StructValue), all[len(all)-1].Value.(*connectors.StructValue)
	if begin.Get("status") != "BEGIN" || end.Get("status") != "END" || end.Get("event_count") != int64(3) {
		t.Errorf("BEGIN %v END %v", begin.Values, end.Values)
	}
	var dcs []string
	for _, dc := range end.Get("data_collections").([]any) {
		d := dc.(*connectors.StructValue)
		dcs = append(dcs, fmt.Sprintf("%s=%d", d.Get("data_collection"), d.Get("event_count")))
	}
	if strings.Join(dcs, ",") != "public.a=2,public.b=1" {
		t.Errorf("data_collections %v", dcs)
	}
	golden(t, "transaction_end.json", normalizedTx(t, all[len(all)-1]))
	var got []string
	for _, r := range recs {
		tx := env(r).Get("transaction").(*connectors.StructValue)
		id := tx.Get("id").(string)
		want := fmt.Sprintf("%d:%d", source(r).Get("txId"), recs[0].SourceOffset[offLSNCommit])
		if id != want {
			t.Errorf("transaction id %s, want %s", id, want)
		}
		got = append(got, fmt.Sprintf("%s %d %d", source(r).Get("table"), tx.Get("total_order"), tx.Get("data_collection_order")))
	}
	if strings.Join(got, ",") != "a 1 1,b 2 1,a 3 2" {
		t.Errorf("orders %v", got)
	}
}

// testPollAndStop checks that Poll returns when its context ends and
// that Stop can be called twice.
func testPollAndStop(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "pollstop")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	task := startTask(t, props(pg, db, "pollstop", PollIntervalMs, "60000"), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := task.Poll(ctx)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Poll with an ending context: %v after %v", err, time.Since(start))
	}
	stopTask(t, task)
	stopTask(t, task)
	if n := countActive(t, pg, db, "pollstop"); n != 0 {
		t.Errorf("slot still active after Stop")
	}
}

func countActive(t *testing.T, pg *harness.Postgres, db, slot string) int {
	t.Helper()
	var n int
	if err := pg.Connect(t, db).QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active", slot).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// testServerCrash kills PostgreSQL mid-stream: the task reconnects by
// itself and carries on after the last record it queued, so every change
// arrives exactly once; a new task started from the committed offset also
// gets everything after it.
func testServerCrash(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "crash")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	p := props(pg, db, "crash")
	task := startTask(t, p, nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO t SELECT g FROM generate_series(1, 100) g")
	recs := data(pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 100 }))
	committed := recs[49]
	commit(t, task, committed)
	waitConfirmed(t, pg, db, "crash", uint64(committed.SourceOffset[offLSNCommit].(int64)))
	// A later transaction queued but never committed.
	pg.Exec(t, db, "INSERT INTO t VALUES (500)")
	pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 1 })
	pg.Exec(t, db, "CHECKPOINT")
	pg.Restart(t, true)
	pg.Exec(t, db, "INSERT INTO t SELECT g FROM generate_series(101, 150) g")
	more := data(pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") >= 50 }))
	checkIDs(t, "same task after the crash", more, 101, 150)
	// Nothing after the committed record was committed: the slot must not
	// have moved past it, reconnect or not.
	if got, want := confirmedFlush(t, pg, db, "crash"), uint64(committed.SourceOffset[offLSNCommit].(int64)); got > want {
		t.Errorf("slot confirmed %s, beyond the committed offset %s", lsnString(got), lsnString(want))
	}

	stopTask(t, task)
	task2 := startTask(t, p, committed.SourceOffset)
	recs2 := data(pollUntil(t, task2, 30*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") >= 101 }))
	var tail []*connectors.Record
	for _, r := range recs2 {
		if after(r).Get("id") == int32(500) {
			continue
		}
		tail = append(tail, r)
	}
	if len(recs2)-len(tail) != 1 {
		t.Errorf("id 500 seen %d times from the committed offset", len(recs2)-len(tail))
	}
	checkIDs(t, "new task from the committed offset", tail, 51, 150)
}

// idValues reads the id and v columns of table into a map.
func idValues(t *testing.T, pg *harness.Postgres, db, table string) map[int32]int32 {
	t.Helper()
	rs, err := pg.Connect(t, db).Query(context.Background(), "SELECT id, v FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int32]int32{}
	for rs.Next() {
		var id, v int32
		if err := rs.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIDs checks that recs create exactly the ids lo..hi, once each.
func checkIDs(t *testing.T, what string, recs []*connectors.Record, lo, hi int32) {
	t.Helper()
	seen := map[int32]int{}
	for _, r := range recs {
		seen[after(r).Get("id").(int32)]++
	}
	for id := lo; id <= hi; id++ {
		if seen[id] != 1 {
			t.Errorf("%s: id %d seen %d times", what, id, seen[id])
		}
	}
	if len(seen) != int(hi-lo+1) {
		t.Errorf("%s: %d distinct ids, want %d", what, len(seen), hi-lo+1)
	}
}

// testResumeSnapshot interrupts a chunked snapshot, changes rows in
// finished and unfinished chunks, and resumes: finished chunks are not
// read again, the rest are read with watermarks, and the events up to the
// committed offset plus the resumed task's give the table's contents.
func testResumeSnapshot(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "resnap")
	const rows = 20000
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)", "CREATE TABLE marker (id int PRIMARY KEY)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0 FROM generate_series(1,%d) g", rows), "ANALYZE acct")
	p := props(pg, db, "resnap", SnapshotChunkSize, "2000", MaxQueueSize, "50", MaxBatchSize, "50",
		TableIncludeList, "public.acct,public.marker")
	task := startTask(t, p, nil)
	first := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		chunks, _ := rs[len(rs)-1].SourceOffset[offSnapshotChunks].(string)
		return strings.Count(chunks, ",") >= 2 // at least 3 chunks finished
	})
	kept := first // records up to the offset the worker would have committed
	stored := kept[len(kept)-1].SourceOffset
	stopTask(t, task)
	finished := stored[offSnapshotChunks].(string)
	t.Logf("interrupted after %d records; finished chunks %s", len(kept), finished)

	// Changes while the task is down: in finished and unfinished chunks.
	pg.Exec(t, db, "UPDATE acct SET v = 1 WHERE id IN (5, 2500, 15000)", "DELETE FROM acct WHERE id IN (6, 15001)",
		"INSERT INTO acct VALUES (30000, 7)")
	task2 := startTask(t, p, stored)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	c := pg.Connect(t, db)
	wg.Add(1)
	go func() { // changes while the chunks are read
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if _, err := c.Exec(context.Background(), "UPDATE acct SET v = v + 1 WHERE id = $1", rand.IntN(rows)+1); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter()
	second := pollUntil(t, task2, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Value != nil && op(r) == cdc.OpUpdate && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // streaming after the last chunk
			}
		}
		return false
	})
	stopWriter()
	pg.Exec(t, db, "INSERT INTO marker VALUES (1)")
	second = append(second, pollUntil(t, task2, 30*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "marker", "c") == 1 })...)

	// Key ranges of the finished chunks, from the plan in the offset.
	plans, err := parsePlans(stored[offSnapshotPlan].(string))
	if err != nil {
		t.Fatal(err)
	}
	inFinished := func(id int32) bool {
		for _, pl := range plans {
			for _, c := range pl.chunks(&table{relID: pl.relID, keyCols: []int{0}, cols: []colDesc{{Name: "id"}}}) {
				if !strings.Contains(","+finished+",", ","+chunkID(c)+",") {
					continue
				}
				if (c.lo == nil || int64(id) >= *c.lo) && (c.hi == nil || int64(id) < *c.hi) {
					return true
				}
			}
		}
		return false
	}
	reread := 0
	state := map[int32]int32{}
	reads := map[int32]int{}
	for i, r := range data(append(append([]*connectors.Record{}, kept...), second...)) {
		if source(r).Get("table") != "acct" {
			continue
		}
		switch op(r) {
		case cdc.OpRead, cdc.OpCreate, cdc.OpUpdate:
			a := after(r)
			id := a.Get("id").(int32)
			state[id] = a.Get("v").(int32)
			if op(r) == cdc.OpRead && i >= len(data(kept)) {
				reads[id]++
				if inFinished(id) {
					reread++
				}
			}
		case cdc.OpDelete:
			delete(state, before(r).Get("id").(int32))
		}
	}
	if reread > 0 {
		t.Errorf("%d rows of finished chunks were read again", reread)
	}
	for id, n := range reads {
		if n > 1 {
			t.Errorf("id %d read %d times after resuming", id, n)
		}
	}
	if len(reads) == 0 {
		t.Errorf("no chunk was read after resuming")
	}
	want := idValues(t, pg, db, "acct")
	diffs := 0
	for id, v := range want {
		if got, ok := state[id]; !ok || got != v {
			diffs++
			if diffs < 5 {
				t.Errorf("id %d: events give %d (present %v), table has %d", id, got, ok, v)
			}
		}
	}
	if len(state) != len(want) {
		t.Errorf("events give %d rows, table has %d", len(state), len(want))
	}
	t.Logf("resumed: %d records, %d differences", len(second), diffs)
}

// testRestartBeforeFirstCommit stops a task after its snapshot and some
// streamed changes but before any offset was committed (a worker killed
// early), changes rows while it is down — deletes included — and starts
// again with no stored offset: the records of both runs, in order, give
// the table. Taking a new snapshot behind a new slot would drop the old
// slot with the deletes it held, and the deleted rows would stay in the
// topic for ever.
func testRestartBeforeFirstCommit(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "firstcommit")
	pg.Exec(t, db, "CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL)",
		"INSERT INTO kv SELECT g, 0 FROM generate_series(1, 300) g")
	p := props(pg, db, "firstcommit", SnapshotChunkSize, "100", TableIncludeList, "public.kv")
	task := startTask(t, p, nil)
	first := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "kv", "r") == 300 })
	pg.Exec(t, db, "DELETE FROM kv WHERE id <= 10", "UPDATE kv SET v = 1 WHERE id BETWEEN 11 AND 20")
	first = append(first, pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		return countOps(rs, "kv", "d") == 10 && countOps(rs, "kv", "u") == 10
	})...)
	stopTask(t, task) // nothing committed

	// While it is down.
	pg.Exec(t, db, "DELETE FROM kv WHERE id BETWEEN 21 AND 40", "UPDATE kv SET v = 2 WHERE id BETWEEN 41 AND 50",
		"INSERT INTO kv VALUES (1000, 3)")
	pg.Exec(t, db, "INSERT INTO kv VALUES (2000, 4)")
	want := idValues(t, pg, db, "kv")
	if len(want) != 300-30+2 {
		t.Fatalf("table has %d rows, want %d: the test's own changes did not land", len(want), 300-30+2)
	}
	// The records of both runs, in order, must come to the table; the
	// second run may take any way there.
	diff := func(recs []*connectors.Record) []string {
		state := map[int32]int32{}
		for _, r := range data(recs) {
			switch op(r) {
			case cdc.OpRead, cdc.OpCreate, cdc.OpUpdate:
				a := after(r)
				state[a.Get("id").(int32)] = a.Get("v").(int32)
			case cdc.OpDelete:
				delete(state, before(r).Get("id").(int32))
			}
		}
		var out []string
		for id, v := range want {
			if got, ok := state[id]; !ok || got != v {
				out = append(out, fmt.Sprintf("id %d: the records give %d (present %v), the table has %d", id, got, ok, v))
			}
		}
		for id := range state {
			if _, ok := want[id]; !ok {
				out = append(out, fmt.Sprintf("id %d: in the records, deleted from the table", id))
			}
		}
		sort.Strings(out)
		return out
	}
	task2 := startTask(t, p, nil)
	all := first
	deadline := time.Now().Add(30 * time.Second)
	for len(diff(all)) > 0 && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := task2.Poll(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		all = append(all, recs...)
	}
	if d := diff(all); len(d) > 0 {
		t.Errorf("%d rows differ after the restart, e.g. %v", len(d), d[:min(len(d), 8)])
	}
}

// testResumeSnapshotReconnect loses every connection of a task that reads
// a resumed snapshot's chunks while streaming: the task reconnects and
// reads the remaining chunks on a new chunk connection, without failing
// again and setting up anew (it once kept the closed chunk connection and
// failed every resumed stream at once).
func testResumeSnapshotReconnect(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "resnapre")
	const rows = 20000
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0 FROM generate_series(1,%d) g", rows), "ANALYZE acct")
	p := props(pg, db, "resnapre", SnapshotChunkSize, "1000", MaxQueueSize, "50", MaxBatchSize, "50",
		TableIncludeList, "public.acct")
	task := startTask(t, p, nil)
	kept := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		chunks, _ := rs[len(rs)-1].SourceOffset[offSnapshotChunks].(string)
		return strings.Count(chunks, ",") >= 2
	})
	stored := kept[len(kept)-1].SourceOffset
	stopTask(t, task)

	logs := &logRecorder{}
	task2 := startTaskCtx(t, p, &taskContext{stored: stored, logs: logs})
	incremental := func(r *connectors.Record) bool {
		return r.Value != nil && source(r).Get("snapshot") == "incremental"
	}
	second := pollUntil(t, task2, 30*time.Second, func(rs []*connectors.Record) bool {
		return len(rs) > 0 && incremental(rs[len(rs)-1])
	})
	// Every connection of the task goes: replication, metadata, chunks.
	pg.Exec(t, db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	second = append(second, pollUntil(t, task2, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if incremental(r) && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	})...)
	if n := logs.count("reconnected"); n == 0 {
		t.Fatalf("the task never reconnected: the connections were not cut mid-snapshot (logs %v)", logs.msgs)
	}
	if n := logs.count("resumed replication failed again"); n > 0 {
		t.Errorf("the resumed stream failed %d times at once after reconnecting", n)
	}
	// Rows of the chunk being read when the first run stopped may be in
	// both runs; in the second, every row is read at most once.
	seen := map[int32]bool{}
	for _, r := range data(kept) {
		if op(r) == cdc.OpRead {
			seen[after(r).Get("id").(int32)] = true
		}
	}
	reads := map[int32]int{}
	for _, r := range data(second) {
		if op(r) == cdc.OpRead {
			id := after(r).Get("id").(int32)
			reads[id]++
			seen[id] = true
		}
	}
	for id, n := range reads {
		if n > 1 {
			t.Errorf("id %d read %d times after resuming", id, n)
		}
	}
	if len(seen) != rows {
		t.Errorf("%d distinct rows read over both runs, want %d", len(seen), rows)
	}
}

// testNaNNotNull reads NaN and infinite numerics with
// decimal.handling.mode=precise, which cannot represent them: as in
// Debezium a nullable column gets null; a NOT NULL column's row is refused
// with an error that names the column and the fix (Debezium emits a null
// that no converter can write, and zero would change the data), in the
// built and lazy snapshots and in the stream.
func testNaNNotNull(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "nannn")
	pg.Exec(t, db, "CREATE TABLE m (id int PRIMARY KEY, q numeric(10,2), u numeric)",
		"INSERT INTO m VALUES (1, 'NaN', '-Infinity')", "CREATE TABLE n (id int PRIMARY KEY, p numeric(10,2) NOT NULL)")
	pollErr := func(task *Task) error {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := task.Poll(ctx)
			cancel()
			if err != nil {
				return err
			}
		}
		t.Fatal("no error polled in 20 s")
		return nil
	}
	wantErr := func(what string, err error) {
		t.Helper()
		var ce *ColumnError
		if !errors.As(err, &ce) || ce.Table != "n" || ce.Column != "p" ||
			!strings.Contains(err.Error(), "decimal.handling.mode=double or string") {
			t.Errorf("%s: error %v, want a ColumnError for n.p naming decimal.handling.mode", what, err)
		}
	}
	for _, lazy := range []bool{false, true} {
		slot := map[bool]string{false: "nannn_built", true: "nannn_lazy"}[lazy]
		task := startTaskCtx(t, props(pg, db, slot, SlotDropOnStop, "true", TableIncludeList, "public.m"), &taskContext{lazy: lazy})
		recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
			for _, r := range rs {
				if r.Value != nil && r.Topic == "srv.public.m" {
					return true
				}
			}
			return false
		})
		for _, r := range recs {
			if r.Value == nil || r.Topic != "srv.public.m" {
				continue
			}
			var m struct {
				Payload struct {
					After json.RawMessage `json:"after"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(encodeJSON(t, r.Topic, r.ValueSchema, r.Value), &m); err != nil {
				t.Fatal(err)
			}
			if got, want := string(m.Payload.After), `{"id":1,"q":null,"u":null}`; got != want {
				t.Errorf("%s: nullable NaN and -Infinity give %s, want %s", slot, got, want)
			}
		}
		stopTask(t, task)
	}
	// A NOT NULL column, in the stream.
	task := startTask(t, props(pg, db, "nannn_stream", SlotDropOnStop, "true", TableIncludeList, "public.n"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "INSERT INTO n VALUES (1, 'NaN')")
	wantErr("stream", pollErr(task))
	stopTask(t, task)
	// And in both snapshots.
	for _, lazy := range []bool{false, true} {
		slot := map[bool]string{false: "nannn_nbuilt", true: "nannn_nlazy"}[lazy]
		task := startTaskCtx(t, props(pg, db, slot, SlotDropOnStop, "true", TableIncludeList, "public.n"), &taskContext{lazy: lazy})
		wantErr(slot, pollErr(task))
		stopTask(t, task)
	}
}

// testMessages emits logical decoding messages in and outside a
// transaction; excluded prefixes are dropped.
func testMessages(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "msg")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY)")
	task := startTask(t, props(pg, db, "msg", MessagePrefixExclude, "secret.*"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, "SELECT pg_logical_emit_message(false, 'audit', 'outside')", "SELECT pg_logical_emit_message(false, 'secret1', 'x')",
		"BEGIN; INSERT INTO t VALUES (1); SELECT pg_logical_emit_message(true, 'audit', 'inside'); COMMIT")
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
		n := 0
		for _, r := range rs {
			if r.Topic == "srv.message" {
				n++
			}
		}
		return n == 2 && countOps(rs, "t", "c") == 1
	})
	var got []string
	for _, r := range recs {
		if r.Topic != "srv.message" {
			continue
		}
		v := r.Value.(*connectors.StructValue)
		msg := v.Get("message").(*connectors.StructValue)
		got = append(got, fmt.Sprintf("%s %s %s txId=%v", v.Get("op"), msg.Get("prefix"), msg.Get("content"), v.Get("source").(*connectors.StructValue).Get("txId") != nil))
		if r.Key.(*connectors.StructValue).Get("prefix") != "audit" {
			t.Errorf("key %v", r.Key)
		}
	}
	if strings.Join(got, "; ") != "m audit outside txId=false; m audit inside txId=true" {
		t.Errorf("message events: %v", got)
	}
	for _, r := range recs {
		if r.Topic == "srv.message" && r.Value.(*connectors.StructValue).Get("source").(*connectors.StructValue).Get("txId") != nil {
			golden(t, "message.json", normalized(t, r))
		}
	}
}

// normalizedTx renders a transaction metadata record with its id and
// time fixed.
func normalizedTx(t *testing.T, r *connectors.Record) []byte {
	t.Helper()
	k := *r.Key.(*connectors.StructValue)
	k.Values = []any{"1:1"}
	v := *r.Value.(*connectors.StructValue)
	v.Values = append([]any(nil), v.Values...)
	v.Values[1], v.Values[4] = "1:1", int64(1)
	var out bytes.Buffer
	for _, part := range []struct {
		s *connectors.Schema
		v any
	}{{r.KeySchema, &k}, {r.ValueSchema, &v}} {
		if err := json.Indent(&out, encodeJSON(t, r.Topic, part.s, part.v), "", " "); err != nil {
			t.Fatal(err)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// testFilters checks table and column filters and message.key.columns,
// in the snapshot and in the stream.
func testFilters(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "filters")
	pg.Exec(t, db, "CREATE TABLE orders (id int PRIMARY KEY, tenant int NOT NULL, secret text, note text)",
		"CREATE TABLE skipped (id int PRIMARY KEY)", "INSERT INTO orders VALUES (1, 7, 's', 'n')", "INSERT INTO skipped VALUES (1)")
	task := startTask(t, props(pg, db, "filters", TableExcludeList, "public\\.skip.*", ColumnExcludeList, "public.orders.secret",
		MessageKeyColumns, "public.orders:tenant,id", PublicationAutocreate, "filtered"), nil)
	recs := pollUntil(t, task, 10*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "orders", "r") == 1 })
	pg.Exec(t, db, "INSERT INTO orders VALUES (2, 8, 's', 'n')", "INSERT INTO skipped VALUES (2)", "INSERT INTO orders VALUES (3, 9, 's', 'n')")
	recs = append(recs, pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "orders", "c") == 2 })...)
	for _, r := range data(recs) {
		if tb := source(r).Get("table"); tb != "orders" {
			t.Fatalf("event for %v", tb)
		}
		a := after(r)
		if _, ok := a.Schema.Field("secret"); ok {
			t.Errorf("secret column in %v", a.Schema.Fields)
		}
		k := r.Key.(*connectors.StructValue)
		if len(k.Schema.Fields) != 2 || k.Schema.Fields[0].Name != "tenant" || k.Schema.Fields[1].Name != "id" || k.Get("id") != a.Get("id") {
			t.Errorf("key %v %v", k.Schema.Fields, k.Values)
		}
	}
	var n int
	if err := pg.Connect(t, db).QueryRow(context.Background(), "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'filters_pub'").Scan(&n); err != nil || n != 1 {
		t.Errorf("filtered publication has %d tables (%v), want 1", n, err)
	}
}

// testPoisonValue streams a value the converters reject (a
// two-dimensional array): by default the task fails naming table, column
// and LSN; with sluice.table.failure.mode=quarantine only that table is
// set aside, its changes (the one that failed and the next) returned as
// failed records holding each column's text, for the dead letter queue.
func testPoisonValue(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "poison")
	pg.Exec(t, db, "CREATE TABLE bad (id int PRIMARY KEY, a int[])", "CREATE TABLE good (id int PRIMARY KEY)")
	q := startTask(t, props(pg, db, "poison_q", TableFailureMode, "quarantine", SlotDropOnStop, "true"), nil)
	f := startTask(t, props(pg, db, "poison_f", SlotDropOnStop, "true"), nil)
	for _, task := range []*Task{q, f} {
		pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	}
	pg.Exec(t, db, "INSERT INTO bad VALUES (1, '{{1,2},{3,4}}')", "INSERT INTO good VALUES (1)",
		"INSERT INTO bad VALUES (2, '{1}')", "INSERT INTO good VALUES (2)")
	all := pollUntil(t, q, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "good", "c") == 2 })
	recs := data(all)
	if n := countOps(recs, "bad", "c"); n != 0 {
		t.Errorf("quarantined table produced %d events", n)
	}
	var aside []map[string]any
	for _, r := range all {
		if r.Failure == nil {
			continue
		}
		v, _ := r.Value.(map[string]any)
		if r.Topic != r.Topic[:strings.Index(r.Topic, ".")]+".public.bad" || v == nil || r.SourceOffset == nil ||
			!strings.Contains(r.Failure.Error(), "public.bad") || !strings.Contains(r.Failure.Error(), "column a") {
			t.Fatalf("failed record: topic %q, value %v, offset %v, failure %v", r.Topic, r.Value, r.SourceOffset, r.Failure)
		}
		aside = append(aside, v)
	}
	if len(aside) != 2 {
		t.Fatalf("%d failed records, want the 2 changes of the quarantined table: %v", len(aside), aside)
	}
	for i, want := range []map[string]any{{"id": "1", "a": "{{1,2},{3,4}}"}, {"id": "2", "a": "{1}"}} {
		v := aside[i]
		a, _ := v["after"].(map[string]any)
		if v["table"] != "public.bad" || v["op"] != "c" || a["id"] != want["id"] || a["a"] != want["a"] || v["lsn"] == nil {
			t.Errorf("failed record %d: %v, want table public.bad, op c, after %v", i, v, want)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		recs, err := f.Poll(ctx)
		cancel()
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, "public.bad") || !strings.Contains(msg, "column a") || !strings.Contains(msg, "LSN") {
				t.Errorf("failure %q does not name table, column and LSN", msg)
			}
			break
		}
		if countOps(recs, "bad", "c") > 0 {
			t.Fatal("poison row was emitted")
		}
		if time.Now().After(deadline) {
			t.Fatal("the task did not fail on the poison value")
		}
	}
}

// testSignalSnapshot asks for an ad-hoc snapshot through the signal
// table while streaming, with writes going on.
func testSignalSnapshot(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "signal")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)", "INSERT INTO t SELECT g, 0 FROM generate_series(1, 5000) g",
		"ANALYZE t", "CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))")
	task := startTask(t, props(pg, db, "signal", SnapshotMode, SnapshotNoData, SignalDataCollection, "public.dbz_signal",
		SnapshotChunkSize, "1000", TableIncludeList, "public.t"), nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db, `INSERT INTO dbz_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public\\.t"], "type": "incremental"}')`,
		"UPDATE t SET v = 1 WHERE id = 4000")
	recs := data(pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Value != nil && source(r).Get("snapshot") == "incremental" && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	}))
	state := map[int32]int32{}
	reads := map[int32]int{}
	for _, r := range recs {
		if source(r).Get("table") == "dbz_signal" {
			t.Fatalf("signal table captured though not in table.include.list")
		}
		a := after(r)
		if op(r) == cdc.OpRead {
			reads[a.Get("id").(int32)]++
			if source(r).Get("snapshot") != "incremental" {
				t.Errorf("snapshot marker %v", source(r).Get("snapshot"))
			}
		}
		state[a.Get("id").(int32)] = a.Get("v").(int32)
	}
	if len(state) != 5000 || state[4000] != 1 {
		t.Errorf("%d rows, id 4000 = %d", len(state), state[4000])
	}
	for id, n := range reads {
		if n != 1 {
			t.Errorf("id %d read %d times", id, n)
		}
	}
}

// testSignalConditions asks for an ad-hoc snapshot with Debezium's
// additional-conditions: of the table with a condition only the rows its
// filter lets through are read, of the other every row, through a
// restart from an offset taken in the middle; a signal whose filter
// PostgreSQL refuses is ignored, not read as the whole table.
func testSignalConditions(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "sigcond")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)", "INSERT INTO t SELECT g, g % 3 FROM generate_series(1, 3000) g",
		"CREATE TABLE u (id int PRIMARY KEY)", "INSERT INTO u SELECT g FROM generate_series(1, 500) g", "ANALYZE t", "ANALYZE u",
		"CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))")
	p := props(pg, db, "sigcond", SnapshotMode, SnapshotNoData, SignalDataCollection, "public.dbz_signal",
		SnapshotChunkSize, "250", MaxBatchSize, "100", TableIncludeList, "public.t,public.u")
	task := startTask(t, p, nil)
	pollUntil(t, task, 10*time.Second, func([]*connectors.Record) bool { return task.replConn.Load() != nil })
	pg.Exec(t, db,
		`INSERT INTO dbz_signal VALUES ('bad', 'execute-snapshot', '{"data-collections": ["public\\.t"], "additional-conditions": [{"data-collection": "public\\.t", "filter": "no_such_column = 1"}]}')`,
		`INSERT INTO dbz_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public\\.(t|u)"], "additional-conditions": [{"data-collection": "public\\.t", "filter": "v = 1"}]}')`)
	reads := map[string]int{}
	note := func(recs []*connectors.Record) {
		for _, r := range data(recs) {
			if op(r) != cdc.OpRead {
				continue
			}
			a := after(r)
			if tb := source(r).Get("table"); tb == "t" && a.Get("v").(int32) != 1 {
				t.Fatalf("row %v of t read though the filter is v = 1", a.Get("id"))
			}
			reads[fmt.Sprintf("%s:%d", source(r).Get("table"), a.Get("id"))]++
		}
	}
	// Stop after some rows, and start again from the offset of a record
	// in the middle of them: the rest of the plan keeps its filter.
	first := data(pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool { return countOps(data(rs), "t", cdc.OpRead) >= 300 }))
	stopTask(t, task)
	note(first)
	var stored map[string]any
	for _, r := range first[:len(first)/2] {
		if r.SourceOffset != nil && r.SourceOffset[offIncremental] != nil {
			stored = r.SourceOffset
		}
	}
	if stored == nil || !strings.Contains(fmt.Sprint(stored[offSnapshotPlan]), filterMark) {
		t.Fatalf("no offset with the filtered plan among the first records: %v", stored)
	}
	task = startTask(t, p, stored)
	note(pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if r.Value != nil && source(r).Get("snapshot") == "incremental" && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	}))
	for id := 1; id <= 3000; id++ {
		if n := reads[fmt.Sprintf("t:%d", id)]; (id%3 == 1) != (n > 0) {
			t.Fatalf("row %d of t (v = %d) read %d times", id, id%3, n)
		}
	}
	for id := 1; id <= 500; id++ {
		if reads[fmt.Sprintf("u:%d", id)] == 0 {
			t.Fatalf("row %d of u (no condition) not read", id)
		}
	}
}

// testResumeSnapshotChurn checks the resumed snapshot's chunks against a
// table that changes all the time: a writer updates, deletes and inserts
// rows while the task reads the unfinished chunks with watermarks, its
// connections are cut again and again, and it is stopped once more in the
// middle of the chunks and started from an offset it had emitted. The
// records of the three runs, applied in order, must give the table.
func testResumeSnapshotChurn(t *testing.T, pg *harness.Postgres) {
	resumeSnapshotChurn(t, pg, false)
}

// TestResumeSnapshotServerRestarts is testResumeSnapshotChurn with the
// server restarted (fast shutdowns and crashes) instead of the task's
// connections cut, on a server of its own.
func TestResumeSnapshotServerRestarts(t *testing.T) {
	t.Parallel()
	resumeSnapshotChurn(t, harness.StartPostgres(t, harness.PostgresOptions{}), true)
}

func resumeSnapshotChurn(t *testing.T, pg *harness.Postgres, restarts bool) {
	db := pg.CreateDB(t, "resnapchurn")
	const rows = 20000
	pg.Exec(t, db, "CREATE TABLE acct (id int PRIMARY KEY, v int NOT NULL)",
		fmt.Sprintf("INSERT INTO acct SELECT g, 0 FROM generate_series(1,%d) g", rows), "ANALYZE acct",
		"CREATE TABLE bcct (id int PRIMARY KEY, v int NOT NULL)",
		fmt.Sprintf("INSERT INTO bcct SELECT g, 0 FROM generate_series(1,%d) g", rows/4), "ANALYZE bcct")
	p := props(pg, db, "resnapchurn", SnapshotChunkSize, "500", MaxQueueSize, "200", MaxBatchSize, "100",
		TableIncludeList, "public.acct,public.bcct", SnapshotMaxThreads, "2")

	// The topic: every record polled, in order, from every run.
	var topic []*connectors.Record
	task := startTask(t, p, nil)
	first := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
		if len(rs) == 0 {
			return false
		}
		chunks, _ := rs[len(rs)-1].SourceOffset[offSnapshotChunks].(string)
		return strings.Count(chunks, ",") >= 2
	})
	stopTask(t, task)
	topic = append(topic, first...)
	// The committed offset lags what reached the topic.
	stored := first[len(first)*2/3].SourceOffset

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := pg.Connect(t, db)
		defer func() { c.Close(context.Background()) }()
		rng := rand.New(rand.NewPCG(7, 11))
		next := rows + 1
		// About 300 changes a second: a pace the task keeps up with under
		// the race detector, so that chunks finish while it runs.
		tick := time.NewTicker(3 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
			id := 1 + rng.IntN(rows)
			var err error
			switch i % 6 {
			case 0, 1:
				_, err = c.Exec(ctx, "UPDATE acct SET v = v + 1 WHERE id = $1", id)
			case 2:
				_, err = c.Exec(ctx, "DELETE FROM acct WHERE id = $1", id)
			case 3:
				_, err = c.Exec(ctx, "INSERT INTO acct VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET v = acct.v + 1", id)
			case 4:
				_, err = c.Exec(ctx, "INSERT INTO acct VALUES ($1, 1)", next)
				next++
			case 5:
				if _, err = c.Exec(ctx, "UPDATE bcct SET v = v + 1 WHERE id = $1", id%(rows/4)+1); err == nil {
					_, err = c.Exec(ctx, "INSERT INTO bcct VALUES ($1, 1)", next)
				}
				next++
			}
			if err != nil && ctx.Err() == nil {
				if !restarts {
					writerErr <- err
					return
				}
				// The server restarts: whether the statement took effect
				// does not matter, the table is read at the end.
				c.Close(context.Background())
				for ctx.Err() == nil {
					time.Sleep(100 * time.Millisecond)
					if c, err = pgx.Connect(ctx, pg.DBURL(db)); err == nil {
						break
					}
				}
			}
		}
	}()
	cuts, cutsPerRun := 0, 4
	if restarts {
		cutsPerRun = 2
	}
	cut := func() {
		cuts++
		if restarts {
			// Fast shutdowns, and every third a crash.
			pg.Restart(t, cuts%3 == 0)
			return
		}
		pg.Exec(t, db, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'sluice%'")
	}
	incremental := func(r *connectors.Record) bool {
		return r.Value != nil && source(r).Get("snapshot") == "incremental"
	}
	finished := func(rs []*connectors.Record) bool {
		for _, r := range rs {
			if incremental(r) && r.SourceOffset != nil && r.SourceOffset[offIncremental] == nil {
				return true // the last chunk's last row
			}
		}
		return false
	}
	// pollCutting polls task, cutting its connections every few hundred
	// records, until stop says so.
	logs := &logRecorder{}
	pollCutting := func(task *Task, cuts int, stop func([]*connectors.Record) bool) []*connectors.Record {
		var all []*connectors.Record
		nextCut := 300
		// The next cut waits until streaming started again after the
		// last one and 300 more records were polled (more than the
		// queue holds, so some came over the new connection): cutting a
		// resumed connection before it delivered anything counts as a
		// failed resume, and after three in a row (a loaded machine
		// polls slowly) the task sets up again from the committed
		// offset, once everything it handed out is committed, which
		// this test, committing nothing, would wait for in vain.
		streamed := -1
		deadline := time.Now().Add(3 * time.Minute)
		for !stop(all) {
			if streamed >= 0 && logs.count("streaming") > streamed {
				streamed, nextCut = -1, len(all)+300
			}
			if cuts > 0 && streamed < 0 && len(all) >= nextCut {
				streamed = logs.count("streaming")
				cut()
				cuts--
			}
			if time.Now().After(deadline) {
				n := 0
				for _, r := range all {
					if incremental(r) {
						n++
					}
				}
				var lastOff map[string]any
				if len(all) > 0 {
					lastOff = all[len(all)-1].SourceOffset
				}
				t.Fatalf("polled %d records (%d incremental reads) in 3 min without reaching the expected state; last offset %v; logs:\n%s",
					len(all), n, lastOff, strings.Join(logs.lines, "\n"))
			}
			pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
			recs, err := task.Poll(pctx)
			pcancel()
			if err != nil {
				t.Fatalf("Poll: %v", err)
			}
			all = append(all, recs...)
		}
		return all
	}

	task2 := startTaskCtx(t, p, &taskContext{stored: stored, logs: logs})
	second := pollCutting(task2, cutsPerRun, func(rs []*connectors.Record) bool {
		n := 0
		for _, r := range rs {
			if incremental(r) {
				n++
			}
		}
		return n >= 3000 || finished(rs)
	})
	stopTask(t, task2)
	topic = append(topic, second...)
	stored1 := stored
	stored = second[len(second)*2/3].SourceOffset
	if finished(second) {
		t.Logf("the chunks were finished before the second stop")
	}

	task3 := startTaskCtx(t, p, &taskContext{stored: stored, logs: logs})
	third := pollCutting(task3, cutsPerRun, finished)
	cancel()
	wg.Wait()
	select {
	case err := <-writerErr:
		t.Fatalf("writer: %v", err)
	default:
	}
	// A last change, to know the stream has delivered the writer's.
	pg.Exec(t, db, "INSERT INTO acct VALUES (0, 0)")
	third = append(third, pollUntil(t, task3, time.Minute, func(rs []*connectors.Record) bool {
		for _, r := range data(rs) {
			if op(r) == cdc.OpCreate && after(r).Get("id").(int32) == 0 {
				return true
			}
		}
		return false
	})...)
	topic = append(topic, third...)
	runOf := map[*connectors.Record]int{}
	for _, r := range first {
		runOf[r] = 1
	}
	for _, r := range second {
		runOf[r] = 2
	}
	for _, r := range third {
		runOf[r] = 3
	}
	if logs.count("reconnected") == 0 {
		t.Fatalf("the task never reconnected: no cut landed (logs %v)", logs.msgs)
	}

	got := map[int32]int32{}
	for _, r := range data(topic) {
		off := int32(0)
		if strings.HasSuffix(r.Topic, ".bcct") {
			off = 1 << 28
		}
		switch op(r) {
		case cdc.OpRead, cdc.OpCreate, cdc.OpUpdate:
			got[off+after(r).Get("id").(int32)] = after(r).Get("v").(int32)
		case cdc.OpDelete:
			delete(got, off+before(r).Get("id").(int32))
		}
	}
	want := map[int32]int32{}
	c := pg.Connect(t, db)
	defer c.Close(context.Background())
	rs, err := c.Query(context.Background(), "SELECT id, v FROM acct UNION ALL SELECT id + (1<<28), v FROM bcct")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id, v int32
		if err := rs.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		want[id] = v
	}
	if rs.Err() != nil {
		t.Fatal(rs.Err())
	}
	var diffs []string
	for id, v := range want {
		if g, ok := got[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%d missing (table %d)", id, v))
		} else if g != v {
			diffs = append(diffs, fmt.Sprintf("%d: topic %d, table %d", id, g, v))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("%d in the topic only", id))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Errorf("%d keys differ between the records and the table (%d rows); first: %v; logs %v",
			len(diffs), len(want), diffs[:min(len(diffs), 20)], logs.msgs)
		// Every record of the first differing key, in topic order.
		var bad int32
		fmt.Sscan(diffs[0], &bad)
		for i, r := range topic {
			if r.Value == nil {
				continue
			}
			off := int32(0)
			if strings.HasSuffix(r.Topic, ".bcct") {
				off = 1 << 28
			}
			var id int32
			var v any
			if op(r) == cdc.OpDelete {
				id = before(r).Get("id").(int32)
			} else {
				id = after(r).Get("id").(int32)
				v = after(r).Get("v")
			}
			if off+id != bad {
				continue
			}
			t.Logf("key %d: #%d run %d op %s v %v snapshot %v lsn %v; offset %v", bad, i, runOf[r], op(r), v,
				source(r).Get("snapshot"), source(r).Get("lsn"), r.SourceOffset)
		}
		t.Logf("second started from %v (after #%d), third from %v (after #%d)", stored1, len(first)*2/3, stored, len(first)+len(second)*2/3)
	}
	t.Logf("%d rows equal; %d records over three runs; reconnects %d; chunks read again (a transaction streamed before the low watermark not visible to the read) %d",
		len(want), len(topic), logs.count("reconnected"),
		logs.count("snapshot chunk read again: a transaction streamed before its low watermark was not visible to its query yet"))
}

// testSnapshotDoneMeansEmitted checks the promise an initial snapshot's
// offsets make: a chunk listed as finished in a record's offset has all of
// its rows in that record or before it, so that a task restarted from any
// committed offset never skips a row. Two tables are read by two threads,
// so chunks of both finish while rows of the other are held for their
// markers.
func testSnapshotDoneMeansEmitted(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "snapdone")
	const rows = 3000
	pg.Exec(t, db, "CREATE TABLE a (id int PRIMARY KEY, v int)", "CREATE TABLE b (id int PRIMARY KEY, v int)",
		fmt.Sprintf("INSERT INTO a SELECT g, g FROM generate_series(1,%d) g", rows),
		fmt.Sprintf("INSERT INTO b SELECT g, g FROM generate_series(1,%d) g", rows), "ANALYZE a", "ANALYZE b")
	p := props(pg, db, "snapdone", SnapshotChunkSize, "97", SnapshotMaxThreads, "2", MaxQueueSize, "64", MaxBatchSize, "16")
	task := startTask(t, p, nil)
	recs := pollUntil(t, task, time.Minute, func(rs []*connectors.Record) bool {
		return len(rs) > 0 && rs[len(rs)-1].SourceOffset[offLastSnapshot] == true
	})
	var relA, relB uint32
	c := pg.Connect(t, db)
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), "SELECT 'a'::regclass::oid, 'b'::regclass::oid").Scan(&relA, &relB); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{} // "relid:id"
	checked := 0
	for i, r := range recs {
		if r.Value != nil && r.Topic != "" {
			rel := relA
			if strings.HasSuffix(r.Topic, ".b") {
				rel = relB
			}
			seen[fmt.Sprintf("%d:%d", rel, after(r).Get("id").(int32))] = true
		}
		chunks, _ := r.SourceOffset[offSnapshotChunks].(string)
		plan, _ := r.SourceOffset[offSnapshotPlan].(string)
		if chunks == "" {
			continue
		}
		// plan: "relid:lo:step:n" per table; chunk k holds lo+k*step up to
		// the next, the first has no lower bound and the last no upper one.
		bounds := map[string][3]int64{}
		for _, tp := range strings.Split(plan, ";") {
			f := strings.Split(tp, ":")
			if len(f) != 4 {
				t.Fatalf("plan %q: not an integer-key plan", plan)
			}
			lo, _ := strconv.ParseInt(f[1], 10, 64)
			step, _ := strconv.ParseInt(f[2], 10, 64)
			n, _ := strconv.ParseInt(f[3], 10, 64)
			bounds[f[0]] = [3]int64{lo, step, n}
		}
		for _, d := range strings.Split(chunks, ",") {
			rel, idxS, _ := strings.Cut(d, ":")
			idx, _ := strconv.ParseInt(idxS, 10, 64)
			b := bounds[rel]
			from, to := b[0]+idx*b[1], b[0]+(idx+1)*b[1]
			if idx == 0 {
				from = 1
			}
			if idx == b[2]-1 {
				to = rows + 1
			}
			for id := max(from, 1); id < min(to, rows+1); id++ {
				if !seen[fmt.Sprintf("%s:%d", rel, id)] {
					t.Fatalf("record %d's offset lists chunk %s as finished, but row %d of it was not emitted before it (offset %v)", i, d, id, r.SourceOffset)
				}
				checked++
			}
		}
	}
	if len(seen) != 2*rows {
		t.Errorf("%d rows read, want %d", len(seen), 2*rows)
	}
	if checked == 0 {
		t.Fatal("no record listed a finished chunk: nothing was checked")
	}
}
