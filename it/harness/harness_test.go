package harness

import (
	"context"
	"testing"
)

// TestServersStart checks that the harness can start and talk to each
// server it manages.
func TestServersStart(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		pg := StartPostgres(t, PostgresOptions{})
		c := pg.Connect(t, "postgres")
		var level string
		if err := c.QueryRow(context.Background(), "SHOW wal_level").Scan(&level); err != nil {
			t.Fatal(err)
		}
		if level != "logical" {
			t.Fatalf("wal_level = %q, want logical", level)
		}
		pg.Restart(t, true)
		c2 := pg.Connect(t, "postgres")
		var one int
		if err := c2.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("after crash restart: %v %d", err, one)
		}
	})
	t.Run("mariadb", func(t *testing.T) {
		m := StartMariaDB(t, MariaDBOptions{})
		db := m.Open(t, "")
		var name, val string
		if err := db.QueryRow("SHOW VARIABLES LIKE 'binlog_format'").Scan(&name, &val); err != nil {
			t.Fatal(err)
		}
		if val != "ROW" {
			t.Fatalf("binlog_format = %q, want ROW", val)
		}
	})
}
