package jdbc

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/connectors"
)

// mysqlDialect is the MySQL and MariaDB dialect: database/sql with
// go-sql-driver/mysql, statements interpolated on the client so that a
// multi-row INSERT … ON DUPLICATE KEY UPDATE is one round trip, split to
// stay under the server's max_allowed_packet.
type mysqlDialect struct {
	cfg       *Config
	db        *sql.DB
	maxPacket int
	// rowAlias says the server takes the row alias form of an upsert
	// (INSERT … VALUES (…) AS new ON DUPLICATE KEY UPDATE c = new.c):
	// MySQL 8.0.19 and later, which deprecated VALUES(c) in 8.0.20.
	// MariaDB has only VALUES(c).
	rowAlias bool
	sql      strings.Builder
	args     []any
}

func newMySQL(ctx context.Context, cfg *Config) (*mysqlDialect, error) {
	mc, err := cfg.URL.MySQLConfig(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connection.url %s: %w", cfg.URL, err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	m := &mysqlDialect{cfg: cfg, db: db, maxPacket: 4 << 20}
	var packet int64
	var version string
	if err := db.QueryRowContext(ctx, "SELECT @@max_allowed_packet, VERSION()").Scan(&packet, &version); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s as %q: %w", cfg.URL, mc.User, err)
	}
	m.maxPacket = int(packet)
	m.rowAlias = rowAliasSupported(version)
	return m, nil
}

// rowAliasSupported reports whether a server whose VERSION() is version
// takes the row alias form of INSERT … ON DUPLICATE KEY UPDATE: MySQL
// 8.0.19 and later. MariaDB (whose version says so, "10.11.6-MariaDB…",
// whatever the URL's scheme) and anything unrecognised get VALUES(c),
// which every version takes.
func rowAliasSupported(version string) bool {
	if strings.Contains(strings.ToLower(version), "mariadb") {
		return false
	}
	var v [3]int
	rest := version
	for i := range v {
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 0 {
			return false
		}
		n, err := strconv.Atoi(rest[:j])
		if err != nil {
			return false
		}
		v[i], rest = n, rest[j:]
		if i < 2 {
			if !strings.HasPrefix(rest, ".") {
				return false
			}
			rest = rest[1:]
		}
	}
	switch {
	case v[0] != 8:
		return v[0] > 8
	case v[1] != 0:
		return true
	}
	return v[2] >= 19
}

func (m *mysqlDialect) reset(ctx context.Context) {
	// database/sql drops broken connections itself; idle ones that died
	// with the server are found bad on use and replaced.
	m.db.SetMaxIdleConns(0)
	m.db.SetMaxIdleConns(2)
}

func (m *mysqlDialect) close(ctx context.Context) error { return m.db.Close() }

func (m *mysqlDialect) parseTableName(s string) tableName {
	if db, name, ok := strings.Cut(s, "."); ok {
		return tableName{schema: db, name: name}
	}
	return tableName{name: s}
}

func (m *mysqlDialect) newColumnName(field string) string { return field }

func (m *mysqlDialect) quote(ident string) string {
	return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
}

// sqlType maps a column kind to a MySQL/MariaDB type; see doc.go.
func (m *mysqlDialect) sqlType(c *column) string {
	switch c.kind {
	case kInt8:
		return "tinyint"
	case kInt16:
		return "smallint"
	case kInt32:
		return "int"
	case kInt64:
		return "bigint"
	case kFloat32:
		return "float"
	case kFloat64:
		return "double"
	case kBool:
		return "tinyint(1)"
	case kString, kInterval:
		if c.length > 0 && c.length <= 16383 {
			return fmt.Sprintf("varchar(%d)", c.length)
		}
		if c.pk {
			return "varchar(255)"
		}
		return "longtext"
	case kBytes:
		if c.pk {
			return "varbinary(255)"
		}
		return "longblob"
	case kDecimal:
		p := c.prec
		if p <= 0 {
			p = 65
		}
		return fmt.Sprintf("decimal(%d,%d)", p, min(c.scale, 30))
	case kVarDecimal:
		return "decimal(65,30)"
	case kDate:
		return "date"
	case kTime:
		return fmt.Sprintf("time(%d)", c.prec)
	case kTimestamp:
		return fmt.Sprintf("datetime(%d)", c.prec)
	case kTimestampTZ:
		return "datetime(6)"
	case kTimeTZ:
		return "time(6)"
	case kJSON, kArray:
		return "json"
	case kUUID:
		return "char(36)"
	}
	return "longtext"
}

