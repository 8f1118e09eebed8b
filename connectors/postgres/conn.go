package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// sessionParams fix the text output formats the converters parse. They
// are set on every connection, the replication one included (pgoutput
// formats values with the walsender's settings).
var sessionParams = map[string]string{
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "iso_8601",
	"TimeZone":           "UTC",
	"bytea_output":       "hex",
	"extra_float_digits": "1",
	"application_name":   "sluice",
}

// connect opens a regular connection to the configured database.
func connect(ctx context.Context, cfg *Config) (*pgx.Conn, error) {
	pc, err := pgx.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("building connection config: %w", err)
	}
	for k, v := range sessionParams {
		pc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, connectError(cfg, err)
	}
	return conn, nil
}

// connectReplication opens a logical replication connection.
func connectReplication(ctx context.Context, cfg *Config) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(cfg.ConnString())
	if err != nil {
		return nil, fmt.Errorf("building connection config: %w", err)
	}
	for k, v := range sessionParams {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, connectError(cfg, err)
	}
	return conn, nil
}

// ConnectError is a failure to reach or log in to the server.
type ConnectError struct {
	Addr, User, DB string
	// Auth is true when the server rejected the credentials.
	Auth bool
	Err  error
}

func (e *ConnectError) Error() string {
	fix := "check database.hostname and database.port, and that the server accepts TCP connections from this worker"
	if e.Auth {
		fix = "check database.user and database.password (and pg_hba.conf)"
	}
	return fmt.Sprintf("cannot connect to PostgreSQL at %s as user %q (database %q): %v; %s", e.Addr, e.User, e.DB, e.Err, fix)
}

func (e *ConnectError) Unwrap() error { return e.Err }

func connectError(cfg *Config, err error) error {
	ce := &ConnectError{Addr: cfg.Addr(), User: cfg.User, DB: cfg.DBName, Err: err}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000") {
		ce.Auth = true
	}
	return ce
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteTable quotes schema.table.
func quoteTable(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }
