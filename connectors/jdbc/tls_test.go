package jdbc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/it/harness"
)

const tlsPassword = "tls-secret-pw"

// tlsConnect validates props and, when valid, opens the sink's dialect,
// creates a table and reports whether the session uses TLS.
func tlsConnect(t *testing.T, props map[string]string) (errs map[string][]string, encrypted bool) {
	t.Helper()
	props[Topics] = "x"
	errs = (&Connector{}).Validate(context.Background(), props)
	if s := fmt.Sprint(errs); strings.Contains(s, tlsPassword) {
		t.Fatalf("an error shows the password: %s", s)
	}
	if len(errs) > 0 {
		return errs, false
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := newDialect(ctx, cfg)
	if err != nil {
		t.Fatalf("Validate passed but the sink cannot connect: %v", err)
	}
	defer d.close(ctx)
	if err := d.exec(ctx, fmt.Sprintf("CREATE TABLE tls_%d (id int PRIMARY KEY)", time.Now().UnixNano())); err != nil {
		t.Fatalf("CREATE TABLE over TLS: %v", err)
	}
	switch d := d.(type) {
	case *postgres:
		c, err := d.connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&encrypted); err != nil {
			t.Fatal(err)
		}
	case *mysqlDialect:
		var name, cipher string
		if err := d.db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
			t.Fatal(err)
		}
		encrypted = cipher != ""
	}
	return nil, encrypted
}

type tlsCase struct {
	name, url, user string
	// want is empty when the connection must work over TLS, else a part
	// of the error under wantKey.
	want, wantKey string
}

func runTLSCases(t *testing.T, cases []tlsCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			props := map[string]string{ConnectionURL: c.url, ConnectionUsername: c.user}
			if c.user == "app" {
				props[ConnectionPassword] = tlsPassword
			}
			errs, encrypted := tlsConnect(t, props)
			if c.want == "" {
				if len(errs) > 0 || !encrypted {
					t.Fatalf("errors %v, TLS %v; want a TLS session", errs, encrypted)
				}
				return
			}
			key := c.wantKey
			if key == "" {
				key = ConnectionURL
			}
			if msg := strings.Join(errs[key], ""); !strings.Contains(msg, c.want) {
				t.Fatalf("errors %v; want %q under %s", errs, c.want, key)
			}
		})
	}
}

// TestTLSPostgres connects the sink to a PostgreSQL that accepts TCP
// connections only over TLS, with PostgreSQL JDBC's TLS parameters.
func TestTLSPostgres(t *testing.T) {
	f := harness.NewTLSFiles(t, "sluice_cert")
	pg := harness.StartPostgres(t, harness.PostgresOptions{TLS: f})
	db := pg.CreateDB(t, "sinktls")
	pg.Exec(t, "postgres", "CREATE ROLE app LOGIN SUPERUSER PASSWORD '"+tlsPassword+"'", "CREATE ROLE sluice_cert LOGIN SUPERUSER")
	url := func(host, params string) string {
		return fmt.Sprintf("jdbc:postgresql://%s:%d/%s?%s", host, pg.Port, db, params)
	}
	ca, other := "sslrootcert="+f.CA, "sslrootcert="+f.OtherCA
	runTLSCases(t, []tlsCase{
		{name: "require without CA", url: url(harness.TLSHost, "sslmode=require"), user: "app"},
		{name: "prefer", url: url(harness.TLSHost, "sslmode=prefer"), user: "app"},
		{name: "allow", url: url(harness.TLSHost, "sslmode=allow"), user: "app"},
		{name: "verify-ca ignores the host name", url: url(harness.TLSWrongHost, "sslmode=verify-ca&"+ca), user: "app"},
		{name: "verify-full", url: url("localhost", "sslmode=verify-full&"+ca), user: "app"},
		{name: "ssl=true is verify-full", url: url(harness.TLSHost, "ssl=true&"+ca), user: "app"},
		{name: "verify-full wrong host", url: url(harness.TLSWrongHost, "sslmode=verify-full&"+ca), user: "app",
			want: `TLS verification failed at 127.0.0.2:` + fmt.Sprint(pg.Port) + `: the server's certificate is not valid for the host name "127.0.0.2" (it names localhost, 127.0.0.1); with sslmode=verify-full`},
		{name: "ssl=true wrong host", url: url(harness.TLSWrongHost, "ssl=true&"+ca), user: "app", want: `not valid for the host name "127.0.0.2"`},
		{name: "verify-ca wrong CA", url: url(harness.TLSHost, "sslmode=verify-ca&"+other), user: "app",
			want: "not signed by a certificate authority in sslrootcert (" + f.OtherCA + ")"},
		{name: "verify-full without CA uses the system roots", url: url("localhost", "sslmode=verify-full"), user: "app",
			want: "not signed by a certificate authority in the system's trusted roots"},
		{name: "client certificate", url: url("localhost", "sslmode=verify-full&"+ca+"&sslcert="+f.ClientCert+"&sslkey="+f.ClientKey), user: "sluice_cert"},
		{name: "client certificate of another CN", url: url("localhost", "sslmode=verify-full&"+ca+"&sslcert="+f.StrangerCert+"&sslkey="+f.StrangerKey),
			user: "sluice_cert", want: `refused the client certificate for user "sluice_cert"`},
		{name: "disable against hostssl", url: url(harness.TLSHost, "sslmode=disable"), user: "app",
			want: `accepts "app" only over TLS (pg_hba.conf hostssl) and connection.url has sslmode=disable`},
	})
}

