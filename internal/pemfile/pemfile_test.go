package pemfile_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/pemfile"
	"github.com/sluice-cdc/sluice/internal/testpki"
)

const hint = "set my.prop to the thing in PEM"

// TestKeyPairEncodings: PKCS#8, PKCS#1 and EC keys load, from separate
// files, one file or inline values, and the pair is the issued one.
func TestKeyPairEncodings(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	ec := ca.Server(t, "localhost", "127.0.0.1")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaLeaf := ca.Issue(t, &x509.Certificate{DNSNames: []string{"rsa.example"}}, rsaKey)
	for name, c := range map[string]struct {
		leaf   *testpki.Leaf
		keyPEM []byte
	}{
		"PKCS#8 EC":  {ec, ec.KeyPEM},
		"SEC 1 EC":   {ec, testpki.ECKeyPEM(t, ec.Key.(*ecdsa.PrivateKey))},
		"PKCS#1 RSA": {rsaLeaf, testpki.RSAKeyPEM(rsaKey)},
		"PKCS#8 RSA": {rsaLeaf, rsaLeaf.KeyPEM},
	} {
		t.Run(name, func(t *testing.T) {
			certFile := testpki.WriteFile(t, filepath.Join(dir, name+".crt"), 0o644, c.leaf.CertPEM)
			keyFile := testpki.WriteFile(t, filepath.Join(dir, name+".key"), 0o600, c.keyPEM)
			both := testpki.WriteFile(t, filepath.Join(dir, name+".pem"), 0o600, append(append([]byte{}, c.leaf.CertPEM...), c.keyPEM...))
			for how, srcs := range map[string][2]pemfile.Source{
				"two files": {pemfile.File("c", certFile), pemfile.File("k", keyFile)},
				"one file":  {pemfile.File("ks", both), pemfile.File("ks", both)},
				"inline":    {pemfile.Inline("c", string(c.leaf.CertPEM)), pemfile.Inline("k", string(c.keyPEM))},
			} {
				pair, err := pemfile.KeyPair(srcs[0], srcs[1], hint)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				if len(pair.Certificate) != 1 || string(pair.Certificate[0]) != string(c.leaf.Cert.Raw) {
					t.Fatalf("%s: the pair holds %d certificates, not the issued one", how, len(pair.Certificate))
				}
			}
			k, err := pemfile.PrivateKey(pemfile.File("k", keyFile), hint)
			if err != nil {
				t.Fatal(err)
			}
			signer, ok := k.(crypto.Signer)
			if !ok || !c.leaf.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(signer.Public()) {
				t.Fatal("PrivateKey returned another key")
			}
		})
	}
}

// TestCertPool: the pool trusts the CA of the file or value.
func TestCertPool(t *testing.T) {
	ca, other := testpki.NewCA(t, "test CA"), testpki.NewCA(t, "other CA")
	leaf := ca.Server(t, "localhost")
	both := append(append([]byte{}, other.CertPEM...), ca.CertPEM...)
	for name, src := range map[string]pemfile.Source{
		"file":   pemfile.File("p", testpki.WriteFile(t, filepath.Join(t.TempDir(), "ca.pem"), 0o644, both)),
		"inline": pemfile.Inline("p", string(both)),
	} {
		pool, err := pemfile.CertPool(src, hint)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
			t.Fatalf("%s: the leaf does not verify against the pool: %v", name, err)
		}
		certs, err := pemfile.Certificates(src, hint)
		if err != nil || len(certs) != 2 || certs[1].Subject.CommonName != "test CA" {
			t.Fatalf("%s: Certificates = %d, %v", name, len(certs), err)
		}
	}
	if _, err := ca.Server(t, "localhost").Cert.Verify(x509.VerifyOptions{Roots: other.Pool()}); err == nil {
		t.Fatal("a leaf verifies against an unrelated CA: the test proves nothing")
	}
}

