package mysql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

func TestGTIDFilterSkips(t *testing.T) {
	const uuid = "3E11FA47-71CA-11E1-9E33-C80AA9429562"
	for _, c := range []struct {
		name             string
		include, exclude []string
		gtid             string
		mariaDB, skipped bool
	}{
		{"no filter", nil, nil, "0-1-5", true, false},
		{"maria included", []string{"0-1"}, nil, "0-1-5", true, false},
		{"maria other server", []string{"0-1"}, nil, "0-2-5", true, true},
		{"maria other domain", []string{"0-1"}, nil, "10-1-5", true, true},
		{"maria pattern is whole", []string{"0-1"}, nil, "0-11-5", true, true},
		{"maria excluded domain", nil, []string{"5-.*"}, "5-1-9", true, true},
		{"maria not excluded", nil, []string{"5-.*"}, "15-1-9", true, false},
		{"mysql included, any case", []string{strings.ToLower(uuid)}, nil, uuid + ":7", false, false},
		{"mysql tagged", []string{uuid}, nil, uuid + ":tag:7", false, false},
		{"mysql other", []string{uuid}, nil, "4e11fa47-71ca-11e1-9e33-c80aa9429562:7", false, true},
		{"mysql excluded", nil, []string{"3e11.*"}, uuid + ":7", false, true},
		{"no GTID", []string{uuid}, nil, "", false, false},
		{"anonymous", []string{uuid}, nil, anonymousSID + ":0", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := gtidFilter{include: gtidPatterns(c.include), exclude: gtidPatterns(c.exclude)}
			if got := f.skips(c.gtid, c.mariaDB); got != c.skipped {
				t.Fatalf("skips(%q) = %v, want %v", c.gtid, got, c.skipped)
			}
		})
	}
	base := map[string]string{Hostname: "h", User: "u", TopicPrefix: "p"}
	p := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	if _, err := ParseConfig(p(GTIDSourceIncludes, "0-1", GTIDSourceExcludes, "0-2")); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Errorf("both filters: %v", err)
	}
	if _, err := ParseConfig(p(GTIDSourceIncludes, "0-(")); err == nil || !strings.Contains(err.Error(), "not a valid regular expression") {
		t.Errorf("bad pattern: %v", err)
	}
}

// TestGTIDFilter writes transactions with three MariaDB GTID sources
// (domain 0 server 1, the server's own; domain 0 server 9; domain 5
// server 1, through SET SESSION server_id and gtid_domain_id) and
// streams them with gtid.source.includes and then gtid.source.excludes:
// only the transactions of the kept sources are emitted, and the offsets
// still track the GTIDs of the filtered ones.
func TestGTIDFilter(t *testing.T) {
	m := harness.StartMariaDB(t, harness.MariaDBOptions{})
	db := m.CreateDB(t, "gtidf")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, src VARCHAR(10))")
	conn := m.Open(t, db)
	conn.SetMaxOpenConns(1) // the session variables stay on the one connection
	next := 0
	// write inserts one row as domain-server and returns its id.
	write := func(domain, server int) int {
		t.Helper()
		next++
		for _, q := range []string{fmt.Sprintf("SET SESSION gtid_domain_id = %d", domain), fmt.Sprintf("SET SESSION server_id = %d", server),
			fmt.Sprintf("INSERT INTO t VALUES (%d, '%d-%d')", next, domain, server)} {
			if _, err := conn.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return next
	}
	ids := func(recs []*connectors.Record) []string {
		var out []string
		for _, r := range changes(recs) {
			out = append(out, fmt.Sprintf("%v/%v", afterOf(r).Values[0], afterOf(r).Values[1]))
		}
		return out
	}
	run := func(t *testing.T, filter string, pattern string, stored map[string]any, want func(domain, server int) bool) map[string]any {
		task := startTask(t, props(m, db, SnapshotMode, SnapshotNoData, filter, pattern), stored)
		var expect []string
		for _, ds := range [][2]int{{0, 1}, {5, 1}, {0, 9}, {0, 1}, {5, 1}, {0, 9}} {
			id := write(ds[0], ds[1])
			if want(ds[0], ds[1]) {
				expect = append(expect, fmt.Sprintf("%d/%d-%d", id, ds[0], ds[1]))
			}
		}
		// A last kept transaction: its offset holds the GTIDs before it.
		last := write(0, 1)
		expect = append(expect, fmt.Sprintf("%d/0-1", last))
		recs := pollUntil(t, task, 30*time.Second, func(r []*connectors.Record) bool {
			got := ids(r)
			return len(got) > 0 && strings.HasPrefix(got[len(got)-1], fmt.Sprint(last, "/"))
		})
		if got := ids(recs); strings.Join(got, " ") != strings.Join(expect, " ") {
			t.Fatalf("emitted %v, want %v", got, expect)
		}
		ch := changes(recs)
		gtids, _ := ch[len(ch)-1].SourceOffset["gtids"].(string)
		var pos string
		if err := conn.QueryRow("SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
			t.Fatal(err)
		}
		// The server's position without the last transaction's GTID:
		// domain 5's last GTID must be in the offset.
		for _, g := range strings.Split(pos, ",") {
			if strings.HasPrefix(g, "5-") && !strings.Contains(","+gtids+",", ","+g+",") {
				t.Fatalf("offset gtids %q lack the filtered domain's %s (server at %s)", gtids, g, pos)
			}
		}
		return ch[len(ch)-1].SourceOffset
	}
	var stored map[string]any
	t.Run("includes", func(t *testing.T) {
		stored = run(t, GTIDSourceIncludes, "0-1", nil, func(d, s int) bool { return d == 0 && s == 1 })
	})
	t.Run("resume", func(t *testing.T) {
		// From the offset of the last change the first task sent: only
		// what was written since comes, filtered the same way.
		if stored == nil {
			t.Fatal("the includes subtest gave no offset to resume from")
		}
		run(t, GTIDSourceIncludes, "0-1", stored, func(d, s int) bool { return d == 0 && s == 1 })
	})
	t.Run("excludes", func(t *testing.T) {
		run(t, GTIDSourceExcludes, "5-.*", nil, func(d, s int) bool { return d != 5 })
	})
}
