package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLS host names. A server started with TLS listens on both addresses;
// its certificate names only TLSHost (and localhost), so connecting to
// TLSWrongHost with host name verification on must be refused.
const (
	TLSHost      = "127.0.0.1"
	TLSWrongHost = "127.0.0.2"
)

// TLSFiles is a throwaway certificate authority with a server certificate
// (SAN localhost and 127.0.0.1, not 127.0.0.2) and a client certificate
// whose common name is ClientUser, all PEM files in Dir. OtherCA is a
// second authority that signed nothing, for "wrong CA" tests.
type TLSFiles struct {
	Dir string
	// CA is the authority's certificate; OtherCA an unrelated one.
	CA, OtherCA string
	// ServerCert and ServerKey are the server's certificate and key.
	ServerCert, ServerKey string
	// ClientUser is the client certificate's CN (the database user that
	// authenticates with it).
	ClientUser string
	// ClientCert and ClientKey are the client's certificate and key;
	// ClientPEM holds both in one file (Connector/J key store style).
	ClientCert, ClientKey, ClientPEM string
	// StrangerCert and StrangerKey are a client certificate from the same
	// CA for CN "stranger" (a user that is not ClientUser).
	StrangerCert, StrangerKey string
}

// NewTLSFiles makes a CA, a server certificate and a client certificate
// for clientUser in a fresh directory removed when t ends.
func NewTLSFiles(t testing.TB, clientUser string) *TLSFiles {
	t.Helper()
	dir := TempDir(t, "")
	f := &TLSFiles{Dir: dir, ClientUser: clientUser,
		CA: filepath.Join(dir, "ca.crt"), OtherCA: filepath.Join(dir, "other-ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
		ClientPEM:    filepath.Join(dir, "client.pem"),
		StrangerCert: filepath.Join(dir, "stranger.crt"), StrangerKey: filepath.Join(dir, "stranger.key")}
	ca, caKey := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "sluice test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true}, nil, nil)
	writePEM(t, f.CA, 0o644, certPEM(ca))
	other, _ := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "sluice unrelated CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, nil)
	writePEM(t, f.OtherCA, 0o644, certPEM(other))
	srv, srvKey := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP(TLSHost)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	writePEM(t, f.ServerCert, 0o644, certPEM(srv))
	writePEM(t, f.ServerKey, 0o600, keyPEM(t, srvKey))
	cli, cliKey := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: clientUser},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	writePEM(t, f.ClientCert, 0o644, certPEM(cli))
	writePEM(t, f.ClientKey, 0o600, keyPEM(t, cliKey))
	writePEM(t, f.ClientPEM, 0o600, append(certPEM(cli), keyPEM(t, cliKey)...))
	str, strKey := makeCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "stranger"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	writePEM(t, f.StrangerCert, 0o644, certPEM(str))
	writePEM(t, f.StrangerKey, 0o600, keyPEM(t, strKey))
	return f
}

// installServerFiles copies the server certificate, key and CA into dir,
// owned by the OS user owner (when we are root) with the key mode 0600,
// as PostgreSQL requires, and returns their paths.
func (f *TLSFiles) installServerFiles(t testing.TB, dir, owner string) (cert, key, ca string) {
	t.Helper()
	cert, key, ca = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), filepath.Join(dir, "ca.crt")
	for _, c := range []struct {
		from, to string
		mode     os.FileMode
	}{{f.ServerCert, cert, 0o644}, {f.ServerKey, key, 0o600}, {f.CA, ca, 0o644}} {
		b, err := os.ReadFile(c.from)
		if err != nil {
			t.Fatalf("harness: %v", err)
		}
		writePEM(t, c.to, c.mode, b)
		if os.Geteuid() == 0 && owner != "" {
			u, err := user.Lookup(owner)
			if err != nil {
				t.Fatalf("harness: user %s: %v", owner, err)
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(c.to, uid, gid); err != nil {
				t.Fatalf("harness: %v", err)
			}
		}
	}
	return cert, key, ca
}

var serial int64

func makeCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	serial++
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano() + serial)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("harness: creating certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return c, key
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(t testing.TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writePEM(t testing.TB, path string, mode os.FileMode, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("harness: %v", err)
	}
}
