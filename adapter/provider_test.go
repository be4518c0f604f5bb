package adapter

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	apierr "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-base/metrics/legacyregistry"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

const e2eConfig = `rules:
- seriesQuery: 'http_requests_total{namespace!="",pod!=""}'
  resources:
    overrides:
      namespace: {resource: namespace}
      pod: {resource: pod}
  name: {matches: "^(.*)_total$", as: "${1}_per_second"}
  metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'
- seriesQuery: '{__name__="queue_depth",namespace!=""}'
  resources:
    template: <<.Resource>>
  metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
externalRules:
- seriesQuery: '{__name__="queue_depth"}'
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (queue)'
`

func statusCode(err error) int32 {
	var se *apierr.StatusError
	if errors.As(err, &se) {
		return se.ErrStatus.Code
	}
	return 0
}

func TestPodsMetric(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("http_requests_total", "namespace", "shop", "pod", "web-1"), series("http_requests_total", "namespace", "shop", "pod", "web-2"))
	f.setResult(`sum(rate(http_requests_total{namespace="shop",pod=~"web-1|web-2|web-3"}[1m])) by (pod)`,
		model.Vector{sample(2.5, "pod", "web-1"), sample(0.0015, "pod", "web-2")})
	l := &fakeLister{names: map[string][]string{"shop": {"web-1", "web-2", "web-3"}}}
	p := newTestProvider(t, f, mustRules(t, e2eConfig), l)

	sel, _ := labels.Parse("app=web")
	list, err := p.GetMetricBySelector(context.Background(), "shop", sel,
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true, Metric: "http_requests_per_second"}, labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("got %d items, want 2 (web-3 has no sample): %+v", len(list.Items), list.Items)
	}
	if it := list.Items[0]; it.DescribedObject.Name != "web-1" || it.DescribedObject.Kind != "Pod" || it.DescribedObject.Namespace != "shop" || it.Value.MilliValue() != 2500 {
		t.Errorf("item 0: %+v value %s", it.DescribedObject, it.Value.String())
	}
	if it := list.Items[1]; it.Value.MilliValue() != 2 || it.Metric.Name != "http_requests_per_second" {
		t.Errorf("item 1: %s %s (milli-units, rounded)", it.Metric.Name, it.Value.String())
	}
	if l.sels[0] != "pods app=web" {
		t.Errorf("lister got %q", l.sels)
	}
}

func TestObjectMetricAndMetricSelector(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("queue_depth", "namespace", "shop", "deployment", "worker", "queue", "orders"))
	f.setResult(`max(queue_depth{queue="orders",namespace="shop",deployment="worker"}) by (deployment)`, model.Vector{sample(42, "deployment", "worker")})
	p := newTestProvider(t, f, mustRules(t, e2eConfig), &fakeLister{})
	sel, _ := labels.Parse("queue=orders")
	v, err := p.GetMetricByName(context.Background(), types.NamespacedName{Namespace: "shop", Name: "worker"},
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Namespaced: true, Metric: "queue_depth"}, sel)
	if err != nil {
		t.Fatal(err)
	}
	if v.Value.Value() != 42 || v.DescribedObject.Kind != "Deployment" || v.DescribedObject.APIVersion != "apps/v1" {
		t.Errorf("got %+v %s", v.DescribedObject, v.Value.String())
	}
	if v.Metric.Selector == nil || v.Metric.Selector.MatchLabels["queue"] != "orders" {
		t.Errorf("metric selector not echoed: %+v", v.Metric)
	}
	// The namespace object itself (root-scoped, so no namespace in the request).
	f.setResult(`max(queue_depth{namespace="shop"}) by (namespace)`, model.Vector{sample(7, "namespace", "shop")})
	v, err = p.GetMetricByName(context.Background(), types.NamespacedName{Name: "shop"},
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "namespaces"}, Metric: "queue_depth"}, labels.Everything())
	if err != nil || v.Value.Value() != 7 || v.DescribedObject.Kind != "Namespace" {
		t.Errorf("namespace metric: %v %+v", err, v)
	}
}