// TestTLSMariaDB connects the sink to a MariaDB with
// require_secure_transport, with MySQL's and MariaDB's Connector/J TLS
// parameters.
func TestTLSMariaDB(t *testing.T) {
	f := harness.NewTLSFiles(t, "sluice_cert")
	m := harness.StartMariaDB(t, harness.MariaDBOptions{NoBinlog: true, TLS: f})
	db := m.CreateDB(t, "sinktls")
	m.Exec(t, "", "CREATE USER app@'%' IDENTIFIED BY '"+tlsPassword+"'", "GRANT ALL ON *.* TO app@'%'",
		"CREATE USER sluice_cert@'%' REQUIRE SUBJECT '/CN=sluice_cert'", "GRANT ALL ON *.* TO sluice_cert@'%'")
	url := func(sub, host, params string) string {
		return fmt.Sprintf("jdbc:%s://%s:%d/%s?%s", sub, host, m.Port, db, params)
	}
	ca, other := "trustCertificateKeyStoreUrl=file:"+f.CA, "trustCertificateKeyStoreUrl=file:"+f.OtherCA
	runTLSCases(t, []tlsCase{
		{name: "mysql default PREFERRED", url: url("mysql", harness.TLSHost, ""), user: "app"},
		{name: "REQUIRED", url: url("mysql", harness.TLSHost, "sslMode=REQUIRED"), user: "app"},
		{name: "trust", url: url("mariadb", harness.TLSHost, "sslMode=trust"), user: "app"},
		{name: "VERIFY_CA ignores the host name", url: url("mysql", harness.TLSWrongHost, "sslMode=VERIFY_CA&"+ca), user: "app"},
		{name: "VERIFY_IDENTITY", url: url("mysql", "localhost", "sslMode=VERIFY_IDENTITY&"+ca), user: "app"},
		{name: "verify-full serverSslCert", url: url("mariadb", harness.TLSHost, "sslMode=verify-full&serverSslCert="+f.CA), user: "app"},
		{name: "VERIFY_IDENTITY wrong host", url: url("mysql", harness.TLSWrongHost, "sslMode=VERIFY_IDENTITY&"+ca), user: "app",
			want: `not valid for the host name "127.0.0.2" (it names localhost, 127.0.0.1); with sslMode=VERIFY_IDENTITY`},
		{name: "verify-full wrong host", url: url("mariadb", harness.TLSWrongHost, "sslMode=verify-full&serverSslCert="+f.CA), user: "app",
			want: `not valid for the host name "127.0.0.2"`},
		{name: "VERIFY_CA wrong CA", url: url("mysql", harness.TLSHost, "sslMode=VERIFY_CA&"+other), user: "app",
			want: "not signed by a certificate authority in trustCertificateKeyStoreUrl (" + f.OtherCA + ")"},
		{name: "VERIFY_IDENTITY wrong CA", url: url("mysql", "localhost", "sslMode=VERIFY_IDENTITY&"+other), user: "app",
			want: "not signed by a certificate authority"},
		{name: "useSSL requireSSL", url: url("mysql", harness.TLSHost, "useSSL=true&requireSSL=true"), user: "app"},
		{name: "useSSL verifyServerCertificate", url: url("mysql", harness.TLSWrongHost, "useSSL=true&verifyServerCertificate=true&"+ca), user: "app"},
		{name: "verifyServerCertificate wrong CA", url: url("mysql", harness.TLSHost, "useSSL=true&verifyServerCertificate=true&"+other), user: "app",
			want: "(verifyServerCertificate=true): the server's certificate is not signed"},
		{name: "useSsl verifies the host name", url: url("mariadb", harness.TLSWrongHost, "useSsl=true&serverSslCert="+f.CA), user: "app",
			want: `not valid for the host name "127.0.0.2" (it names localhost, 127.0.0.1); with useSsl=true`},
		{name: "useSsl disableSslHostnameVerification", url: url("mariadb", harness.TLSWrongHost, "useSsl=true&disableSslHostnameVerification=true&serverSslCert="+f.CA), user: "app"},
		{name: "useSsl trustServerCertificate", url: url("mariadb", harness.TLSHost, "useSsl=true&trustServerCertificate=true"), user: "app"},
		{name: "client certificate", url: url("mysql", "localhost", "sslMode=VERIFY_IDENTITY&"+ca+"&clientCertificateKeyStoreUrl=file:"+f.ClientPEM), user: "sluice_cert"},
		{name: "client certificate keyStore", url: url("mariadb", harness.TLSHost, "sslMode=verify-full&serverSslCert="+f.CA+"&keyStore="+f.ClientPEM+"&keyStoreType=PEM"), user: "sluice_cert"},
		{name: "no client certificate", url: url("mysql", harness.TLSHost, "sslMode=REQUIRED"), user: "sluice_cert", wantKey: ConnectionPassword,
			want: `authentication as "sluice_cert" failed`},
		{name: "DISABLED against require_secure_transport", url: url("mysql", harness.TLSHost, "sslMode=DISABLED"), user: "app", wantKey: ConnectionPassword,
			want: "whether the server requires TLS (require_secure_transport, or the user's REQUIRE SSL/X509): connection.url has sslMode=DISABLED"},
		{name: "useSSL=false", url: url("mysql", harness.TLSHost, "useSSL=false"), user: "app", wantKey: ConnectionPassword, want: "connection.url has useSSL=false"},
		{name: "mariadb default disable", url: url("mariadb", harness.TLSHost, ""), user: "app", wantKey: ConnectionPassword,
			want: "connection.url has sslMode=disable (MariaDB Connector/J's default)"},
	})
}

