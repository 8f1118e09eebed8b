//go:build race

package runtime

// raceDetector is true when the tests (and so the task processes, this
// test binary) run with the race detector, which inflates memory.
const raceDetector = true