func TestNotFoundErrorsSayWhatWasQueried(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("http_requests_total", "namespace", "shop", "pod", "web-1"))
	l := &fakeLister{names: map[string][]string{"shop": {"web-1"}}}
	p := newTestProvider(t, f, mustRules(t, e2eConfig), l)
	pods := provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true}

	pods.Metric = "nope"
	_, err := p.GetMetricBySelector(context.Background(), "shop", labels.Everything(), pods, labels.Everything())
	if statusCode(err) != http.StatusNotFound {
		t.Fatalf("unknown metric: %v", err)
	}
	containsAll(t, err.Error(), "metric nope not found for pods in namespace shop", `/api/v1/series for http_requests_total{namespace!="",pod!=""}`)

	pods.Metric = "http_requests_per_second"
	_, err = p.GetMetricBySelector(context.Background(), "shop", labels.Everything(), pods, labels.Everything())
	if statusCode(err) != http.StatusNotFound {
		t.Fatalf("no samples: %v", err)
	}
	containsAll(t, err.Error(), "metric http_requests_per_second not found for pods in namespace shop",
		`query sum(rate(http_requests_total{namespace="shop",pod="web-1"}[1m])) by (pod) returned no sample`)

	_, err = p.GetMetricBySelector(context.Background(), "empty", labels.Everything(), pods, labels.Everything())
	containsAll(t, err.Error(), "no pods match selector")

	_, err = p.GetMetricByName(context.Background(), types.NamespacedName{Namespace: "shop", Name: "x"},
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "widgets"}, Namespaced: true, Metric: "m"}, labels.Everything())
	containsAll(t, err.Error(), "does not know resource widgets")

	_, err = p.GetExternalMetric(context.Background(), "shop", labels.Everything(), provider.ExternalMetricInfo{Metric: "missing"})
	containsAll(t, err.Error(), "external metric missing not found in namespace shop")
}

func TestDiscoveryOnMiss(t *testing.T) {
	f := newFakeProm(t)
	l := &fakeLister{names: map[string][]string{"shop": {"web-1"}}}
	p := newTestProvider(t, f, mustRules(t, e2eConfig), l)
	if n := len(p.ListAllMetrics()); n != 0 {
		t.Fatalf("%d metrics before any series exist", n)
	}
	// The series appears after the relist; the first request for it must find it without
	// waiting for the periodic relist.
	f.setSeries(series("http_requests_total", "namespace", "shop", "pod", "web-1"))
	f.setResult(`sum(rate(http_requests_total{namespace="shop",pod="web-1"}[1m])) by (pod)`, model.Vector{sample(3, "pod", "web-1")})
	list, err := p.GetMetricBySelector(context.Background(), "shop", labels.Everything(),
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true, Metric: "http_requests_per_second"}, labels.Everything())
	if err != nil || len(list.Items) != 1 || list.Items[0].Value.Value() != 3 {
		t.Fatalf("got %v %+v", err, list)
	}
	got := map[string]bool{}
	for _, m := range p.ListAllMetrics() {
		got[m.GroupResource.String()+"/"+m.Metric] = m.Namespaced
	}
	want := map[string]bool{"pods/http_requests_per_second": true, "namespaces/http_requests_per_second": false}
	if len(got) != len(want) || got["pods/http_requests_per_second"] != true || got["namespaces/http_requests_per_second"] {
		t.Errorf("ListAllMetrics: %v, want %v", got, want)
	}

	// Misses are rate-limited: with a long MissInterval, repeated unknown metrics do not
	// hammer /api/v1/series.
	p.Discoverer.MissInterval = 1 << 62
	before := f.seriesCalls
	for range 5 {
		_, _ = p.GetExternalMetric(context.Background(), "", labels.Everything(), provider.ExternalMetricInfo{Metric: "nope"})
	}
	if f.seriesCalls != before {
		t.Errorf("%d relists for repeated misses inside MissInterval", f.seriesCalls-before)
	}
}

