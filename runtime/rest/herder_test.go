package rest_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/api"
)

// call is one recorded herder call.
type call struct {
	Method string
	Args   []any
}

func (c call) String() string { return fmt.Sprintf("%s%v", c.Method, c.Args) }

// fakeHerder records every call and answers with canned entities, or
// with errs[method] when set.
type fakeHerder struct {
	mu    sync.Mutex
	calls []call
	errs  map[string]error
	// errFor answers a per-connector error for a method, keyed
	// "Method/connector" (used for the expand race).
	errFor map[string]error

	server    api.ServerInfo
	health    api.Health
	names     []string
	infos     map[string]api.ConnectorInfo
	statuses  map[string]api.ConnectorStatus
	config    map[string]string
	created   bool
	tasks     []api.TaskInfo
	taskState api.TaskState
	restart   *api.ConnectorStatus
	topics    []string
	offsets   api.Offsets
	plugins   []api.PluginInfo
	keys      []config.KeyInfo
	infosVal  config.Infos

	// ctxCheck, when set, is called with every call's context.
	ctxCheck func(context.Context)
}

func (f *fakeHerder) record(ctx context.Context, method string, args ...any) error {
	if f.ctxCheck != nil {
		f.ctxCheck(ctx)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method, args})
	if len(args) > 0 {
		if err := f.errFor[fmt.Sprintf("%s/%v", method, args[0])]; err != nil {
			return err
		}
	}
	return f.errs[method]
}

func (f *fakeHerder) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func (f *fakeHerder) ServerInfo(ctx context.Context) api.ServerInfo {
	_ = f.record(ctx, "ServerInfo")
	return f.server
}

func (f *fakeHerder) Health(ctx context.Context) api.Health {
	_ = f.record(ctx, "Health")
	return f.health
}

func (f *fakeHerder) Connectors(ctx context.Context) ([]string, error) {
	if err := f.record(ctx, "Connectors"); err != nil {
		return nil, err
	}
	return f.names, nil
}

func (f *fakeHerder) ConnectorInfo(ctx context.Context, name string) (api.ConnectorInfo, error) {
	if err := f.record(ctx, "ConnectorInfo", name); err != nil {
		return api.ConnectorInfo{}, err
	}
	return f.infos[name], nil
}

func (f *fakeHerder) ConnectorConfig(ctx context.Context, name string) (map[string]string, error) {
	if err := f.record(ctx, "ConnectorConfig", name); err != nil {
		return nil, err
	}
	return f.config, nil
}

func (f *fakeHerder) CreateConnector(ctx context.Context, req api.CreateRequest) (api.ConnectorInfo, error) {
	if err := f.record(ctx, "CreateConnector", req); err != nil {
		return api.ConnectorInfo{}, err
	}
	return api.ConnectorInfo{Name: req.Name, Config: req.Config, Tasks: []api.TaskID{}, Type: "source"}, nil
}

func (f *fakeHerder) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string) (api.ConnectorInfo, bool, error) {
	if err := f.record(ctx, "PutConnectorConfig", name, cfg); err != nil {
		return api.ConnectorInfo{}, false, err
	}
	return api.ConnectorInfo{Name: name, Config: cfg, Tasks: []api.TaskID{{Connector: name, Task: 0}}, Type: "sink"}, f.created, nil
}

func (f *fakeHerder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (api.ConnectorInfo, error) {
	if err := f.record(ctx, "PatchConnectorConfig", name, patch); err != nil {
		return api.ConnectorInfo{}, err
	}
	cfg := map[string]string{"name": name, "connector.class": "jdbc"}
	for k, v := range patch {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	return api.ConnectorInfo{Name: name, Config: cfg, Type: "sink"}, nil
}

func (f *fakeHerder) DeleteConnector(ctx context.Context, name string) error {
	return f.record(ctx, "DeleteConnector", name)
}

func (f *fakeHerder) ConnectorStatus(ctx context.Context, name string) (api.ConnectorStatus, error) {
	if err := f.record(ctx, "ConnectorStatus", name); err != nil {
		return api.ConnectorStatus{}, err
	}
	return f.statuses[name], nil
}

func (f *fakeHerder) TaskConfigs(ctx context.Context, name string) ([]api.TaskInfo, error) {
	if err := f.record(ctx, "TaskConfigs", name); err != nil {
		return nil, err
	}
	return f.tasks, nil
}

func (f *fakeHerder) TaskStatus(ctx context.Context, name string, task int) (api.TaskState, error) {
	if err := f.record(ctx, "TaskStatus", name, task); err != nil {
		return api.TaskState{}, err
	}
	return f.taskState, nil
}

func (f *fakeHerder) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*api.ConnectorStatus, error) {
	if err := f.record(ctx, "RestartConnector", name, includeTasks, onlyFailed); err != nil {
		return nil, err
	}
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	return f.restart, nil
}

func (f *fakeHerder) RestartTask(ctx context.Context, name string, task int) error {
	return f.record(ctx, "RestartTask", name, task)
}

func (f *fakeHerder) PauseConnector(ctx context.Context, name string) error {
	return f.record(ctx, "PauseConnector", name)
}

func (f *fakeHerder) ResumeConnector(ctx context.Context, name string) error {
	return f.record(ctx, "ResumeConnector", name)
}

func (f *fakeHerder) StopConnector(ctx context.Context, name string) error {
	return f.record(ctx, "StopConnector", name)
}

func (f *fakeHerder) ConnectorTopics(ctx context.Context, name string) ([]string, error) {
	if err := f.record(ctx, "ConnectorTopics", name); err != nil {
		return nil, err
	}
	return f.topics, nil
}

func (f *fakeHerder) ResetConnectorTopics(ctx context.Context, name string) error {
	return f.record(ctx, "ResetConnectorTopics", name)
}

func (f *fakeHerder) Offsets(ctx context.Context, name string) (api.Offsets, error) {
	if err := f.record(ctx, "Offsets", name); err != nil {
		return api.Offsets{}, err
	}
	return f.offsets, nil
}

func (f *fakeHerder) AlterOffsets(ctx context.Context, name string, offsets api.Offsets) error {
	return f.record(ctx, "AlterOffsets", name, offsets)
}

func (f *fakeHerder) ResetOffsets(ctx context.Context, name string) error {
	return f.record(ctx, "ResetOffsets", name)
}

func (f *fakeHerder) Plugins(ctx context.Context, connectorsOnly bool) []api.PluginInfo {
	_ = f.record(ctx, "Plugins", connectorsOnly)
	return f.plugins
}

func (f *fakeHerder) PluginConfig(ctx context.Context, plugin string) ([]config.KeyInfo, error) {
	if err := f.record(ctx, "PluginConfig", plugin); err != nil {
		return nil, err
	}
	return f.keys, nil
}

func (f *fakeHerder) ValidateConfig(ctx context.Context, plugin string, cfg map[string]string) (config.Infos, error) {
	if err := f.record(ctx, "ValidateConfig", plugin, cfg); err != nil {
		return config.Infos{}, err
	}
	return f.infosVal, nil
}

var _ api.Herder = (*fakeHerder)(nil)
