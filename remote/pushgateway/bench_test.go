package pushgateway

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	pgstorage "github.com/prometheus/pushgateway/storage"
)

// groupBody is a batch job's push of 100 series: 10 gauge families of 10 series each.
func groupBody(i int) string {
	var b strings.Builder
	for f := range 10 {
		fmt.Fprintf(&b, "# HELP batch_metric_%d A batch job's result number %d.\n# TYPE batch_metric_%d gauge\n", f, f, f)
		for s := range 10 {
			fmt.Fprintf(&b, "batch_metric_%d{worker=\"w-%d\"} %d\n", f, s, i*100+f*10+s)
		}
	}
	return b.String()
}

func groupLabels(i int) map[string]string {
	return map[string]string{"job": "batch", "instance": fmt.Sprintf("host-%04d", i)}
}

func fill(b *testing.B, ms pgstorage.MetricStore, bodies []string, groups int) {
	now := time.Unix(1_700_000_000, 0)
	for i := range groups {
		if err := submit(b, ms, op{labels: groupLabels(i), body: bodies[i], replace: true}, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPush measures push intake (parsing the text body, the consistency check, storing:
// what a PUT costs past HTTP) into a store holding N groups of 100 series, for Vigil's store and
// for the Pushgateway's DiskMetricStore, and the heap each holds per series. The Pushgateway's
// check gathers the whole store on every push, so its fill alone is quadratic: it runs at 200
// groups (Vigil at 200 and 1,000).
func BenchmarkPush(b *testing.B) {
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = groupBody(i)
	}
	vigil := func() pgstorage.MetricStore { return New(nil) }
	upstream := func() pgstorage.MetricStore {
		return pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
	}
	for _, tc := range []struct {
		name   string
		groups int
		new    func() pgstorage.MetricStore
	}{
		{"vigil/groups=200", 200, vigil},
		{"pushgateway/groups=200", 200, upstream},
		{"vigil/groups=1000", 1000, vigil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchGroups := tc.groups
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ms := tc.new()
			fill(b, ms, bodies, benchGroups)
			runtime.GC()
			runtime.ReadMemStats(&after)
			now := time.Unix(1_700_001_000, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				g := i % benchGroups
				if err := submit(b, ms, op{labels: groupLabels(g), body: bodies[g], replace: true}, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/sample")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(benchGroups*100), "heap-B/series")
			runtime.KeepAlive(ms)
		})
	}
}
