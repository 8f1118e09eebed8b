// Package rest serves the worker's Kafka Connect compatible REST API: the
// same paths, JSON shapes and status codes as Kafka Connect 3.x/4.x, plus
// Sluice's own /sluice/... endpoints. It is only the HTTP layer: every
// request is decoded, handed to an api.Herder, and the result or error is
// written back. Errors always have Connect's shape,
// {"error_code": <status>, "message": "..."}.
//
// Before a request is routed it must pass the checks of Server.gate: its
// Host and Origin must be the worker's (rest.allowed.hosts), its
// credentials valid for its method when authentication is configured,
// and a write's body JSON (docs/security.md).
//
// In a pool of workers, a request the herder says another worker must
// complete is forwarded there and the answer relayed (forward.go); the
// pool's signed internal endpoints are served with WithInternal
// (internal.go). docs/rest-api.md describes both.
//
// A Server is safe for concurrent use. Request bodies are never logged:
// connector configs hold secrets.
package rest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// Defaults for the options.
const (
	// DefaultRequestTimeout bounds every request, as Kafka Connect's
	// RestServer.DEFAULT_REST_REQUEST_TIMEOUT_MS does.
	DefaultRequestTimeout = 90 * time.Second
	// DefaultMaxBodyBytes bounds a request body; a larger one gets 413.
	DefaultMaxBodyBytes int64 = 10 << 20
	// DefaultShutdownTimeout is how long Serve waits for in-flight
	// requests when its context ends before it closes their connections.
	DefaultShutdownTimeout = 30 * time.Second
)

// Option configures a Server.
type Option func(*Server)

// WithRequestTimeout sets the deadline of the context every handler
// passes to the herder (default DefaultRequestTimeout). A herder call
// that fails because the deadline passed answers 500 "Request timed out",
// as Connect does. d <= 0 keeps the default.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.requestTimeout = d
		}
	}
}

// WithMaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes);
// a larger body is answered 413. n <= 0 keeps the default.
func WithMaxBodyBytes(n int64) Option {
	return func(s *Server) {
		if n > 0 {
			s.maxBodyBytes = n
		}
	}
}

// WithShutdownTimeout sets how long Serve lets in-flight requests finish
// after its context is done (default DefaultShutdownTimeout). d <= 0
// keeps the default.
func WithShutdownTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.shutdownTimeout = d
		}
	}
}

// WithHandler serves h for a net/http ServeMux pattern (such as
// "GET /metrics" or "/schemas/") next to the Connect API, with the same
// request logging, timeout and JSON 404/405 answers. New panics if the
// pattern is invalid or conflicts with a Connect route, as
// http.ServeMux.Handle does.
func WithHandler(pattern string, h http.Handler) Option {
	return func(s *Server) { s.extra = append(s.extra, route{pattern, h}) }
}

// WithAllowedHosts refuses requests whose Host, or Origin when present,
// is not one of hosts (rest.allowed.hosts): 421 for a foreign Host, 403
// for a foreign Origin. Host names compare without ports and case. Empty
// hosts, or the single entry "*", turns the check off.
func WithAllowedHosts(hosts []string) Option {
	return func(s *Server) { s.allowedHosts = newHostSet(hosts) }
}

// WithAuth requires every request but the health probes to authenticate
// with a, and lets read-only callers only read. nil keeps the API open.
func WithAuth(a *Auth) Option {
	return func(s *Server) { s.auth = a }
}

// WithTLS makes Serve speak HTTPS with cfg (see TLSConfig).
func WithTLS(cfg *tls.Config) Option {
	return func(s *Server) { s.tls = cfg }
}

type route struct {
	pattern string
	h       http.Handler
}

// Server is the REST API. Create it with New; it is an http.Handler.
type Server struct {
	herder          api.Herder
	logger          *slog.Logger
	mux             *http.ServeMux
	requestTimeout  time.Duration
	maxBodyBytes    int64
	shutdownTimeout time.Duration
	extra           []route
	allowedHosts    hostSet
	auth            *Auth
	tls             *tls.Config
	forwardTLS      *tls.Config
	forwardClient   *http.Client
	internal        *internalEndpoints
}

