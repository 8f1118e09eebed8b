package mysql

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/cdc/kafkasignal"
)

// Signals through a Kafka topic (signal.enabled.channels=kafka): the
// consumer is package kafkasignal's, run by run's goroutine next to the
// stream; the stream takes what it offers between binlog events
// (takeSignals). A signal is answered true once a committed source offset
// holds its effect: after handling it, the stream queues an offset marker
// between transactions (its plan included), and the answer goes out when
// Commit reports that marker, or an offset after it, committed.

// kafkaSignals is the task's side of the Kafka channel.
type kafkaSignals struct {
	ch chan kafkasignal.Signal // from the consumer to the stream
	// handled wait for a marker; marked wait for their marker's commit.
	// Both are the task goroutine's.
	handled, marked []kafkasignal.Signal
	mu              struct {
		sync.Mutex
		marker    binlogAt // position of the last marker queued
		markerMap mapRef   // and its offset map
		committed bool     // the marker, or an offset after it, is committed
	}
}

// mapRef identifies an offset map (its address).
type mapRef = uintptr

// mapID identifies an offset map by its pointer.
func mapID(m map[string]any) mapRef { return reflect.ValueOf(m).Pointer() }

// consumeSignals reads the signal topic until ctx ends.
func (t *Task) consumeSignals(ctx context.Context) {
	cfg := t.cfg
	kafkasignal.Consume(ctx, t.tctx, kafkasignal.Config{Brokers: cfg.SignalBrokers, Group: cfg.SignalGroup, Topic: cfg.SignalTopic,
		Key: cfg.TopicPrefix, ClientID: "sluice-mysql-signals-" + cfg.TopicPrefix}, t.log, func(ctx context.Context, sig kafkasignal.Signal) bool {
		select {
		case t.ksig.ch <- sig:
			return true
		case <-ctx.Done():
			return false
		}
	})
}

// takeSignals answers the signals whose marker is committed, queues a
// marker for those handled (between transactions), and handles a signal
// waiting, if any. It runs between binlog events.
func (t *Task) takeSignals(ctx context.Context, s *streamer) error {
	k := t.ksig
	if k == nil {
		return nil
	}
	if len(k.marked) > 0 {
		k.mu.Lock()
		done := k.mu.committed
		k.mu.Unlock()
		if done {
			for _, sig := range k.marked {
				sig.Result <- true
			}
			k.marked = nil
		}
	}
	if len(k.handled) > 0 && !s.inTx && s.at.file != "" {
		o := offset{file: s.at.file, pos: s.at.pos}
		if s.gtids != nil {
			o.gtids = s.gtids.String()
		}
		m := o.toMap()
		k.mu.Lock()
		k.mu.marker, k.mu.markerMap, k.mu.committed = s.at, mapID(m), false
		k.mu.Unlock()
		s.last, s.dirty, s.lastMarker = o, false, time.Now()
		if err := t.put(ctx, &connectors.Record{SourcePartition: t.b.Partition, SourceOffset: m}); err != nil {
			return err
		}
		k.marked = append(k.marked, k.handled...)
		k.handled = nil
	}
	select {
	case sig := <-k.ch:
		if err := cdc.HandleSignal(ctx, &signals{t: t}, t.log, sig.Kind, sig.Data, sig.From); err != nil {
			sig.Result <- false
			return err
		}
		k.handled = append(k.handled, sig)
	default:
	}
	return nil
}

// Commit is told the latest durable offsets (connectors.SourceCommitter):
// Kafka signals whose marker they cover are answered.
func (t *Task) Commit(ctx context.Context, offsets []connectors.SourceOffset) error {
	k := t.ksig
	if k == nil {
		return nil
	}
	for _, so := range offsets {
		if so.Partition["server"] != t.cfg.TopicPrefix || so.Offset == nil {
			continue
		}
		o, err := parseOffset(so.Offset)
		if err != nil {
			return fmt.Errorf("committed offset %v: %w", so.Offset, err)
		}
		k.mu.Lock()
		// The marker itself, or an offset strictly after its position
		// (one at the same position may have been queued before it).
		if k.mu.markerMap != 0 && (mapID(so.Offset) == k.mu.markerMap ||
			(binlogAt{file: o.file, pos: o.pos}).after(k.mu.marker)) {
			k.mu.committed = true
		}
		k.mu.Unlock()
	}
	return nil
}

// after reports whether a is strictly after b.
func (a binlogAt) after(b binlogAt) bool {
	if c := compareFiles(a.file, b.file); c != 0 {
		return c > 0
	}
	return a.pos > b.pos
}
