package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"
)

// testTaskHostEnv makes the test binary a task host (isolation_test.go),
// with the test connectors registered.
const testTaskHostEnv = "SLUICE_TEST_TASK_HOST"

func TestMain(m *testing.M) {
	if os.Getenv(testTaskHostEnv) != "" {
		err := RunTaskHost(context.Background(), TaskHostOptions{Plugins: testPlugins(), Transforms: testTransforms(),
			Converters: testConverters(), Log: os.Stderr}, os.Stdin, os.NewFile(3, "reports"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// testTaskHost runs this test binary as a task host.
func testTaskHost() TaskHost {
	exe, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return TaskHost{Path: exe, Env: []string{testTaskHostEnv + "=1"}}
}

// hangConnector's task blocks in Poll, ignoring its context, until
// release is closed: a connector that never honours cancellation.
type hangConnector struct{}

// release holds the channel of the running test; Poll loads it once.
// hanging counts the Polls blocked on it: a test that stops the task
// must wait for one, or the task may be stopped before its first Poll
// and return at once.
var (
	release atomic.Pointer[chan struct{}]
	hanging atomic.Int32
)

func (hangConnector) Config() *config.Def { return config.NewDef() }
func (hangConnector) Start(context.Context, connectors.ConnectorContext, map[string]string) error {
	return nil
}
func (hangConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{}}, nil
}
func (hangConnector) Stop(context.Context) error     { return nil }
func (hangConnector) NewTask() connectors.SourceTask { return &hangTask{} }

type hangTask struct{}

func (*hangTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}
func (*hangTask) Poll(context.Context) ([]*connectors.Record, error) {
	ch := release.Load()
	hanging.Add(1)
	defer hanging.Add(-1)
	<-*ch
	return nil, nil
}
func (*hangTask) Stop(context.Context) error { return nil }

// markerConnector's task returns one record on topic "marked" at offset
// 1 and then an offset marker at offset 2, once.
type markerConnector struct{ hangConnector }

func (markerConnector) NewTask() connectors.SourceTask { return &markerTask{} }

type markerTask struct{ done bool }

func (*markerTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}
func (m *markerTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if m.done {
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
		return nil, nil
	}
	m.done = true
	part := map[string]any{"p": "x"}
	return []*connectors.Record{
		{Topic: "marked", Value: []byte("v"), ValueSchema: connectors.OptionalBytesSchema,
			SourcePartition: part, SourceOffset: map[string]any{"pos": int64(1)}},
		{SourcePartition: part, SourceOffset: map[string]any{"pos": int64(2)}},
	}, nil
}
func (*markerTask) Stop(context.Context) error { return nil }

// memSink keeps what it is given; with memsink.hold=true, Flush reports
// nothing durable.
type memSink struct{ props map[string]string }

var sinkMem struct {
	sync.Mutex
	records map[int64]int // datagen seq → times seen
}

func (*memSink) Config() *config.Def {
	return config.NewDef(config.Key{Name: "memsink.hold", Type: config.Boolean, Default: "false"})
}
func (m *memSink) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	m.props = props
	return nil
}
func (m *memSink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{m.props}, nil
}
func (*memSink) Stop(context.Context) error   { return nil }
func (*memSink) NewTask() connectors.SinkTask { return &memSinkTask{} }

type memSinkTask struct{ hold bool }

func (t *memSinkTask) Start(_ context.Context, _ connectors.SinkTaskContext, props map[string]string) error {
	t.hold = props["memsink.hold"] == "true"
	return nil
}

func (t *memSinkTask) Put(_ context.Context, recs []*connectors.Record) error {
	sinkMem.Lock()
	defer sinkMem.Unlock()
	if sinkMem.records == nil {
		sinkMem.records = map[int64]int{} // in a task process
	}
	for _, r := range recs {
		v, ok := r.Value.([]connectors.MapEntry)
		if !ok {
			return fmt.Errorf("unexpected value %T", r.Value)
		}
		for _, e := range v {
			if e.Key == "seq" {
				sinkMem.records[e.Value.(int64)]++
			}
		}
	}
	return nil
}

func (t *memSinkTask) Flush(_ context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	if t.hold {
		return nil, nil
	}
	return cur, nil
}
func (t *memSinkTask) Stop(context.Context) error { return nil }

type testWorker struct {
	url       string
	bootstrap string
	cancel    context.CancelFunc
	done      chan error
	stopOnce  sync.Once
	logs      logBuffer
	cluster   *kfake.Cluster
}

// logBuffer keeps a worker's log for the test to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startWorker runs a worker on a kfake cluster of its own, or, when props
// set sluice.data.dir, on the embedded broker (at sluice.broker.listen).
func startWorker(t testing.TB, props map[string]string) *testWorker {
	t.Helper()
	bootstrap := props[config.BrokerListen]
	var c *kfake.Cluster
	if props[config.DataDir] == "" && props[config.BootstrapServers] == "" {
		var err error
		if c, err = kfake.NewCluster(kfake.NumBrokers(1)); err != nil {
			t.Fatal(err)
		}
		bootstrap = c.ListenAddrs()[0]
	}
	all := map[string]string{config.BootstrapServers: bootstrap, config.Listeners: "http://127.0.0.1:0",
		config.OffsetFlushInterval: "200", config.TaskShutdownGracefulTimeout: "500", config.DataDir: t.TempDir(),
		"value.converter.schemas.enable": "false"}
	for k, v := range props {
		all[k] = v
	}
	if c == nil && props[config.BootstrapServers] == "" {
		all[config.BootstrapServers] = ""
	}
	cfg, err := config.LoadWorker("", nil, all)
	if err != nil {
		t.Fatal(err)
	}
	reg := testPlugins()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	w := &testWorker{cancel: cancel, done: make(chan error, 1), bootstrap: bootstrap, cluster: c}
	var out io.Writer = &w.logs
	if testing.Verbose() {
		out = io.MultiWriter(&w.logs, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(out, nil))
	go func() {
		w.done <- Run(ctx, Options{Config: cfg, Plugins: reg, Transforms: testTransforms(),
			Converters: testConverters(), Logger: logger, TaskHost: testTaskHost(),
			Started: time.Now(), Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		w.url = "http://" + a
	case err := <-w.done:
		t.Fatalf("worker exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("worker not ready")
	}
	t.Cleanup(func() {
		w.stop(t)
		if c != nil {
			c.Close()
		}
	})
	return w
}

// stop stops the worker and waits for it; it is idempotent.
func (w *testWorker) stop(t testing.TB) {
	w.stopOnce.Do(func() {
		w.cancel()
		if err := <-w.done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

func (w *testWorker) do(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+path, r)
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *testWorker) status(t *testing.T, name string) api.ConnectorStatus {
	var st api.ConnectorStatus
	w.do(t, "GET", "/connectors/"+name+"/status", nil, 200, &st)
	return st
}

// statusOnceKnown is status, or false while the worker does not know the
// connector yet (another worker of a pool created it and this one has not
// read the configs topic that far).
func (w *testWorker) statusOnceKnown(t *testing.T, name string) (api.ConnectorStatus, bool) {
	t.Helper()
	resp, err := http.Get(w.url + "/connectors/" + name + "/status")
	if err != nil {
		t.Fatalf("GET status of %s: %v", name, err)
	}
	defer resp.Body.Close()
	var st api.ConnectorStatus
	switch resp.StatusCode {
	case http.StatusNotFound:
		return st, false
	case http.StatusOK:
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatalf("GET status of %s: %v", name, err)
		}
		return st, true
	}
	b, _ := io.ReadAll(resp.Body)
	t.Fatalf("GET status of %s: %d %s", name, resp.StatusCode, b)
	return st, false
}

func TestHungTaskDoesNotBlockTheWorker(t *testing.T) {
	ch := make(chan struct{})
	release.Store(&ch)
	var once sync.Once
	unblock := func() { once.Do(func() { close(ch) }) }
	defer unblock()
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "stuck", "config": map[string]string{"connector.class": "hang"}}, 201, nil)
	waitFor(t, "hung task RUNNING and blocked in Poll", func() bool {
		st := w.status(t, "stuck")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning && hanging.Load() > 0
	})
	start := time.Now()
	w.do(t, "PUT", "/connectors/stuck/stop", nil, 204, nil)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("stop request took %v", d)
	}
	// While the herder gives up on the task, REST keeps answering and
	// other connectors run.
	w.do(t, "GET", "/", nil, 200, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "dg", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "iterations": "100"}}, 201, nil)
	waitFor(t, "stuck connector STOPPED", func() bool { return w.status(t, "stuck").Connector.State == api.StateStopped })
	waitFor(t, "datagen RUNNING next to the abandoned task", func() bool {
		st := w.status(t, "dg")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("abandoning the hung task took %v (graceful timeout 500ms)", d)
	}
	// The abandoned task still runs and could commit offsets after a
	// reset, undoing it: the offsets API refuses until it has returned.
	w.do(t, "DELETE", "/connectors/stuck/offsets", nil, http.StatusConflict, nil)
	unblock()
	waitFor(t, "offsets reset once the abandoned task returned", func() bool {
		req, _ := http.NewRequest("DELETE", w.url+"/connectors/stuck/offsets", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestSinkCommitsOnlyWhatFlushMadeDurable(t *testing.T) {
	sinkMem.Lock()
	sinkMem.records = map[int64]int{}
	sinkMem.Unlock()
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "src", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "pv", "quickstart": "pageviews", "iterations": "3000"}}, 201, nil)
	offsetsOf := func(name string) (total int64) {
		var o api.Offsets
		w.do(t, "GET", "/connectors/"+name+"/offsets", nil, 200, &o)
		for _, e := range o.Offsets {
			total += int64(e.Offset["kafka_offset"].(float64))
		}
		return total
	}

	// A sink that never makes anything durable commits nothing, though
	// it was handed every record.
	w.do(t, "POST", "/connectors", map[string]any{"name": "held", "config": map[string]string{
		"connector.class": "memsink", "topics": "pv", "memsink.hold": "true"}}, 201, nil)
	waitFor(t, "held sink to see every record", func() bool {
		sinkMem.Lock()
		defer sinkMem.Unlock()
		return len(sinkMem.records) == 3000
	})
	time.Sleep(600 * time.Millisecond) // three flush intervals
	if got := offsetsOf("held"); got != 0 {
		t.Fatalf("held sink committed offsets summing to %d; nothing was durable", got)
	}

	// A sink whose Flush reports everything durable commits the end.
	w.do(t, "POST", "/connectors", map[string]any{"name": "durable", "config": map[string]string{
		"connector.class": "memsink", "topics": "pv"}}, 201, nil)
	waitFor(t, "durable sink to commit all 3000 records", func() bool { return offsetsOf("durable") == 3000 })
	// KIP-558: both the source and the sink report the topic they used,
	// and a reset forgets it.
	for _, c := range []string{"src", "durable"} {
		var got map[string]struct{ Topics []string }
		w.do(t, "GET", "/connectors/"+c+"/topics", nil, 200, &got)
		if ts := got[c].Topics; len(ts) != 1 || ts[0] != "pv" {
			t.Fatalf("GET /connectors/%s/topics = %v, want [pv]", c, got)
		}
	}
	w.do(t, "PUT", "/connectors/src/topics/reset", nil, http.StatusAccepted, nil)
	var reset map[string]struct{ Topics []string }
	w.do(t, "GET", "/connectors/src/topics", nil, 200, &reset)
	if len(reset["src"].Topics) != 0 {
		t.Fatalf("topics after reset = %v", reset)
	}
	sinkMem.Lock()
	for seq := int64(0); seq < 3000; seq++ {
		if sinkMem.records[seq] < 2 {
			t.Errorf("seq %d seen %d times, want once per sink", seq, sinkMem.records[seq])
			break
		}
	}
	sinkMem.Unlock()
}

// An offset marker (a record without a topic) produces nothing, and its
// offset is committed after the record before it.
func TestOffsetMarkerCommitsWithoutProducing(t *testing.T) {
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "mk", "config": map[string]string{"connector.class": "marker"}}, 201, nil)
	waitFor(t, "the marker's offset committed", func() bool {
		var o api.Offsets
		w.do(t, "GET", "/connectors/mk/offsets", nil, 200, &o)
		return len(o.Offsets) == 1 && o.Offsets[0].Offset["pos"] == float64(2)
	})
	if st := w.status(t, "mk"); len(st.Tasks) != 1 || st.Tasks[0].State != api.StateRunning {
		t.Fatalf("status %+v", st)
	}
	var got map[string]struct{ Topics []string }
	w.do(t, "GET", "/connectors/mk/topics", nil, 200, &got)
	if ts := got["mk"].Topics; len(ts) != 1 || ts[0] != "marked" {
		t.Fatalf("topics %v, want only [marked]", got)
	}
}

// A task stuck in connector code that ignores its context cannot hold the
// worker's shutdown: the worker stops after the graceful timeout (twice:
// once for the stop, once more for the stuck task) and says so.
func TestWorkerStopIsBoundedByAStuckTask(t *testing.T) {
	ch := make(chan struct{})
	release.Store(&ch)
	var once sync.Once
	unblock := func() { once.Do(func() { close(ch) }) }
	defer unblock()
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "stuck", "config": map[string]string{"connector.class": "hang"}}, 201, nil)
	waitFor(t, "hung task RUNNING and blocked in Poll", func() bool {
		st := w.status(t, "stuck")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning && hanging.Load() > 0
	})
	start := time.Now()
	w.cancel()
	var err error
	select {
	case err = <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop in 30 s with a stuck task (graceful timeout 500 ms)")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("worker stop took %v with a graceful timeout of 500 ms", d)
	}
	w.done <- err // for the cleanup
	// The stuck goroutine ends once released; goleak's retries wait for it.
	unblock()
}

