package alertmanager

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	apiv2 "github.com/prometheus/alertmanager/api/v2"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// postableAlert has the fields and field types of upstream's models.PostableAlert. Upstream's
// generated decoder reads every alert twice (once per part of its type composition); this one
// reads it once, and the result is then checked with upstream's own generated validation.
type postableAlert struct {
	Labels       models.LabelSet `json:"labels"`
	Annotations  models.LabelSet `json:"annotations,omitempty"`
	StartsAt     strfmt.DateTime `json:"startsAt,omitempty"`
	EndsAt       strfmt.DateTime `json:"endsAt,omitempty"`
	GeneratorURL strfmt.URI      `json:"generatorURL,omitempty"`
}

// postAlerts is the fast path of POST /api/v2/alerts, the hot endpoint every Prometheus
// server calls. It takes only requests it can answer exactly as upstream would — a JSON array
// of alerts that pass upstream's model validation and alert validation — and hands everything
// else (other content types, malformed JSON, invalid alerts) to the upstream handler with the
// body intact, so that error codes and messages stay Alertmanager's.
func (h *Handler) postAlerts(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	fallback := func() {
		h.fallbacks.Add(1)
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.api.ServeHTTP(w, r)
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fallback()
		return
	}
	var in []postableAlert
	if err := json.Unmarshal(body, &in); err != nil || len(in) == 0 {
		fallback()
		return
	}
	postable := make(models.PostableAlerts, len(in))
	for i, a := range in {
		postable[i] = &models.PostableAlert{
			Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
			Alert: models.Alert{Labels: a.Labels, GeneratorURL: a.GeneratorURL},
		}
		if err := postable[i].Validate(strfmt.Default); err != nil {
			fallback()
			return
		}
	}
	alerts := apiv2.OpenAPIAlertsToAlerts(r.Context(), postable)

	// From here on exactly upstream's postAlertsHandler.
	now := time.Now()
	resolveTimeout := time.Duration(h.router.Config().Global.ResolveTimeout)
	var firing, resolved float64
	for _, a := range alerts {
		a.UpdatedAt = now
		if a.StartsAt.IsZero() {
			if a.EndsAt.IsZero() {
				a.StartsAt = now
			} else {
				a.StartsAt = a.EndsAt
			}
		}
		if a.EndsAt.IsZero() {
			a.Timeout = true
			a.EndsAt = now.Add(resolveTimeout)
		}
		for k, v := range a.Labels {
			if v == "" {
				delete(a.Labels, k)
			}
		}
		if err := a.Validate(); err != nil {
			// Upstream stores the valid alerts of the batch and reports the invalid ones.
			fallback()
			return
		}
		if a.EndsAt.After(now) {
			firing++
		} else {
			resolved++
		}
	}
	if err := h.router.Alerts().Put(r.Context(), alerts...); err != nil {
		h.logger.Error("Failed to create alerts", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	h.received.firing.Add(firing)
	h.received.resolved.Add(resolved)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// receivedCounters are upstream's alertmanager_alerts_received_total counters, captured when
// the upstream API registers them, so that the fast path counts into the same series.
type receivedCounters struct {
	firing, resolved prometheus.Counter
}

// capturingRegisterer passes registrations through and keeps the received-alerts counter.
type capturingRegisterer struct {
	prometheus.Registerer
	received *prometheus.CounterVec
}

func (c *capturingRegisterer) Register(col prometheus.Collector) error {
	if err := c.Registerer.Register(col); err != nil {
		return err
	}
	if cv, ok := col.(*prometheus.CounterVec); ok && describes(cv, "alertmanager_alerts_received_total") {
		c.received = cv
	}
	return nil
}

func (c *capturingRegisterer) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		if err := c.Register(col); err != nil {
			panic(err)
		}
	}
}

func describes(c prometheus.Collector, name string) bool {
	ch := make(chan *prometheus.Desc, 4)
	go func() { c.Describe(ch); close(ch) }()
	found := false
	for d := range ch {
		if strings.Contains(d.String(), `fqName: "`+name+`"`) {
			found = true
		}
	}
	return found
}

func newReceivedCounters(cv *prometheus.CounterVec) receivedCounters {
	if cv == nil {
		// No registry: count into unregistered counters.
		cv = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "alertmanager_alerts_received_total"}, []string{"status"})
	}
	return receivedCounters{firing: cv.WithLabelValues(string(model.AlertFiring)), resolved: cv.WithLabelValues(string(model.AlertResolved))}
}
