package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sourceRunner runs one source task: poll → transforms → converters →
// idempotent producer; offsets of records Kafka acknowledged are flushed
// every offset.flush.interval.ms and then handed to the task's Commit.
//
// Back-pressure: the producer buffers at most
// sluice.producer.max.buffered.records/bytes; beyond that Produce blocks,
// and so does the loop, so Poll is not called again until Kafka catches
// up. With sluice.rate.limit.* set, the loop also waits for tokens before
// Poll and before handing each record to the producer (see ratelimit.go).
type sourceRunner struct {
	id   api.TaskID
	task connectors.SourceTask
	// standing reports whether the worker may still act for the task
	// (Herder.standing); nil: always.
	standing func() bool
	props    map[string]string
	chain    *transforms.Chain
	keyConv  converter.Converter
	valConv  converter.Converter
	producer *kgo.Client
	sec      *kafkaSecurity // the producer's, for messages
	// kafkaConfig is the worker's consumer security properties, for
	// clients the task makes (connectors.KafkaClientConfig).
	kafkaConfig              map[string]string
	offsets                  offsets.Store
	logger                   *slog.Logger
	flushEvery, flushTimeout time.Duration
	retry                    retryPolicy
	onRunning                func()
	// scratch is the task's scratch directory (connectors.ScratchDir).
	scratch string
	// onProblem shows what a running task reports as wrong (nil: clear).
	onProblem func(error)

	// createTopic makes sure a topic exists (creating it as the
	// connector's topic.creation.* say) before the task's first record to
	// it is produced; an error fails the task.
	createTopic func(ctx context.Context, topic string) error
	// topicGone is told that producing found a topic missing, so that it
	// is checked (and created) again after the task restarts.
	topicGone func(topic string)
	// onTopic is called the first time the task writes to a topic.
	onTopic func(topic string)
	// topics are the topics the task created or found, so that the
	// per-record path pays one map lookup.
	topics map[string]bool

	tracker *tracker
	// produceErr holds the first produce failure (or a panic in a promise
	// or in the task's Commit); the loop stops on it.
	produceErr atomic.Pointer[error]
	// pending are offsets taken from the tracker whose commit failed;
	// they are retried at the next flush unless newer ones replace them.
	pending map[string]connectors.SourceOffset

	pause *pauser
	// slab is the slab keys and values are converted into; slabs come
	// from slabs and go back there once every record in them is done.
	slab  *encSlab
	slabs *slabPool[byte]
	// rslab is the slab the records handed to the producer are taken
	// from, recycled the same way through rslabs.
	rslab  *recSlab
	rslabs *slabPool[sentRecord]
	// hdrs is the current poll's slab of record headers.
	hdrs []kgo.RecordHeader
	// bufferedBytes and bufferedRecords are
	// sluice.producer.max.buffered.bytes and .records.
	bufferedBytes   int64
	bufferedRecords int
	// lazy is set when no transform runs and both converters encode
	// connectors.LazyStruct values: the task may then return them.
	lazy bool
	// promise is r.done, made once: a method value per record would cost
	// an allocation each.
	promise func(*kgo.Record, error)
	// limit is the task's share of sluice.rate.limit.*; nil when unset.
	limit *limiter
	// eos, when set, makes the task write exactly once (eos.go): the
	// producer is transactional and offsets commit in its transactions.
	eos *eosState
	// scratchOffsets is commitTxn's reused map for the offsets it drains.
	scratchOffsets map[string]connectors.SourceOffset
	// staged is a batch prepareAll converted while the previous
	// transaction committed, waiting for emitAll.
	staged []prepared
	// errs applies errors.* (errors.go) to the transform and converter
	// stages.
	errs *errorHandler
	// keyClass, valClass and chainClass name the converters and the
	// transforms, for errors and the dead letter queue's headers.
	keyClass, valClass, chainClass string
	// taskClass is the connector's class, the class of a record its
	// task marked failed (Record.Failure).
	taskClass string
}

