// Package api is the contract between the worker's herder and its REST
// layer: the Kafka Connect entities in their JSON shapes, the errors a
// request can end with, and the Herder interface the REST handlers call.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluice-cdc/sluice/config"
)

// Connector and task states, as Kafka Connect reports them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// TargetState is the state a user asked a connector to be in.
type TargetState string

// Target states. STARTED is Connect's name for "running".
const (
	TargetStarted TargetState = "STARTED"
	TargetPaused  TargetState = "PAUSED"
	TargetStopped TargetState = "STOPPED"
)

// ConnectorType is "source" or "sink" (or "unknown" before a plugin loads).
type ConnectorType string

// TaskID names a task: {"connector": "c", "task": 0}.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorInfo is GET /connectors/{name}.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   ConnectorType     `json:"type"`
}

// TaskInfo is one element of GET /connectors/{name}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// ConnectorState is the "connector" part of a status.
type ConnectorState struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	// Starts counts the connector's starts, on whichever worker (a Sluice
	// addition): a rebalance that leaves it running does not change it.
	Starts int `json:"starts,omitempty"`
}

// TaskState is one task's status (GET /connectors/{c}/tasks/{t}/status).
type TaskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	// Starts counts the task's starts since its connector's config last
	// changed, on whichever worker (a Sluice addition): a rebalance that
	// leaves it running does not change it.
	Starts int `json:"starts,omitempty"`
}

// ConnectorStatus is GET /connectors/{name}/status.
type ConnectorStatus struct {
	Name      string         `json:"name"`
	Connector ConnectorState `json:"connector"`
	Tasks     []TaskState    `json:"tasks"`
	Type      ConnectorType  `json:"type"`
}

// CreateRequest is the body of POST /connectors.
type CreateRequest struct {
	Name         string            `json:"name"`
	Config       map[string]string `json:"config"`
	InitialState TargetState       `json:"initial_state,omitempty"`
}

// Offset is one partition/offset pair of the offsets API. For sources the
// partition and offset are the connector's own maps; for sinks they are
// {"kafka_topic","kafka_partition"} and {"kafka_offset"}. A nil Offset in a
// PATCH deletes that partition's offset.
type Offset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// Offsets is the body of GET and PATCH /connectors/{name}/offsets.
type Offsets struct {
	Offsets []Offset `json:"offsets"`
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// ServerInfo is GET /.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// Health is GET /health (KIP-1017).
type Health struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// Herder is what the REST layer needs from the worker. Every method is
// safe for concurrent use and returns promptly: work that takes time
// (starting a connector, stopping a hung task) happens elsewhere. Errors
// are *Error (or wrap one) to choose the HTTP status; anything else is a
// 500.
type Herder interface {
	ServerInfo(ctx context.Context) ServerInfo
	Health(ctx context.Context) Health

	Connectors(ctx context.Context) ([]string, error)
	ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error)
	ConnectorConfig(ctx context.Context, name string) (map[string]string, error)
	// CreateConnector creates a new connector; ErrAlreadyExists (409) when
	// the name is taken, a 400 *Error listing each invalid field when the
	// config does not validate.
	CreateConnector(ctx context.Context, req CreateRequest) (ConnectorInfo, error)
	// PutConnectorConfig creates or replaces a connector's config and
	// reports whether it created it.
	PutConnectorConfig(ctx context.Context, name string, cfg map[string]string) (ConnectorInfo, bool, error)
	// PatchConnectorConfig merges patch into the config; a nil value
	// removes the key.
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error)
	DeleteConnector(ctx context.Context, name string) error

	ConnectorStatus(ctx context.Context, name string) (ConnectorStatus, error)
	TaskConfigs(ctx context.Context, name string) ([]TaskInfo, error)
	TaskStatus(ctx context.Context, name string, task int) (TaskState, error)

	// RestartConnector restarts the connector and, with includeTasks, its
	// tasks (only the failed ones with onlyFailed). When both flags are
	// false it returns nil status (HTTP 204); otherwise the status with
	// the instances being restarted marked RESTARTING (HTTP 202).
	RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*ConnectorStatus, error)
	RestartTask(ctx context.Context, name string, task int) error
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error

	ConnectorTopics(ctx context.Context, name string) ([]string, error)
	ResetConnectorTopics(ctx context.Context, name string) error

	// Offsets, AlterOffsets and ResetOffsets back the KIP-875 API.
	// AlterOffsets and ResetOffsets fail with a 400 unless the connector
	// is STOPPED.
	Offsets(ctx context.Context, name string) (Offsets, error)
	AlterOffsets(ctx context.Context, name string, offsets Offsets) error
	ResetOffsets(ctx context.Context, name string) error

	Plugins(ctx context.Context, connectorsOnly bool) []PluginInfo
	PluginConfig(ctx context.Context, plugin string) ([]config.KeyInfo, error)
	// ValidateConfig validates cfg for plugin; 400 if cfg's
	// connector.class names another plugin.
	ValidateConfig(ctx context.Context, plugin string, cfg map[string]string) (config.Infos, error)
}

// Error is a request failure with its HTTP status.
type Error struct {
	Status  int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Message == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// MarshalJSON writes Connect's error body.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}{e.Status, e.Error()})
}

// Errorf returns an *Error with the given status.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for the common failures. Compare with errors.Is; the herder
// wraps them with a specific message via NotFound and friends.
var (
	ErrNotFound      = &Error{Status: http.StatusNotFound, Message: "not found"}
	ErrAlreadyExists = &Error{Status: http.StatusConflict, Message: "already exists"}
	ErrBadRequest    = &Error{Status: http.StatusBadRequest, Message: "bad request"}
	ErrRebalance     = &Error{Status: http.StatusConflict, Message: "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"}
)

// NotFound returns a 404 error with a specific message.
func NotFound(format string, args ...any) error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf(format, args...), Err: ErrNotFound}
}

// AlreadyExists returns a 409 error with a specific message.
func AlreadyExists(format string, args ...any) error {
	return &Error{Status: http.StatusConflict, Message: fmt.Sprintf(format, args...), Err: ErrAlreadyExists}
}

// BadRequest returns a 400 error with a specific message.
func BadRequest(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Err: ErrBadRequest}
}

// StatusOf returns the HTTP status for err: the *Error's, or 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
