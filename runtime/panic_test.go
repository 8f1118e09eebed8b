package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/transforms"
)

// The panicker plugins (a source and a sink) panic where panic.at says:
// in a method the runtime calls, or in a goroutine they start themselves
// (which, as the SPI asks, recovers with connectors.Protect and hands the
// panic on). panics counts the panics per connector name.
var panics struct {
	sync.Mutex
	n map[string]int
}

func notePanic(name, where string) {
	panics.Lock()
	if panics.n == nil {
		panics.n = map[string]int{}
	}
	panics.n[name]++
	panics.Unlock()
	panic(fmt.Sprintf("test panic in %s of %s", where, name))
}

// noteStart counts the starts of a connector ("name/connector") or its
// task ("name/task").
func noteStart(key string) {
	panics.Lock()
	if panics.n == nil {
		panics.n = map[string]int{}
	}
	panics.n[key]++
	panics.Unlock()
}

func panicCount(name string) int {
	panics.Lock()
	defer panics.Unlock()
	return panics.n[name]
}

const panicAt = "panic.at"

type panicConnector struct {
	props map[string]string
	cctx  connectors.ConnectorContext
	wg    sync.WaitGroup
}

func (*panicConnector) Config() *config.Def {
	return config.NewDef(config.Key{Name: panicAt, Type: config.String, Default: "", Doc: "Where to panic."})
}

func (c *panicConnector) Start(_ context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	c.props, c.cctx = props, cctx
	noteStart(props["name"] + "/connector")
	switch props[panicAt] {
	case "connector.start":
		notePanic(props["name"], "Start")
	case "connector.goroutine":
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := connectors.Protect(func() error { notePanic(props["name"], "a connector goroutine"); return nil }); err != nil {
				cctx.RaiseError(fmt.Errorf("monitoring goroutine: %w", err))
			}
		}()
	}
	return nil
}

func (c *panicConnector) TaskConfigs(int) ([]map[string]string, error) {
	if c.props[panicAt] == "connector.taskconfigs" {
		notePanic(c.props["name"], "TaskConfigs")
	}
	return []map[string]string{c.props}, nil
}

func (c *panicConnector) Stop(context.Context) error {
	c.wg.Wait()
	if c.props[panicAt] == "connector.stop" {
		notePanic(c.props["name"], "Stop")
	}
	return nil
}

func (c *panicConnector) Validate(_ context.Context, props map[string]string) map[string][]string {
	if props[panicAt] == "connector.validate" {
		notePanic(props["name"], "Validate")
	}
	return nil
}

func (*panicConnector) NewTask() connectors.SourceTask { return &panicSourceTask{} }

type panicSinkConnector struct{ panicConnector }

func (*panicSinkConnector) NewTask() connectors.SinkTask { return &panicSinkTask{} }

// panicSourceTask returns one record per Poll, 20 ms apart.
type panicSourceTask struct {
	name, at string
	errs     chan error
	wg       sync.WaitGroup
	n        int64
}

func (t *panicSourceTask) Start(_ context.Context, _ connectors.SourceTaskContext, props map[string]string) error {
	t.name, t.at = props["name"], props[panicAt]
	noteStart(t.name + "/task")
	switch t.at {
	case "task.start":
		notePanic(t.name, "task Start")
	case "task.goroutine":
		t.errs = make(chan error, 1)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.errs <- connectors.Protect(func() error { notePanic(t.name, "a task goroutine"); return nil })
		}()
	}
	return nil
}

