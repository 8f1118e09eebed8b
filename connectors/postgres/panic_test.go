package postgres

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
)

// A panic in the task's own goroutine reaches the runtime as Poll's error
// instead of ending the process. Here run panics for real: it reads the
// table list through a connection that was never opened.
func TestRunLoopPanicGoesToPoll(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{Hostname: "127.0.0.1", User: "u", DBName: "d", TopicPrefix: "srv", PollIntervalMs: "50"})
	if err != nil {
		t.Fatal(err)
	}
	task := &Task{cfg: cfg, log: slog.New(slog.DiscardHandler), queue: cdc.NewQueue[snapPos](cfg.MaxQueueSize), done: make(chan struct{}),
		timer: time.NewTimer(time.Hour)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go task.runLoop(ctx, nil)
	for {
		recs, err := task.Poll(ctx)
		if err == nil && len(recs) == 0 {
			continue
		}
		var pe *connectors.PanicError
		if !errors.As(err, &pe) || len(pe.Stack) == 0 {
			t.Fatalf("Poll = %d records, %v; want a *connectors.PanicError with a stack", len(recs), err)
		}
		break
	}
	<-task.done
}
