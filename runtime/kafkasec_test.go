package runtime

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/internal/testpki"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/broker"
	"github.com/sluice-cdc/sluice/transforms"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// startSecureBroker starts the embedded broker (as `sluice broker` does)
// with sec, on a free port.
func startSecureBroker(t *testing.T, sec broker.Security) string {
	t.Helper()
	b, err := broker.Start(t.TempDir(), "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), broker.WithSecurity(sec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// runSecureWorker runs a worker on bootstrap with props; it returns the
// worker once ready, or the error Run returned at start.
func runSecureWorker(t *testing.T, bootstrap string, props map[string]string) (*testWorker, error) {
	t.Helper()
	all := map[string]string{config.BootstrapServers: bootstrap, config.Listeners: "http://127.0.0.1:0",
		config.OffsetFlushInterval: "200", config.TaskShutdownGracefulTimeout: "500", config.DataDir: t.TempDir(),
		config.BrokerStartTimeout: "5000", "value.converter.schemas.enable": "false"}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := config.LoadWorker("", nil, all)
	if err != nil {
		return nil, err
	}
	reg := connectors.NewRegistry(
		connectors.Plugin{Name: "marker", Type: connectors.SourceType, New: func() connectors.Connector { return markerConnector{} }},
		connectors.Plugin{Name: "tallysink", Type: connectors.SinkType, New: func() connectors.Connector { return &tallySink{} }})
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	w := &testWorker{cancel: cancel, done: make(chan error, 1), bootstrap: bootstrap}
	logger := slog.New(slog.NewTextHandler(&w.logs, nil))
	go func() {
		w.done <- Run(ctx, Options{Config: cfg, Plugins: reg, Transforms: transforms.NewRegistry(), Logger: logger,
			Started: time.Now(), Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		w.url = "http://" + a
	case err := <-w.done:
		cancel()
		if strings.Contains(w.logs.String(), "secret") || strings.Contains(w.logs.String(), "wrong-pass") {
			t.Errorf("the worker's log shows a password:\n%s", w.logs.String())
		}
		return nil, err
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("worker not ready")
	}
	t.Cleanup(func() { w.stop(t) })
	return w, nil
}

// tallySink counts the records its tasks are given, in sinkTally.
type tallySink struct{ memSink }

var sinkTally atomic.Int64

func (*tallySink) NewTask() connectors.SinkTask { return &tallySinkTask{} }

type tallySinkTask struct{ memSinkTask }

func (*tallySinkTask) Put(_ context.Context, recs []*connectors.Record) error {
	sinkTally.Add(int64(len(recs)))
	return nil
}

// readMarked reads the record the marker connector writes, as client.
func readMarked(t *testing.T, opts ...kgo.Opt) {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("marked"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no record in topic marked")
		}
		var got bool
		fs.EachRecord(func(r *kgo.Record) { got = true })
		if got {
			return
		}
	}
}

func createMarker(t *testing.T, w *testWorker, name string, extra map[string]string, want int) {
	t.Helper()
	cfg := map[string]string{"connector.class": "marker", "sluice.task.restart.enable": "false"}
	for k, v := range extra {
		cfg[k] = v
	}
	w.do(t, "PUT", "/connectors/"+name+"/config", cfg, want, nil)
}

func waitTask(t *testing.T, w *testWorker, name string, state string) api.ConnectorStatus {
	t.Helper()
	var st api.ConnectorStatus
	waitFor(t, name+" task "+state, func() bool {
		st = w.status(t, name)
		return len(st.Tasks) == 1 && st.Tasks[0].State == state
	})
	return st
}

func adminOpts(addr string) []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha256Mechanism())}
}

