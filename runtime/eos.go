package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/sluice-cdc/sluice/runtime/offsetstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once source support (KIP-618).
//
// With exactly.once.source.support=enabled every source task writes
// through a transactional producer whose id is <group.id>-<connector>-<task>:
// the records of one poll (transaction.boundary=poll) or of
// transaction.boundary.interval.ms (interval), and the source offsets of
// those records, commit in one transaction. A read_committed consumer sees
// a source change once: the offsets that say it was sent are committed
// with it or not at all. The task's Commit (which confirms a PostgreSQL
// slot) runs only after the transaction committed.
//
// Zombies: a task instance fences the previous instance of its id
// (InitProducerID) before it reads its offsets, so an instance left on a
// worker that lost the pool can commit nothing more, and its open
// transaction is aborted rather than holding back the offsets topic's last
// stable offset. When a connector's task count shrinks, the leader fences
// the ids of the removed tasks before it writes the new task configs.

// Properties of exactly-once source support.
const (
	eosDisabled  = "disabled"
	eosPreparing = "preparing"
	eosEnabled   = "enabled"

	propEOSSupport       = "exactly.once.support"
	propTxnBoundary      = "transaction.boundary"
	propTxnInterval      = "transaction.boundary.interval.ms"
	propOffsetsTopic     = "offsets.storage.topic"
	boundaryPoll         = "poll"
	boundaryInterval     = "interval"
	boundaryConnector    = "connector"
	eosRequested         = "requested"
	eosRequired          = "required"
	groupExactlyOnce     = "Exactly-once"
	transactionTimeout   = 60 * time.Second
	fenceAttemptsTimeout = 30 * time.Second
)

var sourceEOSDef = config.NewDef(
	config.Key{Name: propEOSSupport, Type: config.String, Default: eosRequested, Importance: config.Medium, Group: groupExactlyOnce,
		Validator: config.In(eosRequested, eosRequired), Doc: "requested: the connector's tasks write exactly once when the worker has exactly.once.source.support=enabled. required: the connector is refused unless the worker has it enabled (KIP-618)."},
	config.Key{Name: propTxnBoundary, Type: config.String, Default: boundaryPoll, Importance: config.Medium, Group: groupExactlyOnce,
		Validator: config.In(boundaryPoll, boundaryInterval, boundaryConnector), Doc: "With exactly-once enabled, what one transaction holds: poll, the records of one poll; interval, the records of transaction.boundary.interval.ms. connector (the connector decides) is refused: no Sluice connector defines transactions."},
	config.Key{Name: propTxnInterval, Type: config.Long, Default: nil, Importance: config.Low, Group: groupExactlyOnce, Validator: config.AtLeast(1),
		Doc: "With transaction.boundary=interval, how long one transaction lasts; unset: the worker's offset.flush.interval.ms."},
	config.Key{Name: propOffsetsTopic, Type: config.String, Default: nil, Importance: config.Low, Group: groupExactlyOnce,
		Doc: "A connector's own offsets topic (KIP-618) is refused: every connector's offsets live in the worker's offset.storage.topic."},
)

// SourceConfig returns the definition of the properties every source
// connector takes beside the common ones (topic creation, exactly-once),
// for docs.
func SourceConfig() *config.Def { return topicCreationBase.Merge(sourceEOSDef) }

// eosErrors checks a source connector's exactly-once properties against
// the worker's support.
func (h *Herder) eosErrors(cfg map[string]string) map[string][]string {
	out := map[string][]string{}
	v, err := sourceEOSDef.Parse(cfg)
	if err != nil {
		return out // the definition reports it per field
	}
	if v.String(propEOSSupport) == eosRequired && h.eosMode() != eosEnabled {
		out[propEOSSupport] = append(out[propEOSSupport], fmt.Sprintf("exactly.once.support=required but the worker has %s=%s; set it to enabled on every worker of the pool, or use requested",
			config.ExactlyOnceSourceSupport, h.eosMode()))
	}
	if v.String(propTxnBoundary) == boundaryConnector {
		out[propTxnBoundary] = append(out[propTxnBoundary], "transaction.boundary=connector needs a connector that defines its own transactions, and no Sluice connector does; use poll or interval")
	}
	if v.String(propOffsetsTopic) != "" {
		out[propOffsetsTopic] = append(out[propOffsetsTopic], "a connector's own offsets topic is not supported; remove offsets.storage.topic (offsets go to the worker's offset.storage.topic)")
	}
	return out
}

// eosMode is the worker's exactly.once.source.support.
func (h *Herder) eosMode() string {
	if h.worker == nil {
		return eosDisabled
	}
	return h.worker.String(config.ExactlyOnceSourceSupport)
}

