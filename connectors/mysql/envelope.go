package mysql

import (
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Version is reported as source.version and as the plugin version.
const Version = "0.1.0"

// Source block schema names, as Debezium's MySQL and MariaDB connectors
// name theirs.
const (
	SourceSchemaName        = "io.debezium.connector.mysql.Source"
	MariaDBSourceSchemaName = "io.debezium.connector.mariadb.Source"
)

// Positions of MySQL's own fields in the source block, after the common
// ones (cdc.SrcSpecific).
const (
	srcTable = cdc.SrcSpecific + iota
	srcServerID
	srcGTID
	srcFile
	srcPos
	srcRow
	srcThread
	srcQuery
)

// sourceSchema is Debezium's BinlogSourceInfoStructMaker schema.
func sourceSchema(name string) *connectors.Schema {
	return cdc.SourceSchema(name,
		connectors.Opt("table", connectors.OptionalStringSchema),
		connectors.Opt("server_id", connectors.Int64Schema),
		connectors.Opt("gtid", connectors.OptionalStringSchema),
		connectors.Opt("file", connectors.StringSchema),
		connectors.Opt("pos", connectors.Int64Schema),
		connectors.Opt("row", connectors.Int32Schema),
		connectors.Opt("thread", connectors.OptionalInt64Schema),
		connectors.Opt("query", connectors.OptionalStringSchema))
}

// newBuilder returns the record builder of a connector config.
func newBuilder(cfg *Config) *cdc.Builder {
	name, connector := SourceSchemaName, "mysql"
	if cfg.MariaDB {
		name, connector = MariaDBSourceSchemaName, "mariadb"
	}
	return cdc.NewBuilder(Version, connector, cfg.TopicPrefix, sourceSchema(name), map[string]any{"server": cfg.TopicPrefix})
}

// srcPosition is where an event sits in the binlog, for its source
// block. The fields are boxed once per rows event (serverID and pos
// int64, file and gtid string or nil gtid, thread int64 or nil), so the
// rows of an event share the boxes.
type srcPosition struct {
	ts       cdc.Times
	snapshot string
	serverID any
	gtid     any
	file     any
	pos      any
	row      int32
	thread   any
	query    any
	at       time.Time // the event's time, unboxed
}

// sourceValue returns the source block of an event of t at p.
func sourceValue(b *cdc.Builder, t *table, p *srcPosition) *connectors.StructValue {
	s := b.SourceValue(p.ts, p.snapshot, t.boxedDB)
	v := s.Values
	v[srcTable] = t.boxedName
	v[srcServerID] = p.serverID
	v[srcGTID] = p.gtid
	v[srcFile] = p.file
	v[srcPos] = p.pos
	v[srcRow] = p.row
	v[srcThread] = p.thread
	v[srcQuery] = p.query
	return s
}
