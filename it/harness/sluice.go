package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Broker is a Kafka-protocol broker for a test: a `sluice broker` process
// the harness started, or the cluster named by SLUICE_IT_KAFKA_BOOTSTRAP.
type Broker struct {
	Bootstrap string
	Dir       string
	proc      *Process
	port      int
	args      []string
}

// BrokerOptions are extra `sluice broker` flags: --sasl-user, --superuser,
// --acl, --tls-cert and --tls-key (see sluice broker -h).
type BrokerOptions struct {
	Args []string
}

// StartBrokerWith starts `sluice broker` with o's flags on a free port
// (always a process: the flags configure it). It is stopped when t ends.
func StartBrokerWith(t testing.TB, o BrokerOptions) *Broker {
	t.Helper()
	b := &Broker{Dir: TempDir(t, ""), port: FreePort(t), args: o.Args}
	b.Bootstrap = fmt.Sprintf("127.0.0.1:%d", b.port)
	b.start(t)
	t.Cleanup(func() { b.proc.Stop(20 * time.Second) })
	return b
}

// StartBroker starts `sluice broker` on a free port, or returns the
// external cluster. It is stopped when t ends.
func StartBroker(t testing.TB) *Broker {
	t.Helper()
	if b := os.Getenv("SLUICE_IT_KAFKA_BOOTSTRAP"); b != "" {
		return &Broker{Bootstrap: b}
	}
	b := &Broker{Dir: TempDir(t, ""), port: FreePort(t)}
	b.Bootstrap = fmt.Sprintf("127.0.0.1:%d", b.port)
	b.start(t)
	t.Cleanup(func() { b.proc.Stop(20 * time.Second) })
	return b
}

func (b *Broker) start(t testing.TB) {
	t.Helper()
	args := append([]string{"broker", "--listen", b.Bootstrap, "--data-dir", b.Dir}, b.args...)
	b.proc = Start(t, "sluice broker", exec.Command(Binary(t), args...))
	WaitTCP(t, b.Bootstrap, 30*time.Second)
}

// PID returns the broker process's id, or 0 for an external cluster.
func (b *Broker) PID() int {
	if b.proc == nil {
		return 0
	}
	return b.proc.Cmd.Process.Pid
}

// Client returns a franz-go client for the broker, closed at test end.
func (b *Broker) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Bootstrap)}, opts...)...)
	if err != nil {
		t.Fatalf("harness: kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Worker is a `sluice worker` process.
type Worker struct {
	URL  string
	Args []string
	Env  []string
	proc *Process
	t    testing.TB
	// past is what earlier runs of the process logged.
	past string
}

// WorkerOptions configure a worker process.
type WorkerOptions struct {
	// Bootstrap is the brokers; empty runs the embedded broker in DataDir.
	Bootstrap string
	// DataDir for the embedded broker and the tasks' scratch files (a
	// temp dir when empty).
	DataDir string
	// BrokerListen for the embedded broker (a free port when empty).
	BrokerListen string
	// Props are worker properties, passed as SLUICE_* variables.
	Props map[string]string
	// Port is the REST port (a free one when 0).
	Port int
}

// StartWorker starts a worker process and waits until its REST API
// answers. It is killed at the end of the test.
func StartWorker(t testing.TB, o WorkerOptions) *Worker {
	t.Helper()
	w := PrepareWorker(t, o)
	w.Start(t)
	return w
}

// PrepareWorker builds the command line of a worker without starting it.
func PrepareWorker(t testing.TB, o WorkerOptions) *Worker {
	t.Helper()
	if o.Port == 0 {
		o.Port = FreePort(t)
	}
	w := &Worker{URL: fmt.Sprintf("http://127.0.0.1:%d", o.Port), t: t}
	w.Args = []string{"worker", "--listeners", w.URL}
	// Tasks keep scratch files (spill/) in the data directory even with
	// an external broker: never the test's working directory.
	if o.DataDir == "" {
		o.DataDir = TempDir(t, "")
	}
	if o.Bootstrap != "" {
		w.Args = append(w.Args, "--bootstrap-servers", o.Bootstrap, "--data-dir", o.DataDir)
	} else {
		if o.BrokerListen == "" {
			o.BrokerListen = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		}
		w.Args = append(w.Args, "--data-dir", o.DataDir, "--broker-listen", o.BrokerListen)
	}
	w.Env = os.Environ()
	for k, v := range o.Props {
		w.Env = append(w.Env, "SLUICE_"+strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k))+"="+v)
	}
	return w
}

// Start starts (or restarts) the process and waits for its REST API.
func (w *Worker) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(Binary(t), w.Args...)
	cmd.Env = w.Env
	if w.proc != nil {
		w.past += w.proc.Output()
	}
	p := Start(t, "sluice worker", cmd)
	w.proc = p
	t.Cleanup(p.Kill)
	WaitFor(t, 60*time.Second, "worker REST API at "+w.URL, func() error {
		if ok, err := w.proc.Exited(); ok {
			t.Fatalf("harness: worker exited: %v\n%s", err, w.proc.Output())
		}
		resp, err := http.Get(w.URL + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}

// Run starts the process and waits up to timeout for it to exit, for
// tests of start-up failures; it returns the output and the exit error.
func (w *Worker) Run(t testing.TB, timeout time.Duration) (string, error) {
	t.Helper()
	cmd := exec.Command(Binary(t), w.Args...)
	cmd.Env = w.Env
	w.proc = Start(t, "sluice worker", cmd)
	err, ok := w.proc.Wait(timeout)
	if !ok {
		w.proc.Kill()
		t.Fatalf("harness: worker still running after %v:\n%s", timeout, w.proc.Output())
	}
	return w.proc.Output(), err
}

// Kill kills the worker with SIGKILL (kill -9).
func (w *Worker) Kill() { w.proc.Kill() }

// Stop stops the worker with SIGINT and waits for it.
func (w *Worker) Stop() { w.proc.Stop(30 * time.Second) }

// allLogs is what every run of the worker logged so far.
func (w *Worker) allLogs() string { return w.past + w.proc.Output() }

// Output is what the worker logged so far.
func (w *Worker) Output() string { return w.proc.Output() }

// Log is Output: what the worker logged so far, safe while it runs.
func (w *Worker) Log() string { return w.proc.Output() }

// Do sends a REST request (body marshalled as JSON unless it is a string
// or []byte) and returns the status and body.
func (w *Worker) Do(method, path string, body any) (int, []byte) {
	w.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, w.URL+path, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("harness: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// JSON sends a request, checks the status and decodes the answer into v
// (when v is not nil).
func (w *Worker) JSON(method, path string, body any, wantStatus int, v any) {
	w.t.Helper()
	st, out := w.Do(method, path, body)
	if st != wantStatus {
		w.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, wantStatus, out)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			w.t.Fatalf("%s %s: decoding %s: %v", method, path, out, err)
		}
	}
}

// DataDir returns the worker's data dir from the args.
func (w *Worker) DataDir() string {
	for i, a := range w.Args {
		if a == "--data-dir" && i+1 < len(w.Args) {
			return filepath.Clean(w.Args[i+1])
		}
	}
	return ""
}

// PID returns the worker process id.
func (w *Worker) PID() int { return w.proc.Cmd.Process.Pid }
