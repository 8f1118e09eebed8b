package rest

import (
	"net/http"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// Health statuses of GET /health (KIP-1017); any other, such as
// "unhealthy", is unhealthy.
const (
	healthHealthy  = "healthy"
	healthStarting = "starting"
)

// serverInfo is GET /.
func (s *Server) serverInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.herder.ServerInfo(r.Context()))
}

// health is GET /health with Connect's codes (RootResource.healthCheck):
// 200 healthy, 503 while starting, 500 when unhealthy (the herder is
// stuck).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := s.herder.Health(r.Context())
	status := http.StatusInternalServerError
	switch h.Status {
	case healthHealthy:
		status = http.StatusOK
	case healthStarting:
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

// liveness is GET /sluice/health, for a liveness probe: 200 while the
// worker is healthy or still starting, 503 when it is unhealthy and
// should be restarted.
func (s *Server) liveness(w http.ResponseWriter, r *http.Request) {
	h := s.herder.Health(r.Context())
	status := http.StatusOK
	if h.Status != healthHealthy && h.Status != healthStarting {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

// readiness is GET /sluice/ready, for a readiness probe: 200 only once
// the worker is healthy, 503 before and when unhealthy.
func (s *Server) readiness(w http.ResponseWriter, r *http.Request) {
	h := s.herder.Health(r.Context())
	status := http.StatusOK
	if h.Status != healthHealthy {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

// listPlugins is GET /connector-plugins[?connectorsOnly=false]; Connect's
// default lists connectors only.
func (s *Server) listPlugins(w http.ResponseWriter, r *http.Request) {
	connectorsOnly, err := boolParam(r, "connectorsOnly", true)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	plugins := s.herder.Plugins(r.Context(), connectorsOnly)
	if plugins == nil {
		plugins = []api.PluginInfo{}
	}
	writeJSON(w, http.StatusOK, plugins)
}

// pluginConfig is GET /connector-plugins/{p}/config: the plugin's
// property definitions.
func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request) {
	keys, err := s.herder.PluginConfig(r.Context(), r.PathValue("plugin"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []config.KeyInfo{}
	}
	writeJSON(w, http.StatusOK, keys)
}

// validateConfig is PUT /connector-plugins/{p}/config/validate: 200 with
// the per-property result even when it has errors; the herder answers 400
// when the config's connector.class names another plugin.
func (s *Server) validateConfig(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg, err := decodeConfig(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	infos, err := s.herder.ValidateConfig(r.Context(), r.PathValue("plugin"), cfg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if infos.Groups == nil {
		infos.Groups = []string{}
	}
	if infos.Configs == nil {
		infos.Configs = []config.Info{}
	}
	writeJSON(w, http.StatusOK, infos)
}
