package v1

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-monitoring/vigil/promql"
)

// at is the evaluation time used by the tests: the last sample (i=40).
const at = "1704067800"

type apiCase struct {
	name   string
	method string // GET when empty
	path   string
	params url.Values
	code   int
	// body, when set, is the exact expected response body.
	body string
	// errType and errText, for errors: the errorType and a substring of the error.
	errType, errText string
}

func runCases(t *testing.T, env *testEnv, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			methods := []string{tc.method}
			if tc.method == "" {
				// Endpoints taking GET also take form POST with the same answer.
				methods = []string{http.MethodGet}
				if !getOnly(tc.path) {
					methods = append(methods, http.MethodPost)
				}
			}
			for _, m := range methods {
				res := env.do(t, m, tc.path, tc.params)
				if res.code != tc.code {
					t.Fatalf("%s %s?%s: status %d, want %d; body %s", m, tc.path, tc.params.Encode(), res.code, tc.code, res.body)
				}
				if tc.body != "" && res.body != tc.body {
					t.Fatalf("%s %s?%s:\n got %s\nwant %s", m, tc.path, tc.params.Encode(), res.body, tc.body)
				}
				if tc.errType != "" {
					if res.resp["status"] != "error" || res.resp["errorType"] != tc.errType {
						t.Fatalf("%s %s: got %s, want errorType %q", m, tc.path, res.body, tc.errType)
					}
					if errStr, _ := res.resp["error"].(string); !strings.Contains(errStr, tc.errText) {
						t.Fatalf("%s %s: error %q does not contain %q", m, tc.path, errStr, tc.errText)
					}
				}
			}
		})
	}
}

