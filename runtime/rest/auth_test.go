package rest_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/testpki"
	"github.com/sluice-cdc/sluice/runtime/rest"
)

// secured is a worker REST API over https with every kind of
// authentication configured: basic users, bearer tokens and client
// certificate roles, each with an admin and a read-only principal.
type secured struct {
	*configured
	ca, otherCA *testpki.CA
}

const (
	adminPassword  = "admin-pass-7731"
	viewerPassword = "viewer-pass-1197"
	adminToken     = "tok-admin-5f0c1c2e9b7a4d36a4e1f0b2c3d4e5f6"
	viewerToken    = "tok-viewer-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

func bcryptHash(t *testing.T, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func startSecured(t *testing.T) *secured {
	t.Helper()
	dir := t.TempDir()
	ca, other := testpki.NewCA(t, "sluice test CA"), testpki.NewCA(t, "other CA")
	srv := ca.Server(t, "localhost", "127.0.0.1", "::1")
	cert, key := srv.CertPEM, srv.KeyPEM
	// alice's hash has htpasswd's $2y$ prefix.
	users := "# user:bcrypt:role\n\nalice:" + strings.Replace(bcryptHash(t, adminPassword), "$2a$", "$2y$", 1) + ":admin\n" +
		"victor:" + bcryptHash(t, viewerPassword) + ":read-only\n"
	tokens := sha256Hex(adminToken) + ":deploy-bot:admin\n" + sha256Hex(viewerToken) + ":dashboard:read-only\n"
	c := startConfigured(t, map[string]string{
		config.Listeners:                            "https://127.0.0.1:0",
		"listeners.https.ssl.keystore.location":     writeFile(t, dir, "server.pem", append(cert, key...)),
		"listeners.https.ssl.truststore.location":   writeFile(t, dir, "ca.pem", ca.CertPEM),
		"listeners.https.ssl.client.authentication": "requested",
		config.RESTAuthBasicFile:                    writeFile(t, dir, "users", []byte(users)),
		config.RESTAuthTokensFile:                   writeFile(t, dir, "tokens", []byte(tokens)),
		config.RESTAuthCertRoles:                    "ops-admin=admin,ops-viewer=read-only",
	})
	return &secured{configured: c, ca: ca, otherCA: other}
}

func (s *secured) client(certs ...tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: clientTLS(s.ca, certs)}}
}

func basicHeader(user, pass string) map[string]string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return map[string]string{"Authorization": req.Header.Get("Authorization")}
}

// TestAuthMatrix: for basic, bearer and client certificate
// authentication: no credentials and wrong credentials get 401 with
// WWW-Authenticate, a read-only principal may read but its writes get
// 403 and reach nothing, an admin may write.
func TestAuthMatrix(t *testing.T) {
	s := startSecured(t)
	plain := s.client()
	type principal struct {
		client  *http.Client
		headers map[string]string
	}
	kinds := []struct {
		name          string
		none, wrong   principal
		viewer, admin principal
	}{
		{name: "basic",
			none:   principal{plain, nil},
			wrong:  principal{plain, basicHeader("alice", "not-her-password")},
			viewer: principal{plain, basicHeader("victor", viewerPassword)},
			admin:  principal{plain, basicHeader("alice", adminPassword)}},
		{name: "bearer",
			none:   principal{plain, map[string]string{"Authorization": "Bearer "}},
			wrong:  principal{plain, map[string]string{"Authorization": "Bearer tok-guessed"}},
			viewer: principal{plain, map[string]string{"Authorization": "Bearer " + viewerToken}},
			admin:  principal{plain, map[string]string{"Authorization": "Bearer " + adminToken}}},
		{name: "client certificate",
			none:   principal{plain, nil},
			wrong:  principal{s.client(s.ca.Client(t, "stranger").TLS(t)), nil},
			viewer: principal{s.client(s.ca.Client(t, "ops-viewer").TLS(t)), nil},
			admin:  principal{s.client(s.ca.Client(t, "ops-admin").TLS(t)), nil}},
	}
	with := func(h map[string]string, extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	jsonCT := map[string]string{"Content-Type": "application/json"}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for what, p := range map[string]principal{"no credentials": k.none, "wrong credentials": k.wrong} {
				status, hdr, body := send(t, p.client, "GET", s.url+"/connectors", "", p.headers)
				if status != http.StatusUnauthorized {
					t.Fatalf("%s: GET %d %s, want 401", what, status, body)
				}
				connectError(t, status, body)
				if ch := hdr.Values("WWW-Authenticate"); !slices.Contains(ch, `Basic realm="sluice", charset="UTF-8"`) || !slices.Contains(ch, `Bearer realm="sluice"`) {
					t.Errorf("%s: WWW-Authenticate = %q", what, ch)
				}
				status, _, body = send(t, p.client, "POST", s.url+"/connectors", createBody, with(p.headers, jsonCT))
				if status != http.StatusUnauthorized {
					t.Fatalf("%s: POST %d %s, want 401", what, status, body)
				}
			}
			before := len(s.fake.recorded())
			status, _, body := send(t, k.viewer.client, "GET", s.url+"/connectors", "", k.viewer.headers)
			if status != http.StatusOK {
				t.Fatalf("read-only GET: %d %s, want 200", status, body)
			}
			for _, w := range []struct{ method, path, body string }{
				{"POST", "/connectors", createBody},
				{"PUT", "/connectors/inventory-source/pause", ""},
				{"DELETE", "/connectors/inventory-source", ""},
				{"PUT", "/connector-plugins/datagen/config/validate", `{"connector.class":"datagen"}`},
			} {
				status, _, body = send(t, k.viewer.client, w.method, s.url+w.path, w.body, with(k.viewer.headers, jsonCT))
				if status != http.StatusForbidden {
					t.Fatalf("read-only %s %s: %d %s, want 403", w.method, w.path, status, body)
				}
				if msg := connectError(t, status, body); !strings.Contains(msg, "read-only") || !strings.Contains(msg, "admin") {
					t.Errorf("403 message %q does not say which role is needed", msg)
				}
			}
			if calls := s.fake.recorded()[before:]; len(calls) != 1 || calls[0].Method != "Connectors" {
				t.Fatalf("read-only principal reached the herder with %v, want only [Connectors]", calls)
			}
			status, _, body = send(t, k.admin.client, "POST", s.url+"/connectors", createBody, with(k.admin.headers, jsonCT))
			if status != http.StatusCreated {
				t.Fatalf("admin POST: %d %s, want 201", status, body)
			}
			status, _, body = send(t, k.admin.client, "DELETE", s.url+"/connectors/inventory-source", "", k.admin.headers)
			if status != http.StatusNoContent {
				t.Fatalf("admin DELETE: %d %s, want 204", status, body)
			}
		})
	}

	// A certificate from a CA the worker does not trust fails the
	// handshake (requested still verifies what is sent).
	req, _ := http.NewRequest("GET", s.url+"/connectors", nil)
	if resp, err := s.client(s.otherCA.Client(t, "ops-admin").TLS(t)).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a client certificate from an untrusted CA was accepted: %s", resp.Status)
	}
	// Health probes need no credentials.
	if status, _, body := send(t, plain, "GET", s.url+"/sluice/health", "", nil); status != http.StatusOK {
		t.Fatalf("GET /sluice/health without credentials: %d %s", status, body)
	}
	// Authenticated, a foreign Host is still refused.
	if status, _, body := send(t, plain, "GET", s.url+"/connectors", "", with(basicHeader("alice", adminPassword), map[string]string{"Host": "evil.example"})); status != http.StatusMisdirectedRequest {
		t.Fatalf("admin with a foreign Host: %d %s, want 421", status, body)
	}
	// The unknown user and the wrong password answer alike.
	_, _, b1 := send(t, plain, "GET", s.url+"/connectors", "", basicHeader("mallory", "x"))
	_, _, b2 := send(t, plain, "GET", s.url+"/connectors", "", basicHeader("alice", "x"))
	if string(b1) != string(b2) {
		t.Errorf("unknown user %s and wrong password %s answer differently", b1, b2)
	}
	if logs := s.logs.String(); strings.Contains(logs, adminPassword) || strings.Contains(logs, viewerToken) || strings.Contains(logs, "no authentication") {
		t.Errorf("log holds a credential or a wrong warning:\n%s", logs)
	}
}

