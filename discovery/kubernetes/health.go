package kubernetes

// Vigil's own (not ported): how a Kubernetes discoverer reports that it cannot list or watch —
// the API server is unreachable, refuses the credentials, or denies the RBAC — as Prometheus
// does, but without flooding the log: the first failure is logged at once, later ones at most
// once per failureLogInterval with the number left out, and the recovery once. Every failed
// request is counted by prometheus_sd_kubernetes_failures_total (here rather than in the
// informers' watch error handler, which client-go does not call while it retries a refused
// connection by itself), and the last one is kept for the targets
// API (Discovery.LastError) until a list succeeds again.

import (
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// failureLogInterval is how often a persisting failure is logged again.
const failureLogInterval = time.Minute

type health struct {
	logger   *slog.Logger
	now      func() time.Time
	failures prometheus.Counter // prometheus_sd_kubernetes_failures_total

	mtx        sync.Mutex
	errs       map[string]error // by resource list type: a list of another resource succeeding does not clear it
	err        error            // the last failure, while errs is not empty
	since      time.Time        // first failure of the current run of failures
	lastLog    time.Time
	suppressed int
}

func newHealth(logger *slog.Logger, failures prometheus.Counter) *health {
	return &health{logger: logger, now: time.Now, failures: failures, errs: map[string]error{}}
}

// failed records a failed list or watch of resource.
func (h *health) failed(resource string, err error) {
	if h == nil { // a Discovery made without newDiscovery (tests)
		return
	}
	if h.failures != nil {
		h.failures.Inc()
	}
	h.mtx.Lock()
	defer h.mtx.Unlock()
	now := h.now()
	if len(h.errs) == 0 {
		h.since = now
	}
	h.errs[resource], h.err = err, err
	if !h.lastLog.IsZero() && now.Sub(h.lastLog) < failureLogInterval {
		h.suppressed++
		return
	}
	args := []any{"err", err, "failing_since", h.since.UTC().Format(time.RFC3339)}
	if h.suppressed > 0 {
		args = append(args, "failures_not_logged", h.suppressed)
	}
	args = append(args, "resource", resource)
	h.logger.Error("Kubernetes API request failed; discovery keeps retrying, targets stay as they were", args...)
	h.lastLog, h.suppressed = now, 0
}

// listed records a successful list of resource: the API server answers again.
func (h *health) listed(resource string) {
	if h == nil {
		return
	}
	h.mtx.Lock()
	defer h.mtx.Unlock()
	if _, ok := h.errs[resource]; !ok {
		return
	}
	delete(h.errs, resource)
	if len(h.errs) > 0 {
		return
	}
	h.logger.Info("Kubernetes API requests succeed again", "failing_since", h.since.UTC().Format(time.RFC3339), "last_err", h.err)
	h.err, h.lastLog, h.suppressed = nil, time.Time{}, 0
}

// LastError is the last failed list or watch since the last successful list; nil while the
// discovery works.
func (h *health) LastError() error {
	if h == nil {
		return nil
	}
	h.mtx.Lock()
	defer h.mtx.Unlock()
	return h.err
}
