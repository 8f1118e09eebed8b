package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// hangStartConnector blocks in Start, ignoring its context, until
// startRelease is closed; with hangstart.where=taskconfigs it blocks in
// TaskConfigs instead.
type hangStartConnector struct{ hangConnector }

var (
	startRelease atomic.Pointer[chan struct{}]
	startHanging atomic.Int32
)

func (hangStartConnector) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	if props["hangstart.where"] == "taskconfigs" {
		return nil
	}
	startHanging.Add(1)
	defer startHanging.Add(-1)
	<-*startRelease.Load()
	return nil
}

func (hangStartConnector) TaskConfigs(int) ([]map[string]string, error) {
	startHanging.Add(1)
	defer startHanging.Add(-1)
	<-*startRelease.Load()
	return []map[string]string{{}}, nil
}

// TestConnectorHangingInStartOrTaskConfigsStallsNothingElse: connector
// code that never returns from Start or TaskConfigs holds neither the
// herder (other connectors start, the pool's rebalances go on) nor the
// REST API, and the connector can still be deleted.
func TestConnectorHangingInStartOrTaskConfigsStallsNothingElse(t *testing.T) {
	for _, where := range []string{"start", "taskconfigs"} {
		t.Run(where, func(t *testing.T) {
			ch := make(chan struct{})
			startRelease.Store(&ch)
			defer close(ch)
			w := startWorker(t, nil)
			w.do(t, "POST", "/connectors", map[string]any{"name": "stuck", "config": map[string]string{
				"connector.class": "hangstart", "hangstart.where": where}}, 201, nil)
			waitFor(t, "the connector blocked in "+where, func() bool { return startHanging.Load() > 0 })
			// Another connector starts and runs its tasks meanwhile; each
			// new connector is a rebalance of the pool.
			w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
				"connector.class": "datagen", "kafka.topic": "users", "tasks.max": "2", "max.interval": "50"}}, 201, nil)
			waitFor(t, "datagen RUNNING next to the stuck connector", func() bool {
				st := w.status(t, "gen")
				return st.Connector.State == api.StateRunning && len(st.Tasks) == 2 &&
					st.Tasks[0].State == api.StateRunning && st.Tasks[1].State == api.StateRunning
			})
			start := time.Now()
			w.do(t, "DELETE", "/connectors/stuck", nil, 204, nil)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("deleting the stuck connector took %v", d)
			}
			waitFor(t, "the stuck connector gone", func() bool {
				var names []string
				w.do(t, "GET", "/connectors", nil, 200, &names)
				return len(names) == 1
			})
		})
	}
}

// TestTransformOptionsAllReported: a transform with several invalid
// options gets a 400 naming each of them, not only the first.
func TestTransformOptionsAllReported(t *testing.T) {
	w := startWorker(t, nil)
	b, _ := json.Marshal(map[string]any{"name": "x", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "t", "transforms": "ts",
		"transforms.ts.type":           "org.apache.kafka.connect.transforms.TimestampConverter$Value",
		"transforms.ts.target.type":    "fortnight",
		"transforms.ts.unix.precision": "eons"}})
	resp, err := http.Post(w.url+"/connectors", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, prop := range []string{"transforms.ts.target.type", "transforms.ts.unix.precision"} {
		if resp.StatusCode != 400 || !strings.Contains(string(body), prop) {
			t.Errorf("%d %s: want a 400 naming %s", resp.StatusCode, body, prop)
		}
	}
}

// TestHeaderConverterRefusedUnlessBytes: header.converter is honoured
// (headers are written as the bytes connectors give) or refused.
func TestHeaderConverterRefusedUnlessBytes(t *testing.T) {
	w := startWorker(t, nil)
	for class, want := range map[string]int{"org.apache.kafka.connect.storage.SimpleHeaderConverter": 201,
		"StringConverter": 201, "org.apache.kafka.connect.json.JsonConverter": 400} {
		b, _ := json.Marshal(map[string]any{"name": "h" + strconv.Itoa(want) + strconv.Itoa(len(class)), "config": map[string]string{
			"connector.class": "datagen", "kafka.topic": "t", "iterations": "1", "header.converter": class}})
		resp, err := http.Post(w.url+"/connectors", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (want == 400 && !strings.Contains(string(body), "header.converter")) {
			t.Errorf("header.converter=%s: %d %s, want %d", class, resp.StatusCode, body, want)
		}
	}
	if _, err := config.LoadWorker("", nil, map[string]string{config.HeaderConverter: "org.apache.kafka.connect.json.JsonConverter"}); err == nil ||
		!strings.Contains(err.Error(), "header.converter") {
		t.Errorf("a worker with header.converter=JsonConverter: %v, want an error naming header.converter", err)
	}
}
