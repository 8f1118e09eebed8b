package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
)

// Error handling (Kafka Connect's KIP-298) on the record path.
//
// A failure at a stage of the record path (a converter, a transform, a
// sink's Put) is first retried when it is retriable (connectors.Retry),
// with exponential back-off and jitter, for errors.retry.timeout. What
// still fails is then tolerated or not: errors.tolerance=none fails the
// task with a *StageError naming the stage; errors.tolerance=all skips the
// record, logs it (errors.log.enable) and writes it to the dead letter
// queue (errors.deadletterqueue.topic.name, dlq.go) when one is set. A
// skipped record counts as handled: its offset commits.
//
// Which failures are tolerated follows Connect: any failure of a
// converter or a transform; of a sink's Put, a record the task names as
// the one it cannot write (a *connectors.RecordError, or
// SinkTaskContext.Errant). A retriable Put failure that outlasts
// errors.retry.timeout opens the sink's circuit breaker (breaker.go)
// rather than failing the task.

// Properties of error handling (Connect's names, and Sluice's own).
const (
	propErrorsLogEnable     = "errors.log.enable"
	propErrorsLogMessages   = "errors.log.include.messages"
	propDLQTopic            = "errors.deadletterqueue.topic.name"
	propDLQReplication      = "errors.deadletterqueue.topic.replication.factor"
	propDLQHeaders          = "errors.deadletterqueue.context.headers.enable"
	toleranceNone           = "none"
	toleranceAll            = "all"
	defaultDLQReplication   = "3"
	retryDelayMin           = 300 * time.Millisecond
	errorsToleranceDocument = "What to do with a record that fails at a converter, a transform or (a record a sink names as one it cannot write) the sink's put, once retriable failures have been retried for errors.retry.timeout: none fails the task, naming the stage; all skips the record, logs it when errors.log.enable is set and writes it to errors.deadletterqueue.topic.name when set. A skipped record's offset commits."
)

// Stages of the record path, as Connect names them in its
// __connect.errors.stage header.
const (
	StageKeyConverter   = "KEY_CONVERTER"
	StageValueConverter = "VALUE_CONVERTER"
	StageTransformation = "TRANSFORMATION"
	StageTaskPut        = "TASK_PUT"
	StageTaskPoll       = "TASK_POLL"
)

// errorKeys are the error handling properties beside errors.tolerance,
// errors.retry.timeout and errors.retry.delay.max.ms.
var errorKeys = []config.Key{
	{Name: propErrorsLogEnable, Type: config.Boolean, Default: "false", Importance: config.Medium, Group: groupErrors,
		Doc: "Log every failed record (tolerated or not) with its stage, topic, partition and offset (or source partition and offset) and the error, at Warn. Record contents are logged only with errors.log.include.messages."},
	{Name: propErrorsLogMessages, Type: config.Boolean, Default: "false", Importance: config.Medium, Group: groupErrors,
		Doc: "With errors.log.enable, also log the failed record's key, value and headers (their bytes for a sink; their values for a source). Off by default: records may hold personal data."},
	{Name: propDLQTopic, Type: config.String, Default: "", Importance: config.Medium, Group: groupErrors,
		Validator: func(_ string, v any) error {
			if s := v.(string); s != "" && !validTopicName(s) {
				return errInvalidTopicName
			}
			return nil
		},
		Doc: "Topic the records errors.tolerance=all skips are written to (created by the worker, one partition, when missing). A sink writes the record it consumed, its key, value and headers as they were; a source (which Kafka Connect does not allow) the record it polled, with the key and value the converters could encode (null otherwise) and its headers. With errors.tolerance=none, the record that fails the task is written there first. Empty: no dead letter queue."},
	{Name: propDLQReplication, Type: config.Short, Default: defaultDLQReplication, Importance: config.Low, Group: groupErrors, Validator: validReplicas,
		Doc: "Replication factor of the dead letter queue topic when the worker creates it; -1 uses the broker's default. When left at 3 on a cluster of fewer brokers (the embedded broker), the topic gets one replica per broker."},
	{Name: propDLQHeaders, Type: config.Boolean, Default: "false", Importance: config.Low, Group: groupErrors,
		Doc: "Add Kafka Connect's __connect.errors.* headers to each dead letter queue record: topic, partition, offset, connector.name, task.id, stage, class.name, exception.class.name, exception.message, exception.stacktrace; and, for a source, __sluice.errors.source.partition and __sluice.errors.source.offset (JSON; the offset only when the record carries one of its own)."},
}

// StageError is a failure at one stage of the record path that the task
// did not tolerate: the task fails with it.
type StageError struct {
	Stage string
	// Class is what ran at the stage: the converter, the transforms or
	// the connector's class.
	Class string
	Err   error
}

