package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, dir string, opts ...Option) *Broker {
	t.Helper()
	b, err := Start(dir, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The broker creates no topic on a client's request, even one that asks
// for auto-creation; a topic created with the default partition count has
// Kafka's 1, not kfake's 10.
func TestNoAutoCreationAndOnePartitionByDefault(t *testing.T) {
	b := start(t, t.TempDir())
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.UnknownTopicRetries(0),
		kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "unknown", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("producing to an unknown topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, "unknown")
	if err != nil {
		t.Fatal(err)
	}
	if td.Has("unknown") {
		t.Fatal("the broker auto-created topic unknown")
	}
	resp, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.NumPartitions != 1 {
		t.Fatalf("topic created with -1 partitions has %d, want 1", resp.NumPartitions)
	}
}

// badModes returns every path under dir with a mode other than 0700 for a
// directory or 0600 for a file.
func badModes(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			bad = append(bad, fmt.Sprintf("%s %v", path, info.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// The data directory is private: what an earlier version left readable
// is fixed at start, and what the broker writes while it runs (topics,
// segments, metadata) is created 0600 in 0700 directories.
func TestDataDirectoryIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "kafka", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kafka", "old", "file"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := start(t, dir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, "t"); err != nil || resp.Err != nil {
		t.Fatal(err, resp.Err)
	}
	for i := range 100 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if bad := badModes(t, dir); len(bad) > 0 {
		t.Errorf("not private: %v", bad)
	}
	var segments int
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			segments++
		}
		return nil
	})
	if segments < 5 {
		t.Errorf("only %d files under %s: the broker persisted nothing to check", segments, dir)
	}
}
