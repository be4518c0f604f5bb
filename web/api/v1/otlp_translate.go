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
// Provenance-includes-location: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/95e8f8fdc2a9dc87230406c9a3cf02be4fd68bea/pkg/translator/prometheusremotewrite/
// Provenance-includes-license: Apache-2.0
// Provenance-includes-copyright: Copyright The OpenTelemetry Authors.
//
// Ported from github.com/prometheus/prometheus v0.315.0 (Prometheus 3.15),
// storage/remote/otlptranslator/prometheusremotewrite (metrics_to_prw.go, helper.go,
// number_data_points.go, histograms.go, annotations.go): see UPSTREAM. The port reads the
// OTLP protobuf bytes directly (otlp_wire.go) instead of pdata's object tree and appends to
// Vigil's appender; every rule (names, units, attributes and their collisions, job/instance,
// promoted resource attributes, scope labels, target_info, histograms, summaries, staleness,
// temporality, errors and warnings) is upstream's, step by step and in upstream's order, and
// otlp_translate_test.go checks it against the upstream translator.

package v1

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/vigil-monitoring/vigil/config"
)

// otlpSettings are the otlp block's translation settings, as Prometheus's OTLP handler
// derives them (no namespace, external labels or type-and-unit labels; delta temporality
// refused, as Prometheus without its otlp-deltatocumulative or otlp-native-delta-ingestion
// feature flags).
type otlpSettings struct {
	addSuffixes, allowUTF8                      bool
	promoteAll                                  bool
	promoteAttrs                                map[string]struct{} // promoted, or with promoteAll ignored
	keepIdentifying, convertNHCB, promoteScope  bool
	lookbackDelta                               time.Duration
	underscoreSanitization, preserveUnderscores bool
}

func newOTLPSettings(c config.OTLPConfig, lookbackDelta time.Duration) otlpSettings {
	attrs := c.PromoteResourceAttributes
	if c.PromoteAllResourceAttributes {
		attrs = c.IgnoreResourceAttributes
	}
	m := make(map[string]struct{}, len(attrs))
	for _, s := range attrs {
		m[s] = struct{}{}
	}
	return otlpSettings{
		addSuffixes:            c.TranslationStrategy.ShouldAddSuffixes(),
		allowUTF8:              !c.TranslationStrategy.ShouldEscape(),
		promoteAll:             c.PromoteAllResourceAttributes,
		promoteAttrs:           m,
		keepIdentifying:        c.KeepIdentifyingResourceAttributes,
		convertNHCB:            c.ConvertHistogramsToNHCB,
		promoteScope:           c.PromoteScopeMetadata,
		lookbackDelta:          lookbackDelta,
		underscoreSanitization: c.LabelNameUnderscoreSanitization,
		preserveUnderscores:    c.LabelNamePreserveMultipleUnderscores,
	}
}

// Translation warning categories, Prometheus's (prometheus_api_otlp_translation_warnings_total).
const (
	warnEmptyDataPoints              = "empty_data_points"
	warnLabelNameCollision           = "label_name_collision"
	warnHistogramZeroCountNonZeroSum = "histogram_zero_count_non_zero_sum"
)

const (
	otlpTargetInfo           = "target_info"
	otlpDefaultLookbackDelta = 5 * time.Minute
	otlpServiceName          = "service.name"
	otlpServiceNamespace     = "service.namespace"
	otlpServiceInstanceID    = "service.instance.id"
	otlpMaxSanitizedLabels   = 64
)

var (
	otlpReservedLabelNames = []string{model.MetricNameLabel}
	otlpIdentifyingAttrs   = []string{otlpServiceNamespace, otlpServiceName, otlpServiceInstanceID}
)

// Metric kinds, by the field of Metric's data oneof.
const (
	mkEmpty     = 0
	mkGauge     = 5
	mkSum       = 7
	mkHistogram = 9
	mkExpHist   = 10
	mkSummary   = 11
)

// aggregation temporality values (pmetric.AggregationTemporality).
const temporalityCumulative = 2

type otlpTargetInfoKey struct {
	labelsHash uint64
	timestamp  int64
}

// otlpTranslator is upstream's PrometheusConverter over wire bytes. One is used by one
// request at a time (pooled).
type otlpTranslator struct {
	app      *otlpAppender
	settings otlpSettings

	scratch    labels.ScratchBuilder
	builder    *labels.Builder
	labelNamer otlptranslator.LabelNamer
	sanitized  map[string]string
	seen       map[otlpTargetInfoKey]struct{}

	// Resource context.
	jobLabel, instanceLabel string
	promoted                labels.Labels
	resourceAttrs           []wireKV
	// Scope context; hasScope is false when scope labels are not promoted.
	hasScope                                bool
	scopeName, scopeVersion, scopeSchemaURL string
	scopeAttrs                              labels.Labels
	fromResource                            bool // collision warnings name resource attributes

	recordedCollisions map[string]struct{}
	// warnings are upstream's annotations: by message (deduplicated as annotations are),
	// the category.
	warnings map[string]string
	errs     []error

	// Per data point scratch space.
	pairs, set, base []labels.Label
	baseUnique       bool // base holds the labels of the last createAttributes
	attrs            []wireKV
	counts           []uint64
	bounds           []float64
}

