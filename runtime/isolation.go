package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/config"
)

// Process isolation of tasks (task.isolation=process): a connector's
// tasks each run in a child process, the worker's own binary started as
// a task host (taskhost.go), which builds and runs the task with the same
// runner code as an in-process task. The parent's goroutine for the task
// (Herder.startTask) runs runTaskProcess instead of the runner: it
// starts the child, forwards pause and standing changes to it, turns its
// reports into the task's statuses, samples its resident memory and kills
// it past task.memory.max.bytes. A child that dies in any way fails the
// task, which then follows the restart policy like any failed task.
//
// The pipes: the parent writes the task's description and then control
// messages to the child's stdin (one JSON object a line; closing it asks
// the child to stop); the child writes its reports to file descriptor 3
// (one JSON object a line); its stderr carries its log lines, which the
// parent logs and keeps the tail of for the trace of a crash.
const (
	propIsolation   = "task.isolation"
	propMemoryMax   = "task.memory.max.bytes"
	groupIsolation  = "Isolation"
	isolationNone   = "none"
	isolationProc   = "process"
	defaultMemoryMB = 512
	// minTaskMemory is the least task.memory.max.bytes: a task process
	// (Go runtime, the task's producer or consumer, an admin client and
	// the offsets store) with a datagen task at 5,000 records/s measured
	// 31 MiB resident (TestIsolatedTaskFitsTheMemoryFloor), so below 64
	// MiB a task would be killed before it does anything. A task at full
	// speed needs more: datagen at ~150,000 records/s ran at 80-92 MiB
	// (BenchmarkTaskIsolation) and, limited to 64 MiB, was killed again
	// and again.
	minTaskMemory = 64 << 20
	// rssInterval is how often the parent samples a child's RSS.
	rssInterval = 200 * time.Millisecond
	// gomemlimitShare is the part of task.memory.max.bytes given to the
	// child as GOMEMLIMIT, so that its garbage collector works harder
	// before the parent's hard limit kills it.
	gomemlimitShare = 0.75
)

var isolationKeys = []config.Key{
	{Name: propIsolation, Type: config.String, Default: isolationNone, Importance: config.Medium, Group: groupIsolation,
		Validator: config.In(isolationNone, isolationProc),
		Doc: "Where the connector's tasks run. none: in the worker's process (fastest). process: each task in a child process of its own " +
			"(the worker's binary started as a task host, Linux only), so that a task that eats memory or crashes the process is killed " +
			"and restarted alone instead of taking down the worker, its embedded broker and every other task. Costs a process, " +
			"Kafka clients and a read of the offsets topic per task and each task start, and a little CPU per record; see docs/operations.md."},
	{Name: propMemoryMax, Type: config.Long, Default: strconv.Itoa(defaultMemoryMB << 20), Importance: config.Medium, Group: groupIsolation,
		Validator: func(name string, v any) error {
			if n, _ := v.(int64); n < minTaskMemory {
				return fmt.Errorf("must be at least %d (64 MiB): a task process takes 25-35 MiB before the connector allocates anything", minTaskMemory)
			}
			return nil
		},
		Doc: "With task.isolation=process, the most resident memory (RSS, sampled every 200 ms) a task's process may use: past it the worker kills " +
			"the process and fails the task with a trace saying so (the restart policy then applies). The process's Go runtime gets three quarters " +
			"of it as GOMEMLIMIT. At least 64 MiB, which fits a slow task (about 30 MiB idle); a busy source needs about 100 MiB (datagen at full speed: 80-92 MiB). " +
			"Only valid with task.isolation=process."},
}

// processIsolated says whether a connector's tasks run in processes
// (task.isolation=process, validated when the config was written); the
// memory limit is read by buildProcessTask from the resolved config.
func processIsolated(raw map[string]string) bool {
	return strings.TrimSpace(raw[propIsolation]) == isolationProc
}

// isolationErrors checks the combinations of the isolation properties.
func isolationErrors(cfg map[string]string) map[string][]string {
	out := map[string][]string{}
	v, err := commonDef.Parse(cfg)
	if err != nil {
		return out // the definition reports each field
	}
	proc := v.String(propIsolation) == isolationProc
	if v.IsSet(propMemoryMax) && !proc {
		out[propMemoryMax] = append(out[propMemoryMax], fmt.Sprintf("%s only applies to tasks in their own process: set %s=process, or remove %s (a task in the worker's process cannot be bounded alone)",
			propMemoryMax, propIsolation, propMemoryMax))
	}
	if proc && goruntime.GOOS != "linux" {
		out[propIsolation] = append(out[propIsolation], fmt.Sprintf("%s=process needs Linux (this worker runs on %s); use none", propIsolation, goruntime.GOOS))
	}
	return out
}

