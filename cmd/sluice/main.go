// Command sluice is the Sluice binary: the worker, the embedded broker on
// its own, and operator commands that talk to a worker's REST API.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/datagen"
	"github.com/sluice-cdc/sluice/connectors/jdbc"
	"github.com/sluice-cdc/sluice/connectors/mysql"
	"github.com/sluice-cdc/sluice/connectors/postgres"
	"github.com/sluice-cdc/sluice/connectors/s3"
	"github.com/sluice-cdc/sluice/internal/pages"
	"github.com/sluice-cdc/sluice/runtime"
	"github.com/sluice-cdc/sluice/runtime/broker"
	"github.com/sluice-cdc/sluice/runtime/converter"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
	"github.com/sluice-cdc/sluice/transforms"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "0.1.0-dev"
	commit  = "unknown"
)

var started = time.Now()

// plugins lists every connector built into the binary.
func plugins() *connectors.Registry {
	return connectors.NewRegistry(datagen.Plugin(), jdbc.Plugin(), mysql.Plugin(), postgres.Plugin(), s3.Plugin(), s3.RestorePlugin())
}

func transformRegistry() *transforms.Registry { return transforms.Builtin() }

const usage = `sluice: change data capture connectors, one binary.

Usage:
  sluice worker [flags]          run a worker (embedded broker unless bootstrap.servers is set)
  sluice broker [flags]          run the embedded broker alone, for several workers (each with its own state topics)
  sluice connectors <command>    manage connectors through a worker's REST API
  sluice docs [-out DIR]         write the reference pages (DIR/../configuration.md and DIR/*.md; DIR=docs/connectors)
  sluice version                 print the version

Run 'sluice <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "worker":
		err = workerCmd(os.Args[2:])
	case "broker":
		err = brokerCmd(os.Args[2:])
	case "connectors":
		err = connectorsCmd(os.Args[2:], os.Stdout)
	case "docs":
		err = docsCmd(os.Args[2:])
	case "task-host":
		// Hidden: a worker starts it for a task with task.isolation=process.
		// Unlike the worker it keeps GOGC at 100: its memory is what is
		// bounded (GOMEMLIMIT comes from task.memory.max.bytes), and GOGC=200
		// took a full-speed datagen task from ~82 to ~100-120 MiB RSS for no
		// CPU gain measurable on the shared machine (BenchmarkTaskIsolation).
		err = runtime.RunTaskHost(context.Background(), runtime.TaskHostOptions{Plugins: plugins(), Transforms: transformRegistry(),
			Converters: converter.Builtin(), Log: os.Stderr}, os.Stdin, os.NewFile(3, "reports"))
	case "version", "--version", "-v":
		fmt.Printf("sluice %s (%s)\n", version, commit)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "sluice: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "sluice: %v\n", err)
		}
		os.Exit(1)
	}
}

func newLogger(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func workerCmd(args []string) error {
	if os.Getenv("GOGC") == "" {
		// The worker's live heap is small (tens of MB) and its garbage is
		// mostly short-lived record buffers: collecting at 3x the live heap
		// instead of 2x measurably cuts GC CPU on the record path (see
		// docs/benchmarks.md) for a few MB more. GOGC overrides it.
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: near it the GC runs more often instead of letting
		// GOGC triple a heap of in-flight records, which keeps RSS under
		// 100 MB streaming or snapshotting PostgreSQL at full speed
		// (docs/benchmarks.md). It is not a cap: a larger live heap still
		// gets the memory it needs.
		debug.SetMemoryLimit(76 << 20)
	}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	file := fs.String("config", "", "worker config file (.properties, .yaml or .yml)")
	flags := map[string]*string{
		config.BootstrapServers: fs.String("bootstrap-servers", "", "Kafka brokers (host:port,...); empty starts the embedded broker"),
		config.DataDir:          fs.String("data-dir", "", "data directory: the embedded broker's data and tasks' scratch files (default ./sluice-data)"),
		config.BrokerListen:     fs.String("broker-listen", "", "embedded broker address (default 127.0.0.1:9092)"),
		config.Listeners:        fs.String("listeners", "", "REST API listener (default http://127.0.0.1:8083)"),
		config.GroupID:          fs.String("group-id", "", "worker cluster id (default sluice)"),
		config.WorkerLogLevel:   fs.String("log-level", "", "debug, info, warn or error (default info)"),
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice worker [flags]\n\nEvery worker property (see docs/configuration.md) can also be set in the --config file\nor as SLUICE_<PROPERTY> in the environment (SLUICE_BOOTSTRAP_SERVERS=...).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]string{}
	for k, v := range flags {
		if *v != "" {
			set[k] = *v
		}
	}
	cfg, err := config.LoadWorker(*file, os.Environ(), set)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.String(config.WorkerLogLevel), os.Stderr)
	ctx, cancel := signalContext()
	defer cancel()
	// Once the worker has started, and again once its first connectors
	// have, the binary's pages only the start-up read leave its resident
	// set (internal/pages).
	for _, after := range []time.Duration{time.Second, 15 * time.Second} {
		drop := time.AfterFunc(after, func() { pages.DropStartup(logger) })
		defer drop.Stop()
	}
	return runtime.Run(ctx, runtime.Options{Config: cfg, Plugins: plugins(), Transforms: transformRegistry(),
		Converters: converter.Builtin(), Logger: logger, Version: version, Commit: commit, Started: started})
}

func brokerCmd(args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	listen := fs.String("listen", config.DefaultEmbeddedBrokerAddress, "address to listen on")
	dir := fs.String("data-dir", "./sluice-data", "data directory")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	var users, supers, acls repeated
	fs.Var(&users, "sasl-user", "SASL user as MECHANISM:USER:PASSWORD (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512); repeatable; any turns SASL on")
	fs.Var(&supers, "superuser", "name of a --sasl-user that bypasses ACLs; repeatable; any turns ACLs on")
	fs.Var(&acls, "acl", "ACL as principal=User:NAME,operation=OP,topic=NAME (or group=, transactional-id=, cluster)[,pattern=prefixed][,deny]; repeatable; any turns ACLs on")
	tlsCert := fs.String("tls-cert", "", "PEM certificate chain file: the listener speaks TLS only (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM unencrypted private key file of --tls-cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := newLogger(*level, os.Stderr)
	sec, err := brokerSecurity(users, supers, acls, *tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	b, err := broker.Start(*dir, *listen, logger, broker.WithSecurity(sec))
	if err != nil {
		return err
	}
	defer b.Close()
	logger.Info("broker ready", "listen", b.Addr(), "data_dir", *dir, "cluster_id", b.ClusterID(), "durability", broker.Durability,
		"tls", sec.TLS != nil, "sasl_users", len(sec.Users), "acls", len(sec.ACLs))
	ctx, cancel := signalContext()
	defer cancel()
	<-ctx.Done()
	logger.Info("broker stopping")
	return nil
}

func docsCmd(args []string) error {
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	out := fs.String("out", "docs/connectors", "directory for the connector pages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ref := config.WorkerDef.Markdown("Configuration reference", workerIntro) +
		demote(sign.Defs.Markdown("Signed requests between the workers of a pool", "Worker properties of the session key the pool's workers sign their internal requests with (docs/security.md).")) +
		demote(runtime.CommonConfig(false).Markdown("Properties of every connector", commonIntro)) +
		demote(runtime.SourceConfig().Markdown("Properties of every source connector", sourceIntro)) +
		demote(runtime.CommonConfig(true).Markdown("Properties of every sink connector", ""))
	if err := os.WriteFile(filepath.Join(*out, "..", "configuration.md"), []byte(ref), 0o644); err != nil {
		return err
	}
	for _, p := range plugins().Plugins() {
		names := "`" + p.Name + "`"
		if p.Class != p.Name {
			names += ", `" + p.Class + "`"
		}
		for _, a := range p.Aliases {
			names += ", `" + a + "`"
		}
		intro := fmt.Sprintf("A %s connector. `connector.class`: %s. Besides the properties below, every connector takes the "+
			"common ones (`name`, `connector.class`, `tasks.max`, converters, `transforms`, error handling and restart policy) "+
			"described in [configuration.md](../configuration.md).", p.Type, names)
		md := p.New().Config().Markdown(p.Name+" connector", intro)
		if err := os.WriteFile(filepath.Join(*out, p.Name+".md"), []byte(md), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// demote turns a page into a section: one heading level down.
func demote(md string) string {
	return strings.ReplaceAll("\n"+md, "\n#", "\n##")
}

const workerIntro = `Worker properties use Kafka Connect's names where Connect has the property. Set them in a
.properties or YAML file given with --config, as SLUICE_<NAME> environment variables (upper case, dots
as underscores: SLUICE_BOOTSTRAP_SERVERS), or with the flags of ` + "`sluice worker -h`" + `, in increasing
order of precedence. Properties starting with key.converter. and value.converter. configure the
converters (key.converter.schemas.enable=false).

