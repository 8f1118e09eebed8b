package runtime

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/connectors/jdbc"
	"github.com/sluice-cdc/sluice/connectors/postgres"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/configstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests reproduce issue 12's holes 1, 3 and 4 against the real
// herder and REST server: values read through config providers, stored
// secrets and credentials inside URLs must never come back out.

// newCluster starts a kfake broker for one test.
func newCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func ctlRegistry(extra ...connectors.Plugin) *connectors.Registry {
	return connectors.NewRegistry(append([]connectors.Plugin{{Name: "ctl", Class: "test.CtlConnector", Type: connectors.SourceType,
		New: func() connectors.Connector { return &ctlConnector{} }}}, extra...)...)
}

// assertNoLeak fails when b holds any of secrets.
func assertNoLeak(t *testing.T, where string, b []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("%s shows %q: %s", where, s, b)
		}
	}
}

// Hole 1: with no provider configured, references stay literal; with
// providers, nothing read ever appears in a validation, a 400 or a trace.
func TestProviderValuesNeverShown(t *testing.T) {
	resetCtlProbes()
	addr := newCluster(t)

	// No provider configured: /etc/passwd is not read.
	w, stop := runStateWorker(t, addr, nil, ctlRegistry())
	_, b := w.call(t, "PUT", "/connector-plugins/ctl/config/validate",
		map[string]string{propClass: "ctl", propTasksMax: "${file:/etc/passwd:root}", ctlTasks: "${env:HOME}"})
	assertNoLeak(t, "validate without providers", b, "root:", "/bin/", os.Getenv("HOME")+`"`)
	if !strings.Contains(string(b), "${file:/etc/passwd:root}") {
		t.Errorf("validate does not quote the reference: %s", b)
	}
	stop()

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "w.properties"), []byte("root = leaked-file-line\n"), 0o600)
	t.Setenv("SLUICE_SECRETS_TEST_HOME", "/home/leaked-env-value")
	t.Setenv("SLUICE_SECRETS_TEST_PW", "swordfish-start")
	w, _ = runStateWorker(t, addr, map[string]string{config.ConfigProviders: "file,env",
		"config.providers.file.class": "FileConfigProvider", "config.providers.file.param.allowed.paths": dir,
		"config.providers.env.class": "env", "config.providers.env.param.allowlist.pattern": "SLUICE_SECRETS_TEST_.*"}, ctlRegistry())

	// Outside allowed.paths: refused, naming the property and the fix.
	code, b := w.call(t, "PUT", "/connector-plugins/ctl/config/validate",
		map[string]string{propClass: "ctl", propTasksMax: "${file:/etc/passwd:root}"})
	if code != http.StatusOK || !strings.Contains(string(b), "config.providers.file.param.allowed.paths") {
		t.Errorf("validate outside allowed.paths: %d %s", code, b)
	}
	assertNoLeak(t, "validate outside allowed.paths", b, "root:", "/bin/")
	_, b = w.call(t, "PUT", "/connector-plugins/ctl/config/validate",
		map[string]string{propClass: "ctl", propTasksMax: "${file:/proc/self/environ:PATH}"})
	assertNoLeak(t, "validate /proc/self/environ", b, os.Getenv("PATH"))
	code, b = w.call(t, "POST", "/connectors", ctlConfig("passwd", ctlPassword, "${file:/etc/passwd:root}"))
	if code != http.StatusBadRequest || !strings.Contains(string(b), ctlPassword) ||
		!strings.Contains(string(b), "config.providers.file.param.allowed.paths") {
		t.Errorf("POST with a path outside allowed.paths: %d %s", code, b)
	}
	assertNoLeak(t, "POST outside allowed.paths", b, "root:", "/bin/")

	// Inside: the value is checked but the error quotes the reference.
	ref := "${file:" + filepath.Join(dir, "w.properties") + ":root}"
	_, b = w.call(t, "PUT", "/connector-plugins/ctl/config/validate", map[string]string{propClass: "ctl", propTasksMax: ref})
	assertNoLeak(t, "validate of a resolved value", b, "leaked-file-line")
	if !strings.Contains(string(b), "Invalid value "+ref+" for configuration tasks.max") {
		t.Errorf("validate does not quote the reference: %s", b)
	}
	// POST with an env reference in an int property: a 400 that quotes it.
	code, b = w.call(t, "POST", "/connectors", ctlConfig("envint", propTasksMax, "${env:SLUICE_SECRETS_TEST_HOME}"))
	if code != http.StatusBadRequest || !strings.Contains(string(b), "${env:SLUICE_SECRETS_TEST_HOME}") {
		t.Errorf("POST with an env reference in tasks.max: %d %s", code, b)
	}
	assertNoLeak(t, "POST 400", b, "leaked-env-value")
	// A variable outside allowlist.pattern is refused.
	code, b = w.call(t, "POST", "/connectors", ctlConfig("home", ctlPassword, "${env:HOME}"))
	if code != http.StatusBadRequest || !strings.Contains(string(b), "allowlist.pattern") {
		t.Errorf("POST with ${env:HOME}: %d %s", code, b)
	}
	assertNoLeak(t, "POST ${env:HOME}", b, os.Getenv("HOME")+`"`, os.Getenv("HOME")+" ")

	// A connector failing with the resolved secret in its error: the
	// status trace shows the reference.
	p := ctlProbeFor("tracer")
	p.mu.Lock()
	p.connFail = errors.New("password swordfish-start rejected by jdbc:postgresql://bob:inline-pw@db/x")
	p.mu.Unlock()
	w.must(t, "POST", "/connectors", ctlConfig("tracer", ctlPassword, "${env:SLUICE_SECRETS_TEST_PW}"), http.StatusCreated, nil)
	st := w.untilStates(t, "tracer", "FAILED[]")
	if !strings.Contains(st.Connector.Trace, "${env:SLUICE_SECRETS_TEST_PW}") {
		t.Errorf("trace does not show the reference: %q", st.Connector.Trace)
	}
	_, b = w.call(t, "GET", "/connectors/tracer/status", nil)
	assertNoLeak(t, "status trace", b, "swordfish-start", "inline-pw")
}

