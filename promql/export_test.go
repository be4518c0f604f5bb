package promql

// EvalVisits returns the number of shape-dependent evaluation steps of q's last Exec (see
// exprAnalysis.visits).
func EvalVisits(q Query) int { return q.(*query).visits }

// SetCheckCtxHook makes f run at every context check of every evaluation until restore is
// called.
func SetCheckCtxHook(f func()) (restore func()) {
	checkCtxHook = f
	return func() { checkCtxHook = nil }
}
