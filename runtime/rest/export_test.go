package rest

import "time"

// SetInternalClientClock replaces c's clock and first retry delay.
func SetInternalClientClock(c *InternalClient, now func() time.Time, backoff time.Duration) {
	c.now, c.backoff = now, backoff
}
