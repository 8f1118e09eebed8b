package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/transforms"
)

// scratchSeen records, per task start, the scratch directory offered and
// the names found in it.
var scratchSeen struct {
	sync.Mutex
	dirs    []string
	entries [][]string
}

type scratchConnector struct{ hangConnector }

func (scratchConnector) NewTask() connectors.SourceTask { return &scratchTask{} }

type scratchTask struct{ markerTask }

func (*scratchTask) Start(_ context.Context, tctx connectors.SourceTaskContext, _ map[string]string) error {
	dir := connectors.ScratchDir(tctx)
	des, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	scratchSeen.Lock()
	scratchSeen.dirs = append(scratchSeen.dirs, dir)
	scratchSeen.entries = append(scratchSeen.entries, names)
	scratchSeen.Unlock()
	return nil
}

// A task's scratch directory is <sluice.data.dir>/spill/<connector>/<task>,
// private (0700), and emptied before the task starts: what a crashed run
// left there is gone.
func TestScratchDirIsInDataDirAndEmptiedAtStart(t *testing.T) {
	scratchSeen.Lock()
	scratchSeen.dirs, scratchSeen.entries = nil, nil
	scratchSeen.Unlock()
	data := t.TempDir()
	stale := filepath.Join(data, "spill", "scr", "0", "sluice-pg-xid9-left-by-a-crash")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, map[string]string{config.DataDir: data})
	w.do(t, "POST", "/connectors", map[string]any{"name": "scr", "config": map[string]string{"connector.class": "scratch"}}, 201, nil)
	waitFor(t, "the task to start", func() bool {
		scratchSeen.Lock()
		defer scratchSeen.Unlock()
		return len(scratchSeen.dirs) > 0
	})
	scratchSeen.Lock()
	dir, entries := scratchSeen.dirs[0], scratchSeen.entries[0]
	scratchSeen.Unlock()
	if want := filepath.Join(data, "spill", "scr", "0"); dir != want {
		t.Fatalf("scratch dir %q, want %q", dir, want)
	}
	if len(entries) != 0 {
		t.Fatalf("scratch dir at start holds %v; files of the last run should be gone", entries)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("scratch dir: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
}

func TestScratchDirStaysUnderDataDir(t *testing.T) {
	for _, name := range []string{"../../etc", "a/b", ".", "..", ".hidden", "plain"} {
		dir := scratchDir("/data", api.TaskID{Connector: name, Task: 3})
		rel, err := filepath.Rel("/data/spill", dir)
		if err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, string(filepath.Separator)) != 1 {
			t.Errorf("connector %q: scratch dir %q is not one level under /data/spill/<name>/", name, dir)
		}
	}
}

// With the embedded broker (which locks the data directory), the worker
// deletes every scratch file left by its last run when it starts.
func TestEmbeddedWorkerRemovesScratchFilesAtStart(t *testing.T) {
	data := t.TempDir()
	stale := filepath.Join(data, "spill", "gone", "1", "sluice-pg-xid1-x")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadWorker("", nil, map[string]string{config.DataDir: data, config.BrokerListen: "127.0.0.1:0",
		config.Listeners: "http://127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Plugins: connectors.NewRegistry(), Transforms: transforms.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: time.Now(), Ready: func(a string) { ready <- a }})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("worker exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker not ready")
	}
	_, statErr := os.Stat(filepath.Join(data, "spill"))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("worker: %v", err)
	}
	if !os.IsNotExist(statErr) {
		t.Fatalf("scratch files of the last run still there after start: %v", statErr)
	}
}
