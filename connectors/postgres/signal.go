package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// Ad-hoc snapshots through the signal table (signal.data.collection), as
// Debezium's: a row inserted with type "execute-snapshot" and data
// {"data-collections": ["<regex of schema.table>", ...]} snapshots the
// matching captured tables while streaming, with the same watermarked
// chunks that finish an interrupted initial snapshot; "stop-snapshot"
// drops the chunks not yet read (of the listed tables, or of all);
// "pause-snapshot" stops reading further chunks (the chunk being read
// finishes; streaming goes on) until "resume-snapshot". The pause is
// kept in the source offset, so a restarted task stays paused.
// The same signals come from a Kafka topic (signal_kafka.go).
// Watermarks are logical decoding messages, so Sluice never writes to the
// signal table.

// isSignalTable reports whether schema.name is signal.data.collection.
func (c *Config) isSignalTable(schema, name string) bool {
	return c.SignalTable != "" && c.SignalTable == schema+"."+name
}

// signal handles a row inserted into the signal table: columns id, type,
// data, in that order, as Debezium's signal table has them. It is ignored
// unless signal.enabled.channels lists source.
func (s *streamer) signal(ctx context.Context, lsn uint64, cols []pgoutput.Column) error {
	if len(cols) < 3 || cols[1].Kind != pgoutput.KindText || !s.t.cfg.SignalSource {
		return nil
	}
	var data []byte
	if cols[2].Kind == pgoutput.KindText {
		data = cols[2].Data
	}
	return s.handleSignal(ctx, string(cols[1].Data), data, "source at LSN "+lsnString(lsn))
}

// handleSignal acts on a signal of any channel: kind is its type, data
// its JSON data (may be empty), from says where it came from for the log.
func (s *streamer) handleSignal(ctx context.Context, kind string, data []byte, from string) error {
	return cdc.HandleSignal(ctx, s, s.t.log, kind, data, from)
}

// SetSnapshotPaused pauses or resumes the incremental snapshot
// (cdc.SignalHandler). The pause is kept in the source offset.
func (s *streamer) SetSnapshotPaused(paused bool) (int, bool) {
	if s.incr == nil || (!paused && !s.incr.paused) {
		return 0, false
	}
	s.incr.paused = paused
	return len(s.incr.pending), true
}

// ExecuteSnapshot plans chunks for the captured tables matching res
// (compiled from patterns) and queues them behind any chunks already
// pending (cdc.SignalHandler).
func (s *streamer) ExecuteSnapshot(ctx context.Context, res []*regexp.Regexp, patterns []string) error {
	return s.ExecuteFilteredSnapshot(ctx, res, patterns, nil)
}

// ExecuteFilteredSnapshot is ExecuteSnapshot reading, of each table, the
// rows its additional-conditions filter lets through
// (cdc.FilteredSnapshotter). A filter PostgreSQL refuses (EXPLAIN of a
// query with it fails) refuses the whole signal.
func (s *streamer) ExecuteFilteredSnapshot(ctx context.Context, res []*regexp.Regexp, patterns []string, conds []cdc.SnapshotCondition) error {
	list, err := listTables(ctx, s.t.meta, s.t.cfg)
	if err != nil {
		return retryIfConn(err)
	}
	var plans []tablePlan
	var chunks []*chunk
	for _, ct := range list {
		if !anyMatch(res, ct.schema+"."+ct.name) {
			continue
		}
		tb := s.tables[ct.relID]
		if tb == nil {
			cols, err := readColumns(ctx, s.t.meta, ct.relID)
			if err != nil {
				return retryIfConn(err)
			}
			if tb, err = buildTable(s.t.cfg, s.t.cat, ct.relID, ct.schema, ct.name, cols, s.t.b.Source); err != nil {
				return err
			}
			s.tables[ct.relID] = tb
		}
		filter := cdc.FilterFor(conds, ct.schema+"."+ct.name)
		if filter != "" {
			if err := checkFilter(ctx, s.t.meta, tb, filter); err != nil {
				return err
			}
		}
		p, err := planTable(ctx, s.t.meta, tb, ct.estRows, s.t.cfg.SnapshotChunkRows)
		if err != nil {
			return retryIfConn(err)
		}
		p.filter = filter
		plans = append(plans, p)
		chunks = append(chunks, p.chunks(tb)...)
	}
	if len(plans) == 0 {
		s.t.log.Warn("execute-snapshot signal matches no captured table", "data-collections", patterns)
		return nil
	}
	if s.incr == nil {
		s.incr = &incremental{session: strconv.FormatInt(time.Now().UnixNano(), 36),
			results: make(chan chunkResult, 1)}
	}
	in := s.incr
	// A table snapshotted again forgets its earlier plan and chunks.
	for _, p := range plans {
		in.dropTable(p.relID)
	}
	old, _ := parsePlans(in.plan)
	in.plan = joinPlans(append(old, plans...))
	in.pending = append(in.pending, chunks...)
	s.t.log.Info("incremental snapshot requested", "tables", len(plans), "chunks", len(chunks), "filtered", len(conds) > 0)
	return nil
}

// checkFilter asks PostgreSQL to plan a read of table t with filter, so
// that a filter it refuses (bad syntax, an unknown column, not a boolean)
// refuses the signal instead of failing the task at its first chunk.
// The filter is SQL run as the connector's user, as Debezium runs it: who
// may send signals may read what that user may read.
func checkFilter(ctx context.Context, conn *pgx.Conn, t *table, filter string) error {
	_, err := conn.Exec(ctx, "EXPLAIN SELECT 1 FROM "+quoteTable(t.schema, t.name)+" WHERE ("+filter+")")
	var pe *pgconn.PgError
	if err == nil || !errors.As(err, &pe) {
		return retryIfConn(err)
	}
	return fmt.Errorf("%w: %s.%s WHERE (%s): %v", cdc.ErrBadFilter, t.schema, t.name, filter, err)
}

// dropTable forgets a table's plan entry, finished and pending chunks.
func (in *incremental) dropTable(relID uint32) {
	prefix := strconv.FormatUint(uint64(relID), 10) + ":"
	plans, _ := parsePlans(in.plan)
	plans = slices.DeleteFunc(plans, func(p tablePlan) bool { return p.relID == relID })
	in.plan = joinPlans(plans)
	in.done = slices.DeleteFunc(in.done, func(d string) bool { return strings.HasPrefix(d, prefix) })
	in.doneStr = strings.Join(in.done, ",")
	in.pending = slices.DeleteFunc(in.pending, func(c *chunk) bool { return c.t.relID == relID })
	if in.cur != nil && in.cur.t.relID == relID {
		in.curStale = true // its rows still go out, but it is not a chunk of the new plan
	}
	in.setKeys()
}

// StopSnapshot drops pending chunks of the tables matching res (all
// when res is empty). A chunk being read finishes (cdc.SignalHandler).
func (s *streamer) StopSnapshot(res []*regexp.Regexp) {
	in := s.incr
	if in == nil {
		return
	}
	var ids []uint32
	for _, c := range in.pending {
		if len(res) == 0 || anyMatch(res, c.t.schema+"."+c.t.name) {
			ids = append(ids, c.t.relID)
		}
	}
	for _, id := range ids {
		in.dropTable(id)
	}
	// A chunk waiting to be read again may be gone: its count starts
	// afresh, and the wait it reported is over.
	if in.rereads >= rereadsReported {
		s.t.report(nil)
	}
	in.rereads = 0
	s.t.log.Info("incremental snapshot stopped", "tables", len(slices.Compact(ids)))
}
