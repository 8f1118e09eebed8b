// Package configstore keeps connector configs, task configs and target
// states in the compacted configs topic, with Kafka Connect's key
// formats. It lives on the runtime side so that the config package (and
// the connector SPI above it) does not pull in the Kafka client.
package configstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Target states as stored in the configs topic.
const (
	TargetStarted = "STARTED"
	TargetPaused  = "PAUSED"
	TargetStopped = "STOPPED"
)

// Snapshot is the connectors' desired state as the configs topic says.
type Snapshot struct {
	// Connectors maps a connector name to its config (unresolved: config
	// provider references are kept as written).
	Connectors map[string]map[string]string
	// Tasks maps a connector to its committed task configs.
	Tasks map[string][]map[string]string
	// Targets maps a connector to STARTED, PAUSED or STOPPED.
	Targets map[string]string
	// Inconsistent lists connectors whose task configs could not be
	// assembled (a task record is missing after compaction); the herder
	// regenerates them.
	Inconsistent map[string]bool
	// Offset is the offset after the last record the snapshot reflects.
	Offset int64
}

// Store keeps connector configs, task configs and target states in the
// configs topic with Kafka Connect's key formats and value shapes:
//
//	connector-<c>     {"properties":{...}}
//	task-<c>-<n>      {"properties":{...}}
//	commit-<c>        {"tasks":N}
//	target-state-<c>  {"state":"PAUSED","state.v2":"STOPPED"}
//
// Task configs become visible atomically, when their commit record is
// read. Deletes are tombstones. Safe for concurrent use.
type Store struct {
	log      *kafkalog.Log
	logger   *slog.Logger
	onChange func()
	// keys and sensitive, set by Encrypt before Start, encrypt sensitive
	// values at rest.
	keys      *Keyring
	sensitive Sensitive
	// onRestart, set by OnRestart before Start, gets the restart requests
	// read after Start returned.
	onRestart func(Restart)
	started   atomic.Bool
	// txn, when set by Claim, is the pool leadership's transactional
	// producer every write goes through; txnMu serialises its
	// transactions.
	txnMu sync.Mutex
	txn   *kgo.Client
	// claimOnly, set by RequireClaim, refuses writes while no client is
	// claimed.
	claimOnly atomic.Bool

	mu struct {
		sync.Mutex
		connectors   map[string]map[string]string
		tasks        map[string][]map[string]string
		targets      map[string]string
		pending      map[string]map[int]map[string]string // task records awaiting a commit
		inconsistent map[string]bool
		// offset is the offset after the last record applied: what a
		// pool member reports it has read (0 before the first record).
		offset int64
		// sessionKey is the value of the latest session-key record (the
		// pool's key for signing internal requests); nil when none.
		sessionKey []byte
	}
}

