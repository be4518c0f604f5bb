package adapter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// fakeProm is an httptest server speaking the two Prometheus API endpoints the adapter uses.
// /api/v1/series answers from a settable list of series; /api/v1/query answers from a table of
// query -> vector, or from a function for queries not in the table.
type fakeProm struct {
	srv *httptest.Server

	mu          sync.Mutex
	series      []model.LabelSet
	results     map[string]model.Vector
	encoded     map[string][]byte // responses of results, encoded once (benchmarks measure the adapter, not the fake)
	fn          func(q string) (model.Vector, bool)
	queries     []string
	seriesCalls int
}

func newFakeProm(t testing.TB) *fakeProm {
	f := &fakeProm{results: map[string]model.Vector{}, encoded: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/series", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if len(r.Form["match[]"]) == 0 {
			writeAPIError(w, "no match[] parameter provided")
			return
		}
		f.mu.Lock()
		f.seriesCalls++
		var data []model.LabelSet
		var sels [][]*labels.Matcher
		for _, m := range r.Form["match[]"] {
			ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(m)
			if err != nil {
				f.mu.Unlock()
				writeAPIError(w, err.Error())
				return
			}
			sels = append(sels, ms)
		}
		for _, ls := range f.series {
			for _, ms := range sels {
				if matchAll(ms, ls) {
					data = append(data, ls)
					break
				}
			}
		}
		f.mu.Unlock()
		writeAPI(w, data)
	})
	mux.HandleFunc("/api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := r.Form.Get("query")
		f.mu.Lock()
		f.queries = append(f.queries, q)
		if b, ok := f.encoded[q]; ok {
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		vec, ok := f.results[q]
		fn := f.fn
		f.mu.Unlock()
		if !ok && fn != nil {
			vec, ok = fn(q)
		}
		if !ok {
			vec = model.Vector{}
		}
		writeAPI(w, map[string]any{"resultType": "vector", "result": vec})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeAPI(w http.ResponseWriter, data any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func writeAPIError(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": "bad_data", "error": msg})
}

func (f *fakeProm) setSeries(s ...model.LabelSet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series = s
}

func (f *fakeProm) setResult(q string, v model.Vector) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[q] = v
	delete(f.encoded, q)
}

// setResultCached is setResult with the response encoded once, up front.
func (f *fakeProm) setResultCached(q string, v model.Vector) {
	b, err := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": v}})
	if err != nil {
		panic(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.encoded[q] = b
}

func (f *fakeProm) lastQuery() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return ""
	}
	return f.queries[len(f.queries)-1]
}

func (f *fakeProm) api(t testing.TB) PromAPI {
	c, err := NewPromClient(f.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testMapper knows the resources the tests use, as API discovery would report them.
func testMapper() apimeta.RESTMapper {
	m := apimeta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Pod"}, apimeta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Service"}, apimeta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, apimeta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Node"}, apimeta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, apimeta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}, apimeta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, apimeta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Group: "cheese.io", Version: "v1", Kind: "Brand"}, apimeta.RESTScopeNamespace)
	return m
}

// fakeLister returns fixed names per namespace and records the selector it was asked for.
type fakeLister struct {
	mu    sync.Mutex
	names map[string][]string // namespace -> names
	sels  []string
}

func (l *fakeLister) ListNames(_ context.Context, info provider.CustomMetricInfo, namespace string, selector klabels.Selector) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sels = append(l.sels, info.GroupResource.String()+" "+selector.String())
	return l.names[namespace], nil
}

func sample(v float64, kv ...string) *model.Sample {
	m := model.Metric{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	return &model.Sample{Metric: m, Value: model.SampleValue(v), Timestamp: model.TimeFromUnixNano(time.Unix(1700000000, 0).UnixNano())}
}

func series(name string, kv ...string) model.LabelSet {
	ls := model.LabelSet{model.MetricNameLabel: model.LabelValue(name)}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
	}
	return ls
}

func mustRules(t testing.TB, yaml string) *RuleSet {
	t.Helper()
	rs, _, err := LoadRules([]byte(yaml))
	if err != nil {
		t.Fatalf("LoadRules: %v", err)
	}
	return rs
}

func newTestProvider(t testing.TB, f *fakeProm, rs *RuleSet, l ObjectLister) *Provider {
	d := &Discoverer{API: f.api(t), Mapper: testMapper(), MaxAge: time.Minute, MissInterval: 0, Timeout: 5 * time.Second}
	d.SetRules(rs)
	if err := d.Relist(context.Background()); err != nil {
		t.Fatalf("Relist: %v", err)
	}
	return &Provider{Discoverer: d, Mapper: d.Mapper, Lister: l, QueryTimeout: 5 * time.Second}
}

func containsAll(t *testing.T, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%q does not contain %q", got, w)
		}
	}
}

// seriesSelected evaluates a series selector as Prometheus would, using its parser.
func seriesSelected(t testing.TB, sel string, ls model.LabelSet) bool {
	ms, err := parser.NewParser(parser.Options{}).ParseMetricSelector(sel)
	if err != nil {
		t.Errorf("series selector %s: %v", sel, err)
		return false
	}
	return matchAll(ms, ls)
}

func matchAll(ms []*labels.Matcher, ls model.LabelSet) bool {
	for _, m := range ms {
		if !m.Matches(string(ls[model.LabelName(m.Name)])) {
			return false
		}
	}
	return true
}
