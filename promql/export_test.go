package promql

// EvalVisits returns the number of shape-dependent evaluation steps of q's last Exec (see
// exprAnalysis.visits).
func EvalVisits(q Query) int { return q.(*query).visits }