The worker's own properties, by group:`

const commonIntro = `Connector configs use Kafka Connect's, Debezium's and Confluent's property names. Values may
reference the config providers the worker enables (config.providers, off by default), resolved
when a connector or task starts and never stored resolved: ${file:/path/to/file.properties:key},
${env:VAR}, ${dir:/path/to/dir:file} with the provider names the worker gives them; see
[security.md](security.md). Each connector's own properties are in [connectors/](connectors/).`

const sourceIntro = `How the worker creates the topics a source connector writes (Kafka Connect's KIP-158). The
worker creates each topic through the admin API before the first record to it, and never relies on
the brokers' auto-creation (the embedded broker has it off). Groups listed in topic.creation.groups
are tried in order; the first whose topic.creation.<group>.include matches the whole topic name, and
whose .exclude does not, creates the topic with its .partitions, .replication.factor and any other
topic.creation.<group>.<topic config>; a topic no group matches is created by the default group.
Unlike Kafka Connect, which creates nothing unless topic.creation.default.partitions and
.replication.factor are set, Sluice creates topics in every case, with the brokers' defaults (1
partition on the embedded broker and on a default Kafka) unless configured. Regular expressions use
Go's RE2 syntax. A topic that exists already is used as it is.`

func connectorsCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("connectors", flag.ContinueOnError)
	var o clientOptions
	fs.StringVar(&o.url, "url", envOr("SLUICE_URL", "http://127.0.0.1:8083"), "worker REST URL, http:// or https:// (SLUICE_URL)")
	fs.StringVar(&o.user, "user", os.Getenv("SLUICE_USER"), "user for basic authentication (SLUICE_USER); the password comes from SLUICE_PASSWORD or -password-file")
	fs.StringVar(&o.passwordFile, "password-file", os.Getenv("SLUICE_PASSWORD_FILE"), "file holding the password of -user (SLUICE_PASSWORD_FILE)")
	fs.StringVar(&o.token, "token", os.Getenv("SLUICE_TOKEN"), "bearer token (SLUICE_TOKEN; prefer the variable: flags show in ps)")
	fs.StringVar(&o.cacert, "cacert", os.Getenv("SLUICE_CACERT"), "PEM file of the CA that signed the worker's certificate (SLUICE_CACERT)")
	fs.StringVar(&o.cert, "cert", os.Getenv("SLUICE_CERT"), "PEM client certificate (SLUICE_CERT)")
	fs.StringVar(&o.key, "key", os.Getenv("SLUICE_KEY"), "PEM private key of -cert (SLUICE_KEY)")
	o.password = os.Getenv("SLUICE_PASSWORD")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: sluice connectors [-url URL] [credentials] <command>

