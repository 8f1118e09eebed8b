package member

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice/runtime/pool/proto"
)

// joinAndSync runs one round of JoinGroup and SyncGroup. It returns the
// member's rebalance; nil and no error when the round must be retried
// (the retry is already waited for); an error only when ctx ended or the
// failure is one the user must fix.
func (m *Member) joinAndSync(ctx context.Context, reason string) (*Rebalance, error) {
	join, err := m.join(ctx, reason)
	if err != nil || join == nil {
		return nil, err
	}
	return m.sync(ctx, join)
}

func (m *Member) join(ctx context.Context, reason string) (*kmsg.JoinGroupResponse, error) {
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = m.cfg.Group
		req.SessionTimeoutMillis = int32(m.cfg.SessionTimeout.Milliseconds())
		req.RebalanceTimeoutMillis = int32(m.cfg.RebalanceTimeout.Milliseconds())
		req.MemberID = m.memberID
		req.ProtocolType = proto.ProtocolType
		req.Reason = &reason
		st := m.state()
		for _, p := range m.cfg.Protocols {
			md := proto.Metadata{Version: p.Version(), URL: st.URL, ConfigOffset: st.ConfigOffset}
			if p.Cooperative() && st.Allocation != nil {
				a := *st.Allocation
				a.Version = proto.Compatible.Version() // Connect embeds a version-1 assignment
				md.Allocation = &a
			}
			b, err := md.AppendTo(nil)
			if err != nil {
				return nil, fmt.Errorf("encoding this worker's group metadata: %w", err)
			}
			rp := kmsg.NewJoinGroupRequestProtocol()
			rp.Name = string(p)
			rp.Metadata = b
			req.Protocols = append(req.Protocols, rp)
		}
		// kgo waits for the answer up to the rebalance timeout, as the
		// coordinator may hold the join that long.
		kresp, err := req.RequestWith(ctx, m.cl)
		if err != nil {
			return nil, m.unanswered(ctx, err)
		}
		code := m.answered(kresp.ErrorCode)
		switch {
		case code == nil:
			m.memberID = kresp.MemberID
			m.generation = kresp.Generation
			return kresp, nil
		case errors.Is(code, kerr.MemberIDRequired):
			// KIP-394: the coordinator hands out the id, we join again
			// with it at once.
			m.memberID = kresp.MemberID
			continue
		case errors.Is(code, kerr.UnknownMemberID):
			m.memberID = ""
			m.lose(fmt.Errorf("%w: the coordinator does not know member id (%v)", ErrMembershipLost, code))
			continue
		case errors.Is(code, kerr.RebalanceInProgress):
			continue
		case isCoordinatorErr(code):
			m.checkContact(code)
			return nil, m.retryAfterBackoff(ctx)
		default:
			if err := m.fatal("joining", code); err != nil {
				return nil, err
			}
			m.checkContact(code)
			return nil, m.retryAfterBackoff(ctx)
		}
	}
}

func (m *Member) sync(ctx context.Context, join *kmsg.JoinGroupResponse) (*Rebalance, error) {
	protocol := proto.Protocol("")
	if join.Protocol != nil {
		protocol = proto.Protocol(*join.Protocol)
	}
	if protocol.Version() < 0 || !slices.Contains(m.cfg.Protocols, protocol) {
		return nil, fmt.Errorf("group %s chose protocol %q, which this worker did not offer: "+
			"another application uses group.id %q; give the workers a group.id of their own", m.cfg.Group, protocol, m.cfg.Group)
	}
	leaderID := join.LeaderID
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = m.cfg.Group
	req.Generation = join.Generation
	req.MemberID = join.MemberID
	pt, pn := proto.ProtocolType, string(protocol)
	req.ProtocolType, req.Protocol = &pt, &pn
	if join.LeaderID == join.MemberID {
		as, err := m.assign(ctx, join, protocol)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			m.cfg.Logger.Error("computing the group's assignments failed; rebalancing again", "group", m.cfg.Group,
				"generation", join.Generation, "error", err)
			return nil, m.retryAfterBackoff(ctx)
		}
		req.GroupAssignment = as
	}
	sent := time.Now()
	kresp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		return nil, m.unanswered(ctx, err)
	}
	code := m.answered(kresp.ErrorCode)
	switch {
	case code == nil:
		m.renew(sent)
	case errors.Is(code, kerr.RebalanceInProgress):
		return nil, nil // the group moved on: join again at once
	case errors.Is(code, kerr.UnknownMemberID):
		m.memberID = ""
		m.lose(fmt.Errorf("%w: %v", ErrMembershipLost, code))
		return nil, nil
	case errors.Is(code, kerr.IllegalGeneration):
		m.lose(fmt.Errorf("%w: %v", ErrMembershipLost, code))
		return nil, nil
	case isCoordinatorErr(code):
		m.checkContact(code)
		return nil, m.retryAfterBackoff(ctx)
	default:
		if err := m.fatal("syncing", code); err != nil {
			return nil, err
		}
		return nil, m.retryAfterBackoff(ctx)
	}
	a, err := proto.DecodeAssignment(kresp.MemberAssignment)
	if err != nil {
		m.cfg.Logger.Error("the group leader's assignment is unreadable; rejoining", "group", m.cfg.Group,
			"leader", join.LeaderID, "error", err)
		return nil, m.retryAfterBackoff(ctx)
	}
	// Who led is what the assignment says, as in Connect (the herder's
	// isLeader compares assignment.leader() with its member id): a
	// coordinator may have told more than one member that it leads
	// (kfake does when the previous leader is gone), but only one
	// member's SyncGroup assignments reach the group.
	if a.Leader != "" {
		leaderID = a.Leader
	}
	return &Rebalance{
		Generation: join.Generation,
		MemberID:   join.MemberID,
		LeaderID:   leaderID,
		Leader:     leaderID == join.MemberID,
		Protocol:   protocol,
		Assignment: a,
	}, nil
}

