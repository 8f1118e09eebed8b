package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

const tlsPassword = "tls-secret-pw"

// tlsProps returns properties for user app (password) on a TLS server.
func tlsProps(pg *harness.Postgres, db, slot, host string, extra ...string) map[string]string {
	p := props(pg, db, slot, extra...)
	p[Hostname] = host
	if _, ok := p[User]; !ok || p[User] == pg.User {
		p[User] = "app"
		p[Password] = tlsPassword
	}
	for i := 0; i+1 < len(extra); i += 2 {
		p[extra[i]] = extra[i+1]
	}
	return p
}

// connErrs returns Validate's errors on the connection properties.
func connErrs(p map[string]string) map[string][]string {
	errs := (&Connector{}).Validate(context.Background(), p)
	out := map[string][]string{}
	for _, k := range []string{Hostname, Port, User, Password, DBName, SSLMode, SSLRootCert, SSLCert, SSLKey} {
		if len(errs[k]) > 0 {
			out[k] = errs[k]
		}
	}
	return out
}

// TestTLS runs the source against a PostgreSQL that accepts TCP
// connections only over TLS (pg_hba hostssl), in every sslmode.
func TestTLS(t *testing.T) {
	files := harness.NewTLSFiles(t, "sluice_cert")
	pg := harness.StartPostgres(t, harness.PostgresOptions{TLS: files})
	db := pg.CreateDB(t, "tls")
	pg.Exec(t, "postgres", "CREATE ROLE app LOGIN SUPERUSER REPLICATION PASSWORD '"+tlsPassword+"'",
		"CREATE ROLE sluice_cert LOGIN SUPERUSER REPLICATION")
	pg.Exec(t, db, "CREATE TABLE t (id int PRIMARY KEY, v text)",
		"INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 200) g", "ANALYZE t")

	// capture runs a task with p: a chunked snapshot over two threads
	// (chunk connections), then one streamed insert (replication
	// connection). The server refuses any connection without TLS, so
	// success proves every connection used it.
	capture := func(t *testing.T, p map[string]string, id int) {
		t.Helper()
		p[SnapshotMaxThreads] = "2"
		p[SnapshotChunkSize] = "50"
		task := startTask(t, p, nil)
		pollUntil(t, task, 60*time.Second, func(rs []*connectors.Record) bool { return countOps(data(rs), "t", "r") >= 200 })
		pg.Exec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d, 'streamed')", id))
		pollUntil(t, task, 30*time.Second, func(rs []*connectors.Record) bool { return countOps(data(rs), "t", "c") >= 1 })
		var plain int
		c := pg.Connect(t, "postgres")
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = $1 AND NOT ssl",
			p[User]).Scan(&plain); err != nil || plain != 0 {
			t.Fatalf("%d sessions of %s without TLS (%v)", plain, p[User], err)
		}
	}
	noSecret := func(t *testing.T, errs map[string][]string) {
		t.Helper()
		if s := fmt.Sprint(errs); strings.Contains(s, tlsPassword) {
			t.Fatalf("an error shows the password: %s", s)
		}
	}

	t.Run("require without CA", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_require", harness.TLSHost, SSLMode, "require")
		if errs := connErrs(p); len(errs) > 0 {
			t.Fatalf("Validate: %v", errs)
		}
		capture(t, p, 1001)
	})
	t.Run("verify-ca with the CA ignores the host name", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_ca", harness.TLSWrongHost, SSLMode, "verify-ca", SSLRootCert, files.CA)
		if errs := connErrs(p); len(errs) > 0 {
			t.Fatalf("Validate: %v", errs)
		}
		capture(t, p, 1002)
	})
	t.Run("verify-full with the host name in the certificate", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_full", "localhost", SSLMode, "verify-full", SSLRootCert, files.CA)
		if errs := connErrs(p); len(errs) > 0 {
			t.Fatalf("Validate: %v", errs)
		}
		capture(t, p, 1003)
	})
	t.Run("verify-full with a wrong host name is refused", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_wrong", harness.TLSWrongHost, SSLMode, "verify-full", SSLRootCert, files.CA)
		errs := connErrs(p)
		noSecret(t, errs)
		msg := strings.Join(errs[Hostname], "")
		for _, want := range []string{"TLS verification failed", `host name "127.0.0.2"`, "database.sslmode=verify-full", "localhost, 127.0.0.1", "database.hostname"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("Validate errors %v; want %q under %s", errs, want, Hostname)
			}
		}
		err := NewTask().Start(context.Background(), &taskContext{}, p)
		if err == nil || !strings.Contains(err.Error(), `not valid for the host name "127.0.0.2"`) || transient(err) {
			t.Fatalf("Start: %v (transient %v); want a permanent host name failure", err, transient(err))
		}
	})
	t.Run("verify-ca with a wrong CA is refused", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_wrongca", harness.TLSHost, SSLMode, "verify-ca", SSLRootCert, files.OtherCA)
		errs := connErrs(p)
		noSecret(t, errs)
		msg := strings.Join(errs[SSLRootCert], "")
		if !strings.Contains(msg, "not signed by a certificate authority in database.sslrootcert ("+files.OtherCA+")") ||
			!strings.Contains(msg, "database.sslmode=verify-ca") {
			t.Fatalf("Validate errors %v; want the wrong CA under %s", errs, SSLRootCert)
		}
		err := NewTask().Start(context.Background(), &taskContext{}, p)
		if err == nil || !strings.Contains(err.Error(), "database.sslrootcert") || transient(err) {
			t.Fatalf("Start: %v", err)
		}
	})
	t.Run("require with a wrong CA is refused too", func(t *testing.T) {
		// As in libpq, require with a root certificate verifies like verify-ca.
		p := tlsProps(pg, db, "tls_reqca", harness.TLSHost, SSLMode, "require", SSLRootCert, files.OtherCA)
		if errs := connErrs(p); len(errs[SSLRootCert]) == 0 {
			t.Fatalf("Validate errors %v; want a refusal under %s", errs, SSLRootCert)
		}
	})
	t.Run("client certificate", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_cert", harness.TLSHost, User, "sluice_cert", SSLMode, "verify-full", SSLRootCert, files.CA,
			SSLCert, files.ClientCert, SSLKey, files.ClientKey)
		delete(p, Password)
		if errs := connErrs(p); len(errs) > 0 {
			t.Fatalf("Validate: %v", errs)
		}
		capture(t, p, 1004)
		// Without the certificate the server has nothing to authenticate with.
		delete(p, SSLCert)
		delete(p, SSLKey)
		if errs := connErrs(p); len(errs) == 0 {
			t.Fatal("Validate without the client certificate passed")
		}
	})
	t.Run("client certificate with another common name is refused", func(t *testing.T) {
		// A certificate for CN "stranger" offered as sluice_cert's.
		p := tlsProps(pg, db, "tls_certother", harness.TLSHost, User, "sluice_cert", SSLMode, "verify-full", SSLRootCert, files.CA,
			SSLCert, files.StrangerCert, SSLKey, files.StrangerKey)
		delete(p, Password)
		errs := connErrs(p)
		if msg := strings.Join(errs[SSLCert], ""); !strings.Contains(msg, `refused the client certificate for user "sluice_cert"`) ||
			!strings.Contains(msg, "common name (CN) must be database.user") {
			t.Fatalf("Validate errors %v; want the certificate refusal under %s", errs, SSLCert)
		}
	})
	t.Run("disable against a TLS-only server is refused", func(t *testing.T) {
		p := tlsProps(pg, db, "tls_off", harness.TLSHost, SSLMode, "disable")
		errs := connErrs(p)
		noSecret(t, errs)
		msg := strings.Join(errs[SSLMode], "")
		if !strings.Contains(msg, `accepts user "app" only over TLS`) || !strings.Contains(msg, "database.sslmode=disable") ||
			!strings.Contains(msg, "set database.sslmode to verify-full") {
			t.Fatalf("Validate errors %v; want the hostssl refusal under %s", errs, SSLMode)
		}
	})
	t.Run("prefer and allow negotiate TLS", func(t *testing.T) {
		for _, mode := range []string{"prefer", "allow"} {
			p := tlsProps(pg, db, "tls_"+mode, harness.TLSHost, SSLMode, mode)
			if errs := connErrs(p); len(errs) > 0 {
				t.Fatalf("%s: Validate: %v", mode, errs)
			}
		}
	})
}

