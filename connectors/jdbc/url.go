package jdbc

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// Dialects a connection.url can name.
const (
	DialectPostgres = "postgresql"
	DialectMySQL    = "mysql"
	DialectMariaDB  = "mariadb"
)

// URL is a parsed JDBC URL: jdbc:<subprotocol>://host[:port]/database?k=v&….
type URL struct {
	// Dialect is DialectPostgres, DialectMySQL or DialectMariaDB.
	Dialect  string
	Host     string
	Port     int
	Database string
	User     string
	Password string
	// Params are the remaining query parameters, as given.
	Params map[string]string
}

// ParseURL parses a JDBC URL for PostgreSQL, MySQL or MariaDB. user and
// password query parameters fill User and Password.
func ParseURL(s string) (*URL, error) {
	if strings.ContainsFunc(s, unicode.IsControl) {
		return nil, errors.New("contains a control character")
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "jdbc:")
	if !ok {
		return nil, errors.New("must start with jdbc: (jdbc:postgresql://host:port/db, jdbc:mysql://… or jdbc:mariadb://…)")
	}
	sub, rest, ok := strings.Cut(rest, "://")
	if !ok {
		return nil, errors.New("must have the form jdbc:<postgresql|mysql|mariadb>://host:port/database")
	}
	u := &URL{Params: map[string]string{}}
	switch strings.ToLower(sub) {
	case "postgresql", "postgres":
		u.Dialect, u.Port = DialectPostgres, 5432
	case "mysql":
		u.Dialect, u.Port = DialectMySQL, 3306
	case "mariadb":
		u.Dialect, u.Port = DialectMariaDB, 3306
	default:
		return nil, fmt.Errorf("database %q is not supported; use jdbc:postgresql://, jdbc:mysql:// or jdbc:mariadb://", sub)
	}
	hostPart, pathPart := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostPart, pathPart = rest[:i], rest[i:]
	}
	if strings.Contains(hostPart, ",") {
		return nil, errors.New("several hosts are not supported; name one host")
	}
	if at := strings.LastIndexByte(hostPart, '@'); at >= 0 {
		cred := hostPart[:at]
		hostPart = hostPart[at+1:]
		user, pw, _ := strings.Cut(cred, ":")
		u.User, _ = url.PathUnescape(user)
		u.Password, _ = url.PathUnescape(pw)
	}
	if hostPart == "" {
		return nil, errors.New("has no host; write jdbc:" + sub + "://host:port/database")
	}
	host, port, err := net.SplitHostPort(hostPart)
	if err != nil {
		host = strings.Trim(hostPart, "[]")
	} else {
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("port %q is not a number between 1 and 65535", port)
		}
		u.Port = p
	}
	if host == "" {
		return nil, errors.New("has no host; write jdbc:" + sub + "://host:port/database")
	}
	u.Host = host
	path, query, _ := strings.Cut(pathPart, "?")
	db, err := url.PathUnescape(strings.TrimPrefix(path, "/"))
	if err != nil {
		return nil, fmt.Errorf("database name: %v", err)
	}
	u.Database = db
	if strings.ContainsFunc(db+u.User+u.Password, unicode.IsControl) {
		return nil, errors.New("contains a control character")
	}
	if u.Database == "" {
		return nil, errors.New("names no database; write jdbc:" + sub + "://host:port/database")
	}
	// MySQL Connector/J also allows ';' between parameters.
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil || strings.ContainsFunc(k+v, unicode.IsControl) {
			return nil, fmt.Errorf("query parameter %q is not URL-encoded correctly", kv)
		}
		switch strings.ToLower(k) {
		case "user":
			u.User = v
		case "password":
			u.Password = v
		default:
			u.Params[k] = v
		}
	}
	if _, err := u.tls(); err != nil {
		return nil, err
	}
	return u, nil
}

// Addr returns host:port.
func (u *URL) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// String returns the URL without the password.
func (u *URL) String() string {
	return fmt.Sprintf("jdbc:%s://%s/%s", u.Dialect, u.Addr(), u.Database)
}

// PgxConfig returns a pgx connection config. JDBC parameters with a libpq
// twin are translated: sslmode (and ssl=true, which means verify-full as
// in PostgreSQL JDBC), sslrootcert, sslcert, sslkey, connectTimeout
// (seconds), ApplicationName, currentSchema (search_path), options.
func (u *URL) PgxConfig() (*pgx.ConnConfig, error) {
	kv := []string{"host=" + quoteKV(u.Host), "port=" + strconv.Itoa(u.Port), "dbname=" + quoteKV(u.Database)}
	if u.User != "" {
		kv = append(kv, "user="+quoteKV(u.User))
	}
	if u.Password != "" {
		kv = append(kv, "password="+quoteKV(u.Password))
	}
	ts, err := u.pgTLS()
	if err != nil {
		return nil, fmt.Errorf("connection.url %s: %w", u, err)
	}
	kv = append(kv, "sslmode="+quoteKV(ts.mode))
	if ts.ca != "" {
		kv = append(kv, "sslrootcert="+quoteKV(ts.ca))
	}
	if ts.cert != "" {
		kv = append(kv, "sslcert="+quoteKV(ts.cert), "sslkey="+quoteKV(ts.key))
	}
	runtime := map[string]string{}
	for k, v := range u.Params {
		switch strings.ToLower(k) {
		case "connecttimeout":
			kv = append(kv, "connect_timeout="+quoteKV(v))
		case "applicationname":
			runtime["application_name"] = v
		case "currentschema":
			runtime["search_path"] = v
		case "options":
			kv = append(kv, "options="+quoteKV(v))
		}
	}
	cfg, err := pgx.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, fmt.Errorf("connection.url %s: %w", u, err)
	}
	for k, v := range runtime {
		cfg.RuntimeParams[k] = v
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	return cfg, nil
}

func quoteKV(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// MySQLConfig returns a go-sql-driver/mysql config writing times in loc.
// Translated parameters: connectTimeout (ms), socketTimeout (ms),
// and TLS (see tlsSettings). Statements are interpolated on the client
// (one round trip per multi-row statement).
func (u *URL) MySQLConfig(loc *time.Location) (*mysql.Config, error) {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = u.Addr()
	cfg.DBName = u.Database
	cfg.User = u.User
	cfg.Passwd = u.Password
	cfg.ParseTime = true
	cfg.Loc = loc
	cfg.InterpolateParams = true
	cfg.Timeout = 10 * time.Second
	// Strict mode: a value that does not fit fails its statement instead
	// of being truncated with a warning.
	cfg.Params = map[string]string{"sql_mode": "CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')"}
	for k, v := range u.Params {
		switch strings.ToLower(k) {
		case "connecttimeout":
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				cfg.Timeout = time.Duration(ms) * time.Millisecond
			}
		case "sockettimeout":
			if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
				cfg.ReadTimeout = time.Duration(ms) * time.Millisecond
				cfg.WriteTimeout = cfg.ReadTimeout
			}
		}
	}
	ts, err := u.mysqlTLS()
	if err != nil {
		return nil, fmt.Errorf("connection.url %s: %w", u, err)
	}
	if cfg.TLS, cfg.AllowFallbackToPlaintext, err = ts.mysqlTLSConfig(u.Host); err != nil {
		return nil, fmt.Errorf("connection.url %s: %w", u, err)
	}
	return cfg, nil
}
