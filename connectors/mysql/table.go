package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// table is a captured table's shape and the schemas of its events.
type table struct {
	db, name string
	// boxedDB and boxedName are source.db and source.table, boxed once.
	boxedDB, boxedName any
	cols               []column
	// include[i] says column i goes into events; pos[i] is its field
	// index in the value struct.
	include []bool
	pos     []int
	key     []int // column indexes of the primary key
	topic   string
	value   *connectors.Schema
	keyS    *connectors.Schema
	env     *connectors.Schema
}

// ErrNoRowMetadata says the binlog's table maps carry no column names:
// binlog_row_metadata is not FULL.
var ErrNoRowMetadata = errors.New("the binlog's table-map events carry no column names: set binlog_row_metadata=FULL " +
	"(SET GLOBAL binlog_row_metadata=FULL and in the server's configuration); the MySQL source takes column names, keys, " +
	"signedness, charsets and enum values from that metadata instead of parsing DDL")

// keyOf returns the key columns of db.name: message.key.columns' for
// it, or the primary key.
func keyOf(cfg *Config, db, name string, cols []column, pk []int) ([]int, error) {
	names := cfg.messageKey(db, name)
	if names == nil {
		return pk, nil
	}
	key := make([]int, 0, len(names))
	for _, n := range names {
		i := 0
		for i < len(cols) && !strings.EqualFold(cols[i].name, n) {
			i++
		}
		if i == len(cols) {
			return nil, fmt.Errorf("message.key.columns names column %s, which table %s.%s does not have", n, db, name)
		}
		key = append(key, i)
	}
	return key, nil
}

// newTable builds the schemas of a table from its columns and key.
func newTable(cfg *Config, source *connectors.Schema, db, name string, cols []column, key []int) *table {
	t := &table{db: db, name: name, boxedDB: db, boxedName: name, cols: cols, key: key,
		topic: cfg.TopicPrefix + "." + db + "." + name}
	base := cfg.TopicPrefix + "." + db + "." + name
	var fields []connectors.Field
	t.include = make([]bool, len(cols))
	t.pos = make([]int, len(cols))
	for i := range cols {
		t.pos[i] = -1
		if !cfg.CapturesColumn(db, name, cols[i].name) {
			continue
		}
		t.include[i] = true
		t.pos[i] = len(fields)
		fields = append(fields, connectors.Opt(cols[i].name, cols[i].schema(cfg.Modes)))
	}
	t.value = connectors.NewStruct(base+".Value", true, fields...)
	if len(key) > 0 {
		var kf []connectors.Field
		for _, k := range key {
			s := *cols[k].schema(cfg.Modes)
			s.Optional = false
			kf = append(kf, connectors.Opt(cols[k].name, &s))
		}
		t.keyS = connectors.NewStruct(base+".Key", false, kf...)
	}
	t.env = cdc.EnvelopeSchema(base+".Envelope", t.value, source)
	return t
}

// sameShape reports whether cols and key describe t as it is.
func (t *table) sameShape(cols []column, key []int) bool {
	if len(cols) != len(t.cols) || len(key) != len(t.key) {
		return false
	}
	for i := range cols {
		if !cols[i].sameShape(&t.cols[i]) {
			return false
		}
	}
	for i := range key {
		if key[i] != t.key[i] {
			return false
		}
	}
	return true
}

// collations maps collation ids to character sets (information_schema).
type collations map[uint64]string

