package jdbc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/connectors"
)

// Plugin returns the JDBC sink's plugin description.
func Plugin() connectors.Plugin {
	return connectors.Plugin{
		Name:    "jdbc",
		Class:   "io.debezium.connector.jdbc.JdbcSinkConnector",
		Aliases: []string{"io.confluent.connect.jdbc.JdbcSinkConnector"},
		Type:    connectors.SinkType,
		Version: "0.1.0",
		New:     func() connectors.Connector { return &Connector{} },
	}
}

// Connector is the JDBC sink connector. Every task gets the same config;
// the runtime's consumer group splits the topic partitions between them.
type Connector struct {
	props map[string]string
}

var (
	_ connectors.SinkConnector = (*Connector)(nil)
	_ connectors.Validator     = (*Connector)(nil)
	_ connectors.SinkTask      = (*Task)(nil)
)

// Config returns the config definition.
func (c *Connector) Config() *config.Def { return def }

// Start checks the config.
func (c *Connector) Start(ctx context.Context, cctx connectors.ConnectorContext, props map[string]string) error {
	if _, err := ParseConfig(props); err != nil {
		return err
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

// Validate connects to the database and reports a wrong password, an
// unknown database or an unreachable server under connection.url (or the
// user/password property), naming host:port.
func (c *Connector) Validate(ctx context.Context, props map[string]string) map[string][]string {
	if _, err := def.Parse(props); err != nil {
		// Errors of single properties are reported by the definition.
		return nil
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		// Combinations of properties that do not work together.
		return config.ByKey(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := newDialect(ctx, cfg)
	if err != nil {
		key, msg := explainConnectError(cfg, err)
		return map[string][]string{key: {msg}}
	}
	_ = d.close(ctx)
	return nil
}

// explainConnectError says which property a connection failure points at.
// noUser explains an authentication failure without connection.username:
// the driver then logs in as this machine's user, which the server's
// message names and the user did not choose.
func noUser(addr, msg string) (string, string) {
	return ConnectionUsername, fmt.Sprintf("authentication failed at %s with no user set (connection.username is empty, so the driver used this machine's user name): %s; set connection.username and connection.password", addr, msg)
}

func explainConnectError(cfg *Config, err error) (string, string) {
	addr := cfg.URL.Addr()
	if msg, ok := explainTLSError(cfg.URL, err); ok {
		return ConnectionURL, msg
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			if cfg.URL.User == "" {
				return noUser(addr, pe.Message)
			}
			return ConnectionPassword, fmt.Sprintf("authentication as %q failed at %s: %s; check connection.username and connection.password", cfg.URL.User, addr, pe.Message)
		case "3D000":
			return ConnectionURL, fmt.Sprintf("database %q does not exist on %s; create it or fix connection.url", cfg.URL.Database, addr)
		}
		return ConnectionURL, fmt.Sprintf("%s refused the connection: %s", addr, pe.Message)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045:
			if cfg.URL.User == "" {
				return noUser(addr, me.Message)
			}
			fix := "check connection.username and connection.password"
			if ts, err := cfg.URL.mysqlTLS(); err == nil && ts.mode == tlsDisable {
				fix += fmt.Sprintf(", and whether the server requires TLS (require_secure_transport, or the user's REQUIRE SSL/X509): connection.url has %s; set sslMode=VERIFY_IDENTITY with the CA (or REQUIRED)", ts.modeSrc)
			}
			return ConnectionPassword, fmt.Sprintf("authentication as %q failed at %s: %s; %s", cfg.URL.User, addr, me.Message, fix)
		case 1049:
			return ConnectionURL, fmt.Sprintf("database %q does not exist on %s; create it or fix connection.url", cfg.URL.Database, addr)
		}
		return ConnectionURL, fmt.Sprintf("%s refused the connection: %s", addr, me.Message)
	}
	return ConnectionURL, fmt.Sprintf("cannot reach %s: %v; check the host and port in connection.url and that the server is running", addr, err)
}
