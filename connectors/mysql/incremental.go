package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	driver "github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Chunked snapshots while streaming: the rest of an initial snapshot
// that a restart (or a table altered under it) interrupted, and the
// snapshots signals ask for (execute-snapshot).
//
// Each chunk is read in its own transaction WITH CONSISTENT SNAPSHOT,
// whose exact binlog position L MariaDB gives (binlog_snapshot_file and
// _position): the rows read are the table as of L. The chunk is read
// only when the stream has handled every event before L and nothing
// after it (the transaction is opened first, then the stream catches up
// to L while it waits), and its rows are queued right there: in the
// output, the chunk stands exactly where its state was in the binlog,
// so every change after it is queued after it. This is DBLog's watermark
// method with both watermarks at the same exact point: nothing is
// written to the database and no row needs to be dropped. See DESIGN.md.

// incremental is the chunked snapshot in progress. It is used by the
// task's goroutine only (the streamer's hooks and the signal handler);
// with snapshot.max.threads > 1, reader goroutines read chunks ahead into
// their openChunk, handed back by closing its done channel.
type incremental struct {
	plan    snapPlan
	enc     string // plan encoded; "" when there is nothing left
	threads int
	// inflight are the chunks whose snapshots are open, in the order
	// they were opened (so of growing positions), each of another table.
	inflight []*openChunk
	// chunks and rows count what was read, for the log.
	chunks, rows int64
	// backoff delays the next chunk after a table changed under one,
	// or while the stream is far behind; farSince is when the stream was
	// first seen far behind, without a chunk opened since.
	backoff, farSince time.Time
	// schemaSent holds the tables (db.table) of an initial snapshot
	// whose schema change event was queued.
	schemaSent map[string]bool
}

// openChunk is a chunk whose consistent snapshot is open.
type openChunk struct {
	conn *sql.Conn
	pos  offset // the snapshot's binlog file and position (no GTIDs: snapshotFilePos)
	db   string
	name string
	from []string // the plan's Last of the table when opened
	// With snapshot.max.threads > 1 a reader goroutine reads the chunk
	// ahead into res and closes done; cancel stops it.
	cancel context.CancelFunc
	done   chan struct{}
	res    chunkResult
}

// chunkResult is what a chunk read gave.
type chunkResult struct {
	rows  []*connectors.Record // read ahead (buffered)
	n     int
	last  [][]byte // the key of the last row when the chunk was full
	done  bool     // the table is finished
	gone  bool     // the table is gone or no longer captured
	whole bool     // read ahead declined: the table is read whole, at the position
	err   error
}

// close stops the chunk's reader and ends its transaction.
func (oc *openChunk) close() {
	if oc.cancel != nil {
		oc.cancel()
		<-oc.done
	}
	_, _ = oc.conn.ExecContext(context.Background(), "ROLLBACK")
	oc.conn.Close()
}

// newIncremental starts the chunked snapshot of plan, reading ahead on
// threads connections when threads > 1.
func newIncremental(plan *snapPlan, threads int) *incremental {
	in := &incremental{plan: *plan, threads: max(threads, 1)}
	in.update()
	return in
}

// update re-encodes the plan after a change.
func (in *incremental) update() {
	in.enc = ""
	if len(in.plan.Tables) > 0 {
		in.enc = in.plan.encode()
	}
}

// close ends the open chunks' transactions and waits for their readers.
func (in *incremental) close() {
	for _, oc := range in.inflight {
		oc.close()
	}
	in.inflight = nil
}

// find returns the index of db.name in the plan, or -1.
func (in *incremental) find(db, name string) int {
	for i, pt := range in.plan.Tables {
		if pt.DB == db && pt.Table == name {
			return i
		}
	}
	return -1
}

// binlogAt is a position in the binlog: file and the end of the last
// event handled there.
type binlogAt struct {
	file string
	pos  uint32
}

// reached reports whether a is at or after the position of o.
func (a binlogAt) reached(o offset) bool {
	if a.file == "" {
		return false
	}
	if c := compareFiles(a.file, o.file); c != 0 {
		return c > 0
	}
	return a.pos >= o.pos
}

