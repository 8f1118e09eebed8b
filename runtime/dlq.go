package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The dead letter queue: a topic of the records a task skipped
// (errors.deadletterqueue.topic.name).
//
// A sink writes the record it consumed as it was (key, value, headers,
// timestamp) through a producer of its own, synchronously: the record is
// in the queue before the offsets that pass it are committed. A source
// writes through the task's own producer, so that under exactly-once the
// record commits in the task's transaction, with the source offset that
// passes it, or not at all; its ticket is acknowledged once Kafka has the
// record, so the offset commits only then.
//
// With errors.deadletterqueue.context.headers.enable each record carries
// Kafka Connect's __connect.errors.* headers (values are UTF-8 strings,
// numbers in decimal, as Connect writes them), and for a source Sluice's
// __sluice.errors.source.partition and .offset (JSON).

// Header names of the dead letter queue context (Connect's, and Sluice's
// own for source records).
const (
	HeaderErrorTopic            = "__connect.errors.topic"
	HeaderErrorPartition        = "__connect.errors.partition"
	HeaderErrorOffset           = "__connect.errors.offset"
	HeaderErrorConnector        = "__connect.errors.connector.name"
	HeaderErrorTask             = "__connect.errors.task.id"
	HeaderErrorStage            = "__connect.errors.stage"
	HeaderErrorClass            = "__connect.errors.class.name"
	HeaderErrorExceptionClass   = "__connect.errors.exception.class.name"
	HeaderErrorExceptionMessage = "__connect.errors.exception.message"
	HeaderErrorStacktrace       = "__connect.errors.exception.stacktrace"
	HeaderErrorSourcePartition  = "__sluice.errors.source.partition"
	HeaderErrorSourceOffset     = "__sluice.errors.source.offset"
)

// deadLetterQueue writes a task's skipped records to its topic.
//
// Concurrency: write and original are called by the task's goroutine (or
// a rebalance callback under the sink runner's lock); Close after the task
// stopped. mu guards the lazily made client.
type deadLetterQueue struct {
	topic   string
	headers bool
	id      api.TaskID
	// ensure creates the topic if missing (once per worker, through the
	// worker's topic creator).
	ensure func(ctx context.Context) error
	// newClient makes a sink's producer; nil for a source, which writes
	// through its task's producer.
	newClient func() (*kgo.Client, error)
	// fetchOpts make a consumer that reads a consumed record again by
	// its offset (a sink's, when the task names a record no longer in
	// the batch being put).
	fetchOpts []kgo.Opt

	mu struct {
		sync.Mutex
		client  *kgo.Client
		created bool
	}
}

// ready makes sure the topic exists.
func (q *deadLetterQueue) ready(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.created {
		return nil
	}
	if err := q.ensure(ctx); err != nil {
		return fmt.Errorf("%s=%s: %w", propDLQTopic, q.topic, err)
	}
	q.mu.created = true
	return nil
}

// writeSink writes a consumed record that failed at stage f to the queue
// and waits until Kafka has it.
func (q *deadLetterQueue) writeSink(ctx context.Context, orig *kgo.Record, f failure, scrub func(string) string) error {
	if err := q.ready(ctx); err != nil {
		return err
	}
	q.mu.Lock()
	if q.mu.client == nil {
		cl, err := q.newClient()
		if err != nil {
			q.mu.Unlock()
			return fmt.Errorf("creating the dead letter queue producer: %w", err)
		}
		q.mu.client = cl
	}
	cl := q.mu.client
	q.mu.Unlock()
	rec := &kgo.Record{Topic: q.topic, Key: orig.Key, Value: orig.Value, Timestamp: orig.Timestamp,
		Headers: append([]kgo.RecordHeader(nil), orig.Headers...)}
	if q.headers {
		rec.Headers = q.context(rec.Headers, orig.Topic, strconv.Itoa(int(orig.Partition)), strconv.FormatInt(orig.Offset, 10), f, scrub)
	}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("writing a record of %s[%d]@%d to the dead letter queue %s: %w", orig.Topic, orig.Partition, orig.Offset, q.topic, err)
	}
	return nil
}

