package mysql

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/avro"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
	"github.com/sluice-cdc/sluice/it/harness"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// taskContext is a SourceTaskContext with one stored offset.
type taskContext struct {
	mu     sync.Mutex
	stored map[string]any
	lazy   bool // offer lazy values (connectors.LazyValuesContext)
}

func (c *taskContext) LazyValues() bool { return c.lazy }

func (c *taskContext) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stored, nil
}

func (c *taskContext) Logger() *slog.Logger {
	if os.Getenv("SLUICE_TEST_VERBOSE") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// props returns connector properties for the databases matching db on m;
// without schema change events unless extra asks for them, so that the
// tests of row events see only those.
func props(m *harness.MariaDB, db string, extra ...string) map[string]string {
	p := map[string]string{
		Hostname: m.Host, Port: fmt.Sprint(m.Port), User: m.User, Password: m.Password, TopicPrefix: "srv",
		DatabaseIncludeList: db, PollIntervalMs: "100", IncludeSchemaChanges: "false",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

func startTask(t *testing.T, p map[string]string, stored map[string]any) *Task {
	t.Helper()
	task, err := tryStart(p, stored)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopTask(t, task) })
	return task
}

func tryStart(p map[string]string, stored map[string]any) (*Task, error) {
	task := NewTask()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return task, task.Start(ctx, &taskContext{stored: stored}, p)
}

func stopTask(t *testing.T, task *Task) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := task.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// pollUntil polls until done returns true for everything polled so far.
func pollUntil(t *testing.T, task *Task, timeout time.Duration, done func([]*connectors.Record) bool) []*connectors.Record {
	t.Helper()
	var all []*connectors.Record
	deadline := time.Now().Add(timeout)
	for !done(all) {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d records in %v without reaching the expected state", len(all), timeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := task.Poll(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		all = append(all, recs...)
	}
	return all
}

// changes keeps the change records (not markers, heartbeats or
// tombstones).
func changes(recs []*connectors.Record) []*connectors.Record {
	var out []*connectors.Record
	for _, r := range recs {
		if r.Topic != "" && r.Value != nil && r.ValueSchema.Name != cdc.HeartbeatValueName {
			out = append(out, r)
		}
	}
	return out
}

func nChanges(n int) func([]*connectors.Record) bool {
	return func(r []*connectors.Record) bool { return len(changes(r)) >= n }
}

func envOf(r *connectors.Record) *connectors.StructValue { return r.Value.(*connectors.StructValue) }
func opOf(r *connectors.Record) string                   { return envOf(r).Values[cdc.EnvOp].(string) }
func afterOf(r *connectors.Record) *connectors.StructValue {
	v, _ := envOf(r).Values[cdc.EnvAfter].(*connectors.StructValue)
	return v
}
func sourceOf(r *connectors.Record) *connectors.StructValue {
	return envOf(r).Values[cdc.EnvSource].(*connectors.StructValue)
}

func encodeJSON(t *testing.T, s *connectors.Schema, v any) []byte {
	t.Helper()
	b, err := connectjson.New(connectjson.DefaultOptions()).Encode(nil, s, v)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	return b
}

// payload renders a struct value's JsonConverter payload.
func payload(t *testing.T, s *connectors.Schema, v any) string {
	t.Helper()
	var m struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(encodeJSON(t, s, v), &m); err != nil {
		t.Fatal(err)
	}
	return string(m.Payload)
}

// stable returns a copy of a change record's envelope with the fields
// that vary from run to run (times, binlog coordinates, GTIDs, thread)
// set to fixed values, for golden files.
func stable(r *connectors.Record) *connectors.StructValue {
	env := *envOf(r)
	env.Values = append([]any(nil), env.Values...)
	src := *sourceOf(r)
	src.Values = append([]any(nil), src.Values...)
	src.Values[cdc.SrcTsMs], src.Values[cdc.SrcTsUs], src.Values[cdc.SrcTsNs] = int64(1), int64(1000), int64(1000000)
	src.Values[cdc.SrcDB] = "db"
	src.Values[srcFile], src.Values[srcPos], src.Values[srcServerID] = "binlog.000001", int64(4), int64(1)
	if src.Values[srcGTID] != nil {
		src.Values[srcGTID] = "0-1-1"
	}
	if src.Values[srcThread] != nil {
		src.Values[srcThread] = int64(1)
	}
	env.Values[cdc.EnvSource] = &src
	env.Values[cdc.EnvTsMs], env.Values[cdc.EnvTsUs], env.Values[cdc.EnvTsNs] = int64(2), int64(2000), int64(2000000)
	return &env
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", " "); err != nil {
		t.Fatal(err)
	}
	got = append(buf.Bytes(), '\n')
	path := filepath.Join("testdata", name)
	if *update {
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

// TestMySQL runs the tests that need a server against one MariaDB, in a
// time zone other than UTC so that TIMESTAMP conversion shows.
func TestMySQL(t *testing.T) {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{Args: []string{"--default-time-zone=+02:00"}})
	t.Run("types", func(t *testing.T) { testTypes(t, m) })
	t.Run("UUID, INET4 and INET6", func(t *testing.T) { testAddressTypes(t, m) })
	t.Run("changes", func(t *testing.T) { testChanges(t, m) })
	t.Run("restart mid-transaction", func(t *testing.T) { testRestartMidTx(t, m, false) })
	t.Run("restart mid-transaction with transaction metadata", func(t *testing.T) { testRestartMidTx(t, m, true) })
	t.Run("snapshot without locks", func(t *testing.T) { testSnapshotNoLock(t, m) })
	t.Run("undecodable", func(t *testing.T) { testUndecodable(t, m) })
	t.Run("include.query", func(t *testing.T) { testIncludeQuery(t, m) })
	t.Run("bounded memory", func(t *testing.T) { testBoundedMemory(t, m) })
	t.Run("heartbeat", func(t *testing.T) { testHeartbeat(t, m) })
	t.Run("server restart", func(t *testing.T) { testServerRestart(t, m) })
	t.Run("purged binlog", func(t *testing.T) { testPurged(t, m) })
	t.Run("checks", func(t *testing.T) { testChecks(t, m) })
	t.Run("schema changes", func(t *testing.T) { testSchemaChanges(t, m) })
	t.Run("schema changes off", func(t *testing.T) { testSchemaChangesOff(t, m) })
	t.Run("schema changes in the snapshot", func(t *testing.T) { testSnapshotSchemaChanges(t, m) })
	t.Run("DDL during the snapshot", func(t *testing.T) { testSnapshotDDLUnread(t, m) })
}

// typesTable has a column of every type the source maps.
const typesTable = `CREATE TABLE types (
 id INT PRIMARY KEY,
 ti TINYINT, tu TINYINT UNSIGNED, bo BOOLEAN, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED,
 i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED,
 d1 DECIMAL(5,2), d2 DECIMAL(30,10), d3 DECIMAL(10,0), f FLOAT, db DOUBLE,
 b1 BIT(1), b9 BIT(9), b64 BIT(64),
 c CHAR(5), vc VARCHAR(20), tx TEXT, l1 VARCHAR(10) CHARACTER SET latin1, lt TEXT CHARACTER SET latin1,
 bn BINARY(4), vb VARBINARY(10), bl BLOB,
 dt DATE, tm TIME, tm3 TIME(3), tm6 TIME(6), dtt DATETIME, dt3 DATETIME(3), dt6 DATETIME(6),
 ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NULL, yr YEAR,
 en ENUM('a','b''c','d'), st SET('x','y','z'), js JSON,
 nn DATE NOT NULL DEFAULT '2000-01-01', g GEOMETRY, pt POINT
) DEFAULT CHARSET=utf8mb4`

// typesRows are rows of types; %d is the id.
var typesRows = []string{
	`INSERT INTO types VALUES (%d, -128, 255, TRUE, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
 -123.45, 12345678901234567890.0123456789, 42, 3.14159274, 2.718281828459045,
 b'1', b'100000001', b'1111111111111111111111111111111111111111111111111111111111111111',
 'ab', 'héllo wörld', 'some text ✓', 'café', 'naïve',
 x'0102', x'0a0b0c', x'00ff00',
 '2024-02-29', '-838:59:59', '12:34:56.789', '23:59:59.999999', '2024-02-29 13:14:15', '1999-12-31 23:59:59.123', '2024-02-29 13:14:15.123456',
 '2024-02-29 13:14:15', '2024-02-29 13:14:15.5', '1970-01-01 02:00:01.000001', 2024,
 'b''c', 'x,z', '{"k": [1, 2.5, "s"], "n": null}', '0000-00-00', ST_GeomFromText('LINESTRING(0 0, 1 1.5)', 4326), POINT(1, 2))`,
	`INSERT INTO types (id) VALUES (%d)`,
	`INSERT INTO types VALUES (%d, 0, 0, FALSE, 0, 0, 0, 0, 0, 0, 0, 9223372036854775808,
 0.00, -0.0000000001, -1, -0.5, 1e300,
 b'0', b'0', b'0',
 '', '', '', '', '',
 x'', x'', x'',
 '1969-12-31', '00:00:00', '-00:00:01.5', '00:00:00.000001', '1969-12-31 23:59:59', '1970-01-01 00:00:00.001', '1900-01-01 00:00:00.000001',
 '1970-01-01 02:00:01', NULL, NULL, 1901,
 '', '', '[]', '2024-01-01', ST_GeomFromText('POLYGON((0 0, 1 0, 0 1, 0 0))'), NULL)`,
}

func testTypes(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "types")
	sqlDB := m.Open(t, db)
	if _, err := sqlDB.Exec("SET SESSION sql_mode = ''"); err != nil {
		t.Fatal(err)
	}
	m.Exec(t, db, typesTable)
	insert := func(base int) {
		conn, err := sqlDB.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(context.Background(), "SET SESSION sql_mode = ''"); err != nil {
			t.Fatal(err)
		}
		for i, q := range typesRows {
			if _, err := conn.ExecContext(context.Background(), fmt.Sprintf(q, base+i)); err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
		}
	}
	insert(1)
	task := startTask(t, props(m, db), nil)
	snap := changes(pollUntil(t, task, 30*time.Second, nChanges(len(typesRows))))
	checkLazySnapshot(t, props(m, db, SnapshotMode, SnapshotInitialOnly), snap)
	insert(101)
	stream := changes(pollUntil(t, task, 30*time.Second, nChanges(len(typesRows))))
	if len(snap) != len(typesRows) || len(stream) != len(typesRows) {
		t.Fatalf("%d snapshot and %d stream records, want %d each", len(snap), len(stream), len(typesRows))
	}
	for i := range typesRows {
		s, c := snap[i], stream[i]
		if opOf(s) != cdc.OpRead || opOf(c) != cdc.OpCreate {
			t.Fatalf("ops %s and %s", opOf(s), opOf(c))
		}
		if got, want := schemaJSON(t, c), schemaJSON(t, s); got != want {
			t.Errorf("row %d: stream schema differs from the snapshot's:\nstream   %s\nsnapshot %s", i, got, want)
		}
		sa, ca := *afterOf(s), *afterOf(c)
		sa.Values = append([]any(nil), sa.Values...)
		ca.Values = append([]any(nil), ca.Values...)
		sa.Values[0], ca.Values[0] = int32(0), int32(0)
		if got, want := payload(t, ca.Schema, &ca), payload(t, sa.Schema, &sa); got != want {
			t.Errorf("row %d: stream values differ from the snapshot's:\nstream   %s\nsnapshot %s", i, got, want)
		}
	}
	var out []json.RawMessage
	for _, r := range append(snap, stream...) {
		out = append(out, encodeJSON(t, r.ValueSchema, stable(r)))
	}
	all, _ := json.Marshal(out)
	golden(t, "types.json", bytes.ReplaceAll(all, []byte(db), []byte("db")))
	key := encodeJSON(t, stream[0].KeySchema, stream[0].Key)
	if !strings.Contains(string(key), `"name":"srv.`+db+`.types.Key"`) || !strings.Contains(string(key), `"payload":{"id":101}`) {
		t.Errorf("key %s", key)
	}
	if stream[0].Topic != "srv."+db+".types" {
		t.Errorf("topic %s", stream[0].Topic)
	}
}

