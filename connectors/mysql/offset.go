package mysql

import (
	"fmt"
	"strconv"
)

// offset is the source offset, in Debezium's MySQL shape
// (BinlogOffsetContext): file and pos are where to start reading — the
// start of the transaction in progress, or the next event between
// transactions; gtids is the GTID set completed before that transaction;
// event and row count what of the transaction was already emitted: event
// whole rows events, then row rows of the next one. txGTID names the
// transaction in progress, so a resume skips events only in that one.
// snapshot marks a snapshot not yet finished: a restart takes it again,
// unless incr says what is left of it. incr is the plan of the chunked
// snapshot in progress (incremental.go), of an initial snapshot or of
// signals; Task.put adds it to the offsets queued while one runs.
type offset struct {
	file     string
	pos      uint32
	gtids    string
	txGTID   string
	event    int64
	row      int64
	tsSec    int64
	serverID int64
	snapshot bool
	incr     string
}

// toMap returns the offset as the runtime stores it.
func (o *offset) toMap() map[string]any {
	m := map[string]any{"file": o.file, "pos": int64(o.pos), "ts_sec": o.tsSec, "server_id": o.serverID}
	if o.gtids != "" {
		m["gtids"] = o.gtids
	}
	if o.txGTID != "" {
		m["tx_gtid"] = o.txGTID
	}
	if o.event != 0 {
		m["event"] = o.event
	}
	if o.row != 0 {
		m["row"] = o.row
	}
	if o.snapshot {
		m["snapshot"] = true
	}
	if o.incr != "" {
		m[offsetIncremental] = o.incr
	}
	return m
}

// num reads a JSON number as the offsets store gives it back.
func num(m map[string]any, k string) (int64, error) {
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
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	default:
		return 0, fmt.Errorf("offset field %s: %T is not a number", k, v)
	}
}

// parseOffset reads a stored offset.
func parseOffset(m map[string]any) (offset, error) {
	var o offset
	var ok bool
	if o.file, ok = m["file"].(string); !ok || o.file == "" {
		return o, fmt.Errorf("stored offset %v has no binlog file", m)
	}
	pos, err := num(m, "pos")
	if err != nil {
		return o, err
	}
	if pos < 0 || pos > 1<<32-1 {
		return o, fmt.Errorf("stored offset: pos %d out of range", pos)
	}
	o.pos = uint32(pos)
	o.gtids, _ = m["gtids"].(string)
	o.txGTID, _ = m["tx_gtid"].(string)
	if o.event, err = num(m, "event"); err != nil {
		return o, err
	}
	if o.row, err = num(m, "row"); err != nil {
		return o, err
	}
	if o.tsSec, err = num(m, "ts_sec"); err != nil {
		return o, err
	}
	if o.serverID, err = num(m, "server_id"); err != nil {
		return o, err
	}
	if o.event < 0 || o.row < 0 {
		return o, fmt.Errorf("stored offset: negative event or row")
	}
	o.snapshot, _ = m["snapshot"].(bool)
	o.incr, _ = m[offsetIncremental].(string)
	if o.incr != "" {
		if _, err := parsePlan(o.incr); err != nil {
			return o, err
		}
	}
	return o, nil
}
