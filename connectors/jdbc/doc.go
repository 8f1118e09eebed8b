// Package jdbc is the JDBC sink connector: it writes topics into
// PostgreSQL (pgx) and MySQL/MariaDB (go-sql-driver/mysql) tables, taking
// Debezium's and Confluent's JDBC sink configs unchanged
// (connector.class io.debezium.connector.jdbc.JdbcSinkConnector,
// io.confluent.connect.jdbc.JdbcSinkConnector or jdbc).
//
// # Records
//
// A value whose schema has a string op field and a struct after (or
// before) field is a Debezium envelope: op c, r and u write after; op d
// deletes by key when delete.enabled; op t truncates the table when
// truncate.enabled; other ops are ignored. Any other struct value is a
// flat row. A null value (tombstone) deletes by key when delete.enabled
// (after a Debezium delete it repeats it, and reduction makes the two one
// statement) and is skipped otherwise, and also when table.name.format
// uses ${source.…}, which a tombstone has no source block for.
//
// A column whose value the source did not have (an unchanged TOASTed
// PostgreSQL column) is left out of the row's statement, so the stored
// value stays, whatever its type. Such a column is named by a
// connectors.UnavailableHeader header of the record (Sluice's PostgreSQL
// source adds one per field), or holds the unavailable-value placeholder
// (unavailable.value.placeholder, Debezium's "__debezium_unavailable_value")
// in one of the forms isPlaceholder lists: Debezium's (string, bytes,
// one-element arrays, integer arrays of its bytes, name-based UUID, map)
// and Sluice's for numerics (Decimal and VariableScaleDecimal whose
// unscaled value is its bytes). Rows with different sets of such columns
// go into different statements.
//
// # Batches
//
// Put decodes records into a buffer that keeps, per table and key, only
// the last change (see buffer); every batch.size records, and on Flush,
// the buffer is written in one database transaction, and only then are its
// records' offsets reported by Flush. A retriable failure (lost
// connection, server restart, deadlock, serialization failure) rolls the
// transaction back and retries the whole batch on a new connection, with
// back-off, up to max.retries times, and then returns it to the runtime
// as retriable (its circuit breaker waits for the database). Any other
// failure is first retried once with the table metadata and prepared statements read afresh (a
// table altered by someone else); if it persists, the batch's entries are
// bisected in transactions that are rolled back to find the record the
// database refuses, which is reported through SinkTaskContext.Errant:
// with errors.tolerance=all the runtime writes it to the dead letter
// queue and the batch is written without it; otherwise the task fails
// with a *connectors.RecordError naming topic, partition, offset and
// column.
//
// The buffer never reduces changes across Kafka partitions (a change of a
// key another partition changed in the batch writes the buffer first), so
// when partitions are taken away from the task (Close) their buffered
// changes and offsets are dropped without touching the others': a lost
// partition's rows are never written late over its new owner's.
//
// PostgreSQL: per table and column list, fewer than sluice.copy.threshold
// rows go as multi-row INSERT … ON CONFLICT (key) DO UPDATE and DELETE …
// WHERE (key) IN (…) statements (row counts split into powers of two, so
// each shape prepares a handful of statements, all sent in one pipeline);
// larger groups are COPYed (binary, encoded by the sink for the stage's
// exact column types) into a temporary stage table (created once per
// session and column list, no indexes, ON COMMIT DELETE ROWS) and applied
// with one MERGE (PostgreSQL 15+; INSERT … SELECT … ON CONFLICT before) or
// DELETE … USING. Every upsert skips rows whose non-key columns already
// hold the new values (IS DISTINCT FROM; by text for numeric without a
// scale, floating point, json and arrays, whose equality is looser than
// identity), so a replayed batch writes no new row versions. Updates that
// cannot be HOT (no room on the row's page) cost about twice an insert;
// a fillfactor below 100 on tables that see many updates helps most.
//
// MySQL/MariaDB: multi-row INSERT … ON DUPLICATE KEY UPDATE and
// DELETE … WHERE (key) IN (…), interpolated on the client, each statement
// filled up to 90% of max_allowed_packet. The upsert names the new row
// as MySQL 8.0.19 and later want it (VALUES (…) AS new … col = new.col;
// VALUES(col) is deprecated there since 8.0.20) and as VALUES(col) on
// MariaDB, which has no row alias, and on older MySQL; the flavour comes
// from the server's VERSION(), not from the URL's scheme.
// truncate is DELETE FROM so that it stays inside the transaction.
//
// # Type mapping
//
// Tables are created (auto.create, schema.evolution=basic) with these
// column types; the primary key comes from the record key (or as
// primary.key.mode says). auto.evolve adds new fields as nullable
// columns (required ones too: the rows already there have no value for
// them), widens integer, varchar and numeric columns, and lets a NOT NULL
// column that the records no longer have (dropped or renamed in the
// source) and that the database does not fill (default, identity,
// generated) hold NULL; key columns are left alone. It never drops or
// renames a column: a renamed source column is a new column, the old one
// stays, NULL in later rows. A numeric(p,s)
// column gets as many integer digits (p-s) and fractional digits (s) as
// the larger of it and the field has (numeric(10,2) and a field of
// numeric(8,4) give numeric(12,4)), so no stored or new value loses a
// digit. A field that cannot go into an existing column (more digits
// than the database's numeric allows, text into a number) fails the task
// with a *SchemaError naming the table, the column and both types.
//
//	Connect type / semantic name           PostgreSQL                   MySQL / MariaDB
//	int8                                   smallint                     tinyint
//	int16                                  smallint                     smallint
//	int32 (also io.debezium.time.Year)     integer                      int
//	int64 (also MicroDuration, in µs)      bigint                       bigint
//	float                                  real                         float
//	double                                 double precision             double
//	boolean                                boolean                      tinyint(1)
//	string (Enum, Xml, …)                  text, or varchar(n) with     longtext; varchar(n) with the
//	                                       the source column length     source length; varchar(255) in a key
//	bytes (also io.debezium.data.Bits)     bytea                        longblob; varbinary(255) in a key
//	Decimal (scale s, precision p)         numeric(p,s) or numeric      decimal(p,s), decimal(65,s) without p
//	io.debezium.data.VariableScaleDecimal  numeric                      decimal(65,30)
//	Date, io.debezium.time.Date, IsoDate   date                         date
//	Time, io.debezium.time.Time            time(3)                      time(3)
//	MicroTime, NanoTime, IsoTime           time(6)                      time(6)
//	Timestamp, io.debezium.time.Timestamp  timestamp(3)                 datetime(3)
//	MicroTimestamp, NanoTimestamp,         timestamp(6)                 datetime(6)
//	  IsoTimestamp
//	io.debezium.time.ZonedTimestamp        timestamp with time zone     datetime(6) in database.time_zone
//	io.debezium.time.ZonedTime             time with time zone (*)      time(6), the time of day in UTC
//	io.debezium.time.Interval (string)     interval                     longtext (the ISO 8601 text)
//	io.debezium.data.Json                  jsonb                        json
//	io.debezium.data.Uuid                  uuid                         char(36)
//	array of T                             T[]                          json (a JSON array)
//	map, struct (other than the above,     not supported: the task fails naming the field
//	  also io.debezium.data.geometry.*)
//
// (*) pgx has no binary encoder for time with time zone, so rows with
// such a column are written by statements, never by COPY.
//
// In MySQL's JSON arrays, elements are written as JSON numbers, strings,
// booleans and nulls: decimals as numbers, bytes as base64, dates as
// "2024-02-29", zone-less timestamps as "2024-02-29T13:14:15.25" (no
// zone), ZonedTimestamps as UTC instants ("2024-02-29T12:14:15.25Z"),
// times of day as "13:14:15.250000", Json elements as their JSON.
//
// Zone-less timestamps (Timestamp, MicroTimestamp, NanoTimestamp) are
// written with their wall clock unchanged; ZonedTimestamp values are
// instants, stored as such in timestamptz and converted to
// database.time_zone for DATETIME.
//
// Debezium's ±infinity timestamps (PostgreSQL's DATE_POSITIVE_INFINITY
// and DATE_NEGATIVE_INFINITY sentinels in Timestamp, MicroTimestamp and
// NanoTimestamp, "infinity" and "-infinity" ZonedTimestamps) are written
// to PostgreSQL as infinity and -infinity; MySQL refuses them (the record
// fails naming the column). Debezium's infinity dates (days of year
// -5877611) land on PostgreSQL's infinity dates.
//
// The string forms of time.precision.mode=isostring (IsoDate
// "2023-11-21Z", IsoTime "10:15:30.123456789Z", IsoTimestamp
// "2023-11-21T18:29:26.5Z": Debezium writes the source's zone-less value
// with offset Z) are written like their numeric forms: the date as
// written, times and timestamps as the UTC wall clock (a value with
// another offset is converted to UTC first), fractions beyond six digits
// truncated. A value that does not parse fails its record. An existing
// text column (one made for these fields before the sink mapped them)
// keeps getting the strings in Debezium's form. Interval
// strings (interval.handling.mode=string, "P1Y2M3DT4H5M6.78S") go into
// PostgreSQL's interval as months, days and microseconds.
//
// # Names
//
// table.name.format (default ${topic}) resolves ${topic} to the topic
// name with dots replaced by underscores, as Debezium's sink does
// (server1.inventory.customers → server1_inventory_customers), and
// ${source.db}, ${source.schema}, ${source.table} from the envelope's
// source block. A dot left in the result separates schema (MySQL:
// database) and table. With quote.identifiers=false (the default)
// PostgreSQL table and new column names are folded to lower case, as
// unquoted SQL would; record fields match existing columns by exact name
// first, then ignoring case.
package jdbc