// urlProbe records the props the last urlctl connector started with.
var urlProbe struct {
	sync.Mutex
	props map[string]string
	fail  error
}

const urlKey = "ctl.url"

// urlConnector is a source plugin whose config holds a URL and whose
// tasks get every property.
type urlConnector struct{ props map[string]string }

func (*urlConnector) Config() *config.Def {
	return config.NewDef(config.Key{Name: urlKey, Type: config.String, Default: "", ConnectionIdentity: true, Doc: "A URL.",
		Validator: func(_ string, v any) error {
			if s, _ := v.(string); strings.Contains(s, "bad") {
				return fmt.Errorf("%s is not a valid URL", s)
			}
			return nil
		}})
}

func (c *urlConnector) Start(_ context.Context, _ connectors.ConnectorContext, props map[string]string) error {
	c.props = props
	urlProbe.Lock()
	defer urlProbe.Unlock()
	urlProbe.props = maps.Clone(props)
	return urlProbe.fail
}
func (c *urlConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}
func (*urlConnector) Stop(context.Context) error     { return nil }
func (*urlConnector) NewTask() connectors.SourceTask { return &idleTask{} }
func urlPlugin() connectors.Plugin {
	return connectors.Plugin{Name: "urlctl", Class: "test.UrlConnector", Type: connectors.SourceType, New: func() connectors.Connector { return &urlConnector{} }}
}
func (*idleTask) Start(context.Context, connectors.SourceTaskContext, map[string]string) error {
	return nil
}
func (*idleTask) Stop(context.Context) error { return nil }
func (*idleTask) Poll(ctx context.Context) ([]*connectors.Record, error) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
	return nil, nil
}

type idleTask struct{}

