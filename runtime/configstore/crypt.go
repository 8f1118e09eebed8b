package configstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Encrypted values in the configs topic are envelopes
//
//	${sluice-encrypted:v1:<keyid>:<base64 of nonce || AES-256-GCM ciphertext>}
//
// whose additional data is "<connector>\x00<property>", so an envelope
// moved to another connector or property does not open. The key id is
// the first 8 hex digits of SHA-256("sluice-config-key\x00" || key): it
// names the key without revealing it. The ${...} shape means a worker
// without the key sees a reference to an unconfigured provider, which
// the runtime refuses with an error naming the key id.
const envelopePrefix = "${sluice-encrypted:v1:"

// KeySize is the size of an encryption key: AES-256.
const KeySize = 32

// Keyring holds the key new values are encrypted with and the older keys
// that may still open stored ones. Safe for concurrent use.
type Keyring struct {
	current *aeadKey
	byID    map[string]*aeadKey
}

type aeadKey struct {
	id   string
	aead cipher.AEAD
}

// KeyID returns the id of key as written in envelopes.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("sluice-config-key\x00"), key...))
	return hex.EncodeToString(h[:4])
}

// NewKeyring returns a keyring that encrypts with current and opens
// values encrypted with current or any of previous. Every key is
// KeySize bytes.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{byID: map[string]*aeadKey{}}
	for i, raw := range append([][]byte{current}, previous...) {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("key %d is %d bytes, want %d", i, len(raw), KeySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		ak := &aeadKey{id: KeyID(raw), aead: aead}
		if i == 0 {
			k.current = ak
		}
		if _, dup := k.byID[ak.id]; !dup {
			k.byID[ak.id] = ak
		}
	}
	return k, nil
}

// CurrentID returns the id of the key new values are encrypted with.
func (k *Keyring) CurrentID() string { return k.current.id }

// IsEnvelope reports whether v is an encrypted value.
func IsEnvelope(v string) bool {
	return strings.HasPrefix(v, envelopePrefix) && strings.HasSuffix(v, "}")
}

// EnvelopeKeyID returns the key id of an envelope.
func EnvelopeKeyID(v string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(v, envelopePrefix), ":")
	return id
}

func aad(connector, prop string) []byte { return []byte(connector + "\x00" + prop) }

// Seal encrypts the value of prop of connector with the current key.
func (k *Keyring) Seal(connector, prop, value string) string {
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("configstore: reading random bytes: %v", err)) // crypto/rand does not fail on supported systems
	}
	ct := k.current.aead.Seal(nonce, nonce, []byte(value), aad(connector, prop))
	return envelopePrefix + k.current.id + ":" + base64.StdEncoding.EncodeToString(ct) + "}"
}

// ErrUnknownKey is returned by Open for a value encrypted with a key the
// keyring does not hold.
var ErrUnknownKey = errors.New("encrypted with a key this worker does not have")

// Open decrypts an envelope written by Seal for the same connector and
// property. Errors name the key id, never the value.
func (k *Keyring) Open(connector, prop, v string) (string, error) {
	id := EnvelopeKeyID(v)
	var ak *aeadKey
	if k != nil {
		ak = k.byID[id]
	}
	if ak == nil {
		return "", fmt.Errorf("%s of connector %s: key id %s: %w; add that key to config.encryption.previous.keys",
			prop, connector, id, ErrUnknownKey)
	}
	b64 := strings.TrimSuffix(strings.TrimPrefix(v, envelopePrefix+id+":"), "}")
	ct, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(ct) < ak.aead.NonceSize() {
		return "", fmt.Errorf("%s of connector %s: the value encrypted with key id %s is corrupt", prop, connector, id)
	}
	pt, err := ak.aead.Open(nil, ct[:ak.aead.NonceSize()], ct[ak.aead.NonceSize():], aad(connector, prop))
	if err != nil {
		return "", fmt.Errorf("%s of connector %s: the value encrypted with key id %s does not open with that key (corrupt, or moved from another connector or property)", prop, connector, id)
	}
	return string(pt), nil
}

// Sensitive reports whether the value of prop, in a config of a
// connector of class, must be encrypted at rest.
type Sensitive func(class, prop, value string) bool

// Encrypt makes the store encrypt the values sensitive selects with
// keys' current key, and decrypt what it reads with any of keys. Call it
// before Start. Without it (or with nil keys) values are written as
// given, and encrypted values read stay as they are (the runtime then
// refuses them, naming their key id).
func (s *Store) Encrypt(keys *Keyring, sensitive Sensitive) {
	s.keys, s.sensitive = keys, sensitive
}

// seal returns props with the sensitive values encrypted.
func (s *Store) seal(name, class string, props map[string]string) map[string]string {
	if s.keys == nil || s.sensitive == nil {
		return props
	}
	out := make(map[string]string, len(props))
	for k, v := range props {
		if v != "" && !IsEnvelope(v) && !isReference(v) && s.sensitive(class, k, v) {
			v = s.keys.Seal(name, k, v)
		}
		out[k] = v
	}
	return out
}

// isReference reports whether v is only a config provider reference:
// it holds no secret and stays readable.
func isReference(v string) bool {
	return strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && strings.Count(v, "${") == 1
}

// open decrypts the envelopes in props in place. A value that does not
// open stays an envelope, and the problem is logged with its key id.
func (s *Store) open(name string, props map[string]string) {
	for k, v := range props {
		if !IsEnvelope(v) {
			continue
		}
		pt, err := s.keys.Open(name, k, v)
		if err != nil {
			s.logger.Error("cannot decrypt a value in the configs topic; the connector fails until the key is configured",
				"connector", name, "property", k, "key_id", EnvelopeKeyID(v), "error", err)
			continue
		}
		props[k] = pt
	}
}
