package runtime

import "syscall"

// hostProcAttr makes a task process get SIGKILL when the worker dies
// (more exactly, the thread that started it: see runTaskProcess).
func hostProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