// txnID is the transactional id of a source task's producer.
func (h *Herder) txnID(connector string, task int) string {
	return fmt.Sprintf("%s-%s-%d", h.worker.String(config.GroupID), connector, task)
}

// eosState is an exactly-once source task's transaction state, used by
// its runner's goroutine only.
type eosState struct {
	txnID string
	// interval is how long a transaction lasts; 0 ends one after each
	// poll.
	interval time.Duration
	offsets  *offsetstore.Kafka
	inTxn    bool
	started  time.Time
	// committing, when not nil, gets the result of the commit running
	// on its own goroutine (commitTxnAsync).
	committing chan txnResult
}

// eosFor returns the exactly-once state of a source task, nil when it
// writes at least once.
func (h *Herder) eosFor(cfg map[string]string, connector string, task int) (*eosState, error) {
	if h.eosMode() != eosEnabled {
		return nil, nil
	}
	v, err := sourceEOSDef.Parse(cfg)
	if err != nil {
		return nil, err
	}
	if errs := h.eosErrors(cfg); len(errs) > 0 {
		for k, es := range errs {
			return nil, fmt.Errorf("%s: %s", k, es[0])
		}
	}
	st := &eosState{txnID: h.txnID(connector, task), offsets: h.offsets}
	if v.String(propTxnBoundary) == boundaryInterval {
		st.interval = h.worker.Duration(config.OffsetFlushInterval)
		if ms := v.Long(propTxnInterval); ms > 0 {
			st.interval = time.Duration(ms) * time.Millisecond
		}
	}
	return st, nil
}