func (t *panicSourceTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	switch t.at {
	case "task.poll":
		notePanic(t.name, "Poll")
	case "task.goroutine":
		select {
		case err := <-t.errs:
			return nil, fmt.Errorf("reader goroutine: %w", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	sleepCtx(ctx, 20*time.Millisecond)
	t.n++
	return []*connectors.Record{{Topic: "panicky-" + t.name, Value: []byte("v"), ValueSchema: connectors.OptionalBytesSchema,
		SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"n": t.n}}}, nil
}

func (t *panicSourceTask) Commit(context.Context, []connectors.SourceOffset) error {
	if t.at == "task.commit" {
		notePanic(t.name, "Commit")
	}
	return nil
}

func (t *panicSourceTask) Stop(context.Context) error {
	t.wg.Wait()
	if t.at == "task.stop" {
		notePanic(t.name, "task Stop")
	}
	return nil
}

type panicSinkTask struct{ name, at string }

func (t *panicSinkTask) Start(_ context.Context, _ connectors.SinkTaskContext, props map[string]string) error {
	t.name, t.at = props["name"], props[panicAt]
	noteStart(t.name + "/task")
	return nil
}

func (t *panicSinkTask) Put(context.Context, []*connectors.Record) error {
	if t.at == "sink.put" {
		notePanic(t.name, "Put")
	}
	return nil
}

func (t *panicSinkTask) Flush(_ context.Context, cur map[connectors.TopicPartition]int64) (map[connectors.TopicPartition]int64, error) {
	if t.at == "sink.flush" {
		notePanic(t.name, "Flush")
	}
	return cur, nil
}

func (t *panicSinkTask) Open(context.Context, []connectors.TopicPartition) error {
	if t.at == "sink.open" {
		notePanic(t.name, "Open")
	}
	return nil
}

func (t *panicSinkTask) Close(context.Context, []connectors.TopicPartition) error { return nil }
func (t *panicSinkTask) Stop(context.Context) error                               { return nil }

// panicConverter panics when it converts; its connector's name is given
// as the converter property "name".
type panicConverter struct{ name string }

func (c *panicConverter) Configure(props map[string]string, _ bool) error {
	c.name = props["name"]
	return nil
}
func (c *panicConverter) Encode([]byte, string, *connectors.Schema, any) ([]byte, error) {
	notePanic(c.name, "a converter's Encode")
	return nil, nil
}
func (c *panicConverter) Decode(string, []byte) (*connectors.Schema, any, error) {
	notePanic(c.name, "a converter's Decode")
	return nil, nil, nil
}

// panicConverterPlugin installs panicConverter in the test workers'
// converter catalog.
var panicConverterPlugin = converter.Plugin{Name: "panicconv", New: func() converter.Converter { return &panicConverter{} }}

// configurePanics turns on the panic of a panicky transform configured
// with at=configure (off while the connector is validated).
var configurePanics atomic.Bool

// panicTransform panics on every record; transforms.<t>.name names its
// connector.
var panicTransform = transforms.Plugin{Name: "panic", NewTransform: func() transforms.Transform { return &panicky{} }}

type panicky struct{ name string }

func (*panicky) Config() *config.Def {
	return config.NewDef(config.Key{Name: "name", Type: config.String, Default: ""},
		config.Key{Name: "at", Type: config.String, Default: ""})
}
func (p *panicky) Configure(props map[string]string) error {
	p.name = props["name"]
	if props["at"] == "configure" && configurePanics.Load() {
		notePanic(p.name, "a transform's Configure")
	}
	return nil
}
func (p *panicky) Apply(*connectors.Record) (*connectors.Record, error) {
	notePanic(p.name, "a transform")
	return nil, nil
}

// TestPanicsStayInTheirTask panics in every place connector code runs and
// checks each time that only that connector or task fails (FAILED, the
// panic and its stack in the status trace), that it is restarted by its
// restart policy (two restarts, then it stays FAILED), and that the
// worker, its REST API and another connector keep running.
func TestPanicsStayInTheirTask(t *testing.T) {
	panics.Lock()
	panics.n = nil
	panics.Unlock()
	configurePanics.Store(false)
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "bystander", "config": map[string]string{
		"connector.class": "datagen", "kafka.topic": "bys", "quickstart": "pageviews", "max.interval": "20"}}, 201, nil)
	waitFor(t, "bystander RUNNING", func() bool {
		st := w.status(t, "bystander")
		return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
	})
	policy := map[string]string{"sluice.task.restart.backoff.initial.ms": "50", "sluice.task.restart.backoff.max.ms": "10000",
		"sluice.task.restart.max.attempts": "2"}

	cases := []struct {
		name, class string
		props       map[string]string
		// connector: the connector fails, not its task.
		connector bool
		// beforeStart: the task fails before its Start is called; its
		// panics count its runs.
		beforeStart bool
		// configure: created stopped, resumed once configurePanics is on.
		configure bool
	}{
		{name: "connector-start", class: "panicker", props: map[string]string{panicAt: "connector.start"}, connector: true},
		{name: "connector-taskconfigs", class: "panicker", props: map[string]string{panicAt: "connector.taskconfigs"}, connector: true},
		{name: "connector-goroutine", class: "panicker", props: map[string]string{panicAt: "connector.goroutine"}, connector: true},
		{name: "task-start", class: "panicker", props: map[string]string{panicAt: "task.start"}},
		{name: "task-poll", class: "panicker", props: map[string]string{panicAt: "task.poll"}},
		{name: "task-commit", class: "panicker", props: map[string]string{panicAt: "task.commit"}},
		{name: "task-goroutine", class: "panicker", props: map[string]string{panicAt: "task.goroutine"}},
		{name: "source-converter", class: "panicker", props: map[string]string{"value.converter": "panicconv", "value.converter.name": "source-converter"}},
		{name: "transform-configure", class: "panicker", beforeStart: true, configure: true,
			props: map[string]string{"transforms": "p", "transforms.p.type": "panic", "transforms.p.name": "transform-configure", "transforms.p.at": "configure"}},
		{name: "source-transform", class: "panicker", props: map[string]string{"transforms": "p", "transforms.p.type": "panic", "transforms.p.name": "source-transform"}},
		{name: "sink-put", class: "panicsink", props: map[string]string{panicAt: "sink.put", "topics": "bys"}},
		{name: "sink-flush", class: "panicsink", props: map[string]string{panicAt: "sink.flush", "topics": "bys"}},
		{name: "sink-open", class: "panicsink", props: map[string]string{panicAt: "sink.open", "topics": "bys"}},
		{name: "sink-converter", class: "panicsink", props: map[string]string{"topics": "bys", "value.converter": "panicconv", "value.converter.name": "sink-converter"}},
		{name: "sink-transform", class: "panicsink", props: map[string]string{"topics": "bys", "transforms": "p", "transforms.p.type": "panic", "transforms.p.name": "sink-transform"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := map[string]string{"connector.class": c.class}
			for k, v := range policy {
				cfg[k] = v
			}
			for k, v := range c.props {
				cfg[k] = v
			}
			if c.configure {
				configurePanics.Store(false)
				w.do(t, "POST", "/connectors", map[string]any{"name": c.name, "config": cfg, "initial_state": "STOPPED"}, 201, nil)
				configurePanics.Store(true)
				w.do(t, "PUT", "/connectors/"+c.name+"/resume", nil, 202, nil)
			} else {
				w.do(t, "POST", "/connectors", map[string]any{"name": c.name, "config": cfg}, 201, nil)
			}
			// The first run and two restarts panic; then it stays FAILED.
			waitFor(t, c.name+" to panic three times", func() bool { return panicCount(c.name) >= 3 })
			var trace string
			waitFor(t, c.name+" FAILED with the panic in its trace", func() bool {
				st := w.status(t, c.name)
				if c.connector {
					trace = st.Connector.Trace
					return st.Connector.State == api.StateFailed && strings.Contains(trace, "test panic")
				}
				if len(st.Tasks) != 1 {
					return false
				}
				trace = st.Tasks[0].Trace
				return st.Tasks[0].State == api.StateFailed && strings.Contains(trace, "test panic")
			})
			if !strings.Contains(trace, "goroutine ") || !strings.Contains(trace, "notePanic") {
				t.Errorf("trace has no stack of the panic:\n%s", trace)
			}
			// No more restarts: the policy allows two.
			time.Sleep(500 * time.Millisecond)
			key := c.name + "/task"
			switch {
			case c.connector:
				key = c.name + "/connector"
			case c.beforeStart:
				key = c.name
			}
			if n := panicCount(key); n != 3 {
				t.Errorf("%s started %d times, want 3 (first run and two restarts)", key, n)
			}
			if st := w.status(t, c.name); (c.connector && st.Connector.State != api.StateFailed) ||
				(!c.connector && (len(st.Tasks) != 1 || st.Tasks[0].State != api.StateFailed)) {
				t.Errorf("%s after its last restart: %+v, want FAILED", c.name, st)
			}
			w.do(t, "GET", "/", nil, 200, nil)
			if st := w.status(t, "bystander"); st.Connector.State != api.StateRunning || len(st.Tasks) != 1 || st.Tasks[0].State != api.StateRunning {
				t.Fatalf("bystander not running after %s panicked: %+v", c.name, st)
			}
			w.do(t, "DELETE", "/connectors/"+c.name, nil, 204, nil)
		})
	}

	// A panic in Validate is a validation error, and in Stop a logged
	// failure: neither takes the worker down.
	t.Run("connector-validate", func(t *testing.T) {
		var infos struct {
			ErrorCount int `json:"error_count"`
			Configs    []struct {
				Value struct {
					Errors []string `json:"errors"`
				} `json:"value"`
			} `json:"configs"`
		}
		w.do(t, "PUT", "/connector-plugins/panicker/config/validate", map[string]string{
			"connector.class": "panicker", "name": "connector-validate", panicAt: "connector.validate"}, 200, &infos)
		if panicCount("connector-validate") != 1 || infos.ErrorCount == 0 {
			t.Fatalf("validate: %d panics, %d errors; want 1 and at least 1", panicCount("connector-validate"), infos.ErrorCount)
		}
		// So is a panic in a transform's Configure.
		configurePanics.Store(true)
		infos.ErrorCount = 0
		w.do(t, "PUT", "/connector-plugins/panicker/config/validate", map[string]string{
			"connector.class": "panicker", "name": "transform-validate", "transforms": "p", "transforms.p.type": "panic",
			"transforms.p.name": "transform-validate", "transforms.p.at": "configure"}, 200, &infos)
		if panicCount("transform-validate") != 1 || infos.ErrorCount == 0 {
			t.Fatalf("validate: %d panics, %d errors; want 1 and at least 1", panicCount("transform-validate"), infos.ErrorCount)
		}
	})
	for _, at := range []string{"connector.stop", "task.stop"} {
		name := strings.ReplaceAll(at, ".", "-")
		t.Run(name, func(t *testing.T) {
			w.do(t, "POST", "/connectors", map[string]any{"name": name, "config": map[string]string{
				"connector.class": "panicker", panicAt: at}}, 201, nil)
			waitFor(t, name+" RUNNING", func() bool {
				st := w.status(t, name)
				return len(st.Tasks) == 1 && st.Tasks[0].State == api.StateRunning
			})
			w.do(t, "DELETE", "/connectors/"+name, nil, 204, nil)
			waitFor(t, name+" to panic in Stop", func() bool { return panicCount(name) == 1 })
			w.do(t, "GET", "/", nil, 200, nil)
			if st := w.status(t, "bystander"); st.Tasks[0].State != api.StateRunning {
				t.Fatalf("bystander not running after %s panicked: %+v", name, st)
			}
		})
	}
}

