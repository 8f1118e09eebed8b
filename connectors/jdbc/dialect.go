package jdbc

import (
	"context"
	"strings"
)

// dialect is what the sink needs from one kind of database. A dialect
// owns one connection (or a small pool) and is used by one goroutine.
type dialect interface {
	// parseTableName splits a resolved table.name.format into schema and
	// table, folding case as the database does for unquoted names when
	// quote.identifiers is false.
	parseTableName(s string) tableName
	// newColumnName is the column name created for a record field.
	newColumnName(field string) string
	quote(ident string) string
	// sqlType is the column type created for c (see doc.go).
	sqlType(c *column) string
	// loadTable reads a table's columns; it returns nil, nil when the
	// table does not exist.
	loadTable(ctx context.Context, t tableName) (*tableMeta, error)
	// exec runs one DDL statement in its own transaction.
	exec(ctx context.Context, sql string) error
	// alterType is the statement that changes a column's type.
	alterType(t tableName, col, typ string, nullable bool) string
	// dropNotNull is the statement that lets column c hold NULL.
	dropNotNull(t tableName, c colMeta) string
	// write applies every table's changes in one transaction; with
	// commit false it rolls the transaction back (to find a bad row).
	write(ctx context.Context, ws []*tableWrite, commit bool) error
	// errColumn names the column a data error is about, when the
	// database says.
	errColumn(err error) string
	// retriable reports errors after which the batch may succeed if tried
	// again on a new connection.
	retriable(err error) bool
	// forget drops what the dialect caches about tables (prepared
	// statements, stage tables), after someone may have altered them.
	forget(ctx context.Context)
	// reset drops the connection; the next call reconnects.
	reset(ctx context.Context)
	close(ctx context.Context) error
}

// tableName is a possibly schema-qualified table name.
type tableName struct{ schema, name string }

func (t tableName) String() string {
	if t.schema == "" {
		return t.name
	}
	return t.schema + "." + t.name
}

func quoteTable(d dialect, t tableName) string {
	if t.schema == "" {
		return d.quote(t.name)
	}
	return d.quote(t.schema) + "." + d.quote(t.name)
}

// tableMeta is what the sink knows of an existing table.
type tableMeta struct {
	name tableName
	cols []colMeta
	// uniques are the column sets of the primary key and unique indexes.
	uniques [][]string
	// relaxed are the shapes whose missing NOT NULL columns were made
	// nullable (see relaxMissing), so that each is looked at once.
	relaxed map[*shape]bool
}

// hasUnique reports whether some unique index covers exactly cols
// (ignoring order and case): what an upsert by cols needs.
func (m *tableMeta) hasUnique(cols []string) bool {
	for _, u := range m.uniques {
		if len(u) != len(cols) {
			continue
		}
		all := true
		for _, c := range cols {
			found := false
			for _, x := range u {
				found = found || strings.EqualFold(x, c)
			}
			all = all && found
		}
		if all {
			return true
		}
	}
	return false
}

type colMeta struct {
	name     string
	typ      string // as the database spells it, lower case
	nullable bool
	// filled says the database fills the column when an INSERT leaves
	// it out: it has a default, or is an identity, serial,
	// auto-increment or generated column.
	filled bool
	// decl is the column's type as MySQL declares it (case kept, with
	// its collation), for MODIFY COLUMN; empty for PostgreSQL.
	decl string
}

// find returns the column matching a record field: the same name, or the
// same name ignoring case.
func (m *tableMeta) find(name string) *colMeta {
	if i := m.index(name); i >= 0 {
		return &m.cols[i]
	}
	return nil
}

// index is the position in cols of the column find returns, or -1.
func (m *tableMeta) index(name string) int {
	for i := range m.cols {
		if m.cols[i].name == name {
			return i
		}
	}
	for i := range m.cols {
		if strings.EqualFold(m.cols[i].name, name) {
			return i
		}
	}
	return -1
}

// tableWrite is one table's share of a transaction.
type tableWrite struct {
	table    tableName
	truncate bool
	upserts  []*group
	deletes  []*group
}

// group is rows with the same column list, written by one statement (or
// one COPY).
type group struct {
	names []string  // resolved column names, unquoted
	types []string  // the columns' types, as tableMeta has them
	cols  []*column // the record's view of each column
	pk    []int     // indexes into names
	upd   []int     // non-key indexes into names (the UPDATE part)
	rows  [][]any   // normalized values, in names order
}

// sizeHint estimates the bytes a row takes in a statement.
func sizeHint(row []any) int {
	n := 0
	for _, v := range row {
		switch x := v.(type) {
		case string:
			n += 2*len(x) + 3
		case []byte:
			n += 2*len(x) + 3
		default:
			n += 24
		}
	}
	return n + 4
}
