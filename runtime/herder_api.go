package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/offsets"
	"github.com/sluice-cdc/sluice/runtime/api"
	"github.com/sluice-cdc/sluice/runtime/configstore"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

var _ api.Herder = (*Herder)(nil)

// hidden is what a sensitive value reads as over REST. A PUT that sends
// it back keeps the stored value, so GET-edit-PUT round trips work
// without ever showing the secret.
const hidden = config.Hidden

// ServerInfo implements api.Herder.
func (h *Herder) ServerInfo(context.Context) api.ServerInfo {
	return api.ServerInfo{Version: h.version, Commit: h.commit, KafkaClusterID: h.clusterID}
}

// Health implements api.Herder.
func (h *Herder) Health(context.Context) api.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.mu.ready {
		return api.Health{Status: "starting", Message: "Worker is still starting up."}
	}
	if h.pool != nil && !h.mu.own.joined {
		return api.Health{Status: "starting", Message: "Worker is still joining its pool (group.id)."}
	}
	return api.Health{Status: "healthy", Message: "Worker has completed startup and is ready to handle requests."}
}

// Connectors implements api.Herder.
func (h *Herder) Connectors(context.Context) ([]string, error) {
	return config.SortedKeys(h.configs.Snapshot().Connectors), nil
}

func (h *Herder) lookup(name string) (map[string]string, error) {
	cfg, ok := h.configs.Connector(name)
	if !ok {
		return nil, api.NotFound("Connector %s not found", name)
	}
	return cfg, nil
}

// defFor returns the full definition of a connector config: the common
// properties, the sink ones for sinks, and the plugin's own.
func (h *Herder) defFor(p *connectors.Plugin) *config.Def {
	def := commonDef
	if p.Type == connectors.SinkType {
		def = def.Merge(sinkDef)
	}
	return def.Merge(p.New().Config())
}

func (h *Herder) redact(cfg map[string]string) map[string]string {
	return h.redactAs(cfg[propClass], cfg)
}

// redactAs hides cfg's sensitive values by the definition of the
// connector class (task configs need not hold connector.class, so they
// are redacted by their connector's), and credentials inside URLs in
// every value. A sensitive value that is a provider reference is shown
// as written.
func (h *Herder) redactAs(class string, cfg map[string]string) map[string]string {
	var def *config.Def
	if p, err := h.plugins.Lookup(class); err == nil {
		def = h.defFor(p)
	}
	out := make(map[string]string, len(cfg))
	for k, v := range cfg {
		var key *config.Key
		if def != nil {
			key, _ = def.Key(k)
		}
		if key != nil && key.IsSensitive() && isReference(v) {
			out[k] = config.RedactText(v)
			continue
		}
		out[k] = config.Shown(key, v)
	}
	return out
}

// isReference reports whether v is exactly one provider reference, which
// may be shown as written.
func isReference(v string) bool {
	return strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && strings.Count(v, "${") == 1 &&
		!strings.HasPrefix(v, "${sluice-encrypted:")
}

func (h *Herder) typeOf(cfg map[string]string) api.ConnectorType {
	p, err := h.plugins.Lookup(cfg[propClass])
	if err != nil {
		return "unknown"
	}
	return api.ConnectorType(p.Type)
}

// ConnectorInfo implements api.Herder.
func (h *Herder) ConnectorInfo(_ context.Context, name string) (api.ConnectorInfo, error) {
	cfg, err := h.lookup(name)
	if err != nil {
		return api.ConnectorInfo{}, err
	}
	return h.info(name, cfg), nil
}

func (h *Herder) info(name string, cfg map[string]string) api.ConnectorInfo {
	tasks := h.configs.Snapshot().Tasks[name]
	ids := make([]api.TaskID, len(tasks))
	for i := range tasks {
		ids[i] = api.TaskID{Connector: name, Task: i}
	}
	return api.ConnectorInfo{Name: name, Config: h.redact(cfg), Tasks: ids, Type: h.typeOf(cfg)}
}

// ConnectorConfig implements api.Herder.
func (h *Herder) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	cfg, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	return h.redact(cfg), nil
}

