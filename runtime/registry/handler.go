package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"
)

// ContentType is what every response of the REST API is labelled.
const ContentType = "application/vnd.schemaregistry.v1+json"

// Defaults for the handler options.
const (
	DefaultRequestTimeout       = 30 * time.Second
	DefaultMaxBodyBytes   int64 = 8 << 20
)

// HandlerOption configures Handler.
type HandlerOption func(*handler)

// WithRequestTimeout bounds each request's store writes and reads
// (default DefaultRequestTimeout; a request that runs out answers 500
// with CodeOperationTimeout). d <= 0 keeps the default.
func WithRequestTimeout(d time.Duration) HandlerOption {
	return func(h *handler) {
		if d > 0 {
			h.timeout = d
		}
	}
}

// WithMaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes;
// a larger one answers 413). n <= 0 keeps the default.
func WithMaxBodyBytes(n int64) HandlerOption {
	return func(h *handler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// WithLogger sets the logger of failed requests (default: the store's).
func WithLogger(l *slog.Logger) HandlerOption {
	return func(h *handler) {
		if l != nil {
			h.logger = l
		}
	}
}

type handler struct {
	store   *Store
	mux     *http.ServeMux
	timeout time.Duration
	maxBody int64
	logger  *slog.Logger
}

// Handler returns the Confluent-compatible REST API over s, rooted at
// "/" (mount it under a prefix with http.StripPrefix). It does no
// authentication: put it behind the listener's. Safe for concurrent use.
func (s *Store) Handler(opts ...HandlerOption) http.Handler {
	h := &handler{store: s, mux: http.NewServeMux(), timeout: DefaultRequestTimeout, maxBody: DefaultMaxBodyBytes, logger: s.logger}
	for _, o := range opts {
		o(h)
	}
	routes := map[string]func(*http.Request) (any, error){
		"GET /{$}":                                      func(*http.Request) (any, error) { return struct{}{}, nil },
		"GET /subjects":                                 h.listSubjects,
		"GET /subjects/{s}/versions":                    h.listVersions,
		"POST /subjects/{s}/versions":                   h.register,
		"GET /subjects/{s}/versions/{v}":                h.getVersion,
		"DELETE /subjects/{s}/versions/{v}":             h.deleteVersion,
		"POST /subjects/{s}":                            h.lookup,
		"DELETE /subjects/{s}":                          h.deleteSubject,
		"GET /schemas/ids/{id}":                         h.getSchema,
		"GET /schemas/ids/{id}/versions":                h.getSchemaVersions,
		"GET /schemas/types":                            func(*http.Request) (any, error) { return []string{SchemaTypeAvro}, nil },
		"GET /config":                                   h.getConfig,
		"PUT /config":                                   h.putConfig,
		"DELETE /config":                                h.deleteConfig,
		"GET /config/{s}":                               h.getConfig,
		"PUT /config/{s}":                               h.putConfig,
		"DELETE /config/{s}":                            h.deleteConfig,
		"POST /compatibility/subjects/{s}/versions/{v}": h.compatibility,
		"POST /compatibility/subjects/{s}/versions":     h.compatibility,
	}
	for pattern, fn := range routes {
		h.mux.HandleFunc(pattern, h.serve(fn))
	}
	// The raw schema endpoints answer the schema itself, not an object.
	h.mux.HandleFunc("GET /subjects/{s}/versions/{v}/schema", h.serveRaw(h.getVersion))
	h.mux.HandleFunc("GET /schemas/ids/{id}/schema", h.serveRaw(h.getSchema))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		// Not one of ours: 405 when another method has the path, else
		// 404, in the registry's error shape.
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
			other := r.Clone(r.Context())
			other.Method = m
			if _, p := h.mux.Handler(other); p != "" {
				h.writeError(w, r, errorf(CodeMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path))
				return
			}
		}
		h.writeError(w, r, errorf(CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *handler) serve(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h.call(fn, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
}

// serveRaw answers the "schema" field of fn's result as the body.
func (h *handler) serveRaw(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h.call(fn, r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		var text string
		switch v := v.(type) {
		case versionBody:
			text = v.Schema
		case schemaBody:
			text = v.Schema
		}
		w.Header().Set("Content-Type", ContentType)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, text)
	}
}

func (h *handler) call(fn func(*http.Request) (any, error), r *http.Request) (any, error) {
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodDelete {
		if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(nil, r.Body, h.maxBody)
	}
	v, err := fn(r)
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		err = &Error{Code: CodeOperationTimeout, Message: fmt.Sprintf("the request timed out after %s: %v", h.timeout, err), Err: err}
	}
	return v, err
}

// checkContentType accepts the registry's media types, JSON, and what
// Confluent's clients send when they send nothing specific.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case "application/vnd.schemaregistry.v1+json", "application/vnd.schemaregistry+json", "application/json",
			"application/octet-stream":
			return nil
		}
	}
	return errorf(CodeUnsupportedMediaType, "Content-Type %q is not supported; send %s or application/json", ct, ContentType)
}

func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: codeInternal, Message: err.Error(), Err: err}
	}
	status := e.Status()
	if status >= 500 {
		h.logger.Warn("schema registry request failed", "method", r.Method, "path", r.URL.Path, "status", status,
			"error_code", e.Code, "error", e.Message)
	}
	writeJSON(w, status, errorBody{ErrorCode: e.Code, Message: e.Message})
}

type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// writeJSON answers with v as JSON, HTML characters unescaped (schemas
// hold "<" and ">" in docs).
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody{ErrorCode: codeInternal, Message: fmt.Sprintf("encoding the response: %v", err)})
	}
	w.Header().Set("Content-Type", ContentType)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
