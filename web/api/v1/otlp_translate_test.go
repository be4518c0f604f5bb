package v1

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	upstream "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// The upstream translator (Prometheus 3.15's storage/remote/otlptranslator/
// prometheusremotewrite over pdata) is the oracle of Vigil's translator: for the same request
// and otlp config, both must store the same samples in the same order and refuse the same
// points, metrics and requests, with the same reasons and warnings.

// upstreamSettings are the upstream translator's settings for the otlp block, built as
// Prometheus's OTLP handler builds them.
func upstreamSettings(c config.OTLPConfig, lookbackDelta time.Duration) upstream.Settings {
	return upstream.Settings{
		AddMetricSuffixes:                    c.TranslationStrategy.ShouldAddSuffixes(),
		AllowUTF8:                            !c.TranslationStrategy.ShouldEscape(),
		PromoteResourceAttributes:            upstream.NewPromoteResourceAttributes(c),
		KeepIdentifyingResourceAttributes:    c.KeepIdentifyingResourceAttributes,
		ConvertHistogramsToNHCB:              c.ConvertHistogramsToNHCB,
		PromoteScopeMetadata:                 c.PromoteScopeMetadata,
		LookbackDelta:                        lookbackDelta,
		LabelNameUnderscoreSanitization:      c.LabelNameUnderscoreSanitization,
		LabelNamePreserveMultipleUnderscores: c.LabelNamePreserveMultipleUnderscores,
	}
}

// otlpAppenderV2 is the upstream storage.AppenderV2 over Vigil's otlpAppender.
type otlpAppenderV2 struct{ *otlpAppender }

var _ promstorage.AppenderV2 = otlpAppenderV2{}

func (a otlpAppenderV2) Append(_ promstorage.SeriesRef, ls labels.Labels, _, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, _ promstorage.AOptions) (promstorage.SeriesRef, error) {
	if fh != nil {
		return 0, errors.New("otlpAppenderV2: the OTLP translator makes integer histograms only")
	}
	if h != nil {
		return 0, a.appendNativeHistogram(ls, t, h)
	}
	return 0, a.appendFloat(ls, t, v)
}

// recordingAppendable records what is appended, in order, as committed or not.
type recordingAppendable struct {
	samples   []string
	committed bool
}

func (r *recordingAppendable) Appender(context.Context) storage.Appender { return recordingAppender{r} }

type recordingAppender struct{ r *recordingAppendable }

func (a recordingAppender) Append(_ storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.r.samples = append(a.r.samples, fmt.Sprintf("%s %d %x", ls.String(), t, math.Float64bits(v)))
	return 1, nil
}
func (a recordingAppender) Commit() error   { a.r.committed = true; return nil }
func (a recordingAppender) Rollback() error { return nil }

// otlpOutcome is everything a translation decides: the samples stored, the points refused
// (with the reasons, as answered), the metrics not translated and the warnings.
type otlpOutcome struct {
	Samples  []string
	Refused  string
	Counts   map[string]int
	Errors   []string
	Warnings map[string]string
}

const otlpTestMaxT = math.MaxInt64 / 2

// unjoin returns the errors joined in err (errors.Join), or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

func upstreamOutcome(t testing.TB, md pmetric.Metrics, cfg config.OTLPConfig, lookback time.Duration) otlpOutcome {
	store := &recordingAppendable{}
	app := newOTLPAppender(store.Appender(context.Background()), otlpTestMaxT)
	conv := upstream.NewPrometheusConverter(otlpAppenderV2{app})
	annots, err := conv.FromMetrics(context.Background(), md, upstreamSettings(cfg, lookback))
	out := otlpOutcome{Samples: store.samples, Counts: app.counts}
	if app.refused.count > 0 {
		out.Refused = app.refused.err().Error()
	}
	if err != nil {
		for _, e := range unjoin(err) {
			out.Errors = append(out.Errors, e.Error())
		}
	}
	for msg, e := range annots {
		if out.Warnings == nil {
			out.Warnings = map[string]string{}
		}
		out.Warnings[msg] = string(upstream.WarningCategoryOf(e))
	}
	return out
}

