package harness

import (
	"syscall"
	"testing"
	"time"
)

// Shutdown stops a started MariaDB with SIGTERM, its normal shutdown
// signal, and waits for it. mariadbd ignores the SIGINT that Process.Stop
// sends, so without this a test waits Stop's 30 s timeout before the kill.
// Calling it for an external server (SLUICE_IT_MYSQL_DSN) does nothing.
func (m *MariaDB) Shutdown(t testing.TB) {
	t.Helper()
	if m.proc == nil {
		return
	}
	if ok, _ := m.proc.Exited(); ok {
		return
	}
	_ = m.proc.Cmd.Process.Signal(syscall.SIGTERM)
	if _, ok := m.proc.Wait(30 * time.Second); !ok {
		m.proc.Kill()
	}
}

// RestartFast restarts a started MariaDB like Restart(t, false), shutting
// it down with SIGTERM (see Shutdown).
func (m *MariaDB) RestartFast(t testing.TB) {
	t.Helper()
	if m.Dir == "" {
		t.Fatalf("harness: cannot restart an external MariaDB (SLUICE_IT_MYSQL_DSN)")
	}
	m.Shutdown(t)
	m.start(t)
}
