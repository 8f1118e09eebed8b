package connectors

// ScratchDirContext is implemented by the task contexts of runtimes that
// give each task a directory of its own for files that need not outlive
// the task's run (the PostgreSQL source spills large streamed
// transactions there). The runtime empties it before each start of the
// task, so files left by a crash or a panic do not pile up.
type ScratchDirContext interface {
	// ScratchDir returns the directory; it exists and only this task
	// writes in it.
	ScratchDir() string
}

// ScratchDir returns the scratch directory tctx offers, or "" (the
// system's temporary directory, which nobody cleans after a crash) when
// it offers none. tctx is a SourceTaskContext or a SinkTaskContext.
func ScratchDir(tctx any) string {
	if s, ok := tctx.(ScratchDirContext); ok {
		return s.ScratchDir()
	}
	return ""
}