func checkName(name string) error {
	if strings.TrimSpace(name) == "" {
		return api.BadRequest("Connector name is empty; set \"name\"")
	}
	if strings.ContainsAny(name, "/\x00") || name != strings.TrimSpace(name) {
		return api.BadRequest("Connector name %q is invalid: it may not contain '/', NUL or leading/trailing white space", name)
	}
	return nil
}

// CreateConnector implements api.Herder.
func (h *Herder) CreateConnector(ctx context.Context, req api.CreateRequest) (api.ConnectorInfo, error) {
	if err := checkName(req.Name); err != nil {
		return api.ConnectorInfo{}, err
	}
	if err := h.needLeader(ctx); err != nil {
		return api.ConnectorInfo{}, err
	}
	if _, ok := h.configs.Connector(req.Name); ok {
		return api.ConnectorInfo{}, api.AlreadyExists("Connector %s already exists", req.Name)
	}
	cfg := maps.Clone(req.Config)
	cfg[propName] = req.Name
	if err := h.validateForWrite(ctx, cfg); err != nil {
		return api.ConnectorInfo{}, err
	}
	target := ""
	switch req.InitialState {
	case "", api.TargetStarted:
	case api.TargetPaused:
		target = configstore.TargetPaused
	case api.TargetStopped:
		target = configstore.TargetStopped
	default:
		return api.ConnectorInfo{}, api.BadRequest("initial_state %q is invalid; use RUNNING, PAUSED or STOPPED", req.InitialState)
	}
	if err := h.configs.PutConnector(ctx, req.Name, cfg, target); err != nil {
		return api.ConnectorInfo{}, fmt.Errorf("writing connector config: %w", err)
	}
	h.signal()
	h.logger.Info("connector created", "connector", req.Name, "class", cfg[propClass])
	return h.info(req.Name, cfg), nil
}

// PutConnectorConfig implements api.Herder.
func (h *Herder) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string) (api.ConnectorInfo, bool, error) {
	if err := checkName(name); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	if err := h.needLeader(ctx); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	old, exists := h.configs.Connector(name)
	cfg = maps.Clone(cfg)
	cfg[propName] = name
	if err := h.restoreHidden(old, cfg); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	if err := h.validateForWrite(ctx, cfg); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	if err := h.configs.PutConnector(ctx, name, cfg, ""); err != nil {
		return api.ConnectorInfo{}, false, fmt.Errorf("writing connector config: %w", err)
	}
	h.signal()
	return h.info(name, cfg), !exists, nil
}

// PatchConnectorConfig implements api.Herder.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (api.ConnectorInfo, error) {
	if err := h.needLeader(ctx); err != nil {
		return api.ConnectorInfo{}, err
	}
	old, err := h.lookup(name)
	if err != nil {
		return api.ConnectorInfo{}, err
	}
	// Start from the config as shown, so that stored secrets are put
	// back by PutConnectorConfig under the same identity check as a PUT
	// sending them as [hidden].
	cfg := h.redact(old)
	for k, v := range patch {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	info, _, err := h.PutConnectorConfig(ctx, name, cfg)
	return info, err
}

// restoreHidden puts the stored values back where a write sent a secret
// back as shown: "[hidden]" for a sensitive property, or a URL with its
// credentials hidden, unchanged. It does so only while the connection's
// identity is unchanged (the connector class and every property its
// definition marks ConnectionIdentity): otherwise the stored secret could
// be sent to a server of the writer's choosing, so the write is refused
// with a 400 asking for the secret. It runs before any validation, so a
// refused write never contacts anything.
func (h *Herder) restoreHidden(old, cfg map[string]string) error {
	var restored []string
	for _, k := range config.SortedKeys(cfg) {
		v := cfg[k]
		if !strings.Contains(v, hidden) {
			continue
		}
		o, had := old[k]
		switch {
		case !had && v == hidden:
			return api.BadRequest("%s is %s but no value is stored for it; send the value itself", k, hidden)
		case !had:
			continue
		case v == hidden, v == config.RedactText(o):
			cfg[k] = o
			restored = append(restored, k)
		case config.HasURLCredentials(o) || strings.Contains(config.RedactText(v), hidden):
			return api.BadRequest("%s holds %s credentials but differs from the stored value, so the stored credentials "+
				"cannot be reused; send %s with its credentials", k, hidden, k)
		}
	}
	if len(restored) == 0 {
		return nil
	}
	changed := ""
	if old[propClass] != cfg[propClass] {
		changed = propClass
	} else if p, err := h.plugins.Lookup(cfg[propClass]); err == nil {
		def := h.defFor(p)
		was, is := def.Identity(old), def.Identity(cfg)
		for _, k := range config.SortedKeys(mergeKeys(was, is)) {
			if was[k] != is[k] {
				changed = k
				break
			}
		}
	}
	if changed != "" {
		return api.BadRequest("%s: the stored secret is kept for %s only while the connection's identity is unchanged, "+
			"but %s changed; send %s again with the new %s", strings.Join(restored, ", "), hidden, changed,
			strings.Join(restored, ", "), changed)
	}
	return nil
}

