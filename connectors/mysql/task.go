package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/cdc/kafkasignal"
)

// Task is the MySQL/MariaDB source task: one goroutine (run) takes the
// snapshot, then streams the binlog, feeding a bounded queue that Poll
// drains.
//
// Concurrency: run owns the connections, the table cache and the
// builder; Poll runs on the runtime's goroutine and only reads the queue;
// Stop may be called from any goroutine. The queue is written only by run
// and never closed; run's end is signalled by closing done, after runErr
// is set.
type Task struct {
	cfg   *Config
	log   *slog.Logger
	b     *cdc.Builder
	db    *sql.DB
	info  *serverInfo
	colls collations
	// binlogTLS is the binlog syncer's TLS configuration (nil for
	// none), decided in setup from database.ssl.mode and, with
	// preferred, from what the query connections got.
	binlogTLS *tls.Config
	// schemaChanges makes the schema change events; lastTables holds
	// the last shape of each captured table (db.table) seen in a table
	// map, for its truncate events. Both are used by run only.
	schemaChanges *schemaChanges
	lastTables    map[string]*table

	queue *cdc.Queue[struct{}]
	// bytes bounds the queue's estimated bytes (max.queue.size.in.bytes);
	// nil when unbounded. run acquires, Poll releases.
	bytes  *cdc.ByteBudget
	done   chan struct{}
	runErr error
	cancel context.CancelFunc
	timer  *time.Timer

	// plan, decided in Start.
	snapshot bool
	resume   offset

	// incr is the chunked snapshot in progress, nil without one (run's).
	incr *incremental
	// ksig is the Kafka signal channel, nil without one.
	ksig *kafkaSignals
	tctx connectors.SourceTaskContext
	// lazy: the runtime takes connectors.LazyStruct values, which the
	// snapshots return (lazy.go).
	lazy bool
}

// NewTask returns an unstarted task.
func NewTask() *Task { return &Task{} }

// Start connects, runs the pre-start checks, decides between snapshot
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
	for _, k := range []string{SchemaHistoryTopic, SchemaHistoryBootstrap} {
		if props[k] != "" {
			// Accepted so that Debezium configs run unchanged; said
			// once, so that nobody believes a history is kept there.
			t.log.Info(k+" is set and not used: column names, keys and types come from the binlog's table-map metadata, so there is no schema history topic", "property", k)
		}
	}
	t.b = newBuilder(cfg)
	t.schemaChanges = newSchemaChanges(cfg, t.b)
	t.lastTables = map[string]*table{}
	t.tctx = tctx
	t.lazy = connectors.LazyValues(tctx)
	if cfg.SignalKafka {
		t.ksig = &kafkaSignals{ch: make(chan kafkasignal.Signal, 1)}
	}
	t.queue = cdc.NewQueue[struct{}](cfg.MaxQueueSize)
	if cfg.MaxQueueBytes > 0 {
		t.bytes = cdc.NewByteBudget(cfg.MaxQueueBytes)
	}
	t.done = make(chan struct{})
	if err := t.setup(ctx, tctx); err != nil {
		if t.db != nil {
			t.db.Close()
		}
		return err
	}
	t.timer = time.NewTimer(time.Hour)
	t.timer.Stop()
	runCtx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	go t.run(runCtx)
	return nil
}

func (t *Task) setup(ctx context.Context, tctx connectors.SourceTaskContext) error {
	cfg := t.cfg
	var err error
	if t.db, err = connect(ctx, cfg); err != nil {
		return err
	}
	info, errs, err := preflight(ctx, t.db, cfg)
	if err != nil {
		return err
	}
	if err := joinErrs(errs); err != nil {
		return err
	}
	t.info = info
	if t.binlogTLS, err = binlogTLS(ctx, t.db, cfg); err != nil {
		return err
	}
	if cfg.SSLMode == SSLPreferred && t.binlogTLS == nil {
		t.log.Warn("connected in plain text: the server offers no TLS (database.ssl.mode=preferred); set database.ssl.mode=verify_identity to insist on TLS", "server", cfg.Addr())
	}
	if t.colls, err = loadCollations(ctx, t.db); err != nil {
		return err
	}
	stored, err := tctx.Offset(ctx, t.b.Partition)
	if err != nil {
		return fmt.Errorf("reading the stored offset: %w", err)
	}
	return t.plan(ctx, stored)
}