// assign runs the Assignor over the members' metadata and encodes its
// answer.
func (m *Member) assign(ctx context.Context, join *kmsg.JoinGroupResponse, protocol proto.Protocol) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	g := Group{Generation: join.Generation, Protocol: protocol, LeaderID: join.LeaderID}
	leaderURL := ""
	var maxOffset int64 = -1
	for _, jm := range join.Members {
		md, err := proto.DecodeMetadata(jm.ProtocolMetadata)
		if err != nil {
			// A member we cannot read gets an empty assignment; it
			// will say so in its own log.
			m.cfg.Logger.Warn("ignoring a group member whose metadata is unreadable", "group", m.cfg.Group,
				"member", jm.MemberID, "error", err)
			continue
		}
		if jm.MemberID == join.LeaderID {
			leaderURL = md.URL
		}
		maxOffset = max(maxOffset, md.ConfigOffset)
		g.Members = append(g.Members, Peer{ID: jm.MemberID, Metadata: md})
	}
	slices.SortFunc(g.Members, func(a, b Peer) int { return strings.Compare(a.ID, b.ID) })
	actx, cancel := context.WithTimeout(ctx, m.cfg.RebalanceTimeout)
	defer cancel()
	out, err := m.assignor.Assign(actx, g)
	if err != nil {
		return nil, err
	}
	var as []kmsg.SyncGroupRequestGroupAssignment
	for _, jm := range join.Members {
		a, ok := out[jm.MemberID]
		if !ok {
			a = proto.Assignment{ConfigOffset: maxOffset}
		}
		a.Version = protocol.Version()
		if a.Leader == "" {
			a.Leader = join.LeaderID
		}
		if a.LeaderURL == "" {
			a.LeaderURL = leaderURL
		}
		b, err := a.AppendTo(nil)
		if err != nil {
			return nil, fmt.Errorf("encoding the assignment of member %s: %w", jm.MemberID, err)
		}
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = jm.MemberID
		sa.MemberAssignment = b
		as = append(as, sa)
	}
	return as, nil
}

// leave sends LeaveGroup so the others rebalance without waiting for the
// session timeout.
func (m *Member) leave(ctx context.Context) {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.cfg.Group
	req.MemberID = m.memberID // v0-v2
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = m.memberID
	reason := "worker stopping"
	lm.Reason = &reason
	req.Members = append(req.Members, lm) // v3+
	resp, err := req.RequestWith(ctx, m.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, r := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(r.ErrorCode)
			}
		}
	}
	if err != nil {
		m.cfg.Logger.Warn("leaving the worker group failed; the others rebalance after session.timeout.ms",
			"group", m.cfg.Group, "member", m.memberID, "error", err)
		return
	}
	m.cfg.Logger.Info("left the worker group", "group", m.cfg.Group, "member", m.memberID)
}

// retryAfterBackoff waits retry.backoff.ms (delivering events); it
// returns ctx's error if ctx ended.
func (m *Member) retryAfterBackoff(ctx context.Context) error {
	if !m.wait(ctx, m.cfg.RetryBackoff) {
		return ctx.Err()
	}
	return nil
}

func isCoordinatorErr(err error) bool {
	return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) ||
		errors.Is(err, kerr.CoordinatorLoadInProgress)
}

// fatal returns the error for a failure the user must fix, or nil for one
// worth retrying.
func (m *Member) fatal(doing string, code error) error {
	g := m.cfg.Group
	switch {
	case errors.Is(code, kerr.InconsistentGroupProtocol):
		return fmt.Errorf("%s group %s: %w: another application (a consumer group, or workers offering none of %v) uses group.id %q; "+
			"give the workers a group.id of their own", doing, g, code, m.cfg.Protocols, g)
	case errors.Is(code, kerr.InvalidSessionTimeout):
		return fmt.Errorf("%s group %s: %w: %s %d is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms; "+
			"set %s within them", doing, g, code, SessionTimeout, m.cfg.SessionTimeout.Milliseconds(), SessionTimeout)
	case errors.Is(code, kerr.GroupAuthorizationFailed):
		return fmt.Errorf("%s group %s: %w: grant the worker's principal Read on group %q "+
			"(kafka-acls.sh --add --allow-principal <principal> --operation Read --group %s)", doing, g, code, g, g)
	case errors.Is(code, kerr.InvalidGroupID):
		return fmt.Errorf("%s group %s: %w: set %s to a valid group name", doing, g, code, GroupID)
	case errors.Is(code, kerr.GroupMaxSizeReached):
		return fmt.Errorf("%s group %s: %w: the broker's group.max.size allows no more workers in this pool", doing, g, code)
	}
	m.cfg.Logger.Warn("group request failed; retrying", "group", g, "doing", doing, "error", code)
	return nil
}

// unanswered handles a join or sync request that got no answer: it
// notes the lost contact and backs off (or returns ctx's error).
func (m *Member) unanswered(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	m.checkContact(err)
	return m.retryAfterBackoff(ctx)
}

// answered returns the error of an answer's code, noting that the
// coordinator answered unless the code says it is not the coordinator.
func (m *Member) answered(code int16) error {
	err := kerr.ErrorForCode(code)
	if !isCoordinatorErr(err) {
		m.lastOK = time.Now()
	}
	return err
}