// TestTLSServerWithoutTLS checks the message when the URL requires TLS
// and the server has none.
func TestTLSServerWithoutTLS(t *testing.T) {
	pg := harness.StartPostgres(t, harness.PostgresOptions{})
	errs, _ := tlsConnect(t, map[string]string{ConnectionURL: pg.JDBCURL("postgres") + "?sslmode=require", ConnectionUsername: pg.User})
	if msg := strings.Join(errs[ConnectionURL], ""); !strings.Contains(msg, "does not accept TLS and connection.url has sslmode=require") {
		t.Fatalf("errors %v", errs)
	}
}

// TestTLSURLParameters checks TLS parameters before any connection.
func TestTLSURLParameters(t *testing.T) {
	f := harness.NewTLSFiles(t, "u")
	dir := t.TempDir()
	der := filepath.Join(dir, "ca.der")
	if err := os.WriteFile(der, []byte{0x30, 0x82}, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nope.pem")
	for _, c := range []struct{ url, want string }{
		{"jdbc:postgresql://h/d?sslmode=verify", "sslmode=verify is not one of disable, allow, prefer, require, verify-ca, verify-full"},
		{"jdbc:postgresql://h/d?sslmode=verify-ca", "sslmode=verify-ca needs the CA"},
		{"jdbc:postgresql://h/d?sslmode=prefer&sslrootcert=" + f.CA, "sslrootcert names a CA but sslmode=prefer never verifies"},
		{"jdbc:postgresql://h/d?sslmode=disable&sslcert=" + f.ClientCert + "&sslkey=" + f.ClientKey, "sslmode=disable turns TLS off"},
		{"jdbc:postgresql://h/d?sslmode=require&sslcert=" + f.ClientCert, "sslcert is set but sslkey is not"},
		{"jdbc:postgresql://h/d?sslmode=require&sslcert=" + f.ServerCert + "&sslkey=" + f.ClientKey, "sslcert and sslkey: " + f.ServerCert + " and " + f.ClientKey + " are not a matching PEM certificate and private key"},
		{"jdbc:postgresql://h/d?sslmode=verify-full&sslrootcert=" + missing, "sslrootcert: cannot read " + missing + " on the worker (no such file or directory)"},
		{"jdbc:postgresql://h/d?sslmode=verify-full&sslrootcert=" + der, "is not a PEM file"},
		{"jdbc:postgresql://h/d?sslmode=require&sslrootcert=system", "sslrootcert=system verifies against the system's trusted roots and needs sslmode=verify-full"},
		{"jdbc:postgresql://h/d?ssl=maybe", "ssl=maybe is not true or false"},
		{"jdbc:mysql://h/d?sslMode=STRICT", "sslMode=STRICT is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"},
		{"jdbc:mysql://h/d?sslMode=VERIFY_CA", "sslMode=VERIFY_CA needs the CA"},
		{"jdbc:mysql://h/d?sslMode=REQUIRED&trustCertificateKeyStoreUrl=file:" + f.CA + "&trustCertificateKeyStoreType=JKS", "trustCertificateKeyStoreType=JKS is not supported: only PEM files are read"},
		{"jdbc:mysql://h/d?sslMode=VERIFY_CA&trustCertificateKeyStoreUrl=file:" + f.CA + "&trustCertificateKeyStorePassword=x", "trustCertificateKeyStorePassword is not supported"},
		{"jdbc:mysql://h/d?sslMode=PREFERRED&trustCertificateKeyStoreUrl=file:" + f.CA, "never verifies the server's certificate"},
		{"jdbc:mysql://h/d?sslMode=VERIFY_CA&trustCertificateKeyStoreUrl=file:" + f.ClientKey, "holds no PEM certificate"},
		{"jdbc:mysql://h/d?sslMode=REQUIRED&clientCertificateKeyStoreUrl=file:" + f.ClientCert, "clientCertificateKeyStoreUrl: " + f.ClientCert + " holds no private key"},
		{"jdbc:mysql://h/d?useSSL=true&trustServerCertificate=true", "trustServerCertificate and disableSslHostnameVerification are MariaDB Connector/J parameters"},
		{"jdbc:mariadb://h/d?useSsl=true&requireSSL=true", "requireSSL and verifyServerCertificate are MySQL Connector/J parameters"},
		{"jdbc:mariadb://h/d?sslMode=verify-full&serverSslCert=" + f.CA + "&trustCertificateKeyStoreUrl=" + f.CA, "name a CA; keep one"},
	} {
		t.Run(c.url, func(t *testing.T) {
			if _, err := ParseURL(c.url); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseURL: %v; want %q", err, c.want)
			}
			_, err := ParseConfig(map[string]string{ConnectionURL: c.url, Topics: "x"})
			if err == nil || !strings.Contains(err.Error(), ConnectionURL) {
				t.Fatalf("ParseConfig: %v; want an error naming %s", err, ConnectionURL)
			}
		})
	}
	// A password in the URL stays out of the error.
	for _, u := range []string{"jdbc:mysql://u:" + tlsPassword + "@h/d?sslMode=VERIFY_CA", "jdbc:postgresql://h/d?password=" + tlsPassword + "&sslmode=verify-ca"} {
		_, err := ParseConfig(map[string]string{ConnectionURL: u, Topics: "x"})
		if err == nil || strings.Contains(err.Error(), tlsPassword) || !strings.Contains(err.Error(), "needs the CA") {
			t.Fatalf("ParseConfig(%s): %v", u, err)
		}
	}
	// Modes as the drivers resolve them.
	for _, c := range []struct{ url, mode string }{
		{"jdbc:postgresql://h/d", tlsPrefer},
		{"jdbc:postgresql://h/d?ssl=true", tlsVerifyFull},
		{"jdbc:postgresql://h/d?ssl=false", tlsPrefer},
		{"jdbc:postgresql://h/d?ssl=true&sslmode=require", tlsRequire},
		{"jdbc:mysql://h/d", tlsPrefer},
		{"jdbc:mariadb://h/d", tlsDisable},
		{"jdbc:mysql://h/d?useSSL=false", tlsDisable},
		{"jdbc:mysql://h/d?useSSL=true", tlsPrefer},
		{"jdbc:mysql://h/d?useSSL=true&requireSSL=true", tlsRequire},
		{"jdbc:mysql://h/d?useSSL=false&sslMode=REQUIRED", tlsRequire},
		{"jdbc:mariadb://h/d?useSsl=true", tlsVerifyFull},
		{"jdbc:mariadb://h/d?sslMode=trust", tlsRequire},
		{"jdbc:mariadb://h/d?sslmode=VERIFY_IDENTITY", tlsVerifyFull},
	} {
		u, err := ParseURL(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		s, err := u.tls()
		if err != nil || s.mode != c.mode {
			t.Errorf("%s: mode %v, %v; want %s", c.url, s, err, c.mode)
		}
	}
}

// TestTLSDriverConfigs checks the TLS settings handed to the drivers.
func TestTLSDriverConfigs(t *testing.T) {
	f := harness.NewTLSFiles(t, "u")
	u, err := ParseURL("jdbc:postgresql://db.example/d?sslmode=verify-full&sslrootcert=" + f.CA + "&sslcert=" + f.ClientCert + "&sslkey=" + f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := u.PgxConfig()
	if err != nil {
		t.Fatal(err)
	}
	if pc.TLSConfig == nil || pc.TLSConfig.ServerName != "db.example" || pc.TLSConfig.InsecureSkipVerify ||
		pc.TLSConfig.RootCAs == nil || len(pc.TLSConfig.Certificates) != 1 || len(pc.Fallbacks) != 0 {
		t.Fatalf("pgx TLS config %+v, fallbacks %d", pc.TLSConfig, len(pc.Fallbacks))
	}
	for _, c := range []struct {
		url                    string
		tls, skip, fallback    bool
		serverName             string
		clientCerts, verifyFns int
	}{
		{url: "jdbc:mariadb://h/d"},
		{url: "jdbc:mysql://h/d?sslMode=DISABLED"},
		{url: "jdbc:mysql://h/d", tls: true, skip: true, fallback: true},
		{url: "jdbc:mysql://h/d?sslMode=REQUIRED", tls: true, skip: true},
		{url: "jdbc:mysql://h/d?sslMode=VERIFY_CA&trustCertificateKeyStoreUrl=file:" + f.CA, tls: true, skip: true, verifyFns: 1},
		{url: "jdbc:mysql://h/d?sslMode=VERIFY_IDENTITY&trustCertificateKeyStoreUrl=file:" + f.CA + "&clientCertificateKeyStoreUrl=file:" + f.ClientPEM,
			tls: true, serverName: "h", clientCerts: 1},
	} {
		u, err := ParseURL(c.url)
		if err != nil {
			t.Fatal(err)
		}
		mc, err := u.MySQLConfig(time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if (mc.TLS != nil) != c.tls || mc.AllowFallbackToPlaintext != c.fallback {
			t.Fatalf("%s: TLS %+v fallback %v", c.url, mc.TLS, mc.AllowFallbackToPlaintext)
		}
		if mc.TLS == nil {
			continue
		}
		fns := 0
		if mc.TLS.VerifyPeerCertificate != nil {
			fns = 1
		}
		if mc.TLS.InsecureSkipVerify != c.skip || mc.TLS.ServerName != c.serverName || len(mc.TLS.Certificates) != c.clientCerts || fns != c.verifyFns {
			t.Fatalf("%s: TLS config %+v", c.url, mc.TLS)
		}
	}
}
