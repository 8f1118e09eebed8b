package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// chunk is a primary-key range of one table, read in one query: an
// integer range [lo, hi) of a single integer key, or a row-value range
// (after, upTo] of any other key, its values in text form.
type chunk struct {
	t      *table
	idx    int
	keyCol string
	lo, hi *int64 // lo inclusive, hi exclusive; nil is unbounded

	keyCols     []string // key column names, for row-value ranges
	after, upTo []string // after exclusive, upTo inclusive; nil is unbounded

	// order is the key column names when the chunk is read in key order
	// (see keyOrder), so that it can resume after a key; nil otherwise.
	order []string
	// from, with order, is the key after which a resumed chunk starts
	// (the last row delivered before a restart), fromText its form in
	// snapshot_keys.
	from     []string
	fromText string
	// filter, when not empty, is an SQL condition the rows read must meet
	// (an execute-snapshot signal's additional-conditions).
	filter string
	// doneAt is the seq of the first snapBase of its run that lists the
	// chunk finished (0: none yet); set by the emitter, read by Poll.
	doneAt atomic.Int64
}

// snapItem is what a snapshot worker hands the emitter: a batch of rows
// of one table, or the end of a chunk, or an error.
type snapItem struct {
	t    *table
	c    *chunk // the chunk of rows
	rows []snapRow
	done *chunk
	err  error
}

// snapRow is a row read: its key and value built, or, when the runtime
// takes lazy values, env (the key and after being nil).
type snapRow struct {
	key, after *connectors.StructValue
	env        lazyEnvelope
	// pos is the row's key as in snapshot_keys, when its chunk is read
	// in key order; it is in a block shared with other rows (keyBlock).
	pos []byte
}

// snapBatch is how many rows a worker hands over at once.
const snapBatch = 128