func vigilOutcome(t testing.TB, body []byte, cfg config.OTLPConfig, lookback time.Duration) otlpOutcome {
	store := &recordingAppendable{}
	app := newOTLPAppender(store.Appender(context.Background()), otlpTestMaxT)
	tr := newOTLPTranslator()
	tr.reset(app, newOTLPSettings(cfg, lookback))
	tr.translate(context.Background(), body)
	out := otlpOutcome{Samples: store.samples, Counts: app.counts, Warnings: tr.warnings}
	if app.refused.count > 0 {
		out.Refused = app.refused.err().Error()
	}
	for _, e := range tr.errs {
		out.Errors = append(out.Errors, e.Error())
	}
	return out
}

// compareOTLP translates body with both translators and fails on any difference. A body
// pdata refuses must be refused by validateOTLPRequest as well.
func compareOTLP(t *testing.T, body []byte, cfg config.OTLPConfig, lookback time.Duration) {
	t.Helper()
	req := pmetricotlp.NewExportRequest()
	upErr := req.UnmarshalProto(body)
	ourErr := validateOTLPRequest(body)
	if (upErr == nil) != (ourErr == nil) {
		t.Fatalf("decoding differs: pdata %v, Vigil %v", upErr, ourErr)
	}
	if upErr != nil {
		return
	}
	want := upstreamOutcome(t, req.Metrics(), cfg, lookback)
	got := vigilOutcome(t, body, cfg, lookback)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("config %+v\nupstream: %#v\nVigil:    %#v", cfg, want, got)
	}
}

var otlpTestStrategies = []otlptranslator.TranslationStrategyOption{
	otlptranslator.UnderscoreEscapingWithSuffixes, otlptranslator.UnderscoreEscapingWithoutSuffixes,
	otlptranslator.NoUTF8EscapingWithSuffixes, otlptranslator.NoTranslation,
}

// otlpTestConfigs are configs covering every option of the otlp block.
func otlpTestConfigs() []config.OTLPConfig {
	var out []config.OTLPConfig
	for i, s := range otlpTestStrategies {
		c := config.DefaultOTLPConfig
		c.TranslationStrategy = s
		out = append(out, c)
		c.PromoteResourceAttributes = []string{"k8s.cluster.name", "service.name", "a.b", "a_b"}
		c.KeepIdentifyingResourceAttributes = i%2 == 0
		c.PromoteScopeMetadata = true
		c.LabelNameUnderscoreSanitization = i%2 == 1
		c.LabelNamePreserveMultipleUnderscores = i%2 == 0
		out = append(out, c)
		c.PromoteResourceAttributes = nil
		c.PromoteAllResourceAttributes = true
		c.IgnoreResourceAttributes = []string{"k8s.pod.name"}
		c.ConvertHistogramsToNHCB = true
		c.KeepIdentifyingResourceAttributes = !c.KeepIdentifyingResourceAttributes
		out = append(out, c)
	}
	return out
}

func TestOTLPTranslatorMatchesUpstream(t *testing.T) {
	bodies := map[string][]byte{}
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addGauge(ms, "queue.depth", "{item}", 7, 0, "queue", "orders", "bad", "a\xffb")
	addGauge(ms, "collide", "", 1, 0, "a.b", "x", "a_b", "y", "__name__", "n", "le", "z", "_u", "v")
	addSum(ms, "http.server.requests", "", pmetric.AggregationTemporalityCumulative, 42, 0, -time.Second)
	addSum(ms, "deltas", "s", pmetric.AggregationTemporalityDelta, 1, 0)
	addHistogram(ms, "http.server.duration", "ms")
	addExpHistogram(ms, "latency")
	bodies["handler test payload"] = otlpProto(t, md)
	bodies["benchmark payload"] = mustGunzip(t, benchOTLPBody(t, 1, 3, otlpNow.Add(-time.Hour)))
	for seed := range 64 {
		bodies[fmt.Sprintf("generated %d", seed)] = otlpProto(t, genOTLPMetrics(newFuzzBytes(genSeed(seed))))
	}
	for name, body := range bodies {
		for i, cfg := range otlpTestConfigs() {
			t.Run(fmt.Sprintf("%s/config %d", name, i), func(t *testing.T) {
				compareOTLP(t, body, cfg, 5*time.Minute)
			})
		}
	}
}

