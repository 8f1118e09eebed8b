package jdbc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// TLS modes, by libpq's names; MySQL's and MariaDB's map onto them.
const (
	tlsDisable    = "disable"
	tlsAllow      = "allow"
	tlsPrefer     = "prefer"
	tlsRequire    = "require"
	tlsVerifyCA   = "verify-ca"
	tlsVerifyFull = "verify-full"
)

// tlsSettings is the TLS a URL asks for, resolved from the JDBC driver's
// parameters: PostgreSQL JDBC's sslmode, ssl, sslrootcert, sslcert and
// sslkey; MySQL Connector/J's sslMode, useSSL, requireSSL,
// verifyServerCertificate, trustCertificateKeyStoreUrl and
// clientCertificateKeyStoreUrl; MariaDB Connector/J's sslMode, useSsl,
// trustServerCertificate, disableSslHostnameVerification, serverSslCert
// and keyStore. Files are PEM.
type tlsSettings struct {
	mode string
	// modeSrc is how the URL chose the mode, for messages ("sslMode=VERIFY_IDENTITY").
	modeSrc string
	// ca is the CA file and caSrc the parameter that named it.
	ca, caSrc string
	// cert and key are the client certificate and key files (the same
	// file for a MySQL/MariaDB key store); certSrc names the parameters
	// for messages, certParam and keyParam each file's.
	cert, key, certSrc  string
	certParam, keyParam string
}

