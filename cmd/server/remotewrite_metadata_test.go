package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"
)

// metadata_config end to end: a Vigil process scrapes a target that exposes HELP and TYPE and
// sends the metadata to a receiver that decodes every request with the upstream protobuf types:
// remote write 1.0 in metadata-only requests every send_interval (2 s here), 2.0 attached to
// each series. (Prometheus 2.42's receiver drops remote-written metadata, so it cannot be the
// receiver here.)
func TestRemoteWriteMetadata(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Vigil process")
	}
	const help = "A value for the remote-write test."
	for _, msg := range []string{"prometheus.WriteRequest", "io.prometheus.write.v2.Request"} {
		t.Run(msg, func(t *testing.T) {
			var (
				mu    sync.Mutex
				found map[string]string // what the receiver saw for rw_e2e_value: type, help
				errs  []string
			)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				raw, err := snappy.Decode(nil, body)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err.Error())
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				if r.Header.Get("Content-Type") == "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
					var req writev2.Request
					if err := req.Unmarshal(raw); err != nil {
						errs = append(errs, err.Error())
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					n := 0
					for _, ts := range req.Timeseries {
						n += len(ts.Samples)
						for i := 0; i+1 < len(ts.LabelsRefs); i += 2 {
							if req.Symbols[ts.LabelsRefs[i]] == "__name__" && req.Symbols[ts.LabelsRefs[i+1]] == "rw_e2e_value" &&
								ts.Metadata.Type != writev2.Metadata_METRIC_TYPE_UNSPECIFIED {
								found = map[string]string{"type": ts.Metadata.Type.String(), "help": req.Symbols[ts.Metadata.HelpRef]}
							}
						}
					}
					w.Header().Set("X-Prometheus-Remote-Write-Samples-Written", strconv.Itoa(n))
					w.WriteHeader(http.StatusNoContent)
					return
				}
				var req prompb.WriteRequest
				if err := req.Unmarshal(raw); err != nil {
					errs = append(errs, err.Error())
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				for _, md := range req.Metadata {
					if md.MetricFamilyName == "rw_e2e_value" {
						found = map[string]string{"type": md.Type.String(), "help": md.Help}
					}
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer recv.Close()
			tg := newRWTarget(t, 3)
			v := newRWVigil(t, tg.srv.URL, recv.URL+"/api/v1/write", msg)
			v.start()
			defer v.quit()
			waitUntilFor(t, 30*time.Second, "the metadata at the receiver", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return found != nil
			})
			mu.Lock()
			defer mu.Unlock()
			wantType := map[string]string{"prometheus.WriteRequest": "GAUGE", "io.prometheus.write.v2.Request": "METRIC_TYPE_GAUGE"}[msg]
			if found["type"] != wantType || found["help"] != help {
				t.Errorf("metadata received %v, want type %s help %q", found, wantType, help)
			}
			if len(errs) > 0 {
				t.Errorf("requests the upstream types cannot decode: %v", errs)
			}
		})
	}
}
