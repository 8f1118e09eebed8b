// Package pages drops the pages of the running executable that only its
// start-up read from the process's resident set.
package pages

import (
	"bufio"
	"debug/elf"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// DropStartup unmaps the pages of the executable's code and
// read-only data that the process has touched so far (madvise
// MADV_DONTNEED on its read-only file mappings): the package
// initialisers of every linked library touch a large part of a 70 MB
// binary, and the kernel maps 64 KiB around each page a fault touches,
// so a started worker holds ~30 MB of the binary in its resident set,
// most of which it never reads again. The pages stay in the page cache;
// those the worker uses come back on their next access. Only mappings
// that are read-only and backed by the executable are touched: their
// content is the file's, so dropping them loses nothing.
//
// It does so only for a statically linked, position-dependent executable
// (the release build, CGO_ENABLED=0): in any other, read-only mappings
// hold relocated data (RELRO, the GOT) that the file does not. It returns
// the bytes of the mappings it dropped.
func DropStartup(log *slog.Logger) uintptr {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || !StaticExecutable(exe) {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var dropped uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || fields[1][1] == 'w' || fields[1][3] != 'p' {
			continue
		}
		from, to, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED); errno == 0 {
			dropped += uintptr(end - start)
		}
	}
	log.Debug("dropped the executable's start-up pages", "mapped_bytes", dropped)
	return dropped
}

// StaticExecutable reports whether the file at path is a statically
// linked, position-dependent ELF executable: one whose read-only mappings
// hold the file's bytes unchanged. A dynamically linked or PIE binary has
// relocated read-only data (RELRO, the GOT) that dropping the pages would
// turn back into the file's unrelocated bytes.
func StaticExecutable(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		return false
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return false
		}
	}
	return true
}
