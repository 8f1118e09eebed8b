package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// takeSnapshot reads every captured table inside one transaction WITH
// CONSISTENT SNAPSHOT and returns the binlog position of that snapshot,
// where streaming starts. It takes no lock: MariaDB gives the position
// of a consistent snapshot (binlog_snapshot_file and _position) without
// one, and BINLOG_GTID_POS turns it into a GTID position.
func (t *Task) takeSnapshot(ctx context.Context) (offset, error) {
	conn, err := t.db.Conn(ctx)
	if err != nil {
		return offset{}, fmt.Errorf("snapshot connection: %w", err)
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return offset{}, fmt.Errorf("snapshot: %s: %w", q, err)
		}
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")
	pos, err := t.snapshotPosition(ctx, conn)
	if err != nil {
		return offset{}, err
	}
	tables, err := t.capturedTables(ctx, conn)
	if err != nil {
		return offset{}, err
	}
	t.log.Info("snapshot started", "tables", len(tables), "file", pos.file, "pos", pos.pos, "gtids", pos.gtids)
	start := time.Now()
	s := &snapshotter{t: t, conn: conn, pos: pos, ts: cdc.TimeBoxes(time.Now()), tables: tables}
	for i := range tables {
		s.cur = i
		handover, err := s.table(ctx, i == len(tables)-1)
		if err != nil {
			return offset{}, err
		}
		if handover != nil {
			// The rest is read in chunks while streaming from the
			// snapshot's position (incremental.go).
			if err := s.flush(ctx, ""); err != nil {
				return offset{}, err
			}
			o := pos
			o.incr = handover.encode()
			if err := t.put(ctx, &connectors.Record{SourcePartition: t.b.Partition, SourceOffset: o.toMap()}); err != nil {
				return offset{}, err
			}
			t.log.Info("snapshot handed over to chunks read while streaming", "rows", s.rows, "tables_left", len(handover.Tables))
			return o, nil
		}
	}
	if err := s.flush(ctx, cdc.SnapLast); err != nil {
		return offset{}, err
	}
	// The marker moves the committed offset out of the snapshot.
	if err := t.put(ctx, &connectors.Record{SourcePartition: t.b.Partition, SourceOffset: pos.toMap()}); err != nil {
		return offset{}, err
	}
	t.log.Info("snapshot done", "tables", len(tables), "rows", s.rows, "seconds", time.Since(start).Seconds())
	return pos, nil
}

// chunkedSnapshot plans the initial snapshot as chunks read while
// streaming (snapshot.max.threads > 1): streaming starts at the server's
// current position, before any chunk's, and the plan lists every
// captured table.
func (t *Task) chunkedSnapshot(ctx context.Context) error {
	if !t.info.mariaDB {
		return fmt.Errorf("snapshots need MariaDB's consistent snapshot position (binlog_snapshot_file); on MySQL set snapshot.mode=no_data for now")
	}
	if err := t.current(ctx); err != nil {
		return err
	}
	tables, err := t.capturedTables(ctx, t.db)
	if err != nil {
		return err
	}
	plan := &snapPlan{Initial: true}
	for _, n := range tables {
		plan.Tables = append(plan.Tables, planTable{DB: n[0], Table: n[1]})
	}
	t.log.Info("snapshot started: chunks read while streaming", "tables", len(tables), "threads", t.cfg.MaxThreads,
		"file", t.resume.file, "pos", t.resume.pos, "gtids", t.resume.gtids)
	if len(plan.Tables) > 0 {
		t.resume.incr = plan.encode()
	}
	return nil
}

// snapshotPosition reads the binlog position of the transaction's
// snapshot, with its GTID position.
func (t *Task) snapshotPosition(ctx context.Context, conn *sql.Conn) (offset, error) {
	o, err := t.snapshotFilePos(ctx, conn)
	if err != nil {
		return o, err
	}
	if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", o.file, o.pos).Scan(&o.gtids); err != nil {
		return o, fmt.Errorf("reading the GTID position of %s:%d: %w", o.file, o.pos, err)
	}
	return o, nil
}

