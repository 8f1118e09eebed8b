package broker

// Completing the commits a crash interrupted.
//
// kfake ends a transaction (EndTxn) by writing a commit or abort marker to
// each of its partitions, one after the other, each fsynced, and records
// that the transaction ended only after the last one (pidinfo.endTx and
// doEnd in kfake@v0.0.0-20260918054303-01f206a7e32c txns.go). Nothing
// records the decision before the markers, as Kafka's PrepareCommit in its
// transaction log does. A kill -9 between two markers therefore leaves the
// transaction committed in some partitions, and, in the others, records
// with no marker, which kfake aborts when it loads them again. For an
// exactly-once source that breaks the one promise it makes: records
// committed without the source offsets that say they were sent (sent again
// on the next start: duplicates), or offsets committed without their
// records (loss). it/chaos_eos_test.go found both.
//
// A commit marker is the decision: once one partition holds it, the
// transaction committed. At start-up, before kfake loads anything, the
// broker reads every partition's segment files and finds the producers
// whose transaction is still open at the end of a partition while the
// same producer and epoch has a commit marker elsewhere, that marker
// being the last batch of its partition (kfake handles requests one at a
// time: the markers of the interrupted EndTxn are the last writes before
// the kill). It writes the missing commit markers (kfake's
// WriteTxnMarkers) and removes those partitions' snapshots, so that the
// next load replays them and sees the transaction committed rather than
// aborted. Producers that reuse an epoch across transactions (clients
// before KIP-890's epoch bump; franz-go bumps it with kfake) are left
// alone when a partition shows it, since the marker could then be an
// earlier transaction's.

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// completeCommits writes the commit markers a kill -9 interrupted (half,
// see above and halfCommitsIn) in kdir, through a cluster no client can
// reach, and removes the snapshots of the partitions it wrote them in. It
// returns how many it wrote.
func completeCommits(kdir, clusterID string, half []halfCommit, logger *slog.Logger) (int, error) {
	if len(half) == 0 {
		return 0, nil
	}
	pl := newPipeListener()
	cl, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.DataDir(kdir),
		kfake.ClusterID(clusterID),
		kfake.SyncWrites(),
		kfake.BrokerConfigs(brokerConfigs()),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return pl, nil }),
		kfake.WithLogger(slogAdapter{logger}),
	)
	if err != nil {
		pl.Close()
		return 0, fmt.Errorf("opening %s: %w", kdir, err)
	}
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.Dialer(pl.dial))
	if err != nil {
		cl.Close()
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, h := range half {
		if err = writeMarker(ctx, client, h.topic, h.partition, h.producer, h.epoch, true); err != nil {
			break
		}
	}
	client.Close()
	cl.Close()
	if err != nil {
		return 0, err
	}
	// kfake saved, as it closed, each partition's aborted transactions,
	// this one among them; without the snapshot the next load replays
	// the segments and finds it committed.
	for _, h := range half {
		snap := filepath.Join(kdir, "partitions", fmt.Sprintf("%s-%d", url.PathEscape(h.topic), h.partition), "snapshot.json")
		if err := os.Remove(snap); err != nil && !os.IsNotExist(err) {
			return 0, fmt.Errorf("removing %s: %w", snap, err)
		}
		logger.Warn("embedded broker: completed the commit of a transaction the last run was committing when it stopped (it had committed in other partitions)",
			"topic", h.topic, "partition", h.partition, "producer_id", h.producer, "producer_epoch", h.epoch)
	}
	return len(half), nil
}

// halfCommit is a partition where a committed transaction has no marker.
type halfCommit struct {
	topic     string
	partition int32
	producer  int64
	epoch     int16
}

// pidEpoch is a producer id and epoch.
type pidEpoch struct {
	id    int64
	epoch int16
}

// partScan is what scanning one partition's segments found.
type partScan struct {
	topic     string
	partition int32
	open      map[int64]int16   // producer → epoch of its transaction open at the end
	tail      *pidEpoch         // the last batch, when it is a commit marker
	closed    map[pidEpoch]bool // transactions ended by a marker
	reused    map[int64]bool    // producers that ended two transactions with one epoch
}

