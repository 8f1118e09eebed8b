package rest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	pgClass   = "io.debezium.connector.postgresql.PostgresConnector"
	jdbcClass = "io.debezium.connector.jdbc.JdbcSinkConnector"
	workerID  = "10.0.0.7:8083"
)

// pgDef is a small real definition, the kind a connector declares, for
// the plugin config and validate goldens.
var pgDef = config.NewDef(
	config.Key{Name: "database.hostname", Type: config.String, Default: config.NoDefault, Importance: config.High,
		Doc: "Resolvable hostname or IP address of the database server.", Group: "Connection", Order: 1,
		DisplayName: "Hostname"},
	config.Key{Name: "database.port", Type: config.Int, Default: 5432, Importance: config.High,
		Doc: "Port of the database server.", Group: "Connection", Order: 2, DisplayName: "Port",
		Validator: config.AtLeast(1)},
	config.Key{Name: "database.password", Type: config.Password, Default: config.NoDefault, Importance: config.High,
		Doc: "Password of the database user.", Group: "Connection", Order: 3, DisplayName: "Password"},
	config.Key{Name: "snapshot.mode", Type: config.String, Default: "initial", Importance: config.Medium,
		Doc: "When to take a snapshot of the tables.", Group: "Snapshot", Order: 1, DisplayName: "Snapshot mode",
		Validator: config.In("initial", "never", "always", "no_data"), Dependents: []string{"snapshot.select.statement.overrides"}},
)

// newFake returns a herder with the canned entities of a two-connector
// worker: a running Debezium PostgreSQL source and a JDBC sink whose task
// 1 failed. Its configs are already redacted and its restart answers
// canned: these tests check the REST wire format only. Redaction, restart
// with includeTasks/onlyFailed and the rest of the state machine are
// tested against the real herder in runtime/herder_state_test.go.
func newFake() *fakeHerder {
	pgCfg := map[string]string{
		"connector.class":   pgClass,
		"database.hostname": "db.internal",
		"database.password": "[hidden]",
		"name":              "inventory-source",
		"tasks.max":         "1",
		"topic.prefix":      "inventory",
	}
	sinkCfg := map[string]string{
		"connector.class": jdbcClass,
		"connection.url":  "jdbc:postgresql://warehouse:5432/dw",
		"insert.mode":     "upsert",
		"name":            "orders-sink",
		"tasks.max":       "2",
		"topics":          "inventory.public.orders",
	}
	trace := "jdbc sink: writing 500 records to \"public\".\"orders\": ERROR: relation \"public.orders\" does not exist (SQLSTATE 42P01)\n" +
		"create the table or set schema.evolution=basic"
	return &fakeHerder{
		errs:   map[string]error{},
		errFor: map[string]error{},
		server: api.ServerInfo{Version: "0.1.0", Commit: "b14e67b4d3c2a1f0", KafkaClusterID: "Ek8rxFSXRQOWbBkqJpfnBA"},
		health: api.Health{Status: "healthy", Message: "Worker has completed startup and is ready to handle requests."},
		names:  []string{"inventory-source", "orders-sink"},
		infos: map[string]api.ConnectorInfo{
			"inventory-source": {Name: "inventory-source", Config: pgCfg,
				Tasks: []api.TaskID{{Connector: "inventory-source", Task: 0}}, Type: "source"},
			"orders-sink": {Name: "orders-sink", Config: sinkCfg,
				Tasks: []api.TaskID{{Connector: "orders-sink", Task: 0}, {Connector: "orders-sink", Task: 1}}, Type: "sink"},
		},
		statuses: map[string]api.ConnectorStatus{
			"inventory-source": {Name: "inventory-source",
				Connector: api.ConnectorState{State: api.StateRunning, WorkerID: workerID},
				Tasks:     []api.TaskState{{ID: 0, State: api.StateRunning, WorkerID: workerID}}, Type: "source"},
			"orders-sink": {Name: "orders-sink",
				Connector: api.ConnectorState{State: api.StateRunning, WorkerID: workerID},
				Tasks: []api.TaskState{
					{ID: 0, State: api.StateRunning, WorkerID: workerID},
					{ID: 1, State: api.StateFailed, WorkerID: "10.0.0.8:8083", Trace: trace},
				}, Type: "sink"},
		},
		config: pgCfg,
		tasks: []api.TaskInfo{
			{ID: api.TaskID{Connector: "orders-sink", Task: 0}, Config: map[string]string{
				"connector.class": jdbcClass, "task.class": "io.debezium.connector.jdbc.JdbcSinkConnectorTask", "topics": "inventory.public.orders"}},
			{ID: api.TaskID{Connector: "orders-sink", Task: 1}, Config: map[string]string{
				"connector.class": jdbcClass, "task.class": "io.debezium.connector.jdbc.JdbcSinkConnectorTask", "topics": "inventory.public.orders"}},
		},
		taskState: api.TaskState{ID: 1, State: api.StateFailed, WorkerID: "10.0.0.8:8083", Trace: trace},
		restart: &api.ConnectorStatus{Name: "orders-sink",
			Connector: api.ConnectorState{State: api.StateRestarting, WorkerID: workerID},
			Tasks: []api.TaskState{
				{ID: 0, State: api.StateRunning, WorkerID: workerID},
				{ID: 1, State: api.StateRestarting, WorkerID: "10.0.0.8:8083"},
			}, Type: "sink"},
		topics: []string{"inventory.public.customers", "inventory.public.orders"},
		plugins: []api.PluginInfo{
			{Class: jdbcClass, Type: "sink", Version: "0.1.0"},
			{Class: pgClass, Type: "source", Version: "0.1.0"},
		},
		keys: pgDef.KeyInfos(),
		infosVal: pgDef.Validate(pgClass, map[string]string{
			"connector.class": pgClass, "database.port": "0", "database.password": "s3cret", "snapshot.mode": "sometimes",
		}, nil),
	}
}

