package connectors

// ProblemReporter is implemented by the contexts of runtimes that can show
// what is wrong with a task that keeps running: a source that lost its
// database and reconnects by itself stays RUNNING (no operator action is
// needed), but its status must say why nothing arrives.
type ProblemReporter interface {
	// ReportProblem shows err as the trace of the task's RUNNING (or
	// PAUSED) status; nil clears it. It may be called from any goroutine,
	// also before Start returns, and does not block for long.
	ReportProblem(err error)
}

// ReportProblem reports err (nil: the problem is over) through tctx when
// its runtime shows problems, and does nothing otherwise.
func ReportProblem(tctx SourceTaskContext, err error) {
	if r, ok := tctx.(ProblemReporter); ok {
		r.ReportProblem(err)
	}
}
