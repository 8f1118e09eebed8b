package rest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
)

// Forwarding, as Kafka Connect's HerderRequestHandler does it: a request
// whose herder call ends in *api.NotLeaderError or *api.NotOwnerError is
// sent again, unchanged, to the worker the error names, and that
// worker's answer is relayed. The query parameter ForwardParam marks a
// forwarded request and bounds the hops:
//
//   - absent: the request comes from a client; it may be forwarded with
//     forward=true.
//   - forward=true: it was forwarded once (a follower sent it to the
//     leader); it may be forwarded once more, with forward=false (the
//     leader sends a restart on to the worker that runs the instance).
//   - forward=false: it is never forwarded again; a worker that cannot
//     complete it answers 409 ConflictMessage.
//
// So a request makes at most two hops, whatever the workers believe
// about each other, and a Connect worker in the same pool understands
// the marks Sluice sets and the reverse.

// ForwardParam is the query parameter that marks a forwarded request.
const ForwardParam = "forward"

// ConflictMessage answers a forwarded request that reached a worker that
// cannot complete it either: the pool changed between the hops.
const ConflictMessage = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"

// forwardedHeaders are the request headers sent on with a forwarded
// request: the body's type, what the client accepts, the client's
// credentials, and the signature of an internal request (the body is
// sent byte for byte, so the signature still holds).
var forwardedHeaders = []string{"Content-Type", "Accept", "Authorization", sign.SignatureHeader, sign.AlgorithmHeader}

// relayedHeaders are the response headers relayed to the client.
var relayedHeaders = []string{"Content-Type", "Location", "WWW-Authenticate"}

// WithForwardingTLS sets the TLS config of the client that forwards
// requests to https workers of the pool (usually the CA that signed the
// workers' certificates and, when the workers ask for client
// certificates, this worker's own). nil trusts the system roots. It is
// ignored when WithForwardingClient is given.
func WithForwardingTLS(cfg *tls.Config) Option {
	return func(s *Server) { s.forwardTLS = cfg }
}

// WithForwardingClient forwards requests with c instead of a client made
// from WithForwardingTLS (for tests). c should not follow redirects: a
// redirect is relayed, not followed, by the default client.
func WithForwardingClient(c *http.Client) Option {
	return func(s *Server) { s.forwardClient = c }
}

// newForwardingClient is the default forwarding client: no timeout of
// its own (the request's context bounds each call) and no redirects.
func newForwardingClient(cfg *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		t.TLSClientConfig = cfg.Clone()
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// bufferBody reads r's body once, at most s.maxBodyBytes of it, so that
// the handler can read it and a forward can send it again: r.Body reads
// the buffer and r.GetBody returns new readers of it.
func (s *Server) bufferBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBodyBytes))
	if err != nil {
		return bodyReadError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return nil
}

// bodyReadError turns a failed body read into a 413 or a 400.
func bodyReadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return api.Errorf(http.StatusRequestEntityTooLarge,
			"request body is larger than the %d-byte limit; send a smaller body", tooBig.Limit)
	}
	return api.BadRequest("reading the request body: %v", err)
}

// redirect handles an error that names another worker: it forwards r
// there, or answers the 409 that says why it cannot. It reports whether
// err was such an error.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, err error) bool {
	var (
		nl     *api.NotLeaderError
		no     *api.NotOwnerError
		target string
		whom   string
	)
	switch {
	case errors.As(err, &nl):
		target, whom = nl.LeaderURL, "the leader"
	case errors.As(err, &no):
		target, whom = no.OwnerURL, "the worker running "+no.What
	default:
		return false
	}
	next, perr := nextHop(r)
	switch {
	case perr != nil:
		s.respondError(w, r, perr)
	case next == "":
		// Already forwarded as far as it may go.
		s.respondError(w, r, &api.Error{Status: http.StatusConflict, Message: ConflictMessage, Err: err})
	case target == "":
		s.respondError(w, r, err)
	default:
		s.forward(w, r, target, whom, next)
	}
	return true
}

// nextHop returns the ForwardParam value to forward r with, or "" when r
// may not be forwarded again.
func nextHop(r *http.Request) (string, error) {
	vals, ok := r.URL.Query()[ForwardParam]
	if !ok {
		return "true", nil
	}
	v := ""
	if len(vals) > 0 {
		v = vals[0]
	}
	switch strings.ToLower(v) {
	case "true":
		return "false", nil
	case "false":
		return "", nil
	}
	return "", api.BadRequest("query parameter %s=%q: must be true or false; workers set it when they forward a request, so leave it out",
		ForwardParam, v)
}

// forward sends r to the worker at target (whom describes it) with
// ForwardParam=next and relays the answer.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, target, whom, next string) {
	dest, err := forwardURL(target, r.URL, next)
	if err != nil {
		s.respondError(w, r, fmt.Errorf("cannot forward %s %s to %s: %w", r.Method, r.URL.Path, whom, err))
		return
	}
	var body io.Reader
	if r.GetBody != nil && r.ContentLength > 0 {
		rc, err := r.GetBody()
		if err != nil {
			s.respondError(w, r, fmt.Errorf("forwarding %s %s: rereading the request body: %w", r.Method, r.URL.Path, err))
			return
		}
		defer rc.Close()
		body = rc
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, dest, body)
	if err != nil {
		s.respondError(w, r, fmt.Errorf("forwarding %s %s to %s at %s: %w", r.Method, r.URL.Path, whom, target, err))
		return
	}
	if body != nil {
		// Known, so the body is not sent chunked.
		req.ContentLength = r.ContentLength
	}
	for _, h := range forwardedHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[http.CanonicalHeaderKey(h)] = append([]string(nil), v...)
		}
	}
	s.logger.Debug("forwarding rest request", "method", r.Method, "path", r.URL.Path, "to", target, "forward", next)
	resp, err := s.forwardClient.Do(req)
	if err != nil {
		msg := fmt.Sprintf("forwarding %s %s to %s at %s", r.Method, r.URL.Path, whom, target)
		if r.Context().Err() != nil {
			// errorStatus makes it Connect's 500 "Request timed out".
			s.respondError(w, r, fmt.Errorf("%s: %w", msg, err))
			return
		}
		s.respondError(w, r, &api.Error{Status: http.StatusServiceUnavailable, Err: err,
			Message: fmt.Sprintf("%s: %v; check that this worker can reach %s (the URL the worker advertises to its pool), or retry once the pool has settled",
				msg, unwrapURLError(err), target)})
		return
	}
	defer resp.Body.Close()
	for _, h := range relayedHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			w.Header()[http.CanonicalHeaderKey(h)] = append([]string(nil), v...)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		// The status is written; all that is left is to say so.
		s.logger.Warn("relaying a forwarded request's answer was cut short", "method", r.Method, "path", r.URL.Path,
			"to", target, "error", err)
	}
}

// forwardURL is target (a worker's base URL) with r's path and query,
// ForwardParam set to next.
func forwardURL(target string, r *url.URL, next string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("the pool names it %q, which is not an http:// or https:// base URL; check the listeners and rest.advertised.* settings of that worker", target)
	}
	q := r.Query()
	q.Set(ForwardParam, next)
	return strings.TrimRight(target, "/") + r.EscapedPath() + "?" + q.Encode(), nil
}

// unwrapURLError drops the "Post \"url\":" prefix of a client error, the
// message already names the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
