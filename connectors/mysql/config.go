package mysql

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Connector properties, named as Debezium's MySQL and MariaDB connectors
// name them.
const (
	Hostname              = "database.hostname"
	Port                  = "database.port"
	User                  = "database.user"
	Password              = "database.password"
	ServerID              = "database.server.id"
	SSLMode               = "database.ssl.mode"
	SSLRootCert           = "database.sslrootcert"
	SSLCert               = "database.sslcert"
	SSLKey                = "database.sslkey"
	ConnectTimeoutMs      = "connect.timeout.ms"
	TopicPrefix           = "topic.prefix"
	DatabaseIncludeList   = "database.include.list"
	DatabaseExcludeList   = "database.exclude.list"
	TableIncludeList      = "table.include.list"
	TableExcludeList      = "table.exclude.list"
	ColumnIncludeList     = "column.include.list"
	ColumnExcludeList     = "column.exclude.list"
	MessageKeyColumns     = "message.key.columns"
	SnapshotMode          = "snapshot.mode"
	SnapshotLockingMode   = "snapshot.locking.mode"
	SnapshotMaxThreads    = "snapshot.max.threads"
	SnapshotFetchSize     = "snapshot.fetch.size"
	GTIDSourceIncludes    = "gtid.source.includes"
	GTIDSourceExcludes    = "gtid.source.excludes"
	IncludeSchemaChanges  = "include.schema.changes"
	IncludeQuery          = "include.query"
	TombstonesOnDelete    = "tombstones.on.delete"
	SkippedOperations     = "skipped.operations"
	ProvideTxMetadata     = "provide.transaction.metadata"
	DecimalHandlingMode   = cdc.DecimalHandlingMode
	TimePrecisionMode     = cdc.TimePrecisionMode
	BinaryHandlingMode    = cdc.BinaryHandlingMode
	BigintUnsignedMode    = "bigint.unsigned.handling.mode"
	HeartbeatIntervalMs   = "heartbeat.interval.ms"
	MaxBatchSize          = "max.batch.size"
	MaxQueueSize          = "max.queue.size"
	MaxQueueSizeInBytes   = "max.queue.size.in.bytes"
	PollIntervalMs        = "poll.interval.ms"
	SignalDataCollection  = "signal.data.collection"
	SignalEnabledChannels = "signal.enabled.channels"
	SnapshotChunkSize     = "incremental.snapshot.chunk.size"
	ReadOnly              = "read.only"
	SignalKafkaTopic      = "signal.kafka.topic"
	SignalKafkaBootstrap  = "signal.kafka.bootstrap.servers"
	SignalKafkaGroupID    = "signal.kafka.groupId"
	TableFailureMode      = cdc.TableFailureMode
	// SchemaHistoryTopic and friends are accepted and not needed (see
	// their doc).
	SchemaHistoryTopic     = "schema.history.internal.kafka.topic"
	SchemaHistoryBootstrap = "schema.history.internal.kafka.bootstrap.servers"
)

// Snapshot modes.
const (
	SnapshotInitial     = "initial"
	SnapshotInitialOnly = "initial_only"
	SnapshotNoData      = "no_data"
	SnapshotNever       = "never"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotAlways      = "always"
)

// TLS modes (database.ssl.mode), Debezium's names.
const (
	SSLDisabled       = "disabled"
	SSLPreferred      = "preferred"
	SSLRequired       = "required"
	SSLVerifyCA       = "verify_ca"
	SSLVerifyIdentity = "verify_identity"
)

// BigintMode is bigint.unsigned.handling.mode.
type BigintMode string

// BIGINT UNSIGNED handling modes: long (int64; values above 2^63-1 wrap,
// as in Debezium) or precise (Decimal of scale 0).
const (
	BigintLong    BigintMode = "long"
	BigintPrecise BigintMode = "precise"
)

// Server ids picked when database.server.id is unset: Debezium's range.
const (
	ServerIDMin = 5400
	ServerIDMax = 6400
)

const (
	groupConn   = "Connection"
	groupFilter = "Filters"
	groupSnap   = "Snapshot"
	groupEvents = "Events"
	groupTypes  = "Data types"
	groupPerf   = "Performance"
)

func recommend(values ...any) config.Recommender {
	return func(string, map[string]any) ([]any, bool) { return values, true }
}

func validRegexList(name string, value any) error {
	for _, p := range value.([]string) {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("%q is not a valid regular expression: %v", p, err)
		}
	}
	return nil
}

// notYet refuses any value but the one this landing implements.
func notYet(implemented, why string) config.Validator {
	return func(name string, value any) error {
		s := strings.TrimSpace(fmt.Sprint(value))
		if v, ok := value.([]string); ok {
			s = strings.TrimSpace(strings.Join(v, ","))
		}
		if !strings.EqualFold(s, implemented) {
			return fmt.Errorf("%s; remove the property or set it to %q", why, implemented)
		}
		return nil
	}
}