// TestAuthFileErrors: a broken credentials file stops the worker with
// an error naming the property, the file and the line, never the line's
// content.
func TestAuthFileErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, prop, content, want string
	}{
		{"plain password", config.RESTAuthBasicFile, "alice:hunter2-secret:admin\n", "not a bcrypt hash"},
		{"bad role", config.RESTAuthBasicFile, "alice:" + bcryptHash(t, "x") + ":root\n", "must be admin or read-only"},
		{"two fields", config.RESTAuthBasicFile, "alice:hunter2-secret\n", "expected NAME:HASH:ROLE"},
		{"token in clear", config.RESTAuthTokensFile, "hunter2-secret:bot:admin\n", "SHA-256"},
		{"duplicate user", config.RESTAuthBasicFile, "a:" + bcryptHash(t, "x") + ":admin\na:" + bcryptHash(t, "y") + ":admin\n", "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.LoadWorker("", nil, map[string]string{config.Listeners: "http://127.0.0.1:0",
				tc.prop: writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_"), []byte(tc.content))})
			if err != nil {
				t.Fatal(err)
			}
			_, err = rest.ListenerFromConfig(cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.prop) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line") {
				t.Fatalf("err = %v, want one naming %s, the line and %q", err, tc.prop, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the file's content: %v", err)
			}
		})
	}
	cfg, _ := config.LoadWorker("", nil, map[string]string{config.RESTAuthBasicFile: dir + "/missing"})
	if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), config.RESTAuthBasicFile) {
		t.Fatalf("missing file: err = %v", err)
	}
	cfg, _ = config.LoadWorker("", nil, map[string]string{config.RESTAuthCertRoles: "ops=admin"})
	if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("client certificate roles on an http listener: err = %v, want one asking for https", err)
	}
	for _, k := range []string{"rest.extension.classes", "access.control.allow.origin"} {
		cfg, _ = config.LoadWorker("", nil, map[string]string{k: "x"})
		if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), k) {
			t.Fatalf("Kafka Connect's %s, which Sluice does not honour: err = %v, want a refusal naming it", k, err)
		}
	}
	cfg, _ = config.LoadWorker("", nil, map[string]string{config.RESTAuthCertRoles: "ops=superuser"})
	if _, err := rest.ListenerFromConfig(cfg, nil); err == nil || !strings.Contains(err.Error(), config.RESTAuthCertRoles) {
		t.Fatalf("bad role in %s: err = %v", config.RESTAuthCertRoles, err)
	}
}
