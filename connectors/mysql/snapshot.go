package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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
	s := &snapshotter{t: t, conn: conn, pos: pos, ts: cdc.TimeBoxes(time.Now())}
	for i, name := range tables {
		if err := s.table(ctx, name[0], name[1], i == len(tables)-1); err != nil {
			return offset{}, err
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

// snapshotPosition reads the binlog position of the transaction's
// snapshot.
func (t *Task) snapshotPosition(ctx context.Context, conn *sql.Conn) (offset, error) {
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
	if err := conn.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", o.file, o.pos).Scan(&o.gtids); err != nil {
		return o, fmt.Errorf("reading the GTID position of %s:%d: %w", o.file, o.pos, err)
	}
	return o, nil
}

// capturedTables lists the captured base tables as {db, table}.
func (t *Task) capturedTables(ctx context.Context, conn *sql.Conn) ([][2]string, error) {
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
type snapshotter struct {
	t       *Task
	conn    *sql.Conn
	pos     offset
	ts      cdc.Times
	rows    int64
	pending *connectors.Record
	first   bool // the pending record is the first of its table
	any     bool // a record was emitted
}

// flush emits the held record with marker (or its own when marker is "").
func (s *snapshotter) flush(ctx context.Context, marker string) error {
	r := s.pending
	if r == nil {
		return nil
	}
	s.pending = nil
	src := r.Value.(*connectors.StructValue).Values[cdc.EnvSource].(*connectors.StructValue)
	switch {
	case marker != "":
		src.Values[cdc.SrcSnapshot] = marker
	case !s.any:
		src.Values[cdc.SrcSnapshot] = cdc.SnapFirst
	case s.first:
		src.Values[cdc.SrcSnapshot] = cdc.SnapFirstInDC
	}
	s.any = true
	return s.t.put(ctx, r)
}

func (s *snapshotter) table(ctx context.Context, db, name string, last bool) error {
	t := s.t
	json, err := jsonColumns(ctx, t.db, db, name)
	if err != nil {
		return err
	}
	cols, key, err := columnsFromCatalog(ctx, s.conn, db, name, json)
	if err != nil {
		return fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
	}
	if key, err = keyOf(t.cfg, db, name, cols, key); err != nil {
		return err
	}
	tb := newTable(t.cfg, t.b.Source, db, name, cols, key)
	sel := make([]string, 0, len(cols))
	for i := range cols {
		if !tb.include[i] {
			continue
		}
		q := quoteIdent(cols[i].name)
		if cols[i].kind == kFloat {
			q = "CAST(" + q + " AS DOUBLE)"
		}
		sel = append(sel, q)
	}
	if len(sel) == 0 {
		return nil
	}
	rows, err := s.conn.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+quoteIdent(db)+"."+quoteIdent(name))
	if err != nil {
		return fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(sel))
	ptrs := make([]any, len(sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	p := &srcPosition{ts: s.ts, snapshot: cdc.SnapTrue, serverID: int64(0), file: s.pos.file, pos: int64(s.pos.pos)}
	firstOfTable := true
	nkey := 0
	if tb.keyS != nil {
		nkey = len(tb.keyS.Fields)
	}
	rs, rv := t.b.RowReserve(len(tb.value.Fields), nkey)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
		}
		// All of the row's structs from the same slab arrays (cdc.Slab).
		t.b.Slab.Reserve(rs, rv)
		after := t.b.Slab.NewStruct(tb.value)
		var key *connectors.StructValue
		if tb.keyS != nil {
			key = t.b.Slab.NewStruct(tb.keyS)
		}
		for i := range cols {
			if !tb.include[i] {
				continue
			}
			c := &cols[i]
			v, err := c.fromText(raw[tb.pos[i]], t.cfg.Modes)
			if err != nil {
				return fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
			}
			after.Values[tb.pos[i]] = v
		}
		if key != nil {
			for j, k := range tb.key {
				if !tb.include[k] {
					return fmt.Errorf("snapshot of %s.%s: key column %s is excluded by column.exclude.list", db, name, cols[k].name)
				}
				key.Values[j] = after.Values[tb.pos[k]]
			}
		}
		if err := s.flush(ctx, ""); err != nil {
			return err
		}
		src := sourceValue(t.b, tb, p)
		s.pending = t.b.Change(tb.topic, tb.env, tb.keyS, cdc.OpRead, key, nil, after, src, nil, nil)
		s.first = firstOfTable
		firstOfTable = false
		s.rows++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("snapshot of %s.%s: %w", db, name, err)
	}
	if !last && s.pending != nil && !firstOfTable {
		return s.flush(ctx, cdc.SnapLastInDC)
	}
	return nil
}
