package harness

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(exitHook{m})
}

// exitHook removes the built binary once the tests ran.
type exitHook struct{ m *testing.M }

func (h exitHook) Run() int {
	defer RemoveBinary()
	return h.m.Run()
}
