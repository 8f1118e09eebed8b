package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hogConnector's task keeps every 8 MiB slice it allocates, one per poll
// (20 ms apart): a connector that eats memory without bound. It runs
// only in a task process (the test binary as a task host).
type hogConnector struct{ hangConnector }

func (hogConnector) NewTask() connectors.SourceTask { return &hogTask{} }

type hogTask struct{ kept [][]byte }

func (*hogTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}

func (t *hogTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	b := make([]byte, 8<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1 // resident, not only reserved
	}
	t.kept = append(t.kept, b)
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
	return nil, nil
}

func (*hogTask) Stop(context.Context) error { return nil }

// taskProcesses returns the pids of this process's children (the task
// hosts of the workers the test started).
func taskProcesses(t *testing.T) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*/status")
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	var out []int
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok && strings.TrimSpace(v) == me {
				pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(d, "/proc/"), "/status"))
				out = append(out, pid)
			}
		}
	}
	return out
}

// seqsOf reads topic from its start until want distinct datagen sequence
// numbers were seen, and returns each one's key, value and headers.
func seqsOf(t *testing.T, bootstrap, topic string, want int) map[int64]*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int64]*kgo.Record{}
	deadline := time.Now().Add(60 * time.Second)
	for len(out) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: read %d distinct sequence numbers of %d within 60 s", topic, len(out), want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == datagen.SeqHeader {
					n, _ := strconv.ParseInt(string(h.Value), 10, 64)
					out[n] = r
				}
			}
		})
	}
	return out
}

// TestIsolatedTaskProducesAsInProcess: a datagen task in a task process
// writes exactly the records the same connector writes in the worker's
// process, and its statuses and topics are reported as usual.
func TestIsolatedTaskProducesAsInProcess(t *testing.T) {
	w := startWorker(t, nil)
	const n = 3000
	for _, iso := range []string{"none", "process"} {
		w.do(t, "POST", "/connectors", map[string]any{"name": "gen-" + iso, "config": map[string]string{
			"connector.class": "datagen", "kafka.topic": "gen-" + iso, "iterations": strconv.Itoa(n), "datagen.seed": "7",
			"task.isolation": iso, "transforms": "ts", "transforms.ts.type": "org.apache.kafka.connect.transforms.InsertField$Value",
			"transforms.ts.static.field": "via", "transforms.ts.static.value": "x"}}, 201, nil)
	}
	waitFor(t, "the isolated task RUNNING", func() bool {
		st := w.status(t, "gen-process")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	if len(taskProcesses(t)) != 1 {
		t.Fatalf("task processes: %v, want 1", taskProcesses(t))
	}
	in, out := seqsOf(t, w.bootstrap, "gen-none", n), seqsOf(t, w.bootstrap, "gen-process", n)
	for i := int64(0); i < n; i++ {
		a, b := in[i], out[i]
		if !bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
			t.Fatalf("seq %d differs:\nin process %s %s\nisolated   %s %s", i, a.Key, a.Value, b.Key, b.Value)
		}
	}
	var topics map[string]struct {
		Topics []string `json:"topics"`
	}
	waitFor(t, "the isolated task's topic recorded", func() bool {
		w.do(t, "GET", "/connectors/gen-process/topics", nil, 200, &topics)
		return len(topics["gen-process"].Topics) == 1
	})
	// Paused and resumed through the parent.
	w.do(t, "PUT", "/connectors/gen-process/pause", nil, 202, nil)
	waitFor(t, "the isolated task PAUSED", func() bool {
		st := w.status(t, "gen-process")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StatePaused
	})
	w.do(t, "PUT", "/connectors/gen-process/resume", nil, 202, nil)
	waitFor(t, "the isolated task RUNNING again", func() bool {
		st := w.status(t, "gen-process")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	// Deleting the connector ends its process; so does stopping the
	// worker.
	w.do(t, "DELETE", "/connectors/gen-process", nil, 204, nil)
	waitFor(t, "the task process gone", func() bool { return len(taskProcesses(t)) == 0 })
}

// TestIsolatedTaskSurvivesKill: kill -9 of a task process fails the task
// with its exit status; the restart resumes from the committed offsets,
// so no sequence number is missing (at least once: the unacknowledged
// tail may come twice) and, with exactly-once, none comes twice.
func TestIsolatedTaskSurvivesKill(t *testing.T) {
	for _, eos := range []bool{false, true} {
		t.Run("eos="+strconv.FormatBool(eos), func(t *testing.T) {
			props := map[string]string{}
			if eos {
				props = map[string]string{config.ExactlyOnceSourceSupport: "enabled", config.GroupID: "eos"}
			}
			w := startWorker(t, props)
			defer w.stop(t)
			const n = 12000
			w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
				"connector.class": "datagen", "kafka.topic": "gen", "iterations": strconv.Itoa(n), "datagen.rate": "4000",
				"task.isolation": "process", "sluice.task.restart.backoff.initial.ms": "100"}}, 201, nil)
			pid := waitTaskProcess(t, w, "gen")
			time.Sleep(time.Second) // some records written, some offsets committed
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the task FAILED by the kill", func() bool {
				st := w.status(t, "gen")
				return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
			})
			if tr := w.status(t, "gen").Tasks[0].Trace; !strings.Contains(tr, "signal: killed") {
				t.Errorf("trace %q, want the exit status", tr)
			}
			waitFor(t, "the task restarted in a new process", func() bool {
				st := w.status(t, "gen")
				ps := taskProcesses(t)
				return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning && len(ps) == 1 && ps[0] != pid
			})
			if eos {
				checkExactlyOnce(t, committedSeqs(t, w.bootstrap, "gen", n, 2*time.Second), n)
				return
			}
			seen := committedSeqs(t, w.bootstrap, "gen", n, time.Second)
			dups := 0
			for i := int64(0); i < n; i++ {
				if seen[i] == 0 {
					t.Fatalf("sequence number %d missing after the kill", i)
				}
				dups += seen[i] - 1
			}
			t.Logf("%d records written twice (the tail not yet committed when the process was killed)", dups)
		})
	}
}

