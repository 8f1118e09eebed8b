package postgres

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// quarantine sets the table relID (named schema.name, with the columns
// named cols) aside after err at lsn (sluice.table.failure.mode=quarantine).
func (s *streamer) quarantine(relID uint32, schema, name string, cols []string, lsn uint64, err error) {
	s.quarantined.Add(s.t.log, relID, schema+"."+name, lsnString(lsn), err)
	if s.quarCols == nil {
		s.quarCols = map[uint32][]string{}
	}
	s.quarCols[relID] = cols
}

// setAside emits a change of a quarantined table (the one that failed
// and every later one until the task restarts) as a failed record
// (connectors.Record.Failure): the runtime writes it to the connector's
// dead letter queue when errors.deadletterqueue.topic.name is set, and
// counts it otherwise. Its value holds what the change carried, each
// column as PostgreSQL's text for it (the value that could not be
// converted included), so that the row can be repaired and replayed by
// hand: table, lsn, txId, op, and before and after as column → text
// (nil for NULL, unavailable.value.placeholder for unchanged TOAST
// data). Its offset is the change's, so the task resumes after it.
func (s *streamer) setAside(ctx context.Context, lsn uint64, relID uint32, m pgoutput.Message) error {
	q := s.quarantined.Get(relID)
	if q == nil {
		return nil
	}
	names := s.quarCols[relID]
	v := map[string]any{"table": q.Table, "lsn": lsnString(lsn), "txId": int64(s.txXid)}
	switch m := m.(type) {
	case *pgoutput.Insert:
		v["op"], v["after"] = cdc.OpCreate, rawRow(names, m.New.Columns, s.t.cfg.Placeholder)
	case *pgoutput.Update:
		v["op"], v["after"] = cdc.OpUpdate, rawRow(names, m.New.Columns, s.t.cfg.Placeholder)
		if m.OldKind != 0 {
			v["before"] = rawRow(names, m.Old.Columns, s.t.cfg.Placeholder)
		}
	case *pgoutput.Delete:
		v["op"], v["before"] = cdc.OpDelete, rawRow(names, m.Old.Columns, s.t.cfg.Placeholder)
	default:
		return nil
	}
	o := s.offset(lsn, false)
	r := &connectors.Record{Topic: s.t.cfg.TopicPrefix + "." + q.Table, Value: v, Timestamp: s.txTime,
		SourcePartition: s.t.b.Partition, SourceOffset: s.offsetMap(&o),
		Failure: fmt.Errorf("table %s quarantined since LSN %s (sluice.table.failure.mode=quarantine): %s", q.Table, q.Since, q.Reason)}
	return s.emitChange(ctx, r, &o)
}

// rawRow maps column names to a tuple's values as the server sent them.
// The tuple's bytes alias the message: they are copied.
func rawRow(names []string, cols []pgoutput.Column, placeholder string) map[string]any {
	row := make(map[string]any, len(cols))
	for i, c := range cols {
		name := fmt.Sprintf("column%d", i+1)
		if i < len(names) {
			name = names[i]
		}
		switch c.Kind {
		case 'n':
			row[name] = nil
		case 'u':
			row[name] = placeholder
		case 'b':
			row[name] = append([]byte(nil), c.Data...)
		default:
			row[name] = string(c.Data)
		}
	}
	return row
}

// colNames returns the names of cols.
func colNames(cols []colDesc) []string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return names
}
