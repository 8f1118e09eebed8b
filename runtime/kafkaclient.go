package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Kafka client security properties (Kafka's names, plus Sluice's simple
// sasl.username, sasl.password and sasl.oauthbearer.token.file). Each may
// be given with a producer., consumer. or admin. prefix for that client
// only, and per connector as producer.override.* or consumer.override.*.
const (
	kSecurityProtocol  = "security.protocol"
	kSASLMechanism     = "sasl.mechanism"
	kSASLJAAS          = "sasl.jaas.config"
	kSASLUsername      = "sasl.username"
	kSASLPassword      = "sasl.password"
	kSASLTokenFile     = "sasl.oauthbearer.token.file"
	kSSLTruststoreType = "ssl.truststore.type"
	kSSLTruststoreLoc  = "ssl.truststore.location"
	kSSLTruststoreCert = "ssl.truststore.certificates"
	kSSLTruststorePass = "ssl.truststore.password"
	kSSLKeystoreType   = "ssl.keystore.type"
	kSSLKeystoreLoc    = "ssl.keystore.location"
	kSSLKeystoreChain  = "ssl.keystore.certificate.chain"
	kSSLKeystoreKey    = "ssl.keystore.key"
	kSSLKeystorePass   = "ssl.keystore.password"
	kSSLKeyPass        = "ssl.key.password"
	kSSLEndpointAlg    = "ssl.endpoint.identification.algorithm"
)

// kafkaSecurityKeys are the properties kafkaSecurityFrom reads.
var kafkaSecurityKeys = []string{kSecurityProtocol, kSASLMechanism, kSASLJAAS, kSASLUsername, kSASLPassword, kSASLTokenFile,
	kSSLTruststoreType, kSSLTruststoreLoc, kSSLTruststoreCert, kSSLTruststorePass, kSSLKeystoreType, kSSLKeystoreLoc,
	kSSLKeystoreChain, kSSLKeystoreKey, kSSLKeystorePass, kSSLKeyPass, kSSLEndpointAlg}

// isKafkaSecurityKey says whether key is one of kafkaSecurityKeys.
func isKafkaSecurityKey(key string) bool {
	for _, k := range kafkaSecurityKeys {
		if k == key {
			return true
		}
	}
	return false
}

// propLayer is a set of properties read under a prefix; layers are
// looked up in order and the first that has a key wins.
type propLayer struct {
	props  map[string]string
	prefix string
}

// kafkaSecurity is what a Kafka client's security properties give.
type kafkaSecurity struct {
	opts      []kgo.Opt
	protocol  string
	mechanism string
	// user is the SASL user name ("" without SASL or with OAUTHBEARER),
	// for messages about authentication and ACLs.
	user string
	// names are the property names that gave the protocol, mechanism and
	// credentials, for messages.
	protocolName, credsName string
}

// principal is the user's Kafka principal, or a description when the
// user name is not known.
func (s *kafkaSecurity) principal() string {
	if s.user != "" {
		return "User:" + s.user
	}
	if s.mechanism == "OAUTHBEARER" {
		return "the principal of the OAUTHBEARER token"
	}
	return "User:ANONYMOUS"
}

// kafkaSecurityFrom builds a client's security options from layers (for
// example the producer.* properties, then the unprefixed ones). Errors
// name the property as written and never show a secret.
func kafkaSecurityFrom(layers ...propLayer) (*kafkaSecurity, error) {
	get := func(key string) (string, string) {
		for _, l := range layers {
			if v, ok := l.props[l.prefix+key]; ok {
				return strings.TrimSpace(v), l.prefix + key
			}
		}
		return "", key
	}
	has := func(key string) bool {
		for _, l := range layers {
			if _, ok := l.props[l.prefix+key]; ok {
				return true
			}
		}
		return false
	}
	s := &kafkaSecurity{}
	proto, protoName := get(kSecurityProtocol)
	s.protocolName = protoName
	s.protocol = strings.ToUpper(proto)
	if s.protocol == "" {
		s.protocol = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch s.protocol {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		return nil, fmt.Errorf("%s=%s: must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", protoName, proto)
	}
	if useTLS {
		tc, err := kafkaTLS(get, has)
		if err != nil {
			return nil, err
		}
		s.opts = append(s.opts, kgo.DialTLSConfig(tc))
	}
	if useSASL {
		m, err := kafkaSASL(get, s)
		if err != nil {
			return nil, err
		}
		s.opts = append(s.opts, kgo.SASL(m))
	}
	return s, nil
}

// kafkaTLS reads the PEM trust and key stores.
func kafkaTLS(get func(string) (string, string), has func(string) bool) (*tls.Config, error) {
	for _, k := range []string{kSSLKeystorePass, kSSLKeyPass, kSSLTruststorePass} {
		if v, name := get(k); v != "" {
			return nil, fmt.Errorf("%s: PEM stores have no password and encrypted private keys are not supported; remove %s and give an unencrypted PEM key readable only by the worker", name, name)
		}
	}
	for _, k := range []string{kSSLKeystoreType, kSSLTruststoreType} {
		if v, name := get(k); v != "" && !strings.EqualFold(v, "PEM") {
			return nil, fmt.Errorf("%s=%s: only PEM is supported (JKS and PKCS12 are not); convert the store to PEM (keytool -importkeystore -deststoretype PKCS12, then openssl pkcs12 -nodes) and set %s=PEM", name, v, name)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	tloc, tlocName := get(kSSLTruststoreLoc)
	tcerts, tcertsName := get(kSSLTruststoreCert)
	switch {
	case tloc != "" && tcerts != "":
		return nil, fmt.Errorf("%s and %s are both set; give the brokers' CA certificates one way", tlocName, tcertsName)
	case tloc != "":
		pem, err := os.ReadFile(tloc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tlocName, err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s %s: no PEM certificate in the file; give the CA certificates that sign the brokers' certificates", tlocName, tloc)
		}
	case tcerts != "":
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM([]byte(tcerts)) {
			return nil, fmt.Errorf("%s: no PEM certificate in the value; give the CA certificates that sign the brokers' certificates", tcertsName)
		}
	}
	loc, locName := get(kSSLKeystoreLoc)
	chain, chainName := get(kSSLKeystoreChain)
	key, keyName := get(kSSLKeystoreKey)
	switch {
	case loc != "" && (chain != "" || key != ""):
		return nil, fmt.Errorf("%s and %s/%s are both set; give the client certificate and key either in a file or inline, not both", locName, chainName, keyName)
	case loc != "":
		pem, err := os.ReadFile(loc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", locName, err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %s; the file must hold the client's PEM certificate chain and its unencrypted PEM private key", locName, loc, keyPairError(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	case chain != "" || key != "":
		if chain == "" || key == "" {
			return nil, fmt.Errorf("%s and %s must be set together (the client's PEM certificate chain and its PEM private key)", chainName, keyName)
		}
		cert, err := tls.X509KeyPair([]byte(chain), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %s; give the client's PEM certificate chain and its unencrypted PEM private key", chainName, keyName, keyPairError(err))
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	alg, algName := get(kSSLEndpointAlg)
	switch {
	case !has(kSSLEndpointAlg) || strings.EqualFold(alg, "https"):
	case alg == "":
		// As in Kafka, an empty algorithm turns host name verification
		// off; the chain is still verified against the trust store.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			return verifyChainOnly(raw, roots)
		}
	default:
		return nil, fmt.Errorf("%s=%s: must be https (verify the broker's host name, the default) or empty (do not)", algName, alg)
	}
	return cfg, nil
}

// verifyChainOnly verifies a broker's certificate chain against roots
// (the system's when nil) without checking its host name.
func verifyChainOnly(raw [][]byte, roots *x509.CertPool) error {
	if len(raw) == 0 {
		return errors.New("the broker sent no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return err
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	return err
}

// keyPairError describes a tls.X509KeyPair failure without the PEM text.
func keyPairError(err error) string {
	msg := err.Error()
	if errors.Is(err, x509.IncorrectPasswordError) || strings.Contains(msg, "encrypted") {
		return "the private key is encrypted, which is not supported"
	}
	return msg
}

// kafkaSASL reads the SASL mechanism and credentials.
func kafkaSASL(get func(string) (string, string), s *kafkaSecurity) (sasl.Mechanism, error) {
	mech, mechName := get(kSASLMechanism)
	s.mechanism = strings.ToUpper(mech)
	if s.mechanism == "" {
		s.mechanism = "GSSAPI" // Kafka's default
	}
	jaas, jaasName := get(kSASLJAAS)
	user, userName := get(kSASLUsername)
	pass, passName := get(kSASLPassword)
	tokenFile, tokenName := get(kSASLTokenFile)
	switch s.mechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if tokenFile != "" {
			return nil, fmt.Errorf("%s is for sasl.mechanism=OAUTHBEARER, but %s=%s; remove it", tokenName, mechName, s.mechanism)
		}
		wantModule := "org.apache.kafka.common.security.plain.PlainLoginModule"
		if s.mechanism != "PLAIN" {
			wantModule = "org.apache.kafka.common.security.scram.ScramLoginModule"
		}
		switch {
		case jaas != "" && (user != "" || pass != ""):
			return nil, fmt.Errorf("%s and %s/%s are both set; give the credentials one way", jaasName, userName, passName)
		case jaas != "":
			module, opts, err := parseJAAS(jaas)
			if err != nil {
				return nil, fmt.Errorf("%s: %v; write it as %s required username=\"USER\" password=\"PASSWORD\";", jaasName, err, wantModule)
			}
			if module != wantModule {
				return nil, fmt.Errorf("%s: login module %s does not go with %s=%s; use %s", jaasName, module, mechName, s.mechanism, wantModule)
			}
			user, pass = opts["username"], opts["password"]
			if user == "" || pass == "" {
				return nil, fmt.Errorf("%s: username and password are both needed; write it as %s required username=\"USER\" password=\"PASSWORD\";", jaasName, wantModule)
			}
			s.credsName = jaasName
		case user != "" && pass != "":
			s.credsName = userName + "/" + passName
		default:
			return nil, fmt.Errorf("%s=%s needs credentials: set %s (a %s) or %s and %s", mechName, s.mechanism, jaasName, wantModule, userName, passName)
		}
		s.user = user
		if s.mechanism == "PLAIN" {
			return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
		}
		a := scram.Auth{User: user, Pass: pass}
		if s.mechanism == "SCRAM-SHA-256" {
			return a.AsSha256Mechanism(), nil
		}
		return a.AsSha512Mechanism(), nil
	case "OAUTHBEARER":
		if tokenFile == "" {
			return nil, fmt.Errorf("%s=OAUTHBEARER needs %s: a file holding the bearer token (re-read at each connection, so it may be rotated)", mechName, tokenName)
		}
		if jaas != "" || user != "" || pass != "" {
			return nil, fmt.Errorf("%s=OAUTHBEARER takes its token from %s only; remove %s, %s and %s", mechName, tokenName, jaasName, userName, passName)
		}
		if _, err := readToken(tokenFile, tokenName); err != nil {
			return nil, err
		}
		s.credsName = tokenName
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tok, err := readToken(tokenFile, tokenName)
			return oauth.Auth{Token: tok}, err
		}), nil
	case "GSSAPI":
		return nil, fmt.Errorf("%s=GSSAPI (Kafka's default) is not supported; set %s to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", mechName, mechName)
	default:
		return nil, fmt.Errorf("%s=%s: not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", mechName, mech)
	}
}

// readToken reads an OAUTHBEARER token file.
func readToken(path, name string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s %s: the file is empty; it must hold the bearer token", name, path)
	}
	return tok, nil
}

// parseJAAS parses a one-entry JAAS config as Kafka users write it:
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="secret";
//
// Values may be quoted (with \" and \\ escapes) or bare. Errors never
// show values.
func parseJAAS(s string) (string, map[string]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasSuffix(s, ";") {
		return "", nil, errors.New("it must end with ;")
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return "", nil, errors.New("it must name a login module and a control flag")
	}
	module := fields[0]
	rest := strings.TrimSpace(strings.TrimPrefix(s, module))
	flag := strings.Fields(rest)[0]
	switch strings.ToLower(flag) {
	case "required", "requisite", "sufficient", "optional":
	default:
		return "", nil, fmt.Errorf("control flag %q must be required", flag)
	}
	rest = strings.TrimSpace(rest[len(flag):])
	opts := map[string]string{}
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return "", nil, errors.New("options must be key=value")
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return "", nil, fmt.Errorf("the value of %s has no closing quote", key)
			}
			val, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexAny(rest, " \t\n")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		opts[key] = val
		rest = strings.TrimSpace(rest)
	}
	return module, opts, nil
}

// explainKafkaError turns an authentication or TLS failure of a client
// into a message naming what to fix; other errors are returned as they
// are. what names the client ("the worker's admin client").
func explainKafkaError(err error, s *kafkaSecurity, servers []string) error {
	if err == nil || s == nil {
		return err
	}
	addr := strings.Join(servers, ",")
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var eof *kgo.ErrFirstReadEOF
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed):
		return fmt.Errorf("Kafka at %s refused the SASL %s login of %s: %w; the user name or password is wrong: check %s (and that the user exists for sasl.mechanism=%s)",
			addr, s.mechanism, s.principal(), err, s.credsName, s.mechanism)
	case s.mechanism != "" && errors.Is(err, io.EOF):
		// Some brokers (kfake, older Kafka) close the connection on a
		// failed login instead of answering SASL_AUTHENTICATION_FAILED.
		return fmt.Errorf("Kafka at %s closed the connection at the SASL %s login of %s (%w): the user name or password is probably wrong, "+
			"or the user does not exist for this mechanism; check %s and sasl.mechanism", addr, s.mechanism, s.principal(), err, s.credsName)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("Kafka at %s does not accept sasl.mechanism=%s: %w; set sasl.mechanism to one its listener enables", addr, s.mechanism, err)
	case errors.As(err, &he):
		return fmt.Errorf("TLS: the certificate of the broker at %s does not name that host: %v; connect to a host name the certificate names, "+
			"or set ssl.endpoint.identification.algorithm= (empty) to skip the host name check", addr, he)
	case errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &cv):
		return fmt.Errorf("TLS: the certificate of the broker at %s could not be verified: %v; set ssl.truststore.location (or ssl.truststore.certificates) to the PEM CA certificate that signed it", addr, err)
	case errors.As(err, &rh):
		return fmt.Errorf("TLS: the broker at %s did not answer in TLS (%v); is its listener plaintext? Set %s to PLAINTEXT or SASL_PLAINTEXT, or point bootstrap.servers at its TLS listener", addr, err, s.protocolName)
	case errors.As(err, &eof) && (s.protocol == "PLAINTEXT" || s.protocol == "SSL"):
		return fmt.Errorf("the broker at %s closed the connection at once (%v): it probably requires SASL; set %s=SASL_PLAINTEXT or SASL_SSL with sasl.mechanism and credentials", addr, err, s.protocolName)
	}
	return err
}