// getOnly tells the endpoints Prometheus serves for GET only.
func getOnly(path string) bool {
	for _, p := range []string{"/api/v1/label/", "/api/v1/status/", "/api/v1/alerts", "/api/v1/alertmanagers", "/api/v1/rules", "/api/v1/targets", "/api/v1/metadata"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

func TestQueryEndpoints(t *testing.T) {
	env := newTestEnv(t, nil)
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	runCases(t, env, []apiCase{
		{
			name: "instant vector", path: "/api/v1/query", params: q("query", `http_requests_total{job="api"}`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"http_requests_total","instance":"a","job":"api"},"value":[1704067800,"400"]},` +
				`{"metric":{"__name__":"http_requests_total","instance":"b","job":"api"},"value":[1704067800,"800"]}]}}`,
		},
		{
			name: "instant vector at RFC 3339 time with milliseconds", path: "/api/v1/query", params: q("query", `http_requests_total{instance="c"}`, "time", "2024-01-01T00:10:00.123Z"), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"http_requests_total","instance":"c","job":"db"},"value":[1704067800.123,"1200"]}]}}`,
		},
		{
			name: "time defaults to now", path: "/api/v1/query", params: q("query", `sum(http_requests_total)`), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1704067800,"2400"]}]}}`,
		},
		{
			name: "scalar keeps plain formatting", path: "/api/v1/query", params: q("query", `1.5e-7`, "time", "1704067800.5"), code: 200,
			body: `{"status":"success","data":{"resultType":"scalar","result":[1704067800.5,"0.00000015"]}}`,
		},
		{
			name: "string with HTML escaped", path: "/api/v1/query", params: q("query", `"a<b>&c"`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"string","result":[1704067800,"a\u003cb\u003e\u0026c"]}}`,
		},
		{
			name: "tiny value in exponent notation, HTML in label not escaped (as Prometheus)", path: "/api/v1/query", params: q("query", `temperature`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"temperature","city":"<b>&"},"value":[1704067800,"4e-08"]}]}}`,
		},
		{
			name: "utf-8 names and huge value", path: "/api/v1/query", params: q("query", `{"http.server.duration", "service.name"="x"}`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"http.server.duration","service.name":"x"},"value":[1704067800,"1e+21"]}]}}`,
		},
		{
			name: "NaN and infinities", path: "/api/v1/query", params: q("query", `sort_by_label(special, "kind")`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"special","kind":"-inf"},"value":[1704067800,"-Inf"]},` +
				`{"metric":{"__name__":"special","kind":"inf"},"value":[1704067800,"+Inf"]},` +
				`{"metric":{"__name__":"special","kind":"nan"},"value":[1704067800,"NaN"]}]}}`,
		},
		{
			name: "limit truncates with a warning", path: "/api/v1/query", params: q("query", `http_requests_total`, "time", at, "limit", "1"), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[` +
				`{"metric":{"__name__":"http_requests_total","instance":"a","job":"api"},"value":[1704067800,"400"]}]},"warnings":["results truncated due to limit"]}`,
		},
		{
			name: "range query", path: "/api/v1/query_range", params: q("query", `http_requests_total{instance="a"}`, "start", "1704067200", "end", "1704067230", "step", "15"), code: 200,
			body: `{"status":"success","data":{"resultType":"matrix","result":[` +
				`{"metric":{"__name__":"http_requests_total","instance":"a","job":"api"},"values":[[1704067200,"0"],[1704067215,"10"],[1704067230,"20"]]}]}}`,
		},
		{
			name: "range query with duration step and fractional times", path: "/api/v1/query_range", params: q("query", `http_requests_total{instance="a"} * 0.5`, "start", "1704067200.25", "end", "1704067215.25", "step", "7500ms"), code: 200,
			body: `{"status":"success","data":{"resultType":"matrix","result":[` +
				`{"metric":{"instance":"a","job":"api"},"values":[[1704067200.250,"0"],[1704067207.750,"0"],[1704067215.250,"5"]]}]}}`,
		},
		{
			name: "range query of a scalar", path: "/api/v1/query_range", params: q("query", `2`, "start", "1704067200", "end", "1704067215", "step", "15"), code: 200,
			body: `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1704067200,"2"],[1704067215,"2"]]}]}}`,
		},
		{
			name: "info annotation with the query position", path: "/api/v1/query", params: q("query", `rate(temperature[5m])`, "time", at), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"city":"<b>&"},"value":[1704067800,"6.666666666666666e-11"]}]},` +
				`"infos":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"temperature\" (1:6)"]}`,
		},
		// Bad input.
		{name: "parse error with position", path: "/api/v1/query", params: q("query", `sum(`, "time", at), code: 400, errType: "bad_data",
			errText: `invalid parameter "query": 1:5: parse error: unclosed left parenthesis`},
		{name: "empty query", path: "/api/v1/query", params: q("time", at), code: 400, errType: "bad_data", errText: `invalid parameter "query"`},
		{name: "bad time", path: "/api/v1/query", params: q("query", "1", "time", "yesterday"), code: 400, errType: "bad_data",
			errText: `invalid parameter "time": invalid time value for 'time': cannot parse "yesterday" to a valid timestamp`},
		{name: "infinite time", path: "/api/v1/query", params: q("query", "1", "time", "Inf"), code: 400, errType: "bad_data", errText: `cannot parse "Inf" to a valid timestamp`},
		{name: "bad timeout", path: "/api/v1/query", params: q("query", "1", "timeout", "soon"), code: 400, errType: "bad_data",
			errText: `invalid parameter "timeout": cannot parse "soon" to a valid duration`},
		{name: "bad limit", path: "/api/v1/query", params: q("query", "1", "limit", "-1"), code: 400, errType: "bad_data",
			errText: `invalid parameter "limit": limit must be non-negative`},
		{name: "bad lookback_delta", path: "/api/v1/query", params: q("query", "1", "lookback_delta", "soon"), code: 400, errType: "bad_data", errText: "error parsing lookback delta duration"},
		// The last sample is at `at`; two minutes later the default 5m lookback still finds it, a
		// 1m lookback_delta does not.
		{name: "default lookback", path: "/api/v1/query", params: q("query", "temperature", "time", "1704067920"), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"temperature","city":"<b>&"},"value":[1704067920,"4e-08"]}]}}`},
		{name: "lookback_delta per query", path: "/api/v1/query", params: q("query", "temperature", "time", "1704067920", "lookback_delta", "1m"), code: 200,
			body: `{"status":"success","data":{"resultType":"vector","result":[]}}`},
		{name: "range: missing start", path: "/api/v1/query_range", params: q("query", "1", "end", "10", "step", "1"), code: 400, errType: "bad_data",
			errText: `invalid parameter "start": cannot parse "" to a valid timestamp`},
		{name: "range: end before start", path: "/api/v1/query_range", params: q("query", "1", "start", "10", "end", "5", "step", "1"), code: 400, errType: "bad_data",
			errText: `invalid parameter "end": end timestamp must not be before start time`},
		{name: "range: zero step", path: "/api/v1/query_range", params: q("query", "1", "start", "0", "end", "5", "step", "0"), code: 400, errType: "bad_data",
			errText: `invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer`},
		{name: "range: bad step", path: "/api/v1/query_range", params: q("query", "1", "start", "0", "end", "5", "step", "often"), code: 400, errType: "bad_data",
			errText: `invalid parameter "step": cannot parse "often" to a valid duration`},
		{name: "range: too many points", path: "/api/v1/query_range", params: q("query", "1", "start", "0", "end", "11001", "step", "1"), code: 400, errType: "bad_data",
			errText: "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"},
		{name: "range: exactly 11000 steps is fine", path: "/api/v1/query_range", params: q("query", "1", "start", "0", "end", "11000", "step", "1"), code: 200},
		{name: "range: range vector", path: "/api/v1/query_range", params: q("query", "http_requests_total[5m]", "start", "0", "end", "5", "step", "1"), code: 400, errType: "bad_data",
			errText: `invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector`},
		{name: "execution error", path: "/api/v1/query", params: q("query", `http_requests_total + on(job) http_requests_total`, "time", at), code: 422, errType: "execution",
			errText: "many-to-many matching not allowed"},
		{name: "timeout", path: "/api/v1/query_range", params: q("query", `http_requests_total`, "start", "1704067200", "end", "1704067800", "step", "1", "timeout", "0"), code: 503, errType: "timeout",
			errText: "query timed out"},
		{name: "exemplars are empty", path: "/api/v1/query_exemplars", params: q("query", `http_requests_total`), code: 200, body: `{"status":"success","data":[]}`},
		{name: "exemplars: bad query", path: "/api/v1/query_exemplars", params: q("query", `{`), code: 400, errType: "bad_data", errText: "parse error"},
		{name: "format_query", path: "/api/v1/format_query", params: q("query", `sum(rate(x[5m]))by(job)`), code: 200,
			body: `{"status":"success","data":"sum by (job) (rate(x[5m]))"}`},
		{name: "format_query: bad", path: "/api/v1/format_query", params: q("query", `sum(`), code: 400, errType: "bad_data", errText: `invalid parameter "query": 1:5: parse error`},
		{name: "parse_query", path: "/api/v1/parse_query", params: q("query", `-up offset 1m > bool on(job) group_left(x) down`), code: 200,
			body: `{"status":"success","data":{"bool":true,"lhs":{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":60000,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"op":"-","type":"unaryExpr"},"matching":{"card":"many-to-one","fillValues":{"lhs":null,"rhs":null},"include":["x"],"labels":["job"],"on":true},"op":"\u003e","rhs":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"down"}],"name":"down","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"type":"binaryExpr"}}`},
	})
}

