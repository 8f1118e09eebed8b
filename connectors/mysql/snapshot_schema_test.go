package mysql

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/cdc"
	"github.com/sluice-cdc/sluice/it/harness"
)

// testSnapshotSchemaChanges snapshots two tables with
// include.schema.changes=true, in the consistent snapshot (one thread)
// and in the chunked one (two threads): each table's schema change event
// (its SHOW CREATE TABLE, a CREATE table change) comes before its rows,
// once, at the position of the rows' snapshot (golden file for the
// consistent one); with include.schema.changes=false there is none.
func testSnapshotSchemaChanges(t *testing.T, m *harness.MariaDB) {
	db := m.CreateDB(t, "snapddl")
	m.Exec(t, db, "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL DEFAULT 'x', e ENUM('p','q')) DEFAULT CHARSET=latin1",
		"INSERT INTO a (id) VALUES (1), (2), (3)",
		"CREATE TABLE b (k VARCHAR(5), n DECIMAL(10,2) UNSIGNED, j JSON, PRIMARY KEY (k))",
		`INSERT INTO b VALUES ('k1', 1.5, '{"x": 1}')`)
	for _, c := range []struct {
		name    string
		threads string
	}{{"consistent", "1"}, {"chunked", "2"}} {
		t.Run(c.name, func(t *testing.T) {
			task := startTask(t, props(m, db, IncludeSchemaChanges, "true", SnapshotMaxThreads, c.threads), nil)
			recs := pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool {
				k := 0
				for _, r := range rs {
					if ddlSummary(t, r) != "" {
						k++
					}
				}
				return k >= 6
			})
			// A little more: nothing else may follow.
			recs = append(recs, pollUntil(t, task, 5*time.Second, func([]*connectors.Record) bool { return true })...)
			var lines []string
			var goldens []json.RawMessage
			var at [2]any // file and pos of the last schema change event
			for _, r := range recs {
				line := ddlSummary(t, r)
				if line == "" {
					continue
				}
				lines = append(lines, strings.ReplaceAll(line, db, "DB"))
				if r.Topic == "srv" {
					v := r.Value.(*connectors.StructValue)
					src := v.Values[scSource].(*connectors.StructValue)
					if src.Values[cdc.SrcSnapshot] != cdc.SnapTrue || src.Values[cdc.SrcDB] != db || src.Values[srcGTID] != nil {
						t.Errorf("schema change source %v", src.Values)
					}
					if r.SourceOffset != nil {
						t.Errorf("schema change event with an offset: %v", r.SourceOffset)
					}
					if k := payload(t, r.KeySchema, r.Key); k != `{"databaseName":"`+db+`"}` {
						t.Errorf("key %s", k)
					}
					at = [2]any{src.Values[srcFile], src.Values[srcPos]}
					goldens = append(goldens, encodeJSON(t, r.ValueSchema, stableSchemaChange(r)))
					continue
				}
				if src := sourceOf(r); src.Values[srcFile] != at[0] || src.Values[srcPos] != at[1] {
					t.Errorf("row %s at %v:%v, its table's schema change event at %v:%v", line, src.Values[srcFile], src.Values[srcPos], at[0], at[1])
				}
			}
			want := []string{
				`schema DB CREATE "DB"."a"`,
				`r srv.DB.a {"id":1,"v":"x","e":null}`, `r srv.DB.a {"id":2,"v":"x","e":null}`, `r srv.DB.a {"id":3,"v":"x","e":null}`,
				`schema DB CREATE "DB"."b"`,
				`r srv.DB.b {"k":"k1","n":"AJY=","j":"{\"x\": 1}"}`,
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			if c.threads == "1" {
				out, _ := json.Marshal(goldens)
				golden(t, "snapshot_schema_changes.json", bytes.ReplaceAll(out, []byte(db), []byte("db")))
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		task := startTask(t, props(m, db, IncludeSchemaChanges, "false"), nil)
		recs := pollUntil(t, task, 30*time.Second, nChanges(4))
		recs = append(recs, pollUntil(t, task, 2*time.Second, func([]*connectors.Record) bool { return true })...)
		for _, r := range recs {
			if r.Topic == "srv" {
				t.Errorf("schema change event with include.schema.changes=false: %s", ddlSummary(t, r))
			}
		}
		if n := len(changes(recs)); n != 4 {
			t.Errorf("%d records, want the 4 rows", n)
		}
	})
}
