package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sinkRunner runs one sink task: a member of consumer group
// connect-<connector> polls → converters → transforms → Put; every
// offset.flush.interval.ms (and before partitions are revoked) Flush asks
// the task what is durable and only those offsets are committed to the
// group.
//
// Only partitions the task owns are committed: a partition's offset is
// committed only between its assignment and its revocation, only once
// records of it were handed to Put since it was assigned, and only when
// it lies between the first of them and the last (what the task reports
// of another partition, or of an earlier time it owned this one, is never
// committed, so the group's offsets never go back). Flush and commit run
// before the loop allows a rebalance, so the client cannot have moved
// the partitions in between. Lost partitions are never flushed or
// committed; the task hears of them through connectors.PartitionWatcher.
//
// Back-pressure: the loop does not poll again until Put returned, and the
// consumer buffers at most what one fetch brings. With sluice.rate.limit.*
// set, the loop waits for tokens before polling and polls no more records
// than the limit allows now (see ratelimit.go): the consumer stops
// fetching instead of buffering.
type sinkRunner struct {
	id api.TaskID
	// standing reports whether the worker may still act for the task
	// (Herder.standing); nil: always.
	standing                 func() bool
	task                     connectors.SinkTask
	props                    map[string]string
	chain                    *transforms.Chain
	keyConv                  converter.Converter
	valConv                  converter.Converter
	clientOpts               []kgo.Opt
	sec                      *kafkaSecurity // the consumer's, for messages
	maxPoll                  int
	logger                   *slog.Logger
	flushEvery, flushTimeout time.Duration
	onRunning                func()
	// onProblem shows a problem the running task recovers from (the
	// open circuit breaker) in its status trace; nil clears it.
	onProblem func(error)
	// errs applies errors.* (errors.go); brk is the circuit breaker
	// (breaker.go), guarded by mu.
	errs *errorHandler
	brk  breaker
	// keyClass, valClass and chainClass name the converters and the
	// transforms, connClass the connector, for errors and the dead
	// letter queue's headers.
	keyClass, valClass, chainClass, connClass string

	// onTopics is told the topics of newly assigned partitions.
	onTopics func(topics []string)

	pause *pauser
	// limit is the task's share of sluice.rate.limit.*; nil when unset.
	limit *limiter

	// stopTimeout is task.shutdown.graceful.timeout.ms: how long the task
	// may take to stop once its context ends, at stopDeadline (unix ns;
	// 0 until then).
	stopTimeout  time.Duration
	stopDeadline atomic.Int64

	// scratch is the task's scratch directory (connectors.ScratchDir).
	scratch string

	// mu serializes the task's Put/Flush between the loop and the
	// rebalance callbacks, and guards current, failed, stopping and
	// panicked.
	mu      sync.Mutex
	current map[connectors.TopicPartition]int64
	// first is the offset of the first record of each partition handed
	// to Put since the partition was assigned: the lowest offset the
	// task may commit for it.
	first  map[connectors.TopicPartition]int64
	failed bool
	client *kgo.Client
	// panicked is a panic in the task's Open or Close, or an error of
	// Open that is not retriable, caught on the client's goroutine that
	// ran the rebalance callback; the loop fails the task with it.
	panicked error
	// stopping is set after the final flush: the revoke callback run by
	// leaving the group does not flush again.
	stopping bool
	// delivering is the batch Put is running with, for Errant to find
	// the consumed records.
	delivering *delivery
	// origTopics maps a topic a transform renamed records to back to the
	// consumed topic, for Errant to read a record again by its offset.
	origTopics map[string]string
}

type sinkTaskContext struct {
	logger  *slog.Logger
	scratch string
	r       *sinkRunner
}

func (c *sinkTaskContext) Logger() *slog.Logger { return c.logger }
func (c *sinkTaskContext) ScratchDir() string   { return c.scratch }

// Errant reports a record the task cannot write (Connect's
// ErrantRecordReporter): with errors.tolerance=all it is logged, written
// to the dead letter queue when one is set, and Errant returns nil;
// otherwise Errant returns the error the task fails with. It is called
// from the task's Put or Flush.
func (c *sinkTaskContext) Errant(ctx context.Context, r *connectors.Record, err error) error {
	return c.r.errant(ctx, r, err)
}

