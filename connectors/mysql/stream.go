package mysql

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// gtidPos is the GTID position completed so far: MariaDB's last GTID
// per replication domain ("0-1-42,1-3-7"), or MySQL's GTID set.
type gtidPos interface {
	add(gtid string) error
	String() string
}

// mariaPos is a MariaDB GTID position: one GTID per domain, as
// gtid_binlog_pos and a replica's connect state hold it.
type mariaPos map[uint32]string

func parseMariaPos(s string) (mariaPos, error) {
	p := mariaPos{}
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" {
			if err := p.add(g); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

func (p mariaPos) add(gtid string) error {
	d, _, ok := strings.Cut(gtid, "-")
	dom, err := strconv.ParseUint(d, 10, 32)
	if !ok || err != nil {
		return fmt.Errorf("%q is not a MariaDB GTID (domain-server-sequence)", gtid)
	}
	p[uint32(dom)] = gtid
	return nil
}

func (p mariaPos) String() string {
	out := make([]string, 0, len(p))
	for _, g := range p {
		out = append(out, g)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// mysqlSet is a MySQL GTID set.
type mysqlSet struct{ s mysql.GTIDSet }

func (m *mysqlSet) add(gtid string) error { return m.s.Update(gtid) }
func (m *mysqlSet) String() string        { return m.s.String() }

// streamer reads the binlog from a position and queues change events.
// It is used by the task's goroutine only.
type streamer struct {
	t      *Task
	cfg    *Config
	b      *cdc.Builder
	gtids  gtidPos
	tables map[uint64]*table            // by table id; nil entry: not captured
	json   map[string]map[string]string // jsonColumns, by db.table
	quar   cdc.Quarantine[string]

	file string // current binlog file
	// The transaction in progress: where it started, the GTID set
	// before it, its GTID, and how many rows events of it were handled.
	inTx        bool
	txFile      string
	txPos       uint32
	txGTIDsPrev string
	txGTID      string
	txEvent     int64
	txEmitted   bool
	txThread    any
	// txFiltered marks a transaction whose GTID source
	// gtid.source.includes/excludes filter out: its rows are not emitted.
	txFiltered bool
	// txStandalone marks a group without XID or COMMIT (DDL, a
	// statement outside a transaction): its query event ends it.
	// MariaDB flags it in the GTID event; on MySQL it is a GTID not
	// followed by BEGIN.
	txStandalone bool
	// Transaction metadata (provide.transaction.metadata): the id, whether
	// BEGIN was sent, the data events so far, in all and per table (in
	// first-seen order).
	txID     string
	txBegun  bool
	txTotal  int64
	txCounts []cdc.TxCount
	// query is the statement of the rows events that follow it
	// (include.query), boxed; nil without one.
	query any
	// skipEvents and skipRows are what a resume must skip of the
	// transaction skipGTID (or, without GTIDs, the first transaction).
	skipping             bool
	skipGTID             string
	skipEvents, skipRows int64
	// last is the offset of the last record queued, and lastMarker when
	// a position was last queued without a record.
	last          offset
	lastBetween   offset // the position after the last transaction
	lastMarker    time.Time
	lastHeartbeat time.Time
	dirty         bool // the position moved past the last queued offset
	// at is the position after the last event handled between
	// transactions (chunked snapshots: incremental.go).
	at binlogAt
	// sigID is the table id of signal.data.collection's table map, when
	// hasSig.
	sigID  uint64
	hasSig bool
}

// transientError is a lost or refused connection to the server while
// streaming: stream reconnects and resumes after what it queued.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Reconnect back-off bounds.
const (
	reconnectMin = 250 * time.Millisecond
	reconnectMax = 10 * time.Second
)

// stream reads the binlog from o until ctx ends or an error that a
// reconnection cannot cure. A lost connection (the server restarted, the
// network cut) is retried with back-off, resuming right after the last
// record queued, so nothing is sent twice or skipped.
func (t *Task) stream(ctx context.Context, o offset) error {
	wait := reconnectMin
	for {
		start := time.Now()
		next, err := t.streamFrom(ctx, o)
		var te *transientError
		if ctx.Err() != nil || !errors.As(err, &te) {
			return err
		}
		if time.Since(start) > time.Minute {
			wait = reconnectMin
		}
		t.log.Warn("binlog stream lost; reconnecting", "server", t.cfg.Addr(), "error", err, "retry_in", wait.String(),
			"file", next.file, "pos", next.pos, "gtids", next.gtids)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(2*wait, reconnectMax)
		o = next
	}
}

// streamFrom streams from o; it returns the offset to resume from (after
// the last record queued) with its error.
func (t *Task) streamFrom(ctx context.Context, o offset) (offset, error) {
	cfg := t.cfg
	s := &streamer{t: t, cfg: cfg, b: t.b, tables: map[uint64]*table{}, json: map[string]map[string]string{}, file: o.file, last: o}
	s.quar.PositionKey = "pos"
	flavor := mysql.MySQLFlavor
	if t.info.mariaDB {
		flavor = mysql.MariaDBFlavor
		p, err := parseMariaPos(o.gtids)
		if err != nil {
			return o, fmt.Errorf("stored GTID position %q: %w", o.gtids, err)
		}
		s.gtids = p
	} else if o.gtids != "" {
		set, err := mysql.ParseMysqlGTIDSet(o.gtids)
		if err != nil {
			return o, fmt.Errorf("stored GTID set %q: %w", o.gtids, err)
		}
		s.gtids = &mysqlSet{set}
	}
	if o.event > 0 || o.row > 0 {
		s.skipping, s.skipGTID, s.skipEvents, s.skipRows = true, o.txGTID, o.event, o.row
	} else {
		s.at = binlogAt{file: o.file, pos: o.pos}
	}
	t.incr.restart()
	sc := replication.BinlogSyncerConfig{
		ServerID: cfg.ServerID, Flavor: flavor, Host: cfg.Host, Port: uint16(cfg.Port), User: cfg.User, Password: cfg.Password,
		ParseTime: true, HeartbeatPeriod: time.Second, ReadTimeout: 30 * time.Second, DisableRetrySync: true,
		Logger: t.log.With("component", "binlog"), Charset: "utf8mb4",
		// go-mysql queues decoded events ahead of us (10240 by
		// default, hundreds of MB of decoded rows in a large
		// transaction); the task's own queue is the buffer that counts.
		// 32 events (~5,000 small rows) keep the reader ahead of the
		// converter; 256 held 10-15 MB more live heap in a 2M-row
		// transaction, which pushed the worker's RSS to its memory limit
		// and cost more GC CPU per row than it saved (docs/benchmarks.md).
		EventCacheCount: 32,
		TLSConfig:       t.binlogTLS,
	}
	if cfg.IncludeQuery && flavor == mysql.MariaDBFlavor {
		sc.DumpCommandFlag = replication.BINLOG_SEND_ANNOTATE_ROWS_EVENT
	}
	syncer := replication.NewBinlogSyncer(sc)
	defer syncer.Close()
	var bs *replication.BinlogStreamer
	var err error
	if o.gtids != "" {
		set, perr := mysql.ParseGTIDSet(flavor, o.gtids)
		if perr != nil {
			return o, fmt.Errorf("stored GTID set %q: %w", o.gtids, perr)
		}
		bs, err = syncer.StartSyncGTID(set)
	} else {
		bs, err = syncer.StartSync(mysql.Position{Name: o.file, Pos: o.pos})
	}
	if err != nil {
		err = fmt.Errorf("starting the binlog stream at %s:%d (GTIDs %q): %w", o.file, o.pos, o.gtids, err)
		var me *mysql.MyError
		if errors.As(err, &me) {
			return o, err // the server answered: a refusal, not a lost connection
		}
		if _, fix, ok := tlsFailure(cfg, err); ok {
			return o, fmt.Errorf("%s: %w", fix, err) // retrying would fail the same way
		}
		return o, &transientError{err}
	}
	t.log.Info("streaming", "file", o.file, "pos", o.pos, "gtids", o.gtids, "event", o.event, "row", o.row, "server_id", cfg.ServerID)
	for {
		if err := t.takeSignals(ctx, s); err != nil {
			return s.last, err
		}
		if err := t.pumpIncremental(ctx, s); err != nil {
			return s.last, err
		}
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return s.last, ctx.Err()
			}
			var me *mysql.MyError
			if errors.As(err, &me) && me.Code == 1236 {
				return s.last, fmt.Errorf("the server cannot send the binlog from %s:%d (GTIDs %q): %v; the binlog was probably purged: set snapshot.mode=when_needed to snapshot again", o.file, o.pos, o.gtids, err)
			}
			return s.last, &transientError{fmt.Errorf("reading the binlog: %w", err)}
		}
		if err := s.handle(ctx, ev); err != nil {
			return s.last, err
		}
		if err := t.afterEvent(ctx, s, ev); err != nil {
			return s.last, err
		}
	}
}

// offsetAt returns the offset of the event and row just handled.
func (s *streamer) offsetAt(event, row int64, tsSec int64, serverID uint32) offset {
	return offset{file: s.txFile, pos: s.txPos, gtids: s.txGTIDsPrev, txGTID: s.txGTID, event: event, row: row, tsSec: tsSec, serverID: int64(serverID)}
}

// begin starts a transaction at the event h.
func (s *streamer) begin(h *replication.EventHeader, gtid string) {
	s.inTx, s.txFile, s.txPos, s.txGTID, s.txEvent, s.txEmitted, s.txThread = true, s.file, h.LogPos-h.EventSize, gtid, 0, false, nil
	s.txGTIDsPrev = ""
	if s.gtids != nil {
		s.txGTIDsPrev = s.gtids.String()
	}
	if s.skipping && s.skipGTID != "" && s.skipGTID != gtid {
		// Not the transaction the offset was inside (another domain's,
		// interleaved): nothing of it was sent.
		s.skipEvents, s.skipRows = 0, 0
	}
	s.txFiltered = s.cfg.GTIDs.skips(gtid, s.t.info.mariaDB)
	s.txID = gtid
	if gtid == "" {
		s.txID = fmt.Sprintf("%s:%d", s.txFile, s.txPos)
	}
	s.txTotal, s.txCounts = 0, nil
	// Resumed inside the transaction: its BEGIN went out with the rows
	// already sent.
	s.txBegun = s.cfg.TxMetadata && s.skipping && (s.skipEvents > 0 || s.skipRows > 0)
}

// count adds n data events of table tb to the transaction and returns
// the transaction block of the last (nil without transaction metadata).
func (s *streamer) count(tb *table, n int64) *connectors.StructValue {
	if !s.cfg.TxMetadata || n == 0 {
		return nil
	}
	coll := tb.db + "." + tb.name
	i := 0
	for i < len(s.txCounts) && s.txCounts[i].Collection != coll {
		i++
	}
	if i == len(s.txCounts) {
		s.txCounts = append(s.txCounts, cdc.TxCount{Collection: coll})
	}
	s.txTotal += n
	s.txCounts[i].Count += n
	return cdc.TransactionBlock(s.txID, s.txTotal, s.txCounts[i].Count)
}

// countSkipped counts the data events that rows [from, to) of e made when
// they were sent before a restart.
func (s *streamer) countSkipped(tb *table, e *replication.RowsEvent, op string, from, to int64) error {
	if !s.cfg.TxMetadata {
		return nil
	}
	for r := from; r < to; r++ {
		n := int64(1)
		if op == cdc.OpUpdate {
			before, err := s.image(tb, e.Rows[2*r])
			if err != nil {
				return err
			}
			after, err := s.image(tb, e.Rows[2*r+1])
			if err != nil {
				return err
			}
			if !sameKey(s.key(tb, before), s.key(tb, after)) {
				n = 2 // a delete and a create
			}
		}
		s.count(tb, n)
	}
	return nil
}

// commit ends the transaction in progress at the event h.
func (s *streamer) commit(ctx context.Context, h *replication.EventHeader) error {
	if err := s.endTx(h); err != nil {
		return err
	}
	return s.afterTx(ctx, h)
}

// endTx moves the position past the transaction in progress, ending at
// the event h, without queuing anything.
func (s *streamer) endTx(h *replication.EventHeader) error {
	if s.txGTID != "" && s.gtids != nil {
		if err := s.gtids.add(s.txGTID); err != nil {
			return err
		}
	}
	if s.skipping && (s.skipGTID == "" || s.skipGTID == s.txGTID) {
		s.skipping = false
	}
	s.inTx = false
	s.txGTID = ""
	s.query = nil
	s.dirty = true
	s.lastBetween = s.between(h)
	return nil
}

// afterTx queues what follows a transaction ended by endTx: its END
// event with transaction metadata, or a position marker when due.
func (s *streamer) afterTx(ctx context.Context, h *replication.EventHeader) error {
	if s.txBegun {
		// END carries the position after the transaction.
		s.txBegun = false
		s.last, s.lastMarker, s.dirty = s.lastBetween, time.Now(), false
		return s.t.put(ctx, s.b.Transaction(cdc.TxEnd, s.txID, time.Unix(int64(h.Timestamp), 0), s.txTotal, s.txCounts, s.last.toMap()))
	}
	if !s.txEmitted && time.Since(s.lastMarker) > time.Second {
		return s.marker(ctx, h)
	}
	return nil
}

// between is the offset between transactions, after the event h.
func (s *streamer) between(h *replication.EventHeader) offset {
	o := offset{file: s.file, pos: h.LogPos, tsSec: int64(h.Timestamp), serverID: int64(h.ServerID)}
	if s.gtids != nil {
		o.gtids = s.gtids.String()
	}
	return o
}

// marker queues the position after h without a record.
func (s *streamer) marker(ctx context.Context, h *replication.EventHeader) error {
	if h.LogPos == 0 {
		return nil // a fake event: no position
	}
	o := s.between(h)
	s.lastMarker, s.dirty, s.last = time.Now(), false, o
	return s.t.put(ctx, &connectors.Record{SourcePartition: s.b.Partition, SourceOffset: o.toMap()})
}

func (s *streamer) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		s.file = string(e.NextLogName)
	case *replication.MariadbGTIDEvent:
		gtid, err := mariaGTID(ev) // not e.GTID: see mariaGTID
		if err != nil {
			return err
		}
		s.begin(h, gtid)
		s.txStandalone = e.IsStandalone()
	case *replication.GTIDEvent:
		set, err := e.GTIDNext()
		if err != nil {
			return err
		}
		s.begin(h, set.String())
		s.txStandalone = true // until BEGIN
	case *replication.QueryEvent:
		q := strings.TrimSpace(string(e.Query))
		switch {
		case strings.EqualFold(q, "BEGIN"):
			if !s.inTx {
				s.begin(h, "") // file/pos without GTIDs
			}
			s.txStandalone = false
			s.txThread = int64(e.SlaveProxyID)
		case strings.EqualFold(q, "COMMIT"), strings.EqualFold(q, "ROLLBACK"):
			// COMMIT ends a group of non-transactional tables; ROLLBACK
			// one whose transactional changes were rolled back (what
			// the binlog holds of it happened).
			return s.commit(ctx, h)
		default:
			// DDL, or a statement inside a transaction (SAVEPOINT):
			// table shapes may have changed; the next table maps say
			// how.
			s.tables = map[uint64]*table{}
			s.json = map[string]map[string]string{}
			return s.statement(ctx, h, e, q)
		}
	case *replication.XIDEvent:
		return s.commit(ctx, h)
	case *replication.MariadbAnnotateRowsEvent:
		if s.cfg.IncludeQuery {
			s.query = string(e.Query)
		}
	case *replication.RowsQueryEvent:
		if s.cfg.IncludeQuery {
			s.query = string(e.Query)
		}
	case *replication.TableMapEvent:
		return s.tableMap(ctx, e)
	case *replication.RowsEvent:
		return s.rows(ctx, h, e)
	case *replication.GenericEvent:
		if h.EventType == replication.HEARTBEAT_EVENT {
			return s.idle(ctx, h)
		}
	}
	return nil
}