// plan decides, from snapshot.mode and the stored offset, whether to
// snapshot and where streaming starts.
func (t *Task) plan(ctx context.Context, stored map[string]any) error {
	mode := t.cfg.SnapshotMode
	if stored != nil {
		o, err := parseOffset(stored)
		if err != nil {
			return err
		}
		if o.snapshot && o.incr != "" && mode != SnapshotInitialOnly && mode != SnapshotNoData {
			// The rest of an interrupted snapshot is read in chunks
			// while streaming from its position.
			present, err := t.binlogPresent(ctx, o.file)
			if err != nil {
				return err
			}
			if present {
				plan, _ := parsePlan(o.incr)
				t.log.Info("resuming an interrupted snapshot: reading what is left in chunks while streaming from its position",
					"tables_left", len(plan.Tables), "file", o.file, "pos", o.pos)
				o.snapshot = false
				t.resume = o
				return nil
			}
			t.log.Warn("the binlog position of an interrupted snapshot is no longer on the server: snapshotting again", "file", o.file, "pos", o.pos)
		}
		if o.snapshot {
			// A snapshot that did not finish is taken again.
			t.log.Info("the stored offset is of an unfinished snapshot: snapshotting again")
			t.snapshot = mode != SnapshotNoData
			if !t.snapshot {
				return t.current(ctx)
			}
			return nil
		}
		if mode == SnapshotAlways {
			t.snapshot = true
			return nil
		}
		present, err := t.binlogPresent(ctx, o.file)
		if err != nil {
			return err
		}
		if !present {
			if mode == SnapshotWhenNeeded {
				t.log.Warn("the stored binlog position is no longer on the server: snapshotting again (snapshot.mode=when_needed)", "file", o.file, "pos", o.pos)
				t.snapshot = true
				return nil
			}
			return &CheckError{Key: SnapshotMode, Reason: fmt.Sprintf("the stored position %s:%d (GTIDs %s) is no longer on the server: the binlog was purged; "+
				"changes since are lost to this connector. Set snapshot.mode=when_needed to snapshot again, or reset the connector's offsets", o.file, o.pos, o.gtids)}
		}
		t.resume = o
		return nil
	}
	switch mode {
	case SnapshotNoData:
		return t.current(ctx)
	default:
		t.snapshot = true
	}
	return nil
}

// current sets resume to the server's current binlog position.
func (t *Task) current(ctx context.Context) error {
	var file string
	var pos uint32
	rows, err := t.db.QueryContext(ctx, "SHOW MASTER STATUS")
	if err != nil {
		return fmt.Errorf("reading the binlog position: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if !rows.Next() {
		return &CheckError{Reason: "SHOW MASTER STATUS returned nothing: the binary log is off; start the server with log-bin"}
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return err
	}
	file = string(vals[0])
	fmt.Sscan(string(vals[1]), &pos)
	rows.Close()
	t.resume = offset{file: file, pos: pos}
	if t.info.mariaDB {
		if err := t.db.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, pos).Scan(&t.resume.gtids); err != nil {
			return fmt.Errorf("reading the GTID position of %s:%d: %w", file, pos, err)
		}
	}
	return nil
}

// binlogPresent reports whether the server still has the binlog file.
func (t *Task) binlogPresent(ctx context.Context, file string) (bool, error) {
	rows, err := t.db.QueryContext(ctx, "SHOW BINARY LOGS")
	if err != nil {
		return false, fmt.Errorf("listing binary logs: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return false, err
		}
		if string(vals[0]) == file {
			return true, nil
		}
	}
	return false, rows.Err()
}

