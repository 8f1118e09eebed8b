package jdbc

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		want    URL
		wantErr string
	}{
		{in: "jdbc:postgresql://db.example:6543/shop?user=u&password=p%40ss&sslmode=disable",
			want: URL{Dialect: DialectPostgres, Host: "db.example", Port: 6543, Database: "shop", User: "u", Password: "p@ss", Params: map[string]string{"sslmode": "disable"}}},
		{in: "jdbc:postgresql://localhost/shop",
			want: URL{Dialect: DialectPostgres, Host: "localhost", Port: 5432, Database: "shop", Params: map[string]string{}}},
		{in: "jdbc:mysql://10.0.0.1:3307/inv?user=root;connectTimeout=500",
			want: URL{Dialect: DialectMySQL, Host: "10.0.0.1", Port: 3307, Database: "inv", User: "root", Params: map[string]string{"connectTimeout": "500"}}},
		{in: "jdbc:mariadb://u:pw@[::1]:3306/inv",
			want: URL{Dialect: DialectMariaDB, Host: "::1", Port: 3306, Database: "inv", User: "u", Password: "pw", Params: map[string]string{}}},
		{in: "postgresql://h/db", wantErr: "must start with jdbc:"},
		{in: "jdbc:oracle:thin://h/db", wantErr: "not supported"},
		{in: "jdbc:postgresql://h:99999/db", wantErr: "port"},
		{in: "jdbc:postgresql://h:5432/", wantErr: "names no database"},
		{in: "jdbc:mysql://a,b/db", wantErr: "several hosts"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := ParseURL(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseURL error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.Dialect != tc.want.Dialect || u.Host != tc.want.Host || u.Port != tc.want.Port || u.Database != tc.want.Database ||
				u.User != tc.want.User || u.Password != tc.want.Password || len(u.Params) != len(tc.want.Params) {
				t.Fatalf("ParseURL = %+v, want %+v", *u, tc.want)
			}
			for k, v := range tc.want.Params {
				if u.Params[k] != v {
					t.Fatalf("param %s = %q, want %q", k, u.Params[k], v)
				}
			}
		})
	}
}

func TestURLDriverConfigs(t *testing.T) {
	u, err := ParseURL("jdbc:postgresql://h:1/d?currentSchema=app&ApplicationName=x&sslmode=disable&user=a&password=it's")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := u.PgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	if pc.Host != "h" || pc.Port != 1 || pc.Database != "d" || pc.User != "a" || pc.Password != "it's" ||
		pc.RuntimeParams["search_path"] != "app" || pc.RuntimeParams["application_name"] != "x" || pc.TLSConfig != nil {
		t.Fatalf("pgx config = %+v", pc)
	}
	m, _ := ParseURL("jdbc:mariadb://h:2/d?user=r&password=s&connectTimeout=1500")
	mc, err := m.MySQLConfig(time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Addr != "h:2" || mc.DBName != "d" || mc.User != "r" || mc.Passwd != "s" || mc.Timeout != 1500*time.Millisecond || !mc.InterpolateParams {
		t.Fatalf("mysql config = %+v", mc)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"jdbc:postgresql://h:5432/db?user=u", "jdbc:mysql://u:p@h/db;a=b", "jdbc:mariadb://[::1]:1/x?%zz", "jdbc:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			return
		}
		if u.Database == "" || u.Host == "" || u.Port <= 0 || u.Port > 65535 {
			t.Fatalf("ParseURL(%q) accepted %+v", s, u)
		}
		if u.Dialect == DialectPostgres {
			if _, err := u.PgxConfig(); err != nil {
				t.Fatalf("PgxConfig of accepted %q: %v", s, err)
			}
		}
	})
}

