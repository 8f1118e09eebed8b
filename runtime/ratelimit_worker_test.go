package runtime

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicEnds returns the end offset of each partition of topic (none
// while the topic does not exist).
func topicEnds(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

func sumEnds(m map[int32]int64) (n int64) {
	for _, o := range m {
		n += o
	}
	return n
}

// runningTasks waits until connector name has n RUNNING tasks.
func (w *testWorker) runningTasks(t *testing.T, name string, n int) {
	t.Helper()
	waitFor(t, name+" RUNNING", func() bool {
		st := w.status(t, name)
		if len(st.Tasks) != n {
			return false
		}
		for _, ts := range st.Tasks {
			if ts.State != api.StateRunning {
				return false
			}
		}
		return true
	})
}

// minShare is the least share of its limit a rate-limited connector
// must reach in the worker tests below. The upper bound (+5%) is what the
// limit promises; the lower one catches a limiter that throttles below
// it. It is loose because a task descheduled for more than the bucket's
// one-second burst loses the tokens meanwhile: on a CI machine at load
// 8-10 with the race detector, 4,578 of 5,000 records/s and 88,565 of
// 100,000 bytes/s were measured with the limiter working as designed.
const minShare = 0.8

// TestSourceRateLimitRecords: a datagen connector of two tasks limited to
// 2,000 records/s writes 2,000 records/s (+5%, -20%: see minShare) to its topic over 20 s,
// through the worker and the embedded broker. (At 5,000 records/s a CI
// machine at load 10 with the race detector fell short, at 4,578: the
// lower bound then measured the machine, not the limiter.)
func TestSourceRateLimitRecords(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	w := startWorker(t, embeddedProps(dir, addr))
	adm := adminAt(t, addr)
	w.do(t, "POST", "/connectors", map[string]any{"name": "limited", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "rl", "tasks.max": "2",
		"sluice.rate.limit.records.per.sec": "2000"}}, 201, nil)
	w.runningTasks(t, "limited", 2)
	waitFor(t, "records in rl", func() bool { return sumEnds(topicEnds(t, adm, "rl")) > 0 })
	time.Sleep(time.Second) // past the start
	n0, t0 := sumEnds(topicEnds(t, adm, "rl")), time.Now()
	time.Sleep(20 * time.Second)
	n1, t1 := sumEnds(topicEnds(t, adm, "rl")), time.Now()
	rate := float64(n1-n0) / t1.Sub(t0).Seconds()
	t.Logf("%d records in %v: %.0f records/s", n1-n0, t1.Sub(t0), rate)
	if rate < 2000*minShare || rate > 2100 {
		t.Fatalf("rate %.0f records/s, want 2000 (at most +5%%, at least %.0f%%)", rate, 100*minShare)
	}
}

// TestSourceRateLimitBytes: a datagen connector limited to 100,000
// bytes/s writes keys and values of 100,000 bytes/s (+5%, -20%: see minShare).
func TestSourceRateLimitBytes(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	w := startWorker(t, embeddedProps(dir, addr))
	adm := adminAt(t, addr)
	w.do(t, "POST", "/connectors", map[string]any{"name": "bytes", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "rb", "quickstart": "pageviews",
		"sluice.rate.limit.bytes.per.sec": "100000"}}, 201, nil)
	w.runningTasks(t, "bytes", 1)
	waitFor(t, "records in rb", func() bool { return sumEnds(topicEnds(t, adm, "rb")) > 0 })
	time.Sleep(time.Second)
	e0, t0 := topicEnds(t, adm, "rb"), time.Now()
	time.Sleep(10 * time.Second)
	e1, t1 := topicEnds(t, adm, "rb"), time.Now()

	// Read what was written between the two and add up its bytes.
	parts := map[int32]kgo.Offset{}
	for p, o := range e0 {
		parts[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"rb": parts}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var bytes int64
	left := sumEnds(e1) - sumEnds(e0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < e1[r.Partition] {
				bytes += int64(len(r.Key) + len(r.Value))
				left--
			}
		})
	}
	rate := float64(bytes) / t1.Sub(t0).Seconds()
	t.Logf("%d bytes in %d records in %v: %.0f bytes/s", bytes, sumEnds(e1)-sumEnds(e0), t1.Sub(t0), rate)
	if rate < 100_000*minShare || rate > 105_000 {
		t.Fatalf("rate %.0f bytes/s, want 100000 (at most +5%%, at least %.0f%%)", rate, 100*minShare)
	}
}

