package v1

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestQueryStats checks the stats parameter of /query and /query_range: Prometheus's shape
// (data.stats.timings with six durations in seconds, data.stats.samples with the counts, per
// step only for stats=all) and the counts themselves on the test data (three counters sampled
// every 15s).
func TestQueryStats(t *testing.T) {
	env := newTestEnv(t, nil)
	type samples struct {
		TotalPerStep *[][2]float64 `json:"totalQueryableSamplesPerStep"`
		Total        *int64        `json:"totalQueryableSamples"`
		ReadPerStep  *[][2]float64 `json:"samplesReadPerStep"`
		Read         *int64        `json:"samplesRead"`
		Peak         *int          `json:"peakSamples"`
	}
	type response struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Stats      *struct {
				Timings map[string]float64 `json:"timings"`
				Samples *samples           `json:"samples"`
			} `json:"stats"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	}
	get := func(t *testing.T, method, path string, params url.Values) response {
		t.Helper()
		res := env.do(t, method, path, params)
		if res.code != http.StatusOK {
			t.Fatalf("%s %s?%s: status %d: %s", method, path, params.Encode(), res.code, res.body)
		}
		var r response
		if err := json.Unmarshal([]byte(res.body), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	steps := func(start float64, step float64, vals ...float64) [][2]float64 {
		out := make([][2]float64, len(vals))
		for i, v := range vals {
			out[i] = [2]float64{start + float64(i)*step, v}
		}
		return out
	}
	const atF = 1704067800.0
	cases := []struct {
		name          string
		path          string
		params        url.Values
		total, read   int64
		peak          int // -1: not checked beyond > 0
		perStepTotal  [][2]float64
		perStepRead   [][2]float64
		wantWarning   string
		wantNoSamples bool
	}{
		{
			name: "instant selector, stats=true", path: "/api/v1/query",
			params: url.Values{"query": {"http_requests_total"}, "time": {at}, "stats": {"true"}},
			total:  3, read: 3, peak: 3,
		},
		{
			// (t-1m, t] holds 4 samples of each of the 3 series.
			name: "instant range function, stats=all", path: "/api/v1/query",
			params: url.Values{"query": {"rate(http_requests_total[1m])"}, "time": {at}, "stats": {"all"}},
			total:  12, read: 12, peak: -1,
			perStepTotal: steps(atF, 0, 12), perStepRead: steps(atF, 0, 12),
		},
		{
			// 11 steps 30s apart: every window holds 4 samples per series (12), but after the
			// first step only the 2 samples per series newer than the previous window are read.
			name: "range query, stats=all", path: "/api/v1/query_range",
			params: url.Values{"query": {"rate(http_requests_total[1m])"}, "start": {"1704067500"}, "end": {at}, "step": {"30"}, "stats": {"all"}},
			total:  132, read: 72, peak: -1,
			perStepTotal: steps(atF-300, 30, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12),
			perStepRead:  steps(atF-300, 30, 12, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6),
		},
		{
			name: "range query, stats=true has no per-step counts", path: "/api/v1/query_range",
			params: url.Values{"query": {"http_requests_total"}, "start": {"1704067500"}, "end": {at}, "step": {"60"}, "stats": {"true"}},
			total:  18, read: 18, peak: 18,
		},
		{
			name: "other values act as true, with Prometheus's deprecation warning", path: "/api/v1/query",
			params: url.Values{"query": {"http_requests_total"}, "time": {at}, "stats": {"1"}},
			total:  3, read: 3, peak: 3,
			wantWarning: `value "1" for parameter "stats" is deprecated and will be rejected in the next major release, use "true" or "all"`,
		},
		{
			name: "no stats parameter, no stats", path: "/api/v1/query",
			params:        url.Values{"query": {"http_requests_total"}, "time": {at}},
			wantNoSamples: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				r := get(t, method, tc.path, tc.params)
				if tc.wantNoSamples {
					if r.Data.Stats != nil {
						t.Fatalf("stats without the parameter: %+v", r.Data.Stats)
					}
					continue
				}
				st := r.Data.Stats
				if st == nil || st.Samples == nil {
					t.Fatalf("no stats in the response")
				}
				var keys []string
				for k, v := range st.Timings {
					keys = append(keys, k)
					if v < 0 {
						t.Errorf("timing %s = %v", k, v)
					}
				}
				want := []string{"evalTotalTime", "execQueueTime", "execTotalTime", "innerEvalTime", "queryPreparationTime", "resultSortTime"}
				if !sameSet(keys, want) {
					t.Errorf("timings %v, want %v", keys, want)
				}
				if st.Timings["execTotalTime"] < st.Timings["evalTotalTime"] || st.Timings["evalTotalTime"] < st.Timings["innerEvalTime"] || st.Timings["execTotalTime"] == 0 {
					t.Errorf("inconsistent timings %v", st.Timings)
				}
				s := st.Samples
				if s.Total == nil || s.Read == nil || s.Peak == nil {
					t.Fatalf("missing sample counts: %+v", s)
				}
				if *s.Total != tc.total || *s.Read != tc.read {
					t.Errorf("total/read %d/%d, want %d/%d", *s.Total, *s.Read, tc.total, tc.read)
				}
				if (tc.peak >= 0 && *s.Peak != tc.peak) || *s.Peak <= 0 {
					t.Errorf("peak %d, want %d", *s.Peak, tc.peak)
				}
				if tc.perStepTotal == nil {
					if s.TotalPerStep != nil || s.ReadPerStep != nil {
						t.Errorf("per-step counts without stats=all")
					}
				} else {
					if s.TotalPerStep == nil || !reflect.DeepEqual(*s.TotalPerStep, tc.perStepTotal) {
						t.Errorf("total per step %v, want %v", s.TotalPerStep, tc.perStepTotal)
					}
					if s.ReadPerStep == nil || !reflect.DeepEqual(*s.ReadPerStep, tc.perStepRead) {
						t.Errorf("read per step %v, want %v", s.ReadPerStep, tc.perStepRead)
					}
				}
				if tc.wantWarning != "" && (len(r.Warnings) != 1 || r.Warnings[0] != tc.wantWarning) {
					t.Errorf("warnings %q, want %q", r.Warnings, tc.wantWarning)
				}
				if tc.wantWarning == "" && len(r.Warnings) > 0 {
					t.Errorf("unexpected warnings %q", r.Warnings)
				}
			}
		})
	}
}

// TestQueryStatsJSONShape pins the exact layout of the stats object (key order and types as
// Prometheus writes them). Vigil streams the sum: its peak is one input series and one
// accumulator (Prometheus holds all three inputs and reports 4).
func TestQueryStatsJSONShape(t *testing.T) {
	env := newTestEnv(t, nil)
	res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {"sum(http_requests_total)"}, "time": {at}, "stats": {"all"}})
	i := strings.Index(res.body, `,"stats":{"timings":{"evalTotalTime":`)
	if i < 0 {
		t.Fatalf("no stats after the result: %s", res.body)
	}
	j := strings.Index(res.body, `"samples":`)
	if j < 0 {
		t.Fatalf("no samples: %s", res.body)
	}
	got := res.body[j:]
	want := `"samples":{"totalQueryableSamplesPerStep":[[1704067800,3]],"totalQueryableSamples":3,"samplesReadPerStep":[[1704067800,3]],"samplesRead":3,"peakSamples":2}}}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, s := range a {
		m[s] = true
	}
	for _, s := range b {
		if !m[s] {
			return false
		}
	}
	return true
}
