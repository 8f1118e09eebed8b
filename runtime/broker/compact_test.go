package broker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	cfgTopic  = "state"    // cleanup.policy=compact, like the configs topic
	dataTopic = "changes"  // a data topic with the defaults
	oldTopic  = "expiring" // a data topic with retention.ms=1h
	nKeys     = 10
	nState    = 300 // records produced to cfgTopic, one batch each
	nData     = 100
	eightDays = 8 * 24 * time.Hour
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// fill writes the fixture: nState records over nKeys keys to the compacted
// topic (eight days old, so that kfake's default 7-day retention would
// expire them), nData records to the data topic, and nData eight-day-old
// records and a fresh one to a topic with retention.ms of one hour.
func fill(t *testing.T, dir string) {
	t.Helper()
	b, err := Start(dir, "127.0.0.1:0", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl := client(t, b.Addr(), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1))
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	compact := "compact"
	hour := "3600000"
	for _, tc := range []struct {
		name string
		cfg  map[string]*string
	}{{cfgTopic, map[string]*string{"cleanup.policy": &compact}}, {dataTopic, nil}, {oldTopic, map[string]*string{"retention.ms": &hour}}} {
		resp, err := adm.CreateTopic(ctx, 1, 1, tc.cfg, tc.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("creating %s: %v", tc.name, err)
		}
	}
	old := time.Now().Add(-eightDays)
	for i := 0; i < nState; i++ {
		r := &kgo.Record{Topic: cfgTopic, Key: []byte(fmt.Sprintf("k%d", i%nKeys)), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: old}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i <= nData; i++ {
		if i == nData { // one fresh record keeps the partition's offsets (see docs/operations.md)
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: oldTopic, Value: []byte("fresh")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			break
		}
		rs := []*kgo.Record{
			{Topic: dataTopic, Value: []byte(fmt.Sprintf("d%d", i))},
			{Topic: oldTopic, Value: []byte(fmt.Sprintf("o%d", i)), Timestamp: old},
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll returns every record of a one-partition topic.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	cl := client(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil {
		t.Fatalf("end offset of %s: %v", topic, end.Err)
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})
	var out []*kgo.Record
	for end.Offset > 0 && (len(out) == 0 || out[len(out)-1].Offset < end.Offset-1) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %d records, end offset %d: %v", topic, len(out), end.Offset, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("reading %s: %v", topic, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// check verifies that the broker in dir holds the fixture: the last value
// of every key of the compacted topic, every record of the data topic.
func check(t *testing.T, dir string) (state int) {
	t.Helper()
	b, err := Start(dir, "127.0.0.1:0", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	last := map[string]string{}
	recs := readAll(t, b.Addr(), cfgTopic)
	for _, r := range recs {
		last[string(r.Key)] = string(r.Value)
	}
	for k := 0; k < nKeys; k++ {
		want := fmt.Sprintf("v%d", nState-nKeys+k)
		if got := last[fmt.Sprintf("k%d", k)]; got != want {
			t.Errorf("%s: key k%d = %q, want %q (%d records read)", cfgTopic, k, got, want, len(recs))
		}
	}
	data := readAll(t, b.Addr(), dataTopic)
	if len(data) != nData {
		t.Fatalf("%s: %d records, want %d", dataTopic, len(data), nData)
	}
	for i, r := range data {
		if string(r.Value) != fmt.Sprintf("d%d", i) || r.Offset != int64(i) {
			t.Fatalf("%s: record %d = %q at offset %d", dataTopic, i, r.Value, r.Offset)
		}
	}
	for _, d := range []string{backupTmpDir, backupDir, retiredDir} {
		if _, err := os.Stat(filepath.Join(dir, d)); err == nil {
			t.Errorf("%s left behind", d)
		}
	}
	return len(recs)
}

// TestStartupCompaction: a restart compacts the compacted topic, keeps
// its eight-day-old records (kfake would expire them at its default
// retention), and applies the retention of a data topic.
func TestStartupCompaction(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir)
	if n := check(t, dir); n >= nState {
		t.Errorf("%s still has %d records after a restart: not compacted", cfgTopic, n)
	}
	b, err := Start(dir, "127.0.0.1:0", quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl := client(t, b.Addr())
	defer cl.Close()
	ctx := context.Background()
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, cfgTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"retention.ms", "retention.bytes"} {
		c, err := rcs.On(cfgTopic, nil)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		for _, e := range c.Configs {
			if e.Key == k && e.Value != nil {
				v = *e.Value
			}
		}
		if v != "-1" {
			t.Errorf("%s: %s = %q, want -1", cfgTopic, k, v)
		}
	}
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, oldTopic)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starts.Lookup(oldTopic, 0); s.Offset != nData {
		t.Errorf("%s: start offset %d after a restart, want %d: retention.ms=1h not applied to 8-day-old records", oldTopic, s.Offset, nData)
	}
}

// TestStartupCompactionCrashPoints stops the start-up compaction after
// each of its steps, as a kill -9 there would, and restarts: every record
// is still there. At "backup ready" it also does to kafka/ what kfake's
// compaction does before a kill in its window: the compacted partition's
// segment files deleted and a new one half written.
func TestStartupCompactionCrashPoints(t *testing.T) {
	for _, step := range []string{stepBackupBuilt, stepBackupReady, stepCompacted, stepRetired} {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir)
			_, err := Start(dir, "127.0.0.1:0", quietLogger(), stopAfter(func(s string) bool {
				if s != step {
					return false
				}
				if s == stepBackupReady {
					wreckPartition(t, filepath.Join(dir, kafkaDir, "partitions", cfgTopic+"-0"))
				}
				return true
			}))
			if err != errStopped {
				t.Fatalf("start stopped at %q: %v, want errStopped", step, err)
			}
			check(t, dir)
		})
	}
}

// stopAfter sets the start-up compaction's test hook.
func stopAfter(fn func(step string) bool) Option {
	return func(o *options) { o.afterStep = fn }
}

// wreckPartition leaves a partition directory as kfake's rebuildSegments
// does when killed after deleting the old segments, midway through
// writing the first new one.
func wreckPartition(t *testing.T, pdir string) {
	t.Helper()
	ents, err := os.ReadDir(pdir)
	if err != nil {
		t.Fatal(err)
	}
	var first []byte
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".dat") || strings.HasSuffix(e.Name(), ".idx") {
			p := filepath.Join(pdir, e.Name())
			if e.Name() == "0.dat" {
				if first, err = os.ReadFile(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(first) == 0 {
		t.Fatalf("no segment 0.dat in %s", pdir)
	}
	if err := os.WriteFile(filepath.Join(pdir, "0.dat"), first[:len(first)/2], 0o600); err != nil {
		t.Fatal(err)
	}
}
