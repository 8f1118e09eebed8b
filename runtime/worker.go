// Package runtime is the Sluice worker: the herder that runs connectors
// and tasks, the source and sink task loops, the state stores on
// compacted topics, and the REST API wiring.
package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/internal/kafkasec"
	"github.com/sluice-cdc/sluice/runtime/broker"
	"github.com/sluice-cdc/sluice/runtime/configstore"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/sluice-cdc/sluice/runtime/offsetstore"
	"github.com/sluice-cdc/sluice/runtime/pool/member"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
	"github.com/sluice-cdc/sluice/runtime/registry"
	"github.com/sluice-cdc/sluice/runtime/rest"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configure a worker.
type Options struct {
	Config     *config.Worker
	Plugins    *connectors.Registry
	Transforms *transforms.Registry
	// Converters are the converters key.converter and value.converter
	// name; nil means converter.Builtin().
	Converters *converter.Catalog
	Logger     *slog.Logger
	Version    string
	Commit     string
	// Started is when the process started, for the readiness log line.
	Started time.Time
	// TaskHost runs the tasks of connectors with task.isolation=process;
	// zero: this binary with the task-host command.
	TaskHost TaskHost
	// Ready, if set, is called with the REST address once the worker
	// serves requests.
	Ready func(restAddr string)
}

// UnreachableError says the brokers did not answer in time.
type UnreachableError struct {
	Servers []string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach Kafka at bootstrap.servers=%s: %v; check the address and that the brokers are up, "+
		"or leave bootstrap.servers empty to use the embedded broker", strings.Join(e.Servers, ","), e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// baseClientOpts are the options of every Kafka client of a worker and
// of its task processes.
func baseClientOpts(servers []string) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(servers...), kgo.DialTimeout(5 * time.Second),
		kgo.MetadataMinAge(250 * time.Millisecond)}
}