// TestIsolatedTaskMemoryLimit: a task that eats memory in its own process
// is killed past task.memory.max.bytes and FAILED with a trace saying so,
// while another connector of the worker keeps producing, the REST API
// answers and the worker's own memory stays small.
func TestIsolatedTaskMemoryLimit(t *testing.T) {
	w := startWorker(t, nil)
	defer w.stop(t)
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "gen", "datagen.rate": "2000"}}, 201, nil)
	// The worker is this test binary: its RSS, sampled throughout, may
	// not grow by what the hog holds.
	base, err := processRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	peak := base
	w.do(t, "POST", "/connectors", map[string]any{"name": "hog", "config": map[string]string{
		"connector.class": "hog", "task.isolation": "process", "task.memory.max.bytes": strconv.Itoa(256 << 20),
		"sluice.task.restart.enable": "false"}}, 201, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap), kgo.ConsumeTopics("gen"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The highest sequence number read, polled through the whole test.
	last := int64(-1)
	poll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == datagen.SeqHeader {
					n, _ := strconv.ParseInt(string(h.Value), 10, 64)
					last = max(last, n)
				}
			}
		})
	}
	var trace string
	var during []int64
	deadline := time.Now().Add(60 * time.Second)
	for trace == "" {
		if time.Now().After(deadline) {
			t.Fatal("the hog task was not failed within 60 s")
		}
		poll()
		during = append(during, last)
		if rss, err := processRSS(os.Getpid()); err == nil {
			peak = max(peak, rss)
		}
		start := time.Now()
		st := w.status(t, "hog") // the REST API answers meanwhile
		if d := time.Since(start); d > time.Second {
			t.Errorf("GET status took %v", d)
		}
		if len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed {
			trace = st.Tasks[0].Trace
		}
	}
	for _, want := range []string{"resident memory reached", "over task.memory.max.bytes=268435456 (256 MiB)", "raise task.memory.max.bytes", "fix the connector"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q lacks %q", trace, want)
		}
	}
	// datagen advanced while the hog grew, and after.
	mid := during[len(during)/2]
	for poll(); last <= mid+100; poll() {
		if time.Now().After(deadline) {
			t.Fatalf("datagen stalled at %d", last)
		}
	}
	if during[0] >= mid {
		t.Errorf("datagen did not advance while the hog grew: %v", during)
	}
	if st := w.status(t, "gen"); st.Tasks[0].State != api.StateRunning {
		t.Errorf("datagen task %s: %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
	if ps := taskProcesses(t); len(ps) != 0 {
		t.Errorf("task processes left: %v", ps)
	}
	// The hog's 256 MiB in the worker's process would show.
	if peak-base > 96<<20 {
		t.Errorf("the worker's RSS grew from %d to %d MiB", base>>20, peak>>20)
	}
	t.Logf("worker RSS %d MiB, at most %d MiB meanwhile; datagen at seq %d", base>>20, peak>>20, last)
}

// TestIsolationRefusedWhenMisconfigured: the isolation properties are
// checked on their own and together, in the REST API's 400.
func TestIsolationRefusedWhenMisconfigured(t *testing.T) {
	w := startWorker(t, nil)
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"task.isolation": "container"}, "task.isolation"},
		{map[string]string{"task.memory.max.bytes": "1073741824"}, "task.memory.max.bytes only applies to tasks in their own process: set task.isolation=process"},
		{map[string]string{"task.isolation": "none", "task.memory.max.bytes": "1073741824"}, "set task.isolation=process"},
		{map[string]string{"task.isolation": "process", "task.memory.max.bytes": "-1"}, "must be at least 67108864 (64 MiB)"},
		{map[string]string{"task.isolation": "process", "task.memory.max.bytes": "1048576"}, "must be at least 67108864 (64 MiB)"},
		{map[string]string{"task.isolation": "process", "task.memory.max.bytes": "lots"}, "task.memory.max.bytes"},
	} {
		cfg := map[string]string{"connector.class": "datagen", "kafka.topic": "t"}
		for k, v := range c.props {
			cfg[k] = v
		}
		b, _ := json.Marshal(map[string]any{"name": "x", "config": cfg})
		resp, err := http.Post(w.url+"/connectors", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), c.want) {
			t.Errorf("%v: %d %s, want a 400 with %q", c.props, resp.StatusCode, body, c.want)
		}
	}
	// Valid: process with or without a limit.
	for i, cfg := range []map[string]string{{"task.isolation": "process"}, {"task.isolation": "process", "task.memory.max.bytes": "67108864"}} {
		cfg["connector.class"], cfg["kafka.topic"], cfg["name"] = "datagen", "t", "x"
		var infos config.Infos
		w.do(t, "PUT", "/connector-plugins/datagen/config/validate", cfg, 200, &infos)
		if infos.ErrorCount != 0 {
			t.Errorf("config %d: %d errors: %v", i, infos.ErrorCount, infos.Messages())
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	rss, err := parseVmRSS(strings.NewReader("Name:\tsluice\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads: 9\n"))
	if err != nil || rss != 12345<<10 {
		t.Fatalf("%d %v", rss, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tzombie\nState:\tZ\n")); err == nil {
		t.Fatal("a status without VmRSS parsed")
	}
}

// TestIsolatedTaskFitsTheMemoryFloor: a datagen task in its own process
// runs within the least task.memory.max.bytes (64 MiB), which is what
// that floor is for; its RSS is logged. make test runs it without the
// race detector, which inflates the process (to ~85 MiB): with it, the
// limit is tripled.
func TestIsolatedTaskFitsTheMemoryFloor(t *testing.T) {
	w := startWorker(t, nil)
	defer w.stop(t)
	limit := minTaskMemory
	if raceDetector {
		limit *= 3
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "gen", "datagen.rate": "5000",
		"task.isolation": "process", "task.memory.max.bytes": strconv.Itoa(limit)}}, 201, nil)
	pid := waitTaskProcess(t, w, "gen")
	var peak int64
	for range 15 {
		time.Sleep(200 * time.Millisecond)
		if rss, err := processRSS(pid); err == nil {
			peak = max(peak, rss)
		}
	}
	st := w.status(t, "gen")
	if st.Tasks[0].State != api.StateRunning || len(taskProcesses(t)) != 1 || taskProcesses(t)[0] != pid {
		t.Fatalf("the task did not keep running in its process: %s %s", st.Tasks[0].State, st.Tasks[0].Trace)
	}
	t.Logf("task process RSS peak %d MiB", peak>>20)
}

