package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tolerate handles a polled record that failed at a stage (the record as
// polled, its ticket tk): it logs it (errors.log.enable) and writes it to
// the dead letter queue through the task's producer (in the open
// transaction under exactly-once). Under errors.tolerance=all the record
// counts as handled, so its offset commits, once the dead letter queue
// has it, and tolerate returns nil; otherwise it returns the error the
// task fails with, and the ticket stays open.
func (r *sourceRunner) tolerate(ctx context.Context, rec *connectors.Record, tk ticket, f failure) error {
	return r.handleFailed(ctx, rec, tk, f, r.errs.policyOf().tolerateAll)
}

// setAside handles a record its task marked failed (Record.Failure): a
// change the task could not turn into a record and chose to skip itself
// (a table PostgreSQL's sluice.table.failure.mode=quarantine set aside),
// so it counts as handled whatever errors.tolerance says. It goes to the
// dead letter queue when there is one, at stage TASK_POLL with the
// connector's class, and is counted as tolerated otherwise; its offset
// commits like any record's.
func (r *sourceRunner) setAside(ctx context.Context, rec *connectors.Record, tk ticket) error {
	return r.handleFailed(ctx, rec, tk, failure{stage: StageTaskPoll, class: r.taskClass, err: rec.Failure}, true)
}

// handleFailed is tolerate with the tolerance given: all says the failed
// record counts as handled.
func (r *sourceRunner) handleFailed(ctx context.Context, rec *connectors.Record, tk ticket, f failure, all bool) error {
	h := r.errs
	if h == nil {
		if all {
			r.tracker.ack(tk)
			return nil
		}
		return &StageError{Stage: f.stage, Class: f.class, Err: f.err}
	}
	if h.policy.logEnable {
		attrs := []any{"stage", f.stage, "class", f.class, "topic", rec.Topic, "source_partition", rec.SourcePartition,
			"source_offset", rec.SourceOffset, "error", f.err, "tolerated", all}
		if h.policy.logMessages {
			attrs = append(attrs, "key", rec.Key, "value", rec.Value, "headers", rec.Headers)
		}
		r.logger.Warn("record failed", attrs...)
	}
	if h.dlq == nil {
		if !all {
			return &StageError{Stage: f.stage, Class: f.class, Err: f.err}
		}
		h.tolerated.Add(1)
		r.tracker.ack(tk)
		return nil
	}
	if err := h.dlq.ready(ctx); err != nil {
		return fmt.Errorf("%s stage: %w (the record failed with: %v)", f.stage, err, f.err)
	}
	key := dlqBytes(r.keyConv, rec.Topic, rec.KeySchema, rec.Key)
	val := dlqBytes(r.valConv, rec.Topic, rec.ValueSchema, rec.Value)
	kr := h.dlq.sourceRecord(rec, key, val, f, h.scrub)
	r.producer.Produce(ctx, kr, func(kr *kgo.Record, err error) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				e := fmt.Errorf("writing a record to the dead letter queue %s: %w", kr.Topic, err)
				if d := denied(err, "Write", kr.Topic, r.sec); d != nil {
					e = d
				}
				r.produceErr.CompareAndSwap(nil, &e)
			}
			return
		}
		h.reported.Add(1)
		if all {
			r.tracker.ack(tk)
		}
	})
	if !all {
		return &StageError{Stage: f.stage, Class: f.class, Err: f.err}
	}
	h.tolerated.Add(1)
	return nil
}

// dlqBytes encodes what a converter can of a failed record for the dead
// letter queue; nil when it cannot.
func dlqBytes(c converter.Converter, topic string, s *connectors.Schema, v any) []byte {
	var b []byte
	if err := connectors.Protect(func() (err error) {
		b, err = c.Encode(nil, topic, s, v)
		return err
	}); err != nil {
		return nil
	}
	return b
}