func mergeKeys(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// validateForWrite validates a config before it is stored; any error
// becomes a 400 listing every problem, as Kafka Connect words it.
func (h *Herder) validateForWrite(ctx context.Context, cfg map[string]string) error {
	class := cfg[propClass]
	if class == "" {
		return api.BadRequest("Connector config %v contains no connector type; set connector.class to one of: %s",
			config.SortedKeys(cfg), strings.Join(h.plugins.Names(), ", "))
	}
	p, err := h.plugins.Lookup(class)
	if err != nil {
		return api.BadRequest("%s", err.Error())
	}
	infos := h.validate(ctx, p, cfg)
	if infos.ErrorCount > 0 {
		msgs := infos.Messages()
		return api.BadRequest("Connector configuration is invalid and contains the following %d error(s):\n%s\n"+
			"You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
			len(msgs), strings.Join(msgs, "\n"))
	}
	// Unknown properties are ignored, as Kafka Connect does; one a slip
	// away from a defined name is most likely that one mistyped.
	def := h.defFor(p)
	if p.Type == connectors.SourceType {
		def = def.Merge(topicCreationDef(cfg))
	}
	near := def.NearMisses(cfg)
	for _, k := range config.SortedKeys(near) {
		h.logger.Warn(fmt.Sprintf("connector property %s is not a property of %s and is ignored; did you mean %s? rename it", k, class, near[k]),
			"connector", cfg[propName], "property", k, "did_you_mean", near[k])
	}
	return nil
}

// validate checks cfg for plugin p: every property on its own, then the
// combinations and the connector's own checks.
func (h *Herder) validate(ctx context.Context, p *connectors.Plugin, cfg map[string]string) config.Infos {
	extra := map[string][]string{}
	res, err := h.providers.Resolve(cfg)
	if err != nil {
		extra[""] = append(extra[""], err.Error())
	}
	resolved := res.Values
	if p.Type == connectors.SinkType {
		topics, regex := strings.TrimSpace(resolved[propTopics]), strings.TrimSpace(resolved[propTopicsRegex])
		switch {
		case topics == "" && regex == "":
			extra[propTopics] = append(extra[propTopics], "Must configure one of topics or topics.regex")
		case topics != "" && regex != "":
			extra[propTopics] = append(extra[propTopics], "topics and topics.regex are mutually exclusive; set only one")
		}
	}
	// A panic in a transform's or converter's Configure is reported like
	// its error.
	if err := connectors.Protect(func() error { _, err := h.transforms.NewChain(resolved); return err }); err != nil {
		// Every option a transform refused is reported under its
		// property, not only the first.
		fields := configErrors(err)
		for _, ce := range fields {
			extra[ce.Key] = append(extra[ce.Key], ce.Reason)
		}
		if len(fields) == 0 {
			extra[propTransforms] = append(extra[propTransforms], err.Error())
		}
	}
	for _, isKey := range []bool{true, false} {
		setting := h.valConv
		prop := "value.converter"
		if isKey {
			setting, prop = h.keyConv, "key.converter"
		}
		if err := connectors.Protect(func() error { _, err := h.converters.Configs(resolved, setting, isKey); return err }); err != nil {
			extra[prop] = append(extra[prop], err.Error())
		}
	}
	for k, es := range h.overrideErrors(p.Type == connectors.SinkType, resolved) {
		extra[k] = append(extra[k], es...)
	}
	for k, es := range isolationErrors(resolved) {
		extra[k] = append(extra[k], es...)
	}
	inst := p.New()
	def := h.defFor(p)
	if p.Type == connectors.SourceType {
		def = def.Merge(topicCreationDef(resolved)).Merge(sourceEOSDef)
		for k, es := range topicCreationErrors(resolved, h.topics.enabled) {
			extra[k] = append(extra[k], es...)
		}
		for k, es := range h.eosErrors(resolved) {
			extra[k] = append(extra[k], es...)
		}
	}
	if v, ok := inst.(connectors.Validator); ok && err == nil {
		// Only worth asking the connector when each field is valid on
		// its own.
		if pre := def.Validate(p.Class, resolved, nil); pre.ErrorCount == 0 {
			var errs map[string][]string
			if perr := connectors.Protect(func() error {
				errs = v.Validate(ctx, resolved)
				return nil
			}); perr != nil {
				// Logged as a running connector's lines are: sensitive
				// values as [hidden] too.
				h.logger.Error("connector validation panicked", "class", p.Class,
					"error", scrubTrace(perr.Error(), res.Hiding(sensitiveValues(def, resolved)...)),
					"stack", string(perr.(*connectors.PanicError).Stack))
				errs = map[string][]string{"": {fmt.Sprintf("%s: validating the connector failed: %v", p.Class, perr)}}
			}
			for k, es := range errs {
				extra[k] = append(extra[k], es...)
			}
		}
	}
	// Values are checked resolved but shown as written, and every
	// message is scrubbed of resolved values and URL credentials.
	return def.ValidateResolved(p.Class, res, extra)
}

// DeleteConnector implements api.Herder.
func (h *Herder) DeleteConnector(ctx context.Context, name string) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	if _, err := h.lookup(name); err != nil {
		return err
	}
	if err := h.configs.DeleteConnector(ctx, name); err != nil {
		return fmt.Errorf("deleting connector: %w", err)
	}
	h.signal()
	return nil
}

