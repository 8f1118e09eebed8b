package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Table change types of a schema change event's tableChanges.
const (
	changeCreate = "CREATE"
	changeAlter  = "ALTER"
	changeDrop   = "DROP"
)

// Schemas of the schema change topic, as Debezium's SchemaFactory
// (schemaHistoryConnectorKeySchema and ValueSchema) and
// ConnectTableChangeSerializer shape them.
var (
	changeColumnSchema = connectors.NewStruct("io.debezium.connector.schema.Column", false,
		connectors.Opt("name", connectors.StringSchema),
		connectors.Opt("jdbcType", connectors.Int32Schema),
		connectors.Opt("nativeType", connectors.OptionalInt32Schema),
		connectors.Opt("typeName", connectors.StringSchema),
		connectors.Opt("typeExpression", connectors.OptionalStringSchema),
		connectors.Opt("charsetName", connectors.OptionalStringSchema),
		connectors.Opt("length", connectors.OptionalInt32Schema),
		connectors.Opt("scale", connectors.OptionalInt32Schema),
		connectors.Opt("position", connectors.Int32Schema),
		connectors.Opt("optional", connectors.OptionalBooleanSchema),
		connectors.Opt("autoIncremented", connectors.OptionalBooleanSchema),
		connectors.Opt("generated", connectors.OptionalBooleanSchema),
		connectors.Opt("comment", connectors.OptionalStringSchema),
		connectors.Opt("defaultValueExpression", connectors.OptionalStringSchema),
		connectors.Opt("enumValues", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.StringSchema}))
	changeTableSchema = connectors.NewStruct("io.debezium.connector.schema.Table", false,
		connectors.Opt("defaultCharsetName", connectors.OptionalStringSchema),
		connectors.Opt("primaryKeyColumnNames", &connectors.Schema{Type: connectors.Array, Optional: true, Items: connectors.StringSchema}),
		connectors.Opt("columns", &connectors.Schema{Type: connectors.Array, Items: changeColumnSchema}),
		connectors.Opt("comment", connectors.OptionalStringSchema))
	changeSchema = connectors.NewStruct("io.debezium.connector.schema.Change", false,
		connectors.Opt("type", connectors.StringSchema),
		connectors.Opt("id", connectors.StringSchema),
		connectors.Opt("table", changeTableSchema))
)

// schemaChangeSchemas returns the key and value schemas of the schema
// change topic of a connector whose source block is source;
// connector is "mysql" or "mariadb".
func schemaChangeSchemas(connector string, source *connectors.Schema) (key, value *connectors.Schema) {
	key = connectors.NewStruct("io.debezium.connector."+connector+".SchemaChangeKey", false,
		connectors.Opt("databaseName", connectors.StringSchema))
	key.Version = 1
	value = connectors.NewStruct("io.debezium.connector."+connector+".SchemaChangeValue", false,
		connectors.Opt("source", source),
		connectors.Opt("ts_ms", connectors.Int64Schema),
		connectors.Opt("databaseName", connectors.OptionalStringSchema),
		connectors.Opt("schemaName", connectors.OptionalStringSchema),
		connectors.Opt("ddl", connectors.OptionalStringSchema),
		connectors.Opt("tableChanges", &connectors.Schema{Type: connectors.Array, Items: changeSchema}))
	value.Version = 1
	return key, value
}

// Positions in the schema change value.
const (
	scSource = iota
	scTsMs
	scDatabase
	scSchema
	scDDL
	scTableChanges
)

// tableChange is one entry of tableChanges.
func tableChange(typ string, t tableRef, desc *connectors.StructValue) *connectors.StructValue {
	v := connectors.NewStructValue(changeSchema)
	v.Values[0] = typ
	v.Values[1] = `"` + t.db + `"."` + t.name + `"`
	v.Values[2] = desc
	return v
}

// emptyTableDesc describes a table whose columns are not known (dropped
// before this task read it).
func emptyTableDesc() *connectors.StructValue {
	v := connectors.NewStructValue(changeTableSchema)
	v.Values[1] = []any{}
	v.Values[2] = []any{}
	return v
}

// Debezium's JDBC types (java.sql.Types) of MySQL types, as its DDL parser
// resolves them.
var jdbcTypes = map[string]int32{
	"bit": -7, "bool": 16, "boolean": 16,
	"tinyint": 5, "smallint": 5, "mediumint": 4, "int": 4, "integer": 4, "bigint": -5,
	"float": 6, "double": 8, "real": 8, "decimal": 3, "numeric": 2,
	"date": 91, "time": 92, "datetime": 93, "timestamp": 2014, "year": 4,
	"char": 1, "varchar": 12, "tinytext": 12, "text": 12, "mediumtext": 12, "longtext": 12,
	"binary": -2, "varbinary": -3, "tinyblob": 2004, "blob": 2004, "mediumblob": 2004, "longblob": 2004,
	"enum": 1, "set": 1,
}

