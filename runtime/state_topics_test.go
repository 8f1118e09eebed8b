package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/broker"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var stateTopicNames = []string{"sluice-configs", "sluice-offsets", "sluice-status"}

// freeAddr returns a 127.0.0.1 address nobody listens on, for an
// embedded broker that must keep its address across restarts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func embeddedProps(dir, addr string) map[string]string {
	return map[string]string{config.DataDir: dir, config.BrokerListen: addr, config.BrokerCleanerInterval: "100"}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func adminAt(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func topicConfigs(t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describing %s: %v %v", topic, err, rc.Err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			out[c.Key] = *c.Value
		}
	}
	return out
}

func startOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	so, err := adm.ListStartOffsets(context.Background(), topic)
	if err != nil || so.Error() != nil {
		t.Fatalf("start offsets of %s: %v %v", topic, err, so.Error())
	}
	out := map[int32]int64{}
	so.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// ageTopic replaces every record of topic by the same record timestamped
// age ago, in the same partition: the records before are deleted
// (DeleteRecords), so all the topic holds afterwards is old. It returns
// the new start offsets.
func ageTopic(t *testing.T, addr, topic string, age time.Duration) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := adminAt(t, addr)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("end offsets of %s: %v %v", topic, err, ends.Error())
	}
	starts := startOffsets(t, adm, topic)
	parts := map[string]map[int32]kgo.Offset{topic: {}}
	left := 0
	ends.Each(func(o kadm.ListedOffset) {
		parts[topic][o.Partition] = kgo.NewOffset().AtStart()
		if o.Offset > starts[o.Partition] {
			left++
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumePartitions(parts), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	seen := map[int32]int64{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			seen[r.Partition] = r.Offset + 1
			if e, _ := ends.Lookup(topic, r.Partition); r.Offset+1 == e.Offset {
				left--
			}
		})
	}
	if len(recs) == 0 {
		t.Fatalf("topic %s is empty", topic)
	}
	del := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { del.AddOffset(topic, o.Partition, o.Offset, -1) })
	dr, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		err = dr.Error()
	}
	if err != nil {
		t.Fatalf("deleting records of %s: %v", topic, err)
	}
	old := time.Now().Add(-age)
	for _, r := range recs {
		r.Timestamp = old
		r.Offset, r.LeaderEpoch, r.ProducerID, r.ProducerEpoch, r.Attrs = 0, 0, 0, 0, kgo.RecordAttrs{}
		r.Context = nil
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("writing %s back: %v", topic, err)
	}
	return startOffsets(t, adm, topic)
}

// waitCleanerRan writes a record timestamped eight days ago to a compacted
// topic with retention.ms of 7 days and waits until the broker expired it:
// the cleaner has run since. (The embedded broker's default retention is
// unlimited, so the topic sets Kafka's default itself.)
func waitCleanerRan(t *testing.T, addr, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := adminAt(t, addr)
	compact, week := "compact", "604800000"
	if resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact, "retention.ms": &week}, topic); err != nil || resp.Err != nil {
		t.Fatalf("creating %s: %v %v", topic, err, resp.Err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v"),
		Timestamp: time.Now().Add(-8 * 24 * time.Hour)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the cleaner to expire "+topic, func() bool { return startOffsets(t, adm, topic)[0] == 1 })
}

// TestStateOutlivesRetention: every state topic of an embedded broker
// holds nothing but records eight days old; with the cleaner running
// every 100 ms, before and after a restart, no record expires, and the
// connector's config, offsets and topics are there.
func TestStateOutlivesRetention(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	w := startWorker(t, embeddedProps(dir, addr))
	w.do(t, "POST", "/connectors", map[string]any{"name": "mk", "config": map[string]string{"connector.class": "marker"}}, 201, nil)
	committed := func() bool {
		var o api.Offsets
		w.do(t, "GET", "/connectors/mk/offsets", nil, 200, &o)
		return len(o.Offsets) == 1 && o.Offsets[0].Offset["pos"] == float64(2)
	}
	waitFor(t, "the marker's offset committed", committed)
	waitFor(t, "the marker's topic recorded", func() bool {
		var got map[string]struct{ Topics []string }
		w.do(t, "GET", "/connectors/mk/topics", nil, 200, &got)
		return len(got["mk"].Topics) == 1
	})
	w.stop(t)

	// The broker alone: age every state record, and see the cleaner run.
	b, err := broker.Start(dir, addr, quietLogger(), broker.CleanerInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	aged := map[string]map[int32]int64{}
	for _, tp := range stateTopicNames {
		aged[tp] = ageTopic(t, addr, tp, 8*24*time.Hour)
	}
	waitCleanerRan(t, addr, "control1")
	adm := adminAt(t, addr)
	for _, tp := range stateTopicNames {
		if got := startOffsets(t, adm, tp); !equalOffsets(got, aged[tp]) {
			t.Errorf("%s: start offsets %v after the cleaner ran, want %v: records expired", tp, got, aged[tp])
		}
	}
	b.Close()

	// A restart on the aged topics, the cleaner running meanwhile.
	w = startWorker(t, embeddedProps(dir, addr))
	var cfg map[string]string
	w.do(t, "GET", "/connectors/mk/config", nil, 200, &cfg)
	if cfg["connector.class"] != "marker" {
		t.Errorf("config after restart: %v", cfg)
	}
	if !committed() {
		t.Error("the marker's offset is gone after restart")
	}
	waitFor(t, "the task running", func() bool {
		st := w.status(t, "mk")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	waitCleanerRan(t, addr, "control2")
	for _, tp := range stateTopicNames {
		if got := startOffsets(t, adm, tp); !equalOffsets(got, aged[tp]) {
			t.Errorf("%s: start offsets %v after restart and cleaning, want %v: records expired", tp, got, aged[tp])
		}
	}
}

func equalOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, o := range a {
		if b[p] != o {
			return false
		}
	}
	return true
}

// runUntilReady runs a worker and returns Run's error if it exits before
// it is ready; when ready, it stops it and returns nil.
func runUntilReady(t *testing.T, props map[string]string, logs io.Writer) error {
	t.Helper()
	all := map[string]string{config.Listeners: "http://127.0.0.1:0"}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := config.LoadWorker("", nil, all)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Plugins: connectors.NewRegistry(), Transforms: transforms.NewRegistry(),
			Logger: slog.New(slog.NewTextHandler(logs, nil)), Started: time.Now(), Ready: func(string) { close(ready) }})
	}()
	select {
	case err := <-done:
		return err
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("worker neither ready nor exited")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	return nil
}

// TestExistingStateTopicConfigs: a state topic whose records would expire
// is refused on an external broker, with the command that fixes it, and
// fixed on the embedded broker.
func TestExistingStateTopicConfigs(t *testing.T) {
	compact, week := "compact", "604800000"
	// As Kafka Connect creates its topics: compacted, default retention.
	kcStyle := map[string]*string{"cleanup.policy": &compact}

	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ext := c.ListenAddrs()[0]
	if _, err := adminAt(t, ext).CreateTopic(context.Background(), 5, 1, kcStyle, "sluice-status"); err != nil {
		t.Fatal(err)
	}
	err = runUntilReady(t, map[string]string{config.BootstrapServers: ext}, io.Discard)
	var tce *kafkalog.TopicConfigError
	if !errors.As(err, &tce) || tce.Topic != "sluice-status" {
		t.Fatalf("worker on a broker with an expiring status topic: %v, want a TopicConfigError for sluice-status", err)
	}
	for _, s := range []string{`topic "sluice-status" has retention.ms=604800000`,
		"kafka-configs.sh --bootstrap-server " + ext + " --alter --entity-type topics --entity-name sluice-status " +
			"--add-config cleanup.policy=compact,retention.ms=-1,retention.bytes=-1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if got := topicConfigs(t, adminAt(t, ext), "sluice-status")["retention.ms"]; got != week {
		t.Errorf("the worker changed retention.ms of an external broker's topic to %s", got)
	}

	// The embedded broker: the worker fixes the topics and says so.
	dir, addr := t.TempDir(), freeAddr(t)
	b, err := broker.Start(dir, addr, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	del := "delete"
	adm := adminAt(t, addr)
	for tp, cfgs := range map[string]map[string]*string{"sluice-configs": {"cleanup.policy": &del}, "sluice-offsets": kcStyle} {
		if _, err := adm.CreateTopic(context.Background(), 1, 1, cfgs, tp); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	var logs logBuffer
	if err := runUntilReady(t, map[string]string{config.DataDir: dir, config.BrokerListen: addr}, &logs); err != nil {
		t.Fatalf("worker on the embedded broker: %v", err)
	}
	// The compacted offsets topic is fixed by the embedded broker itself
	// as it starts (it keeps compacted topics without limits); the
	// delete-policy configs topic by the worker.
	for _, s := range []string{"topic=sluice-configs config=cleanup.policy was=delete now=compact",
		"topic=sluice-configs config=retention.ms was=604800000 now=-1",
		`topics=[sluice-offsets] set="retention.ms=-1 retention.bytes=-1"`} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log does not say %q:\n%s", s, logs.String())
		}
	}
	b, err = broker.Start(dir, addr, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	adm = adminAt(t, addr)
	for _, tp := range stateTopicNames {
		got := topicConfigs(t, adm, tp)
		for _, want := range kafkalog.StateConfigs {
			if got[want.Name] != want.Value {
				t.Errorf("%s: %s=%s after the worker ran, want %s", tp, want.Name, got[want.Name], want.Value)
			}
		}
	}
}
