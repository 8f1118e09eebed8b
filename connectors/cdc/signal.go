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
	// its older additional-condition): filters of the rows to snapshot,
	// which no Sluice source supports. A signal with them is refused
	// rather than read as a snapshot of the whole tables.
	Conditions json.RawMessage `json:"additional-conditions"`
	Condition  string          `json:"additional-condition"`
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
		if d.HasConditions() {
			// Reading whole tables instead would be a silent lie.
			log.Warn("ignoring an execute-snapshot signal with additional-conditions: Sluice's sources do not support them; send it without them to snapshot the whole tables", "from", from)
			return nil
		}
		res, err := CompileCollections(d.DataCollections)
		if err != nil {
			log.Warn("ignoring an execute-snapshot signal", "error", err)
			return nil
		}
		return h.ExecuteSnapshot(ctx, res, d.DataCollections)
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
