package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"golang.org/x/crypto/bcrypt"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/testpki"
	"github.com/sluice-cdc/sluice/runtime"
)

// pki writes a throwaway CA, a server certificate for 127.0.0.1 and
// client certificates to dir, as PEM files.
type pki struct {
	dir string
	ca  *testpki.CA
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), ca: testpki.NewCA(t, "cli test CA")}
	p.write(t, "ca.pem", p.ca.CertPEM)
	return p
}

func (p *pki) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	return testpki.WriteFile(t, filepath.Join(p.dir, name), 0o600, b)
}

// issue writes name.crt and name.key and returns their paths: a server
// certificate for 127.0.0.1, or a client certificate whose CN is name.
func (p *pki) issue(t *testing.T, name string, server bool) (string, string) {
	t.Helper()
	leaf := p.ca.Client(t, name)
	if server {
		leaf = p.ca.Server(t, "127.0.0.1")
	}
	return p.write(t, name+".crt", leaf.CertPEM), p.write(t, name+".key", leaf.KeyPEM)
}

const (
	cliAdminPass  = "cli-admin-pass"
	cliViewerPass = "cli-viewer-pass"
	cliToken      = "cli-token-8d9e0f1a2b3c4d5e6f708192a3b4c5d6"
)

// startSecureWorker runs a real worker (on an in-memory Kafka) whose
// REST API is https with basic users, a bearer token and client
// certificate roles, and returns its https URL.
func startSecureWorker(t *testing.T, p *pki) string {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey := p.issue(t, "worker", true)
	hash := func(s string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(s), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	sum := sha256.Sum256([]byte(cliToken))
	cfg, err := config.LoadWorker("", nil, map[string]string{
		config.BootstrapServers:            cluster.ListenAddrs()[0],
		config.DataDir:                     t.TempDir(),
		config.Listeners:                   "https://127.0.0.1:0",
		config.SSLKeystoreCertificateChain: readFile(t, srvCert),
		config.SSLKeystoreKey:              readFile(t, srvKey),
		config.SSLTruststoreLocation:       filepath.Join(p.dir, "ca.pem"),
		config.SSLClientAuthentication:     "requested",
		config.RESTAuthBasicFile: p.write(t, "users", []byte("admin:"+hash(cliAdminPass)+":admin\n"+
			"viewer:"+hash(cliViewerPass)+":read-only\n")),
		config.RESTAuthTokensFile: p.write(t, "tokens", []byte(hex.EncodeToString(sum[:])+":ci:admin\n")),
		config.RESTAuthCertRoles:  "cli-admin=admin",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, runtime.Options{Config: cfg, Plugins: plugins(), Transforms: transformRegistry(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Started: time.Now(), Ready: func(a string) { ready <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		cluster.Close()
	})
	select {
	case a := <-ready:
		return "https://" + a
	case err := <-done:
		t.Fatalf("worker exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker not ready in 30s")
	}
	return ""
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cli runs "sluice connectors args..." with env set and returns its
// output and error.
func cli(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	for _, k := range []string{"SLUICE_URL", "SLUICE_USER", "SLUICE_PASSWORD", "SLUICE_PASSWORD_FILE", "SLUICE_TOKEN", "SLUICE_CACERT", "SLUICE_CERT", "SLUICE_KEY"} {
		t.Setenv(k, env[k])
	}
	var out bytes.Buffer
	err := connectorsCmd(args, &out)
	return out.String(), err
}

// TestConnectorsCLICredentials: the connectors command reaches an https
// worker with basic, bearer and client certificate credentials from
// flags and the environment, and says how to authenticate on a 401.
func TestConnectorsCLICredentials(t *testing.T) {
	p := newPKI(t)
	url := startSecureWorker(t, p)
	ca := filepath.Join(p.dir, "ca.pem")
	certFile, keyFile := p.issue(t, "cli-admin", false)
	connFile := p.write(t, "conn.json", []byte(`{"name":"gen","config":{"connector.class":"datagen","tasks.max":"1","kafka.topic":"cli.gen","max.interval":"1000"}}`))
	passFile := p.write(t, "pass", []byte(cliAdminPass+"\n"))

	// No credentials: 401, and the hint.
	_, err := cli(t, nil, "-url", url, "-cacert", ca, "list")
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "SLUICE_PASSWORD") {
		t.Fatalf("no credentials: err = %v, want a 401 with the flags to use", err)
	}
	// Without -cacert the worker's certificate is not trusted.
	if _, err := cli(t, map[string]string{"SLUICE_TOKEN": cliToken}, "-url", url, "list"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted worker certificate: err = %v", err)
	}
	// Basic, password from the environment, everything else from flags.
	out, err := cli(t, map[string]string{"SLUICE_PASSWORD": cliAdminPass}, "-url", url, "-cacert", ca, "-user", "admin", "create", connFile)
	if err != nil || !strings.Contains(out, `"name": "gen"`) {
		t.Fatalf("create with -user and SLUICE_PASSWORD: %v\n%s", err, out)
	}
	// Basic, password from a file, URL and user from the environment.
	out, err = cli(t, map[string]string{"SLUICE_URL": url, "SLUICE_USER": "admin", "SLUICE_CACERT": ca}, "-password-file", passFile, "list")
	if err != nil || !strings.Contains(out, `"gen"`) {
		t.Fatalf("list with SLUICE_USER and -password-file: %v\n%s", err, out)
	}
	// Read-only user: reads work, writes are refused with the role.
	out, err = cli(t, map[string]string{"SLUICE_PASSWORD": cliViewerPass}, "-url", url, "-cacert", ca, "-user", "viewer", "get", "gen")
	if err != nil || !strings.Contains(out, `"connector.class": "datagen"`) {
		t.Fatalf("read-only get: %v\n%s", err, out)
	}
	_, err = cli(t, map[string]string{"SLUICE_PASSWORD": cliViewerPass}, "-url", url, "-cacert", ca, "-user", "viewer", "pause", "gen")
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read-only pause: err = %v, want 403 naming the role", err)
	}
	// Wrong password.
	if _, err = cli(t, map[string]string{"SLUICE_PASSWORD": "wrong"}, "-url", url, "-cacert", ca, "-user", "admin", "list"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong password: err = %v", err)
	}
	// Bearer token from the environment and from the flag.
	out, err = cli(t, map[string]string{"SLUICE_TOKEN": cliToken}, "-url", url, "-cacert", ca, "pause", "gen")
	if err != nil || !strings.Contains(out, "202") {
		t.Fatalf("pause with SLUICE_TOKEN: %v\n%s", err, out)
	}
	if _, err = cli(t, nil, "-url", url, "-cacert", ca, "-token", "not-the-token", "list"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: err = %v", err)
	}
	// Client certificate.
	out, err = cli(t, nil, "-url", url, "-cacert", ca, "-cert", certFile, "-key", keyFile, "resume", "gen")
	if err != nil || !strings.Contains(out, "202") {
		t.Fatalf("resume with -cert/-key: %v\n%s", err, out)
	}
	out, err = cli(t, map[string]string{"SLUICE_CERT": certFile, "SLUICE_KEY": keyFile, "SLUICE_CACERT": ca}, "-url", url, "delete", "gen")
	if err != nil || !strings.Contains(out, "204") {
		t.Fatalf("delete with SLUICE_CERT/SLUICE_KEY: %v\n%s", err, out)
	}
}

// TestConnectorsCLIFlagErrors: inconsistent credentials are refused
// before any request.
func TestConnectorsCLIFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"-user", "a", "list"}, "SLUICE_PASSWORD"},
		{map[string]string{"SLUICE_PASSWORD": "x"}, []string{"-user", "a", "-token", "t", "list"}, "one way"},
		{nil, []string{"-url", "https://127.0.0.1:1", "-cert", "c.pem", "list"}, "-cert and -key"},
		{nil, []string{"-url", "http://127.0.0.1:1", "-cacert", "/dev/null", "list"}, "no PEM certificate"},
		{nil, []string{"-url", "127.0.0.1:8083", "list"}, "expected http://host:port or https://host:port"},
		{nil, []string{"-password-file", "/dev/null", "list"}, "without -user"},
	} {
		if _, err := cli(t, tc.env, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestWorkerRefusesCrossSiteWrites: the real worker, even for an admin,
// answers a text/plain create with 415 and creates nothing, and refuses
// a foreign Host with 421.
func TestWorkerRefusesCrossSiteWrites(t *testing.T) {
	p := newPKI(t)
	url := startSecureWorker(t, p)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(readFile(t, filepath.Join(p.dir, "ca.pem"))))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	send := func(method, path, ct, host, body string) (int, string) {
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("admin", cliAdminPass)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	create := `{"name":"csrf","config":{"connector.class":"datagen","tasks.max":"1","kafka.topic":"csrf"}}`
	if status, body := send("POST", "/connectors", "text/plain", "", create); status != http.StatusUnsupportedMediaType ||
		!strings.Contains(body, `"error_code":415`) {
		t.Fatalf("text/plain create: %d %s, want 415 in Connect's shape", status, body)
	}
	if status, body := send("POST", "/connectors", "application/json", "evil.example", create); status != http.StatusMisdirectedRequest {
		t.Fatalf("create with a foreign Host: %d %s, want 421", status, body)
	}
	if status, body := send("GET", "/connectors", "", "", ""); status != 200 || strings.Contains(body, "csrf") {
		t.Fatalf("after refused creates: GET /connectors %d %s, want no connector csrf", status, body)
	}
}
