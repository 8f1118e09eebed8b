package pages

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// build compiles testdata/dropper with the given environment and flags.
func build(t *testing.T, name string, env []string, flags ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), "./testdata/dropper")...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// TestDropStartupInAStaticBinary: in a static, position-dependent
// executable (the release build) the drop shrinks the file-backed
// resident set and the process runs on, its code and read-only data read
// again from the file.
func TestDropStartupInAStaticBinary(t *testing.T) {
	bin := build(t, "static", []string{"CGO_ENABLED=0"})
	if !StaticExecutable(bin) {
		t.Fatalf("a CGO_ENABLED=0 build is not seen as static")
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("the dropper failed after the drop: %v\n%s", err, out)
	}
	var dropped, before, after int
	var check string
	if _, err := fmt.Sscanf(string(out), "dropped=%d before=%d after=%d check=%s", &dropped, &before, &after, &check); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	t.Logf("dropped %d bytes of mappings; RssFile %d kB before, %d kB after", dropped, before, after)
	if dropped == 0 || after >= before {
		t.Errorf("nothing dropped: %s", out)
	}
	if check != `"a","b","é"` {
		t.Errorf("the process computed %s after the drop", check)
	}
}

// TestDropStartupLeavesRelocatedBinariesAlone: a position-independent or
// dynamically linked executable has relocated read-only data, which
// dropping would undo: it is not static (Debian's own binaries are PIE),
// and DropStartup does nothing in it (as in this test binary when it is
// not static, under the race detector).
func TestDropStartupLeavesRelocatedBinariesAlone(t *testing.T) {
	for _, bin := range []string{"/bin/sh", "/usr/bin/env"} {
		if StaticExecutable(bin) {
			t.Errorf("%s is seen as static", bin)
		}
	}
	if StaticExecutable("/nonexistent") {
		t.Errorf("a missing file is seen as static")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if !StaticExecutable(self) {
		if n := DropStartup(slog.New(slog.DiscardHandler)); n != 0 {
			t.Errorf("DropStartup dropped %d bytes in this non-static test binary", n)
		}
	}
}
