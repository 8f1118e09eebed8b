//go:build !race

package s3

const raceDetector = false
