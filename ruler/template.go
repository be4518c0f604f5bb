package ruler

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/prometheus/common/model"
	upromql "github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"

	"github.com/vigil-monitoring/vigil/promql"
)

// alertTemplateDefs are prepended to every label and annotation template, as Prometheus does,
// so that $labels, $externalLabels, $externalURL and $value are defined.
const alertTemplateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

type alertExpander struct {
	ctx         context.Context
	rule        *AlertingRule
	data        any
	ts          time.Time
	query       template.QueryFunc
	externalURL *url.URL
}

func newAlertExpander(ctx context.Context, r *AlertingRule, smpl promql.Sample, ts time.Time, query QueryFunc, externalURL *url.URL) *alertExpander {
	if externalURL == nil {
		externalURL = &url.URL{}
	}
	return &alertExpander{
		ctx:  ctx,
		rule: r,
		data: template.AlertTemplateData(smpl.Metric.Map(), r.externalLabels, r.externalURL,
			upromql.Sample{Metric: smpl.Metric, T: smpl.T, F: smpl.F, H: smpl.H}),
		ts:          ts,
		query:       upstreamQueryFunc(query),
		externalURL: externalURL,
	}
}

// expand expands one template. Errors become the text of the label or annotation, with
// Prometheus's wording, so that a broken template is visible where it is used.
func (e *alertExpander) expand(text string) string {
	tmpl := template.NewTemplateExpander(e.ctx, alertTemplateDefs+text, "__alert_"+e.rule.name, e.data,
		model.Time(e.ts.UnixMilli()), e.query, e.externalURL, nil)
	res, err := tmpl.Expand()
	if err != nil {
		res = fmt.Sprintf("<error expanding template: %s>", err)
		e.rule.logger.Warn("Expanding alert template failed", "err", err, "data", e.data)
	}
	return res
}

// upstreamQueryFunc adapts Vigil's query results to the upstream sample type the template
// package expects, native histograms included.
func upstreamQueryFunc(q QueryFunc) template.QueryFunc {
	return func(ctx context.Context, qs string, t time.Time) (upromql.Vector, error) {
		v, err := q(ctx, qs, t)
		if err != nil {
			return nil, err
		}
		out := make(upromql.Vector, len(v))
		for i, s := range v {
			out[i] = upromql.Sample{Metric: s.Metric, T: s.T, F: s.F, H: s.H}
		}
		return out, nil
	}
}
