package postgres

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Source offset keys. Values are JSON numbers, booleans and strings.
const (
	offLSNProc   = "lsn_proc"   // every transaction committed before this LSN is fully delivered
	offLSNCommit = "lsn_commit" // commit LSN of the event's transaction
	offLSN       = "lsn"        // the event's own LSN
	offTxID      = "txId"
	offEvent     = "event" // index of the event within its transaction (0-based)
	// offEventPart is how many records of change event+1 were delivered
	// (a change that yields several records: BEGIN and the first change,
	// delete and tombstone, a key change, a truncate of several tables);
	// absent when none.
	offEventPart      = "event_part"
	offTsUsec         = "ts_usec"
	offSnapshot       = "snapshot"             // true while the initial snapshot is in progress
	offSnapshotChunks = "snapshot_chunks"      // finished chunks while snapshotting ("relid:idx,...")
	offSnapshotPlan   = "snapshot_plan"        // how tables are split into chunks (see tablePlan)
	offIncremental    = "snapshot_incremental" // chunks left after a resumed snapshot are read while streaming
	offPaused         = "snapshot_paused"      // pause-snapshot: no further chunk is read until resume-snapshot
	offLastSnapshot   = "last_snapshot_record"
	// offSnapshotKeys holds, per chunk started but not finished, the key
	// of its last row delivered: "relid:idx:k1,k2;..." with each key
	// value escaped as in the plan (escapeKey). A resumed snapshot reads
	// such a chunk only after that key (see snapProgress).
	offSnapshotKeys = "snapshot_keys"
)

// offset is a decoded source offset.
type offset struct {
	snapshot       bool
	snapshotChunks string
	snapshotPlan   string
	snapshotKeys   string // see offSnapshotKeys
	incremental    bool
	paused         bool // with incremental: paused by a signal
	lastSnapshot   bool
	lsnProc        uint64
	lsnCommit      uint64
	lsn            uint64
	txID           int64
	event          int64
	part           int64 // see offEventPart
	tsUsec         int64
}

func (o *offset) toMap() map[string]any {
	m := make(map[string]any, 8)
	m[offLSNProc] = int64(o.lsnProc)
	if o.snapshot {
		m[offSnapshot] = true
		m[offSnapshotChunks] = o.snapshotChunks
		m[offSnapshotPlan] = o.snapshotPlan
		m[offLSN] = int64(o.lsn)
		if o.snapshotKeys != "" {
			m[offSnapshotKeys] = o.snapshotKeys
		}
		return m
	}
	if o.incremental {
		m[offIncremental] = true
		m[offSnapshotChunks] = o.snapshotChunks
		m[offSnapshotPlan] = o.snapshotPlan
		if o.paused {
			m[offPaused] = true
		}
		if o.snapshotKeys != "" {
			m[offSnapshotKeys] = o.snapshotKeys
		}
	}
	if o.lastSnapshot {
		m[offLastSnapshot] = true
	}
	if o.lsnCommit != 0 {
		m[offLSNCommit] = int64(o.lsnCommit)
		m[offLSN] = int64(o.lsn)
		m[offTxID] = o.txID
		m[offEvent] = o.event
		m[offTsUsec] = o.tsUsec
		if o.part != 0 {
			m[offEventPart] = o.part
		}
	}
	return m
}

func parseOffsetMap(m map[string]any) (offset, error) {
	var o offset
	num := func(k string) (int64, error) {
		switch v := m[k].(type) {
		case nil:
			return 0, nil
		case int64:
			return v, nil
		case int:
			return int64(v), nil
		case int32:
			return int64(v), nil
		case float64:
			if v != math.Trunc(v) {
				return 0, fmt.Errorf("offset %s: %v is not an integer", k, v)
			}
			return int64(v), nil
		case json.Number:
			return v.Int64()
		case string:
			return strconv.ParseInt(v, 10, 64)
		default:
			return 0, fmt.Errorf("offset %s: unexpected %T", k, v)
		}
	}
	var err error
	get := func(k string) int64 {
		n, e := num(k)
		if e != nil && err == nil {
			err = e
		}
		return n
	}
	o.lsnProc = uint64(get(offLSNProc))
	o.lsnCommit = uint64(get(offLSNCommit))
	o.lsn = uint64(get(offLSN))
	o.txID = get(offTxID)
	o.event = get(offEvent)
	o.part = get(offEventPart)
	o.tsUsec = get(offTsUsec)
	o.snapshot, _ = m[offSnapshot].(bool)
	o.lastSnapshot, _ = m[offLastSnapshot].(bool)
	o.snapshotChunks, _ = m[offSnapshotChunks].(string)
	o.snapshotPlan, _ = m[offSnapshotPlan].(string)
	o.snapshotKeys, _ = m[offSnapshotKeys].(string)
	o.incremental, _ = m[offIncremental].(bool)
	o.paused, _ = m[offPaused].(bool)
	if err == nil && o.part < 0 {
		err = fmt.Errorf("offset %s: %d is negative", offEventPart, o.part)
	}
	return o, err
}
