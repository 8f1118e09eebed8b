package harness

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
	t.Run("s3", func(t *testing.T) {
		s := StartS3(t)
		bucket := s.CreateBucket(t, "harness")
		ctx := context.Background()
		c := s.Client(t)
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("a/b.txt"), Body: strings.NewReader("hello")}); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("a/b.txt")})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("read back %q, want hello", b)
		}
	})
}

// TestExternalServersByEnv checks the path users take with their own
// servers or it/compose.yaml: each SLUICE_IT_* variable makes the harness
// use that server instead of starting one. Here the "external" servers
// are ones the harness started itself.
func TestExternalServersByEnv(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{})
	m := StartMariaDB(t, MariaDBOptions{})
	b := StartBroker(t)

	t.Setenv("SLUICE_IT_POSTGRES_URL", pg.URL)
	t.Setenv("SLUICE_IT_MYSQL_DSN", m.DSN)
	t.Setenv("SLUICE_IT_KAFKA_BOOTSTRAP", b.Bootstrap)

	pg2 := StartPostgres(t, PostgresOptions{})
	if pg2.Dir != "" || pg2.Port != pg.Port {
		t.Fatalf("SLUICE_IT_POSTGRES_URL ignored: started %+v", pg2)
	}
	pg2.Exec(t, "postgres", "CREATE TABLE via_env (id int)")
	pg.Exec(t, "postgres", "SELECT * FROM via_env")

	m2 := StartMariaDB(t, MariaDBOptions{})
	if m2.Dir != "" || m2.Port != m.Port {
		t.Fatalf("SLUICE_IT_MYSQL_DSN ignored: started %+v", m2)
	}
	m2.Exec(t, "", "CREATE DATABASE via_env")
	m.Exec(t, "", "DROP DATABASE via_env")

	b2 := StartBroker(t)
	if b2.Dir != "" || b2.Bootstrap != b.Bootstrap {
		t.Fatalf("SLUICE_IT_KAFKA_BOOTSTRAP ignored: %+v", b2)
	}
	w := StartWorker(t, WorkerOptions{Bootstrap: b2.Bootstrap})
	var info struct {
		KafkaClusterID string `json:"kafka_cluster_id"`
	}
	w.JSON("GET", "/", nil, 200, &info)
	if info.KafkaClusterID == "" {
		t.Fatal("worker on the external broker reports no cluster id")
	}
}
