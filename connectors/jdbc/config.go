package jdbc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Connector properties. Debezium's JDBC sink names come first; Confluent's
// names for the same feature are accepted as aliases (connection.user,
// pk.mode, pk.fields, collection.name.format is Debezium 3's new name).
const (
	ConnectionURL      = "connection.url"
	ConnectionUsername = "connection.username"
	ConnectionPassword = "connection.password"
	Topics             = "topics"
	TopicsRegex        = "topics.regex"
	InsertMode         = "insert.mode"
	PrimaryKeyMode     = "primary.key.mode"
	PrimaryKeyFields   = "primary.key.fields"
	DeleteEnabled      = "delete.enabled"
	TruncateEnabled    = "truncate.enabled"
	SchemaEvolution    = "schema.evolution"
	AutoCreate         = "auto.create"
	AutoEvolve         = "auto.evolve"
	TableNameFormat    = "table.name.format"
	QuoteIdentifiers   = "quote.identifiers"
	BatchSize          = "batch.size"
	MaxRetries         = "max.retries"
	RetryBackoffMs     = "retry.backoff.ms"
	DatabaseTimeZone   = "database.time_zone"
	CopyThreshold      = "sluice.copy.threshold"
	TableFillFactor    = "sluice.table.fillfactor"
	Placeholder        = "unavailable.value.placeholder"
	// QuoteSQLIdentifiers is Confluent's always/never form of
	// quote.identifiers.
	QuoteSQLIdentifiers = "quote.sql.identifiers"
)

// Values of insert.mode.
const (
	ModeInsert = "insert"
	ModeUpsert = "upsert"
	ModeUpdate = "update"
)

// Values of primary.key.mode.
const (
	PKNone        = "none"
	PKKafka       = "kafka"
	PKRecordKey   = "record_key"
	PKRecordValue = "record_value"
)

// DefaultPlaceholder is Debezium's unavailable.value.placeholder default.
const DefaultPlaceholder = cdc.UnavailableValuePlaceholder

const (
	groupConn   = "Connection"
	groupWrite  = "Writes"
	groupSchema = "Schema"
	groupRetry  = "Retries"
)

