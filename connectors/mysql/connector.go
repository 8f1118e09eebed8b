// Package mysql is the MySQL and MariaDB change-data-capture source: it
// takes a lock-free consistent snapshot, then streams the binlog with
// go-mysql's binlog syncer, and emits Debezium's change-event envelope
// so that a Debezium MySQL or MariaDB connector config runs unchanged.
//
// Column names, primary keys, signedness, charsets and enum/set members
// come from the binlog's table-map metadata (binlog_row_metadata=FULL),
// so there is no DDL parser and no schema history topic.
package mysql

import (
	"context"
	"errors"
	"maps"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
	"github.com/sluice-cdc/sluice/internal/pemfile"
)

// Class is Debezium's MySQL connector class, accepted as connector.class;
// MariaDBClass is Debezium's MariaDB connector, also accepted (events then
// say source.connector "mariadb").
const (
	Class        = "io.debezium.connector.mysql.MySqlConnector"
	MariaDBClass = "io.debezium.connector.mariadb.MariaDbConnector"
)

// Plugin describes the connector for the registry.
func Plugin() connectors.Plugin {
	return connectors.Plugin{Name: "mysql", Class: Class, Aliases: []string{MariaDBClass}, Type: connectors.SourceType, Version: Version,
		New: func() connectors.Connector { return &Connector{} }}
}

// Connector is the MySQL source connector. A binlog has one reader, so it
// always runs one task.
type Connector struct {
	props map[string]string
}

var (
	_ connectors.SourceConnector = (*Connector)(nil)
	_ connectors.Validator       = (*Connector)(nil)
	_ connectors.SourceTask      = (*Task)(nil)
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

// TaskConfigs returns one task config whatever maxTasks is.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

// Stop does nothing; the task owns every connection.
func (c *Connector) Stop(ctx context.Context) error { return nil }

// NewTask returns a task.
func (c *Connector) NewTask() connectors.SourceTask { return NewTask() }

// Validate connects and runs the task's pre-start checks: reachability
// and credentials, the binlog settings, privileges and the server id.
func (c *Connector) Validate(ctx context.Context, props map[string]string) map[string][]string {
	cfg, err := ParseConfig(props)
	if err != nil {
		if _, perr := def.Parse(props); perr == nil {
			return config.ByKey(err) // refused properties the definition alone accepts
		}
		return nil
	}
	db, err := connect(ctx, cfg)
	if err != nil {
		key := Hostname
		var ce *ConnectError
		var pe *pemfile.Error
		switch {
		case errors.As(err, &ce):
			key = ce.Property()
		case errors.As(err, &pe):
			key = pe.Source.Prop
		}
		return map[string][]string{key: {err.Error()}}
	}
	defer db.Close()
	_, errs, err := preflight(ctx, db, cfg)
	if err != nil {
		return map[string][]string{Hostname: {err.Error()}}
	}
	out := map[string][]string{}
	for _, e := range errs {
		key := Hostname
		var ce *CheckError
		if errors.As(e, &ce) && ce.Key != "" {
			key = ce.Key
		}
		out[key] = append(out[key], e.Error())
	}
	return out
}
