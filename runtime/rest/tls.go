package rest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// HTTPSPrefix is the prefix of the https listener's own TLS properties,
// as in Kafka Connect.
const HTTPSPrefix = "listeners.https."

// TLS properties of the https listener (Kafka's names; PEM only).
const (
	SSLKeystoreType     = "ssl.keystore.type"
	SSLKeystoreLocation = "ssl.keystore.location"
	SSLKeystoreChain    = "ssl.keystore.certificate.chain"
	SSLKeystoreKey      = "ssl.keystore.key"
	SSLKeystorePassword = "ssl.keystore.password"
	SSLKeyPassword      = "ssl.key.password"
	SSLTruststoreType   = "ssl.truststore.type"
	SSLTruststoreLoc    = "ssl.truststore.location"
	SSLTruststoreCerts  = "ssl.truststore.certificates"
	SSLTruststorePass   = "ssl.truststore.password"
	SSLClientAuth       = "ssl.client.authentication"
)

var supportedSSL = map[string]bool{
	SSLKeystoreType: true, SSLKeystoreLocation: true, SSLKeystoreChain: true, SSLKeystoreKey: true,
	SSLKeystorePassword: true, SSLKeyPassword: true, SSLTruststoreType: true, SSLTruststoreLoc: true,
	SSLTruststoreCerts: true, SSLTruststorePass: true, SSLClientAuth: true,
}

// TLSConfig builds the https listener's TLS config from the worker's
// properties. As in Kafka Connect, when any listeners.https.ssl.*
// property is set only those are used; otherwise the unprefixed ssl.*
// ones are. Key and trust stores are PEM: a file with the certificate
// chain and the unencrypted private key (ssl.keystore.location), or both
// inline (ssl.keystore.certificate.chain and ssl.keystore.key); trusted
// client CAs in ssl.truststore.location or ssl.truststore.certificates.
// Errors name the property and never show its value.
func TLSConfig(props map[string]string) (*tls.Config, error) {
	prefix := ""
	var unknown []string
	for k := range props {
		if rest, ok := strings.CutPrefix(k, HTTPSPrefix); ok {
			prefix = HTTPSPrefix
			if !supportedSSL[rest] {
				unknown = append(unknown, k)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("%s: not supported by Sluice's https listener; remove it (supported: %s%s, %s, %s and %s, PEM only)",
			strings.Join(unknown, ", "), HTTPSPrefix, "ssl.keystore.{type,location,certificate.chain,key}",
			"ssl.truststore.{type,location,certificates}", SSLClientAuth, "no passwords")
	}
	get := func(key string) (string, string) {
		return props[prefix+key], prefix + key
	}
	for _, k := range []string{SSLKeystorePassword, SSLKeyPassword, SSLTruststorePass} {
		if v, name := get(k); v != "" {
			return nil, fmt.Errorf("%s: PEM stores have no password and encrypted private keys are not supported; remove %s and give an unencrypted PEM key readable only by the worker", name, name)
		}
	}
	for _, k := range []string{SSLKeystoreType, SSLTruststoreType} {
		if v, name := get(k); v != "" && !strings.EqualFold(v, "PEM") {
			return nil, fmt.Errorf("%s=%s: only PEM is supported; convert the store to PEM (openssl pkcs12 -in store.p12 -nodes) and set %s=PEM", name, v, name)
		}
	}

	loc, locName := get(SSLKeystoreLocation)
	chain, chainName := get(SSLKeystoreChain)
	key, keyName := get(SSLKeystoreKey)
	var cert tls.Certificate
	var err error
	switch {
	case loc != "" && (chain != "" || key != ""):
		return nil, fmt.Errorf("%s and %s/%s are both set; give the certificate and key either in a file or inline, not both", locName, chainName, keyName)
	case loc != "":
		src := pemfile.File(locName, loc)
		if cert, err = pemfile.KeyPair(src, src, "the file must hold the PEM certificate chain (server certificate first) and its unencrypted PEM private key"); err != nil {
			return nil, err
		}
	case chain != "" || key != "":
		if chain == "" || key == "" {
			return nil, fmt.Errorf("%s and %s must be set together (the PEM certificate chain and its PEM private key)", chainName, keyName)
		}
		if cert, err = pemfile.KeyPair(pemfile.Inline(chainName, chain), pemfile.Inline(keyName, key), "give the PEM certificate chain and its unencrypted PEM private key"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("an https listener needs a certificate: set %s to a PEM file with the certificate chain and private key, or %s and %s inline",
			prefix+SSLKeystoreLocation, prefix+SSLKeystoreChain, prefix+SSLKeystoreKey)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	tloc, tlocName := get(SSLTruststoreLoc)
	tcerts, tcertsName := get(SSLTruststoreCerts)
	var pool *x509.CertPool
	switch {
	case tloc != "" && tcerts != "":
		return nil, fmt.Errorf("%s and %s are both set; give the trusted certificates one way", tlocName, tcertsName)
	case tloc != "":
		if pool, err = pemfile.CertPool(pemfile.File(tlocName, tloc), caHint); err != nil {
			return nil, err
		}
	case tcerts != "":
		if pool, err = pemfile.CertPool(pemfile.Inline(tcertsName, tcerts), caHint); err != nil {
			return nil, err
		}
	}
	mode, modeName := get(SSLClientAuth)
	switch strings.ToLower(mode) {
	case "", "none":
	case "requested", "required":
		if pool == nil {
			return nil, fmt.Errorf("%s=%s needs the CAs of client certificates: set %s (a PEM file) or %s", modeName, mode,
				prefix+SSLTruststoreLoc, prefix+SSLTruststoreCerts)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if strings.EqualFold(mode, "required") {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	default:
		return nil, fmt.Errorf("%s=%s: must be none, requested or required", modeName, mode)
	}
	if pool != nil && cfg.ClientCAs == nil {
		return nil, fmt.Errorf("%s is set but %s is none, so no client certificate would be asked for; set %s=requested or required, or remove the truststore",
			firstSet(tlocName, tloc, tcertsName), modeName, modeName)
	}
	return cfg, nil
}

// caHint is the fix for a truststore without a usable certificate.
const caHint = "give the CA certificates that sign client certificates"

func firstSet(name1, v1, name2 string) string {
	if v1 != "" {
		return name1
	}
	return name2
}
