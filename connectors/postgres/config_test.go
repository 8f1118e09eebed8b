package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

func minimal(extra ...string) map[string]string {
	p := map[string]string{Hostname: "db", User: "u", DBName: "app", TopicPrefix: "srv"}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

func TestPlugin(t *testing.T) {
	p := Plugin()
	if p.Name != "postgres" || p.Class != "io.debezium.connector.postgresql.PostgresConnector" || p.Type != connectors.SourceType {
		t.Fatalf("plugin %+v", p)
	}
	reg := connectors.NewRegistry(p)
	for _, n := range []string{"postgres", "io.debezium.connector.postgresql.PostgresConnector", "PostgresConnector"} {
		if _, err := reg.Lookup(n); err != nil {
			t.Errorf("Lookup(%q): %v", n, err)
		}
	}
	c, ok := p.New().(connectors.SourceConnector)
	if !ok {
		t.Fatal("not a source connector")
	}
	if err := c.Start(context.Background(), nil, minimal()); err != nil {
		t.Fatal(err)
	}
	tasks, err := c.TaskConfigs(8)
	if err != nil || len(tasks) != 1 || tasks[0][Hostname] != "db" {
		t.Errorf("TaskConfigs(8) = %v, %v; want one config", tasks, err)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(minimal())
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{Host: "db", Port: 5432, User: "u", DBName: "app", SSLMode: "prefer", TopicPrefix: "srv",
		SlotName: "debezium", Publication: "dbz_publication", PublicationMode: PublicationAllTables,
		StatusInterval: 10 * time.Second, SnapshotMode: SnapshotInitial, SnapshotFetchSize: 10240, SnapshotThreads: 1,
		SnapshotChunkRows: 100000, TombstonesOnDelete: true, SkipTruncate: true, Placeholder: "__debezium_unavailable_value",
		Modes: pgtypes.DefaultModes(), MaxBatchSize: 2048, MaxQueueSize: 8192, PollInterval: 500 * time.Millisecond,
		KeyColumns: map[string][]string{}, MaxRetries: -1, ReconnectMax: 10 * time.Second}
	if cfg.Host != want.Host || cfg.Port != want.Port || cfg.SSLMode != want.SSLMode || cfg.SlotName != want.SlotName ||
		cfg.Publication != want.Publication || cfg.PublicationMode != want.PublicationMode || cfg.StatusInterval != want.StatusInterval ||
		cfg.SnapshotMode != want.SnapshotMode || cfg.SnapshotFetchSize != want.SnapshotFetchSize || cfg.SnapshotThreads != want.SnapshotThreads ||
		cfg.SnapshotChunkRows != want.SnapshotChunkRows || cfg.TombstonesOnDelete != want.TombstonesOnDelete ||
		cfg.SkipTruncate != want.SkipTruncate || cfg.SkipCreate || cfg.SkipUpdate || cfg.SkipDelete || cfg.Placeholder != want.Placeholder ||
		cfg.Modes != want.Modes || cfg.MaxBatchSize != want.MaxBatchSize || cfg.MaxQueueSize != want.MaxQueueSize ||
		cfg.PollInterval != want.PollInterval || cfg.ProvideTxMetadata || cfg.MaxRetries != want.MaxRetries ||
		cfg.ReconnectMax != want.ReconnectMax {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		p    map[string]string
		key  string
		want string
	}{
		{"decoderbufs", minimal(PluginName, "decoderbufs"), PluginName, "only pgoutput is supported"},
		{"wal2json", minimal(PluginName, "wal2json"), PluginName, "set plugin.name=pgoutput"},
		{"slot name", minimal(SlotName, "My-Slot"), SlotName, "[a-z0-9_]"},
		{"snapshot mode", minimal(SnapshotMode, "sometimes"), SnapshotMode, "must be one of"},
		{"decimal mode", minimal(DecimalHandlingMode, "exact"), DecimalHandlingMode, "must be one of"},
		{"skipped", minimal(SkippedOperations, "x"), SkippedOperations, "not an operation"},
		{"regex", minimal(TableIncludeList, "public.(a"), TableIncludeList, "not a valid regular expression"},
		{"key columns", minimal(MessageKeyColumns, "public.t"), MessageKeyColumns, "schema.table:col1,col2"},
		{"signal channel", minimal(SignalEnabledChannels, "source,jmx"), SignalEnabledChannels, `channel "jmx" is not supported`},
		{"kafka signals without brokers", minimal(SignalEnabledChannels, "kafka"), SignalKafkaBootstrap, "set signal.kafka.bootstrap.servers"},
		{"missing prefix", map[string]string{Hostname: "db", User: "u", DBName: "app"}, TopicPrefix, "missing required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.p)
			es, ok := err.(config.Errors)
			if !ok || len(es) == 0 {
				t.Fatalf("ParseConfig: %v", err)
			}
			if es[0].Key != tt.key || !strings.Contains(es[0].Reason, tt.want) {
				t.Errorf("error %v, want %q under %s", es[0], tt.want, tt.key)
			}
		})
	}
}

func TestCaptures(t *testing.T) {
	cfg, err := ParseConfig(minimal(SchemaExcludeList, "audit", TableIncludeList, "public\\.orders.*,inventory\\..*",
		TableExcludeList, "public.orders_tmp", ColumnExcludeList, "public.orders.secret",
		MessageKeyColumns, "public.orders:tenant,id;inventory.items:sku", SkippedOperations, "u,d"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		schema, table string
		want          bool
	}{{"public", "orders", true}, {"public", "orders_2024", true}, {"public", "orders_tmp", false}, {"public", "users", false},
		{"inventory", "items", true}, {"audit", "orders", false}, {"pg_catalog", "pg_class", false}} {
		if got := cfg.Captures(tt.schema, tt.table); got != tt.want {
			t.Errorf("Captures(%s.%s) = %v", tt.schema, tt.table, got)
		}
	}
	if cfg.CapturesColumn("public", "orders", "secret") || !cfg.CapturesColumn("public", "orders", "id") {
		t.Errorf("column filter wrong")
	}
	if k := cfg.KeyColumns["public.orders"]; len(k) != 2 || k[0] != "tenant" || k[1] != "id" {
		t.Errorf("key columns %v", cfg.KeyColumns)
	}
	if !cfg.SkipUpdate || !cfg.SkipDelete || cfg.SkipTruncate || cfg.SkipCreate {
		t.Errorf("skipped operations %+v", cfg)
	}
}

func TestOffsetRoundTrip(t *testing.T) {
	for _, o := range []offset{
		{lsnProc: 10, lsnCommit: 20, lsn: 15, txID: 7, event: 3, tsUsec: 99},
		{snapshot: true, snapshotChunks: "1:0,1:2", lsnProc: 5, lsn: 5},
		{lsnProc: 5, lastSnapshot: true},
	} {
		m := o.toMap()
		// Through JSON numbers, as an offsets store may give them back.
		back := map[string]any{}
		for k, v := range m {
			if n, ok := v.(int64); ok {
				back[k] = float64(n)
			} else {
				back[k] = v
			}
		}
		got, err := parseOffsetMap(back)
		if err != nil || got != o {
			t.Errorf("round trip of %+v: %+v, %v", o, got, err)
		}
	}
}

func TestConnectErrorNamesTheFix(t *testing.T) {
	cfg, err := ParseConfig(minimal(Port, "6543"))
	if err != nil {
		t.Fatal(err)
	}
	auth := connectError(cfg, &pgconn.PgError{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "u"`})
	net := connectError(cfg, errors.New("dial tcp: connection refused"))
	noDB := connectError(cfg, &pgconn.PgError{Severity: "FATAL", Code: "3D000", Message: `database "x" does not exist`})
	for _, tt := range []struct {
		err  error
		want []string
	}{
		{auth, []string{"db:6543", `user "u"`, "database.password"}},
		{net, []string{"db:6543", `user "u"`, "database.hostname"}},
		{noDB, []string{"db:6543", "database.dbname", "exists on the server"}},
	} {
		for _, w := range tt.want {
			if !strings.Contains(tt.err.Error(), w) {
				t.Errorf("%q lacks %q", tt.err, w)
			}
		}
	}
	if ce, ok := auth.(*ConnectError); !ok || !ce.Auth {
		t.Errorf("authentication failure not marked: %#v", auth)
	}
	if ce, ok := noDB.(*ConnectError); !ok || !ce.NoDB || ce.Auth {
		t.Errorf("missing database not marked: %#v", noDB)
	}
	if strings.Contains(noDB.Error(), "database.hostname") {
		t.Errorf("missing database sends the user to database.hostname: %s", noDB)
	}
}

func TestAppNameFitsAndNamesTheConnector(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	tests := []struct{ name, want string }{
		{"", "sluice"},
		{"orders", "sluice orders"},
		{strings.Repeat("a", 56), "sluice " + strings.Repeat("a", 56)},
	}
	for _, tc := range tests {
		if got := appName(tc.name); got != tc.want {
			t.Errorf("appName(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	a, b := appName(long), appName(long+"x")
	if len(a) > 63 || !utf8.ValidString(a) || !strings.HasPrefix(a, "sluice é") || a == b {
		t.Errorf("long names: %q and %q; want distinct valid UTF-8 of at most 63 bytes", a, b)
	}
}