func TestQueryLimits(t *testing.T) {
	env := newTestEnv(t, func(o *Options) {
		o.Engine = promql.NewEngine(promql.EngineOpts{MaxSamples: 10})
	})
	res := env.do(t, http.MethodGet, "/api/v1/query_range", url.Values{
		"query": {"http_requests_total"}, "start": {"1704067200"}, "end": {"1704067800"}, "step": {"15"},
	})
	if res.code != http.StatusUnprocessableEntity || res.resp["errorType"] != "execution" ||
		!strings.Contains(res.resp["error"].(string), "query processing would load too many samples into memory") {
		t.Fatalf("max samples: got %d %s", res.code, res.body)
	}
}

func TestSeriesAndLabels(t *testing.T) {
	env := newTestEnv(t, nil)
	m := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	runCases(t, env, []apiCase{
		{name: "series", path: "/api/v1/series", params: m("match[]", `http_requests_total{job="api"}`), code: 200,
			body: `{"status":"success","data":[{"__name__":"http_requests_total","instance":"a","job":"api"},{"__name__":"http_requests_total","instance":"b","job":"api"}]}`},
		{name: "series: overlapping selectors are merged", path: "/api/v1/series", params: m("match[]", `http_requests_total{instance="b"}`, "match[]", `{job="api"}`, "match[]", `temperature`), code: 200,
			body: `{"status":"success","data":[{"__name__":"http_requests_total","instance":"a","job":"api"},{"__name__":"http_requests_total","instance":"b","job":"api"},{"__name__":"temperature","city":"<b>&"}]}`},
		{name: "series: limit", path: "/api/v1/series", params: m("match[]", `http_requests_total`, "limit", "2"), code: 200,
			body: `{"status":"success","data":[{"__name__":"http_requests_total","instance":"a","job":"api"},{"__name__":"http_requests_total","instance":"b","job":"api"}],"warnings":["results truncated due to limit"]}`},
		{name: "series: time range without data", path: "/api/v1/series", params: m("match[]", `http_requests_total`, "start", "1000", "end", "2000"), code: 200,
			body: `{"status":"success","data":[]}`},
		{name: "series: RFC 3339 bounds as promtool sends them", path: "/api/v1/series", params: m("match[]", `special{kind="nan"}`, "start", minTimeFormatted, "end", maxTimeFormatted), code: 200,
			body: `{"status":"success","data":[{"__name__":"special","kind":"nan"}]}`},
		{name: "series: no match", path: "/api/v1/series", code: 400, errType: "bad_data", errText: "no match[] parameter provided"},
		{name: "series: empty matcher", path: "/api/v1/series", params: m("match[]", `{job=~".*"}`), code: 400, errType: "bad_data",
			errText: `invalid parameter "match[]": match[] must contain at least one non-empty matcher`},
		{name: "series: bad selector", path: "/api/v1/series", params: m("match[]", `{job=}`), code: 400, errType: "bad_data", errText: `invalid parameter "match[]": 1:6: parse error`},
		{name: "series: bad start", path: "/api/v1/series", params: m("match[]", `up`, "start", "x"), code: 400, errType: "bad_data", errText: `invalid parameter "start"`},
		{name: "labels", path: "/api/v1/labels", code: 200,
			body: `{"status":"success","data":["__name__","city","instance","job","kind","service.name"]}`},
		{name: "labels: matched", path: "/api/v1/labels", params: m("match[]", `special`, "match[]", `temperature`), code: 200,
			body: `{"status":"success","data":["__name__","city","kind"]}`},
		{name: "labels: limit", path: "/api/v1/labels", params: m("limit", "2"), code: 200,
			body: `{"status":"success","data":["__name__","city"],"warnings":["results truncated due to limit"]}`},
		{name: "labels: outside the data", path: "/api/v1/labels", params: m("start", "0", "end", "1"), code: 200, body: `{"status":"success","data":[]}`},
		{name: "label values", path: "/api/v1/label/job/values", code: 200, body: `{"status":"success","data":["api","db"]}`},
		{name: "label values: escaped UTF-8 name", path: "/api/v1/label/U__service_2e_name/values", code: 200, body: `{"status":"success","data":["x"]}`},
		{name: "label values: metric names", path: "/api/v1/label/__name__/values", params: m("match[]", `{job="db"}`, "match[]", `{kind="nan"}`), code: 200,
			body: `{"status":"success","data":["http_requests_total","special"]}`},
		{name: "label values: limit", path: "/api/v1/label/instance/values", params: m("limit", "1"), code: 200,
			body: `{"status":"success","data":["a"],"warnings":["results truncated due to limit"]}`},
		{name: "label values: unknown name", path: "/api/v1/label/nope/values", code: 200, body: `{"status":"success","data":[]}`},
		{name: "label values: bad matcher", path: "/api/v1/label/job/values", params: m("match[]", `{`), code: 400, errType: "bad_data", errText: "parse error"},
	})
}