func schemaJSON(t *testing.T, r *connectors.Record) string {
	var m struct {
		Schema json.RawMessage `json:"schema"`
	}
	after := afterOf(r)
	if err := json.Unmarshal(encodeJSON(t, after.Schema, after), &m); err != nil {
		t.Fatal(err)
	}
	return string(m.Schema)
}

// testAddressTypes reads MariaDB's UUID, INET4 and INET6 columns by
// snapshot and by stream: both give the server's text (the binlog has
// the bytes without their trailing zero bytes), UUID as
// io.debezium.data.Uuid.
func testAddressTypes(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "addr")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, u UUID, a INET4, b INET6)")
	rows := [][3]string{
		{"6ccd780c-baba-1026-9564-5b8c656024db", "1.2.3.4", "2001:db8::ff00:42:8329"},
		{"2b3ee2a6-9a2f-4f1a-8f5e-012345678900", "255.255.255.0", "::ffff:1.2.3.4"},
		{"00000000-0000-0000-0000-000000000000", "0.0.0.0", "::"},
		{"ffffffff-ffff-ffff-ffff-ffffffffffff", "10.0.0.1", "fe80::1"},
		{"", "", ""},
	}
	insert := func(base int) {
		for i, r := range rows {
			if r[0] == "" {
				m.Exec(t, db, fmt.Sprintf("INSERT INTO t (id) VALUES (%d)", base+i))
				continue
			}
			m.Exec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d, '%s', '%s', '%s')", base+i, r[0], r[1], r[2]))
		}
	}
	insert(1)
	task := startTask(t, props(m, db), nil)
	snap := changes(pollUntil(t, task, 30*time.Second, nChanges(len(rows))))
	insert(101)
	stream := changes(pollUntil(t, task, 30*time.Second, nChanges(len(rows))))
	if len(snap) != len(rows) || len(stream) != len(rows) {
		t.Fatalf("%d snapshot and %d stream records, want %d each", len(snap), len(stream), len(rows))
	}
	for i, r := range rows {
		for side, rec := range map[string]*connectors.Record{"snapshot": snap[i], "stream": stream[i]} {
			after := afterOf(rec)
			if got := after.Schema.Fields[1].Schema.Name; got != cdc.UUIDName {
				t.Errorf("%s: UUID column named %q, want %s", side, got, cdc.UUIDName)
			}
			for j := range 3 {
				want := any(r[j])
				if r[j] == "" {
					want = nil
				}
				if got := after.Values[j+1]; got != want {
					t.Errorf("%s row %d column %s: %#v, want %#v", side, i, after.Schema.Fields[j+1].Name, got, want)
				}
			}
		}
	}
}

