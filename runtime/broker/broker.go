// Package broker runs the embedded single-node Kafka-protocol broker
// (franz-go's kfake) persisted in a data directory: the zero-setup broker
// of `sluice worker` without bootstrap.servers, and of `sluice broker`.
// It is meant for laptops, demos and tests; production points workers at
// a real Kafka or Redpanda cluster.
package broker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	lock    *os.File
	addr    string
	id      string
}

// InUseError says another process holds the data directory.
type InUseError struct {
	Dir string
	PID string
}

func (e *InUseError) Error() string {
	who := "another sluice process"
	if e.PID != "" {
		who += " (pid " + e.PID + ")"
	}
	return fmt.Sprintf("data directory %s is in use by %s; stop it, give this process another --data-dir, "+
		"or point bootstrap.servers at the broker that process runs", e.Dir, who)
}

// Durability says in one clause what survives what; the start-up log
// line carries it (docs/operations.md explains it).
const Durability = "acknowledged records survive a kill -9 of the process; " +
	"not power-safe: every write is fsynced before it is acknowledged, but kfake does not fsync the directories naming new files, " +
	"so a power cut can lose recently created topics or segments; " +
	"compaction, and retention of topics that set retention.ms or retention.bytes, run at start-up only"

// Option configures the embedded broker.
type Option func(*options)

type options struct {
	cleanerInterval time.Duration
	// afterStep, for tests, may stop the start-up compaction after one
	// of its steps (then Start returns errStopped).
	afterStep func(step string) bool
	security  Security
}

// CleanerInterval makes kfake's cleaner compact compacted topics and apply
// retention every d while the broker serves (Kafka's
// log.cleaner.backoff.ms). 0, the default, never does: the broker
// compacts and applies retention at start-up instead, because a kill -9
// during kfake's compaction can wipe a partition (see compact.go). Only
// tests should set it.
func CleanerInterval(d time.Duration) Option {
	return func(o *options) { o.cleanerInterval = d }
}

// Start locks dataDir, compacts what an earlier run persisted there (see
// compact.go), then starts the broker listening on listen (host:port) and
// loading it.
//
// Topics are never created by the broker on a client's request
// (auto.create.topics.enable=false): kfake persists the metadata of
// auto-created topics only at a clean shutdown, so a crash lost them;
// clients create topics through the admin API. A topic created with -1
// partitions gets 1, as on Kafka (num.partitions=1), not kfake's 10.
//
// The data directory and everything in it are private to the user running
// the broker (directories 0700, files 0600): they hold every change
// captured. Start fixes the modes of what an earlier run left, and sets
// the process's umask to 0077, because kfake creates files (segments,
// partitions) as long as it runs, with modes of its own (0644) and no
// hook to change them. That umask applies to every file the process
// creates afterwards, which for a Sluice process is what it should be.
func Start(dataDir, listen string, logger *slog.Logger, opts ...Option) (*Broker, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	secOpts, err := o.security.kfakeOpts()
	if err != nil {
		return nil, err
	}
	syscall.Umask(0o077)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dataDir, err)
	}
	lockPath := filepath.Join(dataDir, "LOCK")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(lockPath)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Dir: dataDir, PID: strings.TrimSpace(string(pid))}
		}
		return nil, fmt.Errorf("locking %s: %w", lockPath, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	if n, err := restrictModes(dataDir); err != nil {
		f.Close()
		return nil, err
	} else if n > 0 {
		logger.Info("made the data directory private to this user (directories 0700, files 0600)", "data_dir", dataDir, "changed", n)
	}

	id, err := clusterID(dataDir)
	if err != nil {
		f.Close()
		return nil, err
	}
	comp := &compaction{dataDir: dataDir, clusterID: id, logger: logger, afterStep: o.afterStep}
	if err := comp.run(); err != nil {
		f.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded broker cannot listen on %s: %w (another broker or worker may be running there; "+
			"set --broker-listen / sluice.broker.listen to a free address, or bootstrap.servers to use that broker)", listen, err)
	}
	used := false
	bcfgs := brokerConfigs()
	if o.cleanerInterval > 0 {
		bcfgs["log.cleaner.backoff.ms"] = strconv.FormatInt(o.cleanerInterval.Milliseconds(), 10)
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Join(dataDir, kafkaDir)),
		kfake.ClusterID(id),
		kfake.DefaultNumPartitions(1),
		// Fsync every batch before acknowledging it: the PostgreSQL
		// source confirms its slot once Kafka acknowledged, so a lost
		// acknowledged record is a lost change.
		kfake.SyncWrites(),
		// Never compact while serving (see compact.go), unless a test
		// asks for the cleaner.
		kfake.BrokerConfigs(bcfgs),
		kfake.ListenFn(func(string, string) (net.Listener, error) {
			if used {
				return nil, fmt.Errorf("embedded broker runs one node only")
			}
			used = true
			return ln, nil
		}),
		kfake.WithLogger(slogAdapter{logger}),
	}
	kopts = append(kopts, secOpts...)
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		f.Close()
		return nil, fmt.Errorf("starting embedded broker in %s: %w", dataDir, err)
	}
	return &Broker{cluster: c, lock: f, addr: ln.Addr().String(), id: id}, nil
}

// restrictModes makes dir and every directory under it 0700 and every
// file 0600, returning how many it changed.
func restrictModes(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else if !d.Type().IsRegular() {
			return nil // symlinks and the like: not ours to change
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() == want {
			return nil
		}
		n++
		return os.Chmod(path, want)
	})
	if err != nil {
		return n, fmt.Errorf("making data directory %s private (chmod 700 for directories, 600 for files): %w", dir, err)
	}
	return n, nil
}

// clusterID returns the cluster id stored in dataDir, creating one on the
// first start so that it survives restarts.
func clusterID(dataDir string) (string, error) {
	p := filepath.Join(dataDir, "cluster-id")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	id := "sluice-" + hex.EncodeToString(raw[:8])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return id, nil
}

// Addr returns the address clients connect to.
func (b *Broker) Addr() string { return b.addr }

// ClusterID returns the persisted cluster id.
func (b *Broker) ClusterID() string { return b.id }

// Close stops the broker, flushing its data, and releases the directory.
func (b *Broker) Close() {
	b.cluster.Close()
	b.lock.Close()
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		a.l.Error("broker: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		a.l.Warn("broker: " + fmt.Sprintf(msg, args...))
	}
}