// Run runs a worker until ctx ends, then stops every task and returns.
// It returns an error, without starting anything, when the brokers are
// unreachable, a state topic is misconfigured, the data directory is in
// use or the REST address is taken.
func Run(ctx context.Context, o Options) error {
	logger := o.Logger
	cfg := o.Config
	// The REST listener's TLS, credentials and allowed hosts are read
	// first, so a mistake there stops the worker before anything starts.
	restListener, err := rest.ListenerFromConfig(cfg, logger.With("component", "rest"))
	if err != nil {
		return err
	}
	servers := cfg.BootstrapServers()
	embedded := len(servers) == 0
	if embedded {
		b, err := broker.Start(cfg.String(config.DataDir), cfg.String(config.BrokerListen), logger,
			broker.CleanerInterval(cfg.Duration(config.BrokerCleanerInterval)))
		if err != nil {
			return err
		}
		defer b.Close()
		// The broker locked the data directory: no other worker uses it,
		// and scratch files there are left by a run that crashed.
		if err := removeScratchDirs(cfg.String(config.DataDir)); err != nil {
			return err
		}
		servers = []string{b.Addr()}
		logger.Info("started the embedded single-node broker (for development; set bootstrap.servers to use a Kafka or Redpanda cluster)",
			"listen", b.Addr(), "data_dir", cfg.String(config.DataDir), "durability", broker.Durability)
	}
	// MetadataMinAge: a record for a topic that does not exist yet (a new
	// table's first change) waits for a metadata refresh after the topic
	// is created; franz-go's default of 5 s between refreshes delayed the
	// first records of every new topic by up to 5 s.
	clientOpts := baseClientOpts(servers)
	// Security of each client: admin.*, producer.* and consumer.*
	// override the unprefixed properties; the state topics' clients use
	// the unprefixed ones. All are read now, so a mistake in any stops
	// the worker before anything starts.
	sec, err := workerKafkaSecurity(cfg.Props)
	if err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	sec.servers = servers

	admClient, err := kgo.NewClient(withOpts(clientOpts, sec.admin.Opts...)...)
	if err != nil {
		return fmt.Errorf("bootstrap.servers: %w", err)
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	mctx, cancel := context.WithTimeout(ctx, cfg.Duration(config.BrokerStartTimeout))
	meta, err := adm.BrokerMetadata(mctx)
	cancel()
	if err != nil {
		if e := kafkasec.Explain(err, sec.admin, servers); e != err {
			return e
		}
		return &UnreachableError{Servers: servers, Err: err}
	}
	// The state topics' clients may authenticate differently from the
	// admin client: check them now too, for a clear error at start.
	if sec.log != sec.admin {
		if err := checkClient(ctx, withOpts(clientOpts, sec.log.Opts...), sec.log, servers, cfg.Duration(config.BrokerStartTimeout)); err != nil {
			return err
		}
	}

	topics := stateTopics(cfg)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := ensureStateTopics(tctx, adm, topics, embedded, servers, logger); err != nil {
		if d := stateTopicsDenied(err, topics, sec.admin); d != nil {
			return d
		}
		return kafkasec.Explain(err, sec.admin, servers)
	}
	if err := checkSinglePartition(tctx, adm, topics[configsTopic].Name); err != nil {
		return err
	}

	listener, err := listen(restListener.Addr)
	if err != nil {
		return err
	}
	defer listener.Close()
	workerID, workerURL, err := advertised(cfg, restListener.Scheme, listener.Addr())
	if err != nil {
		return err
	}
	signCfg, err := sign.ParseConfig(cfg.Props)
	if err != nil {
		return fmt.Errorf("worker config: %w", err)
	}

	converters := o.Converters
	if converters == nil {
		converters = converter.Builtin()
	}
	h := &Herder{
		workerID: workerID, worker: cfg, plugins: o.Plugins, transforms: o.Transforms, converters: converters, adm: adm,
		clientOpts: clientOpts, sec: sec, clusterID: meta.Cluster, version: o.Version, commit: o.Commit,
		keyConv: converter.SettingFrom(cfg.Props, true), valConv: converter.SettingFrom(cfg.Props, false),
		logger: logger.With("worker", workerID), wake: make(chan struct{}, 1), taskHost: o.TaskHost,
	}
	if h.providers, err = config.NewProviders(cfg.Props); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	keys, err := keyringFrom(cfg)
	if err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	h.topics = newTopicCreator(adm, cfg.Values.Bool(config.TopicCreationEnable), h.logger)
	h.keyConv.Class, h.valConv.Class = cfg.String(config.KeyConverter), cfg.String(config.ValueConverter)
	h.mu.conns = map[string]*connState{}

	newLog := func(topic string) func(func(kafkalog.Record)) (*kafkalog.Log, error) {
		return func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.New(topic, cb, withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-"+topic))...)...)
		}
	}
	configsLog := newLog(topics[configsTopic].Name)
	if cfg.String(config.ExactlyOnceSourceSupport) != eosDisabled {
		// The leader writes in transactions (pool.go, claim): apply only
		// what committed, never what a fenced leader had begun.
		configsLog = func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.NewCommitted(topics[configsTopic].Name, cb, withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-"+topics[configsTopic].Name))...)...)
		}
	}
	if h.configs, err = configstore.Open(configsLog, logger, h.signal); err != nil {
		return err
	}
	h.configs.OnRestart(h.applyRestart)
	if keys != nil {
		h.configs.Encrypt(keys, h.sensitiveAtRest)
		logger.Info("encrypting sensitive values in the configs topic", "key_id", keys.CurrentID())
	} else {
		logger.Info("config.encryption.key is not set: connector passwords are stored in plain text in the configs topic")
	}
	defer h.configs.Close()
	offsetsLog := newLog(topics[offsetsTopic].Name)
	if cfg.String(config.ExactlyOnceSourceSupport) != eosDisabled {
		// Exactly-once tasks write their offsets in transactions: read
		// only what committed.
		offsetsLog = func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.NewCommitted(topics[offsetsTopic].Name, cb, withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-"+topics[offsetsTopic].Name))...)...)
		}
	}
	if h.offsets, err = offsetstore.Open(offsetsLog, logger); err != nil {
		return err
	}
	defer h.offsets.Close()
	if h.status, err = openStatusStore(newLog(topics[statusTopic].Name), logger, cfg.Duration(config.TaskShutdownGracefulTimeout)); err != nil {
		return err
	}
	defer h.status.log.Close()
	starts := []interface{ Start(context.Context) error }{h.configs, h.offsets, h.status.log}
	var schemas *registry.Store
	if len(topics) > schemasTopic {
		if schemas, err = registry.Open(func(cb func(kafkalog.Record)) (registry.Log, error) {
			return newLog(topics[schemasTopic].Name)(cb)
		}, logger.With("component", "schema-registry")); err != nil {
			return err
		}
		defer schemas.Close()
		h.schemas = schemas
		// The Avro converter uses the built-in registry unless a
		// connector or the worker sets schema.registry.url.
		h.keyConv.Registry, h.valConv.Registry = schemas, schemas
		starts = append(starts, schemas)
	}
	for _, s := range starts {
		if err := s.Start(tctx); err != nil {
			return fmt.Errorf("reading state topics: %w", err)
		}
	}

	// The pool: this worker's membership in the group of its group.id.
	poolClient, err := kgo.NewClient(withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-pool-"+workerID))...)...)
	if err != nil {
		return fmt.Errorf("bootstrap.servers: %w", err)
	}
	defer poolClient.Close()
	sessionKeys := &sign.Holder{}
	p := &workerPool{h: h, url: workerURL, scheme: restListener.Scheme, sign: signCfg, keys: sessionKeys,
		maxDelay: cfg.Duration(config.ScheduledRebalanceMaxDelay), syncTimeout: cfg.Duration(config.WorkerSyncTimeout),
		logger: h.logger.With("component", "pool")}
	if s := cfg.String(config.RESTAdvertisedListener); s != "" {
		p.scheme = s
	}
	internal := rest.NewInternalClient(restListener.ClientTLS, signCfg, sessionKeys)
	p.forwardTasks = internal.PutTaskConfigs
	if p.member, err = member.New(poolClient, memberConfig(cfg, p.logger), p.state, p); err != nil {
		return fmt.Errorf("worker config: %w", err)
	}
	h.pool = p
	h.fenceClient = poolClient
	if h.eosMode() != eosDisabled {
		h.configs.RequireClaim()
	}
	p.newTxnClient = func(txnID string) (*kgo.Client, error) {
		return kgo.NewClient(withOpts(clientOpts, append(sec.log.Opts, kgo.ClientID("sluice-leader-"+workerID),
			kgo.TransactionalID(txnID), kgo.TransactionTimeout(transactionTimeout),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))...)...)
	}
	h.mu.own = newOwnership()

	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	restOpts := restListener.Options
	restOpts = append(restOpts, rest.WithInternal(h, sessionKeys, signCfg), rest.WithForwardingTLS(restListener.ClientTLS))
	if cfg.Values.Bool(config.DebugPprof) {
		restOpts = append(restOpts, rest.WithHandler("/sluice/debug/pprof/", http.HandlerFunc(pprofIndex)))
	}
	// The built-in schema registry: at its Confluent paths on the REST
	// listener (behind its authentication), or on a listener of its own.
	var regServer *http.Server
	if ls := cfg.Values.List(config.SchemaRegistryListeners); schemas == nil && len(ls) > 0 {
		return fmt.Errorf("%s is set but %s is empty (the built-in schema registry is off); set one or clear the other", config.SchemaRegistryListeners, config.SchemaRegistryTopic)
	} else if len(ls) > 0 {
		if regServer, err = registryServer(cfg, ls, schemas, logger); err != nil {
			return err
		}
		defer regServer.Close()
	} else if schemas != nil {
		regHandler := schemas.Handler(registry.WithLogger(logger.With("component", "schema-registry")))
		for _, pattern := range []string{"/subjects", "/subjects/", "/schemas/", "/config", "/config/", "/compatibility/"} {
			restOpts = append(restOpts, rest.WithHandler(pattern, regHandler))
		}
	}
	srv := rest.New(h, logger.With("component", "rest"), restOpts...)
	restErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		restErr <- srv.Serve(runCtx, listener)
	}()
	go func() {
		defer wg.Done()
		h.run(runCtx)
	}()
	p.member.Start()
	poolErr := make(chan error, 1)
	go func() {
		select {
		case <-p.member.Done():
			// The membership stopped by itself: a failure the user must
			// fix (the broker refused the group settings, or denied the
			// group). The worker stops rather than sit idle.
			if err := p.member.Close(context.Background()); err != nil {
				poolErr <- fmt.Errorf("the worker cannot stay in its pool (group.id=%s): %w", cfg.String(config.GroupID), err)
			}
		case <-runCtx.Done():
		}
	}()
	logger.Info("worker ready", "rest", restListener.Scheme+"://"+listener.Addr().String(), "kafka", strings.Join(servers, ","),
		"cluster_id", meta.Cluster, "startup", time.Since(o.Started).Round(time.Millisecond))
	if o.Ready != nil {
		o.Ready(listener.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err = <-restErr:
	case err = <-poolErr:
	}
	stop()
	wg.Wait()
	// Leave the group once everything is stopped, so that the other
	// workers take this worker's work at once rather than after
	// session.timeout.ms.
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = p.member.Close(lctx)
	lcancel()
	if cl := h.configs.Release(); cl != nil {
		cl.Close()
	}
	logger.Info("worker stopped")
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// registryServer starts the schema registry's own listener
// (schema.registry.listeners). It serves without authentication, so it is
// refused when the REST API requires some.
func registryServer(cfg *config.Worker, ls []string, schemas *registry.Store, logger *slog.Logger) (*http.Server, error) {
	for _, k := range []string{config.RESTAuthBasicFile, config.RESTAuthTokensFile} {
		if cfg.String(k) != "" {
			return nil, fmt.Errorf("%s cannot be used with %s: the registry's own listener has no authentication; leave %s empty to serve the registry on the REST listener, behind its authentication",
				config.SchemaRegistryListeners, k, config.SchemaRegistryListeners)
		}
	}
	if len(ls) != 1 {
		return nil, fmt.Errorf("%s: one listener, as http://host:port (got %d)", config.SchemaRegistryListeners, len(ls))
	}
	u, err := url.Parse(ls[0])
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: must be http://host:port (https is served on the REST listener)", config.SchemaRegistryListeners, ls[0])
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot listen on %s: %w", config.SchemaRegistryListeners, u.Host, err)
	}
	srv := &http.Server{Handler: schemas.Handler(registry.WithLogger(logger.With("component", "schema-registry"))), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("schema registry listening", "listener", "http://"+ln.Addr().String())
	return srv, nil
}

// checkSinglePartition refuses a configs topic with more than one
// partition: config order would be lost (as Kafka Connect refuses).
func checkSinglePartition(ctx context.Context, adm *kadm.Client, topic string) error {
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describing %s: %w", topic, err)
	}
	if t, ok := td[topic]; ok && len(t.Partitions) > 1 {
		return fmt.Errorf("topic %q has %d partitions, but the configs topic must have exactly 1 so that config changes keep their order; "+
			"point config.storage.topic at a new topic (it is created with 1 partition)", topic, len(t.Partitions))
	}
	return nil
}

// listen opens the REST listener on addr.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("REST API cannot listen on %s: %w (set listeners=http://host:port to a free address)", addr, err)
	}
	return ln, nil
}

// pprofIndex serves net/http/pprof under /sluice/debug/pprof/.
func pprofIndex(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/sluice/debug/pprof/")
	switch name {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "cmdline":
		pprof.Cmdline(w, r)
	case "":
		pprof.Index(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}
