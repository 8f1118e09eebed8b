package it

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEmbeddedBrokerTopicCreation: with the embedded broker, the worker
// creates the topics its source connectors write through the admin API
// (1 partition, or what topic.creation.* says), the broker creates no
// topic by itself, and topics so created survive a kill -9 of the worker
// (kfake kept no metadata of auto-created topics until a clean shutdown).
func TestEmbeddedBrokerTopicCreation(t *testing.T) {
	// Ten years: datagen stamps its records from 2024-01-01, and the
	// embedded broker applies a topic's retention.ms at each start (a
	// shorter one would empty emb-six at the restart below).
	const sixRetention = "315360000000"
	t.Parallel()
	listen := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	w := harness.StartWorker(t, harness.WorkerOptions{BrokerListen: listen,
		Props: map[string]string{"offset.flush.interval.ms": "200"}})
	create(t, w, "plain", datagen("emb-plain", map[string]string{"iterations": "2000"}))
	create(t, w, "six", datagen("emb-six", map[string]string{"iterations": "2000",
		"topic.creation.default.partitions": "6", "topic.creation.default.retention.ms": sixRetention}))

	embedded := &harness.Broker{Bootstrap: listen}
	cl := embedded.Client(t, freshMetadata, kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(0))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tp := range []string{"emb-plain", "emb-six"} {
		harness.WaitFor(t, time.Minute, "2000 records in "+tp, func() error {
			if n := endOffsets(t, adm, tp); n < 2000 {
				return fmt.Errorf("%d records", n)
			}
			return nil
		})
	}
	td, err := adm.ListTopics(ctx, "emb-plain", "emb-six")
	if err != nil {
		t.Fatal(err)
	}
	for tp, want := range map[string]int{"emb-plain": 1, "emb-six": 6} {
		if got := len(td[tp].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", tp, got, want)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "emb-six")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := rcs.On("emb-six", nil); err != nil {
		t.Fatal(err)
	} else {
		found := false
		for _, c := range rc.Configs {
			found = found || (c.Key == "retention.ms" && c.Value != nil && *c.Value == sixRetention)
		}
		if !found {
			t.Errorf("emb-six configs %v lack retention.ms=%s", rc.Configs, sixRetention)
		}
	}

	// A client asking for auto-creation gets none.
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "emb-unknown", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("producing to an unknown topic of the embedded broker: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	// The topics and their records survive a kill -9 of the worker.
	before := map[string]int64{"emb-plain": endOffsets(t, adm, "emb-plain"), "emb-six": endOffsets(t, adm, "emb-six")}
	w.Kill()
	w.Start(t)
	for tp, n := range before {
		// At least: the connector may replay what it wrote after its
		// last offset commit.
		if got := endOffsets(t, adm, tp); got < n {
			t.Errorf("%s: %d records after kill -9 and restart, %d before", tp, got, n)
		}
		r := newTopicReader(t, listen, tp)
		r.until(time.Minute, fmt.Sprintf("%d records read from the start", n), func() error {
			if got, _ := r.totals(); got < int(n) {
				return fmt.Errorf("%d records", got)
			}
			return nil
		})
	}
	waitState(t, w, "plain", "RUNNING", 1, "RUNNING")
}
