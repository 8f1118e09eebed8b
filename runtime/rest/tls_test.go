package rest_test

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/testpki"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// TestHTTPSListener: the https listener serves with the certificate of
// ssl.keystore.location (unprefixed) or of the inline
// listeners.https.ssl.keystore.certificate.chain and .key; a client that
// does not trust the CA, or speaks plain http, gets nothing.
func TestHTTPSListener(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "sluice test CA")
	srv := ca.Server(t, "localhost", "127.0.0.1", "::1")
	cert, key := srv.CertPEM, srv.KeyPEM
	trusting := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}

	for name, props := range map[string]map[string]string{
		"unprefixed file": {config.SSLKeystoreLocation: writeFile(t, dir, "server.pem", append(cert, key...))},
		"prefixed inline": {
			"listeners.https.ssl.keystore.type":              "PEM",
			"listeners.https.ssl.keystore.certificate.chain": string(cert),
			"listeners.https.ssl.keystore.key":               string(key),
			// Ignored: a listeners.https.ssl.* property is set.
			config.SSLKeystoreLocation: "/nonexistent.pem",
		},
	} {
		t.Run(name, func(t *testing.T) {
			props[config.Listeners] = "https://127.0.0.1:0"
			c := startConfigured(t, props)
			if !strings.HasPrefix(c.url, "https://") {
				t.Fatalf("url %s", c.url)
			}
			status, _, body := send(t, trusting, "GET", c.url+"/connectors", "", nil)
			if status != http.StatusOK {
				t.Fatalf("GET over https: %d %s", status, body)
			}
			req, _ := http.NewRequest("GET", c.url+"/connectors", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("a client that does not trust the CA got %s", resp.Status)
			}
			status, _, _ = send(t, nil, "GET", "http://"+c.addr+"/connectors", "", nil)
			if status != http.StatusBadRequest {
				t.Fatalf("plain http to the https listener: %d, want 400", status)
			}
		})
	}
}

// TestHTTPSClientCertificateRequired: with
// ssl.client.authentication=required the handshake fails without a
// certificate signed by the truststore's CA.
func TestHTTPSClientCertificateRequired(t *testing.T) {
	dir := t.TempDir()
	ca, other := testpki.NewCA(t, "sluice test CA"), testpki.NewCA(t, "other CA")
	srv := ca.Server(t, "localhost", "127.0.0.1", "::1")
	cert, key := srv.CertPEM, srv.KeyPEM
	c := startConfigured(t, map[string]string{
		config.Listeners:                              "https://127.0.0.1:0",
		"listeners.https.ssl.keystore.location":       writeFile(t, dir, "server.pem", append(cert, key...)),
		"listeners.https.ssl.truststore.certificates": string(ca.CertPEM),
		"listeners.https.ssl.client.authentication":   "required",
	})
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: clientTLS(ca, certs)}}
	}
	for name, cl := range map[string]*http.Client{"no certificate": client(), "untrusted CA": client(other.Client(t, "x").TLS(t))} {
		req, _ := http.NewRequest("GET", c.url+"/connectors", nil)
		if resp, err := cl.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("%s: got %s, want a failed handshake", name, resp.Status)
		}
	}
	// Without rest.auth.client.cert.roles any trusted certificate is enough.
	if status, _, body := send(t, client(ca.Client(t, "anyone").TLS(t)), "GET", c.url+"/connectors", "", nil); status != http.StatusOK {
		t.Fatalf("trusted client certificate: %d %s", status, body)
	}
}

// TestTLSConfigErrors: what the https listener cannot honour is refused
// with the property's name, never its value.
func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t, "sluice test CA")
	srv := ca.Server(t, "localhost", "127.0.0.1", "::1")
	cert, key := srv.CertPEM, srv.KeyPEM
	pemFile := writeFile(t, dir, "server.pem", append(cert, key...))
	certOnly := writeFile(t, dir, "cert.pem", cert)
	secret := string(key)
	for _, tc := range []struct {
		name  string
		props map[string]string
		want  []string
	}{
		{"no certificate", map[string]string{}, []string{"ssl.keystore.location", "needs a certificate"}},
		{"JKS", map[string]string{config.SSLKeystoreType: "JKS", config.SSLKeystoreLocation: pemFile}, []string{"ssl.keystore.type", "only PEM"}},
		{"key password", map[string]string{config.SSLKeystoreLocation: pemFile, "ssl.key.password": "hunter2"}, []string{"ssl.key.password", "not supported"}},
		{"keystore password", map[string]string{"listeners.https.ssl.keystore.location": pemFile, "listeners.https.ssl.keystore.password": "hunter2"}, []string{"listeners.https.ssl.keystore.password"}},
		{"unknown prefixed", map[string]string{"listeners.https.ssl.keystore.location": pemFile, "listeners.https.ssl.cipher.suites": "X"}, []string{"listeners.https.ssl.cipher.suites", "not supported"}},
		{"no key in file", map[string]string{config.SSLKeystoreLocation: certOnly}, []string{"ssl.keystore.location", "private key"}},
		{"chain without key", map[string]string{config.SSLKeystoreCertificateChain: string(cert)}, []string{"ssl.keystore.key", "together"}},
		{"truncated key", map[string]string{config.SSLKeystoreCertificateChain: string(cert), config.SSLKeystoreKey: secret[:len(secret)/2]}, []string{"ssl.keystore.key: the value is not PEM"}},
		{"mismatched key", map[string]string{config.SSLKeystoreCertificateChain: string(cert), config.SSLKeystoreKey: string(ca.Client(t, "x").KeyPEM)},
			[]string{"ssl.keystore.certificate.chain and ssl.keystore.key: the values are not a matching PEM certificate and private key"}},
		{"missing keystore file", map[string]string{config.SSLKeystoreLocation: dir + "/missing.pem"}, []string{"ssl.keystore.location: cannot read " + dir + "/missing.pem"}},
		{"truststore of keys", map[string]string{config.SSLKeystoreLocation: pemFile, config.SSLClientAuthentication: "required",
			config.SSLTruststoreLocation: writeFile(t, dir, "key.pem", key)}, []string{"ssl.truststore.location: " + dir + "/key.pem holds no PEM certificate", "sign client certificates"}},
		{"required without truststore", map[string]string{config.SSLKeystoreLocation: pemFile, config.SSLClientAuthentication: "required"}, []string{"ssl.client.authentication", "ssl.truststore.location"}},
		{"truststore without client auth", map[string]string{config.SSLKeystoreLocation: pemFile, config.SSLTruststoreLocation: certOnly}, []string{"ssl.truststore.location", "requested or required"}},
		{"cert roles without client auth", map[string]string{config.SSLKeystoreLocation: pemFile, config.RESTAuthCertRoles: "a=admin"}, []string{config.RESTAuthCertRoles, "ssl.client.authentication"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.props[config.Listeners] = "https://127.0.0.1:0"
			cfg, err := config.LoadWorker("", nil, tc.props)
			if err == nil {
				_, err = rest.ListenerFromConfig(cfg, nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
	// listeners.https.* on an http listener would be ignored: refused.
	cfg, _ := config.LoadWorker("", nil, map[string]string{config.Listeners: "http://127.0.0.1:0", "listeners.https.ssl.keystore.location": pemFile})
	if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), "not https") {
		t.Fatalf("listeners.https.* with an http listener: err = %v", err)
	}
	cfg, _ = config.LoadWorker("", nil, map[string]string{config.Listeners: "ftp://127.0.0.1:0"})
	if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), "http or https") {
		t.Fatalf("ftp listener: err = %v", err)
	}
}
