package write

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// BenchmarkSendFromWAL: the whole send path — WAL reading, decoding, sharding, encoding,
// compression and HTTP — for a WAL of 10,000 series × 20 scrapes (avalanche-like labels),
// into a receiver that discards the bodies. Reports CPU-ns and allocations per sample sent.
func BenchmarkSendFromWAL(b *testing.B) {
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		b.Run(msg, func(b *testing.B) {
			const nseries, scrapes = 10000, 20
			dir := b.TempDir()
			db, err := tsdb.Open(dir, nil, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			lsets := make([]labels.Labels, nseries)
			for i := range lsets {
				lsets[i] = labels.FromStrings("__name__", "avalanche_metric_mmmmm_0_"+strconv.Itoa(i%100), "series_id", strconv.Itoa(i/100),
					"cycle_id", "0", "label_key_kkkkkkkkkk_0", "label_val_vvvvvvvvvv_0", "label_key_kkkkkkkkkk_1", "label_val_vvvvvvvvvv_1",
					"instance", "127.0.0.1:9101", "job", "avalanche")
			}
			for s := range scrapes {
				app := db.Appender(context.Background())
				for i, l := range lsets {
					if _, err := app.Append(0, l, int64(s)*10000, float64(i+s)); err != nil {
						b.Fatal(err)
					}
				}
				if err := app.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			var received atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n, _ := io.Copy(io.Discard, r.Body)
				received.Add(n)
				if r.Header.Get("Content-Type") == contentTypeV2 {
					// Not decoded (its CPU would count): claim the whole batch written.
					w.Header().Set(samplesWrittenHeader, "1000000")
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			total := int64(nseries * scrapes)
			b.ResetTimer()
			var cpu time.Duration
			var mallocs uint64
			for range b.N {
				b.StopTimer()
				pdir := b.TempDir()
				cfg := rwConfig(b, srv.URL, func(c *config.RemoteWriteConfig) {
					c.ProtobufMessage = "prometheus.WriteRequest"
					if msg != string(c.ProtobufMessage) {
						c.ProtobufMessage = "io.prometheus.write.v2.Request"
					}
					c.QueueConfig.BatchSendDeadline = config.DefaultQueueConfig.BatchSendDeadline
				})
				// Send the whole WAL: a saved position at its start.
				first, _, _ := db.WAL().Segments()
				name := cfg.RemoteWriteConfigs[0].Name
				if err := newPositionFile(pdir, name, cfg.RemoteWriteConfigs[0].URL.String()).save(position{first, 0}); err != nil {
					b.Fatal(err)
				}
				m := NewManager(Options{WAL: db.WAL(), DataDir: pdir, Storage: db.Head()})
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				c0 := processCPU()
				b.StartTimer()
				if err := m.ApplyConfig(cfg); err != nil {
					b.Fatal(err)
				}
				for deadline := time.Now().Add(time.Minute); ; {
					st := m.Status()
					if st[0].SamplesSent == total {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("not all samples sent: %+v", st[0])
					}
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				cpu += processCPU() - c0
				runtime.ReadMemStats(&ms1)
				mallocs += ms1.Mallocs - ms0.Mallocs
				m.Stop()
				b.StartTimer()
			}
			samples := float64(total) * float64(b.N)
			b.ReportMetric(float64(cpu.Nanoseconds())/samples, "cpu-ns/sample")
			b.ReportMetric(float64(mallocs)/samples, "allocs/sample")
			b.ReportMetric(float64(received.Load())/samples, "wire-B/sample")
		})
	}
}

func processCPU() time.Duration {
	var ru syscallRusage
	getrusage(&ru)
	return ru
}
