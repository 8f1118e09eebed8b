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
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

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
const Durability = "acknowledged records survive a crash or kill -9 of the process (every write is fsynced before it is acknowledged); " +
	"not power-safe: kfake does not fsync the directories naming new files, so a power cut can lose recent topics or segments; " +
	"compaction, and retention of topics that set retention.ms or retention.bytes, run at start-up only"

// Start locks dataDir, compacts what an earlier run persisted there (see
// compact.go), then starts the broker listening on listen (host:port) and
// loading it.
func Start(dataDir, listen string, logger *slog.Logger) (*Broker, error) {
	return start(dataDir, listen, logger, nil)
}

// start is Start; afterStep, for tests, may stop the start-up compaction
// after one of its steps (then start returns errStopped).
func start(dataDir, listen string, logger *slog.Logger, afterStep func(step string) bool) (*Broker, error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dataDir, err)
	}
	lockPath := filepath.Join(dataDir, "LOCK")
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
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

	id, err := clusterID(dataDir)
	if err != nil {
		f.Close()
		return nil, err
	}
	comp := &compaction{dataDir: dataDir, clusterID: id, logger: logger, afterStep: afterStep}
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
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(filepath.Join(dataDir, kafkaDir)),
		kfake.ClusterID(id),
		kfake.AllowAutoTopicCreation(),
		// Fsync every batch before acknowledging it: the PostgreSQL
		// source confirms its slot once Kafka acknowledged, so a lost
		// acknowledged record is a lost change.
		kfake.SyncWrites(),
		// Never compact while serving (see compact.go).
		kfake.BrokerConfigs(brokerConfigs()),
		kfake.ListenFn(func(string, string) (net.Listener, error) {
			if used {
				return nil, fmt.Errorf("embedded broker runs one node only")
			}
			used = true
			return ln, nil
		}),
		kfake.WithLogger(slogAdapter{logger}),
	)
	if err != nil {
		ln.Close()
		f.Close()
		return nil, fmt.Errorf("starting embedded broker in %s: %w", dataDir, err)
	}
	return &Broker{cluster: c, lock: f, addr: ln.Addr().String(), id: id}, nil
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
	if err := os.WriteFile(p, []byte(id+"\n"), 0o644); err != nil {
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