// Hole 4 (display): credentials inside URLs are hidden in every answer,
// and sending the redacted URL back keeps the stored one.
func TestURLCredentialsRedacted(t *testing.T) {
	addr := newCluster(t)
	w, _ := runStateWorker(t, addr, nil, ctlRegistry(urlPlugin()))
	const stored = "jdbc:postgresql://alice:url-secret@db.example:5432/app?sslmode=require&password=param-secret"
	const shown = "jdbc:postgresql://alice:[hidden]@db.example:5432/app?sslmode=require&password=[hidden]"
	secrets := []string{"url-secret", "param-secret"}
	var created api.ConnectorInfo
	w.must(t, "POST", "/connectors", map[string]any{"name": "u", "config": map[string]string{propClass: "urlctl", urlKey: stored}}, http.StatusCreated, &created)
	if created.Config[urlKey] != shown {
		t.Errorf("POST answer shows %q, want %q", created.Config[urlKey], shown)
	}
	w.untilStates(t, "u", "RUNNING[RUNNING]")
	for _, path := range []string{"/connectors/u/config", "/connectors/u", "/connectors/u/tasks", "/connectors?expand=info&expand=status"} {
		_, b := w.call(t, "GET", path, nil)
		assertNoLeak(t, "GET "+path, b, secrets...)
		if !strings.Contains(string(b), "alice:[hidden]@db.example") {
			t.Errorf("GET %s does not show the redacted URL: %s", path, b)
		}
	}
	_, b := w.call(t, "PUT", "/connector-plugins/urlctl/config/validate", map[string]string{propClass: "urlctl", urlKey: stored})
	assertNoLeak(t, "validate", b, secrets...)
	// An invalid URL's error does not echo its credentials.
	code, b := w.call(t, "POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{propClass: "urlctl",
		urlKey: "jdbc:bad://bob:bad-secret@h/db?password=bad-param"}})
	if code != http.StatusBadRequest {
		t.Errorf("invalid URL: %d %s", code, b)
	}
	assertNoLeak(t, "invalid URL 400", b, "bad-secret", "bad-param")

	// Send the redacted config back with another change: the stored URL
	// is kept and the connector restarts with it.
	var cfg map[string]string
	w.must(t, "GET", "/connectors/u/config", nil, http.StatusOK, &cfg)
	cfg["other"] = "x"
	w.must(t, "PUT", "/connectors/u/config", cfg, http.StatusOK, nil)
	until(t, "restart with the stored URL", func() (bool, string) {
		urlProbe.Lock()
		defer urlProbe.Unlock()
		return urlProbe.props["other"] == "x" && urlProbe.props[urlKey] == stored, fmt.Sprint(urlProbe.props)
	})
	// A redacted URL with another host cannot reuse the credentials.
	cfg[urlKey] = strings.Replace(shown, "db.example", "evil.example", 1)
	code, b = w.call(t, "PUT", "/connectors/u/config", cfg)
	if code != http.StatusBadRequest || !strings.Contains(string(b), urlKey) {
		t.Errorf("PUT of a redacted URL with a new host: %d %s", code, b)
	}
	// A failure trace that holds the URL is redacted.
	urlProbe.Lock()
	urlProbe.fail = errors.New("cannot connect to " + stored)
	urlProbe.Unlock()
	t.Cleanup(func() { urlProbe.Lock(); urlProbe.fail = nil; urlProbe.Unlock() })
	w.must(t, "POST", "/connectors/u/restart", nil, http.StatusNoContent, nil)
	w.untilStates(t, "u", "FAILED[RUNNING]")
	_, b = w.call(t, "GET", "/connectors/u/status", nil)
	assertNoLeak(t, "status trace", b, secrets...)
}

// fakePG is a TCP server speaking just enough of PostgreSQL's protocol to
// ask for a cleartext password and record it. Every connection and every
// byte it receives is counted.
type fakePG struct {
	ln net.Listener
	mu struct {
		sync.Mutex
		conns     int
		bytes     []byte
		passwords []string
	}
	wg sync.WaitGroup
}

