package harness

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a MariaDB (or MySQL) server for a test: one the harness
// started (mariadb-install-db in a temp dir, row binlogs with full
// metadata, innodb_flush_log_at_trx_commit=2) or the one named by
// SLUICE_IT_MYSQL_DSN (a go-sql-driver DSN, e.g.
// root:pw@tcp(127.0.0.1:3306)/).
type MariaDB struct {
	// DSN is a go-sql-driver/mysql DSN for root with no default database.
	DSN      string
	Host     string
	Port     int
	User     string
	Password string
	Dir      string
	proc     *Process
	opts     MariaDBOptions
}

// MariaDBOptions tunes a started server.
type MariaDBOptions struct {
	// NoBinlog starts the server without a binary log.
	NoBinlog bool
	// Args are extra mariadbd arguments ("--binlog-format=STATEMENT").
	Args []string
	// TLS, when set, starts the server with ssl_cert, ssl_key and ssl_ca
	// from these files and require_secure_transport=ON, listening on
	// TLSHost and TLSWrongHost (a list of bind addresses needs MariaDB
	// 10.11). DSN then uses tls=skip-verify.
	TLS *TLSFiles
	// TLSOptional, with TLS, leaves require_secure_transport OFF: the
	// server offers TLS and accepts plain connections too (users created
	// REQUIRE SSL or X509 excepted).
	TLSOptional bool
}

