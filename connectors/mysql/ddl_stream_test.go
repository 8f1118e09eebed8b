package mysql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// ddlSummary is one line per record: the schema change events by type
// and table id, the truncate events, and the row changes with their
// after image; markers and heartbeats are left out.
func ddlSummary(t *testing.T, r *connectors.Record) string {
	t.Helper()
	switch {
	case r.Topic == "" || r.Value == nil:
		return ""
	case r.Topic == "srv":
		v := r.Value.(*connectors.StructValue)
		line := "schema " + v.Values[scDatabase].(string)
		for _, c := range v.Values[scTableChanges].([]any) {
			cv := c.(*connectors.StructValue)
			line += fmt.Sprintf(" %s %s", cv.Values[0], cv.Values[1])
		}
		return line
	case opOf(r) == cdc.OpTruncate:
		return "t " + r.Topic
	default:
		return opOf(r) + " " + r.Topic + " " + payload(t, afterOf(r).Schema, afterOf(r))
	}
}

// stableSchemaChange is a schema change value with its run-dependent
// fields (times, binlog coordinates, GTID, thread) fixed, for the golden
// file.
func stableSchemaChange(r *connectors.Record) *connectors.StructValue {
	v := *r.Value.(*connectors.StructValue)
	v.Values = append([]any(nil), v.Values...)
	src := *v.Values[scSource].(*connectors.StructValue)
	src.Values = append([]any(nil), src.Values...)
	src.Values[cdc.SrcTsMs], src.Values[cdc.SrcTsUs], src.Values[cdc.SrcTsNs] = int64(1), int64(1000), int64(1000000)
	src.Values[srcFile], src.Values[srcPos], src.Values[srcServerID] = "binlog.000001", int64(4), int64(1)
	if src.Values[srcGTID] != nil {
		src.Values[srcGTID] = "0-1-1"
	}
	src.Values[srcThread] = int64(1)
	v.Values[scSource] = &src
	v.Values[scTsMs] = int64(2)
	return &v
}

// testSchemaChanges streams ADD, DROP and MODIFY COLUMN, RENAME TABLE,
// TRUNCATE, CREATE and DROP TABLE and ALTER DATABASE with rows between
// them: the schema change events (golden file), the truncate event, rows
// with the new shapes; then a task resumed from the offset of the first
// schema change event sends what followed it, and not it again.
func testSchemaChanges(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "ddl")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(10))")
	p := props(m, db, SnapshotMode, SnapshotNoData, SkippedOperations, "none", IncludeSchemaChanges, "true")
	task := startTask(t, p, nil)
	steps := []struct {
		sql  string
		want []string // the records it gives
	}{
		{"INSERT INTO t VALUES (1, 'a')", []string{`c srv.DB.t {"id":1,"a":"a"}`}},
		{"ALTER TABLE t ADD COLUMN b INT NOT NULL DEFAULT 7 COMMENT 'b', ADD COLUMN e ENUM('x','y''z') AFTER id, ADD INDEX (a)",
			[]string{`schema DB ALTER "DB"."t"`}},
		{"INSERT INTO t VALUES (2, 'y''z', 'b', 8)", []string{`c srv.DB.t {"id":2,"e":"y'z","a":"b","b":8}`}},
		{"ALTER TABLE t MODIFY COLUMN a VARCHAR(100) CHARACTER SET latin1 NOT NULL, ALGORITHM=COPY", []string{`schema DB ALTER "DB"."t"`}},
		{"ALTER TABLE t DROP COLUMN b", []string{`schema DB ALTER "DB"."t"`}},
		{"INSERT INTO t VALUES (3, 'x', 'c')", []string{`c srv.DB.t {"id":3,"e":"x","a":"c"}`}},
		{"RENAME TABLE t TO t2", []string{`schema DB ALTER "DB"."t2"`}},
		{"INSERT INTO t2 VALUES (4, NULL, 'd')", []string{`c srv.DB.t2 {"id":4,"e":null,"a":"d"}`}},
		{"TRUNCATE TABLE t2", []string{`t srv.DB.t2`}},
		{"INSERT INTO t2 VALUES (5, NULL, 'e')", []string{`c srv.DB.t2 {"id":5,"e":null,"a":"e"}`}},
		{"CREATE TABLE other (k VARCHAR(5), n DECIMAL(10,2) UNSIGNED ZEROFILL, d DATETIME(3), j JSON, g INT AS (n * 2) VIRTUAL, PRIMARY KEY (k, d))",
			[]string{`schema DB CREATE "DB"."other"`}},
		{"CREATE TABLE copy (PRIMARY KEY (id)) SELECT id, a FROM t2",
			[]string{`schema DB CREATE "DB"."copy"`, `c srv.DB.copy {"id":5,"a":"e"}`}},
		{"CREATE TEMPORARY TABLE tmp (x INT)", nil},
		{"ALTER DATABASE `" + db + "` COMMENT 'shop'", []string{`schema DB`}},
		{"DROP TABLE t2, other, copy", []string{`schema DB DROP "DB"."t2" DROP "DB"."other" DROP "DB"."copy"`}},
	}
	var all []*connectors.Record
	var want []string
	for _, st := range steps {
		m.Exec(t, db, st.sql)
		want = append(want, st.want...)
		n := len(st.want)
		got := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool {
			k := 0
			for _, r := range rs {
				if ddlSummary(t, r) != "" {
					k++
				}
			}
			return k >= n
		})
		all = append(all, got...)
	}
	var got, goldens []json.RawMessage
	var lines []string
	var firstALTER, copyRow map[string]any
	copyAt := 0
	for _, r := range all {
		line := ddlSummary(t, r)
		if line == "" {
			continue
		}
		lines = append(lines, strings.ReplaceAll(line, db, "DB"))
		if strings.HasPrefix(line, "c srv."+db+".copy ") {
			copyRow, copyAt = r.SourceOffset, len(lines)
		}
		if r.Topic == "srv" {
			if firstALTER == nil {
				firstALTER = r.SourceOffset
				if firstALTER == nil {
					t.Fatalf("the schema change event of a standalone DDL has no offset")
				}
			}
			if k := payload(t, r.KeySchema, r.Key); k != `{"databaseName":"`+db+`"}` {
				t.Errorf("key %s", k)
			}
			goldens = append(goldens, encodeJSON(t, r.ValueSchema, stableSchemaChange(r)))
			if src := r.Value.(*connectors.StructValue).Values[scSource].(*connectors.StructValue); src.Values[srcGTID] == nil ||
				src.Values[srcPos].(int64) <= 4 || src.Values[cdc.SrcDB] != db {
				t.Errorf("schema change source %v", src.Values)
			}
		}
		if opOf(r) == cdc.OpTruncate && (r.Key != nil || afterOf(r) != nil || sourceOf(r).Values[srcTable] != "t2") {
			t.Errorf("truncate event %v", envOf(r).Values)
		}
	}
	got = goldens
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	out, _ := json.Marshal(got)
	golden(t, "schema_changes.json", bytes.ReplaceAll(out, []byte(db), []byte("db")))

	// A restart from the offset of the first ALTER's event sends what
	// followed it, once; so does one from the offset of the row that
	// CREATE TABLE ... SELECT logged in its transaction after the
	// CREATE TABLE (which it does not send again).
	stopTask(t, task)
	if copyRow == nil || copyRow["event"] == nil {
		t.Fatalf("offset of the CREATE TABLE ... SELECT row: %v", copyRow)
	}
	for _, c := range []struct {
		name   string
		offset map[string]any
		from   int
	}{{"the first ALTER", firstALTER, 2}, {"CREATE TABLE ... SELECT", copyRow, copyAt}} {
		task2 := startTask(t, p, c.offset)
		rest := pollUntil(t, task2, 30*time.Second, func(rs []*connectors.Record) bool {
			k := 0
			for _, r := range rs {
				if ddlSummary(t, r) != "" {
					k++
				}
			}
			return k >= len(want)-c.from
		})
		stopTask(t, task2)
		lines = lines[:0]
		for _, r := range rest {
			if line := ddlSummary(t, r); line != "" {
				lines = append(lines, strings.ReplaceAll(line, db, "DB"))
			}
		}
		if strings.Join(lines, "\n") != strings.Join(want[c.from:], "\n") {
			t.Errorf("after a restart at the offset of %s:\n%s\nwant:\n%s", c.name, strings.Join(lines, "\n"), strings.Join(want[c.from:], "\n"))
		}
	}
}

