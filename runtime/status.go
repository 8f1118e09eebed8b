package runtime

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
)

// statusStore keeps connector and task statuses in the status topic with
// Kafka Connect's keys (status-connector-<c>, status-task-<c>-<n>) and
// values ({"state","trace","worker_id","generation"}). Writes go to Kafka
// and are applied locally at once, so REST reads see them immediately.
//
// Every write waits at most timeout (task.shutdown.graceful.timeout.ms),
// whatever the caller's context: a status is a view of the worker, and a
// Kafka outage must not hold a stopping task or the worker's shutdown.
type statusStore struct {
	log     *kafkalog.Log
	logger  *slog.Logger
	timeout time.Duration

	mu struct {
		sync.Mutex
		connectors map[string]statusValue
		tasks      map[string]map[int]statusValue
		// topics maps a connector to the topics it used (KIP-558).
		topics map[string]map[string]bool
	}
}

type statusValue struct {
	State      string `json:"state"`
	Trace      string `json:"trace,omitempty"`
	WorkerID   string `json:"worker_id"`
	Generation int    `json:"generation"`
	// Starts counts the starts of the connector or task (a Sluice
	// addition, which Kafka Connect's readers ignore): carried over by
	// every write, whichever worker makes it, so that a rebalance that
	// leaves a task running does not change it.
	Starts int `json:"starts,omitempty"`
}

func openStatusStore(newLog func(func(kafkalog.Record)) (*kafkalog.Log, error), logger *slog.Logger, timeout time.Duration) (*statusStore, error) {
	s := &statusStore{logger: logger, timeout: timeout}
	s.mu.connectors = map[string]statusValue{}
	s.mu.tasks = map[string]map[int]statusValue{}
	s.mu.topics = map[string]map[string]bool{}
	l, err := newLog(s.apply)
	if err != nil {
		return nil, err
	}
	s.log = l
	return s, nil
}

func (s *statusStore) apply(r kafkalog.Record) {
	key := string(r.Key)
	var v statusValue
	if r.Value != nil {
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.logger.Warn("skipping unreadable record in status topic", "key", key, "offset", r.Offset, "error", err)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case strings.HasPrefix(key, "status-topic-"):
		topic, connector, ok := strings.Cut(key[len("status-topic-"):], ":connector-")
		if !ok {
			return
		}
		if r.Value == nil {
			delete(s.mu.topics[connector], topic)
			return
		}
		if s.mu.topics[connector] == nil {
			s.mu.topics[connector] = map[string]bool{}
		}
		s.mu.topics[connector][topic] = true
	case strings.HasPrefix(key, "status-connector-"):
		name := key[len("status-connector-"):]
		if r.Value == nil {
			delete(s.mu.connectors, name)
		} else {
			s.mu.connectors[name] = v
		}
	case strings.HasPrefix(key, "status-task-"):
		rest := key[len("status-task-"):]
		i := strings.LastIndexByte(rest, '-')
		if i < 0 {
			return
		}
		n, err := strconv.Atoi(rest[i+1:])
		if err != nil {
			return
		}
		name := rest[:i]
		if r.Value == nil {
			delete(s.mu.tasks[name], n)
			return
		}
		if s.mu.tasks[name] == nil {
			s.mu.tasks[name] = map[int]statusValue{}
		}
		s.mu.tasks[name][n] = v
	}
}

func connectorStatusKey(name string) []byte { return []byte("status-connector-" + name) }
func taskStatusKey(id api.TaskID) []byte {
	return []byte("status-task-" + id.Connector + "-" + strconv.Itoa(id.Task))
}

// putConnector records a connector's state, keeping its start count.
func (s *statusStore) putConnector(ctx context.Context, name string, v statusValue) {
	s.setConnector(ctx, name, v, false)
}

// startConnector records a connector's state at a start: its start
// count is one more.
func (s *statusStore) startConnector(ctx context.Context, name string, v statusValue) {
	s.setConnector(ctx, name, v, true)
}

func (s *statusStore) setConnector(ctx context.Context, name string, v statusValue, start bool) {
	s.mu.Lock()
	v.Starts = s.mu.connectors[name].Starts
	if start {
		v.Starts++
	}
	s.mu.connectors[name] = v
	s.mu.Unlock()
	s.write(ctx, connectorStatusKey(name), &v)
}

// putTask records a task's state, keeping its start count.
func (s *statusStore) putTask(ctx context.Context, id api.TaskID, v statusValue) {
	s.setTask(ctx, id, v, false)
}

// startTask records a task's state at a start: its start count is one
// more.
func (s *statusStore) startTask(ctx context.Context, id api.TaskID, v statusValue) {
	s.setTask(ctx, id, v, true)
}