// TestErrors: each problem has its kind, names the property, the file
// (or "the value") and the fix, and never shows the content.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	leaf, stranger := ca.Client(t, "u"), ca.Client(t, "stranger")
	secret := string(leaf.KeyPEM[40:80]) // a piece of the key's base64
	file := func(name string, b []byte) string {
		return testpki.WriteFile(t, filepath.Join(dir, name), 0o600, b)
	}
	certFile, keyFile := file("c.crt", leaf.CertPEM), file("c.key", leaf.KeyPEM)
	strangerKey := file("s.key", stranger.KeyPEM)
	der := file("c.der", leaf.Cert.Raw)
	missing := filepath.Join(dir, "missing.pem")
	encPKCS8 := file("enc8.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}))
	encLegacy := file("encl.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte{1, 2, 3}}))
	badCert := file("bad.crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not a certificate")}))
	badKey := file("bad.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key")}))

	pool := func(src pemfile.Source) error { _, err := pemfile.CertPool(src, hint); return err }
	pair := func(c, k pemfile.Source) func() error {
		return func() error { _, err := pemfile.KeyPair(c, k, hint); return err }
	}
	for _, tc := range []struct {
		name string
		call func() error
		kind pemfile.Kind
		want []string
	}{
		{"missing file", func() error { return pool(pemfile.File("p", missing)) }, pemfile.Unreadable,
			[]string{"p: cannot read " + missing + " on the worker (no such file or directory)", "readable by its user"}},
		{"a directory", func() error { return pool(pemfile.File("p", dir)) }, pemfile.Unreadable, []string{"p: cannot read " + dir}},
		{"DER file", func() error { return pool(pemfile.File("p", der)) }, pemfile.NotPEM,
			[]string{"p: " + der + " is not a PEM file (no -----BEGIN ...----- block)", "openssl x509 -inform der"}},
		{"truncated value", func() error { return pool(pemfile.Inline("p", string(leaf.CertPEM[:100]))) }, pemfile.NotPEM,
			[]string{"p: the value is not PEM"}},
		{"key as CA", func() error { return pool(pemfile.File("p", keyFile)) }, pemfile.NoCertificate,
			[]string{"p: " + keyFile + " holds no PEM certificate (no -----BEGIN CERTIFICATE----- block); " + hint}},
		{"key as inline CA", func() error { return pool(pemfile.Inline("p", string(leaf.KeyPEM))) }, pemfile.NoCertificate,
			[]string{"p: the value holds no PEM certificate"}},
		{"bad CA block", func() error { return pool(pemfile.File("p", badCert)) }, pemfile.BadCertificate,
			[]string{"p: " + badCert + " holds a CERTIFICATE block that is not an X.509 certificate", hint}},
		{"no certificate in pair", pair(pemfile.File("c", keyFile), pemfile.File("k", keyFile)), pemfile.NoCertificate,
			[]string{"c: " + keyFile + " holds no PEM certificate"}},
		{"bad leaf", pair(pemfile.File("c", badCert), pemfile.File("k", keyFile)), pemfile.BadCertificate, []string{"c: " + badCert}},
		{"missing key", pair(pemfile.File("c", certFile), pemfile.File("k", missing)), pemfile.Unreadable, []string{"k: cannot read " + missing}},
		{"no key", pair(pemfile.File("ks", certFile), pemfile.File("ks", certFile)), pemfile.NoKey,
			[]string{"ks: " + certFile + " holds no private key", hint}},
		{"encrypted PKCS#8", pair(pemfile.File("c", certFile), pemfile.File("k", encPKCS8)), pemfile.EncryptedKey,
			[]string{"k: " + encPKCS8 + " holds an encrypted private key: encrypted private keys are not supported", "openssl pkey"}},
		{"encrypted legacy", pair(pemfile.File("c", certFile), pemfile.File("k", encLegacy)), pemfile.EncryptedKey, []string{"k: " + encLegacy}},
		{"encrypted inline", pair(pemfile.Inline("c", string(leaf.CertPEM)), pemfile.Inline("k", string(pemfileBytes(t, encPKCS8)))), pemfile.EncryptedKey,
			[]string{"k: the value holds an encrypted private key"}},
		{"bad key", pair(pemfile.File("c", certFile), pemfile.File("k", badKey)), pemfile.BadKey,
			[]string{"k: " + badKey + " holds a private key block that is not a PKCS#8, PKCS#1 or EC key", hint}},
		{"mismatch", pair(pemfile.File("c", certFile), pemfile.File("k", strangerKey)), pemfile.Mismatch,
			[]string{"c and k: " + certFile + " and " + strangerKey + " are not a matching PEM certificate and private key (tls: private key does not match public key); " + hint}},
		{"mismatch in one file", pair(pemfile.File("ks", file("m.pem", append(append([]byte{}, leaf.CertPEM...), stranger.KeyPEM...))),
			pemfile.File("ks", filepath.Join(dir, "m.pem"))), pemfile.Mismatch, []string{"ks: " + filepath.Join(dir, "m.pem") + " does not hold a matching"}},
		{"mismatch inline", pair(pemfile.Inline("c", string(leaf.CertPEM)), pemfile.Inline("k", string(stranger.KeyPEM))), pemfile.Mismatch,
			[]string{"c and k: the values are not a matching"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var pe *pemfile.Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *pemfile.Error", err)
			}
			if pe.Kind != tc.kind {
				t.Errorf("kind %d, want %d: %v", pe.Kind, tc.kind, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if !strings.HasSuffix(err.Error(), pe.Reason()) || strings.HasPrefix(pe.Reason(), pe.Source.Prop+":") {
				t.Errorf("Reason %q is not Error %q without the property", pe.Reason(), err)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error shows the content: %v", err)
			}
		})
	}
	var pe *pemfile.Error
	if err := pool(pemfile.File("p", missing)); !errors.As(err, &pe) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file's error does not unwrap to os.ErrNotExist: %v", err)
	}
}

func pemfileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
