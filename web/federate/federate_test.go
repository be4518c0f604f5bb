// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: ported from github.com/prometheus/prometheus web/federate_test.go (v0.315.0).

package federate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// Ported from upstream web/federate_test.go (v0.315.0): same inputs, same output bytes.
var scenarios = map[string]struct {
	params         string
	externalLabels labels.Labels
	code           int
	body           string
}{
	"empty": {
		params: "",
		code:   http.StatusOK,
		body:   ``,
	},
	"match nothing": {
		params: "match[]=does_not_match_anything",
		code:   http.StatusOK,
		body:   ``,
	},
	"invalid params from the beginning": {
		params: "match[]=-not-a-valid-metric-name",
		code:   http.StatusBadRequest,
		body: `1:1: parse error: unexpected <op:->
`,
	},
	"invalid params somewhere in the middle": {
		params: "match[]=not-a-valid-metric-name",
		code:   http.StatusBadRequest,
		body: `1:4: parse error: unexpected <op:->
`,
	},
	"test_metric1": {
		params: "match[]=test_metric1",
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
`,
	},
	"test_metric2": {
		params: "match[]=test_metric2",
		code:   http.StatusOK,
		body: `# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
`,
	},
	"test_metric_without_labels": {
		params: "match[]=test_metric_without_labels",
		code:   http.StatusOK,
		body: `# TYPE test_metric_without_labels untyped
test_metric_without_labels{instance=""} 1001 6000000
`,
	},
	"test_stale_metric": {
		params: "match[]=test_metric_stale",
		code:   http.StatusOK,
		body:   ``,
	},
	"test_old_metric": {
		params: "match[]=test_metric_old",
		code:   http.StatusOK,
		body: `# TYPE test_metric_old untyped
test_metric_old{instance=""} 981 5880000
`,
	},
	"{foo='boo'}": {
		params: "match[]={foo='boo'}",
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="boo",instance="i"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
`,
	},
	"two matchers": {
		params: "match[]=test_metric1&match[]=test_metric2",
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
`,
	},
	"two matchers with overlap": {
		params: "match[]={__name__=~'test_metric1'}&match[]={foo='bar'}",
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
`,
	},
	"everything": {
		params: "match[]={__name__=~'.%2b'}", // '%2b' is an URL-encoded '+'.
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
# TYPE test_metric_old untyped
test_metric_old{instance=""} 981 5880000
# TYPE test_metric_without_labels untyped
test_metric_without_labels{instance=""} 1001 6000000
`,
	},
	"empty label value matches everything that doesn't have that label": {
		params: "match[]={foo='',__name__=~'.%2b'}",
		code:   http.StatusOK,
		body: `# TYPE test_metric_old untyped
test_metric_old{instance=""} 981 5880000
# TYPE test_metric_without_labels untyped
test_metric_without_labels{instance=""} 1001 6000000
`,
	},
	"empty label value for a label that doesn't exist at all, matches everything": {
		params: "match[]={bar='',__name__=~'.%2b'}",
		code:   http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
# TYPE test_metric_old untyped
test_metric_old{instance=""} 981 5880000
# TYPE test_metric_without_labels untyped
test_metric_without_labels{instance=""} 1001 6000000
`,
	},
	"external labels are added if not already present": {
		params:         "match[]={__name__=~'.%2b'}", // '%2b' is an URL-encoded '+'.
		externalLabels: labels.FromStrings("foo", "baz", "zone", "ie"),
		code:           http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i",zone="ie"} 10000 6000000
test_metric1{foo="boo",instance="i",zone="ie"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i",zone="ie"} 1 6000000
# TYPE test_metric_old untyped
test_metric_old{foo="baz",instance="",zone="ie"} 981 5880000
# TYPE test_metric_without_labels untyped
test_metric_without_labels{foo="baz",instance="",zone="ie"} 1001 6000000
`,
	},
	"instance is an external label": {
		// This makes no sense as a configuration, but we should
		// know what it does anyway.
		params:         "match[]={__name__=~'.%2b'}", // '%2b' is an URL-encoded '+'.
		externalLabels: labels.FromStrings("instance", "baz"),
		code:           http.StatusOK,
		body: `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i"} 10000 6000000
test_metric1{foo="boo",instance="i"} 1 6000000
# TYPE test_metric2 untyped
test_metric2{foo="boo",instance="i"} 1 6000000
# TYPE test_metric_old untyped
test_metric_old{instance="baz"} 981 5880000
# TYPE test_metric_without_labels untyped
test_metric_without_labels{instance="baz"} 1001 6000000
`,
	},
}

// loadTestDB holds upstream's data set, as its promqltest "load 1m" block writes it:
//
//	test_metric1{foo="bar",instance="i"}    0+100x100
//	test_metric1{foo="boo",instance="i"}    1+0x100
//	test_metric2{foo="boo",instance="i"}    1+0x100
//	test_metric_without_labels 1+10x100
//	test_metric_stale                       1+10x99 stale
//	test_metric_old                         1+10x98
func loadTestDB(t testing.TB) *tsdb.DB {
	t.Helper()
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = (100 * 365 * 24 * time.Hour).Milliseconds()
	db, err := tsdb.Open(t.TempDir(), opts, nil, nil)
	if err != nil {
		t.Fatalf("opening tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	type series struct {
		ls         labels.Labels
		start, inc float64
		n          int
		stale      bool
	}
	all := []series{
		{labels.FromStrings("__name__", "test_metric1", "foo", "bar", "instance", "i"), 0, 100, 100, false},
		{labels.FromStrings("__name__", "test_metric1", "foo", "boo", "instance", "i"), 1, 0, 100, false},
		{labels.FromStrings("__name__", "test_metric2", "foo", "boo", "instance", "i"), 1, 0, 100, false},
		{labels.FromStrings("__name__", "test_metric_without_labels"), 1, 10, 100, false},
		{labels.FromStrings("__name__", "test_metric_stale"), 1, 10, 99, true},
		{labels.FromStrings("__name__", "test_metric_old"), 1, 10, 98, false},
	}
	app := db.Appender(context.Background())
	for _, s := range all {
		for i := 0; i <= s.n; i++ {
			ts := int64(i) * time.Minute.Milliseconds()
			if _, err := app.Append(0, s.ls, ts, s.start+float64(i)*s.inc); err != nil {
				t.Fatalf("append %s: %v", s.ls, err)
			}
		}
		if s.stale {
			if _, err := app.Append(0, s.ls, int64(s.n+1)*time.Minute.Milliseconds(), storage.StaleNaN()); err != nil {
				t.Fatalf("append stale marker %s: %v", s.ls, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return db
}

// testNow is upstream's request time: 101min after the epoch.
func testNow() time.Time { return time.UnixMilli(101 * 60 * 1000) }

func TestFederation(t *testing.T) {
	db := loadTestDB(t)
	var ext labels.Labels
	h := New(Options{
		Queryable:      db,
		LookbackDelta:  5 * time.Minute,
		Now:            testNow,
		ExternalLabels: func() labels.Labels { return ext },
	})
	for name, scenario := range scenarios {
		t.Run(name, func(t *testing.T) {
			ext = scenario.externalLabels
			req := httptest.NewRequest(http.MethodGet, "http://example.org/federate?"+scenario.params, http.NoBody)
			res := httptest.NewRecorder()
			h.ServeHTTP(res, req)
			if res.Code != scenario.code {
				t.Fatalf("code %d, want %d; body %q", res.Code, scenario.code, res.Body.String())
			}
			if got := normalizeBody(res.Body); got != scenario.body {
				t.Fatalf("body:\n%s\nwant:\n%s", got, scenario.body)
			}
		})
	}
}

// TestFederationBytes checks the exact bytes and headers, unnormalised: within a family the
// series come sorted by labels.
func TestFederationBytes(t *testing.T) {
	h := New(Options{Queryable: loadTestDB(t), LookbackDelta: 5 * time.Minute, Now: testNow,
		ExternalLabels: func() labels.Labels { return labels.FromStrings("cluster", "eu", "foo", "x") }})
	req := httptest.NewRequest(http.MethodGet, "/federate?match[]=test_metric1&match[]=test_metric_old", http.NoBody)
	res := httptest.NewRecorder()
	h.ServeHTTP(res, req)
	want := `# TYPE test_metric1 untyped
test_metric1{foo="bar",instance="i",cluster="eu"} 10000 6000000
test_metric1{foo="boo",instance="i",cluster="eu"} 1 6000000
# TYPE test_metric_old untyped
test_metric_old{cluster="eu",foo="x",instance=""} 981 5880000
`
	if res.Code != http.StatusOK || res.Body.String() != want {
		t.Fatalf("code %d body:\n%s\nwant:\n%s", res.Code, res.Body.String(), want)
	}
	if ct, want := res.Header().Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"; ct != want {
		t.Errorf("Content-Type %q, want %q", ct, want)
	}
}

// TestFederationLookback: a shorter lookback delta leaves out test_metric_old (3 minutes old).
func TestFederationLookback(t *testing.T) {
	h := New(Options{Queryable: loadTestDB(t), LookbackDelta: 2 * time.Minute, Now: testNow})
	req := httptest.NewRequest(http.MethodGet, "/federate?match[]={__name__=~'test_metric_(old|without_labels)'}", http.NoBody)
	res := httptest.NewRecorder()
	h.ServeHTTP(res, req)
	want := "# TYPE test_metric_without_labels untyped\ntest_metric_without_labels{instance=\"\"} 1001 6000000\n"
	if res.Body.String() != want {
		t.Fatalf("body:\n%s\nwant:\n%s", res.Body.String(), want)
	}
	// At an earlier request time the latest sample is the one at or before it, not after.
	h = New(Options{Queryable: h.opts.Queryable, LookbackDelta: 5 * time.Minute,
		Now: func() time.Time { return time.UnixMilli(50*60*1000 + 30*1000) }})
	res = httptest.NewRecorder()
	h.ServeHTTP(res, httptest.NewRequest(http.MethodGet, "/federate?match[]=test_metric_old", http.NoBody))
	want = "# TYPE test_metric_old untyped\ntest_metric_old{instance=\"\"} 501 3000000\n"
	if res.Body.String() != want {
		t.Fatalf("body:\n%s\nwant:\n%s", res.Body.String(), want)
	}
}

// TestFederationProtobuf: with the Accept header Prometheus's scraper sends, the answer is
// delimited protobuf that Prometheus's own parser reads back.
func TestFederationProtobuf(t *testing.T) {
	h := New(Options{Queryable: loadTestDB(t), LookbackDelta: 5 * time.Minute, Now: testNow})
	req := httptest.NewRequest(http.MethodGet, "/federate?match[]={foo='boo'}", http.NoBody)
	req.Header.Add("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`)
	res := httptest.NewRecorder()
	h.ServeHTTP(res, req)
	if res.Code != http.StatusOK {
		t.Fatalf("code %d", res.Code)
	}
	if ct := res.Header().Get("Content-Type"); ct != "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores" {
		t.Fatalf("Content-Type %q", ct)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := textparse.NewProtobufParser(body, false, false, false, false, labels.NewSymbolTable())
	var got []string
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if et == textparse.EntrySeries {
			var l labels.Labels
			p.Labels(&l)
			_, ts, v := p.Series()
			got = append(got, l.String()+" "+time.UnixMilli(*ts).UTC().Format(time.RFC3339)+" "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	want := []string{
		`{__name__="test_metric1", foo="boo", instance="i"} 1970-01-01T01:40:00Z 1`,
		`{__name__="test_metric2", foo="boo", instance="i"} 1970-01-01T01:40:00Z 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// errQueryable fails every querier, or every select, to check the error paths.
type errQueryable struct{ querierErr, selectErr error }

func (e errQueryable) Querier(int64, int64) (storage.Querier, error) {
	if e.querierErr != nil {
		return nil, e.querierErr
	}
	return errQuerier{e.selectErr}, nil
}

type errQuerier struct{ err error }

func (e errQuerier) Select(context.Context, bool, *storage.SelectHints, ...*labels.Matcher) storage.SeriesSet {
	return storage.ErrSeriesSet(e.err)
}
func (errQuerier) LabelValues(context.Context, string, ...*labels.Matcher) ([]string, error) {
	return nil, nil
}
func (errQuerier) LabelNames(context.Context, ...*labels.Matcher) ([]string, error) { return nil, nil }
func (errQuerier) Close() error                                                     { return nil }

// TestFederationErrors: storage errors are 500 and counted; bad selectors are 400 before the
// storage is touched (upstream's TestFederation_NotReady checks the same order).
func TestFederationErrors(t *testing.T) {
	for _, q := range []errQueryable{{querierErr: errors.New("querier down")}, {selectErr: errors.New("select failed")}} {
		reg := prometheus.NewRegistry()
		h := New(Options{Queryable: q, LookbackDelta: 5 * time.Minute, Now: testNow, Registerer: reg})
		for name, scenario := range scenarios {
			res := httptest.NewRecorder()
			h.ServeHTTP(res, httptest.NewRequest(http.MethodGet, "/federate?"+scenario.params, http.NoBody))
			want := http.StatusInternalServerError
			if scenario.code == http.StatusBadRequest {
				want = http.StatusBadRequest
			} else if scenario.params == "" && q.selectErr != nil {
				want = http.StatusOK // no selector, no select
			}
			if res.Code != want {
				t.Errorf("%s (%v): code %d, want %d", name, q, res.Code, want)
			}
		}
		n := testutil.ToFloat64(h.errors)
		if n == 0 {
			t.Errorf("%v: prometheus_web_federation_errors_total not incremented", q)
		}
		if c, err := testutil.GatherAndCount(reg, "prometheus_web_federation_errors_total", "prometheus_web_federation_warnings_total"); err != nil || c != 2 {
			t.Errorf("registered metrics: %d, %v", c, err)
		}
	}
}

// normalizeBody sorts the lines within a metric to make it easy to verify the body.
// (Federation is not taking care of sorting within a metric family.)
func normalizeBody(body *bytes.Buffer) string {
	var (
		lines    []string
		lastHash int
	)
	for line, err := body.ReadString('\n'); err == nil; line, err = body.ReadString('\n') {
		if line[0] == '#' && len(lines) > 0 {
			sort.Strings(lines[lastHash+1:])
			lastHash = len(lines)
		}
		lines = append(lines, line)
	}
	if len(lines) > 0 {
		sort.Strings(lines[lastHash+1:])
	}
	return strings.Join(lines, "")
}

// FuzzFederate: any match[] values and Accept header give 200 or 400, never a panic or a 500.
func FuzzFederate(f *testing.F) {
	for _, s := range scenarios {
		f.Add(s.params, "")
	}
	f.Add("match[]={__name__=~'.%2b'}", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	f.Add("match[]=up{a=~'(('}", "text/plain;q=0")
	h := New(Options{Queryable: loadTestDB(f), LookbackDelta: 5 * time.Minute, Now: testNow})
	f.Fuzz(func(t *testing.T, query, accept string) {
		u := &url.URL{Path: "/federate", RawQuery: query}
		req := httptest.NewRequest(http.MethodGet, "http://example.org/", http.NoBody)
		req.URL = u
		req.Header.Set("Accept", accept)
		res := httptest.NewRecorder()
		h.ServeHTTP(res, req)
		if res.Code != http.StatusOK && res.Code != http.StatusBadRequest {
			t.Fatalf("%q: code %d: %s", query, res.Code, res.Body.String())
		}
	})
}

// TestFederationWithNativeHistograms is upstream's: with protobuf, native histograms are
// served as native histograms (one family per run of the same name and sample type), NHCBs as
// classic histograms; the text format leaves out the native ones and keeps the NHCB.
func TestFederationWithNativeHistograms(t *testing.T) {
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = (100 * 365 * 24 * time.Hour).Milliseconds()
	db, err := tsdb.Open(t.TempDir(), opts, nil, nil)
	if err != nil {
		t.Fatalf("opening tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })

	var expVec promql.Vector
	hist := &histogram.Histogram{
		Count: 12, ZeroCount: 2, ZeroThreshold: 0.001, Sum: 39.4, Schema: 1,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		PositiveBuckets: []int64{1, 1, -1, 0},
		NegativeSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		NegativeBuckets: []int64{1, 1, -1, 0},
	}
	histWithoutZeroBucket := &histogram.Histogram{
		Count: 20, Sum: 99.23, Schema: 1,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		PositiveBuckets: []int64{2, 2, -2, 0},
		NegativeSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 1, Length: 2}},
		NegativeBuckets: []int64{2, 2, -2, 0},
	}
	nhcb := &histogram.Histogram{
		Count: 6, Sum: 1.234, Schema: -53,
		PositiveSpans:   []histogram.Span{{Offset: 0, Length: 2}, {Offset: 2, Length: 1}},
		PositiveBuckets: []int64{3, -1, -1},
		CustomValues:    []float64{0.1, 0.2, 0.5, 1, 2},
	}
	const ts = 100 * 60 * 1000
	app := db.Appender(context.Background())
	for i := range 7 {
		l := labels.FromStrings("__name__", "test_metric", "foo", strconv.Itoa(i))
		expL := labels.FromStrings("__name__", "test_metric", "instance", "", "foo", strconv.Itoa(i))
		var err error
		switch i {
		case 0, 3:
			_, err = app.Append(0, l, ts, float64(i*100))
			expVec = append(expVec, promql.Sample{T: ts, F: float64(i * 100), Metric: expL})
		case 4:
			_, err = app.AppendHistogram(0, l, ts, histWithoutZeroBucket.Copy(), nil)
			expVec = append(expVec, promql.Sample{T: ts, H: histWithoutZeroBucket.ToFloat(nil), Metric: expL})
		case 6:
			_, err = app.AppendHistogram(0, l, ts, nhcb.Copy(), nil)
			foo := strconv.Itoa(i)
			for _, s := range []struct {
				name, le string
				v        float64
			}{
				{"test_metric_count", "", 6}, {"test_metric_sum", "", 1.234},
				{"test_metric_bucket", "0.1", 3}, {"test_metric_bucket", "0.2", 5},
				{"test_metric_bucket", "0.5", 5}, {"test_metric_bucket", "1.0", 5},
				{"test_metric_bucket", "2.0", 6}, {"test_metric_bucket", "+Inf", 6},
			} {
				expL := labels.FromStrings("__name__", s.name, "instance", "", "foo", foo)
				if s.le != "" {
					expL = labels.FromStrings("__name__", s.name, "instance", "", "foo", foo, "le", s.le)
				}
				expVec = append(expVec, promql.Sample{T: ts, F: s.v, Metric: expL})
			}
		default:
			hist.ZeroCount++
			hist.Count++
			_, err = app.AppendHistogram(0, l, ts, hist.Copy(), nil)
			expVec = append(expVec, promql.Sample{T: ts, H: hist.ToFloat(nil), Metric: expL})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	h := New(Options{Queryable: db, LookbackDelta: 5 * time.Minute, Now: testNow})
	req := httptest.NewRequest(http.MethodGet, "http://example.org/federate?match[]=test_metric", http.NoBody)
	req.Header.Add("Accept", `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`)
	res := httptest.NewRecorder()
	h.ServeHTTP(res, req)
	if res.Code != http.StatusOK {
		t.Fatalf("code %d: %s", res.Code, res.Body.String())
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := textparse.NewProtobufParser(body, false, false, false, false, labels.NewSymbolTable())
	var actVec promql.Vector
	metricFamilies := 0
	for {
		et, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var l labels.Labels
		if et == textparse.EntryHistogram || et == textparse.EntrySeries {
			p.Labels(&l)
		}
		switch et {
		case textparse.EntryHelp:
			metricFamilies++
		case textparse.EntryHistogram:
			_, pts, h, fh := p.Histogram()
			if h != nil {
				t.Fatalf("integer histogram %v, want float histograms (as upstream)", h)
			}
			actVec = append(actVec, promql.Sample{T: *pts, H: fh, Metric: l})
		case textparse.EntrySeries:
			_, pts, f := p.Series()
			actVec = append(actVec, promql.Sample{T: *pts, F: f, Metric: l})
		}
	}
	if metricFamilies != 4 {
		t.Errorf("%d metric families, want 4", metricFamilies)
	}
	if len(actVec) != len(expVec) {
		t.Fatalf("got %d samples, want %d:\n%v\nwant:\n%v", len(actVec), len(expVec), actVec, expVec)
	}
	for i := range expVec {
		e, a := expVec[i], actVec[i]
		if !labels.Equal(e.Metric, a.Metric) || e.T != a.T || (e.H == nil && e.F != a.F) ||
			(e.H != nil && (a.H == nil || !e.H.Equals(a.H))) {
			t.Errorf("sample %d: got %v, want %v", i, a, e)
		}
	}

	// The text format leaves the native histograms out and serves the NHCB as classic.
	res = httptest.NewRecorder()
	h.ServeHTTP(res, httptest.NewRequest(http.MethodGet, "http://example.org/federate?match[]=test_metric", http.NoBody))
	want := `# TYPE test_metric untyped
test_metric{foo="0",instance=""} 0 6000000
test_metric{foo="3",instance=""} 300 6000000
# TYPE test_metric histogram
test_metric_bucket{foo="6",instance="",le="0.1"} 3 6000000
test_metric_bucket{foo="6",instance="",le="0.2"} 5 6000000
test_metric_bucket{foo="6",instance="",le="0.5"} 5 6000000
test_metric_bucket{foo="6",instance="",le="1"} 5 6000000
test_metric_bucket{foo="6",instance="",le="2"} 6 6000000
test_metric_bucket{foo="6",instance="",le="+Inf"} 6 6000000
test_metric_sum{foo="6",instance=""} 1.234 6000000
test_metric_count{foo="6",instance=""} 6 6000000
`
	if res.Body.String() != want {
		t.Errorf("text format:\n%s\nwant:\n%s", res.Body.String(), want)
	}
}
