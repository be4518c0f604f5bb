package adapter

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// BenchmarkPodsMetric1000 measures a Pods-metric request for a Deployment of 1,000 pods: build
// the query over 1,000 names, one HTTP round trip to a Prometheus API (httptest, response
// pre-encoded), decode 1,000 samples and build the MetricValueList. Reports p50/p99.
func BenchmarkPodsMetric1000(b *testing.B) {
	f := newFakeProm(b)
	const pods = 1000
	names := make([]string, pods)
	vec := make(model.Vector, pods)
	var ss []model.LabelSet
	for i := range names {
		names[i] = fmt.Sprintf("web-7d4b9c8f6-%05d", i)
		vec[i] = sample(float64(i)/10, "pod", names[i])
		ss = append(ss, series("http_requests_total", "namespace", "shop", "pod", names[i]))
	}
	f.setSeries(ss...)
	q := `sum(rate(http_requests_total{namespace="shop",pod=~"` + strings.Join(names, "|") + `"}[1m])) by (pod)`
	f.setResultCached(q, vec)
	p := newTestProvider(b, f, mustRules(b, e2eConfig), &fakeLister{names: map[string][]string{"shop": names}})
	info := provider.CustomMetricInfo{GroupResource: schema.GroupResource{Resource: "pods"}, Namespaced: true, Metric: "http_requests_per_second"}
	sel, _ := labels.Parse("app=web")
	lat := make([]time.Duration, 0, b.N)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		list, err := p.GetMetricBySelector(context.Background(), "shop", sel, info, labels.Everything())
		lat = append(lat, time.Since(t0))
		if err != nil || len(list.Items) != pods {
			b.Fatalf("%v, %d items", err, len(list.Items))
		}
	}
	b.StopTimer()
	// CPU time of the whole process (adapter and fake server) per request: on this shared
	// machine wall-clock latency mostly measures the other processes.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(lat)), "cpu-ms/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRelist10kMetrics measures discovery and listing with 10,000 metric names (three
// series each, as for three pods) under the default rules, and the heap the registry keeps.
func BenchmarkRelist10kMetrics(b *testing.B) {
	f := newFakeProm(b)
	var ss []model.LabelSet
	for i := range 10000 {
		name := fmt.Sprintf("app_metric_%05d", i)
		if i%2 == 0 {
			name += "_total"
		}
		for p := range 3 {
			ss = append(ss, series(name, "namespace", "shop", "pod", fmt.Sprintf("web-%d", p), "service", "web", "instance", fmt.Sprintf("10.0.0.%d:8080", p), "job", "web"))
		}
	}
	f.setSeries(ss...)
	p := newTestProvider(b, f, mustRules(b, string(DefaultConfig)), &fakeLister{})
	if n := len(p.ListAllMetrics()); n != 30000 { // 10k names x (pods, services, namespaces)
		b.Fatalf("%d metrics listed, want 30000", n)
	}
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := p.Discoverer.Relist(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = p.ListAllMetrics()
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
	f.setSeries() // drop the fake's copy before measuring what the adapter keeps
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-inuse-MiB")
}