func newFakePG(t *testing.T) *fakePG {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePG{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.mu.conns++
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fakePG) addr() string { return f.ln.Addr().String() }

type recorder struct {
	r io.Reader
	f *fakePG
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.f.mu.Lock()
	r.f.mu.bytes = append(r.f.mu.bytes, p[:n]...)
	r.f.mu.Unlock()
	return n, err
}

func (f *fakePG) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(recorder{c, f})
	readStartup := func() (uint32, error) {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if _, err := io.CopyN(io.Discard, r, int64(n)-8); err != nil {
			return 0, err
		}
		return binary.BigEndian.Uint32(hdr[4:]), nil
	}
	code, err := readStartup()
	if err != nil {
		return
	}
	if code == 80877103 { // SSLRequest: no TLS here
		c.Write([]byte("N"))
		if _, err := readStartup(); err != nil {
			return
		}
	}
	c.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 3}) // AuthenticationCleartextPassword
	typ, err := r.ReadByte()
	if err != nil || typ != 'p' {
		return
	}
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return
	}
	body := make([]byte, binary.BigEndian.Uint32(l[:])-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return
	}
	f.mu.Lock()
	f.mu.passwords = append(f.mu.passwords, strings.TrimRight(string(body), "\x00"))
	f.mu.Unlock()
	msg := "SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00"
	e := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(e[1:], uint32(4+len(msg)))
	c.Write(append(e, msg...))
}

func (f *fakePG) seen() (conns int, bytes []byte, passwords []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.conns, append([]byte(nil), f.mu.bytes...), append([]string(nil), f.mu.passwords...)
}

func (f *fakePG) reset() {
	f.mu.Lock()
	f.mu.conns, f.mu.bytes, f.mu.passwords = 0, nil, nil
	f.mu.Unlock()
}

