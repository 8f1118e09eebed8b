package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// The leaker plugins (a source and a sink) log their leak.value,
// connection.url and connection.password (a PASSWORD property) through
// the loggers the runtime gives them, in the message, in attributes, in a
// group and in an error, and fail with all three in a retriable error:
// the source from each Poll after its first (which writes one record to
// leakTopic), the sink from each Put.
const (
	leakValue    = "leak.value"
	leakURL      = "connection.url"
	leakPassword = "connection.password"
	leakTopic    = "leaky-topic"
	// leakValidatePanic makes the connector's Validate panic with a
	// message quoting connection.password.
	leakValidatePanic = "leak.validate.panic"
)

func leakDef() *config.Def {
	return config.NewDef(config.Key{Name: leakValue, Type: config.String, Default: "", Doc: "A value to log."},
		config.Key{Name: leakURL, Type: config.String, Default: "", Doc: "A URL to log."},
		config.Key{Name: leakPassword, Type: config.Password, Default: "", Doc: "A password to log."},
		config.Key{Name: leakValidatePanic, Type: config.Boolean, Default: "false", Doc: "Panic in Validate, quoting the password."})
}

// logLeak logs props' leak.value, connection.url and connection.password
// every way a connector might.
func logLeak(l *slog.Logger, who string, props map[string]string) {
	v, u, pw := props[leakValue], props[leakURL], props[leakPassword]
	l.Info(who+" started with "+v+" at "+u+" as "+pw, "value", v, "url", u, "pw", pw,
		slog.Group("db", slog.String("password", v), slog.String("plain", pw)),
		"error", fmt.Errorf("connecting to %s: password %s rejected (%s)", u, v, pw))
	l.With("value", v, "pw", pw).Warn(who + " with attrs")
}

func leakErr(props map[string]string) error {
	return connectors.Retry(fmt.Errorf("password %s rejected by %s (%s)", props[leakValue], props[leakURL], props[leakPassword]))
}

type leakConnector struct{ props map[string]string }

func (*leakConnector) Config() *config.Def { return leakDef() }
func (c *leakConnector) Start(_ context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	c.props = props
	logLeak(cctx.Logger(), "leak connector", props)
	return nil
}
func (c *leakConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (*leakConnector) Validate(_ context.Context, props map[string]string) map[string][]string {
	if props[leakValidatePanic] == "true" {
		panic("validating: password " + props[leakPassword] + " rejected")
	}
	return nil
}
func (*leakConnector) Stop(context.Context) error       { return nil }
func (*leakConnector) NewTask() connectors.SourceTask   { return &leakSourceTask{} }
func (*leakSinkConnector) NewTask() connectors.SinkTask { return &leakSinkTask{} }

type leakSinkConnector struct{ leakConnector }

type leakSourceTask struct {
	props map[string]string
	sent  bool
}

func (t *leakSourceTask) Start(_ context.Context, tctx connectors.SourceTaskContext, props map[string]string) error {
	t.props = props
	logLeak(tctx.Logger(), "leak source task", props)
	return nil
}

func (t *leakSourceTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	if !t.sent {
		t.sent = true
		return []*connectors.Record{{Topic: leakTopic, Value: []byte("v"), ValueSchema: connectors.OptionalBytesSchema,
			SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"n": 1}}}, nil
	}
	sleepCtx(ctx, 20*time.Millisecond)
	return nil, leakErr(t.props)
}
func (*leakSourceTask) Commit(context.Context, []connectors.SourceOffset) error { return nil }
func (*leakSourceTask) Stop(context.Context) error                              { return nil }

type leakSinkTask struct{ props map[string]string }

func (t *leakSinkTask) Start(_ context.Context, tctx connectors.SinkTaskContext, props map[string]string) error {
	t.props = props
	logLeak(tctx.Logger(), "leak sink task", props)
	return nil
}
func (t *leakSinkTask) Put(_ context.Context, recs []*connectors.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return leakErr(t.props)
}
func (*leakSinkTask) Flush(_ context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	return cur, nil
}
func (*leakSinkTask) Open(context.Context, []connectors.TopicPartition) error  { return nil }
func (*leakSinkTask) Close(context.Context, []connectors.TopicPartition) error { return nil }
func (*leakSinkTask) Stop(context.Context) error                               { return nil }

