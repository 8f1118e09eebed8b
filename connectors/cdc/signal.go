package cdc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// Signals, as Debezium's: a row inserted into the signal table
// (signal.data.collection) or a record on the signal topic, with a type
// and JSON data {"data-collections": ["<regex of a table>", ...]}.
// "execute-snapshot" snapshots the matching captured tables while
// streaming (incremental, watermarked chunks: watermark.go);
// "stop-snapshot" drops the chunks not yet read (of the listed tables, or
// of all); "pause-snapshot" stops reading further chunks (the chunk being
// read finishes; streaming goes on) until "resume-snapshot".
const (
	SignalExecuteSnapshot = "execute-snapshot"
	SignalStopSnapshot    = "stop-snapshot"
	SignalPauseSnapshot   = "pause-snapshot"
	SignalResumeSnapshot  = "resume-snapshot"
)

// SignalData is the JSON data of a signal.
type SignalData struct {
	DataCollections []string `json:"data-collections"`
	Type            string   `json:"type"`
	// Conditions and Condition are Debezium's additional-conditions (and
	// its older additional-condition, one filter for every table): SQL
	// filters of the rows to snapshot. A source that cannot apply them
	// (not a FilteredSnapshotter) refuses the signal rather than reading
	// the whole tables.
	Conditions json.RawMessage `json:"additional-conditions"`
	Condition  string          `json:"additional-condition"`
}

// SnapshotCondition is one of an execute-snapshot signal's
// additional-conditions: the rows of the tables matching DataCollection
// (a pattern, as in data-collections) that Filter (an SQL boolean
// expression over the table's columns, as Debezium takes it) is true for.
type SnapshotCondition struct {
	DataCollection string `json:"data-collection"`
	Filter         string `json:"filter"`
	re             *regexp.Regexp
}

// Matches reports whether the condition applies to table, "schema.table"
// (or "database.table").
func (c *SnapshotCondition) Matches(table string) bool { return c.re == nil || c.re.MatchString(table) }

// FilterFor returns the filter of the first condition that applies to
// table, or "" for the whole table.
func FilterFor(conds []SnapshotCondition, table string) string {
	for i := range conds {
		if conds[i].Matches(table) {
			return conds[i].Filter
		}
	}
	return ""
}

// FilteredSnapshotter is a SignalHandler that takes additional-conditions.
type FilteredSnapshotter interface {
	// ExecuteFilteredSnapshot is ExecuteSnapshot reading only the rows
	// of each table that its condition (FilterFor) lets through. It may
	// refuse a filter the database does not take, with an error of
	// ErrBadFilter, which HandleSignal logs as the signal's rejection.
	ExecuteFilteredSnapshot(ctx context.Context, collections []*regexp.Regexp, patterns []string, conds []SnapshotCondition) error
}

// ErrBadFilter is a filter of additional-conditions the database refused.
var ErrBadFilter = errors.New("the database refused the filter of additional-conditions")

// conditions returns d's additional-conditions, compiled.
func (d *SignalData) conditions() ([]SnapshotCondition, error) {
	var out []SnapshotCondition
	if c := strings.TrimSpace(string(d.Conditions)); c != "" && c != "null" {
		if err := json.Unmarshal(d.Conditions, &out); err != nil {
			return nil, fmt.Errorf(`additional-conditions is not a list of {"data-collection": ..., "filter": ...}: %w`, err)
		}
	}
	for i := range out {
		if strings.TrimSpace(out[i].Filter) == "" {
			return nil, fmt.Errorf("additional-conditions for %q has no filter", out[i].DataCollection)
		}
		if out[i].DataCollection == "" {
			return nil, errors.New("additional-conditions has a filter without its data-collection")
		}
		re, err := regexp.Compile("^(?:" + out[i].DataCollection + ")$")
		if err != nil {
			return nil, fmt.Errorf("additional-conditions data-collection %q: %w", out[i].DataCollection, err)
		}
		out[i].re = re
	}
	if d.Condition != "" {
		out = append(out, SnapshotCondition{Filter: d.Condition})
	}
	return out, nil
}

// HasConditions reports whether d asks for additional-conditions.
func (d *SignalData) HasConditions() bool {
	c := strings.TrimSpace(string(d.Conditions))
	return (c != "" && c != "null" && c != "[]") || d.Condition != ""
}