// testSchemaChangesOff checks include.schema.changes=false and the
// default skipped.operations (t) leave DDL out of the stream, while rows
// after it still carry the new columns.
func testSchemaChangesOff(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "noddl")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, IncludeSchemaChanges, "false"), nil)
	m.Exec(t, db, "ALTER TABLE t ADD COLUMN v INT", "TRUNCATE TABLE t", "INSERT INTO t VALUES (1, 2)")
	recs := pollUntil(t, task, 20*time.Second, nChanges(1))
	for _, r := range changes(recs) {
		if line := ddlSummary(t, r); line != `c srv.`+db+`.t {"id":1,"v":2}` {
			t.Errorf("record %s", line)
		}
	}
}

// testSnapshotDDLUnread alters a table the snapshot has not read yet
// while it waits on a full queue in another table: the snapshot's
// transaction can no longer read the altered table
// (ER_TABLE_DEF_CHANGED), so the task reads it in chunks while streaming
// instead of failing; the table arrives with its new column and the
// table already read is not read again.
func testSnapshotDDLUnread(t *testing.T, m *harness.MariaDB) {
	const rows = 200
	db := m.CreateDB(t, "snapddl")
	var vals []string
	for i := 0; i < rows; i++ {
		vals = append(vals, fmt.Sprintf("(%d)", i))
	}
	m.Exec(t, db, "CREATE TABLE a (id INT PRIMARY KEY)", "CREATE TABLE b (id INT PRIMARY KEY)",
		"INSERT INTO a VALUES "+strings.Join(vals, ","), "INSERT INTO b VALUES (1)")
	task := startTask(t, props(m, db, MaxQueueSize, "10", MaxBatchSize, "10"), nil)
	// The snapshot waits on the full queue in table a, its transaction
	// open (INNODB_TRX does not always list a read-only one).
	harness.WaitFor(t, 20*time.Second, "the snapshot to fill the queue in table a", func() error {
		if n := task.queue.Len(); n < 10 {
			return fmt.Errorf("%d queued", n)
		}
		return nil
	})
	m.Exec(t, db, "ALTER TABLE b ADD COLUMN w INT DEFAULT 5, ALGORITHM=COPY")
	recs := changes(pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool {
		for _, r := range changes(rs) {
			if strings.HasSuffix(r.Topic, ".b") {
				return true
			}
		}
		return false
	}))
	reads := 0
	for _, r := range recs {
		if strings.HasSuffix(r.Topic, ".a") {
			reads++
			continue
		}
		if got := payload(t, afterOf(r).Schema, afterOf(r)); got != `{"id":1,"w":5}` {
			t.Errorf("b read as %s after its ALTER", got)
		}
	}
	if reads != rows {
		t.Errorf("a read %d times, want %d", reads, rows)
	}
}
