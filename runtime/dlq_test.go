package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// flakySink writes byte-array values "<n>" to flaky.seen. A value
// "bad-<n>" makes Put fail with a *connectors.RecordError naming it; a
// value "errant-<n>" is kept and reported through Errant at the next
// Flush (a record of an earlier batch, as the JDBC sink reports the row
// its database refuses). While flaky.down is set, Put fails retriably.
type flakySink struct{ props map[string]string }

var flaky struct {
	sync.Mutex
	down     bool
	puts     int
	sizes    []int // batch sizes offered while down
	seen     map[int64]int
	errantOK int // Errant calls that returned nil
}

func resetFlaky() {
	flaky.Lock()
	defer flaky.Unlock()
	flaky.down, flaky.puts, flaky.sizes, flaky.seen, flaky.errantOK = false, 0, nil, map[int64]int{}, 0
}

func (*flakySink) Config() *config.Def { return config.NewDef() }
func (s *flakySink) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	s.props = props
	return nil
}
func (s *flakySink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{s.props}, nil
}
func (*flakySink) Stop(context.Context) error   { return nil }
func (*flakySink) NewTask() connectors.SinkTask { return &flakySinkTask{} }

type flakySinkTask struct {
	tctx   connectors.SinkTaskContext
	errant []*connectors.Record
}

func (t *flakySinkTask) Start(_ context.Context, tctx connectors.SinkTaskContext, _ map[string]string) error {
	t.tctx = tctx
	return nil
}

func (t *flakySinkTask) Put(_ context.Context, recs []*connectors.Record) error {
	flaky.Lock()
	defer flaky.Unlock()
	flaky.puts++
	if flaky.down {
		flaky.sizes = append(flaky.sizes, len(recs))
		return connectors.Retry(errors.New("target down"))
	}
	for _, r := range recs {
		v := string(r.Value.([]byte))
		if strings.HasPrefix(v, "bad-") {
			return &connectors.RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: errors.New("the target refuses " + v)}
		}
	}
	for _, r := range recs {
		v := string(r.Value.([]byte))
		if strings.HasPrefix(v, "errant-") {
			c := *r
			t.errant = append(t.errant, &c)
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		flaky.seen[n]++
	}
	return nil
}

func (t *flakySinkTask) Flush(ctx context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	for _, r := range t.errant {
		if err := t.tctx.Errant(ctx, r, errors.New("the target refuses "+string(r.Value.([]byte)))); err != nil {
			return nil, err
		}
		flaky.Lock()
		flaky.errantOK++
		flaky.Unlock()
	}
	t.errant = nil
	return cur, nil
}
func (*flakySinkTask) Stop(context.Context) error { return nil }

