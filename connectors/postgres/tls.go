package postgres

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/config"
)

// checkTLSFiles checks the TLS properties before any connection is made:
// the files exist and hold PEM of the right kind, the certificate and key
// come together and match, and verify-ca has a CA to verify with. Errors
// name the property and the fix, never a file's content.
func checkTLSFiles(c *Config) error {
	var errs config.Errors
	bad := func(key, reason string) { errs = append(errs, &config.Error{Key: key, Reason: reason}) }
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
		if b, reason := readPEMFile(c.SSLRootCert); reason != "" {
			bad(SSLRootCert, reason)
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			bad(SSLRootCert, fmt.Sprintf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); set database.sslrootcert to the CA certificate in PEM", c.SSLRootCert))
		}
	}
	switch {
	case c.SSLCert != "" && c.SSLKey == "":
		bad(SSLKey, "database.sslcert is set but database.sslkey is not; set database.sslkey to the client certificate's private key (PEM)")
	case c.SSLKey != "" && c.SSLCert == "":
		bad(SSLCert, "database.sslkey is set but database.sslcert is not; set database.sslcert to the client certificate (PEM)")
	case c.SSLCert != "":
		cb, r1 := readPEMFile(c.SSLCert)
		if r1 != "" {
			bad(SSLCert, r1)
		}
		kb, r2 := readPEMFile(c.SSLKey)
		if r2 != "" {
			bad(SSLKey, r2)
		}
		if r1 == "" && r2 == "" {
			if blk, _ := pem.Decode(kb); blk != nil && (strings.Contains(blk.Type, "ENCRYPTED") || blk.Headers["Proc-Type"] != "") {
				bad(SSLKey, fmt.Sprintf("%s is an encrypted private key, which is not supported; decrypt it (openssl pkey -in key.pem -out plain.pem) and keep the file readable only by the worker's user", c.SSLKey))
			} else if _, err := tls.X509KeyPair(cb, kb); err != nil {
				bad(SSLCert, fmt.Sprintf("database.sslcert %s and database.sslkey %s are not a matching PEM certificate and private key (%v); set them to the client certificate and its key", c.SSLCert, c.SSLKey, err))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// readPEMFile reads a TLS file, or says why it cannot (without its content).
func readPEMFile(path string) ([]byte, string) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Sprintf("cannot read %s on the worker (%v); the file must exist on every worker and be readable by its user", path, err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		return nil, fmt.Sprintf("%s is not a PEM file (no -----BEGIN ...----- block); convert it to PEM (openssl x509 -inform der -in file -out file.pem)", path)
	}
	return b, ""
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
