// Package kafkasec reads the Kafka client security properties
// (security.protocol, sasl.*, ssl.* in PEM) into franz-go client options,
// for the worker's clients and for clients connectors make themselves,
// and explains authentication and TLS failures.
package kafkasec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// Kafka client security properties (Kafka's names, plus Sluice's simple
// sasl.username, sasl.password and sasl.oauthbearer.token.file). Each may
// be given with a producer., consumer. or admin. prefix for that client
// only, and per connector as producer.override.* or consumer.override.*.
const (
	SecurityProtocol  = "security.protocol"
	SASLMechanism     = "sasl.mechanism"
	SASLJAAS          = "sasl.jaas.config"
	SASLUsername      = "sasl.username"
	SASLPassword      = "sasl.password"
	SASLTokenFile     = "sasl.oauthbearer.token.file"
	SSLTruststoreType = "ssl.truststore.type"
	SSLTruststoreLoc  = "ssl.truststore.location"
	SSLTruststoreCert = "ssl.truststore.certificates"
	SSLTruststorePass = "ssl.truststore.password"
	SSLKeystoreType   = "ssl.keystore.type"
	SSLKeystoreLoc    = "ssl.keystore.location"
	SSLKeystoreChain  = "ssl.keystore.certificate.chain"
	SSLKeystoreKey    = "ssl.keystore.key"
	SSLKeystorePass   = "ssl.keystore.password"
	SSLKeyPass        = "ssl.key.password"
	SSLEndpointAlg    = "ssl.endpoint.identification.algorithm"
)

// Keys are the properties From reads.
var Keys = []string{SecurityProtocol, SASLMechanism, SASLJAAS, SASLUsername, SASLPassword, SASLTokenFile,
	SSLTruststoreType, SSLTruststoreLoc, SSLTruststoreCert, SSLTruststorePass, SSLKeystoreType, SSLKeystoreLoc,
	SSLKeystoreChain, SSLKeystoreKey, SSLKeystorePass, SSLKeyPass, SSLEndpointAlg}

// Layer is a set of properties read under a prefix; layers are
// looked up in order and the first that has a key wins.
type Layer struct {
	Props  map[string]string
	Prefix string
}

// Security is what a Kafka client's security properties give.
type Security struct {
	// Opts are the client options: TLS dialing and SASL.
	Opts []kgo.Opt
	// Protocol is security.protocol, upper case; Mechanism the SASL
	// mechanism ("" without SASL).
	Protocol, Mechanism string
	// User is the SASL user name ("" without SASL or with OAUTHBEARER),
	// for messages about authentication and ACLs.
	User string
	// ProtocolName and CredsName are the properties that gave the
	// protocol and the credentials, for messages.
	ProtocolName, CredsName string
}

// Principal is the user's Kafka principal, or a description when the
// user name is not known.
func (s *Security) Principal() string {
	if s.User != "" {
		return "User:" + s.User
	}
	if s.Mechanism == "OAUTHBEARER" {
		return "the principal of the OAUTHBEARER token"
	}
	return "User:ANONYMOUS"
}

