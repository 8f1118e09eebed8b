package sign

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Key is a session key: the secret every worker of a pool signs its
// internal requests with, as the leader generated it. Its String,
// GoString, LogValue and MarshalJSON never show the secret, so a Key can
// be logged or wrapped in an error safely; only EncodeRecord writes it.
type Key struct {
	// Secret is the key material. Callers must not modify it: a Holder
	// hands the same slice to every reader.
	Secret []byte
	// Algorithm is the algorithm the key was generated for, as written in
	// the record (a Connect leader may write one Sluice does not
	// support; only NextRotation looks at it).
	Algorithm string
	// Created is when the leader generated the key, to the millisecond.
	Created time.Time
}

// GenerateKey returns a new random key of c's algorithm and size, created
// at now (truncated to the millisecond, as the record keeps it).
func (c Config) GenerateKey(now time.Time) Key {
	secret := make([]byte, c.keyBytes())
	_, _ = rand.Read(secret) // never fails (crypto/rand, Go 1.24+)
	return Key{Secret: secret, Algorithm: string(c.KeyAlgorithm), Created: time.UnixMilli(now.UnixMilli())}
}

// String describes k without its secret.
func (k Key) String() string {
	if len(k.Secret) == 0 {
		return "session key (none)"
	}
	return fmt.Sprintf("session key (%s, %d bits, created %s)", k.Algorithm, 8*len(k.Secret),
		k.Created.UTC().Format(time.RFC3339Nano))
}

// GoString describes k without its secret, for %#v.
func (k Key) GoString() string { return k.String() }

// LogValue describes k without its secret, for log/slog.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("algorithm", k.Algorithm), slog.Int("bits", 8*len(k.Secret)),
		slog.Time("created", k.Created))
}

// MarshalJSON writes k's description, without its secret, as a JSON
// string; EncodeRecord writes the configs-topic record.
func (k Key) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strings.ReplaceAll(k.String(), `"`, `'`) + `"`), nil
}

// Holder keeps a worker's current session key: the configs-topic reader
// sets it, the signing client and the Guard read it. The zero value holds
// no key. It is safe for concurrent use.
type Holder struct {
	mu  sync.RWMutex
	key *Key
}

// Set makes k the current key, replacing the previous one.
func (h *Holder) Set(k Key) {
	h.mu.Lock()
	h.key = &k
	h.mu.Unlock()
}

// Current returns the current key and whether there is one.
func (h *Holder) Current() (Key, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.key == nil {
		return Key{}, false
	}
	return *h.key, true
}

// Keys returns the keys a request may be signed with: the current one, or
// none before the first is read. A Guard calls it for every request.
func (h *Holder) Keys() []Key {
	if k, ok := h.Current(); ok {
		return []Key{k}
	}
	return nil
}
