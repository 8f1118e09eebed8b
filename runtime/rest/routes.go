package rest

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// routes registers every endpoint. The paths and status codes are Kafka
// Connect's (connect/runtime/.../rest/resources/*Resource.java).
func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /{$}", s.serverInfo)
	m.HandleFunc("GET /health", s.health)
	m.HandleFunc("GET /sluice/health", s.liveness)
	m.HandleFunc("GET /sluice/ready", s.readiness)

	// Jersey answers /connectors and /connectors/ alike.
	for _, p := range []string{"/connectors", "/connectors/{$}"} {
		m.HandleFunc("GET "+p, s.listConnectors)
		m.HandleFunc("POST "+p, s.createConnector)
	}
	m.HandleFunc("GET /connectors/{connector}", s.getConnector)
	m.HandleFunc("DELETE /connectors/{connector}", s.deleteConnector)
	m.HandleFunc("GET /connectors/{connector}/config", s.getConnectorConfig)
	m.HandleFunc("PUT /connectors/{connector}/config", s.putConnectorConfig)
	m.HandleFunc("PATCH /connectors/{connector}/config", s.patchConnectorConfig)
	m.HandleFunc("GET /connectors/{connector}/status", s.connectorStatus)
	m.HandleFunc("GET /connectors/{connector}/tasks", s.taskConfigs)
	m.HandleFunc("GET /connectors/{connector}/tasks/{task}/status", s.taskStatus)
	m.HandleFunc("POST /connectors/{connector}/restart", s.restartConnector)
	m.HandleFunc("POST /connectors/{connector}/tasks/{task}/restart", s.restartTask)
	m.HandleFunc("PUT /connectors/{connector}/pause", s.pauseConnector)
	m.HandleFunc("PUT /connectors/{connector}/resume", s.resumeConnector)
	m.HandleFunc("PUT /connectors/{connector}/stop", s.stopConnector)
	m.HandleFunc("GET /connectors/{connector}/topics", s.connectorTopics)
	m.HandleFunc("PUT /connectors/{connector}/topics/reset", s.resetConnectorTopics)
	m.HandleFunc("GET /connectors/{connector}/offsets", s.getOffsets)
	m.HandleFunc("PATCH /connectors/{connector}/offsets", s.alterOffsets)
	m.HandleFunc("DELETE /connectors/{connector}/offsets", s.resetOffsets)

	for _, p := range []string{"/connector-plugins", "/connector-plugins/{$}"} {
		m.HandleFunc("GET "+p, s.listPlugins)
	}
	m.HandleFunc("GET /connector-plugins/{plugin}/config", s.pluginConfig)
	m.HandleFunc("PUT /connector-plugins/{plugin}/config/validate", s.validateConfig)

	s.internalRoutes()
}

// taskID parses the {task} path segment. Connect's JAX-RS answers 404
// when it is not an integer; so do we, saying why.
func taskID(r *http.Request) (int, error) {
	raw := r.PathValue("task")
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, api.NotFound("task id %q is not a task number; tasks are numbered 0, 1, ... as GET /connectors/%s/tasks lists them",
			raw, r.PathValue("connector"))
	}
	return n, nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	raw := r.URL.Query().Get(name)
	switch strings.ToLower(raw) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, api.BadRequest("query parameter %s=%q: must be true or false", name, raw)
}
