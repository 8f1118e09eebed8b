package mysql

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/it/harness"
)

// TestTLS connects to a MariaDB that offers TLS (and, in one case,
// requires it) in each database.ssl.mode, as users with and without
// REQUIRE SSL and X509, and to one without TLS. A working mode streams
// a change through both the query connections and the binlog syncer; a
// failing one is refused at Start with a message naming the property.
func TestTLS(t *testing.T) {
	files := harness.NewTLSFiles(t, "sluice_cert")
	m := harness.StartMariaDB(t, harness.MariaDBOptions{TLS: files, TLSOptional: true})
	plain := harness.StartMariaDB(t, harness.MariaDBOptions{})
	const pw = "tls-pw-secret"
	for _, s := range []*harness.MariaDB{m, plain} {
		s.Exec(t, "", "CREATE USER app@'%' IDENTIFIED BY '"+pw+"'", "GRANT ALL ON *.* TO app@'%'",
			"CREATE USER sslonly@'%' IDENTIFIED BY '"+pw+"' REQUIRE SSL", "GRANT ALL ON *.* TO sslonly@'%'")
	}
	m.Exec(t, "", "CREATE USER sluice_cert@'%' REQUIRE SUBJECT '/CN=sluice_cert'", "GRANT ALL ON *.* TO sluice_cert@'%'")
	db := m.CreateDB(t, "tls")
	m.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY)")
	pdb := plain.CreateDB(t, "tls")
	plain.Exec(t, pdb, "CREATE TABLE t (id INT PRIMARY KEY)")
	next := 0

	// streams starts a task with extra properties, inserts a row and
	// waits for its change event; it returns the task (stopped at the
	// end of the test).
	streams := func(t *testing.T, s *harness.MariaDB, db string, extra ...string) *Task {
		t.Helper()
		p := props(s, db, append([]string{SnapshotMode, SnapshotNoData}, extra...)...)
		task := startTask(t, p, nil)
		next++
		s.Exec(t, db, fmt.Sprintf("INSERT INTO t VALUES (%d)", next))
		recs := changes(pollUntil(t, task, 30*time.Second, nChanges(1)))
		if got := afterOf(recs[0]).Values[0]; got != int32(next) {
			t.Fatalf("streamed id %v, want %d", got, next)
		}
		return task
	}
	// refused starts a task that must fail, and checks that the error
	// names the property and holds each of want, never the password.
	refused := func(t *testing.T, s *harness.MariaDB, db, key string, want []string, extra ...string) {
		t.Helper()
		p := props(s, db, append([]string{SnapshotMode, SnapshotNoData}, extra...)...)
		task, err := tryStart(p, nil)
		if err == nil {
			stopTask(t, task)
			t.Fatalf("Start succeeded; want an error naming %s", key)
		}
		msg := err.Error()
		for _, w := range append([]string{key}, want...) {
			if !strings.Contains(msg, w) {
				t.Errorf("error does not say %q:\n%s", w, msg)
			}
		}
		if strings.Contains(msg, pw) {
			t.Errorf("error shows the password: %s", msg)
		}
		var ce *ConnectError
		if errors.As(err, &ce) && ce.Property() != key {
			t.Errorf("error's property is %s, want %s", ce.Property(), key)
		}
		// Validate names the same property.
		out := (&Connector{}).Validate(context.Background(), p)
		if len(out[key]) == 0 {
			t.Errorf("Validate: nothing on %s: %v", key, out)
		}
	}
	user := func(name string) []string { return []string{User, name, Password, pw} }

	t.Run("disabled REQUIRE SSL user", func(t *testing.T) {
		refused(t, m, db, SSLMode, []string{"REQUIRE SSL", "verify_identity"}, append(user("sslonly"), SSLMode, SSLDisabled)...)
	})
	t.Run("preferred by default", func(t *testing.T) {
		// The default: sslonly can log in only over TLS, on the query
		// connections and the binlog's.
		task := streams(t, m, db, user("sslonly")...)
		if task.binlogTLS == nil {
			t.Fatal("preferred against a server with TLS: the binlog stream is in plain text")
		}
	})
	t.Run("required", func(t *testing.T) {
		streams(t, m, db, append(user("sslonly"), SSLMode, SSLRequired)...)
	})
	t.Run("verify_ca ignores the host name", func(t *testing.T) {
		streams(t, m, db, append(user("sslonly"), Hostname, harness.TLSWrongHost, SSLMode, SSLVerifyCA, SSLRootCert, files.CA)...)
	})
	t.Run("verify_ca wrong CA", func(t *testing.T) {
		refused(t, m, db, SSLRootCert, []string{"not signed by a certificate authority", files.OtherCA},
			append(user("app"), SSLMode, SSLVerifyCA, SSLRootCert, files.OtherCA)...)
	})
	t.Run("required with a wrong CA verifies", func(t *testing.T) {
		refused(t, m, db, SSLRootCert, []string{"not signed by a certificate authority"},
			append(user("app"), SSLMode, SSLRequired, SSLRootCert, files.OtherCA)...)
	})
	t.Run("verify_identity wrong host", func(t *testing.T) {
		refused(t, m, db, Hostname, []string{`not valid for the host name "127.0.0.2"`, "localhost, 127.0.0.1"},
			append(user("app"), Hostname, harness.TLSWrongHost, SSLMode, SSLVerifyIdentity, SSLRootCert, files.CA)...)
	})
	t.Run("verify_identity system roots", func(t *testing.T) {
		refused(t, m, db, SSLRootCert, []string{"the system's trusted roots"}, append(user("app"), SSLMode, SSLVerifyIdentity)...)
	})
	t.Run("X509 user without a certificate", func(t *testing.T) {
		refused(t, m, db, Password, []string{"REQUIRE X509", SSLCert}, User, "sluice_cert", SSLMode, SSLVerifyIdentity, SSLRootCert, files.CA)
	})
	t.Run("X509 user with another user's certificate", func(t *testing.T) {
		refused(t, m, db, Password, []string{"SUBJECT"}, User, "sluice_cert", SSLMode, SSLVerifyIdentity, SSLRootCert, files.CA,
			SSLCert, files.StrangerCert, SSLKey, files.StrangerKey)
	})
	t.Run("verify_identity with a client certificate", func(t *testing.T) {
		streams(t, m, db, User, "sluice_cert", SSLMode, SSLVerifyIdentity, SSLRootCert, files.CA,
			SSLCert, files.ClientCert, SSLKey, files.ClientKey)
	})
	t.Run("require_secure_transport", func(t *testing.T) {
		m.Exec(t, "", "SET GLOBAL require_secure_transport = ON")
		defer m.Exec(t, "", "SET GLOBAL require_secure_transport = OFF")
		refused(t, m, db, SSLMode, []string{"require_secure_transport=ON", "verify_identity"}, append(user("app"), SSLMode, SSLDisabled)...)
		streams(t, m, db, append(user("app"), SSLMode, SSLVerifyIdentity, SSLRootCert, files.CA)...)
	})
	t.Run("required without TLS on the server", func(t *testing.T) {
		refused(t, plain, pdb, SSLMode, []string{"does not offer TLS", "required"}, append(user("app"), SSLMode, SSLRequired)...)
	})
	t.Run("preferred without TLS on the server", func(t *testing.T) {
		task := streams(t, plain, pdb, user("app")...)
		if task.binlogTLS != nil {
			t.Fatal("preferred against a server without TLS: the binlog syncer asks for TLS")
		}
	})
}