// catchUpBytes is how far behind a chunk's position the stream may be
// when its snapshot is opened.
const catchUpBytes = 64 << 20

// maxCatchUpWait is how long chunks wait for a stream far behind before
// one is opened anyway.
const maxCatchUpWait = 30 * time.Second

// farBehind reports whether the stream at a is more than catchUpBytes
// (or a binlog file) behind o.
func farBehind(a binlogAt, o offset) bool {
	if compareFiles(a.file, o.file) < 0 {
		return true
	}
	return a.file == o.file && o.pos > a.pos && o.pos-a.pos > catchUpBytes
}

// compareFiles orders binlog file names: the same base name with a
// growing numeric extension (mariadb-bin.000009 < mariadb-bin.000010).
func compareFiles(a, b string) int {
	if a == b {
		return 0
	}
	ab, an, _ := cutExt(a)
	bb, bn, _ := cutExt(b)
	if ab == bb {
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

func cutExt(f string) (string, uint64, bool) {
	i := strings.LastIndexByte(f, '.')
	if i < 0 {
		return f, 0, false
	}
	n, err := strconv.ParseUint(f[i+1:], 10, 64)
	return f[:i], n, err == nil
}

// pumpIncremental opens chunks' snapshots while fewer than
// snapshot.max.threads are open, and queues the first one's rows as soon
// as the stream is between transactions at its position — in a loop, so
// that an idle database is snapshotted without waiting for binlog
// events. It runs between binlog events.
func (t *Task) pumpIncremental(ctx context.Context, s *streamer) error {
	for {
		in := t.incr
		if in == nil {
			return nil
		}
		if err := t.fillInflight(ctx, s); err != nil {
			return err
		}
		if len(in.inflight) == 0 || s.inTx || !s.at.reached(in.inflight[0].pos) {
			return nil
		}
		if err := t.emitFirst(ctx, s); err != nil {
			return err
		}
	}
}

// fillInflight opens snapshots for the next tables of the plan not in
// flight, up to snapshot.max.threads, and starts their readers when
// reading ahead.
func (t *Task) fillInflight(ctx context.Context, s *streamer) error {
	in := t.incr
	for len(in.inflight) < in.threads && !in.plan.Paused && !time.Now().Before(in.backoff) {
		var pt *planTable
		for i := range in.plan.Tables {
			c := &in.plan.Tables[i]
			busy := false
			for _, oc := range in.inflight {
				busy = busy || (oc.db == c.DB && oc.name == c.Table)
			}
			if !busy {
				pt = c
				break
			}
		}
		if pt == nil {
			return nil
		}
		oc, err := t.openChunk(ctx, pt)
		if err != nil {
			return err
		}
		if s.at.file != "" && farBehind(s.at, oc.pos) {
			// The stream is catching up from far back: holding the
			// snapshot open that long would keep the server from
			// purging old row versions. Try again once it is closer —
			// unless it has not come closer for a while (writes as
			// fast as it reads): then the chunk waits, open.
			if in.farSince.IsZero() {
				in.farSince = time.Now()
			}
			if time.Since(in.farSince) < maxCatchUpWait {
				oc.close()
				in.backoff = time.Now().Add(time.Second)
				return nil
			}
			t.log.Warn("the stream stays far behind the binlog's end: a snapshot chunk waits for it with its transaction open", "table", oc.db+"."+oc.name,
				"stream_file", s.at.file, "stream_pos", s.at.pos, "chunk_file", oc.pos.file, "chunk_pos", oc.pos.pos)
		}
		in.farSince = time.Time{}
		in.inflight = append(in.inflight, oc)
		if in.threads > 1 {
			rctx, cancel := context.WithCancel(ctx)
			oc.cancel, oc.done = cancel, make(chan struct{})
			b, p := newBuilder(t.cfg), *pt
			go func() {
				defer close(oc.done)
				if err := connectors.Protect(func() error {
					oc.res = t.readChunkRows(rctx, b, oc, p, true, nil)
					return nil
				}); err != nil {
					oc.res = chunkResult{err: err}
				}
			}()
		}
	}
	return nil
}

// openChunk begins the consistent snapshot of the next chunk of pt.
func (t *Task) openChunk(ctx context.Context, pt *planTable) (*openChunk, error) {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot chunk connection: %w", err)
	}
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("snapshot chunk of %s.%s: %s: %w", pt.DB, pt.Table, q, err)
		}
	}
	// Only file and pos: a chunk is placed in the stream by them.
	pos, err := t.snapshotFilePos(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &openChunk{conn: conn, pos: pos, db: pt.DB, name: pt.Table, from: pt.Last}, nil
}