func TestParseConfig(t *testing.T) {
	base := func(kv ...string) map[string]string {
		m := map[string]string{ConnectionURL: "jdbc:postgresql://h/db", Topics: "a"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	t.Run("confluent names", func(t *testing.T) {
		c, err := ParseConfig(base("connection.user", "bob", ConnectionPassword, "pw", "pk.mode", "record_value",
			"pk.fields", "id,tenant", InsertMode, "upsert", AutoCreate, "true", "auto.evolve", "true",
			"db.timezone", "Asia/Tokyo", QuoteSQLIdentifiers, "always"))
		if err != nil {
			t.Fatal(err)
		}
		if c.URL.User != "bob" || c.URL.Password != "pw" || c.PKMode != PKRecordValue || strings.Join(c.PKFields, ",") != "id,tenant" ||
			c.InsertMode != ModeUpsert || !c.AutoCreate || !c.AutoEvolve || c.TimeZone.String() != "Asia/Tokyo" || !c.QuoteIdentifiers {
			t.Fatalf("config = %+v", c)
		}
	})
	t.Run("debezium names", func(t *testing.T) {
		c, err := ParseConfig(base(ConnectionUsername, "al", PrimaryKeyMode, "record_key", DeleteEnabled, "true",
			SchemaEvolution, "basic", "collection.name.format", "${source.table}", "use.time.zone", "Europe/Paris", "flush.retry.delay.ms", "250",
			"flush.max.retries", "3"))
		if err != nil {
			t.Fatal(err)
		}
		if c.URL.User != "al" || !c.DeleteEnabled || !c.AutoCreate || !c.AutoEvolve || c.TableNameFormat != "${source.table}" ||
			c.TimeZone.String() != "Europe/Paris" || c.RetryBackoff != 250*time.Millisecond || c.MaxRetries != 3 || c.BatchSize != 3000 {
			t.Fatalf("config = %+v", c)
		}
	})
	bad := []struct {
		name, key string
		props     map[string]string
	}{
		{"delete needs record_key", DeleteEnabled, base(DeleteEnabled, "true", PrimaryKeyMode, "record_value", PrimaryKeyFields, "id")},
		{"upsert needs a key", InsertMode, base(InsertMode, "upsert")},
		{"record_value needs fields", PrimaryKeyFields, base(PrimaryKeyMode, "record_value")},
		{"bad url", ConnectionURL, base(ConnectionURL, "jdbc:db2://h/x")},
		{"bad mode", InsertMode, base(InsertMode, "merge")},
		{"no topics", Topics, map[string]string{ConnectionURL: "jdbc:postgresql://h/db"}},
		{"bad zone", DatabaseTimeZone, base(DatabaseTimeZone, "Mars/Olympus")},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.props)
			var ce *config.Error
			var ces config.Errors
			found := false
			if errors.As(err, &ces) {
				for _, e := range ces {
					found = found || e.Key == tc.key
				}
			} else if errors.As(err, &ce) {
				found = ce.Key == tc.key
			}
			if !found {
				t.Fatalf("ParseConfig error = %v, want one for %s", err, tc.key)
			}
		})
	}
}

