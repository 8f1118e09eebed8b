// Package it holds the integration suites: real `sluice broker` and
// `sluice worker` processes built from the tree (it/harness), driven
// through the REST API and checked by consuming the topics with franz-go.
package it

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// TestMain runs the suites, then checks that no goroutine of the test
// process (franz-go clients, process waiters, HTTP connections) outlived
// its test. The sluice binary itself is built lazily by harness.Binary,
// with -race when the tests run with it.
func TestMain(m *testing.M) {
	code := m.Run()
	harness.RemoveBinary()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// freeAddr returns a 127.0.0.1 address nobody listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(harness.FreePort(t))
}

// isolated returns worker properties (props plus group.id and the four
// state topics) unique to this test run, so that workers of parallel
// tests, and of earlier runs, never share state when the suite runs
// against one external cluster (SLUICE_IT_KAFKA_BOOTSTRAP). It also
// returns the suffix, for naming the test's data topics.
func isolated(t testing.TB, props map[string]string) (map[string]string, string) {
	t.Helper()
	var raw [4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	sfx := hex.EncodeToString(raw[:])
	out := map[string]string{
		"group.id":              "it-" + sfx,
		"config.storage.topic":  "it-" + sfx + "-configs",
		"offset.storage.topic":  "it-" + sfx + "-offsets",
		"status.storage.topic":  "it-" + sfx + "-status",
		"schema.registry.topic": "it-" + sfx + "-schemas",
	}
	for k, v := range props {
		out[k] = v
	}
	return out, sfx
}

// datagen returns a datagen connector config for topic.
func datagen(topic string, extra map[string]string) map[string]string {
	cfg := map[string]string{"connector.class": "datagen", "kafka.topic": topic}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// create POSTs a connector and checks it was created.
func create(t testing.TB, w *harness.Worker, name string, cfg map[string]string) {
	t.Helper()
	w.JSON("POST", "/connectors", map[string]any{"name": name, "config": cfg}, http.StatusCreated, nil)
}

// status is GET /connectors/{c}/status as the tests read it.
type status struct {
	Name      string `json:"name"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"tasks"`
	Type string `json:"type"`
}

func getStatus(t testing.TB, w *harness.Worker, name string) status {
	t.Helper()
	var st status
	w.JSON("GET", "/connectors/"+name+"/status", nil, http.StatusOK, &st)
	return st
}

// waitState waits until the connector is in state conn and has exactly
// tasks tasks, all in state task (task is ignored when tasks is 0).
func waitState(t testing.TB, w *harness.Worker, name, conn string, tasks int, task string) status {
	t.Helper()
	var st status
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("connector %s %s with %d tasks %s", name, conn, tasks, task), func() error {
		st = getStatus(t, w, name)
		if st.Connector.State != conn {
			return fmt.Errorf("connector state %s (trace %q)", st.Connector.State, st.Connector.Trace)
		}
		if len(st.Tasks) != tasks {
			return fmt.Errorf("%d tasks: %+v", len(st.Tasks), st.Tasks)
		}
		for _, ts := range st.Tasks {
			if ts.State != task {
				return fmt.Errorf("task %d state %s (trace %q)", ts.ID, ts.State, ts.Trace)
			}
		}
		return nil
	})
	return st
}

// offsetsBody is the KIP-875 offsets document.
type offsetsBody struct {
	Offsets []struct {
		Partition map[string]any `json:"partition"`
		Offset    map[string]any `json:"offset"`
	} `json:"offsets"`
}

// taskOffsets reads GET /connectors/{c}/offsets of a datagen connector
// as task index → committed seq.
func taskOffsets(t testing.TB, w *harness.Worker, name string) map[int]int64 {
	t.Helper()
	var body offsetsBody
	w.JSON("GET", "/connectors/"+name+"/offsets", nil, http.StatusOK, &body)
	out := map[int]int64{}
	for _, o := range body.Offsets {
		task, ok1 := o.Partition["task"].(float64)
		seq, ok2 := o.Offset["seq"].(float64)
		if !ok1 || !ok2 || len(o.Partition) != 1 || len(o.Offset) != 1 {
			t.Fatalf("offsets of %s: entry %v → %v is not {\"task\": i} → {\"seq\": n}", name, o.Partition, o.Offset)
		}
		out[int(task)] = int64(seq)
	}
	return out
}

// seqOf returns a record's datagen.seq header.
func seqOf(t testing.TB, r *kgo.Record) int64 {
	t.Helper()
	for _, h := range r.Headers {
		if h.Key == "datagen.seq" {
			n, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				t.Fatalf("record %s/%d@%d: datagen.seq header %q: %v", r.Topic, r.Partition, r.Offset, h.Value, err)
			}
			return n
		}
	}
	t.Fatalf("record %s/%d@%d has no datagen.seq header", r.Topic, r.Partition, r.Offset)
	return 0
}

