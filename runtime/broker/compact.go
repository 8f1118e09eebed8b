package broker

// Start-up compaction.
//
// kfake compacts a partition by deleting its segment and index files and
// then writing the surviving batches to new ones (rebuildSegments in
// kfake@v0.0.0-20260918054303-01f206a7e32c persist.go: the Remove calls at
// lines 807-811 come first, the OpenFile/Write/Sync of the new files at
// 837-880 after; compact calls it at data.go:1493). A process killed
// between the two loses the partition: on restart kfake finds fewer
// segment files than its snapshot names, replays what is left and serves
// it. The one-partition configs topic holds every connector, so one such
// kill could lose all of them. kfake runs that compaction from its cleaner
// ticker (cluster.go:487, 556, 960), every log.cleaner.backoff.ms, while
// it serves.
//
// The embedded broker therefore never compacts while it serves: it sets
// log.cleaner.backoff.ms to about a century. It compacts (and applies time
// and size retention, which kfake does in the same pass) once at start-up,
// before the serving cluster exists, on a copy-protected directory:
//
//  1. recover: finish or undo whatever an earlier start-up left (below).
//  2. hard-link every file of kafka/ into kafka.backup.tmp/, fsync its
//     directories, rename it to kafka.backup/ and fsync the data directory.
//  3. complete the commits a kill -9 interrupted (txncomplete.go): write
//     the commit markers missing from some partitions of a transaction
//     committed in others, through a cluster no client can reach, and
//     remove those partitions' snapshots.
//  4. open kafka/ with a kfake cluster that no client can reach (its
//     listener is an in-process pipe), pin compact-only topics to
//     unlimited retention, write the abort markers of transactions a
//     crash left open (txnseal.go), run Compact, Close it (a clean close
//     saves every snapshot), fsync kafka/'s directories.
//  5. rename kafka.backup/ to kafka.backup.old/, fsync the data directory,
//     remove kafka.backup.old/.
//
// Only then does the serving cluster open kafka/. Recovery at start:
// kafka.backup.tmp/ is removed; if kafka.backup/ exists, kafka/ is removed
// and kafka.backup/ renamed to kafka/; kafka.backup.old/ is removed.
//
// Why a kill -9 at any point leaves a complete state:
//
//   - During 2, kafka/ has not been touched; the partial kafka.backup.tmp/
//     is discarded.
//   - From the rename to kafka.backup/ until it is renamed away (all of 3,
//     and 4, including kfake's delete-then-write window and Close's saves),
//     kafka.backup/ holds the complete state the previous run left, and
//     recovery puts it back. Nothing was acknowledged in between: no client
//     could reach the compacting cluster. kafka.backup/ stays intact while
//     kfake rewrites kafka/ because kfake replaces files by unlinking or
//     renaming over them (new inodes; the backup keeps its links). The
//     only writes into an existing inode are appends of whole new entries
//     and truncation of a torn tail that every load drops alike.
//     Recovery is itself restartable: a kill while it removes kafka/ leaves
//     kafka.backup/ in place, and the rename is atomic.
//   - After the rename to kafka.backup.old/, kafka/ holds the compacted
//     state, closed cleanly and synced; the leftover is only removed.
//
// Retention of data topics therefore runs at each start of the broker, not
// while it runs, and only for topics that set retention.ms or
// retention.bytes (see brokerConfigs; docs/operations.md says so).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	kafkaDir     = "kafka"
	backupTmpDir = "kafka.backup.tmp"
	backupDir    = "kafka.backup"
	retiredDir   = "kafka.backup.old"

	// cleanerOffMs is log.cleaner.backoff.ms of every embedded cluster:
	// about a hundred years, so kfake's cleaner ticker never fires.
	cleanerOffMs = "3153600000000"
)

// brokerConfigs are the broker configs of every embedded cluster, the
// serving one and the compacting one alike:
//   - log.cleaner.backoff.ms: never compact while serving;
//   - log.retention.ms=-1: only topics that set retention.ms or
//     retention.bytes themselves are trimmed. kfake's time retention,
//     unlike Kafka's, also trims the active segment, by the records'
//     timestamps; at every start it would empty topics whose records
//     carry old timestamps (datagen's start in 2024), which a clean
//     restart must keep.
func brokerConfigs() map[string]string {
	return map[string]string{"log.cleaner.backoff.ms": cleanerOffMs, "log.retention.ms": "-1"}
}