func (h *Herder) connectorState(name string) api.ConnectorState {
	h.mu.Lock()
	cs := h.mu.conns[name]
	var st api.ConnectorState
	local := cs != nil && cs.state != "" && (h.pool == nil || (h.mu.own.conns[name] && !h.mu.own.suspended))
	if local {
		st = api.ConnectorState{State: cs.state, Trace: cs.trace, WorkerID: h.workerID}
	}
	h.mu.Unlock()
	v, ok := h.status.connector(name)
	if !local {
		if ok {
			return api.ConnectorState{State: v.State, Trace: v.Trace, WorkerID: v.WorkerID, Starts: v.Starts}
		}
		return api.ConnectorState{State: api.StateUnassigned, WorkerID: h.unassignedID()}
	}
	st.Starts = v.Starts
	return st
}

func (h *Herder) taskStateOf(id api.TaskID) api.TaskState {
	h.mu.Lock()
	var ts *taskState
	if cs := h.mu.conns[id.Connector]; cs != nil {
		ts = cs.tasks[id.Task]
	}
	var st api.TaskState
	if ts != nil && ts.state != "" && h.ownsTaskLocked(id) {
		st = api.TaskState{ID: id.Task, State: ts.state, Trace: ts.trace, WorkerID: h.workerID}
	}
	h.mu.Unlock()
	v, ok := h.status.task(id)
	if st.State != "" {
		st.Starts = v.Starts
		return st
	}
	if ok {
		return api.TaskState{ID: id.Task, State: v.State, Trace: v.Trace, WorkerID: v.WorkerID, Starts: v.Starts}
	}
	return api.TaskState{ID: id.Task, State: api.StateUnassigned, WorkerID: h.unassignedID()}
}

// ConnectorStatus implements api.Herder.
func (h *Herder) ConnectorStatus(_ context.Context, name string) (api.ConnectorStatus, error) {
	cfg, err := h.lookup(name)
	if err != nil {
		return api.ConnectorStatus{}, err
	}
	st := api.ConnectorStatus{Name: name, Connector: h.connectorState(name), Tasks: []api.TaskState{}, Type: h.typeOf(cfg)}
	for i := range h.configs.Snapshot().Tasks[name] {
		st.Tasks = append(st.Tasks, h.taskStateOf(api.TaskID{Connector: name, Task: i}))
	}
	return st, nil
}

