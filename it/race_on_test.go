//go:build race

package it

// raceDetector is true when the tests (and so the worker binary the
// harness builds) run with the race detector, which inflates memory.
const raceDetector = true
