package v1

import (
	"encoding/json"
	"fmt"

	"github.com/vigil-monitoring/vigil/promql"
)

// Values of the stats parameter of /query and /query_range, as Prometheus accepts them: "true"
// adds the query's timings and sample counts to the response, "all" also the per-step counts.
// Any other non-empty value acts as "true" with a deprecation warning, as in Prometheus 3.
const (
	statsTrue = "true"
	statsAll  = "all"
)

// queryStats is the "stats" object of a query response, in Prometheus's shape
// (util/stats.BuiltinStats): timings in seconds, sample counts, and per-step counts as
// [<unix seconds>, <count>] pairs.
type queryStats struct {
	Timings queryTimings `json:"timings"`
	Samples querySamples `json:"samples"`
}

type queryTimings struct {
	EvalTotalTime        float64 `json:"evalTotalTime"`
	ResultSortTime       float64 `json:"resultSortTime"`
	QueryPreparationTime float64 `json:"queryPreparationTime"`
	InnerEvalTime        float64 `json:"innerEvalTime"`
	ExecQueueTime        float64 `json:"execQueueTime"`
	ExecTotalTime        float64 `json:"execTotalTime"`
}

type querySamples struct {
	TotalQueryableSamplesPerStep []stepStat `json:"totalQueryableSamplesPerStep,omitempty"`
	TotalQueryableSamples        int64      `json:"totalQueryableSamples"`
	SamplesReadPerStep           []stepStat `json:"samplesReadPerStep,omitempty"`
	SamplesRead                  int64      `json:"samplesRead"`
	PeakSamples                  int        `json:"peakSamples"`
}

type stepStat struct {
	T int64
	V int64
}

// MarshalJSON writes [<seconds>, <count>] as Prometheus does (the time as a JSON number).
func (s stepStat) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{float64(s.T) / 1000, s.V})
}

// statsParamWarning is Prometheus's deprecation warning for stats values other than true/all.
func statsParamWarning(s string) error {
	switch s {
	case "", statsTrue, statsAll:
		return nil
	}
	return fmt.Errorf("value %q for parameter \"stats\" is deprecated and will be rejected in the next major release, use %q or %q", s, statsTrue, statsAll)
}

func newQueryStats(s *promql.Stats) *queryStats {
	if s == nil {
		return nil
	}
	qs := &queryStats{
		Timings: queryTimings{
			EvalTotalTime:        s.EvalTotalTime.Seconds(),
			ResultSortTime:       s.ResultSortTime.Seconds(),
			QueryPreparationTime: s.QueryPreparationTime.Seconds(),
			InnerEvalTime:        s.InnerEvalTime.Seconds(),
			ExecQueueTime:        s.ExecQueueTime.Seconds(),
			ExecTotalTime:        s.ExecTotalTime.Seconds(),
		},
		Samples: querySamples{
			TotalQueryableSamples: s.TotalSamples,
			SamplesRead:           s.SamplesRead,
			PeakSamples:           s.PeakSamples,
		},
	}
	qs.Samples.TotalQueryableSamplesPerStep = stepStats(s.TotalSamplesPerStep, s.StartTimestamp, s.Interval)
	qs.Samples.SamplesReadPerStep = stepStats(s.SamplesReadPerStep, s.StartTimestamp, s.Interval)
	return qs
}

func stepStats(counts []int64, start, interval int64) []stepStat {
	if counts == nil {
		return nil
	}
	out := make([]stepStat, len(counts))
	for i, c := range counts {
		out[i] = stepStat{T: start + int64(i)*interval, V: c}
	}
	return out
}
