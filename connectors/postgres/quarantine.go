package postgres

// quarantined is a table set aside by sluice.table.failure.mode=quarantine.
type quarantined struct {
	table   string
	since   uint64 // LSN of the change that failed (0: a Relation message)
	reason  string
	skipped int64 // changes skipped since
}

// quarantine sets a table aside: its changes are skipped and counted
// while every other table keeps streaming.
func (s *streamer) quarantine(relID uint32, schema, name string, lsn uint64, err error) {
	if s.quarantined == nil {
		s.quarantined = map[uint32]*quarantined{}
	}
	q := &quarantined{table: schema + "." + name, since: lsn, reason: err.Error(), skipped: 1}
	s.quarantined[relID] = q
	s.t.log.Error("table quarantined: its changes are skipped until the task restarts (sluice.table.failure.mode=quarantine)",
		"table", q.table, "lsn", lsnString(lsn), "reason", q.reason)
}
