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

const benchGroups = 1000

func fill(b *testing.B, ms pgstorage.MetricStore, bodies []string) {
	now := time.Unix(1_700_000_000, 0)
	for i := range benchGroups {
		if err := submit(b, ms, op{labels: groupLabels(i), body: bodies[i], replace: true}, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPush measures push intake (parsing the text body, the consistency check, storing)
// into a store holding 1,000 groups of 100 series, for Vigil's store and for the Pushgateway's
// DiskMetricStore, and the heap each holds for those 100,000 series.
func BenchmarkPush(b *testing.B) {
	bodies := make([]string, benchGroups)
	for i := range bodies {
		bodies[i] = groupBody(i)
	}
	for _, tc := range []struct {
		name string
		new  func() pgstorage.MetricStore
	}{
		{"vigil", func() pgstorage.MetricStore { return New(nil) }},
		{"pushgateway", func() pgstorage.MetricStore {
			return pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ms := tc.new()
			fill(b, ms, bodies)
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(benchGroups*100), "heap-B/series")
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
			runtime.KeepAlive(ms)
		})
	}
}
