// Package kafkalog keeps state in a compacted Kafka topic, the way Kafka
// Connect's KafkaBasedLog does: a background consumer tails the topic from
// its start and hands every record to a callback; writes are produced
// with acks=all and confirmed; ReadToEnd waits until everything written
// before it was called has been seen. The config, offset and status
// stores are built on it.
//
// Concurrency: a Log owns one franz-go client and one tailing goroutine,
// started by Start and stopped by Close. The callback runs on that
// goroutine, in partition order; it must not call ReadToEnd.
package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic describes a compacted topic a Log keeps state in.
type Topic struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// Configs are extra topic configs at creation; StateConfigs are
	// always set and win over these.
	Configs map[string]string
}

// StateConfigs are the topic configs every state topic needs: compacted,
// and never expired by time or size. Compaction alone is not enough on
// every broker: kfake (the embedded broker) applies retention.ms, 7 days
// by default, to compacted topics too, so a worker idle for a week lost
// its connectors and offsets.
var StateConfigs = []TopicConfig{
	{Name: "cleanup.policy", Value: "compact"},
	{Name: "retention.ms", Value: "-1"},
	{Name: "retention.bytes", Value: "-1"},
}

// TopicConfig is one topic config and its value.
type TopicConfig struct {
	Name, Value string
}

// BadConfig is a config of an existing state topic that would lose data:
// what the topic has and what it needs.
type BadConfig struct {
	Name, Have, Want string
}

// TopicConfigError says an existing state topic has configs that would
// lose data (it is not compacted, or records expire), on a broker Sluice
// does not run, so it refuses to change them itself.
type TopicConfigError struct {
	Topic string
	Bad   []BadConfig
	// Bootstrap names the brokers in the fix command ("<broker>" when
	// empty).
	Bootstrap string
}

func (e *TopicConfigError) Error() string {
	have := make([]string, len(e.Bad))
	want := make([]string, len(StateConfigs))
	for i, b := range e.Bad {
		have[i] = b.Name + "=" + b.Have
	}
	for i, c := range StateConfigs {
		want[i] = c.Name + "=" + c.Value
	}
	bootstrap := e.Bootstrap
	if bootstrap == "" {
		bootstrap = "<broker>"
	}
	return fmt.Sprintf("topic %q has %s, but Sluice keeps state in it and needs %s "+
		"(otherwise old records are deleted and connectors, offsets or statuses are lost); fix it with: "+
		"kafka-configs.sh --bootstrap-server %s --alter --entity-type topics --entity-name %s --add-config %s",
		e.Topic, strings.Join(have, ", "), strings.Join(want, ", "), bootstrap, e.Topic, strings.Join(want, ","))
}

// Ensure creates t when it is missing and checks that an existing one has
// StateConfigs; it returns a *TopicConfigError when not.
func Ensure(ctx context.Context, adm *kadm.Client, t Topic) error {
	bad, err := ensure(ctx, adm, t)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return &TopicConfigError{Topic: t.Name, Bad: bad}
	}
	return nil
}

// Repair creates t when it is missing and sets StateConfigs on an existing
// one that lacks them, returning what it changed. It is for brokers Sluice
// runs itself (the embedded broker), where nobody else owns the topics.
func Repair(ctx context.Context, adm *kadm.Client, t Topic) ([]BadConfig, error) {
	bad, err := ensure(ctx, adm, t)
	if err != nil || len(bad) == 0 {
		return nil, err
	}
	alter := make([]kadm.AlterConfig, len(bad))
	for i, b := range bad {
		alter[i] = kadm.AlterConfig{Op: kadm.SetConfig, Name: b.Name, Value: &bad[i].Want}
	}
	resps, err := adm.AlterTopicConfigs(ctx, alter, t.Name)
	if err == nil {
		var r kadm.AlterConfigsResponse
		if r, err = resps.On(t.Name, nil); err == nil {
			err = r.Err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("setting %v on topic %q: %w", bad, t.Name, err)
	}
	return bad, nil
}

// ensure creates t when it is missing and returns the StateConfigs an
// existing one lacks.
func ensure(ctx context.Context, adm *kadm.Client, t Topic) ([]BadConfig, error) {
	configs := map[string]*string{}
	for k, v := range t.Configs {
		configs[k] = &v
	}
	for _, c := range StateConfigs {
		configs[c.Name] = &c.Value
	}
	rf := t.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	resp, err := adm.CreateTopic(ctx, t.Partitions, rf, configs, t.Name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("creating topic %q: %w", t.Name, err)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, t.Name)
	if err != nil {
		return nil, fmt.Errorf("describing topic %q: %w", t.Name, err)
	}
	rc, err := rcs.On(t.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("describing topic %q: %w", t.Name, err)
	}
	if rc.Err != nil {
		return nil, fmt.Errorf("describing topic %q: %w", t.Name, rc.Err)
	}
	// Kafka's defaults, for a broker that leaves a config out.
	have := map[string]string{"cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"}
	for _, c := range rc.Configs {
		if c.Value != nil {
			have[c.Key] = *c.Value
		}
	}
	var bad []BadConfig
	for _, c := range StateConfigs {
		if strings.TrimSpace(have[c.Name]) != c.Value {
			bad = append(bad, BadConfig{Name: c.Name, Have: have[c.Name], Want: c.Value})
		}
	}
	return bad, nil
}

// Record is one record read from the log. Value nil is a tombstone.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
}