// convertError is the task's failure on a record the key or value
// converter cannot read: it names the converter property and the ways
// out, fixing the converter or skipping the record.
func (r *sinkRunner) convertError(side string, kr *kgo.Record, err error) error {
	return &connectors.RecordError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Err: fmt.Errorf(
		"converting %s: %w; the record is not in the format %s.converter reads: set %s.converter (and its %s.converter.* settings, "+
			"such as %s.converter.schemas.enable) to what the topic's producers write, or skip the record: "+
			"stop the connector and PATCH /connectors/%s/offsets with kafka_offset %d for topic %s partition %d",
		side, err, side, side, side, side, r.id.Connector, kr.Offset+1, kr.Topic, kr.Partition)}
}

// consumerGroup returns Kafka Connect's group id for a sink connector.
func consumerGroup(connector string) string { return "connect-" + connector }

func (r *sinkRunner) run(ctx context.Context) (err error) {
	r.current = map[connectors.TopicPartition]int64{}
	r.first = map[connectors.TopicPartition]int64{}
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(consumerGroup(r.id.Connector)),
		kgo.ClientID(fmt.Sprintf("connector-consumer-%s-%d", r.id.Connector, r.id.Task)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
	}, r.clientOpts...)
	// The client joins the group at once, and its rebalance callbacks
	// take r.mu before calling the task: holding r.mu until Start
	// returned keeps Open from running before (or during) Start.
	r.mu.Lock()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		r.mu.Unlock()
		return fmt.Errorf("creating consumer: %w", err)
	}
	r.client = cl
	err = connectors.Protect(func() error {
		return r.task.Start(ctx, &sinkTaskContext{logger: r.logger, scratch: r.scratch, r: r}, r.props)
	})
	r.mu.Unlock()
	if err != nil {
		cl.Close()
		return fmt.Errorf("starting task: %w", err)
	}
	r.onRunning()
	unhook := context.AfterFunc(ctx, func() { r.stopDeadline.Store(time.Now().Add(r.stopTimeout).UnixNano()) })
	defer unhook()
	defer func() { err = errors.Join(err, r.shutdown(err == nil)) }()
	defer r.limit.stop()

	lastFlush := time.Now()
	for {
		if ctx.Err() != nil || !r.pause.wait(ctx) {
			return nil
		}
		if r.breakerOpen() {
			// Nothing is polled while the breaker is open: probe, and
			// keep committing what earlier batches made durable.
			if err := r.probe(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if time.Since(lastFlush) >= r.flushEvery {
				if err := r.flushAndCommit(ctx); err != nil {
					return err
				}
				lastFlush = time.Now()
			}
			continue
		}
		maxPoll := r.maxPoll
		if r.limit != nil {
			// The group may rebalance meanwhile: the last iteration
			// allowed it.
			if r.limit.wait(ctx) != nil {
				continue // ctx ended: stop above
			}
			maxPoll = r.limit.allowance(maxPoll)
		}
		pctx, cancel := context.WithTimeout(ctx, r.flushEvery)
		fs := cl.PollRecords(pctx, maxPoll)
		cancel()
		if r.limit != nil {
			r.limit.charge(fs.NumRecords(), fetchedBytes(fs))
		}
		if ctx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		var fetchErr error
		fs.EachError(func(t string, p int32, e error) {
			if !errors.Is(e, context.DeadlineExceeded) && !errors.Is(e, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("consuming %s[%d]: %w", t, p, e)
				if d := denied(e, "Read", t, r.sec); d != nil {
					fetchErr = d
				} else if d := groupDenied(e, consumerGroup(r.id.Connector), r.sec); d != nil {
					fetchErr = d
				}
			}
		})
		if fetchErr != nil {
			cl.AllowRebalance()
			return fetchErr
		}
		r.mu.Lock()
		perr := r.panicked
		r.mu.Unlock()
		if perr != nil {
			cl.AllowRebalance()
			return perr
		}
		if fs.NumRecords() > 0 && !awaitStanding(ctx, r.standing, r.logger) {
			// Stopped while the worker had lost its standing: the
			// records are the partitions' next owner's to write.
			cl.AllowRebalance()
			return nil
		}
		// A panic in a converter or a transform fails the task like a
		// record's conversion error does (Put's own is caught in put).
		if err := connectors.Protect(func() error { return r.put(ctx, fs) }); err != nil {
			cl.AllowRebalance()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if time.Since(lastFlush) >= r.flushEvery {
			// Before AllowRebalance: the partitions committed are
			// still this task's.
			if err := r.flushAndCommit(ctx); err != nil {
				cl.AllowRebalance()
				return err
			}
			lastFlush = time.Now()
		}
		cl.AllowRebalance()
	}
}

// fetchedBytes is the size of the keys and values of the records in fs.
func fetchedBytes(fs kgo.Fetches) int {
	n := 0
	for it := fs.RecordIter(); !it.Done(); {
		kr := it.Next()
		n += len(kr.Key) + len(kr.Value)
	}
	return n
}

// put converts a fetch and hands it to the task (deliver). A record that
// fails at a converter or a transform is handled by errors.* (tolerate).
func (r *sinkRunner) put(ctx context.Context, fs kgo.Fetches) error {
	if fs.NumRecords() == 0 {
		return nil
	}
	d := &delivery{
		batch: make([]*connectors.Record, 0, fs.NumRecords()),
		origs: make([]*kgo.Record, 0, fs.NumRecords()),
		next:  map[connectors.TopicPartition]int64{},
		first: map[connectors.TopicPartition]int64{},
	}
	recs := make([]connectors.Record, fs.NumRecords())
	var convErr error
	i := 0
	fs.EachRecord(func(kr *kgo.Record) {
		if convErr != nil {
			return
		}
		rec := &recs[i]
		i++
		*rec = connectors.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp}
		tp := connectors.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}
		if _, ok := d.next[tp]; !ok {
			d.first[tp] = kr.Offset
		}
		d.next[tp] = kr.Offset + 1
		out, err := r.convert(ctx, kr, rec)
		if err != nil {
			convErr = err
			return
		}
		if out != nil {
			if out.Topic != kr.Topic {
				r.noteRenamed(out.Topic, kr.Topic)
			}
			d.batch = append(d.batch, out)
			d.origs = append(d.origs, kr)
		}
	})
	if convErr != nil {
		return convErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliver(ctx, d, false)
}

