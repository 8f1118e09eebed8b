package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// problemConnector's task reports a problem from Start (as a source
// waiting for its database does), keeps running, and clears the problem
// once problemClear is closed.
type problemConnector struct{ hangConnector }

func (problemConnector) NewTask() connectors.SourceTask { return &problemTask{} }

var problemClear = make(chan struct{})

type problemTask struct {
	tctx    connectors.SourceTaskContext
	cleared bool
}

func (p *problemTask) Start(_ context.Context, tctx connectors.SourceTaskContext, _ map[string]string) error {
	p.tctx = tctx
	connectors.ReportProblem(tctx, errors.New("database at db:5432 unreachable"))
	return nil
}

func (p *problemTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-problemClear:
		if !p.cleared {
			p.cleared = true
			connectors.ReportProblem(p.tctx, nil)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		return nil, nil
	case <-time.After(20 * time.Millisecond):
		return nil, nil
	}
}

func (*problemTask) Stop(context.Context) error { return nil }

func TestRunningTaskShowsItsProblem(t *testing.T) {
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "p", "config": map[string]string{"connector.class": "problem"}}, 201, nil)
	want := func(state, trace string) {
		t.Helper()
		waitFor(t, fmt.Sprintf("task %s with trace %q", state, trace), func() bool {
			st := w.status(t, "p")
			return len(st.Tasks) == 1 && st.Tasks[0].State == state && st.Tasks[0].Trace == trace
		})
	}
	// Reported during Start, shown once the task runs.
	want(api.StateRunning, "database at db:5432 unreachable")
	// Kept across a pause and a resume.
	w.do(t, "PUT", "/connectors/p/pause", nil, 202, nil)
	want(api.StatePaused, "database at db:5432 unreachable")
	w.do(t, "PUT", "/connectors/p/resume", nil, 202, nil)
	want(api.StateRunning, "database at db:5432 unreachable")
	close(problemClear)
	want(api.StateRunning, "")
}
