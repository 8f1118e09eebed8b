package sign

import (
	"net/http"
	"strings"
	"time"
)

// Rotation is when the leader must distribute a new session key, and why.
type Rotation struct {
	// At is the time; zero means never (inter.worker.key.ttl.ms is 0 and
	// the key matches the configuration).
	At time.Time
	// Reason says why, for the leader's log: "no session key yet",
	// "key expired", "key algorithm changed", "key size changed", or
	// "key reaches its TTL" for a rotation still to come.
	Reason string
}

// Due reports whether the rotation must happen at now.
func (r Rotation) Due(now time.Time) bool { return !r.At.IsZero() && !r.At.After(now) }

// NextRotation says when the leader must generate and write the next
// session key, given the current one (nil when none has been read) and
// now, as Connect's herder decides: now if there is no key, or if the key
// was generated with another algorithm or size than c says (the
// configuration changed); otherwise when the key has lived c.KeyTTL, or
// never with a KeyTTL of 0. It is pure: the herder schedules a wake-up at
// At, and calls it again after reading each new key.
func (c Config) NextRotation(current *Key, now time.Time) Rotation {
	switch {
	case current == nil || len(current.Secret) == 0:
		return Rotation{At: now, Reason: "no session key yet"}
	case !strings.EqualFold(current.Algorithm, string(c.KeyAlgorithm)):
		return Rotation{At: now, Reason: "key algorithm changed"}
	case len(current.Secret) != c.keyBytes():
		return Rotation{At: now, Reason: "key size changed"}
	case c.KeyTTL <= 0:
		return Rotation{}
	}
	at := current.Created.Add(c.KeyTTL)
	if !at.After(now) {
		return Rotation{At: at, Reason: "key expired"}
	}
	return Rotation{At: at, Reason: "key reaches its TTL"}
}

// RotationRetryWindow is how long after its first attempt a follower
// treats a 403 from the leader as a sign that the session key changed
// under it (Connect's herder waits one minute).
const RotationRetryWindow = time.Minute

// KeyMayHaveRotated reports whether a forwarded internal request that the
// leader answered with status should be retried (after a backoff, signed
// with the then current key): a 403 within RotationRetryWindow of the
// request's first attempt, when the leader probably rotated the key
// between signing and checking. Later 403s are a real mismatch (workers
// with different keys, or a forged request) to report.
func KeyMayHaveRotated(status int, firstAttempt, now time.Time) bool {
	return status == http.StatusForbidden && !now.After(firstAttempt.Add(RotationRetryWindow))
}
