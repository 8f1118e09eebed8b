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
	id                       api.TaskID
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
	retry                    retryPolicy
	onRunning                func()

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
	// panicked is a panic in the task's Open or Close, recovered on the
	// client's goroutine that ran the rebalance callback; the loop fails
	// the task with it.
	panicked error
	// stopping is set after the final flush: the revoke callback run by
	// leaving the group does not flush again.
	stopping bool
}

type sinkTaskContext struct {
	logger  *slog.Logger
	scratch string
}

func (c *sinkTaskContext) Logger() *slog.Logger { return c.logger }
func (c *sinkTaskContext) ScratchDir() string   { return c.scratch }

// Errant fails the task with err: errors.tolerance=all and the dead
// letter queue come with the error-handling release.
func (c *sinkTaskContext) Errant(_ context.Context, r *connectors.Record, err error) error {
	return &connectors.RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
}

// convertError is the task's failure on a record the key or value
// converter cannot read: it names the converter property and the two ways
// out, fixing the converter or skipping the record (until
// errors.tolerance=all comes with the error-handling release).
func (r *sinkRunner) convertError(side string, kr *kgo.Record, err error) error {
	return &connectors.RecordError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Err: fmt.Errorf(
		"converting %s: %w; the record is not in the format %s.converter reads: set %s.converter (and its %s.converter.* settings, "+
			"such as %s.converter.schemas.enable) to what the topic's producers write, or skip the record: stop the connector and "+
			"PATCH /connectors/%s/offsets with kafka_offset %d for topic %s partition %d",
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
		return r.task.Start(ctx, &sinkTaskContext{logger: r.logger, scratch: r.scratch}, r.props)
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

// put converts a fetch and hands it to the task, retrying retriable
// failures with the same batch.
func (r *sinkRunner) put(ctx context.Context, fs kgo.Fetches) error {
	if fs.NumRecords() == 0 {
		return nil
	}
	batch := make([]*connectors.Record, 0, fs.NumRecords())
	recs := make([]connectors.Record, fs.NumRecords())
	next := map[connectors.TopicPartition]int64{}
	first := map[connectors.TopicPartition]int64{}
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
		if _, ok := next[tp]; !ok {
			first[tp] = kr.Offset
		}
		next[tp] = kr.Offset + 1
		var err error
		if rec.KeySchema, rec.Key, err = r.keyConv.Decode(kr.Topic, kr.Key); err != nil {
			convErr = r.convertError("key", kr, err)
			return
		}
		if rec.ValueSchema, rec.Value, err = r.valConv.Decode(kr.Topic, kr.Value); err != nil {
			convErr = r.convertError("value", kr, err)
			return
		}
		if len(kr.Headers) > 0 {
			rec.Headers = make([]connectors.Header, len(kr.Headers))
			for j, h := range kr.Headers {
				rec.Headers[j] = connectors.Header{Key: h.Key, Value: h.Value}
			}
		}
		out, err := r.chain.Apply(rec)
		if err != nil {
			convErr = &connectors.RecordError{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Err: err}
			return
		}
		if out != nil {
			batch = append(batch, out)
		}
	})
	if convErr != nil {
		return convErr
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var retryStart time.Time
	for {
		err := connectors.Protect(func() error { return r.task.Put(ctx, batch) })
		if err == nil {
			break
		}
		if connectors.Retriable(err) && ctx.Err() == nil {
			if retryStart.IsZero() {
				retryStart = time.Now()
			}
			if d, ok := r.retry.next(retryStart); ok {
				r.logger.Warn("put failed; retrying the same batch", "error", err, "in", d)
				sleepCtx(ctx, d)
				continue
			}
		}
		r.failed = true
		return fmt.Errorf("put: %w", err)
	}
	r.retry.attempt = 0
	for tp, o := range next {
		r.current[tp] = o
		if _, ok := r.first[tp]; !ok {
			r.first[tp] = first[tp]
		}
	}
	return nil
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
			r.logger.Error("opening partitions failed", "error", err)
			r.notePanic(err)
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
	if errors.As(err, &pe) && r.panicked == nil {
		r.panicked = fmt.Errorf("rebalance callback: %w", err)
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
	if e := connectors.Protect(func() error { return r.task.Stop(ctx) }); e != nil {
		err = errors.Join(err, fmt.Errorf("stopping task: %w", e))
	}
	return err
}