// jdbcOther is java.sql.Types.OTHER (JSON, spatial types, ...).
const jdbcOther = 1111

// queryer is what reads the catalog: a *sql.DB or a *sql.Conn.
type queryer interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// describeTable reads db.name from information_schema into a tableChanges
// table struct; nil when the table does not exist (any more). special
// names MariaDB's JSON columns (jsonColumns).
func describeTable(ctx context.Context, q queryer, db, name string, special map[string]string) (*connectors.StructValue, error) {
	var charset sql.NullString
	err := q.QueryRowContext(ctx, "SELECT c.CHARACTER_SET_NAME FROM information_schema.TABLES t LEFT JOIN information_schema.COLLATIONS c "+
		"ON c.COLLATION_NAME = t.TABLE_COLLATION WHERE t.TABLE_SCHEMA = ? AND t.TABLE_NAME = ?", db, name).Scan(&charset)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading table %s.%s from information_schema: %w", db, name, err)
	}
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, ORDINAL_POSITION, COALESCE(CHARACTER_SET_NAME, ''), "+
		"COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", db, name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", db, name, err)
	}
	defer rows.Close()
	cols := []any{}
	for rows.Next() {
		var col, dataType, colType, nullable, cs, extra string
		var pos int32
		var def sql.NullString
		if err := rows.Scan(&col, &dataType, &colType, &nullable, &pos, &cs, &def, &extra); err != nil {
			return nil, fmt.Errorf("reading the columns of %s.%s: %w", db, name, err)
		}
		cols = append(cols, describeColumn(col, dataType, colType, nullable == "YES", pos, cs, def, extra, special[col] == "json"))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", db, name, err)
	}
	rows.Close()
	pk := []any{}
	krows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? "+
		"AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX", db, name)
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of %s.%s: %w", db, name, err)
	}
	defer krows.Close()
	for krows.Next() {
		var c string
		if err := krows.Scan(&c); err != nil {
			return nil, fmt.Errorf("reading the primary key of %s.%s: %w", db, name, err)
		}
		pk = append(pk, c)
	}
	if err := krows.Err(); err != nil {
		return nil, fmt.Errorf("reading the primary key of %s.%s: %w", db, name, err)
	}
	if len(cols) == 0 {
		return nil, nil // dropped between the two reads
	}
	v := connectors.NewStructValue(changeTableSchema)
	if charset.Valid {
		v.Values[0] = charset.String
	}
	v.Values[1] = pk
	v.Values[2] = cols
	return v, nil
}

// describeColumn builds a tableChanges column from its information_schema
// row.
func describeColumn(name, dataType, colType string, nullable bool, pos int32, charset string, def sql.NullString, extra string, json bool) *connectors.StructValue {
	v := connectors.NewStructValue(changeColumnSchema)
	v.Values[0] = name
	dataType = strings.ToLower(dataType)
	jdbc, ok := jdbcTypes[dataType]
	if !ok {
		jdbc = jdbcOther
	}
	// The type name: COLUMN_TYPE without its (length) and ZEROFILL, in
	// capitals ("INT UNSIGNED", "VARCHAR").
	typeName, args := colType, ""
	if open := strings.IndexByte(colType, '('); open >= 0 {
		if end := strings.LastIndexByte(colType, ')'); end > open {
			typeName, args = colType[:open]+colType[end+1:], colType[open+1:end]
		}
	}
	typeName = strings.ToUpper(strings.Join(strings.Fields(strings.ReplaceAll(strings.ToLower(typeName), "zerofill", "")), " "))
	if json {
		typeName, jdbc, charset = "JSON", jdbcOther, ""
	}
	v.Values[1] = jdbc
	v.Values[3] = typeName
	v.Values[4] = typeName
	if charset != "" {
		v.Values[5] = charset
	}
	switch dataType {
	case "enum", "set":
		members, err := quotedList(args)
		if err == nil {
			vals := make([]any, len(members))
			for i, m := range members {
				vals[i] = m
			}
			v.Values[14] = vals
		}
	default:
		if args != "" {
			l, s, hasScale := strings.Cut(args, ",")
			if n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 32); err == nil {
				v.Values[6] = int32(n)
			}
			if hasScale {
				if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32); err == nil {
					v.Values[7] = int32(n)
				}
			}
		}
	}
	v.Values[8] = pos
	v.Values[9] = nullable
	extra = strings.ToLower(extra)
	v.Values[10] = strings.Contains(extra, "auto_increment")
	// MySQL 8 says DEFAULT_GENERATED of an expression default: not a
	// generated column.
	v.Values[11] = strings.Contains(extra, "virtual generated") || strings.Contains(extra, "stored generated") ||
		strings.Contains(extra, "persistent generated")
	if def.Valid && !strings.EqualFold(def.String, "NULL") {
		d := def.String
		if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
			// MariaDB quotes literal defaults.
			d = strings.ReplaceAll(d[1:len(d)-1], "''", "'")
		}
		v.Values[13] = d
	}
	return v
}

