package postgres

import (
	"context"
	"reflect"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc/kafkasignal"
)

// Signals through a Kafka topic (signal.enabled.channels=kafka): the
// consumer is package kafkasignal's; here the streamer takes what it
// offers.

// consumeSignals reads the signal topic until ctx ends. It is started and
// waited for by run.
func (t *Task) consumeSignals(ctx context.Context) {
	cfg := t.cfg
	kafkasignal.Consume(ctx, t.tctx, kafkasignal.Config{Brokers: cfg.SignalBrokers, Group: cfg.SignalGroup, Topic: cfg.SignalTopic,
		Key: cfg.TopicPrefix, ClientID: "sluice-postgres-signals-" + cfg.TopicPrefix}, t.log, t.offerSignal)
}

// offerSignal hands a signal to the streamer; false when ctx ended first.
func (t *Task) offerSignal(ctx context.Context, sig kafkasignal.Signal) bool {
	select {
	case t.signals <- sig:
	case <-ctx.Done():
		return false
	}
	if c := t.replConn.Load(); c != nil {
		// Wake the stream's reader so the signal is handled at once.
		_ = c.Conn().SetReadDeadline(time.Now())
	}
	return true
}

// takeSignal handles a Kafka signal waiting for the streamer, if any, and
// moves earlier ones toward their answer: between transactions an offset
// marker records their effect; once that marker, or a streamed offset
// after it, is committed, they are answered (and the signal consumer
// commits its position), however many records follow meanwhile.
func (s *streamer) takeSignal(ctx context.Context) error {
	if len(s.sigMarked) > 0 && s.t.signalMarkCommitted() {
		for _, sig := range s.sigMarked {
			sig.Result <- true
		}
		s.sigMarked = nil
	}
	if len(s.sigHandled) > 0 && !s.inTx {
		o := s.markOffset()
		m := o.toMap()
		t := s.t
		t.mu.Lock()
		t.mu.sigMark, t.mu.sigMarkLSN, t.mu.sigMarkDone = reflect.ValueOf(m).UnsafePointer(), max(o.lsnProc, o.lsnCommit), false
		t.mu.Unlock()
		if err := s.emit(ctx, &connectors.Record{SourcePartition: t.b.Partition, SourceOffset: m}, &o); err != nil {
			return err
		}
		s.sigMarked = append(s.sigMarked, s.sigHandled...)
		s.sigHandled = nil
	}
	select {
	case sig := <-s.t.signals:
		if err := s.handleSignal(ctx, sig.Kind, sig.Data, sig.From); err != nil {
			sig.Result <- false
			return err
		}
		s.sigHandled = append(s.sigHandled, sig)
		return nil
	default:
		return nil
	}
}

// signalMarkCommitted reports whether the last signal marker, or a
// streamed offset after it, is committed.
func (t *Task) signalMarkCommitted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.sigMarkDone
}