// convert decodes and transforms one consumed record; nil is a record
// skipped (errors.tolerance=all) or dropped by a transform. A retriable
// failure is retried for errors.retry.timeout.
func (r *sinkRunner) convert(ctx context.Context, kr *kgo.Record, rec *connectors.Record) (*connectors.Record, error) {
	err := r.errs.retrying(ctx, "converting a key", func() (err error) {
		rec.KeySchema, rec.Key, err = r.keyConv.Decode(kr.Topic, kr.Key)
		return err
	})
	if err != nil {
		return nil, r.tolerate(ctx, kr, failure{stage: StageKeyConverter, class: r.keyClass, err: r.convertError("key", kr, err)})
	}
	err = r.errs.retrying(ctx, "converting a value", func() (err error) {
		rec.ValueSchema, rec.Value, err = r.valConv.Decode(kr.Topic, kr.Value)
		return err
	})
	if err != nil {
		return nil, r.tolerate(ctx, kr, failure{stage: StageValueConverter, class: r.valClass, err: r.convertError("value", kr, err)})
	}
	if len(kr.Headers) > 0 {
		rec.Headers = make([]connectors.Header, len(kr.Headers))
		for j, h := range kr.Headers {
			rec.Headers[j] = connectors.Header{Key: h.Key, Value: h.Value}
		}
	}
	var out *connectors.Record
	err = r.errs.retrying(ctx, "transforming a record", func() (err error) {
		out, err = r.chain.Apply(rec)
		return err
	})
	if err != nil {
		return nil, r.tolerate(ctx, kr, failure{stage: StageTransformation, class: r.chainClass,
			err: &connectors.RecordError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Err: err}})
	}
	return out, nil
}

