package runtime

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// scratchRoot is the directory under sluice.data.dir that holds the
// tasks' scratch directories: spill/<connector>/<task>.
const scratchRoot = "spill"

// scratchDir returns the scratch directory of task id under dataDir. The
// connector name is escaped so that no name leaves the directory.
func scratchDir(dataDir string, id api.TaskID) string {
	name := url.PathEscape(id.Connector)
	if strings.HasPrefix(name, ".") {
		name = "%2E" + name[1:]
	}
	return filepath.Join(dataDir, scratchRoot, name, strconv.Itoa(id.Task))
}

// prepareScratchDir empties (or creates) the scratch directory of task id,
// so that files a crashed or panicked run left there are gone, and
// returns it.
func prepareScratchDir(dataDir string, id api.TaskID) (string, error) {
	dir := scratchDir(dataDir, id)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("emptying the task's scratch directory %s: %w; check %s", dir, err, config.DataDir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the task's scratch directory %s: %w; check %s", dir, err, config.DataDir)
	}
	return dir, nil
}

// removeScratchDirs deletes every task's scratch directory under dataDir:
// at start, nothing in them belongs to a running task.
func removeScratchDirs(dataDir string) error {
	dir := filepath.Join(dataDir, scratchRoot)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing scratch files left by the last run in %s: %w; check %s", dir, err, config.DataDir)
	}
	return nil
}