func validSkipped(name string, value any) error {
	s, _ := value.(string)
	for _, op := range strings.Split(s, ",") {
		switch strings.TrimSpace(op) {
		case "c", "u", "d", "t", "none", "":
		default:
			return fmt.Errorf("%q is not an operation; use a comma-separated list of c, u, d, t, or none", op)
		}
	}
	return nil
}

func validMessageKeyColumns(name string, value any) error {
	_, err := parseMessageKeyColumns(value.(string))
	return err
}

// keyColumns is one message.key.columns entry.
type keyColumns struct {
	table *regexp.Regexp
	cols  []string
}

func parseMessageKeyColumns(s string) ([]keyColumns, error) {
	var out []keyColumns
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		table, cols, ok := strings.Cut(part, ":")
		table = strings.TrimSpace(table)
		if !ok || table == "" || strings.TrimSpace(cols) == "" {
			return nil, fmt.Errorf("%q: expected database.table:col1,col2", part)
		}
		re, err := regexp.Compile("^(?:" + table + ")$")
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid regular expression: %v", table, err)
		}
		k := keyColumns{table: re}
		for _, c := range strings.Split(cols, ",") {
			if c = strings.TrimSpace(c); c != "" {
				k.cols = append(k.cols, c)
			}
		}
		out = append(out, k)
	}
	return out, nil
}

func validSignalTable(name string, value any) error {
	s := strings.TrimSpace(value.(string))
	if s == "" {
		return nil
	}
	if db, t, ok := strings.Cut(s, "."); !ok || db == "" || t == "" || strings.Contains(t, ".") {
		return fmt.Errorf("%q: expected database.table", s)
	}
	return nil
}

func validChannels(name string, value any) error {
	for _, ch := range value.([]string) {
		if c := strings.ToLower(strings.TrimSpace(ch)); c != "source" && c != "kafka" && c != "" {
			return fmt.Errorf("channel %q is not supported by the MySQL source; use source (the signal table, signal.data.collection) and/or kafka (signal.kafka.topic)", ch)
		}
	}
	return nil
}