// tolerate handles a consumed record that failed at a stage: it logs it
// (errors.log.enable) and writes it to the dead letter queue (when set),
// then returns nil under errors.tolerance=all and the error the task
// fails with otherwise. A record that cannot be written to the dead
// letter queue fails the task: it would be lost.
func (r *sinkRunner) tolerate(ctx context.Context, kr *kgo.Record, f failure) error {
	h := r.errs
	if h == nil {
		return &StageError{Stage: f.stage, Class: f.class, Err: f.err}
	}
	if h.policy.logEnable {
		attrs := []any{"stage", f.stage, "class", f.class, "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset,
			"error", f.err, "tolerated", h.policy.tolerateAll}
		if h.policy.logMessages {
			attrs = append(attrs, "key", kr.Key, "value", kr.Value, "headers", kr.Headers)
		}
		r.logger.Warn("record failed", attrs...)
	}
	if h.dlq != nil {
		if err := h.dlq.writeSink(ctx, kr, f, h.scrub); err != nil {
			return fmt.Errorf("%s stage: %w (the record failed with: %v)", f.stage, err, f.err)
		}
		h.reported.Add(1)
	}
	if !h.policy.tolerateAll {
		return &StageError{Stage: f.stage, Class: f.class, Err: f.err}
	}
	h.tolerated.Add(1)
	return nil
}

// deliver hands d to Put; r.mu is held. A retriable failure is retried
// with back-off for errors.retry.timeout and then opens the circuit
// breaker (or fails the task when it is off); a probe (probing) tries
// once. A failure the task pins on one record of the batch (a
// *connectors.RecordError) is handled by tolerate and the rest of the
// batch offered again.
func (r *sinkRunner) deliver(ctx context.Context, d *delivery, probing bool) error {
	r.delivering = d
	defer func() { r.delivering = nil }()
	p := r.errs.policyOf().retry
	var retryStart time.Time
	for {
		err := connectors.Protect(func() error { return r.task.Put(ctx, d.batch) })
		if err == nil {
			break
		}
		if connectors.Retriable(err) && ctx.Err() == nil {
			if probing {
				r.brk.cause = err
				return nil
			}
			if retryStart.IsZero() {
				retryStart = time.Now()
			}
			if w, ok := p.next(retryStart); ok {
				r.logger.Warn("put failed; retrying the same batch", "error", err, "in", w)
				sleepCtx(ctx, w)
				continue
			}
			if r.brk.enabled {
				r.openBreaker(d, err)
				return nil
			}
		}
		if j := d.find(err); j >= 0 && ctx.Err() == nil {
			if terr := r.tolerate(ctx, d.origs[j], failure{stage: StageTaskPut, class: r.connClass, err: err}); terr != nil {
				r.failed = true
				return terr
			}
			// Skipped: offer the rest of the batch again.
			d.batch = append(d.batch[:j], d.batch[j+1:]...)
			d.origs = append(d.origs[:j], d.origs[j+1:]...)
			retryStart = time.Time{}
			continue
		}
		r.failed = true
		return fmt.Errorf("put: %w", err)
	}
	if probing {
		r.closeBreaker()
	}
	for tp, o := range d.next {
		r.current[tp] = o
		if _, ok := r.first[tp]; !ok {
			r.first[tp] = d.first[tp]
		}
	}
	return nil
}

// find returns the index in the batch of the record err names (a
// *connectors.RecordError), or -1.
func (d *delivery) find(err error) int {
	var re *connectors.RecordError
	if !errors.As(err, &re) {
		return -1
	}
	for i, rec := range d.batch {
		if rec.Topic == re.Topic && rec.Partition == re.Partition && rec.Offset == re.Offset {
			return i
		}
	}
	return -1
}

// errant handles a record the task reports through
// SinkTaskContext.Errant, from its Put or Flush (r.mu is held).
func (r *sinkRunner) errant(ctx context.Context, rec *connectors.Record, err error) error {
	var re *connectors.RecordError
	if !errors.As(err, &re) || re.Topic != rec.Topic || re.Partition != rec.Partition || re.Offset != rec.Offset {
		err = &connectors.RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: err}
	}
	f := failure{stage: StageTaskPut, class: r.connClass, err: err}
	kr, ferr := r.original(ctx, rec)
	if ferr != nil {
		if !r.errs.policyOf().tolerateAll {
			return &StageError{Stage: f.stage, Class: f.class, Err: err}
		}
		return fmt.Errorf("%w; and the record cannot be read again for the dead letter queue: %v", err, ferr)
	}
	return r.tolerate(ctx, kr, f)
}