// valueSeq returns the "seq" field of a JsonConverter value (with or
// without the schema envelope).
func valueSeq(t testing.TB, r *kgo.Record) int64 {
	t.Helper()
	var v struct {
		Seq     *int64 `json:"seq"`
		Payload *struct {
			Seq *int64 `json:"seq"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("record %s/%d@%d: value %q is not JSON: %v", r.Topic, r.Partition, r.Offset, r.Value, err)
	}
	switch {
	case v.Payload != nil && v.Payload.Seq != nil:
		return *v.Payload.Seq
	case v.Seq != nil:
		return *v.Seq
	}
	t.Fatalf("record %s/%d@%d: value has no seq field: %s", r.Topic, r.Partition, r.Offset, r.Value)
	return 0
}

// topicReader consumes one topic from its start and counts how often each
// datagen sequence number arrived.
type topicReader struct {
	t     testing.TB
	cl    *kgo.Client
	topic string

	mu       sync.Mutex
	counts   map[int64]int
	records  int
	distinct int
	// check, when set, is called for every record (e.g. to compare the
	// value's seq with the header's).
	check func(*kgo.Record, int64)
}

func newTopicReader(t testing.TB, bootstrap, topic string) *topicReader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return &topicReader{t: t, cl: cl, topic: topic, counts: map[int64]int{}}
}

// pollOnce fetches what is available (waiting at most d).
func (r *topicReader) pollOnce(d time.Duration) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := r.cl.PollFetches(ctx)
	fs.EachError(func(topic string, p int32, err error) {
		if ctx.Err() == nil && err != context.DeadlineExceeded && err != context.Canceled {
			r.t.Logf("consuming %s[%d]: %v", topic, p, err)
		}
	})
	fs.EachRecord(func(rec *kgo.Record) {
		n := seqOf(r.t, rec)
		if r.check != nil {
			r.check(rec, n)
		}
		r.mu.Lock()
		r.records++
		if r.counts[n] == 0 {
			r.distinct++
		}
		r.counts[n]++
		r.mu.Unlock()
	})
}

// until consumes until cond holds, failing the test after timeout.
func (r *topicReader) until(timeout time.Duration, what string, cond func() error) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting %v for %s in topic %s: %v", timeout, what, r.topic, err)
		}
		r.pollOnce(500 * time.Millisecond)
	}
}

func (r *topicReader) count(seq int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[seq]
}

func (r *topicReader) totals() (records, distinct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records, r.distinct
}

// freshMetadata lets a client see a topic created a moment ago: by
// default franz-go caches metadata for 5 s, so end offsets of a topic the
// worker just created would read as missing for that long.
var freshMetadata = kgo.MetadataMinAge(100 * time.Millisecond)

// endOffsets returns the sum of the topic's end offsets (0 when it does
// not exist yet).
func endOffsets(t testing.TB, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing end offsets of %s: %v", topic, err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			sum += o.Offset
		}
	})
	return sum
}

// errorBody is Connect's error entity.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// expectError sends a request and checks it fails with status in Connect's
// error shape, returning the message.
func expectError(t testing.TB, w *harness.Worker, method, path string, body any, wantStatus int) string {
	t.Helper()
	st, out := w.Do(method, path, body)
	if st != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, wantStatus, out)
	}
	var e errorBody
	dec := json.NewDecoder(strings.NewReader(string(out)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("%s %s: body %s is not {\"error_code\", \"message\"}: %v", method, path, out, err)
	}
	if e.ErrorCode != wantStatus || e.Message == "" {
		t.Fatalf("%s %s: error body %s: want error_code %d and a message", method, path, out, wantStatus)
	}
	return e.Message
}

// mustContain fails unless s contains every one of subs.
func mustContain(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not mention %q:\n%s", what, sub, s)
		}
	}
}
