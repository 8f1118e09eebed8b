package postgres

import (
	"context"
	"fmt"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// Transaction metadata events (provide.transaction.metadata=true):
// cdc.Builder.Transaction makes them; here is when.

func (s *streamer) txID() string { return fmt.Sprintf("%d:%d", s.txXid, s.txFinal) }

func (s *streamer) txRecord(status string, o *offset, om map[string]any) *connectors.Record {
	var tables []cdc.TxCount
	if status == cdc.TxEnd {
		tables = make([]cdc.TxCount, 0, len(s.txTables))
		for _, t := range s.txTables {
			tables = append(tables, cdc.TxCount{Collection: t.schema + "." + t.name, Count: s.txPerTable[t.relID]})
		}
	}
	return s.t.b.Transaction(status, s.txID(), s.txTime, s.txCount, tables, om)
}

// txBegin emits the BEGIN event before the transaction's first event.
func (s *streamer) txBegin(ctx context.Context, lsn uint64) error {
	if !s.t.cfg.ProvideTxMetadata || s.txBegun {
		return nil
	}
	s.txBegun = true
	o := s.offset(lsn, true)
	return s.emitChange(ctx, s.txRecord(cdc.TxBegin, &o, s.offsetMap(&o)), &o)
}

// txEnd emits the END event at the commit of a transaction that had
// events.
func (s *streamer) txEnd(ctx context.Context, lsn uint64) error {
	if !s.txBegun {
		return nil
	}
	s.txBegun = false
	// END counts as one more change, so that its own offset says it
	// was delivered and a resume at the last change still sends it.
	if s.nextEvent() {
		return nil
	}
	o := s.offset(lsn, false)
	return s.emitChange(ctx, s.txRecord(cdc.TxEnd, &o, s.offsetMap(&o)), &o)
}