// aclError is a request a principal's ACLs do not allow.
type aclError struct {
	Operation    string // Write, Read, Describe, Create
	ResourceType string // topic, group
	Resource     string
	Principal    string
	Err          error
}

func (e *aclError) Error() string {
	flag := "--" + e.ResourceType
	return fmt.Sprintf("%s on %s %s denied for principal %s (%v): grant it with kafka-acls.sh --add --allow-principal %s --operation %s %s %s",
		strings.ToUpper(e.Operation), e.ResourceType, e.Resource, e.Principal, e.Err, e.Principal, e.Operation, flag, e.Resource)
}

func (e *aclError) Unwrap() error { return e.Err }

// denied returns an aclError when err says the principal may not do op
// on the topic, nil otherwise.
func denied(err error, op, topic string, s *kafkaSecurity) error {
	if s == nil || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		return nil
	}
	return &aclError{Operation: op, ResourceType: "topic", Resource: topic, Principal: s.principal(), Err: err}
}

// groupDenied returns an aclError when err says the principal may not use
// the consumer group.
func groupDenied(err error, group string, s *kafkaSecurity) error {
	if s == nil || !errors.Is(err, kerr.GroupAuthorizationFailed) {
		return nil
	}
	return &aclError{Operation: "Read", ResourceType: "group", Resource: group, Principal: s.principal(), Err: err}
}

