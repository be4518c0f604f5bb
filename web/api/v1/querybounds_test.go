package v1

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestQueryBounds: format_query refuses, before parsing, inputs whose pretty-printing would run
// for minutes (2,000 chained operators: 112 s; 1,000 nested parentheses: 19 s) with 400
// bad_data; /query and /query_range keep accepting long queries (2,000-term chains) and refuse
// only far larger ones.
func TestQueryBounds(t *testing.T) {
	env := newTestEnv(t, nil)
	chain := func(n int) string { return strings.Repeat("up + ", n-1) + "up" }
	nested := func(n int) string { return strings.Repeat("(", n) + "up" + strings.Repeat(")", n) }
	for _, tc := range []struct {
		name, path, query string
		code              int
		text              string
	}{
		{"format chain 2000", "/api/v1/format_query", chain(2000), 400, `invalid parameter \"query\": query has too many operators: more than 256`},
		{"format nested 1000", "/api/v1/format_query", nested(1000), 400, `invalid parameter \"query\": query is nested too deeply: more than 64 levels`},
		{"format 70 KiB", "/api/v1/format_query", `up{job="` + strings.Repeat("a", 70<<10) + `"}`, 400, `query is too long: 71690 bytes, at most 65536 are accepted`},
		{"format within bounds", "/api/v1/format_query", chain(100), 200, `"status":"success"`},
		{"query chain 2000", "/api/v1/query", chain(2000), 200, `"status":"success"`},
		{"query nested 500", "/api/v1/query", nested(500), 200, `"status":"success"`},
		{"query chain 10001", "/api/v1/query", chain(10_002), 400, `query has too many operators: more than 10000`},
		{"query_range nested 2000", "/api/v1/query_range", nested(2000), 400, `query is nested too deeply: more than 1024 levels`},
		{"parse_query chain 10001", "/api/v1/parse_query", chain(10_002), 400, `query has too many operators`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			params := url.Values{"query": {tc.query}, "time": {"1704067800"}, "start": {"1704067800"}, "end": {"1704067900"}, "step": {"60"}}
			res := env.do(t, http.MethodPost, tc.path, params)
			if res.code != tc.code || !strings.Contains(res.body, tc.text) {
				t.Fatalf("got %d %.300s, want %d containing %q", res.code, res.body, tc.code, tc.text)
			}
			if tc.code == 400 && !strings.Contains(res.body, `"errorType":"bad_data"`) {
				t.Fatalf("not bad_data: %.300s", res.body)
			}
		})
	}
}

// TestFormatQueryClientGone: a format_query request whose client has gone does no work.
func TestFormatQueryClientGone(t *testing.T) {
	env := newTestEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/format_query?query="+url.QueryEscape(strings.Repeat("sum(", 60)+"up"+strings.Repeat(")", 60)), nil)
	rec := httptest.NewRecorder()
	env.api.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"errorType":"canceled"`) {
		t.Fatalf("got %d %s, want canceled", rec.Code, rec.Body.String())
	}
}

// FuzzFormatQuery sends arbitrary text to /api/v1/format_query: the answer is 200 or a 400
// bad_data, never a panic, and whatever passes the bounds is printed quickly (the fuzzer's
// per-input deadline catches a regression to unbounded printing).
func FuzzFormatQuery(f *testing.F) {
	for _, s := range []string{
		`sum(rate(x[5m])) by (job)`, `up + up * 2`, `((up))`, `sum(`, `"unterminated`, `{a="(("}`,
		`up{job="a)"} / on (x) group_left sum by (x) (up)`, strings.Repeat("(", 65) + "up",
		strings.Repeat("-", 300) + "up", `# comment (((`,
	} {
		f.Add(s)
	}
	a := New(Options{})
	f.Fuzz(func(t *testing.T, q string) {
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/format_query?query="+url.QueryEscape(q), nil))
		switch {
		case rec.Code == http.StatusOK:
		case rec.Code == http.StatusBadRequest && strings.Contains(rec.Body.String(), `"errorType":"bad_data"`):
		default:
			t.Fatalf("%q: %d %s", q, rec.Code, rec.Body.String())
		}
	})
}