func (m *mysqlDialect) loadTable(ctx context.Context, t tableName) (*tableMeta, error) {
	var schema any
	if t.schema != "" {
		schema = t.schema
	}
	rows, err := m.db.QueryContext(ctx, `SELECT column_name, column_type, is_nullable = 'YES',
		column_default IS NOT NULL OR extra LIKE '%auto_increment%' OR extra LIKE '%generated%',
		CONCAT(column_type, COALESCE(CONCAT(' COLLATE ', collation_name), ''))
		FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?
		ORDER BY ordinal_position`, schema, t.name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	mt := &tableMeta{name: t}
	for rows.Next() {
		var c colMeta
		if err := rows.Scan(&c.name, &c.typ, &c.nullable, &c.filled, &c.decl); err != nil {
			return nil, err
		}
		c.typ = strings.ToLower(c.typ)
		mt.cols = append(mt.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(mt.cols) == 0 {
		return nil, nil
	}
	urows, err := m.db.QueryContext(ctx, `SELECT index_name, column_name FROM information_schema.statistics
		WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? AND non_unique = 0
		ORDER BY index_name, seq_in_index`, schema, t.name)
	if err != nil {
		return nil, err
	}
	defer urows.Close()
	last := ""
	for urows.Next() {
		var idx, col string
		if err := urows.Scan(&idx, &col); err != nil {
			return nil, err
		}
		if idx != last || len(mt.uniques) == 0 {
			mt.uniques = append(mt.uniques, nil)
			last = idx
		}
		mt.uniques[len(mt.uniques)-1] = append(mt.uniques[len(mt.uniques)-1], col)
	}
	return mt, urows.Err()
}

// forget has nothing to drop: statements are interpolated on the client.
func (m *mysqlDialect) forget(ctx context.Context) {}

func (m *mysqlDialect) exec(ctx context.Context, sql string) error {
	_, err := m.db.ExecContext(ctx, sql)
	return err
}

func (m *mysqlDialect) alterType(t tableName, col, typ string, nullable bool) string {
	null := " NOT NULL"
	if nullable {
		null = " NULL"
	}
	return fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s%s", quoteTable(m, t), m.quote(col), typ, null)
}

// dropNotNull restates the column's declared type (MODIFY COLUMN
// replaces the whole definition); the column has no default to keep.
func (m *mysqlDialect) dropNotNull(t tableName, c colMeta) string {
	decl := c.decl
	if decl == "" {
		decl = c.typ
	}
	return m.alterType(t, c.name, decl, true)
}

func (m *mysqlDialect) write(ctx context.Context, ws []*tableWrite, commit bool) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, w := range ws {
		table := quoteTable(m, w.table)
		if w.truncate {
			// TRUNCATE commits implicitly in MySQL; DELETE keeps the
			// batch in one transaction.
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
				return err
			}
		}
		for _, g := range w.deletes {
			if err := m.deleteRows(ctx, tx, table, g); err != nil {
				return err
			}
		}
		for _, g := range w.upserts {
			if m.cfg.InsertMode == ModeUpdate {
				if err := m.updateRows(ctx, tx, table, g); err != nil {
					return err
				}
				continue
			}
			if err := m.insertRows(ctx, tx, w.table, g); err != nil {
				return err
			}
		}
	}
	if !commit {
		return nil
	}
	return tx.Commit()
}

// budget is the statement size to stay under: max_allowed_packet less a
// margin for the header and the escaping estimate's error.
func (m *mysqlDialect) budget() int { return m.maxPacket*9/10 - 1024 }

func (m *mysqlDialect) insertRows(ctx context.Context, tx *sql.Tx, table tableName, g *group) error {
	head, tail, tuple := m.insertSQL(table, g)
	return m.chunked(ctx, tx, g, head, tail, tuple, g.rows, nil)
}

// insertSQL returns the parts of a multi-row INSERT of g into table:
// head, then tuple once per row (comma-separated), then tail (the ON
// DUPLICATE KEY UPDATE of upserts).
func (m *mysqlDialect) insertSQL(table tableName, g *group) (head, tail, tuple string) {
	var h strings.Builder
	fmt.Fprintf(&h, "INSERT INTO %s (", quoteTable(m, table))
	for i, n := range g.names {
		if i > 0 {
			h.WriteString(", ")
		}
		h.WriteString(m.quote(n))
	}
	h.WriteString(") VALUES ")
	tuple = "(" + strings.Repeat("?,", len(g.names)-1) + "?)"
	if m.cfg.InsertMode != ModeUpsert {
		return h.String(), "", tuple
	}
	var t strings.Builder
	if len(g.upd) == 0 {
		// Only key columns: a no-op update keeps the row (INSERT IGNORE
		// would also turn data errors into warnings).
		q := m.quote(g.names[g.pk[0]])
		t.WriteString(" ON DUPLICATE KEY UPDATE " + q + " = " + q)
		return h.String(), t.String(), tuple
	}
	alias := ""
	if m.rowAlias {
		// The alias must differ from the table's name.
		alias = "new"
		for strings.EqualFold(alias, table.name) {
			alias += "_"
		}
		t.WriteString(" AS " + m.quote(alias))
	}
	t.WriteString(" ON DUPLICATE KEY UPDATE ")
	for j, i := range g.upd {
		if j > 0 {
			t.WriteString(", ")
		}
		q := m.quote(g.names[i])
		if m.rowAlias {
			t.WriteString(q + " = " + m.quote(alias) + "." + q)
		} else {
			t.WriteString(q + " = VALUES(" + q + ")")
		}
	}
	return h.String(), t.String(), tuple
}

func (m *mysqlDialect) deleteRows(ctx context.Context, tx *sql.Tx, table string, g *group) error {
	var head strings.Builder
	fmt.Fprintf(&head, "DELETE FROM %s WHERE (", table)
	for j, i := range g.pk {
		if j > 0 {
			head.WriteString(", ")
		}
		head.WriteString(m.quote(g.names[i]))
	}
	head.WriteString(") IN (")
	tuple := "(" + strings.Repeat("?,", len(g.pk)-1) + "?)"
	return m.chunked(ctx, tx, g, head.String(), ")", tuple, g.rows, g.pk)
}

// chunked executes head + tuples + tail for rows, as many rows per
// statement as fit the packet budget. only selects the columns sent (nil
// for all).
func (m *mysqlDialect) chunked(ctx context.Context, tx *sql.Tx, g *group, head, tail, tuple string, rows [][]any, only []int) error {
	budget := m.budget()
	for len(rows) > 0 {
		b := &m.sql
		b.Reset()
		b.WriteString(head)
		args := m.args[:0]
		size := len(head) + len(tail)
		n := 0
		for _, r := range rows {
			sz := sizeHint(r) + len(tuple)
			if n > 0 && size+sz > budget {
				break
			}
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteString(tuple)
			size += sz + 1
			if only == nil {
				for i, v := range r {
					args = append(args, mysqlValue(g.cols[i], v, m.cfg.TimeZone))
				}
			} else {
				for _, i := range only {
					args = append(args, mysqlValue(g.cols[i], r[i], m.cfg.TimeZone))
				}
			}
			n++
		}
		b.WriteString(tail)
		m.args = args
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		clear(args)
		rows = rows[n:]
	}
	return nil
}

func (m *mysqlDialect) updateRows(ctx context.Context, tx *sql.Tx, table string, g *group) error {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET ", table)
	for j, i := range g.upd {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.quote(g.names[i]) + " = ?")
	}
	b.WriteString(" WHERE ")
	for j, i := range g.pk {
		if j > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(m.quote(g.names[i]) + " = ?")
	}
	q := b.String()
	for _, r := range g.rows {
		args := make([]any, 0, len(r))
		for _, i := range g.upd {
			args = append(args, mysqlValue(g.cols[i], r[i], m.cfg.TimeZone))
		}
		for _, i := range g.pk {
			args = append(args, mysqlValue(g.cols[i], r[i], m.cfg.TimeZone))
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// mysqlValue turns a normalized value into a driver value. Zone-less
// timestamps keep their wall clock; zoned ones are instants the driver
// writes in database.time_zone.
func mysqlValue(c *column, v any, loc *time.Location) any {
	switch x := v.(type) {
	case nil:
		return nil
	case connectors.Decimal:
		return x.String()
	case timeOfDay:
		return formatTimeOfDay(x)
	case infinity:
		// No DATETIME holds it: MySQL refuses the text, naming the column.
		return x.String()
	case string:
		if c.kind == kTimeTZ {
			// TIME has no zone: store the time of day in UTC.
			if t, err := parseIsoTime(x); err == nil {
				return formatTimeOfDay(t)
			}
		}
		return x
	case time.Time:
		if c.kind == kTimestampTZ {
			return x
		}
		y, mo, d := x.Date()
		return time.Date(y, mo, d, x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), loc)
	case []any:
		b, err := json.Marshal(jsonArray(c.elem, x))
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	return v
}

func jsonArray(elem *column, xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		switch v := x.(type) {
		case connectors.Decimal:
			out[i] = json.Number(v.String())
		case timeOfDay:
			out[i] = formatTimeOfDay(v)
		case infinity:
			out[i] = v.String()
		case time.Time:
			// Dates and zone-less timestamps are wall clocks: written
			// without a zone, as MariaDB's JSON_VALUE can CAST them to
			// DATE and DATETIME (encoding/json would give an instant,
			// "2024-02-29T00:00:00Z"). Zoned timestamps stay instants in UTC.
			switch elem.kind {
			case kDate:
				out[i] = v.Format("2006-01-02")
			case kTimestamp:
				out[i] = v.Format("2006-01-02T15:04:05.999999999")
			default:
				out[i] = v.UTC().Format(time.RFC3339Nano)
			}
		case string:
			if elem.kind == kJSON {
				out[i] = json.RawMessage(v)
			} else {
				out[i] = v
			}
		default:
			out[i] = v
		}
	}
	return out
}

func (m *mysqlDialect) retriable(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1213, 1205, 1053, 1927, 2006, 2013, 1040, 1158, 1159, 1160, 1161:
			return true
		}
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// mysqlColumn finds the column in messages such as "Data too long for
// column 'name' at row 1" or "Incorrect integer value: 'x' for column
// `db`.`t`.`qty` at row 1".
var mysqlColumn = regexp.MustCompile("(?i)column [`']?(?:[^`'\\s]+[`']?\\.[`']?)*([^`'\\s]+)[`']?")

func (m *mysqlDialect) errColumn(err error) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	if s := mysqlColumn.FindStringSubmatch(me.Message); s != nil {
		return s[1]
	}
	return ""
}
