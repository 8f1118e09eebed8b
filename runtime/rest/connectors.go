package rest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-cdc/sluice/runtime/api"
)

// nameConfig is the connector property that repeats the connector's name.
const nameConfig = "name"

// expansion is one connector's entry in GET /connectors?expand=...
type expansion struct {
	Status *api.ConnectorStatus `json:"status,omitempty"`
	Info   *api.ConnectorInfo   `json:"info,omitempty"`
}

// listConnectors is GET /connectors: a list of names, or with ?expand=
// (repeated, or comma-separated) a map from name to the requested
// "status" and "info". Unknown expansions are ignored and a connector
// deleted while the list is built is left out, as in Connect.
func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	names, err := s.herder.Connectors(ctx)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	values, expand := r.URL.Query()["expand"]
	if !expand {
		writeJSON(w, http.StatusOK, names)
		return
	}
	var withStatus, withInfo bool
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			switch strings.TrimSpace(e) {
			case "status":
				withStatus = true
			case "info":
				withInfo = true
			}
		}
	}
	out := make(map[string]expansion, len(names))
	for _, name := range names {
		var x expansion
		if withStatus {
			st, err := s.herder.ConnectorStatus(ctx, name)
			if err != nil && api.StatusOf(err) == http.StatusNotFound {
				continue
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			st = normStatus(st)
			x.Status = &st
		}
		if withInfo {
			info, err := s.herder.ConnectorInfo(ctx, name)
			if err != nil && api.StatusOf(err) == http.StatusNotFound {
				continue
			}
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			info = normInfo(info)
			x.Info = &info
		}
		out[name] = x
	}
	writeJSON(w, http.StatusOK, out)
}

