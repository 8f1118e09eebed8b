package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/cdc/kafkasignal"
	"github.com/sluice-cdc/sluice/connectors/postgres/pgtypes"
)

// Task is the PostgreSQL source task: one goroutine (run) takes the
// snapshot and then streams from the slot, feeding a bounded queue that
// Poll drains. Commit moves the LSN the slot confirms.
//
// Concurrency: run owns the connections and the table cache; Poll runs on
// the runtime's goroutine and only reads the queue; Commit and Stop may be
// called from any goroutine. The queue is written only by run and never
// closed; run's end is signalled by closing done.
type Task struct {
	cfg *Config
	log *slog.Logger
	b   *builder
	// lazy: the runtime takes connectors.LazyStruct values, which the
	// snapshot returns (see lazy.go).
	lazy bool
	// spillDir is where streamed transactions spill (the runtime's
	// connectors.ScratchDir, emptied before each start; "" for the
	// system's temporary directory).
	spillDir string

	queue *cdc.Queue[snapPos]
	bytes *cdc.ByteBudget // nil unless max.queue.size.in.bytes is set
	// signals carries Kafka signals from the consumer (owned by run) to
	// the streamer; nil unless signal.enabled.channels lists kafka.
	signals chan kafkasignal.Signal
	done    chan struct{}
	runErr  error // set before done is closed
	tctx    connectors.SourceTaskContext
	cancel  context.CancelFunc
	timer   *time.Timer

	meta *pgx.Conn
	repl *pgconn.PgConn
	cat  *pgtypes.Catalog

	// plan, decided in Start.
	snapshot bool
	resume   offset // where streaming resumes when not snapshotting
	// pendingPlan and pendingDone describe snapshot chunks still to be
	// read while streaming (a snapshot resumed after a crash).
	pendingPlan, pendingDone string
	pendingKeys              string // snapshot_keys: chunks resumed after a key
	pendingPaused            bool   // the pending chunks wait for resume-snapshot
	// snapshotAll reads every captured table with watermarks while
	// streaming from resume, instead of a snapshot behind a new slot (see
	// plan).
	snapshotAll   bool
	serverVersion int

	// flush is the LSN the slot may confirm (from Commit). replConn is
	// the live replication connection, for waking its reader.
	flush    atomic.Uint64
	replConn atomic.Pointer[pgconn.PgConn]

	mu struct {
		sync.Mutex
		committed offsetKey // latest committed offset
		// handed is the offset map of the last record Poll returned
		// with one, committedMap the map of the latest committed offset;
		// equal, everything Poll returned is committed (waitCommitted).
		handed, committedMap unsafe.Pointer
		// sigMark is the offset map of the last marker queued for Kafka
		// signals and sigMarkLSN its position; sigMarkDone, that marker or
		// a streamed offset after it is committed (signal_kafka.go).
		sigMark     unsafe.Pointer
		sigMarkLSN  uint64
		sigMarkDone bool
	}
	lastEmitted offsetKey // offset of the last record queued; run's own
	stopOnce    sync.Once
	// prog replays the snapshot positions of the records Poll takes;
	// Poll's own (see progress.go).
	prog snapProgress
}

// offsetKey identifies an offset for comparing emitted and committed ones.
type offsetKey struct {
	snapshot           bool
	lsnProc, lsnCommit uint64
	lsn                uint64
	event, part        int64
}

func keyOf(o *offset) offsetKey {
	k := offsetKey{snapshot: o.snapshot, lsnProc: o.lsnProc, lsnCommit: o.lsnCommit, lsn: o.lsn, event: o.event, part: o.part}
	if !o.snapshot && o.lsnCommit == 0 {
		k.lsn = 0 // not stored (see toMap): the committed form lacks it
	}
	return k
}

// NewTask returns an unstarted task.
func NewTask() *Task { return &Task{} }

