package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGBinDir is where Debian installs the PostgreSQL 15 server binaries.
var PGBinDir = envOr("SLUICE_IT_PG_BIN", "/usr/lib/postgresql/15/bin")

// Postgres is a PostgreSQL server for a test: either one the harness
// started (initdb in a temp dir, wal_level=logical, fsync=off) or the one
// named by SLUICE_IT_POSTGRES_URL.
type Postgres struct {
	// URL is a libpq URL for the superuser on database "postgres".
	URL  string
	Host string
	Port int
	User string
	// Dir is the data directory (empty for an external server).
	Dir  string
	proc *Process
	opts PostgresOptions
}

// PostgresOptions tunes a started server.
type PostgresOptions struct {
	// Settings are extra postgresql.conf settings (name → value).
	Settings map[string]string
	// WalLevel overrides wal_level (default logical).
	WalLevel string
	// TLS, when set, starts the server with ssl=on and these certificates,
	// listening on TLSHost and TLSWrongHost, and a pg_hba.conf that
	// accepts TCP connections only over TLS (hostssl): the superuser
	// "postgres" without a password, TLS.ClientUser by client
	// certificate (cert authentication), every other user by password
	// (scram-sha-256). URL then uses sslmode=require.
	TLS *TLSFiles
}

// StartPostgres starts a throwaway PostgreSQL server, or returns the
// external one from SLUICE_IT_POSTGRES_URL. It is stopped when t ends.
func StartPostgres(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	if u := os.Getenv("SLUICE_IT_POSTGRES_URL"); u != "" {
		if opts.TLS != nil {
			t.Fatalf("harness: a TLS test needs a PostgreSQL the harness starts with its throwaway CA; SLUICE_IT_POSTGRES_URL names an external one (unset it to run this test)")
		}
		cfg, err := pgx.ParseConfig(u)
		if err != nil {
			t.Fatalf("harness: SLUICE_IT_POSTGRES_URL: %v", err)
		}
		return &Postgres{URL: u, Host: cfg.Host, Port: int(cfg.Port), User: cfg.User}
	}
	for _, b := range []string{"initdb", "postgres", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(PGBinDir, b)); err != nil {
			t.Fatalf("harness: PostgreSQL server binary %s missing in %s (install postgresql-15, or set SLUICE_IT_PG_BIN or SLUICE_IT_POSTGRES_URL): %v", b, PGBinDir, err)
		}
	}
	root := TempDir(t, "postgres")
	pg := &Postgres{Host: "127.0.0.1", Port: FreePort(t), User: "postgres", Dir: filepath.Join(root, "data"), opts: opts}
	out, err := asUser("postgres", filepath.Join(PGBinDir, "initdb"), "-D", pg.Dir, "-U", "postgres",
		"--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		t.Fatalf("harness: initdb: %v\n%s", err, out)
	}
	if opts.TLS != nil {
		pg.configureTLS(t, root)
	}
	pg.start(t)
	t.Cleanup(func() { pg.stopProc(30 * time.Second) })
	pg.URL = pg.adminURL()
	return pg
}

func (pg *Postgres) adminURL() string {
	mode := "disable"
	if pg.opts.TLS != nil {
		mode = "require"
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=%s", pg.Port, mode)
}

// configureTLS installs the server certificate and writes a pg_hba.conf
// that refuses TCP connections without TLS.
func (pg *Postgres) configureTLS(t testing.TB, root string) {
	t.Helper()
	cert, key, ca := pg.opts.TLS.installServerFiles(t, root, "postgres")
	settings := map[string]string{}
	for k, v := range pg.opts.Settings {
		settings[k] = v
	}
	pg.opts.Settings = settings
	pg.opts.Settings["ssl"] = "on"
	pg.opts.Settings["ssl_cert_file"] = cert
	pg.opts.Settings["ssl_key_file"] = key
	pg.opts.Settings["ssl_ca_file"] = ca
	pg.opts.Settings["password_encryption"] = "scram-sha-256"
	cu := pg.opts.TLS.ClientUser
	hba := "local all all trust\n" +
		"hostssl all postgres 127.0.0.0/8 trust\n" +
		"hostssl replication postgres 127.0.0.0/8 trust\n" +
		"hostssl all " + cu + " 127.0.0.0/8 cert\n" +
		"hostssl replication " + cu + " 127.0.0.0/8 cert\n" +
		"hostssl all all 127.0.0.0/8 scram-sha-256\n" +
		"hostssl replication all 127.0.0.0/8 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(pg.Dir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatalf("harness: %v", err)
	}
}

