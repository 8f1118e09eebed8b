package it

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDatabaseTLS drives the worker's REST API against a PostgreSQL that
// accepts TCP connections only over TLS: a TLS verification failure is a
// 400 naming the property and the fix (never the password), and a source
// with verify-full and a client certificate captures changes.
func TestDatabaseTLS(t *testing.T) {
	t.Parallel()
	const secret = "tls-it-secret-pw"
	files := harness.NewTLSFiles(t, "sluice_cert")
	pg := harness.StartPostgres(t, harness.PostgresOptions{TLS: files})
	pg.Exec(t, "postgres", "CREATE ROLE app LOGIN SUPERUSER REPLICATION PASSWORD '"+secret+"'",
		"CREATE ROLE sluice_cert LOGIN SUPERUSER REPLICATION")
	db := pg.CreateDB(t, "dbtls")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	b := harness.StartBroker(t)
	props, _ := isolated(t, nil)
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})

	noSecret := func(what, msg string) {
		t.Helper()
		if strings.Contains(msg, secret) {
			t.Fatalf("%s shows the password: %s", what, msg)
		}
	}
	t.Run("source verify-full wrong host name", func(t *testing.T) {
		cfg := pgSourceConfig(pg, db, "wrong", "wrong_slot", map[string]string{"database.hostname": harness.TLSWrongHost,
			"database.user": "app", "database.password": secret, "database.sslmode": "verify-full", "database.sslrootcert": files.CA})
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "tls-wrong-host", "config": cfg}, http.StatusBadRequest)
		noSecret("POST /connectors", msg)
		mustContain(t, "wrong host message", msg, "database.hostname", `not valid for the host name "127.0.0.2"`,
			"database.sslmode=verify-full", "localhost, 127.0.0.1")
	})
	t.Run("source disable against hostssl", func(t *testing.T) {
		cfg := pgSourceConfig(pg, db, "plain", "plain_slot", map[string]string{"database.user": "app",
			"database.password": secret, "database.sslmode": "disable"})
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "tls-plain", "config": cfg}, http.StatusBadRequest)
		noSecret("POST /connectors", msg)
		mustContain(t, "plain message", msg, "database.sslmode", "only over TLS", "set database.sslmode to verify-full")
	})
	t.Run("sink wrong CA", func(t *testing.T) {
		url := fmt.Sprintf("jdbc:postgresql://localhost:%d/%s?sslmode=verify-full&sslrootcert=%s", pg.Port, db, files.OtherCA)
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": "tls-sink", "config": map[string]string{
			"connector.class": "jdbc", "connection.url": url, "connection.username": "app", "connection.password": secret,
			"topics": "x"}}, http.StatusBadRequest)
		noSecret("POST /connectors", msg)
		mustContain(t, "wrong CA message", msg, "connection.url", "not signed by a certificate authority in sslrootcert")
	})
	t.Run("source verify-full with a client certificate", func(t *testing.T) {
		cfg := pgSourceConfig(pg, db, "tlsok", "tlsok_slot", map[string]string{"database.hostname": "localhost",
			"database.user": "sluice_cert", "database.sslmode": "verify-full", "database.sslrootcert": files.CA,
			"database.sslcert": files.ClientCert, "database.sslkey": files.ClientKey, "snapshot.max.threads": "2"})
		create(t, w, "tls-ok", cfg)
		waitState(t, w, "tls-ok", "RUNNING", 1, "RUNNING")
		pg.Exec(t, db, "INSERT INTO t VALUES (3, 'streamed')")
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Bootstrap), freshMetadata)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		harness.WaitFor(t, 60*time.Second, "3 change events", func() error {
			if n := endOffsets(t, adm, "tlsok.public.t"); n < 3 {
				return fmt.Errorf("%d events", n)
			}
			return nil
		})
	})
}

// TestMySQLSourceTLS drives the worker's REST API against a MariaDB that
// accepts only TLS connections (require_secure_transport=ON): a wrong CA
// and a source without TLS are each a 400 naming the property and the
// fix (never the password), and a source with verify_identity and a CA
// streams changes through the binlog over TLS.
func TestMySQLSourceTLS(t *testing.T) {
	t.Parallel()
	const secret = "mysql-tls-it-secret"
	files := harness.NewTLSFiles(t, "sluice_cert")
	m := harness.StartMariaDB(t, harness.MariaDBOptions{TLS: files})
	m.Exec(t, "", "CREATE USER app@'%' IDENTIFIED BY '"+secret+"'", "GRANT ALL ON *.* TO app@'%'")
	db := m.CreateDB(t, "mytls")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	b := harness.StartBroker(t)
	props, _ := isolated(t, nil)
	w := harness.StartWorker(t, harness.WorkerOptions{Bootstrap: b.Bootstrap, Props: props})
	cfg := func(prefix string, extra map[string]string) map[string]string {
		c := mysqlSourceConfig(m, db, prefix, map[string]string{"database.user": "app", "database.password": secret})
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	refused := func(name string, c map[string]string, subs ...string) {
		t.Helper()
		msg := expectError(t, w, "POST", "/connectors", map[string]any{"name": name, "config": c}, http.StatusBadRequest)
		if strings.Contains(msg, secret) {
			t.Fatalf("POST /connectors shows the password: %s", msg)
		}
		mustContain(t, name+" message", msg, subs...)
	}
	t.Run("wrong CA", func(t *testing.T) {
		refused("my-wrong-ca", cfg("wrongca", map[string]string{"database.ssl.mode": "verify_ca", "database.sslrootcert": files.OtherCA}),
			"database.sslrootcert", "not signed by a certificate authority")
	})
	t.Run("disabled against require_secure_transport", func(t *testing.T) {
		refused("my-plain", cfg("plain", map[string]string{"database.ssl.mode": "disabled"}),
			"database.ssl.mode", "require_secure_transport=ON", "verify_identity")
	})
	t.Run("verify_identity streams", func(t *testing.T) {
		create(t, w, "my-tls-ok", cfg("mytlsok", map[string]string{"database.ssl.mode": "verify_identity", "database.sslrootcert": files.CA}))
		waitState(t, w, "my-tls-ok", "RUNNING", 1, "RUNNING")
		m.Exec(t, db, "INSERT INTO t VALUES (3, 'streamed')")
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Bootstrap), freshMetadata)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		harness.WaitFor(t, 60*time.Second, "2 snapshot and 1 change events", func() error {
			if n := endOffsets(t, adm, "mytlsok."+db+".t"); n < 3 {
				return fmt.Errorf("%d events", n)
			}
			return nil
		})
	})
}