func TestKafkaSASLMechanisms(t *testing.T) {
	addr := startSecureBroker(t, broker.Security{Users: []broker.User{
		{Mechanism: "SCRAM-SHA-256", Name: "admin", Password: "admin-secret"},
		{Mechanism: "PLAIN", Name: "alice", Password: "alice-secret"},
		{Mechanism: "SCRAM-SHA-256", Name: "bob", Password: "bob-secret"},
		{Mechanism: "SCRAM-SHA-512", Name: "carol", Password: "carol-secret"},
	}})
	for _, tc := range []struct {
		name  string
		props map[string]string
	}{
		{"PLAIN jaas", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";`}},
		{"SCRAM-SHA-256 jaas", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret";`}},
		{"SCRAM-SHA-512 username", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.username": "carol", "sasl.password": "carol-secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topics := strings.NewReplacer(" ", "-").Replace(tc.name)
			tc.props[config.ConfigStorageTopic] = "c-" + topics
			tc.props[config.OffsetStorageTopic] = "o-" + topics
			tc.props[config.StatusStorageTopic] = "s-" + topics
			w, err := runSecureWorker(t, addr, tc.props)
			if err != nil {
				t.Fatal(err)
			}
			createMarker(t, w, "m-"+topics, nil, 201)
			waitTask(t, w, "m-"+topics, api.StateRunning)
			readMarked(t, adminOpts(addr)...)
			// A sink's consumer reads it over SASL too.
			before := sinkTally.Load()
			w.do(t, "PUT", "/connectors/s-"+topics+"/config", map[string]string{"connector.class": "tallysink", "topics": "marked"}, 201, nil)
			waitFor(t, "the sink to read topic marked", func() bool { return sinkTally.Load() > before })
		})
	}
	// Without SASL, the broker closes the connection: the worker says so.
	_, err := runSecureWorker(t, addr, nil)
	if err == nil || !strings.Contains(err.Error(), "probably requires SASL") || !strings.Contains(err.Error(), "security.protocol=SASL_PLAINTEXT") {
		t.Fatalf("worker without SASL: %v", err)
	}
}

func TestKafkaSASLWrongPassword(t *testing.T) {
	addr := startSecureBroker(t, broker.Security{Users: []broker.User{{Mechanism: "PLAIN", Name: "alice", Password: "alice-secret"}}})
	_, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="wrong-pass";`})
	if err == nil {
		t.Fatal("worker started with a wrong password")
	}
	msg := err.Error()
	for _, want := range []string{"SASL PLAIN login of User:alice", "user name or password", "sasl.jaas.config", addr} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "wrong-pass") || strings.Contains(msg, "alice-secret") {
		t.Errorf("error shows a password: %s", msg)
	}
}

// testPKI is a throwaway CA and a broker certificate made at test time.
type testPKI struct {
	caPEM, certPEM, keyPEM []byte
	dir                    string
}

func newTestPKI(t *testing.T, hosts ...string) *testPKI {
	t.Helper()
	ca := testpki.NewCA(t, "sluice test CA")
	// One certificate for a broker or a client; its key in SEC 1 (EC
	// PRIVATE KEY), so the worker's keystore reads that encoding too.
	leaf := ca.Issue(t, testpki.Hosts(&x509.Certificate{Subject: pkix.Name{CommonName: "broker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}, hosts...), nil)
	p := &testPKI{caPEM: ca.CertPEM, certPEM: leaf.CertPEM, keyPEM: testpki.ECKeyPEM(t, leaf.Key.(*ecdsa.PrivateKey)), dir: t.TempDir()}
	testpki.WriteFile(t, filepath.Join(p.dir, "ca.pem"), 0o600, p.caPEM)
	return p
}

func (p *testPKI) serverTLS(t *testing.T) *tls.Config {
	cert, err := tls.X509KeyPair(p.certPEM, p.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

func (p *testPKI) clientTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestKafkaTLS(t *testing.T) {
	pki := newTestPKI(t, "127.0.0.1")
	ca := filepath.Join(pki.dir, "ca.pem")

	t.Run("SSL", func(t *testing.T) {
		addr := startSecureBroker(t, broker.Security{TLS: pki.serverTLS(t)})
		w, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": ca})
		if err != nil {
			t.Fatal(err)
		}
		createMarker(t, w, "m", nil, 201)
		waitTask(t, w, "m", api.StateRunning)
		readMarked(t, kgo.SeedBrokers(addr), kgo.DialTLSConfig(pki.clientTLS()))

		// Not trusting the CA: a start-up error naming the fix.
		_, err = runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL"})
		if err == nil || !strings.Contains(err.Error(), "could not be verified") || !strings.Contains(err.Error(), "ssl.truststore.location") {
			t.Fatalf("worker not trusting the broker's CA: %v", err)
		}
		// Plaintext against a TLS listener.
		_, err = runSecureWorker(t, addr, nil)
		if err == nil {
			t.Fatal("a PLAINTEXT worker started against a TLS broker")
		}
	})

	t.Run("SASL_SSL inline truststore", func(t *testing.T) {
		addr := startSecureBroker(t, broker.Security{TLS: pki.serverTLS(t),
			Users: []broker.User{{Mechanism: "SCRAM-SHA-512", Name: "alice", Password: "alice-secret"}}})
		w, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
			"sasl.username": "alice", "sasl.password": "alice-secret", "ssl.truststore.certificates": string(pki.caPEM)})
		if err != nil {
			t.Fatal(err)
		}
		createMarker(t, w, "m", nil, 201)
		waitTask(t, w, "m", api.StateRunning)
	})

	t.Run("client certificate", func(t *testing.T) {
		// The broker requires a client certificate signed by the CA: the
		// worker gives one from ssl.keystore.location, or inline.
		client := newTestPKI(t, "sluice-worker")
		stls := pki.serverTLS(t)
		stls.ClientCAs = x509.NewCertPool()
		stls.ClientCAs.AppendCertsFromPEM(client.caPEM)
		stls.ClientAuth = tls.RequireAndVerifyClientCert
		addr := startSecureBroker(t, broker.Security{TLS: stls})
		ks := filepath.Join(client.dir, "client.pem")
		if err := os.WriteFile(ks, append(append([]byte{}, client.certPEM...), client.keyPEM...), 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca,
			"ssl.keystore.type": "PEM", "ssl.keystore.location": ks})
		if err != nil {
			t.Fatal(err)
		}
		w.stop(t)
		w, err = runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca,
			"ssl.keystore.certificate.chain": string(client.certPEM), "ssl.keystore.key": string(client.keyPEM)})
		if err != nil {
			t.Fatal(err)
		}
		w.stop(t)
		// Without one, the handshake fails.
		_, err = runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca})
		if err == nil || !strings.Contains(err.Error(), "refused the worker's client certificate") || !strings.Contains(err.Error(), "ssl.keystore.location") {
			t.Fatalf("worker without the client certificate the broker requires: %v", err)
		}
	})

	t.Run("host name", func(t *testing.T) {
		other := newTestPKI(t, "broker.example")
		addr := startSecureBroker(t, broker.Security{TLS: other.serverTLS(t)})
		oca := filepath.Join(other.dir, "ca.pem")
		_, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": oca})
		if err == nil || !strings.Contains(err.Error(), "does not name that host") || !strings.Contains(err.Error(), "ssl.endpoint.identification.algorithm") {
			t.Fatalf("worker connecting to a host its certificate does not name: %v", err)
		}
		// Empty algorithm: no host name check, the chain still checked.
		w, err := runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": oca,
			"ssl.endpoint.identification.algorithm": ""})
		if err != nil {
			t.Fatal(err)
		}
		w.stop(t)
		_, err = runSecureWorker(t, addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca,
			"ssl.endpoint.identification.algorithm": ""})
		if err == nil || !strings.Contains(err.Error(), "could not be verified") {
			t.Fatalf("worker trusting another CA, without host name check: %v", err)
		}
	})
}

// aclBroker has a superuser admin, alice who may use the worker's state
// topics and groups but only describe and create topic marked, and bob
// who may also write it.
func aclBroker(t *testing.T) string {
	t.Helper()
	var acls []broker.ACL
	for _, u := range []string{"alice", "bob"} {
		for _, s := range []string{
			"principal=User:" + u + ",operation=All,topic=sluice-,pattern=prefixed",
			"principal=User:" + u + ",operation=All,group=*",
			"principal=User:" + u + ",operation=All,cluster",
			"principal=User:" + u + ",operation=Describe,topic=marked",
			"principal=User:" + u + ",operation=Create,topic=marked",
		} {
			a, err := broker.ParseACL(s)
			if err != nil {
				t.Fatal(err)
			}
			acls = append(acls, a)
		}
	}
	w, err := broker.ParseACL("principal=User:bob,operation=Write,topic=marked")
	if err != nil {
		t.Fatal(err)
	}
	acls = append(acls, w)
	return startSecureBroker(t, broker.Security{Superusers: []string{"admin"}, ACLs: acls, Users: []broker.User{
		{Mechanism: "SCRAM-SHA-256", Name: "admin", Password: "admin-secret"},
		{Mechanism: "PLAIN", Name: "alice", Password: "alice-secret"},
		{Mechanism: "PLAIN", Name: "bob", Password: "bob-secret"},
	}})
}

var aliceProps = map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
	"sasl.username": "alice", "sasl.password": "alice-secret"}

func TestKafkaMissingACLFailsTheTask(t *testing.T) {
	addr := aclBroker(t)
	w, err := runSecureWorker(t, addr, aliceProps)
	if err != nil {
		t.Fatal(err)
	}
	createMarker(t, w, "m", nil, 201)
	st := waitTask(t, w, "m", api.StateFailed)
	trace := st.Tasks[0].Trace
	for _, want := range []string{"WRITE on topic marked denied for principal User:alice",
		"kafka-acls.sh --add --allow-principal User:alice --operation Write --topic marked"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace does not say %q:\n%s", want, trace)
		}
	}
	// A sink whose principal may not READ its topic.
	w.do(t, "PUT", "/connectors/s/config", map[string]string{"connector.class": "tallysink", "topics": "marked",
		"sluice.task.restart.enable": "false"}, 201, nil)
	trace = waitTask(t, w, "s", api.StateFailed).Tasks[0].Trace
	if !strings.Contains(trace, "READ on topic marked denied for principal User:alice") ||
		!strings.Contains(trace, "--operation Read --topic marked") {
		t.Errorf("sink trace:\n%s", trace)
	}
}

func TestKafkaStateTopicsDenied(t *testing.T) {
	addr := aclBroker(t)
	_, err := runSecureWorker(t, addr, stateTopicsProps("other-", aliceProps))
	if err == nil {
		t.Fatal("a worker whose principal may not use its state topics started")
	}
	for _, want := range []string{"principal User:alice may not use its state topics other-configs, other-offsets, other-status",
		"kafka-acls.sh --add --allow-principal User:alice --operation All --topic other-configs --topic other-offsets --topic other-status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func TestKafkaClientOverrides(t *testing.T) {
	addr := aclBroker(t)
	override := map[string]string{"producer.override.sasl.username": "bob", "producer.override.sasl.password": "bob-secret"}

	t.Run("All", func(t *testing.T) {
		w, err := runSecureWorker(t, addr, stateTopicsProps("sluice-all-", aliceProps))
		if err != nil {
			t.Fatal(err)
		}
		// The worker's principal (alice) may not write marked; the
		// connector's producer authenticates as bob, who may.
		createMarker(t, w, "m", override, 201)
		waitTask(t, w, "m", api.StateRunning)
		readMarked(t, adminOpts(addr)...)
		var cfg map[string]string
		w.do(t, "GET", "/connectors/m/config", nil, 200, &cfg)
		if strings.Contains(cfg["producer.override.sasl.password"], "bob-secret") {
			t.Errorf("the config shows the override password: %v", cfg)
		}
		// A key Sluice does not apply is refused, naming it.
		createMarker(t, w, "m2", map[string]string{"producer.override.acks": "1"}, 400)
		// A sink's consumer override on a source is refused.
		createMarker(t, w, "m3", map[string]string{"consumer.override.sasl.username": "bob"}, 400)
		// A wrong override password fails the task, saying which
		// properties to check and never showing the password.
		createMarker(t, w, "m4", map[string]string{"producer.override.sasl.username": "bob", "producer.override.sasl.password": "n0pe-s3cret"}, 201)
		trace := waitTask(t, w, "m4", api.StateFailed).Tasks[0].Trace
		if !strings.Contains(trace, "SASL PLAIN login of User:bob") || !strings.Contains(trace, "producer.override.sasl.username/producer.override.sasl.password") ||
			strings.Contains(trace, "n0pe-s3cret") {
			t.Errorf("trace of a wrong override password:\n%s", trace)
		}
	})

	for _, policy := range []string{"None", "Principal"} {
		t.Run(policy, func(t *testing.T) {
			props := stateTopicsProps("sluice-"+policy+"-", aliceProps)
			props[config.ClientOverridePolicy] = policy
			w, err := runSecureWorker(t, addr, props)
			if err != nil {
				t.Fatal(err)
			}
			body := map[string]string{"connector.class": "marker"}
			for k, v := range override {
				body[k] = v
			}
			switch policy {
			case "None":
				msg := putError(t, w, "m", body)
				if !strings.Contains(msg, "The 'None' policy does not allow 'sasl.username' to be overridden") ||
					!strings.Contains(msg, "producer.override.sasl.username") || strings.Contains(msg, "bob-secret") {
					t.Errorf("400 message: %s", msg)
				}
			case "Principal":
				// SASL credentials are allowed, ssl.* are not.
				createMarker(t, w, "m", override, 201)
				waitTask(t, w, "m", api.StateRunning)
				body["producer.override.ssl.truststore.location"] = "/x.pem"
				msg := putError(t, w, "m2", body)
				if !strings.Contains(msg, "The 'Principal' policy does not allow 'ssl.truststore.location' to be overridden") {
					t.Errorf("400 message: %s", msg)
				}
			}
		})
	}
}

// stateTopicsProps returns props with state topics named by prefix.
func stateTopicsProps(prefix string, props map[string]string) map[string]string {
	out := map[string]string{config.ConfigStorageTopic: prefix + "configs", config.OffsetStorageTopic: prefix + "offsets",
		config.StatusStorageTopic: prefix + "status"}
	for k, v := range props {
		out[k] = v
	}
	return out
}

// putError PUTs a connector config expecting a 400 and returns its
// message.
func putError(t *testing.T, w *testWorker, name string, body map[string]string) string {
	t.Helper()
	var e struct {
		Message string `json:"message"`
	}
	w.do(t, "PUT", "/connectors/"+name+"/config", body, 400, &e)
	return e.Message
}

func TestKafkaSecurityConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"security.protocol": "SASL_PLAINTEXT"}, "sasl.mechanism=GSSAPI (Kafka's default) is not supported"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}, "sasl.mechanism=PLAIN needs credentials"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t";`},
			"login module org.apache.kafka.common.security.plain.PlainLoginModule does not go with sasl.mechanism=SCRAM-SHA-256"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="s3cr3t`},
			"sasl.jaas.config: it must end with ;"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "JKS"}, "ssl.truststore.type=JKS: only PEM is supported"},
		{map[string]string{"security.protocol": "SSL", "ssl.keystore.password": "s3cr3t"}, "ssl.keystore.password: PEM stores have no password"},
		{map[string]string{"security.protocol": "SSL", "producer.ssl.keystore.type": "PKCS12"}, "producer.ssl.keystore.type=PKCS12: only PEM"},
		{map[string]string{"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "dns"}, "must be https"},
		{map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "OAUTHBEARER"}, "needs sasl.oauthbearer.token.file"},
		{map[string]string{"admin.security.protocol": "TLS"}, "admin.security.protocol=TLS: must be PLAINTEXT, SSL"},
		{map[string]string{"sasl.password": "s3cr3t", "sasl.username": "a"}, "sasl.username is set but security.protocol=PLAINTEXT uses no SASL"},
		{map[string]string{"security.protocol": "SASL_SSL", "consumer.security.protocol": "SSL", "sasl.mechanism": "PLAIN", "sasl.username": "a",
			"sasl.password": "s3cr3t", "consumer.sasl.password": "s3cr3t"}, "consumer.sasl.password is set but consumer.security.protocol=SSL uses no SASL"},
	} {
		_, err := workerKafkaSecurity(tc.props)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.props, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error shows a secret: %v", err)
		}
	}
	// A client on SSL may leave the unprefixed SASL settings to the
	// others.
	ws, err := workerKafkaSecurity(map[string]string{"security.protocol": "SASL_SSL", "consumer.security.protocol": "SSL",
		"sasl.mechanism": "PLAIN", "sasl.username": "a", "sasl.password": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if ws.consumer.Protocol != "SSL" || ws.consumer.Mechanism != "" || ws.producer.Mechanism != "PLAIN" || ws.producer.User != "a" {
		t.Errorf("consumer %+v, producer %+v", ws.consumer, ws.producer)
	}
	// Encrypted private keys are refused.
	dir := t.TempDir()
	p := filepath.Join(dir, "k.pem")
	enc := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
	if err := os.WriteFile(p, []byte(enc), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := workerKafkaSecurity(map[string]string{"security.protocol": "SSL", "ssl.keystore.location": p}); err == nil ||
		!strings.Contains(err.Error(), "ssl.keystore.location: "+p+" holds an encrypted private key") {
		t.Errorf("encrypted key: %v", err)
	}
}

func TestBrokerACLFlags(t *testing.T) {
	a, err := broker.ParseACL("principal=User:alice,operation=Write,topic=orders,pattern=prefixed,deny")
	if err != nil {
		t.Fatal(err)
	}
	if a.Principal != "User:alice" || a.Operation != kmsg.ACLOperationWrite || a.Resource != kmsg.ACLResourceTypeTopic ||
		a.Name != "orders" || a.Pattern != kmsg.ACLResourcePatternTypePrefixed || a.Allow {
		t.Fatalf("%+v", a)
	}
	for _, bad := range []string{"operation=Write,topic=x", "principal=User:a,topic=x", "principal=User:a,operation=Write",
		"principal=User:a,operation=Fly,topic=x", "principal=alice,operation=Write,topic=x"} {
		if _, err := broker.ParseACL(bad); err == nil {
			t.Errorf("ParseACL(%q) accepted", bad)
		}
	}
}
