package jdbc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Task is the JDBC sink task. Put decodes and buffers records, writing a
// transaction whenever batch.size records are buffered; Flush writes the
// rest and returns the offsets every written transaction made durable.
//
// Put and Flush are called from one goroutine, and so are Open and Close
// (connectors.PartitionWatcher) between them. Stop may be called from
// another: it cancels a running Put or Flush (a statement, a retry
// back-off), waits for it to return and closes the connection.
type Task struct {
	// stopping is cancelled by Stop; Put and Flush stop waiting on it.
	stopping context.Context
	stop     context.CancelFunc

	mu   sync.Mutex // held by Put, Flush and Stop
	cfg  *Config
	log  *slog.Logger
	tctx connectors.SinkTaskContext
	d    dialect
	dec  *decoder
	buf  *buffer
	meta metaCache
	// pending are the next offsets of the records in buf; durable those
	// of committed transactions.
	pending, durable map[connectors.TopicPartition]int64
	// traces names the source transactions of the records in buf.
	traces traceSet
}

// NewTask returns an unstarted task.
func NewTask() *Task { return &Task{} }

// Start parses props and connects to the database.
func (t *Task) Start(ctx context.Context, tctx connectors.SinkTaskContext, props map[string]string) error {
	cfg, err := ParseConfig(props)
	if err != nil {
		return err
	}
	t.cfg = cfg
	t.tctx = tctx
	t.stopping, t.stop = context.WithCancel(context.Background())
	t.log = slog.Default()
	if tctx != nil && tctx.Logger() != nil {
		t.log = tctx.Logger()
	}
	d, err := newDialect(ctx, cfg)
	if err != nil {
		return err
	}
	t.d = d
	t.dec = &decoder{cfg: cfg, shapes: map[shapeKey]*shape{}, names: map[string]tableName{}, dialect: d}
	t.buf = newBuffer()
	t.meta = metaCache{}
	t.pending = map[connectors.TopicPartition]int64{}
	t.durable = map[connectors.TopicPartition]int64{}
	return nil
}

func newDialect(ctx context.Context, cfg *Config) (dialect, error) {
	switch cfg.URL.Dialect {
	case DialectPostgres:
		return newPostgres(ctx, cfg)
	default:
		return newMySQL(ctx, cfg)
	}
}

