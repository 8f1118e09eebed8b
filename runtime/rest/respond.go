package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// errorBody is Connect's error entity (rest/entities/ErrorMessage.java).
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// errorStatus maps err to an HTTP status and message. It is the one place
// errors become statuses: an *api.Error anywhere in the chain chooses the
// status (its message, with whatever the herder wrapped around it, is the
// message); a request that ran out of time is a 500 "Request timed out",
// as in Connect; anything else is a 500 with the error's text.
func errorStatus(ctx context.Context, err error) (int, string) {
	var e *api.Error
	if errors.As(err, &e) {
		status := e.Status
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		return status, err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return http.StatusInternalServerError, "Request timed out: " + err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// writeError answers r with err in Connect's error shape, except an error
// that names the worker that must complete r (*api.NotLeaderError,
// *api.NotOwnerError): r is forwarded there (forward.go).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if s.redirect(w, r, err) {
		return
	}
	s.respondError(w, r, err)
}

// respondError answers r with err in Connect's error shape.
func (s *Server) respondError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := errorStatus(r.Context(), err)
	if status >= 500 {
		// Logged with URL credentials hidden, as the panic line is.
		s.logger.Warn("rest request failed", "method", r.Method, "path", config.RedactText(r.URL.Path), "status", status,
			"error", config.RedactText(msg))
	}
	writeJSON(w, status, errorBody{ErrorCode: status, Message: msg})
}

// writeJSON answers with v as JSON. HTML characters are not escaped, so
// values read back exactly as Connect's Jackson writes them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		// errorBody always encodes.
		_ = json.NewEncoder(&buf).Encode(errorBody{ErrorCode: status,
			Message: fmt.Sprintf("encoding the response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// writeEmpty answers with status and no body.
func writeEmpty(w http.ResponseWriter, status int) {
	w.WriteHeader(status)
}