// wireKV is an attribute: its key and the bytes of its AnyValue.
type wireKV struct{ key, value []byte }

func newOTLPTranslator() *otlpTranslator {
	return &otlpTranslator{
		builder:   labels.NewBuilder(labels.EmptyLabels()),
		sanitized: make(map[string]string, otlpMaxSanitizedLabels),
		seen:      map[otlpTargetInfoKey]struct{}{},
	}
}

// reset prepares t for a request (app nil: release references before pooling).
func (t *otlpTranslator) reset(app *otlpAppender, settings otlpSettings) {
	t.app, t.settings = app, settings
	if len(t.sanitized) > otlpMaxSanitizedLabels {
		t.sanitized = make(map[string]string, otlpMaxSanitizedLabels)
	} else {
		clear(t.sanitized)
	}
	clear(t.seen)
	// Builders keep the strings of earlier requests in their arrays: fresh ones per request,
	// as upstream.
	t.scratch = labels.NewScratchBuilder(0)
	t.builder = labels.NewBuilder(labels.EmptyLabels())
	t.promoted, t.scopeAttrs = labels.EmptyLabels(), labels.EmptyLabels()
	t.resourceAttrs, t.attrs = t.resourceAttrs[:0], t.attrs[:0]
	t.recordedCollisions, t.warnings, t.errs = nil, nil, nil
	t.hasScope, t.fromResource = false, false
}

func (t *otlpTranslator) warn(category, format string, args ...any) {
	if t.warnings == nil {
		t.warnings = map[string]string{}
	}
	t.warnings[fmt.Sprintf(format, args...)] = category
}

func (t *otlpTranslator) buildLabelName(label string) (string, error) {
	if s, ok := t.sanitized[label]; ok {
		return s, nil
	}
	// label may point into the request body: what is kept (in the cache, an error) is a copy.
	label = strings.Clone(label)
	s, err := t.labelNamer.Build(label)
	if err != nil {
		return "", err
	}
	t.sanitized[label] = s
	return s, nil
}

// attrsOf appends to dst the attributes (field num, KeyValue messages) of a message.
func attrsOf(dst []wireKV, msg []byte, num int32) []wireKV {
	it := wireFields{buf: msg}
	for it.next() {
		if it.f.num == num {
			k, v := keyValue(it.f.b)
			dst = append(dst, wireKV{k, v})
		}
	}
	return dst
}

// getAttr is pcommon.Map.Get: the first attribute with the key.
func getAttr(attrs []wireKV, key string) (wireKV, bool) {
	for _, a := range attrs {
		if string(a.key) == key {
			return a, true
		}
	}
	return wireKV{}, false
}

// translate appends the validated request body's samples (FromMetrics).
func (t *otlpTranslator) translate(ctx context.Context, body []byte) {
	namer := otlptranslator.MetricNamer{WithMetricSuffixes: t.settings.addSuffixes, UTF8Allowed: t.settings.allowUTF8}
	it := wireFields{buf: body}
	for it.next() {
		if it.f.num != 1 || t.app.fatal != nil {
			continue
		}
		rm := it.f.b
		if !t.translateResource(ctx, rm, namer) {
			return
		}
	}
}

// translateResource translates one ResourceMetrics; false stops the request (a cancelled
// context or a storage failure).
func (t *otlpTranslator) translateResource(ctx context.Context, rm []byte, namer otlptranslator.MetricNamer) bool {
	t.resourceAttrs = t.resourceAttrs[:0]
	hasScopeMetrics := false
	it := wireFields{buf: rm}
	for it.next() {
		switch it.f.num {
		case 1:
			t.resourceAttrs = attrsOf(t.resourceAttrs, it.f.b, 1)
		case 2:
			hasScopeMetrics = true
		}
	}
	if err := t.setResourceContext(); err != nil {
		t.errs = append(t.errs, err)
		return true
	}
	// pdata reads the deprecated field 1000 when there is no field 2.
	scopeField := int32(2)
	if !hasScopeMetrics {
		scopeField = 1000
	}
	earliest, latest := uint64(math.MaxUint64), uint64(0)
	it = wireFields{buf: rm}
	for it.next() {
		if it.f.num != scopeField {
			continue
		}
		sm := it.f.b
		if err := t.setScopeContext(sm); err != nil {
			t.errs = append(t.errs, err)
			continue
		}
		mit := wireFields{buf: sm}
		for mit.next() {
			if mit.f.num != 2 {
				continue
			}
			if err := ctx.Err(); err != nil {
				t.errs = append(t.errs, err)
				return false
			}
			earliest, latest = t.translateMetric(mit.f.b, namer, earliest, latest)
			if t.app.fatal != nil {
				return false
			}
		}
	}
	if earliest < math.MaxUint64 {
		if err := t.addResourceTargetInfo(time.Unix(0, int64(earliest)).UTC(), time.Unix(0, int64(latest)).UTC()); err != nil {
			t.errs = append(t.errs, err)
		}
	}
	return t.app.fatal == nil
}

