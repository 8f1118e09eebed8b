package registry

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// openMem opens and starts a Store on topic.
func openMem(t testing.TB, topic *MemTopic, opts ...Option) *Store {
	t.Helper()
	s, err := Open(topic.NewLog, quietLogger(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// openKafka opens and starts a Store on the schemas topic of c.
func openKafka(t *testing.T, c *kfake.Cluster) *Store {
	t.Helper()
	ctx := testCtx(t)
	s, err := Open(func(cb func(kafkalog.Record)) (Log, error) {
		return kafkalog.New("sluice-schemas", cb, kgo.SeedBrokers(c.ListenAddrs()...))
	}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(s.log.(*kafkalog.Log).Client())
	if err := kafkalog.Ensure(ctx, adm, kafkalog.Topic{Name: "sluice-schemas", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func newCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// compact keeps the last record of each key and drops tombstones, as a
// fully compacted topic would.
func (t *MemTopic) compact() {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := map[string]int{}
	for i, r := range t.records {
		last[string(r.Key)] = i
	}
	var out []kafkalog.Record
	for i, r := range t.records {
		if last[string(r.Key)] == i && r.Value != nil {
			r.Offset = int64(len(out))
			out = append(out, r)
		}
	}
	t.records = out
}

// dump is a Store's whole state, to compare two Stores.
type dump struct {
	Versions map[string][]Version
	Levels   map[string]Level
	Global   Level
}

func stateOf(s *Store) dump {
	d := dump{Versions: map[string][]Version{}, Levels: map[string]Level{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.mu.subjects {
		d.Versions[name] = s.versionsLocked(name, true)
	}
	for k, v := range s.mu.configs {
		d.Levels[k] = v
	}
	d.Global = s.globalLocked()
	return d
}

func record(name string, fields string) string {
	return `{"type":"record","name":"` + name + `","fields":[` + fields + `]}`
}

func errorsAs(err error, target **Error) bool { return errors.As(err, target) }