// produceValues writes values to partition 0 of topic, in order.
func produceValues(t *testing.T, bootstrap, topic string, values []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: []byte(v), Key: []byte(strconv.Itoa(i)), Headers: []kgo.RecordHeader{{Key: "mine", Value: []byte(v)}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err == nil && resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		t.Fatal(resp.Err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readTopic reads topic from its start until want records were read and
// then nothing more for quiet.
func readTopic(t *testing.T, bootstrap, topic string, want int, quiet time.Duration, committed bool) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	var done time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		out = append(out, fs.Records()...)
		if len(out) >= want && done.IsZero() {
			done = time.Now()
		}
		if !done.IsZero() && time.Since(done) > quiet {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d records of %s, want %d", len(out), topic, want)
		}
	}
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// checkContextHeaders checks that a dead letter queue record carries
// every __connect.errors.* header, with want's values where given.
func checkContextHeaders(t *testing.T, r *kgo.Record, want map[string]string) {
	t.Helper()
	for _, k := range []string{HeaderErrorTopic, HeaderErrorConnector, HeaderErrorTask, HeaderErrorStage, HeaderErrorClass,
		HeaderErrorExceptionClass, HeaderErrorExceptionMessage, HeaderErrorStacktrace} {
		v, ok := header(r, k)
		if !ok || v == "" {
			t.Errorf("dead letter record at %d: header %s missing or empty (headers %v)", r.Offset, k, r.Headers)
		}
	}
	for k, w := range want {
		if v, _ := header(r, k); v != w {
			t.Errorf("dead letter record at %d: header %s = %q, want %q", r.Offset, k, v, w)
		}
	}
}

func sinkOffsets(t *testing.T, w *testWorker, name string) (total int64) {
	var o api.Offsets
	w.do(t, "GET", "/connectors/"+name+"/offsets", nil, 200, &o)
	for _, e := range o.Offsets {
		total += int64(e.Offset["kafka_offset"].(float64))
	}
	return total
}

// TestSinkDeadLetterQueue: with errors.tolerance=all, every 1000th record
// (not JSON) fails at the value converter and goes to the dead letter
// queue as consumed, with Connect's context headers; the others reach
// the sink, and the counts reconcile: good + dead = produced, and the
// group's offset passes them all.
func TestSinkDeadLetterQueue(t *testing.T) {
	sinkMem.Lock()
	sinkMem.records = map[int64]int{}
	sinkMem.Unlock()
	w := startWorker(t, nil)
	const n, every = 5000, 1000
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf(`{"seq":%d}`, i)
		if i%every == every-1 {
			values[i] = fmt.Sprintf(`{"seq":%d poison`, i)
		}
	}
	produceValues(t, w.bootstrap, "in", values)
	w.do(t, "POST", "/connectors", map[string]any{"name": "mem", "config": map[string]string{
		"connector.class": "memsink", "topics": "in", "value.converter": "JsonConverter", "key.converter": "ByteArrayConverter", "value.converter.schemas.enable": "false",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "in-dlq", "errors.log.enable": "true",
		"errors.deadletterqueue.context.headers.enable": "true"}}, 201, nil)
	waitFor(t, "the sink to commit every record", func() bool { return sinkOffsets(t, w, "mem") == n })
	dead := readTopic(t, w.bootstrap, "in-dlq", n/every, 300*time.Millisecond, false)
	if len(dead) != n/every {
		t.Fatalf("%d records in the dead letter queue, want %d", len(dead), n/every)
	}
	for i, r := range dead {
		off := int64(i*every + every - 1)
		if string(r.Value) != values[off] || string(r.Key) != strconv.FormatInt(off, 10) {
			t.Errorf("dead letter record %d: key %q value %q, want the consumed record %d as it was", i, r.Key, r.Value, off)
		}
		if v, _ := header(r, "mine"); v != values[off] {
			t.Errorf("dead letter record %d lost the record's own header", i)
		}
		checkContextHeaders(t, r, map[string]string{HeaderErrorTopic: "in", HeaderErrorPartition: "0",
			HeaderErrorOffset: strconv.FormatInt(off, 10), HeaderErrorConnector: "mem", HeaderErrorTask: "0",
			HeaderErrorStage: StageValueConverter, HeaderErrorClass: "JsonConverter"})
	}
	sinkMem.Lock()
	good := len(sinkMem.records)
	for i := int64(0); i < n; i++ {
		if poison := i%every == every-1; poison == (sinkMem.records[i] > 0) {
			t.Errorf("seq %d: poison %v, seen by the sink %d times", i, poison, sinkMem.records[i])
		}
	}
	sinkMem.Unlock()
	if good+len(dead) != n {
		t.Errorf("good %d + dead %d != produced %d", good, len(dead), n)
	}
	if !strings.Contains(w.logs.String(), "record failed") {
		t.Error("errors.log.enable logged nothing")
	}
	if strings.Contains(w.logs.String(), "poison") {
		t.Error("the log shows record contents without errors.log.include.messages")
	}
	if st := w.status(t, "mem"); st.Tasks[0].State != api.StateRunning {
		t.Errorf("task %s: %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
}

// TestSinkToleranceNoneNamesStage: errors.tolerance=none fails the task
// at the first bad record, with the stage in its trace; the record is
// in the dead letter queue, and the group's offset stops before it.
func TestSinkToleranceNoneNamesStage(t *testing.T) {
	w := startWorker(t, nil)
	produceValues(t, w.bootstrap, "in", []string{`{"seq":0}`, `{"seq":1`, `{"seq":2}`})
	w.do(t, "POST", "/connectors", map[string]any{"name": "mem", "config": map[string]string{
		"connector.class": "memsink", "topics": "in", "value.converter": "JsonConverter", "key.converter": "ByteArrayConverter", "value.converter.schemas.enable": "false",
		"errors.deadletterqueue.topic.name": "in-dlq", "sluice.task.restart.enable": "false"}}, 201, nil)
	waitFor(t, "the task to fail", func() bool {
		st := w.status(t, "mem")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
	})
	tr := w.status(t, "mem").Tasks[0].Trace
	for _, want := range []string{StageValueConverter, "JsonConverter", "errors.tolerance=all", "in-0@1"} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace %q does not name %q", tr, want)
		}
	}
	if dead := readTopic(t, w.bootstrap, "in-dlq", 1, 300*time.Millisecond, false); len(dead) != 1 || string(dead[0].Value) != `{"seq":1` {
		t.Errorf("dead letter queue holds %d records, want the failing one", len(dead))
	}
	if got := sinkOffsets(t, w, "mem"); got > 1 {
		t.Errorf("committed offset %d passes the record that failed the task", got)
	}
}

// TestSinkPutRecordErrors: a record the task names as one it cannot write
// (a RecordError from Put, or Errant from Flush for a record of an
// earlier batch) goes to the dead letter queue as consumed; the rest of
// the batch is written.
func TestSinkPutRecordErrors(t *testing.T) {
	resetFlaky()
	w := startWorker(t, nil)
	const n = 2000
	values := make([]string, n)
	var bad []int
	for i := range values {
		values[i] = strconv.Itoa(i)
		switch {
		case i%500 == 7:
			values[i] = "bad-" + values[i]
			bad = append(bad, i)
		case i%500 == 300:
			values[i] = "errant-" + values[i]
			bad = append(bad, i)
		}
	}
	produceValues(t, w.bootstrap, "in", values)
	w.do(t, "POST", "/connectors", map[string]any{"name": "flaky", "config": map[string]string{
		"connector.class": "flakysink", "topics": "in", "value.converter": "ByteArrayConverter", "key.converter": "ByteArrayConverter",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq",
		"errors.deadletterqueue.context.headers.enable": "true"}}, 201, nil)
	waitFor(t, "the sink to commit every record", func() bool { return sinkOffsets(t, w, "flaky") == n })
	dead := readTopic(t, w.bootstrap, "dlq", len(bad), 300*time.Millisecond, false)
	if len(dead) != len(bad) {
		t.Fatalf("%d records in the dead letter queue, want %d", len(dead), len(bad))
	}
	// Errant records come at a later Flush: compare by offset.
	byOffset := map[int]*kgo.Record{}
	for _, r := range dead {
		o, _ := header(r, HeaderErrorOffset)
		i, _ := strconv.Atoi(o)
		byOffset[i] = r
	}
	for _, i := range bad {
		r := byOffset[i]
		if r == nil {
			t.Errorf("record %d (%s) is not in the dead letter queue", i, values[i])
			continue
		}
		if string(r.Value) != values[i] || string(r.Key) != strconv.Itoa(i) {
			t.Errorf("dead letter record of offset %d: %q=%q, want the consumed record %q", i, r.Key, r.Value, values[i])
		}
		checkContextHeaders(t, r, map[string]string{HeaderErrorTopic: "in", HeaderErrorPartition: "0", HeaderErrorStage: StageTaskPut,
			HeaderErrorClass: "flakysink", HeaderErrorExceptionClass: "*errors.errorString"})
		if msg, _ := header(r, HeaderErrorExceptionMessage); !strings.Contains(msg, "the target refuses "+values[i]) {
			t.Errorf("exception message %q", msg)
		}
	}
	flaky.Lock()
	defer flaky.Unlock()
	if len(flaky.seen)+len(bad) != n || flaky.errantOK != len(bad)/2 {
		t.Errorf("written %d + dead %d != %d (errant accepted %d)", len(flaky.seen), len(bad), n, flaky.errantOK)
	}
}

// TestSinkCircuitBreaker: while the target is down, put fails retriably;
// past errors.retry.timeout the breaker opens: the task stays RUNNING
// with a trace saying why and when it probes, consumption pauses (the
// probes offer the same batch, a few times a second at most), and no
// offset is committed past what was written. Once the target is back, the
// breaker closes and every record arrives, none lost.
func TestSinkCircuitBreaker(t *testing.T) {
	resetFlaky()
	w := startWorker(t, nil)
	const n = 3000
	values := make([]string, n)
	for i := range values {
		values[i] = strconv.Itoa(i)
	}
	produceValues(t, w.bootstrap, "in", values[:1000])
	w.do(t, "POST", "/connectors", map[string]any{"name": "flaky", "config": map[string]string{
		"connector.class": "flakysink", "topics": "in", "value.converter": "ByteArrayConverter", "key.converter": "ByteArrayConverter",
		"errors.retry.timeout": "300", "errors.retry.delay.max.ms": "100",
		"sluice.circuit.breaker.probe.initial.ms": "100", "sluice.circuit.breaker.probe.max.ms": "400",
		"consumer.override.max.poll.records": "100"}}, 201, nil)
	waitFor(t, "the first records written", func() bool { return sinkOffsets(t, w, "flaky") == 1000 })
	flaky.Lock()
	flaky.down = true
	flaky.Unlock()
	produceValues(t, w.bootstrap, "in", values[1000:])
	waitFor(t, "the breaker to open", func() bool {
		st := w.status(t, "flaky")
		return st.Tasks[0].State == api.StateRunning && strings.Contains(st.Tasks[0].Trace, "circuit breaker open")
	})
	tr := w.status(t, "flaky").Tasks[0].Trace
	if !strings.Contains(tr, "next probe at") || !strings.Contains(tr, "target down") {
		t.Errorf("trace %q does not say why or when it probes", tr)
	}
	flaky.Lock()
	before := flaky.puts
	flaky.Unlock()
	time.Sleep(2 * time.Second)
	flaky.Lock()
	probes := flaky.puts - before
	sizes := append([]int(nil), flaky.sizes...)
	flaky.Unlock()
	// Probes at 100, 200, 400, 400, ... ms (less jitter): about 6 in 2 s.
	if probes < 2 || probes > 12 {
		t.Errorf("%d puts in 2 s with the breaker open; want a few probes, no busy loop", probes)
	}
	for _, s := range sizes {
		if s != sizes[0] {
			t.Errorf("batches offered while down: %v; the same held batch each time, nothing more polled", sizes)
			break
		}
	}
	if got := sinkOffsets(t, w, "flaky"); got > 1000 {
		t.Errorf("offset %d committed while nothing past 1000 was written", got)
	}
	if st := w.status(t, "flaky"); st.Tasks[0].State != api.StateRunning {
		t.Errorf("task %s while the breaker is open", st.Tasks[0].State)
	}
	// A task restarted while its breaker is open drops the held batch
	// uncommitted, reads it again and opens its breaker again.
	const opened = "circuit breaker open: put keeps failing"
	opens := strings.Count(w.logs.String(), opened)
	w.do(t, "POST", "/connectors/flaky/tasks/0/restart", nil, 204, nil)
	waitFor(t, "the restarted task's breaker to open", func() bool {
		st := w.status(t, "flaky")
		return strings.Count(w.logs.String(), opened) > opens && st.Tasks[0].State == api.StateRunning &&
			strings.Contains(st.Tasks[0].Trace, "circuit breaker open")
	})
	if got := sinkOffsets(t, w, "flaky"); got > 1000 {
		t.Errorf("offset %d committed across the restart while nothing past 1000 was written", got)
	}
	flaky.Lock()
	flaky.down = false
	flaky.Unlock()
	waitFor(t, "every record written and committed", func() bool { return sinkOffsets(t, w, "flaky") == n })
	waitFor(t, "the trace to clear", func() bool { return w.status(t, "flaky").Tasks[0].Trace == "" })
	flaky.Lock()
	defer flaky.Unlock()
	for i := int64(0); i < n; i++ {
		if flaky.seen[i] == 0 {
			t.Fatalf("record %d lost", i)
		}
	}
	if !strings.Contains(w.logs.String(), "circuit breaker closed") {
		t.Error("no log line says the breaker closed")
	}
}

// TestSinkRetriesWithBackoff: a put that fails retriably a few times
// within errors.retry.timeout is retried with back-off and succeeds; the
// breaker never opens.
func TestSinkRetriesWithBackoff(t *testing.T) {
	resetFlaky()
	w := startWorker(t, nil)
	flaky.Lock()
	flaky.down = true
	flaky.Unlock()
	produceValues(t, w.bootstrap, "in", []string{"0", "1", "2"})
	w.do(t, "POST", "/connectors", map[string]any{"name": "flaky", "config": map[string]string{
		"connector.class": "flakysink", "topics": "in", "value.converter": "ByteArrayConverter", "key.converter": "ByteArrayConverter",
		"errors.retry.timeout": "30000", "errors.retry.delay.max.ms": "1000"}}, 201, nil)
	waitFor(t, "three failed puts", func() bool {
		flaky.Lock()
		defer flaky.Unlock()
		return flaky.puts >= 3
	})
	flaky.Lock()
	flaky.down = false
	flaky.Unlock()
	waitFor(t, "the records written", func() bool { return sinkOffsets(t, w, "flaky") == 3 })
	logs := w.logs.String()
	if !strings.Contains(logs, "put failed; retrying the same batch") || strings.Contains(logs, "circuit breaker open") {
		t.Errorf("want retries and no open breaker; log:\n%s", logs)
	}
}

// TestSourceDeadLetterQueue: datagen's poison records (a value no
// converter can encode) go to the source's dead letter queue with their
// headers, the source partition and offset, and the stage; the good ones
// reach the topic; the task keeps running. Under exactly-once the dead
// letter records commit in the task's transactions: a read_committed
// reader sees each once.
func TestSourceDeadLetterQueue(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("exactly-once=%v", eos), func(t *testing.T) {
			props := map[string]string{}
			if eos {
				props = map[string]string{config.ExactlyOnceSourceSupport: "enabled", config.GroupID: "eos"}
			}
			w := startWorker(t, props)
			const n, every = 5000, 1000
			w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
				"connector.class": "datagen", "kafka.topic": "gen", "iterations": strconv.Itoa(n), "poison.every": strconv.Itoa(every),
				"quickstart": "pageviews", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": "gen-dlq",
				"errors.deadletterqueue.context.headers.enable": "true", "datagen.rate": "10000"}}, 201, nil)
			good := committedSeqs(t, w.bootstrap, "gen", n-n/every, 500*time.Millisecond)
			dead := readTopic(t, w.bootstrap, "gen-dlq", n/every, 500*time.Millisecond, true)
			for seq, c := range good {
				if seq%every == every-1 || (eos && c != 1) {
					t.Errorf("seq %d in the topic %d times", seq, c)
				}
			}
			if len(good)+len(dead) != n || len(dead) != n/every {
				t.Fatalf("good %d + dead %d, want %d + %d", len(good), len(dead), n-n/every, n/every)
			}
			for i, r := range dead {
				seq, _ := header(r, datagen.SeqHeader)
				if want := strconv.Itoa(i*every + every - 1); seq != want {
					t.Errorf("dead letter record %d: seq %q, want %s", i, seq, want)
				}
				if p, _ := header(r, datagen.PoisonHeader); p != "true" {
					t.Errorf("dead letter record %d lost the poison header", i)
				}
				if len(r.Key) == 0 || r.Value != nil {
					t.Errorf("dead letter record %d: key %q value %q; want the key the converter could encode and no value", i, r.Key, r.Value)
				}
				checkContextHeaders(t, r, map[string]string{HeaderErrorTopic: "gen", HeaderErrorConnector: "gen",
					HeaderErrorStage: StageValueConverter})
				if v, ok := header(r, HeaderErrorSourcePartition); !ok || !strings.HasPrefix(v, "{") {
					t.Errorf("dead letter record %d: %s = %q, want the source partition's JSON", i, HeaderErrorSourcePartition, v)
				}
				// Most poison records carry no offset of their own (the
				// one before does); the last of a batch does.
				if v, ok := header(r, HeaderErrorSourceOffset); ok && !strings.HasPrefix(v, `{"seq":`) {
					t.Errorf("dead letter record %d: %s = %q, want the source offset's JSON", i, HeaderErrorSourceOffset, v)
				}
				if _, ok := header(r, HeaderErrorPartition); ok {
					t.Errorf("dead letter record %d has a Kafka partition header; a polled record has none", i)
				}
			}
			if st := w.status(t, "gen"); st.Tasks[0].State != api.StateRunning {
				t.Errorf("task %s: %s", st.Tasks[0].State, st.Tasks[0].Trace)
			}
		})
	}
}

