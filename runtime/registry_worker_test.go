package runtime

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/twmb/franz-go/pkg/kfake"
)

// registryCall sends a Confluent registry request to a worker.
func registryCall(t *testing.T, w *testWorker, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, w.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(bytes.TrimSpace(b)) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, m
}

// TestSchemaRegistryOnTheWorker: the worker serves the registry at its
// Confluent paths on the REST listener; another worker of the pool, and
// a worker started later, serve the same ids.
func TestSchemaRegistryOnTheWorker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	props := map[string]string{config.BootstrapServers: c.ListenAddrs()[0], config.GroupID: "reg"}
	w1 := startWorker(t, props)
	schema := `{"type":"record","name":"users","fields":[{"name":"id","type":"long"}]}`
	body, _ := json.Marshal(map[string]string{"schema": schema})
	code, m := registryCall(t, w1, "POST", "/subjects/users-value/versions", string(body))
	if code != 200 || m["id"] == nil {
		t.Fatalf("register: %d %v", code, m)
	}
	id := m["id"].(float64)
	// Incompatible (a field without a default, BACKWARD): 409 with reasons.
	bad, _ := json.Marshal(map[string]string{"schema": `{"type":"record","name":"users","fields":[{"name":"id","type":"long"},{"name":"x","type":"int"}]}`})
	if code, m := registryCall(t, w1, "POST", "/subjects/users-value/versions", string(bad)); code != 409 {
		t.Errorf("incompatible schema: %d %v, want 409", code, m)
	}
	if code, m := registryCall(t, w1, "GET", "/subjects/nope/versions", ""); code != 404 || m["error_code"] != float64(40401) {
		t.Errorf("unknown subject: %d %v, want 404 with 40401", code, m)
	}
	w1.stop(t)
	w2 := startWorker(t, props)
	code, m = registryCall(t, w2, "GET", "/schemas/ids/"+strconv.Itoa(int(id)), "")
	if code != 200 || !strings.Contains(m["schema"].(string), `"users"`) {
		t.Fatalf("schema by id on a later worker: %d %v", code, m)
	}
	code, m = registryCall(t, w2, "POST", "/subjects/users-value/versions", string(body))
	if code != 200 || m["id"].(float64) != id {
		t.Errorf("the same schema again: %d %v, want id %v", code, m, id)
	}
}