// Start connects, runs the pre-flight checks, decides between snapshot
// and streaming from the stored offset, and starts the task's goroutine.
func (t *Task) Start(ctx context.Context, tctx connectors.SourceTaskContext, props map[string]string) error {
	cfg, err := ParseConfig(props)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.log = tctx.Logger()
	if t.log == nil {
		t.log = slog.Default()
	}
	t.b = newBuilder(cfg)
	t.lazy = connectors.LazyValues(tctx)
	t.spillDir = connectors.ScratchDir(tctx)
	t.queue = cdc.NewQueue[snapPos](cfg.MaxQueueSize)
	if cfg.MaxQueueBytes > 0 {
		t.bytes = cdc.NewByteBudget(cfg.MaxQueueBytes)
	}
	if cfg.SignalKafka {
		t.signals = make(chan kafkasignal.Signal, 1)
	}
	t.done = make(chan struct{})
	t.tctx = tctx
	// A server that cannot be reached now is waited for by the task's
	// goroutine (see reconnect.go); any other failure fails Start.
	deferred := t.setup(ctx)
	if deferred != nil {
		t.closeConns()
		if !transient(deferred) {
			return deferred
		}
		t.log.Warn("PostgreSQL is unreachable; the task keeps trying to start", "server", cfg.Addr(), "error", deferred)
		t.report(newBackoff(cfg, deferred).problem(cfg.Addr()))
	}
	t.timer = time.NewTimer(time.Hour)
	t.timer.Stop()
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.runLoop(runCtx, deferred)
	return nil
}

// setup connects, runs the pre-flight checks and decides between
// snapshot and streaming from the stored offset. On error the caller
// closes the connections.
func (t *Task) setup(ctx context.Context) error {
	cfg := t.cfg
	t.snapshot, t.snapshotAll, t.resume = false, false, offset{}
	t.pendingPlan, t.pendingDone, t.pendingKeys, t.pendingPaused = "", "", "", false
	var err error
	if t.meta, err = connect(ctx, cfg); err != nil {
		return err
	}
	// A task restarted right after its predecessor stopped may find the
	// slot still held by the old walsender for a moment.
	if err := waitSlotInactive(ctx, t.meta, cfg.SlotName, slotReleaseWait); err != nil {
		return err
	}
	p, err := preflight(ctx, t.meta, cfg)
	if err != nil {
		return err
	}
	for _, w := range p.warnings {
		t.log.Warn(w)
	}
	if err := p.err(); err != nil {
		return err
	}
	if t.cat, err = pgtypes.Load(ctx, t.meta); err != nil {
		return err
	}
	if err := t.meta.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&t.serverVersion); err != nil {
		return fmt.Errorf("reading the server version: %w", err)
	}
	stored, err := t.tctx.Offset(ctx, t.b.Partition)
	if err != nil {
		// Not PostgreSQL's outage: Start fails as it always did.
		return &notTransient{fmt.Errorf("reading the stored offset: %w", err)}
	}
	slot, err := readSlot(ctx, t.meta, cfg.SlotName)
	if err != nil {
		return err
	}
	if err := t.plan(stored, slot); err != nil {
		return err
	}
	if t.snapshot && slot.exists {
		t.log.Info("dropping the existing slot to take a consistent snapshot", "slot", cfg.SlotName)
		if err := dropSlot(ctx, t.meta, cfg.SlotName); err != nil {
			return err
		}
	}
	if t.repl, err = connectReplication(ctx, cfg); err != nil {
		return err
	}
	return nil
}

// runLoop is the task's goroutine: it runs run (after waiting for the
// server when Start could not reach it: deferred), sets up again when
// the server goes away outside the streamer, closes the connections and
// hands the final error to Poll through runErr and done. A panic fails
// the task through Poll, as the SPI asks, instead of ending the worker.
func (t *Task) runLoop(ctx context.Context, deferred error) {
	defer close(t.done)
	t.runErr = connectors.Protect(func() error { return t.runRecovering(ctx, deferred) })
	t.closeConns()
	if t.runErr != nil && !errors.Is(t.runErr, context.Canceled) {
		t.log.Error("postgres source task failed", "error", t.runErr)
	}
}

