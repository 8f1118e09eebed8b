package rest_test

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/runtime/api"
)

func strp(s string) *string { return &s }

// TestEndpoints sends one request per case to a server over the fake
// herder and checks status, headers, body (golden file or exact) and the
// herder call it made.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*fakeHerder)
		method string
		path   string
		body   string

		status int
		header map[string]string // expected headers; "" means absent
		golden string            // testdata/<golden>.json
		exact  string            // exact body when no golden ("" with empty=true: no body)
		empty  bool              // the body must be empty
		errMsg string            // substring of the error message
		call   *call             // the last herder call, when it matters
	}{
		{name: "server info", method: "GET", path: "/", status: 200, golden: "server_info",
			call: &call{"ServerInfo", nil}},
		{name: "health healthy", method: "GET", path: "/health", status: 200, golden: "health"},
		{name: "health starting", method: "GET", path: "/health", status: 503,
			setup: func(f *fakeHerder) {
				f.health = api.Health{Status: "starting", Message: "Worker is still starting up: reading the config topic"}
			},
			exact: `{"status":"starting","message":"Worker is still starting up: reading the config topic"}`},
		{name: "health unhealthy", method: "GET", path: "/health", status: 500,
			setup: func(f *fakeHerder) { f.health = api.Health{Status: "unhealthy", Message: "herder tick stuck for 12s"} },
			exact: `{"status":"unhealthy","message":"herder tick stuck for 12s"}`},
		{name: "sluice health starting is alive", method: "GET", path: "/sluice/health", status: 200,
			setup: func(f *fakeHerder) { f.health = api.Health{Status: "starting", Message: "m"} },
			exact: `{"status":"starting","message":"m"}`},
		{name: "sluice health unhealthy", method: "GET", path: "/sluice/health", status: 503,
			setup: func(f *fakeHerder) { f.health = api.Health{Status: "unhealthy", Message: "m"} },
			exact: `{"status":"unhealthy","message":"m"}`},
		{name: "sluice ready healthy", method: "GET", path: "/sluice/ready", status: 200,
			exact: `{"status":"healthy","message":"Worker has completed startup and is ready to handle requests."}`},
		{name: "sluice ready starting", method: "GET", path: "/sluice/ready", status: 503,
			setup: func(f *fakeHerder) { f.health = api.Health{Status: "starting", Message: "m"} },
			exact: `{"status":"starting","message":"m"}`},

		// GET /connectors
		{name: "list", method: "GET", path: "/connectors", status: 200, exact: `["inventory-source","orders-sink"]`},
		{name: "list trailing slash", method: "GET", path: "/connectors/", status: 200, exact: `["inventory-source","orders-sink"]`},
		{name: "list empty", method: "GET", path: "/connectors", status: 200, exact: `[]`,
			setup: func(f *fakeHerder) { f.names = nil }},
		{name: "expand status and info repeated", method: "GET", path: "/connectors?expand=status&expand=info", status: 200,
			golden: "connectors_expand"},
		{name: "expand status and info comma", method: "GET", path: "/connectors?expand=status,info", status: 200,
			golden: "connectors_expand"},
		{name: "expand status only", method: "GET", path: "/connectors?expand=status", status: 200,
			setup: func(f *fakeHerder) { f.names = []string{"inventory-source"} },
			exact: `{"inventory-source":{"status":{"name":"inventory-source","connector":{"state":"RUNNING","worker_id":"10.0.0.7:8083"},` +
				`"tasks":[{"id":0,"state":"RUNNING","worker_id":"10.0.0.7:8083"}],"type":"source"}}}`},
		{name: "expand unknown ignored", method: "GET", path: "/connectors?expand=bogus", status: 200,
			exact: `{"inventory-source":{},"orders-sink":{}}`},
		{name: "expand skips connector deleted meanwhile", method: "GET", path: "/connectors?expand=info", status: 200,
			setup: func(f *fakeHerder) {
				f.errFor["ConnectorInfo/orders-sink"] = api.NotFound("Connector orders-sink not found")
			},
			exact: `{"inventory-source":{"info":{"name":"inventory-source","config":{"connector.class":"` + pgClass +
				`","database.hostname":"db.internal","database.password":"[hidden]","name":"inventory-source","tasks.max":"1",` +
				`"topic.prefix":"inventory"},"tasks":[{"connector":"inventory-source","task":0}],"type":"source"}}}`},
		{name: "expand skips any 404", method: "GET", path: "/connectors?expand=status", status: 200,
			setup: func(f *fakeHerder) {
				f.names = []string{"gone"}
				f.errFor["ConnectorStatus/gone"] = &api.Error{Status: http.StatusNotFound, Message: "no status for gone"}
			},
			exact: `{}`},
		{name: "expand fails on other errors", method: "GET", path: "/connectors?expand=status", status: 500,
			setup:  func(f *fakeHerder) { f.errFor["ConnectorStatus/orders-sink"] = errors.New("status topic unreadable") },
			errMsg: "status topic unreadable"},
		{name: "list herder error", method: "GET", path: "/connectors", status: 409,
			setup:  func(f *fakeHerder) { f.errs["Connectors"] = api.ErrRebalance },
			errMsg: "Cannot complete request momentarily due to stale configuration"},

		// POST /connectors
		{name: "create", method: "POST", path: "/connectors", status: 201,
			body:   `{"name":"inventory-source","config":{"connector.class":"postgres","tasks.max":1,"snapshot.enabled":true,"slot.max.lag":1.5e3}}`,
			header: map[string]string{"Location": "/connectors/inventory-source", "Content-Type": "application/json"},
			golden: "connector_created",
			call: &call{"CreateConnector", []any{api.CreateRequest{Name: "inventory-source", Config: map[string]string{
				"connector.class": "postgres", "tasks.max": "1", "snapshot.enabled": "true", "slot.max.lag": "1.5e3",
				"name": "inventory-source"}}}}},
		{name: "create trims name and escapes location", method: "POST", path: "/connectors", status: 201,
			body:   `{"name":"  my conn/1 ","config":{"connector.class":"datagen"}}`,
			header: map[string]string{"Location": "/connectors/my%20conn%2F1"},
			call: &call{"CreateConnector", []any{api.CreateRequest{Name: "my conn/1", Config: map[string]string{
				"connector.class": "datagen", "name": "my conn/1"}}}}},
		{name: "create with initial state", method: "POST", path: "/connectors", status: 201,
			body: `{"name":"c","config":{"connector.class":"datagen","name":"c"},"initial_state":"paused"}`,
			call: &call{"CreateConnector", []any{api.CreateRequest{Name: "c", Config: map[string]string{
				"connector.class": "datagen", "name": "c"}, InitialState: api.TargetPaused}}}},
		{name: "create initial state RUNNING is STARTED", method: "POST", path: "/connectors", status: 201,
			body: `{"name":"c","config":{"connector.class":"datagen"},"initial_state":"RUNNING"}`,
			call: &call{"CreateConnector", []any{api.CreateRequest{Name: "c", Config: map[string]string{
				"connector.class": "datagen", "name": "c"}, InitialState: api.TargetStarted}}}},
		{name: "create bad initial state", method: "POST", path: "/connectors", status: 400,
			body:   `{"name":"c","config":{},"initial_state":"SLEEPING"}`,
			errMsg: `"initial_state" is "SLEEPING"; use RUNNING, PAUSED or STOPPED`},
		{name: "create without name", method: "POST", path: "/connectors", status: 400,
			body: `{"config":{"connector.class":"datagen"}}`, errMsg: `request body has no connector "name"`},
		{name: "create with blank name", method: "POST", path: "/connectors", status: 400,
			body: `{"name":"  ","config":{"connector.class":"datagen"}}`, errMsg: `request body has no connector "name"`},
		{name: "create without config", method: "POST", path: "/connectors", status: 400,
			body: `{"name":"c"}`, errMsg: `request body has no "config" for connector "c"`},
		{name: "create with null config", method: "POST", path: "/connectors", status: 400,
			body: `{"name":"c","config":null}`, errMsg: `request body has no "config" for connector "c"`},
		{name: "create name mismatch", method: "POST", path: "/connectors", status: 400,
			body:   `{"name":"c","config":{"name":"d"}}`,
			errMsg: "Connector name configuration (d) doesn't match the connector name in the request body (c)"},
		{name: "create nested config value", method: "POST", path: "/connectors", status: 400,
			body:   `{"name":"c","config":{"database":{"hostname":"x"}}}`,
			errMsg: `request body field "config": property "database": must be a string, number or boolean, not an object`},
		{name: "create config is a list", method: "POST", path: "/connectors", status: 400,
			body:   `{"name":"c","config":["a"]}`,
			errMsg: `request body field "config": must be a JSON object of property names to string values, not an array`},
		{name: "create name not a string", method: "POST", path: "/connectors", status: 400,
			body:   `{"name":42,"config":{}}`,
			errMsg: `request body field "name" must be a string, not a number (at line 1, column 10 (byte offset 9))`},
		{name: "create exists", method: "POST", path: "/connectors", status: 409,
			body: `{"name":"inventory-source","config":{"connector.class":"postgres"}}`,
			setup: func(f *fakeHerder) {
				f.errs["CreateConnector"] = api.AlreadyExists("Connector inventory-source already exists")
			},
			golden: "error_conflict"},
		{name: "create invalid config", method: "POST", path: "/connectors", status: 400,
			body: `{"name":"c","config":{"connector.class":"postgres"}}`,
			setup: func(f *fakeHerder) {
				f.errs["CreateConnector"] = api.BadRequest("Connector configuration is invalid and contains the following 1 error(s):\n" +
					"database.hostname: Missing required configuration \"database.hostname\" which has no default value.")
			},
			errMsg: "contains the following 1 error(s):\ndatabase.hostname: Missing required"},

		// GET/DELETE /connectors/{c}
		{name: "get connector", method: "GET", path: "/connectors/orders-sink", status: 200, golden: "connector_info",
			call: &call{"ConnectorInfo", []any{"orders-sink"}}},
		{name: "get escaped name", method: "GET", path: "/connectors/my%20conn%2F1", status: 200,
			call: &call{"ConnectorInfo", []any{"my conn/1"}}},
		{name: "get missing connector", method: "GET", path: "/connectors/nope", status: 404, golden: "error_not_found",
			setup: func(f *fakeHerder) { f.errs["ConnectorInfo"] = api.NotFound("Connector nope not found") }},
		{name: "delete", method: "DELETE", path: "/connectors/orders-sink", status: 204, empty: true,
			header: map[string]string{"Content-Type": ""}, call: &call{"DeleteConnector", []any{"orders-sink"}}},
		{name: "delete missing", method: "DELETE", path: "/connectors/nope", status: 404,
			setup:  func(f *fakeHerder) { f.errs["DeleteConnector"] = api.NotFound("Connector nope not found") },
			errMsg: "Connector nope not found"},

		// config
		{name: "get config", method: "GET", path: "/connectors/inventory-source/config", status: 200,
			exact: `{"connector.class":"` + pgClass + `","database.hostname":"db.internal","database.password":"[hidden]",` +
				`"name":"inventory-source","tasks.max":"1","topic.prefix":"inventory"}`,
			call: &call{"ConnectorConfig", []any{"inventory-source"}}},
		{name: "put config creates", method: "PUT", path: "/connectors/orders-sink/config", status: 201,
			setup:  func(f *fakeHerder) { f.created = true },
			body:   `{"connector.class":"jdbc","tasks.max":2,"delete.enabled":false}`,
			header: map[string]string{"Location": "/connectors/orders-sink"},
			exact: `{"name":"orders-sink","config":{"connector.class":"jdbc","delete.enabled":"false","name":"orders-sink","tasks.max":"2"},` +
				`"tasks":[{"connector":"orders-sink","task":0}],"type":"sink"}`,
			call: &call{"PutConnectorConfig", []any{"orders-sink", map[string]string{
				"connector.class": "jdbc", "tasks.max": "2", "delete.enabled": "false", "name": "orders-sink"}}}},
		{name: "put config updates", method: "PUT", path: "/connectors/orders-sink/config", status: 200,
			body:   `{"connector.class":"jdbc","name":"orders-sink"}`,
			header: map[string]string{"Location": ""},
			exact: `{"name":"orders-sink","config":{"connector.class":"jdbc","name":"orders-sink"},` +
				`"tasks":[{"connector":"orders-sink","task":0}],"type":"sink"}`},
		{name: "put config name mismatch", method: "PUT", path: "/connectors/orders-sink/config", status: 400,
			body:   `{"connector.class":"jdbc","name":"other"}`,
			errMsg: "Connector name configuration (other) doesn't match connector name in the URL (orders-sink)"},
		{name: "put config not an object", method: "PUT", path: "/connectors/orders-sink/config", status: 400,
			body:   `"connector.class=jdbc"`,
			errMsg: "request body: must be a JSON object of property names to string values, not a string"},
		{name: "put config null", method: "PUT", path: "/connectors/orders-sink/config", status: 400,
			body:   `null`,
			errMsg: "request body: must be a JSON object of property names to string values, not a null"},
		{name: "put config null value", method: "PUT", path: "/connectors/orders-sink/config", status: 400,
			body:   `{"topics":null}`,
			errMsg: `property "topics": is null`},
		{name: "put config empty body", method: "PUT", path: "/connectors/orders-sink/config", status: 400,
			errMsg: "request body is empty"},
		{name: "patch config", method: "PATCH", path: "/connectors/orders-sink/config", status: 200,
			body:  `{"tasks.max":4,"connector.class":null}`,
			exact: `{"name":"orders-sink","config":{"name":"orders-sink","tasks.max":"4"},"tasks":[],"type":"sink"}`,
			call: &call{"PatchConnectorConfig", []any{"orders-sink", map[string]*string{
				"tasks.max": strp("4"), "connector.class": nil}}}},
		{name: "patch config rename", method: "PATCH", path: "/connectors/orders-sink/config", status: 400,
			body: `{"name":"x"}`, errMsg: "a connector cannot be renamed"},
		{name: "patch config remove name", method: "PATCH", path: "/connectors/orders-sink/config", status: 400,
			body: `{"name":null}`, errMsg: `the "name" property cannot be removed`},
		{name: "patch missing connector", method: "PATCH", path: "/connectors/nope/config", status: 404,
			body:   `{"a":"b"}`,
			setup:  func(f *fakeHerder) { f.errs["PatchConnectorConfig"] = api.NotFound("Connector nope not found") },
			errMsg: "Connector nope not found"},

		// status and tasks
		{name: "status with failed task", method: "GET", path: "/connectors/orders-sink/status", status: 200,
			golden: "status_failed_task", call: &call{"ConnectorStatus", []any{"orders-sink"}}},
		{name: "tasks", method: "GET", path: "/connectors/orders-sink/tasks", status: 200, golden: "tasks",
			call: &call{"TaskConfigs", []any{"orders-sink"}}},
		{name: "tasks none", method: "GET", path: "/connectors/orders-sink/tasks", status: 200, exact: `[]`,
			setup: func(f *fakeHerder) { f.tasks = nil }},
		{name: "task status", method: "GET", path: "/connectors/orders-sink/tasks/1/status", status: 200, golden: "task_status",
			call: &call{"TaskStatus", []any{"orders-sink", 1}}},
		{name: "task status not a number", method: "GET", path: "/connectors/orders-sink/tasks/one/status", status: 404,
			errMsg: `task id "one" is not a task number`},
		{name: "task status missing task", method: "GET", path: "/connectors/orders-sink/tasks/7/status", status: 404,
			setup:  func(f *fakeHerder) { f.errs["TaskStatus"] = api.NotFound("Task orders-sink-7 not found") },
			errMsg: "Task orders-sink-7 not found"},

		// restart, pause, resume, stop
		{name: "restart connector only", method: "POST", path: "/connectors/orders-sink/restart", status: 204, empty: true,
			call: &call{"RestartConnector", []any{"orders-sink", false, false}}},
		{name: "restart explicit false", method: "POST", path: "/connectors/orders-sink/restart?includeTasks=false&onlyFailed=false",
			status: 204, empty: true, call: &call{"RestartConnector", []any{"orders-sink", false, false}}},
		{name: "restart with tasks", method: "POST", path: "/connectors/orders-sink/restart?includeTasks=true&onlyFailed=true",
			status: 202, golden: "restart_status", call: &call{"RestartConnector", []any{"orders-sink", true, true}}},
		{name: "restart only failed", method: "POST", path: "/connectors/orders-sink/restart?onlyFailed=TRUE", status: 202,
			call: &call{"RestartConnector", []any{"orders-sink", false, true}}},
		{name: "restart bad flag", method: "POST", path: "/connectors/orders-sink/restart?includeTasks=yes", status: 400,
			errMsg: `query parameter includeTasks="yes": must be true or false`},
		{name: "restart task", method: "POST", path: "/connectors/orders-sink/tasks/1/restart", status: 204, empty: true,
			call: &call{"RestartTask", []any{"orders-sink", 1}}},
		{name: "restart task not a number", method: "POST", path: "/connectors/orders-sink/tasks/-1/restart", status: 404,
			errMsg: `task id "-1" is not a task number`},
		{name: "pause", method: "PUT", path: "/connectors/orders-sink/pause", status: 202, empty: true,
			call: &call{"PauseConnector", []any{"orders-sink"}}},
		{name: "resume", method: "PUT", path: "/connectors/orders-sink/resume", status: 202, empty: true,
			call: &call{"ResumeConnector", []any{"orders-sink"}}},
		{name: "stop", method: "PUT", path: "/connectors/orders-sink/stop", status: 204, empty: true,
			call: &call{"StopConnector", []any{"orders-sink"}}},
		{name: "pause missing", method: "PUT", path: "/connectors/nope/pause", status: 404,
			setup:  func(f *fakeHerder) { f.errs["PauseConnector"] = api.NotFound("Connector nope not found") },
			errMsg: "Connector nope not found"},

		// topics
		{name: "topics", method: "GET", path: "/connectors/inventory-source/topics", status: 200, golden: "topics",
			call: &call{"ConnectorTopics", []any{"inventory-source"}}},
		{name: "topics none", method: "GET", path: "/connectors/inventory-source/topics", status: 200,
			setup: func(f *fakeHerder) { f.topics = nil }, exact: `{"inventory-source":{"topics":[]}}`},
		{name: "topics tracking disabled", method: "GET", path: "/connectors/inventory-source/topics", status: 403,
			setup: func(f *fakeHerder) {
				f.errs["ConnectorTopics"] = api.Errorf(http.StatusForbidden, "Topic tracking is disabled.")
			},
			errMsg: "Topic tracking is disabled."},
		{name: "topics reset", method: "PUT", path: "/connectors/inventory-source/topics/reset", status: 202, empty: true,
			call: &call{"ResetConnectorTopics", []any{"inventory-source"}}},

		// offsets
		{name: "offsets source", method: "GET", path: "/connectors/inventory-source/offsets", status: 200, golden: "offsets_source",
			setup: func(f *fakeHerder) { f.offsets = sourceOffsets }},
		{name: "offsets sink", method: "GET", path: "/connectors/orders-sink/offsets", status: 200, golden: "offsets_sink",
			setup: func(f *fakeHerder) { f.offsets = sinkOffsets }},
		{name: "offsets none", method: "GET", path: "/connectors/orders-sink/offsets", status: 200, exact: `{"offsets":[]}`},
		{name: "alter offsets", method: "PATCH", path: "/connectors/orders-sink/offsets", status: 200,
			body: `{"offsets":[{"partition":{"kafka_topic":"inventory.public.orders","kafka_partition":0},"offset":{"kafka_offset":9007199254740993}},` +
				`{"partition":{"kafka_topic":"inventory.public.orders","kafka_partition":1},"offset":null}]}`,
			exact: `{"message":"The offsets for this connector have been altered successfully"}`,
			call: &call{"AlterOffsets", []any{"orders-sink", api.Offsets{Offsets: []api.Offset{
				{Partition: map[string]any{"kafka_topic": "inventory.public.orders", "kafka_partition": int64(0)},
					Offset: map[string]any{"kafka_offset": int64(9007199254740993)}},
				{Partition: map[string]any{"kafka_topic": "inventory.public.orders", "kafka_partition": int64(1)}},
			}}}}},
		{name: "alter offsets float and nested", method: "PATCH", path: "/connectors/inventory-source/offsets", status: 200,
			body: `{"offsets":[{"partition":{"server":"inventory"},"offset":{"lsn":1.5,"list":[1,"a"]}}]}`,
			call: &call{"AlterOffsets", []any{"inventory-source", api.Offsets{Offsets: []api.Offset{
				{Partition: map[string]any{"server": "inventory"}, Offset: map[string]any{"lsn": 1.5, "list": []any{int64(1), "a"}}},
			}}}}},
		{name: "alter offsets empty", method: "PATCH", path: "/connectors/orders-sink/offsets", status: 400,
			body: `{"offsets":[]}`, errMsg: "Partitions / offsets need to be provided for an alter offsets request"},
		{name: "alter offsets without partition", method: "PATCH", path: "/connectors/orders-sink/offsets", status: 400,
			body: `{"offsets":[{"offset":{"kafka_offset":1}}]}`, errMsg: `offsets[0]: "partition" is missing`},
		{name: "alter offsets not stopped", method: "PATCH", path: "/connectors/orders-sink/offsets", status: 400,
			body: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":1}}]}`,
			setup: func(f *fakeHerder) {
				f.errs["AlterOffsets"] = api.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified")
			},
			errMsg: "STOPPED state"},
		{name: "reset offsets", method: "DELETE", path: "/connectors/orders-sink/offsets", status: 200,
			exact: `{"message":"The offsets for this connector have been reset successfully"}`,
			call:  &call{"ResetOffsets", []any{"orders-sink"}}},

		// plugins
		{name: "plugins", method: "GET", path: "/connector-plugins", status: 200, golden: "plugins",
			call: &call{"Plugins", []any{true}}},
		{name: "plugins all", method: "GET", path: "/connector-plugins?connectorsOnly=false", status: 200,
			call: &call{"Plugins", []any{false}}},
		{name: "plugins bad flag", method: "GET", path: "/connector-plugins?connectorsOnly=maybe", status: 400,
			errMsg: "connectorsOnly"},
		{name: "plugin config", method: "GET", path: "/connector-plugins/" + pgClass + "/config", status: 200,
			golden: "plugin_config", call: &call{"PluginConfig", []any{pgClass}}},
		{name: "plugin config unknown", method: "GET", path: "/connector-plugins/com.example.Nope/config", status: 404,
			setup: func(f *fakeHerder) {
				f.errs["PluginConfig"] = api.NotFound("Unknown plugin com.example.Nope; GET /connector-plugins lists the plugins")
			},
			errMsg: "Unknown plugin com.example.Nope"},
		{name: "validate with errors", method: "PUT", path: "/connector-plugins/" + pgClass + "/config/validate", status: 200,
			body:   `{"connector.class":"` + pgClass + `","database.port":0,"database.password":"s3cret","snapshot.mode":"sometimes"}`,
			golden: "validate_errors",
			call: &call{"ValidateConfig", []any{pgClass, map[string]string{"connector.class": pgClass, "database.port": "0",
				"database.password": "s3cret", "snapshot.mode": "sometimes"}}}},
		{name: "validate class mismatch", method: "PUT", path: "/connector-plugins/postgres/config/validate", status: 400,
			body: `{"connector.class":"mysql"}`,
			setup: func(f *fakeHerder) {
				f.errs["ValidateConfig"] = api.BadRequest("Included connector type mysql does not match request type postgres")
			},
			errMsg: "does not match request type postgres"},

		// errors in general
		{name: "plain herder error is 500", method: "GET", path: "/connectors/orders-sink", status: 500,
			setup:  func(f *fakeHerder) { f.errs["ConnectorInfo"] = errors.New("reading config topic: broker unreachable") },
			errMsg: "reading config topic: broker unreachable"},
		{name: "wrapped api error keeps its status", method: "GET", path: "/connectors/orders-sink", status: 409,
			setup: func(f *fakeHerder) {
				f.errs["ConnectorInfo"] = fmt.Errorf("looking up orders-sink: %w", api.ErrRebalance)
			},
			errMsg: "looking up orders-sink: Cannot complete request momentarily"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, golden: "error_unknown_path"},
		{name: "unknown sub-resource", method: "GET", path: "/connectors/orders-sink/bogus", status: 404,
			errMsg: "HTTP 404 Not Found: no endpoint GET /connectors/orders-sink/bogus"},
		{name: "wrong method", method: "POST", path: "/connectors/orders-sink/status", status: 405,
			header: map[string]string{"Allow": "GET, HEAD"},
			errMsg: "HTTP 405 Method Not Allowed: no endpoint POST /connectors/orders-sink/status; allowed: GET, HEAD"},
		{name: "wrong method on collection", method: "DELETE", path: "/connectors", status: 405,
			errMsg: "HTTP 405 Method Not Allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			if tc.setup != nil {
				tc.setup(f)
			}
			resp := do(t, newServer(f), tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tc.method, tc.path, resp.StatusCode, tc.status, readAll(t, resp))
			}
			for k, want := range tc.header {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			switch {
			case tc.errMsg != "":
				if msg := errorOf(t, resp); !strings.Contains(msg, tc.errMsg) {
					t.Errorf("error message %q does not contain %q", msg, tc.errMsg)
				}
			case tc.empty:
				if body := readAll(t, resp); len(body) != 0 {
					t.Errorf("body = %q, want none", body)
				}
			default:
				body := readAll(t, resp)
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				if tc.golden != "" {
					checkGolden(t, tc.golden, body)
				} else if tc.exact != "" && strings.TrimSpace(string(body)) != tc.exact {
					t.Errorf("body\n got %s\nwant %s", body, tc.exact)
				}
			}
			if tc.call != nil {
				calls := f.recorded()
				if len(calls) == 0 {
					t.Fatalf("no herder call, want %v", *tc.call)
				}
				if got := calls[len(calls)-1]; !reflect.DeepEqual(got, *tc.call) {
					t.Errorf("herder call\n got %#v\nwant %#v", got, *tc.call)
				}
			}
		})
	}
}

// TestErrorStatuses checks that every error status a herder can choose
// reaches the client in Connect's error shape.
func TestErrorStatuses(t *testing.T) {
	for _, status := range []int{400, 403, 404, 409, 500, 503} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			f := newFake()
			f.errs["ConnectorStatus"] = api.Errorf(status, "status %d from the herder", status)
			resp := do(t, newServer(f), "GET", "/connectors/c/status", "")
			if resp.StatusCode != status {
				t.Fatalf("status %d, want %d", resp.StatusCode, status)
			}
			if msg := errorOf(t, resp); msg != fmt.Sprintf("status %d from the herder", status) {
				t.Errorf("message %q", msg)
			}
		})
	}
	t.Run("status outside 4xx/5xx is 500", func(t *testing.T) {
		f := newFake()
		f.errs["ConnectorStatus"] = &api.Error{Status: 200, Message: "odd"}
		resp := do(t, newServer(f), "GET", "/connectors/c/status", "")
		if resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
		errorOf(t, resp)
	})
}
