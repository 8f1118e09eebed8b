package registry

import (
	"encoding/json"
	"fmt"
)

// The record formats of the schemas topic are Confluent's (its
// KafkaStore's JSON keys and values), so that a topic written by one can
// be read by the other where the features overlap:
//
//	{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}
//	  → {"subject":"s","version":1,"id":7,"schema":"...","deleted":false}
//	{"keytype":"CONFIG","subject":null,"magic":0}  (global; or a subject)
//	  → {"compatibilityLevel":"BACKWARD"}
//	{"keytype":"DELETE_SUBJECT","subject":"s","magic":0}
//	  → {"subject":"s","version":3}
//
// A tombstone deletes a SCHEMA key permanently, or a CONFIG key's level.
// Other key types (Confluent's NOOP, MODE, ...) are skipped.
const (
	keySchema        = "SCHEMA"
	keyConfig        = "CONFIG"
	keyDeleteSubject = "DELETE_SUBJECT"
)

// recordKey is every key type's JSON; fields not in a type are omitted,
// except subject, which CONFIG writes as null for the global level.
type recordKey struct {
	KeyType string  `json:"keytype"`
	Subject *string `json:"subject"`
	Version int     `json:"version,omitempty"`
	Magic   int     `json:"magic"`
}

func schemaKey(subject string, version int) []byte {
	return mustJSON(recordKey{KeyType: keySchema, Subject: &subject, Version: version, Magic: 1})
}

// configKey is the global level's key when subject is "".
func configKey(subject string) []byte {
	k := recordKey{KeyType: keyConfig}
	if subject != "" {
		k.Subject = &subject
	}
	return mustJSON(k)
}

func deleteSubjectKey(subject string) []byte {
	return mustJSON(recordKey{KeyType: keyDeleteSubject, Subject: &subject})
}

type schemaValue struct {
	Subject    string `json:"subject"`
	Version    int    `json:"version"`
	ID         int    `json:"id"`
	SchemaType string `json:"schemaType,omitempty"`
	Schema     string `json:"schema"`
	Deleted    bool   `json:"deleted"`
}

type configValue struct {
	CompatibilityLevel string `json:"compatibilityLevel"`
}

type deleteSubjectValue struct {
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func parseKey(b []byte) (recordKey, error) {
	var k recordKey
	if err := json.Unmarshal(b, &k); err != nil {
		return k, fmt.Errorf("key %q is not JSON: %w", b, err)
	}
	return k, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the plain structs above are marshalled.
		panic(err)
	}
	return b
}
