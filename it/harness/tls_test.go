package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// TestTLSServers checks that servers started with TLS speak TLS with the
// throwaway CA's certificate, refuse TCP connections without TLS, and
// accept the client certificate.
func TestTLSServers(t *testing.T) {
	files := NewTLSFiles(t, "sluice_cert")
	t.Run("postgres", func(t *testing.T) {
		pg := StartPostgres(t, PostgresOptions{TLS: files})
		pg.Exec(t, "postgres", "CREATE ROLE sluice_cert LOGIN")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		verified := fmt.Sprintf("postgres://postgres@localhost:%d/postgres?sslmode=verify-full&sslrootcert=%s", pg.Port, files.CA)
		c, err := pgx.Connect(ctx, verified)
		if err != nil {
			t.Fatalf("verify-full with the CA: %v", err)
		}
		var ssl bool
		if err := c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
			t.Fatalf("pg_stat_ssl.ssl = %v, %v; want true", ssl, err)
		}
		c.Close(ctx)
		_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.Port))
		if err == nil || !strings.Contains(err.Error(), "no encryption") {
			t.Fatalf("plain TCP connection: err = %v, want pg_hba refusal (no encryption)", err)
		}
		cert := fmt.Sprintf("postgres://sluice_cert@%s:%d/postgres?sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s",
			TLSHost, pg.Port, files.CA, files.ClientCert, files.ClientKey)
		c, err = pgx.Connect(ctx, cert)
		if err != nil {
			t.Fatalf("client certificate: %v", err)
		}
		var who string
		if err := c.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "sluice_cert" {
			t.Fatalf("current_user = %q, %v", who, err)
		}
		c.Close(ctx)
	})
	t.Run("mariadb", func(t *testing.T) {
		m := StartMariaDB(t, MariaDBOptions{NoBinlog: true, TLS: files})
		db := m.Open(t, "")
		var name, cipher string
		if err := db.QueryRow("SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil || cipher == "" {
			t.Fatalf("Ssl_cipher = %q, %v; want a cipher", cipher, err)
		}
		cfg, _ := mysql.ParseDSN(m.DSN)
		cfg.TLS, cfg.TLSConfig = nil, "false"
		plain, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		// MariaDB 10.11 answers a login without TLS under
		// require_secure_transport with "Access denied" (the same root
		// logged in over TLS above).
		if err := plain.Ping(); err == nil || !strings.Contains(err.Error(), "Access denied") {
			t.Fatalf("plain connection: err = %v, want a refusal", err)
		}
		pool := x509.NewCertPool()
		ca, _ := os.ReadFile(files.CA)
		pool.AppendCertsFromPEM(ca)
		cfg.TLSConfig = ""
		cfg.TLS = &tls.Config{RootCAs: pool, ServerName: "localhost"}
		verified, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		vdb := sql.OpenDB(verified)
		defer vdb.Close()
		if err := vdb.Ping(); err != nil {
			t.Fatalf("verified TLS connection: %v", err)
		}
	})
}
