package runtime

import (
	"reflect"
	"sync"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
)

// tracker follows the records a source task handed to the producer, per
// source partition and in submission order, and knows the latest offset
// of each partition such that it and every record before it were
// acknowledged by Kafka (Kafka Connect's SubmittedRecords). Only that
// offset may be committed: a later record acknowledged first (acks come
// back per Kafka partition, so out of order) does not make earlier ones
// durable.
//
// submit runs on the task goroutine; ack on producer goroutines.
type tracker struct {
	mu    sync.Mutex
	parts map[string]*partTrack
	// last caches the partition of the previous submit: tasks reuse one
	// partition map for many records, so the JSON key is computed once.
	lastMap reflect.Value
	last    *partTrack
}

type partTrack struct {
	key       string
	partition map[string]any
	// ring holds the records in flight in submission order: ring[head]
	// is the oldest, whose sequence number is base; n are in use. Its
	// length is a power of two so indexes wrap with a mask, and nothing is
	// ever copied except when it grows.
	ring []trackEntry
	head int
	n    int
	base uint64
	// committable is the newest offset whose prefix is acknowledged and
	// not yet taken by committable().
	committable map[string]any
	dirty       bool
}

type trackEntry struct {
	offset map[string]any
	acked  bool
}

// ticket identifies one submitted record.
type ticket struct {
	p   *partTrack
	seq uint64
}

func newTracker() *tracker { return &tracker{parts: map[string]*partTrack{}} }

// submit records r as in flight and returns its ticket.
func (t *tracker) submit(partition, offset map[string]any) (ticket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, err := t.partLocked(partition)
	if err != nil {
		return ticket{}, err
	}
	if p.n == len(p.ring) {
		p.grow()
	}
	p.ring[(p.head+p.n)&(len(p.ring)-1)] = trackEntry{offset: offset}
	seq := p.base + uint64(p.n)
	p.n++
	return ticket{p: p, seq: seq}, nil
}

func (p *partTrack) grow() {
	size := max(2*len(p.ring), 1024)
	ring := make([]trackEntry, size)
	for i := 0; i < p.n; i++ {
		ring[i] = p.ring[(p.head+i)&(len(p.ring)-1)]
	}
	p.ring, p.head = ring, 0
}

func (t *tracker) partLocked(partition map[string]any) (*partTrack, error) {
	v := reflect.ValueOf(partition)
	if t.last != nil && v.UnsafePointer() == t.lastMap.UnsafePointer() {
		return t.last, nil
	}
	k, err := offsets.Key("", partition)
	if err != nil {
		return nil, err
	}
	p := t.parts[string(k)]
	if p == nil {
		p = &partTrack{key: string(k), partition: partition}
		t.parts[string(k)] = p
	}
	t.last, t.lastMap = p, v
	return p, nil
}

// ack marks a record acknowledged and advances its partition's
// committable offset over the acknowledged prefix.
func (t *tracker) ack(tk ticket) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := tk.p
	i := tk.seq - p.base
	if i >= uint64(p.n) {
		return
	}
	mask := len(p.ring) - 1
	p.ring[(p.head+int(i))&mask].acked = true
	var last map[string]any
	for p.n > 0 && p.ring[p.head].acked {
		if off := p.ring[p.head].offset; off != nil {
			last = off
		}
		p.ring[p.head] = trackEntry{}
		p.head = (p.head + 1) & mask
		p.n--
		p.base++
	}
	if last != nil {
		p.committable, p.dirty = last, true
	}
}

// committable adds to into, per partition that advanced since the last
// call, its newest fully acknowledged offset, keyed by the partition's
// offsets-topic key.
func (t *tracker) committable(into map[string]connectors.SourceOffset) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.parts {
		if p.dirty {
			into[p.key] = connectors.SourceOffset{Partition: p.partition, Offset: p.committable}
			p.dirty = false
		}
	}
}

// inFlight returns how many submitted records are not yet part of an
// acknowledged prefix (unacknowledged ones and those queued behind them).
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, p := range t.parts {
		n += p.n
	}
	return n
}

// submitted adds to into, per partition with records in flight or an
// offset not yet taken by committable, the offset of its newest submitted
// record. An exactly-once task writes these in its transaction before
// the records are acknowledged: the transaction commits only once every
// record in it was (checked after the flush), and then they are exactly
// what committable would give.
func (t *tracker) submitted(into map[string]connectors.SourceOffset) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.parts {
		var newest map[string]any
		mask := len(p.ring) - 1
		for i := p.n - 1; i >= 0 && newest == nil; i-- {
			newest = p.ring[(p.head+i)&mask].offset
		}
		if newest == nil && p.dirty {
			newest = p.committable
		}
		if newest != nil {
			into[p.key] = connectors.SourceOffset{Partition: p.partition, Offset: newest}
		}
	}
}
