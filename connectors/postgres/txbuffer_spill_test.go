package postgres

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/connectors/postgres/pgoutput"
)

// A streamed transaction spills into the task's scratch directory, and
// its file is removed when the buffer is closed.
func TestStreamBufferSpillsIntoScratchDir(t *testing.T) {
	dir := t.TempDir()
	s := &streamer{t: &Task{spillDir: dir}}
	s.streamStart(&pgoutput.StreamStart{Xid: 7})
	b := s.streams[7]
	b.entries = []streamEntry{{subxid: 7, lsn: 1, data: []byte("I")}}
	if err := b.spill(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sluice-pg-xid7-*"))
	if len(files) != 1 || b.file == nil || filepath.Dir(b.file.Name()) != dir {
		t.Fatalf("spill files in %s: %v; want one, the buffer's", dir, files)
	}
	b.close()
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Fatalf("spill file %s still there after close: %v", files[0], err)
	}
}
