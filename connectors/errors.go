package connectors

import (
	"errors"
	"fmt"
)

// RetriableError marks an error after which the same operation may
// succeed if tried again (a lost connection, a deadlock, a broker that is
// not ready). The runtime retries it with back-off.
type RetriableError struct{ Err error }

func (e *RetriableError) Error() string { return e.Err.Error() }
func (e *RetriableError) Unwrap() error { return e.Err }

// Retry wraps err as retriable; nil stays nil.
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return &RetriableError{Err: err}
}

// Retriable reports whether err, or an error it wraps, is retriable.
func Retriable(err error) bool {
	var r *RetriableError
	return errors.As(err, &r)
}

// RecordError says which record a failure belongs to, so that a task's
// trace names topic, partition and offset (sinks) or table and position
// (sources).
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Column is set when one field's value was the problem.
	Column string
	Err    error
}

func (e *RecordError) Error() string {
	s := fmt.Sprintf("record %s-%d@%d", e.Topic, e.Partition, e.Offset)
	if e.Column != "" {
		s += " column " + e.Column
	}
	return s + ": " + e.Err.Error()
}
func (e *RecordError) Unwrap() error { return e.Err }