var def = config.NewDef(
	config.Key{Name: Hostname, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupConn, Order: 1,
		Validator: config.NonEmpty, Doc: "Host name or address of the MySQL or MariaDB server."},
	config.Key{Name: Port, ConnectionIdentity: true, Type: config.Int, Default: 3306, Importance: config.High, Group: groupConn, Order: 2,
		Validator: config.AtLeast(1), Doc: "Port of the server."},
	config.Key{Name: User, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupConn, Order: 3,
		Validator: config.NonEmpty, Doc: "User to connect as; needs REPLICATION SLAVE (MariaDB: BINLOG REPLAY or REPLICATION SLAVE), REPLICATION CLIENT (BINLOG MONITOR) and SELECT on the captured tables."},
	config.Key{Name: Password, Type: config.Password, Default: "", Importance: config.High, Group: groupConn, Order: 4,
		Doc: "Password of database.user."},
	config.Key{Name: ServerID, Type: config.Long, Default: int64(0), Importance: config.High, Group: groupConn, Order: 5,
		Validator: config.AtLeast(0), Doc: fmt.Sprintf("Server id the task registers as a replica with; it must differ from every other replica's and from the server's own. "+
			"0 or unset picks a random id in [%d, %d] at each start, as Debezium does.", ServerIDMin, ServerIDMax)},
	config.Key{Name: SSLMode, ConnectionIdentity: true, Type: config.String, Default: SSLPreferred, Importance: config.Medium, Group: groupConn, Order: 6,
		Validator:   config.In(SSLDisabled, SSLPreferred, SSLRequired, SSLVerifyCA, SSLVerifyIdentity),
		Recommender: recommend(SSLDisabled, SSLPreferred, SSLRequired, SSLVerifyCA, SSLVerifyIdentity),
		Doc: "TLS to the server, as Debezium, for every connection the connector makes (queries, snapshot and the binlog stream): " +
			"disabled (plain text); preferred (the default, as Debezium's: TLS when the server offers it, plain text otherwise, and the server's certificate is not verified, " +
			"so it protects against eavesdropping but not against a host impersonating the server; the binlog stream uses TLS when the query connections got it); " +
			"required (TLS or no connection, the certificate not verified unless database.sslrootcert is set, which makes it verify_ca, as the mysql client does); " +
			"verify_ca (required, and the server's certificate must be signed by the CA in database.sslrootcert); " +
			"verify_identity (verify_ca, and database.hostname must be a name in the certificate; without database.sslrootcert the system's trusted roots are used). " +
			"Use verify_identity on any network you do not trust."},
	config.Key{Name: SSLRootCert, ConnectionIdentity: true, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 7,
		Doc: "PEM file of the certificate authority that signed the server's certificate, for verify_ca, verify_identity and required. " +
			"Takes the place of Debezium's database.ssl.truststore (a Java key store, which is not read): keytool -exportcert -rfc -alias ALIAS -keystore truststore.jks gives the PEM."},
	config.Key{Name: SSLCert, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 8,
		Doc: "Client certificate file (PEM) for users created REQUIRE X509 (or SUBJECT/ISSUER); needs database.sslkey. " +
			"With database.sslkey it takes the place of Debezium's database.ssl.keystore (openssl pkcs12 -nodes converts a PKCS#12 key store)."},
	config.Key{Name: SSLKey, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 9,
		Doc: "Private key file (PEM, unencrypted) of database.sslcert."},
	config.Key{Name: ConnectTimeoutMs, Type: config.Long, Default: int64(30000), Importance: config.Low, Group: groupConn, Order: 10,
		Validator: config.AtLeast(1), Doc: "Milliseconds to wait for a connection to the server before giving up."},
	config.Key{Name: TopicPrefix, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupEvents, Order: 1,
		Validator: config.NonEmpty, Doc: "Prefix of every topic name (<topic.prefix>.<database>.<table>) and the source partition's server name."},
	config.Key{Name: DatabaseIncludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 1,
		Validator: validRegexList, Doc: "Regular expressions of databases to capture (all but system databases when empty)."},
	config.Key{Name: DatabaseExcludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 2,
		Validator: validRegexList, Doc: "Regular expressions of databases not to capture."},
	config.Key{Name: TableIncludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 3,
		Validator: validRegexList, Doc: "Regular expressions matching database.table of tables to capture."},
	config.Key{Name: TableExcludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 4,
		Validator: validRegexList, Doc: "Regular expressions matching database.table of tables not to capture."},
	config.Key{Name: ColumnIncludeList, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 5,
		Validator: validRegexList, Doc: "Regular expressions matching database.table.column of columns to include in events."},
	config.Key{Name: ColumnExcludeList, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 6,
		Validator: validRegexList, Doc: "Regular expressions matching database.table.column of columns to leave out of events."},
	config.Key{Name: MessageKeyColumns, Type: config.String, Default: "", Importance: config.Low, Group: groupFilter, Order: 7,
		Validator: validMessageKeyColumns,
		Doc:       "Key columns per table instead of the primary key, as Debezium: database.table:col1,col2;database.other:col (the table as a regular expression). A table whose listed column does not exist fails the task, naming it."},
	config.Key{Name: SnapshotMode, Type: config.String, Default: SnapshotInitial, Importance: config.Medium, Group: groupSnap, Order: 1,
		Validator:   config.In(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotWhenNeeded, SnapshotAlways),
		Recommender: recommend(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotWhenNeeded, SnapshotAlways),
		Doc: "initial snapshots the captured tables when there is no stored offset, then streams; initial_only stops after the snapshot; no_data (or never) only streams, from the server's current position; " +
			"always snapshots at every start; when_needed snapshots when there is no stored offset or the stored position is no longer on the server (binlog purged). " +
			"The snapshot takes no lock: one transaction WITH CONSISTENT SNAPSHOT reads every table, and the binlog position read inside it (binlog_snapshot_file/position) is where streaming starts. " +
			"It records its progress in the offset every incremental.snapshot.chunk.size rows: a restart streams from the snapshot's position and reads only what is left, in chunks (as signals' incremental snapshots), unless the mode is initial_only (the snapshot starts over). " +
			"It also hands the rest over to chunks when a table was altered after it began, or when DDL waits for its metadata locks (seen with the PROCESS privilege), so DDL never waits for the whole snapshot."},
	config.Key{Name: SnapshotLockingMode, Type: config.String, Default: "none", Importance: config.Medium, Group: groupSnap, Order: 2,
		Validator: notYet("none", "the MySQL source takes no global or table lock (MariaDB's consistent snapshot gives the exact binlog position without one)"),
		Doc:       "none: no lock is taken (Debezium's default, minimal, takes FLUSH TABLES WITH READ LOCK). Other values are refused."},
	config.Key{Name: SnapshotMaxThreads, Type: config.Int, Default: 1, Importance: config.Medium, Group: groupSnap, Order: 3,
		Validator: config.AtLeast(1),
		Doc: "1: the initial snapshot reads the tables one after another in one consistent-snapshot transaction. More: the initial snapshot (and any chunked snapshot) reads primary-key chunks of that many tables at once, " +
			"each chunk on its own connection in its own consistent snapshot, read ahead into memory (at most this many chunks of incremental.snapshot.chunk.size rows) and queued when the stream reaches that snapshot's binlog position, so events of the stream and of the snapshot interleave, exactly. " +
			"Tables without a usable primary key are read whole, one at a time, when the stream is at their position. Not with snapshot.mode=initial_only, which has no stream."},
	config.Key{Name: SnapshotFetchSize, Type: config.Int, Default: 10240, Importance: config.Low, Group: groupSnap, Order: 4,
		Validator: config.AtLeast(1), Doc: "Accepted for compatibility: snapshot rows are streamed from the server as it sends them, so memory is bounded by max.queue.size whatever this is."},
	config.Key{Name: GTIDSourceIncludes, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 8,
		Validator: validRegexList, Doc: "Regular expressions (matching the whole value, case-insensitively) of the GTID sources whose transactions' row changes are emitted: " +
			"the server UUID of MySQL GTIDs, domain-server (\"0-1\") of MariaDB GTIDs, as Debezium. Row changes of other transactions are skipped; " +
			"the offset still moves past them and its GTID set keeps every transaction read, so a restart resumes where the task stood (the position is not filtered). " +
			"Without GTIDs nothing is filtered. Not with gtid.source.excludes."},
	config.Key{Name: GTIDSourceExcludes, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 9,
		Validator: validRegexList, Doc: "Regular expressions of the GTID sources (as gtid.source.includes) whose transactions' row changes are not emitted. Not with gtid.source.includes."},
	config.Key{Name: IncludeSchemaChanges, Type: config.Boolean, Default: true, Importance: config.Medium, Group: groupEvents, Order: 2,
		Doc: "Emit a schema change event on the <topic.prefix> topic for each streamed DDL statement (CREATE, ALTER, DROP, RENAME TABLE, CREATE and DROP INDEX, CREATE, ALTER and DROP DATABASE) of the captured tables and databases, as Debezium does (its default is true too): key {databaseName}, value {source, ts_ms, databaseName, schemaName, ddl, tableChanges}. " +
			"tableChanges describe the tables as information_schema has them when the event is made, which may already include a later DDL; a DROP carries the columns last read by this task, or none. " +
			"The initial snapshot emits one per captured table before its rows, as Debezium's does: ddl is the table's SHOW CREATE TABLE, tableChanges one CREATE, source.snapshot true. Row events always carry the table's current columns, taken from the binlog's table-map metadata, whatever this is. See docs/mysql-schema-changes.md."},
	config.Key{Name: IncludeQuery, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupEvents, Order: 3,
		Doc: "Put the statement that made each streamed change in source.query, as Debezium does. It needs MariaDB's binlog_annotate_row_events=ON (the default) or MySQL's binlog_rows_query_log_events=ON; the task refuses to start without it. The statement may hold values of columns that column.exclude.list leaves out."},
	config.Key{Name: TombstonesOnDelete, Type: config.Boolean, Default: true, Importance: config.Medium, Group: groupEvents, Order: 4,
		Doc: "Follow each delete event by a tombstone (same key, null value) so compacted topics drop the key."},
	config.Key{Name: SkippedOperations, Type: config.String, Default: "t", Importance: config.Low, Group: groupEvents, Order: 5,
		Validator: validSkipped, Doc: "Comma-separated operations not to emit: c (create), u (update), d (delete), t (truncate), or none. The default skips truncates, as Debezium's does; without t, a streamed TRUNCATE TABLE of a captured table gives an event with op t, no key and no before or after, on the table's topic."},
	config.Key{Name: ProvideTxMetadata, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupEvents, Order: 6,
		Doc: "Emit BEGIN and END events of each streamed transaction with captured changes on <topic.prefix>.transaction (END with the event count per table), and fill each change event's transaction block ({id, total_order, data_collection_order}), as Debezium does. The id is the transaction's GTID, or file:pos without GTIDs. Snapshot events have none. A task restarted in the middle of a transaction continues its counts and sends no second BEGIN."},
	config.Key{Name: HeartbeatIntervalMs, Type: config.Int, Default: 0, Importance: config.Low, Group: groupEvents, Order: 7,
		Validator: config.AtLeast(0), Doc: "Milliseconds between heartbeat records on __debezium-heartbeat.<topic.prefix> while streaming, carrying the current position; 0 sends none. Without heartbeats the committed position still moves past changes of tables not captured."},
	config.Key{Name: TableFailureMode, Type: config.String, Default: cdc.TableFailureFail, Importance: config.Medium, Group: groupEvents, Order: 8,
		Validator: config.In(cdc.TableFailureFail, cdc.TableFailureQuarantine), Recommender: recommend(cdc.TableFailureFail, cdc.TableFailureQuarantine),
		Doc: "What a row that cannot be converted does while streaming: fail stops the task with an error naming table, column and binlog position; quarantine sets that table aside (its later changes are skipped and counted) while other tables keep streaming, until the task restarts."},
	config.Key{Name: SchemaHistoryTopic, Type: config.String, Default: "", Importance: config.Low, Group: groupEvents, Order: 9,
		Doc: "Accepted so that Debezium configs run unchanged, and not used: column names, keys, signedness, charsets and enum values come from the binlog's own table-map metadata (binlog_row_metadata=FULL), so there is no schema history topic to keep or lose."},
	config.Key{Name: SchemaHistoryBootstrap, Type: config.String, Default: "", Importance: config.Low, Group: groupEvents, Order: 10,
		Doc: "Accepted and not used, as schema.history.internal.kafka.topic."},
	config.Key{Name: DecimalHandlingMode, Type: config.String, Default: string(cdc.DecimalPrecise), Importance: config.Medium, Group: groupTypes, Order: 1,
		Validator: config.In("precise", "double", "string"), Recommender: recommend("precise", "double", "string"),
		Doc: "DECIMAL values as Connect Decimal (precise), FLOAT64 (double) or strings (string)."},
	config.Key{Name: TimePrecisionMode, Type: config.String, Default: string(cdc.TimeAdaptiveMicroseconds), Importance: config.Medium, Group: groupTypes, Order: 2,
		Validator:   config.In(string(cdc.TimeAdaptiveMicroseconds), string(cdc.TimeAdaptive)),
		Recommender: recommend(string(cdc.TimeAdaptiveMicroseconds), string(cdc.TimeAdaptive)),
		Doc: "adaptive_time_microseconds (Debezium's default): DATE as io.debezium.time.Date, TIME as MicroTime, DATETIME(0-3) as Timestamp (ms) and DATETIME(4-6) as MicroTimestamp; " +
			"adaptive: the same but TIME(0-3) as Time (ms). TIMESTAMP is always ZonedTimestamp (a UTC ISO-8601 string). Debezium's connect mode is not supported yet and is refused."},
	config.Key{Name: BigintUnsignedMode, Type: config.String, Default: string(BigintLong), Importance: config.Low, Group: groupTypes, Order: 3,
		Validator: config.In(string(BigintLong), string(BigintPrecise)), Recommender: recommend(string(BigintLong), string(BigintPrecise)),
		Doc: "BIGINT UNSIGNED as INT64 (long: values above 2^63-1 wrap to negative numbers, as in Debezium) or as Decimal of scale 0 (precise)."},
	config.Key{Name: BinaryHandlingMode, Type: config.String, Default: string(cdc.BinaryBytes), Importance: config.Low, Group: groupTypes, Order: 4,
		Validator: config.In("bytes", "base64", "base64-url-safe", "hex"), Recommender: recommend("bytes", "base64", "base64-url-safe", "hex"),
		Doc: "BINARY, VARBINARY and BLOB values as bytes, or as base64, base64-url-safe or hex strings."},
	config.Key{Name: MaxBatchSize, Type: config.Int, Default: 2048, Importance: config.Low, Group: groupPerf, Order: 1,
		Validator: config.AtLeast(1), Doc: "Records returned by one poll, at most."},
	config.Key{Name: MaxQueueSize, Type: config.Int, Default: 8192, Importance: config.Low, Group: groupPerf, Order: 2,
		Validator: config.AtLeast(1), Doc: "Records buffered between the binlog reader and polls; when full the reader waits, so memory stays bounded whatever the size of a transaction."},
	config.Key{Name: MaxQueueSizeInBytes, Type: config.Long, Default: int64(0), Importance: config.Low, Group: groupPerf, Order: 3,
		Validator: config.AtLeast(0), Doc: "Bound on the approximate bytes of the records in the queue between the binlog reader (or the snapshot) and polls, as in Debezium; 0 turns it off. " +
			"Each record's size is estimated from its decoded key and value (string and byte lengths plus fixed costs per field and record; schemas and offsets, which records share, are not counted). " +
			"When the bound is reached the reader waits for polls; a single record larger than the bound is queued alone. max.queue.size still applies. " +
			"Not counted: the binlog client reads up to 32 events ahead (each about binlog_row_event_max_size, 8 KiB by default, or one row when a row is larger)."},
	config.Key{Name: PollIntervalMs, Type: config.Long, Default: int64(500), Importance: config.Low, Group: groupPerf, Order: 4,
		Validator: config.AtLeast(1), Doc: "Longest time a poll waits for records before returning an empty batch."},
	config.Key{Name: SignalDataCollection, Type: config.String, Default: "", Importance: config.Low, Group: groupSnap, Order: 5,
		Validator: validSignalTable,
		Doc: "Signal table (database.table, columns id, type, data as Debezium's) whose inserted rows are signals, read from the binlog: execute-snapshot with {\"data-collections\": [regex of database.table, ...]} " +
			"snapshots the matching captured tables while streaming (chunks of incremental.snapshot.chunk.size rows in primary-key order, events with op r and source.snapshot incremental), " +
			"execute-snapshot with additional-conditions is ignored with a warning (not supported). stop-snapshot drops the tables not yet finished (those listed, or all), pause-snapshot stops reading further chunks until resume-snapshot (the pause is kept in the offset). " +
			"Sluice never writes to the signal table: each chunk is read in its own consistent-snapshot transaction and emitted at that snapshot's exact binlog position. MariaDB only."},
	config.Key{Name: SignalEnabledChannels, Type: config.List, Default: "source", Importance: config.Low, Group: groupSnap, Order: 6,
		Validator: validChannels, Doc: "Channels signals are read from, as in Debezium: source (the signal table, signal.data.collection) and kafka (the topic signal.kafka.topic). Debezium's jmx and file channels are not supported."},
	config.Key{Name: SignalKafkaTopic, Type: config.String, Default: "", Importance: config.Low, Group: groupSnap, Order: 9,
		Doc: "Kafka topic of signals when signal.enabled.channels lists kafka; empty means <topic.prefix>-signal, Debezium's default. A record is a signal for this connector when its key is topic.prefix; its value is {\"type\": \"execute-snapshot\", \"data\": {\"data-collections\": [...]}} (or stop-snapshot, pause-snapshot, resume-snapshot), handled as a row of the signal table. The consumer group's position is committed only once a committed source offset holds the signal's effect, so a crash in between reads the signal again."},
	config.Key{Name: SignalKafkaBootstrap, Type: config.List, Default: "", Importance: config.Low, Group: groupSnap, Order: 10,
		Doc: "Brokers (host:port, comma-separated) of the signal topic; required when signal.enabled.channels lists kafka (the worker's own bootstrap.servers is not passed to connectors)."},
	config.Key{Name: SignalKafkaGroupID, Type: config.String, Default: "kafka-signal", Importance: config.Low, Group: groupSnap, Order: 11,
		Doc: "Consumer group of the signal topic's consumer; give each connector its own group."},
	config.Key{Name: SnapshotChunkSize, Type: config.Int, Default: 1024, Importance: config.Low, Group: groupSnap, Order: 7,
		Validator: config.AtLeast(1), Doc: "Rows per chunk of an incremental snapshot, and how often (in rows) the initial snapshot records its progress in the offset, so that a restart reads only what is left. " +
			"A chunk is read in one short consistent-snapshot transaction: larger chunks read faster, smaller ones hold a table's metadata lock for less time."},
	config.Key{Name: ReadOnly, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupSnap, Order: 8,
		Doc: "Accepted with either value: the MySQL source never writes to the database. Its incremental snapshots need no watermark rows (each chunk is placed at its consistent snapshot's binlog position), so they behave as Debezium's read.only=true ones always."},
)

