package postgres

import (
	"context"
	"time"

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
// marker records their effect; once every offset up to the marker is
// committed, they are answered.
func (s *streamer) takeSignal(ctx context.Context) error {
	if len(s.sigMarked) > 0 && !s.t.pending() {
		for _, sig := range s.sigMarked {
			sig.Result <- true
		}
		s.sigMarked = nil
	}
	if len(s.sigHandled) > 0 && !s.inTx {
		if err := s.emitMarker(ctx); err != nil {
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