// TaskConfigs implements api.Herder.
func (h *Herder) TaskConfigs(_ context.Context, name string) ([]api.TaskInfo, error) {
	cfg, err := h.lookup(name)
	if err != nil {
		return nil, err
	}
	out := []api.TaskInfo{}
	for i, tc := range h.configs.Snapshot().Tasks[name] {
		out = append(out, api.TaskInfo{ID: api.TaskID{Connector: name, Task: i}, Config: h.redactAs(cfg[propClass], tc)})
	}
	return out, nil
}

func (h *Herder) checkTask(name string, task int) error {
	if _, err := h.lookup(name); err != nil {
		return err
	}
	if task < 0 || task >= len(h.configs.Snapshot().Tasks[name]) {
		return api.NotFound("Task %s-%d not found", name, task)
	}
	return nil
}

// TaskStatus implements api.Herder.
func (h *Herder) TaskStatus(_ context.Context, name string, task int) (api.TaskState, error) {
	if err := h.checkTask(name, task); err != nil {
		return api.TaskState{}, err
	}
	return h.taskStateOf(api.TaskID{Connector: name, Task: task}), nil
}

// RestartConnector implements api.Herder (KIP-745).
func (h *Herder) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*api.ConnectorStatus, error) {
	if h.pool != nil {
		return h.requestRestart(ctx, name, includeTasks, onlyFailed)
	}
	if _, err := h.lookup(name); err != nil {
		return nil, err
	}
	st, _ := h.ConnectorStatus(ctx, name)
	h.mu.Lock()
	cs := h.mu.conns[name]
	if cs == nil {
		h.mu.Unlock()
		return nil, api.Errorf(http.StatusConflict, "Connector %s is not yet known to this worker; retry in a moment", name)
	}
	if !onlyFailed || cs.state == api.StateFailed {
		cs.restart = true
		cs.backoff = backoff{}
		st.Connector.State = api.StateRestarting
	}
	if includeTasks {
		for i := range st.Tasks {
			ts := cs.tasks[st.Tasks[i].ID]
			if ts == nil || (onlyFailed && ts.state != api.StateFailed) {
				continue
			}
			ts.restart = true
			ts.backoff = backoff{}
			if ts.state == api.StateFailed {
				ts.backoff.next = time.Now()
			}
			st.Tasks[i].State = api.StateRestarting
		}
	}
	h.mu.Unlock()
	h.signal()
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	return &st, nil
}

// RestartTask implements api.Herder.
func (h *Herder) RestartTask(_ context.Context, name string, task int) error {
	if err := h.checkTask(name, task); err != nil {
		return err
	}
	if id := (api.TaskID{Connector: name, Task: task}); !h.ownsTask(id) {
		v, _ := h.status.task(id)
		if url := h.ownerURL(v.WorkerID); url != "" && v.State != api.StateUnassigned {
			return &api.NotOwnerError{OwnerURL: url, What: fmt.Sprintf("task %s-%d", name, task)}
		}
		return api.Errorf(http.StatusConflict, "Task %s-%d is not assigned to any worker at the moment (the pool is rebalancing); retry in a moment", name, task)
	}
	h.mu.Lock()
	if cs := h.mu.conns[name]; cs != nil {
		if ts := cs.tasks[task]; ts != nil {
			ts.restart = true
			ts.backoff = backoff{next: time.Now()}
		}
	}
	h.mu.Unlock()
	h.signal()
	return nil
}

func (h *Herder) setTarget(ctx context.Context, name, target string) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	if _, err := h.lookup(name); err != nil {
		return err
	}
	if err := h.configs.PutTarget(ctx, name, target); err != nil {
		return fmt.Errorf("writing target state: %w", err)
	}
	h.signal()
	return nil
}

// PauseConnector implements api.Herder.
func (h *Herder) PauseConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, configstore.TargetPaused)
}

// ResumeConnector implements api.Herder.
func (h *Herder) ResumeConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, configstore.TargetStarted)
}

// StopConnector implements api.Herder (KIP-875).
func (h *Herder) StopConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, configstore.TargetStopped)
}

// ConnectorTopics implements api.Herder (KIP-558).
func (h *Herder) ConnectorTopics(_ context.Context, name string) ([]string, error) {
	if _, err := h.lookup(name); err != nil {
		return nil, err
	}
	return h.status.topicsOf(name), nil
}

