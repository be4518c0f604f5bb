package write

import (
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"testing"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// benchLabels are the labels of the bench's moderate workload (../shared/bench/gen): 10 targets ×
// 100 metric names × 100 series, 5 constant labels.
func benchLabels(i int) labels.Labels {
	return labels.FromStrings("__name__", "avalanche_metric_mmmmm_0_"+strconv.Itoa(i/100%100), "series_id", strconv.Itoa(i%100),
		"cycle_id", "0", "label_key_kkkkkkkkkk_0", "label_val_vvvvvvvvvv_0", "label_key_kkkkkkkkkk_1", "label_val_vvvvvvvvvv_1",
		"label_key_kkkkkkkkkk_2", "label_val_vvvvvvvvvv_2", "label_key_kkkkkkkkkk_3", "label_val_vvvvvvvvvv_3",
		"label_key_kkkkkkkkkk_4", "label_val_vvvvvvvvvv_4",
		"instance", "127.0.0.1:"+strconv.Itoa(25101+i/10000), "job", "avalanche")
}

// BenchmarkSeriesMemory reports the live heap a queue keeps per series (100k series of the
// bench's moderate workload): the per-series state of remote write.
func BenchmarkSeriesMemory(b *testing.B) {
	const n = 100000
	ss := make([]record.RefSeries, n)
	for i := range ss {
		ss[i] = record.RefSeries{Ref: uint64(i + 1), Labels: benchLabels(i)}
	}
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		b.Run(msg, func(b *testing.B) {
			cfg := rwConfig(b, "http://127.0.0.1:1/", func(c *config.RemoteWriteConfig) { c.ProtobufMessage = remoteapi.WriteMessageType(msg) })
			var perSeries float64
			for range b.N {
				q, err := newQueue(queueParams{name: "m", cfg: cfg.RemoteWriteConfigs[0], dataDir: b.TempDir(),
					logger: slog.New(slog.NewTextHandler(io.Discard, nil)), reg: prometheus.NewRegistry()})
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for _, s := range ss {
					q.addSeries(s.Ref, s.Labels, 0)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				perSeries = float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / n
				runtime.KeepAlive(q)
			}
			b.ReportMetric(perSeries, "heap-B/series")
		})
	}
}
