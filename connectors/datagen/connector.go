package datagen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// Version is the datagen plugin's version.
const Version = "0.1.0"

// Plugin returns the datagen source plugin. It also answers to the class
// name of Confluent's kafka-connect-datagen, so its configs can be pasted
// as they are.
func Plugin() connectors.Plugin {
	return connectors.Plugin{
		Name:    "datagen",
		Class:   "datagen",
		Aliases: []string{"io.confluent.kafka.connect.datagen.DatagenConnector"},
		Type:    connectors.SourceType,
		Version: Version,
		New:     func() connectors.Connector { return NewConnector() },
	}
}

// Connector is the datagen source connector. It splits the sequence space
// among its tasks. Its methods are safe for concurrent use.
type Connector struct {
	mu struct {
		sync.Mutex
		props map[string]string // nil until Start succeeds
		cfg   Config
	}
}

var (
	_ connectors.SourceConnector = (*Connector)(nil)
	_ connectors.Validator       = (*Connector)(nil)
)

// NewConnector returns a connector ready to Start.
func NewConnector() *Connector { return &Connector{} }

// Config returns the connector's config definition.
func (c *Connector) Config() *config.Def { return def }

// Start parses and validates props; the error is a wrapped config.Errors
// naming every invalid property.
func (c *Connector) Start(_ context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	cfg, err := ParseConfig(props)
	if err != nil {
		return fmt.Errorf("datagen connector: %w", err)
	}
	c.mu.Lock()
	c.mu.props, c.mu.cfg = maps.Clone(props), cfg
	c.mu.Unlock()
	if cctx != nil && cctx.Logger() != nil {
		cctx.Logger().Info("datagen connector started", "topic", cfg.Topic, "quickstart", cfg.Quickstart,
			"iterations", cfg.Iterations)
	}
	return nil
}

// TaskConfigs returns min(maxTasks, iterations) task configs (at least
// one): the connector's properties plus datagen.task.index and
// datagen.task.count. Task i generates the sequence numbers i, i+N, i+2N...
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.props == nil {
		return nil, errors.New("datagen connector: TaskConfigs called before a successful Start")
	}
	if maxTasks < 1 {
		return nil, fmt.Errorf("datagen connector: tasks.max %d: must be at least 1; set tasks.max", maxTasks)
	}
	n := int64(maxTasks)
	if it := c.mu.cfg.Iterations; it >= 0 && it < n {
		n = max(it, 1) // no task would have anything to do
	}
	out := make([]map[string]string, n)
	for i := range out {
		p := maps.Clone(c.mu.props)
		p[TaskIndex] = strconv.Itoa(i)
		p[TaskCount] = strconv.FormatInt(n, 10)
		out[i] = p
	}
	return out, nil
}

// Stop stops the connector. It holds nothing, so it only returns.
func (c *Connector) Stop(context.Context) error { return nil }

// NewTask returns a new datagen task.
func (c *Connector) NewTask() connectors.SourceTask { return NewTask() }

// Validate checks what the definition's types cannot: ranges, the
// quickstart name, the topic name and unsupported Confluent properties. It
// returns errors by property; type errors and missing required properties
// are left to the definition's own validation.
func (c *Connector) Validate(_ context.Context, props map[string]string) map[string][]string {
	v, perr := def.Parse(props)
	var errs config.Errors
	if perr != nil && !errors.As(perr, &errs) {
		return map[string][]string{"": {perr.Error()}}
	}
	cfg := fromValues(v)
	found := cfg.check(v, failed(errs))
	if len(found) == 0 {
		return nil
	}
	out := make(map[string][]string, len(found))
	for _, e := range found {
		out[e.Key] = append(out[e.Key], e.Reason)
	}
	return out
}
