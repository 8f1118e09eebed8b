package it

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestLifecycle drives one connector through every state change and
// endpoint of the REST API, in order, checking each answer against Kafka
// Connect's documented status codes and shapes, and checking the topic to
// see that pause, resume, stop and the offsets API really act on the
// tasks.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	const name = "life"
	b := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	topic := "life-" + sfx
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
	adm := kadm.NewClient(b.Client(t, freshMetadata))
	r := newTopicReader(t, b.Bootstrap, topic)
	cfg := datagen(topic, map[string]string{"tasks.max": "2", "iterations": "-1", "datagen.rate": "100"})

	// growing waits until the topic's end offsets pass from.
	growing := func(t *testing.T, from int64) int64 {
		t.Helper()
		var end int64
		harness.WaitFor(t, 30*time.Second, "topic "+topic+" to grow past "+fmt.Sprint(from), func() error {
			if end = endOffsets(t, adm, topic); end <= from {
				return fmt.Errorf("end offsets %d", end)
			}
			return nil
		})
		return end
	}
	// still waits until the end offsets stay the same for 2 s in a row.
	still := func(t *testing.T) int64 {
		t.Helper()
		last, since := endOffsets(t, adm, topic), time.Now()
		harness.WaitFor(t, 30*time.Second, "topic "+topic+" to stop growing for 2s", func() error {
			end := endOffsets(t, adm, topic)
			if end != last {
				last, since = end, time.Now()
			}
			if time.Since(since) < 2*time.Second {
				return fmt.Errorf("end offsets %d, unchanged for %v", end, time.Since(since).Round(time.Millisecond))
			}
			return nil
		})
		return last
	}

	run := func(sub string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(sub, f) {
			// Each step builds on the one before.
			t.FailNow()
		}
	}

	run("create", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
		req, _ := http.NewRequest("POST", w.URL+"/connectors", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/connectors/"+name {
			t.Fatalf("POST /connectors: %d, Location %q; want 201 and /connectors/%s: %s", resp.StatusCode, resp.Header.Get("Location"), name, out)
		}
		var info struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
			Tasks  []any             `json:"tasks"`
			Type   string            `json:"type"`
		}
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatal(err)
		}
		if info.Name != name || info.Config["kafka.topic"] != topic || info.Config["name"] != name || info.Type != "source" || info.Tasks == nil {
			t.Errorf("created connector info: %s", out)
		}
		w.JSON("GET", "/connectors/"+name, nil, http.StatusOK, nil)
	})
	run("duplicate name", func(t *testing.T) {
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, http.StatusConflict)
		mustContain(t, "409 message", msg, name, "already exists")
	})
	run("running", func(t *testing.T) {
		st := waitState(t, w, name, "RUNNING", 2, "RUNNING")
		if st.Name != name || st.Type != "source" || st.Connector.WorkerID == "" {
			t.Errorf("status %+v", st)
		}
		for i, ts := range st.Tasks {
			if ts.ID != i || ts.WorkerID == "" {
				t.Errorf("task status %d: %+v", i, ts)
			}
		}
		growing(t, 0)
	})
	run("list", func(t *testing.T) {
		var names []string
		w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
		if len(names) != 1 || names[0] != name {
			t.Errorf("GET /connectors = %v, want [%s]", names, name)
		}
		var exp map[string]struct {
			Status *status `json:"status"`
			Info   *struct {
				Name   string            `json:"name"`
				Config map[string]string `json:"config"`
				Tasks  []struct {
					Connector string `json:"connector"`
					Task      int    `json:"task"`
				} `json:"tasks"`
				Type string `json:"type"`
			} `json:"info"`
		}
		w.JSON("GET", "/connectors?expand=status&expand=info", nil, http.StatusOK, &exp)
		x, ok := exp[name]
		if len(exp) != 1 || !ok || x.Status == nil || x.Info == nil {
			t.Fatalf("GET /connectors?expand=status&expand=info = %+v", exp)
		}
		if x.Status.Name != name || x.Status.Connector.State != "RUNNING" || len(x.Status.Tasks) != 2 || x.Status.Type != "source" {
			t.Errorf("expanded status %+v", *x.Status)
		}
		if x.Info.Name != name || x.Info.Config["connector.class"] != "datagen" || len(x.Info.Tasks) != 2 ||
			x.Info.Tasks[1].Connector != name || x.Info.Tasks[1].Task != 1 || x.Info.Type != "source" {
			t.Errorf("expanded info %+v", *x.Info)
		}
		var onlyStatus map[string]map[string]json.RawMessage
		w.JSON("GET", "/connectors?expand=status", nil, http.StatusOK, &onlyStatus)
		if _, hasInfo := onlyStatus[name]["info"]; hasInfo || onlyStatus[name]["status"] == nil {
			t.Errorf("GET /connectors?expand=status = %v, want only status", onlyStatus)
		}
	})
	run("pause", func(t *testing.T) {
		w.JSON("PUT", "/connectors/"+name+"/pause", nil, http.StatusAccepted, nil)
		waitState(t, w, name, "PAUSED", 2, "PAUSED")
		paused := still(t)
		t.Logf("paused at %d records", paused)
	})
	run("resume", func(t *testing.T) {
		from := endOffsets(t, adm, topic)
		w.JSON("PUT", "/connectors/"+name+"/resume", nil, http.StatusAccepted, nil)
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		growing(t, from)
	})
	run("offsets need a stopped connector", func(t *testing.T) {
		body := map[string]any{"offsets": []map[string]any{{"partition": map[string]any{"task": 0}, "offset": map[string]any{"seq": 10}}}}
		msg := expectError(t, w, "PATCH", "/connectors/"+name+"/offsets", body, http.StatusBadRequest)
		mustContain(t, "PATCH offsets on a running connector", msg, "STOPPED", "/connectors/"+name+"/stop")
		msg = expectError(t, w, "DELETE", "/connectors/"+name+"/offsets", nil, http.StatusBadRequest)
		mustContain(t, "DELETE offsets on a running connector", msg, "STOPPED")
	})
	run("stop", func(t *testing.T) {
		w.JSON("PUT", "/connectors/"+name+"/stop", nil, http.StatusNoContent, nil)
		waitState(t, w, name, "STOPPED", 0, "")
		var tasks []any
		w.JSON("GET", "/connectors/"+name+"/tasks", nil, http.StatusOK, &tasks)
		if len(tasks) != 0 {
			t.Errorf("GET /connectors/%s/tasks of a stopped connector = %v, want []", name, tasks)
		}
		still(t)
	})
	run("get offsets", func(t *testing.T) {
		offs := taskOffsets(t, w, name)
		if len(offs) != 2 {
			t.Fatalf("offsets %v, want one per task", offs)
		}
		// The tasks stopped cleanly, so everything they produced has
		// been committed: the topic holds each seq up to the offsets once.
		end := endOffsets(t, adm, topic)
		r.until(30*time.Second, "the records produced before the stop", func() error {
			if n, _ := r.totals(); int64(n) < end {
				return fmt.Errorf("consumed %d of %d", n, end)
			}
			return nil
		})
		for task, seq := range offs {
			if seq%2 != int64(task) {
				t.Errorf("task %d committed seq %d, not one of its numbers", task, seq)
			}
			for s := int64(task); s <= seq; s += 2 {
				if c := r.count(s); c != 1 {
					t.Errorf("task %d committed up to %d, but seq %d arrived %d times", task, seq, s, c)
					break
				}
			}
		}
		if n, _ := r.totals(); int64(n) != offs[0]/2+1+(offs[1]-1)/2+1 {
			t.Errorf("topic holds %d records, but the committed offsets %v account for %d", n, offs, offs[0]/2+1+(offs[1]-1)/2+1)
		}
		if r.count(0) != 1 || r.count(1) != 1 {
			t.Errorf("seq 0 arrived %d times, seq 1 %d times; want once each", r.count(0), r.count(1))
		}
	})
	run("reset offsets", func(t *testing.T) {
		var msg struct {
			Message string `json:"message"`
		}
		w.JSON("DELETE", "/connectors/"+name+"/offsets", nil, http.StatusOK, &msg)
		if msg.Message != "The offsets for this connector have been reset successfully" {
			t.Errorf("DELETE offsets message %q", msg.Message)
		}
		if offs := taskOffsets(t, w, name); len(offs) != 0 {
			t.Errorf("offsets after reset: %v, want none", offs)
		}
	})
	run("resume starts over", func(t *testing.T) {
		w.JSON("PUT", "/connectors/"+name+"/resume", nil, http.StatusAccepted, nil)
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		r.until(30*time.Second, "seq 0 and 1 produced a second time", func() error {
			if r.count(0) < 2 || r.count(1) < 2 {
				return fmt.Errorf("seq 0 seen %d times, seq 1 %d times", r.count(0), r.count(1))
			}
			return nil
		})
		if r.count(0) != 2 || r.count(1) != 2 {
			t.Errorf("seq 0 seen %d times, seq 1 %d times; want 2", r.count(0), r.count(1))
		}
	})
	const jump = 1_000_000
	run("alter offsets", func(t *testing.T) {
		w.JSON("PUT", "/connectors/"+name+"/stop", nil, http.StatusNoContent, nil)
		waitState(t, w, name, "STOPPED", 0, "")
		body := map[string]any{"offsets": []map[string]any{
			{"partition": map[string]any{"task": 0}, "offset": map[string]any{"seq": jump}},
			{"partition": map[string]any{"task": 1}, "offset": map[string]any{"seq": jump + 1}},
		}}
		var msg struct {
			Message string `json:"message"`
		}
		w.JSON("PATCH", "/connectors/"+name+"/offsets", body, http.StatusOK, &msg)
		if msg.Message != "The offsets for this connector have been altered successfully" {
			t.Errorf("PATCH offsets message %q", msg.Message)
		}
		if got := taskOffsets(t, w, name); got[0] != jump || got[1] != jump+1 || len(got) != 2 {
			t.Fatalf("offsets after PATCH: %v", got)
		}
		w.JSON("PUT", "/connectors/"+name+"/resume", nil, http.StatusAccepted, nil)
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		r.until(30*time.Second, "the records right after the altered offsets", func() error {
			if r.count(jump+2) == 0 || r.count(jump+3) == 0 {
				return fmt.Errorf("seq %d seen %d times, %d %d times", jump+2, r.count(jump+2), jump+3, r.count(jump+3))
			}
			return nil
		})
		if r.count(jump) != 0 || r.count(jump+1) != 0 {
			t.Errorf("the altered offsets themselves were produced again: seq %d ×%d, %d ×%d",
				jump, r.count(jump), jump+1, r.count(jump+1))
		}
		harness.WaitFor(t, 30*time.Second, "offsets to move past the altered ones", func() error {
			got := taskOffsets(t, w, name)
			if got[0] <= jump || got[1] <= jump+1 {
				return fmt.Errorf("offsets %v", got)
			}
			return nil
		})
	})
	// starts counts the log lines saying the connector, or one of its
	// tasks, started.
	starts := func(what string) int {
		re := regexp.MustCompile(`msg="` + what + ` started".* connector=` + name + `( |$)`)
		n := 0
		for _, line := range strings.Split(w.Log(), "\n") {
			if re.MatchString(line) {
				n++
			}
		}
		return n
	}
	run("restart connector", func(t *testing.T) {
		conns, tasks := starts("connector"), starts("task")
		st, body := w.Do("POST", "/connectors/"+name+"/restart", nil)
		if st != http.StatusNoContent || len(body) != 0 {
			t.Errorf("POST restart: %d %q, want 204 and no body", st, body)
		}
		harness.WaitFor(t, 30*time.Second, "the connector to start again", func() error {
			if n := starts("connector"); n <= conns {
				return fmt.Errorf("%d connector starts logged, %d before the restart", n, conns)
			}
			return nil
		})
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		if n := starts("task"); n != tasks {
			t.Errorf("restart without includeTasks restarted tasks: %d task starts logged, %d before", n, tasks)
		}
	})
	run("restart with tasks", func(t *testing.T) {
		conns, tasks := starts("connector"), starts("task")
		var st status
		w.JSON("POST", "/connectors/"+name+"/restart?includeTasks=true", nil, http.StatusAccepted, &st)
		if st.Name != name || st.Connector.State != "RESTARTING" || len(st.Tasks) != 2 {
			t.Fatalf("POST restart?includeTasks=true answered %+v", st)
		}
		for _, ts := range st.Tasks {
			if ts.State != "RESTARTING" {
				t.Errorf("task %d state %s, want RESTARTING", ts.ID, ts.State)
			}
		}
		harness.WaitFor(t, 30*time.Second, "the connector and both tasks to start again", func() error {
			if c, n := starts("connector"), starts("task"); c <= conns || n < tasks+2 {
				return fmt.Errorf("%d connector and %d task starts logged, %d and %d before the restart", c, n, conns, tasks)
			}
			return nil
		})
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		growing(t, endOffsets(t, adm, topic))
	})
	run("restart task", func(t *testing.T) {
		tasks := starts("task")
		st, body := w.Do("POST", "/connectors/"+name+"/tasks/0/restart", nil)
		if st != http.StatusNoContent {
			t.Errorf("POST tasks/0/restart: %d %s, want 204", st, body)
		}
		harness.WaitFor(t, 30*time.Second, "task 0 to start again", func() error {
			if n := starts("task"); n != tasks+1 {
				return fmt.Errorf("%d task starts logged, %d before the restart", n, tasks)
			}
			return nil
		})
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		var ts struct {
			ID    int    `json:"id"`
			State string `json:"state"`
		}
		w.JSON("GET", "/connectors/"+name+"/tasks/0/status", nil, http.StatusOK, &ts)
		if ts.ID != 0 || ts.State != "RUNNING" {
			t.Errorf("task 0 status %+v", ts)
		}
	})
	run("update config", func(t *testing.T) {
		// A new config restarts the tasks with it; they resume from their
		// offsets (checked by "no duplicates" below).
		tasks := starts("task")
		upd := datagen(topic, map[string]string{"tasks.max": "2", "iterations": "-1", "datagen.rate": "150"})
		var info struct {
			Config map[string]string `json:"config"`
		}
		w.JSON("PUT", "/connectors/"+name+"/config", upd, http.StatusOK, &info)
		if info.Config["datagen.rate"] != "150" || info.Config["name"] != name {
			t.Errorf("PUT config answered config %v", info.Config)
		}
		w.JSON("PATCH", "/connectors/"+name+"/config", map[string]any{"datagen.rate": "120"}, http.StatusOK, &info)
		if info.Config["datagen.rate"] != "120" || info.Config["kafka.topic"] != topic {
			t.Errorf("PATCH config answered config %v", info.Config)
		}
		var cfgNow map[string]string
		w.JSON("GET", "/connectors/"+name+"/config", nil, http.StatusOK, &cfgNow)
		if cfgNow["datagen.rate"] != "120" {
			t.Errorf("GET config after PATCH: %v", cfgNow)
		}
		harness.WaitFor(t, 30*time.Second, "the tasks to run the new config", func() error {
			var tcs []struct {
				Config map[string]string `json:"config"`
			}
			w.JSON("GET", "/connectors/"+name+"/tasks", nil, http.StatusOK, &tcs)
			if len(tcs) != 2 || tcs[0].Config["datagen.rate"] != "120" || tcs[1].Config["datagen.rate"] != "120" {
				return fmt.Errorf("task configs %v", tcs)
			}
			if n := starts("task"); n < tasks+2 {
				return fmt.Errorf("%d task starts logged, %d before the update", n, tasks)
			}
			return nil
		})
		waitState(t, w, name, "RUNNING", 2, "RUNNING")
		growing(t, endOffsets(t, adm, topic))
	})
	run("unknown task", func(t *testing.T) {
		msg := expectError(t, w, "POST", "/connectors/"+name+"/tasks/7/restart", nil, http.StatusNotFound)
		mustContain(t, "unknown task", msg, "7")
		expectError(t, w, "GET", "/connectors/"+name+"/tasks/7/status", nil, http.StatusNotFound)
	})
	run("no duplicates", func(t *testing.T) {
		// Stop cleanly and check that, apart from the deliberate reset,
		// no sequence number arrived twice (restarts resume exactly).
		w.JSON("PUT", "/connectors/"+name+"/stop", nil, http.StatusNoContent, nil)
		waitState(t, w, name, "STOPPED", 0, "")
		end := still(t)
		r.until(30*time.Second, "the topic's end", func() error {
			if n, _ := r.totals(); int64(n) < end {
				return fmt.Errorf("consumed %d of %d", n, end)
			}
			return nil
		})
		offs := taskOffsets(t, w, name)
		r.mu.Lock()
		defer r.mu.Unlock()
		for seq, c := range r.counts {
			if c > 1 && seq >= jump {
				t.Errorf("seq %d arrived %d times after the offsets were altered", seq, c)
			}
		}
		for task, seq := range offs {
			for s := int64(jump + task + 2); s <= seq; s += 2 {
				if r.counts[s] != 1 {
					t.Errorf("task %d: seq %d arrived %d times (committed up to %d)", task, s, r.counts[s], seq)
					break
				}
			}
		}
	})
	run("delete", func(t *testing.T) {
		w.JSON("DELETE", "/connectors/"+name, nil, http.StatusNoContent, nil)
		msg := expectError(t, w, "GET", "/connectors/"+name, nil, http.StatusNotFound)
		mustContain(t, "404 message", msg, name)
		expectError(t, w, "GET", "/connectors/"+name+"/status", nil, http.StatusNotFound)
		var names []string
		w.JSON("GET", "/connectors", nil, http.StatusOK, &names)
		if len(names) != 0 {
			t.Errorf("GET /connectors after delete = %v", names)
		}
	})
	run("plugins", func(t *testing.T) {
		var plugins []struct {
			Class   string `json:"class"`
			Type    string `json:"type"`
			Version string `json:"version"`
		}
		w.JSON("GET", "/connector-plugins", nil, http.StatusOK, &plugins)
		found := false
		for _, p := range plugins {
			if p.Class == "datagen" || strings.HasSuffix(strings.ToLower(p.Class), "datagen") || strings.Contains(strings.ToLower(p.Class), "datagen") {
				found = true
				if p.Type != "source" || p.Version == "" {
					t.Errorf("datagen plugin %+v: want type source and a version", p)
				}
			}
		}
		if !found {
			t.Errorf("GET /connector-plugins = %+v: no datagen", plugins)
		}
	})
	run("validate", func(t *testing.T) {
		var infos struct {
			Name       string `json:"name"`
			ErrorCount int    `json:"error_count"`
			Configs    []struct {
				Value struct {
					Name   string   `json:"name"`
					Value  *string  `json:"value"`
					Errors []string `json:"errors"`
				} `json:"value"`
			} `json:"configs"`
		}
		bad := map[string]string{"connector.class": "datagen", "name": "v", "kafka.topic": "x", "iterations": "abc"}
		w.JSON("PUT", "/connector-plugins/datagen/config/validate", bad, http.StatusOK, &infos)
		if infos.ErrorCount < 1 {
			t.Fatalf("validate: error_count %d, want > 0", infos.ErrorCount)
		}
		var errs []string
		for _, c := range infos.Configs {
			if c.Value.Name == "iterations" {
				errs = c.Value.Errors
			} else if len(c.Value.Errors) > 0 {
				t.Errorf("validate: unexpected errors on %s: %v", c.Value.Name, c.Value.Errors)
			}
		}
		if len(errs) == 0 || !regexp.MustCompile(`(?i)abc|long|number|integer`).MatchString(strings.Join(errs, " ")) {
			t.Errorf("validate: errors on iterations = %q, want one saying abc is not a number", errs)
		}
	})
}