// Issue 12: no log line shows what a config provider reference resolved
// to, a PASSWORD property's value written in the config as it is, or the
// password in a connection URL — neither the lines connectors write
// through the loggers the runtime gives them (connector, source task,
// sink task) nor the runtime's own about them (poll and put retries, the
// topic created with the connector's topic configs, a task failed by its
// poll error, whose status trace hides them too). They show the reference
// as written, and [hidden] for the password and in the URL.
func TestLogLinesHideResolvedValuesAndURLCredentials(t *testing.T) {
	const secret, retention = "s3cr3t-distinctive-value", "86400123"
	const url, urlPassword = "jdbc:postgresql://bob:secretpw-xyz@db:5432/app", "secretpw-xyz"
	const plainPassword = "hunter2xyz"
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.properties")
	if err := os.WriteFile(path, []byte("secret="+secret+"\nretention="+retention+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretRef, retentionRef := "${file:"+path+":secret}", "${file:"+path+":retention}"
	w := startWorker(t, map[string]string{config.ConfigProviders: "file", "config.providers.file.class": "file",
		"config.providers.file.param.allowed.paths": dir})

	common := map[string]string{leakValue: secretRef, leakURL: url, leakPassword: plainPassword,
		propErrorsRetryTime: "-1", propErrorsRetryDelay: "50"}
	source := map[string]string{"connector.class": "leaker", "topic.creation.default.retention.ms": retentionRef}
	sink := map[string]string{"connector.class": "leaksink", "topics": leakTopic}
	// Without retries its first poll error fails the task.
	failing := map[string]string{"connector.class": "leaker", leakValue: secretRef, leakURL: url, leakPassword: plainPassword}
	for k, v := range common {
		source[k], sink[k] = v, v
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "leaky", "config": source}, 201, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "leakysink", "config": sink}, 201, nil)
	// leakyfail writes the same topic without topic.creation settings:
	// it starts once leaky created the topic, with its retention.
	waitFor(t, "leaky to create its topic", func() bool { return strings.Contains(w.logs.String(), "created topic") })
	w.do(t, "POST", "/connectors", map[string]any{"name": "leakyfail", "config": failing}, 201, nil)

	// Every line the test means to check, each at least once.
	lines := []string{"leak connector started", "leak connector with attrs", "leak source task started",
		"leak source task with attrs", "leak sink task started", "leak sink task with attrs",
		"created topic", "poll failed; retrying", "put failed; retrying the same batch", "task failed"}
	waitFor(t, "every leaking line in the worker's log", func() bool {
		logs := w.logs.String()
		for _, l := range lines {
			if !strings.Contains(logs, l) {
				return false
			}
		}
		return true
	})
	var st struct {
		Tasks []struct {
			State string `json:"state"`
			Trace string `json:"trace"`
		} `json:"tasks"`
	}
	w.do(t, "GET", "/connectors/leakyfail/status", nil, 200, &st)
	if len(st.Tasks) != 1 || st.Tasks[0].State != "FAILED" {
		t.Fatalf("leakyfail tasks %+v, want one FAILED", st.Tasks)
	}
	if tr := st.Tasks[0].Trace; strings.Contains(tr, plainPassword) || !strings.Contains(tr, "("+config.Hidden+")") {
		t.Errorf("the failed task's status trace shows the password or not [hidden]: %q", tr)
	}
	w.stop(t)
	logs := w.logs.String()
	for _, leak := range []string{secret, retention, urlPassword, plainPassword} {
		if strings.Contains(logs, leak) {
			t.Errorf("the worker's log shows %q:\n%s", leak, linesWith(logs, leak))
		}
	}
	// What a line shows instead, in each kind of line.
	for _, want := range []struct{ line, shows string }{
		{"msg=\"leak connector started with " + secretRef + " at jdbc:postgresql://bob:[hidden]@db:5432/app as [hidden]\"", ""},
		{"leak source task started", "db.password=" + secretRef + " db.plain=[hidden]"},
		{"leak source task started", "pw=[hidden]"},
		{"leak sink task started", "error=\"connecting to jdbc:postgresql://bob:[hidden]@db:5432/app: password " + secretRef + " rejected ([hidden])\""},
		{"leak sink task with attrs", "value=" + secretRef + " pw=[hidden]"},
		{"created topic", retentionRef},
		{"poll failed; retrying", "error=\"password " + secretRef + " rejected by jdbc:postgresql://bob:[hidden]@db:5432/app ([hidden])\""},
		{"put failed; retrying the same batch", "error=\"password " + secretRef + " rejected by jdbc:postgresql://bob:[hidden]@db:5432/app ([hidden])\""},
		{"task failed", "connector=leakyfail"},
		{"task failed", "error=\"polling: password " + secretRef + " rejected by jdbc:postgresql://bob:[hidden]@db:5432/app ([hidden])\""},
	} {
		found := false
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, want.line) && strings.Contains(l, want.shows) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line with %q shows %q:\n%s", want.line, want.shows, linesWith(logs, want.line))
		}
	}
}

// The line the worker logs when a connector's Validate panics shows a
// PASSWORD property's value as [hidden], as the lines about a running
// connector do.
func TestValidationPanicLineHidesPassword(t *testing.T) {
	const plainPassword = "hunter2xyz"
	w := startWorker(t, nil)
	w.do(t, "PUT", "/connector-plugins/leaker/config/validate", map[string]string{"connector.class": "leaker",
		"name": "leaky-validate", leakPassword: plainPassword, leakValidatePanic: "true"}, 200, nil)
	w.stop(t)
	logs := w.logs.String()
	if strings.Contains(logs, plainPassword) {
		t.Errorf("the worker's log shows %q:\n%s", plainPassword, linesWith(logs, plainPassword))
	}
	if l := linesWith(logs, "connector validation panicked"); !strings.Contains(l, "validating: password [hidden] rejected") {
		t.Errorf("the validation panic line does not show [hidden]:\n%s", l)
	}
}

// linesWith returns the lines of logs that contain s.
func linesWith(logs, s string) string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return "(no line)"
	}
	return strings.Join(out, "\n")
}
