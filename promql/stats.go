package promql

import "time"

// Stats are the statistics of one executed query: the figures Prometheus reports when the API
// is called with stats=true or stats=all. Sample counts follow Prometheus's definitions, not
// the work Vigil's streaming evaluator actually does, so that they can be compared across
// servers:
//
//   - TotalSamples counts one sample per series and step for an instant selector, and the whole
//     window at every step for a range-vector function (a sample is counted at every step whose
//     window holds it).
//   - SamplesRead counts each sample read from storage once: for a range-vector function over a
//     selector, the first step counts the whole window and later steps only the samples newer
//     than the previous step's window; samples read by subqueries are attributed to the outer
//     steps that consume them.
//   - PeakSamples is the largest number of samples the evaluator held at once (what
//     --query.max-samples bounds). Vigil holds fewer than Prometheus for the same query.
type Stats struct {
	ExecTotalTime        time.Duration // the whole Exec call
	ExecQueueTime        time.Duration // waiting for a --query.max-concurrency slot
	EvalTotalTime        time.Duration // preparation, evaluation and sorting
	QueryPreparationTime time.Duration // opening the storage querier
	InnerEvalTime        time.Duration // evaluating the expression
	ResultSortTime       time.Duration // sorting a range query's result

	TotalSamples int64
	SamplesRead  int64
	PeakSamples  int

	// Per-step figures, set only with QueryOpts.EnablePerStepStats: element i belongs to the step
	// at StartTimestamp + i*Interval (ms).
	StartTimestamp, Interval int64
	TotalSamplesPerStep      []int64
	SamplesReadPerStep       []int64
}

// sampleStats accumulates an evaluator's sample counts. The per-step arrays are nil unless
// per-step statistics are wanted (or, for subqueries, needed to attribute samples read to the
// outer steps).
type sampleStats struct {
	total, read               int64
	totalPerStep, readPerStep []int64
	// forward, set on a subquery's evaluator, receives the samples read at each of its steps
	// (and puts them on the parent's steps) in place of readPerStep.
	forward func(step int, n int64)
}

// perStep reports whether counts must be given per step (add/addRead with the step).
func (s *sampleStats) perStep() bool { return s.totalPerStep != nil || s.forward != nil }

func newSampleStats(steps int, perStep bool) *sampleStats {
	s := &sampleStats{}
	if perStep {
		s.totalPerStep = make([]int64, steps)
		s.readPerStep = make([]int64, steps)
	}
	return s
}

// add counts n samples loaded at step i; read says whether they were also read from storage.
func (s *sampleStats) add(i int, n int64, read bool) {
	s.total += n
	if s.totalPerStep != nil {
		s.totalPerStep[i] += n
	}
	if read {
		s.addRead(i, n)
	}
}

func (s *sampleStats) addRead(i int, n int64) {
	s.read += n
	if s.forward != nil {
		s.forward(i, n)
	}
	if s.readPerStep != nil {
		s.readPerStep[i] += n
	}
}

// readForwarder returns the function that adds the samples a subquery's evaluator (child)
// reads at its step k to the outer evaluator ev, as Prometheus does: each subquery step goes to
// the first outer step at or after it (shifted by the subquery's offset), and, when outerRange
// is set, subquery steps that fall between two outer windows are dropped. For an instant
// evaluation (or a subquery pinned by @) everything goes to the first step.
func (ev *evaluator) readForwarder(child *evaluator, outerOffset, outerRange int64, pinned bool) func(int, int64) {
	n := ev.numSteps()
	if n <= 1 || pinned {
		return func(_ int, r int64) { ev.stats.addRead(0, r) }
	}
	return func(k int, r int64) {
		if r == 0 {
			return
		}
		tk := child.startTS + int64(k)*child.interval + outerOffset
		step := 0
		if tk > ev.startTS {
			step = int((tk - ev.startTS + ev.interval - 1) / ev.interval)
		}
		step = min(step, n-1)
		if outerRange > 0 && tk <= ev.startTS+int64(step)*ev.interval-outerRange {
			return
		}
		ev.stats.addRead(step, r)
	}
}