// runRecovering runs run until it ends for good. The server went away
// outside the streamer, which retries by itself (while creating the
// slot, or in the snapshot): once every queued record is committed, it
// sets up again from the stored offset when the server is back, as a
// restart of the task would, without spending the runtime's restart
// budget.
func (t *Task) runRecovering(ctx context.Context, deferred error) error {
	if deferred != nil {
		if err := t.startLater(ctx, deferred); err != nil {
			return err
		}
	}
	for {
		err := t.run(ctx)
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		t.log.Warn("lost PostgreSQL; starting again from the committed offset once it is back", "server", t.cfg.Addr(), "error", err)
		t.closeConns()
		t.report(newBackoff(t.cfg, err).problem(t.cfg.Addr()))
		if werr := t.waitCommitted(ctx); werr != nil {
			return werr
		}
		if serr := t.startLater(ctx, err); serr != nil {
			return serr
		}
	}
}

// plan decides whether to snapshot and where streaming resumes.
func (t *Task) plan(stored map[string]any, slot slotState) error {
	cfg := t.cfg
	snapModes := cfg.SnapshotMode != SnapshotNoData
	// A snapshot behind a new slot needs the old slot dropped, and with it
	// the changes it still holds: a row deleted since the previous
	// attempt's snapshot would then stay in the topic for ever (its delete
	// is never read, the new snapshot does not have it). Where the slot
	// exists and watermarks work (PostgreSQL 14+), the task keeps the slot,
	// streams from it and reads every table with watermarks meanwhile.
	watermarks := slot.exists && t.serverVersion >= 140000 && cfg.SnapshotMode != SnapshotInitialOnly
	if stored == nil {
		t.snapshot = snapModes
		if !t.snapshot && slot.exists {
			t.resume = offset{lsnProc: slot.confirmedFlush}
		}
		if t.snapshot && watermarks {
			t.log.Info("the slot exists but no offset is stored (an earlier start stopped before its first commit, or the slot was made beforehand): "+
				"streaming from the slot and reading every table with watermarks meanwhile, so that rows deleted in between are not left behind",
				"slot", cfg.SlotName, "confirmed_flush_lsn", lsnString(slot.confirmedFlush))
			t.snapshot, t.snapshotAll = false, true
			t.resume = offset{lsnProc: slot.confirmedFlush}
		}
		return nil
	}
	o, err := parseOffsetMap(stored)
	if err != nil {
		return fmt.Errorf("stored offset %v: %w", stored, err)
	}
	switch {
	case o.snapshot && snapModes && watermarks && slot.confirmedFlush <= o.lsn && o.snapshotPlan == "":
		t.log.Info("resuming the interrupted snapshot: every table is read with watermarks while streaming from the snapshot's LSN",
			"lsn", lsnString(o.lsn))
		t.resume = offset{lsnProc: o.lsn}
		t.snapshotAll = true
		return nil
	case o.snapshot && snapModes && slot.exists && slot.confirmedFlush <= o.lsn && o.snapshotPlan != "" && t.serverVersion >= 140000:
		t.log.Info("resuming the interrupted snapshot: finished chunks are kept, the others are read with watermarks while streaming from the snapshot's LSN",
			"lsn", lsnString(o.lsn))
		t.resume = offset{lsnProc: o.lsn}
		t.pendingPlan, t.pendingDone, t.pendingKeys = o.snapshotPlan, o.snapshotChunks, o.snapshotKeys
		return nil
	case o.snapshot && snapModes:
		t.log.Warn("the previous snapshot did not finish and cannot be resumed (its slot is gone or moved, or PostgreSQL is older than 14); taking it again from the start")
		t.snapshot = true
		return nil
	case cfg.SnapshotMode == SnapshotAlways:
		t.snapshot = true
		return nil
	}
	resume := max(o.lsnProc, o.lsnCommit)
	if !slot.exists {
		if cfg.SnapshotMode == SnapshotWhenNeeded {
			t.log.Warn("the replication slot is missing; taking a new snapshot (snapshot.mode=when_needed)", "slot", cfg.SlotName)
			t.snapshot = true
			return nil
		}
		return fmt.Errorf("slot.name: replication slot %q does not exist but an offset is stored (LSN %s): changes since then are lost; set snapshot.mode=when_needed to take a new snapshot, or reset the connector's offsets", cfg.SlotName, lsnString(resume))
	}
	if resume < slot.confirmedFlush {
		if cfg.SnapshotMode == SnapshotWhenNeeded {
			t.log.Warn("the stored offset is behind the slot; taking a new snapshot (snapshot.mode=when_needed)",
				"offset_lsn", lsnString(resume), "confirmed_flush_lsn", lsnString(slot.confirmedFlush))
			t.snapshot = true
			return nil
		}
		return fmt.Errorf("slot.name: the stored offset (LSN %s) is behind replication slot %q's confirmed_flush_lsn %s: the slot was recreated or advanced by someone else and the changes in between are gone; set snapshot.mode=when_needed to take a new snapshot, or reset the connector's offsets",
			lsnString(resume), cfg.SlotName, lsnString(slot.confirmedFlush))
	}
	t.resume = o
	if o.incremental {
		t.pendingPlan, t.pendingDone, t.pendingKeys, t.pendingPaused = o.snapshotPlan, o.snapshotChunks, o.snapshotKeys, o.paused
	}
	return nil
}