// The promise runs on the producer's goroutine: a panic there fails the
// task instead of the process.
func TestPanicInPromiseFailsTheTask(t *testing.T) {
	var r sourceRunner
	// A record whose slabs are nil makes the promise dereference nil.
	r.done(nil, nil)
	e := r.produceErr.Load()
	var pe *connectors.PanicError
	if e == nil || !errors.As(*e, &pe) {
		t.Fatalf("produceErr = %v, want a *connectors.PanicError", e)
	}
}

// raiserCtx holds the context of the last started raiser connector.
var raiserCtx struct {
	sync.Mutex
	cctx connectors.ConnectorContext
	n    int
}

type raiserConnector struct{ hangConnector }

func (raiserConnector) NewTask() connectors.SourceTask { return &markerTask{} }

func (raiserConnector) Start(_ context.Context, cctx connectors.ConnectorContext, _ map[string]string) error {
	raiserCtx.Lock()
	raiserCtx.cctx = cctx
	raiserCtx.n++
	raiserCtx.Unlock()
	return nil
}

// RaiseError fails the connector from the herder's own goroutine (no
// goroutine of its own for goleak to find), the connector restarts by its
// policy, and an error raised by an instance that was since stopped is
// ignored.
func TestRaiseErrorFailsTheConnectorFromTheHerder(t *testing.T) {
	raiserCtx.Lock()
	raiserCtx.cctx, raiserCtx.n = nil, 0
	raiserCtx.Unlock()
	w := startWorker(t, nil)
	w.do(t, "POST", "/connectors", map[string]any{"name": "raiser", "config": map[string]string{
		"connector.class": "raiser", "sluice.task.restart.backoff.initial.ms": "200"}}, 201, nil)
	started := func() (connectors.ConnectorContext, int) {
		raiserCtx.Lock()
		defer raiserCtx.Unlock()
		return raiserCtx.cctx, raiserCtx.n
	}
	waitFor(t, "raiser RUNNING", func() bool {
		_, n := started()
		return n == 1 && w.status(t, "raiser").Connector.State == api.StateRunning
	})
	first, _ := started()
	first.RaiseError(errors.New("the source went away"))
	first.RaiseError(errors.New("a second error is not the cause"))
	waitFor(t, "raiser FAILED with the raised error", func() bool {
		st := w.status(t, "raiser").Connector
		return st.State == api.StateFailed && strings.Contains(st.Trace, "the source went away")
	})
	waitFor(t, "raiser restarted by its policy", func() bool {
		_, n := started()
		return n == 2 && w.status(t, "raiser").Connector.State == api.StateRunning
	})
	// The first instance is stopped: what it raises now changes nothing.
	first.RaiseError(errors.New("late error of a stopped instance"))
	time.Sleep(300 * time.Millisecond)
	if st := w.status(t, "raiser").Connector; st.State != api.StateRunning {
		t.Fatalf("a stopped instance's error failed the running connector: %+v", st)
	}
}
