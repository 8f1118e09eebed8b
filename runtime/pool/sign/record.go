package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RecordKey is the configs-topic key of the session-key record.
const RecordKey = "session-key"

// ErrTombstone is returned by DecodeRecord for a record without a value.
var ErrTombstone = errors.New("session-key record is a tombstone (no value): there is no session key until the leader writes one")

// record is the record's value as Connect's JsonConverter writes it
// (schemas disabled): fields in this order, the key in standard base64
// with padding, the time in epoch milliseconds.
type record struct {
	Key       *string `json:"key"`
	Algorithm *string `json:"algorithm"`
	Created   *int64  `json:"creation-timestamp"`
}

// EncodeRecord returns the configs-topic value for k, byte for byte as a
// Connect leader writes it: {"key":<base64>,"algorithm":<name>,
// "creation-timestamp":<ms>}. The value holds the secret.
func EncodeRecord(k Key) ([]byte, error) {
	if len(k.Secret) == 0 {
		return nil, errors.New("encoding the session-key record: the key is empty")
	}
	if k.Algorithm == "" {
		return nil, errors.New("encoding the session-key record: the key has no algorithm")
	}
	s := base64.StdEncoding.EncodeToString(k.Secret)
	ms := k.Created.UnixMilli()
	return json.Marshal(record{Key: &s, Algorithm: &k.Algorithm, Created: &ms})
}

// DecodeRecord parses a session-key record's value, as a Connect or Sluice
// leader writes it. Its errors say what is wrong with the record and
// never show the key.
func DecodeRecord(value []byte) (Key, error) {
	if len(value) == 0 {
		return Key{}, ErrTombstone
	}
	var r record
	dec := json.NewDecoder(bytes.NewReader(value))
	if err := dec.Decode(&r); err != nil {
		return Key{}, fmt.Errorf("decoding the session-key record: not a JSON object with key, algorithm and creation-timestamp: %w", redactJSON(err))
	}
	if dec.More() {
		return Key{}, errors.New("decoding the session-key record: data after the JSON object")
	}
	switch {
	case r.Key == nil:
		return Key{}, errors.New(`decoding the session-key record: field "key" is missing`)
	case r.Algorithm == nil || *r.Algorithm == "":
		return Key{}, errors.New(`decoding the session-key record: field "algorithm" is missing or empty`)
	case r.Created == nil:
		return Key{}, errors.New(`decoding the session-key record: field "creation-timestamp" is missing`)
	}
	secret, err := base64.StdEncoding.Strict().DecodeString(*r.Key)
	if err != nil {
		return Key{}, errors.New(`decoding the session-key record: field "key" is not standard base64`)
	}
	if len(secret) == 0 {
		return Key{}, errors.New(`decoding the session-key record: field "key" is empty`)
	}
	return Key{Secret: secret, Algorithm: *r.Algorithm, Created: time.UnixMilli(*r.Created)}, nil
}

// redactJSON keeps the kind and place of a JSON error but drops any
// value it quotes, which could be part of the key.
func redactJSON(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			return fmt.Errorf("the value is a JSON %s", typ.Value)
		}
		return fmt.Errorf("field %q must be a %s, not a JSON %s", typ.Field, typ.Type, typ.Value)
	}
	return errors.New("invalid JSON")
}