// TaskHost is the command a worker runs for a task with
// task.isolation=process: a binary that calls RunTaskHost.
type TaskHost struct {
	Path string
	Args []string
	// Env is added to the worker's environment.
	Env []string
}

// MemoryLimitError says a task's process was killed for its memory.
type MemoryLimitError struct {
	Limit, RSS int64
}

func (e *MemoryLimitError) Error() string {
	return fmt.Sprintf("task process killed: its resident memory reached %d bytes (%d MiB), over %s=%d (%d MiB); "+
		"raise %s if the task needs that much, or fix the connector's memory use (a leak or an unbounded buffer)",
		e.RSS, e.RSS>>20, propMemoryMax, e.Limit, e.Limit>>20, propMemoryMax)
}

// hostError is the error a task host reported: its trace, as the task
// would have in the worker's process.
type hostError struct{ trace string }

func (e *hostError) Error() string { return e.trace }

// hostInit is the first message to a task host: what it runs and how it
// reaches Kafka.
type hostInit struct {
	Worker    map[string]string `json:"worker"`
	Servers   []string          `json:"servers"`
	WorkerID  string            `json:"worker_id"`
	Connector string            `json:"connector"`
	Task      int               `json:"task"`
	ConnRaw   map[string]string `json:"connector_config"`
	TaskRaw   map[string]string `json:"task_config"`
	NTasks    int               `json:"ntasks"`
	Paused    bool              `json:"paused"`
	Standing  bool              `json:"standing"`
}

// hostControl is a later message to a task host.
type hostControl struct {
	Paused   bool `json:"paused"`
	Standing bool `json:"standing"`
}

// hostReport is a message from a task host.
type hostReport struct {
	Kind  string `json:"kind"` // running, problem, topic, exit
	Trace string `json:"trace,omitempty"`
	Topic string `json:"topic,omitempty"`
}

// buildProcessTask resolves a task's configs (for its logger and the
// scrubbing of its traces) and returns the function that runs it in a
// task host.
func (h *Herder) buildProcessTask(b *taskBuild) (run func(context.Context) error, limitShare int, logger *slog.Logger, err error) {
	connRes, cerr := h.providers.Resolve(b.connRaw)
	taskRes, terr := h.providers.Resolve(b.taskRaw)
	res := config.Merge(connRes, taskRes).Hiding(sensitiveValues(h.defFor(b.plugin), connRes.Values, taskRes.Values)...)
	b.setRes(res)
	logger = scrubbedLogger(h.logger, res).With("connector", b.id.Connector, "task", b.id.Task)
	if err := errors.Join(cerr, terr); err != nil {
		return nil, 0, logger, err
	}
	// The task process's lines carry the connector and task already.
	hostLog := scrubbedLogger(h.logger, res)
	common, err := commonDef.Parse(connRes.Values)
	if err != nil {
		return nil, 0, logger, err
	}
	if parseRateLimits(common, b.ntasks).set() {
		limitShare = b.ntasks
	}
	maxBytes := common.Long(propMemoryMax)
	return func(ctx context.Context) error { return h.runTaskProcess(ctx, b, maxBytes, logger, hostLog) }, limitShare, logger, nil
}

