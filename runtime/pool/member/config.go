package member

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-cdc/sluice/runtime/pool/proto"
)

// Worker property names of the settings in Config (Kafka Connect's).
const (
	GroupID           = "group.id"
	SessionTimeout    = "session.timeout.ms"
	HeartbeatInterval = "heartbeat.interval.ms"
	RebalanceTimeout  = "rebalance.timeout.ms"
	RetryBackoff      = "retry.backoff.ms"
)

// Config configures a Member. Zero durations take Connect's defaults.
type Config struct {
	// Group is the group.id the workers of one pool share.
	Group string
	// SessionTimeout (session.timeout.ms, default 10 s): the coordinator
	// drops a member it has not heard from for this long.
	SessionTimeout time.Duration
	// HeartbeatInterval (heartbeat.interval.ms, default 3 s): how often
	// the member heartbeats; also how long the coordinator may stay
	// unreachable before the member reports ErrContactLost.
	HeartbeatInterval time.Duration
	// RebalanceTimeout (rebalance.timeout.ms, default 60 s): how long the
	// coordinator waits for every member to rejoin in a rebalance, so
	// how long a member has to stop revoked work.
	RebalanceTimeout time.Duration
	// RetryBackoff (retry.backoff.ms, default 100 ms): the wait after a
	// failed request before the next.
	RetryBackoff time.Duration
	// Protocols are the subprotocols offered, most preferred first
	// (default sessioned, compatible, default, as Connect offers them).
	// The group uses the first every member offers.
	Protocols []proto.Protocol
	// Logger gets lifecycle lines (joined, lost contact); nil discards.
	Logger *slog.Logger
}

func (c *Config) ensureDefaults() {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 3 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if len(c.Protocols) == 0 {
		c.Protocols = []proto.Protocol{proto.Sessioned, proto.Compatible, proto.Eager}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate checks the settings after defaults are applied; its errors
// name the property to fix.
func (c *Config) validate() error {
	if c.Group == "" {
		return fmt.Errorf("%s is empty: set it to the name the workers of one pool share", GroupID)
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{SessionTimeout, c.SessionTimeout}, {HeartbeatInterval, c.HeartbeatInterval}, {RebalanceTimeout, c.RebalanceTimeout}, {RetryBackoff, c.RetryBackoff}} {
		if p.d < time.Millisecond || ms(p.d) > 1<<31-1 {
			return fmt.Errorf("%s %d: must be between 1 and 2147483647 milliseconds", p.name, ms(p.d))
		}
	}
	if c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("%s %d must be lower than %s %d (a third of it is usual): "+
			"otherwise the coordinator drops members between heartbeats",
			HeartbeatInterval, ms(c.HeartbeatInterval), SessionTimeout, ms(c.SessionTimeout))
	}
	seen := map[proto.Protocol]bool{}
	for _, p := range c.Protocols {
		if p.Version() < 0 {
			return fmt.Errorf("connect protocol %q is not one of %q, %q, %q", p, proto.Sessioned, proto.Compatible, proto.Eager)
		}
		if seen[p] {
			return fmt.Errorf("connect protocol %q is offered twice", p)
		}
		seen[p] = true
	}
	return nil
}
