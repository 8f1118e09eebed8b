package datagen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
)

// Header keys and source partition and offset fields of generated records.
const (
	SeqHeader    = "datagen.seq"
	PoisonHeader = "datagen.poison"
	PartitionKey = "task"
	OffsetKey    = "seq"
)

// epoch is the timestamp of record 0; record n is n milliseconds later.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultIdleWait is how long Poll blocks before returning an empty batch
// when the task has nothing to produce.
const defaultIdleWait = time.Second

// maxSeqDigits is the length of the longest non-negative int64 in decimal.
const maxSeqDigits = 19

// Task is a datagen source task: it generates its share of the sequence
// numbers (see the package docs). Poll must be called from one goroutine;
// Stop may be called from any goroutine at any time.
type Task struct {
	cfg       taskConfig
	q         *quickstart
	seedMix   uint64
	partition map[string]any
	// next is the next sequence number to generate; stride the task count.
	next, stride int64
	pacer        pacer
	idleWait     time.Duration
	timer        *time.Timer
	log          *slog.Logger
	doneLogged   bool

	stopOnce sync.Once
	stopped  chan struct{} // closed by Stop
}

// NewTask returns a task ready to Start.
func NewTask() *Task {
	return &Task{idleWait: defaultIdleWait, stopped: make(chan struct{})}
}

var _ connectors.SourceTask = (*Task)(nil)