func lsnString(l uint64) string { return fmt.Sprintf("%X/%X", uint32(l>>32), uint32(l)) }

// closeConns closes the connections; called by run when it ends (or by
// Start when it fails before run starts).
func (t *Task) closeConns() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if t.repl != nil {
		_ = t.repl.Close(ctx)
	}
	if t.meta != nil {
		_ = t.meta.Close(ctx)
	}
	t.repl, t.meta = nil, nil
}

// emit queues r with its offset o, waiting while the queue is full (in
// records, or in estimated bytes with max.queue.size.in.bytes).
func (t *Task) emit(ctx context.Context, r *connectors.Record, o *offset) error {
	return t.emitAt(ctx, r, o, snapPos{})
}

// emitAt is emit for a snapshot record without an offset of its own:
// pos says what its offset is, should it be the last of a batch.
func (t *Task) emitAt(ctx context.Context, r *connectors.Record, o *offset, pos snapPos) error {
	q := cdc.Queued[snapPos]{R: r, Pos: pos, HasPos: pos.base != nil}
	if t.bytes != nil {
		q.N = cdc.RecordSize(r)
		if err := t.bytes.Acquire(ctx, q.N); err != nil {
			return err
		}
	}
	t.lastEmitted = keyOf(o)
	return t.queue.Put(ctx, q)
}

// waitCommitted waits until every queued record was returned by Poll
// and the offset of the last one returned is committed, so that the
// stored offset is where the task stands. (Snapshot records share an
// offsetKey and most have no offset of their own: the offset maps Poll
// returned are compared instead.)
func (t *Task) waitCommitted(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for t.queue.Len() > 0 || !t.allCommitted() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// allCommitted reports whether the offset of the last record Poll
// returned with one is committed.
func (t *Task) allCommitted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.handed == t.mu.committedMap
}

// pending reports whether a queued record's offset is not committed yet.
// It runs on the task's goroutine, the only writer of lastEmitted.
func (t *Task) pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastEmitted != t.mu.committed
}

