package member

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stable heartbeats the generation of rb, delivering events, until the
// member must rejoin; it returns the reason, or ctx's error.
func (m *Member) stable(ctx context.Context, rb *Rebalance) (string, error) {
	// Right after a rebalance another often follows: the cooperative
	// protocol assigns revoked work in a second round, once the members
	// that gave it up have rejoined, and a member that gave nothing up
	// learns of that round only at its next heartbeat. The first
	// heartbeats after a join are therefore quick (every quickHeartbeat,
	// quickHeartbeats of them), so that moved work runs within about a
	// quarter of a second of being freed rather than a heartbeat interval
	// later; then the member heartbeats every heartbeat.interval.ms.
	quick := 0
	if m.cfg.HeartbeatInterval > quickHeartbeat {
		quick = quickHeartbeats
	}
	first := m.cfg.HeartbeatInterval
	if quick > 0 {
		first = quickHeartbeat
	}
	hb := time.NewTimer(first)
	defer hb.Stop()
	var delay <-chan time.Time
	if d := rb.Assignment.Delay; d > 0 {
		t := time.NewTimer(time.Duration(d) * time.Millisecond)
		defer t.Stop()
		delay = t.C
	}
	rejoin := ""
	for {
		if rejoin != "" && len(m.pending) == 0 {
			return rejoin, nil
		}
		var out chan<- Event
		var next Event
		if len(m.pending) > 0 {
			out, next = m.events, m.pending[0]
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case out <- next:
			m.pending = m.pending[1:]
		case r := <-m.rejoin:
			if rejoin == "" {
				rejoin = r
			}
		case <-delay:
			if rejoin == "" {
				rejoin = fmt.Sprintf("scheduled rebalance after %d ms", rb.Assignment.Delay)
			}
		case resume := <-m.pauseC:
			select {
			case <-resume:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		case <-hb.C:
			next := m.cfg.HeartbeatInterval
			if quick > 0 {
				quick--
				if quick > 0 {
					next = quickHeartbeat
				}
			}
			if r := m.heartbeat(ctx, rb); r != "" {
				if rejoin == "" {
					rejoin = r
				}
			} else if m.lastFailed {
				next = m.cfg.RetryBackoff
			}
			hb.Reset(next)
		}
	}
}

// After a join the member heartbeats every quickHeartbeat, quickHeartbeats
// times (see stable), when heartbeat.interval.ms is longer.
const (
	quickHeartbeat  = 250 * time.Millisecond
	quickHeartbeats = 8
)

// heartbeat sends one heartbeat; it returns a reason to rejoin, or "".
func (m *Member) heartbeat(ctx context.Context, rb *Rebalance) string {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = m.cfg.Group
	req.Generation = rb.Generation
	req.MemberID = rb.MemberID
	// A slow answer is contact (the coordinator got the heartbeat, so it
	// keeps the member): a loaded broker must not make every worker stop
	// its work. A heartbeat that gets no answer within half the session
	// timeout is as good as lost, so that a coordinator that hangs rather
	// than refuses is noticed well before it drops the member.
	hctx, cancel := context.WithTimeout(ctx, max(m.cfg.HeartbeatInterval, m.cfg.SessionTimeout/2))
	defer cancel()
	sent := time.Now()
	resp, err := req.RequestWith(hctx, m.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	m.lastFailed = false
	switch {
	case err == nil:
		m.lastOK = time.Now()
		m.renew(sent)
		if !m.holding {
			// Contact is back but the caller stopped everything: get
			// it a fresh assignment.
			return "contact with the coordinator restored"
		}
		return ""
	case errors.Is(err, kerr.RebalanceInProgress):
		m.lastOK = time.Now()
		m.renew(sent) // still a member of this generation until it rejoins
		return "the group is rebalancing"
	case errors.Is(err, kerr.UnknownMemberID):
		m.lastOK = time.Now()
		m.memberID = ""
		m.lose(fmt.Errorf("%w: %v", ErrMembershipLost, err))
		return "the coordinator dropped this member"
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
		m.lastOK = time.Now()
		m.lose(fmt.Errorf("%w: %v", ErrMembershipLost, err))
		return "this member's generation is over"
	case ctx.Err() != nil:
		return ""
	default:
		// Unreachable or moved coordinator (kgo looks it up again) or
		// a timeout: retry soon, and tell the caller once it lasts.
		m.lastFailed = true
		m.checkContact(err)
		return ""
	}
}