func (t *otlpTranslator) setResourceContext() error {
	t.jobLabel, t.instanceLabel = "", ""
	t.hasScope = false
	t.labelNamer = otlptranslator.LabelNamer{
		UTF8Allowed:                 t.settings.allowUTF8,
		UnderscoreLabelSanitization: t.settings.underscoreSanitization, //nolint:staticcheck // as upstream
		PreserveMultipleUnderscores: t.settings.preserveUnderscores,
	}
	if name, ok := getAttr(t.resourceAttrs, otlpServiceName); ok {
		val := anyValueString(name.value)
		if ns, ok := getAttr(t.resourceAttrs, otlpServiceNamespace); ok {
			val = anyValueString(ns.value) + "/" + val
		}
		t.jobLabel = val
	}
	if inst, ok := getAttr(t.resourceAttrs, otlpServiceInstanceID); ok {
		t.instanceLabel = anyValueString(inst.value)
	}
	t.builder.Reset(labels.EmptyLabels())
	for _, a := range t.resourceAttrs {
		_, listed := t.settings.promoteAttrs[string(a.key)]
		if listed == t.settings.promoteAll {
			continue
		}
		normalized, err := t.buildLabelName(string(a.key))
		if err != nil {
			t.promoted = labels.EmptyLabels()
			return err
		}
		t.builder.Set(normalized, anyValueString(a.value))
	}
	t.promoted = t.builder.Labels()
	return nil
}

func (t *otlpTranslator) setScopeContext(sm []byte) error {
	t.hasScope = false
	if !t.settings.promoteScope {
		return nil
	}
	var name, version, schemaURL []byte
	t.attrs = t.attrs[:0]
	it := wireFields{buf: sm}
	for it.next() {
		switch it.f.num {
		case 1:
			sit := wireFields{buf: it.f.b}
			for sit.next() {
				switch sit.f.num {
				case 1:
					name = sit.f.b
				case 2:
					version = sit.f.b
				case 3:
					k, v := keyValue(sit.f.b)
					t.attrs = append(t.attrs, wireKV{k, v})
				}
			}
		case 3:
			schemaURL = it.f.b
		}
	}
	if len(name) == 0 {
		return nil
	}
	t.builder.Reset(labels.EmptyLabels())
	for _, a := range t.attrs {
		n, err := t.buildLabelName("otel_scope_" + string(a.key))
		if err != nil {
			return err
		}
		t.builder.Set(n, anyValueString(a.value))
	}
	t.scopeName, t.scopeVersion, t.scopeSchemaURL = string(name), string(version), string(schemaURL)
	t.scopeAttrs = t.builder.Labels()
	t.hasScope = true
	return nil
}

// translateMetric translates one Metric, returning the resource's earliest and latest
// timestamps updated with its points'.
func (t *otlpTranslator) translateMetric(m []byte, namer otlptranslator.MetricNamer, earliest, latest uint64) (uint64, uint64) {
	var name, unit, data []byte
	kind := mkEmpty
	it := wireFields{buf: m}
	for it.next() {
		switch it.f.num {
		case 1:
			name = it.f.b
		case 3:
			unit = it.f.b
		case mkGauge, mkSum, mkHistogram, mkExpHist, mkSummary:
			kind, data = int(it.f.num), it.f.b
		}
	}
	// Data points (field 1 of every kind), timestamps, temporality and monotonicity.
	var temporality int32
	monotonic, points := false, 0
	it = wireFields{buf: data}
	for it.next() {
		switch it.f.num {
		case 1:
			points++
			ts := pointTimestamp(it.f.b, kind)
			earliest, latest = min(earliest, ts), max(latest, ts)
		case 2:
			if kind == mkSum || kind == mkHistogram || kind == mkExpHist {
				temporality = int32(it.f.u)
			}
		case 3:
			if kind == mkSum {
				monotonic = it.f.u != 0
			}
		}
	}
	metricName := string(name)
	if kind == mkEmpty {
		t.errs = append(t.errs, fmt.Errorf("could not get aggregation temporality for %s as it has unsupported metric type %s", metricName, "Empty"))
		return earliest, latest
	}
	if (kind == mkSum || kind == mkHistogram || kind == mkExpHist) && temporality != temporalityCumulative {
		t.errs = append(t.errs, fmt.Errorf("invalid temporality and type combination for metric %q", metricName))
		return earliest, latest
	}
	tm := otlptranslator.Metric{Name: metricName, Unit: string(unit), Type: otlptranslator.MetricTypeUnknown}
	switch kind {
	case mkGauge:
		tm.Type = otlptranslator.MetricTypeGauge
	case mkSum:
		tm.Type = otlptranslator.MetricTypeNonMonotonicCounter
		if monotonic {
			tm.Type = otlptranslator.MetricTypeMonotonicCounter
		}
	case mkSummary:
		tm.Type = otlptranslator.MetricTypeSummary
	case mkHistogram:
		tm.Type = otlptranslator.MetricTypeHistogram
	case mkExpHist:
		tm.Type = otlptranslator.MetricTypeExponentialHistogram
	}
	promName, err := namer.Build(tm)
	if err != nil {
		t.errs = append(t.errs, err)
		return earliest, latest
	}
	if points == 0 {
		t.warn(warnEmptyDataPoints, "empty data points. %s is dropped", metricName)
		return earliest, latest
	}
	it = wireFields{buf: data}
	for it.next() {
		if it.f.num != 1 {
			continue
		}
		switch kind {
		case mkGauge, mkSum:
			err = t.addNumberDataPoint(it.f.b, promName, kind == mkSum)
		case mkHistogram:
			if t.settings.convertNHCB {
				err = t.addCustomBucketsHistogramDataPoint(it.f.b, promName)
			} else {
				err = t.addHistogramDataPoint(it.f.b, promName)
			}
		case mkExpHist:
			err = t.addExponentialHistogramDataPoint(it.f.b, promName)
		case mkSummary:
			err = t.addSummaryDataPoint(it.f.b, promName)
		}
		if err != nil {
			// The metric's remaining points are skipped, as upstream.
			if t.app.fatal == nil {
				t.errs = append(t.errs, err)
			}
			break
		}
	}
	return earliest, latest
}