// original finds the consumed record a record handed to Put came from: in
// the batch being put, or (a record of an earlier batch the task still
// buffered) read again from Kafka when there is a dead letter queue to
// write it to.
func (r *sinkRunner) original(ctx context.Context, rec *connectors.Record) (*kgo.Record, error) {
	if d := r.delivering; d != nil {
		for i, b := range d.batch {
			if b == rec || (b.Topic == rec.Topic && b.Partition == rec.Partition && b.Offset == rec.Offset) {
				return d.origs[i], nil
			}
		}
	}
	topic := rec.Topic
	if t, ok := r.origTopics[topic]; ok {
		topic = t
	}
	if r.errs == nil || r.errs.dlq == nil {
		// Only its coordinates are needed, for the log.
		return &kgo.Record{Topic: topic, Partition: rec.Partition, Offset: rec.Offset}, nil
	}
	return r.errs.dlq.original(ctx, topic, rec.Partition, rec.Offset)
}

// noteRenamed remembers that a transform renamed topic from to to.
func (r *sinkRunner) noteRenamed(to, from string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.origTopics == nil {
		r.origTopics = map[string]string{}
	}
	if _, ok := r.origTopics[to]; !ok && len(r.origTopics) < 4096 {
		r.origTopics[to] = from
	}
}

// flushAndCommit asks the task what is durable and commits exactly that.
func (r *sinkRunner) flushAndCommit(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked(ctx, nil)
}

