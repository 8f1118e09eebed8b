package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// queued is a record in the task's queue with its estimated size (0 when
// max.queue.size.in.bytes is off).
type queued struct {
	r *connectors.Record
	n int64
}

// byteBudget bounds the approximate bytes of the records in the queue
// (max.queue.size.in.bytes). The task's goroutine is its only acquirer;
// Poll releases. A record larger than the whole budget is admitted when
// the queue holds nothing else, so it cannot block forever.
type byteBudget struct {
	limit int64
	freed chan struct{} // capacity 1: poked when bytes are released
	mu    sync.Mutex
	used  int64
	peak  int64
}

func newByteBudget(limit int64) *byteBudget {
	return &byteBudget{limit: limit, freed: make(chan struct{}, 1)}
}

// acquire waits until n more bytes fit.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		select {
		case <-b.freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n bytes and wakes a waiting acquire.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// Fixed costs of the size estimate: a record with its envelope and
// source block, a struct, a slice or map header, a boxed scalar.
const (
	recordOverhead = 256
	structOverhead = 48
	headerOverhead = 24
	scalarSize     = 16
)

// recordSize estimates the bytes a record holds from its decoded values:
// string and byte lengths plus fixed costs per struct and value. Schemas
// and offsets are shared between records and not counted.
func recordSize(r *connectors.Record) int64 {
	return recordOverhead + int64(len(r.Topic)) + valueSize(r.Key) + valueSize(r.Value)
}

func valueSize(v any) int64 {
	switch v := v.(type) {
	case nil:
		return 0
	case interface{ size() int64 }:
		return v.size()
	case string:
		return headerOverhead + int64(len(v))
	case []byte:
		return headerOverhead + int64(len(v))
	case *connectors.StructValue:
		n := int64(structOverhead + scalarSize*len(v.Values))
		for _, f := range v.Values {
			n += valueSize(f)
		}
		return n
	case []any:
		n := int64(headerOverhead + scalarSize*len(v))
		for _, e := range v {
			n += valueSize(e)
		}
		return n
	case []connectors.MapEntry:
		n := int64(headerOverhead + 2*scalarSize*len(v))
		for _, e := range v {
			n += valueSize(e.Key) + valueSize(e.Value)
		}
		return n
	case connectors.Decimal:
		if v.Unscaled != nil {
			return structOverhead + int64(len(v.Unscaled.Bits())*8)
		}
		return structOverhead
	case time.Time:
		return headerOverhead
	default:
		return scalarSize
	}
}
