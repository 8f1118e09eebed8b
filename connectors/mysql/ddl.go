package mysql

import (
	"strings"
)

// ddlKind is what a DDL statement does, as far as schema change events
// and truncate events need to know.
type ddlKind uint8

const (
	ddlNone        ddlKind = iota // not a statement that changes a table or a database
	ddlCreateTable                // CREATE TABLE
	ddlAlterTable                 // ALTER TABLE, CREATE INDEX, DROP INDEX
	ddlDropTable                  // DROP TABLE (several tables)
	ddlRenameTable                // RENAME TABLE, ALTER TABLE ... RENAME TO (pairs)
	ddlTruncate                   // TRUNCATE TABLE
	ddlDatabase                   // CREATE, ALTER or DROP DATABASE
)

// tableRef is a table named by a DDL statement.
type tableRef struct{ db, name string }

// ddlStatement is what recognizeDDL learns of a statement: its kind, and
// the tables it names (for ddlRenameTable, old and new name pairs:
// tables[0] becomes tables[1], tables[2] becomes tables[3], ...), or the
// database it names (ddlDatabase).
type ddlStatement struct {
	kind   ddlKind
	tables []tableRef
	db     string
}

// recognizeDDL reads the head of a statement the binlog logged as a query
// event, with defaultDB its default database. It is not a DDL parser: it
// reads the statement's keywords and the names of the tables it changes,
// which is all the schema change and truncate events need; the tables'
// columns are read from information_schema afterwards. Anything it does
// not recognize (GRANT, views, routines, temporary tables, SAVEPOINT)
// gives ddlNone.
func recognizeDDL(q, defaultDB string) ddlStatement {
	tk := &ddlTokens{s: q}
	w := tk.word()
	switch w {
	case "CREATE":
		if tk.peekWord() == "OR" {
			tk.word()
			if tk.word() != "REPLACE" {
				return ddlStatement{}
			}
		}
		switch w2 := tk.word(); w2 {
		case "TABLE":
			tk.skipWords("IF", "NOT", "EXISTS")
			if t, ok := tk.table(defaultDB); ok {
				return ddlStatement{kind: ddlCreateTable, tables: []tableRef{t}}
			}
		case "DATABASE", "SCHEMA":
			tk.skipWords("IF", "NOT", "EXISTS")
			if n, ok := tk.ident(); ok {
				return ddlStatement{kind: ddlDatabase, db: n}
			}
		case "UNIQUE", "FULLTEXT", "SPATIAL", "INDEX":
			if w2 != "INDEX" && tk.word() != "INDEX" {
				return ddlStatement{}
			}
			return tk.indexOn(defaultDB)
		}
	case "ALTER":
		tk.skipWords("ONLINE", "IGNORE")
		switch tk.word() {
		case "TABLE":
			tk.skipWords("IF", "EXISTS")
			t, ok := tk.table(defaultDB)
			if !ok {
				return ddlStatement{}
			}
			if to, ok := tk.renameTo(defaultDB); ok {
				return ddlStatement{kind: ddlRenameTable, tables: []tableRef{t, to}}
			}
			return ddlStatement{kind: ddlAlterTable, tables: []tableRef{t}}
		case "DATABASE", "SCHEMA":
			n, ok := tk.ident()
			if !ok || strings.EqualFold(n, "DEFAULT") || strings.EqualFold(n, "CHARACTER") || strings.EqualFold(n, "COLLATE") ||
				strings.EqualFold(n, "CHARSET") || strings.EqualFold(n, "COMMENT") {
				n = defaultDB
			}
			return ddlStatement{kind: ddlDatabase, db: n}
		}
	case "DROP":
		switch tk.word() {
		case "TABLE":
			tk.skipWords("IF", "EXISTS")
			return tk.tableList(ddlDropTable, defaultDB)
		case "DATABASE", "SCHEMA":
			tk.skipWords("IF", "EXISTS")
			if n, ok := tk.ident(); ok {
				return ddlStatement{kind: ddlDatabase, db: n}
			}
		case "INDEX":
			return tk.indexOn(defaultDB)
		}
	case "RENAME":
		if tk.word() != "TABLE" {
			return ddlStatement{}
		}
		st := ddlStatement{kind: ddlRenameTable}
		for {
			from, ok := tk.table(defaultDB)
			if !ok || tk.word() != "TO" {
				return ddlStatement{}
			}
			to, ok := tk.table(defaultDB)
			if !ok {
				return ddlStatement{}
			}
			st.tables = append(st.tables, from, to)
			if !tk.punct(',') {
				return st
			}
		}
	case "TRUNCATE":
		if tk.peekWord() == "TABLE" {
			tk.word()
		}
		if t, ok := tk.table(defaultDB); ok {
			return ddlStatement{kind: ddlTruncate, tables: []tableRef{t}}
		}
	}
	return ddlStatement{}
}

// ddlTokens reads identifiers, keywords and punctuation, skipping spaces,
// comments and string literals.
type ddlTokens struct {
	s string
	i int
}

