package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	driver "github.com/go-sql-driver/mysql"
)

// ConnectError says the server could not be reached, refused the login
// or the TLS handshake failed.
type ConnectError struct {
	Addr string
	// Auth is set when the server refused the credentials.
	Auth bool
	// Key and Fix are set when TLS is why: the property to change and
	// how.
	Key, Fix string
	// hint is added to a refused login's message (see loginHint).
	hint string
	Err  error
}

func (e *ConnectError) Error() string {
	switch {
	case e.Fix != "":
		return fmt.Sprintf("MySQL at %s: %s (%v)", e.Addr, e.Fix, e.Err)
	case e.Auth:
		return fmt.Sprintf("MySQL at %s refused the login: %v; check database.user and database.password%s", e.Addr, e.Err, e.hint)
	}
	return fmt.Sprintf("cannot reach MySQL at %s: %v; check database.hostname and database.port, and that the server is running and accepts TCP connections", e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Property returns the property a user should look at first.
func (e *ConnectError) Property() string {
	switch {
	case e.Key != "":
		return e.Key
	case e.Auth:
		return Password
	}
	return Hostname
}

// CheckError is a server setting or privilege the source needs; Key is
// the property to change, if the fix is on the connector's side.
type CheckError struct {
	Key    string
	Reason string
}

func (e *CheckError) Error() string { return e.Reason }

// connect opens a pool and checks that the server answers.
func connect(ctx context.Context, cfg *Config) (*sql.DB, error) {
	dc, err := driverConfig(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := driver.NewConnector(dc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(conn)
	db.SetMaxIdleConns(2)
	pctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, connectError(pctx, cfg, err)
	}
	return db, nil
}

// connectError classifies a failure to connect.
func connectError(ctx context.Context, cfg *Config, err error) *ConnectError {
	if key, fix, ok := tlsFailure(cfg, err); ok {
		return &ConnectError{Addr: cfg.Addr(), Key: key, Fix: fix, Err: err}
	}
	var me *driver.MySQLError
	if errors.As(err, &me) && (me.Number == 1045 || me.Number == 1044 || me.Number == 1698) {
		if cfg.SSLMode == SSLDisabled && me.Number == 1045 {
			if fix := needsTLS(ctx, cfg); fix != "" {
				return &ConnectError{Addr: cfg.Addr(), Key: SSLMode, Fix: fix, Err: err}
			}
		}
		return &ConnectError{Addr: cfg.Addr(), Auth: true, Err: err, hint: loginHint(cfg)}
	}
	return &ConnectError{Addr: cfg.Addr(), Err: err}
}

// serverInfo is what the checks learn of the server.
type serverInfo struct {
	mariaDB  bool
	version  string
	serverID uint32
}

// preflight checks the server settings and the user's privileges the
// source needs; each error names the fix.
func preflight(ctx context.Context, db *sql.DB, cfg *Config) (*serverInfo, []error, error) {
	vars := map[string]string{}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN "+
		"('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'version', 'server_id', 'log_bin_compress', 'binlog_row_value_options', 'binlog_annotate_row_events', 'binlog_rows_query_log_events')")
	if err != nil {
		return nil, nil, fmt.Errorf("reading server variables: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, nil, err
		}
		vars[strings.ToLower(k)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	info := &serverInfo{version: vars["version"], mariaDB: strings.Contains(strings.ToLower(vars["version"]), "mariadb")}
	fmt.Sscan(vars["server_id"], &info.serverID)
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, &CheckError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	if !strings.EqualFold(vars["log_bin"], "ON") {
		fail("", "the binary log is off on %s (log_bin=%s): start the server with log-bin (and binlog_format=ROW, binlog_row_image=FULL, binlog_row_metadata=FULL)", cfg.Addr(), vars["log_bin"])
	} else {
		if v := vars["binlog_format"]; !strings.EqualFold(v, "ROW") {
			fail("", "binlog_format is %s: the source reads row events only; set binlog_format=ROW (SET GLOBAL binlog_format=ROW and in the server's configuration)", v)
		}
		if v := vars["binlog_row_image"]; !strings.EqualFold(v, "FULL") {
			fail("", "binlog_row_image is %s: updates and deletes must carry every column; set binlog_row_image=FULL (SET GLOBAL binlog_row_image=FULL and in the server's configuration)", v)
		}
		switch v, ok := vars["binlog_row_metadata"]; {
		case !ok:
			fail("", "the server (%s) has no binlog_row_metadata (MySQL 8.0.1+ and MariaDB 10.5+ have it): the source takes column names, keys, signedness, charsets and enum values from the binlog's table-map metadata, with no DDL parser; upgrade the server", info.version)
		case !strings.EqualFold(v, "FULL"):
			fail("", "binlog_row_metadata is %s: the source takes column names, primary keys, signedness, charsets and enum/set values from the binlog's table-map metadata instead of parsing DDL, and only FULL carries them; set binlog_row_metadata=FULL (SET GLOBAL binlog_row_metadata=FULL and in the server's configuration)", v)
		}
		if cfg.IncludeQuery {
			if info.mariaDB && !strings.EqualFold(vars["binlog_annotate_row_events"], "ON") {
				fail(IncludeQuery, "include.query needs the statements in the binlog: set binlog_annotate_row_events=ON on the server, or include.query=false")
			}
			if !info.mariaDB && !strings.EqualFold(vars["binlog_rows_query_log_events"], "ON") {
				fail(IncludeQuery, "include.query needs the statements in the binlog: set binlog_rows_query_log_events=ON on the server, or include.query=false")
			}
		}
		if strings.EqualFold(vars["log_bin_compress"], "ON") {
			fail("", "log_bin_compress is ON: compressed row events are not read; set log_bin_compress=OFF")
		}
		if strings.Contains(strings.ToUpper(vars["binlog_row_value_options"]), "PARTIAL_JSON") {
			fail("", "binlog_row_value_options includes PARTIAL_JSON: JSON updates would carry diffs, not values; set binlog_row_value_options=''")
		}
	}
	if err := checkGrants(ctx, db, cfg, info, fail); err != nil {
		return nil, nil, err
	}
	if uint32(cfg.ServerID) == info.serverID {
		fail(ServerID, "database.server.id %d is the server's own server_id; pick another", cfg.ServerID)
	}
	if err := checkReplicas(ctx, db, cfg, fail); err != nil {
		return nil, nil, err
	}
	return info, errs, nil
}

// checkGrants reads SHOW GRANTS for the user's privileges.
func checkGrants(ctx context.Context, db *sql.DB, cfg *Config, info *serverInfo, fail func(key, format string, args ...any)) error {
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return fmt.Errorf("reading the user's grants: %w", err)
	}
	defer rows.Close()
	global := map[string]bool{}
	selectAnywhere := false
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return err
		}
		up := strings.ToUpper(g)
		if !strings.HasPrefix(up, "GRANT ") {
			continue
		}
		on := strings.Index(up, " ON ")
		if on < 0 {
			continue // a role grant
		}
		privs := strings.Split(up[len("GRANT "):on], ",")
		target := strings.TrimSpace(up[on+4:])
		isGlobal := strings.HasPrefix(target, "*.*")
		for _, p := range privs {
			p = strings.TrimSpace(p)
			if isGlobal {
				global[p] = true
			}
			if p == "SELECT" || p == "ALL PRIVILEGES" || p == "ALL" {
				selectAnywhere = true
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	all := global["ALL PRIVILEGES"] || global["ALL"]
	if !all && !global["REPLICATION SLAVE"] && !global["BINLOG REPLAY"] {
		fail(User, "user %s lacks REPLICATION SLAVE, needed to read the binlog: GRANT REPLICATION SLAVE ON *.* TO the user", cfg.User)
	}
	if !all && !global["REPLICATION CLIENT"] && !global["BINLOG MONITOR"] && !global["SUPER"] {
		fail(User, "user %s lacks REPLICATION CLIENT (MariaDB: BINLOG MONITOR), needed to read binlog positions: GRANT REPLICATION CLIENT ON *.* TO the user", cfg.User)
	}
	if !selectAnywhere {
		fail(User, "user %s has no SELECT privilege, needed to read table metadata and snapshots: GRANT SELECT ON the captured databases (or *.*) TO the user", cfg.User)
	}
	return nil
}

// checkReplicas fails when another replica registered with
// database.server.id.
func checkReplicas(ctx context.Context, db *sql.DB, cfg *Config, fail func(key, format string, args ...any)) error {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE HOSTS")
	if err != nil {
		var me *driver.MySQLError
		if errors.As(err, &me) && me.Number == 1227 {
			return nil // lacking the privilege: the dump itself tells
		}
		return fmt.Errorf("listing replicas: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, c := range cols {
			if strings.EqualFold(c, "Server_id") && string(vals[i]) == fmt.Sprint(cfg.ServerID) {
				fail(ServerID, "another replica is already connected with server id %d; give each connector (and replica) its own database.server.id", cfg.ServerID)
			}
		}
	}
	return rows.Err()
}

// joinErrs joins check errors into one.
func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return fmt.Errorf("MySQL source pre-start checks failed:\n%s", strings.Join(parts, "\n"))
}