func TestStatusEndpoints(t *testing.T) {
	env := newTestEnv(t, nil)
	runCases(t, env, []apiCase{
		{name: "buildinfo", path: "/api/v1/status/buildinfo", code: 200,
			body: `{"status":"success","data":{"version":"1.2.3","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":"go1.26"}}`},
		{name: "flags", path: "/api/v1/status/flags", code: 200, body: `{"status":"success","data":{"query.timeout":"2m"}}`},
		{name: "config", path: "/api/v1/status/config", code: 200, body: `{"status":"success","data":{"yaml":"global:\n  scrape_interval: 15s\n"}}`},
		{name: "tsdb", path: "/api/v1/status/tsdb", params: url.Values{"limit": {"1"}}, code: 200},
		{name: "tsdb: bad limit", path: "/api/v1/status/tsdb", params: url.Values{"limit": {"0"}}, code: 400, errType: "bad_data", errText: "limit must be a positive number"},
		{name: "tsdb: limit too big", path: "/api/v1/status/tsdb", params: url.Values{"limit": {"10001"}}, code: 400, errType: "bad_data", errText: "limit must not exceed 10000"},
		{name: "alerts without a ruler", path: "/api/v1/alerts", code: 200, body: `{"status":"success","data":{"alerts":[]}}`},
		{name: "rules without a ruler", path: "/api/v1/rules", code: 200, body: `{"status":"success","data":{"groups":[]}}`},
		{name: "targets without scraping", path: "/api/v1/targets", code: 500, errType: "unavailable"},
		// As Prometheus: the admin endpoints answer "unavailable" (with status 500) when disabled.
		{name: "admin disabled: delete", method: http.MethodPost, path: "/api/v1/admin/tsdb/delete_series", params: url.Values{"match[]": {"up"}}, code: 500, errType: "unavailable", errText: "admin APIs disabled"},
		{name: "admin disabled: clean", method: http.MethodPut, path: "/api/v1/admin/tsdb/clean_tombstones", code: 500, errType: "unavailable", errText: "admin APIs disabled"},
		{name: "admin disabled: snapshot", method: http.MethodPost, path: "/api/v1/admin/tsdb/snapshot", code: 500, errType: "unavailable", errText: "admin APIs disabled"},
		{name: "admin is not GET", method: http.MethodGet, path: "/api/v1/admin/tsdb/snapshot", code: 405},
		{name: "remote write disabled", method: http.MethodPost, path: "/api/v1/write", code: 404},
	})
	res := env.do(t, http.MethodGet, "/api/v1/status/tsdb", nil)
	data := res.resp["data"].(map[string]any)
	head := data["headStats"].(map[string]any)
	if head["numSeries"].(float64) != 8 || head["minTime"].(float64) != 1704067200000 {
		t.Fatalf("tsdb status head stats: %v", head)
	}
	if got := data["seriesCountByMetricName"].([]any)[0].(map[string]any); got["name"] != "http_requests_total" || got["value"].(float64) != 3 {
		t.Fatalf("tsdb status top metric: %v", got)
	}
	res = env.do(t, http.MethodGet, "/api/v1/status/runtimeinfo", nil)
	if d := res.resp["data"].(map[string]any); d["hostname"] != "test" || d["storageRetention"] != "15d" || d["startTime"] != "0001-01-01T00:00:00Z" {
		t.Fatalf("runtimeinfo: %s", res.body)
	}
}