// Poll returns up to max.batch.size records, waiting up to
// poll.interval.ms for the first one.
func (t *Task) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if batch := t.take(); len(batch) > 0 {
		return batch, nil
	}
	t.timer.Reset(t.cfg.PollInterval)
	defer t.timer.Stop()
	for {
		select {
		case <-t.queue.Ready():
			// A put since take found the queue empty (or a poke left
			// from an earlier wait: then take finds nothing and waits on).
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.done:
			if batch := t.take(); len(batch) > 0 {
				return batch, nil
			}
			if t.runErr != nil && !errors.Is(t.runErr, context.Canceled) {
				return nil, t.runErr
			}
			// Finished (snapshot.mode=initial_only): idle.
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-t.timer.C:
				return nil, nil
			}
		case <-t.timer.C:
			return nil, nil
		}
		if batch := t.take(); len(batch) > 0 {
			return batch, nil
		}
	}
}

// take takes up to max.batch.size queued records and returns their bytes
// to the budget of max.queue.size.in.bytes; with none queued it arms the
// queue's ready (see cdc.Queue.Take).
func (t *Task) take() []*connectors.Record {
	batch, n, last := t.queue.Take(nil, t.cfg.MaxBatchSize, &t.prog)
	if t.bytes != nil {
		t.bytes.Release(n)
	}
	if last {
		// A snapshot record ends the batch: it carries the offset of
		// everything before it (progress.go).
		batch[len(batch)-1].SourceOffset = t.prog.offsetMap()
	}
	for i := len(batch) - 1; i >= 0; i-- {
		if m := batch[i].SourceOffset; m != nil {
			t.mu.Lock()
			t.mu.handed = reflect.ValueOf(m).UnsafePointer()
			t.mu.Unlock()
			break
		}
	}
	return batch
}

// Commit is told the latest durable offset; the slot may then confirm
// every transaction before it.
func (t *Task) Commit(ctx context.Context, offsets []connectors.SourceOffset) error {
	for _, so := range offsets {
		if so.Partition["server"] != t.cfg.TopicPrefix || so.Offset == nil {
			continue
		}
		o, err := parseOffsetMap(so.Offset)
		if err != nil {
			return fmt.Errorf("committed offset %v: %w", so.Offset, err)
		}
		t.mu.Lock()
		t.mu.committed = keyOf(&o)
		t.mu.committedMap = reflect.ValueOf(so.Offset).UnsafePointer()
		if t.mu.sigMark != nil && (t.mu.committedMap == t.mu.sigMark || !o.snapshot && max(o.lsnProc, o.lsnCommit) > t.mu.sigMarkLSN) {
			t.mu.sigMarkDone = true
		}
		t.mu.Unlock()
		if o.snapshot {
			continue
		}
		if lsn := max(o.lsnProc, o.lsnCommit); lsn > t.flush.Load() {
			t.flush.Store(lsn)
			if c := t.replConn.Load(); c != nil {
				// Wake the stream's reader so it confirms at once.
				_ = c.Conn().SetReadDeadline(time.Now())
			}
		}
	}
	return nil
}

// Stop stops the task's goroutine and closes its connections. It is
// idempotent.
func (t *Task) Stop(ctx context.Context) error {
	if t.cancel == nil {
		return nil
	}
	var err error
	t.stopOnce.Do(func() {
		t.cancel()
		if c := t.replConn.Load(); c != nil {
			_ = c.Conn().SetReadDeadline(time.Now())
		}
		select {
		case <-t.done:
		case <-ctx.Done():
			err = fmt.Errorf("stopping the postgres task: %w", ctx.Err())
			return
		}
		if t.cfg.SlotDropOnStop {
			// The walsender of the closed connection may still hold the
			// slot for a moment; DROP_REPLICATION_SLOT ... WAIT waits.
			conn, cerr := connectReplication(ctx, t.cfg)
			if cerr != nil {
				err = cerr
				return
			}
			defer conn.Close(context.Background())
			if derr := pglogrepl.DropReplicationSlot(ctx, conn, t.cfg.SlotName, pglogrepl.DropReplicationSlotOptions{Wait: true}); derr != nil {
				err = fmt.Errorf("dropping slot %q (slot.drop.on.stop): %w", t.cfg.SlotName, derr)
			}
		}
	})
	return err
}

