package rest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// TestInternalForwardedToLeader: task configs that reach a follower are
// forwarded to the leader with their signature, which still verifies
// there.
func TestInternalForwardedToLeader(t *testing.T) {
	cfg := sign.DefaultConfig()
	key := cfg.GenerateKey(time.Now())
	var keys sign.Holder
	keys.Set(key)
	leaderIn := &fakeInternal{}
	leader := startInternal(t, leaderIn, &keys, nil)
	followerIn := &fakeInternal{err: &api.NotLeaderError{LeaderURL: leader.URL}}
	follower := startInternal(t, followerIn, &keys, nil)

	c := rest.NewInternalClient(nil, cfg, &keys)
	defer c.CloseIdleConnections()
	if err := c.PutTaskConfigs(context.Background(), follower.URL, "orders-source", []map[string]string{
		{"task.class": "datagen", "tasks.max": "2"}, {"task.class": "datagen", "partition": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	if got := leaderIn.recorded(); !slices.Equal(got, []string{wantPut}) {
		t.Errorf("leader calls %q", got)
	}
	if got := followerIn.recorded(); len(got) != 1 {
		t.Errorf("follower calls %q", got)
	}
}

// TestInternalClient: the client's requests pass the real server's
// Guard; a 403 right after a key rotation is retried with the new key; a
// later 403, a refusal and a missing key or leader are errors that say
// what happened.
func TestInternalClient(t *testing.T) {
	cfg := sign.DefaultConfig()
	now := time.Now()
	k1, k2 := cfg.GenerateKey(now), cfg.GenerateKey(now)

	t.Run("round trip", func(t *testing.T) {
		var keys sign.Holder
		keys.Set(k1)
		in := &fakeInternal{}
		s := startInternal(t, in, &keys, nil)
		c := rest.NewInternalClient(nil, cfg, &keys)
		defer c.CloseIdleConnections()
		ctx := context.Background()
		if err := c.PutTaskConfigs(ctx, s.URL+"/", "orders-source", []map[string]string{
			{"task.class": "datagen", "tasks.max": "2"}, {"task.class": "datagen", "partition": "1"},
		}); err != nil {
			t.Fatal(err)
		}
		if err := c.PutTaskConfigs(ctx, s.URL, "stopped one", nil); err != nil {
			t.Fatal(err)
		}
		if err := c.FenceZombies(ctx, s.URL, "orders-source"); err != nil {
			t.Fatal(err)
		}
		want := []string{wantPut, "PutTaskConfigs stopped one []", "FenceZombies orders-source"}
		if got := in.recorded(); !slices.Equal(got, want) {
			t.Errorf("calls\n%q\nwant\n%q", got, want)
		}
	})

	t.Run("key rotated", func(t *testing.T) {
		var leaderKeys, followerKeys sign.Holder
		leaderKeys.Set(k2)
		followerKeys.Set(k1)
		var attempts atomic.Int32
		in := &fakeInternal{}
		s := startInternal(t, in, &leaderKeys, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(w, r)
				if attempts.Add(1) == 1 {
					// The follower reads the new key from the configs topic.
					followerKeys.Set(k2)
				}
			})
		})
		c := rest.NewInternalClient(nil, cfg, &followerKeys)
		defer c.CloseIdleConnections()
		rest.SetInternalClientClock(c, time.Now, time.Millisecond)
		if err := c.FenceZombies(context.Background(), s.URL, "orders-source"); err != nil {
			t.Fatal(err)
		}
		if n := attempts.Load(); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
		if got := in.recorded(); !slices.Equal(got, []string{"FenceZombies orders-source"}) {
			t.Errorf("calls %q", got)
		}
	})

	t.Run("403 after the rotation window", func(t *testing.T) {
		var leaderKeys, followerKeys sign.Holder
		leaderKeys.Set(k2)
		followerKeys.Set(k1)
		var attempts atomic.Int32
		s := startInternal(t, &fakeInternal{}, &leaderKeys, func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attempts.Add(1); h.ServeHTTP(w, r) })
		})
		c := rest.NewInternalClient(nil, cfg, &followerKeys)
		defer c.CloseIdleConnections()
		start := time.Now()
		var clock atomic.Int64
		rest.SetInternalClientClock(c, func() time.Time {
			// The first reading is the first attempt; the next is two minutes on.
			return start.Add(time.Duration(clock.Add(1)-1) * 2 * time.Minute)
		}, time.Millisecond)
		err := c.PutTaskConfigs(context.Background(), s.URL, "orders-source", nil)
		var re *rest.RemoteError
		if !errors.As(err, &re) || re.Status != http.StatusForbidden {
			t.Fatalf("error %v, want a *RemoteError with status 403", err)
		}
		if !strings.Contains(err.Error(), s.URL+"/connectors/orders-source/tasks") || !strings.Contains(err.Error(), "session key") {
			t.Errorf("error %q should name the URL and the session key", err)
		}
		if n := attempts.Load(); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})

	t.Run("no known leader at the leader", func(t *testing.T) {
		var keys sign.Holder
		keys.Set(k1)
		s := startInternal(t, &fakeInternal{err: &api.NotLeaderError{}}, &keys, nil)
		c := rest.NewInternalClient(nil, cfg, &keys)
		defer c.CloseIdleConnections()
		err := c.PutTaskConfigs(context.Background(), s.URL, "orders-source", nil)
		var re *rest.RemoteError
		if !errors.As(err, &re) || re.Status != http.StatusConflict || re.Message != api.NoLeaderMessage {
			t.Fatalf("error %#v, want a 409 *RemoteError with Connect's message", err)
		}
	})

	t.Run("no key, no leader", func(t *testing.T) {
		c := rest.NewInternalClient(nil, cfg, &sign.Holder{})
		err := c.FenceZombies(context.Background(), "http://127.0.0.1:1", "orders-source")
		if !errors.Is(err, sign.ErrNoSessionKey) {
			t.Errorf("without a key: %v, want sign.ErrNoSessionKey", err)
		}
		var nl *api.NotLeaderError
		if err := c.FenceZombies(context.Background(), "", "orders-source"); !errors.As(err, &nl) {
			t.Errorf("without a leader URL: %v, want *api.NotLeaderError", err)
		}
	})

	t.Run("context ends the retries", func(t *testing.T) {
		var leaderKeys, followerKeys sign.Holder
		leaderKeys.Set(k2)
		followerKeys.Set(k1)
		s := startInternal(t, &fakeInternal{}, &leaderKeys, nil)
		c := rest.NewInternalClient(nil, cfg, &followerKeys)
		defer c.CloseIdleConnections()
		rest.SetInternalClientClock(c, time.Now, time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := c.FenceZombies(ctx, s.URL, "orders-source")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "HTTP 403") {
			t.Errorf("error %v, want the deadline after a 403", err)
		}
	})
}

// TestInternalClientBody: the body the client signs is the body it
// sends, a JSON array even for no tasks.
func TestInternalClientBody(t *testing.T) {
	cfg := sign.DefaultConfig()
	key := cfg.GenerateKey(time.Now())
	var keys sign.Holder
	keys.Set(key)
	var got bytes.Buffer
	var mu sync.Mutex
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = got.ReadFrom(r.Body)
		if err := cfg.Verify(r, got.Bytes(), key); err != nil {
			t.Errorf("signature: %v", err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer s.Close()
	c := rest.NewInternalClient(nil, cfg, &keys)
	defer c.CloseIdleConnections()
	if err := c.PutTaskConfigs(context.Background(), s.URL, "c", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.String() != "[]" {
		t.Errorf("body %q, want []", got.String())
	}
}
