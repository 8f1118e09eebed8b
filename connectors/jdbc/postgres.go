package jdbc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/sluice-cdc/sluice/connectors"
)

// postgres is the PostgreSQL dialect: one pgx connection per task, its
// statement cache preparing each statement text (one per table shape and
// row count) once.
type postgres struct {
	cfg     *Config
	connCfg *pgx.ConnConfig
	conn    *pgx.Conn
	// stages are the tables COPY fills (temporary ON COMMIT DELETE ROWS
	// stage tables, or the target itself with insert.mode=insert), by
	// target table and column list, with their column types; they live
	// as long as the connection. created lists those made by the running
	// transaction, forgotten again if it rolls back.
	stages   map[string]*copyTarget
	created  []string
	enc      copyEncoder
	stageSeq int
	// merge is set when the server has MERGE (PostgreSQL 15+).
	merge bool
	sql   strings.Builder
}

func newPostgres(ctx context.Context, cfg *Config) (*postgres, error) {
	cc, err := cfg.URL.PgxConfig()
	if err != nil {
		return nil, err
	}
	cc.RuntimeParams["timezone"] = cfg.TimeZone.String()
	p := &postgres{cfg: cfg, connCfg: cc, stages: map[string]*copyTarget{}}
	if _, err := p.connect(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	if p.conn != nil && !p.conn.IsClosed() {
		return p.conn, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.connCfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s as %q: %w", p.cfg.URL, p.connCfg.User, err)
	}
	p.conn = c
	p.enc.m = c.TypeMap()
	clear(p.stages)
	v, _ := strconv.Atoi(c.PgConn().ParameterStatus("server_version_num"))
	if v == 0 {
		major, _, _ := strings.Cut(c.PgConn().ParameterStatus("server_version"), ".")
		v, _ = strconv.Atoi(major)
		v *= 10000
	}
	p.merge = v >= 150000
	return c, nil
}

func (p *postgres) reset(ctx context.Context) {
	if p.conn != nil {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_ = p.conn.Close(cctx)
		cancel()
		p.conn = nil
	}
}

func (p *postgres) close(ctx context.Context) error {
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close(ctx)
	p.conn = nil
	return err
}

func (p *postgres) parseTableName(s string) tableName {
	if !p.cfg.QuoteIdentifiers {
		s = strings.ToLower(s)
	}
	if schema, name, ok := strings.Cut(s, "."); ok {
		return tableName{schema: schema, name: name}
	}
	return tableName{name: s}
}

func (p *postgres) newColumnName(field string) string {
	if !p.cfg.QuoteIdentifiers {
		return strings.ToLower(field)
	}
	return field
}

func (p *postgres) quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// sqlType maps a column kind to a PostgreSQL type; see the table in doc.go.
func (p *postgres) sqlType(c *column) string {
	switch c.kind {
	case kInt8, kInt16:
		return "smallint"
	case kInt32:
		return "integer"
	case kInt64:
		return "bigint"
	case kFloat32:
		return "real"
	case kFloat64:
		return "double precision"
	case kBool:
		return "boolean"
	case kString:
		if c.length > 0 {
			return fmt.Sprintf("character varying(%d)", c.length)
		}
		return "text"
	case kBytes:
		return "bytea"
	case kDecimal:
		if c.prec > 0 {
			return fmt.Sprintf("numeric(%d,%d)", c.prec, c.scale)
		}
		return "numeric"
	case kVarDecimal:
		return "numeric"
	case kDate:
		return "date"
	case kTime:
		return fmt.Sprintf("time(%d) without time zone", c.prec)
	case kTimestamp:
		return fmt.Sprintf("timestamp(%d) without time zone", c.prec)
	case kTimestampTZ:
		return "timestamp with time zone"
	case kTimeTZ:
		return "time with time zone"
	case kInterval:
		return "interval"
	case kJSON:
		return "jsonb"
	case kUUID:
		return "uuid"
	case kArray:
		return p.sqlType(c.elem) + "[]"
	}
	return "text"
}

func (p *postgres) loadTable(ctx context.Context, t tableName) (*tableMeta, error) {
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	q := quoteTable(p, t)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", q).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
		a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
		FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, q)
	if err != nil {
		return nil, err
	}
	m := &tableMeta{name: t}
	for rows.Next() {
		var c colMeta
		if err := rows.Scan(&c.name, &c.typ, &c.nullable, &c.filled); err != nil {
			rows.Close()
			return nil, err
		}
		c.typ = strings.ToLower(c.typ)
		m.cols = append(m.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid`, q)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			rows.Close()
			return nil, err
		}
		m.uniques = append(m.uniques, cols)
	}
	return m, rows.Err()
}

func (p *postgres) forget(ctx context.Context) {
	clear(p.stages)
	if p.conn != nil && !p.conn.IsClosed() {
		_ = p.conn.DeallocateAll(ctx)
	}
}

func (p *postgres) exec(ctx context.Context, sql string) error {
	conn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	// DDL may change column types: prepared statements and stage tables
	// are made afresh.
	p.forget(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

func (p *postgres) alterType(t tableName, col, typ string, nullable bool) string {
	return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", quoteTable(p, t), p.quote(col), typ)
}

func (p *postgres) dropNotNull(t tableName, c colMeta) string {
	return fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", quoteTable(p, t), p.quote(c.name))
}

// maxParams is PostgreSQL's limit of bind parameters in one statement.
const maxParams = 65535

// maxChunk bounds the rows of one multi-row statement; row counts are
// split into powers of two below it so each table shape needs at most a
// dozen prepared statements.
const maxChunk = 512

func (p *postgres) write(ctx context.Context, ws []*tableWrite, commit bool) error {
	conn, err := p.connect(ctx)
	if err != nil {
		return err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	p.created = p.created[:0]
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			for _, k := range p.created {
				delete(p.stages, k)
			}
		}
	}()
	b := &pgx.Batch{}
	for _, w := range ws {
		table := quoteTable(p, w.table)
		if w.truncate {
			b.Queue("TRUNCATE TABLE " + table)
		}
		for _, g := range w.deletes {
			if len(g.rows) >= p.cfg.CopyThreshold && copyable(g) {
				if err := p.flushBatch(ctx, tx, b); err != nil {
					return err
				}
				if err := p.copyApply(ctx, tx, w.table, g, opDelete); err != nil {
					return err
				}
				continue
			}
			p.queueChunks(b, g, func(n int) string { return p.deleteSQL(table, g, n) }, true)
		}
		for _, g := range w.upserts {
			if len(g.rows) >= p.cfg.CopyThreshold && copyable(g) {
				if err := p.flushBatch(ctx, tx, b); err != nil {
					return err
				}
				if err := p.copyApply(ctx, tx, w.table, g, opUpsert); err != nil {
					return err
				}
				continue
			}
			if p.cfg.InsertMode == ModeUpdate {
				sql := p.updateSQL(table, g)
				for _, r := range g.rows {
					args := make([]any, 0, len(r))
					for _, i := range g.upd {
						args = append(args, pgValue(g.cols[i], r[i]))
					}
					for _, i := range g.pk {
						args = append(args, pgValue(g.cols[i], r[i]))
					}
					b.Queue(sql, args...)
				}
				continue
			}
			p.queueChunks(b, g, func(n int) string { return p.insertSQL(table, g, n) }, false)
		}
	}
	if err := p.flushBatch(ctx, tx, b); err != nil {
		return err
	}
	if !commit {
		return nil
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	committed = true
	return nil
}

func (p *postgres) flushBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	err := tx.SendBatch(ctx, b).Close()
	*b = pgx.Batch{}
	return err
}

// queueChunks queues g's rows as multi-row statements of power-of-two
// sizes; keysOnly sends only the key columns (deletes).
func (p *postgres) queueChunks(b *pgx.Batch, g *group, sqlFor func(n int) string, keysOnly bool) {
	width := len(g.names)
	if keysOnly {
		width = len(g.pk)
	}
	limit := maxChunk
	for limit*width > maxParams {
		limit /= 2
	}
	rows := g.rows
	for len(rows) > 0 {
		n := limit
		for n > len(rows) {
			n /= 2
		}
		args := make([]any, 0, n*width)
		for _, r := range rows[:n] {
			if keysOnly {
				for _, i := range g.pk {
					args = append(args, pgValue(g.cols[i], r[i]))
				}
				continue
			}
			for i, v := range r {
				args = append(args, pgValue(g.cols[i], v))
			}
		}
		b.Queue(sqlFor(n), args...)
		rows = rows[n:]
	}
}

func (p *postgres) colList(g *group, idx []int, prefix string) string {
	var s strings.Builder
	if idx == nil {
		for i, n := range g.names {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString(prefix + p.quote(n))
		}
		return s.String()
	}
	for j, i := range idx {
		if j > 0 {
			s.WriteString(", ")
		}
		s.WriteString(prefix + p.quote(g.names[i]))
	}
	return s.String()
}

// conflictSQL is the ON CONFLICT clause of an upsert (empty for
// insert.mode=insert).
func (p *postgres) conflictSQL(g *group) string {
	if p.cfg.InsertMode == ModeInsert {
		return ""
	}
	s := " ON CONFLICT (" + p.colList(g, g.pk, "") + ") DO "
	if len(g.upd) == 0 {
		return s + "NOTHING"
	}
	var b strings.Builder
	b.WriteString(s + "UPDATE SET ")
	for j, i := range g.upd {
		if j > 0 {
			b.WriteString(", ")
		}
		q := p.quote(g.names[i])
		b.WriteString(q + " = EXCLUDED." + q)
	}
	b.WriteString(" WHERE " + p.changedSQL(g, "t", "EXCLUDED"))
	return b.String()
}

// changedSQL is the condition that a row (alias a) differs from the new
// values (alias b) in a non-key column: updates that would change nothing
// are skipped, so a replayed batch writes no new row versions (no bloat,
// no WAL, no work for logical replication out of the target). Columns
// whose type's equality can hold between different values (numeric
// without a scale: 1.0 = 1.00; floating point: 0 = -0; json, arrays) are
// compared by their text, so that such a change is still written.
func (p *postgres) changedSQL(g *group, a, b string) string {
	var l, r strings.Builder
	for j, i := range g.upd {
		if j > 0 {
			l.WriteString(", ")
			r.WriteString(", ")
		}
		q := p.quote(g.names[i])
		cast := ""
		if i >= len(g.types) || !exactEquality(g.types[i]) {
			cast = "::text"
		}
		l.WriteString(a + "." + q + cast)
		r.WriteString(b + "." + q + cast)
	}
	return "(" + l.String() + ") IS DISTINCT FROM (" + r.String() + ")"
}

// exactEquality reports whether values of a PostgreSQL type (as
// format_type spells it) that are equal are also the same value.
func exactEquality(typ string) bool {
	switch {
	case strings.HasSuffix(typ, "[]"):
		return false
	case typ == "smallint", typ == "integer", typ == "bigint", typ == "boolean", typ == "text", typ == "bytea",
		typ == "date", typ == "uuid", typ == "character varying":
		return true
	case strings.HasPrefix(typ, "character varying("), strings.HasPrefix(typ, "numeric("):
		// A declared scale: equal numerics print alike.
		return true
	case strings.HasPrefix(typ, "timestamp"):
		// With a zone too: equal instants are stored alike.
		return true
	case strings.HasPrefix(typ, "time") && strings.HasSuffix(typ, "without time zone"):
		return true
	}
	return false
}

func (p *postgres) insertSQL(table string, g *group, n int) string {
	b := &p.sql
	b.Reset()
	fmt.Fprintf(b, "INSERT INTO %s AS t (%s) VALUES ", table, p.colList(g, nil, ""))
	k := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range g.names {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(k))
			k++
		}
		b.WriteByte(')')
	}
	b.WriteString(p.conflictSQL(g))
	return b.String()
}

func (p *postgres) deleteSQL(table string, g *group, n int) string {
	b := &p.sql
	b.Reset()
	fmt.Fprintf(b, "DELETE FROM %s WHERE (%s) IN (", table, p.colList(g, g.pk, ""))
	k := 1
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range g.pk {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(k))
			k++
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String()
}

func (p *postgres) updateSQL(table string, g *group) string {
	var b strings.Builder
	fmt.Fprintf(&b, "UPDATE %s SET ", table)
	k := 1
	for j, i := range g.upd {
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = $%d", p.quote(g.names[i]), k)
		k++
	}
	b.WriteString(" WHERE ")
	for j, i := range g.pk {
		if j > 0 {
			b.WriteString(" AND ")
		}
		fmt.Fprintf(&b, "%s = $%d", p.quote(g.names[i]), k)
		k++
	}
	return b.String()
}

// copyApply writes a large group through COPY into a temporary table and
// one set statement: INSERT … SELECT … ON CONFLICT for upserts, DELETE …
// USING for deletes, UPDATE … FROM for insert.mode=update. With
// insert.mode=insert the rows are copied into the table directly.
func (p *postgres) copyApply(ctx context.Context, tx pgx.Tx, t tableName, g *group, o op) error {
	table := quoteTable(p, t)
	idx := make([]int, len(g.names))
	for i := range idx {
		idx[i] = i
	}
	if o == opDelete {
		idx = g.pk
	}
	names := make([]string, len(idx))
	for j, i := range idx {
		names[j] = g.names[i]
	}
	pc := tx.Conn().PgConn()
	cols := p.colList(&group{names: names}, nil, "")
	direct := o == opUpsert && p.cfg.InsertMode == ModeInsert
	sk := table + "\x00" + cols
	if direct {
		sk = "\x00" + sk
	}
	ct, ok := p.stages[sk]
	if !ok {
		ct = &copyTarget{name: table}
		if !direct {
			p.stageSeq++
			ct.name = "sluice_stage_" + strconv.Itoa(p.stageSeq)
			// No indexes, no WAL (temporary), emptied at commit.
			if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA", ct.name, cols, table)); err != nil {
				return err
			}
		}
		sd, err := pc.Prepare(ctx, "", fmt.Sprintf("SELECT %s FROM %s", cols, ct.name), nil)
		if err != nil {
			return err
		}
		for _, f := range sd.Fields {
			ct.oids = append(ct.oids, f.DataTypeOID)
		}
		p.stages[sk] = ct
		p.created = append(p.created, sk)
	}
	if err := p.copyRows(ctx, pc, ct.name, names, g, idx, ct.oids); err != nil {
		return err
	}
	if direct {
		return nil
	}
	stage := ct.name
	var stmt string
	switch {
	case o == opDelete:
		stmt = fmt.Sprintf("DELETE FROM %s t USING %s s WHERE %s", table, stage, p.joinOn(g))
	case p.cfg.InsertMode == ModeUpdate:
		var set strings.Builder
		for j, i := range g.upd {
			if j > 0 {
				set.WriteString(", ")
			}
			q := p.quote(g.names[i])
			set.WriteString(q + " = s." + q)
		}
		stmt = fmt.Sprintf("UPDATE %s t SET %s FROM %s s WHERE %s AND %s", table, set.String(), stage, p.joinOn(g), p.changedSQL(g, "t", "s"))
	case p.merge:
		// MERGE joins the staged rows with the table in one pass, where
		// ON CONFLICT probes the index row by row; it is about twice as
		// fast here. Keys in the stage are unique after reduction.
		stmt = p.mergeSQL(table, stage, g, names)
	default:
		stmt = fmt.Sprintf("INSERT INTO %s AS t (%s) SELECT %s FROM %s%s", table, cols, cols, stage, p.conflictSQL(g))
	}
	_, err := tx.Exec(ctx, stmt)
	return err
}

// copyTarget is a table COPY fills: a stage table or, with
// insert.mode=insert, the target; name is quoted.
type copyTarget struct {
	name string
	oids []uint32
}

func (p *postgres) mergeSQL(table, stage string, g *group, names []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MERGE INTO %s t USING %s s ON %s", table, stage, p.joinOn(g))
	if len(g.upd) > 0 {
		b.WriteString(" WHEN MATCHED AND " + p.changedSQL(g, "t", "s") + " THEN UPDATE SET ")
		for j, i := range g.upd {
			if j > 0 {
				b.WriteString(", ")
			}
			q := p.quote(g.names[i])
			b.WriteString(q + " = s." + q)
		}
	}
	b.WriteString(" WHEN NOT MATCHED THEN INSERT (")
	b.WriteString(p.colList(&group{names: names}, nil, ""))
	b.WriteString(") VALUES (")
	b.WriteString(p.colList(&group{names: names}, nil, "s."))
	b.WriteString(")")
	return b.String()
}

func (p *postgres) joinOn(g *group) string {
	var b strings.Builder
	for j, i := range g.pk {
		if j > 0 {
			b.WriteString(" AND ")
		}
		q := p.quote(g.names[i])
		b.WriteString("t." + q + " = s." + q)
	}
	return b.String()
}

// copyable reports whether pgx can COPY every column of g in binary:
// time with time zone has no binary encoder in pgx, so such groups go
// through statements, where the value is sent as text.
func copyable(g *group) bool {
	for _, c := range g.cols {
		if c.kind == kTimeTZ || (c.kind == kArray && c.elem.kind == kTimeTZ) {
			return false
		}
	}
	return true
}

// pgValue turns a normalized value into what pgx encodes for the column.
func pgValue(c *column, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case connectors.Decimal:
		return pgtype.Numeric{Int: x.Unscaled, Exp: -x.Scale, Valid: true}
	case timeOfDay:
		return pgtype.Time{Microseconds: int64(time.Duration(x) / time.Microsecond), Valid: true}
	case infinity:
		mod := pgtype.Infinity
		if x < 0 {
			mod = pgtype.NegativeInfinity
		}
		if c.kind == kTimestampTZ {
			return pgtype.Timestamptz{InfinityModifier: mod, Valid: true}
		}
		return pgtype.Timestamp{InfinityModifier: mod, Valid: true}
	case string:
		if c.kind == kUUID {
			if u, ok := parseUUID(x); ok {
				return pgtype.UUID{Bytes: u, Valid: true}
			}
		}
		return x
	case []any:
		return pgArray(c.elem, x)
	}
	return v
}

func pgArray(elem *column, xs []any) any {
	switch elem.kind {
	case kInt8, kInt16, kInt32, kInt64:
		return typedSlice[int64](xs)
	case kFloat32, kFloat64:
		return typedSlice[float64](xs)
	case kBool:
		return typedSlice[bool](xs)
	case kString, kJSON, kTimeTZ:
		return typedSlice[string](xs)
	case kInterval:
		out := make([]*pgtype.Interval, len(xs))
		for i, x := range xs {
			if s, ok := x.(string); ok {
				iv, _ := parseIsoInterval(s) // checked by normalize
				out[i] = &pgtype.Interval{Months: iv.months, Days: iv.days, Microseconds: iv.micros, Valid: true}
			}
		}
		return out
	case kDate, kTimestamp, kTimestampTZ:
		if !slices.ContainsFunc(xs, func(x any) bool { _, inf := x.(infinity); return inf }) {
			return typedSlice[time.Time](xs)
		}
	case kBytes:
		return typedSlice[[]byte](xs)
	}
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = pgValue(elem, x)
	}
	return out
}

// typedSlice converts to []T, or []*T when an element is null.
func typedSlice[T any](xs []any) any {
	nulls := false
	for _, x := range xs {
		if x == nil {
			nulls = true
			break
		}
	}
	if !nulls {
		out := make([]T, len(xs))
		for i, x := range xs {
			out[i], _ = x.(T)
		}
		return out
	}
	out := make([]*T, len(xs))
	for i, x := range xs {
		if x != nil {
			v, _ := x.(T)
			out[i] = &v
		}
	}
	return out
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}

func (p *postgres) retriable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "40001", pe.Code == "40P01",
			strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300", pe.Code == "55P03":
			return true
		case pe.Code == "23505" && p.merge && p.cfg.InsertMode == ModeUpsert:
			// MERGE is not safe against a concurrent insert of the same
			// key (another task writing it after a key change moved it
			// to another partition); the retry sees the row.
			return true
		}
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	return p.conn == nil || p.conn.IsClosed()
}

func (p *postgres) errColumn(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ColumnName
	}
	var ve *valueError
	if errors.As(err, &ve) {
		return ve.column
	}
	return ""
}
