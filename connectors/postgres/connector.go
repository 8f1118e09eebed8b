// Package postgres is the PostgreSQL change-data-capture source: it
// takes a consistent snapshot from a logical replication slot's exported
// snapshot, then streams the slot with pgoutput, and emits Debezium's
// change-event envelope so that a Debezium PostgreSQL connector config
// runs unchanged.
//
// Layers: pgoutput decodes the replication messages, pgtypes converts
// text-format values into Connect values, and this package runs the slot,
// the snapshot, the stream and the acknowledgement of LSNs.
package postgres

import (
	"context"
	"maps"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// Class is Debezium's connector class, accepted as connector.class.
const Class = "io.debezium.connector.postgresql.PostgresConnector"

// Plugin describes the connector for the registry.
func Plugin() connectors.Plugin {
	return connectors.Plugin{Name: "postgres", Class: Class, Type: connectors.SourceType, Version: Version,
		New: func() connectors.Connector { return &Connector{} }}
}

// Connector is the PostgreSQL source connector. A slot has one reader, so
// it always runs one task.
type Connector struct {
	props map[string]string
}

var (
	_ connectors.SourceConnector = (*Connector)(nil)
	_ connectors.Validator       = (*Connector)(nil)
	_ connectors.SourceTask      = (*Task)(nil)
	_ connectors.SourceCommitter = (*Task)(nil)
)

// Config returns the property definitions.
func (c *Connector) Config() *config.Def { return def }

// Start keeps the properties for the task.
func (c *Connector) Start(ctx context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	if _, err := ParseConfig(props); err != nil {
		return err
	}
	c.props = maps.Clone(props)
	return nil
}

// TaskConfigs returns one task config whatever maxTasks is: a replication
// slot has exactly one reader.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

// Stop does nothing; the task owns every connection.
func (c *Connector) Stop(ctx context.Context) error { return nil }

// NewTask returns a task.
func (c *Connector) NewTask() connectors.SourceTask { return NewTask() }

// Validate connects to the server and runs the checks the task runs
// before it starts: reachability and credentials, server version,
// wal_level, the REPLICATION attribute, free slots and WAL senders, the
// slot's current reader and the publication. Property errors are left to
// the definition's own validation.
func (c *Connector) Validate(ctx context.Context, props map[string]string) map[string][]string {
	cfg, err := ParseConfig(props)
	if err != nil {
		// Errors of single properties are the definition's to report;
		// those of properties valid alone but not together are ours.
		if es, ok := err.(config.Errors); ok {
			if _, perr := def.Parse(props); perr == nil {
				out := map[string][]string{}
				for _, e := range es {
					out[e.Key] = append(out[e.Key], e.Reason)
				}
				return out
			}
		}
		return nil
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		key := Hostname
		if ce, ok := err.(*ConnectError); ok && ce.TLSKey != "" {
			key = ce.TLSKey
		} else if ok && ce.Auth {
			key = Password
		} else if ok && ce.NoDB {
			key = DBName
		}
		return map[string][]string{key: {err.Error()}}
	}
	defer conn.Close(context.Background())
	p, err := preflight(ctx, conn, cfg)
	if err != nil {
		return map[string][]string{Hostname: {err.Error()}}
	}
	return p.errs
}