// Steps of the start-up compaction after which a test hook may stop it,
// as a kill -9 there would.
const (
	stepBackupBuilt = "backup built"   // kafka.backup.tmp complete, not renamed
	stepBackupReady = "backup ready"   // kafka.backup in place, kafka/ untouched
	stepCompacted   = "compacted"      // kafka/ compacted and closed, backup still there
	stepRetired     = "backup retired" // kafka.backup.old in place
)

// errStopped is returned when a test hook stopped the compaction.
var errStopped = errors.New("start-up compaction stopped by a test hook")

// compaction runs the start-up compaction of one data directory.
type compaction struct {
	dataDir   string
	clusterID string
	logger    *slog.Logger
	// afterStep, for tests, is called after each step; returning true
	// stops there, leaving the files as a kill -9 would.
	afterStep func(step string) bool
}

func (c *compaction) stop(step string) bool {
	return c.afterStep != nil && c.afterStep(step)
}

// run recovers from an interrupted earlier run, then compacts kafka/.
func (c *compaction) run() error {
	if err := c.recover(); err != nil {
		return err
	}
	kdir := filepath.Join(c.dataDir, kafkaDir)
	if _, err := os.Stat(filepath.Join(kdir, "meta.json")); errors.Is(err, fs.ErrNotExist) {
		return nil // nothing persisted yet
	} else if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	start := time.Now()

	tmp := filepath.Join(c.dataDir, backupTmpDir)
	if err := linkTree(kdir, tmp); err != nil {
		return fmt.Errorf("embedded broker: backing up %s before compacting it: %w", kdir, err)
	}
	if c.stop(stepBackupBuilt) {
		return errStopped
	}
	backup := filepath.Join(c.dataDir, backupDir)
	if err := os.Rename(tmp, backup); err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	if err := syncDir(c.dataDir); err != nil {
		return err
	}
	if c.stop(stepBackupReady) {
		return errStopped
	}

	// One scan of the segment files finds the commits a crash interrupted
	// (txncomplete.go) and the transactions it left open (txnseal.go).
	scans, err := scanPartitions(kdir)
	if err != nil {
		if rerr := c.restore(); rerr != nil {
			return errors.Join(err, rerr)
		}
		c.logger.Error("embedded broker: scanning the partitions for transactions a crash interrupted failed; serving the data uncompacted, "+
			"and a transaction the crash interrupted may be committed in some of its partitions only", "error", err)
		return nil
	}
	half := halfCommitsIn(scans)
	if _, err := completeCommits(kdir, c.clusterID, half, c.logger); err != nil {
		// Put the untouched state back and serve it as kfake loads it.
		if rerr := c.restore(); rerr != nil {
			return errors.Join(err, rerr)
		}
		c.logger.Error("embedded broker: completing the commits a crash interrupted failed; serving the data uncompacted, "+
			"and a transaction the crash interrupted may be committed in some of its partitions only", "error", err)
		return nil
	}
	if err := c.compact(kdir, openTxnsIn(scans, half)); err != nil {
		// Put the untouched state back and serve it uncompacted.
		if rerr := c.restore(); rerr != nil {
			return errors.Join(err, rerr)
		}
		c.logger.Warn("embedded broker: start-up compaction failed; serving the data uncompacted", "error", err)
		return nil
	}
	if err := syncTree(kdir); err != nil {
		return err
	}
	if c.stop(stepCompacted) {
		return errStopped
	}

	retired := filepath.Join(c.dataDir, retiredDir)
	if err := os.Rename(backup, retired); err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	if err := syncDir(c.dataDir); err != nil {
		return err
	}
	if c.stop(stepRetired) {
		return errStopped
	}
	if err := os.RemoveAll(retired); err != nil {
		return fmt.Errorf("embedded broker: removing %s: %w", retired, err)
	}
	c.logger.Debug("embedded broker: compacted at start-up", "took", time.Since(start))
	return nil
}

// recover finishes or undoes an earlier, interrupted run.
func (c *compaction) recover() error {
	if err := os.RemoveAll(filepath.Join(c.dataDir, backupTmpDir)); err != nil {
		return fmt.Errorf("embedded broker: removing an unfinished backup: %w", err)
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, backupDir)); err == nil {
		c.logger.Warn("embedded broker: the last start-up compaction was interrupted; restoring the data it started from")
		if err := c.restore(); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("embedded broker: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(c.dataDir, retiredDir)); err != nil {
		return fmt.Errorf("embedded broker: removing an old backup: %w", err)
	}
	return nil
}

