package mysql

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Reading a table for a snapshot, whole or by primary-key chunks: the
// shape (described), the chunk query, and rows into records. Used by the
// initial snapshot (snapshot.go) and the chunked snapshots while
// streaming (incremental.go).

// querier is a *sql.Conn, *sql.Tx or *sql.DB.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// described is a captured table as a snapshot reads it.
type described struct {
	db, name string
	tb       *table
	cols     []column
	// sel is the select list: the included columns (nval of them), then
	// the primary-key columns as stored, which order the chunks.
	sel  []string
	nval int
	// pk are the primary key's column indexes when the table can be read
	// in chunks; nil when it has no primary key or one whose order the
	// server does not compare with its text (ENUM, SET, BIT, floating
	// point): such a table is read whole.
	pk []int
}

// chunkable kinds: the server orders them as it compares them with
// their text (or bytes).
func chunkable(k kind) bool {
	switch k {
	case kInt, kDecimal, kString, kBytes, kDate, kTime, kDatetime, kTimestamp, kYear:
		return true
	}
	return false
}

// describe reads the shape of db.name from the catalog through q.
func (t *Task) describe(ctx context.Context, q querier, db, name string) (*described, error) {
	json, err := jsonColumns(ctx, t.db, db, name)
	if err != nil {
		return nil, err
	}
	cols, pk, err := columnsFromCatalog(ctx, q, db, name, json)
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
	}
	key, err := keyOf(t.cfg, db, name, cols, pk)
	if err != nil {
		return nil, err
	}
	d := &described{db: db, name: name, cols: cols, tb: newTable(t.cfg, t.b.Source, db, name, cols, key)}
	for i := range cols {
		if !d.tb.include[i] {
			continue
		}
		s := quoteIdent(cols[i].name)
		if cols[i].kind == kFloat {
			s = "CAST(" + s + " AS DOUBLE)"
		}
		d.sel = append(d.sel, s)
	}
	d.nval = len(d.sel)
	d.pk = pk
	for _, k := range pk {
		if !chunkable(cols[k].kind) {
			d.pk = nil
			break
		}
	}
	for _, k := range d.pk {
		d.sel = append(d.sel, quoteIdent(cols[k].name))
	}
	return d, nil
}

// query returns the SELECT of the rows after the key last (all when nil)
// in primary-key order, at most limit of them (all when limit is 0 or
// the table is read whole).
func (d *described) query(last [][]byte, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(d.sel, ", "))
	b.WriteString(" FROM ")
	b.WriteString(quoteIdent(d.db) + "." + quoteIdent(d.name))
	if d.pk == nil {
		return b.String(), nil
	}
	var args []any
	if last != nil {
		// (a > ?) OR (a = ? AND b > ?) OR ...: the rows after last in
		// the primary key's order, compared in each column's collation.
		b.WriteString(" WHERE ")
		for i := range d.pk {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(")
			for j := 0; j <= i; j++ {
				if j > 0 {
					b.WriteString(" AND ")
				}
				op := " = ?"
				if j == i {
					op = " > ?"
				}
				b.WriteString(quoteIdent(d.cols[d.pk[j]].name) + op)
				args = append(args, d.param(j, last[j]))
			}
			b.WriteString(")")
		}
	}
	b.WriteString(" ORDER BY ")
	for i, k := range d.pk {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(d.cols[k].name))
	}
	if limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", limit)
	}
	return b.String(), args
}

// param is the value of key column j for a query: bytes for a binary
// column (compared byte by byte), a string otherwise (compared in the
// column's collation).
func (d *described) param(j int, v []byte) any {
	if d.cols[d.pk[j]].kind == kBytes {
		return v
	}
	return string(v)
}