// From builds a client's security options from layers (for
// example the producer.* properties, then the unprefixed ones). Errors
// name the property as written and never show a secret.
func From(layers ...Layer) (*Security, error) {
	get := func(key string) (string, string) {
		for _, l := range layers {
			if v, ok := l.Props[l.Prefix+key]; ok {
				return strings.TrimSpace(v), l.Prefix + key
			}
		}
		return "", key
	}
	has := func(key string) bool {
		for _, l := range layers {
			if _, ok := l.Props[l.Prefix+key]; ok {
				return true
			}
		}
		return false
	}
	s := &Security{}
	proto, protoName := get(SecurityProtocol)
	s.ProtocolName = protoName
	s.Protocol = strings.ToUpper(proto)
	if s.Protocol == "" {
		s.Protocol = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch s.Protocol {
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
		s.Opts = append(s.Opts, kgo.DialTLSConfig(tc))
	}
	if !useSASL {
		// Kafka ignores them; a credential silently unused would hide a
		// mistaken security.protocol.
		// Only credentials given at least as specifically as the
		// protocol: consumer.security.protocol=SSL may leave the
		// unprefixed SASL settings to the other clients.
		layerOf := func(key string) int {
			for i, l := range layers {
				if _, ok := l.Props[l.Prefix+key]; ok {
					return i
				}
			}
			return len(layers)
		}
		for _, k := range []string{SASLMechanism, SASLJAAS, SASLUsername, SASLPassword, SASLTokenFile} {
			if v, name := get(k); v != "" && layerOf(k) <= layerOf(SecurityProtocol) {
				return nil, fmt.Errorf("%s is set but %s=%s uses no SASL; set %s=SASL_PLAINTEXT or SASL_SSL, or remove %s",
					name, protoName, s.Protocol, protoName, name)
			}
		}
	}
	if useSASL {
		m, err := kafkaSASL(get, s)
		if err != nil {
			return nil, err
		}
		s.Opts = append(s.Opts, kgo.SASL(m))
	}
	return s, nil
}

// brokerCAHint is the fix for a truststore without a usable certificate.
const brokerCAHint = "give the CA certificates that sign the brokers' certificates"

// kafkaTLS reads the PEM trust and key stores.
func kafkaTLS(get func(string) (string, string), has func(string) bool) (*tls.Config, error) {
	for _, k := range []string{SSLKeystorePass, SSLKeyPass, SSLTruststorePass} {
		if v, name := get(k); v != "" {
			return nil, fmt.Errorf("%s: PEM stores have no password and encrypted private keys are not supported; remove %s and give an unencrypted PEM key readable only by the worker", name, name)
		}
	}
	for _, k := range []string{SSLKeystoreType, SSLTruststoreType} {
		if v, name := get(k); v != "" && !strings.EqualFold(v, "PEM") {
			return nil, fmt.Errorf("%s=%s: only PEM is supported (JKS and PKCS12 are not); convert the store to PEM (keytool -importkeystore -deststoretype PKCS12, then openssl pkcs12 -nodes) and set %s=PEM", name, v, name)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	tloc, tlocName := get(SSLTruststoreLoc)
	tcerts, tcertsName := get(SSLTruststoreCert)
	switch {
	case tloc != "" && tcerts != "":
		return nil, fmt.Errorf("%s and %s are both set; give the brokers' CA certificates one way", tlocName, tcertsName)
	case tloc != "":
		pool, err := pemfile.CertPool(pemfile.File(tlocName, tloc), brokerCAHint)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	case tcerts != "":
		pool, err := pemfile.CertPool(pemfile.Inline(tcertsName, tcerts), brokerCAHint)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	loc, locName := get(SSLKeystoreLoc)
	chain, chainName := get(SSLKeystoreChain)
	key, keyName := get(SSLKeystoreKey)
	switch {
	case loc != "" && (chain != "" || key != ""):
		return nil, fmt.Errorf("%s and %s/%s are both set; give the client certificate and key either in a file or inline, not both", locName, chainName, keyName)
	case loc != "":
		src := pemfile.File(locName, loc)
		cert, err := pemfile.KeyPair(src, src, "the file must hold the client's PEM certificate chain and its unencrypted PEM private key")
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	case chain != "" || key != "":
		if chain == "" || key == "" {
			return nil, fmt.Errorf("%s and %s must be set together (the client's PEM certificate chain and its PEM private key)", chainName, keyName)
		}
		cert, err := pemfile.KeyPair(pemfile.Inline(chainName, chain), pemfile.Inline(keyName, key), "give the client's PEM certificate chain and its unencrypted PEM private key")
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	alg, algName := get(SSLEndpointAlg)
	switch {
	case !has(SSLEndpointAlg) || strings.EqualFold(alg, "https"):
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

// kafkaSASL reads the SASL mechanism and credentials.
func kafkaSASL(get func(string) (string, string), s *Security) (sasl.Mechanism, error) {
	mech, mechName := get(SASLMechanism)
	s.Mechanism = strings.ToUpper(mech)
	if s.Mechanism == "" {
		s.Mechanism = "GSSAPI" // Kafka's default
	}
	jaas, jaasName := get(SASLJAAS)
	user, userName := get(SASLUsername)
	pass, passName := get(SASLPassword)
	tokenFile, tokenName := get(SASLTokenFile)
	switch s.Mechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if tokenFile != "" {
			return nil, fmt.Errorf("%s is for sasl.mechanism=OAUTHBEARER, but %s=%s; remove it", tokenName, mechName, s.Mechanism)
		}
		wantModule := "org.apache.kafka.common.security.plain.PlainLoginModule"
		if s.Mechanism != "PLAIN" {
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
				return nil, fmt.Errorf("%s: login module %s does not go with %s=%s; use %s", jaasName, module, mechName, s.Mechanism, wantModule)
			}
			user, pass = opts["username"], opts["password"]
			if user == "" || pass == "" {
				return nil, fmt.Errorf("%s: username and password are both needed; write it as %s required username=\"USER\" password=\"PASSWORD\";", jaasName, wantModule)
			}
			s.CredsName = jaasName
		case user != "" && pass != "":
			s.CredsName = userName + "/" + passName
		default:
			return nil, fmt.Errorf("%s=%s needs credentials: set %s (a %s) or %s and %s", mechName, s.Mechanism, jaasName, wantModule, userName, passName)
		}
		s.User = user
		if s.Mechanism == "PLAIN" {
			return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
		}
		a := scram.Auth{User: user, Pass: pass}
		if s.Mechanism == "SCRAM-SHA-256" {
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
		s.CredsName = tokenName
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
		return "", nil, errors.New("the login module must be followed by the control flag required")
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

// Explain turns an authentication or TLS failure of a client
// into a message naming what to fix; other errors are returned as they
// are. what names the client ("the worker's admin client").
func Explain(err error, s *Security, servers []string) error {
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
		return fmt.Errorf("the broker at %s refused the SASL %s login of %s: %w; the user name or password is wrong: check %s (and that the user exists for sasl.mechanism=%s)",
			addr, s.Mechanism, s.Principal(), err, s.CredsName, s.Mechanism)
	case s.Mechanism != "" && errors.Is(err, io.EOF):
		// Some brokers (kfake, older Kafka) close the connection on a
		// failed login instead of answering SASL_AUTHENTICATION_FAILED.
		return fmt.Errorf("the broker at %s closed the connection at the SASL %s login of %s (%w): the user name or password is probably wrong, "+
			"or the user does not exist for this mechanism; check %s and sasl.mechanism", addr, s.Mechanism, s.Principal(), err, s.CredsName)
	case errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		return fmt.Errorf("the broker at %s does not accept sasl.mechanism=%s: %w; set sasl.mechanism to one its listener enables", addr, s.Mechanism, err)
	case errors.As(err, &he):
		return fmt.Errorf("TLS: the certificate of the broker at %s does not name that host: %v; connect to a host name the certificate names, "+
			"or set ssl.endpoint.identification.algorithm= (empty) to skip the host name check", addr, he)
	case errors.As(err, &ua), errors.As(err, &ci), errors.As(err, &cv):
		return fmt.Errorf("TLS: the certificate of the broker at %s could not be verified: %v; set ssl.truststore.location (or ssl.truststore.certificates) to the PEM CA certificate that signed it", addr, err)
	case clientCertRefused(err):
		return fmt.Errorf("TLS: the broker at %s refused the worker's client certificate (%v); it requires one signed by a CA it trusts: "+
			"set ssl.keystore.location (a PEM file with the certificate chain and unencrypted key), or ssl.keystore.certificate.chain and ssl.keystore.key", addr, err)
	case errors.As(err, &rh):
		return fmt.Errorf("TLS: the broker at %s did not answer in TLS (%v); is its listener plaintext? Set %s to PLAINTEXT or SASL_PLAINTEXT, or point bootstrap.servers at its TLS listener", addr, err, s.ProtocolName)
	case errors.As(err, &eof) && (s.Protocol == "PLAINTEXT" || s.Protocol == "SSL"):
		return fmt.Errorf("the broker at %s closed the connection at once (%v): it probably requires SASL; set %s=SASL_PLAINTEXT or SASL_SSL with sasl.mechanism and credentials", addr, err, s.ProtocolName)
	}
	return err
}

// clientCertRefused says whether err is the broker's TLS alert refusing
// the client's certificate (or its absence). crypto/tls reports remote
// alerts as an unexported type, so the text is matched.
func clientCertRefused(err error) bool {
	msg := err.Error()
	for _, a := range []string{"remote error: tls: certificate required", "remote error: tls: bad certificate",
		"remote error: tls: unknown certificate authority"} {
		if strings.Contains(msg, a) {
			return true
		}
	}
	return false
}
