package postgres

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

// Connector properties, named as Debezium's PostgreSQL connector names them.
const (
	Hostname                 = "database.hostname"
	Port                     = "database.port"
	User                     = "database.user"
	Password                 = "database.password"
	DBName                   = "database.dbname"
	SSLMode                  = "database.sslmode"
	SSLCert                  = "database.sslcert"
	SSLKey                   = "database.sslkey"
	SSLRootCert              = "database.sslrootcert"
	TopicPrefix              = "topic.prefix"
	PluginName               = "plugin.name"
	SlotName                 = "slot.name"
	SlotDropOnStop           = "slot.drop.on.stop"
	PublicationName          = "publication.name"
	PublicationAutocreate    = "publication.autocreate.mode"
	SchemaIncludeList        = "schema.include.list"
	SchemaExcludeList        = "schema.exclude.list"
	TableIncludeList         = "table.include.list"
	TableExcludeList         = "table.exclude.list"
	ColumnIncludeList        = "column.include.list"
	ColumnExcludeList        = "column.exclude.list"
	MessageKeyColumns        = "message.key.columns"
	SnapshotMode             = "snapshot.mode"
	SnapshotFetchSize        = "snapshot.fetch.size"
	SnapshotMaxThreads       = "snapshot.max.threads"
	SnapshotChunkSize        = "sluice.snapshot.chunk.size"
	HeartbeatIntervalMs      = "heartbeat.interval.ms"
	HeartbeatActionQuery     = "heartbeat.action.query"
	ProvideTxMetadata        = "provide.transaction.metadata"
	TraceContextEnable       = "sluice.trace.context.enable"
	TombstonesOnDelete       = "tombstones.on.delete"
	SkippedOperations        = "skipped.operations"
	DecimalHandlingMode      = "decimal.handling.mode"
	TimePrecisionMode        = "time.precision.mode"
	BinaryHandlingMode       = "binary.handling.mode"
	IntervalHandlingMode     = "interval.handling.mode"
	HStoreHandlingMode       = "hstore.handling.mode"
	MoneyFractionDigits      = "money.fraction.digits"
	UnavailableValue         = "unavailable.value.placeholder"
	MaxBatchSize             = "max.batch.size"
	MaxQueueSize             = "max.queue.size"
	MaxQueueSizeInBytes      = "max.queue.size.in.bytes"
	PollIntervalMs           = "poll.interval.ms"
	StatusUpdateIntervalMs   = "status.update.interval.ms"
	MessagePrefixInclude     = "message.prefix.include.list"
	MessagePrefixExclude     = "message.prefix.exclude.list"
	TableFailureMode         = cdc.TableFailureMode
	StreamInProgress         = "sluice.stream.in.progress"
	StreamBufferBytes        = "sluice.stream.buffer.bytes"
	XminFetchIntervalMs      = "xmin.fetch.interval.ms"
	SignalDataCollection     = "signal.data.collection"
	SignalEnabledChannels    = "signal.enabled.channels"
	SignalKafkaTopic         = "signal.kafka.topic"
	SignalKafkaBootstrap     = "signal.kafka.bootstrap.servers"
	SignalKafkaGroupID       = "signal.kafka.groupId"
	IncrementalSnapshotChunk = "incremental.snapshot.chunk.size"
	ErrorsMaxRetries         = "errors.max.retries"
	RetriableRestartWaitMs   = "retriable.restart.connector.wait.ms"
)

// Snapshot modes.
const (
	SnapshotInitial     = "initial"
	SnapshotInitialOnly = "initial_only"
	SnapshotNoData      = "no_data"
	SnapshotNever       = "never"
	SnapshotAlways      = "always"
	SnapshotWhenNeeded  = "when_needed"
)

// Publication autocreate modes.
const (
	PublicationAllTables = "all_tables"
	PublicationFiltered  = "filtered"
	PublicationDisabled  = "disabled"
	PublicationNoTables  = "no_tables"
)

const (
	groupConn   = "Connection"
	groupRepl   = "Replication"
	groupFilter = "Filters"
	groupSnap   = "Snapshot"
	groupEvents = "Events"
	groupTypes  = "Data types"
	groupPerf   = "Performance"
)

func validPlugin(name string, value any) error {
	if s, _ := value.(string); s != "pgoutput" {
		return fmt.Errorf("only pgoutput is supported (decoderbufs and wal2json are not); set plugin.name=pgoutput")
	}
	return nil
}

func validRegexList(name string, value any) error {
	for _, p := range value.([]string) {
		if _, err := regexp.Compile(p); err != nil {
			return fmt.Errorf("%q is not a valid regular expression: %v", p, err)
		}
	}
	return nil
}

