package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// A chunk read with watermarks (incremental.go) must see every change the
// stream delivered before its low watermark: the window only drops rows
// changed after it. PostgreSQL does not promise that. A transaction is
// decoded at its commit record, but becomes visible to new snapshots only
// when its backend ends it a moment later: after a synchronous standby
// confirmed it, or whenever a preempted backend runs again. A chunk query
// started in between (after the low watermark, itself after the commit
// record) still sees the rows as they were before the transaction, and
// would emit them after the transaction's changes: a deleted row comes
// back, an update is undone.
//
// So every chunk is read in a REPEATABLE READ transaction whose snapshot
// the reader reports (its xmax and in-progress xids), the streamer
// remembers the xids of the transactions it decoded, and a read whose
// snapshot does not see a transaction decoded before its low watermark is
// thrown away and the chunk read again a little later.

// xidSnapshot is what a snapshot (pg_current_snapshot) says about
// transaction ids, to the low 32 bits the stream carries.
type xidSnapshot struct {
	xmax uint32              // the first xid not yet finished when it was taken
	xip  map[uint32]struct{} // xids in progress when it was taken
}

// parseXidSnapshot parses pg_snapshot's text form "xmin:xmax:xip,...".
func parseXidSnapshot(s string) (xidSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return xidSnapshot{}, fmt.Errorf("snapshot %q: want xmin:xmax:xip", s)
	}
	if _, err := strconv.ParseUint(parts[0], 10, 64); err != nil {
		return xidSnapshot{}, fmt.Errorf("snapshot %q: %w", s, err)
	}
	xmax, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return xidSnapshot{}, fmt.Errorf("snapshot %q: %w", s, err)
	}
	sn := xidSnapshot{xmax: uint32(xmax)}
	if parts[2] != "" {
		ids := strings.Split(parts[2], ",")
		sn.xip = make(map[uint32]struct{}, len(ids))
		for _, id := range ids {
			x, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				return xidSnapshot{}, fmt.Errorf("snapshot %q: %w", s, err)
			}
			sn.xip[uint32(x)] = struct{}{}
		}
	}
	return sn, nil
}

// sees reports whether the snapshot sees the effects of the committed
// transaction xid (compared as PostgreSQL does, modulo 2^32).
func (sn *xidSnapshot) sees(xid uint32) bool {
	if int32(xid-sn.xmax) >= 0 {
		return false
	}
	_, running := sn.xip[xid]
	return !running
}

// commitLog holds the xids of the transactions the stream decoded that no
// snapshot was seen to see yet, with the order they were decoded in. It
// outlives reconnects (streamer.resumed).
type commitLog struct {
	on      bool              // PostgreSQL 14+ (watermarks); else it records nothing
	seq     uint64            // commits decoded
	xids    map[uint32]uint64 // xid: seq of its commit
	pruneAt int               // prune with a fresh snapshot past this many
}

const commitLogPrune = 4096

func newCommitLog(on bool) *commitLog {
	return &commitLog{on: on, xids: map[uint32]uint64{}, pruneAt: commitLogPrune}
}

// add records that the commit of xid was decoded.
func (c *commitLog) add(xid uint32) {
	if !c.on {
		return
	}
	c.seq++
	c.xids[xid] = c.seq
}

// unseen returns a transaction decoded at or before seq that sn does not
// see, if any.
func (c *commitLog) unseen(sn *xidSnapshot, seq uint64) (uint32, bool) {
	for x, s := range c.xids {
		if s <= seq && !sn.sees(x) {
			return x, true
		}
	}
	return 0, false
}

// prune forgets the transactions sn sees: every later snapshot sees them
// too.
func (c *commitLog) prune(sn *xidSnapshot) {
	for x := range c.xids {
		if sn.sees(x) {
			delete(c.xids, x)
		}
	}
	c.pruneAt = max(commitLogPrune, 2*len(c.xids))
}

// pruneCommits keeps the commit log small while no chunk is read (no
// incremental snapshot, or one paused): past pruneAt entries it asks the
// server for a snapshot and forgets what it sees. Never while a chunk is
// read: its snapshot may be older than this one and still miss what this
// one sees; its high watermark prunes instead.
func (s *streamer) pruneCommits(ctx context.Context) error {
	if !s.commits.on || len(s.commits.xids) <= s.commits.pruneAt || (s.incr != nil && s.incr.cur != nil) {
		return nil
	}
	var text string
	if err := s.t.meta.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return retryIfConn(fmt.Errorf("reading a snapshot to prune the decoded transactions: %w", err))
	}
	sn, err := parseXidSnapshot(text)
	if err != nil {
		return err
	}
	s.commits.prune(&sn)
	return nil
}

// seedCommits records, at a start, the transactions committed but not
// visible yet because they wait for a synchronous standby: the stream
// starts after their commits, which an earlier run may have delivered, so
// no chunk may be read before they are visible. (pg_xact_status calls
// them in progress; pg_stat_activity shows them to a superuser or a
// member of pg_read_all_stats only. A backend preempted between its
// commit record and the end of its transaction is not seen: a moment's
// gap, at a restart.)
func (s *streamer) seedCommits(ctx context.Context) error {
	if !s.commits.on {
		return nil
	}
	rows, err := s.t.meta.Query(ctx, `SELECT backend_xid::text FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND backend_xid IS NOT NULL`)
	if err != nil {
		return retryIfConn(fmt.Errorf("reading the transactions committed but not visible yet: %w", err))
	}
	var ids []uint32
	for rows.Next() {
		var text string
		if err := rows.Scan(&text); err != nil {
			rows.Close()
			return err
		}
		x, err := strconv.ParseUint(text, 10, 64)
		if err != nil {
			rows.Close()
			return fmt.Errorf("xid %q: %w", text, err)
		}
		ids = append(ids, uint32(x))
	}
	if err := rows.Err(); err != nil {
		return retryIfConn(fmt.Errorf("reading the transactions committed but not visible yet: %w", err))
	}
	for _, x := range ids {
		s.commits.xids[x] = 0 // decoded before any low watermark
	}
	if len(ids) > 0 {
		s.t.log.Info("transactions committed but not visible yet: no snapshot chunk is read before they are", "xids", len(ids))
	}
	return nil
}
