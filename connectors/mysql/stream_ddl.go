package mysql

import (
	"context"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// statement handles a query event other than BEGIN, COMMIT and ROLLBACK:
// a DDL statement, or a statement inside a transaction (SAVEPOINT,
// CREATE TABLE ... SELECT). It queues the schema change events
// (include.schema.changes) and truncate events (skipped.operations
// without t) of the captured tables the statement changes.
//
// A standalone statement is a transaction of its own: its records carry,
// on the last, the position after it, so a restart neither sends them
// again nor loses them. One inside a transaction carries none (the rows
// after it do); a task resumed after rows events of that transaction
// skips it, as it sent its records before those rows.
func (s *streamer) statement(ctx context.Context, h *replication.EventHeader, e *replication.QueryEvent, q string) error {
	st := recognizeDDL(q, string(e.Schema))
	// Forget the shapes of tables gone, so that the cache stays as large
	// as the captured tables.
	for i, t := range st.tables {
		if st.kind == ddlDropTable || (st.kind == ddlRenameTable && i%2 == 0) {
			delete(s.t.lastTables, t.db+"."+t.name)
		}
	}
	at := time.Unix(int64(h.Timestamp), 0)
	p := &srcPosition{ts: cdc.TimeBoxes(at), at: at, serverID: int64(h.ServerID), file: s.file,
		pos: int64(h.LogPos - h.EventSize), thread: int64(e.SlaveProxyID)}
	if s.txGTID != "" {
		p.gtid = s.txGTID
	}
	if s.inTx && !s.txStandalone {
		if s.skipping && (s.skipEvents > 0 || s.skipRows > 0) {
			return nil
		}
		recs, err := s.ddlRecords(ctx, st, q, p)
		if err != nil {
			return err
		}
		for _, r := range recs {
			s.txEmitted = true
			if err := s.t.put(ctx, r); err != nil {
				return err
			}
		}
		return nil
	}
	wasTx := s.inTx
	if wasTx {
		if err := s.endTx(h); err != nil {
			return err
		}
	} else {
		s.dirty = true
		s.lastBetween = s.between(h)
	}
	recs, err := s.ddlRecords(ctx, st, q, p)
	if err != nil {
		return err
	}
	if len(recs) > 0 && h.LogPos != 0 {
		recs[len(recs)-1].SourceOffset = s.lastBetween.toMap()
	}
	for _, r := range recs {
		s.txEmitted = true
		if err := s.t.put(ctx, r); err != nil {
			return err
		}
	}
	if len(recs) > 0 && h.LogPos != 0 {
		s.last, s.dirty, s.lastMarker = s.lastBetween, false, time.Now()
	}
	if wasTx {
		return s.afterTx(ctx, h)
	}
	return nil
}

// ddlRecords returns the records of statement st (q as logged) at p.
func (s *streamer) ddlRecords(ctx context.Context, st ddlStatement, q string, p *srcPosition) ([]*connectors.Record, error) {
	cfg := s.cfg
	switch st.kind {
	case ddlNone:
		return nil, nil
	case ddlTruncate:
		t := st.tables[0]
		if cfg.SkipTruncate || !cfg.Captures(t.db, t.name) {
			return nil, nil
		}
		tb, err := s.truncatedTable(ctx, t)
		if err != nil {
			return nil, err
		}
		return []*connectors.Record{s.b.Change(tb.topic, tb.env, tb.keyS, cdc.OpTruncate, nil, nil, nil, sourceValue(s.b, tb, p), nil, nil)}, nil
	}
	if !cfg.IncludeSchemaChanges {
		return nil, nil
	}
	sc := s.t.schemaChanges
	if st.kind == ddlDatabase {
		if !cfg.capturesDB(st.db) {
			return nil, nil
		}
		return sc.records([]string{st.db}, nil, q, p), nil
	}
	var dbs []string
	changes := map[string][]any{}
	add := func(typ string, t tableRef) error {
		full := t.db + "." + t.name
		var desc *connectors.StructValue
		if typ == changeDrop {
			desc = sc.known[full]
			delete(sc.known, full)
		} else {
			var err error
			if desc, err = s.describe(ctx, t); err != nil {
				return err
			}
		}
		if desc == nil {
			desc = emptyTableDesc()
		}
		if _, ok := changes[t.db]; !ok {
			dbs = append(dbs, t.db)
		}
		changes[t.db] = append(changes[t.db], tableChange(typ, t, desc))
		return nil
	}
	switch st.kind {
	case ddlRenameTable:
		for i := 0; i+1 < len(st.tables); i += 2 {
			from, to := st.tables[i], st.tables[i+1]
			oldIn, newIn := cfg.Captures(from.db, from.name), cfg.Captures(to.db, to.name)
			delete(sc.known, from.db+"."+from.name)
			var err error
			switch {
			case newIn && oldIn:
				err = add(changeAlter, to)
			case newIn:
				err = add(changeCreate, to)
			case oldIn:
				err = add(changeDrop, from)
			}
			if err != nil {
				return nil, err
			}
		}
	default:
		typ := map[ddlKind]string{ddlCreateTable: changeCreate, ddlAlterTable: changeAlter, ddlDropTable: changeDrop}[st.kind]
		for _, t := range st.tables {
			if !cfg.Captures(t.db, t.name) {
				continue
			}
			if err := add(typ, t); err != nil {
				return nil, err
			}
		}
	}
	if len(dbs) == 0 {
		return nil, nil
	}
	return sc.records(dbs, changes, q, p), nil
}

// describe reads table t from information_schema, now (after the DDL,
// perhaps after later ones too), and remembers it for its DROP.
func (s *streamer) describe(ctx context.Context, t tableRef) (*connectors.StructValue, error) {
	var special map[string]string
	if s.t.info.mariaDB {
		var err error
		if special, err = jsonColumns(ctx, s.t.db, t.db, t.name); err != nil {
			return nil, err
		}
	}
	desc, err := describeTable(ctx, s.t.db, t.db, t.name, special)
	if err != nil {
		return nil, err
	}
	if desc != nil {
		s.t.schemaChanges.known[t.db+"."+t.name] = desc
	}
	return desc, nil
}

// truncatedTable returns the table whose envelope a truncate event of t
// takes: its columns as information_schema has them now, or, when that
// fails (dropped since, a type not supported), as its last table map
// had them.
func (s *streamer) truncatedTable(ctx context.Context, t tableRef) (*table, error) {
	full := t.db + "." + t.name
	var special map[string]string
	var err error
	if s.t.info.mariaDB {
		if special, err = jsonColumns(ctx, s.t.db, t.db, t.name); err != nil {
			return nil, err
		}
	}
	cols, key, err := columnsFromCatalog(ctx, s.t.db, t.db, t.name, special)
	if err == nil {
		key, err = keyOf(s.cfg, t.db, t.name, cols, key)
	}
	if err == nil {
		return newTable(s.cfg, s.b.Source, t.db, t.name, cols, key), nil
	}
	if tb := s.t.lastTables[full]; tb != nil {
		return tb, nil
	}
	s.t.log.Warn("truncate of a table whose columns are unknown: its truncate event has an empty value schema", "table", full, "error", err)
	return newTable(s.cfg, s.b.Source, t.db, t.name, nil, nil), nil
}

// capturesDB reports whether database db passes the database filters.
func (c *Config) capturesDB(db string) bool {
	if db == "" || systemDBs[strings.ToLower(db)] {
		return false
	}
	if len(c.DBInclude) > 0 && !anyMatch(c.DBInclude, db) {
		return false
	}
	return !anyMatch(c.DBExclude, db)
}
