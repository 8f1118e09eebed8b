package rest

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/pool/sign"
)

// The pool's internal endpoints, as Kafka Connect serves them: a
// follower whose connector computed new task configs POSTs them to the
// leader, and a follower starting exactly-once tasks asks the leader to
// fence the connector's zombies. Both are signed with the pool's session
// key (KIP-507) and checked by a sign.Guard; they skip user
// authentication (rest.auth.*), which a worker could not pass for its
// user, but not the Host and Origin checks. Both answer 204, as Connect's
// void resource methods do.
const (
	internalTasksPattern = "POST /connectors/{connector}/tasks"
	internalFencePattern = "PUT /connectors/{connector}/fence"
)

// internalEndpoints is what WithInternal configures.
type internalEndpoints struct {
	in    api.Internal
	keys  *sign.Holder
	guard sign.Config
}

// WithInternal serves the pool's internal endpoints, POST
// /connectors/{connector}/tasks and PUT /connectors/{connector}/fence,
// calling in. Requests must be signed with the session key in keys under
// one of cfg's verification algorithms: an unsigned request is answered
// 400, a wrong signature 403, and any request 503 while keys holds no key
// (or keys is nil). Without this option the endpoints do not exist
// (POST /connectors/{c}/tasks is a 405, as on a standalone worker).
func WithInternal(in api.Internal, keys *sign.Holder, cfg sign.Config) Option {
	return func(s *Server) { s.internal = &internalEndpoints{in: in, keys: keys, guard: cfg} }
}

// internalRoutes registers the internal endpoints behind a sign.Guard
// that reads at most the server's body limit and answers refusals in
// Connect's error shape.
func (s *Server) internalRoutes() {
	if s.internal == nil {
		return
	}
	g := &sign.Guard{Config: s.internal.guard, MaxBody: s.maxBodyBytes, WriteError: s.writeError}
	if s.internal.keys != nil {
		g.Keys = s.internal.keys.Keys
	}
	s.mux.Handle(internalTasksPattern, g.Wrap(http.HandlerFunc(s.putTaskConfigs)))
	s.mux.Handle(internalFencePattern, g.Wrap(http.HandlerFunc(s.fenceZombies)))
}

// isInternal reports whether r is routed to an internal endpoint.
func (s *Server) isInternal(r *http.Request) bool {
	if s.internal == nil {
		return false
	}
	_, pattern := s.mux.Handler(r)
	return pattern == internalTasksPattern || pattern == internalFencePattern
}

// putTaskConfigs is the internal POST /connectors/{c}/tasks: the body is
// a JSON array of task configs (flat string maps). 204. A follower's
// herder answers *api.NotLeaderError, and the request is forwarded to
// the leader with its signature.
func (s *Server) putTaskConfigs(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	configs, err := decodeTaskConfigs(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.internal.in.PutTaskConfigs(r.Context(), r.PathValue("connector"), configs); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusNoContent)
}

// fenceZombies is the internal PUT /connectors/{c}/fence (KIP-618). 204.
func (s *Server) fenceZombies(w http.ResponseWriter, r *http.Request) {
	if err := s.internal.in.FenceZombies(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusNoContent)
}

// decodeTaskConfigs decodes a JSON array of flat property maps, with the
// same scalar coercion as connector configs.
func decodeTaskConfigs(body []byte) ([]map[string]string, error) {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '[' {
		return nil, api.BadRequest("request body must be a JSON array of task configs, one object of properties per task, not %s",
			article(valueKind(b)))
	}
	var raws []json.RawMessage
	if err := decodeJSON(body, &raws); err != nil {
		return nil, err
	}
	configs := make([]map[string]string, len(raws))
	for i, raw := range raws {
		props, err := decodeProps(raw, false)
		if err != nil {
			return nil, api.BadRequest("task config %d: %v", i, err)
		}
		configs[i] = flatten(props)
	}
	return configs, nil
}