// records builds the schema change records of one DDL statement: one
// per database it touches (dbs), as Debezium groups them, each keyed by
// its database name, with changes the table changes per database; p is
// the statement's position. The records carry no source offset.
func (b *schemaChanges) records(dbs []string, changes map[string][]any, ddl string, p *srcPosition) []*connectors.Record {
	out := make([]*connectors.Record, 0, len(dbs))
	for _, db := range dbs {
		key := connectors.NewStructValue(b.key)
		key.Values[0] = db
		v := connectors.NewStructValue(b.value)
		src := b.b.SourceValue(p.ts, p.snapshot, db)
		var names []string
		for _, c := range changes[db] {
			id := c.(*connectors.StructValue).Values[1].(string)
			if _, n, ok := strings.Cut(id, `"."`); ok {
				names = append(names, strings.TrimSuffix(n, `"`))
			}
		}
		if len(names) > 0 {
			src.Values[srcTable] = strings.Join(names, ",")
		}
		src.Values[srcServerID] = p.serverID
		src.Values[srcGTID] = p.gtid
		src.Values[srcFile] = p.file
		src.Values[srcPos] = p.pos
		src.Values[srcRow] = int32(0)
		src.Values[srcThread] = p.thread
		v.Values[scSource] = src
		v.Values[scTsMs] = b.b.Now().UnixMilli()
		v.Values[scDatabase] = db
		v.Values[scDDL] = ddl
		tc := changes[db]
		if tc == nil {
			tc = []any{}
		}
		v.Values[scTableChanges] = tc
		out = append(out, &connectors.Record{Topic: b.topic, Partition: -1, KeySchema: b.key, Key: key,
			ValueSchema: b.value, Value: v, Timestamp: b.b.Now(), SourcePartition: b.b.Partition})
	}
	return out
}

// schemaChanges makes the records of the schema change topic.
type schemaChanges struct {
	b          *cdc.Builder
	topic      string // <topic.prefix>
	key, value *connectors.Schema
	// known holds the last description read of each table (db.table),
	// for the DROP of a table this task saw before.
	known map[string]*connectors.StructValue
}

func newSchemaChanges(cfg *Config, b *cdc.Builder) *schemaChanges {
	connector := "mysql"
	if cfg.MariaDB {
		connector = "mariadb"
	}
	k, v := schemaChangeSchemas(connector, b.Source)
	return &schemaChanges{b: b, topic: cfg.TopicPrefix, key: k, value: v, known: map[string]*connectors.StructValue{}}
}

// snapshotSchemaChange is the schema change event of a table a snapshot
// reads, queued before its rows as Debezium's snapshot does: ddl is the
// table's SHOW CREATE TABLE, tableChanges one CREATE with the table as
// information_schema has it. q is the snapshot's connection (inside its
// transaction; neither statement is bound to the transaction's snapshot,
// so both give the table's definition when they run); pos is the
// snapshot's binlog position, in the source block with snapshot "true".
// It returns nil for a table that is gone, and when
// include.schema.changes is off. The record carries no source offset.
// Run's goroutine only (it updates known).
func (t *Task) snapshotSchemaChange(ctx context.Context, q queryer, db, name string, pos offset) (*connectors.Record, error) {
	if !t.cfg.IncludeSchemaChanges {
		return nil, nil
	}
	var tbl, ddl string
	err := q.QueryRowContext(ctx, "SHOW CREATE TABLE "+quoteIdent(db)+"."+quoteIdent(name)).Scan(&tbl, &ddl)
	var me *driver.MySQLError
	if errors.As(err, &me) && me.Number == 1146 { // ER_NO_SUCH_TABLE
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: SHOW CREATE TABLE %s.%s: %w", db, name, err)
	}
	var special map[string]string
	if t.info.mariaDB {
		if special, err = jsonColumns(ctx, t.db, db, name); err != nil {
			return nil, err
		}
	}
	desc, err := describeTable(ctx, q, db, name, special)
	if err != nil || desc == nil {
		return nil, err
	}
	sc := t.schemaChanges
	sc.known[db+"."+name] = desc
	p := &srcPosition{ts: cdc.TimeBoxes(time.Now()), snapshot: cdc.SnapTrue, serverID: int64(0), file: pos.file, pos: int64(pos.pos)}
	ref := tableRef{db: db, name: name}
	return sc.records([]string{db}, map[string][]any{db: {tableChange(changeCreate, ref, desc)}}, ddl, p)[0], nil
}
