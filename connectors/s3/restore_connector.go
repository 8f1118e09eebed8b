package s3

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// RestorePlugin returns the s3-restore source's plugin description.
func RestorePlugin() connectors.Plugin {
	return connectors.Plugin{
		Name:    "s3-restore",
		Type:    connectors.SourceType,
		Version: "0.1.0",
		New:     func() connectors.Connector { return &RestoreConnector{} },
	}
}

// restoreListTimeout bounds the connector's listing of the archive.
const restoreListTimeout = 5 * time.Minute

// RestoreConnector is the s3-restore source connector: it lists the
// archived topic partitions at start and spreads them over the tasks.
// Its methods are safe for concurrent use.
type RestoreConnector struct {
	mu struct {
		sync.Mutex
		props map[string]string
		parts []topicPartition
	}
}

var (
	_ connectors.SourceConnector = (*RestoreConnector)(nil)
	_ connectors.Validator       = (*RestoreConnector)(nil)
)

// Config returns the config definition.
func (c *RestoreConnector) Config() *config.Def { return restoreDef }

// Start parses the config and lists the archive's topic partitions.
func (c *RestoreConnector) Start(ctx context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	cfg, err := ParseRestoreConfig(props)
	if err != nil {
		return fmt.Errorf("s3-restore connector: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, restoreListTimeout)
	defer cancel()
	st, err := newStore(ctx, cfg.S3)
	if err != nil {
		return err
	}
	arch := archive{}
	for _, topic := range cfg.Topics {
		if err := listArchive(ctx, st, cfg, topic, nil, arch); err != nil {
			if retriable(err) {
				return connectors.Retry(err)
			}
			return err
		}
	}
	parts := slices.SortedFunc(maps.Keys(arch), func(a, b topicPartition) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition - b.partition)
	})
	log := cctx.Logger()
	for _, topic := range cfg.Topics {
		n, maxPart, objects := 0, int32(-1), 0
		for _, tp := range parts {
			if tp.topic == topic {
				n++
				maxPart = max(maxPart, tp.partition)
				objects += len(arch[tp])
			}
		}
		if n == 0 {
			log.Warn("no archived objects of the topic: nothing to restore", "topic", topic, "prefix", st.topicPrefix(topic), "format", cfg.S3.Format)
			continue
		}
		log.Info("archive listed", "topic", topic, "target", cfg.target(topic), "partitions", n, "objects", objects)
		if cfg.KeepPartitions {
			log.Info("s3.restore.keep.partitions=true: the target topic needs at least as many partitions as the archive",
				"target", cfg.target(topic), "partitions_needed", maxPart+1)
		}
	}
	c.mu.Lock()
	c.mu.props, c.mu.parts = maps.Clone(props), parts
	c.mu.Unlock()
	return nil
}

// TaskConfigs spreads the archived topic partitions over at most maxTasks
// tasks, round robin in topic and partition order.
func (c *RestoreConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.props == nil {
		return nil, errors.New("s3-restore connector: TaskConfigs called before a successful Start")
	}
	n := max(min(maxTasks, len(c.mu.parts)), 1)
	shares := make([][]string, n)
	for i, tp := range c.mu.parts {
		shares[i%n] = append(shares[i%n], tp.String())
	}
	out := make([]map[string]string, n)
	for i := range out {
		p := maps.Clone(c.mu.props)
		p[RestoreTaskPartitions] = strings.Join(shares[i], ",")
		out[i] = p
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *RestoreConnector) Stop(context.Context) error { return nil }

// NewTask returns a new restore task.
func (c *RestoreConnector) NewTask() connectors.SourceTask { return NewRestoreTask() }

// Validate reports combinations of properties that do not work together
// and, when the config parses, a bucket that cannot be listed, naming the
// bucket, the endpoint and the S3 error code.
func (c *RestoreConnector) Validate(ctx context.Context, props map[string]string) map[string][]string {
	if _, err := restoreDef.Parse(props); err != nil {
		return nil
	}
	cfg, err := ParseRestoreConfig(props)
	if err != nil {
		return config.ByKey(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cfg.S3.Retries = 0
	st, err := newStore(ctx, cfg.S3)
	if err == nil {
		err = st.check(ctx)
	}
	if err != nil {
		return map[string][]string{BucketName: {err.Error()}}
	}
	return nil
}
