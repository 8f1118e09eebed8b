package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	driver "github.com/go-sql-driver/mysql"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// checkTLSFiles checks the TLS properties before any connection is made:
// the files exist and hold PEM of the right kind, the certificate and key
// come together and match, and the mode can use them. Errors name the
// property and the fix, never a file's content.
func checkTLSFiles(c *Config) error {
	var errs config.Errors
	bad := func(key, reason string) { errs = append(errs, &config.Error{Key: key, Reason: reason}) }
	badPEM := func(err error) {
		var pe *pemfile.Error
		if errors.As(err, &pe) {
			bad(pe.Source.Prop, pe.Reason())
		} else {
			bad(SSLMode, err.Error())
		}
	}
	if c.SSLMode == SSLDisabled && (c.SSLRootCert != "" || c.SSLCert != "" || c.SSLKey != "") {
		bad(SSLMode, "database.ssl.mode is disabled but database.sslrootcert, database.sslcert or database.sslkey is set; "+
			"set database.ssl.mode to verify_identity (or verify_ca, required) to use TLS, or remove the TLS file properties")
	}
	if c.SSLMode == SSLPreferred && c.SSLRootCert != "" {
		bad(SSLRootCert, "database.sslrootcert is set but database.ssl.mode=preferred never verifies the server's certificate; "+
			"set database.ssl.mode=verify_identity (or verify_ca) to verify it, or remove database.sslrootcert")
	}
	if c.SSLRootCert == "" && c.SSLMode == SSLVerifyCA {
		bad(SSLRootCert, "database.ssl.mode=verify_ca needs the certificate authority that signed the server's certificate; "+
			"set database.sslrootcert to its PEM file (or use database.ssl.mode=verify_identity, which verifies against the system's trusted roots when database.sslrootcert is empty)")
	}
	if c.SSLRootCert != "" {
		if _, err := pemfile.CertPool(pemfile.File(SSLRootCert, c.SSLRootCert), "set database.sslrootcert to the CA certificate in PEM"); err != nil {
			badPEM(err)
		}
	}
	switch {
	case c.SSLCert != "" && c.SSLKey == "":
		bad(SSLKey, "database.sslcert is set but database.sslkey is not; set database.sslkey to the client certificate's private key (PEM)")
	case c.SSLKey != "" && c.SSLCert == "":
		bad(SSLCert, "database.sslkey is set but database.sslcert is not; set database.sslcert to the client certificate (PEM)")
	case c.SSLCert != "":
		cert, key := pemfile.File(SSLCert, c.SSLCert), pemfile.File(SSLKey, c.SSLKey)
		_, certErr := pemfile.Read(cert)
		_, keyErr := pemfile.Read(key)
		if certErr != nil || keyErr != nil {
			for _, err := range []error{certErr, keyErr} {
				if err != nil {
					badPEM(err)
				}
			}
		} else if _, err := pemfile.KeyPair(cert, key, "set database.sslcert and database.sslkey to the client certificate and its key"); err != nil {
			badPEM(err)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// verifies reports whether the mode checks the server's certificate.
func (c *Config) verifies() bool {
	return c.SSLMode == SSLVerifyCA || c.SSLMode == SSLVerifyIdentity || (c.SSLMode == SSLRequired && c.SSLRootCert != "")
}

// tlsConfig returns the TLS configuration of database.ssl.mode for both
// go-sql-driver and go-mysql's binlog syncer: nil for disabled. The
// files are read at each call: the task calls it at start, so a renewed
// certificate is used from the next start (a restart of the task).
func tlsConfig(c *Config) (*tls.Config, error) {
	if c.SSLMode == SSLDisabled {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.SSLCert != "" {
		cert, err := pemfile.KeyPair(pemfile.File(SSLCert, c.SSLCert), pemfile.File(SSLKey, c.SSLKey),
			"set database.sslcert and database.sslkey to the client certificate and its key")
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if c.SSLRootCert != "" {
		var err error
		if pool, err = pemfile.CertPool(pemfile.File(SSLRootCert, c.SSLRootCert), "set database.sslrootcert to the CA certificate in PEM"); err != nil {
			return nil, err
		}
	}
	switch {
	case c.SSLMode == SSLVerifyIdentity:
		tc.RootCAs = pool
		tc.ServerName = c.Host
	case c.verifies():
		// The chain, not the host name, as MySQL's VERIFY_CA: Go
		// verifies both or neither, so the chain is checked here.
		tc.InsecureSkipVerify = true
		tc.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChain(raw, pool)
		}
	default: // preferred, required without a CA
		tc.InsecureSkipVerify = true
	}
	return tc, nil
}

// verifyChain checks that the server's certificate chain raw leads to a
// root in pool, whatever names the certificate holds.
func verifyChain(raw [][]byte, pool *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
	var leaf *x509.Certificate
	for i, r := range raw {
		cert, err := x509.ParseCertificate(r)
		if err != nil {
			return fmt.Errorf("the server's certificate does not parse: %w", err)
		}
		if i == 0 {
			leaf = cert
		} else {
			opts.Intermediates.AddCert(cert)
		}
	}
	_, err := leaf.Verify(opts)
	return err
}

// driverConfig returns the go-sql-driver configuration (no default
// database, UTC session time zone for TIMESTAMP text, utf8mb4, TLS of
// database.ssl.mode).
func driverConfig(cfg *Config) (*driver.Config, error) {
	c := driver.NewConfig()
	c.User, c.Passwd = cfg.User, cfg.Password
	c.Net, c.Addr = "tcp", cfg.Addr()
	c.Timeout = cfg.ConnectTimeout
	c.Params = map[string]string{"time_zone": "'+00:00'"}
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.TLS = tc
	c.AllowFallbackToPlaintext = cfg.SSLMode == SSLPreferred
	// go-sql-driver drops the TLS config of the connector it was given
	// when a server without TLS makes it fall back to plain text; with
	// a BeforeConnect hook each connection works on its own copy, so one
	// fallback neither races with nor downgrades the others.
	if err := c.Apply(driver.Charset("utf8mb4", ""), driver.BeforeConnect(func(context.Context, *driver.Config) error { return nil })); err != nil {
		return nil, err
	}
	return c, nil
}

// sessionTLS reports whether a connection of db runs over TLS (its
// Ssl_cipher is not empty). With preferred, the binlog stream uses TLS
// when the query connections got it: go-mysql has no fallback of its own.
func sessionTLS(ctx context.Context, db *sql.DB) (bool, error) {
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return false, fmt.Errorf("reading the session's TLS status: %w", err)
	}
	return cipher != "", nil
}

// binlogTLS returns the binlog syncer's TLS configuration: that of
// database.ssl.mode, but none with preferred when db's connections
// fell back to plain text.
func binlogTLS(ctx context.Context, db *sql.DB, cfg *Config) (*tls.Config, error) {
	tc, err := tlsConfig(cfg)
	if err != nil || tc == nil || cfg.SSLMode != SSLPreferred {
		return tc, err
	}
	on, err := sessionTLS(ctx, db)
	if err != nil || !on {
		return nil, err
	}
	return tc, nil
}

// needsTLS probes, after the server refused a login without TLS,
// whether the same login succeeds over TLS: then the user is created
// REQUIRE SSL or the server has require_secure_transport=ON, which the
// server reports with the same "access denied" as a wrong password. The
// probe does not verify the server's certificate, as the plain login
// that failed did not either. It returns the explanation, or "".
func needsTLS(ctx context.Context, cfg *Config) string {
	probe := *cfg
	probe.SSLMode, probe.SSLRootCert, probe.SSLCert, probe.SSLKey = SSLRequired, "", "", ""
	dc, err := driverConfig(&probe)
	if err != nil {
		return ""
	}
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return ""
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var required bool
	if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL.require_secure_transport").Scan(&required); err != nil {
		var me *driver.MySQLError
		if !errors.As(err, &me) || me.Number != 1193 { // 1193: no such variable (an old server)
			return ""
		}
	}
	why := fmt.Sprintf("user %q is created REQUIRE SSL", cfg.User)
	if required {
		why = "the server accepts only TLS connections (require_secure_transport=ON)"
	}
	return fmt.Sprintf("%s and database.ssl.mode=%s sent no TLS, so the server refused the login; "+
		"set database.ssl.mode to verify_identity (with database.sslrootcert), verify_ca or required", why, cfg.SSLMode)
}

// MariaDB and MySQL refuse a plain connection under
// require_secure_transport with these errors.
const (
	erSecureTransportMariaDB = 4151
	erSecureTransportMySQL   = 3159
)

// tlsFailure explains a connection failure caused by TLS: the property to
// change and how. ok is false for other failures.
func tlsFailure(cfg *Config, err error) (key, fix string, ok bool) {
	var he x509.HostnameError
	var hep *x509.HostnameError
	var ua x509.UnknownAuthorityError
	var uap *x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	var me *driver.MySQLError
	msg := err.Error()
	switch {
	case errors.As(err, &he) || errors.As(err, &hep):
		if hep != nil {
			he = *hep
		}
		names := append([]string{}, he.Certificate.DNSNames...)
		for _, ip := range he.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return Hostname, fmt.Sprintf("TLS verification failed: the server's certificate is not valid for the host name %q (it names %s); "+
			"with database.ssl.mode=verify_identity database.hostname must be a name in the certificate: connect by one of those names, "+
			"or have the server's certificate reissued for %q (database.ssl.mode=verify_ca checks the CA but not the name)",
			cfg.Host, strings.Join(names, ", "), cfg.Host), true
	case errors.As(err, &ua) || errors.As(err, &uap) || errors.As(err, &ci) || errors.As(err, &cve) ||
		strings.Contains(msg, "x509: certificate signed by unknown authority"):
		ca := "the system's trusted roots"
		if cfg.SSLRootCert != "" {
			ca = "database.sslrootcert (" + cfg.SSLRootCert + ")"
		}
		return SSLRootCert, fmt.Sprintf("TLS verification failed (database.ssl.mode=%s): the server's certificate is not signed by a certificate authority in %s; "+
			"set database.sslrootcert to the PEM file of the CA that signed the server's certificate (the server's ssl_ca)", cfg.SSLMode, ca), true
	case errors.Is(err, driver.ErrNoTLS) || strings.Contains(msg, "does not support TLS"):
		return SSLMode, fmt.Sprintf("the server does not offer TLS (have_ssl is not YES) and database.ssl.mode=%s requires it; "+
			"start the server with ssl_cert and ssl_key, or (only on a trusted network) set database.ssl.mode=preferred or disabled", cfg.SSLMode), true
	case errors.As(err, &me) && (me.Number == erSecureTransportMariaDB || me.Number == erSecureTransportMySQL) ||
		strings.Contains(msg, "insecure transport are prohibited"):
		return SSLMode, fmt.Sprintf("the server accepts only TLS connections (require_secure_transport=ON) and database.ssl.mode=%s sent none; "+
			"set database.ssl.mode to verify_identity (with database.sslrootcert), verify_ca or required", cfg.SSLMode), true
	case strings.Contains(msg, "remote error: tls:") && cfg.SSLCert != "":
		return SSLCert, fmt.Sprintf("the server refused the TLS handshake with the client certificate in database.sslcert (%s); "+
			"use a certificate for TLS client authentication signed by a CA in the server's ssl_ca", cfg.SSLCert), true
	case cfg.SSLMode != SSLDisabled && (strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:")):
		return SSLMode, fmt.Sprintf("the TLS handshake failed with database.ssl.mode=%s; check database.ssl.mode, database.sslrootcert, database.sslcert and database.sslkey against the server's ssl settings", cfg.SSLMode), true
	}
	return "", "", false
}

// loginHint is added to a refused login: the server refuses a user
// created REQUIRE SSL or REQUIRE X509 with the same "access denied" as a
// wrong password, so the message names the TLS properties that may be
// why.
func loginHint(cfg *Config) string {
	switch {
	case cfg.SSLMode == SSLDisabled:
		return "; if the user is created REQUIRE SSL (or X509), it needs TLS and database.ssl.mode=disabled sends none: set database.ssl.mode to verify_identity, verify_ca or required"
	case cfg.SSLMode == SSLPreferred && cfg.SSLCert == "":
		return "; if the user is created REQUIRE SSL, note that database.ssl.mode=preferred uses TLS only when the server offers it (set required or a verifying mode to insist); " +
			"if REQUIRE X509 (or SUBJECT/ISSUER), it needs a client certificate: set database.sslcert and database.sslkey"
	case cfg.SSLCert == "":
		return "; if the user is created REQUIRE X509 (or SUBJECT/ISSUER), it needs a client certificate: set database.sslcert and database.sslkey"
	default:
		return "; if the user is created REQUIRE X509, SUBJECT or ISSUER, the certificate in database.sslcert must be signed by a CA in the server's ssl_ca and match the user's SUBJECT/ISSUER"
	}
}