// checkLazySnapshot takes the snapshot of p again with lazy values and
// checks each record against built, the same rows' records without them:
// the lazy key and value encode as their Build does (JSON and Avro),
// and what they build is built's, times and positions aside.
func checkLazySnapshot(t *testing.T, p map[string]string, built []*connectors.Record) {
	t.Helper()
	task := NewTask()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := task.Start(ctx, &taskContext{lazy: true}, p); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer stopTask(t, task)
	lazy := changes(pollUntil(t, task, 30*time.Second, nChanges(len(built))))
	if len(lazy) != len(built) {
		t.Fatalf("%d lazy snapshot records, want %d", len(lazy), len(built))
	}
	ac := avro.New(avro.DefaultOptions())
	for i, r := range lazy {
		if _, ok := r.Value.(connectors.LazyStruct); !ok {
			t.Fatalf("record %d: value %T, not lazy", i, r.Value)
		}
		lk, lv := r.Key, r.Value
		m := *r
		if err := m.Materialize(); err != nil {
			t.Fatal(err)
		}
		if got, want := encodeJSON(t, r.KeySchema, lk), encodeJSON(t, m.KeySchema, m.Key); !bytes.Equal(got, want) {
			t.Errorf("record %d: lazy key %s, built %s", i, got, want)
		}
		if got, want := encodeJSON(t, r.ValueSchema, lv), encodeJSON(t, m.ValueSchema, m.Value); !bytes.Equal(got, want) {
			t.Errorf("record %d: lazy value %s, built %s", i, got, want)
		}
		as, err := ac.Schema(r.ValueSchema)
		if err != nil {
			t.Fatal(err)
		}
		got, err := as.Append(nil, lv)
		if err != nil {
			t.Fatal(err)
		}
		want, err := as.Append(nil, m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("record %d: lazy Avro %x, built %x", i, got, want)
		}
		if got, want := encodeJSON(t, m.ValueSchema, stable(&m)), encodeJSON(t, built[i].ValueSchema, stable(built[i])); !bytes.Equal(got, want) {
			t.Errorf("record %d: lazy snapshot\n%s\nbuilt snapshot\n%s", i, got, want)
		}
	}
}
