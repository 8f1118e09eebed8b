package it

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestBadInput sends the REST API requests a user gets wrong and checks
// each gets a 4xx in Connect's error shape that says what is wrong, and
// that nothing was created.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := harness.StartBroker(t)
	props, _ := isolated(t, nil)
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})

	t.Run("unknown connector.class", func(t *testing.T) {
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "bad-class",
			"config": map[string]string{"connector.class": "com.example.NoSuchConnector", "kafka.topic": "x"}}, http.StatusBadRequest)
		mustContain(t, "unknown class message", msg, "com.example.NoSuchConnector", "datagen", "jdbc")
	})
	t.Run("invalid config", func(t *testing.T) {
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "bad-config",
			"config": map[string]string{"connector.class": "datagen", "iterations": "abc"}}, http.StatusBadRequest)
		mustContain(t, "invalid config message", msg, "kafka.topic", "iterations")
		if !regexp.MustCompile(`2 error`).MatchString(msg) {
			t.Errorf("invalid config message does not count 2 errors:\n%s", msg)
		}
		// validate reports the same fields.
		var infos struct {
			ErrorCount int `json:"error_count"`
			Configs    []struct {
				Value struct {
					Name   string   `json:"name"`
					Errors []string `json:"errors"`
				} `json:"value"`
			} `json:"configs"`
		}
		w.JSON("PUT", "/connector-plugins/datagen/config/validate",
			map[string]string{"connector.class": "datagen", "name": "bad-config", "iterations": "abc"}, http.StatusOK, &infos)
		withErrors := map[string]bool{}
		for _, c := range infos.Configs {
			if len(c.Value.Errors) > 0 {
				withErrors[c.Value.Name] = true
			}
		}
		if infos.ErrorCount != 2 || !withErrors["kafka.topic"] || !withErrors["iterations"] || len(withErrors) != 2 {
			t.Errorf("validate: error_count %d, fields with errors %v; want kafka.topic and iterations", infos.ErrorCount, withErrors)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		body := "{\n  \"name\": \"broken\",\n  \"config\": {\"connector.class\": \"datagen\",}\n}"
		msg := expectError(t, w, "POST", "/connectors", body, http.StatusBadRequest)
		mustContain(t, "malformed JSON message", msg, "line 3", "column")
		msg = expectError(t, w, "PUT", "/connectors/broken/config", `{"kafka.topic": "x"`, http.StatusBadRequest)
		mustContain(t, "truncated JSON message", msg, "line 1", "column")
	})
	t.Run("unknown connector", func(t *testing.T) {
		for _, p := range []string{"/connectors/nope", "/connectors/nope/status", "/connectors/nope/config", "/connectors/nope/offsets"} {
			msg := expectError(t, w, "GET", p, nil, http.StatusNotFound)
			mustContain(t, "GET "+p, msg, "nope")
		}
		expectError(t, w, "DELETE", "/connectors/nope", nil, http.StatusNotFound)
		expectError(t, w, "PUT", "/connectors/nope/pause", nil, http.StatusNotFound)
		expectError(t, w, "POST", "/connectors/nope/restart", nil, http.StatusNotFound)
	})
	t.Run("nothing was created", func(t *testing.T) {
		var names []string
		w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
		if len(names) != 0 {
			t.Errorf("GET /connectors = %v after bad requests, want []", names)
		}
	})
}

// TestWorkerStartupFailures starts workers that cannot work and checks
// each exits non-zero, promptly, saying why and what to do.
func TestWorkerStartupFailures(t *testing.T) {
	t.Parallel()
	t.Run("unreachable bootstrap.servers", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		w := harness.PrepareWorker(t, harness.WorkerOptions{Bootstrap: addr,
			Props: map[string]string{"sluice.bootstrap.timeout.ms": "2000"}})
		start := time.Now()
		out, err := w.Run(t, 15*time.Second)
		if err == nil {
			t.Fatalf("worker with unreachable bootstrap.servers exited 0:\n%s", out)
		}
		t.Logf("exited after %v: %v", time.Since(start).Round(time.Millisecond), err)
		mustContain(t, "worker output", out, "cannot reach Kafka at bootstrap.servers="+addr,
			"check the address and that the brokers are up", "leave bootstrap.servers empty to use the embedded broker")
	})
	t.Run("data dir in use", func(t *testing.T) {
		t.Parallel()
		dir := harness.TempDir(t, "")
		first := harness.StartWorker(t, harness.WorkerOptions{DataDir: dir})
		second := harness.PrepareWorker(t, harness.WorkerOptions{DataDir: dir})
		out, err := second.Run(t, 30*time.Second)
		if err == nil {
			t.Fatalf("second worker on data dir %s exited 0:\n%s", dir, out)
		}
		mustContain(t, "second worker output", out, dir, "in use")
		// The first worker is unharmed.
		first.JSON("GET", "/connectors", nil, http.StatusOK, nil)
	})
	t.Run("config topic not compacted", func(t *testing.T) {
		t.Parallel()
		b := harness.StartBroker(t)
		adm := kadm.NewClient(b.Client(t))
		// The default configs topic on a broker of our own; a topic of
		// this run's on a shared external cluster (not to break it).
		configs, props := "sluice-configs", map[string]string{}
		if b.Dir == "" {
			props, _ = isolated(t, nil)
			configs = props["config.storage.topic"]
		}
		del := "delete"
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &del}, configs)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating %s: %v", configs, err)
		}
		w := harness.PrepareWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
		out, err := w.Run(t, 30*time.Second)
		if err == nil {
			t.Fatalf("worker with a non-compacted configs topic exited 0:\n%s", out)
		}
		mustContain(t, "worker output", out, configs, "cleanup.policy=compact", "cleanup.policy=delete")
		if strings.Contains(out, "worker ready") {
			t.Errorf("worker reported ready before exiting:\n%s", out)
		}
	})
}
