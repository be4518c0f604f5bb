package routing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
)

// Alert is what Vigil's ruler hands to the router in memory: the same fields Prometheus
// sends to Alertmanager's POST /api/v2/alerts.
type Alert struct {
	Labels       model.LabelSet
	Annotations  model.LabelSet
	StartsAt     time.Time
	EndsAt       time.Time // zero: firing until resolve_timeout passes without an update
	GeneratorURL string
}

// Send is the in-process intake for Vigil's ruler. It applies exactly what the API's
// POST /api/v2/alerts applies (default start time, resolve_timeout for alerts without an end,
// empty labels dropped, validation) and stores the valid alerts; the invalid ones are
// reported together in the returned error while the valid ones are still accepted.
func (r *Router) Send(_ context.Context, alerts ...Alert) error {
	now := time.Now()
	resolveTimeout := time.Duration(r.Config().Global.ResolveTimeout)
	valid := make([]*types.Alert, 0, len(alerts))
	var errs error
	for _, in := range alerts {
		a := &types.Alert{
			Alert: model.Alert{
				Labels:       make(model.LabelSet, len(in.Labels)),
				Annotations:  in.Annotations,
				StartsAt:     in.StartsAt,
				EndsAt:       in.EndsAt,
				GeneratorURL: in.GeneratorURL,
			},
			UpdatedAt: now,
		}
		for k, v := range in.Labels {
			if v != "" { // as the API: an empty label value means the label is absent
				a.Labels[k] = v
			}
		}
		a.StartsAt, a.EndsAt, a.Timeout = TimeDefaults(now, a.StartsAt, a.EndsAt, resolveTimeout)
		if err := a.Validate(); err != nil {
			errs = errors.Join(errs, fmt.Errorf("alert %s: %w", in.Labels, err))
			continue
		}
		valid = append(valid, a)
	}
	in := make([]Incoming, len(valid))
	for i, a := range valid {
		in[i] = incomingFrom(a)
	}
	r.alerts.put(in)
	return errs
}

// Store stores alerts that are validated and carry upstream's defaults (see Incoming): the
// API's fast intake path.
func (r *Router) Store(alerts []Incoming) { r.alerts.put(alerts) }

// ResolveTimeout is the configured global resolve_timeout, the end given to alerts without one.
func (r *Router) ResolveTimeout() time.Duration {
	return time.Duration(r.Config().Global.ResolveTimeout)
}

// TimeDefaults is Alertmanager's intake rule for an alert's times: no start means its end (or
// now), no end means firing until resolveTimeout passes without an update (timeout set).
func TimeDefaults(now, startsAt, endsAt time.Time, resolveTimeout time.Duration) (start, end time.Time, timeout bool) {
	if startsAt.IsZero() {
		startsAt = endsAt
		if endsAt.IsZero() {
			startsAt = now
		}
	}
	if endsAt.IsZero() {
		return startsAt, now.Add(resolveTimeout), true
	}
	return startsAt, endsAt, false
}