// runTaskProcess runs a task in a task host until ctx ends (then it asks
// the host to stop, and kills it after task.shutdown.graceful.timeout.ms)
// or the host ends. It returns nil when stopped, the task's error when
// the host reported one, and otherwise why the host died.
func (h *Herder) runTaskProcess(ctx context.Context, b *taskBuild, maxBytes int64, logger, hostLog *slog.Logger) error {
	host := h.taskHost
	if host.Path == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding the worker's binary to start the task process: %w", err)
		}
		host = TaskHost{Path: exe, Args: []string{"task-host"}}
	}
	init := hostInit{Worker: h.worker.Props, Servers: h.sec.servers, WorkerID: h.workerID, Connector: b.id.Connector, Task: b.id.Task,
		ConnRaw: b.connRaw, TaskRaw: b.taskRaw, NTasks: b.ntasks, Paused: b.pause.isPaused(), Standing: h.standing()}
	cmd := exec.Command(host.Path, host.Args...)
	cmd.Env = append(append(os.Environ(), host.Env...), "GOMEMLIMIT="+strconv.FormatInt(int64(float64(maxBytes)*gomemlimitShare), 10))
	cmd.SysProcAttr = hostProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		repR.Close()
		repW.Close()
		return err
	}
	cmd.ExtraFiles = []*os.File{repW}
	cmd.Stderr = errW
	// The child gets SIGKILL when the thread that started it ends
	// (Pdeathsig): that thread stays locked to this goroutine, which
	// waits for the child, so that the signal comes only when the worker
	// dies.
	started := make(chan error, 1)
	exited := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
	}()
	err = <-started
	repW.Close()
	errW.Close()
	if err != nil {
		repR.Close()
		errR.Close()
		return fmt.Errorf("starting the task process %s: %w", host.Path, err)
	}
	pid := cmd.Process.Pid
	logger.Debug("task process started", "pid", pid)
	hostLog = hostLog.With("pid", pid)

	var wg sync.WaitGroup
	defer wg.Wait()
	// Its log lines, and the tail of them for the trace of a crash.
	tail := &lineTail{max: 20}
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer errR.Close()
		sc := bufio.NewScanner(errR)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			relogHostLine(hostLog, line)
		}
	}()
	// Its reports.
	var exitMu sync.Mutex
	var exitReport *hostReport
	go func() {
		defer wg.Done()
		defer repR.Close()
		dec := json.NewDecoder(repR)
		for {
			var r hostReport
			if err := dec.Decode(&r); err != nil {
				return
			}
			switch r.Kind {
			case "running":
				b.onRunning()
			case "problem":
				b.onProblem(&hostError{r.Trace})
			case "topic":
				b.onTopic(r.Topic)
			case "exit":
				exitMu.Lock()
				exitReport = &r
				exitMu.Unlock()
			}
		}
	}()

	enc := json.NewEncoder(stdin)
	sendErr := enc.Encode(init)
	sent := hostControl{Paused: init.Paused, Standing: init.Standing}
	tick := time.NewTicker(rssInterval)
	defer tick.Stop()
	var waitErr error
	var killed *MemoryLimitError
	stopped := false
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-ctx.Done():
			stopped = true
			stdin.Close()
			t := time.NewTimer(h.worker.Duration(config.TaskShutdownGracefulTimeout))
			select {
			case waitErr = <-exited:
			case <-t.C:
				logger.Error("task process did not stop within task.shutdown.graceful.timeout.ms; killing it", "pid", pid)
				_ = cmd.Process.Kill()
				waitErr = <-exited
			}
			t.Stop()
			break loop
		case <-tick.C:
			if rss, err := processRSS(pid); err == nil && rss > maxBytes {
				killed = &MemoryLimitError{Limit: maxBytes, RSS: rss}
				_ = cmd.Process.Kill()
				waitErr = <-exited
				break loop
			}
			now := hostControl{Paused: b.pause.isPaused(), Standing: h.standing()}
			if now != sent && sendErr == nil {
				sendErr = enc.Encode(now)
				sent = now
			}
		}
	}
	stdin.Close()
	wg.Wait()
	switch {
	case killed != nil:
		return killed
	case stopped:
		return nil
	}
	exitMu.Lock()
	r := exitReport
	exitMu.Unlock()
	if r != nil && waitErr == nil {
		if r.Trace == "" {
			return nil // the task returned by itself
		}
		return &hostError{r.Trace}
	}
	status := "exit status 0 without a report"
	if waitErr != nil {
		status = waitErr.Error()
	}
	msg := fmt.Sprintf("task process %d died (%s)", pid, status)
	if lines := tail.lines(); len(lines) > 0 {
		msg += "; the last lines of its stderr:\n" + strings.Join(lines, "\n")
	}
	return errors.New(msg)
}

// relogHostLine logs a line of a task process's stderr with logger: a
// line its logger wrote (JSON) as the line it was, anything else (a
// panic, the Go runtime's crash report) as a warning.
func relogHostLine(logger *slog.Logger, line string) {
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec[slog.MessageKey] == nil {
		logger.Warn("task process output", "line", line)
		return
	}
	var level slog.Level
	if s, ok := rec[slog.LevelKey].(string); !ok || level.UnmarshalText([]byte(s)) != nil {
		level = slog.LevelInfo
	}
	msg, _ := rec[slog.MessageKey].(string)
	delete(rec, slog.TimeKey)
	delete(rec, slog.LevelKey)
	delete(rec, slog.MessageKey)
	args := make([]any, 0, 2*len(rec))
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		args = append(args, k, rec[k])
	}
	logger.Log(context.Background(), level, msg, args...)
}

// lineTail keeps the last max lines written; safe for concurrent use.
type lineTail struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (t *lineTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(line) > 2000 {
		line = line[:2000] + "..."
	}
	t.buf = append(t.buf, line)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *lineTail) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}

// processRSS reads a process's resident set size from
// /proc/<pid>/status (VmRSS).
func processRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmRSS(f)
}

// parseVmRSS finds VmRSS in the text of /proc/<pid>/status.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmRSS (a zombie or kernel thread)")
}