// sentRecord is a record handed to the producer with what its promise
// needs; the promise gets the embedded kgo.Record back and finds the rest
// around it.
type sentRecord struct {
	kgo.Record
	ks, vs *encSlab
	rs     *recSlab // the slab this record is in
	tk     ticket
}

// pauser lets the herder pause and resume a task loop.
type pauser struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{}
	// pausing, when not nil, is closed at the next pause (see
	// pausedChan).
	pausing chan struct{}
}

// closedChan is a closed channel.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// pausedChan returns a channel that is closed when the task is paused
// (at once when it is now), for a wait that must notice a pause.
func (p *pauser) pausedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		return closedChan
	}
	if p.pausing == nil {
		p.pausing = make(chan struct{})
	}
	return p.pausing
}

func (p *pauser) set(paused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if paused == p.paused {
		return
	}
	p.paused = paused
	if paused {
		p.resume = make(chan struct{})
		if p.pausing != nil {
			close(p.pausing)
			p.pausing = nil
		}
	} else {
		close(p.resume)
	}
}

// wait blocks while paused; it reports false when ctx ended.
func (p *pauser) wait(ctx context.Context) bool {
	p.mu.Lock()
	ch := p.resume
	paused := p.paused
	p.mu.Unlock()
	if !paused {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}

type sourceTaskContext struct {
	lazy      bool
	connector string
	offsets   offsets.Store
	logger    *slog.Logger
	scratch   string
	problem   func(error)
	kafka     map[string]string
}

// KafkaClientConfig implements connectors.KafkaClientConfigContext.
func (c *sourceTaskContext) KafkaClientConfig() map[string]string { return c.kafka }

func (c *sourceTaskContext) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	return c.offsets.Get(ctx, c.connector, partition)
}
func (c *sourceTaskContext) Logger() *slog.Logger { return c.logger }
func (c *sourceTaskContext) LazyValues() bool     { return c.lazy }
func (c *sourceTaskContext) ScratchDir() string   { return c.scratch }
func (c *sourceTaskContext) ReportProblem(err error) {
	if c.problem != nil {
		c.problem(err)
	}
}

const slabSize = 256 << 10

// offsetsOpenTxnsNotice is how long a starting exactly-once task waits for
// the transactions open on the offsets topic before it logs that it does.
const offsetsOpenTxnsNotice = 5 * time.Second

// readOffsetsToEnd reads the offsets topic to its end before the task
// starts. With exactly-once, the offsets are written in transactions and
// read committed: the task's latest offset may lie behind another
// producer's open transaction on the same partition (another task, or the
// zombie of a crashed worker until its transaction times out), past the
// last stable offset, where a plain ReadToEnd stops. Resuming from the
// offset before it would send again what was committed: the task waits
// for those transactions to end instead, saying so after a while.
func (r *sourceRunner) readOffsetsToEnd(ctx context.Context) error {
	if r.eos != nil {
		if s, ok := r.offsets.(interface{ ReadPastOpenTxns(context.Context) error }); ok {
			notice := time.AfterFunc(offsetsOpenTxnsNotice, func() {
				r.logger.Warn("waiting for the transactions open on the offsets topic to end before reading the task's offsets "+
					"(a transaction of another task, or of a worker that stopped, holds the partition; it ends at its transaction timeout at the latest)",
					"waited", offsetsOpenTxnsNotice)
			})
			defer notice.Stop()
			return s.ReadPastOpenTxns(ctx)
		}
	}
	if s, ok := r.offsets.(interface{ ReadToEnd(context.Context) error }); ok {
		return s.ReadToEnd(ctx)
	}
	return nil
}