// param returns a URL parameter by case-insensitive name.
func (u *URL) param(name string) (string, string, bool) {
	for k, v := range u.Params {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", "", false
}

func parseBool(k, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "1", "":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s=%s is not true or false", k, v)
}

// tls resolves the URL's TLS parameters and checks the files they name.
// Errors name the parameter and the fix.
func (u *URL) tls() (*tlsSettings, error) {
	if u.Dialect == DialectPostgres {
		return u.pgTLS()
	}
	return u.mysqlTLS()
}

func (u *URL) pgTLS() (*tlsSettings, error) {
	s := &tlsSettings{mode: tlsPrefer, modeSrc: "sslmode=prefer (the default)"}
	if k, v, ok := u.param("ssl"); ok {
		on, err := parseBool(k, v)
		if err != nil {
			return nil, err
		}
		if on {
			// As PostgreSQL JDBC: ssl=true without sslmode is verify-full.
			s.mode, s.modeSrc = tlsVerifyFull, k+"="+v
		}
	}
	if k, v, ok := u.param("sslmode"); ok {
		switch v {
		case tlsDisable, tlsAllow, tlsPrefer, tlsRequire, tlsVerifyCA, tlsVerifyFull:
			s.mode, s.modeSrc = v, k+"="+v
		default:
			return nil, fmt.Errorf("%s=%s is not one of disable, allow, prefer, require, verify-ca, verify-full", k, v)
		}
	}
	if k, v, ok := u.param("sslrootcert"); ok && v != "" {
		s.ca, s.caSrc = v, k
	}
	kc, cert, okc := u.param("sslcert")
	kk, key, okk := u.param("sslkey")
	switch {
	case okc && cert != "" && (!okk || key == ""):
		return nil, fmt.Errorf("%s is set but sslkey is not; add sslkey=<client key PEM file> to connection.url", kc)
	case okk && key != "" && (!okc || cert == ""):
		return nil, fmt.Errorf("%s is set but sslcert is not; add sslcert=<client certificate PEM file> to connection.url", kk)
	case okc && cert != "":
		s.cert, s.key, s.certSrc = cert, key, kc+" and "+kk
		s.certParam, s.keyParam = kc, kk
	}
	if s.ca == "system" {
		if s.mode != tlsVerifyFull {
			return nil, fmt.Errorf("sslrootcert=system verifies against the system's trusted roots and needs sslmode=verify-full, not %s", s.modeSrc)
		}
		s.ca = ""
	}
	return s, s.check()
}

func (u *URL) mysqlTLS() (*tlsSettings, error) {
	s := &tlsSettings{mode: tlsPrefer, modeSrc: "sslMode=PREFERRED (Connector/J's default)"}
	if u.Dialect == DialectMariaDB {
		s.mode, s.modeSrc = tlsDisable, "sslMode=disable (MariaDB Connector/J's default)"
	}
	legacy := map[string]bool{}
	for _, name := range []string{"useSSL", "requireSSL", "verifyServerCertificate", "trustServerCertificate", "disableSslHostnameVerification"} {
		if k, v, ok := u.param(name); ok {
			b, err := parseBool(k, v)
			if err != nil {
				return nil, err
			}
			legacy[strings.ToLower(name)] = b
		}
	}
	_, useSet := legacy["usessl"]
	switch {
	case u.Dialect == DialectMySQL && (hasKey(legacy, "trustservercertificate") || hasKey(legacy, "disablesslhostnameverification")):
		return nil, errors.New("trustServerCertificate and disableSslHostnameVerification are MariaDB Connector/J parameters; with jdbc:mysql:// use sslMode=REQUIRED, VERIFY_CA or VERIFY_IDENTITY")
	case u.Dialect == DialectMariaDB && (hasKey(legacy, "requiressl") || hasKey(legacy, "verifyservercertificate")):
		return nil, errors.New("requireSSL and verifyServerCertificate are MySQL Connector/J parameters; with jdbc:mariadb:// use sslMode=trust, verify-ca or verify-full")
	case u.Dialect == DialectMySQL:
		// Connector/J 8's mapping of the legacy properties.
		switch {
		case useSet && !legacy["usessl"]:
			s.mode, s.modeSrc = tlsDisable, "useSSL=false"
		case legacy["verifyservercertificate"]:
			s.mode, s.modeSrc = tlsVerifyCA, "verifyServerCertificate=true"
		case legacy["requiressl"]:
			s.mode, s.modeSrc = tlsRequire, "requireSSL=true"
		case useSet:
			s.mode, s.modeSrc = tlsPrefer, "useSSL=true"
		}
	case useSet && legacy["usessl"]:
		// MariaDB Connector/J: useSsl verifies fully unless relaxed.
		switch {
		case legacy["trustservercertificate"]:
			s.mode, s.modeSrc = tlsRequire, "useSsl=true&trustServerCertificate=true"
		case legacy["disablesslhostnameverification"]:
			s.mode, s.modeSrc = tlsVerifyCA, "useSsl=true&disableSslHostnameVerification=true"
		default:
			s.mode, s.modeSrc = tlsVerifyFull, "useSsl=true"
		}
	}
	if k, v, ok := u.param("sslMode"); ok {
		switch strings.ToLower(strings.ReplaceAll(v, "_", "-")) {
		case "disabled", "disable":
			s.mode = tlsDisable
		case "preferred":
			s.mode = tlsPrefer
		case "required", "trust":
			s.mode = tlsRequire
		case "verify-ca":
			s.mode = tlsVerifyCA
		case "verify-identity", "verify-full":
			s.mode = tlsVerifyFull
		default:
			return nil, fmt.Errorf("%s=%s is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY (MySQL Connector/J) or disable, trust, verify-ca, verify-full (MariaDB Connector/J)", k, v)
		}
		s.modeSrc = k + "=" + v
	}
	for _, p := range []struct{ file, typ, pw string }{
		{"trustCertificateKeyStoreUrl", "trustCertificateKeyStoreType", "trustCertificateKeyStorePassword"},
		{"serverSslCert", "", ""},
		{"trustStore", "trustStoreType", "trustStorePassword"},
	} {
		k, v, ok := u.param(p.file)
		if !ok || v == "" {
			continue
		}
		if s.ca != "" {
			return nil, fmt.Errorf("both %s and %s name a CA; keep one", s.caSrc, k)
		}
		if err := pemStore(u, k, p.typ, p.pw); err != nil {
			return nil, err
		}
		s.ca, s.caSrc = fileURL(v), k
	}
	for _, p := range []struct{ file, typ, pw string }{
		{"clientCertificateKeyStoreUrl", "clientCertificateKeyStoreType", "clientCertificateKeyStorePassword"},
		{"keyStore", "keyStoreType", "keyStorePassword"},
	} {
		k, v, ok := u.param(p.file)
		if !ok || v == "" {
			continue
		}
		if s.cert != "" {
			return nil, fmt.Errorf("both %s and %s name a client certificate; keep one", s.certSrc, k)
		}
		if err := pemStore(u, k, p.typ, p.pw); err != nil {
			return nil, err
		}
		s.cert, s.key, s.certSrc = fileURL(v), fileURL(v), k
		s.certParam, s.keyParam = k, k
	}
	return s, s.check()
}

func hasKey(m map[string]bool, k string) bool { _, ok := m[k]; return ok }

// pemStore refuses key store types and passwords other than PEM's.
func pemStore(u *URL, fileParam, typeParam, pwParam string) error {
	if typeParam != "" {
		if k, v, ok := u.param(typeParam); ok && !strings.EqualFold(v, "PEM") {
			return fmt.Errorf("%s=%s is not supported: only PEM files are read; convert the store to PEM (keytool -exportcert -rfc, or openssl pkcs12 -nodes) and set %s=PEM", k, v, k)
		}
	}
	if pwParam != "" {
		if k, _, ok := u.param(pwParam); ok {
			return fmt.Errorf("%s is not supported: %s must be an unencrypted PEM file; remove %s", k, fileParam, k)
		}
	}
	return nil
}

// fileURL turns Connector/J's file: URLs into paths.
func fileURL(v string) string {
	if p, ok := strings.CutPrefix(v, "file:"); ok {
		if pu, err := url.Parse(v); err == nil && pu.Path != "" {
			return pu.Path
		}
		return p
	}
	return v
}

// check checks the files and that they go with the mode.
func (s *tlsSettings) check() error {
	if s.mode == tlsDisable && (s.ca != "" || s.cert != "") {
		return fmt.Errorf("%s turns TLS off but connection.url names TLS files (%s%s); set a verifying mode or remove them", s.modeSrc, s.caSrc, s.certSrc)
	}
	if s.ca != "" && (s.mode == tlsAllow || s.mode == tlsPrefer) {
		return fmt.Errorf("%s names a CA but %s never verifies the server's certificate; use a verifying mode (sslmode=verify-full, sslMode=VERIFY_IDENTITY) or remove %s", s.caSrc, s.modeSrc, s.caSrc)
	}
	if s.ca == "" && s.mode == tlsVerifyCA {
		return fmt.Errorf("%s needs the CA that signed the server's certificate; add it to connection.url (sslrootcert=, trustCertificateKeyStoreUrl= or serverSslCert=, a PEM file)", s.modeSrc)
	}
	if s.ca != "" {
		if _, err := s.caPool(); err != nil {
			return err
		}
	}
	if s.cert != "" {
		if _, err := s.clientCert(); err != nil {
			return err
		}
	}
	return nil
}

// caPool loads the CA file.
func (s *tlsSettings) caPool() (*x509.CertPool, error) {
	return pemfile.CertPool(pemfile.File(s.caSrc, s.ca), "name the CA certificate in PEM")
}

// clientCert loads the client certificate and key.
func (s *tlsSettings) clientCert() (tls.Certificate, error) {
	return pemfile.KeyPair(pemfile.File(s.certParam, s.cert), pemfile.File(s.keyParam, s.key),
		"the file(s) must hold the client certificate and its unencrypted key")
}

// mysqlTLSConfig returns the go-sql-driver TLS configuration: nil for
// no TLS, and whether plain text is allowed when the server has no TLS.
func (s *tlsSettings) mysqlTLSConfig(host string) (*tls.Config, bool, error) {
	if s.mode == tlsDisable {
		return nil, false, nil
	}
	c := &tls.Config{}
	if s.cert != "" {
		cert, err := s.clientCert()
		if err != nil {
			return nil, false, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	var pool *x509.CertPool
	if s.ca != "" {
		var err error
		if pool, err = s.caPool(); err != nil {
			return nil, false, err
		}
	}
	switch s.mode {
	case tlsAllow, tlsPrefer:
		c.InsecureSkipVerify = true
		return c, true, nil
	case tlsRequire:
		c.InsecureSkipVerify = true
	case tlsVerifyCA:
		// Verify the chain but not the host name, as Connector/J's VERIFY_CA.
		c.InsecureSkipVerify = true
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
			var leaf *x509.Certificate
			for i, r := range raw {
				cert, err := x509.ParseCertificate(r)
				if err != nil {
					return err
				}
				if i == 0 {
					leaf = cert
				} else {
					opts.Intermediates.AddCert(cert)
				}
			}
			if leaf == nil {
				return errors.New("the server sent no certificate")
			}
			_, err := leaf.Verify(opts)
			return err
		}
	case tlsVerifyFull:
		c.RootCAs = pool
		c.ServerName = host
	}
	return c, false, nil
}

// explainTLSError explains a connection failure caused by TLS, naming the
// connection.url parameter to change.
func explainTLSError(u *URL, err error) (string, bool) {
	ts, terr := u.tls()
	if terr != nil {
		return "", false
	}
	var he x509.HostnameError
	var hep *x509.HostnameError
	var ua x509.UnknownAuthorityError
	var uap *x509.UnknownAuthorityError
	var cve *tls.CertificateVerificationError
	var pe *pgconn.PgError
	msg := err.Error()
	// With allow and prefer a failed TLS attempt is followed by a plain
	// one, whose failure is the one to explain.
	optional := ts.mode == tlsAllow || ts.mode == tlsPrefer
	caSrc := "the system's trusted roots"
	if ts.ca != "" {
		caSrc = ts.caSrc + " (" + ts.ca + ")"
	}
	switch {
	case errors.As(err, &he) || errors.As(err, &hep):
		if hep != nil {
			he = *hep
		}
		names := append([]string{}, he.Certificate.DNSNames...)
		for _, ip := range he.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		return fmt.Sprintf("TLS verification failed at %s: the server's certificate is not valid for the host name %q (it names %s); "+
			"with %s the host in connection.url must be a name in the certificate: connect by one of those names, or have the certificate reissued for %q",
			u.Addr(), u.Host, strings.Join(names, ", "), ts.modeSrc, u.Host), true
	case errors.As(err, &ua) || errors.As(err, &uap) || errors.As(err, &cve):
		return fmt.Sprintf("TLS verification failed at %s (%s): the server's certificate is not signed by a certificate authority in %s; "+
			"name the PEM file of the CA that signed it in connection.url", u.Addr(), ts.modeSrc, caSrc), true
	case errors.Is(err, mysql.ErrNoTLS) || (strings.Contains(msg, "server refused TLS connection") && !optional):
		return fmt.Sprintf("%s does not accept TLS and connection.url has %s, which requires it; enable TLS on the server, or (only on a trusted network) relax the TLS mode", u.Addr(), ts.modeSrc), true
	case errors.As(err, &pe) && pe.Code == "28000" && strings.Contains(pe.Message, "no encryption"):
		return fmt.Sprintf("%s accepts %q only over TLS (pg_hba.conf hostssl) and connection.url has %s; set sslmode=verify-full with sslrootcert (or verify-ca, require)", u.Addr(), u.User, ts.modeSrc), true
	case errors.As(err, &pe) && pe.Code == "28000" && strings.Contains(pe.Message, "certificate authentication failed"):
		return fmt.Sprintf("%s refused the client certificate for user %q: the certificate in %s must be signed by a CA the server trusts and its common name (CN) must be the user", u.Addr(), u.User, ts.certSrc), true
	case strings.Contains(msg, "remote error: tls:") && ts.cert != "":
		return fmt.Sprintf("%s refused the TLS handshake with the client certificate in %s; use a client certificate signed by a CA the server trusts", u.Addr(), ts.certSrc), true
	case !optional && (strings.Contains(msg, "tls:") || strings.Contains(msg, "tls error") || strings.Contains(msg, "x509:")):
		return fmt.Sprintf("the TLS handshake with %s failed (connection.url has %s): %v; check the TLS parameters of connection.url against the server's TLS settings", u.Addr(), ts.modeSrc, err), true
	}
	return "", false
}
