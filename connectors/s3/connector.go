package s3

import (
	"context"
	"maps"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// Plugin returns the S3 sink's plugin description.
func Plugin() connectors.Plugin {
	return connectors.Plugin{
		Name:    "s3",
		Class:   "io.confluent.connect.s3.S3SinkConnector",
		Type:    connectors.SinkType,
		Version: "0.1.0",
		New:     func() connectors.Connector { return &Connector{} },
	}
}

// Connector is the S3 sink connector. Every task gets the same config;
// the runtime's consumer group splits the topic partitions between them.
type Connector struct {
	props map[string]string
}

var (
	_ connectors.SinkConnector = (*Connector)(nil)
	_ connectors.Validator     = (*Connector)(nil)
)

// Config returns the config definition.
func (c *Connector) Config() *config.Def { return def }

// Start checks the config and warns about settings that give up
// exactly-once objects.
func (c *Connector) Start(ctx context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	cfg, err := ParseConfig(props)
	if err != nil {
		return err
	}
	log := cctx.Logger()
	if cfg.RotateSchedule > 0 {
		log.Warn("rotate.schedule.interval.ms closes objects by wall-clock time: a replay after a crash may write records a second time under other names (no exactly-once objects)", "rotate.schedule.interval.ms", cfg.RotateSchedule.Milliseconds())
	}
	if cfg.usesTime() && cfg.Extractor == ExtractorWallclock {
		log.Warn("timestamp.extractor=Wallclock files records by the time they are written: a replay after a crash may write records a second time under other names; use Record or RecordField for exactly-once objects")
	}
	c.props = maps.Clone(props)
	return nil
}

// TaskConfigs returns maxTasks copies of the config.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = maps.Clone(c.props)
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop(ctx context.Context) error { return nil }

// NewTask returns a new sink task.
func (c *Connector) NewTask() connectors.SinkTask { return NewTask() }

// Validate reports combinations of properties that do not work together
// and, when the config parses, a bucket that cannot be listed (missing,
// wrong credentials, wrong region), naming the bucket, the endpoint and
// the S3 error code.
func (c *Connector) Validate(ctx context.Context, props map[string]string) map[string][]string {
	if _, err := def.Parse(props); err != nil {
		return nil
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		return config.ByKey(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cfg.Retries = 0
	st, err := newStore(ctx, cfg)
	if err == nil {
		err = st.check(ctx)
	}
	if err != nil {
		return map[string][]string{BucketName: {err.Error()}}
	}
	return nil
}
