package runtime

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// topicsConnector's tasks write one record to each topic of out.topics
// per poll, every 20 ms: every task of a connector writes the same topics,
// so tasks race to create them.
type topicsConnector struct {
	hangConnector
	props map[string]string
}

func (c *topicsConnector) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	c.props = props
	return nil
}

func (c *topicsConnector) TaskConfigs(n int) ([]map[string]string, error) {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = c.props
	}
	return out, nil
}

func (*topicsConnector) NewTask() connectors.SourceTask { return &topicsTask{} }

type topicsTask struct {
	topics []string
	n      int64
}

func (t *topicsTask) Start(_ context.Context, _ connectors.SourceTaskContext, props map[string]string) error {
	t.topics = strings.Split(props["out.topics"], ",")
	return nil
}

func (t *topicsTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	select {
	case <-ctx.Done():
		return nil, nil
	case <-time.After(20 * time.Millisecond):
	}
	t.n++
	var recs []*connectors.Record
	for _, tp := range t.topics {
		recs = append(recs, &connectors.Record{Topic: tp, Value: []byte("v"), ValueSchema: connectors.OptionalBytesSchema,
			SourcePartition: map[string]any{"t": tp}, SourceOffset: map[string]any{"n": t.n}})
	}
	return recs, nil
}

func (*topicsTask) Stop(context.Context) error { return nil }

// adminOf returns an admin client of the worker's broker.
func adminOf(t *testing.T, w *testWorker) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func TestSourceTopicsCreatedByTheWorker(t *testing.T) {
	w := startWorker(t, nil)
	adm := adminOf(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A topic that exists already is used as it is.
	if _, err := adm.CreateTopic(ctx, 5, 1, nil, "pre"); err != nil {
		t.Fatal(err)
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "multi", "config": map[string]string{
		"connector.class": "topics", "tasks.max": "3", "out.topics": "a.one,a.two,b.one,pre",
		"topic.creation.groups":                   "ga",
		"topic.creation.ga.include":               `a\..*`,
		"topic.creation.ga.partitions":            "3",
		"topic.creation.ga.cleanup.policy":        "compact",
		"topic.creation.default.partitions":       "2",
		"topic.creation.default.retention.ms":     "1000000",
		"topic.creation.default.compression.type": "zstd",
	}}, 201, nil)
	// Validation reports topic.creation.* errors per property, and lists
	// each group's properties.
	var infos config.Infos
	w.do(t, "PUT", "/connector-plugins/topics/config/validate", map[string]string{
		"connector.class": "topics", "name": "v", "topic.creation.groups": "g", "topic.creation.g.include": "(",
		"topic.creation.default.partitions": "0"}, 200, &infos)
	bad := map[string]bool{}
	for _, ci := range infos.Configs {
		if len(ci.Value.Errors) > 0 {
			bad[ci.Value.Name] = true
		}
	}
	if !bad["topic.creation.g.include"] || !bad["topic.creation.default.partitions"] || infos.ErrorCount != 2 {
		t.Errorf("validate: %d errors %v, want topic.creation.g.include and topic.creation.default.partitions",
			infos.ErrorCount, infos.Messages())
	}
	waitFor(t, "every task to write every topic", func() bool {
		ends, err := adm.ListEndOffsets(ctx, "a.one", "a.two", "b.one", "pre")
		if err != nil || ends.Error() != nil {
			return false
		}
		sum := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) { sum[o.Topic] += o.Offset })
		for _, tp := range []string{"a.one", "a.two", "b.one", "pre"} {
			if sum[tp] < 3 {
				return false
			}
		}
		return true
	})
	if st := w.status(t, "multi"); len(st.Tasks) != 3 || st.Tasks[0].State != api.StateRunning ||
		st.Tasks[1].State != api.StateRunning || st.Tasks[2].State != api.StateRunning {
		t.Fatalf("status %+v", st)
	}
	td, err := adm.ListTopics(ctx, "a.one", "a.two", "b.one", "pre")
	if err != nil {
		t.Fatal(err)
	}
	for tp, want := range map[string]int{"a.one": 3, "a.two": 3, "b.one": 2, "pre": 5} {
		if got := len(td[tp].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", tp, got, want)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "a.one", "b.one")
	if err != nil {
		t.Fatal(err)
	}
	for tp, want := range map[string]map[string]string{
		"a.one": {"cleanup.policy": "compact"},
		"b.one": {"cleanup.policy": "delete", "retention.ms": "1000000", "compression.type": "zstd"},
	} {
		rc, err := rcs.On(tp, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range rc.Configs {
			if c.Value != nil {
				got[c.Key] = *c.Value
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", tp, k, got[k], v)
			}
		}
	}
}

func TestSourceTopicThatCannotBeCreatedFailsTheTask(t *testing.T) {
	w := startWorker(t, nil)
	for _, c := range []struct {
		name  string
		props map[string]string
		trace []string
	}{
		{"badname", map[string]string{"out.topics": "ok,bad topic"},
			[]string{`creating topic "bad topic"`, "INVALID_TOPIC_EXCEPTION", "not a valid Kafka topic name"}},
		// The embedded broker has one node: a replication factor of 3
		// cannot be met.
		{"badrf", map[string]string{"out.topics": "rf3", "topic.creation.default.replication.factor": "3"},
			[]string{`creating topic "rf3"`, "INVALID_REPLICATION_FACTOR", "topic.creation.*"}},
	} {
		cfg := map[string]string{"connector.class": "topics", "sluice.task.restart.enable": "false"}
		for k, v := range c.props {
			cfg[k] = v
		}
		w.do(t, "POST", "/connectors", map[string]any{"name": c.name, "config": cfg}, 201, nil)
		var st api.ConnectorStatus
		waitFor(t, c.name+" task to fail", func() bool {
			st = w.status(t, c.name)
			return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
		})
		for _, s := range c.trace {
			if !strings.Contains(st.Tasks[0].Trace, s) {
				t.Errorf("%s: trace %q does not say %q", c.name, st.Tasks[0].Trace, s)
			}
		}
	}
	// Nothing was auto-created behind the worker's back.
	td, err := adminOf(t, w).ListTopics(context.Background(), "rf3", "bad topic")
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []string{"rf3", "bad topic"} {
		if td.Has(tp) {
			t.Errorf("topic %q exists", tp)
		}
	}
}

func TestTopicCreationDisabled(t *testing.T) {
	w := startWorker(t, map[string]string{config.TopicCreationEnable: "false"})
	// Connectors may not set what the worker would ignore.
	w.do(t, "POST", "/connectors", map[string]any{"name": "set", "config": map[string]string{
		"connector.class": "topics", "out.topics": "x", "topic.creation.default.partitions": "3"}}, 400, nil)
	adm := adminOf(t, w)
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, "exists"); err != nil {
		t.Fatal(err)
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "missing", "config": map[string]string{
		"connector.class": "topics", "out.topics": "exists,absent", "sluice.task.restart.enable": "false"}}, 201, nil)
	var st api.ConnectorStatus
	waitFor(t, "the task to fail", func() bool {
		st = w.status(t, "missing")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateFailed
	})
	if tr := st.Tasks[0].Trace; !strings.Contains(tr, `topic "absent" does not exist`) || !strings.Contains(tr, "topic.creation.enable=true") {
		t.Errorf("trace %q", tr)
	}
	td, err := adm.ListTopics(context.Background(), "absent")
	if err != nil {
		t.Fatal(err)
	}
	if td.Has("absent") {
		t.Error("topic absent was created with topic.creation.enable=false")
	}
}

