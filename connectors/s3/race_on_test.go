//go:build race

package s3

// raceDetector: the race detector multiplies resident memory, so RSS is
// asserted only without it.
const raceDetector = true