// putRaw writes records to the configs topic directly, as a worker would
// have stored them.
func putRaw(t *testing.T, addr, topic string, kvs ...[2]string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, kv := range kvs {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(kv[0]), Value: []byte(kv[1])}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// Hole 3: a stored password is reused for "[hidden]" only while the
// connection's identity is unchanged; it never reaches a new host, even
// when the write then fails.
func TestHiddenSecretNeverSentToNewHost(t *testing.T) {
	addr := newCluster(t)
	home, evil := newFakePG(t), newFakePG(t)
	w, _ := runStateWorker(t, addr, nil, ctlRegistry(jdbc.Plugin()))
	homeURL := "jdbc:postgresql://" + home.addr() + "/app?sslmode=disable"
	evilURL := "jdbc:postgresql://" + evil.addr() + "/app?sslmode=disable"
	props := func(m map[string]string) string {
		b, _ := json.Marshal(map[string]any{"properties": m})
		return string(b)
	}
	// Two stored connectors, STOPPED so that only validation connects:
	// one with connection.password, one with the password in its URL.
	stopped := `{"state":"PAUSED","state.v2":"STOPPED"}`
	putRaw(t, addr, "sluice-configs",
		[2]string{"target-state-pw", stopped},
		[2]string{"connector-pw", props(map[string]string{propClass: "jdbc", propName: "pw", "topics": "t",
			"connection.url": homeURL, "connection.username": "alice", "connection.password": "stored-pw-123"})},
		[2]string{"target-state-inurl", stopped},
		[2]string{"connector-inurl", props(map[string]string{propClass: "jdbc", propName: "inurl", "topics": "t",
			"connection.url": "jdbc:postgresql://bob:url-pw-456@" + home.addr() + "/app?sslmode=disable"})})
	var cfg map[string]string
	until(t, "the stored connectors", func() (bool, string) {
		code, b := w.call(t, "GET", "/connectors/inurl/config", nil)
		if code == http.StatusOK {
			json.Unmarshal(b, &cfg)
		}
		return code == http.StatusOK, string(b)
	})
	var pwCfg map[string]string
	w.must(t, "GET", "/connectors/pw/config", nil, http.StatusOK, &pwCfg)
	if pwCfg["connection.password"] != hidden || strings.Contains(cfg["connection.url"], "url-pw-456") {
		t.Fatalf("stored configs are shown: %v %v", pwCfg, cfg)
	}

	refused := func(what, method, path string, body any, names ...string) {
		t.Helper()
		code, b := w.call(t, method, path, body)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400: %s", what, code, b)
		}
		for _, n := range names {
			if !strings.Contains(string(b), n) {
				t.Errorf("%s: the 400 does not name %s: %s", what, n, b)
			}
		}
		assertNoLeak(t, what, b, "stored-pw-123", "url-pw-456")
	}
	moved := maps.Clone(pwCfg)
	moved["connection.url"] = evilURL
	refused("PUT [hidden] with a new host", "PUT", "/connectors/pw/config", moved, "connection.password", "connection.url")
	refused("PATCH a new host", "PATCH", "/connectors/pw/config", map[string]string{"connection.url": evilURL}, "connection.password", "connection.url")
	renamed := maps.Clone(pwCfg)
	renamed["connection.username"] = "mallory"
	refused("PUT [hidden] with a new user", "PUT", "/connectors/pw/config", renamed, "connection.username")
	movedURL := maps.Clone(cfg)
	movedURL["connection.url"] = strings.Replace(cfg["connection.url"], home.addr(), evil.addr(), 1)
	refused("PUT a redacted URL with a new host", "PUT", "/connectors/inurl/config", movedURL, "connection.url")
	if !strings.Contains(movedURL["connection.url"], hidden) {
		t.Fatalf("the redacted URL %q holds no %s", movedURL["connection.url"], hidden)
	}
	if n, b, _ := evil.seen(); n != 0 || len(b) != 0 {
		t.Fatalf("the new host got %d connections and %d bytes: %q", n, len(b), b)
	}

	// Same identity: the stored secrets are reused, and reach only the
	// host they were stored for (whose fake refuses them, so the PUT is
	// a 400 about authentication that does not show them).
	home.reset()
	same := maps.Clone(pwCfg)
	same["batch.size"] = "100"
	refused("PUT [hidden] to the same host", "PUT", "/connectors/pw/config", same, "authentication")
	w.call(t, "PUT", "/connectors/inurl/config", cfg)
	_, _, pws := home.seen()
	if !hasString(pws, "stored-pw-123") || !hasString(pws, "url-pw-456") {
		t.Errorf("the stored host got passwords %q, want the stored ones", pws)
	}
	if n, _, _ := evil.seen(); n != 0 {
		t.Fatalf("the new host got %d connections", n)
	}
	// [hidden] for a connector that has no stored value is refused.
	code, b := w.call(t, "PUT", "/connectors/fresh/config", map[string]string{propClass: "jdbc", "topics": "t",
		"connection.url": evilURL, "connection.password": hidden})
	if code != http.StatusBadRequest || !strings.Contains(string(b), "connection.password") {
		t.Errorf("PUT [hidden] for a new connector: %d %s", code, b)
	}
	if n, _, _ := evil.seen(); n != 0 {
		t.Fatalf("the new host got %d connections", n)
	}
}

func hasString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// readConfigsTopic returns every value in the configs topic.
func readConfigsTopic(t *testing.T, addr string) []byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("sluice-configs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end, err := kadm.NewClient(cl).ListEndOffsets(ctx, "sluice-configs")
	if err != nil {
		t.Fatal(err)
	}
	want := end["sluice-configs"][0].Offset
	var out []byte
	var seen int64
	for seen < want {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(append(out, r.Value...), '\n')
			seen = r.Offset + 1
		})
	}
	return out
}

func b64Key(t *testing.T) (string, string) {
	t.Helper()
	k := make([]byte, configstore.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k), configstore.KeyID(k)
}

