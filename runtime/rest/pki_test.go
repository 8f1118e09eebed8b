package rest_test

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testpki"
)

// writeFile writes content to name in dir (mode 0600) and returns its path.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	return testpki.WriteFile(t, filepath.Join(dir, name), 0o600, content)
}

// clientTLS trusts ca and always presents the first of certs, even one
// the server did not ask for (Go's client otherwise sends none when no
// certificate matches the server's CAs: that would not test the server).
func clientTLS(ca *testpki.CA, certs []tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: ca.Pool()}
	if len(certs) > 0 {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
	}
	return c
}