// overrideKeys returns the connector's producer.override.* or
// consumer.override.* keys, sorted.
func overrideKeys(connCfg map[string]string, prefix string) []string {
	var keys []string
	for k := range connCfg {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// workerSecurity is the security of each kind of client the worker
// makes, from the worker's properties.
type workerSecurity struct {
	admin, log, producer, consumer *kafkaSecurity
	props                          map[string]string
}

// workerKafkaSecurity reads the security of the worker's clients.
func workerKafkaSecurity(props map[string]string) (*workerSecurity, error) {
	ws := &workerSecurity{props: props}
	var err error
	if ws.log, err = kafkaSecurityFrom(propLayer{props, ""}); err != nil {
		return nil, err
	}
	ws.admin, ws.producer, ws.consumer = ws.log, ws.log, ws.log
	for _, c := range []struct {
		prefix string
		dst    **kafkaSecurity
	}{{"admin.", &ws.admin}, {"producer.", &ws.producer}, {"consumer.", &ws.consumer}} {
		if !hasSecurityKey(props, c.prefix) {
			continue
		}
		if *c.dst, err = kafkaSecurityFrom(propLayer{props, c.prefix}, propLayer{props, ""}); err != nil {
			return nil, err
		}
	}
	return ws, nil
}

// hasSecurityKey says whether props set a security property under prefix.
func hasSecurityKey(props map[string]string, prefix string) bool {
	for _, k := range kafkaSecurityKeys {
		if _, ok := props[prefix+k]; ok {
			return true
		}
	}
	return false
}

// forConnector returns the security of a connector's producer (or, with
// consumer, its consumer): its producer.override.* (consumer.override.*)
// properties over the worker's.
func (ws *workerSecurity) forConnector(connCfg map[string]string, consumer bool) (*kafkaSecurity, error) {
	base, client, override := ws.producer, "producer.", "producer.override."
	if consumer {
		base, client, override = ws.consumer, "consumer.", "consumer.override."
	}
	if !hasSecurityKey(connCfg, override) {
		return base, nil
	}
	return kafkaSecurityFrom(propLayer{connCfg, override}, propLayer{ws.props, client}, propLayer{ws.props, ""})
}

// withOpts returns base followed by more, in a new slice.
func withOpts(base []kgo.Opt, more ...kgo.Opt) []kgo.Opt {
	out := make([]kgo.Opt, 0, len(base)+len(more))
	return append(append(out, base...), more...)
}

// checkClient connects a client with opts and asks for metadata, turning
// an authentication or TLS failure into a message naming the fix.
func checkClient(ctx context.Context, opts []kgo.Opt, s *kafkaSecurity, servers []string, timeout time.Duration) error {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		if e := explainKafkaError(err, s, servers); e != err {
			return e
		}
		return &UnreachableError{Servers: servers, Err: err}
	}
	return nil
}

// Connector client overrides (producer.override.* for sources,
// consumer.override.* for sinks), under the worker's
// connector.client.config.override.policy.
const (
	producerOverride = "producer.override."
	consumerOverride = "consumer.override."
	overrideLinger   = "linger.ms"
	overrideCompress = "compression.type"
	overrideMaxPoll  = "max.poll.records"
)

// principalOverrides are the keys the Principal policy allows, as in
// Kafka Connect, plus Sluice's simple SASL keys.
var principalOverrides = map[string]bool{kSecurityProtocol: true, kSASLMechanism: true, kSASLJAAS: true,
	kSASLUsername: true, kSASLPassword: true, kSASLTokenFile: true}

// overridable are the security keys a connector may override (the
// password ones are refused anyway: PEM stores have none).
var overridable = []string{kSecurityProtocol, kSASLMechanism, kSASLJAAS, kSASLUsername, kSASLPassword, kSASLTokenFile,
	kSSLTruststoreType, kSSLTruststoreLoc, kSSLTruststoreCert, kSSLKeystoreType, kSSLKeystoreLoc,
	kSSLKeystoreChain, kSSLKeystoreKey, kSSLEndpointAlg}

// clientOverrideDef defines the override keys, so that secrets among them
// are redacted and encrypted like any password.
var clientOverrideDef = func() *config.Def {
	var keys []config.Key
	for _, p := range []string{producerOverride, consumerOverride} {
		client := "producer"
		if p == consumerOverride {
			client = "consumer"
		}
		for _, k := range overridable {
			t := config.String
			if k == kSASLJAAS || k == kSASLPassword || k == kSSLKeystoreKey {
				t = config.Password
			}
			keys = append(keys, config.Key{Name: p + k, Type: t, Default: nil, Importance: config.Low, Group: groupOverrides,
				Doc: fmt.Sprintf("The worker's %s for this connector's %s only (see connector.client.config.override.policy and docs/security.md).", k, client)})
		}
	}
	keys = append(keys,
		config.Key{Name: producerOverride + overrideLinger, Type: config.Long, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.AtLeast(0), Doc: "The worker's producer.linger.ms for this connector's producer only."},
		config.Key{Name: producerOverride + overrideCompress, Type: config.String, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.In("none", "gzip", "snappy", "lz4", "zstd"), Doc: "The worker's producer.compression.type for this connector's producer only."},
		config.Key{Name: consumerOverride + overrideMaxPoll, Type: config.Int, Default: nil, Importance: config.Low, Group: groupOverrides,
			Validator: config.AtLeast(1), Doc: "The worker's consumer.max.poll.records for this connector's consumer only."})
	return config.NewDef(keys...)
}()

const groupOverrides = "Client overrides"

// overrideErrors checks a connector's client overrides against the
// policy and what Sluice applies.
func (h *Herder) overrideErrors(sink bool, cfg map[string]string) map[string][]string {
	errs := map[string][]string{}
	policy := "All"
	if h.worker != nil {
		policy = h.worker.String(config.ClientOverridePolicy)
	}
	own, other, kind := producerOverride, consumerOverride, "source"
	if sink {
		own, other, kind = consumerOverride, producerOverride, "sink"
	}
	for _, k := range overrideKeys(cfg, other) {
		errs[k] = append(errs[k], fmt.Sprintf("a %s connector's tasks have no %s client; remove %s (use %s* instead)", kind, strings.TrimSuffix(other, ".override."), k, own))
	}
	for _, k := range overrideKeys(cfg, own) {
		key := strings.TrimPrefix(k, own)
		if _, ok := clientOverrideDef.Key(k); !ok {
			errs[k] = append(errs[k], fmt.Sprintf("%s is not supported by Sluice; remove it (supported: %s with security.protocol, sasl.*, ssl.* as in docs/security.md, and %s)",
				k, own+"*", strings.Join(overrideKnobs(own), ", ")))
			continue
		}
		switch {
		case strings.EqualFold(policy, "None"):
			errs[k] = append(errs[k], fmt.Sprintf("The 'None' policy does not allow '%s' to be overridden; remove it, or set the worker's %s=All (or Principal for the SASL keys)", key, config.ClientOverridePolicy))
		case strings.EqualFold(policy, "Principal") && !principalOverrides[key]:
			errs[k] = append(errs[k], fmt.Sprintf("The 'Principal' policy does not allow '%s' to be overridden; remove it, or set the worker's %s=All", key, config.ClientOverridePolicy))
		}
	}
	if len(errs) == 0 && h.sec != nil {
		if _, err := h.sec.forConnector(cfg, sink); err != nil {
			errs[""] = append(errs[""], err.Error())
		}
	}
	return errs
}

func overrideKnobs(prefix string) []string {
	if prefix == producerOverride {
		return []string{prefix + overrideLinger, prefix + overrideCompress}
	}
	return []string{prefix + overrideMaxPoll}
}