// pointTimestamp is the time_unix_nano (field 3 in every kind of data point).
func pointTimestamp(dp []byte, _ int) uint64 {
	var ts uint64
	it := wireFields{buf: dp}
	for it.next() {
		if it.f.num == 3 && it.f.wt == wtI64 {
			ts = it.f.u
		}
	}
	return ts
}

// convertTimeStamp converts an OTLP timestamp in ns to one in ms.
func convertTimeStamp(ts uint64) int64 { return int64(ts) / 1_000_000 }

// exemplarsError is getPromExemplars's error: an exemplar without a value. Vigil stores no
// exemplars; the error still drops the rest of the metric, as upstream.
func exemplarsError(exemplars [][]byte) error {
	for _, ex := range exemplars {
		hasValue := false
		it := wireFields{buf: ex}
		for it.next() {
			if it.f.num == 3 || it.f.num == 6 {
				hasValue = true
			}
		}
		if !hasValue {
			return fmt.Errorf("unsupported exemplar value type: %v", "Empty")
		}
	}
	return nil
}

// numberPoint is a NumberDataPoint's or another data point's common fields.
type otlpPoint struct {
	ts, start uint64
	flags     uint32
	value     float64 // gauge and sum
	count     uint64
	sum       float64
	hasSum    bool
	scale     int32
	zeroCount uint64
	pos, neg  []byte // exponential histogram Buckets
	exemplars [][]byte
	quantiles [][]byte
}

func (p *otlpPoint) stale() bool { return p.flags&1 != 0 }

// readPoint reads a data point: attributes (field attrField) into t.attrs, bucket counts and
// bounds of histogram points into t.counts and t.bounds.
func (t *otlpTranslator) readPoint(dp []byte, kind int) otlpPoint {
	var p otlpPoint
	t.attrs, t.counts, t.bounds = t.attrs[:0], t.counts[:0], t.bounds[:0]
	attrField, flagsField, exemplarField := int32(7), int32(8), int32(5)
	switch kind {
	case mkHistogram:
		attrField, flagsField, exemplarField = 9, 10, 8
	case mkExpHist:
		attrField, flagsField, exemplarField = 1, 10, 11
	case mkSummary:
		exemplarField = -1
	}
	it := wireFields{buf: dp}
	for it.next() {
		f := it.f
		switch f.num {
		case attrField:
			k, v := keyValue(f.b)
			t.attrs = append(t.attrs, wireKV{k, v})
			continue
		case flagsField:
			p.flags = uint32(f.u)
			continue
		case exemplarField:
			p.exemplars = append(p.exemplars, f.b)
			continue
		case 2:
			p.start = f.u
			continue
		case 3:
			p.ts = f.u
			continue
		}
		switch kind {
		case mkGauge, mkSum:
			switch f.num {
			case 4:
				p.value = math.Float64frombits(f.u)
			case 6:
				p.value = float64(int64(f.u))
			}
		case mkHistogram:
			switch f.num {
			case 4:
				p.count = f.u
			case 5:
				p.sum, p.hasSum = math.Float64frombits(f.u), true
			case 6:
				if f.wt == wtLen {
					t.counts = t.counts[:0]
					for i := 0; i+8 <= len(f.b); i += 8 {
						u, _, _ := wireI64(f.b, i)
						t.counts = append(t.counts, u)
					}
				} else {
					t.counts = append(t.counts, f.u)
				}
			case 7:
				if f.wt == wtLen {
					t.bounds = t.bounds[:0]
					for i := 0; i+8 <= len(f.b); i += 8 {
						u, _, _ := wireI64(f.b, i)
						t.bounds = append(t.bounds, math.Float64frombits(u))
					}
				} else {
					t.bounds = append(t.bounds, math.Float64frombits(f.u))
				}
			}
		case mkExpHist:
			switch f.num {
			case 4:
				p.count = f.u
			case 5:
				p.sum, p.hasSum = math.Float64frombits(f.u), true
			case 6:
				p.scale = int32(uint32(f.u>>1) ^ uint32(int32((f.u&1)<<31)>>31))
			case 7:
				p.zeroCount = f.u
			case 8:
				p.pos = f.b
			case 9:
				p.neg = f.b
			}
		case mkSummary:
			switch f.num {
			case 4:
				p.count = f.u
			case 5:
				p.sum = math.Float64frombits(f.u)
			case 6:
				p.quantiles = append(p.quantiles, f.b)
			}
		}
	}
	return p
}

func staleOr(p *otlpPoint, v float64) float64 {
	if p.stale() {
		return math.Float64frombits(value.StaleNaN)
	}
	return v
}