// StartMariaDB starts a throwaway MariaDB server, or returns the external
// one from SLUICE_IT_MYSQL_DSN. It is stopped when t ends.
func StartMariaDB(t testing.TB, opts MariaDBOptions) *MariaDB {
	t.Helper()
	if d := os.Getenv("SLUICE_IT_MYSQL_DSN"); d != "" {
		if opts.TLS != nil {
			t.Fatalf("harness: a TLS test needs a MariaDB the harness starts with its throwaway CA; SLUICE_IT_MYSQL_DSN names an external one (unset it to run this test)")
		}
		cfg, err := mysql.ParseDSN(d)
		if err != nil {
			t.Fatalf("harness: SLUICE_IT_MYSQL_DSN: %v", err)
		}
		host, port := splitHostPort(cfg.Addr)
		return &MariaDB{DSN: d, Host: host, Port: port, User: cfg.User, Password: cfg.Passwd}
	}
	for _, b := range []string{"mariadbd", "mariadb-install-db"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("harness: %s not found (install mariadb-server, or set SLUICE_IT_MYSQL_DSN): %v", b, err)
		}
	}
	root := TempDir(t, "mysql")
	m := &MariaDB{Host: "127.0.0.1", Port: FreePort(t), User: "root", Dir: filepath.Join(root, "data"), opts: opts}
	// Temporary tables go to the instance's own directory, not the shared
	// /tmp: a bootstrap once failed there with "Could not remove temporary
	// table '/tmp/#sql-temptable-…', error: 2" while other servers ran.
	if err := os.Mkdir(filepath.Join(root, "tmp"), 0o700); err != nil {
		t.Fatalf("harness: %v", err)
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil { // for the mysql user
		t.Fatalf("harness: %v", err)
	}
	out, err := exec.Command("mariadb-install-db", "--no-defaults", "--user=mysql", "--datadir="+m.Dir,
		"--tmpdir="+filepath.Join(root, "tmp"), "--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput()
	if err != nil {
		t.Fatalf("harness: mariadb-install-db: %v\n%s", err, out)
	}
	m.start(t)
	t.Cleanup(func() { m.stopProc() })
	return m
}

func (m *MariaDB) start(t testing.TB) {
	t.Helper()
	root := filepath.Dir(m.Dir)
	mariadbd, _ := exec.LookPath("mariadbd")
	args := []string{"--no-defaults", "--user=mysql", "--datadir=" + m.Dir, "--tmpdir=" + filepath.Join(root, "tmp"),
		"--socket=" + filepath.Join(root, "mysqld.sock"), "--pid-file=" + filepath.Join(root, "mysqld.pid"),
		"--port=" + Itoa(m.Port), "--bind-address=127.0.0.1", "--skip-name-resolve",
		"--innodb-flush-log-at-trx-commit=2", "--innodb-buffer-pool-size=256M", "--sync-binlog=0",
		"--max-allowed-packet=64M", "--local-infile=1", "--character-set-server=utf8mb4",
		"--collation-server=utf8mb4_general_ci", "--log-error=" + filepath.Join(root, "error.log")}
	if !m.opts.NoBinlog {
		args = append(args, "--log-bin="+filepath.Join(root, "binlog"), "--server-id=1", "--binlog-format=ROW",
			"--binlog-row-image=FULL", "--binlog-row-metadata=FULL", "--log-bin-compress=0", "--gtid-strict-mode=ON")
	}
	tlsParam := ""
	if m.opts.TLS != nil {
		cert, key, ca := m.opts.TLS.installServerFiles(t, root, "mysql")
		args = append(args, "--ssl-cert="+cert, "--ssl-key="+key, "--ssl-ca="+ca,
			"--bind-address="+TLSHost+","+TLSWrongHost)
		if !m.opts.TLSOptional {
			args = append(args, "--require-secure-transport=ON")
		}
		tlsParam = "&tls=skip-verify"
	}
	args = append(args, m.opts.Args...)
	m.proc = Start(t, "mariadbd", exec.Command(mariadbd, args...))
	m.DSN = fmt.Sprintf("root@tcp(127.0.0.1:%d)/?parseTime=true&multiStatements=true%s", m.Port, tlsParam)
	WaitFor(t, 60*time.Second, "MariaDB on port "+Itoa(m.Port), func() error {
		if ok, err := m.proc.Exited(); ok {
			log, _ := os.ReadFile(filepath.Join(root, "error.log"))
			t.Fatalf("harness: mariadbd exited: %v\n%s\n%s", err, m.proc.Output(), log)
		}
		db, err := sql.Open("mysql", m.DSN)
		if err != nil {
			return err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return db.PingContext(ctx)
	})
}

// PID returns mariadbd's process id (one process: its threads' CPU time
// is the process's), or 0 for an external server.
func (m *MariaDB) PID() int {
	if m.proc == nil {
		return 0
	}
	return m.proc.Cmd.Process.Pid
}

// stopProc shuts mariadbd down with SIGTERM (it ignores SIGINT).
func (m *MariaDB) stopProc() { m.proc.StopWith(syscall.SIGTERM, 30*time.Second) }

// Restart stops the server (or kills it with crash) and starts it again on
// the same port and data directory.
func (m *MariaDB) Restart(t testing.TB, crash bool) {
	t.Helper()
	if m.Dir == "" {
		t.Fatalf("harness: cannot restart an external MariaDB (SLUICE_IT_MYSQL_DSN)")
	}
	if crash {
		m.proc.Kill()
	} else {
		m.stopProc()
	}
	m.start(t)
}

// DBDSN returns a DSN for database db.
func (m *MariaDB) DBDSN(db string) string {
	cfg, err := mysql.ParseDSN(m.DSN)
	if err != nil {
		panic(err)
	}
	cfg.DBName = db
	return cfg.FormatDSN()
}

// Open opens a *sql.DB on database db ("" for none), closed at test end.
func (m *MariaDB) Open(t testing.TB, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("mysql", m.DBDSN(db))
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// CreateDB creates a fresh database with a unique name and returns it.
func (m *MariaDB) CreateDB(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano()%1e12)
	m.Exec(t, "", "CREATE DATABASE "+name)
	return name
}

// Exec runs statements on db and fails the test on error.
func (m *MariaDB) Exec(t testing.TB, db string, sqls ...string) {
	t.Helper()
	d := m.Open(t, db)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, s := range sqls {
		if _, err := d.ExecContext(ctx, s); err != nil {
			t.Fatalf("harness: %s: %v", s, err)
		}
	}
}

// Sysbench returns the command line of sysbench (1.0, the Debian package)
// against database db, with the connection options first and then args
// (e.g. "oltp_write_only", "--tables=4", "run"). The caller starts it,
// with Start for a run the test waits for.
func (m *MariaDB) Sysbench(db string, args ...string) *exec.Cmd {
	all := append([]string{"--db-driver=mysql", "--mysql-host=" + m.Host, "--mysql-port=" + Itoa(m.Port),
		"--mysql-user=" + m.User, "--mysql-password=" + m.Password, "--mysql-db=" + db}, args...)
	return exec.Command("sysbench", all...)
}

// JDBCURL returns a jdbc:mariadb:// URL for db, as users write in sink
// configs.
func (m *MariaDB) JDBCURL(db string) string {
	return fmt.Sprintf("jdbc:mariadb://%s:%d/%s", m.Host, m.Port, db)
}

func splitHostPort(addr string) (string, int) {
	var host string
	var port int
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			host = addr[:i]
			fmt.Sscanf(addr[i+1:], "%d", &port)
			return host, port
		}
	}
	return addr, 3306
}
