package jdbc

import (
	"bytes"
	"slices"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
)

// maxTraces bounds the trace ids a log line names.
const maxTraces = 8

// traceSet collects the W3C trace ids (traceparent headers, see
// connectors/tracectx) of the records in the buffered batch, so that the
// sink's log lines and errors about a batch name the source transactions
// it holds: the first maxTraces distinct ones, and whether there were
// more. Records of one transaction share their traceparent, so a batch
// usually names few.
type traceSet struct {
	ids    []string
	more   bool
	last   []byte // the last traceparent seen, not parsed again
	lastID string // its trace id
}

// idOf returns the trace id of a record's traceparent header ("" when it
// has none). Records of one transaction share their traceparent: its id
// is parsed once, and the same string returned for each.
func (s *traceSet) idOf(hs []connectors.Header) string {
	for _, h := range hs {
		if h.Key != tracectx.Header {
			continue
		}
		if s.last == nil || !bytes.Equal(h.Value, s.last) {
			// A copy: the record's bytes may be reused once Put returns.
			s.last = append(s.last[:0], h.Value...)
			s.lastID, _ = tracectx.TraceID(h.Value)
		}
		return s.lastID
	}
	return ""
}

// add adds a trace id ("" adds nothing) to the batch's.
func (s *traceSet) add(id string) {
	if id == "" || slices.Contains(s.ids, id) {
		return
	}
	if len(s.ids) == maxTraces {
		s.more = true
		return
	}
	s.ids = append(s.ids, id)
}

// note adds the trace of a record's headers.
func (s *traceSet) note(hs []connectors.Header) { s.add(s.idOf(hs)) }

// attrs returns the log attributes naming the traces, none when no record
// had one.
func (s *traceSet) attrs() []any {
	switch {
	case len(s.ids) == 0:
		return nil
	case s.more:
		return []any{"trace_ids", s.ids, "more_traces", true}
	}
	return []any{"trace_ids", s.ids}
}

// String names the traces for an error message ("" when none).
func (s *traceSet) String() string {
	if len(s.ids) == 0 {
		return ""
	}
	var b bytes.Buffer
	b.WriteString(" (traces ")
	for i, id := range s.ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	if s.more {
		b.WriteString(", …")
	}
	b.WriteString(")")
	return b.String()
}

func (s *traceSet) reset() {
	s.ids, s.more, s.last, s.lastID = s.ids[:0], false, s.last[:0], ""
}
