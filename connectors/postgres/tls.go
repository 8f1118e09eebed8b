package postgres

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// checkTLSFiles checks the TLS properties before any connection is made:
// the files exist and hold PEM of the right kind, the certificate and key
// come together and match, and verify-ca has a CA to verify with. Errors
// name the property and the fix, never a file's content.
func checkTLSFiles(c *Config) error {
	var errs config.Errors
	bad := func(key, reason string) { errs = append(errs, &config.Error{Key: key, Reason: reason}) }
	// A pemfile error names the property at fault (the certificate's
	// for a pair that does not match).
	badPEM := func(err error) {
		var pe *pemfile.Error
		if errors.As(err, &pe) {
			bad(pe.Source.Prop, pe.Reason())
		} else {
			bad(SSLMode, err.Error())
		}
	}
	if c.SSLMode == "disable" && (c.SSLRootCert != "" || c.SSLCert != "" || c.SSLKey != "") {
		bad(SSLMode, "database.sslmode is disable but database.sslrootcert, database.sslcert or database.sslkey is set; "+
			"set database.sslmode to verify-full (or require, verify-ca) to use TLS, or remove the TLS file properties")
	}
	if (c.SSLMode == "prefer" || c.SSLMode == "allow") && c.SSLRootCert != "" {
		bad(SSLRootCert, "database.sslrootcert is set but database.sslmode="+c.SSLMode+" never verifies the server's certificate; "+
			"set database.sslmode=verify-full (or verify-ca) to verify it, or remove database.sslrootcert")
	}
	switch c.SSLRootCert {
	case "":
		if c.SSLMode == "verify-ca" {
			bad(SSLRootCert, "database.sslmode=verify-ca needs the certificate authority that signed the server's certificate; "+
				"set database.sslrootcert to its PEM file (or use database.sslmode=verify-full, which verifies against the system's trusted roots when database.sslrootcert is empty)")
		}
	case "system":
	default:
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
		switch {
		case certErr != nil || keyErr != nil:
			// Both files' problems at once.
			for _, err := range []error{certErr, keyErr} {
				if err != nil {
					badPEM(err)
				}
			}
		default:
			if _, err := pemfile.KeyPair(cert, key, "set database.sslcert and database.sslkey to the client certificate and its key"); err != nil {
				badPEM(err)
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// tlsFailure explains a connection failure caused by TLS: the property to
// change and how. ok is false for other failures.
func tlsFailure(cfg *Config, err error) (key, fix string, ok bool) {
	var he x509.HostnameError
	var hep *x509.HostnameError
	var ua x509.UnknownAuthorityError
	var uap *x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	var cve *tls.CertificateVerificationError
	var pe *pgconn.PgError
	msg := err.Error()
	// With allow and prefer a failed TLS attempt is followed by a plain
	// one, whose failure is the one to explain.
	optional := cfg.SSLMode == "allow" || cfg.SSLMode == "prefer"
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
			"with database.sslmode=verify-full database.hostname must be a name in the certificate: connect by one of those names, "+
			"or have the server's certificate reissued for %q (database.sslmode=verify-ca checks the CA but not the name)",
			cfg.Host, strings.Join(names, ", "), cfg.Host), true
	case errors.As(err, &ua) || errors.As(err, &uap) || errors.As(err, &ci) || errors.As(err, &cve):
		ca := "the system's trusted roots"
		if cfg.SSLRootCert != "" && cfg.SSLRootCert != "system" {
			ca = "database.sslrootcert (" + cfg.SSLRootCert + ")"
		}
		return SSLRootCert, fmt.Sprintf("TLS verification failed (database.sslmode=%s): the server's certificate is not signed by a certificate authority in %s; "+
			"set database.sslrootcert to the PEM file of the CA that signed the server's certificate", cfg.SSLMode, ca), true
	case strings.Contains(msg, "server refused TLS connection") && !optional:
		return SSLMode, fmt.Sprintf("the server does not accept TLS (ssl is off on the server) and database.sslmode=%s requires it; "+
			"turn ssl on in postgresql.conf, or (only on a trusted network) set database.sslmode=prefer or disable", cfg.SSLMode), true
	case errors.As(err, &pe) && pe.Code == "28000" && strings.Contains(pe.Message, "no encryption"):
		return SSLMode, fmt.Sprintf("the server accepts user %q only over TLS (pg_hba.conf hostssl) and database.sslmode=%s sent none; "+
			"set database.sslmode to verify-full (with database.sslrootcert), verify-ca or require", cfg.User, cfg.SSLMode), true
	case errors.As(err, &pe) && pe.Code == "28000" && strings.Contains(pe.Message, "certificate authentication failed"):
		return SSLCert, fmt.Sprintf("the server refused the client certificate for user %q; the certificate in database.sslcert must be signed by a CA the server trusts (ssl_ca_file) and its common name (CN) must be database.user (or mapped to it in pg_ident.conf)", cfg.User), true
	case strings.Contains(msg, "remote error: tls:") && cfg.SSLCert != "":
		return SSLCert, fmt.Sprintf("the server refused the TLS handshake with the client certificate in database.sslcert (%s); "+
			"use a certificate for TLS client authentication signed by a CA in the server's ssl_ca_file", cfg.SSLCert), true
	case !optional && (strings.Contains(msg, "tls:") || strings.Contains(msg, "tls error")):
		return SSLMode, fmt.Sprintf("the TLS handshake failed with database.sslmode=%s; check database.sslmode, database.sslrootcert, database.sslcert and database.sslkey against the server's ssl settings", cfg.SSLMode), true
	}
	return "", "", false
}