func (t *otlpTranslator) addNumberDataPoint(dp []byte, promName string, isSum bool) error {
	p := t.readPoint(dp, mkGauge)
	lbls, err := t.createAttributes(t.attrs, otlpReservedLabelNames, model.MetricNameLabel, promName)
	if err != nil {
		return err
	}
	val := staleOr(&p, p.value)
	if isSum {
		if err := exemplarsError(p.exemplars); err != nil {
			return err
		}
	}
	return t.app.appendFloat(lbls, convertTimeStamp(p.ts), val)
}

func (t *otlpTranslator) addHistogramDataPoint(dp []byte, promName string) error {
	p := t.readPoint(dp, mkHistogram)
	ts := convertTimeStamp(p.ts)
	base, err := t.createAttributes(t.attrs, otlpReservedLabelNames)
	if err != nil {
		return err
	}
	if p.hasSum {
		if err := t.app.appendFloat(t.addLabels(promName+"_sum", base), ts, staleOr(&p, p.sum)); err != nil {
			return err
		}
	}
	if err := t.app.appendFloat(t.addLabels(promName+"_count", base), ts, staleOr(&p, float64(p.count))); err != nil {
		return err
	}
	if err := exemplarsError(p.exemplars); err != nil {
		return err
	}
	var cumulative uint64
	bucket := promName + "_bucket"
	for i := 0; i < len(t.bounds) && i < len(t.counts); i++ {
		cumulative += t.counts[i]
		le := strconv.FormatFloat(t.bounds[i], 'f', -1, 64)
		if err := t.app.appendFloat(t.addLabels(bucket, base, model.BucketLabel, le), ts, staleOr(&p, float64(cumulative))); err != nil {
			return err
		}
	}
	return t.app.appendFloat(t.addLabels(bucket, base, model.BucketLabel, "+Inf"), ts, staleOr(&p, float64(p.count)))
}

func (t *otlpTranslator) addSummaryDataPoint(dp []byte, promName string) error {
	p := t.readPoint(dp, mkSummary)
	ts := convertTimeStamp(p.ts)
	base, err := t.createAttributes(t.attrs, otlpReservedLabelNames)
	if err != nil {
		return err
	}
	if err := t.app.appendFloat(t.addLabels(promName+"_sum", base), ts, staleOr(&p, p.sum)); err != nil {
		return err
	}
	if err := t.app.appendFloat(t.addLabels(promName+"_count", base), ts, staleOr(&p, float64(p.count))); err != nil {
		return err
	}
	for _, q := range p.quantiles {
		var quantile, v float64
		it := wireFields{buf: q}
		for it.next() {
			switch it.f.num {
			case 1:
				quantile = math.Float64frombits(it.f.u)
			case 2:
				v = math.Float64frombits(it.f.u)
			}
		}
		qs := strconv.FormatFloat(quantile, 'f', -1, 64)
		if err := t.app.appendFloat(t.addLabels(promName, base, model.QuantileLabel, qs), ts, staleOr(&p, v)); err != nil {
			return err
		}
	}
	return nil
}

// addExponentialHistogramDataPoint is upstream's addExponentialHistogramDataPoints for one
// point: it becomes an integer native histogram (exponentialToNativeHistogram).
func (t *otlpTranslator) addExponentialHistogramDataPoint(dp []byte, promName string) error {
	p := t.readPoint(dp, mkExpHist)
	scale := p.scale
	if scale < histogram.ExponentialSchemaMin {
		return fmt.Errorf("cannot convert exponential to native histogram."+
			" Scale must be >= %d, was %d", histogram.ExponentialSchemaMin, scale)
	}
	var scaleDown int32
	if scale > histogram.ExponentialSchemaMax {
		scaleDown = scale - histogram.ExponentialSchemaMax
		scale = histogram.ExponentialSchemaMax
	}
	posOffset, posCounts := t.readBuckets(p.pos)
	pSpans, pDeltas := convertBucketsLayout(posCounts, posOffset, scaleDown, true)
	negOffset, negCounts := t.readBuckets(p.neg)
	nSpans, nDeltas := convertBucketsLayout(negCounts, negOffset, scaleDown, true)
	h := &histogram.Histogram{
		// Delta temporality is refused before the points: the hint is always unknown.
		CounterResetHint: histogram.UnknownCounterReset,
		Schema:           scale,
		ZeroThreshold:    otlpDefaultZeroThreshold,
		ZeroCount:        p.zeroCount,
		PositiveSpans:    pSpans,
		PositiveBuckets:  pDeltas,
		NegativeSpans:    nSpans,
		NegativeBuckets:  nDeltas,
	}
	t.setHistogramSumCount(h, &p, "exponential histogram")
	lbls, err := t.createAttributes(t.attrs, otlpReservedLabelNames, model.MetricNameLabel, promName)
	if err != nil {
		return err
	}
	if err := exemplarsError(p.exemplars); err != nil {
		return err
	}
	return t.app.appendNativeHistogram(lbls, convertTimeStamp(p.ts), h)
}

// otlpDefaultZeroThreshold is upstream's defaultZeroThreshold (OTLP's zero_threshold is not
// used, as upstream).
const otlpDefaultZeroThreshold = 1e-128