func (e *StageError) Error() string {
	return fmt.Sprintf("%s stage (%s) failed: %v; to skip such records set errors.tolerance=all (and errors.deadletterqueue.topic.name to keep them)",
		e.Stage, e.Class, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// errorPolicy is a connector's parsed error handling properties.
type errorPolicy struct {
	tolerateAll bool
	retry       retryPolicy
	logEnable   bool
	logMessages bool
	dlqTopic    string
	dlqRF       int16
	dlqHeaders  bool
}

// parseErrorPolicy reads the error handling properties of a parsed
// connector config.
func parseErrorPolicy(v *config.Values) errorPolicy {
	p := errorPolicy{
		tolerateAll: v.String(propErrorsTolerance) == toleranceAll,
		retry:       retryPolicy{timeout: v.Duration(propErrorsRetryTime), maxDelay: v.Duration(propErrorsRetryDelay)},
		logEnable:   v.Bool(propErrorsLogEnable),
		logMessages: v.Bool(propErrorsLogMessages),
		dlqTopic:    v.String(propDLQTopic),
		dlqRF:       int16(v.Int(propDLQReplication)),
		dlqHeaders:  v.Bool(propDLQHeaders),
	}
	if v.Long(propErrorsRetryTime) < 0 {
		p.retry.timeout = -1
	}
	return p
}

// errorHandler applies a task's errorPolicy: it retries, decides what is
// tolerated, logs and reports to the dead letter queue. Its methods are
// called from the task's goroutine (and a sink's rebalance callbacks,
// under the runner's lock); the counters are atomic.
type errorHandler struct {
	policy errorPolicy
	id     api.TaskID
	logger *slog.Logger
	// scrub removes resolved secrets and URL credentials from a text
	// (error messages written to headers and logs).
	scrub func(string) string
	// dlq writes skipped records; nil without a dead letter queue.
	dlq *deadLetterQueue
	// tolerated counts records skipped; reported counts those written to
	// the dead letter queue.
	tolerated, reported atomic.Int64
}

// policyOf returns h's policy; a nil handler (a runner built by a unit
// test) has the defaults: tolerance none, no retries, no dead letter queue.
func (h *errorHandler) policyOf() errorPolicy {
	if h == nil {
		return errorPolicy{}
	}
	return h.policy
}

// close closes the dead letter queue's producer, if any.
func (h *errorHandler) close() {
	if h != nil {
		h.dlq.Close()
	}
}

// failure is one failed record at one stage, for the log and the dead
// letter queue.
type failure struct {
	stage string
	class string
	err   error
}

// retrying runs fn, retrying a retriable failure with back-off until
// errors.retry.timeout; it returns fn's last error.
func (h *errorHandler) retrying(ctx context.Context, what string, fn func() error) error {
	if h == nil {
		return fn()
	}
	p := h.policy.retry
	var start time.Time
	for {
		err := fn()
		if err == nil || !connectors.Retriable(err) || ctx.Err() != nil {
			return err
		}
		if start.IsZero() {
			start = time.Now()
		}
		d, ok := p.next(start)
		if !ok {
			return err
		}
		h.logger.Warn(what+" failed; retrying", "error", err, "in", d)
		sleepCtx(ctx, d)
	}
}

// exceptionClass names err's type for __connect.errors.exception.class.name:
// the innermost error's Go type.
func exceptionClass(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			break
		}
		err = next
	}
	return reflect.TypeOf(err).String()
}

// retryPolicy implements errors.retry.timeout and
// errors.retry.delay.max.ms for retriable failures: waits double from
// 300 ms up to the longest delay, each with jitter, and never past the
// timeout. A policy is copied by each user; attempt is its own.
type retryPolicy struct {
	timeout  time.Duration // <0: forever; 0: never retry
	maxDelay time.Duration
	attempt  int
}

// next returns how long to wait before the next attempt of an operation
// that first failed at start, and false when the timeout is spent (the
// attempt count then starts again).
func (p *retryPolicy) next(start time.Time) (time.Duration, bool) {
	elapsed := time.Since(start)
	if p.timeout == 0 || (p.timeout > 0 && elapsed >= p.timeout) {
		p.attempt = 0
		return 0, false
	}
	d := jitteredBackoff(retryDelayMin, p.maxDelay, p.attempt)
	if p.timeout > 0 && d > p.timeout-elapsed {
		// The last attempt comes at the timeout, not after it.
		d = p.timeout - elapsed
	}
	p.attempt++
	return d, true
}

// jitteredBackoff is the wait before attempt n (from 0): initial doubled n times,
// at most maxDelay, less a random part of up to a fifth so that tasks
// failing together do not retry together.
func jitteredBackoff(initial, maxDelay time.Duration, n int) time.Duration {
	d := initial << min(n, 20)
	if d > maxDelay || d <= 0 {
		d = maxDelay
	}
	if j := int64(d / 5); j > 0 {
		d -= time.Duration(rand.Int64N(j))
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// converterClass names the key (isKey) or value converter a connector
// uses: its own setting, or the worker's.
func converterClass(connCfg map[string]string, worker converter.Setting, isKey bool) string {
	prop := "value.converter"
	if isKey {
		prop = "key.converter"
	}
	if c := strings.TrimSpace(connCfg[prop]); c != "" {
		return c
	}
	return worker.Class
}

// chainClass names a connector's transforms, in order, by their types.
func chainClass(connCfg map[string]string) string {
	var out []string
	for _, a := range strings.Split(connCfg[propTransforms], ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, strings.TrimSpace(connCfg["transforms."+a+".type"]))
		}
	}
	return strings.Join(out, ",")
}