// TestSourceToleranceNone: a poison record fails the source task with the
// stage in its trace.
func TestSourceToleranceNone(t *testing.T) {
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "gen", "iterations": "100", "poison.every": "10",
		"sluice.task.restart.enable": "false"}}, 201, nil)
	waitFor(t, "the task to fail", func() bool {
		st := w.status(t, "gen")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
	})
	if tr := w.status(t, "gen").Tasks[0].Trace; !strings.Contains(tr, StageValueConverter) || !strings.Contains(tr, "errors.tolerance=all") {
		t.Errorf("trace %q does not name the stage and the fix", tr)
	}
}

// TestRetryPolicy: waits double from 300 ms with jitter of up to a fifth,
// are capped by errors.retry.delay.max.ms and by what is left of
// errors.retry.timeout; 0 never retries, -1 always.
func TestRetryPolicy(t *testing.T) {
	p := retryPolicy{timeout: time.Hour, maxDelay: 5 * time.Second}
	start := time.Now()
	for i, want := range []time.Duration{300, 600, 1200, 2400, 4800, 5000, 5000} {
		want *= time.Millisecond
		d, ok := p.next(start)
		if !ok || d > want || d < want*4/5 {
			t.Errorf("attempt %d: %v %v, want %v less up to a fifth", i, d, ok, want)
		}
	}
	p = retryPolicy{timeout: time.Second, maxDelay: time.Minute}
	if d, ok := p.next(time.Now().Add(-900 * time.Millisecond)); !ok || d > 100*time.Millisecond {
		t.Errorf("near the timeout: %v %v, want at most the 100 ms left", d, ok)
	}
	if _, ok := p.next(time.Now().Add(-2 * time.Second)); ok {
		t.Error("retried past the timeout")
	}
	p = retryPolicy{timeout: 0, maxDelay: time.Minute}
	if _, ok := p.next(time.Now()); ok {
		t.Error("errors.retry.timeout=0 retried")
	}
	p = retryPolicy{timeout: -1, maxDelay: time.Second}
	if _, ok := p.next(time.Now().Add(-24 * time.Hour)); !ok {
		t.Error("errors.retry.timeout=-1 stopped retrying")
	}
}