// TestRateLimitedSourceStopsAndPauses: a task waiting for a long rate
// limit debt stops at once when told (it is not abandoned), and a paused
// task produces nothing however many records its last poll returned.
func TestRateLimitedSourceStopsAndPauses(t *testing.T) {
	w := startWorker(t, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// 1 byte/s: the first record goes, and leaves minutes of debt.
	w.do(t, "POST", "/connectors", map[string]any{"name": "slow", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "slow", "sluice.rate.limit.bytes.per.sec": "1"}}, 201, nil)
	w.runningTasks(t, "slow", 1)
	waitFor(t, "the first record", func() bool { return sumEnds(topicEnds(t, adm, "slow")) > 0 })
	start := time.Now()
	w.do(t, "PUT", "/connectors/slow/stop", nil, 204, nil)
	waitFor(t, "slow STOPPED", func() bool { return w.status(t, "slow").Connector.State == api.StateStopped })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stopping a task waiting for the rate limit took %v", d)
	}
	if strings.Contains(w.logs.String(), "abandoning") {
		t.Fatalf("the waiting task was abandoned, not stopped:\n%s", w.logs.String())
	}
	if n := sumEnds(topicEnds(t, adm, "slow")); n != 1 {
		t.Fatalf("%d records at 1 byte/s, want 1", n)
	}

	// 200 records/s, polls of 1000: pause mid-poll.
	w.do(t, "POST", "/connectors", map[string]any{"name": "paced", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "paced", "sluice.rate.limit.records.per.sec": "200"}}, 201, nil)
	w.runningTasks(t, "paced", 1)
	waitFor(t, "records in paced", func() bool { return sumEnds(topicEnds(t, adm, "paced")) > 100 })
	w.do(t, "PUT", "/connectors/paced/pause", nil, 202, nil)
	waitFor(t, "paced PAUSED", func() bool {
		st := w.status(t, "paced")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StatePaused
	})
	time.Sleep(300 * time.Millisecond) // what was handed over lands
	n0 := sumEnds(topicEnds(t, adm, "paced"))
	time.Sleep(time.Second)
	if n1 := sumEnds(topicEnds(t, adm, "paced")); n1 != n0 {
		t.Fatalf("a paused task wrote %d records in a second", n1-n0)
	}
	w.do(t, "PUT", "/connectors/paced/resume", nil, 202, nil)
	waitFor(t, "records after resume", func() bool { return sumEnds(topicEnds(t, adm, "paced")) > n0+50 })
}

