package harness

// Log returns what the worker printed so far. Unlike Output it may be
// called while the worker runs: it reads the buffer under the lock its
// writer holds (Process.Output reads without it, which the race detector
// reports when the process is still writing). With SLUICE_IT_VERBOSE the
// output also goes to stderr through a writer that cannot be unwrapped,
// so Log falls back to Output.
func (w *Worker) Log() string {
	return w.proc.LockedOutput()
}

// LockedOutput is Output, safe to call while the process writes.
func (p *Process) LockedOutput() string {
	if lb, ok := p.Cmd.Stdout.(*lockedBuffer); ok {
		lb.mu.Lock()
		defer lb.mu.Unlock()
		return lb.b.String()
	}
	return p.Output()
}