func validChannels(name string, value any) error {
	for _, ch := range value.([]string) {
		switch strings.ToLower(strings.TrimSpace(ch)) {
		case "source", "kafka":
		default:
			return fmt.Errorf("channel %q is not supported; use source and/or kafka", ch)
		}
	}
	return nil
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

func validSlotName(name string, value any) error {
	s, _ := value.(string)
	if !regexp.MustCompile(`^[a-z0-9_]{1,63}$`).MatchString(s) {
		return fmt.Errorf("must match [a-z0-9_]{1,63} (PostgreSQL slot names are lowercase letters, digits and underscores); rename the slot")
	}
	return nil
}

func validMessageKeyColumns(name string, value any) error {
	_, err := parseMessageKeyColumns(value.(string))
	return err
}

func recommend(values ...any) config.Recommender {
	return func(string, map[string]any) ([]any, bool) { return values, true }
}

var def = config.NewDef(
	config.Key{Name: Hostname, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupConn, Order: 1,
		Validator: config.NonEmpty, Doc: "Host name or address of the PostgreSQL server."},
	config.Key{Name: Port, ConnectionIdentity: true, Type: config.Int, Default: 5432, Importance: config.High, Group: groupConn, Order: 2,
		Validator: config.AtLeast(1), Doc: "Port of the PostgreSQL server."},
	config.Key{Name: User, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupConn, Order: 3,
		Validator: config.NonEmpty, Doc: "User to connect as; needs the REPLICATION attribute (or superuser), CREATE on the database for publications, and SELECT on the captured tables."},
	config.Key{Name: Password, Type: config.Password, Default: "", Importance: config.High, Group: groupConn, Order: 4,
		Doc: "Password of database.user."},
	config.Key{Name: DBName, ConnectionIdentity: true, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupConn, Order: 5,
		Validator: config.NonEmpty, Doc: "Database to capture."},
	config.Key{Name: SSLMode, ConnectionIdentity: true, Type: config.String, Default: "prefer", Importance: config.Medium, Group: groupConn, Order: 6,
		Validator: config.In("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
		Doc: "TLS to the server, as libpq's sslmode, for every connection the connector makes (metadata, replication, snapshot chunks): " +
			"disable (no TLS), allow (plain first, TLS if the server insists), prefer (TLS if the server offers it, else plain), require (TLS without verifying the server, " +
			"or like verify-ca when database.sslrootcert is set), verify-ca (TLS; the server's certificate must be signed by the CA in database.sslrootcert), " +
			"verify-full (verify-ca plus database.hostname must be a name in the certificate; without database.sslrootcert the system's trusted roots are used). " +
			"allow and prefer (the default, as in libpq) can be downgraded to plain text by anyone on the network path, and require does not stop a man in the middle: use verify-full in production."},
	config.Key{Name: SSLCert, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 7,
		Doc: "Client certificate file (PEM) for TLS client authentication (pg_hba.conf cert, or clientcert=verify-full); its CN must be database.user. Needs database.sslkey."},
	config.Key{Name: SSLKey, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 8,
		Doc: "Private key file (PEM, unencrypted) of database.sslcert."},
	config.Key{Name: SSLRootCert, ConnectionIdentity: true, Type: config.String, Default: "", Importance: config.Low, Group: groupConn, Order: 9,
		Doc: "PEM file of the certificate authority that signed the server's certificate, used by verify-ca, verify-full and require; \"system\" uses the system's trusted roots (and implies verify-full)."},
	config.Key{Name: ErrorsMaxRetries, Type: config.Int, Default: -1, Importance: config.Low, Group: groupConn, Order: 10,
		Validator: config.AtLeast(-1), Doc: "Consecutive failed attempts to reach PostgreSQL again after the connection was lost (or could not be made at start) before the task fails, as in Debezium; -1 (the default) never gives up. While it tries, the task stays RUNNING and its status trace names the server and the last error; capture resumes by itself when the server is back, whatever errors.retry.timeout and the restart policy say. A refused login (wrong password) or a missing database fails the task at once."},
	config.Key{Name: RetriableRestartWaitMs, Type: config.Long, Default: int64(10000), Importance: config.Low, Group: groupConn, Order: 11,
		Validator: config.AtLeast(1), Doc: "Longest wait, in milliseconds, between two attempts to reach PostgreSQL again (Debezium's name); the attempts start 250 ms apart and the wait doubles up to this."},
	config.Key{Name: TopicPrefix, Type: config.String, Default: config.NoDefault, Importance: config.High, Group: groupEvents, Order: 1,
		Validator: config.NonEmpty, Doc: "Prefix of every topic name (<topic.prefix>.<schema>.<table>) and the source partition's server name."},
	config.Key{Name: PluginName, Type: config.String, Default: "pgoutput", Importance: config.Medium, Group: groupRepl, Order: 1,
		Validator: validPlugin, Doc: "Logical decoding plugin. Only pgoutput is supported; unlike Debezium (whose default is decoderbufs) it is the default."},
	config.Key{Name: SlotName, Type: config.String, Default: "debezium", Importance: config.Medium, Group: groupRepl, Order: 2,
		Validator: validSlotName, Doc: "Logical replication slot; created when missing. One slot per connector."},
	config.Key{Name: SlotDropOnStop, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupRepl, Order: 3,
		Doc: "Drop the slot when the task stops (for tests; the next start re-snapshots)."},
	config.Key{Name: PublicationName, Type: config.String, Default: "dbz_publication", Importance: config.Medium, Group: groupRepl, Order: 4,
		Validator: config.NonEmpty, Doc: "Publication streamed from the slot."},
	config.Key{Name: PublicationAutocreate, Type: config.String, Default: PublicationAllTables, Importance: config.Medium, Group: groupRepl, Order: 5,
		Validator:   config.In(PublicationAllTables, PublicationFiltered, PublicationDisabled, PublicationNoTables),
		Recommender: recommend(PublicationAllTables, PublicationFiltered, PublicationDisabled, PublicationNoTables),
		Doc:         "all_tables creates the publication FOR ALL TABLES (needs superuser); filtered creates or updates it for the captured tables; disabled expects it to exist; no_tables creates it empty."},
	config.Key{Name: StatusUpdateIntervalMs, Type: config.Int, Default: 10000, Importance: config.Low, Group: groupRepl, Order: 6,
		Validator: config.AtLeast(1), Doc: "Milliseconds between standby status updates to the server."},
	config.Key{Name: SchemaIncludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 1,
		Validator: validRegexList, Doc: "Regular expressions of schemas to capture (all but system schemas when empty)."},
	config.Key{Name: SchemaExcludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 2,
		Validator: validRegexList, Doc: "Regular expressions of schemas not to capture."},
	config.Key{Name: TableIncludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 3,
		Validator: validRegexList, Doc: "Regular expressions matching schema.table of tables to capture."},
	config.Key{Name: TableExcludeList, Type: config.List, Default: "", Importance: config.Medium, Group: groupFilter, Order: 4,
		Validator: validRegexList, Doc: "Regular expressions matching schema.table of tables not to capture."},
	config.Key{Name: ColumnIncludeList, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 5,
		Validator: validRegexList, Doc: "Regular expressions matching schema.table.column of columns to include in events."},
	config.Key{Name: ColumnExcludeList, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 6,
		Validator: validRegexList, Doc: "Regular expressions matching schema.table.column of columns to leave out of events."},
	config.Key{Name: MessagePrefixInclude, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 8,
		Validator: validRegexList, Doc: "Regular expressions of logical decoding message prefixes to emit on <topic.prefix>.message (all when empty)."},
	config.Key{Name: MessagePrefixExclude, Type: config.List, Default: "", Importance: config.Low, Group: groupFilter, Order: 9,
		Validator: validRegexList, Doc: "Regular expressions of logical decoding message prefixes not to emit."},
	config.Key{Name: MessageKeyColumns, Type: config.String, Default: "", Importance: config.Low, Group: groupFilter, Order: 7,
		Validator: validMessageKeyColumns, Doc: "Key columns per table instead of the primary key: schema.table:col1,col2;schema.other:col."},
	config.Key{Name: SnapshotMode, Type: config.String, Default: SnapshotInitial, Importance: config.Medium, Group: groupSnap, Order: 1,
		Validator:   config.In(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotAlways, SnapshotWhenNeeded),
		Recommender: recommend(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotAlways, SnapshotWhenNeeded),
		Doc: "initial snapshots when there is no offset, then streams; initial_only stops after the snapshot; no_data (or never) only streams; always snapshots at every start; when_needed also re-snapshots when the stored offset is no longer available in the slot. " +
			"A start that finds the slot but no committed offset (an earlier start stopped before its first commit) keeps the slot and, on PostgreSQL 14+, reads every table with watermarks while streaming from it, so no change the slot held (a delete above all) is lost; older servers drop the slot and snapshot again."},
	config.Key{Name: SnapshotFetchSize, Type: config.Int, Default: 10240, Importance: config.Low, Group: groupSnap, Order: 2,
		Validator: config.AtLeast(1), Doc: "Accepted for compatibility: snapshot rows are read as the server sends them and handed on in batches, so memory is bounded by max.queue.size whatever this is."},
	config.Key{Name: SnapshotMaxThreads, Type: config.Int, Default: 1, Importance: config.Medium, Group: groupSnap, Order: 3,
		Validator: config.AtLeast(1), Doc: "Connections reading snapshot chunks in parallel, all inside the slot's exported snapshot."},
	config.Key{Name: SnapshotChunkSize, Type: config.Long, Default: int64(100000), Importance: config.Low, Group: groupSnap, Order: 4,
		Validator: config.AtLeast(1), Doc: "Rows per primary-key range chunk of the snapshot; finished chunks, and the key of the last row delivered of each chunk in progress, are recorded in the offset, so a snapshot interrupted by a crash reads only what was not delivered (a chunk of a table without a NOT NULL key is read again whole). A single integer key is split into equal ranges between its minimum and maximum (sized from the table's statistics); any other key (text, uuid, composite) is split at boundaries taken from a block sample of its keys (TABLESAMPLE SYSTEM, about 64 keys per chunk, so chunk sizes vary a little) and read with row-value comparisons, the boundaries kept in the offset as text. Tables without a key, or with a nullable key column, are one chunk."},
	config.Key{Name: HeartbeatIntervalMs, Type: config.Int, Default: 0, Importance: config.Low, Group: groupEvents, Order: 2,
		Validator: config.AtLeast(0), Doc: "Milliseconds between two heartbeat records on __debezium-heartbeat.<topic.prefix> (emitted between transactions, whether or not anything changed); 0 sends none. Heartbeats are not needed to keep WAL from piling up: when nothing captured changes, the task still moves its committed offset, and so the slot, with the server's WAL position every status.update.interval.ms, without writing a record."},
	config.Key{Name: HeartbeatActionQuery, Type: config.String, Default: "", Importance: config.Low, Group: groupEvents, Order: 3,
		Doc: "A statement run on the source database before each heartbeat record (so it needs heartbeat.interval.ms > 0), for instance to write a row that keeps another database's slot moving. A statement the server rejects fails the task; a lost connection is retried."},
	config.Key{Name: ProvideTxMetadata, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupEvents, Order: 4,
		Doc: "Fill the transaction field of each event ({id, total_order, data_collection_order})."},
	config.Key{Name: TraceContextEnable, Type: config.Boolean, Default: true, Importance: config.Low, Group: groupEvents, Order: 9,
		Doc: "Give every change event of a streamed transaction a W3C Trace Context header, traceparent, naming one trace per source transaction (the same on every topic the transaction reaches). The ids are derived from topic.prefix and the transaction's id (txId:lsn), so a transaction replayed after a crash carries the same traceparent. Snapshot reads carry none. Sluice's JDBC sink names the trace ids in its log lines about the records; a tracing or log system can follow a transaction through them."},
	config.Key{Name: TombstonesOnDelete, Type: config.Boolean, Default: true, Importance: config.Medium, Group: groupEvents, Order: 5,
		Doc: "Follow each delete event by a tombstone (same key, null value) so compacted topics drop the key."},
	config.Key{Name: SkippedOperations, Type: config.String, Default: "t", Importance: config.Low, Group: groupEvents, Order: 6,
		Validator: validSkipped, Doc: "Comma-separated operations not to emit: c (create), u (update), d (delete), t (truncate), or none."},
	config.Key{Name: UnavailableValue, Type: config.String, Default: cdc.UnavailableValuePlaceholder, Importance: config.Low, Group: groupEvents, Order: 7,
		Doc: "Value put in place of unchanged TOASTed columns, which the WAL does not carry. As in Debezium: strings (also json, jsonb, xml, hstore as json) get the value, bytea its bytes, text and bytea arrays a one-element array of it, integer arrays its bytes as elements, uuid arrays the name-based UUID of its bytes, hstore as a map {value: value}. Where Debezium has no form Sluice uses the same idea: numeric (Decimal or VariableScaleDecimal) gets its bytes as the unscaled value, float and temporal arrays its bytes as elements, numeric arrays one such Decimal; other types (boolean arrays, numeric as double) get null, or an empty array or zero when NOT NULL. Every such field is also named by a __sluice.unavailable record header (one per field, the field name as value): a consumer must not take the field's value as the row's, and Sluice's JDBC sink leaves it out of the update."},
	config.Key{Name: DecimalHandlingMode, Type: config.String, Default: string(cdc.DecimalPrecise), Importance: config.Medium, Group: groupTypes, Order: 1,
		Validator: config.In("precise", "double", "string"), Recommender: recommend("precise", "double", "string"),
		Doc: "precise: Connect Decimal (VariableScaleDecimal for unconstrained numeric); double; string. " +
			"precise cannot represent NaN or ±Infinity: as in Debezium they become null, and in a NOT NULL column the row is refused like any value the converters reject (sluice.table.failure.mode); use double or string to capture them."},
	config.Key{Name: TimePrecisionMode, Type: config.String, Default: string(cdc.TimeAdaptive), Importance: config.Medium, Group: groupTypes, Order: 2,
		Validator:   config.In("adaptive", "adaptive_time_microseconds", "connect", "isostring", "microseconds", "nanoseconds", "structured"),
		Recommender: recommend("adaptive", "adaptive_time_microseconds", "connect", "isostring", "microseconds", "nanoseconds", "structured"),
		Doc: "How date, time and timestamp columns are represented, as Debezium does. adaptive: io.debezium.time Date, Time/MicroTime and Timestamp/MicroTimestamp by column precision; adaptive_time_microseconds: the same but time always MicroTime; connect: Kafka Connect Date/Time/Timestamp (milliseconds); " +
			"isostring: UTC ISO-8601 strings (IsoDate \"2024-02-29Z\", IsoTime \"13:14:15.5Z\", IsoTimestamp \"2024-02-29T13:14:15.5Z\"); microseconds: Date, MicroTime, MicroTimestamp; " +
			"nanoseconds: Date, NanoTime, NanoTimestamp (timestamps outside 1677-09-22..2262-04-11 become null, or fail the task in NOT NULL columns; ±infinity are the largest and smallest int64); " +
			"structured: structs of the components (StructuredDate, StructuredTime, StructuredTimestamp, and for timetz, timestamptz and interval StructuredZonedTime, StructuredZonedTimestamp and StructuredDuration; ±infinity in specialValue; timetz keeps its own offset and hour 24; time 24:00:00 becomes null). " +
			"In the other modes timestamptz stays io.debezium.time.ZonedTimestamp and timetz ZonedTime; ±infinity timestamps are Debezium's sentinels (+294247-01-10T04:00:25.2 and -290308-12-21T19:59:27.6) and ±infinity dates -5877611-06-21 and -5877611-06-22. " +
			"Elements of time[] columns keep milliseconds only and 24:00:00 becomes 00:00:00, as pgjdbc hands them to Debezium."},
	config.Key{Name: BinaryHandlingMode, Type: config.String, Default: string(cdc.BinaryBytes), Importance: config.Low, Group: groupTypes, Order: 3,
		Validator: config.In("bytes", "base64", "base64-url-safe", "hex"), Recommender: recommend("bytes", "base64", "base64-url-safe", "hex"),
		Doc: "How bytea values are represented: bytes, base64, base64-url-safe or hex strings."},
	config.Key{Name: IntervalHandlingMode, Type: config.String, Default: string(pgtypes.IntervalNumeric), Importance: config.Low, Group: groupTypes, Order: 4,
		Validator: config.In("numeric", "string"), Recommender: recommend("numeric", "string"),
		Doc: "numeric: microseconds (io.debezium.time.MicroDuration, a month is 30.4375 days); string: ISO 8601 (io.debezium.time.Interval)."},
	config.Key{Name: HStoreHandlingMode, Type: config.String, Default: string(pgtypes.HStoreJSON), Importance: config.Low, Group: groupTypes, Order: 5,
		Validator: config.In("json", "map"), Recommender: recommend("json", "map"),
		Doc: "hstore values as a JSON string (io.debezium.data.Json) or a map."},
	config.Key{Name: MoneyFractionDigits, Type: config.Int, Default: 2, Importance: config.Low, Group: groupTypes, Order: 6,
		Validator: config.AtLeast(0), Doc: "Scale of money values in precise mode."},
	config.Key{Name: TableFailureMode, Type: config.String, Default: cdc.TableFailureFail, Importance: config.Medium, Group: groupEvents, Order: 8,
		Validator: config.In(cdc.TableFailureFail, cdc.TableFailureQuarantine), Recommender: recommend(cdc.TableFailureFail, cdc.TableFailureQuarantine),
		Doc: "What a value that cannot be converted, or a new table shape that cannot be followed, does while streaming: fail stops the task with an error naming table, column and LSN (as Debezium); quarantine sets that table aside (the log names table, LSN and reason) while every other table keeps streaming: its changes, the one that failed included, go to the connector's dead letter queue when errors.deadletterqueue.topic.name is set (a schemaless value with table, lsn, txId, op, and before/after as each column's PostgreSQL text; stage TASK_POLL and the reason in the __connect.errors.* headers), whatever errors.tolerance says, and are counted otherwise. A restart brings the table back."},
	config.Key{Name: StreamInProgress, Type: config.Boolean, Default: true, Importance: config.Low, Group: groupRepl, Order: 7,
		Doc: "On PostgreSQL 14+, use pgoutput protocol 2 with streaming, so the server sends large transactions while they run instead of spilling them to its own disk until commit; the task buffers them until their commit (and drops them on abort)."},
	config.Key{Name: XminFetchIntervalMs, Type: config.Long, Default: int64(0), Importance: config.Low, Group: groupRepl, Order: 9,
		Validator: config.AtLeast(0), Doc: "How often, in milliseconds, the slot's catalog_xmin is read and put in source.xmin of streamed events, as in Debezium (the lower bound from which a new slot could start); 0 leaves source.xmin null and reads nothing."},
	config.Key{Name: StreamBufferBytes, Type: config.Long, Default: int64(16 << 20), Importance: config.Low, Group: groupRepl, Order: 8,
		Validator: config.AtLeast(0), Doc: "Bytes of streamed, uncommitted transactions kept in memory; beyond it they are spilled to temporary files."},
	config.Key{Name: MaxBatchSize, Type: config.Int, Default: 2048, Importance: config.Low, Group: groupPerf, Order: 1,
		Validator: config.AtLeast(1), Doc: "Records returned by one poll, at most."},
	config.Key{Name: MaxQueueSize, Type: config.Int, Default: 8192, Importance: config.Low, Group: groupPerf, Order: 2,
		Validator: config.AtLeast(1), Doc: "Records buffered between the replication stream and polls; when full the stream waits."},
	config.Key{Name: MaxQueueSizeInBytes, Type: config.Long, Default: int64(0), Importance: config.Low, Group: groupPerf, Order: 3,
		Validator: config.AtLeast(0), Doc: "Bound on the approximate bytes of the records in the queue between the replication stream and polls, as in Debezium; 0 turns it off. Each record's size is estimated from its decoded key and value (string and byte lengths plus fixed costs per field and record; schemas and offsets, which records share, are not counted). When the bound is reached the stream (or the snapshot) waits for polls; a single record larger than the bound is queued alone. max.queue.size still applies."},
	config.Key{Name: PollIntervalMs, Type: config.Long, Default: int64(500), Importance: config.Low, Group: groupPerf, Order: 4,
		Validator: config.AtLeast(1), Doc: "Longest time a poll waits for records before returning an empty batch."},
	config.Key{Name: SignalDataCollection, Type: config.String, Default: "", Importance: config.Low, Group: groupSnap, Order: 5,
		Doc: "Signal table (schema.table, columns id, type, data as Debezium's) whose inserted rows are signals: execute-snapshot with {\"data-collections\": [regex, ...]} snapshots those tables while streaming (watermarked chunks of sluice.snapshot.chunk.size rows; with \"additional-conditions\": [{\"data-collection\": regex, \"filter\": SQL condition}, ...], or Debezium's older \"additional-condition\": SQL condition for every table, only the rows of a table that its first matching filter lets through are read, the filter kept in the offset across restarts; the filter is SQL run as the connector's user, and a filter PostgreSQL refuses is logged and the signal ignored), stop-snapshot drops the chunks not yet read, pause-snapshot stops reading further chunks (the chunk being read finishes, streaming goes on; the pause ends with resume-snapshot or a task restart), resume-snapshot continues with the next chunk. A chunk is read again when its query did not see a transaction streamed before it yet (one waiting for a synchronous standby, say), 100 ms later and then twice as long each time up to 5 s: with a synchronous standby away, the snapshot waits, the task's status says so after about 3 s, and streaming goes on. The table must be in the publication; signals are read from it only when signal.enabled.channels lists source."},
	config.Key{Name: SignalEnabledChannels, Type: config.List, Default: "source", Importance: config.Low, Group: groupSnap, Order: 7,
		Validator: validChannels, Doc: "Channels signals are read from, as in Debezium: source (the signal table, signal.data.collection) and kafka (the topic signal.kafka.topic). Debezium's jmx and file channels are not supported."},
	config.Key{Name: SignalKafkaTopic, Type: config.String, Default: "", Importance: config.Low, Group: groupSnap, Order: 8,
		Doc: "Kafka topic of signals when signal.enabled.channels lists kafka; empty means <topic.prefix>-signal, Debezium's default. A record is a signal for this connector when its key is topic.prefix; its value is {\"type\": \"execute-snapshot\", \"data\": {\"data-collections\": [...], \"type\": \"incremental\"}} (or stop-snapshot, pause-snapshot, resume-snapshot), handled as a row of the signal table. Signals are read from the consumer group's committed position (from the start of the topic for a new group); the position is committed once a committed source offset holds the signal's effect (an offset marker queued after it is handled, or a later streamed offset), so a crash in between reads the signal again."},
	config.Key{Name: SignalKafkaBootstrap, Type: config.List, Default: "", Importance: config.Low, Group: groupSnap, Order: 9,
		Doc: "Brokers (host:port, comma-separated) of the signal topic; required when signal.enabled.channels lists kafka. The task does not use the worker's own Kafka connection (bootstrap.servers of the worker is not passed to connectors), so set it even when the signal topic is on the worker's cluster."},
	config.Key{Name: SignalKafkaGroupID, Type: config.String, Default: "kafka-signal", Importance: config.Low, Group: groupSnap, Order: 10,
		Doc: "Consumer group of the signal topic's consumer; give each connector its own group."},
	config.Key{Name: IncrementalSnapshotChunk, Type: config.Int, Default: 1024, Importance: config.Low, Group: groupSnap, Order: 6,
		Validator: config.AtLeast(1), Doc: "Accepted for compatibility; incremental snapshot chunks use sluice.snapshot.chunk.size."},
)

// Config is the parsed connector configuration.
type Config struct {
	Host, User, Password, DBName          string
	Port                                  int
	SSLMode, SSLCert, SSLKey, SSLRootCert string
	TopicPrefix                           string
	SlotName                              string
	SlotDropOnStop                        bool
	Publication, PublicationMode          string
	StatusInterval, HeartbeatInterval     time.Duration
	HeartbeatActionQuery                  string
	XminInterval                          time.Duration
	SchemaInclude, SchemaExclude          []*regexp.Regexp
	TableInclude, TableExclude            []*regexp.Regexp
	ColumnInclude, ColumnExclude          []*regexp.Regexp
	MessageInclude, MessageExclude        []*regexp.Regexp
	KeyColumns                            map[string][]string
	SnapshotMode                          string
	SnapshotFetchSize, SnapshotThreads    int
	SnapshotChunkRows                     int64
	ProvideTxMetadata, TombstonesOnDelete bool
	TraceContext                          bool
	Quarantine                            bool
	Streaming                             bool
	SignalTable                           string
	SignalSource, SignalKafka             bool
	SignalTopic, SignalGroup              string
	SignalBrokers                         []string
	StreamBufferBytes                     int
	SkipCreate, SkipUpdate, SkipDelete    bool
	SkipTruncate                          bool
	Placeholder                           string
	Modes                                 pgtypes.Modes
	MaxBatchSize, MaxQueueSize            int
	MaxQueueBytes                         int64
	PollInterval                          time.Duration
	// MaxRetries is errors.max.retries (-1: forever) and ReconnectMax
	// retriable.restart.connector.wait.ms.
	MaxRetries   int
	ReconnectMax time.Duration
	// Name is the connector's name (the runtime's "name" property; empty
	// when validating a config without one).
	Name string
}

// ParseConfig parses and validates connector properties.
func ParseConfig(props map[string]string) (*Config, error) {
	v, err := def.Parse(props)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Host: v.String(Hostname), Port: v.Int(Port), User: v.String(User), Password: v.String(Password),
		DBName: v.String(DBName), SSLMode: v.String(SSLMode), SSLCert: v.String(SSLCert), SSLKey: v.String(SSLKey),
		SSLRootCert: v.String(SSLRootCert), TopicPrefix: v.String(TopicPrefix), SlotName: v.String(SlotName),
		SlotDropOnStop: v.Bool(SlotDropOnStop), Publication: v.String(PublicationName),
		PublicationMode:      strings.ToLower(v.String(PublicationAutocreate)),
		StatusInterval:       time.Duration(v.Int(StatusUpdateIntervalMs)) * time.Millisecond,
		HeartbeatInterval:    time.Duration(v.Int(HeartbeatIntervalMs)) * time.Millisecond,
		HeartbeatActionQuery: strings.TrimSpace(v.String(HeartbeatActionQuery)),
		SnapshotMode:         strings.ToLower(v.String(SnapshotMode)), SnapshotFetchSize: v.Int(SnapshotFetchSize),
		SnapshotThreads: v.Int(SnapshotMaxThreads), SnapshotChunkRows: v.Long(SnapshotChunkSize),
		ProvideTxMetadata: v.Bool(ProvideTxMetadata), TombstonesOnDelete: v.Bool(TombstonesOnDelete),
		TraceContext: v.Bool(TraceContextEnable),
		Placeholder:  v.String(UnavailableValue), MaxBatchSize: v.Int(MaxBatchSize), MaxQueueSize: v.Int(MaxQueueSize),
		PollInterval: v.Duration(PollIntervalMs),
		Modes: pgtypes.Modes{
			Decimal:             cdc.DecimalMode(strings.ToLower(v.String(DecimalHandlingMode))),
			Time:                cdc.TimeMode(strings.ToLower(v.String(TimePrecisionMode))),
			Binary:              cdc.BinaryMode(strings.ToLower(v.String(BinaryHandlingMode))),
			Interval:            pgtypes.IntervalMode(strings.ToLower(v.String(IntervalHandlingMode))),
			HStore:              pgtypes.HStoreMode(strings.ToLower(v.String(HStoreHandlingMode))),
			MoneyFractionDigits: v.Int(MoneyFractionDigits),
		},
	}
	c.Quarantine = strings.EqualFold(v.String(TableFailureMode), cdc.TableFailureQuarantine)
	c.Streaming = v.Bool(StreamInProgress)
	c.SignalTable = strings.TrimSpace(v.String(SignalDataCollection))
	c.StreamBufferBytes = int(v.Long(StreamBufferBytes))
	c.XminInterval = time.Duration(v.Long(XminFetchIntervalMs)) * time.Millisecond
	c.MaxQueueBytes = v.Long(MaxQueueSizeInBytes)
	c.Name = props["name"]
	c.MaxRetries = v.Int(ErrorsMaxRetries)
	c.ReconnectMax = time.Duration(v.Long(RetriableRestartWaitMs)) * time.Millisecond
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
	if c.HeartbeatActionQuery != "" && c.HeartbeatInterval == 0 {
		return nil, config.Errors{{Key: HeartbeatActionQuery, Reason: "the query runs before each heartbeat, and heartbeat.interval.ms is 0 (no heartbeats): set heartbeat.interval.ms too"}}
	}
	if err := checkTLSFiles(c); err != nil {
		return nil, err
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
	c.SchemaInclude = cdc.Anchored(v.List(SchemaIncludeList))
	c.SchemaExclude = cdc.Anchored(v.List(SchemaExcludeList))
	c.TableInclude = cdc.Anchored(v.List(TableIncludeList))
	c.TableExclude = cdc.Anchored(v.List(TableExcludeList))
	c.ColumnInclude = cdc.Anchored(v.List(ColumnIncludeList))
	c.ColumnExclude = cdc.Anchored(v.List(ColumnExcludeList))
	c.MessageInclude = cdc.Anchored(v.List(MessagePrefixInclude))
	c.MessageExclude = cdc.Anchored(v.List(MessagePrefixExclude))
	c.KeyColumns, _ = parseMessageKeyColumns(v.String(MessageKeyColumns))
	return c, nil
}

func parseMessageKeyColumns(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		table, cols, ok := strings.Cut(part, ":")
		if !ok || strings.TrimSpace(table) == "" || strings.TrimSpace(cols) == "" {
			return nil, fmt.Errorf("%q: expected schema.table:col1,col2", part)
		}
		for _, c := range strings.Split(cols, ",") {
			if c = strings.TrimSpace(c); c != "" {
				out[strings.TrimSpace(table)] = append(out[strings.TrimSpace(table)], c)
			}
		}
	}
	return out, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// systemSchemas are never captured.
var systemSchemas = map[string]bool{"pg_catalog": true, "information_schema": true, "pg_toast": true}

// Captures reports whether the table is captured by the include and
// exclude lists.
func (c *Config) Captures(schema, table string) bool {
	if systemSchemas[schema] || strings.HasPrefix(schema, "pg_temp") || strings.HasPrefix(schema, "pg_toast") {
		return false
	}
	if len(c.SchemaInclude) > 0 && !anyMatch(c.SchemaInclude, schema) {
		return false
	}
	if anyMatch(c.SchemaExclude, schema) {
		return false
	}
	full := schema + "." + table
	if len(c.TableInclude) > 0 && !anyMatch(c.TableInclude, full) {
		return false
	}
	return !anyMatch(c.TableExclude, full)
}

// CapturesColumn reports whether a column goes into events.
func (c *Config) CapturesColumn(schema, table, column string) bool {
	full := schema + "." + table + "." + column
	if len(c.ColumnInclude) > 0 && !anyMatch(c.ColumnInclude, full) {
		return false
	}
	return !anyMatch(c.ColumnExclude, full)
}

// ConnString returns a libpq connection string for the database.
func (c *Config) ConnString() string {
	kv := func(k, v string) string {
		return k + "='" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
	}
	parts := []string{kv("host", c.Host), fmt.Sprintf("port=%d", c.Port), kv("user", c.User), kv("dbname", c.DBName),
		kv("sslmode", c.SSLMode), "connect_timeout=10"}
	if c.Password != "" {
		parts = append(parts, kv("password", c.Password))
	}
	if c.SSLCert != "" {
		parts = append(parts, kv("sslcert", c.SSLCert))
	}
	if c.SSLKey != "" {
		parts = append(parts, kv("sslkey", c.SSLKey))
	}
	if c.SSLRootCert != "" {
		parts = append(parts, kv("sslrootcert", c.SSLRootCert))
	}
	return strings.Join(parts, " ")
}

// Addr is host:port, for messages.
func (c *Config) Addr() string { return fmt.Sprintf("%s:%d", c.Host, c.Port) }