// ResetConnectorTopics implements api.Herder.
func (h *Herder) ResetConnectorTopics(ctx context.Context, name string) error {
	if _, err := h.lookup(name); err != nil {
		return err
	}
	return h.status.resetTopics(ctx, name)
}

// Offsets implements api.Herder.
func (h *Herder) Offsets(ctx context.Context, name string) (api.Offsets, error) {
	cfg, err := h.lookup(name)
	if err != nil {
		return api.Offsets{}, err
	}
	out := api.Offsets{Offsets: []api.Offset{}}
	if h.typeOf(cfg) == api.ConnectorType(connectors.SinkType) {
		resps, err := h.adm.FetchOffsets(ctx, consumerGroup(name))
		if errors.Is(err, kerr.GroupIDNotFound) {
			return out, nil // nothing consumed yet
		}
		if err != nil {
			return out, fmt.Errorf("reading offsets of consumer group %s: %w", consumerGroup(name), err)
		}
		resps.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				out.Offsets = append(out.Offsets, api.Offset{
					Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": int64(o.Partition)},
					Offset:    map[string]any{"kafka_offset": o.At}})
			}
		})
		sort.Slice(out.Offsets, func(i, j int) bool {
			a, b := out.Offsets[i].Partition, out.Offsets[j].Partition
			if a["kafka_topic"] != b["kafka_topic"] {
				return a["kafka_topic"].(string) < b["kafka_topic"].(string)
			}
			return a["kafka_partition"].(int64) < b["kafka_partition"].(int64)
		})
		return out, nil
	}
	if err := h.offsets.ReadToEnd(ctx); err != nil {
		return out, err
	}
	all, err := h.offsets.All(ctx, name)
	if err != nil {
		return out, err
	}
	for _, o := range all {
		out.Offsets = append(out.Offsets, api.Offset{Partition: o.Partition, Offset: o.Offset})
	}
	return out, nil
}

// checkStopped enforces KIP-875: offsets change only while the connector
// is STOPPED and has no tasks.
func (h *Herder) checkStopped(name string) error {
	snap := h.configs.Snapshot()
	alive := 0
	h.mu.Lock()
	if cs := h.mu.conns[name]; cs != nil {
		alive = cs.alive
	}
	h.mu.Unlock()
	if snap.Targets[name] != configstore.TargetStopped || len(snap.Tasks[name]) > 0 {
		return api.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. "+
			"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	if alive > 0 {
		// A task that did not stop within task.shutdown.graceful.timeout.ms
		// may still commit offsets, which would undo the change.
		return api.Errorf(http.StatusConflict, "connector %s is STOPPED but %d of its tasks has not finished stopping "+
			"(it was abandoned after task.shutdown.graceful.timeout.ms and may still commit offsets); retry once it has", name, alive)
	}
	return nil
}

// AlterOffsets implements api.Herder.
func (h *Herder) AlterOffsets(ctx context.Context, name string, in api.Offsets) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	cfg, err := h.lookup(name)
	if err != nil {
		return err
	}
	if err := h.checkStopped(name); err != nil {
		return err
	}
	if h.typeOf(cfg) == api.ConnectorType(connectors.SinkType) {
		return h.alterSinkOffsets(ctx, name, in)
	}
	entries := make([]connectors.SourceOffset, 0, len(in.Offsets))
	for _, o := range in.Offsets {
		if err := offsets.Validate("partition", o.Partition); err != nil {
			return api.BadRequest("%s", err.Error())
		}
		if err := offsets.Validate("offset", o.Offset); err != nil {
			return api.BadRequest("%s", err.Error())
		}
		entries = append(entries, connectors.SourceOffset{Partition: o.Partition, Offset: o.Offset})
	}
	return h.offsets.Put(ctx, name, entries)
}