// space skips white space and comments (/* */, -- and #).
func (t *ddlTokens) space() {
	for t.i < len(t.s) {
		c := t.s[t.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			t.i++
		case c == '/' && strings.HasPrefix(t.s[t.i:], "/*"):
			end := strings.Index(t.s[t.i+2:], "*/")
			if end < 0 {
				t.i = len(t.s)
				return
			}
			t.i += end + 4
		case c == '#' || (c == '-' && strings.HasPrefix(t.s[t.i:], "-- ")):
			end := strings.IndexByte(t.s[t.i:], '\n')
			if end < 0 {
				t.i = len(t.s)
				return
			}
			t.i += end + 1
		default:
			return
		}
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

// ident reads an identifier, bare or in backquotes (or double quotes,
// under ANSI_QUOTES).
func (t *ddlTokens) ident() (string, bool) {
	t.space()
	if t.i >= len(t.s) {
		return "", false
	}
	if q := t.s[t.i]; q == '`' || q == '"' {
		var b strings.Builder
		for j := t.i + 1; j < len(t.s); j++ {
			if t.s[j] == q {
				if j+1 < len(t.s) && t.s[j+1] == q {
					b.WriteByte(q)
					j++
					continue
				}
				t.i = j + 1
				return b.String(), true
			}
			b.WriteByte(t.s[j])
		}
		return "", false
	}
	j := t.i
	for j < len(t.s) && isIdentByte(t.s[j]) {
		j++
	}
	if j == t.i {
		return "", false
	}
	id := t.s[t.i:j]
	t.i = j
	return id, true
}

// word reads a bare word, upper-cased ("" when the next token is not one).
func (t *ddlTokens) word() string {
	t.space()
	if t.i < len(t.s) && (t.s[t.i] == '`' || t.s[t.i] == '"') {
		return ""
	}
	id, _ := t.ident()
	return strings.ToUpper(id)
}

func (t *ddlTokens) peekWord() string {
	i := t.i
	w := t.word()
	t.i = i
	return w
}

// skipWords skips the next words while they are among ws, in order.
func (t *ddlTokens) skipWords(ws ...string) {
	for _, w := range ws {
		if t.peekWord() != w {
			return
		}
		t.word()
	}
}

// punct reads the punctuation c if it is next.
func (t *ddlTokens) punct(c byte) bool {
	t.space()
	if t.i < len(t.s) && t.s[t.i] == c {
		t.i++
		return true
	}
	return false
}

// table reads [db.]name.
func (t *ddlTokens) table(defaultDB string) (tableRef, bool) {
	a, ok := t.ident()
	if !ok {
		return tableRef{}, false
	}
	if t.punct('.') {
		b, ok := t.ident()
		if !ok {
			return tableRef{}, false
		}
		return tableRef{a, b}, true
	}
	return tableRef{defaultDB, a}, true
}

// tableList reads a, b, c into a statement of kind k.
func (t *ddlTokens) tableList(k ddlKind, defaultDB string) ddlStatement {
	st := ddlStatement{kind: k}
	for {
		tb, ok := t.table(defaultDB)
		if !ok {
			return ddlStatement{}
		}
		st.tables = append(st.tables, tb)
		if !t.punct(',') {
			return st
		}
	}
}

// indexOn reads "[IF [NOT] EXISTS] name [USING type] ON table" of CREATE
// and DROP INDEX: a change of the table.
func (t *ddlTokens) indexOn(defaultDB string) ddlStatement {
	t.skipWords("IF", "NOT", "EXISTS")
	if t.peekWord() == "EXISTS" {
		t.word()
	}
	if _, ok := t.ident(); !ok {
		return ddlStatement{}
	}
	for t.i < len(t.s) {
		switch t.word() {
		case "ON":
			if tb, ok := t.table(defaultDB); ok {
				return ddlStatement{kind: ddlAlterTable, tables: []tableRef{tb}}
			}
			return ddlStatement{}
		case "":
			return ddlStatement{}
		}
	}
	return ddlStatement{}
}

// renameTo finds a table-level "RENAME [TO|AS] name" in the rest of an
// ALTER TABLE (not RENAME COLUMN, INDEX or KEY), outside parentheses and
// string literals.
func (t *ddlTokens) renameTo(defaultDB string) (tableRef, bool) {
	depth := 0
	for {
		t.space()
		if t.i >= len(t.s) {
			return tableRef{}, false
		}
		switch c := t.s[t.i]; {
		case c == '(':
			depth++
			t.i++
		case c == ')':
			depth--
			t.i++
		case c == '\'':
			t.skipString(c)
		case c == '`' || c == '"':
			if _, ok := t.ident(); !ok {
				return tableRef{}, false
			}
		case isIdentByte(c):
			w := t.word()
			if w != "RENAME" || depth != 0 {
				continue
			}
			switch t.peekWord() {
			case "COLUMN", "INDEX", "KEY":
				continue
			case "TO", "AS":
				t.word()
			}
			return t.table(defaultDB)
		default:
			t.i++
		}
	}
}

// skipString skips a string literal quoted by q.
func (t *ddlTokens) skipString(q byte) {
	for j := t.i + 1; j < len(t.s); j++ {
		switch t.s[j] {
		case '\\':
			j++
		case q:
			if j+1 < len(t.s) && t.s[j+1] == q {
				j++
				continue
			}
			t.i = j + 1
			return
		}
	}
	t.i = len(t.s)
}