// Put decodes records into the buffer. A record that cannot be decoded
// fails the task with a *connectors.RecordError naming it.
func (t *Task) Put(ctx context.Context, records []*connectors.Record) error {
	ctx, cancel := t.withStop(ctx)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		return errors.New("jdbc sink task is stopped")
	}
	for _, r := range records {
		c, err := t.dec.decode(r)
		switch {
		case errors.Is(err, errSkip):
		case err != nil:
			if err := t.errant(ctx, r, err); err != nil {
				return err
			}
		default:
			id := t.traces.idOf(r.Headers)
			if c.e != nil {
				c.e.rec.trace = id
			}
			if !t.buf.add(c) {
				// Same key (or table truncated) in another partition:
				// write what is buffered so the buffer never mixes
				// two partitions' changes of one row.
				if err := t.writeBuffered(ctx); err != nil {
					return err
				}
				t.buf.add(c)
			}
			t.traces.add(id)
		}
		t.pending[connectors.TopicPartition{Topic: r.Topic, Partition: r.Partition}] = r.Offset + 1
		if t.buf.n >= t.cfg.BatchSize {
			if err := t.writeBuffered(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// Flush writes what is buffered and returns the next offset of every
// partition whose records are committed in the database.
func (t *Task) Flush(ctx context.Context, current map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	ctx, cancel := t.withStop(ctx)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		return maps.Clone(t.durable), errors.New("jdbc sink task is stopped")
	}
	if err := t.writeBuffered(ctx); err != nil {
		return maps.Clone(t.durable), err
	}
	return maps.Clone(t.durable), nil
}

// Open implements connectors.PartitionWatcher. A partition newly assigned
// starts with no buffered records and no offsets: anything left from an
// earlier time the task owned it is forgotten, so it is never reported
// durable over the progress of the task that owned it meanwhile.
func (t *Task) Open(_ context.Context, partitions []connectors.TopicPartition) error {
	t.forget(partitions)
	return nil
}

// Close implements connectors.PartitionWatcher: it drops the records
// buffered for partitions taken away from the task and their offsets,
// without writing anything, and Flush no longer reports them.
//
// The runtime follows Kafka Connect: when partitions are revoked (a
// rebalance the task takes part in) it first calls Flush, which writes
// everything buffered, and commits the revoked partitions' offsets; then
// Close finds nothing of theirs left to drop. When partitions are lost
// (the task was dropped from the group: another task may already own
// them) the runtime calls Close alone: rows buffered for them are never
// written, since the new owner writes them again, possibly newer ones
// first, and their offsets are never committed by this task.
func (t *Task) Close(_ context.Context, partitions []connectors.TopicPartition) error {
	t.forget(partitions)
	return nil
}

func (t *Task) forget(partitions []connectors.TopicPartition) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buf == nil {
		return
	}
	gone := make(map[partitionRef]bool, len(partitions))
	for _, tp := range partitions {
		gone[partitionRef{tp.Topic, tp.Partition}] = true
		delete(t.pending, tp)
		delete(t.durable, tp)
	}
	t.buf.drop(func(p partitionRef) bool { return gone[p] })
}

// withStop returns ctx, also cancelled when Stop is called.
func (t *Task) withStop(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	unhook := context.AfterFunc(t.stopping, cancel)
	return ctx, func() { unhook(); cancel() }
}

// Stop cancels a running Put or Flush and closes the connection. What
// was not flushed is dropped: its offsets were never reported durable.
func (t *Task) Stop(ctx context.Context) error {
	if t.stop != nil {
		t.stop()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		return nil
	}
	err := t.d.close(ctx)
	t.d = nil
	return err
}

// writeBuffered writes the buffer in one transaction, retrying retriable
// failures, and moves its offsets to durable once committed.
func (t *Task) writeBuffered(ctx context.Context) error {
	if t.buf.empty() {
		maps.Copy(t.durable, t.pending)
		clear(t.pending)
		return nil
	}
	backoff := t.cfg.RetryBackoff
	refreshed := false
	for attempt := 0; ; attempt++ {
		err := t.apply(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("writing batch: %w", ctx.Err())
		}
		var se *SchemaError
		if !refreshed && !errors.As(err, &se) && !t.d.retriable(err) {
			// The table may have been altered under us (a dropped
			// column, a widened type another task applied): read it
			// again and re-prepare statements, once.
			refreshed = true
			clear(t.meta)
			t.d.forget(ctx)
			attempt--
			continue
		}
		if !t.d.retriable(err) {
			if !errors.As(err, &se) {
				if e, rerr := t.diagnose(ctx); rerr != nil {
					r := &connectors.Record{Topic: e.rec.topic, Partition: e.rec.partition, Offset: e.rec.offset}
					if err := t.errant(ctx, r, rerr); err != nil {
						return err
					}
					// Reported as errant (dead letter queue): write the
					// batch without it.
					e.skip = true
					attempt--
					continue
				}
			}
			return fmt.Errorf("writing batch to %s%s: %w", t.cfg.URL, &t.traces, err)
		}
		if attempt >= t.cfg.MaxRetries {
			// Still retriable: the runtime retries the batch for
			// errors.retry.timeout and then opens the sink's circuit
			// breaker (the database is down) rather than failing.
			return connectors.Retry(fmt.Errorf("writing batch to %s%s failed after %d retries (max.retries): %w", t.cfg.URL, &t.traces, attempt, err))
		}
		t.log.Warn("retrying batch", append([]any{"attempt", attempt + 1, "max.retries", t.cfg.MaxRetries, "backoff", backoff, "error", err}, t.traces.attrs()...)...)
		t.d.reset(ctx)
		clear(t.meta)
		if err := sleepCtx(ctx, backoff); err != nil {
			return fmt.Errorf("writing batch: %w", err)
		}
		backoff = min(backoff*2, 10*t.cfg.RetryBackoff)
	}
	if t.log.Enabled(ctx, slog.LevelDebug) {
		t.log.Debug("wrote batch", append([]any{"records", t.buf.n}, t.traces.attrs()...)...)
	}
	maps.Copy(t.durable, t.pending)
	clear(t.pending)
	t.buf.reset()
	t.traces.reset()
	return nil
}

// apply ensures the tables and writes the buffer in one transaction.
func (t *Task) apply(ctx context.Context) error {
	ws := make([]*tableWrite, 0, len(t.buf.order))
	for _, tb := range t.buf.order {
		meta, err := t.ensure(ctx, tb)
		if err != nil {
			return err
		}
		if meta == nil {
			continue
		}
		w, err := buildWrite(tb, meta, t.cfg.InsertMode)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	if len(ws) == 0 {
		return nil
	}
	return t.d.write(ctx, ws, true)
}

// errant hands a record that cannot be written to the runtime: with
// errors.tolerance=all it goes to the dead letter queue and errant returns
// nil, otherwise the task fails with the returned error.
func (t *Task) errant(ctx context.Context, r *connectors.Record, err error) error {
	if t.tctx == nil {
		return err
	}
	return t.tctx.Errant(ctx, r, err)
}

// diagnose looks for the record a non-retriable batch error comes from,
// by bisecting each table's entries in transactions it rolls back. It
// returns the entry and a *connectors.RecordError naming the record (and
// the column when the database says), or nil when no single row fails on
// its own.
func (t *Task) diagnose(ctx context.Context) (*entry, error) {
	for _, tb := range t.buf.order {
		meta := t.meta[tb.name.String()]
		if meta == nil {
			continue
		}
		try := func(es []*entry) error {
			w, err := buildWrite(&tableBuf{name: tb.name, entries: es}, meta, t.cfg.InsertMode)
			if err != nil {
				return err
			}
			return t.d.write(ctx, []*tableWrite{w}, false)
		}
		es := tb.entries
		if try(es) == nil {
			continue
		}
		es = slices.DeleteFunc(slices.Clone(es), func(e *entry) bool { return e.skip })
		for len(es) > 1 {
			half := len(es) / 2
			if err := try(es[:half]); err != nil {
				if t.d.retriable(err) {
					return nil, nil
				}
				es = es[:half]
				continue
			}
			if err := try(es[half:]); err == nil || t.d.retriable(err) {
				// Only the two halves together fail (a conflict between
				// rows): no one record to blame.
				return nil, nil
			}
			es = es[half:]
		}
		err := try(es)
		if err == nil || t.d.retriable(err) {
			return nil, nil
		}
		r := es[0].rec
		trace := ""
		if r.trace != "" {
			trace = " (trace " + r.trace + ")"
		}
		return es[0], &connectors.RecordError{Topic: r.topic, Partition: r.partition, Offset: r.offset, Column: t.d.errColumn(err),
			Err: fmt.Errorf("table %s rejected the row%s: %w", tb.name, trace, err)}
	}
	return nil, nil
}

// buildWrite groups a table's entries into statements: upserts by shape
// and set of unavailable columns, deletes by shape.
func buildWrite(tb *tableBuf, meta *tableMeta, mode string) (*tableWrite, error) {
	w := &tableWrite{table: tb.name, truncate: tb.truncate}
	type gk struct {
		sh      *shape
		op      op
		unavail string
	}
	groups := map[gk]*group{}
	for _, e := range tb.entries {
		if e.skip {
			continue
		}
		k := gk{sh: e.shape, op: e.op, unavail: e.unavailKey()}
		g, ok := groups[k]
		if !ok {
			g = &group{}
			for i, c := range e.shape.cols {
				if e.op == opDelete && !c.pk {
					continue
				}
				if e.unavail != nil && e.unavail[i] {
					continue
				}
				cm := meta.find(c.name)
				if cm == nil {
					return nil, &SchemaError{Table: tb.name.String(), Column: c.name, Reason: "no such column"}
				}
				if c.pk {
					g.pk = append(g.pk, len(g.names))
				} else {
					g.upd = append(g.upd, len(g.names))
				}
				g.names = append(g.names, cm.name)
				g.types = append(g.types, cm.typ)
				if isIsoTemporal(c) && classify(cm.typ).family == "text" {
					// A text column (made for these strings before the
					// sink knew them) keeps getting Debezium's text.
					c = &column{name: c.name, schema: c.schema, kind: kString, optional: c.optional, pk: c.pk, src: c.src, idx: c.idx}
				}
				g.cols = append(g.cols, c)
			}
			if e.op == opDelete || mode != ModeInsert {
				if len(g.pk) == 0 {
					return nil, &SchemaError{Table: tb.name.String(), Reason: "no primary key columns in the record; set primary.key.mode"}
				}
			}
			groups[k] = g
			if e.op == opDelete {
				w.deletes = append(w.deletes, g)
			} else {
				w.upserts = append(w.upserts, g)
			}
		}
		row := make([]any, 0, len(g.names))
		for i, c := range e.shape.cols {
			if e.op == opDelete && !c.pk {
				continue
			}
			if e.unavail != nil && e.unavail[i] {
				continue
			}
			v := e.vals[i]
			if g.cols[len(row)] != c {
				v = isoText(c, v)
			}
			row = append(row, v)
		}
		g.rows = append(g.rows, row)
	}
	return w, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

var _ connectors.PartitionWatcher = (*Task)(nil)