// scanPartitions scans every partition under kdir (kfake's data
// directory), in topic and partition order.
func scanPartitions(kdir string) ([]*partScan, error) {
	dirs, err := filepath.Glob(filepath.Join(kdir, "partitions", "*"))
	if err != nil {
		return nil, err
	}
	var scans []*partScan
	for _, d := range dirs {
		base := filepath.Base(d)
		i := strings.LastIndexByte(base, '-')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseInt(base[i+1:], 10, 32)
		if err != nil {
			continue
		}
		topic, err := url.PathUnescape(base[:i])
		if err != nil {
			continue
		}
		s, err := scanPartition(d)
		if err != nil {
			return nil, err
		}
		s.topic, s.partition = topic, int32(p)
		scans = append(scans, s)
	}
	sort.Slice(scans, func(i, j int) bool {
		if scans[i].topic != scans[j].topic {
			return scans[i].topic < scans[j].topic
		}
		return scans[i].partition < scans[j].partition
	})
	return scans, nil
}

// halfCommitsIn returns the partitions that lack the commit marker of a
// transaction committed in another.
func halfCommitsIn(scans []*partScan) []halfCommit {
	tails := map[pidEpoch]bool{}
	reused := map[int64]bool{}
	for _, s := range scans {
		if s.tail != nil {
			tails[*s.tail] = true
		}
		for id := range s.reused {
			reused[id] = true
		}
	}
	var out []halfCommit
	for _, s := range scans {
		for _, id := range sortedProducers(s.open) {
			if epoch := s.open[id]; tails[pidEpoch{id, epoch}] && !reused[id] {
				out = append(out, halfCommit{topic: s.topic, partition: s.partition, producer: id, epoch: epoch})
			}
		}
	}
	return out
}

// sortedProducers returns the producer ids of open in increasing order.
func sortedProducers(open map[int64]int16) []int64 {
	ids := make([]int64, 0, len(open))
	for id := range open {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// scanPartition reads the record batches of one partition directory's
// segment files in offset order.
func scanPartition(dir string) (*partScan, error) {
	s := &partScan{open: map[int64]int16{}, closed: map[pidEpoch]bool{}, reused: map[int64]bool{}}
	files, err := filepath.Glob(filepath.Join(dir, "*.dat"))
	if err != nil {
		return nil, err
	}
	type seg struct {
		base int64
		path string
	}
	var segs []seg
	for _, f := range files {
		b, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(f), ".dat"), 10, 64)
		if err == nil {
			segs = append(segs, seg{b, f})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].base < segs[j].base })
	for _, sg := range segs {
		raw, err := os.ReadFile(sg.path)
		if err != nil {
			return nil, fmt.Errorf("embedded broker: reading %s: %w", sg.path, err)
		}
		for len(raw) >= 12 {
			n := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
			if n < 12 || n > len(raw) {
				break // a torn tail, which kfake drops when it loads
			}
			var b kmsg.RecordBatch
			if b.ReadFrom(raw[:n]) != nil {
				break
			}
			raw = raw[n:]
			s.tail = nil
			if b.Attributes&attrTransactional == 0 {
				continue
			}
			pe := pidEpoch{b.ProducerID, b.ProducerEpoch}
			if b.Attributes&attrControl == 0 {
				if _, ok := s.open[pe.id]; !ok {
					s.open[pe.id] = pe.epoch
				}
				continue
			}
			if s.closed[pe] {
				s.reused[pe.id] = true
			}
			s.closed[pe] = true
			delete(s.open, pe.id)
			var rec kmsg.Record
			if rec.ReadFrom(b.Records) == nil && len(rec.Key) >= 4 && binary.BigEndian.Uint16(rec.Key[2:4]) == 1 {
				s.tail = &pe
			}
		}
	}
	return s, nil
}