// idle runs on the server's heartbeats: it sends a heartbeat record when
// due and moves the committed position past skipped transactions.
func (s *streamer) idle(ctx context.Context, h *replication.EventHeader) error {
	if s.inTx {
		return nil
	}
	if s.cfg.HeartbeatInterval > 0 && time.Since(s.lastHeartbeat) >= s.cfg.HeartbeatInterval {
		s.lastHeartbeat = time.Now()
		o := s.last
		if s.dirty {
			o = s.lastBetween
		}
		return s.t.put(ctx, s.b.Heartbeat(o.toMap()))
	}
	if s.dirty && s.lastBetween.file != "" {
		s.lastMarker, s.dirty, s.last = time.Now(), false, s.lastBetween
		return s.t.put(ctx, &connectors.Record{SourcePartition: s.b.Partition, SourceOffset: s.last.toMap()})
	}
	return nil
}

func (s *streamer) tableMap(ctx context.Context, e *replication.TableMapEvent) error {
	db, name := string(e.Schema), string(e.Table)
	s.noteSignalTable(e.TableID, db, name)
	if !s.cfg.Captures(db, name) {
		s.tables[e.TableID] = nil
		return nil
	}
	full := db + "." + name
	if s.quar.Skip(full) {
		s.tables[e.TableID] = nil
		return nil
	}
	json, ok := s.json[full]
	if !ok && s.t.info.mariaDB {
		var err error
		if json, err = jsonColumns(ctx, s.t.db, db, name); err != nil {
			return err
		}
		s.json[full] = json
	}
	cols, key, err := columnsFromTableMap(e, s.t.colls, json)
	if err == nil {
		key, err = keyOf(s.cfg, db, name, cols, key)
	}
	if err != nil {
		if errors.Is(err, ErrNoRowMetadata) {
			return err
		}
		s.tables[e.TableID] = nil // quarantined, if fail lets it go on
		return s.fail(full, fmt.Errorf("table %s: %w", full, err))
	}
	if old := s.tables[e.TableID]; old != nil && old.sameShape(cols, key) {
		return nil
	}
	for _, tb := range s.tables {
		if tb != nil && tb.db == db && tb.name == name && tb.sameShape(cols, key) {
			s.tables[e.TableID] = tb
			return nil
		}
	}
	tb := newTable(s.cfg, s.b.Source, db, name, cols, key)
	s.tables[e.TableID] = tb
	s.t.lastTables[full] = tb
	return nil
}