// crashConnector's task panics on a goroutine of its own, which no
// recover can catch: in the worker's process that would end the worker.
type crashConnector struct{ hangConnector }

func (crashConnector) NewTask() connectors.SourceTask { return &crashTask{} }

type crashTask struct{ hogTask }

func (*crashTask) Poll(context.Context) ([]*connectors.Record, error) {
	go func() { panic("crashTask: unrecoverable") }()
	time.Sleep(time.Second)
	return nil, nil
}

// TestIsolatedTaskCrashFailsOnlyTheTask: a task process that crashes
// fails its task with the exit status and the crash from its stderr; the
// worker goes on.
func TestIsolatedTaskCrashFailsOnlyTheTask(t *testing.T) {
	w := startWorker(t, nil)
	defer w.stop(t)
	w.do(t, "POST", "/connectors", map[string]any{"name": "crash", "config": map[string]string{
		"connector.class": "crash", "task.isolation": "process", "sluice.task.restart.enable": "false"}}, 201, nil)
	var trace string
	waitFor(t, "the crashed task FAILED", func() bool {
		st := w.status(t, "crash")
		if len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed {
			trace = st.Tasks[0].Trace
			return true
		}
		return false
	})
	for _, want := range []string{"died (exit status 2)", "the last lines of its stderr", "panic: crashTask: unrecoverable"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace %q lacks %q", trace, want)
		}
	}
}

// TestIsolatedSinkConsumesAndCommits: a sink task in a task process
// consumes its topic and commits its group's offsets to the end, as in
// the worker's process.
func TestIsolatedSinkConsumesAndCommits(t *testing.T) {
	w := startWorker(t, nil)
	defer w.stop(t)
	const n = 2000
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "sinkin", "iterations": strconv.Itoa(n)}}, 201, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "sink", "config": map[string]string{
		"connector.class": "memsink", "topics": "sinkin", "task.isolation": "process"}}, 201, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, "the isolated sink's group committed all records", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, consumerGroup("sink"))
		if err != nil {
			return false
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum == n
	})
	if st := w.status(t, "sink"); st.Tasks[0].State != api.StateRunning || len(taskProcesses(t)) != 1 {
		t.Fatalf("sink task %s %s; task processes %v", st.Tasks[0].State, st.Tasks[0].Trace, taskProcesses(t))
	}
}

// waitTaskProcess waits until connector name's one task is RUNNING in the
// one task process, and returns that process's pid.
func waitTaskProcess(t *testing.T, w *testWorker, name string) int {
	t.Helper()
	var pid int
	waitFor(t, "the task process running", func() bool {
		st := w.status(t, name)
		ps := taskProcesses(t)
		if len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning && len(ps) == 1 {
			pid = ps[0]
			return true
		}
		return false
	})
	return pid
}