// run runs the task until ctx ends (nil) or it fails (the error).
func (r *sourceRunner) run(ctx context.Context) (err error) {
	r.tracker = newTracker()
	r.pending = map[string]connectors.SourceOffset{}
	r.scratchOffsets = map[string]connectors.SourceOffset{}
	r.lazy = r.chain.Len() == 0 && converter.EncodesLazy(r.keyConv) && converter.EncodesLazy(r.valConv)
	r.promise = r.done
	tctx := &sourceTaskContext{lazy: r.lazy, connector: r.id.Connector, offsets: r.offsets, logger: r.logger, scratch: r.scratch, problem: r.onProblem,
		kafka: r.kafkaConfig}
	if r.eos != nil {
		// Before reading the offsets: the previous instance's open
		// transaction is aborted and it can commit nothing more.
		if err := fenceProducer(ctx, r.producer, r.eos.txnID); err != nil {
			r.producer.Close()
			return fmt.Errorf("fencing the task's previous instance before it starts: %w", err)
		}
	}
	// The task reads its offsets as it starts: first read what every
	// worker wrote to the offsets topic, so it resumes from the latest.
	if err := r.readOffsetsToEnd(ctx); err != nil {
		r.producer.Close()
		return fmt.Errorf("reading the offsets topic to its end before starting the task: %w", err)
	}
	if err := connectors.Protect(func() error { return r.task.Start(ctx, tctx, r.props) }); err != nil {
		r.producer.Close()
		return fmt.Errorf("starting task: %w", err)
	}
	r.onRunning()
	// Records handed to the producer before a failure (a record that
	// cannot be converted, say) are valid: deliver them and commit their
	// offsets, unless producing itself is what failed.
	defer func() { err = errors.Join(err, r.shutdown(err == nil || r.produceErr.Load() == nil)) }()
	defer r.limit.stop()

	lastFlush := time.Now()
	var retryStart time.Time
	for {
		if e := r.produceErr.Load(); e != nil {
			return *e
		}
		if ctx.Err() != nil || !r.pause.wait(ctx) {
			return nil
		}
		// Poll is not called while the rate limit allows no record: the
		// back-pressure reaches the source.
		if r.limit != nil && r.limit.wait(ctx) != nil {
			return nil
		}
		recs, err := r.poll(ctx)
		if err != nil {
			if r.eos != nil {
				// The previous transaction committed meanwhile (or failed).
				if cerr := r.awaitTxn(ctx); cerr != nil {
					return cerr
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			if connectors.Retriable(err) {
				if retryStart.IsZero() {
					retryStart = time.Now()
				}
				if d, ok := r.retry.next(retryStart); ok {
					r.logger.Warn("poll failed; retrying", "error", err, "in", d)
					sleepCtx(ctx, d)
					continue
				}
			}
			return fmt.Errorf("polling: %w", err)
		}
		retryStart, r.retry.attempt = time.Time{}, 0
		nh := 0
		for _, rec := range recs {
			nh += len(rec.Headers)
		}
		r.hdrs = make([]kgo.RecordHeader, 0, nh)
		ahead := r.eos != nil && r.eos.committing != nil
		if ahead {
			// The previous transaction is committing: transform and
			// convert this batch meanwhile, so that its records are ready
			// to produce the moment it ends. Their tickets are taken, and
			// they are produced, only after it did (emitAll): until then
			// the commit owns the tracker.
			r.prepareAll(ctx, recs)
			if cerr := r.awaitTxn(ctx); cerr != nil {
				r.discardStaged(0)
				return cerr
			}
		}
		if len(recs) > 0 && !awaitStanding(ctx, r.standing, r.logger) {
			// The task was stopped while its worker had lost its
			// standing: the batch is not sent, and its offsets are
			// not committed, so the task's owner sends it.
			r.discardStaged(0)
			return nil
		}
		if r.eos != nil && len(recs) > 0 {
			if err := r.beginTxn(); err != nil {
				r.discardStaged(0)
				return err
			}
		}
		if ahead {
			err = r.emitAll(ctx)
		} else {
			err = r.sendAll(ctx, recs)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if r.eos != nil {
			if r.txnDue() {
				r.commitTxnAsync(ctx)
			}
		} else if time.Since(lastFlush) >= r.flushEvery {
			r.commit(ctx)
			lastFlush = time.Now()
		}
	}
}

// poll calls the task's Poll; a panic is returned as its error.
func (r *sourceRunner) poll(ctx context.Context) (recs []*connectors.Record, err error) {
	err = connectors.Protect(func() error {
		recs, err = r.task.Poll(ctx)
		return err
	})
	return recs, err
}

// sendAll sends a polled batch, each record produced as soon as it is
// converted; a panic in a transform or a converter is returned as the
// error.
func (r *sourceRunner) sendAll(ctx context.Context, recs []*connectors.Record) error {
	return connectors.Protect(func() error {
		for _, rec := range recs {
			p := r.prepare(ctx, rec)
			if err := r.emit(ctx, &p); err != nil {
				return err
			}
		}
		return nil
	})
}

// prepared is a polled record transformed and converted, not yet handed
// to the producer nor given its ticket (emit does both).
type prepared struct {
	rec *connectors.Record
	// sr is the record to produce; nil when there is none.
	sr *sentRecord
	// fail, when set, is the stage the record failed at: emit hands it to
	// tolerate.
	fail *failure
	// err, when set, fails the task at this record, after the records
	// before it were sent.
	err error
}

// prepareAll transforms and converts a polled batch into r.staged, up to
// and including the first record that fails the task (its err set); a
// panic in a transform or a converter becomes that record's err.
func (r *sourceRunner) prepareAll(ctx context.Context, recs []*connectors.Record) {
	r.staged = r.staged[:0]
	if r.staged == nil {
		r.staged = make([]prepared, 0, len(recs))
	}
	i := 0
	err := connectors.Protect(func() error {
		for ; i < len(recs); i++ {
			r.staged = append(r.staged, r.prepare(ctx, recs[i]))
			if r.staged[len(r.staged)-1].err != nil {
				break
			}
		}
		return nil
	})
	if err != nil {
		r.staged = append(r.staged, prepared{rec: recs[i], err: err})
	}
}

// emitAll gives the records prepareAll staged their tickets and produces
// them, in order; it stops at the first error, dropping the records after
// it. r.staged is empty (not nil) after it.
func (r *sourceRunner) emitAll(ctx context.Context) error {
	i := 0
	err := connectors.Protect(func() error {
		for ; i < len(r.staged); i++ {
			if err := r.emit(ctx, &r.staged[i]); err != nil {
				return err
			}
		}
		return nil
	})
	r.discardStaged(i + 1)
	return err
}

// discardStaged releases what the staged records from index from on hold
// (they are not produced) and empties r.staged.
func (r *sourceRunner) discardStaged(from int) {
	for i := from; i < len(r.staged); i++ {
		r.staged[i].discard()
	}
	clear(r.staged)
	r.staged = r.staged[:0]
}

// discard releases the slabs of a prepared record that is not produced.
func (p *prepared) discard() {
	if p.sr == nil {
		return
	}
	for _, sl := range []*encSlab{p.sr.ks, p.sr.vs} {
		if sl != nil {
			sl.release()
		}
	}
	p.sr.rs.release()
	p.sr = nil
}

// emit takes a prepared record's ticket and produces it (or hands its
// failure to tolerate, or acknowledges it when there is nothing to
// produce).
func (r *sourceRunner) emit(ctx context.Context, p *prepared) error {
	rec := p.rec
	tk, err := r.tracker.submit(rec.SourcePartition, rec.SourceOffset)
	if err != nil {
		p.discard()
		return fmt.Errorf("source partition of a record for topic %s: %w", rec.Topic, err)
	}
	switch {
	case rec.Failure != nil:
		return r.setAside(ctx, rec, tk)
	case p.err != nil:
		return p.err
	case p.fail != nil:
		return r.tolerate(ctx, rec, tk, *p.fail)
	case p.sr == nil:
		// An offset marker, or dropped by a transform: done once the
		// records before it are.
		r.tracker.ack(tk)
		return nil
	}
	p.sr.tk = tk
	r.producer.Produce(ctx, &p.sr.Record, r.promise)
	p.sr = nil
	return nil
}

// prepare transforms and converts one record; it neither takes its ticket
// nor produces it (emit).
func (r *sourceRunner) prepare(ctx context.Context, rec *connectors.Record) prepared {
	if rec.Failure != nil || rec.Topic == "" {
		// Set aside by the task, or an offset marker: nothing to
		// convert.
		return prepared{rec: rec}
	}
	if !r.lazy {
		// A task that returns lazy values without being offered them.
		if err := rec.Materialize(); err != nil {
			return prepared{rec: rec, err: fmt.Errorf("record for topic %s at source offset %v: %w", rec.Topic, rec.SourceOffset, err)}
		}
	}
	var out *connectors.Record
	err := r.errs.retrying(ctx, "transforming a record", func() (err error) {
		out, err = r.chain.Apply(rec)
		return err
	})
	if err != nil {
		return prepared{rec: rec, fail: &failure{stage: StageTransformation, class: r.chainClass,
			err: fmt.Errorf("record for topic %s at source offset %v: %w", rec.Topic, rec.SourceOffset, err)}}
	}
	if out == nil {
		// Dropped by a transform: counts as done.
		return prepared{rec: rec}
	}
	if r.limit != nil {
		if err := r.limit.wait(ctx); err != nil {
			return prepared{rec: rec, err: fmt.Errorf("waiting for the rate limit: %w", err)}
		}
	}
	var key, val []byte
	var ks, vs *encSlab
	err = r.errs.retrying(ctx, "converting a key", func() (err error) {
		key, ks, err = r.encode(r.keyConv, out.Topic, out.KeySchema, out.Key, nil)
		return err
	})
	if err != nil {
		return prepared{rec: rec, fail: &failure{stage: StageKeyConverter, class: r.keyClass,
			err: fmt.Errorf("converting the key of a record for topic %s at source offset %v: %w", out.Topic, rec.SourceOffset, err)}}
	}
	// When the value lands in the key's slab, the key's use covers it: a
	// record's key and value are released together.
	err = r.errs.retrying(ctx, "converting a value", func() (err error) {
		val, vs, err = r.encode(r.valConv, out.Topic, out.ValueSchema, out.Value, ks)
		return err
	})
	if err != nil {
		if ks != nil {
			ks.release()
		}
		return prepared{rec: rec, fail: &failure{stage: StageValueConverter, class: r.valClass,
			err: fmt.Errorf("converting the value of a record for topic %s at source offset %v: %w", out.Topic, rec.SourceOffset, err)}}
	}
	if !r.topics[out.Topic] {
		if err := r.createTopic(ctx, out.Topic); err != nil {
			for _, sl := range []*encSlab{ks, vs} {
				if sl != nil {
					sl.release()
				}
			}
			return prepared{rec: rec, err: fmt.Errorf("record for topic %s at source offset %v: %w", out.Topic, rec.SourceOffset, err)}
		}
		if r.topics == nil {
			r.topics = map[string]bool{}
		}
		r.topics[out.Topic] = true
		r.onTopic(out.Topic)
	}
	// Records come from recycled slabs and headers from a per-poll slab:
	// no allocation per record.
	sr := r.nextRecord()
	*sr = sentRecord{Record: kgo.Record{Topic: out.Topic, Key: key, Value: val, Timestamp: out.Timestamp}, ks: ks, vs: vs, rs: sr.rs}
	kr := &sr.Record
	if out.PinPartition {
		kr.Partition, kr.Context = out.Partition, pinnedCtx
	}
	if len(out.Headers) > 0 {
		if cap(r.hdrs)-len(r.hdrs) < len(out.Headers) {
			r.hdrs = make([]kgo.RecordHeader, 0, len(out.Headers))
		}
		start := len(r.hdrs)
		for _, h := range out.Headers {
			r.hdrs = append(r.hdrs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
		kr.Headers = r.hdrs[start:len(r.hdrs):len(r.hdrs)]
	}
	if r.limit != nil {
		r.limit.charge(1, len(key)+len(val))
	}
	return prepared{rec: rec, sr: sr}
}

// done is the promise of every produced record.
//
// It runs on the producer's goroutine: a panic here is recovered and
// fails the task like a produce error.
func (r *sourceRunner) done(kr *kgo.Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			e := error(connectors.NewPanicError(p))
			r.produceErr.CompareAndSwap(nil, &e)
		}
	}()
	// kr is the Record at the start of a sentRecord (see send).
	sr := (*sentRecord)(unsafe.Pointer(kr))
	// The producer is done with the record and its bytes either way; the
	// record's slab goes last, once nothing here reads the record.
	ks, vs, rs, tk := sr.ks, sr.vs, sr.rs, sr.tk
	defer rs.release()
	if ks != nil {
		ks.release()
	}
	if vs != nil {
		vs.release()
	}
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			e := fmt.Errorf("producing to topic %s: %w", kr.Topic, err)
			if pinned(kr) {
				e = fmt.Errorf("producing to partition %d of topic %s, where the source task put the record: %w", kr.Partition, kr.Topic, err)
			}
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				// Created or found at the task's first record to it, and
				// gone now: deleted meanwhile. The restarted task creates
				// it again.
				r.topicGone(kr.Topic)
				e = fmt.Errorf("producing to topic %s: %w; the topic existed when the task first wrote to it and is gone now "+
					"(deleted?); the task creates it again when it restarts", kr.Topic, err)
			}
			if d := denied(err, "Write", kr.Topic, r.sec); d != nil {
				e = d
			}
			r.produceErr.CompareAndSwap(nil, &e)
		}
		return
	}
	r.tracker.ack(tk)
}

