package sign

import (
	"net/http"
	"testing"
	"time"
)

func TestNextRotation(t *testing.T) {
	c := DefaultConfig() // HmacSHA256, 256 bits, one hour
	t0 := time.UnixMilli(1714564800000)
	key := c.GenerateKey(t0)
	sha512Key := Config{KeyAlgorithm: HmacSHA512}.GenerateKey(t0)
	bigKey := Config{KeyAlgorithm: HmacSHA256, KeyBits: 512}.GenerateKey(t0)
	noTTL := DefaultConfig()
	noTTL.KeyTTL = 0

	for _, tc := range []struct {
		name    string
		c       Config
		key     *Key
		now     time.Time
		at      time.Time
		due     bool
		reason  string
		neverAt bool
	}{
		{"no key", c, nil, t0, t0, true, "no session key yet", false},
		{"empty key", c, &Key{Algorithm: "HmacSHA256", Created: t0}, t0, t0, true, "no session key yet", false},
		{"fresh key", c, &key, t0, t0.Add(time.Hour), false, "key reaches its TTL", false},
		{"one ms before ttl", c, &key, t0.Add(time.Hour - time.Millisecond), t0.Add(time.Hour), false, "key reaches its TTL", false},
		{"at ttl", c, &key, t0.Add(time.Hour), t0.Add(time.Hour), true, "key expired", false},
		{"long past ttl", c, &key, t0.Add(5 * time.Hour), t0.Add(time.Hour), true, "key expired", false},
		{"algorithm changed", c, &sha512Key, t0, t0, true, "key algorithm changed", false},
		{"size changed", c, &bigKey, t0, t0, true, "key size changed", false},
		{"ttl 0 never rotates", noTTL, &key, t0.Add(1000 * time.Hour), time.Time{}, false, "", true},
		{"ttl 0 still needs a key", noTTL, nil, t0, t0, true, "no session key yet", false},
		{"key from a clock ahead", c, &key, t0.Add(-time.Minute), t0.Add(time.Hour), false, "key reaches its TTL", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.c.NextRotation(tc.key, tc.now)
			if !r.At.Equal(tc.at) || r.Due(tc.now) != tc.due || r.Reason != tc.reason || r.At.IsZero() != tc.neverAt {
				t.Fatalf("got at %v due %v %q, want at %v due %v %q", r.At, r.Due(tc.now), r.Reason, tc.at, tc.due, tc.reason)
			}
		})
	}
}

// TestRotationSchedule drives a leader's loop with a fake clock: it
// rotates exactly when each key reaches its TTL, never before.
func TestRotationSchedule(t *testing.T) {
	c := DefaultConfig()
	c.KeyTTL = 10 * time.Second
	var h Holder
	now := time.UnixMilli(0)
	var rotations []time.Time
	for step := 0; step < 35; step++ {
		cur, ok := h.Current()
		var k *Key
		if ok {
			k = &cur
		}
		if c.NextRotation(k, now).Due(now) {
			h.Set(c.GenerateKey(now))
			rotations = append(rotations, now)
		}
		now = now.Add(time.Second)
	}
	want := []int64{0, 10, 20, 30}
	if len(rotations) != len(want) {
		t.Fatalf("rotations at %v, want at %v s", rotations, want)
	}
	for i, r := range rotations {
		if r.Unix() != want[i] {
			t.Fatalf("rotation %d at %ds, want %ds", i, r.Unix(), want[i])
		}
	}
}

func TestKeyMayHaveRotated(t *testing.T) {
	first := time.UnixMilli(1714564800000)
	for _, tc := range []struct {
		name   string
		status int
		now    time.Time
		want   bool
	}{
		{"403 at once", http.StatusForbidden, first, true},
		{"403 at the window's end", http.StatusForbidden, first.Add(RotationRetryWindow), true},
		{"403 after the window", http.StatusForbidden, first.Add(RotationRetryWindow + time.Millisecond), false},
		{"400 missing signature", http.StatusBadRequest, first, false},
		{"503 no key yet", http.StatusServiceUnavailable, first, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KeyMayHaveRotated(tc.status, first, tc.now); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