// TestErrorConfigRefused: bad error handling properties are refused per
// field.
func TestErrorConfigRefused(t *testing.T) {
	w := startWorker(t, nil)
	for prop, val := range map[string]string{"errors.tolerance": "some", "errors.deadletterqueue.topic.name": "bad name",
		"errors.deadletterqueue.topic.replication.factor": "0", "sluice.circuit.breaker.probe.initial.ms": "0"} {
		msg := putError(t, w, "x", map[string]string{"connector.class": "memsink", "topics": "t", prop: val})
		if !strings.Contains(msg, prop) {
			t.Errorf("%s=%s: %q does not name the property", prop, val, msg)
		}
	}
}

// TestSourceDeadLetterQueueInTransaction: under exactly-once the dead
// letter record is written in the task's transaction. With
// errors.tolerance=none the record that fails the task is written to the
// dead letter queue first, and the task's failure aborts the transaction:
// a read_uncommitted reader sees the record, a read_committed one does
// not.
func TestSourceDeadLetterQueueInTransaction(t *testing.T) {
	w := startWorker(t, map[string]string{config.ExactlyOnceSourceSupport: "enabled", config.GroupID: "eos"})
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "gen", "iterations": "100", "poison.every": "10",
		"errors.deadletterqueue.topic.name": "gen-dlq", "sluice.task.restart.enable": "false"}}, 201, nil)
	waitFor(t, "the task to fail", func() bool {
		st := w.status(t, "gen")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
	})
	if tr := w.status(t, "gen").Tasks[0].Trace; !strings.Contains(tr, StageValueConverter) {
		t.Errorf("trace %q does not name the stage", tr)
	}
	if got := readTopic(t, w.bootstrap, "gen-dlq", 1, 300*time.Millisecond, false); len(got) != 1 {
		t.Fatalf("read_uncommitted: %d dead letter records, want the one that failed the task", len(got))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap), kgo.ConsumeTopics("gen-dlq"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n := len(cl.PollFetches(ctx).Records()); n != 0 {
		t.Errorf("read_committed: %d dead letter records of an aborted transaction", n)
	}
}