// Log is a compacted topic read from its start and written with acks=all.
type Log struct {
	topic    string
	client   *kgo.Client
	adm      *kadm.Client
	callback func(Record)
	// committed: the log reads only committed records (read_committed)
	// and reads to the last stable offset.
	committed bool

	mu struct {
		sync.Mutex
		pos  map[int32]int64 // next offset to read per partition
		cond *sync.Cond
		// errs holds, per partition, the last fetch error franz-go does
		// not retry itself (authorization, an unknown error); it is
		// cleared when the partition is read again.
		errs map[int32]error
	}
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

// New returns a log over topic; callback receives every record in order.
// opts are extra franz-go options (seed brokers, TLS, SASL, client id).
func New(topic string, callback func(Record), opts ...kgo.Opt) (*Log, error) {
	return newLog(topic, callback, false, opts)
}

// NewCommitted is New for a topic that transactional producers write: it
// reads only committed records (read_committed), and ReadToEnd waits
// for what was committed before the call (the last stable offset), not
// for open transactions. Transaction markers are stepped over.
func NewCommitted(topic string, callback func(Record), opts ...kgo.Opt) (*Log, error) {
	return newLog(topic, callback, true, append([]kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, opts...))
}

func newLog(topic string, callback func(Record), committed bool, opts []kgo.Opt) (*Log, error) {
	all := append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		// Transaction markers take offsets: the reader sees them so that
		// its position passes them (ReadToEnd waits for an end offset
		// that may be a marker's).
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %q: %w", topic, err)
	}
	l := &Log{topic: topic, client: cl, adm: kadm.NewClient(cl), callback: callback, committed: committed, done: make(chan struct{})}
	l.mu.pos = map[int32]int64{}
	l.mu.errs = map[int32]error{}
	l.mu.cond = sync.NewCond(&l.mu.Mutex)
	return l, nil
}

// Topic returns the topic name.
func (l *Log) Topic() string { return l.topic }

// Client returns the log's franz-go client (for admin calls).
func (l *Log) Client() *kgo.Client { return l.client }

// Start starts tailing the topic and returns once everything in it has
// been read (ReadToEnd).
func (l *Log) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(runCtx)
	return l.ReadToEnd(ctx)
}