// sourceOffsets are a Debezium PostgreSQL connector's offsets.
var sourceOffsets = api.Offsets{Offsets: []api.Offset{{
	Partition: map[string]any{"server": "inventory"},
	Offset:    map[string]any{"lsn": 24023128, "lsn_commit": 24023128, "lsn_proc": 24023128, "txId": 555, "ts_usec": int64(1732406400000000)},
}}}

// sinkOffsets are a sink connector's consumer offsets.
var sinkOffsets = api.Offsets{Offsets: []api.Offset{
	{Partition: map[string]any{"kafka_topic": "inventory.public.orders", "kafka_partition": 0}, Offset: map[string]any{"kafka_offset": 4711}},
	{Partition: map[string]any{"kafka_topic": "inventory.public.orders", "kafka_partition": 1}, Offset: map[string]any{"kafka_offset": 815}},
}}

// do sends one request to srv.
func do(t *testing.T, srv http.Handler, method, target, body string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return b
}

// checkGolden compares body, indented, with testdata/name.json, or
// rewrites that file with -update.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var got bytes.Buffer
	if err := json.Indent(&got, body, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	got.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run go test ./runtime/rest -update to create it): %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("response differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got.Bytes(), want)
	}
}

// errorOf decodes a Connect error body and checks its shape: exactly
// error_code and message, error_code equal to the HTTP status.
func errorOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	body := readAll(t, resp)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("error body is not a JSON object: %v\n%s", err, body)
	}
	if len(raw) != 2 || raw["error_code"] == nil || raw["message"] == nil {
		t.Fatalf("error body must have exactly error_code and message: %s", body)
	}
	var e struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.ErrorCode != resp.StatusCode {
		t.Errorf("error_code %d != HTTP status %d", e.ErrorCode, resp.StatusCode)
	}
	return e.Message
}

func newServer(f *fakeHerder, opts ...rest.Option) *rest.Server {
	return rest.New(f, slog.New(slog.DiscardHandler), opts...)
}