// A worker whose Kafka went away stops within its timeouts: status
// writes, the source's final flush and the stores give up instead of
// waiting for the brokers.
func TestWorkerStopsWhenKafkaIsDown(t *testing.T) {
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "dg", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "max.interval": "10"}}, 201, nil)
	waitFor(t, "datagen RUNNING", func() bool {
		st := w.status(t, "dg")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	w.cluster.Close()
	start := time.Now()
	w.cancel()
	var err error
	select {
	case err = <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("worker did not stop in 2 minutes with Kafka down")
	}
	// offset.flush.timeout.ms (5 s) for the source's final flush, the
	// graceful timeout (500 ms) for the rest, and slack for a loaded
	// machine.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("worker stop with Kafka down took %v", d)
	}
	w.done <- err // for the cleanup
}

// testPlugins are the connectors of the runtime's tests, in the worker
// and in its task hosts.
func testPlugins() *connectors.Registry {
	return connectors.NewRegistry(datagen.Plugin(),
		connectors.Plugin{Name: "hang", Type: connectors.SourceType, New: func() connectors.Connector { return hangConnector{} }},
		connectors.Plugin{Name: "marker", Type: connectors.SourceType, New: func() connectors.Connector { return markerConnector{} }},
		connectors.Plugin{Name: "topics", Type: connectors.SourceType, New: func() connectors.Connector { return &topicsConnector{} }},
		connectors.Plugin{Name: "lazy", Type: connectors.SourceType, New: func() connectors.Connector { return &lazyConnector{} }},
		connectors.Plugin{Name: "memsink", Type: connectors.SinkType, New: func() connectors.Connector { return &memSink{} }},
		connectors.Plugin{Name: "problem", Type: connectors.SourceType, New: func() connectors.Connector { return problemConnector{} }},
		connectors.Plugin{Name: "panicker", Type: connectors.SourceType, New: func() connectors.Connector { return &panicConnector{} }},
		connectors.Plugin{Name: "panicsink", Type: connectors.SinkType, New: func() connectors.Connector { return &panicSinkConnector{} }},
		connectors.Plugin{Name: "scratch", Type: connectors.SourceType, New: func() connectors.Connector { return scratchConnector{} }},
		connectors.Plugin{Name: "split", Type: connectors.SourceType, New: func() connectors.Connector { return splitConnector{} }},
		connectors.Plugin{Name: "raiser", Type: connectors.SourceType, New: func() connectors.Connector { return raiserConnector{} }},
		connectors.Plugin{Name: "leaker", Type: connectors.SourceType, New: func() connectors.Connector { return &leakConnector{} }},
		connectors.Plugin{Name: "leaksink", Type: connectors.SinkType, New: func() connectors.Connector { return &leakSinkConnector{} }},
		connectors.Plugin{Name: "hangstart", Type: connectors.SourceType, New: func() connectors.Connector { return hangStartConnector{} }},
		connectors.Plugin{Name: "crash", Type: connectors.SourceType, New: func() connectors.Connector { return crashConnector{} }},
		connectors.Plugin{Name: "hog", Type: connectors.SourceType, New: func() connectors.Connector { return hogConnector{} }},
		connectors.Plugin{Name: "flakysink", Type: connectors.SinkType, New: func() connectors.Connector { return &flakySink{} }})
}

func testTransforms() *transforms.Registry {
	return transforms.NewRegistry(append(transforms.BuiltinPlugins(), noopTransform, panicTransform)...)
}

func testConverters() *converter.Catalog {
	return converter.NewCatalog(append(converter.BuiltinPlugins(), panicConverterPlugin)...)
}