func genSeed(seed int) []byte {
	b := make([]byte, 512)
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// FuzzOTLPFastPathMatchesUpstream: for generated requests (every metric kind, attribute value
// types, colliding and reserved names, invalid UTF-8, staleness flags, exemplars, odd
// temporalities and scales) or raw bytes, under a config the input chooses among every otlp
// option, Vigil's translator stores, refuses and warns exactly as the upstream one does.
func FuzzOTLPFastPathMatchesUpstream(f *testing.F) {
	for seed := range 8 {
		f.Add(genSeed(seed), false)
	}
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addGauge(ms, "queue.depth", "{item}", 7, 0, "queue", "orders")
	addHistogram(ms, "http.server.duration", "ms")
	f.Add(otlpProto(f, md), true)
	f.Fuzz(func(t *testing.T, data []byte, raw bool) {
		fb := newFuzzBytes(data)
		cfgs := otlpTestConfigs()
		cfg := cfgs[int(fb.byte())%len(cfgs)]
		lookback := time.Duration(fb.byte()%8) * time.Minute
		var body []byte
		if raw {
			body = data
			if otlpTargetInfoSpan(body) > 24*time.Hour {
				// Both write target_info every half lookback delta over the span: skip what
				// would take millions of samples (arbitrary bytes make arbitrary timestamps).
				t.Skip()
			}
		} else {
			body = otlpProto(t, genOTLPMetrics(fb))
		}
		compareOTLP(t, body, cfg, lookback)
	})
}

// fuzzBytes hands out the fuzz input's bytes (zeros once exhausted).
type fuzzBytes struct{ b []byte }

func newFuzzBytes(b []byte) *fuzzBytes { return &fuzzBytes{b} }

func (f *fuzzBytes) byte() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

func (f *fuzzBytes) n(max int) int { return int(f.byte()) % max }

func (f *fuzzBytes) u64() uint64 {
	var b [8]byte
	for i := range b {
		b[i] = f.byte()
	}
	return binary.LittleEndian.Uint64(b[:])
}

func (f *fuzzBytes) pick(s []string) string { return s[f.n(len(s))] }

var (
	fuzzKeys = []string{"service.name", "service.namespace", "service.instance.id", "k8s.cluster.name",
		"k8s.pod.name", "a.b", "a_b", "a__b", "__name__", "le", "quantile", "job", "instance", "_x",
		"__x__", "1abc", "", "über", "bad\xff", "http.route", "otel_scope_name", "x"}
	fuzzValues = []string{"", "v", "checkout", "shop", "pod-1", "a\xffb", "über", "a;b", "/api/v1"}
	fuzzNames  = []string{"http.server.duration", "queue.depth", "foo", "", "a\xffb", "bar_total",
		"1m", "requests", "über.metric", "x_bucket", "ratio"}
	fuzzUnits = []string{"", "s", "ms", "By", "{req}", "1", "%", "By/s", "m/s", "\xff"}
)

func (f *fuzzBytes) value(v pcommon.Value, depth int) {
	switch f.n(9) {
	case 0, 1, 2:
		v.SetStr(f.pick(fuzzValues))
	case 3:
		v.SetInt(int64(f.u64() >> f.n(64)))
	case 4:
		v.SetDouble(f.float())
	case 5:
		v.SetBool(f.n(2) == 0)
	case 6:
		v.SetEmptyBytes().FromRaw([]byte(f.pick(fuzzValues)))
	case 7:
		if depth < 2 {
			m := v.SetEmptyMap()
			for range f.n(3) {
				f.value(m.PutEmpty(f.pick(fuzzKeys)), depth+1)
			}
		}
	case 8:
		if depth < 2 {
			s := v.SetEmptySlice()
			for range f.n(3) {
				f.value(s.AppendEmpty(), depth+1)
			}
		}
	}
}

func (f *fuzzBytes) float() float64 {
	switch f.n(8) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1 - 2*f.n(2))
	case 2:
		return 0
	case 3:
		return 1e-7
	case 4:
		return 1e22
	default:
		return float64(int64(f.u64()>>40)) / 16
	}
}

func (f *fuzzBytes) attrs(m pcommon.Map, n int) {
	for range n {
		f.value(m.PutEmpty(f.pick(fuzzKeys)), 0)
	}
}

func (f *fuzzBytes) ts() pcommon.Timestamp {
	switch f.n(10) {
	case 0:
		// Far back: target_info is written every half lookback delta from the earliest
		// point of a resource to its latest (from 1970 that is millions of samples).
		return pcommon.NewTimestampFromTime(otlpNow.Add(-3 * time.Hour))
	case 1:
		return pcommon.NewTimestampFromTime(otlpNow.Add(time.Hour))
	default:
		return pcommon.NewTimestampFromTime(otlpNow.Add(-time.Duration(f.n(40)) * time.Minute))
	}
}

