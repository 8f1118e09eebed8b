// Package testpki makes throwaway certificate authorities and the
// certificates they issue, for tests of TLS: server certificates for
// given host names and addresses, client certificates for a common name,
// and PEM files with a given mode. Keys are ECDSA P-256 unless a test
// brings its own. It is for tests only; a failure fails the test.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// serial makes serial numbers unique within a process.
var serial atomic.Int64

// CA is a certificate authority made at test time.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is Cert in PEM.
	CertPEM []byte
}

// NewCA makes a self-signed CA whose common name is name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	c := create(t, tmpl, tmpl, key, key)
	return &CA{Cert: c, Key: key, CertPEM: CertPEM(c)}
}

// Pool is a pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf is a certificate a CA issued, with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// CertPEM is Cert in PEM; KeyPEM is Key in PKCS#8 PEM.
	CertPEM, KeyPEM []byte
}

// Server issues a server certificate whose common name is the first
// host, for the host names and IP addresses in hosts (and no others).
func (ca *CA) Server(t testing.TB, hosts ...string) *Leaf {
	t.Helper()
	tmpl := &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if len(hosts) > 0 {
		tmpl.Subject.CommonName = hosts[0]
	}
	return ca.Issue(t, Hosts(tmpl, hosts...), nil)
}

// Hosts adds hosts to tmpl's subject alternative names: IP addresses
// as such, anything else as a DNS name. It returns tmpl.
func Hosts(tmpl *x509.Certificate, hosts ...string) *x509.Certificate {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// Client issues a client certificate whose common name is cn.
func (ca *CA) Client(t testing.TB, cn string) *Leaf {
	t.Helper()
	return ca.Issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, nil)
}

// Issue issues a certificate from tmpl, whose serial number, validity
// (an hour ago to a day from now) and, when zero, key usage it sets. key
// is the certificate's key; nil makes an ECDSA P-256 one.
func (ca *CA) Issue(t testing.TB, tmpl *x509.Certificate, key crypto.Signer) *Leaf {
	t.Helper()
	if key == nil {
		key = newKey(t)
	}
	if tmpl.KeyUsage == 0 {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	}
	c := create(t, tmpl, ca.Cert, key, ca.Key)
	return &Leaf{Cert: c, Key: key, CertPEM: CertPEM(c), KeyPEM: KeyPEM(t, key)}
}

// TLS is the leaf as a certificate for a tls.Config.
func (l *Leaf) TLS(t testing.TB) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return pair
}

// CertPEM encodes c as a PEM CERTIFICATE block.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes key as a PKCS#8 PEM block.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ECKeyPEM encodes an ECDSA key as an EC PRIVATE KEY (SEC 1) block.
func ECKeyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// RSAKeyPEM encodes an RSA key as an RSA PRIVATE KEY (PKCS#1) block.
func RSAKeyPEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// WriteFile writes b to path with mode (set even when the file existed
// or the umask would narrow it) and returns path.
func WriteFile(t testing.TB, path string, mode os.FileMode, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return path
}

// WriteFiles writes the PEM files of name in dir: name.crt (0644) and
// name.key (0600), and returns their paths.
func (l *Leaf) WriteFiles(t testing.TB, dir, name string) (cert, key string) {
	t.Helper()
	return WriteFile(t, filepath.Join(dir, name+".crt"), 0o644, l.CertPEM),
		WriteFile(t, filepath.Join(dir, name+".key"), 0o600, l.KeyPEM)
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return key
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano() + serial.Add(1))
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("testpki: creating the certificate of %s: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return c
}