var def = config.NewDef(
	config.Key{Name: ConnectionURL, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High,
		Group: groupConn, Order: 1, DisplayName: "JDBC URL", Validator: validURL,
		Doc: "Target database as a JDBC URL: jdbc:postgresql://host:port/db?params, jdbc:mysql://host:port/db?params or jdbc:mariadb://host:port/db?params. user and password query parameters are used when connection.username/connection.password are not set. " +
			"TLS takes the drivers' own parameters, with PEM files only: PostgreSQL JDBC's sslmode (disable, allow, prefer (default), require, verify-ca, verify-full), ssl=true (verify-full), sslrootcert, sslcert, sslkey; " +
			"MySQL Connector/J's sslMode (DISABLED, PREFERRED (default), REQUIRED, VERIFY_CA, VERIFY_IDENTITY), useSSL, requireSSL, verifyServerCertificate, trustCertificateKeyStoreUrl (CA), clientCertificateKeyStoreUrl (certificate and key in one file); " +
			"MariaDB Connector/J's sslMode (disable (default), trust, verify-ca, verify-full), useSsl, trustServerCertificate, disableSslHostnameVerification, serverSslCert (CA), keyStore (certificate and key). " +
			"Only the verifying modes (verify-ca, verify-full, VERIFY_CA, VERIFY_IDENTITY) resist a man in the middle; allow, prefer and PREFERRED can be downgraded to plain text. See docs/security.md."},
	config.Key{Name: ConnectionUsername, ConnectionIdentity: true, Type: config.String, Default: nil, Importance: config.High,
		Group: groupConn, Order: 2, DisplayName: "User", Aliases: []string{"connection.user"},
		Doc: "Database user (Confluent's name connection.user is accepted too)."},
	config.Key{Name: ConnectionPassword, Type: config.Password, Default: nil, Importance: config.High,
		Group: groupConn, Order: 3, DisplayName: "Password",
		Doc: "Database password."},
	config.Key{Name: DatabaseTimeZone, Type: config.String, Default: "UTC", Importance: config.Medium,
		Group: groupConn, Order: 4, DisplayName: "Database time zone", Validator: config.TimeZone,
		Aliases: []string{"use.time.zone", "db.timezone"},
		Doc:     "Time zone of the session; timestamps with a zone (io.debezium.time.ZonedTimestamp) are written in it to MySQL/MariaDB DATETIME columns. Debezium's use.time.zone and Confluent's db.timezone are accepted too."},
	config.Key{Name: Topics, Type: config.List, Default: "", Importance: config.High,
		Group: groupWrite, Order: 1, DisplayName: "Topics",
		Doc: "Topics to consume (or topics.regex)."},
	config.Key{Name: TopicsRegex, Type: config.String, Default: "", Importance: config.High,
		Group: groupWrite, Order: 2, DisplayName: "Topics regex", Validator: config.Regex,
		Doc: "Regular expression of the topics to consume (or topics)."},
	config.Key{Name: InsertMode, Type: config.String, Default: ModeInsert, Importance: config.High,
		Group: groupWrite, Order: 3, DisplayName: "Insert mode", Validator: config.In(ModeInsert, ModeUpsert, ModeUpdate),
		Doc: "insert: plain INSERT; upsert: insert or update by primary key (INSERT … ON CONFLICT / ON DUPLICATE KEY UPDATE), idempotent; update: UPDATE by primary key."},
	config.Key{Name: PrimaryKeyMode, Type: config.String, Default: PKNone, Importance: config.High,
		Group: groupWrite, Order: 4, DisplayName: "Primary key mode", Aliases: []string{"pk.mode"},
		Validator: config.In(PKNone, PKKafka, PKRecordKey, PKRecordValue),
		Doc:       "Where the primary key comes from: none; kafka (__connect_topic, __connect_partition, __connect_offset); record_key (the key's fields, or primary.key.fields of them); record_value (primary.key.fields of the value). Confluent's pk.mode is accepted too."},
	config.Key{Name: PrimaryKeyFields, Type: config.List, Default: "", Importance: config.Medium,
		Group: groupWrite, Order: 5, DisplayName: "Primary key fields", Aliases: []string{"pk.fields"},
		Doc: "Fields of the key (record_key) or of the value (record_value) that form the primary key; empty means every key field. Confluent's pk.fields is accepted too."},
	config.Key{Name: DeleteEnabled, Type: config.Boolean, Default: false, Importance: config.Medium,
		Group: groupWrite, Order: 6, DisplayName: "Delete enabled",
		Doc: "Apply deletes (op d and tombstones) as DELETE by key; needs primary.key.mode=record_key."},
	config.Key{Name: TruncateEnabled, Type: config.Boolean, Default: false, Importance: config.Medium,
		Group: groupWrite, Order: 7, DisplayName: "Truncate enabled",
		Doc: "Apply truncate events (op t) as TRUNCATE TABLE."},
	config.Key{Name: TableNameFormat, Type: config.String, Default: "${topic}", Importance: config.Medium,
		Group: groupWrite, Order: 8, DisplayName: "Table name format", Aliases: []string{"collection.name.format"},
		Doc: "Target table name. ${topic} is the topic with dots replaced by underscores (as Debezium's sink does); ${source.table}, ${source.schema} and ${source.db} come from the envelope's source block. A dot left in the result separates schema and table."},
	config.Key{Name: QuoteIdentifiers, Type: config.Boolean, Default: false, Importance: config.Low,
		Group: groupWrite, Order: 9, DisplayName: "Quote identifiers",
		Doc: "Keep the case of table and column names. When false, PostgreSQL names are folded to lower case as unquoted SQL does."},
	config.Key{Name: QuoteSQLIdentifiers, Type: config.String, Default: nil, Importance: config.Low,
		Group: groupWrite, Order: 9, DisplayName: "Quote SQL identifiers (Confluent)", Validator: config.In("always", "never"),
		Doc: "Confluent's name for quote.identifiers: always is true, never is false. When set it wins over quote.identifiers."},
	config.Key{Name: BatchSize, Type: config.Int, Default: 3000, Importance: config.Medium,
		Group: groupWrite, Order: 10, DisplayName: "Batch size", Validator: config.AtLeast(1),
		Doc: "Records buffered before they are written in one transaction (a flush writes whatever is buffered)."},
	config.Key{Name: CopyThreshold, Type: config.Int, Default: 1000, Importance: config.Low,
		Group: groupWrite, Order: 11, DisplayName: "COPY threshold", Validator: config.AtLeast(1),
		Doc: "PostgreSQL: a table's rows in one transaction from which they go through COPY into a temporary table instead of multi-row statements."},
	config.Key{Name: TableFillFactor, Type: config.Int, Default: 100, Importance: config.Low,
		Group: groupSchema, Order: 9, DisplayName: "Fill factor of created tables (PostgreSQL)", Validator: validFillFactor,
		Doc: "PostgreSQL: the fillfactor of tables the sink creates. 100, PostgreSQL's default, packs pages full, so every update of a row writes its new version elsewhere and a new index entry. Lower leaves room on each page for updates in place (HOT): for a replica whose rows are updated often, 50 made upserts that update every row 1.6 times faster in the benchmarks (docs/benchmarks.md), for up to twice the table's size. Tables that already exist are not changed (ALTER TABLE … SET (fillfactor = …) does that). MySQL and MariaDB have no per-table fill factor: any other value than 100 is refused for them."},
	config.Key{Name: Placeholder, Type: config.String, Default: DefaultPlaceholder, Importance: config.Low,
		Group: groupWrite, Order: 12, DisplayName: "Unavailable value placeholder",
		Doc: "Value the source writes for an unchanged TOASTed column; such a column is left out of the update so the stored value stays, whatever its type. Recognised: the value as a string or its bytes; as Debezium writes arrays, a one-element array of it (or of the name-based UUID of its bytes, for uuid arrays), or its bytes as the elements of an integer array; {value: value} for a map; and as Sluice's PostgreSQL source writes numerics, a Decimal or VariableScaleDecimal whose unscaled value is its bytes (also float and date arrays of its bytes). A field named by a __sluice.unavailable record header (one per field, added by Sluice's PostgreSQL source) is left out whatever it holds, which covers types no stand-in value can mark, such as boolean arrays."},
	config.Key{Name: SchemaEvolution, Type: config.String, Default: "none", Importance: config.Medium,
		Group: groupSchema, Order: 1, DisplayName: "Schema evolution", Validator: config.In("none", "basic"),
		Doc: "basic: create missing tables and add new columns (same as auto.create=true and auto.evolve=true)."},
	config.Key{Name: AutoCreate, Type: config.Boolean, Default: false, Importance: config.Medium,
		Group: groupSchema, Order: 2, DisplayName: "Auto create",
		Doc: "Create a missing table from the record schema (Confluent's name)."},
	config.Key{Name: AutoEvolve, Type: config.Boolean, Default: false, Importance: config.Medium,
		Group: groupSchema, Order: 3, DisplayName: "Auto evolve",
		Doc: "Add columns for new optional fields and widen columns (Confluent's name)."},
	config.Key{Name: MaxRetries, Type: config.Int, Default: 10, Importance: config.Medium,
		Group: groupRetry, Order: 1, DisplayName: "Max retries", Validator: config.AtLeast(0),
		Aliases: []string{"flush.max.retries"},
		Doc:     "Times a batch that failed with a retriable database error (lost connection, deadlock, serialization failure) is retried before the sink reports the failure to the runtime, still as retriable: the runtime retries for errors.retry.timeout and then opens the task's circuit breaker (sluice.circuit.breaker.*), which waits for the database without failing the task."},
	config.Key{Name: RetryBackoffMs, Type: config.Long, Default: int64(3000), Importance: config.Medium,
		Group: groupRetry, Order: 2, DisplayName: "Retry back-off (ms)", Validator: config.AtLeast(0),
		Aliases: []string{"flush.retry.delay.ms"},
		Doc:     "Milliseconds to wait before the first retry; doubled each retry up to 10 times the value."},
)

