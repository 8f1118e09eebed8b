package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/internal/kafkasec"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Signals through a Kafka topic (signal.enabled.channels=kafka), as
// Debezium's Kafka signal channel: a record keyed by topic.prefix whose
// value is {"type": ..., "data": {...}}. A consumer goroutine hands each
// signal to the streamer, which handles it as a row of the signal table.
// The group's position is committed only once a source offset recording
// the signal's effect (the snapshot chunks it planned, a pause) has been
// committed, so a crash in between replays the signal instead of losing
// it: a signal is handled at least once per consumer group.

// kafkaSignal is a signal on its way from the consumer to the streamer.
// The streamer answers on result: true once the signal's effect is in a
// committed source offset, false if it could not be handled (the consumer
// offers it again).
type kafkaSignal struct {
	kind   string
	data   []byte
	from   string
	result chan bool
}

// consumeSignals reads the signal topic until ctx ends. It is started and
// waited for by run; errors are logged (signals are not worth failing
// the task for, and the client retries brokers on its own).
func (t *Task) consumeSignals(ctx context.Context) {
	cfg := t.cfg
	// The worker's consumer security (security.protocol, sasl.*, ssl.*)
	// applies to the signal consumer too.
	sec, err := kafkasec.From(kafkasec.Layer{Props: connectors.KafkaClientConfig(t.tctx)})
	if err != nil {
		t.log.Error("the worker's Kafka client security properties do not apply to the signal topic's consumer; Kafka signals are ignored", "error", err)
		connectors.ReportProblem(t.tctx, fmt.Errorf("kafka signals are ignored: %w", err))
		return
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.SignalBrokers...),
		kgo.ConsumerGroup(cfg.SignalGroup),
		kgo.ConsumeTopics(cfg.SignalTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ClientID("sluice-postgres-signals-" + cfg.TopicPrefix),
	}, sec.Opts...)...)
	if err != nil {
		t.log.Error("signal.kafka.bootstrap.servers: cannot create the signal topic's consumer; Kafka signals are ignored", "error", err)
		return
	}
	defer cl.Close()
	t.log.Info("reading signals from Kafka", "topic", cfg.SignalTopic, "group", cfg.SignalGroup, "brokers", cfg.SignalBrokers)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			// Authentication and TLS failures say what to fix, and show in
			// the task's status (it keeps running without signals).
			if e := kafkasec.Explain(err, sec, cfg.SignalBrokers); e != err {
				err = e
				connectors.ReportProblem(t.tctx, fmt.Errorf("reading signals from Kafka: %w", err))
			}
			t.log.Warn("reading the signal topic", "topic", topic, "partition", p, "error", err)
		})
		var sent []kafkaSignal
		fs.EachRecord(func(r *kgo.Record) {
			if ctx.Err() != nil || string(r.Key) != cfg.TopicPrefix {
				return
			}
			from := "kafka " + r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
			kind, data, err := cdc.ParseSignalRecord(r.Value)
			if err != nil {
				t.log.Warn("ignoring a signal record", "from", from, "error", err)
				return
			}
			sig := kafkaSignal{kind: kind, data: data, from: from, result: make(chan bool, 1)}
			if t.offerSignal(ctx, sig) {
				sent = append(sent, sig)
			}
		})
		// Commit the fetch's position once every signal of it is in a
		// committed source offset; one the streamer could not handle is
		// offered again, in order.
		for _, sig := range sent {
			for !t.signalResult(ctx, sig) {
				if ctx.Err() != nil {
					return // not committed: read again after a restart
				}
				t.log.Warn("a signal could not be handled; offering it again", "from", sig.from)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				sig.result = make(chan bool, 1)
				t.offerSignal(ctx, sig)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("committing the signal topic's position", "group", cfg.SignalGroup, "error", err)
		}
	}
}

// offerSignal hands a signal to the streamer; false when ctx ended first.
func (t *Task) offerSignal(ctx context.Context, sig kafkaSignal) bool {
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

// signalResult waits for the streamer's answer on an offered signal:
// true once its effect is in a committed source offset.
func (t *Task) signalResult(ctx context.Context, sig kafkaSignal) bool {
	select {
	case ok := <-sig.result:
		return ok
	case <-ctx.Done():
		return false
	}
}

// takeSignal handles a Kafka signal waiting for the streamer, if any, and
// moves earlier ones toward their answer: between transactions an offset
// marker records their effect; once every offset up to the marker is
// committed, they are answered.
func (s *streamer) takeSignal(ctx context.Context) error {
	if len(s.sigMarked) > 0 && !s.t.pending() {
		for _, sig := range s.sigMarked {
			sig.result <- true
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
		if err := s.handleSignal(ctx, sig.kind, sig.data, sig.from); err != nil {
			sig.result <- false
			return err
		}
		s.sigHandled = append(s.sigHandled, sig)
		return nil
	default:
		return nil
	}
}