func (f *fuzzBytes) flags() pmetric.DataPointFlags {
	if f.n(6) == 0 {
		return pmetric.DefaultDataPointFlags.WithNoRecordedValue(true)
	}
	return pmetric.DefaultDataPointFlags
}

func (f *fuzzBytes) exemplars(s pmetric.ExemplarSlice) {
	for range f.n(3) / 2 {
		e := s.AppendEmpty()
		switch f.n(3) {
		case 0:
			e.SetDoubleValue(f.float())
		case 1:
			e.SetIntValue(3)
		}
	}
}

func (f *fuzzBytes) temporality() pmetric.AggregationTemporality {
	if f.n(6) == 0 {
		return pmetric.AggregationTemporality(f.n(3))
	}
	return pmetric.AggregationTemporalityCumulative
}

// genOTLPMetrics generates a request from the fuzz bytes.
func genOTLPMetrics(f *fuzzBytes) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for range 1 + f.n(3) {
		rm := md.ResourceMetrics().AppendEmpty()
		ra := rm.Resource().Attributes()
		if f.n(4) != 0 {
			ra.PutStr("service.name", f.pick(fuzzValues))
		}
		if f.n(3) == 0 {
			ra.PutStr("service.namespace", f.pick(fuzzValues))
		}
		if f.n(4) != 0 {
			ra.PutStr("service.instance.id", f.pick(fuzzValues))
		}
		f.attrs(ra, f.n(4))
		for range f.n(3) + 1 {
			sm := rm.ScopeMetrics().AppendEmpty()
			if f.n(3) != 0 {
				sm.Scope().SetName(f.pick(fuzzValues))
				sm.Scope().SetVersion(f.pick(fuzzValues))
				sm.SetSchemaUrl(f.pick([]string{"", "https://opentelemetry.io/schemas/1.26.0"}))
				f.attrs(sm.Scope().Attributes(), f.n(3))
			}
			for range f.n(6) {
				genOTLPMetric(f, sm.Metrics().AppendEmpty())
			}
		}
	}
	return md
}

