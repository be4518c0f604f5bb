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
	"github.com/prometheus/prometheus/model/histogram"
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
	h      *histogram.FloatHistogram // nil: a float sample
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
			// The latest sample in [mint, maxt], a float or a native histogram (read as a
			// float histogram, as upstream).
			var (
				lt    int64
				lf    float64
				lh    *histogram.FloatHistogram
				isH   bool
				found bool
			)
			for typ := it.SeekTo(mint); typ != storage.ValNone; typ = it.Next() {
				if typ == storage.ValFloat {
					t, f := it.At()
					if t > maxt {
						break
					}
					lt, lf, isH, found = t, f, false, true
					continue
				}
				t, fh := it.AtFloatHistogram(lh)
				if t > maxt {
					break
				}
				lt, lh, isH, found = t, fh, true, true
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
			if !found || (!isH && storage.IsStaleNaN(lf)) || (isH && storage.IsStaleNaN(lh.Sum)) {
				continue
			}
			smp := sample{metric: s.Labels(), t: lt, f: lf}
			if isH {
				smp.h = lh
			}
			vec = append(vec, smp)
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
		lastMetricName                          string
		lastWasHistogram, lastHistogramWasGauge bool
		protMetricFam                           *dto.MetricFamily
	)
	formatType := format.FormatType()
	for _, s := range vec {
		isHistogram := s.h != nil
		if isHistogram &&
			!s.h.UsesCustomBuckets() &&
			formatType != expfmt.TypeProtoDelim &&
			formatType != expfmt.TypeProtoText &&
			formatType != expfmt.TypeProtoCompact {
			// Can't serve a native histogram with a non-protobuf format. (An NHCB is served,
			// as the classic histogram it converts to.)
			continue
		}
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
				// We already have the name in the current MetricDescriptor, and the sample
				// type (float or histogram, and counter or gauge histogram) matches.
				if l.Value == lastMetricName &&
					lastWasHistogram == isHistogram &&
					(!isHistogram ||
						lastHistogramWasGauge == (s.h.CounterResetHint == histogram.GaugeType)) {
					return nil
				}
				// Otherwise a new MetricDescriptor, even for the same name: an invalid
				// exposition that Prometheus parses fine, as upstream. Ship off the old one
				// (if any) before creating the new one.
				if protMetricFam != nil {
					if err := enc.Encode(protMetricFam); err != nil {
						return err
					}
				}
				protMetricFam = &dto.MetricFamily{
					Type: dto.MetricType_UNTYPED.Enum(),
					Name: proto.String(l.Value),
				}
				if isHistogram {
					if s.h.CounterResetHint == histogram.GaugeType {
						protMetricFam.Type = dto.MetricType_GAUGE_HISTOGRAM.Enum()
					} else {
						protMetricFam.Type = dto.MetricType_HISTOGRAM.Enum()
					}
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
		if !isHistogram {
			lastHistogramWasGauge = false
			protMetric.Untyped = &dto.Untyped{Value: proto.Float64(s.f)}
		} else {
			lastHistogramWasGauge = s.h.CounterResetHint == histogram.GaugeType
			if s.h.UsesCustomBuckets() {
				protMetric.Histogram = makeClassicHistogram(s.h)
			} else {
				protMetric.Histogram = makeNativeHistogram(s.h)
			}
		}
		lastWasHistogram = isHistogram
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

// makeNativeHistogram creates a dto.Histogram representing a native histogram.
// Use only for standard exponential schemas.
func makeNativeHistogram(h *histogram.FloatHistogram) *dto.Histogram {
	result := &dto.Histogram{
		SampleCountFloat: proto.Float64(h.Count),
		SampleSum:        proto.Float64(h.Sum),
		Schema:           proto.Int32(h.Schema),
		ZeroThreshold:    proto.Float64(h.ZeroThreshold),
		ZeroCountFloat:   proto.Float64(h.ZeroCount),
		NegativeCount:    h.NegativeBuckets,
		PositiveCount:    h.PositiveBuckets,
	}
	if len(h.PositiveSpans) > 0 {
		result.PositiveSpan = make([]*dto.BucketSpan, len(h.PositiveSpans))
		for i, sp := range h.PositiveSpans {
			result.PositiveSpan[i] = &dto.BucketSpan{
				Offset: proto.Int32(sp.Offset),
				Length: proto.Uint32(sp.Length),
			}
		}
	}
	if len(h.NegativeSpans) > 0 {
		result.NegativeSpan = make([]*dto.BucketSpan, len(h.NegativeSpans))
		for i, sp := range h.NegativeSpans {
			result.NegativeSpan[i] = &dto.BucketSpan{
				Offset: proto.Int32(sp.Offset),
				Length: proto.Uint32(sp.Length),
			}
		}
	}
	return result
}

// makeClassicHistogram creates a dto.Histogram representing a classic
// histogram. Use only for NHCB (schema -53).
func makeClassicHistogram(h *histogram.FloatHistogram) *dto.Histogram {
	result := &dto.Histogram{
		SampleCountFloat: proto.Float64(h.Count),
		SampleSum:        proto.Float64(h.Sum),
	}
	result.Bucket = make([]*dto.Bucket, len(h.CustomValues))
	var (
		cumulativeCount float64
		bucketIter      = h.PositiveBucketIterator()
		bucketAvailable = bucketIter.Next()
	)
	for i, le := range h.CustomValues {
		for bucketAvailable && int(bucketIter.At().Index) < i {
			bucketAvailable = bucketIter.Next()
		}
		if bucketAvailable && int(bucketIter.At().Index) == i {
			cumulativeCount += bucketIter.At().Count
		}
		result.Bucket[i] = &dto.Bucket{
			UpperBound:           proto.Float64(le),
			CumulativeCountFloat: proto.Float64(cumulativeCount),
		}
	}
	// Note that we do not add the +Inf bucket explicitly. In the protobuf
	// exposition format, it is optional. For other exposition formats, the
	// code converting the protobuf created here into the actual exposition
	// payload will add the +Inf bucket.
	return result
}
