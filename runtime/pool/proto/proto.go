// Package proto encodes and decodes the data Kafka Connect workers
// exchange through Kafka's group membership protocol (protocol type
// "connect"): a member's metadata, sent in JoinGroup, and the assignment
// the leader hands each member through SyncGroup. The bytes are those of
// Kafka Connect's ConnectProtocol (version 0, the "default" eager
// subprotocol) and IncrementalCooperativeConnectProtocol (versions 1 and 2,
// "compatible" and "sessioned"), so a Sluice worker and a Connect worker
// read each other's metadata and assignments.
//
// Wire primitives are those of Kafka's classic (non-flexible) protocol:
// big-endian integers, strings as an int16 length and UTF-8 bytes, arrays
// as an int32 count (-1 = null), bytes as an int32 length (-1 = null).
//
// Encoders append to a caller's buffer (AppendTo(dst) []byte). Decoders
// copy what they keep: a decoded value never retains the input slice.
package proto

import (
	"errors"
	"fmt"
)

// Protocol is the name of a Connect subprotocol offered in JoinGroup.
type Protocol string

// The subprotocols of Connect (ConnectProtocolCompatibility), in the order
// of Connect's preference when all are enabled: sessioned, compatible,
// default.
const (
	// Eager is Connect's "default" subprotocol (version 0): every
	// rebalance revokes everything.
	Eager Protocol = "default"
	// Compatible is incremental cooperative rebalancing (KIP-415,
	// version 1).
	Compatible Protocol = "compatible"
	// Sessioned is Compatible plus signed internal REST requests
	// (KIP-507, version 2); Connect's default since 2.4.
	Sessioned Protocol = "sessioned"
)

// Version returns the metadata and assignment version the subprotocol
// uses, or -1 for a name Connect does not define.
func (p Protocol) Version() int16 {
	switch p {
	case Eager:
		return 0
	case Compatible:
		return 1
	case Sessioned:
		return 2
	}
	return -1
}

// Cooperative reports whether the subprotocol rebalances incrementally
// (KIP-415): assignments carry revocations and a delay.
func (p Protocol) Cooperative() bool { return p == Compatible || p == Sessioned }

// ProtocolType is the group protocol type of Connect workers.
const ProtocolType = "connect"

// ConnectorTask is the task number that stands for the Connector object
// itself in an assignment (Connect's CONNECTOR_TASK).
const ConnectorTask int32 = -1

// Assignment error codes (ConnectProtocol.Assignment).
const (
	// NoError: the assignment is valid.
	NoError int16 = 0
	// ConfigMismatch: the leader could not assign from the newest
	// config; members read the configs topic to its end and rejoin.
	ConfigMismatch int16 = 1
)

// ErrMalformed is wrapped by every decoding error: the bytes are not a
// Connect metadata or assignment.
var ErrMalformed = errors.New("malformed connect group protocol data")

// TaskID names one task of a connector.
type TaskID struct {
	Connector string
	Task      int32
}

func (t TaskID) String() string { return fmt.Sprintf("%s-%d", t.Connector, t.Task) }

// Metadata is what a member says about itself when it joins
// (Connect's WorkerState / ExtendedWorkerState).
type Metadata struct {
	// Version is 0 (default), 1 (compatible) or 2 (sessioned): the
	// version of the subprotocol the metadata is offered with.
	Version int16
	// URL is the member's advertised REST URL.
	URL string
	// ConfigOffset is the offset of the configs topic the member has
	// read up to.
	ConfigOffset int64
	// Allocation (version 1 and later) is what the member runs now, so
	// that a leader that never saw the previous assignment can rebuild
	// it; nil when it runs nothing it was assigned (Connect sends null
	// then). Connect encodes it as a version-1 assignment.
	Allocation *Assignment
}

// Assignment is what the leader gives one member (Connect's Assignment /
// ExtendedAssignment).
type Assignment struct {
	// Version is 0 for the default subprotocol; 1 or 2 carry Revoked*
	// and Delay.
	Version int16
	// Error is NoError or ConfigMismatch.
	Error int16
	// Leader is the leader's member id, LeaderURL its REST URL.
	Leader    string
	LeaderURL string
	// ConfigOffset is the configs-topic offset the assignment was made
	// from; a member starts work only once it has read that far.
	ConfigOffset int64
	// Connectors and Tasks are assigned to the member: with the eager
	// protocol all it should run, with the cooperative ones what it
	// should start in addition to what it keeps.
	Connectors []string
	Tasks      []TaskID
	// RevokedConnectors and RevokedTasks (version 1+) are what the
	// member must stop before it rejoins.
	RevokedConnectors []string
	RevokedTasks      []TaskID
	// Delay (version 1+) is the milliseconds after which the member
	// should rejoin, when the leader holds back lost work
	// (scheduled.rebalance.max.delay.ms); 0 for none.
	Delay int32
}
