package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/runtime/kafkalog"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Indexes of the state topics in stateTopics.
const (
	configsTopic = iota
	offsetsTopic
	statusTopic
	schemasTopic
)

// stateTopics returns every internal topic the worker keeps state in.
// Each is created compacted and never expiring (kafkalog.StateConfigs) and
// checked at start by ensureStateTopics; a new store (schemas, say) adds
// its topic here.
func stateTopics(cfg *config.Worker) []kafkalog.Topic {
	v := cfg.Values
	topics := []kafkalog.Topic{
		configsTopic: {Name: cfg.String(config.ConfigStorageTopic), Partitions: 1, ReplicationFactor: int16(v.Int(config.ConfigStorageRF))},
		offsetsTopic: {Name: cfg.String(config.OffsetStorageTopic), Partitions: int32(v.Int(config.OffsetStoragePartitions)),
			ReplicationFactor: int16(v.Int(config.OffsetStorageRF))},
		statusTopic: {Name: cfg.String(config.StatusStorageTopic), Partitions: int32(v.Int(config.StatusStoragePartitions)),
			ReplicationFactor: int16(v.Int(config.StatusStorageRF))},
	}
	if name := cfg.String(config.SchemaRegistryTopic); name != "" {
		topics = append(topics, kafkalog.Topic{Name: name, Partitions: 1, ReplicationFactor: int16(v.Int(config.ConfigStorageRF))})
	}
	return topics
}

// ensureStateTopics creates the state topics that are missing and checks
// the configs of those that exist. On the embedded broker, which only
// this worker uses, it sets what is wrong and logs it; on other brokers it
// returns a *kafkalog.TopicConfigError naming the topic and the command
// that fixes it (servers are the brokers, for that command).
func ensureStateTopics(ctx context.Context, adm *kadm.Client, topics []kafkalog.Topic, embedded bool, servers []string, logger *slog.Logger) error {
	for _, t := range topics {
		if embedded {
			fixed, err := kafkalog.Repair(ctx, adm, t)
			if err != nil {
				return err
			}
			for _, f := range fixed {
				logger.Warn("fixed a config of a state topic so that its records are kept for good",
					"topic", t.Name, "config", f.Name, "was", f.Have, "now", f.Want)
			}
			continue
		}
		if err := kafkalog.Ensure(ctx, adm, t); err != nil {
			var tce *kafkalog.TopicConfigError
			if errors.As(err, &tce) {
				tce.Bootstrap = strings.Join(servers, ",")
			}
			return err
		}
	}
	return nil
}
