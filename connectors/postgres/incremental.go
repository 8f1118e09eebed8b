package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// A snapshot interrupted by a crash cannot be continued inside its
// exported snapshot: that snapshot died with the connection. Instead the
// task streams from the slot's consistent point (so every change since
// the finished chunks were read is replayed) and reads the unfinished
// chunks while streaming with DBLog's watermark method, as Debezium's
// incremental snapshots do (package cdc: watermark.go). A watermark here
// is a non-transactional logical decoding message.
//
// Finished chunks are never read again. Watermarks need logical decoding
// messages in pgoutput, so PostgreSQL 14 or later.

const watermarkPrefix = "sluice.watermark"

// chunkRow is a row read by a watermarked chunk query.
type chunkRow struct {
	keyText    string
	key, after *connectors.StructValue
	pos        []byte // the key as in snapshot_keys when the chunk is ordered
}

type chunkResult struct {
	id   string
	rows []chunkRow
	snap xidSnapshot // the snapshot the rows were read in
	err  error
}

// incremental is the streamer's state while chunks remain.
type incremental struct {
	plan    string
	done    []string // finished chunks, "relid:idx"
	doneStr string
	// keys is the snapshot_keys of the chunks resumed after a key and
	// not read yet (see setKeys).
	keys     string
	pending  []*chunk
	session  string
	seq      int
	cur      *chunk
	curStale bool       // cur belongs to a plan replaced by a later signal
	paused   bool       // pause-snapshot: no further chunk starts
	win      cdc.Window // the DBLog window of cur's read
	lowSeq   uint64     // commits decoded before cur's low watermark (streamer.commits)
	retryAt  time.Time  // no chunk starts before: one was read before a transaction it had to see became visible
	rereads  int        // reads in a row dropped for such a transaction (rereadDelay)
	ready    *chunkResult
	results  chan chunkResult
	conn     *pgx.Conn
	resumed  bool // the chunks left of an initial snapshot that a crash interrupted
}

// setKeys sets keys from the chunks left (and the one being read, unless
// it belongs to a replaced plan).
func (in *incremental) setKeys() { in.keys = in.keysExcept(nil) }

// keysExcept is the snapshot_keys of the chunks left but c.
func (in *incremental) keysExcept(c *chunk) string {
	var b []byte
	if in.cur != nil && in.cur != c && !in.curStale && in.cur.fromText != "" {
		b = appendChunkKey(b, in.cur, []byte(in.cur.fromText))
	}
	for _, p := range in.pending {
		if p != c && p.fromText != "" {
			b = appendChunkKey(b, p, []byte(p.fromText))
		}
	}
	return string(b)
}