// Hole 4 (at rest): with config.encryption.key, no password reaches the
// configs topic in plain text; a restarted worker runs connectors with
// the right password; a rotated key keeps old records readable and
// encrypts new ones with the new key id; an unknown key id fails the
// connector with an error naming it.
func TestConfigsTopicEncryptedAtRest(t *testing.T) {
	addr := newCluster(t)
	k1, id1 := b64Key(t)
	k2, id2 := b64Key(t)
	k3, _ := b64Key(t)
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(k1+"\n"), 0o600)
	start := func(props map[string]string) (*stateWorker, func()) {
		resetCtlProbes()
		return runStateWorker(t, addr, props, ctlRegistry(urlPlugin()))
	}
	passwordOf := func(name string) string {
		var got string
		until(t, name+" running with a password", func() (bool, string) {
			ctlProbeFor(name).read(func(p *ctlProbe) { got = p.taskProps[0][ctlPassword] })
			return got != "", got
		})
		return got
	}

	w, stop := start(map[string]string{config.EncryptionKeyFile: keyFile})
	w.must(t, "POST", "/connectors", ctlConfig("enc", ctlPassword, "hunter2-at-rest"), http.StatusCreated, nil)
	w.must(t, "POST", "/connectors", map[string]any{"name": "encurl", "config": map[string]string{propClass: "urlctl",
		urlKey: "jdbc:postgresql://alice:url-at-rest@h/db"}}, http.StatusCreated, nil)
	w.untilStates(t, "enc", "RUNNING[RUNNING RUNNING]")
	w.untilStates(t, "encurl", "RUNNING[RUNNING]")
	stop()
	raw := readConfigsTopic(t, addr)
	assertNoLeak(t, "the configs topic", raw, "hunter2-at-rest", "url-at-rest")
	if !strings.Contains(string(raw), "sluice-encrypted:v1:"+id1+":") {
		t.Fatalf("no envelope with key id %s in the configs topic: %s", id1, raw)
	}

	// Restart with the same key (inline this time).
	_, stop = start(map[string]string{config.EncryptionKey: k1})
	if got := passwordOf("enc"); got != "hunter2-at-rest" {
		t.Fatalf("after a restart the task got %q", got)
	}
	stop()

	// Rotate: the old key becomes a previous key.
	w, stop = start(map[string]string{config.EncryptionKey: k2, config.EncryptionPreviousKeys: k1})
	if got := passwordOf("enc"); got != "hunter2-at-rest" {
		t.Fatalf("after rotating the key the task got %q", got)
	}
	w.must(t, "PATCH", "/connectors/enc/config", map[string]string{ctlPassword: "rotated-secret", ctlTasks: "1"}, http.StatusOK, nil)
	w.untilStates(t, "enc", "RUNNING[RUNNING]")
	until(t, "the new password", func() (bool, string) {
		var got string
		ctlProbeFor("enc").read(func(p *ctlProbe) { got = p.taskProps[0][ctlPassword] })
		return got == "rotated-secret", got
	})
	stop()
	raw = readConfigsTopic(t, addr)
	assertNoLeak(t, "the configs topic after rotation", raw, "hunter2-at-rest", "rotated-secret", "url-at-rest")
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var last string
	for _, l := range lines {
		if strings.Contains(l, "rotated") || strings.Contains(l, `"ctl.tasks":"1"`) {
			last = l
		}
	}
	if !strings.Contains(last, "sluice-encrypted:v1:"+id2+":") {
		t.Fatalf("the rewritten config is not encrypted with the new key id %s: %s", id2, last)
	}

	// A worker without the key: the connector fails naming the key id,
	// and nothing shows the envelope's content.
	w, _ = start(map[string]string{config.EncryptionKey: k3})
	// (The task's status may still be the previous worker's.)
	var st api.ConnectorStatus
	until(t, "enc FAILED", func() (bool, string) {
		st = w.status(t, "enc")
		return st.Connector.State == api.StateFailed, states(st)
	})
	if !strings.Contains(st.Connector.Trace, id2) || !strings.Contains(st.Connector.Trace, config.EncryptionPreviousKeys) {
		t.Fatalf("the trace does not name key id %s: %q", id2, st.Connector.Trace)
	}
	var cfg map[string]string
	w.must(t, "GET", "/connectors/enc/config", nil, http.StatusOK, &cfg)
	if cfg[ctlPassword] != hidden {
		t.Fatalf("an undecryptable password shows as %q", cfg[ctlPassword])
	}

	// Bad key settings stop the worker with the property named.
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{config.EncryptionKey: "not base64!"}, config.EncryptionKey + " is not base64"},
		{map[string]string{config.EncryptionKey: base64.StdEncoding.EncodeToString([]byte("short"))}, "want 32"},
		{map[string]string{config.EncryptionKey: k1, config.EncryptionKeyFile: keyFile}, "set only one"},
		{map[string]string{config.EncryptionPreviousKeys: k1}, "no current key"},
	} {
		cfg, err := config.LoadWorker("", nil, c.props)
		if err != nil {
			t.Fatal(err)
		}
		_, err = keyringFrom(cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.props, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), k1) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
}

