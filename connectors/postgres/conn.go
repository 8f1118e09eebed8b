package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"unicode/utf8"

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
}

// appName is the application_name of a connector's sessions: "sluice
// <connector name>", so that the checks can tell the connector's own
// walsender on its slot from another reader's (a running connector is
// validated again when its config is replaced), and a DBA sees who is
// connected. It fits PostgreSQL's 63 bytes: a longer name is cut and
// followed by a hash of the whole name.
func appName(connector string) string {
	const limit = 63
	s := "sluice " + connector
	if connector == "" {
		return "sluice"
	}
	if len(s) <= limit && utf8.ValidString(s) {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(connector))
	tail := fmt.Sprintf("~%08x", h.Sum32())
	cut := s[:limit-len(tail)]
	for !utf8.ValidString(cut) {
		cut = cut[:len(cut)-1]
	}
	return cut + tail
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
	pc.RuntimeParams["application_name"] = appName(cfg.Name)
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
	pc.RuntimeParams["application_name"] = appName(cfg.Name)
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
	// NoDB is true when the server has no database named DB.
	NoDB bool
	// TLSKey is the property to change when TLS failed (verification,
	// a server without TLS, a hostssl-only server with sslmode=disable);
	// TLSFix says how. Such a failure is not worth retrying.
	TLSKey, TLSFix string
	Err            error
}

func (e *ConnectError) Error() string {
	fix := "check database.hostname and database.port, and that the server accepts TCP connections from this worker"
	switch {
	case e.TLSKey != "":
		fix = e.TLSFix
	case e.Auth:
		fix = "check database.user and database.password (and pg_hba.conf)"
	case e.NoDB:
		fix = "set database.dbname to a database that exists on the server (psql -l lists them)"
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
	if errors.As(err, &pe) && pe.Code == "3D000" { // invalid_catalog_name
		ce.NoDB = true
	}
	if key, fix, ok := tlsFailure(cfg, err); ok {
		ce.TLSKey, ce.TLSFix = key, fix
	}
	return ce
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// quoteTable quotes schema.table.
func quoteTable(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }
