package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/cdc/kafkasignal"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
	"github.com/sluice-cdc/sluice/connectors/tracectx"
)

// readSlice bounds how long the reader blocks, so cancellation and status
// updates are never late by more than this.
const readSlice = 500 * time.Millisecond

// streamer decodes the replication stream into records. It runs on the
// task's goroutine.
type streamer struct {
	t      *Task
	dec    pgoutput.Decoder
	tables map[uint32]*table // nil entry: relation not captured

	// resume state: transactions committed before resumeLSN were
	// delivered; in the one committing at skipCommit, changes up to
	// skipEvent were, and the first skipPart records of the next one.
	resumeLSN  uint64
	skipCommit uint64
	skipEvent  int64
	skipPart   int64

	// current transaction
	inTx    bool
	txFinal uint64
	txXid   uint32
	txTime  time.Time
	// Values of the current transaction boxed once for all its events.
	txPos      position
	txOffLSNC  any
	txOffTxID  any
	txOffTs    any
	txOffProc  any
	txEvent    int64 // index of the current change message
	txSkip     int64 // changes up to this index are skipped
	txSkipPart int64 // and this many records of the change after it
	txPart     int64 // records of the current change given an offset so far, but its last
	partSkip   int64 // records of the current change still to drop (emitChange)
	// txTrace is the current transaction's traceparent (tracectx), made
	// at its first event; shared by its records (never modified).
	txTrace    []byte
	txCount    int64
	txPerTable map[uint32]int64
	txTables   []*table // tables with events in the transaction, in first-event order
	txBegun    bool     // the BEGIN metadata event was emitted
	prevCommit uint64

	slab        cdc.Slab                 // value and key structs of the rows
	streams     map[uint32]*streamBuffer // in-progress transactions streamed by the server
	curStream   *streamBuffer            // the open stream block's transaction
	signalRel   uint32                   // relation ID of signal.data.collection, once seen
	streamMem   int                      // bytes buffered in memory over all streams
	quarantined cdc.Quarantine[uint32]
	quarCols    map[uint32][]string // column names of the quarantined tables
	incr        *incremental        // nil when no snapshot chunks are left
	commits     *commitLog          // transactions decoded, for the chunk reads (visibility.go)
	wg          sync.WaitGroup      // chunk readers

	start offset // where this streamer started
	last  offset // offset of the last record queued; zero when none
	sent  bool

	// Kafka signals handled but not yet in an emitted offset, and those
	// whose offset marker is emitted but maybe not committed.
	sigHandled, sigMarked []kafkasignal.Signal

	xmin   any       // the slot's catalog_xmin as last read (xmin.fetch.interval.ms)
	xminAt time.Time // when it was read

	walEnd        uint64    // latest server WAL position seen
	lastHeartbeat uint64    // WAL position of the last heartbeat or offset marker
	heartbeatAt   time.Time // last heartbeat record
	markedAt      time.Time // last heartbeat or offset marker
}

func newStreamer(t *Task, tables map[uint32]*table, start offset) *streamer {
	s := &streamer{t: t, tables: tables, resumeLSN: max(start.lsnProc, start.lsnCommit),
		commits: newCommitLog(t.serverVersion >= 140000)}
	s.prevCommit = s.resumeLSN
	if start.lsnCommit != 0 {
		s.skipCommit, s.skipEvent, s.skipPart = start.lsnCommit, start.event, start.part
	}
	s.lastHeartbeat = s.resumeLSN
	s.start = start
	return s
}

// emit queues a record and remembers its offset, so that a reconnect
// resumes right after it.
func (s *streamer) emit(ctx context.Context, r *connectors.Record, o *offset) error {
	if err := s.t.emit(ctx, r, o); err != nil {
		return err
	}
	s.last, s.sent = *o, true
	return nil
}

// emitAt is emit for a snapshot row whose offset Poll builds (snapPos).
func (s *streamer) emitAt(ctx context.Context, r *connectors.Record, o *offset, pos snapPos) error {
	if err := s.t.emitAt(ctx, r, o, pos); err != nil {
		return err
	}
	s.last, s.sent = *o, true
	return nil
}

// resumed returns a streamer that continues after the last queued record
// on a new replication connection, keeping the table cache and the
// snapshot chunks still to read.
func (s *streamer) resumed() *streamer {
	start := s.start
	if s.sent {
		start = s.last
	}
	n := newStreamer(s.t, s.tables, start)
	n.sigHandled, n.sigMarked = s.sigHandled, s.sigMarked
	// A transaction decoded before the cut is not decoded again, yet a
	// chunk read after it may still not see it.
	n.commits = s.commits
	if in := s.incr; in != nil {
		if in.cur != nil {
			in.pending = append([]*chunk{in.cur}, in.pending...)
		}
		in.cur, in.ready = nil, nil
		in.win.Close()
		in.results = make(chan chunkResult, 1)
		n.incr = in
	}
	return n
}

// retryIfConn marks an error of a database call retriable unless the
// server answered it (a PgError): a lost connection is worth a reconnect,
// a refused statement is not.
func retryIfConn(err error) error {
	var pe *pgconn.PgError
	if err == nil || errors.As(err, &pe) || errors.Is(err, context.Canceled) {
		return err
	}
	return connectors.Retry(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *streamer) run(ctx context.Context) error {
	t := s.t
	repl := t.repl
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		s.wg.Wait()
		s.closeStreams()
		s.quarantined.Report(t.log)
		if s.incr != nil && s.incr.conn != nil {
			// The chunk connection ends with this run: a resumed
			// streamer keeps s.incr and must open its own.
			_ = s.incr.conn.Close(context.Background())
			s.incr.conn = nil
		}
	}()
	// The first start point is durable (a committed offset, the slot's
	// confirmed position or the consistent point it was created at), so
	// confirming it changes nothing; it keeps flush from being 0, which
	// the status update would replace by the write position. After a
	// reconnect the start point is the last queued record, which need not
	// be committed: flush stays where Commit put it.
	t.flush.CompareAndSwap(0, s.resumeLSN)
	// The publication name is double-quoted so that its case is kept.
	pub := `"` + strings.ReplaceAll(t.cfg.Publication, `"`, `""`) + `"`
	args := []string{"proto_version '1'", "publication_names '" + strings.ReplaceAll(pub, "'", "''") + "'"}
	if v, _ := strconv.Atoi(strings.SplitN(repl.ParameterStatus("server_version"), ".", 2)[0]); v >= 14 {
		args = append(args, "messages 'true'")
		if t.cfg.Streaming {
			args[0] = "proto_version '2'"
			args = append(args, "streaming 'on'")
		}
	}
	err := pglogrepl.StartReplication(ctx, repl, t.cfg.SlotName, pglogrepl.LSN(s.resumeLSN),
		pglogrepl.StartReplicationOptions{Mode: pglogrepl.LogicalReplication, PluginArgs: args})
	if err != nil {
		err = fmt.Errorf("starting replication from slot %q at %s: %w", t.cfg.SlotName, lsnString(s.resumeLSN), err)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "55006" { // slot still held by a walsender that is going away
			return connectors.Retry(err)
		}
		return retryIfConn(err)
	}
	t.log.Info("streaming", "slot", t.cfg.SlotName, "from", lsnString(s.resumeLSN))
	t.replConn.Store(repl)
	defer t.replConn.Store(nil)
	stopWake := context.AfterFunc(ctx, func() { _ = repl.Conn().SetReadDeadline(time.Now()) })
	defer stopWake()

	var sentFlush uint64
	nextStatus := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		flush := t.flush.Load()
		if flush != sentFlush || !now.Before(nextStatus) {
			err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
				WALWritePosition: pglogrepl.LSN(max(flush, s.walEnd)), WALFlushPosition: pglogrepl.LSN(flush),
				WALApplyPosition: pglogrepl.LSN(flush), ClientTime: now})
			if err != nil {
				return connectors.Retry(fmt.Errorf("sending standby status to %s: %w", t.cfg.Addr(), err))
			}
			sentFlush = flush
			nextStatus = now.Add(t.cfg.StatusInterval)
			if err := s.maybeHeartbeat(ctx, now); err != nil {
				return err
			}
		}
		if err := s.takeSignal(ctx); err != nil {
			return err
		}
		if err := s.refreshXmin(ctx, now); err != nil {
			return err
		}
		if err := s.pruneCommits(ctx); err != nil {
			return err
		}
		if s.incr != nil {
			if err := s.pumpIncremental(ctx); err != nil {
				return err
			}
		}
		_ = repl.Conn().SetReadDeadline(now.Add(min(readSlice, nextStatus.Sub(now)+time.Millisecond)))
		msg, err := repl.ReceiveMessage(context.Background())
		if err != nil {
			if isTimeout(err) {
				if err := s.maybeHeartbeat(ctx, time.Now()); err != nil {
					return err
				}
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return connectors.Retry(fmt.Errorf("reading the replication stream from %s: %w", t.cfg.Addr(), err))
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing keepalive: %w", err)
				}
				s.walEnd = max(s.walEnd, uint64(pkm.ServerWALEnd))
				if pkm.ReplyRequested {
					nextStatus = time.Time{}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("parsing XLogData: %w", err)
				}
				if err := s.handle(ctx, uint64(xld.WALStart), xld.WALData); err != nil {
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyDone:
			return connectors.Retry(fmt.Errorf("the server ended the replication stream"))
		}
	}
}

// maybeHeartbeat emits, between transactions, a heartbeat record every
// heartbeat.interval.ms (running heartbeat.action.query first), and
// otherwise an offset marker once the server's WAL moved on and every
// record before it was committed: once committed, its offset lets the
// slot confirm WAL that held nothing captured, so WAL does not pile up
// on an idle or filtered database, without a heartbeat table or topic.
func (s *streamer) maybeHeartbeat(ctx context.Context, now time.Time) error {
	if s.inTx {
		return nil
	}
	cfg := s.t.cfg
	beat := cfg.HeartbeatInterval > 0 && now.Sub(s.heartbeatAt) >= cfg.HeartbeatInterval
	if !beat && (s.walEnd <= s.lastHeartbeat || now.Sub(s.markedAt) < cfg.StatusInterval || s.t.pending()) {
		return nil
	}
	if beat && cfg.HeartbeatActionQuery != "" {
		if _, err := s.t.meta.Exec(ctx, cfg.HeartbeatActionQuery); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err = fmt.Errorf("running %s %q: %w", HeartbeatActionQuery, cfg.HeartbeatActionQuery, err)
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				return fmt.Errorf("%w; fix the query or clear %s", err, HeartbeatActionQuery)
			}
			return retryIfConn(err)
		}
	}
	s.markedAt = now
	if beat {
		s.heartbeatAt = now
		o := s.markOffset()
		return s.emit(ctx, s.t.b.Heartbeat(o.toMap()), &o)
	}
	return s.emitMarker(ctx)
}

// emitMarker queues an offset marker (a record without a topic) at
// markOffset.
func (s *streamer) emitMarker(ctx context.Context) error {
	o := s.markOffset()
	return s.emit(ctx, &connectors.Record{SourcePartition: s.t.b.Partition, SourceOffset: o.toMap()}, &o)
}

// refreshXmin reads the slot's catalog_xmin every xmin.fetch.interval.ms,
// for source.xmin of the transactions that begin after it.
func (s *streamer) refreshXmin(ctx context.Context, now time.Time) error {
	iv := s.t.cfg.XminInterval
	if iv <= 0 || now.Sub(s.xminAt) < iv {
		return nil
	}
	s.xminAt = now
	var x *int64
	err := s.t.meta.QueryRow(ctx, "SELECT catalog_xmin::text::bigint FROM pg_replication_slots WHERE slot_name = $1", s.t.cfg.SlotName).Scan(&x)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryIfConn(fmt.Errorf("reading the catalog_xmin of slot %q (%s): %w", s.t.cfg.SlotName, XminFetchIntervalMs, err))
	}
	if x == nil {
		s.xmin = nil
	} else {
		s.xmin = *x
	}
	return nil
}

// markOffset is the offset of a heartbeat or offset marker emitted now,
// between transactions: the server's WAL position once it moved past the
// last mark, else the last offset emitted (or the one the streamer started
// from), with the snapshot chunks still to read.
func (s *streamer) markOffset() offset {
	var o offset
	switch {
	case s.walEnd > s.lastHeartbeat:
		o = offset{lsnProc: s.walEnd}
		s.lastHeartbeat = s.walEnd
	case s.sent:
		o = s.last
	default:
		o = s.start
	}
	o.incremental, o.snapshotPlan, o.snapshotChunks, o.paused, o.snapshotKeys = false, "", "", false, ""
	if s.incr != nil {
		o.incremental, o.snapshotPlan, o.snapshotChunks, o.paused, o.snapshotKeys = true, s.incr.plan, s.incr.doneStr, s.incr.paused, s.incr.keys
	}
	return o
}

func (s *streamer) handle(ctx context.Context, lsn uint64, data []byte) error {
	if s.curStream != nil && len(data) > 0 {
		switch data[0] {
		case pgoutput.TypeRelation, pgoutput.TypeType, pgoutput.TypeInsert, pgoutput.TypeUpdate,
			pgoutput.TypeDelete, pgoutput.TypeTruncate, pgoutput.TypeMessage:
			return s.streamAdd(lsn, data)
		}
	}
	m, err := s.dec.Decode(data)
	if err != nil {
		return fmt.Errorf("at LSN %s: %w", lsnString(lsn), err)
	}
	switch m := m.(type) {
	case *pgoutput.Begin:
		s.begin(m)
	case *pgoutput.Commit:
		return s.commit(ctx, lsn, m)
	case *pgoutput.StreamStart:
		s.streamStart(m)
	case *pgoutput.StreamStop:
		s.curStream = nil
	case *pgoutput.StreamCommit:
		return s.streamCommit(ctx, lsn, m)
	case *pgoutput.StreamAbort:
		s.streamAbort(m)
	case *pgoutput.Relation:
		return s.relation(ctx, m)
	case *pgoutput.LogicalMessage:
		return s.message(ctx, lsn, m)
	case *pgoutput.Insert:
		return s.change(ctx, lsn, m.RelationID, m)
	case *pgoutput.Update:
		return s.change(ctx, lsn, m.RelationID, m)
	case *pgoutput.Delete:
		return s.change(ctx, lsn, m.RelationID, m)
	case *pgoutput.Truncate:
		skip := s.nextEvent()
		var captured []*table
		for _, id := range m.RelationIDs {
			if t := s.tables[id]; t != nil {
				captured = append(captured, t)
			}
		}
		if skip || s.t.cfg.SkipTruncate {
			if skip && len(captured) > 0 && !s.t.cfg.SkipTruncate {
				s.delivered()
			}
			return nil
		}
		if len(captured) > 0 {
			if err := s.txBegin(ctx, lsn); err != nil {
				return err
			}
		}
		for i, t := range captured {
			o := s.offset(lsn, i < len(captured)-1)
			p := s.position(lsn)
			r := s.t.b.change(t, cdc.OpTruncate, nil, nil, nil, &p, s.txBlock(t), s.offsetMap(&o))
			r.Key, r.KeySchema = nil, nil
			if err := s.emitChange(ctx, r, &o); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin starts a transaction.
func (s *streamer) begin(m *pgoutput.Begin) {
	s.inTx = true
	s.txFinal, s.txXid, s.txTime = m.FinalLSN, m.Xid, pgoutput.PGTime(m.CommitTime)
	s.commits.add(m.Xid)
	s.txPos = position{txID: int64(m.Xid), prevCommit: s.prevCommit, hasSeq: true, xmin: s.xmin}
	s.txPos.ts = cdc.TimeBoxes(s.txTime)
	s.txOffLSNC, s.txOffTxID = int64(m.FinalLSN), int64(m.Xid)
	s.txOffTs, s.txOffProc = s.txTime.UnixMicro(), int64(s.prevCommit)
	s.txEvent, s.txCount = -1, 0
	s.txTrace = nil
	s.txSkip, s.txSkipPart = -1, 0
	switch {
	case m.FinalLSN < s.resumeLSN:
		s.txSkip = 1<<63 - 1
	case m.FinalLSN == s.skipCommit:
		s.txSkip, s.txSkipPart = s.skipEvent, s.skipPart
	}
	if s.t.cfg.ProvideTxMetadata {
		clear(s.txPerTable)
		s.txTables = s.txTables[:0]
		s.txBegun = false
	}
}

// commit ends a transaction.
func (s *streamer) commit(ctx context.Context, lsn uint64, m *pgoutput.Commit) error {
	if err := s.txEnd(ctx, lsn); err != nil {
		return err
	}
	s.inTx = false
	s.prevCommit = m.CommitLSN
	s.walEnd = max(s.walEnd, m.EndLSN)
	return nil
}

// relation (re)builds the table of a Relation message.
func (s *streamer) relation(ctx context.Context, m *pgoutput.Relation) error {
	cfg := s.t.cfg
	if cfg.isSignalTable(m.Namespace, m.Name) {
		s.signalRel = m.ID
	}
	if !cfg.Captures(m.Namespace, m.Name) {
		s.tables[m.ID] = nil
		return nil
	}
	catCols, err := readColumns(ctx, s.t.meta, m.ID)
	if err != nil {
		return retryIfConn(err)
	}
	byName := make(map[string]colDesc, len(catCols))
	for _, c := range catCols {
		byName[c.Name] = c
	}
	cols := make([]colDesc, len(m.Columns))
	for i, rc := range m.Columns {
		c := byName[rc.Name]
		cols[i] = colDesc{Name: rc.Name, TypeOID: rc.TypeID, Typmod: rc.Typmod, NotNull: c.NotNull, KeySeq: c.KeySeq}
	}
	if old := s.tables[m.ID]; old != nil && old.schema == m.Namespace && old.name == m.Name && sameShape(old.cols, cols) {
		old.replIdentity = m.ReplicaIdentity
		return nil
	}
	t, err := buildTable(cfg, s.t.cat, m.ID, m.Namespace, m.Name, cols, s.t.b.Source)
	if err != nil && !errors.Is(err, pgtypes.ErrUnknownType) && cfg.Quarantine {
		s.quarantine(m.ID, m.Namespace, m.Name, colNames(cols), 0, err)
		return nil
	}
	if errors.Is(err, pgtypes.ErrUnknownType) {
		// A type created after the start: reload the catalog once.
		if s.t.cat, err = pgtypes.Load(ctx, s.t.meta); err != nil {
			return retryIfConn(err)
		}
		t, err = buildTable(cfg, s.t.cat, m.ID, m.Namespace, m.Name, cols, s.t.b.Source)
	}
	if err != nil {
		if cfg.Quarantine {
			s.quarantine(m.ID, m.Namespace, m.Name, colNames(cols), 0, err)
			return nil
		}
		return err
	}
	t.replIdentity = m.ReplicaIdentity
	s.tables[m.ID] = t
	return nil
}

func (s *streamer) position(lsn uint64) position {
	p := s.txPos
	p.lsn = lsn
	return p
}

// offsetMap is o as a source offset map, reusing the transaction's boxed
// values.
func (s *streamer) offsetMap(o *offset) map[string]any {
	m := map[string]any{offLSNProc: s.txOffProc, offLSNCommit: s.txOffLSNC, offLSN: int64(o.lsn),
		offTxID: s.txOffTxID, offEvent: o.event, offTsUsec: s.txOffTs}
	if o.part != 0 {
		m[offEventPart] = o.part
	}
	if s.incr != nil {
		m[offIncremental], m[offSnapshotPlan], m[offSnapshotChunks] = true, s.incr.plan, s.incr.doneStr
		if s.incr.paused {
			m[offPaused] = true
		}
		if s.incr.keys != "" {
			m[offSnapshotKeys] = s.incr.keys
		}
	}
	return m
}

// offset is the offset of a record of the current change; notLast marks
// records followed by another of the same change (BEGIN before the
// first change, a delete before its tombstone), which must not count the
// change as delivered: such a record's offset is the previous change's
// with part, its position among the change's records (1-based), so that
// a resume drops exactly the records delivered (see nextEvent).
func (s *streamer) offset(lsn uint64, notLast bool) offset {
	o := offset{lsnProc: s.prevCommit, lsnCommit: s.txFinal, lsn: lsn, txID: int64(s.txXid), event: s.txEvent, tsUsec: s.txTime.UnixMicro()}
	if notLast {
		s.txPart++
		o.event--
		o.part = s.txPart
	}
	return o
}

// nextEvent moves to the next change message of the transaction and
// reports whether it was delivered before the resume point (skip it). A
// change partly delivered (a crash between its records) keeps the number
// of its records to drop in partSkip, which emitChange consumes.
func (s *streamer) nextEvent() bool {
	s.txEvent++
	s.txPart, s.partSkip = 0, 0
	if s.txEvent <= s.txSkip {
		return true
	}
	if s.txEvent == s.txSkip+1 {
		s.partSkip = s.txSkipPart
	}
	return false
}

// delivered notes that a skipped change of a captured table was
// delivered before the resume point: so was the transaction's BEGIN.
func (s *streamer) delivered() {
	if s.t.cfg.ProvideTxMetadata {
		s.txBegun = true
	}
}

// emitChange emits a record of the current change, unless it is one of
// the partSkip records delivered before the resume point.
func (s *streamer) emitChange(ctx context.Context, r *connectors.Record, o *offset) error {
	if s.partSkip > 0 {
		s.partSkip--
		return nil
	}
	if s.t.cfg.TraceContext {
		if s.txTrace == nil {
			s.txTrace = tracectx.Parent(s.t.cfg.TopicPrefix, s.txID())
		}
		r.Headers = append(r.Headers, connectors.Header{Key: tracectx.Header, Value: s.txTrace})
	}
	return s.emit(ctx, r, o)
}

// txBlock is the transaction field when provide.transaction.metadata is on.
func (s *streamer) txBlock(t *table) *connectors.StructValue {
	if !s.t.cfg.ProvideTxMetadata {
		return nil
	}
	if s.txPerTable == nil {
		s.txPerTable = map[uint32]int64{}
	}
	s.txCount++
	if s.txPerTable[t.relID] == 0 {
		s.txTables = append(s.txTables, t)
	}
	s.txPerTable[t.relID]++
	return cdc.TransactionBlock(s.txID(), s.txCount, s.txPerTable[t.relID])
}

// change turns an insert, update or delete into records.
func (s *streamer) change(ctx context.Context, lsn uint64, relID uint32, m pgoutput.Message) error {
	if s.nextEvent() {
		if s.tables[relID] != nil {
			s.delivered()
		}
		return nil
	}
	if s.quarantined.Skip(relID) {
		return s.setAside(ctx, lsn, relID, m)
	}
	if relID == s.signalRel && s.signalRel != 0 {
		if ins, ok := m.(*pgoutput.Insert); ok {
			// The signal's columns alias the message: act on them before
			// anything else decodes.
			if err := s.signal(ctx, lsn, ins.New.Columns); err != nil {
				return err
			}
		}
	}
	t, known := s.tables[relID]
	if t == nil {
		if !known {
			return fmt.Errorf("change for relation %d before its Relation message at LSN %s", relID, lsnString(lsn))
		}
		return nil
	}
	if err := s.txBegin(ctx, lsn); err != nil {
		return err
	}
	cfg := s.t.cfg
	b := s.t.b
	p := s.position(lsn)
	wrap := func(err error) error {
		err = fmt.Errorf("table %s.%s at LSN %s: %w", t.schema, t.name, lsnString(lsn), err)
		var ce *ColumnError
		if cfg.Quarantine && errors.As(err, &ce) {
			s.quarantine(t.relID, t.schema, t.name, colNames(t.cols), lsn, err)
			return s.setAside(ctx, lsn, t.relID, m)
		}
		return err
	}
	switch m := m.(type) {
	case *pgoutput.Insert:
		s.noteChange(t, m.New.Columns)
		if cfg.SkipCreate {
			return nil
		}
		after, err := t.rowValue(&s.slab, m.New.Columns)
		if err != nil {
			return wrap(err)
		}
		key, err := t.rowKey(&s.slab, m.New.Columns)
		if err != nil {
			return wrap(err)
		}
		o := s.offset(lsn, false)
		return s.emitChange(ctx, b.change(t, cdc.OpCreate, key, nil, after, &p, s.txBlock(t), s.offsetMap(&o)), &o)
	case *pgoutput.Update:
		s.noteChange(t, m.New.Columns)
		if m.OldKind != 0 {
			s.noteChange(t, m.Old.Columns)
		}
		after, err := t.rowValue(&s.slab, m.New.Columns)
		if err != nil {
			return wrap(err)
		}
		key, err := t.rowKey(&s.slab, m.New.Columns)
		if err != nil {
			return wrap(err)
		}
		var before *connectors.StructValue
		if m.OldKind != 0 {
			if before, err = t.rowValue(&s.slab, m.Old.Columns); err != nil {
				return wrap(err)
			}
		}
		if m.OldKind != 0 && t.keySchema != nil && t.keyChanged(m.Old.Columns, m.New.Columns) {
			oldKey, err := t.rowKey(&s.slab, m.Old.Columns)
			if err != nil {
				return wrap(err)
			}
			// Primary key change: delete + tombstone of the old key,
			// then a create of the new one, as Debezium does.
			o1 := s.offset(lsn, true)
			if err := s.emitChange(ctx, b.change(t, cdc.OpDelete, oldKey, before, nil, &p, s.txBlock(t), s.offsetMap(&o1)), &o1); err != nil {
				return err
			}
			if cfg.TombstonesOnDelete {
				o2 := s.offset(lsn, true)
				if err := s.emitChange(ctx, b.tombstone(t, oldKey, s.offsetMap(&o2)), &o2); err != nil {
					return err
				}
			}
			o := s.offset(lsn, false)
			r := b.change(t, cdc.OpCreate, key, nil, after, &p, s.txBlock(t), s.offsetMap(&o))
			r.Headers = t.unavailable(m.New.Columns)
			return s.emitChange(ctx, r, &o)
		}
		if cfg.SkipUpdate {
			return nil
		}
		o := s.offset(lsn, false)
		r := b.change(t, cdc.OpUpdate, key, before, after, &p, s.txBlock(t), s.offsetMap(&o))
		r.Headers = t.unavailable(m.New.Columns)
		return s.emitChange(ctx, r, &o)
	case *pgoutput.Delete:
		s.noteChange(t, m.Old.Columns)
		if cfg.SkipDelete {
			return nil
		}
		before, err := t.rowValue(&s.slab, m.Old.Columns)
		if err != nil {
			return wrap(err)
		}
		key, err := t.rowKey(&s.slab, m.Old.Columns)
		if err != nil {
			return wrap(err)
		}
		tomb := cfg.TombstonesOnDelete && key != nil
		o := s.offset(lsn, tomb)
		if err := s.emitChange(ctx, b.change(t, cdc.OpDelete, key, before, nil, &p, s.txBlock(t), s.offsetMap(&o)), &o); err != nil {
			return err
		}
		if tomb {
			o2 := s.offset(lsn, false)
			return s.emitChange(ctx, b.tombstone(t, key, s.offsetMap(&o2)), &o2)
		}
	}
	return nil
}
