//go:build !linux

package runtime

import "syscall"

// hostProcAttr: task processes need Linux (isolationErrors refuses
// task.isolation=process elsewhere).
func hostProcAttr() *syscall.SysProcAttr { return nil }
