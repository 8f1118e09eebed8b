// Package harness starts the real servers the integration suites need —
// PostgreSQL, MariaDB, the Kafka-protocol broker, an S3 server (versitygw) and sluice workers — as
// local processes on free 127.0.0.1 ports in temporary directories, and
// stops them when the test ends. Each can instead be an existing server
// named by an environment variable (SLUICE_IT_POSTGRES_URL,
// SLUICE_IT_MYSQL_DSN, SLUICE_IT_KAFKA_BOOTSTRAP, SLUICE_IT_S3_ENDPOINT), which is how the suite
// runs against containers (it/compose.yaml).
//
// A server that cannot be started fails the test with the reason; nothing
// here skips.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("harness: finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WaitFor polls cond every 50 ms until it returns nil or timeout passes,
// then fails the test with the last error.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: waiting %v for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitTCP waits until addr accepts TCP connections.
func WaitTCP(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, "TCP "+addr, func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// Process is a server process the harness started.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	mu   sync.Mutex
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Start runs cmd, collecting its output, and returns at once.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Name: name, Cmd: cmd, log: &lockedBuffer{b: &bytes.Buffer{}}, done: make(chan struct{})}
	w := p.log
	if os.Getenv("SLUICE_IT_VERBOSE") != "" {
		cmd.Stdout = io.MultiWriter(w, os.Stderr)
		cmd.Stderr = cmd.Stdout
	} else {
		cmd.Stdout, cmd.Stderr = w, w
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("harness: starting %s (%s): %v", name, cmd.Path, err)
	}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p
}

// Exited reports whether the process has ended, and how.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.err
	default:
		return false, nil
	}
}

// Wait waits up to timeout for the process to end.
func (p *Process) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Kill sends SIGKILL (kill -9) and waits for the process to end.
func (p *Process) Kill() {
	if p.Cmd.Process != nil {
		_ = p.Cmd.Process.Kill()
	}
	<-p.done
}

// Stop sends SIGINT (PostgreSQL's fast shutdown; sluice stops cleanly on
// it) and waits up to timeout before killing.
func (p *Process) Stop(timeout time.Duration) { p.StopWith(os.Interrupt, timeout) }

// StopWith sends sig and waits up to timeout before killing.
func (p *Process) StopWith(sig os.Signal, timeout time.Duration) {
	if ok, _ := p.Exited(); ok {
		return
	}
	_ = p.Cmd.Process.Signal(sig)
	if _, ok := p.Wait(timeout); !ok {
		p.Kill()
	}
}

// Output returns what the process printed so far; it may be called while
// the process runs.
func (p *Process) Output() string {
	p.log.mu.Lock()
	defer p.log.mu.Unlock()
	return p.log.b.String()
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("harness: go.mod not found above %s", file)
		}
		dir = parent
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds ./cmd/sluice once per test binary (with -race when the
// tests run with it, so the workers are checked too) and returns its path.
// SLUICE_IT_BINARY names a prebuilt binary instead.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLUICE_IT_BINARY"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-it-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "sluice")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/sluice")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = RepoRoot(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("harness: %v", buildErr)
	}
	return buildPath
}

// RemoveBinary deletes the binary Binary built, if any; the packages that
// use Binary call it from TestMain once their tests ran (each build is
// ~30 MB, and a temp dir per test process otherwise stays behind).
func RemoveBinary() {
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
}

// TempDir returns a fresh temporary directory owned by the given OS user
// (for servers that refuse to run as root), removed at the end of the test.
func TempDir(t testing.TB, owner string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sluice-it-")
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("SLUICE_IT_KEEP_FAILED") != "" {
			t.Logf("harness: kept %s (SLUICE_IT_KEEP_FAILED)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	if owner != "" && os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "-R", owner, dir).CombinedOutput(); err != nil {
			t.Fatalf("harness: chown %s %s: %v %s", owner, dir, err, out)
		}
	}
	return dir
}

// Itoa is strconv.Itoa, for building command lines.
func Itoa(n int) string { return strconv.Itoa(n) }