Commands:
  list                     names of the connectors
  get NAME                 a connector's config and tasks
  status NAME              a connector's and its tasks' states
  create FILE              create a connector from a JSON file ({"name":..., "config":{...}}); - reads stdin
  delete NAME              delete a connector
  pause|resume|stop NAME   change a connector's target state
  restart NAME             restart the connector if it FAILED and its FAILED tasks
                           (POST /connectors/NAME/restart?includeTasks=true&onlyFailed=true)
  offsets NAME             a connector's offsets
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := newRestClient(o, stdout)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	need := func(n int) error {
		if len(rest) != n+1 {
			return fmt.Errorf("connectors %s: expected %d argument(s)", rest[0], n)
		}
		return nil
	}
	switch rest[0] {
	case "list":
		return c.do("GET", "/connectors", nil)
	case "get", "status", "offsets", "delete", "pause", "resume", "stop", "restart":
		if err := need(1); err != nil {
			return err
		}
		return c.named(rest[0], rest[1])
	case "create":
		if err := need(1); err != nil {
			return err
		}
		var body []byte
		var err error
		if rest[1] == "-" {
			body, err = io.ReadAll(os.Stdin)
		} else {
			body, err = os.ReadFile(rest[1])
		}
		if err != nil {
			return err
		}
		return c.do("POST", "/connectors", body)
	}
	return fmt.Errorf("connectors: unknown command %q", rest[0])
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// brokerSecurity reads `sluice broker`'s SASL, ACL and TLS flags.
func brokerSecurity(users, supers, acls []string, cert, key string) (broker.Security, error) {
	var s broker.Security
	for _, u := range users {
		pu, err := broker.ParseUser(u)
		if err != nil {
			return s, fmt.Errorf("--sasl-user: %w", err)
		}
		s.Users = append(s.Users, pu)
	}
	s.Superusers = supers
	for _, a := range acls {
		pa, err := broker.ParseACL(a)
		if err != nil {
			return s, fmt.Errorf("--acl: %w", err)
		}
		s.ACLs = append(s.ACLs, pa)
	}
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return s, fmt.Errorf("--tls-cert and --tls-key must be given together")
		}
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return s, fmt.Errorf("--tls-cert/--tls-key: %w (give a PEM certificate chain and its unencrypted PEM private key)", err)
		}
		s.TLS = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}