// setHistogramSumCount sets h's sum and count from the point as upstream: StaleNaN for a point
// without a recorded value, and a warning for a zero count with a non-zero sum.
func (t *otlpTranslator) setHistogramSumCount(h *histogram.Histogram, p *otlpPoint, what string) {
	if p.stale() {
		h.Sum = math.Float64frombits(value.StaleNaN)
		h.Count = value.StaleNaN
		return
	}
	if p.hasSum {
		h.Sum = p.sum
	}
	h.Count = p.count
	if p.count == 0 && h.Sum != 0 {
		t.warn(warnHistogramZeroCountNonZeroSum, "%s data point has zero count, but non-zero sum: %f", what, h.Sum)
	}
}

// readBuckets reads an exponential histogram's Buckets (offset, bucket_counts packed or not)
// into t.counts.
func (t *otlpTranslator) readBuckets(b []byte) (int32, []uint64) {
	var offset int32
	t.counts = t.counts[:0]
	it := wireFields{buf: b}
	for it.next() {
		switch it.f.num {
		case 1:
			offset = int32(uint32(it.f.u>>1) ^ uint32(int32((it.f.u&1)<<31)>>31))
		case 2:
			if it.f.wt != wtLen {
				t.counts = append(t.counts, it.f.u)
				continue
			}
			for pos := 0; pos < len(it.f.b); {
				u, n, err := wireVarint(it.f.b, pos)
				if err != nil {
					break
				}
				t.counts = append(t.counts, u)
				pos = n
			}
		}
	}
	return offset, t.counts
}

// addCustomBucketsHistogramDataPoint is convert_histograms_to_nhcb: upstream's
// explicitHistogramToCustomBucketsHistogram, a native histogram with custom buckets (the
// explicit bounds) for the point.
func (t *otlpTranslator) addCustomBucketsHistogramDataPoint(dp []byte, promName string) error {
	p := t.readPoint(dp, mkHistogram)
	offset := 0
	for offset < len(t.counts) && t.counts[offset] == 0 {
		offset++
	}
	spans, deltas := convertBucketsLayout(t.counts[offset:], int32(offset), 0, false)
	h := &histogram.Histogram{
		CounterResetHint: histogram.UnknownCounterReset,
		Schema:           histogram.CustomBucketsSchema,
		PositiveSpans:    spans,
		PositiveBuckets:  deltas,
		CustomValues:     slices.Clone(t.bounds),
	}
	t.setHistogramSumCount(h, &p, "histogram")
	lbls, err := t.createAttributes(t.attrs, otlpReservedLabelNames, model.MetricNameLabel, promName)
	if err != nil {
		return err
	}
	if err := exemplarsError(p.exemplars); err != nil {
		return err
	}
	return t.app.appendNativeHistogram(lbls, convertTimeStamp(p.ts), h)
}

// convertBucketsLayout is upstream's: OTLP's dense bucket counts (from offset) as a native
// histogram's spans and deltas, 2^scaleDown buckets merged into one. adjustOffset shifts the
// indexes by one (OTLP's exponential bucket 0 is (1, base], Prometheus's (base^-1, 1]); custom
// buckets are not shifted.
func convertBucketsLayout(bucketCounts []uint64, offset, scaleDown int32, adjustOffset bool) ([]histogram.Span, []int64) {
	if len(bucketCounts) == 0 {
		return nil, nil
	}
	var (
		spans     []histogram.Span
		deltas    []int64
		count     int64
		prevCount int64
	)
	appendDelta := func(count int64) {
		spans[len(spans)-1].Length++
		deltas = append(deltas, count-prevCount)
		prevCount = count
	}
	numBuckets := len(bucketCounts)
	bucketIdx := offset>>scaleDown + 1
	initialOffset := offset
	if adjustOffset {
		initialOffset = initialOffset>>scaleDown + 1
	}
	spans = append(spans, histogram.Span{Offset: initialOffset})
	for i := range numBuckets {
		nextBucketIdx := (int32(i)+offset)>>scaleDown + 1
		if bucketIdx == nextBucketIdx { // Not enough buckets collected to merge yet.
			count += int64(bucketCounts[i])
			continue
		}
		if count == 0 {
			count = int64(bucketCounts[i])
			continue
		}
		gap := nextBucketIdx - bucketIdx - 1
		if gap > 2 {
			// A gap of more than two buckets starts a new span (client_golang's makeBuckets).
			spans = append(spans, histogram.Span{Offset: gap})
		} else {
			for range gap {
				appendDelta(0)
			}
		}
		appendDelta(count)
		count = int64(bucketCounts[i])
		bucketIdx = nextBucketIdx
	}
	// The last item's index, scaled and adjusted by one as above.
	gap := (int32(numBuckets)+offset-1)>>scaleDown + 1 - bucketIdx
	if gap > 2 {
		spans = append(spans, histogram.Span{Offset: gap})
	} else {
		for range gap {
			appendDelta(0)
		}
	}
	appendDelta(count)
	return spans, deltas
}

// createAttributes is upstream's: the attributes sorted by key (those in ignore left out),
// names sanitized (values of names that collide joined with ';'), then the promoted resource
// attributes, job and instance, the scope labels and the extras.
func (t *otlpTranslator) createAttributes(attrs []wireKV, ignore []string, extras ...string) (labels.Labels, error) {
	return t.createAttributesPromoting(attrs, ignore, true, extras...)
}

