package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
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
// task's goroutine only (the streamer's hooks and the signal handler).
type incremental struct {
	plan snapPlan
	enc  string // plan encoded; "" when there is nothing left
	// open is the chunk whose snapshot is open, waiting for the stream
	// to reach its position.
	open *openChunk
	// chunks and rows count what was read, for the log.
	chunks, rows int64
	// backoff delays the next chunk after a table changed under one.
	backoff time.Time
}

type openChunk struct {
	conn *sql.Conn
	pos  offset // the snapshot's binlog position
	db   string
	name string
}

// newIncremental starts the chunked snapshot of plan.
func newIncremental(plan *snapPlan) *incremental {
	in := &incremental{plan: *plan}
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

// close ends the open chunk's transaction.
func (in *incremental) close() {
	if in.open != nil {
		_, _ = in.open.conn.ExecContext(context.Background(), "ROLLBACK")
		in.open.conn.Close()
		in.open = nil
	}
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

// pumpIncremental opens the next chunk's snapshot when none is open,
// and reads chunks as long as the stream is already at their position
// (nothing was written since): an idle database is snapshotted without
// waiting for binlog events. It runs between binlog events.
func (t *Task) pumpIncremental(ctx context.Context, s *streamer) error {
	for {
		in := t.incr
		if in == nil {
			return nil
		}
		if in.open == nil {
			if len(in.plan.Tables) == 0 || in.plan.Paused || time.Now().Before(in.backoff) {
				return nil
			}
			if err := t.openChunk(ctx); err != nil {
				return err
			}
			if s.at.file != "" && farBehind(s.at, in.open.pos) {
				// The stream is catching up from far back: holding the
				// snapshot open that long would keep the server from
				// purging old row versions. Try again once it is closer.
				in.close()
				in.backoff = time.Now().Add(time.Second)
				return nil
			}
		}
		if s.inTx || !s.at.reached(in.open.pos) {
			return nil
		}
		if err := t.readIfReached(ctx, s); err != nil {
			return err
		}
	}
}

// openChunk begins the consistent snapshot of the next chunk.
func (t *Task) openChunk(ctx context.Context) error {
	in := t.incr
	pt := in.plan.Tables[0]
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("snapshot chunk connection: %w", err)
	}
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			conn.Close()
			return fmt.Errorf("snapshot chunk of %s.%s: %s: %w", pt.DB, pt.Table, q, err)
		}
	}
	pos, err := t.snapshotPosition(ctx, conn)
	if err != nil {
		conn.Close()
		return err
	}
	in.open = &openChunk{conn: conn, pos: pos, db: pt.DB, name: pt.Table}
	return nil
}

// readIfReached reads the open chunk when the stream is between
// transactions at its snapshot's position.
func (t *Task) readIfReached(ctx context.Context, s *streamer) error {
	in := t.incr
	if in == nil || in.open == nil || s.inTx || !s.at.reached(in.open.pos) {
		return nil
	}
	oc := in.open
	defer in.close()
	if len(in.plan.Tables) == 0 || in.plan.Tables[0].DB != oc.db || in.plan.Tables[0].Table != oc.name {
		return nil // stopped, or replaced by a signal, while open
	}
	err := t.readChunk(ctx, s, oc)
	var me *driver.MySQLError
	if errors.As(err, &me) && (me.Number == 1412 || me.Number == 1146) {
		// ER_TABLE_DEF_CHANGED: altered after the chunk's snapshot
		// began; read it again in a new one. ER_NO_SUCH_TABLE: dropped;
		// the next chunk drops it from the plan.
		t.log.Info("a table changed under its snapshot chunk; reading the chunk again", "table", oc.db+"."+oc.name, "error", err)
		in.backoff = time.Now().Add(100 * time.Millisecond)
		return nil
	}
	return err
}

// readChunk reads the next chunk of the plan's first table in oc's
// snapshot and queues it at the stream's position.
func (t *Task) readChunk(ctx context.Context, s *streamer, oc *openChunk) error {
	in := t.incr
	pt := &in.plan.Tables[0]
	full := pt.DB + "." + pt.Table
	exists, err := tableExists(ctx, oc.conn, pt.DB, pt.Table)
	if err != nil {
		return err
	}
	if !exists || !t.cfg.Captures(pt.DB, pt.Table) {
		t.log.Info("a table of the snapshot is gone or no longer captured; skipping it", "table", full)
		return t.finishChunk(ctx, s, nil, true)
	}
	d, err := t.describe(ctx, oc.conn, pt.DB, pt.Table)
	if err != nil {
		return err
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
		return fmt.Errorf("snapshot chunk of %s: %w", full, err)
	}
	mark := cdc.SnapTrue
	if pt.Signal {
		mark = cdc.SnapIncremental
	}
	p := &srcPosition{ts: cdc.TimeBoxes(time.Now()), snapshot: mark, serverID: int64(0), file: oc.pos.file, pos: int64(oc.pos.pos)}
	var held *connectors.Record
	var n int
	var lastKey [][]byte
	err = t.readRows(ctx, rows, d, p, func(r *connectors.Record, key [][]byte) error {
		if held != nil {
			if err := t.put(ctx, held); err != nil {
				return err
			}
		}
		held = r
		n++
		if n == limit && d.pk != nil {
			lastKey = make([][]byte, len(key))
			for i := range key {
				lastKey[i] = append([]byte(nil), key[i]...)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	in.chunks++
	in.rows += int64(n)
	done := d.pk == nil || n < limit
	if !done {
		pt.setLast(lastKey)
	}
	return t.finishChunk(ctx, s, held, done)
}

// finishChunk records the chunk's progress in the plan and queues its
// last record (or a marker) with the offset that says so.
func (t *Task) finishChunk(ctx context.Context, s *streamer, last *connectors.Record, tableDone bool) error {
	in := t.incr
	if tableDone {
		in.plan.Tables = in.plan.Tables[1:]
	}
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
		level := slog.LevelInfo
		t.log.Log(ctx, level, "chunked snapshot finished", "chunks", in.chunks, "rows", in.rows, "initial", in.plan.Initial)
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