// TestRateLimitInvalidValues: a negative or non-numeric limit is a 400
// naming the property, and validation reports it on the property.
func TestRateLimitInvalidValues(t *testing.T) {
	w := startWorker(t, nil)
	post := func(cfg map[string]string) (int, string) {
		b, _ := json.Marshal(map[string]any{"name": "bad", "config": cfg})
		req, _ := http.NewRequest("POST", w.url+"/connectors", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if e.ErrorCode != resp.StatusCode {
			t.Fatalf("error_code %d, status %d", e.ErrorCode, resp.StatusCode)
		}
		return resp.StatusCode, e.Message
	}
	for _, tc := range []struct{ key, value, want string }{
		{"sluice.rate.limit.records.per.sec", "-1", "at least 0"},
		{"sluice.rate.limit.records.per.sec", "fast", "expected a number"},
		{"sluice.rate.limit.bytes.per.sec", "-100", "at least 0"},
		{"sluice.rate.limit.bytes.per.sec", "1MB", "expected a 64-bit integer"},
	} {
		code, msg := post(map[string]string{"connector.class": "datagen", "kafka.topic": "x", tc.key: tc.value})
		if code != http.StatusBadRequest || !strings.Contains(msg, tc.key) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s=%s: %d %q; want 400 naming the property and saying %q", tc.key, tc.value, code, msg, tc.want)
		}
	}
	var infos struct {
		ErrorCount int `json:"error_count"`
		Configs    []struct {
			Value struct {
				Name   string   `json:"name"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	w.do(t, "PUT", "/connector-plugins/datagen/config/validate", map[string]string{
		"name": "v", "connector.class": "datagen", "kafka.topic": "x", "sluice.rate.limit.records.per.sec": "-2"}, 200, &infos)
	found := false
	for _, c := range infos.Configs {
		if c.Value.Name == "sluice.rate.limit.records.per.sec" {
			found = len(c.Value.Errors) == 1 && strings.Contains(c.Value.Errors[0], "at least 0")
		}
	}
	if infos.ErrorCount != 1 || !found {
		t.Fatalf("validate: %+v", infos)
	}
	// Unset, zero and a fraction are fine.
	w.do(t, "POST", "/connectors", map[string]any{"name": "ok", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "x", "sluice.rate.limit.records.per.sec": "0.5",
		"sluice.rate.limit.bytes.per.sec": "0"}}, 201, nil)
}

// splitConnector has as many tasks as splitTasks says, whose configs do
// not change when their number does; each writes records to topic split
// as fast as it may.
type splitConnector struct{}

var splitTasks atomic.Int32

// splitCtx is the running split connector's context, to ask for new
// task configs.
var splitCtx atomic.Pointer[connectors.ConnectorContext]

func (splitConnector) Config() *config.Def { return config.NewDef() }
func (splitConnector) Start(_ context.Context, cctx connectors.ConnectorContext, _ map[string]string) error {
	splitCtx.Store(&cctx)
	return nil
}
func (splitConnector) TaskConfigs(int) ([]map[string]string, error) {
	out := make([]map[string]string, splitTasks.Load())
	for i := range out {
		out[i] = map[string]string{"split.task": strconv.Itoa(i)}
	}
	return out, nil
}
func (splitConnector) Stop(context.Context) error     { return nil }
func (splitConnector) NewTask() connectors.SourceTask { return &splitTask{} }

type splitTask struct{ id string }

func (s *splitTask) Start(_ context.Context, _ connectors.SourceTaskContext, props map[string]string) error {
	s.id = props["split.task"]
	return nil
}
func (s *splitTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	recs := make([]*connectors.Record, 100)
	for i := range recs {
		recs[i] = &connectors.Record{Topic: "split", Value: []byte("v"), ValueSchema: connectors.OptionalBytesSchema,
			SourcePartition: map[string]any{"task": s.id}, SourceOffset: map[string]any{"pos": int64(i)}}
	}
	return recs, ctx.Err()
}
func (*splitTask) Stop(context.Context) error { return nil }

// TestRateLimitShareFollowsTaskCount: when a connector goes from one task
// to two without the first task's config changing, the first restarts
// with half the limit, so the connector keeps to its limit.
func TestRateLimitShareFollowsTaskCount(t *testing.T) {
	splitTasks.Store(1)
	w := startWorker(t, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	w.do(t, "POST", "/connectors", map[string]any{"name": "split", "config": map[string]string{
		"connector.class": "split", "tasks.max": "2", "sluice.rate.limit.records.per.sec": "1000"}}, 201, nil)
	w.runningTasks(t, "split", 1)
	rate := func() float64 {
		waitFor(t, "records in split", func() bool { return sumEnds(topicEnds(t, adm, "split")) > 0 })
		time.Sleep(500 * time.Millisecond)
		n0, t0 := sumEnds(topicEnds(t, adm, "split")), time.Now()
		time.Sleep(4 * time.Second)
		return float64(sumEnds(topicEnds(t, adm, "split"))-n0) / time.Since(t0).Seconds()
	}
	if r := rate(); r < 900 || r > 1100 {
		t.Fatalf("one task: %.0f records/s, want 1000", r)
	}
	splitTasks.Store(2)
	(*splitCtx.Load()).RequestTaskReconfiguration()
	w.runningTasks(t, "split", 2)
	if r := rate(); r < 900 || r > 1100 {
		t.Fatalf("two tasks: %.0f records/s, want 1000 (500 each)", r)
	}
}