// pendingChunks returns the chunks of plan not listed in done, building
// the tables they belong to; a chunk listed in keys (snapshot_keys)
// starts after its key.
func (t *Task) pendingChunks(ctx context.Context, plan, done, keys string, tables map[uint32]*table) ([]*chunk, error) {
	plans, err := parsePlans(plan)
	if err != nil {
		return nil, err
	}
	from, err := parseSnapshotKeys(keys)
	if err != nil {
		return nil, err
	}
	finished := map[string]bool{}
	for _, d := range strings.Split(done, ",") {
		finished[d] = true
	}
	list, err := listTables(ctx, t.meta, t.cfg)
	if err != nil {
		return nil, err
	}
	byID := map[uint32]capturedTable{}
	for _, ct := range list {
		byID[ct.relID] = ct
	}
	var out []*chunk
	for _, p := range plans {
		ct, ok := byID[p.relID]
		if !ok {
			continue // dropped or no longer captured
		}
		tb := tables[p.relID]
		if tb == nil {
			cols, err := readColumns(ctx, t.meta, p.relID)
			if err != nil {
				return nil, err
			}
			if tb, err = buildTable(t.cfg, t.cat, p.relID, ct.schema, ct.name, cols, t.b.Source); err != nil {
				return nil, err
			}
			tb.replIdentity = ct.replIdentity
			tables[p.relID] = tb
		}
		if len(p.bounds) > 0 && len(p.bounds[0]) != len(tb.keyCols) {
			// The key changed since the plan was made: its ranges mean
			// nothing now, so the whole table is read again.
			t.log.Warn("the key of a table changed during its snapshot; reading the whole table again",
				"table", ct.schema+"."+ct.name)
			out = append(out, &chunk{t: tb, idx: -1, filter: p.filter})
			continue
		}
		if p.order, err = keyOrder(ctx, t.meta, tb); err != nil {
			return nil, err
		}
		for _, c := range p.chunks(tb) {
			id := chunkID(c)
			if finished[id] {
				continue
			}
			if k, ok := from[id]; ok && c.order != nil && len(k) == len(c.order) {
				c.from = k
				c.fromText = escapeKeys(k)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func chunkID(c *chunk) string {
	return strconv.FormatUint(uint64(c.t.relID), 10) + ":" + strconv.Itoa(c.idx)
}

// keyText identifies a row's key by the text of its key columns.
func keyText(t *table, cols []pgoutput.Column) string {
	var b []byte
	for _, ci := range t.keyCols {
		if ci >= len(cols) {
			break
		}
		if cols[ci].Kind == pgoutput.KindNull {
			b = append(b, 0xff)
		}
		b = append(b, cols[ci].Data...)
		b = append(b, 0)
	}
	return string(b)
}

// pumpIncremental starts the next chunk when none is in flight and
// collects a finished read.
func (s *streamer) pumpIncremental(ctx context.Context) error {
	in := s.incr
	if in.cur == nil {
		if len(in.pending) == 0 || in.paused || time.Now().Before(in.retryAt) {
			return nil
		}
		if in.conn == nil {
			c, err := connect(ctx, s.t.cfg)
			if err != nil {
				return err
			}
			in.conn = c
		}
		in.seq++
		in.cur, in.pending = in.pending[0], in.pending[1:]
		in.win.Start(in.session + ":" + strconv.Itoa(in.seq))
		in.ready = nil
		c, id, conn := in.cur, in.win.ID(), in.conn
		s.t.log.Debug("reading snapshot chunk", "chunk", chunkID(c), "watermark_id", id)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			var res chunkResult
			if err := connectors.Protect(func() error { res = readWatermarked(ctx, conn, c, id); return nil }); err != nil {
				res = chunkResult{id: id, err: fmt.Errorf("reading chunk %s: %w", chunkID(c), err)}
			}
			in.results <- res
		}()
		return nil
	}
	if in.ready == nil {
		select {
		case r := <-in.results:
			in.ready = &r
		default:
		}
	}
	if in.ready != nil && in.ready.err != nil {
		return in.ready.err
	}
	return nil
}

// rereadsReported is how many reads in a row of a chunk dropped for a
// transaction not visible yet make the task report the wait as a
// problem (after about 3 s, with rereadDelay).
const rereadsReported = 6

// rereadDelay is how long a chunk waits before its n-th read in a row
// after reads dropped for a transaction not visible yet: 100 ms, then
// twice as long each time, at most 5 s, so that a transaction held for
// long (a synchronous standby away) costs the server one query every
// few seconds.
func rereadDelay(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// readWatermarked reads chunk c between a low and a high watermark.
func readWatermarked(ctx context.Context, conn *pgx.Conn, c *chunk, id string) chunkResult {
	res := chunkResult{id: id}
	emit := func(kind string) error {
		_, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(false, $1, $2)", watermarkPrefix, cdc.WatermarkContent(kind, id))
		if err != nil {
			return fmt.Errorf("writing the %s watermark of chunk %s: %w", kind, chunkID(c), err)
		}
		return nil
	}
	if res.err = emit(cdc.WatermarkLow); res.err != nil {
		return res
	}
	// One REPEATABLE READ transaction: its snapshot, taken by the first
	// query, is the one the chunk is read in (see visibility.go).
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		res.err = fmt.Errorf("reading chunk %s: %w", chunkID(c), err)
		return res
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx) // after Commit: nothing to do
	}()
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&snap); err != nil {
		res.err = fmt.Errorf("reading chunk %s: %w", chunkID(c), err)
		return res
	}
	if res.snap, res.err = parseXidSnapshot(snap); res.err != nil {
		return res
	}
	t := c.t
	sql, params := chunkSQL(c)
	rr := conn.PgConn().ExecParams(ctx, sql, params, nil, nil, nil)
	var cols []pgoutput.Column
	var sl cdc.Slab
	var keys keyBlock
	for rr.NextRow() {
		var pos []byte
		if c.order != nil {
			pos = keys.add(t, rr.Values())
		}
		cols = textColumns(cols, rr.Values())
		after, err := t.rowValue(&sl, cols)
		var key *connectors.StructValue
		if err == nil {
			key, err = t.rowKey(&sl, cols)
		}
		if err != nil {
			rr.Close()
			res.err = fmt.Errorf("snapshot of %s.%s: %w", t.schema, t.name, err)
			return res
		}
		res.rows = append(res.rows, chunkRow{keyText: keyText(t, cols), key: key, after: after, pos: pos})
	}
	if _, err := rr.Close(); err != nil {
		res.err = fmt.Errorf("snapshot of %s.%s: %w", t.schema, t.name, err)
		return res
	}
	if err := tx.Commit(ctx); err != nil {
		res.err = fmt.Errorf("reading chunk %s: %w", chunkID(c), err)
		return res
	}
	res.err = emit(cdc.WatermarkHigh)
	return res
}

// watermark handles a watermark message of the current chunk.
func (s *streamer) watermark(ctx context.Context, lsn uint64, m *pgoutput.LogicalMessage) error {
	in := s.incr
	if in == nil || in.cur == nil || m.Transactional {
		return nil
	}
	kind, id := cdc.ParseWatermark(m.Content)
	if id != in.win.ID() {
		s.t.log.Debug("watermark of an earlier read ignored", "kind", kind, "watermark_id", id, "current", in.win.ID(), "lsn", lsnString(lsn))
		return nil // an earlier session's watermark
	}
	s.t.log.Debug("watermark", "kind", kind, "watermark_id", id, "lsn", lsnString(lsn))
	switch kind {
	case cdc.WatermarkLow:
		in.win.Open()
		in.lowSeq = s.commits.seq
		return nil
	case cdc.WatermarkHigh:
	default:
		return nil
	}
	if in.ready == nil {
		select {
		case r := <-in.results:
			in.ready = &r
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res := in.ready
	if res.err != nil {
		return res.err
	}
	if res.id != in.win.ID() {
		// Never expected: rows of another read would stand for this
		// chunk's. Failing loses nothing; the restart reads it again.
		return fmt.Errorf("snapshot chunk %s: its high watermark %s came with the rows of read %s", chunkID(in.cur), in.win.ID(), res.id)
	}
	c := in.cur
	if xid, ok := s.commits.unseen(&res.snap, in.lowSeq); ok {
		// A transaction the stream delivered before the low watermark
		// was not visible to the chunk's query yet (visibility.go): its
		// rows may be older than the stream. Read the chunk again once
		// the transaction is likely visible; a chunk of a replaced plan
		// is not read again, its table is read anew.
		s.t.log.Info("snapshot chunk read again: a transaction streamed before its low watermark was not visible to its query yet",
			"chunk", chunkID(c), "xid", xid, "stale", in.curStale, "reads", in.rereads+1)
		if !in.curStale {
			in.pending = append([]*chunk{c}, in.pending...)
			in.cur, in.ready = nil, nil
			in.win.Close()
			in.rereads++
			in.retryAt = time.Now().Add(rereadDelay(in.rereads))
			if in.rereads == rereadsReported {
				s.t.report(fmt.Errorf("incremental snapshot waiting: chunk %s was read %d times without seeing transaction %d, which the stream "+
					"delivered before the read: it is committed but not visible yet, most likely waiting for a synchronous standby "+
					"(synchronous_standby_names) that does not answer; streaming goes on, and the snapshot continues once the transaction "+
					"is visible", chunkID(c), in.rereads, xid))
			}
			return nil
		}
		res.rows = nil
	}
	if in.rereads > 0 {
		if in.rereads >= rereadsReported {
			s.t.report(nil)
		}
		in.rereads = 0
	}
	s.commits.prune(&res.snap)
	var rows []chunkRow
	for _, r := range res.rows {
		if !in.win.Changed(r.keyText) {
			rows = append(rows, r)
		}
	}
	// The chunks of a snapshot resumed after a crash are large and few:
	// each gets an info line; a signal's small ones a debug line.
	level := slog.LevelDebug
	if in.resumed {
		level = slog.LevelInfo
	}
	s.t.log.Log(ctx, level, "snapshot chunk finished", "chunk", chunkID(c), "rows_read", len(res.rows), "rows_emitted", len(rows),
		"changed_meanwhile", in.win.ChangedCount(), "stale", in.curStale, "high_watermark", lsnString(lsn))
	prevDone := in.doneStr
	// The rows but the last say the chunk is in progress, up to their
	// own key (Poll adds it: snapPos), so that a restart between them
	// reads only the rest of the chunk.
	before := offset{lsnProc: lsn, lsn: lsn, incremental: true, snapshotPlan: in.plan, snapshotChunks: prevDone, paused: in.paused,
		snapshotKeys: in.keysExcept(c)}
	if !in.curStale {
		in.done = append(in.done, chunkID(c))
		in.doneStr = strings.Join(in.done, ",")
	}
	in.cur, in.ready, in.curStale = nil, nil, false
	in.win.Close()
	in.setKeys()
	last := len(in.pending) == 0
	p := position{snapshot: "incremental", lsn: lsn}
	p.ts = cdc.TimeBoxes(time.Now())
	after := offset{lsnProc: lsn, lsn: lsn, incremental: !last, snapshotPlan: in.plan, snapshotChunks: in.doneStr, paused: in.paused,
		snapshotKeys: in.keys}
	if last {
		after.snapshotPlan, after.snapshotChunks, after.snapshotKeys = "", "", ""
	}
	base := &snapBase{run: &snapRun{}, seq: 1, off: before}
	for i, r := range rows {
		if i == len(rows)-1 {
			if err := s.emit(ctx, s.t.b.change(c.t, cdc.OpRead, r.key, nil, r.after, &p, nil, after.toMap()), &after); err != nil {
				return err
			}
			break
		}
		if err := s.emitAt(ctx, s.t.b.change(c.t, cdc.OpRead, r.key, nil, r.after, &p, nil, nil), &before, snapPos{base: base, c: c, key: r.pos}); err != nil {
			return err
		}
	}
	if last {
		s.t.log.Info("resumed snapshot finished", "chunks", len(in.done))
		if in.conn != nil {
			_ = in.conn.Close(context.Background())
		}
		s.incr = nil
	}
	return nil
}

// noteChange records a key changed inside the current chunk's window.
func (s *streamer) noteChange(t *table, cols []pgoutput.Column) {
	in := s.incr
	if in == nil || !in.win.IsOpen() || in.cur == nil || in.cur.t.relID != t.relID || len(cols) == 0 {
		return
	}
	in.win.Note(keyText(t, cols))
}
