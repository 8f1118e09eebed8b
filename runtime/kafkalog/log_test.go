package kafkalog

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type state struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *state) apply(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Value == nil {
		delete(s.m, string(r.Key))
		return
	}
	s.m[string(r.Key)] = string(r.Value)
}

func (s *state) get() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func open(t *testing.T, c *kfake.Cluster, topic string, s *state) *Log {
	t.Helper()
	l, err := New(topic, s.apply, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ensure(ctx, kadm.NewClient(l.Client()), Topic{Name: topic, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLogRebuildsStateWithTombstonesAndCompaction(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	s1 := &state{m: map[string]string{}}
	l1 := open(t, c, "state", s1)
	for i, kv := range []KV{{[]byte("a"), []byte("1")}, {[]byte("b"), []byte("1")}, {[]byte("a"), []byte("2")}, {[]byte("c"), []byte("1")}} {
		if err := l1.WriteAndRead(ctx, kv); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := l1.WriteAndRead(ctx, KV{Key: []byte("b")}); err != nil { // tombstone
		t.Fatal(err)
	}
	want := map[string]string{"a": "2", "c": "1"}
	if got := s1.get(); !equal(got, want) {
		t.Fatalf("live state = %v, want %v", got, want)
	}
	l1.Close()

	// A compaction that dropped old values must not change what a fresh
	// reader rebuilds.
	c.Compact()
	s2 := &state{m: map[string]string{}}
	l2 := open(t, c, "state", s2)
	defer l2.Close()
	if got := s2.get(); !equal(got, want) {
		t.Fatalf("rebuilt state = %v, want %v", got, want)
	}
}

// An existing state topic that would lose records is refused with a
// message naming the topic, its configs and the command that fixes it;
// Repair fixes it instead, and a topic Ensure creates has StateConfigs.
func TestEnsureRefusesAndRepairFixesStateTopicConfigs(t *testing.T) {
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
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	del, compact := "delete", "compact"
	for topic, policy := range map[string]*string{"deleting": &del, "expiring": &compact} {
		if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": policy}, topic); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		topic string
		bad   []BadConfig
		say   []string
	}{
		{"deleting", []BadConfig{{"cleanup.policy", "delete", "compact"}, {"retention.ms", "604800000", "-1"}},
			[]string{`topic "deleting" has cleanup.policy=delete, retention.ms=604800000`}},
		// Compacted, as Kafka Connect creates its topics, but kfake
		// expires it after 7 days all the same.
		{"expiring", []BadConfig{{"retention.ms", "604800000", "-1"}},
			[]string{`topic "expiring" has retention.ms=604800000,`}},
	} {
		err := Ensure(ctx, adm, Topic{Name: c.topic, Partitions: 1})
		var tce *TopicConfigError
		if !errors.As(err, &tce) || tce.Topic != c.topic || !reflect.DeepEqual(tce.Bad, c.bad) {
			t.Fatalf("Ensure(%s) = %#v, want TopicConfigError with %v", c.topic, err, c.bad)
		}
		tce.Bootstrap = "k1:9092"
		for _, s := range append(c.say, "needs cleanup.policy=compact, retention.ms=-1, retention.bytes=-1",
			"kafka-configs.sh --bootstrap-server k1:9092 --alter --entity-type topics --entity-name "+c.topic+
				" --add-config cleanup.policy=compact,retention.ms=-1,retention.bytes=-1") {
			if !strings.Contains(tce.Error(), s) {
				t.Errorf("%s does not say %q", tce.Error(), s)
			}
		}
		fixed, err := Repair(ctx, adm, Topic{Name: c.topic, Partitions: 1})
		if err != nil || !reflect.DeepEqual(fixed, c.bad) {
			t.Fatalf("Repair(%s) = %v, %v; want %v", c.topic, fixed, err, c.bad)
		}
		if err := Ensure(ctx, adm, Topic{Name: c.topic, Partitions: 1}); err != nil {
			t.Fatalf("Ensure after Repair: %v", err)
		}
	}
	if err := Ensure(ctx, adm, Topic{Name: "fresh", Partitions: 2, Configs: map[string]string{"retention.ms": "5"}}); err != nil {
		t.Fatalf("Ensure of a new topic: %v", err)
	}
	if fixed, err := Repair(ctx, adm, Topic{Name: "fresh", Partitions: 2}); err != nil || len(fixed) != 0 {
		t.Fatalf("Repair of a good topic = %v, %v", fixed, err)
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A fetch error that franz-go does not retry (here the broker refuses the
// topic for a while) is reported by ReadToEnd while it lasts, and the
// reader recovers by itself once the broker serves the topic again.
func TestReaderRecoversFromFetchError(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := &state{m: map[string]string{}}
	l := open(t, c, "state", s)
	defer l.Close()
	ctx := context.Background()
	if err := l.WriteAndRead(ctx, KV{Key: []byte("a"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}

	var refusing atomic.Bool
	var refused atomic.Int64
	refusing.Store(true)
	c.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refusing.Load() {
			return nil, nil, false
		}
		req := kreq.(*kmsg.FetchRequest)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range req.Topics {
			t := kmsg.NewFetchResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				p := kmsg.NewFetchResponseTopicPartition()
				p.Partition = rp.Partition
				p.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, p)
			}
			resp.Topics = append(resp.Topics, t)
		}
		refused.Add(1)
		return resp, nil, true
	})

	if err := l.Write(ctx, KV{Key: []byte("b"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = l.ReadToEnd(rctx)
	cancel()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("ReadToEnd while fetches fail = %v, want the fetch error", err)
	}
	// The reader backs off instead of spinning on the error.
	before := refused.Load()
	time.Sleep(time.Second)
	if n := refused.Load() - before; n > 12 {
		t.Errorf("%d refused fetches in a second; the reader does not back off", n)
	}

	refusing.Store(false)
	rctx, cancel = context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := l.ReadToEnd(rctx)
		if err == nil {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("the reader did not recover after the broker served the topic again: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, want := s.get(), map[string]string{"a": "1", "b": "1"}; !equal(got, want) {
		t.Fatalf("state after recovery = %v, want %v", got, want)
	}
}

// A record committed behind another producer's open transaction on the
// same partition lies past the last stable offset: ReadToEnd of a
// committed log does not wait for it, ReadPastOpenTxns does, and returns
// once that transaction ended. This is how an exactly-once task that
// starts reads its own offsets (runtime/source.go readOffsetsToEnd).
func TestReadPastOpenTxnsWaitsForTheOpenTransactionsBeforeTheEnd(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "txlog"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	txProducer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID(id), kgo.DefaultProduceTopic("txlog"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	produceIn := func(cl *kgo.Client, key, value string) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// The zombie opens a transaction and keeps it open; then the task
	// commits its offset behind it.
	zombie, task := txProducer("zombie"), txProducer("task")
	produceIn(task, "task", "1")
	if err := task.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	produceIn(zombie, "zombie", "x")
	produceIn(task, "task", "2")
	if err := task.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	s := &state{m: map[string]string{}}
	l, err := NewCommitted("txlog", s.apply, kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.get()["task"]; got != "1" {
		t.Fatalf("after ReadToEnd the task's value is %q, want 1 (the committed value before the open transaction: the last stable offset is there)", got)
	}

	done := make(chan error, 1)
	go func() { done <- l.ReadPastOpenTxns(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("ReadPastOpenTxns returned (%v) while the transaction before the end was open; the task's value is %q", err, s.get()["task"])
	case <-time.After(500 * time.Millisecond):
	}
	if err := zombie.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"task": "2"}
	if got := s.get(); !equal(got, want) {
		t.Fatalf("after ReadPastOpenTxns the state is %v, want %v (the aborted record not in it)", got, want)
	}
}