func (pg *Postgres) start(t testing.TB) {
	t.Helper()
	walLevel := pg.opts.WalLevel
	if walLevel == "" {
		walLevel = "logical"
	}
	listen := "127.0.0.1"
	if pg.opts.TLS != nil {
		listen = TLSHost + "," + TLSWrongHost
	}
	args := []string{"-D", pg.Dir, "-p", Itoa(pg.Port), "-c", "listen_addresses=" + listen,
		"-c", "unix_socket_directories=" + filepath.Dir(pg.Dir), "-c", "wal_level=" + walLevel,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_replication_slots=20", "-c", "max_wal_senders=20", "-c", "max_connections=200",
		"-c", "shared_buffers=256MB", "-c", "max_wal_size=4GB", "-c", "log_min_messages=warning"}
	for k, v := range pg.opts.Settings {
		args = append(args, "-c", k+"="+v)
	}
	pg.proc = Start(t, "postgres", asUser("postgres", filepath.Join(PGBinDir, "postgres"), args...))
	WaitFor(t, 60*time.Second, "PostgreSQL on port "+Itoa(pg.Port), func() error {
		if ok, err := pg.proc.Exited(); ok {
			t.Fatalf("harness: postgres exited: %v\n%s", err, pg.proc.Output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, pg.adminURL())
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
}

// PID returns the postmaster's process id, or 0 for an external server.
func (pg *Postgres) PID() int {
	if pg.proc == nil {
		return 0
	}
	return pg.proc.Cmd.Process.Pid
}

func (pg *Postgres) stopProc(timeout time.Duration) {
	if pg.proc == nil {
		return
	}
	// SIGINT is PostgreSQL's "fast" shutdown.
	pg.proc.Stop(timeout)
}

// Restart stops the server (fast shutdown, or kill -9 with crash) and
// starts it again on the same port and data directory.
func (pg *Postgres) Restart(t testing.TB, crash bool) {
	t.Helper()
	if pg.Dir == "" {
		t.Fatalf("harness: cannot restart an external PostgreSQL (SLUICE_IT_POSTGRES_URL)")
	}
	if crash {
		pg.proc.Kill()
	} else {
		pg.stopProc(30 * time.Second)
	}
	pg.start(t)
}

// Stop stops a started server (for tests of an unreachable database).
func (pg *Postgres) Stop(t testing.TB) {
	t.Helper()
	pg.stopProc(30 * time.Second)
}

// Start starts a server stopped by Stop again, on the same port and data
// directory (for tests of an outage).
func (pg *Postgres) Start(t testing.TB) {
	t.Helper()
	if pg.Dir == "" {
		t.Fatalf("harness: cannot start an external PostgreSQL (SLUICE_IT_POSTGRES_URL)")
	}
	pg.start(t)
}

// DBURL returns the URL of database db on the server.
func (pg *Postgres) DBURL(db string) string {
	i := strings.LastIndexByte(pg.URL, '/')
	q := ""
	if j := strings.IndexByte(pg.URL[i:], '?'); j >= 0 {
		q = pg.URL[i+j:]
	}
	return pg.URL[:i+1] + db + q
}

// CreateDB creates a fresh database with a unique name and returns it.
func (pg *Postgres) CreateDB(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e12)
	pg.Exec(t, "postgres", "CREATE DATABASE "+name)
	return name
}

// Connect opens a connection to db, closed at the end of the test.
func (pg *Postgres) Connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.DBURL(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// Exec runs SQL statements on db and fails the test on error.
func (pg *Postgres) Exec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.DBURL(db))
	if err != nil {
		t.Fatalf("harness: connecting to %s: %v", db, err)
	}
	defer c.Close(context.Background())
	for _, s := range sqls {
		if _, err := c.Exec(ctx, s); err != nil {
			t.Fatalf("harness: %s: %v", s, err)
		}
	}
}

// Pgbench runs the pgbench binary against db with args (e.g. "-i", "-s",
// "10") and returns its output.
func (pg *Postgres) Pgbench(ctx context.Context, db string, args ...string) (string, error) {
	all := append([]string{"-h", pg.Host, "-p", Itoa(pg.Port), "-U", pg.User}, args...)
	all = append(all, db)
	cmd := exec.CommandContext(ctx, filepath.Join(PGBinDir, "pgbench"), all...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// asUser runs a command as an OS user when we are root (PostgreSQL refuses
// to run as root), and as ourselves otherwise.
//
// The process runs with the user's credentials directly (no runuser in
// between), so that signals, and kill -9, reach the server itself.
func asUser(name, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	if os.Geteuid() != 0 {
		return cmd
	}
	u, err := user.Lookup(name)
	if err != nil {
		// Let the command fail with a message naming the user.
		return exec.Command("runuser", append([]string{"-u", name, "--", bin}, args...)...)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = append(os.Environ(), "HOME="+u.HomeDir, "USER="+name, "LOGNAME="+name)
	return cmd
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// JDBCURL returns a jdbc:postgresql:// URL for db, as users write in sink
// configs.
func (pg *Postgres) JDBCURL(db string) string {
	return fmt.Sprintf("jdbc:postgresql://%s:%d/%s", pg.Host, pg.Port, db)
}
