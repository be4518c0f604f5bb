// Package pushgateway serves the Pushgateway's HTTP API on Vigil's mux with the Pushgateway's
// own handlers (github.com/prometheus/pushgateway/handler and api/v1): PUT, POST and DELETE
// /metrics/job/<job>{/<label>/<value>} (and /metrics/job@base64/..., label@base64 values),
// GET /api/v1/metrics, GET /api/v1/status and, with the admin API, PUT /api/v1/admin/wipe.
// Vigil adds a size limit on pushes; request bodies compressed with gzip or snappy are
// decompressed as by the Pushgateway.
package pushgateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/common/route"
	"github.com/prometheus/pushgateway/handler"
	pgstorage "github.com/prometheus/pushgateway/storage"

	apiv1 "github.com/prometheus/pushgateway/api/v1"
)

// Options configure the API.
type Options struct {
	Store pgstorage.MetricStore
	// MaxBodySize limits a push's body, after decompression; 0 means no limit.
	MaxBodySize int64
	// EnableAdmin serves PUT /api/v1/admin/wipe.
	EnableAdmin bool
	// Flags and BuildInfo are reported by /api/v1/status.
	Flags     map[string]string
	BuildInfo map[string]string
	// SizeFlag names the flag that sets MaxBodySize, for the error text.
	SizeFlag string
	Logger   *slog.Logger
}

// Register mounts the API on mux (whose paths are relative to the route prefix).
func Register(mux *http.ServeMux, o Options) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ms := o.Store
	// As the Pushgateway's main.go, with the consistency check always on.
	r := route.New()
	for _, suffix := range []string{"", handler.Base64Suffix} {
		jobBase64Encoded := suffix == handler.Base64Suffix
		r.Put("/metrics/job"+suffix+"/:job/*labels", handler.Push(ms, true, true, jobBase64Encoded, logger))
		r.Post("/metrics/job"+suffix+"/:job/*labels", handler.Push(ms, false, true, jobBase64Encoded, logger))
		r.Del("/metrics/job"+suffix+"/:job/*labels", handler.Delete(ms, jobBase64Encoded, logger))
		r.Put("/metrics/job"+suffix+"/:job", handler.Push(ms, true, true, jobBase64Encoded, logger))
		r.Post("/metrics/job"+suffix+"/:job", handler.Push(ms, false, true, jobBase64Encoded, logger))
		r.Del("/metrics/job"+suffix+"/:job", handler.Delete(ms, jobBase64Encoded, logger))
	}
	push := decodeRequest(limitBody(o.MaxBodySize, o.SizeFlag, r))
	mux.Handle("/metrics/job/", push)
	mux.Handle("/metrics/job@base64/", push)

	api := apiv1.New(logger, ms, o.Flags, o.BuildInfo)
	av1 := route.New()
	api.Register(av1)
	if o.EnableAdmin {
		av1.Put("/admin/wipe", handler.WipeMetricStore(ms, logger).ServeHTTP)
	}
	h := http.StripPrefix("/api/v1", av1)
	mux.Handle("GET /api/v1/metrics", h)
	mux.Handle("GET /api/v1/status", h)
	if o.EnableAdmin {
		mux.Handle("PUT /api/v1/admin/wipe", h)
	}
}

// limitBody reads a push's body whole, refusing one larger than limit with 400 Bad Request
// and the reason; nothing is stored then. GET and DELETE bodies are not read.
func limitBody(limit int64, flag string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limit <= 0 || (r.Method != http.MethodPut && r.Method != http.MethodPost) {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			http.Error(w, fmt.Sprintf("reading the pushed body: %v", err), http.StatusBadRequest)
			return
		}
		if int64(len(b)) > limit {
			http.Error(w, fmt.Sprintf("pushed body exceeds the size limit of %d bytes (%s)", limit, flag), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}