func TestAdminEndpoints(t *testing.T) {
	env := newTestEnv(t, func(o *Options) { o.EnableAdmin = true })
	res := env.do(t, http.MethodPost, "/api/v1/admin/tsdb/snapshot", nil)
	if res.code != 200 {
		t.Fatalf("snapshot: %d %s", res.code, res.body)
	}
	name := res.resp["data"].(map[string]any)["name"].(string)
	if entries, err := os.ReadDir(filepath.Join(env.db.Dir(), "snapshots", name)); err != nil || len(entries) == 0 {
		t.Fatalf("snapshot %s: entries %v, err %v", name, entries, err)
	}
	if res := env.do(t, http.MethodPost, "/api/v1/admin/tsdb/snapshot", url.Values{"skip_head": {"maybe"}}); res.code != 400 {
		t.Fatalf("snapshot with bad skip_head: %d %s", res.code, res.body)
	}

	if res := env.do(t, http.MethodPost, "/api/v1/admin/tsdb/delete_series", url.Values{"match[]": {`{job="db"}`, `{`}}); res.code != 400 {
		t.Fatalf("delete with a bad selector: %d %s", res.code, res.body)
	}
	// A bad selector deletes nothing, not even what the good one selects.
	if res := env.do(t, http.MethodGet, "/api/v1/series", url.Values{"match[]": {`{job="db"}`}}); !strings.Contains(res.body, `"instance":"c"`) {
		t.Fatalf("series deleted by a failed request: %s", res.body)
	}
	if res := env.do(t, http.MethodPost, "/api/v1/admin/tsdb/delete_series", url.Values{"match[]": {`{job="db"}`}}); res.code != 204 {
		t.Fatalf("delete: %d %s", res.code, res.body)
	}
	if res := env.do(t, http.MethodGet, "/api/v1/query", url.Values{"query": {`http_requests_total{job="db"}`}, "time": {at}}); res.body != `{"status":"success","data":{"resultType":"vector","result":[]}}` {
		t.Fatalf("after delete: %s", res.body)
	}
	if res := env.do(t, http.MethodPut, "/api/v1/admin/tsdb/clean_tombstones", nil); res.code != 204 {
		t.Fatalf("clean tombstones: %d %s", res.code, res.body)
	}
	if res := env.do(t, http.MethodPost, "/api/v1/admin/tsdb/delete_series", nil); res.code != 400 || res.resp["error"] != "no match[] parameter provided" {
		t.Fatalf("delete without match[]: %d %s", res.code, res.body)
	}
}

