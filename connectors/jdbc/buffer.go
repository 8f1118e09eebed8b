package jdbc

// buffer holds the changes of one batch, reduced per table and key.
//
// Reduction keeps one entry per key: the last change wins, so a delete
// followed by a re-insert becomes an upsert of the new row and an insert
// followed by a delete becomes a delete. Entries for different keys
// commute, which is what lets a dialect apply a table's deletes and upserts
// as two set statements. A truncate drops the table's earlier entries and
// is applied before the later ones.
//
// An upsert whose columns hold the unavailable-value placeholder takes
// those columns from an earlier upsert of the same key in the batch when
// it has them; the rest stay out of the statement's column list.
type buffer struct {
	tables map[string]*tableBuf
	order  []*tableBuf
	n      int // records added
	keyBuf []byte
}

// tableBuf is one table's reduced changes.
type tableBuf struct {
	name     tableName
	truncate bool
	entries  []*entry
	byKey    map[string]int
}

func newBuffer() *buffer { return &buffer{tables: map[string]*tableBuf{}} }

func (b *buffer) table(t tableName) *tableBuf {
	k := t.String()
	tb, ok := b.tables[k]
	if !ok {
		tb = &tableBuf{name: t, byKey: map[string]int{}}
		b.tables[k] = tb
		b.order = append(b.order, tb)
	}
	return tb
}

// add adds one decoded change.
func (b *buffer) add(c change) {
	b.n++
	tb := b.table(c.table)
	if c.truncate {
		tb.truncate = true
		tb.entries = tb.entries[:0]
		clear(tb.byKey)
		return
	}
	e := c.e
	if len(e.shape.pk) == 0 {
		// No key: nothing to reduce against.
		tb.entries = append(tb.entries, e)
		return
	}
	kb := b.keyBuf[:0]
	for _, i := range e.shape.pk {
		kb = appendKey(kb, e.vals[i])
	}
	b.keyBuf = kb
	if i, ok := tb.byKey[string(kb)]; ok {
		prev := tb.entries[i]
		if e.op == opUpsert && e.unavail != nil && prev.op == opUpsert {
			fillUnavailable(e, prev)
		}
		tb.entries[i] = e
		return
	}
	tb.byKey[string(kb)] = len(tb.entries)
	tb.entries = append(tb.entries, e)
}

// fillUnavailable takes e's unavailable columns from prev where prev has a
// value for a column of the same name.
func fillUnavailable(e, prev *entry) {
	left := false
	for i, u := range e.unavail {
		if !u {
			continue
		}
		name := e.shape.cols[i].name
		for j, pc := range prev.shape.cols {
			if pc.name == name && (prev.unavail == nil || !prev.unavail[j]) {
				e.vals[i] = prev.vals[j]
				e.unavail[i] = false
				break
			}
		}
		left = left || e.unavail[i]
	}
	if !left {
		e.unavail = nil
	}
}

// empty reports whether nothing was added since the last reset.
func (b *buffer) empty() bool { return b.n == 0 }

// reset empties the buffer, keeping its maps for reuse.
func (b *buffer) reset() {
	clear(b.tables)
	b.order = b.order[:0]
	b.n = 0
}
