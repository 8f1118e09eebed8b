package testpki_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testpki"
)

// TestServerAndClient: a server certificate is valid for its hosts only,
// a client certificate for client authentication with its CN, and both
// only under their CA.
func TestServerAndClient(t *testing.T) {
	ca, other := testpki.NewCA(t, "ca"), testpki.NewCA(t, "other")
	srv := ca.Server(t, "localhost", "127.0.0.1")
	for _, host := range []string{"localhost", "127.0.0.1"} {
		if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.2"}); err == nil {
		t.Error("the server certificate is valid for 127.0.0.2")
	}
	if _, err := srv.Cert.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: "localhost"}); err == nil {
		t.Error("the server certificate verifies under another CA")
	}
	cli := ca.Client(t, "alice")
	if _, err := cli.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if cli.Cert.Subject.CommonName != "alice" || cli.Cert.SerialNumber.Cmp(srv.Cert.SerialNumber) == 0 {
		t.Errorf("client CN %q, serial %v (server %v)", cli.Cert.Subject.CommonName, cli.Cert.SerialNumber, srv.Cert.SerialNumber)
	}
	if pair := cli.TLS(t); len(pair.Certificate) != 1 {
		t.Errorf("TLS certificate holds %d certificates", len(pair.Certificate))
	}
}

// TestWriteFileMode: the mode is set even over an existing file.
func TestWriteFileMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.pem")
	testpki.WriteFile(t, p, 0o644, []byte("a"))
	testpki.WriteFile(t, p, 0o600, []byte("b"))
	if fi, err := os.Stat(p); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v; want 0600", fi.Mode())
	}
	cert, key := testpki.NewCA(t, "ca").Client(t, "c").WriteFiles(t, filepath.Dir(p), "c")
	for path, mode := range map[string]os.FileMode{cert: 0o644, key: 0o600} {
		if fi, err := os.Stat(path); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v; want %v", path, fi.Mode(), mode)
		}
	}
}
