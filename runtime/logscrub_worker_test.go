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

// The leaker plugins (a source and a sink) log their leak.value and
// connection.url properties through the loggers the runtime gives them,
// in the message, in attributes, in a group and in an error, and fail
// with both in a retriable error: the source from each Poll after its
// first (which writes one record to leakTopic), the sink from each Put.
const (
	leakValue = "leak.value"
	leakURL   = "connection.url"
	leakTopic = "leaky-topic"
)

func leakDef() *config.Def {
	return config.NewDef(config.Key{Name: leakValue, Type: config.String, Default: "", Doc: "A value to log."},
		config.Key{Name: leakURL, Type: config.String, Default: "", Doc: "A URL to log."})
}

// logLeak logs props' leak.value and connection.url every way a connector
// might.
func logLeak(l *slog.Logger, who string, props map[string]string) {
	v, u := props[leakValue], props[leakURL]
	l.Info(who+" started with "+v+" at "+u, "value", v, "url", u,
		slog.Group("db", slog.String("password", v)),
		"error", fmt.Errorf("connecting to %s: password %s rejected", u, v))
	l.With("value", v).Warn(who + " with attrs")
}

func leakErr(props map[string]string) error {
	return connectors.Retry(fmt.Errorf("password %s rejected by %s", props[leakValue], props[leakURL]))
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
// to or the password in a connection URL — neither the lines connectors
// write through the loggers the runtime gives them (connector, source
// task, sink task) nor the runtime's own about them (poll and put
// retries, the topic created with the connector's topic configs). They
// show the reference as written and the URL with [hidden].
func TestLogLinesHideResolvedValuesAndURLCredentials(t *testing.T) {
	const secret, retention = "s3cr3t-distinctive-value", "86400123"
	const url, urlPassword = "jdbc:postgresql://bob:secretpw-xyz@db:5432/app", "secretpw-xyz"
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets.properties")
	if err := os.WriteFile(path, []byte("secret="+secret+"\nretention="+retention+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secretRef, retentionRef := "${file:"+path+":secret}", "${file:"+path+":retention}"
	w := startWorker(t, map[string]string{config.ConfigProviders: "file", "config.providers.file.class": "file",
		"config.providers.file.param.allowed.paths": dir})

	common := map[string]string{leakValue: secretRef, leakURL: url, propErrorsRetryTime: "-1", propErrorsRetryDelay: "50"}
	source := map[string]string{"connector.class": "leaker", "topic.creation.default.retention.ms": retentionRef}
	sink := map[string]string{"connector.class": "leaksink", "topics": leakTopic}
	for k, v := range common {
		source[k], sink[k] = v, v
	}
	w.do(t, "POST", "/connectors", map[string]any{"name": "leaky", "config": source}, 201, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "leakysink", "config": sink}, 201, nil)

	// Every line the test means to check, each at least once.
	lines := []string{"leak connector started", "leak connector with attrs", "leak source task started",
		"leak source task with attrs", "leak sink task started", "leak sink task with attrs",
		"created topic", "poll failed; retrying", "put failed; retrying the same batch"}
	waitFor(t, "every leaking line in the worker's log", func() bool {
		logs := w.logs.String()
		for _, l := range lines {
			if !strings.Contains(logs, l) {
				return false
			}
		}
		return true
	})
	w.stop(t)
	logs := w.logs.String()
	for _, leak := range []string{secret, retention, urlPassword} {
		if strings.Contains(logs, leak) {
			t.Errorf("the worker's log shows %q:\n%s", leak, linesWith(logs, leak))
		}
	}
	// What a line shows instead, in each kind of line.
	for _, want := range []struct{ line, shows string }{
		{"msg=\"leak connector started with " + secretRef + " at jdbc:postgresql://bob:[hidden]@db:5432/app\"", ""},
		{"leak source task started", "db.password=" + secretRef},
		{"leak sink task started", "error=\"connecting to jdbc:postgresql://bob:[hidden]@db:5432/app: password " + secretRef + " rejected\""},
		{"leak sink task with attrs", "value=" + secretRef},
		{"created topic", retentionRef},
		{"poll failed; retrying", "error=\"password " + secretRef + " rejected by jdbc:postgresql://bob:[hidden]@db:5432/app\""},
		{"put failed; retrying the same batch", "error=\"password " + secretRef + " rejected by jdbc:postgresql://bob:[hidden]@db:5432/app\""},
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
