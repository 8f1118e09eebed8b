package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPostgres runs the integration tests against one server.
func TestPostgres(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	t.Run("Basic", func(t *testing.T) { testBasic(t, pg) })
}

func testBasic(t *testing.T, pg *harness.Postgres) {
	db := pg.CreateDB(t, "basic")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v'||g FROM generate_series(1,10) g")
	task := startTask(t, props(pg, db, "basic"), nil)
	recs := pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "r") == 10 })
	pg.Exec(t, db, "INSERT INTO t VALUES (11, 'x')")
	recs = append(recs, pollUntil(t, task, 20*time.Second, func(rs []*connectors.Record) bool { return countOps(rs, "t", "c") == 1 })...)
	last := recs[len(recs)-1]
	t.Logf("%s", encodeJSON(t, last.Topic, last.ValueSchema, last.Value))
	t.Logf("offset %v", last.SourceOffset)
	before := confirmedFlush(t, pg, db, "basic")
	commit(t, task, last)
	harness.WaitFor(t, 10*time.Second, "slot to confirm the commit", func() error {
		if got := confirmedFlush(t, pg, db, "basic"); got <= before {
			return context.DeadlineExceeded
		}
		return nil
	})
}