// nextRecord returns the next free record of the current record slab,
// with a use of the slab taken for it (sr.rs) that its promise releases.
func (r *sourceRunner) nextRecord() *sentRecord {
	if r.rslab == nil || len(r.rslab.buf) == cap(r.rslab.buf) {
		if r.rslab != nil {
			r.rslab.release()
		}
		if r.rslabs == nil {
			r.rslabs = newSlabPool[sentRecord](recSlabSize, r.recSlabPoolSize())
		}
		r.rslab = r.rslabs.get()
	}
	s := r.rslab
	s.buf = s.buf[:len(s.buf)+1]
	s.refs.Add(1)
	sr := &s.buf[len(s.buf)-1]
	sr.rs = s
	return sr
}

// recSlabSize is the number of records in a record slab (~100 KiB).
const recSlabSize = 512

// recSlabPoolSize is how many idle record slabs a task keeps: enough for
// the records the producer may hold (sluice.producer.max.buffered.records),
// and at most 128.
func (r *sourceRunner) recSlabPoolSize() int {
	return max(8, min(r.bufferedRecords/recSlabSize+2, 128))
}

// encode converts into the current slab so that most records cost no
// allocation of their own. When the bytes are in a slab, it returns that
// slab with one more use, which the caller releases once the producer is
// done with the record: until then the slab is not written again.
//
// When the bytes land in held, a slab the caller already holds a use of for
// this record, no use is added and the slab returned is nil.
func (r *sourceRunner) encode(c converter.Converter, topic string, s *connectors.Schema, v any, held *encSlab) ([]byte, *encSlab, error) {
	if r.slab == nil || cap(r.slab.buf)-len(r.slab.buf) < 4096 {
		r.retireSlab()
		if r.slabs == nil {
			r.slabs = newSlabPool[byte](slabSize, slabPoolSize(r.bufferedBytes))
		}
		r.slab = r.slabs.get()
	}
	sl := r.slab
	start := len(sl.buf)
	b, err := c.Encode(sl.buf[start:start], topic, s, v)
	if err != nil {
		return nil, nil, err
	}
	if b == nil {
		return nil, nil, nil
	}
	if len(b) > 0 && cap(b) == cap(sl.buf)-start && &b[0] == &sl.buf[start : start+1][0] {
		sl.buf = sl.buf[:start+len(b)]
		if sl == held {
			return b[:len(b):len(b)], nil, nil
		}
		sl.refs.Add(1)
		return b[:len(b):len(b)], sl, nil
	}
	// The converter outgrew the slab's free space: it allocated. The
	// slab's tail may hold a partial write; retire it.
	r.retireSlab()
	return b, nil, nil
}