// sourceRecord is the dead letter queue record of a polled record that
// failed at stage f: key and value as the converters could encode them
// (nil otherwise).
func (q *deadLetterQueue) sourceRecord(rec *connectors.Record, key, val []byte, f failure, scrub func(string) string) *kgo.Record {
	kr := &kgo.Record{Topic: q.topic, Key: key, Value: val, Timestamp: rec.Timestamp}
	for _, h := range rec.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	if q.headers {
		kr.Headers = q.context(kr.Headers, rec.Topic, "", "", f, scrub)
		if b, err := json.Marshal(rec.SourcePartition); err == nil && rec.SourcePartition != nil {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: HeaderErrorSourcePartition, Value: b})
		}
		if b, err := json.Marshal(rec.SourceOffset); err == nil && rec.SourceOffset != nil {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: HeaderErrorSourceOffset, Value: b})
		}
	}
	return kr
}

// context appends the __connect.errors.* headers; partition and offset
// are left out when empty (a source record has none).
func (q *deadLetterQueue) context(hs []kgo.RecordHeader, topic, partition, offset string, f failure, scrub func(string) string) []kgo.RecordHeader {
	add := func(k, v string) { hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
	add(HeaderErrorTopic, topic)
	if partition != "" {
		add(HeaderErrorPartition, partition)
	}
	if offset != "" {
		add(HeaderErrorOffset, offset)
	}
	add(HeaderErrorConnector, q.id.Connector)
	add(HeaderErrorTask, strconv.Itoa(q.id.Task))
	add(HeaderErrorStage, f.stage)
	add(HeaderErrorClass, f.class)
	add(HeaderErrorExceptionClass, exceptionClass(f.err))
	msg := scrub(f.err.Error())
	add(HeaderErrorExceptionMessage, msg)
	add(HeaderErrorStacktrace, scrub(traceOf(f.err)))
	return hs
}

// original reads a consumed record again by its offset.
func (q *deadLetterQueue) original(ctx context.Context, topic string, partition int32, offset int64) (*kgo.Record, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), q.fetchOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}),
		kgo.FetchMaxWait(100*time.Millisecond))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := cl.PollRecords(ctx, 1)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("reading %s[%d]@%d again for the dead letter queue: %w", topic, partition, offset, ctx.Err())
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("reading %s[%d]@%d again for the dead letter queue: %w", topic, partition, offset, err)
		}
		for it := fs.RecordIter(); !it.Done(); {
			if r := it.Next(); r.Offset == offset {
				return r, nil
			} else if r.Offset > offset {
				return nil, fmt.Errorf("record %s[%d]@%d is gone from the topic (compacted or deleted); it cannot be written to the dead letter queue", topic, partition, offset)
			}
		}
	}
}

// Close closes the sink's producer.
func (q *deadLetterQueue) Close() {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.mu.client != nil {
		q.mu.client.Close()
		q.mu.client = nil
	}
}

// errorHandlerFor builds a task's error handler from its connector's
// parsed common properties. fetchOpts (sinks only) are the consumer's
// options without its topics.
func (h *Herder) errorHandlerFor(common *config.Values, connCfg map[string]string, id api.TaskID, logger *slog.Logger,
	res *config.Resolved, sink bool, fetchOpts []kgo.Opt) (*errorHandler, error) {
	eh := &errorHandler{policy: parseErrorPolicy(common), id: id, logger: logger,
		scrub: func(s string) string { return scrubTrace(s, res) }}
	p := eh.policy
	if p.dlqTopic == "" {
		return eh, nil
	}
	rfSet := common.IsSet(propDLQReplication)
	q := &deadLetterQueue{topic: p.dlqTopic, headers: p.dlqHeaders, id: id, fetchOpts: fetchOpts}
	q.ensure = func(ctx context.Context) error {
		rf := p.dlqRF
		if !rfSet && rf > 0 {
			// Left at Connect's default of 3: a smaller cluster (the
			// embedded broker) gets one replica per broker.
			if meta, err := h.adm.BrokerMetadata(ctx); err == nil && len(meta.Brokers) < int(rf) {
				rf = int16(len(meta.Brokers))
			}
		}
		spec := func(string) topicSpec {
			return topicSpec{Partitions: 1, ReplicationFactor: rf, Group: "dead letter queue"}
		}
		return h.topics.ensure(ctx, p.dlqTopic, spec, logger)
	}
	if sink {
		psec, err := h.sec.forConnector(connCfg, false)
		if err != nil {
			return nil, err
		}
		q.newClient = func() (*kgo.Client, error) {
			return kgo.NewClient(withOpts([]kgo.Opt{
				kgo.ClientID(fmt.Sprintf("connector-dlq-producer-%s-%d", id.Connector, id.Task)),
				kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.UnknownTopicRetries(80),
			}, withOpts(h.clientOpts, psec.Opts...)...)...)
		}
	}
	eh.dlq = q
	return eh, nil
}
