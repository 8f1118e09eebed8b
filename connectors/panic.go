package connectors

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a panic in connector code turned into an error: the
// runtime fails the task or connector with it, and its status trace shows
// Value and Stack. Find it with errors.As.
type PanicError struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as debug.Stack prints it.
	Stack []byte
}

// NewPanicError returns the error for a recovered panic value p. Call it
// from the deferred function that recovered, so that Stack still holds the
// frames that panicked.
func NewPanicError(p any) *PanicError {
	return &PanicError{Value: p, Stack: debug.Stack()}
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error (a runtime error such
// as a nil dereference or an index out of range, or a panic(err)).
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Protect runs f and returns its error, or a *PanicError when f panicked.
// The runtime calls every connector, task, converter and transform method
// through it; a connector calls the body of every goroutine it starts
// through it and hands the error to its Poll or Put (see SourceTask).
func Protect(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = NewPanicError(p)
		}
	}()
	return f()
}
