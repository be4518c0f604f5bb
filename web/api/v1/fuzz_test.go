package v1

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/promql"
)

// FuzzQueryEndpoint sends arbitrary query, time, start, end, step, timeout and limit values to
// /api/v1/query and /api/v1/query_range. Whatever comes in, the answer must be a well-formed
// Prometheus API document with a status code that matches its errorType — never a panic, a
// hang or a 5xx other than a timeout.
func FuzzQueryEndpoint(f *testing.F) {
	seeds := [][7]string{
		{`http_requests_total`, at, "", "", "", "", ""},
		{`sum by (job) (rate(http_requests_total[5m]))`, "", "1704067200", "1704067800", "15", "", "2"},
		{`sum(`, "x", "", "", "", "", ""},
		{`1`, "", "0", "11001", "1", "", ""},
		{`topk(1, http_requests_total) offset -1m @ end()`, "", "1704067200", "1704067800", "1m", "10s", ""},
		{`{__name__=~".+"}`, "1e300", "", "", "", "", "-3"},
		{`quantile_over_time(0.5, temperature[1m:15s])`, "", "2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z", "0.001", "", ""},
		{`"str"`, "NaN", "Inf", "-Inf", "-1", "1e400", "9223372036854775808"},
		{`label_replace(up, "a", "$1", "b", "(")`, at, "", "", "", "", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	db := newTestDB(f)
	// A sample cap keeps every fuzzed query's cost bounded; hitting it is a 422 like any
	// execution error.
	a := New(Options{
		Queryable: db,
		Engine:    promql.NewEngine(promql.EngineOpts{MaxSamples: 200_000, Timeout: 5 * time.Second}),
		Now:       func() time.Time { return testStart.Add(10 * time.Minute) },
	})
	f.Fuzz(func(t *testing.T, query, ts, start, end, step, timeout, limit string) {
		for _, path := range []string{"/api/v1/query", "/api/v1/query_range"} {
			v := url.Values{"query": {query}}
			for k, val := range map[string]string{"time": ts, "start": start, "end": end, "step": step, "timeout": timeout, "limit": limit} {
				if val != "" {
					v.Set(k, val)
				}
			}
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				defer close(done)
				a.ServeHTTP(rec, req)
			}()
			// The engine's 5s timeout must end any query; well past it, the query hangs.
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s %v: no answer after 30s", path, v)
			}
			var resp struct {
				Status    string          `json:"status"`
				Data      json.RawMessage `json:"data"`
				ErrorType string          `json:"errorType"`
				Error     string          `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				t.Fatalf("%s %v: invalid JSON %q: %v", path, v, rec.Body.String(), err)
			}
			switch resp.Status {
			case "success":
				if rec.Code != http.StatusOK || len(resp.Data) == 0 {
					t.Fatalf("%s %v: success with code %d, data %q", path, v, rec.Code, resp.Data)
				}
			case "error":
				if resp.Error == "" || errorType(resp.ErrorType).code() != rec.Code {
					t.Fatalf("%s %v: error %q type %q with code %d", path, v, resp.Error, resp.ErrorType, rec.Code)
				}
				if rec.Code >= 500 && resp.ErrorType != "timeout" {
					t.Fatalf("%s %v: server error %d: %s", path, v, rec.Code, resp.Error)
				}
			default:
				t.Fatalf("%s %v: status %q", path, v, resp.Status)
			}
		}
	})
}
