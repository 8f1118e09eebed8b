package rest

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// AnyHost, as the only entry of rest.allowed.hosts, turns the Host and
// Origin checks off (for a worker behind a proxy that rewrites Host).
const AnyHost = "*"

// The allowed names are not listed in refusals: a DNS-rebinding page
// can read them, and they include the machine's addresses.

// hostSet is the names a worker answers to, lower case, without ports or
// IPv6 brackets. nil allows any host.
type hostSet map[string]bool

func newHostSet(hosts []string) hostSet {
	if len(hosts) == 0 {
		return nil
	}
	s := hostSet{}
	for _, h := range hosts {
		h = normalizeHost(h)
		if h == AnyHost {
			return nil
		}
		if h != "" {
			s[h] = true
		}
	}
	return s
}

func (s hostSet) names() string {
	l := make([]string, 0, len(s))
	for h := range s {
		l = append(l, h)
	}
	sort.Strings(l)
	return strings.Join(l, ",")
}

// normalizeHost turns "Example.COM.:8083", "[::1]:8083" or "::1" into
// "example.com" or "::1".
func normalizeHost(h string) string {
	h = strings.TrimSpace(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// DefaultAllowedHosts is rest.allowed.hosts when it is not set, for a
// listener on host (the host of listeners=http://host:port): host itself,
// plus, when host is a loopback address or localhost, every loopback name;
// and when host is a wildcard address (empty, 0.0.0.0 or ::), the
// loopback names, the machine's host name and every address of its
// interfaces.
func DefaultAllowedHosts(host string) []string {
	host = normalizeHost(host)
	loopback := []string{"localhost", "127.0.0.1", "::1"}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		out := loopback
		if name, err := os.Hostname(); err == nil && name != "" {
			out = append(out, name)
		}
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					out = append(out, n.IP.String())
				}
			}
		}
		return out
	case host == "localhost" || (ip != nil && ip.IsLoopback()):
		return append([]string{host}, loopback...)
	}
	return []string{host}
}

// checkHost refuses a request whose Host is not one of the worker's
// names (421: a DNS-rebinding page reaches the worker under the
// attacker's name) or whose Origin names another host (403: a page of
// another site is calling).
func (s *Server) checkHost(r *http.Request) error {
	if s.allowedHosts == nil {
		return nil
	}
	if h := normalizeHost(r.Host); !s.allowedHosts[h] {
		return api.Errorf(http.StatusMisdirectedRequest,
			"Host %q is not one of this worker's names; call the worker by a name in rest.allowed.hosts (the worker logs them at start), or add this one there",
			r.Host)
	}
	origins := r.Header.Values("Origin")
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || !s.allowedHosts[normalizeHost(u.Host)] {
			return api.Errorf(http.StatusForbidden,
				"Origin %q is not one of this worker's names: requests from other sites' pages are refused; add its host to rest.allowed.hosts if that site may drive the worker",
				o)
		}
	}
	return nil
}

// checkContentType answers 415 to a write with a body that is not JSON:
// a browser sends text/plain, form and multipart bodies to another site
// without asking (no CORS preflight), so only JSON bodies are accepted.
// application/json and application/*+json are JSON, with any parameters.
func checkContentType(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	if r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))) {
		return nil
	}
	if ct == "" {
		ct = "none"
	} else {
		ct = fmt.Sprintf("%q", ct)
	}
	return api.Errorf(http.StatusUnsupportedMediaType,
		"HTTP 415 Unsupported Media Type: %s %s with Content-Type %s; send the body as JSON with Content-Type: application/json",
		r.Method, r.URL.Path, ct)
}
