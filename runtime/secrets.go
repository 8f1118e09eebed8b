package runtime

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/configstore"
)

// keyringFrom reads the configs topic's encryption keys from the worker
// config: nil when none is set. Errors name the property, never a key.
func keyringFrom(w *config.Worker) (*configstore.Keyring, error) {
	inline, file := w.Values.String(config.EncryptionKey), w.Values.String(config.EncryptionKeyFile)
	previous := w.Values.List(config.EncryptionPreviousKeys)
	switch {
	case inline != "" && file != "":
		return nil, fmt.Errorf("%s and %s are both set; set only one", config.EncryptionKey, config.EncryptionKeyFile)
	case inline == "" && file == "":
		if len(previous) > 0 {
			return nil, fmt.Errorf("%s is set but no current key is: set %s or %s (previous keys only open old values)",
				config.EncryptionPreviousKeys, config.EncryptionKey, config.EncryptionKeyFile)
		}
		return nil, nil
	}
	src := config.EncryptionKey
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the key: %w", config.EncryptionKeyFile, err)
		}
		inline, src = string(b), config.EncryptionKeyFile
	}
	current, err := decodeKey(src, inline)
	if err != nil {
		return nil, err
	}
	var prev [][]byte
	for i, p := range previous {
		k, err := decodeKey(fmt.Sprintf("%s (key %d)", config.EncryptionPreviousKeys, i+1), p)
		if err != nil {
			return nil, err
		}
		prev = append(prev, k)
	}
	return configstore.NewKeyring(current, prev...)
}

func decodeKey(prop, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%s is not base64; generate a key with: openssl rand -base64 32", prop)
	}
	if len(b) != configstore.KeySize {
		return nil, fmt.Errorf("%s is %d bytes once decoded, want %d; generate a key with: openssl rand -base64 32", prop, len(b), configstore.KeySize)
	}
	return b, nil
}

// sensitiveAtRest reports whether a connector or task config value is
// encrypted in the configs topic: the values of properties the
// connector's definition marks sensitive, and any value holding
// credentials inside a URL.
func (h *Herder) sensitiveAtRest(class, prop, value string) bool {
	if config.HasURLCredentials(value) {
		return true
	}
	p, err := h.plugins.Lookup(class)
	if err != nil {
		return false
	}
	k, ok := h.defFor(p).Key(prop)
	return ok && k.IsSensitive()
}