func loadCollations(ctx context.Context, db *sql.DB) (collations, error) {
	rows, err := db.QueryContext(ctx, "SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
	if err != nil {
		return nil, fmt.Errorf("reading collations: %w", err)
	}
	defer rows.Close()
	out := collations{63: "binary"}
	for rows.Next() {
		var id uint64
		var cs string
		if err := rows.Scan(&id, &cs); err != nil {
			return nil, err
		}
		out[id] = cs
	}
	return out, rows.Err()
}

// addressKinds are MariaDB's UUID, INET4 and INET6 types by name.
var addressKinds = map[string]kind{"uuid": kUUID, "inet4": kInet4, "inet6": kInet6}

// jsonColumns returns the columns of db.name that the binlog cannot tell
// apart by itself, by name: "json" for MariaDB's JSON (an alias of
// LONGTEXT with a json_valid check), and the type name of MariaDB's
// UUID, INET4 and INET6 columns (which look like BINARY there).
func jsonColumns(ctx context.Context, db *sql.DB, schema, name string) (map[string]string, error) {
	out := map[string]string{}
	rows, err := db.QueryContext(ctx, "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "+
		"WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND LEVEL = 'Column'", schema, name)
	if err != nil {
		return nil, fmt.Errorf("reading the JSON columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var col, clause string
		if err := rows.Scan(&col, &clause); err != nil {
			rows.Close()
			return nil, err
		}
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(clause)), "json_valid(") {
			out[col] = "json"
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = db.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE IN ('uuid', 'inet4', 'inet6')", schema, name)
	if err != nil {
		return nil, fmt.Errorf("reading the column types of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			return nil, err
		}
		out[col] = typ
	}
	return out, rows.Err()
}

// stringLength returns the byte length and real type of a STRING
// column's metadata (as the server packs it).
func stringLength(meta uint16) (length int, real byte) {
	if meta >= 256 {
		b0, b1 := byte(meta>>8), byte(meta&0xFF)
		if b0&0x30 != 0x30 {
			return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4), b0 | 0x30
		}
		return int(meta & 0xFF), b0
	}
	return int(meta), mysql.MYSQL_TYPE_STRING
}

// columnsFromTableMap describes a table from its table-map event
// (binlog_row_metadata=FULL); json names MariaDB's JSON columns.
func columnsFromTableMap(e *replication.TableMapEvent, colls collations, special map[string]string) ([]column, []int, error) {
	names := e.ColumnNameString()
	if len(names) != int(e.ColumnCount) {
		return nil, nil, ErrNoRowMetadata
	}
	unsigned := e.UnsignedMap()
	charsets := e.CollationMap()
	enums, sets := e.EnumStrValueMap(), e.SetStrValueMap()
	cols := make([]column, e.ColumnCount)
	for i := range cols {
		c := &cols[i]
		c.name = names[i]
		_, c.nullable = e.Nullable(i)
		if k, ok := addressKinds[special[c.name]]; ok {
			c.kind = k
			continue
		}
		meta := e.ColumnMeta[i]
		switch typ := e.ColumnType[i]; typ {
		case mysql.MYSQL_TYPE_TINY, mysql.MYSQL_TYPE_SHORT, mysql.MYSQL_TYPE_INT24, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONGLONG:
			c.kind, c.unsigned = kInt, unsigned[i]
			c.size = map[byte]int{mysql.MYSQL_TYPE_TINY: 1, mysql.MYSQL_TYPE_SHORT: 2, mysql.MYSQL_TYPE_INT24: 3, mysql.MYSQL_TYPE_LONG: 4, mysql.MYSQL_TYPE_LONGLONG: 8}[typ]
		case mysql.MYSQL_TYPE_NEWDECIMAL:
			c.kind, c.precision, c.scale = kDecimal, int(meta>>8), int(meta&0xFF)
		case mysql.MYSQL_TYPE_FLOAT:
			c.kind = kFloat
		case mysql.MYSQL_TYPE_DOUBLE:
			c.kind = kDouble
		case mysql.MYSQL_TYPE_BIT:
			c.kind, c.size = kBit, int(meta>>8)*8+int(meta&0xFF)
		case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
			c.kind = kDate
		case mysql.MYSQL_TYPE_TIME2:
			c.kind, c.fsp = kTime, int(meta)
		case mysql.MYSQL_TYPE_TIME:
			c.kind = kTime
		case mysql.MYSQL_TYPE_DATETIME2:
			c.kind, c.fsp = kDatetime, int(meta)
		case mysql.MYSQL_TYPE_DATETIME:
			c.kind = kDatetime
		case mysql.MYSQL_TYPE_TIMESTAMP2:
			c.kind, c.fsp = kTimestamp, int(meta)
		case mysql.MYSQL_TYPE_TIMESTAMP:
			c.kind = kTimestamp
		case mysql.MYSQL_TYPE_YEAR:
			c.kind = kYear
		case mysql.MYSQL_TYPE_JSON:
			c.kind = kJSON
		case mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR, mysql.MYSQL_TYPE_VAR_STRING, mysql.MYSQL_TYPE_BLOB:
			if vals, ok := enums[i]; ok {
				c.kind, c.values = kEnum, vals
				break
			}
			if vals, ok := sets[i]; ok {
				c.kind, c.values = kSet, vals
				break
			}
			cs, ok := colls[charsets[i]]
			if !ok {
				return nil, nil, fmt.Errorf("column %s: unknown collation %d", c.name, charsets[i])
			}
			switch {
			case special[c.name] == "json":
				c.kind = kJSON
			case cs == "binary":
				c.kind = kBytes
				if typ == mysql.MYSQL_TYPE_STRING {
					c.size, _ = stringLength(meta)
				}
			default:
				c.kind, c.charset, c.fixed = kString, cs, typ == mysql.MYSQL_TYPE_STRING
			}
		case mysql.MYSQL_TYPE_GEOMETRY:
			c.kind = kGeometry
		default:
			return nil, nil, fmt.Errorf("column %s: binlog type %d is not supported yet", c.name, typ)
		}
	}
	key := make([]int, len(e.PrimaryKey))
	for i, k := range e.PrimaryKey {
		key[i] = int(k)
	}
	return cols, key, nil
}

// columnsFromCatalog describes db.name from information_schema, as the
// snapshot reads it.
func columnsFromCatalog(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, schema, name string, special map[string]string) ([]column, []int, error) {
	rows, err := q.QueryContext(ctx, "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COALESCE(NUMERIC_PRECISION, 0), "+
		"COALESCE(NUMERIC_SCALE, 0), COALESCE(DATETIME_PRECISION, 0), COALESCE(CHARACTER_SET_NAME, ''), COALESCE(CHARACTER_OCTET_LENGTH, 0), COLUMN_KEY "+
		"FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", schema, name)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, name, err)
	}
	defer rows.Close()
	var cols []column
	var key []int
	for rows.Next() {
		var c column
		var dataType, colType, nullable, colKey, cs string
		var prec, scale, fsp, octets int64
		if err := rows.Scan(&c.name, &dataType, &colType, &nullable, &prec, &scale, &fsp, &cs, &octets, &colKey); err != nil {
			return nil, nil, err
		}
		c.nullable = nullable == "YES"
		c.unsigned = strings.Contains(colType, "unsigned")
		switch dataType {
		case "tinyint", "smallint", "mediumint", "int", "bigint":
			c.kind = kInt
			c.size = map[string]int{"tinyint": 1, "smallint": 2, "mediumint": 3, "int": 4, "bigint": 8}[dataType]
		case "decimal":
			c.kind, c.precision, c.scale = kDecimal, int(prec), int(scale)
		case "float":
			c.kind = kFloat
		case "double":
			c.kind = kDouble
		case "bit":
			c.kind, c.size = kBit, int(prec)
		case "date":
			c.kind = kDate
		case "time":
			c.kind, c.fsp = kTime, int(fsp)
		case "datetime":
			c.kind, c.fsp = kDatetime, int(fsp)
		case "timestamp":
			c.kind, c.fsp = kTimestamp, int(fsp)
		case "year":
			c.kind = kYear
		case "json":
			c.kind = kJSON
		case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
			c.kind = kGeometry
		case "enum", "set":
			c.kind = kEnum
			if dataType == "set" {
				c.kind = kSet
			}
			open := strings.IndexByte(colType, '(')
			if open < 0 {
				return nil, nil, fmt.Errorf("column %s: cannot read the members of %s", c.name, colType)
			}
			c.values, err = quotedList(colType[open+1 : len(colType)-1])
			if err != nil {
				return nil, nil, fmt.Errorf("column %s: %s: %w", c.name, colType, err)
			}
		case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
			c.kind, c.charset, c.fixed = kString, cs, dataType == "char"
			if special[c.name] == "json" {
				c.kind, c.charset, c.fixed = kJSON, "", false
			}
		case "uuid", "inet4", "inet6":
			c.kind = addressKinds[dataType]
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			c.kind = kBytes
			if dataType == "binary" {
				c.size = int(octets)
			}
		default:
			return nil, nil, fmt.Errorf("column %s: type %s is not supported yet", c.name, colType)
		}
		if colKey == "PRI" {
			key = append(key, len(cols))
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("table %s.%s has no columns (was it dropped?)", schema, name)
	}
	return cols, key, nil
}

// quotedList reads 'a','b”c' into its strings.
func quotedList(s string) ([]string, error) {
	var out []string
	for len(s) > 0 {
		if s[0] != '\'' {
			return nil, fmt.Errorf("expected a quoted member at %q", s)
		}
		var b strings.Builder
		i := 1
		for ; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("unterminated member")
		}
		out = append(out, b.String())
		s = s[i+1:]
		if len(s) > 0 {
			if s[0] != ',' {
				return nil, fmt.Errorf("expected a comma at %q", s)
			}
			s = s[1:]
		}
	}
	return out, nil
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// rowReserve is what b.Slab.Reserve needs before the structs of one row
// change of t (see cdc.Slab).
func (t *table) rowReserve(b *cdc.Builder) (structs, vals int) {
	nkey := 0
	if t.keyS != nil {
		nkey = len(t.keyS.Fields)
	}
	return b.RowReserve(len(t.value.Fields), nkey)
}
