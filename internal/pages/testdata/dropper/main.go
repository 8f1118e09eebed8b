// Command dropper drops its start-up pages (pages.DropStartup) and prints
// what that did, for pages_linux_test.go.
package main

import (
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/internal/pages"
)

func rssFileKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		panic(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				panic(err)
			}
			return n
		}
	}
	panic("no RssFile")
}

func main() {
	before := rssFileKB()
	dropped := pages.DropStartup(slog.New(slog.DiscardHandler))
	after := rssFileKB()
	// Code and read-only data read again after the drop: formatting,
	// quoting, a sort, a map.
	words := map[string]int{"é": 2, "b": 1, "a": 3}
	var keys []string
	for k := range words {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	fmt.Printf("dropped=%d before=%d after=%d check=%s\n", dropped, before, after, strings.Join(keys, ","))
}
