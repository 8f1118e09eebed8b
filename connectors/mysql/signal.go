package mysql

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Signals through the signal table (signal.data.collection), as
// Debezium's: a row inserted with type "execute-snapshot" and data
// {"data-collections": ["<regex of database.table>", ...]} snapshots the
// matching captured tables in chunks while streaming (incremental.go);
// "stop-snapshot" drops the tables not finished (those listed, or all);
// "pause-snapshot" stops reading further chunks (the one being read
// finishes; streaming goes on) until "resume-snapshot". The signal is
// read from the binlog, at its place in the stream; its effect goes into
// the next offset, so a restart before that offset is committed reads
// the signal again. Sluice never writes to the signal table.

// noteSignalTable remembers the table id of the signal table's maps.
func (s *streamer) noteSignalTable(id uint64, db, name string) {
	if s.cfg.isSignalTable(db, name) {
		s.sigID, s.hasSig = id, true
	} else if s.hasSig && s.sigID == id {
		s.hasSig = false
	}
}

// signalRows handles the rows inserted into the signal table by e, from
// row skip on (the earlier ones were handled before a restart): columns
// id, type, data, as Debezium's signal table has them. They are ignored
// unless signal.enabled.channels lists source.
func (s *streamer) signalRows(ctx context.Context, e *replication.RowsEvent, skip int64) error {
	if !s.cfg.SignalSource || e.Type() != replication.EnumRowsEventTypeInsert {
		return nil
	}
	for r := skip; r < int64(len(e.Rows)); r++ {
		row := e.Rows[r]
		if len(row) < 3 {
			s.t.log.Warn("ignoring a row of the signal table: it needs the columns id, type and data", "table", s.cfg.SignalDB+"."+s.cfg.SignalTable)
			continue
		}
		kind, ok := text(row[1])
		if !ok {
			continue
		}
		data, _ := text(row[2])
		id, _ := text(row[0])
		from := fmt.Sprintf("signal table row %q at %s:%d", id, s.file, s.txPos)
		if err := cdc.HandleSignal(ctx, &signals{t: s.t}, s.t.log, kind, []byte(data), from); err != nil {
			return err
		}
	}
	return nil
}

// text is a string or bytes column of a binlog row image.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

// signals carries out snapshot signals on the task's chunked snapshot
// (cdc.SignalHandler). It runs on the task's goroutine.
type signals struct{ t *Task }

// ExecuteSnapshot queues the captured tables matching res behind those
// left; a table already in the plan starts again.
func (h *signals) ExecuteSnapshot(ctx context.Context, res []*regexp.Regexp, patterns []string) error {
	t := h.t
	if !t.info.mariaDB {
		t.log.Warn("ignoring an execute-snapshot signal: chunked snapshots need MariaDB's consistent snapshot position", "data-collections", patterns)
		return nil
	}
	list, err := t.capturedTables(ctx, t.db)
	if err != nil {
		return err
	}
	var add []planTable
	for _, n := range list {
		if anyMatch(res, n[0]+"."+n[1]) {
			add = append(add, planTable{DB: n[0], Table: n[1], Signal: true})
		}
	}
	if len(add) == 0 {
		t.log.Warn("execute-snapshot signal matches no captured table", "data-collections", patterns)
		return nil
	}
	if t.incr == nil {
		t.incr = newIncremental(&snapPlan{}, t.cfg.MaxThreads)
	}
	in := t.incr
	in.plan.Tables = slices.DeleteFunc(in.plan.Tables, func(p planTable) bool {
		return slices.ContainsFunc(add, func(a planTable) bool { return a.DB == p.DB && a.Table == p.Table })
	})
	in.plan.Tables = append(in.plan.Tables, add...)
	in.update()
	t.log.Info("incremental snapshot requested", "tables", len(add), "data-collections", patterns)
	return nil
}

// StopSnapshot drops the tables matching res (all when res is empty)
// from the plan. A chunk open for one of them is discarded.
func (h *signals) StopSnapshot(res []*regexp.Regexp) {
	t := h.t
	in := t.incr
	if in == nil {
		return
	}
	n := len(in.plan.Tables)
	in.plan.Tables = slices.DeleteFunc(in.plan.Tables, func(p planTable) bool {
		return len(res) == 0 || anyMatch(res, p.DB+"."+p.Table)
	})
	t.log.Info("incremental snapshot stopped", "tables", n-len(in.plan.Tables), "tables_left", len(in.plan.Tables))
	in.update()
	if len(in.plan.Tables) == 0 {
		in.close()
		t.incr = nil
	}
}

// SetSnapshotPaused pauses or resumes reading chunks; the pause is kept
// in the offset.
func (h *signals) SetSnapshotPaused(paused bool) (int, bool) {
	in := h.t.incr
	if in == nil || (!paused && !in.plan.Paused) {
		return 0, false
	}
	in.plan.Paused = paused
	in.update()
	return len(in.plan.Tables), true
}