// runSnapshot reads every captured table inside the slot's exported
// snapshot on snapshot.max.threads connections and emits op "r" records.
// The replication connection that exported the snapshot stays idle
// meanwhile, which keeps the snapshot importable.
func (t *Task) runSnapshot(ctx context.Context, list []capturedTable, tables map[uint32]*table, cp uint64, snapName string) error {
	cfg := t.cfg
	for _, ct := range list {
		cols, err := readColumns(ctx, t.meta, ct.relID)
		if err != nil {
			return err
		}
		tb, err := buildTable(cfg, t.cat, ct.relID, ct.schema, ct.name, cols, t.b.Source)
		if err != nil {
			return err
		}
		tb.replIdentity = ct.replIdentity
		tables[ct.relID] = tb
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conns := make([]*pgx.Conn, 0, cfg.SnapshotThreads)
	defer func() {
		for _, c := range conns {
			_ = c.Close(context.Background())
		}
	}()
	for i := 0; i < cfg.SnapshotThreads; i++ {
		c, err := connect(ctx, cfg)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return fmt.Errorf("starting snapshot transaction: %w", err)
		}
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+snapName+"'"); err != nil {
			return fmt.Errorf("importing snapshot %s: %w", snapName, err)
		}
	}
	// source.txId of snapshot rows is the reading transaction's id, as
	// Debezium's (txid_current() inside the snapshot transaction).
	var txID int64
	if err := conns[0].QueryRow(ctx, "SELECT txid_current()").Scan(&txID); err != nil {
		return fmt.Errorf("reading the snapshot transaction's id: %w", err)
	}
	var chunks []*chunk
	var plans []tablePlan
	remaining := map[uint32]int{}
	for _, ct := range list {
		p, err := planTable(ctx, t.meta, tables[ct.relID], ct.estRows, cfg.SnapshotChunkRows)
		if err != nil {
			return err
		}
		cs := p.chunks(tables[ct.relID])
		plans = append(plans, p)
		chunks = append(chunks, cs...)
		remaining[ct.relID] = len(cs)
	}
	t.log.Info("snapshot started", "tables", len(list), "chunks", len(chunks), "threads", len(conns), "lsn", lsnString(cp))
	jobs := make(chan *chunk)
	// A few batches between readers and the emitter keep both busy; more
	// would only hold rows (and the garbage collector's work) in memory.
	items := make(chan snapItem, 8)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic in a reader fails the snapshot, and the task through
			// Poll, instead of ending the worker.
			if err := connectors.Protect(func() error { readChunks(ctx, c, jobs, items, t.lazy); return nil }); err != nil {
				select {
				case items <- snapItem{err: fmt.Errorf("snapshot reader: %w", err)}:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, c := range chunks {
			select {
			case jobs <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(items)
	}()
	err := t.emitSnapshot(ctx, items, remaining, cp, joinPlans(plans), txID)
	cancel()
	for range items {
		// Drain so the workers end.
	}
	if err != nil {
		return err
	}
	for _, c := range conns {
		if _, err := c.Exec(context.Background(), "COMMIT"); err != nil {
			return fmt.Errorf("ending snapshot transaction: %w", err)
		}
	}
	return nil
}

// tablePlan is how one table is split: n key ranges of step keys from
// lo. It is recorded in snapshot offsets so that a resumed snapshot reads
// exactly the chunks that were not finished.
//
// A table with any other key is split at key boundaries instead: chunk i
// holds the keys after bounds[i-1] up to bounds[i] (the first has no lower
// and the last no upper bound), so n = len(bounds)+1. Its entry is
// "relid:k:b1:b2:...", each boundary the text of its key columns,
// escaped (see escapeKey) and joined by ",".
type tablePlan struct {
	relID    uint32
	lo, step int64
	n        int
	bounds   [][]string
	// order is the key column names when the table's chunks are read in
	// key order (keyOrder); not part of the stored plan.
	order []string
	// filter is the SQL condition of the rows to read (additional-
	// conditions), stored after the entry as ":%!" and the filter escaped
	// as a key: an escaped key never holds "%!".
	filter string
}

// filterMark starts a plan entry's filter.
const filterMark = ":%!"

func (p tablePlan) String() string {
	if p.filter != "" {
		q := p
		q.filter = ""
		return q.String() + filterMark + escapeKey(p.filter)
	}
	if len(p.bounds) > 0 {
		var b strings.Builder
		b.WriteString(strconv.FormatUint(uint64(p.relID), 10))
		b.WriteString(":k")
		for _, k := range p.bounds {
			b.WriteByte(':')
			for i, v := range k {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(escapeKey(v))
			}
		}
		return b.String()
	}
	if p.n <= 1 {
		return strconv.FormatUint(uint64(p.relID), 10) + ":1"
	}
	return fmt.Sprintf("%d:%d:%d:%d", p.relID, p.lo, p.step, p.n)
}

// escapeKey escapes the plan's separators (and %) in a key value.
func escapeKey(v string) string {
	if !strings.ContainsAny(v, "%:;,") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '%', ':', ';', ',':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescapeKey(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+2 >= len(v) {
			return "", fmt.Errorf("key %q: truncated escape", v)
		}
		n, err := strconv.ParseUint(v[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("key %q: bad escape", v)
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), nil
}

// chunks returns the plan's chunks of t.
func (p tablePlan) chunks(t *table) []*chunk {
	if len(p.bounds) > 0 {
		names := make([]string, len(t.keyCols))
		for i, ci := range t.keyCols {
			names[i] = t.cols[ci].Name
		}
		out := make([]*chunk, p.n)
		for i := range out {
			c := &chunk{t: t, idx: i, keyCols: names, order: p.order, filter: p.filter}
			if i > 0 {
				c.after = p.bounds[i-1]
			}
			if i < p.n-1 {
				c.upTo = p.bounds[i]
			}
			out[i] = c
		}
		return out
	}
	if p.n <= 1 || len(t.keyCols) != 1 {
		return []*chunk{{t: t, order: p.order, filter: p.filter}}
	}
	kc := t.cols[t.keyCols[0]].Name
	out := make([]*chunk, p.n)
	for i := 0; i < p.n; i++ {
		c := &chunk{t: t, idx: i, keyCol: kc, order: p.order, filter: p.filter}
		if i > 0 {
			v := p.lo + int64(i)*p.step
			c.lo = &v
		}
		if i < p.n-1 {
			v := p.lo + int64(i+1)*p.step
			c.hi = &v
		}
		out[i] = c
	}
	return out
}

// maxChunks bounds the chunks of one table in a stored plan.
const maxChunks = 10_000_000

// parsePlans parses "relid:lo:step:n;relid:1;..." (see tablePlan).
func parsePlans(s string) ([]tablePlan, error) {
	var out []tablePlan
	for _, e := range strings.Split(s, ";") {
		if e == "" {
			continue
		}
		var filter string
		if i := strings.Index(e, filterMark); i >= 0 {
			var err error
			if filter, err = unescapeKey(e[i+len(filterMark):]); err != nil || filter == "" {
				return nil, fmt.Errorf("snapshot plan entry %q has a malformed filter", e)
			}
			e = e[:i]
		}
		f := strings.Split(e, ":")
		id, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("snapshot plan entry %q: %w", e, err)
		}
		p := tablePlan{relID: uint32(id), n: 1, filter: filter}
		if len(f) >= 3 && f[1] == "k" {
			if len(f)-1 > maxChunks {
				return nil, fmt.Errorf("snapshot plan entry %q has too many chunks", e)
			}
			for _, kb := range f[2:] {
				vals := strings.Split(kb, ",")
				if p.bounds != nil && len(vals) != len(p.bounds[0]) {
					return nil, fmt.Errorf("snapshot plan entry %q is malformed: boundaries of different widths", e)
				}
				for i, v := range vals {
					if vals[i], err = unescapeKey(v); err != nil {
						return nil, fmt.Errorf("snapshot plan entry %q: %w", e, err)
					}
				}
				p.bounds = append(p.bounds, vals)
			}
			p.n = len(p.bounds) + 1
		} else if len(f) == 4 {
			lo, err1 := strconv.ParseInt(f[1], 10, 64)
			step, err2 := strconv.ParseInt(f[2], 10, 64)
			n, err3 := strconv.Atoi(f[3])
			if err1 != nil || err2 != nil || err3 != nil || n < 1 || n > maxChunks || step < 1 {
				return nil, fmt.Errorf("snapshot plan entry %q is malformed", e)
			}
			p.lo, p.step, p.n = lo, step, n
		} else if len(f) != 2 {
			return nil, fmt.Errorf("snapshot plan entry %q is malformed", e)
		}
		out = append(out, p)
	}
	return out, nil
}

func joinPlans(ps []tablePlan) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ";")
}

// planTable splits a table into chunks (planChunks) and says whether they
// are read in key order (keyOrder).
func planTable(ctx context.Context, conn *pgx.Conn, t *table, estRows float64, chunkRows int64) (tablePlan, error) {
	p, err := planChunks(ctx, conn, t, estRows, chunkRows)
	if err != nil {
		return p, err
	}
	p.order, err = keyOrder(ctx, conn, t)
	return p, err
}

// planChunks splits a table into chunks of about chunkRows rows: a single
// integer key into equal key ranges from its minimum and maximum, any
// other key (text, uuid, composite, ...) at boundaries taken from a
// sample of its keys (see samplePerChunk). Tables without a key, or with a nullable
// key column (a row-value comparison would skip NULLs), are one chunk.
// conn must not be inside the snapshot transaction: a key type without a
// btree order makes the sampling query fail, and the table is then one
// chunk.
func planChunks(ctx context.Context, conn *pgx.Conn, t *table, estRows float64, chunkRows int64) (tablePlan, error) {
	p := tablePlan{relID: t.relID, n: 1}
	if len(t.keyCols) == 0 {
		return p, nil
	}
	for _, ci := range t.keyCols {
		if !t.cols[ci].NotNull {
			return p, nil
		}
	}
	// reltuples is -1 (PostgreSQL 14+) or 0 before the first ANALYZE:
	// then the table is sampled anyway.
	if estRows > 0 && estRows <= float64(chunkRows) {
		return p, nil
	}
	if len(t.keyCols) == 1 {
		switch t.cols[t.keyCols[0]].TypeOID {
		case 20, 21, 23:
			return planIntTable(ctx, conn, t, estRows, chunkRows)
		}
	}
	var bounds [][]string
	var err error
	if estRows <= 0 {
		// No statistics yet: estimate from a 1% block sample (none
		// for a small table, which is then walked).
		q := "SELECT count(*) * 100 FROM " + quoteTable(t.schema, t.name) + " TABLESAMPLE SYSTEM (1)"
		if err = conn.QueryRow(ctx, q).Scan(&estRows); err != nil {
			estRows = 0
		}
	}
	if err == nil && estRows > float64(chunkRows) {
		bounds, err = sampledBounds(ctx, conn, t, estRows, chunkRows)
	}
	if err == nil && len(bounds) == 0 {
		bounds, err = walkBounds(ctx, conn, t, chunkRows)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Code, "42") {
			return p, nil // no ordering for the key's type: one chunk
		}
		return p, fmt.Errorf("sampling the key boundaries of %s.%s: %w", t.schema, t.name, err)
	}
	if len(bounds) > 0 {
		p.bounds, p.n = bounds, len(bounds)+1
	}
	return p, nil
}