// TestAutoRestartWithBackoff runs datagen with a poison record that no
// converter can serialise: the task fails, is restarted automatically with
// back-off, fails again, and stays FAILED after the configured attempts;
// the records before the poison reach the topic.
func TestAutoRestartWithBackoff(t *testing.T) {
	t.Parallel()
	b := harness.StartBroker(t)
	props, sfx := isolated(t, map[string]string{"offset.flush.interval.ms": "200"})
	topic := "poisoned-" + sfx
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
	create(t, w, "poison", datagen(topic, map[string]string{
		"tasks.max": "1", "iterations": "1000", "poison.every": "50",
		"sluice.task.restart.backoff.initial.ms": "200", "sluice.task.restart.max.attempts": "2",
	}))

	var st status
	harness.WaitFor(t, time.Minute, "task 0 FAILED for good", func() error {
		st = getStatus(t, w, "poison")
		if len(st.Tasks) != 1 || st.Tasks[0].State != "FAILED" {
			return fmt.Errorf("status %+v", st)
		}
		// Three failures (the first run and two restarts) end it.
		if n := strings.Count(w.Log(), `msg="task failed"`); n < 3 {
			return fmt.Errorf("%d failures logged so far", n)
		}
		return nil
	})
	trace := st.Tasks[0].Trace
	mustContain(t, "task trace", trace, topic, "converting the value")
	if st.Connector.State != "RUNNING" {
		t.Errorf("connector state %s, want RUNNING (only its task failed)", st.Connector.State)
	}

	log := w.Log()
	failures := regexp.MustCompile(`(?m)^.*msg="task failed".*connector=poison.*$`).FindAllString(log, -1)
	starts := regexp.MustCompile(`(?m)^.*msg="task started".*connector=poison.*$`).FindAllString(log, -1)
	if len(failures) != 3 || len(starts) != 3 {
		t.Errorf("log has %d task failures and %d task starts, want 3 of each (first run + 2 automatic restarts):\n%s",
			len(failures), len(starts), strings.Join(append(failures, starts...), "\n"))
	}
	// Stays failed: no fourth start after the last back-off would be due.
	harness.WaitFor(t, 10*time.Second, "the last back-off to pass", func() error {
		if strings.Count(w.Log(), `msg="task started"`) > 3 {
			t.Fatalf("the task was restarted more than sluice.task.restart.max.attempts=2 times:\n%s", w.Log())
		}
		if time.Since(lastFailure(t, w.Log())) < 2*time.Second {
			return fmt.Errorf("last failure less than 2s ago")
		}
		return nil
	})
	if got := getStatus(t, w, "poison").Tasks[0].State; got != "FAILED" {
		t.Errorf("task state %s after the attempts are used up, want FAILED", got)
	}

	r := newTopicReader(t, b.Bootstrap, topic)
	r.until(30*time.Second, "the 49 records before the poison record", func() error {
		for n := int64(0); n < 49; n++ {
			if r.count(n) == 0 {
				return fmt.Errorf("seq %d missing", n)
			}
		}
		return nil
	})
	if c := r.count(49); c != 0 {
		t.Errorf("the poison record seq 49 reached the topic %d times", c)
	}
	// Each restart resumed at the poison record, after the committed
	// offsets, so nothing before it was produced twice.
	if n, d := r.totals(); n != 49 || d != 49 {
		t.Errorf("%d records (%d distinct sequence numbers) in the topic, want 0..48 once each", n, d)
	}
}

// lastFailure returns the time of the last "task failed" log line.
func lastFailure(t *testing.T, log string) time.Time {
	t.Helper()
	var last time.Time
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, `msg="task failed"`) {
			continue
		}
		m := regexp.MustCompile(`time=(\S+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("log line without time: %s", line)
		}
		ts, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("log line time %q: %v", m[1], err)
		}
		last = ts
	}
	return last
}