// unsupported are Debezium MySQL/MariaDB properties this version does not
// implement: a config that sets one is refused rather than run without
// the behaviour it asks for. A name ending in "." is a prefix.
var unsupported = map[string]string{
	"column.mask.":                                "column masking",
	"column.truncate.to.":                         "column truncation",
	"column.propagate.source.type":                "source type propagation",
	"datatype.propagate.source.type":              "source type propagation",
	"converters":                                  "custom converters",
	"snapshot.select.statement.overrides":         "snapshot statement overrides",
	"snapshot.include.collection.list":            "snapshot collection filters",
	"snapshot.new.tables":                         "snapshots of new tables",
	"database.initial.statements":                 "initial statements",
	"database.ssl.keystore":                       "Java key stores (set database.sslcert and database.sslkey to the client certificate and key in PEM instead)",
	"database.ssl.keystore.password":              "Java key stores (set database.sslcert and database.sslkey to the client certificate and an unencrypted key in PEM instead)",
	"database.ssl.truststore":                     "Java trust stores (set database.sslrootcert to the CA certificate in PEM instead)",
	"database.ssl.truststore.password":            "Java trust stores (set database.sslrootcert to the CA certificate in PEM instead)",
	"gtid.source.filter.dml.events":               "gtid.source.filter.dml.events (gtid.source.includes/excludes always filter row changes, as its default true does)",
	"include.schema.comments":                     "schema comments",
	"topic.naming.strategy":                       "topic naming strategies",
	"topic.transaction":                           "transaction metadata",
	"topic.heartbeat.prefix":                      "heartbeat topic names",
	"heartbeat.action.query":                      "heartbeat action queries",
	"enable.time.adjuster":                        "the time adjuster",
	"event.deserialization.failure.handling.mode": "deserialization failure modes",
	"inconsistent.schema.handling.mode":           "schema history handling",
	"binlog.buffer.size":                          "the binlog look-ahead buffer",
	"snapshot.lock.timeout.ms":                    "snapshot locks (the snapshot takes none)",
}