// SignalHandler carries out the snapshot signals of a source. Its methods
// run on the goroutine that calls HandleSignal.
type SignalHandler interface {
	// ExecuteSnapshot queues chunks of the captured tables matching
	// collections (compiled from patterns) behind those pending.
	ExecuteSnapshot(ctx context.Context, collections []*regexp.Regexp, patterns []string) error
	// StopSnapshot drops the pending chunks of the matching tables (all
	// when collections is empty).
	StopSnapshot(collections []*regexp.Regexp)
	// SetSnapshotPaused pauses or resumes reading chunks; it returns the
	// chunks left and false when there is nothing to pause (no
	// incremental snapshot) or to resume (none paused).
	SetSnapshotPaused(paused bool) (chunksLeft int, ok bool)
}

// HandleSignal acts on a signal of any channel: kind is its type, data
// its JSON data (may be empty), from says where it came from for the
// log. A signal that cannot be understood is logged and ignored; only
// the handler's errors are returned.
func HandleSignal(ctx context.Context, h SignalHandler, log *slog.Logger, kind string, data []byte, from string) error {
	var d SignalData
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			log.Warn("ignoring a signal whose data is not JSON", "type", kind, "error", err, "from", from)
			return nil
		}
	}
	switch kind {
	case SignalExecuteSnapshot:
		if d.Type != "" && !strings.EqualFold(d.Type, "incremental") {
			log.Warn("ignoring an execute-snapshot signal: only incremental snapshots are supported", "type", d.Type, "from", from)
			return nil
		}
		res, err := CompileCollections(d.DataCollections)
		if err != nil {
			log.Warn("ignoring an execute-snapshot signal", "error", err)
			return nil
		}
		if !d.HasConditions() {
			return h.ExecuteSnapshot(ctx, res, d.DataCollections)
		}
		fh, ok := h.(FilteredSnapshotter)
		if !ok {
			// Reading whole tables instead would be a silent lie.
			log.Warn("ignoring an execute-snapshot signal with additional-conditions: this source does not support them; send it without them to snapshot the whole tables", "from", from)
			return nil
		}
		conds, err := d.conditions()
		if err != nil {
			log.Warn("ignoring an execute-snapshot signal", "error", err, "from", from)
			return nil
		}
		if err := fh.ExecuteFilteredSnapshot(ctx, res, d.DataCollections, conds); errors.Is(err, ErrBadFilter) {
			log.Warn("ignoring an execute-snapshot signal", "error", err, "from", from)
			return nil
		} else if err != nil {
			return err
		}
	case SignalStopSnapshot:
		res, err := CompileCollections(d.DataCollections)
		if err != nil {
			log.Warn("ignoring a stop-snapshot signal", "error", err)
			return nil
		}
		h.StopSnapshot(res)
	case SignalPauseSnapshot:
		left, ok := h.SetSnapshotPaused(true)
		if !ok {
			log.Info("ignoring a pause-snapshot signal: no incremental snapshot is running", "from", from)
			return nil
		}
		log.Info("incremental snapshot paused: no further chunk is read until resume-snapshot", "chunks_left", left, "from", from)
	case SignalResumeSnapshot:
		left, ok := h.SetSnapshotPaused(false)
		if !ok {
			log.Info("ignoring a resume-snapshot signal: no incremental snapshot is paused", "from", from)
			return nil
		}
		log.Info("incremental snapshot resumed", "chunks_left", left, "from", from)
	default:
		log.Info("ignoring an unsupported signal", "type", kind, "from", from)
	}
	return nil
}

// CompileCollections compiles data-collections patterns, each anchored
// at both ends, as Debezium matches them against "schema.table" (or
// "database.table").
func CompileCollections(patterns []string) ([]*regexp.Regexp, error) {
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

// errSignalValue says a signal record's value is not a signal.
var errSignalValue = errors.New(`the value is not {"type": ..., "data": {...}}`)

// ParseSignalRecord reads the value of a record on the signal topic,
// {"type": ..., "data": {...}}, as Debezium's Kafka signal channel
// writes it; data may also be given as a JSON string, as in the signal
// table.
func ParseSignalRecord(value []byte) (kind string, data []byte, err error) {
	var v struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return "", nil, fmt.Errorf("%w: %w", errSignalValue, err)
	}
	if v.Type == "" {
		return "", nil, errSignalValue
	}
	data = []byte(v.Data)
	var text string
	if json.Unmarshal(v.Data, &text) == nil {
		data = []byte(text)
	}
	return v.Type, data, nil
}
