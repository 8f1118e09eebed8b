package configstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyringSealOpen(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	old, err := NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	env := old.Seal("c", "database.password", "hunter2")
	if !IsEnvelope(env) || strings.Contains(env, "hunter2") || EnvelopeKeyID(env) != KeyID(k1) {
		t.Fatalf("envelope %q", env)
	}
	if env == old.Seal("c", "database.password", "hunter2") {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	rotated, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("c", "database.password", env); err != nil || got != "hunter2" {
		t.Fatalf("a previous key does not open: %q %v", got, err)
	}
	if EnvelopeKeyID(rotated.Seal("c", "p", "x")) != KeyID(k2) {
		t.Fatal("new values are not sealed with the current key")
	}
	// Moved to another connector or property: refused.
	for _, c := range [][2]string{{"other", "database.password"}, {"c", "connection.password"}} {
		if _, err := rotated.Open(c[0], c[1], env); err == nil {
			t.Errorf("an envelope opened as %v", c)
		}
	}
	// Tampered: refused.
	prefix := envelopePrefix + KeyID(k1) + ":"
	ct, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(env, prefix), "}"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ct {
		bad := append([]byte(nil), ct...)
		bad[i] ^= 1
		if _, err := rotated.Open("c", "database.password", prefix+base64.StdEncoding.EncodeToString(bad)+"}"); err == nil {
			t.Fatalf("an envelope with byte %d flipped opened", i)
		}
	}
	// Unknown key: the error names its id and not the value.
	other, _ := NewKeyring(newKey(t))
	_, err = other.Open("c", "database.password", env)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), KeyID(k1)) || !strings.Contains(err.Error(), "config.encryption.previous.keys") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := NewKeyring(k1[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}

// A raw read of the configs topic shows no sensitive value; the store
// reads them back decrypted, and a store without the key keeps the
// envelopes.
func TestStoreEncryptsAtRest(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sensitive := func(class, prop, value string) bool { return class == "jdbc" && prop == "connection.password" }
	open := func(keys *Keyring) *Store {
		s, err := Open(func(cb func(kafkalog.Record)) (*kafkalog.Log, error) {
			return kafkalog.New("configs", cb, kgo.SeedBrokers(c.ListenAddrs()...))
		}, slog.Default(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if keys != nil {
			s.Encrypt(keys, sensitive)
		}
		if err := kafkalog.Ensure(ctx, kadm.NewClient(s.log.Client()), kafkalog.Topic{Name: "configs", Partitions: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s
	}
	key := newKey(t)
	keys, _ := NewKeyring(key)
	s := open(keys)
	cfg := map[string]string{"connector.class": "jdbc", "connection.password": "hunter2-at-rest", "ref": "${env:X}", "connection.url": "jdbc:postgresql://h/db"}
	if err := s.PutConnector(ctx, "a", cfg, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTaskConfigs(ctx, "a", []map[string]string{{"connection.password": "hunter2-at-rest"}}); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	if snap.Connectors["a"]["connection.password"] != "hunter2-at-rest" || snap.Tasks["a"][0]["connection.password"] != "hunter2-at-rest" {
		t.Fatalf("the store does not read its values back decrypted: %+v", snap)
	}
	s.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("configs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var raw [][]byte
	for len(raw) < 3 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { raw = append(raw, r.Value) })
	}
	all := bytes.Join(raw, []byte("\n"))
	if bytes.Contains(all, []byte("hunter2")) {
		t.Fatalf("the configs topic holds the password: %s", all)
	}
	if !bytes.Contains(all, []byte("sluice-encrypted:v1:"+KeyID(key))) || !bytes.Contains(all, []byte("${env:X}")) {
		t.Fatalf("the configs topic holds no envelope with the key id, or the reference was encrypted: %s", all)
	}

	// Without the key the envelope stays as it is.
	s2 := open(nil)
	defer s2.Close()
	if v := s2.Snapshot().Connectors["a"]["connection.password"]; !IsEnvelope(v) || EnvelopeKeyID(v) != KeyID(key) {
		t.Fatalf("without the key the value reads %q", v)
	}
}
