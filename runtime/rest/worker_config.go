package rest

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/config"
)

// Listener is the worker's REST listener and the options that secure it,
// as the worker config says.
type Listener struct {
	// Scheme is http or https.
	Scheme string
	// Addr is host:port to listen on.
	Addr string
	// Options are the Server options for allowed hosts, authentication
	// and TLS.
	Options []Option
	// ClientTLS is how this worker calls the other workers of its pool
	// over https (forwarded requests, task configs): it presents the
	// listener's certificate and trusts the listener's truststore (the
	// system's CAs when none is set). nil for an http listener.
	ClientTLS *tls.Config
}

// ListenerFromConfig reads listeners, rest.allowed.hosts, rest.auth.*
// and the TLS properties of cfg, reading the credential and PEM files.
// It logs a warning when the API is open (no authentication) on an
// address other than loopback. Errors name the property and the fix.
func ListenerFromConfig(cfg *config.Worker, logger *slog.Logger) (*Listener, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ls := cfg.Values.List(config.Listeners)
	if len(ls) == 0 {
		ls = []string{config.DefaultWorkerListener}
	}
	u, err := url.Parse(ls[0])
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%s %q: expected http://host:port or https://host:port", config.Listeners, ls[0])
	}
	l := &Listener{Scheme: strings.ToLower(u.Scheme), Addr: u.Host}
	if l.Scheme != "http" && l.Scheme != "https" {
		return nil, fmt.Errorf("%s %q: the scheme must be http or https", config.Listeners, ls[0])
	}

	// Kafka Connect properties whose job Sluice does differently: set and
	// ignored they would leave the API open while the operator believes
	// it is protected (or a browser UI broken for no stated reason).
	for _, k := range []struct{ name, instead string }{
		{"rest.extension.classes", "Sluice has no REST extensions; for basic authentication set rest.auth.basic.file (docs/security.md)"},
		{"access.control.allow.origin", "Sluice answers no CORS requests and refuses requests from other origins; serve the UI from behind the same host name, listed in rest.allowed.hosts"},
		{"access.control.allow.methods", "Sluice answers no CORS requests and refuses requests from other origins; serve the UI from behind the same host name, listed in rest.allowed.hosts"},
	} {
		if v := cfg.Props[k.name]; v != "" {
			return nil, fmt.Errorf("%s is set, but %s; remove %s", k.name, k.instead, k.name)
		}
	}

	hosts := cfg.Values.List(config.RESTAllowedHosts)
	if len(hosts) == 0 {
		hosts = DefaultAllowedHosts(u.Hostname())
	}
	l.Options = append(l.Options, WithAllowedHosts(hosts))
	if set := newHostSet(hosts); set == nil {
		logger.Warn("the REST API answers to any Host and Origin (rest.allowed.hosts=*): it relies on a proxy in front of it to refuse other sites' requests")
	} else {
		logger.Info("the REST API answers to these host names only (rest.allowed.hosts)", "allowed_hosts", set.names())
	}

	roles, err := parseCertRoles(cfg.Values.List(config.RESTAuthCertRoles))
	if err != nil {
		return nil, err
	}
	if l.Scheme == "https" {
		tc, err := TLSConfig(cfg.Props)
		if err != nil {
			return nil, err
		}
		if len(roles) > 0 && tc.ClientCAs == nil {
			return nil, fmt.Errorf("%s is set but the https listener asks for no client certificate; set %s=requested (or required) and %s",
				config.RESTAuthCertRoles, config.SSLClientAuthentication, config.SSLTruststoreLocation)
		}
		l.Options = append(l.Options, WithTLS(tc))
		l.ClientTLS = &tls.Config{Certificates: tc.Certificates, RootCAs: tc.ClientCAs, MinVersion: tls.VersionTLS12}
	} else {
		if len(roles) > 0 {
			return nil, fmt.Errorf("%s needs an https listener with client certificates; set listeners=https://%s and the ssl.* properties",
				config.RESTAuthCertRoles, u.Host)
		}
		for k := range cfg.Props {
			if strings.HasPrefix(k, HTTPSPrefix) {
				return nil, fmt.Errorf("%s is set but %s=%s is not https; use https://%s or remove the listeners.https.* properties",
					k, config.Listeners, ls[0], u.Host)
			}
		}
	}

	auth, err := LoadAuth(AuthConfig{
		BasicFile:  cfg.String(config.RESTAuthBasicFile),
		TokensFile: cfg.String(config.RESTAuthTokensFile),
		CertRoles:  roles,
	})
	if err != nil {
		return nil, err
	}
	if auth != nil {
		l.Options = append(l.Options, WithAuth(auth))
	} else if !isLoopback(u.Hostname()) {
		logger.Warn("the REST API has no authentication and listens on a non-loopback address: anyone who can reach it can read and change connectors; set rest.auth.basic.file, rest.auth.bearer.tokens.file or rest.auth.client.cert.roles (docs/security.md)",
			"listeners", ls[0])
	}
	return l, nil
}

// parseCertRoles parses CN=role entries.
func parseCertRoles(entries []string) (map[string]Role, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	m := map[string]Role{}
	for _, e := range entries {
		i := strings.LastIndex(e, "=")
		if i <= 0 {
			return nil, fmt.Errorf("%s entry %q: expected CN=role (role admin or read-only)", config.RESTAuthCertRoles, e)
		}
		role, err := ParseRole(e[i+1:])
		if err != nil {
			return nil, fmt.Errorf("%s entry %q: %w", config.RESTAuthCertRoles, e, err)
		}
		m[strings.TrimSpace(e[:i])] = role
	}
	return m, nil
}

func isLoopback(host string) bool {
	host = normalizeHost(host)
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
