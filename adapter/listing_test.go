package adapter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// The streamed listing must be what the library's discovery handler encodes.
func TestListingMatchesLibraryEncoding(t *testing.T) {
	f := newFakeProm(t)
	f.setSeries(
		series("http_requests_total", "namespace", "shop", "pod", "web-1", "service", "web"),
		series("queue_depth", "namespace", "shop", "deployment", "web"),
		series("node_load", "node", "n1"),
		series("odd<&>name", "namespace", "shop", "pod", "x"),
	)
	p := newTestProvider(t, f, mustRules(t, string(DefaultConfig)+`
externalRules:
- seriesQuery: '{__name__="queue_depth"}'
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
`), &fakeLister{})
	if len(p.ListAllMetrics()) < 5 || len(p.ListAllExternalMetrics()) != 1 {
		t.Fatalf("setup: %d custom, %d external metrics", len(p.ListAllMetrics()), len(p.ListAllExternalMetrics()))
	}
	h := p.ListingHandler(http.NotFoundHandler())
	for path, lister := range map[string]interface{ ListAPIResources() []metav1.APIResource }{
		"/apis/custom.metrics.k8s.io/v1beta1":    provider.NewCustomMetricResourceLister(p),
		"/apis/custom.metrics.k8s.io/v1beta2/":   provider.NewCustomMetricResourceLister(p),
		"/apis/external.metrics.k8s.io/v1beta1/": provider.NewExternalMetricResourceLister(p),
	} {
		gv := schema.GroupVersion{Group: "custom.metrics.k8s.io", Version: "v1beta1"}
		switch path {
		case "/apis/custom.metrics.k8s.io/v1beta2/":
			gv.Version = "v1beta2"
		case "/apis/external.metrics.k8s.io/v1beta1/":
			gv.Group = "external.metrics.k8s.io"
		}
		want, err := json.Marshal(&metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String(), APIResources: lister.ListAPIResources()})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json;q=0.9")
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.Bytes()
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" || !bytes.Equal(bytes.TrimSpace(body), want) {
			t.Errorf("%s: %d %s\n got %s\nwant %s", path, rec.Code, rec.Header(), body, want)
		}
	}
}

func TestListingLeavesOtherRequestsToTheLibrary(t *testing.T) {
	f := newFakeProm(t)
	p := newTestProvider(t, f, mustRules(t, string(DefaultConfig)), &fakeLister{})
	h := p.ListingHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct{ method, path, accept string }{
		{"GET", "/apis/custom.metrics.k8s.io/v1beta1/namespaces/x/pods/*/m", ""},
		{"GET", "/apis/custom.metrics.k8s.io", ""},
		{"GET", "/apis", ""},
		{"POST", "/apis/custom.metrics.k8s.io/v1beta1", ""},
		{"GET", "/apis/custom.metrics.k8s.io/v1beta1", "application/vnd.kubernetes.protobuf"},
		{"GET", "/apis/custom.metrics.k8s.io/v1beta1", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
		{"GET", "/apis/custom.metrics.k8s.io/v1beta1", "application/json;q=0"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusTeapot {
			t.Errorf("%s %s Accept %q: served by the listing handler", tc.method, tc.path, tc.accept)
		}
	}
	for _, accept := range []string{"", "*/*", "application/json", "application/json, */*"} {
		req := httptest.NewRequest("GET", "/apis/custom.metrics.k8s.io/v1beta1", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("Accept %q: %d", accept, rec.Code)
		}
	}
}