// Hole 3 for the PostgreSQL source: database.hostname, database.port,
// database.user and database.dbname are its connection identity.
func TestHiddenPostgresPasswordNeverSentToNewHost(t *testing.T) {
	addr := newCluster(t)
	home, evil := newFakePG(t), newFakePG(t)
	w, _ := runStateWorker(t, addr, nil, ctlRegistry(postgres.Plugin()))
	hostPort := func(f *fakePG) (string, string) { h, p, _ := net.SplitHostPort(f.addr()); return h, p }
	hh, hp := hostPort(home)
	_, ep := hostPort(evil) // same host as home: a new port, or localhost, is a new server
	b, _ := json.Marshal(map[string]any{"properties": map[string]string{propClass: "postgres", propName: "pg",
		"database.hostname": hh, "database.port": hp, "database.user": "alice", "database.password": "pg-stored-789",
		"database.dbname": "app", "database.sslmode": "disable", "topic.prefix": "pg"}})
	putRaw(t, addr, "sluice-configs", [2]string{"target-state-pg", `{"state":"PAUSED","state.v2":"STOPPED"}`},
		[2]string{"connector-pg", string(b)})
	var cfg map[string]string
	until(t, "the stored connector", func() (bool, string) {
		code, b := w.call(t, "GET", "/connectors/pg/config", nil)
		if code == http.StatusOK {
			json.Unmarshal(b, &cfg)
		}
		return code == http.StatusOK, string(b)
	})
	if cfg["database.password"] != hidden {
		t.Fatalf("GET shows %q", cfg["database.password"])
	}
	for _, change := range [][2]string{{"database.hostname", "localhost"}, {"database.port", ep}, {"database.user", "mallory"},
		{"database.dbname", "other"}, {"database.sslmode", "allow"}} {
		moved := maps.Clone(cfg)
		moved[change[0]] = change[1]
		if change[0] == "database.hostname" {
			moved["database.port"] = ep // localhost:<evil port> is the new server
		}
		code, b := w.call(t, "PUT", "/connectors/pg/config", moved)
		if code != http.StatusBadRequest || !strings.Contains(string(b), "database.password") {
			t.Errorf("PUT [hidden] with %s changed: %d %s", change[0], code, b)
		}
		assertNoLeak(t, "PUT with "+change[0]+" changed", b, "pg-stored-789")
	}
	if n, b, _ := evil.seen(); n != 0 || len(b) != 0 {
		t.Fatalf("the new server got %d connections and %d bytes: %q", n, len(b), b)
	}
	// Same identity: the stored password goes to the stored server only.
	same := maps.Clone(cfg)
	same["table.include.list"] = "public.t"
	code, b2 := w.call(t, "PUT", "/connectors/pg/config", same)
	assertNoLeak(t, "PUT to the same server", b2, "pg-stored-789")
	if _, _, pws := home.seen(); !hasString(pws, "pg-stored-789") {
		t.Errorf("the stored server got passwords %q (PUT answered %d %s)", pws, code, b2)
	}
	if n, _, _ := evil.seen(); n != 0 {
		t.Fatalf("the new server got %d connections", n)
	}
}
