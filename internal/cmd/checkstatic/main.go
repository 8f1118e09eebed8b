// Command checkstatic fails unless every ELF file it is given is statically
// linked: no program interpreter (PT_INTERP), no dynamic section and no
// shared library it needs. `make lint` runs it on bin/sluice, so that a
// cgo dependency slipping in is caught on a fresh machine without file(1),
// ldd or readelf.
//
// Usage: go run ./internal/cmd/checkstatic FILE...
package main

import (
	"debug/elf"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: checkstatic FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		if err := check(path); err != nil {
			fmt.Fprintf(os.Stderr, "checkstatic: %v\n", err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// check returns an error naming path and what makes it dynamic.
func check(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	var problems []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			problems = append(problems, "it has a program interpreter (PT_INTERP)")
		case elf.PT_DYNAMIC:
			problems = append(problems, "it has a dynamic section (PT_DYNAMIC)")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		problems = append(problems, fmt.Sprintf("it needs shared libraries %s", strings.Join(libs, ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s is not statically linked: %s; build it with CGO_ENABLED=0 (make build)", path, strings.Join(problems, "; "))
	}
	return nil
}
