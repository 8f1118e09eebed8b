package cdc

import "log/slog"

// TableFailureMode is the property that says what a value that cannot be
// converted, or a table shape that cannot be followed, does while
// streaming: TableFailureFail stops the task with an error naming table,
// column and position (as Debezium); TableFailureQuarantine sets that
// table aside while every other table keeps streaming.
const (
	TableFailureMode       = "sluice.table.failure.mode"
	TableFailureFail       = "fail"
	TableFailureQuarantine = "quarantine"
)

// Quarantined is a table set aside by sluice.table.failure.mode=quarantine.
type Quarantined struct {
	Table   string // as the log names it: schema.table or database.table
	Since   string // position of the change that failed
	Reason  string
	Skipped int64 // changes skipped since, the one that failed included
}

// Quarantine is the set of tables set aside, by the source's table id:
// their changes are skipped and counted until the task restarts. The
// zero value is empty; PositionKey names the position in log lines
// ("lsn" when empty). It is used by the streaming goroutine only.
type Quarantine[K comparable] struct {
	PositionKey string
	tables      map[K]*Quarantined
}

// Add sets the table id (named table) aside, after err at position since,
// and logs it as an error.
func (q *Quarantine[K]) Add(log *slog.Logger, id K, table, since string, err error) {
	if q.tables == nil {
		q.tables = map[K]*Quarantined{}
	}
	e := &Quarantined{Table: table, Since: since, Reason: err.Error(), Skipped: 1}
	q.tables[id] = e
	log.Error("table quarantined: its changes are skipped until the task restarts (sluice.table.failure.mode=quarantine)",
		"table", e.Table, q.posKey(), e.Since, "reason", e.Reason)
}

// Skip reports whether the table id is set aside, counting the change.
func (q *Quarantine[K]) Skip(id K) bool {
	if e := q.tables[id]; e != nil {
		e.Skipped++
		return true
	}
	return false
}

// Get returns the table id's entry; nil when it is not set aside.
func (q *Quarantine[K]) Get(id K) *Quarantined { return q.tables[id] }

// Report logs a warning per table set aside, with the changes skipped.
func (q *Quarantine[K]) Report(log *slog.Logger) {
	for _, e := range q.tables {
		log.Warn("quarantined table: changes skipped", "table", e.Table, "skipped", e.Skipped, "since_"+q.posKey(), e.Since)
	}
}

// Len returns how many tables are set aside.
func (q *Quarantine[K]) Len() int { return len(q.tables) }

func (q *Quarantine[K]) posKey() string {
	if q.PositionKey == "" {
		return "lsn"
	}
	return q.PositionKey
}
