package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/sluice-cdc/sluice/runtime/offsetstore"
	"github.com/sluice-cdc/sluice/runtime/registry"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TaskHostOptions are what a task host runs tasks with: the same
// plugins, transforms and converters as the worker that starts it.
type TaskHostOptions struct {
	Plugins    *connectors.Registry
	Transforms *transforms.Registry
	Converters *converter.Catalog
	// Log receives the host's log lines (the parent reads them).
	Log io.Writer
}

// RunTaskHost runs one task for a worker with task.isolation=process
// (see isolation.go): it reads the task from in, builds it with the
// worker's own code (Herder.buildTask) and runs it until in is closed or
// the task ends, writing its reports to reports. It returns once the task
// stopped and its end was reported.
func RunTaskHost(ctx context.Context, o TaskHostOptions, in io.Reader, reports io.Writer) error {
	if os.Getppid() == 1 {
		return errors.New("the worker that started this task process is gone")
	}
	dec := json.NewDecoder(in)
	var init hostInit
	if err := dec.Decode(&init); err != nil {
		return fmt.Errorf("reading the task: %w", err)
	}
	var repMu sync.Mutex
	enc := json.NewEncoder(reports)
	report := func(r hostReport) {
		repMu.Lock()
		defer repMu.Unlock()
		_ = enc.Encode(r)
	}
	// Whatever fails from here fails the task, with its trace.
	err := runHostedTask(ctx, o, init, dec, report)
	trace := ""
	if err != nil {
		trace = traceOf(err)
	}
	report(hostReport{Kind: "exit", Trace: trace})
	return nil
}

func runHostedTask(ctx context.Context, o TaskHostOptions, init hostInit, dec *json.Decoder, report func(hostReport)) error {
	cfg, err := config.LoadWorker("", nil, init.Worker)
	if err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	if o.Converters == nil {
		o.Converters = converter.Builtin()
	}
	// JSON, which the parent logs again as its own lines (relogHostLine).
	logger := slog.New(slog.NewJSONHandler(o.Log, &slog.HandlerOptions{Level: logLevel(cfg.String(config.WorkerLogLevel))}))
	clientOpts := baseClientOpts(init.Servers)
	sec, err := workerKafkaSecurity(cfg.Props)
	if err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	sec.servers = init.Servers
	admClient, err := kgo.NewClient(withOpts(clientOpts, sec.admin.Opts...)...)
	if err != nil {
		return err
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	h := &Herder{workerID: init.WorkerID, worker: cfg, plugins: o.Plugins, transforms: o.Transforms, converters: o.Converters, adm: adm,
		clientOpts: clientOpts, sec: sec,
		keyConv: converter.SettingFrom(cfg.Props, true), valConv: converter.SettingFrom(cfg.Props, false),
		logger: logger, wake: make(chan struct{}, 1), hostStanding: &atomic.Bool{}}
	h.hostStanding.Store(init.Standing)
	h.keyConv.Class, h.valConv.Class = cfg.String(config.KeyConverter), cfg.String(config.ValueConverter)
	if h.providers, err = config.NewProviders(cfg.Props); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	h.topics = newTopicCreator(adm, cfg.Values.Bool(config.TopicCreationEnable), logger)

	// The state the task reads: committed offsets, and the built-in
	// schema registry for the Avro converter.
	topics := stateTopics(cfg)
	newLog := func(topic string) func(func(kafkalog.Record)) (*kafkalog.Log, error) {
		return func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			opts := withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-task-"+topic))...)
			if topic == topics[offsetsTopic].Name && cfg.String(config.ExactlyOnceSourceSupport) != eosDisabled {
				return kafkalog.NewCommitted(topic, cb, opts...)
			}
			return kafkalog.New(topic, cb, opts...)
		}
	}
	if h.offsets, err = offsetstore.Open(newLog(topics[offsetsTopic].Name), logger); err != nil {
		return err
	}
	defer h.offsets.Close()
	starts := []interface{ Start(context.Context) error }{h.offsets}
	if len(topics) > schemasTopic {
		schemas, err := registry.Open(func(cb func(kafkalog.Record)) (registry.Log, error) {
			return newLog(topics[schemasTopic].Name)(cb)
		}, logger.With("component", "schema-registry"))
		if err != nil {
			return err
		}
		defer schemas.Close()
		h.schemas = schemas
		h.keyConv.Registry, h.valConv.Registry = schemas, schemas
		starts = append(starts, schemas)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	for _, s := range starts {
		if err := s.Start(sctx); err != nil {
			cancel()
			return fmt.Errorf("reading state topics: %w", err)
		}
	}
	cancel()

	plugin, err := o.Plugins.Lookup(init.ConnRaw[propClass])
	if err != nil {
		return err
	}
	pause := &pauser{}
	pause.set(init.Paused)
	b := &taskBuild{id: api.TaskID{Connector: init.Connector, Task: init.Task}, connRaw: init.ConnRaw, taskRaw: init.TaskRaw,
		plugin: plugin, pause: pause, ntasks: init.NTasks,
		onRunning: func() { report(hostReport{Kind: "running"}) },
		onProblem: func(err error) { report(hostReport{Kind: "problem", Trace: traceOf(err)}) },
		onTopic:   func(t string) { report(hostReport{Kind: "topic", Topic: t}) },
		setRes:    func(*config.Resolved) {}}
	run, _, _, err := h.buildTask(b)
	if err != nil {
		return err
	}
	// The parent's control messages; the end of stdin stops the task.
	// This goroutine is not waited for: the parent closes stdin only
	// once the process reported its end, and the process exits then.
	tctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		defer stop()
		for {
			var c hostControl
			if err := dec.Decode(&c); err != nil {
				return
			}
			pause.set(c.Paused)
			h.hostStanding.Store(c.Standing)
		}
	}()
	// nil: stopped, or (when the parent did not ask) the task returned
	// by itself, which the parent fails as in its own process.
	return connectors.Protect(func() error { return run(tctx) })
}

func logLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		l = slog.LevelInfo
	}
	return l
}