// Open returns a store whose log newLog creates with the store's
// callback. onChange (may be nil) is called, on the log's goroutine,
// after each record that changed the snapshot; it must not block.
func Open(newLog func(callback func(kafkalog.Record)) (*kafkalog.Log, error), logger *slog.Logger, onChange func()) (*Store, error) {
	s := &Store{logger: logger, onChange: onChange}
	s.mu.connectors = map[string]map[string]string{}
	s.mu.tasks = map[string][]map[string]string{}
	s.mu.targets = map[string]string{}
	s.mu.pending = map[string]map[int]map[string]string{}
	s.mu.inconsistent = map[string]bool{}
	l, err := newLog(s.apply)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

// Start reads the configs topic to its end.
func (s *Store) Start(ctx context.Context) error {
	if err := s.log.Start(ctx); err != nil {
		return err
	}
	s.started.Store(true)
	return nil
}

// Restart is a restart request (KIP-745), written by the pool's leader
// and acted on by the workers that run the connector and its tasks.
type Restart struct {
	Connector    string
	IncludeTasks bool
	OnlyFailed   bool
}

type restartValue struct {
	IncludeTasks bool `json:"include-tasks"`
	OnlyFailed   bool `json:"only-failed"`
}

// OnRestart sets the function that gets each restart request read after
// Start (those already in the topic when the worker starts are old); it
// runs on the log's goroutine and must not block. Call it before Start.
func (s *Store) OnRestart(f func(Restart)) { s.onRestart = f }

// PutRestart writes a restart request and reads it back.
func (s *Store) PutRestart(ctx context.Context, r Restart) error {
	v, err := json.Marshal(restartValue{IncludeTasks: r.IncludeTasks, OnlyFailed: r.OnlyFailed})
	if err != nil {
		return err
	}
	return s.writeAndRead(ctx, kafkalog.KV{Key: []byte("restart-connector-" + r.Connector), Value: v})
}

// Close stops following the topic.
func (s *Store) Close() { s.log.Close() }

type propsValue struct {
	Properties map[string]string `json:"properties"`
}

type commitValue struct {
	Tasks int `json:"tasks"`
}

type targetValue struct {
	State   string `json:"state"`
	StateV2 string `json:"state.v2,omitempty"`
}

func (s *Store) apply(r kafkalog.Record) {
	key := string(r.Key)
	s.mu.Lock()
	s.mu.offset = max(s.mu.offset, r.Offset+1)
	changed := true
	switch {
	case key == SessionKeyRecord:
		s.mu.sessionKey = r.Value
	case strings.HasPrefix(key, "restart-connector-"):
		changed = false
		var v restartValue
		if r.Value == nil || s.onRestart == nil || !s.started.Load() {
			break
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			break
		}
		if _, ok := s.mu.connectors[key[len("restart-connector-"):]]; ok {
			req := Restart{Connector: key[len("restart-connector-"):], IncludeTasks: v.IncludeTasks, OnlyFailed: v.OnlyFailed}
			defer s.onRestart(req)
		}
	case strings.HasPrefix(key, "connector-"):
		name := key[len("connector-"):]
		if r.Value == nil {
			delete(s.mu.connectors, name)
			delete(s.mu.tasks, name)
			delete(s.mu.targets, name)
			delete(s.mu.pending, name)
			delete(s.mu.inconsistent, name)
			break
		}
		var v propsValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			changed = false
			break
		}
		s.open(name, v.Properties)
		s.mu.connectors[name] = v.Properties
	case strings.HasPrefix(key, "task-"):
		name, n, ok := splitTaskKey(key[len("task-"):])
		if !ok {
			s.skip(r, fmt.Errorf("bad task key"))
			changed = false
			break
		}
		changed = false
		if r.Value == nil {
			break
		}
		var v propsValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			break
		}
		s.open(name, v.Properties)
		if s.mu.pending[name] == nil {
			s.mu.pending[name] = map[int]map[string]string{}
		}
		s.mu.pending[name][n] = v.Properties
	case strings.HasPrefix(key, "commit-"):
		name := key[len("commit-"):]
		if r.Value == nil {
			break
		}
		var v commitValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			changed = false
			break
		}
		if _, ok := s.mu.connectors[name]; !ok {
			// Task configs with no connector config are stale (a
			// deleted connector's, KAFKA-16838): ignore them.
			delete(s.mu.pending, name)
			break
		}
		tasks := make([]map[string]string, v.Tasks)
		consistent := true
		for i := range tasks {
			t, ok := s.mu.pending[name][i]
			if !ok {
				consistent = false
				break
			}
			tasks[i] = t
		}
		if !consistent {
			s.mu.inconsistent[name] = true
			s.logger.Warn("task configs incomplete in configs topic; they will be regenerated", "connector", name)
			break
		}
		delete(s.mu.inconsistent, name)
		s.mu.tasks[name] = tasks
		delete(s.mu.pending, name)
	case strings.HasPrefix(key, "target-state-"):
		name := key[len("target-state-"):]
		if r.Value == nil {
			delete(s.mu.targets, name)
			break
		}
		var v targetValue
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.skip(r, err)
			changed = false
			break
		}
		state := v.StateV2
		if state == "" {
			state = v.State
		}
		s.mu.targets[name] = state
	default:
		// Keys this worker does not use (logger levels,
		// restart requests of other runtimes): ignore.
		changed = false
	}
	s.mu.Unlock()
	if changed && s.onChange != nil {
		s.onChange()
	}
}

func (s *Store) skip(r kafkalog.Record, err error) {
	s.logger.Warn("skipping unreadable record in configs topic", "key", string(r.Key),
		"partition", r.Partition, "offset", r.Offset, "error", err)
}

func splitTaskKey(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return s[:i], n, true
}

// SessionKeyRecord is the key of the session-key record (the pool
// leader's key for signing requests between workers, KIP-507).
const SessionKeyRecord = "session-key"

// Offset returns the offset after the last record the store has read:
// how far a pool member has read the configs topic.
func (s *Store) Offset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.offset
}

