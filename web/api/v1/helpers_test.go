package v1

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// testStart is the first sample's time: 2024-01-01T00:00:00Z.
var testStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// testEnv is a real TSDB with a small data set, our engine, and the API on an httptest server.
type testEnv struct {
	db  *tsdb.DB
	api *API
	srv *httptest.Server
}

// newTestDB opens a TSDB holding, every 15s for 10 minutes from testStart:
//
//	http_requests_total{job="api",instance="a"}  = 10*i
//	http_requests_total{job="api",instance="b"}  = 20*i
//	http_requests_total{job="db",instance="c"}   = 30*i
//	temperature{city="<b>&"}                     = 1e-9*i (tiny values, HTML in a label)
//	"http.server.duration"{"service.name"="x"}   = 1e21 (UTF-8 metric and label names)
//	special{kind="nan"|"inf"|"-inf"}             = NaN, +Inf, -Inf
func newTestDB(t testing.TB) *tsdb.DB {
	t.Helper()
	opts := tsdb.DefaultOptions()
	// The data is from 2024: keep it when a test also appends samples at the current time.
	opts.RetentionDuration = (100 * 365 * 24 * time.Hour).Milliseconds()
	db, err := tsdb.Open(t.TempDir(), opts, nil, nil)
	if err != nil {
		t.Fatalf("opening tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	app := db.Appender(context.Background())
	series := []struct {
		ls labels.Labels
		v  func(i int) float64
	}{
		{labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "a"), func(i int) float64 { return float64(10 * i) }},
		{labels.FromStrings("__name__", "http_requests_total", "job", "api", "instance", "b"), func(i int) float64 { return float64(20 * i) }},
		{labels.FromStrings("__name__", "http_requests_total", "job", "db", "instance", "c"), func(i int) float64 { return float64(30 * i) }},
		{labels.FromStrings("__name__", "temperature", "city", "<b>&"), func(i int) float64 { return 1e-9 * float64(i) }},
		{labels.FromStrings("__name__", "http.server.duration", "service.name", "x"), func(int) float64 { return 1e21 }},
		{labels.FromStrings("__name__", "special", "kind", "nan"), func(int) float64 { return math.NaN() }},
		{labels.FromStrings("__name__", "special", "kind", "inf"), func(int) float64 { return math.Inf(1) }},
		{labels.FromStrings("__name__", "special", "kind", "-inf"), func(int) float64 { return math.Inf(-1) }},
	}
	for i := 0; i <= 40; i++ {
		ts := testStart.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for _, s := range series {
			if _, err := app.Append(0, s.ls, ts, s.v(i)); err != nil {
				t.Fatalf("append %s: %v", s.ls, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return db
}

func newTestEnv(t testing.TB, mod func(*Options)) *testEnv {
	t.Helper()
	return newTestEnvDB(t, newTestDB(t), mod)
}

func newTestEnvDB(t testing.TB, db *tsdb.DB, mod func(*Options)) *testEnv {
	t.Helper()
	opts := Options{
		Queryable:  db,
		Engine:     promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: time.Minute}),
		Appendable: db,
		DB:         db,
		Flags:      func() map[string]string { return map[string]string{"query.timeout": "2m"} },
		BuildInfo:  BuildInfo{Version: "1.2.3", GoVersion: "go1.26"},
		Config:     func() string { return "global:\n  scrape_interval: 15s\n" },
		RuntimeInfo: func() RuntimeInfo {
			return RuntimeInfo{Hostname: "test", GOMAXPROCS: 2, StorageRetention: "15d"}
		},
		Now: func() time.Time { return testStart.Add(10 * time.Minute) },
	}
	if mod != nil {
		mod(&opts)
	}
	a := New(opts)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return &testEnv{db: db, api: a, srv: srv}
}

type httpResult struct {
	code int
	body string
	resp map[string]any
}

// do sends a GET with the query, or a form POST when method is POST.
func (e *testEnv) do(t testing.TB, method, path string, params url.Values) httpResult {
	t.Helper()
	var (
		resp *http.Response
		err  error
	)
	switch method {
	case http.MethodGet:
		u := e.srv.URL + path
		if len(params) > 0 {
			u += "?" + params.Encode()
		}
		resp, err = http.Get(u)
	default:
		req, rerr := http.NewRequest(method, e.srv.URL+path, strings.NewReader(params.Encode()))
		if rerr != nil {
			t.Fatal(rerr)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err = http.DefaultClient.Do(req)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	res := httpResult{code: resp.StatusCode, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &res.resp); err != nil {
			t.Fatalf("%s %s: invalid JSON %q: %v", method, path, b, err)
		}
	}
	return res
}