// readRows reads the rows of a query of d into records (op r, source
// from p) and hands each to emit with the row's primary-key text (valid
// until the next row).
func (t *Task) readRows(ctx context.Context, b *cdc.Builder, rows *sql.Rows, d *described, p *srcPosition, emit func(r *connectors.Record, key [][]byte) error) error {
	defer rows.Close()
	if t.lazy {
		return t.readLazyRows(b, rows, d, p, emit)
	}
	tb, cols := d.tb, d.cols
	raw := make([]sql.RawBytes, len(d.sel))
	ptrs := make([]any, len(d.sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	pkRaw := make([][]byte, len(d.pk))
	rs, rv := tb.rowReserve(b)
	// The rows share one source block: p does not change while they are
	// read. It lives outside the slab, so that it holds no slab array
	// alive; a snapshot marker is set on a copy (snapshotter.flush).
	src := sourceValue(b, tb, p)
	src = &connectors.StructValue{Schema: src.Schema, Values: slices.Clone(src.Values)}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
		}
		// All of the row's structs from the same slab arrays (cdc.Slab).
		b.Slab.Reserve(rs, rv)
		after := b.Slab.NewStruct(tb.value)
		var key *connectors.StructValue
		if tb.keyS != nil {
			key = b.Slab.NewStruct(tb.keyS)
		}
		for i := range cols {
			if !tb.include[i] {
				continue
			}
			v, err := cols[i].fromText(raw[tb.pos[i]], t.cfg.Modes)
			if err != nil {
				return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
			}
			after.Values[tb.pos[i]] = v
		}
		if key != nil {
			for j, k := range tb.key {
				if !tb.include[k] {
					return errExcludedKey(d, k)
				}
				key.Values[j] = after.Values[tb.pos[k]]
			}
		}
		for j := range pkRaw {
			pkRaw[j] = raw[d.nval+j]
		}
		r := b.Change(tb.topic, tb.env, tb.keyS, "r", key, nil, after, src, nil, nil)
		if err := emit(r, pkRaw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
	}
	return nil
}

// planTable is a table of a chunked snapshot: Last is the primary key
// of the last row emitted (hex of each column's text), nil before the
// first chunk.
type planTable struct {
	DB    string   `json:"d"`
	Table string   `json:"t"`
	Last  []string `json:"l,omitempty"`
	// Signal marks a table an execute-snapshot signal asked for: its
	// events have source.snapshot "incremental" (the rest of an initial
	// snapshot: "true").
	Signal bool `json:"s,omitempty"`
}

// snapPlan is what is left of a chunked snapshot, kept in the source
// offset (offsetIncremental) so that a restart reads only that.
type snapPlan struct {
	Tables []planTable `json:"tables"`
	// Paused by pause-snapshot: no chunk is read until resume-snapshot.
	Paused bool `json:"paused,omitempty"`
	// Initial marks the rest of an initial snapshot.
	Initial bool `json:"initial,omitempty"`
}

// offsetIncremental is the offset field holding the plan.
const offsetIncremental = "incremental_snapshot"

func (p *snapPlan) encode() string {
	b, _ := json.Marshal(p)
	return string(b)
}

func parsePlan(s string) (*snapPlan, error) {
	var p snapPlan
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("stored offset: %s is not a snapshot plan: %w", offsetIncremental, err)
	}
	for _, t := range p.Tables {
		for _, k := range t.Last {
			if _, err := hex.DecodeString(k); err != nil {
				return nil, fmt.Errorf("stored offset: %s: key of %s.%s: %w", offsetIncremental, t.DB, t.Table, err)
			}
		}
	}
	return &p, nil
}

// lastKey decodes Last.
func (pt *planTable) lastKey() [][]byte {
	if pt.Last == nil {
		return nil
	}
	out := make([][]byte, len(pt.Last))
	for i, k := range pt.Last {
		out[i], _ = hex.DecodeString(k) // checked by parsePlan
	}
	return out
}

// setLast records key as the last row emitted.
func (pt *planTable) setLast(key [][]byte) {
	pt.Last = make([]string, len(key))
	for i, k := range key {
		pt.Last[i] = hex.EncodeToString(k)
	}
}

// errExcludedKey is the error of a table whose key column k is left out
// by column.exclude.list.
func errExcludedKey(d *described, k int) error {
	return fmt.Errorf("snapshot of %s.%s: key column %s is excluded by column.exclude.list", d.db, d.name, d.cols[k].name)
}

// readLazyRows is readRows when the runtime takes lazy values: the
// records' keys and values are lazy rows (lazy.go). The envelope's ts_*
// and the records' timestamps are read from the clock every 256 rows.
func (t *Task) readLazyRows(b *cdc.Builder, rows *sql.Rows, d *described, p *srcPosition, emit func(r *connectors.Record, key [][]byte) error) error {
	tb := d.tb
	raw := make([]sql.RawBytes, len(d.sel))
	ptrs := make([]any, len(d.sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	vals := make([][]byte, len(d.sel))
	pkRaw := make([][]byte, len(d.pk))
	plan := newLazyPlan(d, t.cfg.Modes)
	src := sourceValue(b, tb, p)
	src = &connectors.StructValue{Schema: src.Schema, Values: slices.Clone(src.Values)}
	var arena rowArena
	var recs []connectors.Record
	var ls *lazySource
	var now time.Time
	for n := 0; rows.Next(); n++ {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
		}
		if plan.keyErr != nil {
			return plan.keyErr
		}
		for i := range raw {
			vals[i] = raw[i]
		}
		env, err := arena.row(plan, vals)
		if err != nil {
			return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
		}
		if n%256 == 0 {
			now = b.Now()
			ls = newLazySource(tb.env, src, now.UnixNano())
		}
		env.src = ls
		if len(recs) == 0 {
			recs = make([]connectors.Record, arenaRows)
		}
		r := &recs[0]
		recs = recs[1:]
		*r = connectors.Record{Topic: tb.topic, Partition: -1, ValueSchema: tb.env, Value: env,
			Timestamp: now, SourcePartition: b.Partition}
		if tb.keyS != nil {
			r.KeySchema, r.Key = tb.keyS, (*lazyKey)(&env.lazyRow)
		}
		for j := range pkRaw {
			pkRaw[j] = raw[d.nval+j]
		}
		if err := emit(r, pkRaw); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("snapshot of %s.%s: %w", d.db, d.name, err)
	}
	return nil
}