func (t *otlpTranslator) createAttributesPromoting(attrs []wireKV, ignore []string, promote bool, extras ...string) (labels.Labels, error) {
	if ls, ok, err := t.createAttributesUnique(attrs, ignore, promote, extras...); ok {
		return ls, err
	}
	t.baseUnique = false
	t.scratch.Reset()
	for _, a := range attrs {
		if !slices.Contains(ignore, string(a.key)) {
			t.scratch.Add(string(a.key), anyValueString(a.value))
		}
	}
	t.scratch.Sort()
	sorted := t.scratch.Labels()
	if t.settings.allowUTF8 {
		t.builder.Reset(sorted)
	} else {
		t.builder.Reset(labels.EmptyLabels())
		var sortErr error
		sorted.Range(func(l labels.Label) {
			if sortErr != nil {
				return
			}
			finalKey, err := t.buildLabelName(l.Name)
			if err != nil {
				sortErr = err
				return
			}
			if existing := t.builder.Get(finalKey); existing != "" {
				var names []string
				sorted.Range(func(l labels.Label) { names = append(names, l.Name) })
				t.recordLabelCollision(names, finalKey)
				t.builder.Set(finalKey, existing+";"+l.Value)
			} else {
				t.builder.Set(finalKey, l.Value)
			}
		})
		if sortErr != nil {
			return labels.EmptyLabels(), sortErr
		}
	}
	if promote {
		t.promoted.Range(func(l labels.Label) {
			if t.builder.Get(l.Name) == "" {
				t.builder.Set(l.Name, l.Value)
			}
		})
	}
	if t.jobLabel != "" {
		t.builder.Set(model.JobLabel, t.jobLabel)
	}
	if t.instanceLabel != "" {
		t.builder.Set(model.InstanceLabel, t.instanceLabel)
	}
	if t.hasScope {
		t.scopeAttrs.Range(func(l labels.Label) { t.builder.Set(l.Name, l.Value) })
		t.builder.Set("otel_scope_name", t.scopeName)
		t.builder.Set("otel_scope_version", t.scopeVersion)
		t.builder.Set("otel_scope_schema_url", t.scopeSchemaURL)
	}
	for i := 0; i+1 < len(extras); i += 2 {
		name := extras[i]
		if len(name) <= 4 || name[:2] != "__" || name[len(name)-2:] != "__" {
			var err error
			if name, err = t.buildLabelName(name); err != nil {
				return labels.EmptyLabels(), err
			}
		}
		t.builder.Set(name, extras[i+1])
	}
	return t.builder.Labels(), nil
}

// recordLabelCollision warns, once per label name and request, of the attributes whose
// names collide as finalKey.
func (t *otlpTranslator) recordLabelCollision(sortedNames []string, finalKey string) {
	if _, ok := t.recordedCollisions[finalKey]; ok {
		return
	}
	var keys strings.Builder
	for _, n := range sortedNames {
		if name, err := t.buildLabelName(n); err != nil || name != finalKey {
			continue
		}
		if keys.Len() > 0 {
			keys.WriteString(", ")
		}
		fmt.Fprintf(&keys, "%q", n)
	}
	source := "data point"
	if t.fromResource {
		source = "resource"
	}
	t.warn(warnLabelNameCollision,
		"OTLP %s attributes %s collide as label %q after name sanitization, values are concatenated with ';'",
		source, keys.String(), finalKey)
	if t.recordedCollisions == nil {
		t.recordedCollisions = make(map[string]struct{}, 4)
	}
	t.recordedCollisions[finalKey] = struct{}{}
}

// addLabels is baseLabels with __name__=name and the extra pairs.
func (t *otlpTranslator) addLabels(name string, base labels.Labels, extras ...string) labels.Labels {
	if t.baseUnique {
		// base is t.base's labels: the same result, without a Builder.
		t.set = append(t.set[:0], t.base...)
		for i := 0; i+1 < len(extras); i += 2 {
			t.setLabel(extras[i], extras[i+1])
		}
		t.setLabel(model.MetricNameLabel, name)
		return t.setLabels()
	}
	t.builder.Reset(base)
	for i := 0; i+1 < len(extras); i += 2 {
		t.builder.Set(extras[i], extras[i+1])
	}
	t.builder.Set(model.MetricNameLabel, name)
	return t.builder.Labels()
}