func TestExternalMetric(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("queue_depth", "namespace", "shop", "queue", "orders"), series("queue_depth", "namespace", "shop", "queue", "mail"))
	f.setResult(`sum(queue_depth{queue=~"mail|orders",namespace="shop"}) by (queue)`, model.Vector{sample(5, "queue", "orders"), sample(1.5, "queue", "mail")})
	p := newTestProvider(t, f, mustRules(t, e2eConfig), &fakeLister{})
	if got := p.ListAllExternalMetrics(); len(got) != 1 || got[0].Metric != "queue_depth" {
		t.Errorf("ListAllExternalMetrics: %v", got)
	}
	sel, _ := labels.Parse("queue in (orders,mail)")
	list, err := p.GetExternalMetric(context.Background(), "shop", sel, provider.ExternalMetricInfo{Metric: "queue_depth"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 || list.Items[0].MetricLabels["queue"] != "orders" || list.Items[1].Value.MilliValue() != 1500 {
		t.Errorf("got %+v", list.Items)
	}
}

func TestPrometheusDownKeepsMetrics(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("queue_depth", "namespace", "shop", "queue", "orders"))
	p := newTestProvider(t, f, mustRules(t, e2eConfig), &fakeLister{})
	f.srv.Close()
	if err := p.Discoverer.Relist(context.Background()); err == nil {
		t.Fatal("relist against a closed server succeeded")
	}
	if got := p.ListAllExternalMetrics(); len(got) != 1 {
		t.Errorf("metrics dropped after a failed relist: %v", got)
	}
	_, err := p.GetExternalMetric(context.Background(), "shop", labels.Everything(), provider.ExternalMetricInfo{Metric: "queue_depth"})
	if statusCode(err) != http.StatusServiceUnavailable {
		t.Errorf("query against a closed server: %v", err)
	}
}

func TestMetricsRegistered(t *testing.T) {
	RegisterMetrics()
	f := newFakeProm(t)
	f.setSeries(series("queue_depth", "namespace", "shop", "queue", "orders"))
	newTestProvider(t, f, mustRules(t, e2eConfig), &fakeLister{})
	mfs, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, n := range []string{"vigil_adapter_relists_total", "vigil_adapter_relist_duration_seconds", "vigil_adapter_metrics_discovered"} {
		if !got[n] {
			t.Errorf("%s not on the API server's registry", n)
		}
	}
}

// swapMapper stands in for the discovery mapper: RefreshMapper swaps in what "discovery" now
// reports.
type swapMapper struct{ apimeta.RESTMapper }

func TestCustomResourceInstalledAfterStart(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(series("orders_pending", "namespace", "shop", "widget", "w1"))
	f.setResult(`max(orders_pending{namespace="shop",widget="w1"}) by (widget)`, model.Vector{sample(4, "widget", "w1")})
	before := testMapper()
	after := testMapper().(*apimeta.DefaultRESTMapper)
	after.Add(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}, apimeta.RESTScopeNamespace)
	m := &swapMapper{before}
	refreshes := 0
	d := &Discoverer{API: f.api(t), Mapper: m, MaxAge: time.Minute, MapperMissInterval: time.Hour, RefreshMapper: func() error { refreshes++; m.RESTMapper = after; return nil }}
	d.SetRules(mustRules(t, `rules:
- seriesQuery: '{__name__="orders_pending",namespace!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
`))
	if err := d.Relist(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := &Provider{Discoverer: d, Mapper: m, Lister: &fakeLister{}}
	v, err := p.GetMetricByName(context.Background(), types.NamespacedName{Namespace: "shop", Name: "w1"},
		provider.CustomMetricInfo{GroupResource: schema.GroupResource{Group: "example.com", Resource: "widgets"}, Namespaced: true, Metric: "orders_pending"}, labels.Everything())
	if err != nil {
		t.Fatalf("after the CRD appeared: %v", err)
	}
	if v.Value.Value() != 4 || v.DescribedObject.Kind != "Widget" || refreshes != 1 {
		t.Errorf("got %+v %s, %d discovery refreshes", v.DescribedObject, v.Value.String(), refreshes)
	}
}

func TestListingUsesAPIScope(t *testing.T) {
	f := newFakeProm(t)
	// A node metric that carries a namespace label (kube-state-metrics style) is still a
	// cluster-scoped metric; a pod metric is namespaced.
	f.setSeries(series("node_load", "namespace", "kube-system", "node", "n1"), series("queue_depth", "namespace", "shop", "pod", "p"))
	p := newTestProvider(t, f, mustRules(t, `rules:
- seriesQuery: '{namespace!=""}'
  resources: {template: <<.Resource>>}
  metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
`), &fakeLister{})
	got := map[string]bool{}
	for _, m := range p.ListAllMetrics() {
		got[m.GroupResource.String()+"/"+m.Metric] = m.Namespaced
	}
	want := map[string]bool{"nodes/node_load": false, "namespaces/node_load": false, "pods/queue_depth": true, "namespaces/queue_depth": false}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s: namespaced=%v (present %v), want %v", k, g, ok, v)
		}
	}
}
