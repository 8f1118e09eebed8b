package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

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

// signalData is the JSON in a signal row's data column.
type signalData struct {
	DataCollections []string `json:"data-collections"`
	Type            string   `json:"type"`
}

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
	var d signalData
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			s.t.log.Warn("ignoring a signal whose data is not JSON", "type", kind, "error", err, "from", from)
			return nil
		}
	}
	switch kind {
	case "execute-snapshot":
		if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
			s.t.log.Warn("ignoring an execute-snapshot signal: only incremental snapshots are supported", "type", d.Type, "from", from)
			return nil
		}
		return s.executeSnapshot(ctx, d.DataCollections)
	case "stop-snapshot":
		s.stopSnapshot(d.DataCollections)
	case "pause-snapshot":
		if s.incr == nil {
			s.t.log.Info("ignoring a pause-snapshot signal: no incremental snapshot is running", "from", from)
			return nil
		}
		s.incr.paused = true
		s.t.log.Info("incremental snapshot paused: no further chunk is read until resume-snapshot", "chunks_left", len(s.incr.pending), "from", from)
	case "resume-snapshot":
		if s.incr == nil || !s.incr.paused {
			s.t.log.Info("ignoring a resume-snapshot signal: no incremental snapshot is paused", "from", from)
			return nil
		}
		s.incr.paused = false
		s.t.log.Info("incremental snapshot resumed", "chunks_left", len(s.incr.pending), "from", from)
	default:
		s.t.log.Info("ignoring an unsupported signal", "type", kind, "from", from)
	}
	return nil
}

func matchAll(patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("data-collections %q: %w", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// executeSnapshot plans chunks for the captured tables matching patterns
// and queues them behind any chunks already pending.
func (s *streamer) executeSnapshot(ctx context.Context, patterns []string) error {
	res, err := matchAll(patterns)
	if err != nil {
		s.t.log.Warn("ignoring an execute-snapshot signal", "error", err)
		return nil
	}
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
		p, err := planTable(ctx, s.t.meta, tb, ct.estRows, s.t.cfg.SnapshotChunkRows)
		if err != nil {
			return retryIfConn(err)
		}
		plans = append(plans, p)
		chunks = append(chunks, p.chunks(tb)...)
	}
	if len(plans) == 0 {
		s.t.log.Warn("execute-snapshot signal matches no captured table", "data-collections", patterns)
		return nil
	}
	if s.incr == nil {
		s.incr = &incremental{session: strconv.FormatInt(time.Now().UnixNano(), 36), seen: map[string]struct{}{},
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
	s.t.log.Info("incremental snapshot requested", "tables", len(plans), "chunks", len(chunks))
	return nil
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

// stopSnapshot drops pending chunks of the matching tables (all when no
// pattern is given). A chunk being read finishes.
func (s *streamer) stopSnapshot(patterns []string) {
	in := s.incr
	if in == nil {
		return
	}
	res, err := matchAll(patterns)
	if err != nil {
		s.t.log.Warn("ignoring a stop-snapshot signal", "error", err)
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
	s.t.log.Info("incremental snapshot stopped", "tables", len(slices.Compact(ids)))
}