// run is the task's goroutine: snapshot, then stream.
func (t *Task) run(ctx context.Context) {
	var err error
	defer func() {
		t.runErr = err
		close(t.done)
	}()
	if t.ksig != nil {
		// The signal topic's consumer runs as long as run, and is
		// waited for before done closes; a panic in it ends run with it
		// as the error.
		sctx, stop := context.WithCancel(ctx)
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
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				err = cause
			}
			cancelRun(nil)
		}()
	}
	err = connectors.Protect(func() error {
		if t.snapshot && t.cfg.MaxThreads > 1 {
			// Parallel: every table in chunks while streaming from
			// the position before the first chunk (incremental.go).
			if err := t.chunkedSnapshot(ctx); err != nil {
				return err
			}
		} else if t.snapshot {
			o, err := t.takeSnapshot(ctx)
			if err != nil {
				return err
			}
			t.resume = o
			if t.cfg.SnapshotMode == SnapshotInitialOnly {
				t.log.Info("snapshot done; not streaming (snapshot.mode=initial_only)")
				<-ctx.Done()
				return nil
			}
		}
		if t.resume.incr != "" {
			plan, err := parsePlan(t.resume.incr)
			if err != nil {
				return err
			}
			if len(plan.Tables) > 0 {
				t.incr = newIncremental(plan, t.cfg.MaxThreads)
				t.log.Info("chunked snapshot under way: reading what is left while streaming", "tables_left", len(plan.Tables),
					"initial", plan.Initial, "paused", plan.Paused, "threads", t.incr.threads)
			}
			t.resume.incr = ""
		}
		defer func() {
			if t.incr != nil {
				t.incr.close()
			}
		}()
		return t.stream(ctx, t.resume)
	})
	if ctx.Err() != nil && err != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
}

// put queues a record, waiting while the queue is full (in records, or
// in estimated bytes with max.queue.size.in.bytes). While a chunked
// snapshot runs, its plan goes into every offset, so that a restart from
// any of them reads only what is left.
func (t *Task) put(ctx context.Context, r *connectors.Record) error {
	if r.SourceOffset != nil && t.incr != nil && t.incr.enc != "" {
		r.SourceOffset[offsetIncremental] = t.incr.enc
	}
	q := cdc.Queued[struct{}]{R: r}
	if t.bytes != nil {
		q.N = cdc.RecordSize(r)
		if err := t.bytes.Acquire(ctx, q.N); err != nil {
			return err
		}
	}
	return t.queue.Put(ctx, q)
}

type noProgress struct{}

func (noProgress) Note(*struct{}) {}

// Poll returns the next batch of records, waiting at most
// poll.interval.ms for one.
func (t *Task) Poll(ctx context.Context) ([]*connectors.Record, error) {
	deadline := time.Now().Add(t.cfg.PollInterval)
	for {
		recs, n, _ := t.queue.Take(nil, t.cfg.MaxBatchSize, noProgress{})
		if t.bytes != nil {
			t.bytes.Release(n)
		}
		if len(recs) > 0 {
			return recs, nil
		}
		select {
		case <-t.done:
			if t.queue.Len() > 0 {
				continue
			}
			if t.runErr != nil {
				return nil, t.runErr
			}
			return nil, nil
		default:
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, nil
		}
		t.timer.Reset(wait)
		select {
		case <-t.queue.Ready():
		case <-t.done:
		case <-t.timer.C:
		case <-ctx.Done():
			t.timer.Stop()
			return nil, ctx.Err()
		}
		t.timer.Stop()
	}
}

// Stop ends the task's goroutine and closes its connections.
func (t *Task) Stop(ctx context.Context) error {
	if t.cancel == nil {
		return nil
	}
	t.cancel()
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return t.db.Close()
}