// Concurrent first records of one topic make one creation; the others
// wait for it. A failed creation is not remembered, nor is a topic
// forgotten after producing found it gone.
func TestTopicCreatorCreatesOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tc := newTopicCreator(kadm.NewClient(cl), true, quietLogger())
	var specs atomic.Int32
	spec := func(string) topicSpec {
		specs.Add(1)
		return topicSpec{Partitions: 2, ReplicationFactor: -1}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- tc.ensure(ctx, "shared", spec, nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := specs.Load(); n != 1 {
		t.Fatalf("8 concurrent ensures made %d creations, want 1", n)
	}
	// Gone from the cache: checked again, and the topic existing already
	// is no error.
	tc.forget("shared", nil)
	if err := tc.ensure(ctx, "shared", spec, nil); err != nil || specs.Load() != 2 {
		t.Fatalf("ensure after forget = %v with %d creations, want nil and 2", err, specs.Load())
	}
	for range 2 {
		err := tc.ensure(ctx, "no/slash", spec, nil)
		var te *TopicError
		if !errors.As(err, &te) || !errors.Is(err, kerr.InvalidTopicException) {
			t.Fatalf("ensure of an invalid name = %v, want a TopicError wrapping INVALID_TOPIC_EXCEPTION", err)
		}
	}
	tc.mu.Lock()
	_, cached := tc.mu.topics["no/slash"]
	tc.mu.Unlock()
	if cached {
		t.Fatal("a failed creation is cached")
	}
}

// A principal that may not create topics still writes to topics that
// exist; for one that does not, the error says what permission is
// missing.
func TestTopicCreatorWithoutCreatePermission(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "app", "app", kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "pre",
			Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := func(user string) *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(plain.Auth{User: user, Pass: user}.AsMechanism()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := client("admin").CreateTopic(ctx, 1, -1, nil, "pre"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	tc := newTopicCreator(client("app"), true, quietLogger())
	spec := func(string) topicSpec { return topicSpec{Partitions: -1, ReplicationFactor: -1} }
	if err := tc.ensure(ctx, "pre", spec, nil); err != nil {
		t.Fatalf("ensure of an existing topic the worker may not create: %v", err)
	}
	err = tc.ensure(ctx, "new", spec, nil)
	var te *TopicError
	if !errors.As(err, &te) || !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), "grant the worker's principal CREATE") {
		t.Fatalf("ensure of a new topic without CREATE = %v", err)
	}
}