// Def returns the connector's config definition.
func Def() *config.Def { return def }

// Config is the parsed connector config.
type Config struct {
	URL              *URL
	InsertMode       string
	PKMode           string
	PKFields         []string
	DeleteEnabled    bool
	TruncateEnabled  bool
	AutoCreate       bool
	AutoEvolve       bool
	TableNameFormat  string
	QuoteIdentifiers bool
	BatchSize        int
	CopyThreshold    int
	FillFactor       int
	Placeholder      string
	MaxRetries       int
	RetryBackoff     time.Duration
	TimeZone         *time.Location
}

// ParseConfig parses and checks props.
func ParseConfig(props map[string]string) (*Config, error) {
	v, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	u, err := ParseURL(v.String(ConnectionURL))
	if err != nil {
		return nil, &config.Error{Key: ConnectionURL, Value: config.RedactText(v.String(ConnectionURL)), Reason: err.Error()}
	}
	if v.IsSet(ConnectionUsername) {
		u.User = v.String(ConnectionUsername)
	}
	if v.IsSet(ConnectionPassword) {
		u.Password = v.String(ConnectionPassword)
	}
	loc, _ := time.LoadLocation(v.String(DatabaseTimeZone))
	c := &Config{
		URL:              u,
		InsertMode:       strings.ToLower(v.String(InsertMode)),
		PKMode:           strings.ToLower(v.String(PrimaryKeyMode)),
		PKFields:         v.List(PrimaryKeyFields),
		DeleteEnabled:    v.Bool(DeleteEnabled),
		TruncateEnabled:  v.Bool(TruncateEnabled),
		AutoCreate:       v.Bool(AutoCreate) || strings.EqualFold(v.String(SchemaEvolution), "basic"),
		AutoEvolve:       v.Bool(AutoEvolve) || strings.EqualFold(v.String(SchemaEvolution), "basic"),
		TableNameFormat:  v.String(TableNameFormat),
		QuoteIdentifiers: v.Bool(QuoteIdentifiers),
		BatchSize:        v.Int(BatchSize),
		CopyThreshold:    v.Int(CopyThreshold),
		FillFactor:       v.Int(TableFillFactor),
		Placeholder:      v.String(Placeholder),
		MaxRetries:       v.Int(MaxRetries),
		RetryBackoff:     v.Duration(RetryBackoffMs),
		TimeZone:         loc,
	}
	if v.IsSet(QuoteSQLIdentifiers) {
		c.QuoteIdentifiers = strings.EqualFold(v.String(QuoteSQLIdentifiers), "always")
	}
	var errs config.Errors
	if c.DeleteEnabled && c.PKMode != PKRecordKey {
		errs = append(errs, &config.Error{Key: DeleteEnabled, Value: "true",
			Reason: "deletes are applied by record key; set primary.key.mode=record_key or delete.enabled=false"})
	}
	if c.InsertMode != ModeInsert && (c.PKMode == PKNone) {
		errs = append(errs, &config.Error{Key: InsertMode, Value: c.InsertMode,
			Reason: "needs a primary key; set primary.key.mode to record_key, record_value or kafka, or insert.mode=insert"})
	}
	if c.PKMode == PKRecordValue && len(c.PKFields) == 0 {
		errs = append(errs, &config.Error{Key: PrimaryKeyFields,
			Reason: "primary.key.mode=record_value needs the value fields that form the key; list them in primary.key.fields"})
	}
	if c.PKMode == PKKafka && len(c.PKFields) != 0 && len(c.PKFields) != 3 {
		errs = append(errs, &config.Error{Key: PrimaryKeyFields, Value: strings.Join(c.PKFields, ","),
			Reason: "primary.key.mode=kafka takes three column names (topic, partition, offset) or none for __connect_topic,__connect_partition,__connect_offset"})
	}
	if c.FillFactor != 100 && u.Dialect != DialectPostgres {
		errs = append(errs, &config.Error{Key: TableFillFactor, Value: strconv.Itoa(c.FillFactor),
			Reason: "MySQL and MariaDB have no per-table fill factor; leave it at 100 (InnoDB's innodb_fill_factor is server-wide)"})
	}
	if len(v.List(Topics)) == 0 && v.String(TopicsRegex) == "" {
		errs = append(errs, &config.Error{Key: Topics, Reason: "set topics or topics.regex to the topics to write"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

func validURL(name string, value any) error {
	s, _ := value.(string)
	_, err := ParseURL(s)
	return err
}

func validFillFactor(name string, value any) error {
	if n, _ := value.(int); n < 10 || n > 100 {
		return fmt.Errorf("must be between 10 and 100 (PostgreSQL's range)")
	}
	return nil
}