// ReadToEnd waits until the store has read every record written before
// the call.
func (s *Store) ReadToEnd(ctx context.Context) error { return s.log.ReadToEnd(ctx) }

// SessionKey returns the value of the latest session-key record, nil
// when there is none.
func (s *Store) SessionKey() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.sessionKey
}

// PutSessionKey writes a session-key record and reads it back.
func (s *Store) PutSessionKey(ctx context.Context, value []byte) error {
	return s.writeAndRead(ctx, kafkalog.KV{Key: []byte(SessionKeyRecord), Value: value})
}

// Snapshot returns a copy of the current state.
func (s *Store) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		Connectors:   make(map[string]map[string]string, len(s.mu.connectors)),
		Tasks:        make(map[string][]map[string]string, len(s.mu.tasks)),
		Targets:      make(map[string]string, len(s.mu.targets)),
		Inconsistent: make(map[string]bool, len(s.mu.inconsistent)),
		Offset:       s.mu.offset,
	}
	for k, v := range s.mu.connectors {
		snap.Connectors[k] = v
	}
	for k, v := range s.mu.tasks {
		snap.Tasks[k] = v
	}
	for k, v := range s.mu.targets {
		snap.Targets[k] = v
	}
	for k, v := range s.mu.inconsistent {
		snap.Inconsistent[k] = v
	}
	return snap
}

// Connector returns one connector's config.
func (s *Store) Connector(name string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.mu.connectors[name]
	return c, ok
}

// Target returns a connector's target state (STARTED when none is stored).
func (s *Store) Target(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.mu.targets[name]; ok {
		return t
	}
	return TargetStarted
}

// PutConnector writes a connector's config and, when target is not empty,
// its target state first (so a connector created PAUSED or STOPPED never
// runs). It returns once the store has read the write back.
func (s *Store) PutConnector(ctx context.Context, name string, cfg map[string]string, target string) error {
	var kvs []kafkalog.KV
	if target != "" {
		kv, err := targetKV(name, target)
		if err != nil {
			return err
		}
		kvs = append(kvs, kv)
	}
	v, err := json.Marshal(propsValue{Properties: s.seal(name, cfg["connector.class"], cfg)})
	if err != nil {
		return err
	}
	kvs = append(kvs, kafkalog.KV{Key: []byte("connector-" + name), Value: v})
	return s.writeAndRead(ctx, kvs...)
}

// DeleteConnector writes tombstones for the connector, its task configs
// and its target state. Offsets are kept, as in Kafka Connect.
func (s *Store) DeleteConnector(ctx context.Context, name string) error {
	s.mu.Lock()
	n := len(s.mu.tasks[name])
	s.mu.Unlock()
	kvs := []kafkalog.KV{{Key: []byte("connector-" + name)}, {Key: []byte("target-state-" + name)}}
	for i := 0; i < n; i++ {
		kvs = append(kvs, kafkalog.KV{Key: []byte("task-" + name + "-" + strconv.Itoa(i))})
	}
	kvs = append(kvs, kafkalog.KV{Key: []byte("commit-" + name)})
	return s.writeAndRead(ctx, kvs...)
}

// PutTaskConfigs writes a connector's task configs followed by the commit
// record that makes them visible.
func (s *Store) PutTaskConfigs(ctx context.Context, name string, tasks []map[string]string) error {
	kvs := make([]kafkalog.KV, 0, len(tasks)+1)
	conn, _ := s.Connector(name)
	for i, t := range tasks {
		v, err := json.Marshal(propsValue{Properties: s.seal(name, conn["connector.class"], t)})
		if err != nil {
			return err
		}
		kvs = append(kvs, kafkalog.KV{Key: []byte("task-" + name + "-" + strconv.Itoa(i)), Value: v})
	}
	v, _ := json.Marshal(commitValue{Tasks: len(tasks)})
	kvs = append(kvs, kafkalog.KV{Key: []byte("commit-" + name), Value: v})
	return s.writeAndRead(ctx, kvs...)
}

// PutTarget writes a connector's target state.
func (s *Store) PutTarget(ctx context.Context, name, target string) error {
	kv, err := targetKV(name, target)
	if err != nil {
		return err
	}
	return s.writeAndRead(ctx, kv)
}

