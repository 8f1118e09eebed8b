package datagen

import "time"

// linger is how long a paced task holds a due record back to gather more
// into the same batch.
const linger = 50 * time.Millisecond

// pacer spaces records interval apart without sleeping per record: record k
// (counted from the first take) is due at start + k*interval. take hands
// out a full batch as soon as it is due, and otherwise the records due so
// far once the oldest of them has waited linger, so a paced task returns
// at most one batch per linger. It is not safe for concurrent use.
type pacer struct {
	interval time.Duration // 0: unpaced
	start    time.Time
	sent     int64 // records handed out since start
}

// take returns how many of want records may be generated at now. When that
// is 0, wait (> 0) is how long until a batch is ready.
func (p *pacer) take(now time.Time, want int) (n int, wait time.Duration) {
	if p.interval <= 0 || want <= 0 {
		return want, 0
	}
	if p.start.IsZero() {
		p.start, p.sent = now, 0
	}
	elapsed := now.Sub(p.start)
	due := int64(elapsed/p.interval) + 1 // records 0..due-1 are due
	if due-p.sent > int64(want) {
		// Behind (the caller stalled): keep at most one batch of backlog
		// so that a stall is not followed by a long burst.
		p.sent = due - int64(want)
	}
	fullAt := time.Duration(p.sent+int64(want)-1) * p.interval
	if fullAt <= elapsed {
		p.sent += int64(want)
		return want, 0
	}
	readyAt := min(fullAt, time.Duration(p.sent)*p.interval+linger)
	if readyAt <= elapsed {
		avail := due - p.sent // > 0: record sent was due linger ago
		p.sent += avail
		return int(avail), 0
	}
	return 0, readyAt - elapsed
}
