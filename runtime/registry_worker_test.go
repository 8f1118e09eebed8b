package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

// TestAvroConverterUsesTheBuiltInRegistry: a source with the Avro
// converter and no schema.registry.url registers its schemas in the
// worker's registry, and its records are in Confluent's wire format.
func TestAvroConverterUsesTheBuiltInRegistry(t *testing.T) {
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "iterations": "50",
		"value.converter": "io.confluent.connect.avro.AvroConverter"}}, 201, nil)
	var subjects []string
	waitFor(t, "the value schema registered under users-value", func() bool {
		req, _ := http.NewRequest("GET", w.url+"/subjects", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		subjects = nil
		_ = json.NewDecoder(resp.Body).Decode(&subjects)
		for _, s := range subjects {
			if s == "users-value" {
				return true
			}
		}
		return false
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.bootstrap), kgo.ConsumeTopics("users"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	recs := fs.Records()
	if len(recs) == 0 {
		t.Fatalf("no record: %v", fs.Errors())
	}
	v := recs[0].Value
	if len(v) < 5 || v[0] != 0 {
		t.Fatalf("value %x is not in Confluent's wire format", v[:min(len(v), 8)])
	}
	id := int(v[1])<<24 | int(v[2])<<16 | int(v[3])<<8 | int(v[4])
	if code, m := registryCall(t, w, "GET", "/schemas/ids/"+strconv.Itoa(id), ""); code != 200 || m["schema"] == nil {
		t.Errorf("the record's schema id %d: %d %v", id, code, m)
	}
}

// TestSchemaRegistryOff: an empty schema.registry.topic turns the
// built-in registry off (for clusters with an external one, or without
// ACLs for another topic); the Avro converter then asks for
// schema.registry.url.
func TestSchemaRegistryOff(t *testing.T) {
	w := startWorker(t, map[string]string{config.SchemaRegistryTopic: ""})
	if code, _ := registryCall(t, w, "GET", "/subjects", ""); code != 404 {
		t.Errorf("GET /subjects with the registry off: %d, want 404", code)
	}
	b, _ := json.Marshal(map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "users", "value.converter": "io.confluent.connect.avro.AvroConverter"}})
	resp, err := http.Post(w.url+"/connectors", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "schema.registry.url") {
		t.Errorf("Avro without a registry: %d %s, want a 400 asking for schema.registry.url", resp.StatusCode, body)
	}
}
