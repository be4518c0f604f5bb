// Package alertmanager serves the Alertmanager API v2 under /api/v2/ on Vigil's listener.
//
// The API is upstream Alertmanager's own (github.com/prometheus/alertmanager/api/v2: its
// OpenAPI spec, generated router, validation and handlers) bound to Vigil's router, so the
// JSON shapes, status codes and error messages are Alertmanager's by construction and amtool
// works unchanged. Vigil adds one endpoint, GET /api/v2/alerts/explain.
package alertmanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	apiv2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/internal/buildinfo"
	"github.com/vigil-monitoring/vigil/routing"
)

// ExplainPath is Vigil's "why was I (not) paged?" endpoint: GET with one query parameter per
// label (?alertname=HighLatency&service=api) returns routing.Explanation as JSON.
const ExplainPath = "/api/v2/alerts/explain"

// Bounds on what one client can make the API hold in memory. Alertmanager sets none (a 400 MB
// POST /api/v2/alerts is read whole); Vigil answers a larger body as Alertmanager answers a body
// that fails to read: 400 with upstream's parse error.
const (
	// MaxAlertsBodyBytes bounds a POST /api/v2/alerts body: a Prometheus sends at most 256
	// alerts (its default batch size) in one.
	MaxAlertsBodyBytes = 8 << 20
	// MaxConcurrentIntake bounds the POST /api/v2/alerts requests read and stored at once;
	// more wait for a slot.
	MaxConcurrentIntake = 32
	// MaxBodyBytes bounds the body of every other request (silences).
	MaxBodyBytes = 1 << 20
)

// Handler serves /api/v2/. Build it once per router: the upstream API registers metrics.
type Handler struct {
	router   *routing.Router
	api      http.Handler
	mux      *http.ServeMux
	logger   *slog.Logger
	received receivedCounters
	// fallbacks counts intake requests handed to the upstream handler (for tests).
	fallbacks atomic.Int64
	// intakeSlots holds a token per POST /api/v2/alerts in progress.
	intakeSlots chan struct{}
}

// New binds the upstream API v2 to r and keeps it in step with r's configuration reloads.
func New(r *routing.Router, logger *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "api", "version", "v2")
	var capture *capturingRegisterer
	if reg != nil {
		capture = &capturingRegisterer{Registerer: reg}
		reg = capture
	}
	api, err := apiv2.NewAPI(r.Alerts(), r.Groups, r.GroupMuted, r.Silences(), r.Peer(), logger, reg)
	if err != nil {
		return nil, fmt.Errorf("creating alertmanager API v2: %w", err)
	}
	r.Subscribe(func(c *config.Config) { api.Update(c, r.SetAlertStatus) })

	h := &Handler{router: r, api: api.Handler, mux: http.NewServeMux(), logger: logger, intakeSlots: make(chan struct{}, MaxConcurrentIntake)}
	if capture != nil {
		h.received = newReceivedCounters(capture.received)
	} else {
		h.received = newReceivedCounters(nil)
	}
	h.mux.Handle("/api/v2/", http.MaxBytesHandler(api.Handler, MaxBodyBytes))
	h.mux.HandleFunc("POST /api/v2/alerts", h.postAlerts)
	h.mux.HandleFunc("GET /api/v2/status", h.status)
	h.mux.HandleFunc("GET "+ExplainPath, h.explain)
	h.mux.HandleFunc("POST /api/v2/silences", h.durableSilenceChange)
	h.mux.HandleFunc("DELETE /api/v2/silence/{id}", h.durableSilenceChange)
	return h, nil
}

// ServeHTTP implements http.Handler for paths under /api/v2/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// status serves upstream's status with one change: config.original is the configuration as
// the user wrote it, secrets masked, instead of upstream's re-rendering of the parsed config.
// The re-rendering lists every field of this Alertmanager version with its default, which
// amtool releases older than the library (Debian's among them) reject as unknown fields, so
// `amtool config routes test` would fail against a config it can parse.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	h.api.ServeHTTP(rec, r)
	var body map[string]json.RawMessage
	if rec.code != http.StatusOK || json.Unmarshal(rec.body.Bytes(), &body) != nil {
		rec.copyTo(w)
		return
	}
	cfg, err := json.Marshal(map[string]string{"original": h.router.MaskedConfig()})
	if err != nil {
		rec.copyTo(w)
		return
	}
	body["config"] = cfg
	if APIVersion != "" {
		if vi, err := withVersion(body["versionInfo"], APIVersion); err == nil {
			body["versionInfo"] = vi
		}
	}
	out, err := json.Marshal(body)
	if err != nil {
		rec.copyTo(w)
		return
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// APIVersion is the versionInfo.version of /api/v2/status: the Alertmanager release whose API
// v2 this package serves (the upstream module built in), since that is what amtool compares
// with its own version to warn of API differences. The other versionInfo fields are those of
// Vigil's build (github.com/prometheus/common/version). Empty (test binaries know no module
// versions) reports Vigil's version.
var APIVersion = buildinfo.ModuleVersion("github.com/prometheus/alertmanager")

// withVersion returns the versionInfo object raw with its version replaced.
func withVersion(raw json.RawMessage, version string) (json.RawMessage, error) {
	var vi map[string]json.RawMessage
	if err := json.Unmarshal(raw, &vi); err != nil {
		return nil, err
	}
	v, err := json.Marshal(version)
	if err != nil {
		return nil, err
	}
	vi["version"] = v
	return json.Marshal(vi)
}

// recorder buffers a response of the upstream handler so that it can be amended.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func (r *recorder) copyTo(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.WriteHeader(r.code)
	_, _ = w.Write(r.body.Bytes())
}

func (h *Handler) explain(w http.ResponseWriter, r *http.Request) {
	lset := model.LabelSet{}
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("label %q given %d times; give each label once", k, len(vs)))
			return
		}
		lset[model.LabelName(k)] = model.LabelValue(vs[0])
	}
	ex, err := h.router.Explain(r.Context(), lset)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(ex)
}

// writeError answers as the upstream API does for bad requests: a JSON string body.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(msg)
}