func genOTLPMetric(f *fuzzBytes, m pmetric.Metric) {
	m.SetName(f.pick(fuzzNames))
	m.SetUnit(f.pick(fuzzUnits))
	points := f.n(4)
	switch f.n(7) {
	case 0:
		dps := m.SetEmptyGauge().DataPoints()
		for range points {
			genNumberPoint(f, dps.AppendEmpty())
		}
	case 1:
		s := m.SetEmptySum()
		s.SetIsMonotonic(f.n(3) != 0)
		s.SetAggregationTemporality(f.temporality())
		for range points {
			genNumberPoint(f, s.DataPoints().AppendEmpty())
		}
	case 2, 3:
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(f.temporality())
		for range points {
			dp := h.DataPoints().AppendEmpty()
			f.attrs(dp.Attributes(), f.n(4))
			dp.SetStartTimestamp(f.ts())
			dp.SetTimestamp(f.ts())
			dp.SetFlags(f.flags())
			nb := f.n(5)
			bounds := []float64{0.005, 0.1, 1, 2.5, 10}[:nb]
			dp.ExplicitBounds().FromRaw(bounds)
			var counts []uint64
			var total uint64
			for range nb + 1 - f.n(2) {
				c := uint64(f.n(10))
				counts = append(counts, c)
				total += c
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(total)
			if f.n(4) != 0 {
				dp.SetSum(f.float())
			}
			f.exemplars(dp.Exemplars())
		}
	case 4:
		h := m.SetEmptyExponentialHistogram()
		h.SetAggregationTemporality(f.temporality())
		for range points {
			dp := h.DataPoints().AppendEmpty()
			f.attrs(dp.Attributes(), f.n(4))
			dp.SetTimestamp(f.ts())
			dp.SetFlags(f.flags())
			dp.SetScale(int32(f.n(16)) - 6)
			dp.SetZeroCount(uint64(f.n(3)))
			total := dp.ZeroCount()
			for _, b := range []pmetric.ExponentialHistogramDataPointBuckets{dp.Positive(), dp.Negative()} {
				b.SetOffset(int32(f.n(20)) - 10)
				var counts []uint64
				for range f.n(12) {
					c := uint64(f.n(4))
					if f.n(4) == 0 {
						c = 0 // runs of empty buckets: gaps and new spans
					}
					counts = append(counts, c)
					total += c
				}
				b.BucketCounts().FromRaw(counts)
			}
			// Mostly the buckets' total (a valid histogram), sometimes not (one refused).
			if f.n(5) == 0 {
				total = uint64(f.n(3))
			}
			dp.SetCount(total)
			if f.n(3) != 0 {
				dp.SetSum(f.float())
			}
			f.exemplars(dp.Exemplars())
		}
	case 5:
		s := m.SetEmptySummary()
		for range points {
			dp := s.DataPoints().AppendEmpty()
			f.attrs(dp.Attributes(), f.n(4))
			dp.SetTimestamp(f.ts())
			dp.SetFlags(f.flags())
			dp.SetCount(uint64(f.n(100)))
			dp.SetSum(f.float())
			for range f.n(3) {
				q := dp.QuantileValues().AppendEmpty()
				q.SetQuantile([]float64{0.5, 0.9, 0.99, 1}[f.n(4)])
				q.SetValue(f.float())
			}
		}
	case 6:
		// No data: an empty metric type.
	}
}

func genNumberPoint(f *fuzzBytes, dp pmetric.NumberDataPoint) {
	f.attrs(dp.Attributes(), f.n(4))
	dp.SetStartTimestamp(f.ts())
	dp.SetTimestamp(f.ts())
	dp.SetFlags(f.flags())
	switch f.n(3) {
	case 0:
		dp.SetIntValue(int64(f.n(1000)))
	case 1:
		dp.SetDoubleValue(f.float())
	}
	f.exemplars(dp.Exemplars())
}

func TestValidateOTLPRequestMatchesPdata(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addHistogram(ms, "h", "s")
	addExpHistogram(ms, "e")
	body := otlpProto(t, md)
	for i := range len(body) {
		for _, b := range [][]byte{body[:i], append(slices.Clone(body[:i]), 0xff, 0x01)} {
			req := pmetricotlp.NewExportRequest()
			upErr, ourErr := req.UnmarshalProto(b), validateOTLPRequest(b)
			if (upErr == nil) != (ourErr == nil) {
				t.Fatalf("prefix %d: pdata %v, Vigil %v", i, upErr, ourErr)
			}
		}
	}
	if err := validateOTLPRequest(body); err != nil {
		t.Fatal(err)
	}
}

func mustGunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// otlpTargetInfoSpan is the longest span between a resource's earliest and latest point.
func otlpTargetInfoSpan(body []byte) time.Duration {
	req := pmetricotlp.NewExportRequest()
	if req.UnmarshalProto(body) != nil {
		return 0
	}
	var longest time.Duration
	rms := req.Metrics().ResourceMetrics()
	for i := range rms.Len() {
		lo, hi := uint64(math.MaxUint64), uint64(0)
		note := func(ts pcommon.Timestamp) { lo, hi = min(lo, uint64(ts)), max(hi, uint64(ts)) }
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for x := range m.Gauge().DataPoints().Len() {
						note(m.Gauge().DataPoints().At(x).Timestamp())
					}
				case pmetric.MetricTypeSum:
					for x := range m.Sum().DataPoints().Len() {
						note(m.Sum().DataPoints().At(x).Timestamp())
					}
				case pmetric.MetricTypeHistogram:
					for x := range m.Histogram().DataPoints().Len() {
						note(m.Histogram().DataPoints().At(x).Timestamp())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for x := range m.ExponentialHistogram().DataPoints().Len() {
						note(m.ExponentialHistogram().DataPoints().At(x).Timestamp())
					}
				case pmetric.MetricTypeSummary:
					for x := range m.Summary().DataPoints().Len() {
						note(m.Summary().DataPoints().At(x).Timestamp())
					}
				}
			}
		}
		if lo < hi && hi-lo > uint64(longest) {
			if hi-lo > math.MaxInt64 {
				return math.MaxInt64
			}
			longest = time.Duration(hi - lo)
		}
	}
	return longest
}

// AppendHistogram records an integer histogram with all its fields (the sum's and count's
// bits, so that stale markers are told from NaN).
func (a recordingAppender) AppendHistogram(_ storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if fh != nil {
		return 0, errors.New("recordingAppender: unexpected float histogram sample")
	}
	a.r.samples = append(a.r.samples, fmt.Sprintf("%s %d H sum=%x count=%d %+v", ls.String(), t, math.Float64bits(h.Sum), h.Count, *h))
	return 1, nil
}
