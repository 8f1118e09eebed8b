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
//
// Reduction never crosses Kafka partitions: every entry and truncate in
// the buffer is the work of one partition, so drop can forget a partition
// (taken away from the task) without losing another partition's changes.
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
	// truncFrom is the partition the truncate came from.
	truncFrom partitionRef
	entries   []*entry
	byKey     map[string]int
}

// partitionRef is a Kafka topic partition.
type partitionRef struct {
	topic     string
	partition int32
}

func (r recordRef) tp() partitionRef { return partitionRef{r.topic, r.partition} }

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

// add adds one decoded change. When the change would reduce against the
// change of another partition (the same key, or a truncate over another
// partition's entries), it adds nothing and returns false: the caller
// writes the buffer and adds the change again.
func (b *buffer) add(c change) bool {
	tb := b.table(c.table)
	if c.truncate {
		from := c.rec.tp()
		if tb.truncate && tb.truncFrom != from {
			return false
		}
		for _, e := range tb.entries {
			if e.rec.tp() != from {
				return false
			}
		}
		b.n++
		tb.truncate, tb.truncFrom = true, from
		clear(tb.entries)
		tb.entries = tb.entries[:0]
		clear(tb.byKey)
		return true
	}
	e := c.e
	if len(e.shape.pk) == 0 {
		// No key: nothing to reduce against.
		b.n++
		tb.entries = append(tb.entries, e)
		return true
	}
	kb := b.keyBuf[:0]
	for _, i := range e.shape.pk {
		kb = appendKey(kb, e.vals[i])
	}
	b.keyBuf = kb
	if i, ok := tb.byKey[string(kb)]; ok {
		prev := tb.entries[i]
		if prev.rec.tp() != e.rec.tp() {
			return false
		}
		b.n++
		if e.op == opUpsert && e.unavail != nil && prev.op == opUpsert {
			fillUnavailable(e, prev)
		}
		tb.entries[i] = e
		return true
	}
	b.n++
	tb.byKey[string(kb)] = len(tb.entries)
	tb.entries = append(tb.entries, e)
	return true
}

// drop forgets every entry and truncate of the partitions gone reports.
// The entries left are the same changes as before (reduction never
// crossed partitions), so writing them is still correct.
func (b *buffer) drop(gone func(partitionRef) bool) {
	n := 0
	order := b.order[:0]
	for _, tb := range b.order {
		if tb.truncate && gone(tb.truncFrom) {
			tb.truncate = false
		}
		kept := tb.entries[:0]
		for _, e := range tb.entries {
			if !gone(e.rec.tp()) {
				kept = append(kept, e)
			}
		}
		clear(tb.entries[len(kept):])
		tb.entries = kept
		if len(kept) == 0 && !tb.truncate {
			delete(b.tables, tb.name.String())
			continue
		}
		clear(tb.byKey)
		for i, e := range kept {
			if len(e.shape.pk) == 0 {
				continue
			}
			kb := b.keyBuf[:0]
			for _, j := range e.shape.pk {
				kb = appendKey(kb, e.vals[j])
			}
			b.keyBuf = kb
			tb.byKey[string(kb)] = i
		}
		n += len(kept)
		if tb.truncate {
			n++
		}
		order = append(order, tb)
	}
	clear(b.order[len(order):])
	b.order = order
	b.n = n
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