// Start parses the task config and resumes after the committed offset of
// the task's source partition.
func (t *Task) Start(ctx context.Context, tctx connectors.SourceTaskContext, props map[string]string) error {
	cfg, err := parseTaskConfig(props)
	if err != nil {
		return fmt.Errorf("datagen task: %w", err)
	}
	t.cfg = cfg
	t.q = quickstarts[cfg.Quickstart]
	t.seedMix = mixSeed(cfg.Seed)
	t.stride = int64(cfg.Count)
	t.partition = map[string]any{PartitionKey: int64(cfg.Index)}
	t.pacer = pacer{interval: cfg.Interval()}
	// The runtime's logger already names the connector and task.
	t.log = tctx.Logger()
	if t.log == nil {
		t.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	off, err := tctx.Offset(ctx, t.partition)
	if err != nil {
		return fmt.Errorf("datagen task %d: reading the committed offset of source partition {%q: %d}: %w",
			cfg.Index, PartitionKey, cfg.Index, err)
	}
	stored, ok, err := storedSeq(off)
	if err != nil {
		return fmt.Errorf("datagen task %d: committed offset %v of source partition {%q: %d}: %w; reset the connector's offsets (DELETE /connectors/{name}/offsets on a stopped connector) to start again",
			cfg.Index, off, PartitionKey, cfg.Index, err)
	}
	t.next = int64(cfg.Index)
	if ok {
		t.next = firstAfter(stored, int64(cfg.Index), t.stride)
	}
	t.log.Info("datagen task started", "quickstart", cfg.Quickstart, "tasks", cfg.Count,
		"next_seq", t.next, "resumed", ok, "iterations", cfg.Iterations)
	return nil
}

// storedSeq reads the sequence number from a committed offset; ok is false
// when there is none. Offsets come back from the offsets store through JSON,
// so a number may arrive as int64, float64 or json.Number.
func storedSeq(off map[string]any) (seq int64, ok bool, err error) {
	if off == nil {
		return 0, false, nil
	}
	v, present := off[OffsetKey]
	if !present {
		return 0, false, fmt.Errorf("has no %q field", OffsetKey)
	}
	switch n := v.(type) {
	case int64:
		seq = n
	case int:
		seq = int64(n)
	case int32:
		seq = int64(n)
	case float64:
		if n != math.Trunc(n) || n < -1 || n >= math.MaxInt64 {
			return 0, false, fmt.Errorf("%q is %v, not a sequence number", OffsetKey, n)
		}
		seq = int64(n)
	case json.Number:
		seq, err = strconv.ParseInt(string(n), 10, 64)
	case string:
		seq, err = strconv.ParseInt(n, 10, 64)
	default:
		return 0, false, fmt.Errorf("%q is a %T, not a sequence number", OffsetKey, v)
	}
	if err != nil {
		return 0, false, fmt.Errorf("%q is %v, not a sequence number", OffsetKey, v)
	}
	if seq < -1 {
		return 0, false, fmt.Errorf("%q is %d, below -1", OffsetKey, seq)
	}
	return seq, true, nil
}

// firstAfter returns the smallest number above stored that is index modulo
// count, or math.MaxInt64 (past every iteration count) when there is none.
func firstAfter(stored, index, count int64) int64 {
	if stored < -1 {
		stored = -1
	}
	if stored >= math.MaxInt64-count {
		return math.MaxInt64
	}
	m := stored + 1
	return m + ((index-m%count)%count+count)%count
}

// remaining returns how many records the task has left, or -1 when it
// generates forever.
func (t *Task) remaining() int64 {
	if t.next > math.MaxInt64-t.stride {
		return 0
	}
	if t.cfg.Iterations < 0 {
		return -1
	}
	if t.next >= t.cfg.Iterations {
		return 0
	}
	return (t.cfg.Iterations-1-t.next)/t.stride + 1
}

// Poll returns the next batch of at most datagen.batch.size records, paced
// by datagen.rate and max.interval. It returns an empty batch after blocking
// for about a second when nothing is due or the task has produced all its
// records, a wrapped ctx.Err() when ctx is done, and an empty batch at once
// after Stop.
func (t *Task) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, t.ctxErr(err)
	}
	if t.isStopped() {
		return nil, nil
	}
	if t.q == nil {
		return nil, errors.New("datagen task: Poll called before a successful Start")
	}
	want := int64(t.cfg.BatchSize)
	rem := t.remaining()
	if rem == 0 {
		if !t.doneLogged {
			t.doneLogged = true
			t.log.Info("datagen task generated all its records", "iterations", t.cfg.Iterations)
		}
		return nil, t.sleep(ctx, t.idleWait)
	}
	if rem > 0 && rem < want {
		want = rem
	}
	deadline := time.Now().Add(t.idleWait)
	for {
		now := time.Now()
		n, wait := t.pacer.take(now, int(want))
		if n > 0 {
			return t.batch(n), nil
		}
		if left := deadline.Sub(now); wait > left {
			wait = left
		}
		if wait <= 0 || t.isStopped() {
			return nil, nil
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// sleep blocks for d, until ctx is done (returning its wrapped error) or
// until Stop (returning nil).
func (t *Task) sleep(ctx context.Context, d time.Duration) error {
	if t.timer == nil {
		t.timer = time.NewTimer(d)
	} else {
		t.timer.Reset(d)
	}
	select {
	case <-t.timer.C:
		return nil
	case <-t.stopped:
		t.timer.Stop()
		return nil
	case <-ctx.Done():
		t.timer.Stop()
		return t.ctxErr(ctx.Err())
	}
}

func (t *Task) ctxErr(err error) error {
	return fmt.Errorf("datagen task %d: poll: %w", t.cfg.Index, err)
}

func (t *Task) isStopped() bool {
	select {
	case <-t.stopped:
		return true
	default:
		return false
	}
}

// batch generates the task's next n records. Everything a record points to
// is allocated per batch in slabs; records share no mutable memory.
func (t *Task) batch(n int) []*connectors.Record {
	q := t.q
	recs := make([]connectors.Record, n)
	out := make([]*connectors.Record, n)
	vals := make([]any, n*q.slots)
	svs := make([]connectors.StructValue, n*q.structs)
	hdrs := make([]connectors.Header, n)
	digits := make([]byte, 0, n*maxSeqDigits)
	for i := range recs {
		seq := t.next
		t.next += t.stride
		seqBox := any(seq)
		r := rng{s: t.seedMix ^ uint64(seq)}
		key, value := q.fill(r, seq, seqBox, vals[i*q.slots:(i+1)*q.slots:(i+1)*q.slots],
			svs[i*q.structs:(i+1)*q.structs:(i+1)*q.structs])

		start := len(digits)
		digits = strconv.AppendInt(digits, seq, 10)
		hdrs[i] = connectors.Header{Key: SeqHeader, Value: digits[start:len(digits):len(digits)]}
		h := hdrs[i : i+1 : i+1]
		if t.isPoison(seq) {
			value.Values[q.poisonField] = poisonValue
			h = []connectors.Header{hdrs[i], {Key: PoisonHeader, Value: []byte("true")}}
		}

		// Only the batch's last record, and a record followed by a
		// poison record, carry an offset: the ones before are covered by
		// it (connectors.Record.SourceOffset), which saves an offset map
		// per record, and a task failing on a poison record still has the
		// records before it committed.
		var offset map[string]any
		if i == n-1 || t.isPoison(seq+t.stride) {
			offset = map[string]any{OffsetKey: seqBox}
		}
		rec := &recs[i]
		*rec = connectors.Record{
			Topic:           t.cfg.Topic,
			Partition:       -1,
			KeySchema:       q.keySchema,
			Key:             key,
			ValueSchema:     q.valueSchema,
			Value:           value,
			Headers:         h,
			Timestamp:       epoch.Add(time.Duration(seq) * time.Millisecond),
			SourcePartition: t.partition,
			SourceOffset:    offset,
		}
		out[i] = rec
	}
	return out
}

// isPoison reports whether record seq is a poison record.
func (t *Task) isPoison(seq int64) bool {
	return t.cfg.PoisonEvery > 0 && seq%t.cfg.PoisonEvery == t.cfg.PoisonEvery-1
}

// Stop makes a blocked Poll return and every later Poll return an empty
// batch. It is idempotent and safe to call from any goroutine.
func (t *Task) Stop(context.Context) error {
	t.stopOnce.Do(func() { close(t.stopped) })
	return nil
}