func (h *Herder) alterSinkOffsets(ctx context.Context, name string, in api.Offsets) error {
	commit := kadm.Offsets{}
	del := kadm.TopicsSet{}
	for _, o := range in.Offsets {
		topic, ok1 := o.Partition["kafka_topic"].(string)
		part, ok2 := o.Partition["kafka_partition"].(int64)
		if !ok1 || !ok2 {
			return api.BadRequest("sink connector offsets need a partition {\"kafka_topic\": string, \"kafka_partition\": int}; got %v", o.Partition)
		}
		if o.Offset == nil {
			del.Add(topic, int32(part))
			continue
		}
		off, ok := o.Offset["kafka_offset"].(int64)
		if !ok || off < 0 {
			return api.BadRequest("sink connector offsets need an offset {\"kafka_offset\": non-negative int}; got %v", o.Offset)
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: int32(part), At: off, LeaderEpoch: -1})
	}
	if len(commit) > 0 {
		if err := h.adm.CommitAllOffsets(ctx, consumerGroup(name), commit); err != nil {
			return fmt.Errorf("committing offsets of consumer group %s: %w", consumerGroup(name), err)
		}
	}
	if len(del) > 0 {
		resps, err := h.adm.DeleteOffsets(ctx, consumerGroup(name), del)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return fmt.Errorf("deleting offsets of consumer group %s: %w", consumerGroup(name), err)
		}
	}
	return nil
}

// ResetOffsets implements api.Herder.
func (h *Herder) ResetOffsets(ctx context.Context, name string) error {
	if err := h.needLeader(ctx); err != nil {
		return err
	}
	cfg, err := h.lookup(name)
	if err != nil {
		return err
	}
	if err := h.checkStopped(name); err != nil {
		return err
	}
	if h.typeOf(cfg) == api.ConnectorType(connectors.SinkType) {
		resp, err := h.adm.DeleteGroup(ctx, consumerGroup(name))
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return fmt.Errorf("deleting consumer group %s: %w", consumerGroup(name), err)
		}
		return nil
	}
	if err := h.offsets.ReadToEnd(ctx); err != nil {
		return err
	}
	all, err := h.offsets.All(ctx, name)
	if err != nil {
		return err
	}
	for i := range all {
		all[i].Offset = nil
	}
	return h.offsets.Put(ctx, name, all)
}

// Plugins implements api.Herder.
func (h *Herder) Plugins(_ context.Context, connectorsOnly bool) []api.PluginInfo {
	out := []api.PluginInfo{}
	for _, p := range h.plugins.Plugins() {
		out = append(out, api.PluginInfo{Class: p.Class, Type: string(p.Type), Version: p.Version})
	}
	if connectorsOnly {
		return out
	}
	for _, c := range h.converters.Plugins() {
		out = append(out, api.PluginInfo{Class: c.Class, Type: "converter", Version: h.version})
	}
	for _, t := range h.transforms.Plugins() {
		typ := "transformation"
		if t.NewPredicate != nil {
			typ = "predicate"
		}
		out = append(out, api.PluginInfo{Class: t.Class, Type: typ, Version: h.version})
	}
	return out
}

// PluginConfig implements api.Herder.
func (h *Herder) PluginConfig(_ context.Context, plugin string) ([]config.KeyInfo, error) {
	p, err := h.plugins.Lookup(plugin)
	if err != nil {
		return nil, api.NotFound("%s", err.Error())
	}
	return p.New().Config().KeyInfos(), nil
}

// ValidateConfig implements api.Herder.
func (h *Herder) ValidateConfig(ctx context.Context, plugin string, cfg map[string]string) (config.Infos, error) {
	p, err := h.plugins.Lookup(plugin)
	if err != nil {
		return config.Infos{}, api.NotFound("%s", err.Error())
	}
	cfg = maps.Clone(cfg)
	if c := cfg[propClass]; c == "" {
		cfg[propClass] = p.Class
	} else if q, err := h.plugins.Lookup(c); err != nil || q != p {
		return config.Infos{}, api.BadRequest("Included connector type %s does not match request type %s", c, plugin)
	}
	return h.validate(ctx, p, cfg), nil
}

// configErrors returns every *config.Error in err's tree.
func configErrors(err error) []*config.Error {
	var out []*config.Error
	var walk func(error)
	walk = func(e error) {
		var ce *config.Error
		switch x := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		default:
			if errors.As(e, &ce) {
				if u, ok := e.(interface{ Unwrap() error }); ok && u.Unwrap() != nil {
					if inner := configErrors(u.Unwrap()); len(inner) > 1 {
						out = append(out, inner...)
						return
					}
				}
				out = append(out, ce)
			}
		}
	}
	walk(err)
	return out
}