// addResourceTargetInfo adds target_info for the resource, from earliest to latest every
// half lookback delta.
func (t *otlpTranslator) addResourceTargetInfo(earliest, latest time.Time) error {
	nonIdentifying := len(t.resourceAttrs)
	for _, a := range otlpIdentifyingAttrs {
		if _, ok := getAttr(t.resourceAttrs, a); ok {
			nonIdentifying--
		}
	}
	if nonIdentifying == 0 {
		return nil
	}
	ignore := otlpIdentifyingAttrs
	if t.settings.keepIdentifying {
		ignore = nil
	}
	savedScope := t.hasScope
	t.hasScope, t.fromResource = false, true
	lbls, err := t.createAttributesPromoting(t.resourceAttrs, ignore, false, model.MetricNameLabel, otlpTargetInfo)
	t.hasScope, t.fromResource = savedScope, false
	if err != nil {
		return err
	}
	if !lbls.Has(model.JobLabel) && !lbls.Has(model.InstanceLabel) {
		return nil
	}
	lookback := t.settings.lookbackDelta
	if lookback == 0 {
		lookback = otlpDefaultLookbackDelta
	}
	interval := lookback / 2
	hash := lbls.Hash()
	for ts := earliest; ts.Before(latest); ts = ts.Add(interval) {
		key := otlpTargetInfoKey{hash, ts.UnixMilli()}
		if _, ok := t.seen[key]; ok {
			continue
		}
		t.seen[key] = struct{}{}
		if err := t.app.appendFloat(lbls, key.timestamp, 1); err != nil {
			return err
		}
	}
	key := otlpTargetInfoKey{hash, latest.UnixMilli()}
	if _, ok := t.seen[key]; ok {
		return nil
	}
	t.seen[key] = struct{}{}
	return t.app.appendFloat(lbls, key.timestamp, 1)
}

// createAttributesUnique is createAttributes for attributes whose keys are all different (ok
// false otherwise, and createAttributes then follows upstream's Builder steps, whose result
// with repeated keys depends on their order after an unstable sort). With distinct keys a
// labels.Builder is a map from name to value where setting an empty value deletes: that map
// is t.set, kept in t.base for addLabels. Names and values point into the request body until
// the labels are built (they are copied into them).
func (t *otlpTranslator) createAttributesUnique(attrs []wireKV, ignore []string, promote bool, extras ...string) (ls labels.Labels, ok bool, err error) {
	t.pairs = t.pairs[:0]
	for _, a := range attrs {
		key := bytesString(a.key)
		if !slices.Contains(ignore, key) {
			t.pairs = append(t.pairs, labels.Label{Name: key, Value: anyValueStringNoCopy(a.value)})
		}
	}
	slices.SortFunc(t.pairs, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(t.pairs); i++ {
		if t.pairs[i].Name == t.pairs[i-1].Name {
			return labels.EmptyLabels(), false, nil
		}
	}
	t.set = t.set[:0]
	if t.settings.allowUTF8 {
		for _, l := range t.pairs {
			t.setLabel(l.Name, l.Value)
		}
	} else {
		for _, l := range t.pairs {
			finalKey, err := t.buildLabelName(l.Name)
			if err != nil {
				t.baseUnique = false
				return labels.EmptyLabels(), true, err
			}
			if existing := t.getLabel(finalKey); existing != "" {
				names := make([]string, len(t.pairs))
				for i, p := range t.pairs {
					names[i] = p.Name
				}
				t.recordLabelCollision(names, finalKey)
				t.setLabel(finalKey, existing+";"+l.Value)
			} else {
				t.setLabel(finalKey, l.Value)
			}
		}
	}
	if promote {
		t.promoted.Range(func(l labels.Label) {
			if t.getLabel(l.Name) == "" {
				t.setLabel(l.Name, l.Value)
			}
		})
	}
	if t.jobLabel != "" {
		t.setLabel(model.JobLabel, t.jobLabel)
	}
	if t.instanceLabel != "" {
		t.setLabel(model.InstanceLabel, t.instanceLabel)
	}
	if t.hasScope {
		t.scopeAttrs.Range(func(l labels.Label) { t.setLabel(l.Name, l.Value) })
		t.setLabel("otel_scope_name", t.scopeName)
		t.setLabel("otel_scope_version", t.scopeVersion)
		t.setLabel("otel_scope_schema_url", t.scopeSchemaURL)
	}
	for i := 0; i+1 < len(extras); i += 2 {
		name := extras[i]
		if len(name) <= 4 || name[:2] != "__" || name[len(name)-2:] != "__" {
			if name, err = t.buildLabelName(name); err != nil {
				t.baseUnique = false
				return labels.EmptyLabels(), true, err
			}
		}
		t.setLabel(name, extras[i+1])
	}
	t.base = append(t.base[:0], t.set...)
	t.baseUnique = true
	return t.setLabels(), true, nil
}

func (t *otlpTranslator) getLabel(name string) string {
	for _, l := range t.set {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

// setLabel is labels.Builder.Set on t.set: an empty value deletes.
func (t *otlpTranslator) setLabel(name, value string) {
	for i := range t.set {
		if t.set[i].Name == name {
			if value == "" {
				t.set = slices.Delete(t.set, i, i+1)
			} else {
				t.set[i].Value = value
			}
			return
		}
	}
	if value != "" {
		t.set = append(t.set, labels.Label{Name: name, Value: value})
	}
}

// setLabels builds t.set's labels (sorted, copied).
func (t *otlpTranslator) setLabels() labels.Labels {
	slices.SortFunc(t.set, func(a, b labels.Label) int { return strings.Compare(a.Name, b.Name) })
	t.scratch.Reset()
	for _, l := range t.set {
		t.scratch.Add(l.Name, l.Value)
	}
	return t.scratch.Labels()
}

// bytesString is b as a string without a copy: b must not change while it is used.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// anyValueStringNoCopy is anyValueString, a string value pointing into b.
func anyValueStringNoCopy(b []byte) string {
	kind, _, p := anyValueKind(b)
	if kind == avStr {
		return bytesString(p)
	}
	return anyValueString(b)
}
