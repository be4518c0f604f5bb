// Command rwsink is a remote-write receiver for benchmarks: it decodes remote write 1.0 and 2.0
// requests, counts samples, and measures each sample's lag (arrival time minus the sample's
// timestamp: from the scrape to the receiver). GET /stats returns the counts and lag quantiles
// as JSON; the lag figures cover the samples that arrived after GET /reset.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

type sink struct {
	mu       sync.Mutex
	samples  int64
	requests int64
	bytes    int64
	lagMs    []int32 // per sample, since the last reset
	first    time.Time
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	now := time.Now().UnixMilli()
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var ts []int64
	if r.Header.Get("Content-Type") == "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
		var req writev2.Request
		if err := req.Unmarshal(raw); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, t := range req.Timeseries {
			for _, smp := range t.Samples {
				ts = append(ts, smp.Timestamp)
			}
		}
		w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", strconv.Itoa(len(ts)))
		w.Header().Set("X-Prometheus-Remote-Write-Histograms-Written", "0")
		w.Header().Set("X-Prometheus-Remote-Write-Exemplars-Written", "0")
	} else {
		var req prompb.WriteRequest
		if err := req.Unmarshal(raw); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, t := range req.Timeseries {
			for _, smp := range t.Samples {
				ts = append(ts, smp.Timestamp)
			}
		}
	}
	s.mu.Lock()
	s.requests++
	s.samples += int64(len(ts))
	s.bytes += int64(len(body))
	for _, t := range ts {
		s.lagMs = append(s.lagMs, int32(min(now-t, 1<<30)))
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *sink) stats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	lags := slices.Clone(s.lagMs)
	out := map[string]any{"samples": s.samples, "requests": s.requests, "bytes": s.bytes, "lag_samples": len(lags)}
	s.mu.Unlock()
	slices.Sort(lags)
	q := func(p float64) any {
		if len(lags) == 0 {
			return nil
		}
		return lags[min(len(lags)-1, int(p*float64(len(lags))))]
	}
	out["lag_ms_p50"], out["lag_ms_p90"], out["lag_ms_p99"], out["lag_ms_max"] = q(0.5), q(0.9), q(0.99), q(1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func main() {
	addr := flag.String("listen", "127.0.0.1:23201", "listen address")
	flag.Parse()
	s := &sink{}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/write", s)
	mux.HandleFunc("/stats", s.stats)
	mux.HandleFunc("/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		s.lagMs = s.lagMs[:0]
		s.mu.Unlock()
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}
