package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/connectors/codec/connectjson"
	"github.com/sluice-cdc/sluice/it/harness"
)

// taskContext is a SourceTaskContext with one stored offset; lazy offers
// lazy values.
type taskContext struct {
	mu       sync.Mutex
	stored   map[string]any
	lazy     bool
	logs     *logRecorder // nil: logs are discarded (or shown with SLUICE_TEST_VERBOSE)
	problems []string     // what ReportProblem was given, "" for nil
}

// logRecorder keeps the messages a task logs.
type logRecorder struct {
	mu    sync.Mutex
	msgs  []string
	lines []string // messages with their attributes
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	l.lines = append(l.lines, line)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many logged messages are msg.
func (l *logRecorder) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func (c *taskContext) LazyValues() bool { return c.lazy }

func (c *taskContext) ReportProblem(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	c.problems = append(c.problems, msg)
}

// problem returns the first problem reported with want in its text.
func (c *taskContext) problem(want string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.problems {
		if strings.Contains(p, want) {
			return p
		}
	}
	return ""
}

func (c *taskContext) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stored, nil
}

func (c *taskContext) Logger() *slog.Logger {
	if c.logs != nil {
		return slog.New(c.logs)
	}
	if os.Getenv("SLUICE_TEST_VERBOSE") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// props returns connector properties for db on pg with a unique slot.
func props(pg *harness.Postgres, db, slot string, extra ...string) map[string]string {
	p := map[string]string{
		Hostname: pg.Host, Port: fmt.Sprint(pg.Port), User: pg.User, DBName: db, SSLMode: "disable",
		TopicPrefix: "srv", SlotName: slot, PublicationName: slot + "_pub", PollIntervalMs: "100",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// startTask starts a task with a stored offset (nil for none) and stops it
// at the end of the test.
func startTask(t *testing.T, p map[string]string, stored map[string]any) *Task {
	t.Helper()
	return startTaskCtx(t, p, &taskContext{stored: stored})
}

// startTaskCtx starts a task with tctx and stops it at the end of the
// test.
func startTaskCtx(t *testing.T, p map[string]string, tctx *taskContext) *Task {
	t.Helper()
	task := NewTask()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := task.Start(ctx, tctx, p); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopTask(t, task) })
	return task
}

func stopTask(t *testing.T, task *Task) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := task.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// pollUntil polls until done returns true for everything polled so far.
func pollUntil(t *testing.T, task *Task, timeout time.Duration, done func([]*connectors.Record) bool) []*connectors.Record {
	t.Helper()
	var all []*connectors.Record
	deadline := time.Now().Add(timeout)
	for !done(all) {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d records in %v without reaching the expected state", len(all), timeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		recs, err := task.Poll(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Poll: %v", err)
		}
		all = append(all, recs...)
	}
	return all
}

// data keeps the change records (not heartbeats or tombstones).
func data(recs []*connectors.Record) []*connectors.Record {
	var out []*connectors.Record
	for _, r := range recs {
		if r.Value != nil && !beat(r) && r.Failure == nil {
			out = append(out, r)
		}
	}
	return out
}

// beat reports a heartbeat record or an offset marker.
func beat(r *connectors.Record) bool {
	return r.Topic == "" || (r.ValueSchema != nil && r.ValueSchema.Name == cdc.HeartbeatValueName)
}

func env(r *connectors.Record) *connectors.StructValue { return r.Value.(*connectors.StructValue) }
func op(r *connectors.Record) string                   { return env(r).Get("op").(string) }
func after(r *connectors.Record) *connectors.StructValue {
	v, _ := env(r).Get("after").(*connectors.StructValue)
	return v
}
func before(r *connectors.Record) *connectors.StructValue {
	v, _ := env(r).Get("before").(*connectors.StructValue)
	return v
}
func source(r *connectors.Record) *connectors.StructValue {
	return env(r).Get("source").(*connectors.StructValue)
}

// countOps counts change records with an op and table.
func countOps(recs []*connectors.Record, table, o string) int {
	n := 0
	for _, r := range data(recs) {
		if op(r) == o && source(r).Get("table") == table {
			n++
		}
	}
	return n
}

func commit(t *testing.T, task *Task, r *connectors.Record) {
	t.Helper()
	err := task.Commit(context.Background(), []connectors.SourceOffset{{Partition: r.SourcePartition, Offset: r.SourceOffset}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// confirmedFlush reads the slot's confirmed_flush_lsn.
func confirmedFlush(t *testing.T, pg *harness.Postgres, db, slot string) uint64 {
	t.Helper()
	c := pg.Connect(t, db)
	var s string
	if err := c.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name=$1", slot).Scan(&s); err != nil {
		t.Fatalf("reading slot %s: %v", slot, err)
	}
	l, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(l)
}

func currentLSN(t *testing.T, pg *harness.Postgres, db string) uint64 {
	t.Helper()
	c := pg.Connect(t, db)
	var s string
	if err := c.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	l, _ := pglogrepl.ParseLSN(s)
	return uint64(l)
}

// encodeJSON renders schema and value as Kafka Connect's JsonConverter.
func encodeJSON(t *testing.T, topic string, s *connectors.Schema, v any) []byte {
	t.Helper()
	b, err := connectjson.New(connectjson.DefaultOptions()).Encode(nil, s, v)
	if err != nil {
		t.Fatalf("encoding %s: %v", topic, err)
	}
	return b
}

// payloadJSON is the JSON payload of a value (no schema).
func payloadJSON(t *testing.T, s *connectors.Schema, v any) string {
	t.Helper()
	var m struct {
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(encodeJSON(t, "t", s, v), &m); err != nil {
		t.Fatal(err)
	}
	return string(m.Payload)
}