// retireSlab stops writing into the current slab and drops the runner's
// use of it.
func (r *sourceRunner) retireSlab() {
	if r.slab != nil {
		r.slab.release()
		r.slab = nil
	}
}

// slabPoolSize is how many idle slabs a task keeps: as many as the
// producer may hold records in (sluice.producer.max.buffered.bytes, 32
// slabs by default), and at least 16. One produce response frees many
// slabs at once; a smaller pool dropped them, and the next ones were
// allocated and zeroed afresh, half the task's garbage. The slabs in flight
// and the idle ones together stay within about twice the buffered bytes.
func slabPoolSize(bufferedBytes int64) int {
	return int(max(16, min(bufferedBytes/slabSize+4, 256)))
}

// commit writes the offsets Kafka acknowledged and tells the task.
func (r *sourceRunner) commit(ctx context.Context) {
	r.tracker.committable(r.pending)
	if len(r.pending) == 0 {
		return
	}
	if r.standing != nil && !r.standing() {
		// Its new owner may have committed newer offsets already: these
		// would take the task back. They stay pending; if the worker's
		// standing returns, the next flush commits them.
		r.logger.Debug("not committing source offsets: this worker may no longer own the task")
		return
	}
	batch := make([]connectors.SourceOffset, 0, len(r.pending))
	for _, o := range r.pending {
		batch = append(batch, o)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.flushTimeout)
	defer cancel()
	if err := r.offsets.Put(cctx, r.id.Connector, batch); err != nil {
		r.logger.Warn("committing source offsets failed; retrying at the next flush", "error", err)
		return
	}
	clear(r.pending)
	r.taskCommit(cctx, batch)
}