// fail fails the task, or quarantines the table with
// sluice.table.failure.mode=quarantine.
func (s *streamer) fail(table string, err error) error {
	pos := fmt.Sprintf("%s:%d", s.txFile, s.txPos)
	if !s.cfg.Quarantine {
		return fmt.Errorf("%w (binlog position %s, GTID %s)", err, pos, s.txGTID)
	}
	s.quar.Add(s.t.log, table, table, pos, err)
	return nil
}

func (s *streamer) rows(ctx context.Context, h *replication.EventHeader, e *replication.RowsEvent) error {
	event := s.txEvent
	s.txEvent++
	skipAll := s.skipping && s.skipEvents > 0
	skipRows := int64(0)
	if skipAll {
		s.skipEvents--
	} else if s.skipping {
		skipRows, s.skipRows = s.skipRows, 0
	}
	if s.hasSig && e.TableID == s.sigID && !skipAll {
		if err := s.signalRows(ctx, e, skipRows); err != nil {
			return err
		}
	}
	tb, ok := s.tables[e.TableID]
	if !ok {
		return fmt.Errorf("rows event for table id %d without its table map", e.TableID)
	}
	if tb == nil || s.txFiltered || s.quar.Skip(tb.db+"."+tb.name) {
		return nil
	}
	var op string
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = cdc.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = cdc.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = cdc.OpDelete
	default:
		return nil
	}
	if (op == cdc.OpCreate && s.cfg.SkipCreate) || (op == cdc.OpUpdate && s.cfg.SkipUpdate) || (op == cdc.OpDelete && s.cfg.SkipDelete) {
		return nil
	}
	n := int64(len(e.Rows) / step)
	if skipAll {
		return s.countSkipped(tb, e, op, 0, n)
	}
	if err := s.countSkipped(tb, e, op, 0, min(skipRows, n)); err != nil {
		return err
	}
	at := time.Unix(int64(h.Timestamp), 0)
	p := &srcPosition{ts: cdc.TimeBoxes(at), at: at, serverID: int64(h.ServerID), file: s.file,
		pos: int64(h.LogPos - h.EventSize), thread: s.txThread, query: s.query}
	// One offset per rows event, on its last row: a restart replays at
	// most the rows of one event, and the per-row path allocates no map.
	if s.txGTID != "" {
		p.gtid = s.txGTID
	}
	rs, rv := tb.rowReserve(s.b)
	for r := skipRows; r < n; r++ {
		// All of the row's structs from the same slab arrays (cdc.Slab).
		s.b.Slab.Reserve(rs, rv)
		var before, after *connectors.StructValue
		var err error
		switch op {
		case cdc.OpCreate:
			after, err = s.image(tb, e.Rows[r])
		case cdc.OpDelete:
			before, err = s.image(tb, e.Rows[r])
		default:
			if before, err = s.image(tb, e.Rows[2*r]); err == nil {
				after, err = s.image(tb, e.Rows[2*r+1])
			}
		}
		if err != nil {
			full := tb.db + "." + tb.name
			return s.fail(full, fmt.Errorf("table %s: %w", full, err))
		}
		p.row = int32(r)
		var off map[string]any
		if r+1 == n {
			o := s.offsetAt(event+1, 0, int64(h.Timestamp), h.ServerID)
			s.last, off = o, o.toMap()
		}
		if err := s.emit(ctx, tb, op, before, after, p, off); err != nil {
			return err
		}
	}
	return nil
}