// flushLocked flushes and commits; only limits the commit to some
// partitions (nil: all).
func (r *sinkRunner) flushLocked(ctx context.Context, only map[string][]int32) error {
	if r.failed || r.stopping || len(r.current) == 0 {
		return nil
	}
	if r.standing != nil && !r.standing() {
		// The partitions may be another task's now, which may have
		// written newer records of the same rows: what this task holds
		// is not written over them (the owner writes it again).
		r.logger.Debug("not flushing: this worker may no longer own the task")
		return nil
	}
	cur := make(map[connectors.TopicPartition]int64, len(r.current))
	for tp, o := range r.current {
		cur[tp] = o
	}
	fctx, cancel := r.flushContext(ctx)
	defer cancel()
	var durable map[connectors.TopicPartition]int64
	err := connectors.Protect(func() (err error) {
		durable, err = r.task.Flush(fctx, cur)
		return err
	})
	if err != nil {
		if connectors.Retriable(err) {
			r.logger.Warn("flush failed; nothing committed, retrying later", "error", err)
			return nil
		}
		r.failed = true
		return fmt.Errorf("flush: %w", err)
	}
	commit := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range durable {
		if only != nil && !contains(only[tp.Topic], tp.Partition) {
			continue
		}
		if f, ok := r.first[tp]; !ok || o < f || o > r.current[tp] {
			// Not owned now, or not from this ownership.
			continue
		}
		if commit[tp.Topic] == nil {
			commit[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		commit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	if len(commit) == 0 {
		return nil
	}
	var commitErr error
	r.client.CommitOffsetsSync(fctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && commitErr == nil {
					commitErr = fmt.Errorf("committing %s[%d]: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if commitErr != nil {
		// The data is durable in the sink; a failed commit only means
		// it is written again after a restart (the sink is idempotent).
		r.logger.Warn("committing consumer offsets failed; will retry", "error", commitErr)
	}
	return nil
}

// flushContext bounds a flush and its commit: by ctx's deadline when it
// has one (the final flush of a stop), otherwise by
// offset.flush.timeout.ms + 30 s; and once ctx ends (the task is told to
// stop mid-flush) by task.shutdown.graceful.timeout.ms more. A flush is
// not cut short by the stop itself: what it makes durable is committed.
func (r *sinkRunner) flushContext(ctx context.Context) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.flushTimeout+30*time.Second)
	if dl, ok := ctx.Deadline(); ok {
		var cancelDL context.CancelFunc
		fctx, cancelDL = context.WithDeadline(fctx, dl)
		outer := cancel
		cancel = func() { cancelDL(); outer() }
	}
	var mu sync.Mutex
	var grace *time.Timer
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if fctx.Err() == nil {
			grace = time.AfterFunc(time.Until(r.deadline()), cancel)
		}
	})
	return fctx, func() {
		stop()
		mu.Lock()
		if grace != nil {
			grace.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// deadline is when the task must have stopped: stopTimeout after its
// context ended, or from now when it has not (the task failed).
func (r *sinkRunner) deadline() time.Time {
	if ns := r.stopDeadline.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now().Add(r.stopTimeout)
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func toTPs(m map[string][]int32) []connectors.TopicPartition {
	var out []connectors.TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, connectors.TopicPartition{Topic: t, Partition: p})
		}
	}
	return out
}

func (r *sinkRunner) assigned(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	topics := make([]string, 0, len(m))
	for t := range m {
		topics = append(topics, t)
	}
	r.onTopics(topics)
	if w, ok := r.task.(connectors.PartitionWatcher); ok {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := connectors.Protect(func() error { return w.Open(ctx, toTPs(m)) }); err != nil {
			if connectors.Retriable(err) {
				// The task tries again itself (the S3 sink recovers its
				// position at the partition's next Put).
				r.logger.Warn("opening partitions failed; the task retries", "error", err)
			} else {
				// As Kafka Connect fails a task whose open() throws.
				r.logger.Error("opening partitions failed", "error", err)
				r.failCallback(fmt.Errorf("opening partitions %v: %w", toTPs(m), err))
			}
		}
	}
}

// revoked flushes and commits the partitions being taken away before the
// group moves them, so the next owner starts where this one stopped.
func (r *sinkRunner) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.flushLocked(ctx, m); err != nil {
		r.logger.Error("flush before rebalance failed", "error", err)
	}
	r.forget(ctx, m)
}

// lost drops partitions without committing: another member may own them.
func (r *sinkRunner) lost(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forget(ctx, m)
}

func (r *sinkRunner) forget(ctx context.Context, m map[string][]int32) {
	for _, tp := range toTPs(m) {
		delete(r.current, tp)
		delete(r.first, tp)
	}
	// Records the open breaker holds for them are the next owner's.
	r.dropHeld(toTPs(m))
	if w, ok := r.task.(connectors.PartitionWatcher); ok {
		if err := connectors.Protect(func() error { return w.Close(ctx, toTPs(m)) }); err != nil {
			r.logger.Warn("closing partitions failed", "error", err)
			r.notePanic(err)
		}
	}
}

// notePanic records a panic of the task's Open or Close for the loop to
// fail the task with; r.mu is held.
func (r *sinkRunner) notePanic(err error) {
	var pe *connectors.PanicError
	if errors.As(err, &pe) {
		r.failCallback(fmt.Errorf("rebalance callback: %w", err))
	}
}

// failCallback records the error of a rebalance callback that fails the
// task (the first one): the loop returns it. r.mu is held.
func (r *sinkRunner) failCallback(err error) {
	if r.panicked == nil {
		r.panicked = err
		r.failed = true
	}
}

// shutdown flushes and commits (when stopping cleanly), leaves the group
// and stops the task, within task.shutdown.graceful.timeout.ms: a sink
// whose Flush hangs (its database unreachable) used to take twice
// offset.flush.timeout.ms + 30 s, once here and once more in the revoke
// callback run by leaving the group.
func (r *sinkRunner) shutdown(clean bool) error {
	ctx, cancel := context.WithDeadline(context.Background(), r.deadline())
	defer cancel()
	// What Put took is flushed and committed unless the task failed
	// (flushLocked checks), also when the loop ended on an error of its
	// own (a fetch or conversion error), as leaving the group used to.
	err := r.flushAndCommit(ctx)
	if !clean && err != nil {
		r.logger.Warn("final flush of a failing task failed", "error", err)
		err = nil
	}
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	r.client.AllowRebalance()
	if e := r.client.LeaveGroupContext(ctx); e != nil {
		r.logger.Warn("leaving the consumer group did not finish within task.shutdown.graceful.timeout.ms; "+
			"its partitions move once the session times out", "error", e)
	}
	r.client.Close()
	r.errs.close()
	if e := connectors.Protect(func() error { return r.task.Stop(ctx) }); e != nil {
		err = errors.Join(err, fmt.Errorf("stopping task: %w", e))
	}
	return err
}