// Boundaries come from a block sample of about samplePerChunk keys per
// chunk: chunk sizes vary a little, but planning reads a small part of the
// table. A walk over the key index in steps of chunkRows (exact, but one
// sort or index pass per step) is left for tables too small to sample.
const samplePerChunk = 64

// sampledBounds reads a TABLESAMPLE SYSTEM sample of the keys and returns
// every (sample size / chunks)-th of them in key order. It returns none
// when the sample is too small to split.
func sampledBounds(ctx context.Context, conn *pgx.Conn, t *table, estRows float64, chunkRows int64) ([][]string, error) {
	n := int64(math.Ceil(estRows / float64(chunkRows)))
	pct := min(100, float64(n*samplePerChunk)*100/estRows)
	cols := make([]string, len(t.keyCols))
	sel := make([]string, len(t.keyCols))
	for i, ci := range t.keyCols {
		cols[i] = quoteIdent(t.cols[ci].Name)
		sel[i] = cols[i] + "::text"
	}
	keys := strings.Join(cols, ", ")
	q := "SELECT " + strings.Join(sel, ", ") + " FROM (SELECT " + keys + ", row_number() OVER (ORDER BY " + keys +
		") AS rn, count(*) OVER () AS cnt FROM " + quoteTable(t.schema, t.name) +
		" TABLESAMPLE SYSTEM (" + strconv.FormatFloat(pct, 'f', 6, 64) + ")) s" +
		" WHERE rn % greatest(cnt / " + strconv.FormatInt(n, 10) + ", 1) = 0 AND rn < cnt ORDER BY rn"
	rr := conn.PgConn().ExecParams(ctx, q, nil, nil, nil, nil)
	var bounds [][]string
	for rr.NextRow() {
		row := make([]string, 0, len(cols))
		for _, v := range rr.Values() {
			row = append(row, string(v))
		}
		bounds = append(bounds, row)
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	if len(bounds) > maxChunks-1 {
		bounds = bounds[:maxChunks-1]
	}
	return bounds, nil
}

// walkBounds walks the key index in steps of chunkRows keys: each query
// reads the key chunkRows after the previous boundary, so the whole walk
// reads each key once.
func walkBounds(ctx context.Context, conn *pgx.Conn, t *table, chunkRows int64) ([][]string, error) {
	sel := make([]string, len(t.keyCols))
	cols := make([]string, len(t.keyCols))
	params := make([]string, len(t.keyCols))
	for i, ci := range t.keyCols {
		cols[i] = quoteIdent(t.cols[ci].Name)
		sel[i] = cols[i] + "::text"
		params[i] = "$" + strconv.Itoa(i+1)
	}
	from := " FROM " + quoteTable(t.schema, t.name)
	tail := " ORDER BY " + strings.Join(cols, ", ") + " OFFSET " + strconv.FormatInt(chunkRows-1, 10) + " LIMIT 1"
	first := "SELECT " + strings.Join(sel, ", ") + from + tail
	next := "SELECT " + strings.Join(sel, ", ") + from + " WHERE (" + strings.Join(cols, ", ") + ") > (" + strings.Join(params, ", ") + ")" + tail
	var bounds [][]string
	var prev [][]byte
	for len(bounds) < maxChunks-1 {
		q, args := first, [][]byte(nil)
		if prev != nil {
			q, args = next, prev
		}
		rr := conn.PgConn().ExecParams(ctx, q, args, nil, nil, nil)
		var row []string
		for rr.NextRow() {
			for _, v := range rr.Values() {
				row = append(row, string(v))
			}
		}
		if _, err := rr.Close(); err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		bounds = append(bounds, row)
		prev = make([][]byte, len(row))
		for i, v := range row {
			prev[i] = []byte(v)
		}
	}
	return bounds, nil
}

// planIntTable splits a table with a single integer key into key ranges
// of about chunkRows rows.
func planIntTable(ctx context.Context, conn *pgx.Conn, t *table, estRows float64, chunkRows int64) (tablePlan, error) {
	p := tablePlan{relID: t.relID, n: 1}
	kc := t.cols[t.keyCols[0]]
	var lo, hi *int64
	q := fmt.Sprintf("SELECT min(%s)::int8, max(%s)::int8 FROM %s", quoteIdent(kc.Name), quoteIdent(kc.Name), quoteTable(t.schema, t.name))
	if err := conn.QueryRow(ctx, q).Scan(&lo, &hi); err != nil {
		return p, fmt.Errorf("reading the key range of %s.%s: %w", t.schema, t.name, err)
	}
	if lo == nil || hi == nil {
		return p, nil
	}
	span := float64(*hi) - float64(*lo) + 1
	if estRows <= 0 {
		estRows = span
	}
	n := int64(math.Ceil(estRows / float64(chunkRows)))
	if n <= 1 {
		return p, nil
	}
	p.lo, p.step, p.n = *lo, int64(math.Ceil(span/float64(n))), int(n)
	return p, nil
}

// chunkSQL returns the query and parameters reading chunk c in text
// format: in key order when c.order is set, and only after c.from when
// the chunk resumes.
func chunkSQL(c *chunk) (string, [][]byte) {
	t := c.t
	names := make([]string, len(t.cols))
	for i, col := range t.cols {
		names[i] = quoteIdent(col.Name)
	}
	sql := "SELECT " + strings.Join(names, ", ") + " FROM " + quoteTable(t.schema, t.name)
	var params [][]byte
	var where []string
	if c.lo != nil {
		params = append(params, []byte(strconv.FormatInt(*c.lo, 10)))
		where = append(where, fmt.Sprintf("%s >= $%d", quoteIdent(c.keyCol), len(params)))
	}
	if c.hi != nil {
		params = append(params, []byte(strconv.FormatInt(*c.hi, 10)))
		where = append(where, fmt.Sprintf("%s < $%d", quoteIdent(c.keyCol), len(params)))
	}
	bound := func(cols []string, op string, vals []string) {
		keys := make([]string, len(cols))
		for i, k := range cols {
			keys[i] = quoteIdent(k)
		}
		ps := make([]string, len(vals))
		for i, v := range vals {
			params = append(params, []byte(v))
			ps[i] = "$" + strconv.Itoa(len(params))
		}
		where = append(where, "("+strings.Join(keys, ", ")+") "+op+" ("+strings.Join(ps, ", ")+")")
	}
	if c.after != nil {
		bound(c.keyCols, ">", c.after)
	}
	if c.upTo != nil {
		bound(c.keyCols, "<=", c.upTo)
	}
	if c.from != nil && len(c.from) == len(c.order) {
		bound(c.order, ">", c.from)
	}
	if c.filter != "" {
		where = append(where, "("+c.filter+")")
	}
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	if c.order != nil {
		keys := make([]string, len(c.order))
		for i, k := range c.order {
			keys[i] = quoteIdent(k)
		}
		sql += " ORDER BY " + strings.Join(keys, ", ")
	}
	return sql, params
}

// textColumns views a text-format result row as tuple columns.
func textColumns(dst []pgoutput.Column, vals [][]byte) []pgoutput.Column {
	dst = dst[:0]
	for _, v := range vals {
		if v == nil {
			dst = append(dst, pgoutput.Column{Kind: pgoutput.KindNull})
		} else {
			dst = append(dst, pgoutput.Column{Kind: pgoutput.KindText, Data: v})
		}
	}
	return dst
}

// readChunks is a snapshot worker: it reads chunks in text format (so the
// values go through the same converters as the stream's) and hands rows
// to the emitter.
func readChunks(ctx context.Context, conn *pgx.Conn, jobs <-chan *chunk, items chan<- snapItem, lazy bool) {
	send := func(it snapItem) bool {
		select {
		case items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var cols []pgoutput.Column
	var sl cdc.Slab
	var arena rowArena
	var keys keyBlock
	for c := range jobs {
		t := c.t
		sql, params := chunkSQL(c)
		rr := conn.PgConn().ExecParams(ctx, sql, params, nil, nil, nil)
		batch := make([]snapRow, 0, snapBatch)
		for rr.NextRow() {
			var err error
			var pos []byte
			if c.order != nil {
				pos = keys.add(t, rr.Values())
			}
			if lazy {
				batch = append(batch, snapRow{pos: pos})
				err = arena.read(&batch[len(batch)-1].env.lazyRow, t, rr.Values())
			} else {
				cols = textColumns(cols, rr.Values())
				var key, after *connectors.StructValue
				after, err = t.rowValue(&sl, cols)
				if err == nil {
					key, err = t.rowKey(&sl, cols)
				}
				batch = append(batch, snapRow{key: key, after: after, pos: pos})
			}
			if err != nil {
				rr.Close()
				send(snapItem{err: fmt.Errorf("snapshot of %s.%s: %w", t.schema, t.name, err)})
				return
			}
			if len(batch) == snapBatch {
				if !send(snapItem{t: t, c: c, rows: batch}) {
					rr.Close()
					return
				}
				batch = make([]snapRow, 0, snapBatch)
			}
		}
		if _, err := rr.Close(); err != nil {
			send(snapItem{err: fmt.Errorf("snapshot of %s.%s: %w", t.schema, t.name, err)})
			return
		}
		if len(batch) > 0 && !send(snapItem{t: t, c: c, rows: batch}) {
			return
		}
		if !send(snapItem{done: c}) {
			return
		}
	}
}

// lazyRecord returns the record of a row read lazily, from the slab recs.
func (t *Task) lazyRecord(recs *[]connectors.Record, env *lazyEnvelope, src *lazySource, now time.Time, off map[string]any) *connectors.Record {
	if len(*recs) == 0 {
		*recs = make([]connectors.Record, snapBatch)
	}
	r := &(*recs)[0]
	*recs = (*recs)[1:]
	env.src = src
	tb := env.t
	*r = connectors.Record{Topic: tb.topic, Partition: -1, ValueSchema: tb.envelopeSchema, Value: env,
		Timestamp: now, SourcePartition: t.b.Partition, SourceOffset: off}
	if tb.keySchema != nil {
		r.KeySchema, r.Key = tb.keySchema, (*lazyKey)(&env.lazyRow)
	}
	return r
}

// held is a snapshot record kept back until the next record of its table
// (or the end of the table) says which snapshot marker it gets.
type held struct {
	r     *connectors.Record
	o     offset
	pos   snapPos
	first bool
}

func setSnapshotMarker(r *connectors.Record, marker string) {
	var src *connectors.StructValue
	lz, isLazy := r.Value.(*lazyEnvelope)
	if isLazy {
		src = lz.src.src
	} else {
		src = r.Value.(*connectors.StructValue).Values[cdc.EnvSource].(*connectors.StructValue)
	}
	if src.Values[cdc.SrcSnapshot] == marker {
		return
	}
	// The source block may be shared with other rows: change a copy.
	cp := &connectors.StructValue{Schema: src.Schema, Values: slices.Clone(src.Values)}
	cp.Values[cdc.SrcSnapshot] = marker
	if isLazy {
		// Not a copy of lz.src: its JSON cache belongs to the encoder.
		lz.src = newLazySource(lz.t.envelopeSchema, cp, lz.src.op, lz.src.ts)
	} else {
		r.Value.(*connectors.StructValue).Values[cdc.EnvSource] = cp
	}
}

// emitSnapshot turns worker items into records with Debezium's snapshot
// markers (first, first_in_data_collection, true, last_in_data_collection,
// last) and offsets that record finished chunks.
func (t *Task) emitSnapshot(ctx context.Context, items <-chan snapItem, remaining map[uint32]int, cp uint64, plan string, txID int64) error {
	holds := map[uint32]*held{}
	seen := map[uint32]bool{}
	left := 0
	for _, n := range remaining {
		left += n
	}
	var done []string
	cur := offset{snapshot: true, snapshotPlan: plan, lsnProc: cp, lsn: cp}
	// Records carry base and their key (snapPos); Poll builds the
	// offset of the last record of a batch (see progress.go).
	run := &snapRun{}
	base := &snapBase{run: run, seq: 1, off: cur}
	// deferred holds, per table, finished chunks whose last row may still
	// be the table's held row.
	deferred := map[uint32][]*chunk{}
	markDone := func(id uint32, chunks ...*chunk) {
		seq := base.seq + 1
		for _, cs := range [2][]*chunk{deferred[id], chunks} {
			for _, c := range cs {
				done = append(done, chunkID(c))
				c.doneAt.Store(seq)
			}
		}
		delete(deferred, id)
		cur = offset{snapshot: true, snapshotPlan: plan, snapshotChunks: strings.Join(done, ","), lsnProc: cp, lsn: cp}
		base = &snapBase{run: run, seq: seq, off: cur}
	}
	// out is the last marked record, kept until the next one so that the
	// final record can be marked "last" and carry the final offset.
	var out held
	hasOut := false
	flush := func(h *held, marker string) error {
		if h.first && marker == cdc.SnapTrue {
			marker = cdc.SnapFirstInDC
		}
		setSnapshotMarker(h.r, marker)
		prev, had := out, hasOut
		out, hasOut = *h, true
		if had {
			return t.emitAt(ctx, prev.r, &prev.o, prev.pos)
		}
		return nil
	}
	firstEmitted := false
	pos := position{snapshot: cdc.SnapTrue, lsn: cp, txID: txID}
	rowsSeen := 0
	srcs := map[uint32]*connectors.StructValue{}
	var tick time.Time
	lsrcs := map[uint32]*lazySource{}
	var recs []connectors.Record // a slab of lazy records
	for it := range items {
		switch {
		case it.err != nil:
			return it.err
		case it.done != nil:
			id := it.done.t.relID
			remaining[id]--
			left--
			chunk := it.done
			h := holds[id]
			switch {
			case h == nil || h.r == nil:
				markDone(id, chunk)
				continue
			case remaining[id] > 0:
				// The table's last row read is held back for its marker
				// and may be this chunk's: the chunk counts as finished
				// in the offsets of records made after that row is
				// emitted, so that no committed offset skips it.
				deferred[id] = append(deferred[id], chunk)
				continue
			}
			// The table's last chunk: its held row goes out now.
			markDone(id, chunk)
			delete(holds, id)
			if err := flush(h, cdc.SnapLastInDC); err != nil {
				return err
			}
		default:
			// The rows of a batch are of one table: look its state up once.
			id := it.t.relID
			h := holds[id]
			if h == nil {
				h = &held{}
				holds[id] = h
			}
			first := !seen[id]
			seen[id] = true
			src, ls := srcs[id], lsrcs[id]
			for i := range it.rows {
				row := &it.rows[i]
				if h.r != nil {
					marker := cdc.SnapTrue
					if !firstEmitted {
						marker, firstEmitted = cdc.SnapFirst, true
					}
					if err := flush(h, marker); err != nil {
						return err
					}
					// len(deferred) first: no map lookup per row when
					// nothing waits, the common case.
					if len(deferred) > 0 && len(deferred[id]) > 0 {
						markDone(id)
					}
				}
				// source.ts_* is the read time, refreshed every 256 rows
				// so that the clock and its boxing stay off the per-row
				// path.
				if rowsSeen%256 == 0 {
					tick = time.Now()
					pos.ts = cdc.TimeBoxes(tick)
					clear(srcs)
					src = nil
				}
				rowsSeen++
				// Rows of a table read at the same time share a source block.
				if src == nil {
					p := pos
					src = t.b.sourceValue(it.t, &p)
					srcs[id] = src
				}
				var r *connectors.Record
				if t.lazy {
					if ls == nil || ls.src != src {
						ls = newLazySource(it.t.envelopeSchema, src, cdc.OpRead, tick.UnixNano())
						lsrcs[id] = ls
					}
					r = t.lazyRecord(&recs, &row.env, ls, tick, nil)
				} else {
					p := pos
					p.src = src
					r = t.b.change(it.t, cdc.OpRead, row.key, nil, row.after, &p, nil, nil)
				}
				*h = held{r: r, o: cur, pos: snapPos{base: base, c: it.c, key: row.pos}, first: first}
				first = false
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if left != 0 {
		return fmt.Errorf("snapshot ended with %d chunks unread", left)
	}
	if hasOut {
		final := offset{lsnProc: cp, lastSnapshot: true}
		out.r.SourceOffset, out.o = final.toMap(), final
		setSnapshotMarker(out.r, cdc.SnapLast)
		if err := t.emit(ctx, out.r, &out.o); err != nil {
			return err
		}
	}
	t.log.Info("snapshot finished", "lsn", lsnString(cp))
	return nil
}