// TestTLSRequireWithoutServerTLS checks the message when the server has
// ssl off and database.sslmode needs TLS.
func TestTLSRequireWithoutServerTLS(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	p := props(pg, "postgres", "notls", SSLMode, "require")
	errs := connErrs(p)
	msg := strings.Join(errs[SSLMode], "")
	if !strings.Contains(msg, "does not accept TLS") || !strings.Contains(msg, "database.sslmode=require") {
		t.Fatalf("Validate errors %v", errs)
	}
	// With prefer the plain attempt's failure is the one explained.
	p = props(pg, "no_such_db", "notls", SSLMode, "prefer")
	errs = connErrs(p)
	if msg := fmt.Sprint(errs); strings.Contains(msg, "database.sslmode") || !strings.Contains(msg, "does not exist") {
		t.Fatalf("Validate errors %v; want the missing database, not a TLS fix", errs)
	}
}

// TestTLSFileChecks checks the TLS file properties before connecting.
func TestTLSFileChecks(t *testing.T) {
	files := harness.NewTLSFiles(t, "u")
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(notPEM, []byte{0x30, 0x82, 0x01}, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	base := map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "p"}
	cases := []struct {
		name  string
		extra []string
		key   string
		want  string
	}{
		{"missing CA", []string{SSLMode, "verify-full", SSLRootCert, missing}, SSLRootCert, "cannot read " + missing + " on the worker (no such file or directory)"},
		{"CA not PEM", []string{SSLMode, "verify-ca", SSLRootCert, notPEM}, SSLRootCert, "is not a PEM file"},
		{"CA is a key", []string{SSLMode, "verify-ca", SSLRootCert, files.ClientKey}, SSLRootCert, "holds no PEM certificate"},
		{"verify-ca without CA", []string{SSLMode, "verify-ca"}, SSLRootCert, "database.sslmode=verify-ca needs the certificate authority"},
		{"cert without key", []string{SSLMode, "require", SSLCert, files.ClientCert}, SSLKey, "database.sslcert is set but database.sslkey is not"},
		{"key without cert", []string{SSLMode, "require", SSLKey, files.ClientKey}, SSLCert, "database.sslkey is set but database.sslcert is not"},
		{"mismatched pair", []string{SSLMode, "require", SSLCert, files.ServerCert, SSLKey, files.ClientKey}, SSLCert, "are not a matching PEM certificate and private key"},
		{"missing key", []string{SSLMode, "require", SSLCert, files.ClientCert, SSLKey, missing}, SSLKey, "cannot read " + missing},
		{"prefer ignores the CA", []string{SSLMode, "prefer", SSLRootCert, files.CA}, SSLRootCert, "never verifies the server's certificate"},
		{"disable with files", []string{SSLMode, "disable", SSLRootCert, files.CA}, SSLMode, "database.sslmode is disable but"},
		{"unknown mode", []string{SSLMode, "verify"}, SSLMode, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := map[string]string{}
			for k, v := range base {
				p[k] = v
			}
			for i := 0; i+1 < len(c.extra); i += 2 {
				p[c.extra[i]] = c.extra[i+1]
			}
			_, err := ParseConfig(p)
			if err == nil || !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseConfig: %v; want %q naming %s", err, c.want, c.key)
			}
		})
	}
	// Good files pass.
	p := map[string]string{Hostname: "h", User: "u", DBName: "d", TopicPrefix: "p", SSLMode: "verify-full",
		SSLRootCert: files.CA, SSLCert: files.ClientCert, SSLKey: files.ClientKey}
	c, err := ParseConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if cs := c.ConnString(); !strings.Contains(cs, "sslrootcert='"+files.CA+"'") || !strings.Contains(cs, "sslkey='"+files.ClientKey+"'") {
		t.Fatalf("ConnString %s", cs)
	}
}

// TestTLSIdentity checks that the CA is part of the connection's
// identity: a config that changes it cannot reuse a stored password
// ([hidden]), since another CA could vouch for another server.
func TestTLSIdentity(t *testing.T) {
	a := map[string]string{Hostname: "h", User: "u", DBName: "d", SSLMode: "verify-full", SSLRootCert: "/etc/ca-a.pem"}
	b := map[string]string{Hostname: "h", User: "u", DBName: "d", SSLMode: "verify-full", SSLRootCert: "/tmp/evil-ca.pem"}
	ia, ib := def.Identity(a), def.Identity(b)
	if ia[SSLRootCert] != "/etc/ca-a.pem" || ib[SSLRootCert] != "/tmp/evil-ca.pem" {
		t.Fatalf("identities %v and %v do not hold %s", ia, ib, SSLRootCert)
	}
}