// unsupportedErrors returns an error for each property of props that
// this version does not implement.
func unsupportedErrors(props map[string]string) config.Errors {
	var errs config.Errors
	for _, p := range config.SortedKeys(props) {
		for name, what := range unsupported {
			if p == name || (strings.HasSuffix(name, ".") && strings.HasPrefix(p, name)) {
				errs = append(errs, &config.Error{Key: p, Reason: what + " is not in this version of the MySQL source; remove the property"})
			}
		}
	}
	return errs
}

// Config is the parsed connector configuration.
type Config struct {
	Host, User, Password string
	// SSLMode is database.ssl.mode in lower case; SSLRootCert, SSLCert
	// and SSLKey are PEM file paths ("" when unset).
	SSLMode, SSLRootCert       string
	SSLCert, SSLKey            string
	Port                       int
	ServerID                   uint32
	ConnectTimeout             time.Duration
	TopicPrefix                string
	DBInclude, DBExclude       []*regexp.Regexp
	TableInclude, TableExclude []*regexp.Regexp
	ColInclude, ColExclude     []*regexp.Regexp
	SnapshotMode               string
	TombstonesOnDelete         bool
	IncludeQuery               bool
	IncludeSchemaChanges       bool
	KeyColumns                 []keyColumns
	GTIDs                      gtidFilter
	TxMetadata                 bool
	SkipCreate, SkipUpdate     bool
	SkipDelete, SkipTruncate   bool
	Quarantine                 bool
	HeartbeatInterval          time.Duration
	Modes                      Modes
	MaxBatchSize, MaxQueueSize int
	// MaxQueueBytes is max.queue.size.in.bytes (0: no bound).
	MaxQueueBytes int64
	PollInterval  time.Duration
	// SignalDB and SignalTable name signal.data.collection ("" without);
	// SignalSource is set when signal.enabled.channels lists source.
	SignalDB, SignalTable string
	SignalSource          bool
	SignalKafka           bool
	SignalTopic           string
	SignalGroup           string
	SignalBrokers         []string
	ChunkSize             int
	MaxThreads            int
	// MariaDB is set when connector.class names Debezium's MariaDB
	// connector: source.connector is then "mariadb".
	MariaDB bool
}

