package registry

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
)

// Level is a compatibility level: which earlier versions of a subject a
// new schema is checked against, and in which direction.
type Level string

// The compatibility levels, as Confluent names them. BACKWARD: a reader
// with the new schema reads data written with the latest one; FORWARD:
// a reader with the latest schema reads data written with the new one;
// FULL: both. The _TRANSITIVE forms check every live version, not only
// the latest.
const (
	LevelNone               Level = "NONE"
	LevelBackward           Level = "BACKWARD"
	LevelBackwardTransitive Level = "BACKWARD_TRANSITIVE"
	LevelForward            Level = "FORWARD"
	LevelForwardTransitive  Level = "FORWARD_TRANSITIVE"
	LevelFull               Level = "FULL"
	LevelFullTransitive     Level = "FULL_TRANSITIVE"
)

// DefaultLevel is the global level until one is set.
const DefaultLevel = LevelBackward

var levels = []Level{LevelNone, LevelBackward, LevelBackwardTransitive, LevelForward, LevelForwardTransitive,
	LevelFull, LevelFullTransitive}

// ParseLevel parses a level name, in any case.
func ParseLevel(s string) (Level, error) {
	for _, l := range levels {
		if strings.EqualFold(s, string(l)) {
			return l, nil
		}
	}
	names := make([]string, len(levels))
	for i, l := range levels {
		names[i] = string(l)
	}
	return "", errorf(CodeInvalidCompatibilityLevel, "invalid compatibility level %q; use one of %s", s, strings.Join(names, ", "))
}

// Transitive says whether l checks every live version.
func (l Level) Transitive() bool { return strings.HasSuffix(string(l), "_TRANSITIVE") }

func (l Level) backward() bool {
	return strings.HasPrefix(string(l), "BACKWARD") || strings.HasPrefix(string(l), "FULL")
}
func (l Level) forward() bool {
	return strings.HasPrefix(string(l), "FORWARD") || strings.HasPrefix(string(l), "FULL")
}

// version is one registered version as the compatibility check sees it.
type checkedVersion struct {
	version int
	schema  avro.Schema
}

// incompatibilities checks s against each of against (already chosen by
// the level: the latest or all) and returns one message per failed
// direction; none means compatible.
func incompatibilities(l Level, s avro.Schema, against []checkedVersion) []string {
	var out []string
	for _, v := range against {
		// A checker per pair: hamba's caches results by Parsing
		// Canonical Form, which ignores defaults, so a shared one would
		// answer for a schema that differs only in a default.
		if l.backward() {
			if err := avro.NewSchemaCompatibility().Compatible(s, v.schema); err != nil {
				out = append(out, fmt.Sprintf("BACKWARD: the new schema cannot read data written with version %d: %v", v.version, err))
			}
		}
		if l.forward() {
			if err := avro.NewSchemaCompatibility().Compatible(v.schema, s); err != nil {
				out = append(out, fmt.Sprintf("FORWARD: version %d cannot read data written with the new schema: %v", v.version, err))
			}
		}
	}
	return out
}