// New returns the REST API for h. logger receives one debug line per
// request (method, path, status, duration) and a warning for each 5xx;
// nil discards them.
func New(h api.Herder, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		herder:          h,
		logger:          logger,
		mux:             http.NewServeMux(),
		requestTimeout:  DefaultRequestTimeout,
		maxBodyBytes:    DefaultMaxBodyBytes,
		shutdownTimeout: DefaultShutdownTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	if s.forwardClient == nil {
		s.forwardClient = newForwardingClient(s.forwardTLS)
	}
	s.routes()
	for _, r := range s.extra {
		s.mux.Handle(r.pattern, r.h)
	}
	return s
}

// Handler returns s as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP routes r, bounds it with the request timeout and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	ctx, cancel := context.WithTimeout(r.Context(), s.requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)

	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			// A bug in a handler or the herder: answer Connect's 500
			// rather than dropping the connection. The panic value may
			// quote the request (a connector config), so URL
			// credentials in it are hidden; the stack holds no string
			// contents, only addresses.
			path, pv := config.RedactText(r.URL.Path), config.RedactText(fmt.Sprint(p))
			s.logger.Error("rest handler panicked", "method", r.Method, "path", path,
				"panic", pv, "stack", string(debug.Stack()))
			if rec.code == 0 {
				s.writeError(rec, r, fmt.Errorf("internal error handling %s %s: %s", r.Method, path, pv))
			}
		}
		s.logger.Debug("rest request", "method", r.Method, "path", r.URL.Path,
			"status", rec.status(), "duration", time.Since(start))
	}()
	if err := s.gate(rec, r); err != nil {
		s.writeError(rec, r, err)
		return
	}
	if err := s.bufferBody(rec, r); err != nil {
		s.writeError(rec, r, err)
		return
	}
	if h, pattern := s.mux.Handler(r); pattern == "" {
		// No route: the mux's own 404, 405 or path-cleaning redirect.
		s.fallback(rec, r, h)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
}

// gate checks what every request must pass before it is routed, in
// order: its Host and Origin, its credentials and role, and the media
// type of its body. The pool's internal endpoints skip the credentials:
// their signature authenticates them (internal.go).
func (s *Server) gate(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkHost(r); err != nil {
		return err
	}
	if s.auth != nil && !unauthenticatedPaths[r.URL.Path] && !s.isInternal(r) {
		p, err := s.auth.authenticate(r)
		if err != nil {
			for _, c := range s.auth.challenges() {
				w.Header().Add("WWW-Authenticate", c)
			}
			s.logger.Debug("rest request not authenticated", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "error", err)
			return err
		}
		if err := authorize(p, r); err != nil {
			s.logger.Debug("rest request forbidden", "method", r.Method, "path", r.URL.Path, "principal", p.name, "role", p.role.String())
			return err
		}
	}
	return checkContentType(r)
}

// fallback runs the mux's answer for an unrouted request and rewrites a
// 404 or 405 into Connect's JSON error shape (keeping the Allow header).
func (s *Server) fallback(w http.ResponseWriter, r *http.Request, h http.Handler) {
	c := &captureWriter{header: http.Header{}}
	h.ServeHTTP(c, r)
	if c.code >= 400 {
		if allow := c.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		msg := fmt.Sprintf("HTTP %d %s: no endpoint %s %s", c.code, http.StatusText(c.code), r.Method, r.URL.Path)
		if c.code == http.StatusMethodNotAllowed {
			msg += "; allowed: " + c.header.Get("Allow")
		}
		s.writeError(w, r, &api.Error{Status: c.code, Message: msg})
		return
	}
	for k, v := range c.header {
		if k != "Content-Type" && k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(c.code)
}

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting connections and waits up to the
// shutdown timeout for in-flight requests before closing them. It
// returns nil after a shutdown that ctx asked for, and otherwise the
// error that stopped serving. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.requestTimeout,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	if s.tls != nil {
		srv.TLSConfig = s.tls.Clone()
		go func() { errc <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { errc <- srv.Serve(ln) }()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("rest: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.forwardClient.CloseIdleConnections()
	if err != nil {
		// Requests still running after the grace period: cut them off.
		_ = srv.Close()
		err = fmt.Errorf("rest: requests still running after the %s shutdown timeout were cut off: %w", s.shutdownTimeout, err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("rest: serving on %s: %w", ln.Addr(), serr)
	}
	return err
}

// statusRecorder remembers the status a handler wrote, for the log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// captureWriter records the status and headers of the mux's fallback
// handlers and drops their plain-text body.
type captureWriter struct {
	header http.Header
	code   int
}

func (c *captureWriter) Header() http.Header { return c.header }

func (c *captureWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return len(b), nil
}
