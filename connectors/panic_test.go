package connectors

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestProtect(t *testing.T) {
	want := errors.New("plain")
	if err := Protect(func() error { return want }); err != want {
		t.Fatalf("Protect returned %v, want the function's own error", err)
	}
	err := Protect(func() error {
		return fmt.Errorf("unreachable %d", none()[1]) // a runtime error: index out of range
	})
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Protect returned %T %v, want a *PanicError", err, err)
	}
	if !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("error %q does not name the panic", err)
	}
	// The stack names the function that panicked, not only the recoverer.
	if !strings.Contains(string(pe.Stack), "TestProtect.func") {
		t.Errorf("stack does not show the panicking function:\n%s", pe.Stack)
	}
	var re interface{ RuntimeError() }
	if !errors.As(err, &re) {
		t.Errorf("a runtime error panic should unwrap to the runtime.Error")
	}
	if err := Protect(func() error { panic("text") }); err == nil || err.Error() != "panic: text" {
		t.Errorf("Protect of panic(\"text\") = %v", err)
	}
}

func none() []int { return nil }
