package postgres

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Signals through a Kafka topic (signal.enabled.channels=kafka), as
// Debezium's Kafka signal channel: a record keyed by topic.prefix whose
// value is {"type": ..., "data": {...}}. A consumer goroutine hands each
// signal to the streamer, which handles it as a row of the signal table,
// and commits the group's position once the signal was handled, so a
// signal is handled at least once per consumer group.

// kafkaSignal is a signal on its way from the consumer to the streamer;
// done is closed once the streamer has handled it.
type kafkaSignal struct {
	kind string
	data []byte
	from string
	done chan struct{}
}

// signalValue is the value of a signal record.
type signalValue struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// consumeSignals reads the signal topic until ctx ends. It is started and
// waited for by run; errors are logged (signals are not worth failing
// the task for, and the client retries brokers on its own).
func (t *Task) consumeSignals(ctx context.Context) {
	cfg := t.cfg
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.SignalBrokers...),
		kgo.ConsumerGroup(cfg.SignalGroup),
		kgo.ConsumeTopics(cfg.SignalTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ClientID("sluice-postgres-signals-"+cfg.TopicPrefix),
	)
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
			t.log.Warn("reading the signal topic", "topic", topic, "partition", p, "error", err)
		})
		handled := true
		fs.EachRecord(func(r *kgo.Record) {
			if !handled || string(r.Key) != cfg.TopicPrefix {
				return
			}
			var v signalValue
			from := "kafka " + r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
			if err := json.Unmarshal(r.Value, &v); err != nil || v.Type == "" {
				t.log.Warn("ignoring a signal record whose value is not {\"type\": ..., \"data\": {...}}", "from", from, "error", err)
				return
			}
			data := []byte(v.Data)
			var text string
			if json.Unmarshal(v.Data, &text) == nil {
				data = []byte(text) // data given as a JSON string, as in the signal table
			}
			handled = t.deliverSignal(ctx, kafkaSignal{kind: v.Type, data: data, from: from, done: make(chan struct{})})
		})
		if !handled {
			return // ctx ended before the streamer took every signal: not committed
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("committing the signal topic's position", "group", cfg.SignalGroup, "error", err)
		}
	}
}

// deliverSignal hands a signal to the streamer and waits until it has
// been handled; it reports false when ctx ended first.
func (t *Task) deliverSignal(ctx context.Context, sig kafkaSignal) bool {
	select {
	case t.signals <- sig:
	case <-ctx.Done():
		return false
	}
	if c := t.replConn.Load(); c != nil {
		// Wake the stream's reader so the signal is handled at once.
		_ = c.Conn().SetReadDeadline(time.Now())
	}
	select {
	case <-sig.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// takeSignal handles a Kafka signal waiting for the streamer, if any.
func (s *streamer) takeSignal(ctx context.Context) error {
	select {
	case sig := <-s.t.signals:
		defer close(sig.done)
		return s.handleSignal(ctx, sig.kind, sig.data, sig.from)
	default:
		return nil
	}
}