// TestTLSConfig checks the TLS properties before any connection.
func TestTLSConfig(t *testing.T) {
	files := harness.NewTLSFiles(t, "sluice_cert")
	notPEM := filepath.Join(t.TempDir(), "ca.jks")
	if err := os.WriteFile(notPEM, []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}, 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{Hostname: "h", User: "u", TopicPrefix: "p"}
	for _, c := range []struct {
		name  string
		props map[string]string
		key   string
		want  string
	}{
		{"unknown mode", map[string]string{SSLMode: "verify_full"}, SSLMode, "must be one of disabled, preferred, required, verify_ca, verify_identity"},
		{"disabled with a CA", map[string]string{SSLMode: "disabled", SSLRootCert: files.CA}, SSLMode, "set database.ssl.mode to verify_identity"},
		{"preferred with a CA", map[string]string{SSLRootCert: files.CA}, SSLRootCert, "never verifies"},
		{"verify_ca without a CA", map[string]string{SSLMode: "verify_ca"}, SSLRootCert, "needs the certificate authority"},
		{"CA not PEM", map[string]string{SSLMode: "verify_ca", SSLRootCert: notPEM}, SSLRootCert, "is not a PEM file"},
		{"CA missing", map[string]string{SSLMode: "verify_ca", SSLRootCert: notPEM + ".gone"}, SSLRootCert, "cannot read"},
		{"cert without key", map[string]string{SSLMode: "required", SSLCert: files.ClientCert}, SSLKey, "database.sslkey is not"},
		{"key of another cert", map[string]string{SSLMode: "required", SSLCert: files.ClientCert, SSLKey: files.StrangerKey}, SSLCert, "not a matching"},
		{"truststore", map[string]string{"database.ssl.truststore": "/x.jks"}, "database.ssl.truststore", "set database.sslrootcert to the CA certificate in PEM"},
		{"keystore password", map[string]string{"database.ssl.keystore.password": "x"}, "database.ssl.keystore.password", "database.sslcert and database.sslkey"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := map[string]string{}
			for k, v := range base {
				p[k] = v
			}
			for k, v := range c.props {
				p[k] = v
			}
			_, err := ParseConfig(p)
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("ParseConfig: %v; want config errors", err)
			}
			for _, e := range errs {
				if e.Key == c.key && strings.Contains(e.Error(), c.want) {
					return
				}
			}
			t.Fatalf("no error on %s saying %q: %v", c.key, c.want, err)
		})
	}
	t.Run("modes", func(t *testing.T) {
		for mode, want := range map[string]struct{ tls, skip, name bool }{
			"disabled": {}, "preferred": {true, true, false}, "required": {true, true, false},
			"VERIFY_CA": {true, true, false}, "verify_identity": {true, false, true},
		} {
			p := map[string]string{Hostname: "db.example", User: "u", TopicPrefix: "p", SSLMode: mode}
			if strings.EqualFold(mode, SSLVerifyCA) || mode == SSLVerifyIdentity {
				p[SSLRootCert] = files.CA
			}
			cfg, err := ParseConfig(p)
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			tc, err := tlsConfig(cfg)
			if err != nil {
				t.Fatalf("%s: %v", mode, err)
			}
			if (tc != nil) != want.tls {
				t.Fatalf("%s: TLS %v, want %v", mode, tc != nil, want.tls)
			}
			if tc == nil {
				continue
			}
			if tc.InsecureSkipVerify != want.skip || (tc.ServerName == "db.example") != want.name {
				t.Errorf("%s: InsecureSkipVerify %v ServerName %q", mode, tc.InsecureSkipVerify, tc.ServerName)
			}
			if strings.EqualFold(mode, SSLVerifyCA) && tc.VerifyPeerCertificate == nil {
				t.Errorf("%s: the chain is not verified", mode)
			}
		}
	})
}

var _ connectors.SourceTask = (*Task)(nil)
