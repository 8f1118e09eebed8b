package main

import (
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFileKB reads the process's file-backed resident set.
func rssFileKB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestDropStartupPages checks that dropping the executable's pages
// shrinks the file-backed resident set and that the process runs on:
// its code and read-only data come back from the file.
func TestDropStartupPages(t *testing.T) {
	before := rssFileKB(t)
	dropStartupPages(slog.New(slog.DiscardHandler))
	after := rssFileKB(t)
	t.Logf("RssFile %d kB before, %d kB after", before, after)
	if after >= before {
		t.Errorf("RssFile %d kB after the drop, %d kB before", after, before)
	}
	// Code and read-only data not run since: formatting, a map of
	// strings, a sort.
	if got := strings.Repeat(strconv.Quote("é"), 2); got != `"é""é"` {
		t.Errorf("after the drop: %s", got)
	}
	var names []string
	for _, p := range plugins().Plugins() {
		names = append(names, p.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "mysql") {
		t.Errorf("plugins after the drop: %v", names)
	}
}