// taskCommit tells the task that the offsets in batch are committed.
func (r *sourceRunner) taskCommit(cctx context.Context, batch []connectors.SourceOffset) {
	if c, ok := r.task.(connectors.SourceCommitter); ok {
		if err := connectors.Protect(func() error { return c.Commit(cctx, batch) }); err != nil {
			var pe *connectors.PanicError
			if errors.As(err, &pe) {
				// A panic is a bug, not a passing failure: fail the task.
				e := fmt.Errorf("task commit: %w", err)
				r.produceErr.CompareAndSwap(nil, &e)
			}
			r.logger.Warn("task commit failed", "error", err)
		}
	}
}

// shutdown waits for records in flight (when stopping cleanly), commits
// what was acknowledged, and stops the task.
func (r *sourceRunner) shutdown(clean bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.flushTimeout)
	defer cancel()
	if r.eos != nil {
		// Exactly once: commit what the stopping task sent, or (after a
		// failure) abort it; nothing is committed outside a transaction.
		// A commit still running (commitTxnAsync) ends first: it is
		// bounded by the transaction timeout, and owns the transaction
		// until it does.
		err := r.awaitTxn(ctx)
		if err != nil {
			r.logger.Warn("the last transaction failed to commit; its records are sent again after restart", "error", err)
		} else if clean {
			if err = r.commitTxn(ctx); err != nil {
				r.logger.Warn("committing the last transaction at stop failed; its records are sent again after restart", "error", err)
			}
		}
		if !clean || err != nil {
			r.abortTxn(ctx)
		}
		r.producer.Close()
		if err := connectors.Protect(func() error { return r.task.Stop(ctx) }); err != nil {
			return fmt.Errorf("stopping task: %w", err)
		}
		return nil
	}
	if clean {
		if err := r.producer.Flush(ctx); err != nil {
			r.logger.Warn("records still in flight at stop; they will be sent again after restart", "in_flight", r.tracker.inFlight())
		}
	}
	// Acknowledged records are durable whatever happened afterwards, so
	// their offsets are committed even when the task failed.
	r.commit(ctx)
	r.producer.Close()
	if err := connectors.Protect(func() error { return r.task.Stop(ctx) }); err != nil {
		return fmt.Errorf("stopping task: %w", err)
	}
	return nil
}
