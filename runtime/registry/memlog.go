package registry

import (
	"context"
	"sync"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// MemTopic is an in-memory schemas topic for tests and for a process
// that keeps schemas nowhere else: Stores opened on one MemTopic (with
// NewLog) share it as workers share the Kafka topic. It never compacts.
// Safe for concurrent use.
type MemTopic struct {
	mu      sync.Mutex
	records []kafkalog.Record
}

// NewLog returns a log over t that hands records to callback; pass it to
// Open.
func (t *MemTopic) NewLog(callback func(kafkalog.Record)) (Log, error) {
	return &memLog{topic: t, callback: callback}, nil
}

// memLog delivers records on the goroutine that calls ReadToEnd (or
// Start or Write), one caller at a time, in order.
type memLog struct {
	topic    *MemTopic
	callback func(kafkalog.Record)
	mu       sync.Mutex // held while delivering; guards next
	next     int
}

func (l *memLog) Start(ctx context.Context) error { return l.ReadToEnd(ctx) }

func (l *memLog) Write(ctx context.Context, kvs ...kafkalog.KV) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.topic.mu.Lock()
	for _, kv := range kvs {
		l.topic.records = append(l.topic.records, kafkalog.Record{Offset: int64(len(l.topic.records)), Key: kv.Key, Value: kv.Value})
	}
	l.topic.mu.Unlock()
	return nil
}

func (l *memLog) ReadToEnd(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.topic.mu.Lock()
	recs := l.topic.records[l.next:len(l.topic.records):len(l.topic.records)]
	l.topic.mu.Unlock()
	for _, r := range recs {
		l.callback(r)
	}
	l.next += len(recs)
	return nil
}

func (l *memLog) Close() {}