// run takes the snapshot when planned and then streams. With Kafka
// signals it also runs the signal topic's consumer, until it returns.
func (t *Task) run(ctx context.Context) (err error) {
	if t.signals != nil {
		sctx, stop := context.WithCancel(ctx)
		// A panic in the signal consumer ends run with it as the error.
		var cancelRun context.CancelCauseFunc
		ctx, cancelRun = context.WithCancelCause(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if perr := connectors.Protect(func() error { t.consumeSignals(sctx); return nil }); perr != nil {
				cancelRun(fmt.Errorf("reading the signal topic: %w", perr))
			}
		}()
		defer func() {
			stop()
			wg.Wait()
			var pe *connectors.PanicError
			if cause := context.Cause(ctx); errors.As(cause, &pe) {
				err = cause
			}
			cancelRun(nil)
		}()
	}
	start := t.resume
	tables := map[uint32]*table{}
	if t.snapshot {
		list, err := listTables(ctx, t.meta, t.cfg)
		if err != nil {
			return err
		}
		if err := ensurePublication(ctx, t.meta, t.cfg, list); err != nil {
			return err
		}
		cp, name, err := createSlot(ctx, t.repl, t.cfg.SlotName)
		if err != nil {
			return err
		}
		t.log.Info("replication slot created", "slot", t.cfg.SlotName, "consistent_point", lsnString(cp), "snapshot", name)
		if err := t.runSnapshot(ctx, list, tables, cp, name); err != nil {
			return err
		}
		start = offset{lsnProc: cp}
		if t.cfg.SnapshotMode == SnapshotInitialOnly {
			t.log.Info("snapshot finished; not streaming (snapshot.mode=initial_only)")
			return nil
		}
	} else {
		list, err := listTables(ctx, t.meta, t.cfg)
		if err != nil {
			return err
		}
		if err := ensurePublication(ctx, t.meta, t.cfg, list); err != nil {
			return err
		}
		slot, err := readSlot(ctx, t.meta, t.cfg.SlotName)
		if err != nil {
			return err
		}
		if !slot.exists {
			// snapshot.mode=no_data with no slot yet: create one and
			// stream from its consistent point.
			cp, _, err := createSlot(ctx, t.repl, t.cfg.SlotName)
			if err != nil {
				return err
			}
			start = offset{lsnProc: cp}
		}
	}
	s := newStreamer(t, tables, start)
	if err := s.seedCommits(ctx); err != nil {
		return err
	}
	if t.snapshotAll {
		all := []string{".*"}
		res, _ := cdc.CompileCollections(all)
		if err := s.ExecuteSnapshot(ctx, res, all); err != nil {
			return err
		}
	}
	if t.pendingPlan != "" {
		pending, err := t.pendingChunks(ctx, t.pendingPlan, t.pendingDone, t.pendingKeys, tables)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return s.run(ctx)
		}
		var done []string
		if t.pendingDone != "" {
			done = strings.Split(t.pendingDone, ",")
		}
		s.incr = &incremental{plan: t.pendingPlan, done: done, doneStr: t.pendingDone, pending: pending,
			session: strconv.FormatInt(time.Now().UnixNano(), 36),
			results: make(chan chunkResult, 1), paused: t.pendingPaused, resumed: true}
		s.incr.setKeys()
		t.log.Info("snapshot chunks left to read", "chunks", len(pending), "paused", t.pendingPaused)
	}
	return t.stream(ctx, s)
}

// reconnect replaces both connections.
func (t *Task) reconnect(ctx context.Context) error {
	t.closeConns()
	t.meta, t.repl = nil, nil
	meta, err := connect(ctx, t.cfg)
	if err != nil {
		return err
	}
	t.meta = meta
	repl, err := connectReplication(ctx, t.cfg)
	if err != nil {
		return err
	}
	t.repl = repl
	return nil
}