// createConnector is POST /connectors: 201 with a Location header and
// the new connector's info.
func (s *Server) createConnector(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := decodeCreate(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	info, err := s.herder.CreateConnector(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", connectorLocation(req.Name))
	writeJSON(w, http.StatusCreated, normInfo(info))
}

// decodeCreate decodes and checks POST /connectors' body.
func decodeCreate(body []byte) (api.CreateRequest, error) {
	var cb createBody
	if err := decodeJSON(body, &cb); err != nil {
		return api.CreateRequest{}, err
	}
	var req api.CreateRequest
	if cb.Name != nil {
		// Connect trims the name too.
		req.Name = strings.TrimSpace(*cb.Name)
	}
	if req.Name == "" {
		return req, api.BadRequest(`request body has no connector "name"; send {"name": "my-connector", "config": {...}}`)
	}
	if len(cb.Config) == 0 || string(cb.Config) == "null" {
		return req, api.BadRequest(`request body has no "config" for connector %q; send {"name": %q, "config": {"connector.class": ..., ...}}`,
			req.Name, req.Name)
	}
	props, err := decodeProps(cb.Config, false)
	if err != nil {
		return req, api.BadRequest("request body field \"config\": %v", err)
	}
	req.Config = flatten(props)
	if err := checkName(req.Name, req.Config, `the connector name in the request body`); err != nil {
		return req, err
	}
	if cb.InitialState != nil && *cb.InitialState != "" {
		st, ok := initialStates[strings.ToUpper(*cb.InitialState)]
		if !ok {
			return req, api.BadRequest(`request body field "initial_state" is %q; use RUNNING, PAUSED or STOPPED`, *cb.InitialState)
		}
		req.InitialState = st
	}
	return req, nil
}

// checkName rejects a config whose "name" differs from the connector's
// name and otherwise sets it, as Connect's checkAndPutConnectorConfigName
// does.
func checkName(name string, cfg map[string]string, where string) error {
	if got, ok := cfg[nameConfig]; ok {
		if got != name {
			return api.BadRequest("Connector name configuration (%s) doesn't match %s (%s); remove \"name\" from the config or make the two equal",
				got, where, name)
		}
		return nil
	}
	cfg[nameConfig] = name
	return nil
}

// connectorLocation is the Location of a created connector.
func connectorLocation(name string) string {
	return "/connectors/" + url.PathEscape(name)
}

func (s *Server) getConnector(w http.ResponseWriter, r *http.Request) {
	info, err := s.herder.ConnectorInfo(r.Context(), r.PathValue("connector"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normInfo(info))
}

// deleteConnector is DELETE /connectors/{c}: 204.
func (s *Server) deleteConnector(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.DeleteConnector(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusNoContent)
}

func (s *Server) getConnectorConfig(w http.ResponseWriter, r *http.Request) {
	cfg, err := s.herder.ConnectorConfig(r.Context(), r.PathValue("connector"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if cfg == nil {
		cfg = map[string]string{}
	}
	writeJSON(w, http.StatusOK, cfg)
}

// putConnectorConfig is PUT /connectors/{c}/config: 201 with Location
// when it created the connector, 200 when it replaced the config.
func (s *Server) putConnectorConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
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
	if err := checkName(name, cfg, "connector name in the URL"); err != nil {
		s.writeError(w, r, err)
		return
	}
	info, created, err := s.herder.PutConnectorConfig(r.Context(), name, cfg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", connectorLocation(name))
	}
	writeJSON(w, status, normInfo(info))
}

// patchConnectorConfig is PATCH /connectors/{c}/config (KIP-477): the
// body's keys are set, its null values removed. 200.
func (s *Server) patchConnectorConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	patch, err := decodePatch(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if v, ok := patch[nameConfig]; ok {
		if v == nil {
			s.writeError(w, r, api.BadRequest(`the "name" property cannot be removed; leave it out of the patch`))
			return
		}
		if *v != name {
			s.writeError(w, r, api.BadRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s); a connector cannot be renamed, create a new one instead",
				*v, name))
			return
		}
	}
	info, err := s.herder.PatchConnectorConfig(r.Context(), name, patch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normInfo(info))
}

func (s *Server) connectorStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.herder.ConnectorStatus(r.Context(), r.PathValue("connector"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, normStatus(st))
}

func (s *Server) taskConfigs(w http.ResponseWriter, r *http.Request) {
	tasks, err := s.herder.TaskConfigs(r.Context(), r.PathValue("connector"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// A copy: the herder may share its slice.
	out := make([]api.TaskInfo, len(tasks))
	copy(out, tasks)
	for i := range out {
		if out[i].Config == nil {
			out[i].Config = map[string]string{}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) taskStatus(w http.ResponseWriter, r *http.Request) {
	task, err := taskID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.herder.TaskStatus(r.Context(), r.PathValue("connector"), task)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// restartConnector is POST /connectors/{c}/restart (KIP-745): 204 when
// only the Connector object restarts, otherwise 202 with the status the
// restart produces.
func (s *Server) restartConnector(w http.ResponseWriter, r *http.Request) {
	includeTasks, err := boolParam(r, "includeTasks", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	onlyFailed, err := boolParam(r, "onlyFailed", false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.herder.RestartConnector(r.Context(), r.PathValue("connector"), includeTasks, onlyFailed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !includeTasks && !onlyFailed {
		writeEmpty(w, http.StatusNoContent)
		return
	}
	if st == nil {
		st = &api.ConnectorStatus{Name: r.PathValue("connector")}
	}
	writeJSON(w, http.StatusAccepted, normStatus(*st))
}

// restartTask is POST /connectors/{c}/tasks/{t}/restart: 204.
func (s *Server) restartTask(w http.ResponseWriter, r *http.Request) {
	task, err := taskID(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.herder.RestartTask(r.Context(), r.PathValue("connector"), task); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusNoContent)
}

// pauseConnector is PUT /connectors/{c}/pause: 202.
func (s *Server) pauseConnector(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.PauseConnector(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusAccepted)
}

// resumeConnector is PUT /connectors/{c}/resume: 202.
func (s *Server) resumeConnector(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.ResumeConnector(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusAccepted)
}

// stopConnector is PUT /connectors/{c}/stop (KIP-875): 204.
func (s *Server) stopConnector(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.StopConnector(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusNoContent)
}

// activeTopics is one connector's entry of GET /connectors/{c}/topics.
type activeTopics struct {
	Topics []string `json:"topics"`
}

// connectorTopics is GET /connectors/{c}/topics (KIP-558):
// {"<c>": {"topics": [...]}}.
func (s *Server) connectorTopics(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("connector")
	topics, err := s.herder.ConnectorTopics(r.Context(), name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if topics == nil {
		topics = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]activeTopics{name: {Topics: topics}})
}

// resetConnectorTopics is PUT /connectors/{c}/topics/reset: 202 with no
// body, as Connect's ConnectorsResource answers (Response.accepted()).
func (s *Server) resetConnectorTopics(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.ResetConnectorTopics(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEmpty(w, http.StatusAccepted)
}

func (s *Server) getOffsets(w http.ResponseWriter, r *http.Request) {
	offs, err := s.herder.Offsets(r.Context(), r.PathValue("connector"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if offs.Offsets == nil {
		offs.Offsets = []api.Offset{}
	}
	writeJSON(w, http.StatusOK, offs)
}

// message is Connect's Message entity.
type message struct {
	Message string `json:"message"`
}

// Connect's answers to a successful offsets change (KIP-875).
const (
	offsetsAltered = "The offsets for this connector have been altered successfully"
	offsetsReset   = "The offsets for this connector have been reset successfully"
)

// alterOffsets is PATCH /connectors/{c}/offsets: 200 with a message.
func (s *Server) alterOffsets(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offs, err := decodeOffsets(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.herder.AlterOffsets(r.Context(), r.PathValue("connector"), offs); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, message{offsetsAltered})
}

// resetOffsets is DELETE /connectors/{c}/offsets: 200 with a message.
func (s *Server) resetOffsets(w http.ResponseWriter, r *http.Request) {
	if err := s.herder.ResetOffsets(r.Context(), r.PathValue("connector")); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, message{offsetsReset})
}

// normInfo makes nil collections encode as {} and [], as Connect writes
// them.
func normInfo(info api.ConnectorInfo) api.ConnectorInfo {
	if info.Config == nil {
		info.Config = map[string]string{}
	}
	if info.Tasks == nil {
		info.Tasks = []api.TaskID{}
	}
	return info
}

func normStatus(st api.ConnectorStatus) api.ConnectorStatus {
	if st.Tasks == nil {
		st.Tasks = []api.TaskState{}
	}
	return st
}