// image converts one row image into the table's value struct.
func (s *streamer) image(tb *table, row []any) (*connectors.StructValue, error) {
	v := s.b.Slab.NewStruct(tb.value)
	for i := range tb.cols {
		if !tb.include[i] {
			continue
		}
		if i >= len(row) {
			return nil, fmt.Errorf("row image has %d columns, the table map %d", len(row), len(tb.cols))
		}
		x, err := tb.cols[i].fromBinlog(row[i], s.cfg.Modes)
		if err != nil {
			return nil, err
		}
		v.Values[tb.pos[i]] = x
	}
	return v, nil
}

// key returns the key struct of a row image.
func (s *streamer) key(tb *table, img *connectors.StructValue) *connectors.StructValue {
	if tb.keyS == nil || img == nil {
		return nil
	}
	k := s.b.Slab.NewStruct(tb.keyS)
	for j, c := range tb.key {
		if tb.include[c] {
			k.Values[j] = img.Values[tb.pos[c]]
		}
	}
	return k
}

func sameKey(a, b *connectors.StructValue) bool {
	if a == nil || b == nil {
		return a == b
	}
	for i := range a.Values {
		x, y := a.Values[i], b.Values[i]
		if bx, ok := x.([]byte); ok {
			by, _ := y.([]byte)
			if string(bx) != string(by) {
				return false
			}
			continue
		}
		if dx, ok := x.(connectors.Decimal); ok {
			dy, _ := y.(connectors.Decimal)
			if dy.Unscaled == nil || dx.Unscaled.Cmp(dy.Unscaled) != 0 {
				return false
			}
			continue
		}
		if x != y {
			return false
		}
	}
	return true
}