func targetKV(name, target string) (kafkalog.KV, error) {
	var v targetValue
	switch target {
	case TargetStarted, TargetPaused:
		v.State = target
	case TargetStopped:
		// Readers that only know "state" see PAUSED, as in Connect.
		v = targetValue{State: TargetPaused, StateV2: TargetStopped}
	default:
		return kafkalog.KV{}, fmt.Errorf("unknown target state %q", target)
	}
	b, _ := json.Marshal(v)
	return kafkalog.KV{Key: []byte("target-state-" + name), Value: b}, nil
}

// Claim makes this store write through txn, a client whose transactional
// id belongs to the pool's leadership (connect-cluster-<group.id>): every
// write is one transaction, and the claim fences the previous leader's
// client, so a leader that lost the pool but still runs cannot write. The
// store must read the topic read_committed (kafkalog.NewCommitted), so that
// what a fenced leader had begun is never applied. Claim initialises the
// producer id at once (fencing happens now, not at the first write).
func (s *Store) Claim(ctx context.Context, txn *kgo.Client, txnID string) error {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &txnID
	req.TransactionTimeoutMillis = 60000
	req.ProducerID, req.ProducerEpoch = -1, -1
	for {
		resp, err := req.RequestWith(ctx, txn)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err == nil {
			break
		}
		if !kerr.IsRetriable(err) && !errors.Is(err, kerr.ConcurrentTransactions) {
			return fmt.Errorf("claiming the configs topic with transactional id %s: %w", txnID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("claiming the configs topic with transactional id %s: %w (last error: %v)", txnID, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.txnMu.Lock()
	s.txn = txn
	s.txnMu.Unlock()
	return nil
}

// RequireClaim makes every later write fail, rather than go to the topic
// without a transaction, while the store holds no claim: in a pool whose
// leader writes through a transactional producer, a worker that lost the
// leadership (or was frozen while a rebalance made another the leader)
// must not write at all, or its write would land after the new leader's
// and undo it.
func (s *Store) RequireClaim() { s.claimOnly.Store(true) }

// fenced reports whether err says a newer producer of the transactional
// id took over.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
}

// fencedError is the conflict of a write a newer leader fenced.
func fencedError(err error) error {
	return &api.Error{Status: http.StatusConflict, Err: err,
		Message: "this worker no longer leads the pool: a newer leader claimed the configs topic and fenced this worker's producer; " +
			"the write was not made: retry it, and it goes to the current leader"}
}

// ErrNotClaimed is the error of a write refused under RequireClaim: a
// conflict, which the caller retries (it then reaches the new leader).
var ErrNotClaimed = &api.Error{Status: http.StatusConflict,
	Message: "this worker no longer leads the pool (it gave up the configs topic's transactional producer during a rebalance); " +
		"the write was not made: retry it, and it goes to the current leader"}

// Release stops writing through the claimed client and returns it (nil
// when none); the caller closes it.
func (s *Store) Release() *kgo.Client {
	s.txnMu.Lock()
	defer s.txnMu.Unlock()
	txn := s.txn
	s.txn = nil
	return txn
}

// writeAndRead writes kvs (in one transaction when the store is claimed)
// and reads the topic to its end.
func (s *Store) writeAndRead(ctx context.Context, kvs ...kafkalog.KV) error {
	s.txnMu.Lock()
	txn := s.txn
	if txn == nil {
		s.txnMu.Unlock()
		if s.claimOnly.Load() {
			return ErrNotClaimed
		}
		return s.log.WriteAndRead(ctx, kvs...)
	}
	// One transaction at a time on the leadership's producer.
	defer s.txnMu.Unlock()
	if err := txn.BeginTransaction(); err != nil {
		return fmt.Errorf("writing the configs topic: %w", err)
	}
	recs := make([]*kgo.Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = &kgo.Record{Topic: s.log.Topic(), Key: kv.Key, Value: kv.Value}
	}
	perr := txn.ProduceSync(ctx, recs...).FirstErr()
	end := kgo.TryCommit
	if perr != nil {
		end = kgo.TryAbort
	}
	if err := txn.EndTransaction(ctx, end); err != nil {
		if fenced(err) {
			return fencedError(err)
		}
		return fmt.Errorf("committing a write to the configs topic (is this worker still the pool's leader?): %w", err)
	}
	if perr != nil {
		if fenced(perr) {
			return fencedError(perr)
		}
		return fmt.Errorf("writing the configs topic: %w", perr)
	}
	return s.log.ReadToEnd(ctx)
}