// Modes are the handling modes of the type map.
type Modes struct {
	Decimal cdc.DecimalMode
	Time    cdc.TimeMode
	Binary  cdc.BinaryMode
	Bigint  BigintMode
}

// ParseConfig parses and validates connector properties.
func ParseConfig(props map[string]string) (*Config, error) {
	v, err := def.Parse(props)
	errs := unsupportedErrors(props)
	if err != nil {
		es, _ := err.(config.Errors)
		errs = append(es, errs...)
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
		return nil, errs
	}
	c := &Config{
		Host: v.String(Hostname), Port: v.Int(Port), User: v.String(User), Password: v.String(Password),
		SSLMode: strings.ToLower(strings.TrimSpace(v.String(SSLMode))), SSLRootCert: strings.TrimSpace(v.String(SSLRootCert)),
		SSLCert: strings.TrimSpace(v.String(SSLCert)), SSLKey: strings.TrimSpace(v.String(SSLKey)),
		ConnectTimeout:     time.Duration(v.Long(ConnectTimeoutMs)) * time.Millisecond,
		TopicPrefix:        v.String(TopicPrefix),
		SnapshotMode:       strings.ToLower(v.String(SnapshotMode)),
		TombstonesOnDelete: v.Bool(TombstonesOnDelete),
		IncludeQuery:       v.Bool(IncludeQuery),
		TxMetadata:         v.Bool(ProvideTxMetadata),
		Quarantine:         strings.EqualFold(v.String(TableFailureMode), cdc.TableFailureQuarantine),
		HeartbeatInterval:  time.Duration(v.Int(HeartbeatIntervalMs)) * time.Millisecond,
		MaxBatchSize:       v.Int(MaxBatchSize), MaxQueueSize: v.Int(MaxQueueSize), MaxQueueBytes: v.Long(MaxQueueSizeInBytes),
		PollInterval: v.Duration(PollIntervalMs),
		Modes: Modes{
			Decimal: cdc.DecimalMode(strings.ToLower(v.String(DecimalHandlingMode))),
			Time:    cdc.TimeMode(strings.ToLower(v.String(TimePrecisionMode))),
			Binary:  cdc.BinaryMode(strings.ToLower(v.String(BinaryHandlingMode))),
			Bigint:  BigintMode(strings.ToLower(v.String(BigintUnsignedMode))),
		},
		MariaDB: strings.EqualFold(props["connector.class"], MariaDBClass) || strings.EqualFold(props["connector.class"], "MariaDbConnector"),
	}
	c.IncludeSchemaChanges = v.Bool(IncludeSchemaChanges)
	id := v.Long(ServerID)
	if id > 1<<32-1 {
		return nil, config.Errors{{Key: ServerID, Value: fmt.Sprint(id), Reason: "must be at most 4294967295 (a 32-bit server id)"}}
	}
	c.ServerID = uint32(id)
	if err := checkTLSFiles(c); err != nil {
		return nil, err
	}
	if c.ServerID == 0 {
		c.ServerID = uint32(ServerIDMin + rand.IntN(ServerIDMax-ServerIDMin+1))
	}
	if c.SnapshotMode == SnapshotNever {
		c.SnapshotMode = SnapshotNoData
	}
	for _, op := range strings.Split(v.String(SkippedOperations), ",") {
		switch strings.TrimSpace(op) {
		case "c":
			c.SkipCreate = true
		case "u":
			c.SkipUpdate = true
		case "d":
			c.SkipDelete = true
		case "t":
			c.SkipTruncate = true
		}
	}
	c.DBInclude = cdc.Anchored(v.List(DatabaseIncludeList))
	c.DBExclude = cdc.Anchored(v.List(DatabaseExcludeList))
	c.TableInclude = cdc.Anchored(v.List(TableIncludeList))
	c.TableExclude = cdc.Anchored(v.List(TableExcludeList))
	c.ColInclude = cdc.Anchored(v.List(ColumnIncludeList))
	c.ColExclude = cdc.Anchored(v.List(ColumnExcludeList))
	c.KeyColumns, _ = parseMessageKeyColumns(v.String(MessageKeyColumns))
	c.GTIDs = gtidFilter{include: gtidPatterns(v.List(GTIDSourceIncludes)), exclude: gtidPatterns(v.List(GTIDSourceExcludes))}
	if len(c.GTIDs.include) > 0 && len(c.GTIDs.exclude) > 0 {
		return nil, config.Errors{{Key: GTIDSourceExcludes, Reason: "gtid.source.includes and gtid.source.excludes are both set; keep one (as in Debezium)"}}
	}
	c.SignalDB, c.SignalTable, _ = strings.Cut(strings.TrimSpace(v.String(SignalDataCollection)), ".")
	for _, ch := range v.List(SignalEnabledChannels) {
		switch strings.ToLower(strings.TrimSpace(ch)) {
		case "source":
			c.SignalSource = true
		case "kafka":
			c.SignalKafka = true
		}
	}
	c.SignalTopic = strings.TrimSpace(v.String(SignalKafkaTopic))
	if c.SignalTopic == "" {
		c.SignalTopic = c.TopicPrefix + "-signal"
	}
	c.SignalGroup = v.String(SignalKafkaGroupID)
	for _, b := range v.List(SignalKafkaBootstrap) {
		if b = strings.TrimSpace(b); b != "" {
			c.SignalBrokers = append(c.SignalBrokers, b)
		}
	}
	if c.SignalKafka && len(c.SignalBrokers) == 0 {
		return nil, config.Errors{{Key: SignalKafkaBootstrap, Reason: "signal.enabled.channels lists kafka but no brokers are set; set signal.kafka.bootstrap.servers to the signal topic's brokers (the worker's own bootstrap.servers is not passed to connectors)"}}
	}
	c.ChunkSize = v.Int(SnapshotChunkSize)
	c.MaxThreads = v.Int(SnapshotMaxThreads)
	if c.MaxThreads > 1 && c.SnapshotMode == SnapshotInitialOnly {
		return nil, config.Errors{{Key: SnapshotMaxThreads, Value: fmt.Sprint(c.MaxThreads), Reason: "parallel snapshots place their chunks in the binlog stream, which snapshot.mode=initial_only does not read; set snapshot.max.threads=1 or another snapshot.mode"}}
	}
	return c, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// systemDBs are never captured.
var systemDBs = map[string]bool{"mysql": true, "information_schema": true, "performance_schema": true, "sys": true}

// Captures reports whether the table db.table is captured.
func (c *Config) Captures(db, table string) bool {
	if systemDBs[strings.ToLower(db)] {
		return false
	}
	if len(c.DBInclude) > 0 && !anyMatch(c.DBInclude, db) {
		return false
	}
	if anyMatch(c.DBExclude, db) {
		return false
	}
	full := db + "." + table
	if len(c.TableInclude) > 0 && !anyMatch(c.TableInclude, full) {
		return false
	}
	return !anyMatch(c.TableExclude, full)
}

// CapturesColumn reports whether a column goes into events.
func (c *Config) CapturesColumn(db, table, column string) bool {
	full := db + "." + table + "." + column
	if len(c.ColInclude) > 0 && !anyMatch(c.ColInclude, full) {
		return false
	}
	return !anyMatch(c.ColExclude, full)
}

// messageKey returns the key columns message.key.columns sets for
// db.table (nil when it sets none).
func (c *Config) messageKey(db, table string) []string {
	for _, k := range c.KeyColumns {
		if k.table.MatchString(db + "." + table) {
			return k.cols
		}
	}
	return nil
}

// isSignalTable reports whether db.table is signal.data.collection.
func (c *Config) isSignalTable(db, table string) bool {
	return c.SignalTable != "" && c.SignalDB == db && c.SignalTable == table
}

// Addr is host:port, for messages.
func (c *Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }
