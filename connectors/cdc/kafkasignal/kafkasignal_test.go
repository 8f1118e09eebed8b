package kafkasignal

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// taskContext is the least a source task context gives: no committed
// offsets, a logger.
type taskContext struct{}

func (taskContext) Offset(context.Context, map[string]any) (map[string]any, error) { return nil, nil }
func (taskContext) Logger() *slog.Logger                                           { return slog.New(slog.DiscardHandler) }

// TestConsumeOffersUntilHandledThenCommits runs the consumer against an
// in-process broker: records keyed for another source and values that
// are not signals are skipped; a signal the source could not handle is
// offered again; the group's position is committed past the signals
// only once each was handled.
func TestConsumeOffersUntilHandledThenCommits(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "srv-signal"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range []*kgo.Record{
		{Key: []byte("other"), Value: []byte(`{"type": "execute-snapshot", "data": {}}`)},
		{Key: []byte("srv"), Value: []byte(`not json`)},
		{Key: []byte("srv"), Value: []byte(`{"type": "pause-snapshot"}`)},
		{Key: []byte("srv"), Value: []byte(`{"type": "execute-snapshot", "data": "{\"data-collections\": [\"a\"]}"}`)},
	} {
		r.Topic = "srv-signal"
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var offered []string
	cctx, stop := context.WithCancel(ctx)
	offer := func(_ context.Context, s Signal) bool {
		mu.Lock()
		offered = append(offered, s.Kind+" "+string(s.Data)+" "+s.From)
		first := len(offered) == 1
		mu.Unlock()
		s.Result <- !first // the first could not be handled: offered again
		return true
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		Consume(cctx, taskContext{}, Config{Brokers: kc.ListenAddrs(), Group: "g", Topic: "srv-signal", Key: "srv", ClientID: "test"},
			slog.New(slog.DiscardHandler), offer)
	}()
	adm := kadm.NewClient(cl)
	for {
		offs, err := adm.FetchOffsets(ctx, "g")
		if err == nil {
			if o, ok := offs.Lookup("srv-signal", 0); ok && o.At == 4 {
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the group's position was not committed past the signals")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	wg.Wait()
	// Signals of one fetch are all offered before their answers are
	// awaited, so the retry comes after the later signal when both were
	// fetched together.
	pause, exec := "pause-snapshot  kafka srv-signal/0@2", `execute-snapshot {"data-collections": ["a"]} kafka srv-signal/0@3`
	count := map[string]int{}
	for _, o := range offered {
		count[o]++
	}
	if len(offered) != 3 || offered[0] != pause || count[pause] != 2 || count[exec] != 1 {
		t.Errorf("offered %q, want %q twice (the first refused) and %q once", offered, pause, exec)
	}
}