// snapshotFilePos reads the binlog file and position of the
// transaction's snapshot, without the GTID position: MariaDB 10.11's
// BINLOG_GTID_POS reads the binlog file from its start to the position
// (130 ms at 30 MB on this machine), so a chunked snapshot, which needs
// only where its chunks stand in the stream, does not ask for it.
func (t *Task) snapshotFilePos(ctx context.Context, conn *sql.Conn) (offset, error) {
	var o offset
	if !t.info.mariaDB {
		return o, fmt.Errorf("snapshots need MariaDB's consistent snapshot position (binlog_snapshot_file); on MySQL set snapshot.mode=no_data for now")
	}
	rows, err := conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return o, fmt.Errorf("reading the snapshot's binlog position: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return o, err
		}
		switch strings.ToLower(k) {
		case "binlog_snapshot_file":
			o.file = v
		case "binlog_snapshot_position":
			fmt.Sscan(v, &o.pos)
		}
	}
	rows.Close()
	if o.file == "" {
		return o, fmt.Errorf("the server gave no binlog_snapshot_file: is the binary log on?")
	}
	return o, nil
}

// capturedTables lists the captured base tables as {db, table}.
func (t *Task) capturedTables(ctx context.Context, conn querier) ([][2]string, error) {
	rows, err := conn.QueryContext(ctx, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, fmt.Errorf("listing tables: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var db, name string
		if err := rows.Scan(&db, &name); err != nil {
			return nil, err
		}
		if t.cfg.Captures(db, name) {
			out = append(out, [2]string{db, name})
		}
	}
	return out, rows.Err()
}

// snapshotter reads tables, holding back one record so that the last of
// each table and of the snapshot get their source.snapshot markers.
// Every incremental.snapshot.chunk.size rows, and at the end of each
// table, a record carries an offset saying what is left (snapPlan), so
// that a restart reads only that, in chunks while streaming.
type snapshotter struct {
	t       *Task
	conn    *sql.Conn
	pos     offset
	ts      cdc.Times
	tables  [][2]string
	cur     int // index of the table being read
	rows    int64
	pending *connectors.Record
	first   bool // the pending record is the first of its table
	any     bool // a record was emitted
	// lastMDLCheck is when the snapshot last looked for DDL waiting
	// for its metadata locks.
	lastMDLCheck time.Time
}

// flush emits the held record with marker (or its own when marker is "").
func (s *snapshotter) flush(ctx context.Context, marker string) error {
	r := s.pending
	if r == nil {
		return nil
	}
	s.pending = nil
	mark := ""
	switch {
	case marker != "":
		mark = marker
	case !s.any:
		mark = cdc.SnapFirst
	case s.first:
		mark = cdc.SnapFirstInDC
	}
	if mark != "" {
		markSnapshot(r, mark)
	}
	s.any = true
	return s.t.put(ctx, r)
}

// left is the plan of what is left after the rows up to key (nil: none)
// of the current table, or after the whole table when done.
func (s *snapshotter) left(key [][]byte, done bool) *snapPlan {
	p := &snapPlan{Initial: true}
	from := s.cur
	if done {
		from++
	}
	for i := from; i < len(s.tables); i++ {
		p.Tables = append(p.Tables, planTable{DB: s.tables[i][0], Table: s.tables[i][1]})
	}
	if !done && key != nil {
		p.Tables[0].setLast(key)
	}
	return p
}

// checkpoint returns the offset of a record after which plan is left.
func (s *snapshotter) checkpoint(plan *snapPlan) map[string]any {
	o := s.pos
	o.snapshot = true
	o.incr = plan.encode()
	return o.toMap()
}

// ddlWaiting reports, at most once a second, whether a statement waits
// for a metadata lock (an ALTER TABLE of a table this snapshot read): the
// snapshot then hands the rest over to chunks so that its transaction
// ends. It sees other users' statements only with the PROCESS privilege.
func (s *snapshotter) ddlWaiting(ctx context.Context) bool {
	if s.t.cfg.SnapshotMode == SnapshotInitialOnly || time.Since(s.lastMDLCheck) < time.Second {
		return false
	}
	s.lastMDLCheck = time.Now()
	var n int
	err := s.t.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock%'").Scan(&n)
	return err == nil && n > 0
}

// table reads the current table. It returns a plan instead of reading
// on when the snapshot must hand over to chunks read while streaming:
// the table was altered after the snapshot began (ER_TABLE_DEF_CHANGED),
// or DDL waits for the snapshot's metadata locks.
func (s *snapshotter) table(ctx context.Context, last bool) (*snapPlan, error) {
	t := s.t
	db, name := s.tables[s.cur][0], s.tables[s.cur][1]
	if s.ddlWaiting(ctx) {
		t.log.Info("DDL waits for the snapshot's metadata locks; reading the rest in chunks while streaming", "table", db+"."+name)
		return s.left(nil, false), nil
	}
	// A table altered after the snapshot began fails its first read
	// (ER_TABLE_DEF_CHANGED), before any of its rows.
	defChanged := func(err error) bool {
		var me *driver.MySQLError
		if errors.As(err, &me) && me.Number == 1412 && t.cfg.SnapshotMode != SnapshotInitialOnly {
			t.log.Info("a table was altered after the snapshot began; reading the rest in chunks while streaming", "table", db+"."+name)
			return true
		}
		return false
	}
	d, err := t.describe(ctx, s.conn, db, name)
	if defChanged(err) {
		return s.left(nil, false), nil
	}
	if err != nil {
		return nil, err
	}
	if d.nval == 0 {
		return nil, nil
	}
	// The table's schema change event (include.schema.changes), before
	// its rows; the held record is of an earlier table.
	sc, err := t.snapshotSchemaChange(ctx, s.conn, db, name, s.pos)
	if defChanged(err) {
		return s.left(nil, false), nil
	}
	if err != nil {
		return nil, err
	}
	if sc != nil {
		if err := t.put(ctx, sc); err != nil {
			return nil, err
		}
	}
	q, _ := d.query(nil, 0)
	rows, err := s.conn.QueryContext(ctx, q)
	if defChanged(err) {
		return s.left(nil, false), nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
	}
	p := &srcPosition{ts: s.ts, snapshot: cdc.SnapTrue, serverID: int64(0), file: s.pos.file, pos: int64(s.pos.pos)}
	chunk := int64(t.cfg.ChunkSize)
	firstOfTable := true
	var n int64
	var yield *snapPlan
	errYield := errors.New("yield")
	err = t.readRows(ctx, t.b, rows, d, p, func(r *connectors.Record, key [][]byte) error {
		if err := s.flush(ctx, ""); err != nil {
			return err
		}
		s.pending = r
		s.first = firstOfTable
		firstOfTable = false
		s.rows++
		n++
		if d.pk != nil && n%chunk == 0 {
			r.SourceOffset = s.checkpoint(s.left(key, false))
			if s.ddlWaiting(ctx) {
				t.log.Info("DDL waits for the snapshot's metadata locks; reading the rest in chunks while streaming", "table", db+"."+name)
				yield = s.left(key, false)
				return errYield
			}
		}
		return nil
	})
	if yield != nil {
		return yield, nil
	}
	if n == 0 && defChanged(err) {
		return s.left(nil, false), nil
	}
	if err != nil {
		return nil, err
	}
	if s.pending != nil && !firstOfTable {
		s.pending.SourceOffset = s.checkpoint(s.left(nil, true))
		if !last {
			return nil, s.flush(ctx, cdc.SnapLastInDC)
		}
	}
	return nil, nil
}

// markSnapshot sets the snapshot marker of r's source block, on a copy:
// the rows read together share one block (readRows).
func markSnapshot(r *connectors.Record, mark string) {
	if lz, ok := r.Value.(*lazyEnvelope); ok {
		src := lz.src.src
		if src.Values[cdc.SrcSnapshot] == mark {
			return
		}
		cp := &connectors.StructValue{Schema: src.Schema, Values: slices.Clone(src.Values)}
		cp.Values[cdc.SrcSnapshot] = mark
		// A new lazySource, not a copy: its encoding may be kept by the
		// codec for the pointer.
		lz.src = newLazySource(lz.p.d.tb.env, cp, lz.src.ts)
		return
	}
	env, ok := r.Value.(*connectors.StructValue)
	if !ok {
		return
	}
	src, ok := env.Values[cdc.EnvSource].(*connectors.StructValue)
	if !ok || src.Values[cdc.SrcSnapshot] == mark {
		return
	}
	cp := &connectors.StructValue{Schema: src.Schema, Values: slices.Clone(src.Values)}
	cp.Values[cdc.SrcSnapshot] = mark
	env.Values[cdc.EnvSource] = cp
}
