// Package kafkasignal reads signals from a Kafka topic for a CDC source
// (signal.enabled.channels=kafka), as Debezium's Kafka signal channel: a
// record keyed by topic.prefix whose value is {"type": ..., "data":
// {...}} (cdc.ParseSignalRecord). Consume hands each signal to the source,
// which handles it as a row of its signal table (cdc.HandleSignal). The
// group's position is committed only once the source says a committed
// source offset records the signal's effect (the snapshot chunks it
// planned, a pause), so a crash in between replays the signal instead of
// losing it: a signal is handled at least once per consumer group.
//
// It is apart from package cdc because it needs the Kafka client, which
// cdc may not import.
package kafkasignal

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/internal/kafkasec"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says where the signals are.
type Config struct {
	Brokers  []string // signal.kafka.bootstrap.servers
	Group    string   // signal.kafka.groupId
	Topic    string   // signal.kafka.topic
	Key      string   // the key of the records meant for this source: topic.prefix
	ClientID string
}

// Signal is a signal on its way from the consumer to the source. The
// source answers on Result (capacity 1): true once the signal's effect
// is in a committed source offset, false if it could not be handled (the
// consumer offers it again).
type Signal struct {
	Kind   string
	Data   []byte
	From   string // where it came from, for the log
	Result chan bool
}

// Consume reads cfg.Topic until ctx ends, offering each signal to the
// source with offer (which returns false when ctx ended first). Errors
// are logged, and those the user must fix (security, authentication)
// are reported on tctx: signals are not worth failing the task for, and
// the client retries brokers on its own.
func Consume(ctx context.Context, tctx connectors.SourceTaskContext, cfg Config, log *slog.Logger, offer func(context.Context, Signal) bool) {
	// The worker's consumer security (security.protocol, sasl.*, ssl.*)
	// applies to the signal consumer too.
	sec, err := kafkasec.From(kafkasec.Layer{Props: connectors.KafkaClientConfig(tctx)})
	if err != nil {
		log.Error("the worker's Kafka client security properties do not apply to the signal topic's consumer; Kafka signals are ignored", "error", err)
		connectors.ReportProblem(tctx, fmt.Errorf("kafka signals are ignored: %w", err))
		return
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.ClientID(cfg.ClientID),
	}, sec.Opts...)...)
	if err != nil {
		log.Error("signal.kafka.bootstrap.servers: cannot create the signal topic's consumer; Kafka signals are ignored", "error", err)
		return
	}
	defer cl.Close()
	log.Info("reading signals from Kafka", "topic", cfg.Topic, "group", cfg.Group, "brokers", cfg.Brokers)
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			// Authentication and TLS failures say what to fix, and show in
			// the task's status (it keeps running without signals).
			if e := kafkasec.Explain(err, sec, cfg.Brokers); e != err {
				err = e
				connectors.ReportProblem(tctx, fmt.Errorf("reading signals from Kafka: %w", err))
			}
			log.Warn("reading the signal topic", "topic", topic, "partition", p, "error", err)
		})
		var sent []Signal
		fs.EachRecord(func(r *kgo.Record) {
			if ctx.Err() != nil || string(r.Key) != cfg.Key {
				return
			}
			from := "kafka " + r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
			kind, data, err := cdc.ParseSignalRecord(r.Value)
			if err != nil {
				log.Warn("ignoring a signal record", "from", from, "error", err)
				return
			}
			sig := Signal{Kind: kind, Data: data, From: from, Result: make(chan bool, 1)}
			if offer(ctx, sig) {
				sent = append(sent, sig)
			}
		})
		// Commit the fetch's position once every signal of it is in a
		// committed source offset; one the source could not handle is
		// offered again, in order.
		for _, sig := range sent {
			for !result(ctx, sig) {
				if ctx.Err() != nil {
					return // not committed: read again after a restart
				}
				log.Warn("a signal could not be handled; offering it again", "from", sig.From)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				sig.Result = make(chan bool, 1)
				offer(ctx, sig)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			log.Warn("committing the signal topic's position", "group", cfg.Group, "error", err)
		}
	}
}

// result waits for the source's answer on an offered signal: true once
// its effect is in a committed source offset.
func result(ctx context.Context, sig Signal) bool {
	select {
	case ok := <-sig.Result:
		return ok
	case <-ctx.Done():
		return false
	}
}