// emit queues the records of one row change; off goes on the last.
func (s *streamer) emit(ctx context.Context, tb *table, op string, before, after *connectors.StructValue, p *srcPosition, m map[string]any) error {
	s.txEmitted = true
	if s.cfg.TxMetadata && !s.txBegun {
		s.txBegun = true
		if err := s.t.put(ctx, s.b.Transaction(cdc.TxBegin, s.txID, p.at, 0, nil, nil)); err != nil {
			return err
		}
	}
	switch op {
	case cdc.OpCreate:
		return s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, op, s.key(tb, after), nil, after, sourceValue(s.b, tb, p), s.count(tb, 1), m))
	case cdc.OpUpdate:
		oldKey, newKey := s.key(tb, before), s.key(tb, after)
		if !sameKey(oldKey, newKey) {
			// A key change: a delete of the old key (and its tombstone),
			// then a create of the new one, as Debezium.
			if err := s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, cdc.OpDelete, oldKey, before, nil, sourceValue(s.b, tb, p), s.count(tb, 1), nil)); err != nil {
				return err
			}
			if s.cfg.TombstonesOnDelete {
				if err := s.t.put(ctx, s.b.Tombstone(tb.topic, tb.keyS, oldKey, nil)); err != nil {
					return err
				}
			}
			return s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, cdc.OpCreate, newKey, nil, after, sourceValue(s.b, tb, p), s.count(tb, 1), m))
		}
		return s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, op, newKey, before, after, sourceValue(s.b, tb, p), s.count(tb, 1), m))
	default:
		key := s.key(tb, before)
		if !s.cfg.TombstonesOnDelete || key == nil {
			return s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, op, key, before, nil, sourceValue(s.b, tb, p), s.count(tb, 1), m))
		}
		if err := s.t.put(ctx, s.b.Change(tb.topic, tb.env, tb.keyS, op, key, before, nil, sourceValue(s.b, tb, p), s.count(tb, 1), nil)); err != nil {
			return err
		}
		return s.t.put(ctx, s.b.Tombstone(tb.topic, tb.keyS, key, m))
	}
}