// fenceProducer fences every producer instance of a transactional id
// (InitProducerID bumps its epoch, and aborts its open transaction), so
// that nothing it has in flight commits. Retried while the coordinator
// is busy (it may be aborting the previous transaction).
func fenceProducer(ctx context.Context, cl *kgo.Client, txnID string) error {
	ctx, cancel := context.WithTimeout(ctx, fenceAttemptsTimeout)
	defer cancel()
	for {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &txnID
		req.TransactionTimeoutMillis = int32(transactionTimeout / time.Millisecond)
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, kerr.ConcurrentTransactions) && !kerr.IsRetriable(err) || ctx.Err() != nil {
			return fmt.Errorf("fencing transactional id %s: %w", txnID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("fencing transactional id %s: %w (last error: %v)", txnID, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fenceRemovedTasks fences the transactional ids of the tasks a source
// connector no longer has, before the leader writes its new task configs.
func (h *Herder) fenceRemovedTasks(ctx context.Context, connector string, from, to int) error {
	if h.eosMode() != eosEnabled || h.fenceClient == nil {
		return nil
	}
	for n := from; n < to; n++ {
		if err := fenceProducer(ctx, h.fenceClient, h.txnID(connector, n)); err != nil {
			return err
		}
	}
	return nil
}

// beginTxn opens the transaction the next records go into.
func (r *sourceRunner) beginTxn() error {
	if r.eos.inTxn {
		return nil
	}
	if err := r.producer.BeginTransaction(); err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	r.eos.inTxn, r.eos.started = true, time.Now()
	return nil
}

// txnDue reports whether the open transaction ends now.
func (r *sourceRunner) txnDue() bool {
	return r.eos.inTxn && (r.eos.interval == 0 || time.Since(r.eos.started) >= r.eos.interval)
}

// commitTxn ends the open transaction: it adds the source offsets of
// every record sent in it, waits until Kafka acknowledged all of them
// (one flush for the records and the offsets), commits, and only then
// tells the task (Commit). A record not acknowledged — failed, or
// cancelled by a stop — means no commit: the transaction is left to be
// aborted (by the next instance's fence, or its timeout) and the task
// must fail, so its offsets never claim a record that is not in it.
func (r *sourceRunner) commitTxn(ctx context.Context) error {
	res := r.endTxn(ctx)
	if res.err != nil {
		return res.err
	}
	r.applyTxn(ctx, res)
	return nil
}

// txnResult is what endTxn did: the offsets it committed and the
// records it wrote them in.
type txnResult struct {
	batch   []connectors.SourceOffset
	written []kafkalog.Record
	err     error
}

// commitTxnAsync starts commitTxn's Kafka part (endTxn) on a goroutine of
// its own, so that the task polls its next batch while the transaction's
// records are acknowledged and its markers written: a PostgreSQL task's
// WAL reader, blocked on a full queue while the runner waited for the
// commit, goes on decoding; and it transforms and converts that batch
// (prepareAll) before it waits. The loop calls awaitTxn before it touches
// the transaction state again (before the next batch's records take
// their tickets and are produced, and at stop); until then the goroutine
// owns the producer's transaction, the tracker and r.pending.
func (r *sourceRunner) commitTxnAsync(ctx context.Context) {
	ch := make(chan txnResult, 1)
	r.eos.committing = ch
	go func() { ch <- r.endTxn(ctx) }()
}

// awaitTxn waits for the commit commitTxnAsync started, if any, and
// finishes it on the loop's goroutine (applyTxn: the offsets store learns
// what was written, then the task's Commit).
func (r *sourceRunner) awaitTxn(ctx context.Context) error {
	ch := r.eos.committing
	if ch == nil {
		return nil
	}
	res := <-ch
	r.eos.committing = nil
	if res.err != nil {
		return res.err
	}
	r.applyTxn(ctx, res)
	return nil
}

// endTxn is commitTxn's Kafka part: it writes the offsets, waits for
// every record's acknowledgement and commits.
func (r *sourceRunner) endTxn(ctx context.Context) txnResult {
	if !r.eos.inTxn {
		return txnResult{}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), transactionTimeout)
	defer cancel()
	r.tracker.submitted(r.pending)
	batch := make([]connectors.SourceOffset, 0, len(r.pending))
	for _, o := range r.pending {
		batch = append(batch, o)
	}
	var recs []*kgo.Record
	var offErr atomic.Pointer[error]
	if len(batch) > 0 {
		kvs, err := r.eos.offsets.Encode(r.id.Connector, batch)
		if err != nil {
			return txnResult{err: err}
		}
		recs = make([]*kgo.Record, len(kvs))
		for i, kv := range kvs {
			recs[i] = &kgo.Record{Topic: r.eos.offsets.Topic(), Key: kv.Key, Value: kv.Value}
			r.producer.Produce(cctx, recs[i], func(_ *kgo.Record, err error) {
				if err != nil {
					offErr.CompareAndSwap(nil, &err)
				}
			})
		}
	}
	if err := r.producer.Flush(cctx); err != nil {
		return txnResult{err: fmt.Errorf("sending the records of a transaction: %w", err)}
	}
	if e := r.produceErr.Load(); e != nil {
		return txnResult{err: *e}
	}
	if e := offErr.Load(); e != nil {
		return txnResult{err: fmt.Errorf("writing the source offsets of a transaction: %w", *e)}
	}
	if n := r.tracker.inFlight(); n > 0 {
		return txnResult{err: fmt.Errorf("%d records of the transaction were not acknowledged; not committing", n)}
	}
	// Every record is acknowledged: what committable holds now is what
	// was written; take it so that the next transaction starts clean.
	clear(r.scratchOffsets)
	r.tracker.committable(r.scratchOffsets)
	if err := r.producer.EndTransaction(cctx, kgo.TryCommit); err != nil {
		return txnResult{err: fmt.Errorf("committing a transaction: %w", err)}
	}
	r.eos.inTxn = false
	clear(r.pending)
	if len(batch) == 0 {
		return txnResult{}
	}
	written := make([]kafkalog.Record, len(recs))
	for i, rec := range recs {
		written[i] = kafkalog.Record{Partition: rec.Partition, Offset: rec.Offset, Key: rec.Key, Value: rec.Value}
	}
	return txnResult{batch: batch, written: written}
}

// applyTxn tells the offsets store and then the task what a committed
// transaction wrote.
func (r *sourceRunner) applyTxn(ctx context.Context, res txnResult) {
	if len(res.batch) == 0 {
		return
	}
	r.eos.offsets.Applied(r.id.Connector, res.batch, res.written)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), transactionTimeout)
	defer cancel()
	r.taskCommit(cctx, res.batch)
}

// abortTxn aborts the open transaction, best effort: a task that failed
// or stops without committing leaves nothing visible.
func (r *sourceRunner) abortTxn(ctx context.Context) {
	if !r.eos.inTxn {
		return
	}
	r.eos.inTxn = false
	if err := r.producer.AbortBufferedRecords(ctx); err != nil {
		return
	}
	if err := r.producer.EndTransaction(ctx, kgo.TryAbort); err != nil {
		if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
			// Fenced by a newer instance, which aborted the transaction.
			r.logger.Info("the task's transaction was aborted by a newer instance of the task (fenced)", "transactional_id", r.eos.txnID)
			return
		}
		r.logger.Warn("aborting the open transaction failed; it is aborted when the task's next instance starts or when it times out",
			"transactional_id", r.eos.txnID, "error", err)
	}
}