// readIfReached queues the first open chunk when the stream is between
// transactions at its snapshot's position.
func (t *Task) readIfReached(ctx context.Context, s *streamer) error {
	in := t.incr
	if in == nil || len(in.inflight) == 0 || s.inTx || !s.at.reached(in.inflight[0].pos) {
		return nil
	}
	return t.pumpIncremental(ctx, s)
}

// emitFirst queues the rows of the first open chunk (read ahead, or
// read now) at the stream's position and advances the plan past them.
func (t *Task) emitFirst(ctx context.Context, s *streamer) error {
	in := t.incr
	oc := in.inflight[0]
	in.inflight = in.inflight[1:]
	defer oc.close()
	i := in.find(oc.db, oc.name)
	if i < 0 || !slices.Equal(in.plan.Tables[i].Last, oc.from) {
		return nil // stopped, or started again by a signal, while open
	}
	pt := &in.plan.Tables[i]
	var held *connectors.Record
	var res chunkResult
	if oc.done != nil {
		<-oc.done
		res = oc.res
	}
	if in.plan.Initial && !pt.Signal && oc.from == nil && res.err == nil && !res.gone && !in.schemaSent[oc.db+"."+oc.name] {
		// The first chunk of a table of the initial snapshot: the
		// table's schema change event (include.schema.changes) first,
		// once even when the chunk is read again.
		sc, err := t.snapshotSchemaChange(ctx, oc.conn, oc.db, oc.name, oc.pos)
		if err != nil {
			return err
		}
		if sc != nil {
			if err := t.put(ctx, sc); err != nil {
				return err
			}
			if in.schemaSent == nil {
				in.schemaSent = map[string]bool{}
			}
			in.schemaSent[oc.db+"."+oc.name] = true
		}
	}
	if oc.done == nil || res.whole {
		res = t.readChunkRows(ctx, t.b, oc, *pt, false, func(r *connectors.Record) error {
			if held != nil {
				if err := t.put(ctx, held); err != nil {
					return err
				}
			}
			held = r
			return nil
		})
	} else if res.err == nil && len(res.rows) > 0 {
		for _, r := range res.rows[:len(res.rows)-1] {
			if err := t.put(ctx, r); err != nil {
				return err
			}
		}
		held = res.rows[len(res.rows)-1]
	}
	var me *driver.MySQLError
	if errors.As(res.err, &me) && (me.Number == 1412 || me.Number == 1146) {
		// ER_TABLE_DEF_CHANGED: altered after the chunk's snapshot
		// began; read it again in a new one. ER_NO_SUCH_TABLE: dropped;
		// the next chunk drops it from the plan.
		t.log.Info("a table changed under its snapshot chunk; reading the chunk again", "table", oc.db+"."+oc.name, "error", res.err)
		in.backoff = time.Now().Add(100 * time.Millisecond)
		return nil
	}
	if res.err != nil {
		return res.err
	}
	in.chunks++
	in.rows += int64(res.n)
	if res.gone {
		t.log.Info("a table of the snapshot is gone or no longer captured; skipping it", "table", oc.db+"."+oc.name)
	}
	if res.done || res.gone {
		in.plan.Tables = slices.Delete(in.plan.Tables, i, i+1)
	} else {
		pt.setLast(res.last)
	}
	return t.finishChunk(ctx, s, held)
}

