package assign

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrConfigMismatch is matched (errors.Is) by a *ConfigMismatchError.
var ErrConfigMismatch = errors.New("leader's config is behind a member's")

// ConfigMismatchError says that a member has read the configs topic
// further than the leader: the leader must read it to the end before it
// can assign.
type ConfigMismatchError struct {
	// Leader is the offset of the leader's Config; Max the highest offset
	// a member reported.
	Leader, Max int64
}

func (e *ConfigMismatchError) Error() string {
	return fmt.Sprintf("assigning from configs-topic offset %d, but a member has read to %d: "+
		"read the configs topic to the end and assign again", e.Leader, e.Max)
}

// Unwrap returns ErrConfigMismatch.
func (e *ConfigMismatchError) Unwrap() error { return ErrConfigMismatch }

// InputError is an Input that the leader should never build: a bug in the
// caller, not something a user can cause.
type InputError struct {
	Reason string
}

func (e *InputError) Error() string { return "assign: invalid input: " + e.Reason }

func quote(s string) string { return strconv.Quote(s) }
