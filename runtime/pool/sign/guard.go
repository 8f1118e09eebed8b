package sign

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// DefaultMaxBody is the largest internal request body a Guard reads when
// its MaxBody is 0: 10 MiB, far above the task configs of any connector.
const DefaultMaxBody = 10 << 20

// Guard is the middleware in front of a worker's internal endpoints (POST
// /connectors/{c}/tasks, PUT /connectors/{c}/fence): it refuses a request
// whose signature headers are missing or unacceptable before reading its
// body, reads the body (at most MaxBody bytes), verifies the signature
// and hands the request on with the body restored. Set the fields before
// the first request; a Guard is then safe for concurrent use.
type Guard struct {
	// Config holds the accepted algorithms.
	Config Config
	// Keys returns the session keys a request may be signed with, on
	// every request; Holder.Keys, usually. nil means none yet (503).
	Keys func() []Key
	// MaxBody bounds the body read; 0 means DefaultMaxBody. A larger
	// body is answered 413.
	MaxBody int64
	// WriteError answers a refused request; the error is an *api.Error.
	// nil writes Connect's {"error_code","message"} body; the REST server
	// passes its own writer so that every error is answered in one place.
	WriteError func(http.ResponseWriter, *http.Request, error)
}

// Wrap returns next behind g.
func (g *Guard) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := g.Config.signature(r)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		body, err := g.readBody(w, r)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		var keys []Key
		if g.Keys != nil {
			keys = g.Keys()
		}
		if err := s.verify(body, keys); err != nil {
			g.fail(w, r, err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		next.ServeHTTP(w, r)
	})
}

func (g *Guard) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := g.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, api.Errorf(http.StatusRequestEntityTooLarge,
				"internal request body is larger than the %d-byte limit", tooBig.Limit)
		}
		return nil, api.BadRequest("reading the internal request body: %v", err)
	}
	return body, nil
}

func (g *Guard) fail(w http.ResponseWriter, r *http.Request, err error) {
	if g.WriteError != nil {
		g.WriteError(w, r, err)
		return
	}
	status := api.StatusOf(err)
	// A struct of an int and a string always encodes.
	b, _ := json.Marshal(struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{status, err.Error()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
