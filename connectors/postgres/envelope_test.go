package postgres

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Expected shapes follow Debezium's SchemaFactory.sourceInfoSchemaBuilder,
// PostgresSourceInfoStructMaker, SourceInfo.sequence and
// SchemaFactory.heartbeatKey/ValueSchema (debezium@aad5519).

// schemaJSON is the JsonConverter schema of a value, compacted.
func schemaJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var m struct {
		Schema json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return string(m.Schema)
}

func TestSourceSchemaLikeDebezium(t *testing.T) {
	b := newBuilder(&Config{TopicPrefix: "srv", DBName: "db"})
	tb := &table{boxedSchema: "public", boxedName: "t"}
	p := &position{ts: cdc.Times{Ms: int64(1), Us: int64(1000), Ns: int64(1000000)}, lsn: 200, snapshot: cdc.SnapTrue}
	got := schemaJSON(t, encodeJSON(t, "t", b.Source, b.sourceValue(tb, p)))
	want := `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"version"},` +
		`{"type":"string","optional":false,"field":"connector"},` +
		`{"type":"string","optional":false,"field":"name"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"},` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},` +
		`{"type":"string","optional":false,"field":"db"},` +
		`{"type":"string","optional":true,"field":"sequence"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"},` +
		`{"type":"string","optional":false,"field":"schema"},` +
		`{"type":"string","optional":false,"field":"table"},` +
		`{"type":"int64","optional":true,"field":"txId"},` +
		`{"type":"int64","optional":true,"field":"lsn"},` +
		`{"type":"int64","optional":true,"field":"xmin"},` +
		`{"type":"string","optional":true,"field":"origin"},` +
		`{"type":"int64","optional":true,"field":"origin_lsn"}],` +
		`"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1}`
	if got != want {
		t.Errorf("source schema\n got %s\nwant %s", got, want)
	}
}

func TestSourceValueLikeDebezium(t *testing.T) {
	b := newBuilder(&Config{TopicPrefix: "srv", DBName: "db"})
	tb := &table{boxedSchema: "public", boxedName: "t"}
	common := `"version":"` + Version + `","connector":"postgresql","name":"srv","ts_ms":1,`
	for _, tt := range []struct {
		name string
		p    position
		want string
	}{
		{"snapshot", position{lsn: 200, snapshot: cdc.SnapTrue},
			`"snapshot":"true","db":"db","sequence":"[null,\"200\"]","ts_us":1000,"ts_ns":1000000,"schema":"public","table":"t","txId":null,"lsn":200,`},
		{"streaming", position{lsn: 300, prevCommit: 250, hasSeq: true, txID: int64(7)},
			`"snapshot":"false","db":"db","sequence":"[\"250\",\"300\"]","ts_us":1000,"ts_ns":1000000,"schema":"public","table":"t","txId":7,"lsn":300,`},
		{"first transaction", position{lsn: 300, hasSeq: true, txID: int64(7)},
			`"snapshot":"false","db":"db","sequence":"[null,\"300\"]","ts_us":1000,"ts_ns":1000000,"schema":"public","table":"t","txId":7,"lsn":300,`},
		// Incremental snapshot rows carry no txId, lsn or xmin.
		{"incremental", position{lsn: 300, snapshot: cdc.SnapIncremental, txID: int64(7)},
			`"snapshot":"incremental","db":"db","sequence":"[null,\"300\"]","ts_us":1000,"ts_ns":1000000,"schema":"public","table":"t","txId":null,"lsn":null,`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.ts = cdc.Times{Ms: int64(1), Us: int64(1000), Ns: int64(1000000)}
			got := payloadJSON(t, b.Source, b.sourceValue(tb, &p))
			want := "{" + common + tt.want + `"xmin":null,"origin":null,"origin_lsn":null}`
			if got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestHeartbeatLikeDebezium(t *testing.T) {
	b := newBuilder(&Config{TopicPrefix: "srv", DBName: "db"})
	b.Now = func() time.Time { return time.UnixMilli(1700000000123) }
	r := b.Heartbeat(map[string]any{"lsn": int64(1)})
	if r.Topic != "__debezium-heartbeat.srv" {
		t.Errorf("topic %q", r.Topic)
	}
	key := string(encodeJSON(t, r.Topic, r.KeySchema, r.Key))
	wantKey := `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,` +
		`"name":"io.debezium.connector.common.ServerNameKey","version":1},"payload":{"serverName":"srv"}}`
	if key != wantKey {
		t.Errorf("key\n got %s\nwant %s", key, wantKey)
	}
	val := string(encodeJSON(t, r.Topic, r.ValueSchema, r.Value))
	wantVal := `{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,` +
		`"name":"io.debezium.connector.common.Heartbeat","version":1},"payload":{"ts_ms":1700000000123}}`
	if val != wantVal {
		t.Errorf("value\n got %s\nwant %s", val, wantVal)
	}
}

func TestEnvelopeSchemaLikeDebezium(t *testing.T) {
	b := newBuilder(&Config{TopicPrefix: "srv", DBName: "db"})
	s := cdc.EnvelopeSchema("srv.public.t.Envelope", b.Source, b.Source)
	if s.Version != 2 || s.Name != "srv.public.t.Envelope" {
		t.Errorf("envelope %s v%d, want version 2", s.Name, s.Version)
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "before,after,source,transaction,op,ts_ms,ts_us,ts_ns" {
		t.Errorf("envelope fields %s", got)
	}
	tx := s.Fields[cdc.EnvTransaction].Schema
	if tx.Name != "event.block" || tx.Version != 1 || !tx.Optional {
		t.Errorf("transaction block %s v%d optional=%v", tx.Name, tx.Version, tx.Optional)
	}
}