// readChunkRows reads the next chunk of pt in oc's snapshot, handing each
// row to emit, or keeping them in the result when buffered (then a table
// that cannot be chunked is not read: whole).
func (t *Task) readChunkRows(ctx context.Context, b *cdc.Builder, oc *openChunk, pt planTable, buffered bool, emit func(*connectors.Record) error) chunkResult {
	var res chunkResult
	full := pt.DB + "." + pt.Table
	exists, err := tableExists(ctx, oc.conn, pt.DB, pt.Table)
	if err != nil {
		res.err = err
		return res
	}
	if !exists || !t.cfg.Captures(pt.DB, pt.Table) {
		res.gone = true
		return res
	}
	d, err := t.describe(ctx, oc.conn, pt.DB, pt.Table)
	if err != nil {
		res.err = err
		return res
	}
	if buffered && d.pk == nil {
		res.whole = true
		return res
	}
	last := pt.lastKey()
	if last != nil && len(last) != len(d.pk) {
		// The key changed since the last chunk: its position means
		// nothing now; read the table from the start.
		t.log.Warn("the primary key of a table changed during its snapshot; reading it again from the start", "table", full)
		last = nil
	}
	limit := t.cfg.ChunkSize
	q, args := d.query(last, limit)
	rows, err := oc.conn.QueryContext(ctx, q, args...)
	if err != nil {
		res.err = fmt.Errorf("snapshot chunk of %s: %w", full, err)
		return res
	}
	mark := cdc.SnapTrue
	if pt.Signal {
		mark = cdc.SnapIncremental
	}
	p := &srcPosition{ts: cdc.TimeBoxes(time.Now()), snapshot: mark, serverID: int64(0), file: oc.pos.file, pos: int64(oc.pos.pos)}
	res.err = t.readRows(ctx, b, rows, d, p, func(r *connectors.Record, key [][]byte) error {
		res.n++
		if res.n == limit && d.pk != nil {
			res.last = make([][]byte, len(key))
			for i := range key {
				res.last[i] = append([]byte(nil), key[i]...)
			}
		}
		if buffered {
			res.rows = append(res.rows, r)
			return nil
		}
		return emit(r)
	})
	res.done = d.pk == nil || res.n < limit
	return res
}

// finishChunk queues the chunk's last record (or a marker) with the
// offset of the stream's position and the plan advanced past the chunk.
func (t *Task) finishChunk(ctx context.Context, s *streamer, last *connectors.Record) error {
	in := t.incr
	in.update()
	o := offset{file: s.at.file, pos: s.at.pos}
	if s.gtids != nil {
		o.gtids = s.gtids.String()
	}
	s.last, s.dirty, s.lastMarker = o, false, time.Now()
	if last == nil {
		last = &connectors.Record{SourcePartition: t.b.Partition}
	}
	last.SourceOffset = o.toMap()
	if len(in.plan.Tables) == 0 {
		if in.plan.Initial && last.Value != nil {
			// The last record of an initial snapshot says so, as the
			// consistent one's does.
			markSnapshot(last, cdc.SnapLast)
		}
		t.log.Info("chunked snapshot finished", "chunks", in.chunks, "rows", in.rows, "initial", in.plan.Initial)
		in.close()
		t.incr = nil
	}
	return t.put(ctx, last)
}

// tableExists reports whether db.name is a base table.
func tableExists(ctx context.Context, q querier, db, name string) (bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'", db, name)
	if err != nil {
		return false, fmt.Errorf("looking up %s.%s: %w", db, name, err)
	}
	defer rows.Close()
	return rows.Next(), rows.Err()
}

// restart forgets the open chunk when the stream reconnects: its
// connection may be as dead as the stream's. Nil-safe.
func (in *incremental) restart() {
	if in != nil {
		in.close()
	}
}

// afterEvent moves the stream's position past the event just handled
// and reads the open chunk if the stream reached its position.
func (t *Task) afterEvent(ctx context.Context, s *streamer, ev *replication.BinlogEvent) error {
	if r, ok := ev.Event.(*replication.RotateEvent); ok {
		// The next events are in the new file, from its position.
		if !s.inTx {
			s.at = binlogAt{file: string(r.NextLogName), pos: uint32(r.Position)}
		}
	} else if !s.inTx && ev.Header.LogPos > 0 {
		s.at = binlogAt{file: s.file, pos: ev.Header.LogPos}
	}
	return t.readIfReached(ctx, s)
}
