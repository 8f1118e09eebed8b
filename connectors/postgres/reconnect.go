package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/connectors"
)

// Reaching the server again.
//
// A lost or refused connection is waited out inside the task, as
// Debezium's errors.max.retries=-1 does: the task stays RUNNING, its
// status trace names the server and the last error (through
// connectors.ReportProblem), and capture resumes by itself when the
// server is back. Failing the task instead would hand the outage to the
// runtime's errors.retry.timeout and restart policy, whose budgets are
// finite by default (ten restarts, about 25 minutes), and a FAILED task
// reads as "act now" although nothing needs to be done.

// reconnectFirst is the wait before the first attempt; the waits double
// up to retriable.restart.connector.wait.ms.
const reconnectFirst = 250 * time.Millisecond

// transient reports whether err means the server could not be reached or
// went away (down, restarting, unreachable, too many connections): worth
// waiting out. A refused login, a missing database or a statement the
// server rejected are not.
func transient(err error) bool {
	var nt *notTransient
	if err == nil || errors.Is(err, context.Canceled) || errors.As(err, &nt) {
		return false
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		if ce.Auth || ce.TLSKey != "" {
			return false
		}
		var pe *pgconn.PgError
		if errors.As(ce.Err, &pe) {
			return transientCode(pe.Code)
		}
		return true // refused, timed out, no route, DNS
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return transientCode(pe.Code)
	}
	var ne net.Error
	return connectors.Retriable(err) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}

// notTransient marks a failure that is not the server's absence although
// it may wrap a network error (the offsets store's, say).
type notTransient struct{ err error }

func (e *notTransient) Error() string { return e.err.Error() }
func (e *notTransient) Unwrap() error { return e.err }

// transientCode reports whether a server error is the server going away
// or not ready yet: connection exceptions (class 08), admin or crash
// shutdown and "cannot connect now" (57P01-57P03), too many connections
// (53300), and a slot still held by a walsender that is going away
// (55006).
func transientCode(code string) bool {
	switch code {
	case "57P01", "57P02", "57P03", "53300", "55006":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// backoff paces the attempts to reach the server again.
type backoff struct {
	max     time.Duration // retriable.restart.connector.wait.ms
	limit   int           // errors.max.retries; -1: none
	delay   time.Duration // next wait
	tries   int           // failed attempts since the last success
	since   time.Time     // when the connection was lost
	lastErr error
}

func newBackoff(cfg *Config, cause error) *backoff {
	return &backoff{max: cfg.ReconnectMax, limit: cfg.MaxRetries, delay: min(reconnectFirst, cfg.ReconnectMax),
		since: time.Now(), lastErr: cause}
}

// wait sleeps before the next attempt; it fails when ctx ends or
// errors.max.retries attempts failed.
func (b *backoff) wait(ctx context.Context, addr string) error {
	if b.limit >= 0 && b.tries >= b.limit {
		return fmt.Errorf("PostgreSQL at %s: giving up after %d failed attempts to reconnect (errors.max.retries=%d; -1 never gives up): %v",
			addr, b.tries, b.limit, b.lastErr) // %v: the task must fail, not be retried
	}
	tm := time.NewTimer(b.delay)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
	}
	b.delay = min(2*b.delay, b.max)
	return nil
}

// failed records a failed attempt.
func (b *backoff) failed(err error) {
	b.tries++
	b.lastErr = err
}

// problem is what the status trace says while the server is away.
func (b *backoff) problem(addr string) error {
	return fmt.Errorf("PostgreSQL at %s is unreachable since %s; reconnecting every %s at most, capture resumes by itself when it is back (errors.max.retries, retriable.restart.connector.wait.ms); last error: %w",
		addr, b.since.UTC().Format(time.RFC3339), b.max, b.lastErr)
}

// report shows (err non-nil) or clears the task's problem in its status.
func (t *Task) report(err error) {
	if t.tctx != nil {
		connectors.ReportProblem(t.tctx, err)
	}
}

// startLater finishes a Start whose setup could not reach the server:
// it tries again with back-off until setup succeeds, ctx ends, or
// errors.max.retries attempts failed.
func (t *Task) startLater(ctx context.Context, cause error) error {
	b := newBackoff(t.cfg, cause)
	for {
		if err := b.wait(ctx, t.cfg.Addr()); err != nil {
			return err
		}
		err := t.setup(ctx)
		if err == nil {
			t.report(nil)
			t.log.Info("PostgreSQL reachable again; task starting", "attempts", b.tries+1)
			return nil
		}
		t.closeConns()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !transient(err) {
			return err
		}
		b.failed(err)
		t.report(b.problem(t.cfg.Addr()))
	}
}

// resumeAttempts is how many times in a row stream resumes a streamer
// that fails again soon after its reconnect before it gives the error to
// the task's loop to set up again. It is a safety net: the one such
// failure seen (a resumed snapshot's chunk connection, closed with the
// old stream and used again by the new one) is fixed in streamer.run.
const resumeAttempts = 3

// stream runs the streamer, reconnecting with back-off when the
// connection is lost; it resumes after the last queued record, so
// nothing is lost and nothing is queued twice.
func (t *Task) stream(ctx context.Context, s *streamer) error {
	var b *backoff
	quick := 0 // streams in a row that failed soon after a reconnect
	for {
		began := time.Now()
		err := s.run(ctx)
		if err == nil || ctx.Err() != nil || !(connectors.Retriable(err) || transient(err)) {
			return err
		}
		if b == nil || time.Since(began) >= t.cfg.ReconnectMax || s.sent {
			// A first loss, or one after the stream ran for a while or
			// delivered records (connections cut often, by a flaky
			// network or an operator's pg_terminate_backend, are not
			// a streamer that cannot resume): start the back-off afresh.
			b = newBackoff(t.cfg, err)
			quick = 0
			t.log.Warn("replication connection lost; reconnecting", "server", t.cfg.Addr(), "error", err)
		} else {
			// The server answers but the resumed stream fails again at
			// once, having delivered nothing: something of this
			// streamer's state does not survive the reconnect. After a few tries, hand the error to the
			// task's loop, which sets up again from the committed offset
			// as a restart of the task would, so capture cannot be stuck
			// in a reconnect loop that never moves.
			quick++
			t.log.Warn("resumed replication failed again", "server", t.cfg.Addr(), "attempt", quick, "error", err)
			if quick >= resumeAttempts {
				return fmt.Errorf("resuming replication failed %d times in a row; setting up again from the committed offset: %w", quick, err)
			}
		}
		t.report(b.problem(t.cfg.Addr()))
		for {
			if werr := b.wait(ctx, t.cfg.Addr()); werr != nil {
				return werr
			}
			rerr := t.reconnect(ctx)
			if rerr == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !transient(rerr) {
				return fmt.Errorf("reconnecting to PostgreSQL at %s after %v: %w", t.cfg.Addr(), err, rerr)
			}
			b.failed(rerr)
			t.report(b.problem(t.cfg.Addr()))
		}
		s = s.resumed()
		t.report(nil)
		t.log.Info("reconnected", "server", t.cfg.Addr(), "resume_lsn", lsnString(s.resumeLSN), "down_for", time.Since(b.since).Round(time.Millisecond))
	}
}