// restore replaces kafka/ with kafka.backup/.
func (c *compaction) restore() error {
	kdir := filepath.Join(c.dataDir, kafkaDir)
	if err := os.RemoveAll(kdir); err != nil {
		return fmt.Errorf("embedded broker: restoring %s from its backup: %w", kdir, err)
	}
	if err := os.Rename(filepath.Join(c.dataDir, backupDir), kdir); err != nil {
		return fmt.Errorf("embedded broker: restoring %s from its backup: %w", kdir, err)
	}
	return syncDir(c.dataDir)
}

// compact opens kdir with a cluster no client can reach, pins compact-only
// topics to unlimited retention, writes the abort markers of the
// transactions in open (see txnseal.go), compacts and closes it.
func (c *compaction) compact(kdir string, open []openTail) error {
	pl := newPipeListener()
	cl, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(kdir),
		kfake.ClusterID(c.clusterID),
		kfake.SyncWrites(),
		kfake.BrokerConfigs(brokerConfigs()),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return pl, nil }),
		kfake.WithLogger(slogAdapter{c.logger}),
	)
	if err != nil {
		pl.Close()
		return fmt.Errorf("opening %s to compact it: %w", kdir, err)
	}
	if err := pinCompacted(pl, c.logger); err != nil {
		cl.Close()
		return err
	}
	// Before compacting: compaction keeps a partition's last batch, the
	// marker written here (see txnseal.go).
	if _, err := sealCrashedTxns(pl, open, c.logger); err != nil {
		cl.Close()
		return fmt.Errorf("writing the abort markers of transactions a crash left open: %w", err)
	}
	cl.Compact()
	cl.Close()
	return nil
}

// pinCompacted sets retention.ms and retention.bytes to -1 on every topic
// whose cleanup.policy is compact without delete. Kafka applies neither to
// such topics; kfake applies both to every topic, which would expire the
// state topics (connector configs, offsets) a week after they were written.
func pinCompacted(pl *pipeListener, logger *slog.Logger) error {
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.Dialer(pl.dial))
	if err != nil {
		return err
	}
	defer client.Close()
	adm := kadm.NewClient(client)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	if len(topics) == 0 {
		return nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics.Names()...)
	if err != nil {
		return fmt.Errorf("describing topic configs: %w", err)
	}
	var pin []string
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("describing the configs of topic %s: %w", rc.Name, rc.Err)
		}
		val := func(k string) string {
			for _, c := range rc.Configs {
				if c.Key == k && c.Value != nil {
					return *c.Value
				}
			}
			return ""
		}
		policy := val("cleanup.policy")
		if !strings.Contains(policy, "compact") || strings.Contains(policy, "delete") {
			continue
		}
		if val("retention.ms") != "-1" || val("retention.bytes") != "-1" {
			pin = append(pin, rc.Name)
		}
	}
	if len(pin) == 0 {
		return nil
	}
	minus1 := "-1"
	resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: &minus1},
		{Op: kadm.SetConfig, Name: "retention.bytes", Value: &minus1},
	}, pin...)
	if err == nil {
		for _, r := range resps {
			if r.Err != nil {
				err = fmt.Errorf("topic %s: %w", r.Name, r.Err)
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("setting retention.ms=-1 and retention.bytes=-1 on compacted topics: %w", err)
	}
	logger.Info("embedded broker: compacted topics keep their records without time or size limit, as in Kafka",
		"topics", pin, "set", "retention.ms=-1 retention.bytes=-1")
	return nil
}

// linkTree recreates the directory tree src at dst (which must not
// exist) with hard links to src's files, copying a file where the file
// system refuses the link, and fsyncs dst's directories.
func linkTree(src, dst string) error {
	var dirs []string
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, to)
			return os.Mkdir(to, info.Mode().Perm())
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if err := os.Link(path, to); err != nil {
			return copyFile(path, to, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// syncTree fsyncs every directory under root (kfake syncs the files it
// writes but not the directories that name them).
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(path)
		}
		return nil
	})
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("embedded broker: syncing directory %s: %w", dir, err)
	}
	return nil
}

// pipeListener is a net.Listener whose connections are in-process pipes
// made by dial: the compacting cluster listens on it, so that no client
// but pinCompacted can reach it.
type pipeListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		server.Close()
		client.Close()
		return nil, net.ErrClosed
	case <-ctx.Done():
		server.Close()
		client.Close()
		return nil, ctx.Err()
	}
}
