// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: ported from github.com/prometheus/prometheus web/federate.go (v0.315.0).

// Package federate serves GET /federate as Prometheus does (ported from
// github.com/prometheus/prometheus@v0.315.0/web/federate.go): the latest sample of every series
// matched by one of the match[] selectors, within the lookback delta, in the exposition format
// the client negotiates, with the external labels added where a series lacks them.
package federate

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"google.golang.org/protobuf/proto"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// Options configure a Handler. Queryable is required.
type Options struct {
	Queryable storage.Queryable
	// LookbackDelta is how far back the latest sample of a series may be (--query.lookback-delta).
	LookbackDelta time.Duration
	// ExternalLabels returns global.external_labels of the running configuration; nil means none.
	ExternalLabels func() labels.Labels
	// Now is the request time; time.Now when nil.
	Now func() time.Time
	// Registerer receives prometheus_web_federation_{errors,warnings}_total; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Handler serves /federate.
type Handler struct {
	opts     Options
	parser   parser.Parser
	errors   prometheus.Counter
	warnings prometheus.Counter
}

// New returns the /federate handler.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ExternalLabels == nil {
		o.ExternalLabels = func() labels.Labels { return labels.EmptyLabels() }
	}
	h := &Handler{
		opts:   o,
		parser: parser.NewParser(promql.DefaultParserOptions),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_web_federation_errors_total",
			Help: "Total number of errors that occurred while sending federation responses.",
		}),
		warnings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_web_federation_warnings_total",
			Help: "Total number of warnings that occurred while sending federation responses.",
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(h.warnings, h.errors)
	}
	return h
}

type sample struct {
	metric labels.Labels
	t      int64
	f      float64
}

// ServeHTTP answers a federation request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()

	if err := req.ParseForm(); err != nil {
		http.Error(w, fmt.Sprintf("error parsing form values: %v", err), http.StatusBadRequest)
		return
	}

	matcherSets, err := h.parser.ParseMetricSelectors(req.Form["match[]"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	now := h.opts.Now()
	var (
		mint   = now.Add(-h.opts.LookbackDelta).UnixMilli()
		maxt   = now.UnixMilli()
		format = expfmt.NegotiateAccept(req.Header, expfmt.NewFormat(expfmt.TypeProtoDelim), expfmt.NewFormat(expfmt.TypeProtoText), expfmt.NewFormat(expfmt.TypeProtoCompact), expfmt.NewFormat(expfmt.TypeTextPlain))
		enc    = expfmt.NewEncoder(w, format)
	)
	w.Header().Set("Content-Type", string(format))

	q, err := h.opts.Queryable.Querier(mint, maxt)
	if err != nil {
		h.errors.Inc()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer q.Close()

	hints := &storage.SelectHints{Start: mint, End: maxt}
	vec := make([]sample, 0, 64)
	var it storage.Iterator
	for _, mset := range matcherSets {
		set := q.Select(ctx, true, hints, mset...)
		for set.Next() {
			s := set.At()
			it = s.Iterator(it)
			// The latest float sample in [mint, maxt]. Only floats are stored (see
			// storage.ValueType); upstream serves native histograms only to protobuf clients.
			var (
				t, lt int64
				f, lf float64
				found bool
			)
			for typ := it.SeekTo(mint); typ != storage.ValNone; typ = it.Next() {
				if typ != storage.ValFloat {
					continue
				}
				if t, f = it.At(); t > maxt {
					break
				}
				lt, lf, found = t, f, true
			}
			if err := it.Err(); err != nil {
				h.errors.Inc()
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			// The exposition formats do not support stale markers, so drop them. This is good
			// enough for staleness handling of federated data, as the interval-based limits on
			// staleness will do the right thing for supported use cases (which is to say
			// federating aggregated time series).
			if !found || storage.IsStaleNaN(lf) {
				continue
			}
			vec = append(vec, sample{metric: s.Labels(), t: lt, f: lf})
		}
		if err := set.Err(); err != nil {
			h.errors.Inc()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}

	// Sorted by labels, which groups series by metric name (the name sorts first); several
	// selectors may select the same series, which is sent once.
	slices.SortFunc(vec, func(a, b sample) int { return labels.Compare(a.metric, b.metric) })
	vec = slices.CompactFunc(vec, func(a, b sample) bool { return labels.Equal(a.metric, b.metric) })

	externalLabels := h.opts.ExternalLabels().Map()
	if _, ok := externalLabels[model.InstanceLabel]; !ok {
		externalLabels[model.InstanceLabel] = ""
	}
	externalLabelNames := make([]string, 0, len(externalLabels))
	for ln := range externalLabels {
		externalLabelNames = append(externalLabelNames, ln)
	}
	sort.Strings(externalLabelNames)

	var (
		lastMetricName string
		protMetricFam  *dto.MetricFamily
	)
	for _, s := range vec {
		nameSeen := false
		globalUsed := map[string]struct{}{}
		protMetric := &dto.Metric{}

		err := s.metric.Validate(func(l labels.Label) error {
			if l.Value == "" {
				// No value means unset. Never consider those labels.
				// This is also important to protect against nameless metrics.
				return nil
			}
			if l.Name == labels.MetricName {
				nameSeen = true
				if l.Value == lastMetricName {
					// We already have the name in the current MetricDescriptor.
					return nil
				}
				// Need to start a new MetricDescriptor. Ship off the old one (if any)
				// before creating the new one.
				if protMetricFam != nil {
					if err := enc.Encode(protMetricFam); err != nil {
						return err
					}
				}
				protMetricFam = &dto.MetricFamily{
					Type: dto.MetricType_UNTYPED.Enum(),
					Name: proto.String(l.Value),
				}
				lastMetricName = l.Value
				return nil
			}
			protMetric.Label = append(protMetric.Label, &dto.LabelPair{
				Name:  proto.String(l.Name),
				Value: proto.String(l.Value),
			})
			if _, ok := externalLabels[l.Name]; ok {
				globalUsed[l.Name] = struct{}{}
			}
			return nil
		})
		if err != nil {
			h.errors.Inc()
			h.opts.Logger.Error("federation failed", "err", err)
			return
		}
		if !nameSeen {
			h.opts.Logger.Warn("Ignoring nameless metric during federation", "metric", s.metric)
			continue
		}
		// Attach global labels if they do not exist yet.
		for _, ln := range externalLabelNames {
			lv := externalLabels[ln]
			if _, ok := globalUsed[ln]; !ok {
				protMetric.Label = append(protMetric.Label, &dto.LabelPair{
					Name:  proto.String(ln),
					Value: proto.String(lv),
				})
			}
		}

		protMetric.TimestampMs = proto.Int64(s.t)
		protMetric.Untyped = &dto.Untyped{Value: proto.Float64(s.f)}
		protMetricFam.Metric = append(protMetricFam.Metric, protMetric)
	}
	// Still have to ship off the last MetricDescriptor, if any.
	if protMetricFam != nil {
		if err := enc.Encode(protMetricFam); err != nil {
			h.errors.Inc()
			h.opts.Logger.Error("federation failed", "err", err)
		}
	}
}