func (s *statusStore) setTask(ctx context.Context, id api.TaskID, v statusValue, start bool) {
	s.mu.Lock()
	if s.mu.tasks[id.Connector] == nil {
		s.mu.tasks[id.Connector] = map[int]statusValue{}
	}
	v.Starts = s.mu.tasks[id.Connector][id.Task].Starts
	if start {
		v.Starts++
	}
	s.mu.tasks[id.Connector][id.Task] = v
	s.mu.Unlock()
	s.write(ctx, taskStatusKey(id), &v)
}

// deleteTasks forgets tasks (tombstones, in one bounded write).
func (s *statusStore) deleteTasks(ctx context.Context, ids []api.TaskID) {
	s.mu.Lock()
	kvs := make([]kafkalog.KV, len(ids))
	for i, id := range ids {
		delete(s.mu.tasks[id.Connector], id.Task)
		kvs[i] = kafkalog.KV{Key: taskStatusKey(id)}
	}
	s.mu.Unlock()
	s.writeKVs(ctx, kvs...)
}

// deleteConnector forgets a connector and its tasks (tombstones, in one
// bounded write).
func (s *statusStore) deleteConnector(ctx context.Context, name string) {
	s.mu.Lock()
	tasks := s.mu.tasks[name]
	delete(s.mu.tasks, name)
	delete(s.mu.connectors, name)
	s.mu.Unlock()
	var kvs []kafkalog.KV
	for n := range tasks {
		kvs = append(kvs, kafkalog.KV{Key: taskStatusKey(api.TaskID{Connector: name, Task: n})})
	}
	s.writeKVs(ctx, append(kvs, kafkalog.KV{Key: connectorStatusKey(name)})...)
}

func (s *statusStore) write(ctx context.Context, key []byte, v *statusValue) {
	var b []byte
	if v != nil {
		b, _ = json.Marshal(v)
	}
	s.writeKVs(ctx, kafkalog.KV{Key: key, Value: b})
}

// writeKVs writes within the store's timeout. A status write that fails
// is logged, not fatal: the status topic is a view of the worker, and the
// next change writes it again.
func (s *statusStore) writeKVs(ctx context.Context, kvs ...kafkalog.KV) {
	if len(kvs) == 0 {
		return
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	if err := s.log.Write(wctx, kvs...); err != nil && ctx.Err() == nil {
		s.logger.Warn("writing status failed", "key", string(kvs[0].Key), "records", len(kvs), "error", err)
	}
}

func (s *statusStore) connector(name string) (statusValue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mu.connectors[name]
	return v, ok
}

func (s *statusStore) task(id api.TaskID) (statusValue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mu.tasks[id.Connector][id.Task]
	return v, ok
}

func topicStatusKey(connector, topic string) []byte {
	return []byte("status-topic-" + topic + ":connector-" + connector)
}

// putTopic records that a connector's task used a topic, in Kafka
// Connect's shape: {"topic":{"name","connector","task","discoverTimestamp"}}.
func (s *statusStore) putTopic(ctx context.Context, connector, topic string, task int) {
	s.mu.Lock()
	if s.mu.topics[connector] == nil {
		s.mu.topics[connector] = map[string]bool{}
	}
	seen := s.mu.topics[connector][topic]
	s.mu.topics[connector][topic] = true
	s.mu.Unlock()
	if seen {
		return
	}
	v := map[string]any{"topic": map[string]any{"name": topic, "connector": connector, "task": task,
		"discoverTimestamp": time.Now().UnixMilli()}}
	b, _ := json.Marshal(v)
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	if err := s.log.Write(wctx, kafkalog.KV{Key: topicStatusKey(connector, topic), Value: b}); err != nil && ctx.Err() == nil {
		s.logger.Warn("writing topic status failed", "connector", connector, "topic", topic, "error", err)
	}
}

// topicsOf returns the topics a connector used, sorted.
func (s *statusStore) topicsOf(connector string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mu.topics[connector]))
	for t := range s.mu.topics[connector] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// resetTopics forgets a connector's topics (tombstones).
func (s *statusStore) resetTopics(ctx context.Context, connector string) error {
	topics := s.topicsOf(connector)
	s.mu.Lock()
	delete(s.mu.topics, connector)
	s.mu.Unlock()
	kvs := make([]kafkalog.KV, len(topics))
	for i, t := range topics {
		kvs[i] = kafkalog.KV{Key: topicStatusKey(connector, t)}
	}
	if len(kvs) == 0 {
		return nil
	}
	wctx, cancel := s.bounded(ctx)
	defer cancel()
	return s.log.Write(wctx, kvs...)
}

// bounded returns ctx limited to the store's write timeout.
func (s *statusStore) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}
