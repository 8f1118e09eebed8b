package datagen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/connectors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// memOffsets is a SourceTaskContext backed by a map of committed offsets,
// keyed by the task index of the source partition.
type memOffsets struct {
	mu  sync.Mutex
	m   map[int64]map[string]any
	err error
}

func (o *memOffsets) Offset(_ context.Context, p map[string]any) (map[string]any, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, o.err
	}
	i, ok := p[PartitionKey].(int64)
	if !ok || len(p) != 1 {
		return nil, fmt.Errorf("unexpected source partition %v", p)
	}
	return o.m[i], nil
}

func (o *memOffsets) Logger() *slog.Logger { return discard }

// commit stores the offset of the last record of recs, as the runtime does
// once Kafka acknowledged them.
func (o *memOffsets) commit(recs []*connectors.Record) {
	if len(recs) == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[int64]map[string]any{}
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if last := recs[i]; last.SourceOffset != nil {
			o.m[last.SourcePartition[PartitionKey].(int64)] = last.SourceOffset
			return
		}
	}
}

// testProps returns a config for topic "t" with the given key=value pairs.
func testProps(kv ...string) map[string]string {
	p := map[string]string{KafkaTopic: "t"}
	for _, s := range kv {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			panic("testProps: " + s)
		}
		p[k] = v
	}
	return p
}

// startTasks starts a connector with props and one task per task config.
func startTasks(t testing.TB, props map[string]string, maxTasks int, offs *memOffsets) []*Task {
	t.Helper()
	c := NewConnector()
	if err := c.Start(context.Background(), nil, props); err != nil {
		t.Fatalf("Start: %v", err)
	}
	cfgs, err := c.TaskConfigs(maxTasks)
	if err != nil {
		t.Fatalf("TaskConfigs(%d): %v", maxTasks, err)
	}
	if offs == nil {
		offs = &memOffsets{}
	}
	tasks := make([]*Task, len(cfgs))
	for i, cfg := range cfgs {
		task := c.NewTask().(*Task)
		task.idleWait = 5 * time.Millisecond
		if err := task.Start(context.Background(), offs, cfg); err != nil {
			t.Fatalf("task %d Start: %v", i, err)
		}
		tasks[i] = task
	}
	t.Cleanup(func() {
		for _, task := range tasks {
			if err := task.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		}
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("connector Stop: %v", err)
		}
	})
	return tasks
}

// drain polls task until it has returned n records (failing after 20 s)
// and then checks that one more poll returns nothing.
func drain(t testing.TB, task *Task, n int) []*connectors.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*connectors.Record
	for len(out) < n {
		recs, err := task.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, recs...)
	}
	if len(out) != n {
		t.Fatalf("got %d records, want %d", len(out), n)
	}
	if recs, err := task.Poll(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("Poll after the last record = %d records, %v; want none", len(recs), err)
	}
	return out
}

// seqOf returns a record's sequence number from its value and checks that
// the header and the offset agree with it.
func seqOf(t testing.TB, r *connectors.Record) int64 {
	t.Helper()
	seq, ok := r.Value.(*connectors.StructValue).Get("seq").(int64)
	if !ok {
		t.Fatalf("value has no int64 seq: %v", r.Value)
	}
	var hdr string
	for _, h := range r.Headers {
		if h.Key == SeqHeader {
			hdr = string(h.Value)
		}
	}
	if want := fmt.Sprint(seq); hdr != want {
		t.Fatalf("header %s = %q, want %q", SeqHeader, hdr, want)
	}
	// Records without an offset are covered by a later one of the batch.
	if off := r.SourceOffset[OffsetKey]; r.SourceOffset != nil && (off != seq || len(r.SourceOffset) != 1) {
		t.Fatalf("source offset %v, want {seq: %d} or none", r.SourceOffset, seq)
	}
	return seq
}

// conforms checks that v is a valid Go value of schema s, as a strict
// converter would.
func conforms(s *connectors.Schema, v any) error {
	if v == nil {
		if s.Optional {
			return nil
		}
		return errors.New("null in a required field")
	}
	ok := false
	switch s.Type {
	case connectors.Int64:
		_, ok = v.(int64)
	case connectors.Float64:
		_, ok = v.(float64)
	case connectors.String:
		_, ok = v.(string)
	case connectors.Struct:
		sv, isStruct := v.(*connectors.StructValue)
		if !isStruct {
			break
		}
		if sv.Schema != s || len(sv.Values) != len(s.Fields) {
			return fmt.Errorf("struct of schema %q with %d values, want %q with %d", sv.Schema.Name, len(sv.Values), s.Name, len(s.Fields))
		}
		for i, f := range s.Fields {
			if err := conforms(f.Schema, sv.Values[i]); err != nil {
				return fmt.Errorf("%s.%s: %w", s.Name, f.Name, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("unexpected schema type %s", s.Type)
	}
	if !ok {
		return fmt.Errorf("%T is not a %s", v, s.Type)
	}
	return nil
}
