package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicCreator creates the topics the worker's tasks write, through the
// admin API, before anything is produced to them: the worker never relies
// on the brokers' auto-creation (kfake, the embedded broker, keeps no
// metadata of auto-created topics across a crash).
//
// It remembers the topics it created or found for the worker's lifetime,
// so each topic costs one admin call per worker; tasks also remember them,
// so the per-record path pays nothing after a topic's first record. When
// two tasks ask for the same new topic at once, one creates it and the
// other waits for the outcome.
//
// Concurrency: safe for concurrent use.
type topicCreator struct {
	adm *kadm.Client
	// enabled is the worker's topic.creation.enable: when false, topics
	// are not created, only checked to exist.
	enabled bool
	logger  *slog.Logger

	mu struct {
		sync.Mutex
		topics map[string]*topicEntry
	}
}

// topicEntry is one topic's creation: done is closed (by the goroutine
// creating it) once err is set.
type topicEntry struct {
	done chan struct{}
	err  error
}

func newTopicCreator(adm *kadm.Client, enabled bool, logger *slog.Logger) *topicCreator {
	c := &topicCreator{adm: adm, enabled: enabled, logger: logger}
	c.mu.topics = map[string]*topicEntry{}
	return c
}

// TopicError says a topic a task writes could not be created (or, with
// topic.creation.enable=false, does not exist).
type TopicError struct {
	Topic string
	// Missing is set when the topic does not exist and the worker does
	// not create topics.
	Missing bool
	Err     error
}

func (e *TopicError) Error() string {
	if e.Missing {
		return fmt.Sprintf("topic %q does not exist and the worker does not create topics (topic.creation.enable=false): "+
			"create the topic, or set topic.creation.enable=true on the worker", e.Topic)
	}
	hint := "check that the worker's principal may create topics (CREATE on the cluster or the topic), or create the topic yourself"
	switch {
	case errors.Is(e.Err, kerr.InvalidTopicException):
		hint = "the name is not a valid Kafka topic name; change it (a transform such as RegexRouter can rename " +
			"the topics a connector names)"
	case errors.Is(e.Err, kerr.TopicAuthorizationFailed), errors.Is(e.Err, kerr.ClusterAuthorizationFailed):
		hint = "grant the worker's principal CREATE on the topic (or the cluster), or create the topic yourself"
	case errors.Is(e.Err, kerr.InvalidReplicationFactor), errors.Is(e.Err, kerr.InvalidPartitions), errors.Is(e.Err, kerr.InvalidConfig):
		hint = "fix the connector's topic.creation.* properties (partitions, replication.factor, topic configs) for this topic"
	}
	return fmt.Sprintf("creating topic %q: %v; %s", e.Topic, e.Err, hint)
}

func (e *TopicError) Unwrap() error { return e.Err }

// ensure makes sure topic exists, creating it with spec (called only when
// the topic is created) unless the worker does not create topics. The
// creation is logged to log (nil: the creator's logger): the task's, which
// hides what its config's references resolved to, as the topic configs
// come from the connector config.
func (c *topicCreator) ensure(ctx context.Context, topic string, spec func(string) topicSpec, log *slog.Logger) error {
	for {
		c.mu.Lock()
		e, ok := c.mu.topics[topic]
		if !ok {
			e = &topicEntry{done: make(chan struct{})}
			c.mu.topics[topic] = e
			c.mu.Unlock()
			if log == nil {
				log = c.logger
			}
			e.err = c.create(ctx, topic, spec, log)
			if e.err != nil {
				c.forget(topic, e)
			}
			close(e.done)
			return e.err
		}
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return fmt.Errorf("waiting for topic %q to be created: %w", topic, ctx.Err())
		}
		if e.err == nil {
			return nil
		}
		// The other attempt failed (perhaps only because its task
		// stopped): try again ourselves.
	}
}

// forget drops topic from the cache (when e is its entry, or e is nil),
// so the next task to write it checks it again: after a failed creation,
// or when producing found the topic gone.
func (c *topicCreator) forget(topic string, e *topicEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.mu.topics[topic]; ok && (e == nil || cur == e) {
		delete(c.mu.topics, topic)
	}
}

// errInvalidTopicName says a name breaks Kafka's topic name rules, which
// the embedded broker does not check itself.
var errInvalidTopicName = fmt.Errorf("%w: names are 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and not \".\" or \"..\"",
	kerr.InvalidTopicException)

// validTopicName reports whether name is a legal Kafka topic name.
func validTopicName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 249 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch b := name[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

func (c *topicCreator) create(ctx context.Context, topic string, spec func(string) topicSpec, log *slog.Logger) error {
	if !validTopicName(topic) {
		return &TopicError{Topic: topic, Err: errInvalidTopicName}
	}
	if !c.enabled {
		exists, err := c.exists(ctx, topic)
		if err != nil {
			return err
		}
		if !exists {
			return &TopicError{Topic: topic, Missing: true}
		}
		return nil
	}
	s := spec(topic)
	configs := make(map[string]*string, len(s.Configs))
	for k, v := range s.Configs {
		configs[k] = &v
	}
	resp, err := c.adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, configs, topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		log.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", resp.ReplicationFactor,
			"topic_creation_group", s.Group, "configs", s.Configs)
		return nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("creating topic %q: %w", topic, ctx.Err())
	}
	// A cluster may refuse the creation of a topic that exists (the
	// worker's principal may not create topics, or a creation policy
	// refuses it): a topic someone else created is fine.
	if exists, xerr := c.exists(ctx, topic); xerr == nil && exists {
		log.Debug("topic exists; its creation was refused", "topic", topic, "error", err)
		return nil
	}
	return &TopicError{Topic: topic, Err: err}
}

// exists reports whether topic exists.
func (c *topicCreator) exists(ctx context.Context, topic string) (bool, error) {
	td, err := c.adm.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("checking that topic %q exists: %w", topic, err)
	}
	t, ok := td[topic]
	if !ok || errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
		return false, nil
	}
	if t.Err != nil {
		return false, fmt.Errorf("checking that topic %q exists: %w", topic, t.Err)
	}
	return true, nil
}
