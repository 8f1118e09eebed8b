package runtime

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kgo"
)

// orderedStore is an offsets store that logs the calls made to it.
type orderedStore struct {
	offsets.Store
	mu    sync.Mutex
	calls []string
}

func (s *orderedStore) log(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *orderedStore) ReadToEnd(context.Context) error { s.log("ReadToEnd"); return nil }

func (s *orderedStore) Get(ctx context.Context, c string, p map[string]any) (map[string]any, error) {
	s.log("Get")
	return s.Store.Get(ctx, c, p)
}

// offsetReadingTask reads its offset in Start, as connectors do, and
// then fails so the run ends.
type offsetReadingTask struct{ hangTask }

var errStarted = errors.New("started")

func (offsetReadingTask) Start(ctx context.Context, tctx connectors.SourceTaskContext, _ map[string]string) error {
	if _, err := tctx.Offset(ctx, map[string]any{"p": "x"}); err != nil {
		return err
	}
	return errStarted
}

// TestSourceTaskReadsOffsetsAfterReadToEnd checks that a source task's
// offsets are read only after the offsets topic was read to its end.
func TestSourceTaskReadsOffsetsAfterReadToEnd(t *testing.T) {
	producer, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	st := &orderedStore{Store: offsets.NewMemory()}
	r := &sourceRunner{id: api.TaskID{Connector: "c"}, task: &offsetReadingTask{}, producer: producer, offsets: st,
		logger: slog.Default(), onRunning: func() {}, pause: &pauser{}}
	if err := r.run(context.Background()); !errors.Is(err, errStarted) {
		t.Fatalf("run = %v, want the task's start error", err)
	}
	if want := []string{"ReadToEnd", "Get"}; !slices.Equal(st.calls, want) {
		t.Fatalf("store calls %v, want %v", st.calls, want)
	}
}