// testDecoder returns a decoder with PostgreSQL naming rules.
func testDecoder(t *testing.T, kv ...string) *decoder {
	t.Helper()
	props := map[string]string{ConnectionURL: "jdbc:postgresql://h/db", Topics: "a", PrimaryKeyMode: "record_key",
		DeleteEnabled: "true", InsertMode: "upsert", TruncateEnabled: "true"}
	for i := 0; i < len(kv); i += 2 {
		props[kv[i]] = kv[i+1]
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	return &decoder{cfg: cfg, shapes: map[shapeKey]*shape{}, names: map[string]tableName{}, dialect: &postgres{cfg: cfg}}
}

func TestReduction(t *testing.T) {
	g := newGen("srv.public.items")
	type want struct {
		op   op
		id   int64
		name any
	}
	tests := []struct {
		name string
		recs []*connectors.Record
		want []want
	}{
		{"last update wins", []*connectors.Record{g.upsert(1, "a", 1), g.upsert(1, "b", 2)}, []want{{opUpsert, 1, "b"}}},
		{"delete then reinsert is an upsert", []*connectors.Record{g.upsert(1, "a", 1), g.del(1), g.tomb(1), g.upsert(1, "c", 3)}, []want{{opUpsert, 1, "c"}}},
		{"insert then delete is a delete", []*connectors.Record{g.upsert(2, "a", 1), g.del(2), g.tomb(2)}, []want{{opDelete, 2, nil}}},
		{"placeholder filled from the batch", []*connectors.Record{g.upsert(3, "long", 1), g.upsert(3, DefaultPlaceholder, 2)}, []want{{opUpsert, 3, "long"}}},
		{"field named unavailable by a header filled from the batch", []*connectors.Record{g.upsert(3, "long", 1), unavailableName(g.upsert(3, "stand-in", 2))}, []want{{opUpsert, 3, "long"}}},
		{"truncate drops earlier", []*connectors.Record{g.upsert(4, "a", 1), g.truncate(), g.upsert(5, "b", 1)}, []want{{opUpsert, 5, "b"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := testDecoder(t)
			b := newBuffer()
			for _, r := range tc.recs {
				c, err := d.decode(r)
				if errors.Is(err, errSkip) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				b.add(c)
			}
			if len(b.order) != 1 {
				t.Fatalf("%d tables, want 1", len(b.order))
			}
			es := b.order[0].entries
			if len(es) != len(tc.want) {
				t.Fatalf("%d entries, want %d", len(es), len(tc.want))
			}
			for i, w := range tc.want {
				e := es[i]
				if e.op != w.op || e.vals[0] != w.id {
					t.Fatalf("entry %d = op %d id %v, want %+v", i, e.op, e.vals[0], w)
				}
				if w.op == opUpsert && (e.vals[1] != w.name || e.unavail != nil) {
					t.Fatalf("entry %d name = %v (unavailable %v), want %v", i, e.vals[1], e.unavail, w.name)
				}
			}
		})
	}
}

// unavailableName marks r's name field unavailable by header, whatever
// its value.
func unavailableName(r *connectors.Record) *connectors.Record {
	r.Headers = append(r.Headers, connectors.Header{Key: connectors.UnavailableHeader, Value: []byte("name")})
	return r
}

func TestIsPlaceholder(t *testing.T) {
	const ph = DefaultPlaceholder
	phInts := func(conv func(byte) any) []any {
		out := make([]any, len(ph))
		for i := range len(ph) {
			out[i] = conv(ph[i])
		}
		return out
	}
	varDec := func(b []byte) *connectors.StructValue {
		s := connectors.NewStruct(cdc.VariableScaleDecimalName, true, connectors.Opt("scale", connectors.Int32Schema), connectors.Opt("value", connectors.BytesSchema))
		v := connectors.NewStructValue(s)
		v.Values[0], v.Values[1] = int32(0), b
		return v
	}
	tests := []struct {
		name string
		v    any
		want bool
	}{
		{"string", ph, true},
		{"other string", "x", false},
		{"bytes", []byte(ph), true},
		{"text array", []any{ph}, true},
		{"bytea array", []any{[]byte(ph)}, true},
		{"uuid array", []any{"b68a35a7-17ad-35b3-af2a-ae46edb4545a"}, true},
		{"other uuid array", []any{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, false},
		{"int array", phInts(func(b byte) any { return int32(b) }), true},
		{"int8 array", phInts(func(b byte) any { return int64(b) }), true},
		{"float array", phInts(func(b byte) any { return float64(b) }), true},
		{"int array one off", append(phInts(func(b byte) any { return int32(b) })[1:], int32(0)), false},
		{"short int array", []any{int32(95)}, false},
		{"decimal", connectors.Decimal{Unscaled: new(big.Int).SetBytes([]byte(ph)), Scale: 3}, true},
		{"other decimal", connectors.Decimal{Unscaled: big.NewInt(95), Scale: 0}, false},
		{"decimal array", []any{connectors.Decimal{Unscaled: new(big.Int).SetBytes([]byte(ph)), Scale: 2}}, true},
		{"variable scale decimal", varDec([]byte(ph)), true},
		{"other variable scale decimal", varDec([]byte{1}), false},
		{"hstore map", []connectors.MapEntry{{Key: ph, Value: ph}}, true},
		{"other map", []connectors.MapEntry{{Key: ph, Value: "x"}}, false},
		{"bool", true, false},
	}
	for _, tc := range tests {
		if got := isPlaceholder(tc.v, ph); got != tc.want {
			t.Errorf("%s: isPlaceholder = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeErrorsAndNames(t *testing.T) {
	g := newGen("srv.public.items")
	d := testDecoder(t)
	r := g.upsert(1, "a", 1)
	r.Key, r.KeySchema = nil, nil
	_, err := d.decode(r)
	var re *connectors.RecordError
	if !errors.As(err, &re) || re.Topic != "srv.public.items" || re.Offset != r.Offset || re.Partition != 0 {
		t.Fatalf("missing key error = %v, want a RecordError naming the record", err)
	}
	d = testDecoder(t, PrimaryKeyMode, "record_value", PrimaryKeyFields, "sku", DeleteEnabled, "false")
	_, err = d.decode(g.upsert(1, "a", 1))
	if !errors.As(err, &re) || re.Column != "sku" || !strings.Contains(err.Error(), "srv.public.items-0@") {
		t.Fatalf("missing pk field error = %v, want a RecordError for column sku", err)
	}
	d = testDecoder(t, TableNameFormat, "archive.${source.table}_${source.db}")
	c, err := d.decode(g.upsert(1, "a", 1))
	if err != nil {
		t.Fatal(err)
	}
	if c.table != (tableName{schema: "archive", name: "items_shop"}) {
		t.Fatalf("table = %+v", c.table)
	}
	d = testDecoder(t)
	c, err = d.decode(g.upsert(1, "a", 1))
	if err != nil || c.table != (tableName{name: "srv_public_items"}) {
		t.Fatalf("${topic} table = %+v, %v; want dots replaced by underscores", c.table, err)
	}
}

func TestNormalize(t *testing.T) {
	dec := func(s string, scale int32) connectors.Decimal {
		d, err := connectors.ParseDecimal(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		s    *connectors.Schema
		in   any
		want any
	}{
		{"debezium date", &connectors.Schema{Type: connectors.Int32, Name: cdc.DateName}, int32(19000), time.Date(2022, 1, 8, 0, 0, 0, 0, time.UTC)},
		{"micro timestamp", &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimestampName}, int64(1_700_000_000_123_456), time.UnixMicro(1_700_000_000_123_456).UTC()},
		{"micro time", &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimeName}, int64(3_723_000_001), timeOfDay(3723000001 * time.Microsecond)},
		{"zoned", &connectors.Schema{Type: connectors.String, Name: cdc.ZonedTimestampName}, "2024-05-01T10:00:00.5+02:00", time.Date(2024, 5, 1, 8, 0, 0, 5e8, time.UTC)},
		{"decimal bytes", connectors.DecimalSchema(2, false), []byte{0xff, 0x85}, dec("-1.23", 2)},
		{"int from float64", connectors.Int64Schema, float64(42), int64(42)},
		// Debezium's ±infinity sentinels: before, +infinity became year
		// 294247 and -infinity overflowed into another finite timestamp.
		{"micro timestamp infinity", &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimestampName}, int64(9223372036825200000), infinity(1)},
		{"micro timestamp -infinity", &connectors.Schema{Type: connectors.Int64, Name: cdc.MicroTimestampName}, int64(-9223372036832400000), infinity(-1)},
		{"timestamp infinity", &connectors.Schema{Type: connectors.Int64, Name: cdc.TimestampName}, int64(9223372036825200), infinity(1)},
		{"timestamp -infinity", &connectors.Schema{Type: connectors.Int64, Name: cdc.TimestampName}, int64(-9223372036832400), infinity(-1)},
		{"nano timestamp -infinity", &connectors.Schema{Type: connectors.Int64, Name: cdc.NanoTimestampName}, int64(math.MinInt64), infinity(-1)},
		{"zoned infinity", &connectors.Schema{Type: connectors.String, Name: cdc.ZonedTimestampName}, "infinity", infinity(1)},
		{"zoned -infinity", &connectors.Schema{Type: connectors.String, Name: cdc.ZonedTimestampName}, "-infinity", infinity(-1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := columnFor("x", tc.s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := normalize(c, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			switch w := tc.want.(type) {
			case time.Time:
				if !got.(time.Time).Equal(w) {
					t.Fatalf("got %v, want %v", got, w)
				}
			case connectors.Decimal:
				if got.(connectors.Decimal).String() != w.String() {
					t.Fatalf("got %v, want %v", got, w)
				}
			default:
				if got != tc.want {
					t.Fatalf("got %v (%T), want %v", got, got, tc.want)
				}
			}
		})
	}
	if _, err := normalize(&column{kind: kInt32, schema: connectors.Int32Schema}, "x"); err == nil {
		t.Fatal("a string in an int32 field was accepted")
	}
	if twosComplement([]byte{0x01, 0x00}).Cmp(big.NewInt(256)) != 0 {
		t.Fatal("twosComplement(0x0100) != 256")
	}
}

func TestCompareTypes(t *testing.T) {
	tests := []struct {
		have, want string
		wider      string
		err        bool
	}{
		{"integer", "bigint", "bigint", false},
		{"bigint", "integer", "", false},
		{"int(11)", "bigint", "bigint", false},
		{"character varying(10)", "character varying(20)", "character varying(20)", false},
		{"text", "character varying(20)", "", false},
		{"character varying(5)", "text", "", false},
		{"varchar(5)", "longtext", "", false},
		{"integer", "text", "", true},
		{"integer", "double precision", "", true},
		{"jsonb", "text", "", false},
		{"numeric(10,2)", "numeric(12,2)", "numeric(12,2)", false},
		{"numeric(10,2)", "numeric(8,2)", "", false},
		{"numeric(10,2)", "numeric(10,4)", "numeric(12,4)", false},
		{"numeric(10,4)", "numeric(12,2)", "numeric(14,4)", false},
		{"numeric(10,2)", "numeric(6,4)", "numeric(12,4)", false},
		{"numeric(10,2)", "numeric(4,0)", "", false},
		{"numeric(10)", "numeric(10,1)", "numeric(11,1)", false},
		{"numeric(10,2)", "numeric", "numeric", false},
		{"numeric", "numeric(12,4)", "", false},
		{"numeric(1000,0)", "numeric(10,2)", "", true},
		{"decimal(10,2)", "decimal(65,4)", "decimal(65,4)", false},
		{"decimal(65,2)", "decimal(10,4)", "", true},
		{"decimal(60,2)", "decimal(31,30)", "", true},
		{"decimal(10,2)", "decimal(12,3)", "decimal(12,3)", false},
		{"decimal(10,2) unsigned", "decimal(10,3)", "decimal(11,3) unsigned", false},
		{"decimal(10,2)", "decimal(65,2)", "decimal(65,2)", false},
		{"numeric(10,2)", "text", "", true},
		{"integer", "numeric(10,2)", "", true},
	}
	for _, tc := range tests {
		wider, err := compareTypes(tc.have, tc.want)
		if wider != tc.wider || (err != nil) != tc.err {
			t.Errorf("compareTypes(%q, %q) = %q, %v; want %q, error %v", tc.have, tc.want, wider, err, tc.wider, tc.err)
		}
	}
}

func TestMySQLErrColumn(t *testing.T) {
	m := &mysqlDialect{}
	for msg, want := range map[string]string{
		"Data too long for column 'name' at row 1":                              "name",
		"Out of range value for column 'qty' at row 3":                          "qty",
		"Incorrect integer value: 'x' for column `shop`.`items`.`qty` at row 1": "qty",
		"Column 'sku' cannot be null":                                           "sku",
		"Duplicate entry '1' for key 'PRIMARY'":                                 "",
	} {
		if got := m.errColumn(&mysql.MySQLError{Number: 1406, Message: msg}); got != want {
			t.Errorf("errColumn(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestValidateCombinations(t *testing.T) {
	errs := (&Connector{}).Validate(t.Context(), map[string]string{ConnectionURL: "jdbc:postgresql://127.0.0.1:1/db", Topics: "a",
		DeleteEnabled: "true", InsertMode: "upsert"})
	if len(errs[DeleteEnabled]) != 1 || !strings.Contains(errs[DeleteEnabled][0], "primary.key.mode=record_key") ||
		len(errs[InsertMode]) != 1 {
		t.Fatalf("Validate = %v, want errors for delete.enabled and insert.mode", errs)
	}
	// A single bad property is left to the definition's own validation.
	if errs := (&Connector{}).Validate(t.Context(), map[string]string{ConnectionURL: "nope", Topics: "a"}); errs != nil {
		t.Fatalf("Validate = %v, want nil", errs)
	}
	if p := Plugin(); p.Name != "jdbc" || p.Class != "io.debezium.connector.jdbc.JdbcSinkConnector" || p.Type != connectors.SinkType ||
		len(p.Aliases) != 1 || p.Aliases[0] != "io.confluent.connect.jdbc.JdbcSinkConnector" {
		t.Fatalf("Plugin = %+v", p)
	}
	if _, ok := Plugin().New().(connectors.SinkConnector); !ok {
		t.Fatal("Plugin().New() is not a SinkConnector")
	}
}

// BenchmarkDecode measures the per-record work of Put without a database:
// envelope decoding, normalization and reduction.
func BenchmarkDecode(b *testing.B) {
	recs := benchRecords()
	cfg, err := ParseConfig(map[string]string{ConnectionURL: "jdbc:postgresql://h/db", Topics: "a", PrimaryKeyMode: "record_key",
		InsertMode: "upsert", DeleteEnabled: "true"})
	if err != nil {
		b.Fatal(err)
	}
	d := &decoder{cfg: cfg, shapes: map[shapeKey]*shape{}, names: map[string]tableName{}, dialect: &postgres{cfg: cfg}}
	buf := newBuffer()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf.reset()
		for _, r := range recs {
			c, err := d.decode(r)
			if err != nil {
				b.Fatal(err)
			}
			buf.add(c)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
}

func TestParseURLControlCharacters(t *testing.T) {
	for _, s := range []string{"jdbc:postgresql://h/db?password=a%00b", "jdbc:mysql://u%01:p@h/db", "jdbc:mariadb://h/d%0Ab"} {
		if _, err := ParseURL(s); err == nil {
			t.Errorf("ParseURL(%q) accepted a control character", s)
		}
	}
}

// TestDecodeEmptyBytes checks that an empty bytes value stays an empty
// value, not NULL: pgx and the MySQL driver write a nil []byte as NULL,
// so an empty bytea ('\x') came out as NULL in the target.
func TestDecodeEmptyBytes(t *testing.T) {
	key := connectors.NewStruct("srv.public.blobs.Key", false, connectors.Opt("id", connectors.Int64Schema))
	row := connectors.NewStruct("srv.public.blobs.Value", true, connectors.Opt("id", connectors.Int64Schema),
		connectors.Opt("b", connectors.OptionalBytesSchema))
	g := newGenWith("srv.public.blobs", key, row)
	d := testDecoder(t)
	for _, tc := range []struct {
		name string
		v    any
		want []byte // nil: NULL
	}{{"empty", []byte{}, []byte{}}, {"bytes", []byte{0, 1}, []byte{0, 1}}, {"null", nil, nil}} {
		c, err := d.decode(g.create(connectors.NewStructValue(row).Set("id", int64(1)).Set("b", tc.v)))
		if err != nil {
			t.Fatal(err)
		}
		got := c.e.vals[1]
		if tc.want == nil {
			if got != nil {
				t.Errorf("%s: value %#v, want nil (NULL)", tc.name, got)
			}
			continue
		}
		b, ok := got.([]byte)
		if !ok || b == nil || !bytes.Equal(b, tc.want) {
			t.Errorf("%s: value %#v, want non-nil %#v", tc.name, got, tc.want)
		}
	}
}

// TestMySQLArrayJSON checks the JSON that array fields become in MySQL:
// dates and zone-less timestamps as wall clocks without a zone, zoned
// timestamps as UTC instants.
func TestInfinityValues(t *testing.T) {
	ts := &column{kind: kTimestamp}
	tz := &column{kind: kTimestampTZ}
	if got := pgValue(ts, infinity(1)); got != (pgtype.Timestamp{InfinityModifier: pgtype.Infinity, Valid: true}) {
		t.Errorf("pgValue(timestamp, +infinity) = %#v", got)
	}
	if got := pgValue(tz, infinity(-1)); got != (pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}) {
		t.Errorf("pgValue(timestamptz, -infinity) = %#v", got)
	}
	arr := pgArray(ts, []any{infinity(-1), time.Unix(0, 0).UTC(), nil})
	xs, ok := arr.([]any)
	if !ok || len(xs) != 3 || xs[0] != (pgtype.Timestamp{InfinityModifier: pgtype.NegativeInfinity, Valid: true}) || xs[2] != nil {
		t.Errorf("pgArray with -infinity = %#v", arr)
	}
	if got := mysqlValue(ts, infinity(1), time.UTC); got != "infinity" {
		t.Errorf("mysqlValue(+infinity) = %v, want the text MySQL refuses", got)
	}
}

func TestMySQLArrayJSON(t *testing.T) {
	ts := time.Date(2024, 2, 29, 13, 14, 15, 250_000_000, time.UTC)
	for _, tc := range []struct {
		elem kind
		in   []any
		want string
	}{
		{kDate, []any{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), nil}, `["2024-02-29",null]`},
		{kTimestamp, []any{ts, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}, `["2024-02-29T13:14:15.25","1970-01-01T00:00:00"]`},
		{kTimestampTZ, []any{ts}, `["2024-02-29T13:14:15.25Z"]`},
		{kTime, []any{timeOfDay(13*time.Hour + 500*time.Microsecond)}, `["13:00:00.000500"]`},
		{kBytes, []any{[]byte{0, 0xff}}, `["AP8="]`},
	} {
		c := &column{kind: kArray, elem: &column{kind: tc.elem}}
		if got := mysqlValue(c, tc.in, time.UTC); got != tc.want {
			t.Errorf("array of kind %d: %v, want %s", tc.elem, got, tc.want)
		}
	}
}

// TestBufferKeepsPartitionsApart checks that reduction never crosses
// partitions and that dropping one leaves the others' changes intact.
func TestBufferKeepsPartitionsApart(t *testing.T) {
	d := testDecoder(t)
	g0, g1 := newGen("srv.public.items"), newGen("srv.public.items")
	g1.partion = 1
	add := func(b *buffer, r *connectors.Record) bool {
		t.Helper()
		c, err := d.decode(r)
		if err != nil {
			t.Fatal(err)
		}
		return b.add(c)
	}
	b := newBuffer()
	for _, r := range []*connectors.Record{g0.upsert(1, "a", 1), g1.upsert(2, "b", 2), g0.upsert(1, "a2", 1), g1.upsert(3, "c", 3)} {
		if !add(b, r) {
			t.Fatalf("%s[%d]@%d refused", r.Topic, r.Partition, r.Offset)
		}
	}
	if add(b, g1.upsert(1, "x", 1)) {
		t.Fatal("a key of partition 0 was reduced with a change of partition 1")
	}
	if add(b, g1.truncate()) {
		t.Fatal("a truncate of partition 1 dropped changes of partition 0")
	}
	b.drop(func(p partitionRef) bool { return p.partition == 0 })
	es := b.order[0].entries
	if len(es) != 2 || es[0].vals[0] != int64(2) || es[1].vals[0] != int64(3) || b.n != 2 {
		t.Fatalf("after dropping partition 0: %d entries (n %d), want keys 2 and 3", len(es), b.n)
	}
	// The key index was rebuilt: partition 1's key 3 still reduces.
	if !add(b, g1.upsert(3, "c2", 3)) || len(b.order[0].entries) != 2 || b.order[0].entries[1].vals[1] != "c2" {
		t.Fatal("key 3 did not reduce after the drop")
	}
	if !add(b, g1.truncate()) || !add(b, g1.upsert(4, "d", 4)) {
		t.Fatal("partition 1 alone refused")
	}
	b.drop(func(p partitionRef) bool { return p.partition == 1 })
	if len(b.order) != 0 || b.n != 0 || !b.empty() {
		t.Fatalf("after dropping every partition: %d tables, n %d", len(b.order), b.n)
	}
}

// TestFormatTimeOfDay: times are written as MySQL reads them back,
// negative ones (a MySQL TIME down to -838:59:59) with one minus sign.
func TestFormatTimeOfDay(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "00:00:00.000000"},
		{13*time.Hour + 14*time.Minute + 15*time.Second + 123456*time.Microsecond, "13:14:15.123456"},
		{838*time.Hour + 59*time.Minute + 59*time.Second, "838:59:59.000000"},
		{-(838*time.Hour + 59*time.Minute + 59*time.Second), "-838:59:59.000000"},
		{-1500 * time.Millisecond, "-00:00:01.500000"},
	} {
		if got := formatTimeOfDay(timeOfDay(c.d)); got != c.want {
			t.Errorf("formatTimeOfDay(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

// TestAppendKeyFarTimes: the reduction keys of times centuries apart
// differ (UnixNano, undefined there, could make two rows one).
func TestAppendKeyFarTimes(t *testing.T) {
	seen := map[string]time.Time{}
	for _, y := range []int{1, 1000, 1677, 1678, 1970, 2262, 2263, 5000, 9999} {
		for _, ns := range []int{0, 1} {
			tm := time.Date(y, 1, 1, 0, 0, 0, ns, time.UTC)
			k := string(appendKey(nil, tm))
			if prev, ok := seen[k]; ok {
				t.Errorf("%v and %v have the same key %q", prev, tm, k)
			}
			seen[k] = tm
		}
	}
}