// run tails the topic until ctx ends. A fetch error that franz-go does
// not retry itself (authorization, an unknown broker error) is not
// permanent: it is kept for ReadToEnd to report while the partition is
// behind, the reader backs off (up to maxFetchBackoff) and fetches
// again, and the error is cleared once the partition is read again.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	var backoff time.Duration
	for {
		fs := l.client.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		failed := map[int32]error{}
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			// kgo retries retriable errors itself; what reaches us here
			// is worth surfacing (data loss, authorization).
			if !kerr.IsRetriable(err) {
				failed[p] = fmt.Errorf("reading %s[%d]: %w", t, p, err)
			}
		})
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if r.Attrs.IsControl() {
					continue
				}
				l.callback(Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
			}
			if n := len(p.Records); n > 0 {
				l.mu.Lock()
				if next := p.Records[n-1].Offset + 1; next > l.mu.pos[p.Partition] {
					l.mu.pos[p.Partition] = next
				}
				if failed[p.Partition] == nil {
					delete(l.mu.errs, p.Partition)
				}
				l.mu.Unlock()
			}
		})
		l.mu.Lock()
		for p, err := range failed {
			l.mu.errs[p] = err
		}
		l.mu.cond.Broadcast()
		l.mu.Unlock()
		if len(failed) == 0 {
			backoff = 0
			continue
		}
		backoff = min(max(2*backoff, minFetchBackoff), maxFetchBackoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// The reader waits minFetchBackoff after a fetch error, doubling up to
// maxFetchBackoff while errors last.
const (
	minFetchBackoff = 100 * time.Millisecond
	maxFetchBackoff = 5 * time.Second
)

// ReadToEnd waits until every record written to the topic before the call
// has been passed to the callback. While a partition it waits for cannot
// be read (see run), it returns that partition's error; a later call
// succeeds once the reader recovered.
func (l *Log) ReadToEnd(ctx context.Context) error { return l.readTo(ctx, false) }

// ReadPastOpenTxns is ReadToEnd that, on a log that reads only committed
// records, also waits for the transactions open when it is called to end
// (committed or aborted): it reads to the high watermark, not to the last
// stable offset. A record committed after another producer's transaction
// began on the same partition lies past the last stable offset while that
// transaction is open, so ReadToEnd does not wait for it; a reader that
// must see the latest committed record of a key (an exactly-once task
// reading its own offsets as it starts) uses this. The wait lasts as long
// as the longest of those transactions, at most its transaction timeout.
// On other logs it is ReadToEnd.
func (l *Log) ReadPastOpenTxns(ctx context.Context) error { return l.readTo(ctx, true) }

func (l *Log) readTo(ctx context.Context, pastOpen bool) error {
	ends, err := l.endOffsets(ctx, l.committed && !pastOpen)
	if err != nil {
		return err
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })

	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.mu.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		caughtUp := true
		for p, end := range want {
			if l.mu.pos[p] < end {
				if err := l.mu.errs[p]; err != nil {
					return err
				}
				caughtUp = false
			}
		}
		if caughtUp {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %q to its end: %w", l.topic, err)
		}
		l.mu.cond.Wait()
	}
}

// endOffsets lists the topic's end offsets (the last stable offsets when
// stable is set), retrying retriable errors
// (a topic just created is not known to every broker at once).
func (l *Log) endOffsets(ctx context.Context, stable bool) (kadm.ListedOffsets, error) {
	for {
		list := l.adm.ListEndOffsets
		if stable {
			list = l.adm.ListCommittedOffsets
		}
		ends, err := list(ctx, l.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			return ends, nil
		}
		if !kerr.IsRetriable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("reading end offsets of %q: %w", l.topic, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reading end offsets of %q: %w (last error: %v)", l.topic, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Write produces key/value records (nil value = tombstone) and waits until
// Kafka acknowledged all of them, or until ctx ends: then it returns
// ctx's error, and records not yet acknowledged may still be written
// later, in order, before any record written after them.
//
// The wait ends with ctx even while the brokers are unreachable: franz-go
// fails a buffered record on its context only when it next tries to send
// it, which never happens while no connection can be made.
func (l *Log) Write(ctx context.Context, kvs ...KV) error {
	if len(kvs) == 0 {
		return nil
	}
	var (
		left  atomic.Int64
		first atomic.Pointer[error]
		done  = make(chan struct{})
	)
	left.Store(int64(len(kvs)))
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			first.CompareAndSwap(nil, &err)
		}
		if left.Add(-1) == 0 {
			close(done)
		}
	}
	for _, kv := range kvs {
		l.client.Produce(ctx, &kgo.Record{Topic: l.topic, Key: kv.Key, Value: kv.Value}, promise)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("writing to %q: %w", l.topic, ctx.Err())
	}
	if err := first.Load(); err != nil {
		return fmt.Errorf("writing to %q: %w", l.topic, *err)
	}
	return nil
}

// WriteRecords is Write that also says where Kafka stored each record:
// the result holds the kvs in order, with Partition and Offset set.
func (l *Log) WriteRecords(ctx context.Context, kvs ...KV) ([]Record, error) {
	recs := make([]*kgo.Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = &kgo.Record{Topic: l.topic, Key: kv.Key, Value: kv.Value}
	}
	if err := l.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("writing to %q: %w", l.topic, err)
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		out[i] = Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value}
	}
	return out, nil
}

// WriteAndRead writes and then reads the topic to its end, so the
// callback has seen the write when it returns.
func (l *Log) WriteAndRead(ctx context.Context, kvs ...KV) error {
	if err := l.Write(ctx, kvs...); err != nil {
		return err
	}
	return l.ReadToEnd(ctx)
}

// KV is a key and value to write.
type KV struct {
	Key, Value []byte
}

// Close stops tailing and closes the client. It is idempotent.
func (l *Log) Close() {
	l.closed.Do(func() {
		if l.cancel != nil {
			l.cancel()
			<-l.done
		}
		l.client.Close()
	})
}