func TestGzipResponse(t *testing.T) {
	env := newTestEnv(t, nil)
	req, err := http.NewRequest(http.MethodGet, env.srv.URL+"/api/v1/label/job/values", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	// A transport without its own gzip handling, so we see the encoded body.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"status":"success","data":["api","db"]}` {
		t.Fatalf("body %s", b)
	}
}

func TestCanceledQueryIs499(t *testing.T) {
	if got := returnAPIError(promql.ErrQueryCanceled("eval")).typ.code(); got != 499 {
		t.Fatalf("canceled: %d", got)
	}
	if got := returnAPIError(promql.ErrStorage{Err: io.ErrUnexpectedEOF}).typ.code(); got != 500 {
		t.Fatalf("storage: %d", got)
	}
	if got := returnAPIError(promql.ErrQueryTimeout("eval")).typ.code(); got != 503 {
		t.Fatalf("timeout: %d", got)
	}
}

// Paths no endpoint serves answer as Prometheus's router does: 404 with a plain body for an
// unknown path, 405 with Allow for a known path asked with another method.
func TestUnknownPaths(t *testing.T) {
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		code         int
		body, allow  string
	}{
		{http.MethodGet, "/api/v1/foo", 404, "404 page not found\n", ""},
		{http.MethodPost, "/api/v1/foo/bar", 404, "404 page not found\n", ""},
		{http.MethodGet, "/api/v1/status/nope", 404, "404 page not found\n", ""},
		{http.MethodDelete, "/api/v1/query", 405, "Method Not Allowed\n", "GET, OPTIONS, POST"},
		{http.MethodGet, "/api/v1/admin/tsdb/snapshot", 405, "Method Not Allowed\n", "OPTIONS, POST, PUT"},
		{http.MethodPut, "/api/v1/write", 405, "Method Not Allowed\n", "OPTIONS, POST"},
		{http.MethodOptions, "/api/v1/foo", 204, "", ""},
	} {
		req, err := http.NewRequest(tc.method, env.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d %q Allow %q, want %d %q Allow %q", tc.method, tc.path, resp.StatusCode, b, resp.Header.Get("Allow"), tc.code, tc.body, tc.allow)
		}
	}
}
