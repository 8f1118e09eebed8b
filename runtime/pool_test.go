package runtime

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/twmb/franz-go/pkg/kfake"
)

// startPool starts n workers with one group.id on one kfake cluster.
func startPool(t *testing.T, n int, extra map[string]string) []*testWorker {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	props := map[string]string{config.BootstrapServers: c.ListenAddrs()[0], config.GroupID: "pool",
		config.SessionTimeout: "6000", config.HeartbeatInterval: "500", config.RebalanceTimeout: "5000",
		config.ScheduledRebalanceMaxDelay: "0"}
	for k, v := range extra {
		props[k] = v
	}
	var ws []*testWorker
	for range n {
		ws = append(ws, startWorker(t, props))
	}
	return ws
}

// workerIDOf is the worker id of w: its REST address.
func workerIDOf(t *testing.T, w *testWorker) string {
	u, err := url.Parse(w.url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// spread counts the RUNNING tasks of st per worker id.
func spread(st api.ConnectorStatus) map[string]int {
	m := map[string]int{}
	for _, ts := range st.Tasks {
		if ts.State == api.StateRunning {
			m[ts.WorkerID]++
		}
	}
	return m
}

func TestPoolSpreadsTasksAndForwardsWrites(t *testing.T) {
	t.Run("at-least-once", func(t *testing.T) { poolSpreadsAndForwards(t, nil) })
	// With exactly-once the leader writes the configs topic through its
	// transactional producer and every worker reads it read_committed.
	t.Run("exactly-once", func(t *testing.T) {
		ws := poolSpreadsAndForwards(t, map[string]string{config.ExactlyOnceSourceSupport: "enabled"})
		n := 0
		for _, w := range ws {
			n += strings.Count(w.logs.String(), "claimed the configs topic")
		}
		if n == 0 {
			t.Error("no leader claimed the configs topic")
		}
	})
}

func poolSpreadsAndForwards(t *testing.T, extra map[string]string) []*testWorker {
	ws := startPool(t, 2, extra)
	a, b := workerIDOf(t, ws[0]), workerIDOf(t, ws[1])
	// Whichever worker leads, one of the two is a follower: both accept
	// the write.
	ws[1].do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "tasks.max": "4", "max.interval": "20"}}, 201, nil)
	waitFor(t, "4 tasks RUNNING, 2 on each worker, as both workers report", func() bool {
		for _, w := range ws {
			st, ok := w.statusOnceKnown(t, "gen")
			sp := spread(st)
			if !ok || st.Connector.State != api.StateRunning || sp[a] != 2 || sp[b] != 2 {
				return false
			}
		}
		return true
	})
	// A write on either worker: pause from worker 0, resume from worker 1.
	ws[0].do(t, "PUT", "/connectors/gen/pause", nil, 202, nil)
	waitFor(t, "every task PAUSED", func() bool {
		st := ws[1].status(t, "gen")
		n := 0
		for _, ts := range st.Tasks {
			if ts.State == api.StatePaused {
				n++
			}
		}
		return n == 4
	})
	ws[1].do(t, "PUT", "/connectors/gen/resume", nil, 202, nil)
	waitFor(t, "every task RUNNING again", func() bool {
		sp := spread(ws[0].status(t, "gen"))
		return sp[a] == 2 && sp[b] == 2
	})
	// A restart of every task, asked on worker 0, restarts the tasks of
	// both workers.
	before := []int{strings.Count(ws[0].logs.String(), "task started"), strings.Count(ws[1].logs.String(), "task started")}
	ws[0].do(t, "POST", "/connectors/gen/restart?includeTasks=true", nil, 202, nil)
	waitFor(t, "both workers restarted their tasks", func() bool {
		return strings.Count(ws[0].logs.String(), "task started") >= before[0]+2 &&
			strings.Count(ws[1].logs.String(), "task started") >= before[1]+2
	})
	// A restart of one task on the worker that does not run it is
	// forwarded to the one that does.
	other := -1
	waitFor(t, "worker 0 to see the restarted tasks of worker 1 RUNNING", func() bool {
		for _, ts := range ws[0].status(t, "gen").Tasks {
			if ts.WorkerID == b && ts.State == api.StateRunning {
				other = ts.ID
			}
		}
		return other >= 0
	})
	n1 := strings.Count(ws[1].logs.String(), "task started")
	ws[0].do(t, "POST", "/connectors/gen/tasks/"+strconv.Itoa(other)+"/restart", nil, 204, nil)
	waitFor(t, "the task restarted on its worker", func() bool {
		return strings.Count(ws[1].logs.String(), "task started") > n1
	})
	ws[0].do(t, "DELETE", "/connectors/gen", nil, 204, nil)
	waitFor(t, "the connector gone from both workers", func() bool {
		for _, w := range ws {
			var names []string
			w.do(t, "GET", "/connectors", nil, 200, &names)
			if len(names) != 0 {
				return false
			}
		}
		return true
	})
	return ws
}

func TestPoolMovesWorkOfAWorkerThatLeaves(t *testing.T) {
	ws := startPool(t, 2, nil)
	b := workerIDOf(t, ws[1])
	ws[0].do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "tasks.max": "4", "max.interval": "20"}}, 201, nil)
	waitFor(t, "4 tasks RUNNING on two workers", func() bool {
		st, ok := ws[1].statusOnceKnown(t, "gen")
		return ok && len(spread(st)) == 2 && len(st.Tasks) == 4
	})
	ws[0].stop(t)
	waitFor(t, "every task and the connector on the remaining worker", func() bool {
		st := ws[1].status(t, "gen")
		return spread(st)[b] == 4 && st.Connector.State == api.StateRunning && st.Connector.WorkerID == b
	})
}
