package v1

import (
	"bytes"

	"errors"
	"fmt"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	otlptranslator "github.com/prometheus/prometheus/storage/remote/otlptranslator/prometheusremotewrite"

	"github.com/vigil-monitoring/vigil/config"
)

// maxOTLPBodySize is Prometheus's limit on an OTLP request body (decodeReadLimit), applied to
// the body as sent and, for gzip, to the decompressed body as well; larger is answered 413.
const maxOTLPBodySize = 32 << 20

// OTLP/HTTP content types (the OTLP specification's, which Prometheus accepts).
const (
	otlpProtobuf = "application/x-protobuf"
	otlpJSON     = "application/json"
)

// otlpReceiver is the state of POST /api/v1/otlp/v1/metrics: the upstream translator's
// converters (pooled, as Prometheus pools them) and the receiver's metrics.
type otlpReceiver struct {
	converters sync.Pool
	// warnings is Prometheus's prometheus_api_otlp_translation_warnings_total.
	warnings *prometheus.CounterVec
	// refused counts data points translated but not stored, by reason.
	refused *prometheus.CounterVec
}

func newOTLPReceiver(reg prometheus.Registerer) *otlpReceiver {
	r := &otlpReceiver{
		converters: sync.Pool{New: func() any { return otlptranslator.NewPrometheusConverter(nil) }},
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prometheus_api_otlp_translation_warnings_total",
			Help: "The total number of warnings produced while translating OTLP metrics to the Prometheus model, by category.",
		}, []string{"category"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_otlp_refused_samples_total",
			Help: "The total number of samples translated from OTLP that were not stored, by reason.",
		}, []string{"reason"}),
	}
	for _, reason := range otlpRefusalReasons {
		r.refused.WithLabelValues(reason)
	}
	if reg != nil {
		reg.MustRegister(r.warnings, r.refused)
	}
	return r
}

// otlpDecodeError is a request the receiver cannot decode, with the status to answer.
type otlpDecodeError struct {
	code int
	err  error
}

func (e *otlpDecodeError) Error() string { return e.err.Error() }

// otlpBuffers keeps request body buffers across requests: pdata copies every string and byte
// field out of the body when it decodes, so a body's buffer is free once decoded.
var otlpBuffers sync.Pool

// maxPooledOTLPBuffer: larger buffers (a rare big request) are left to the GC.
const maxPooledOTLPBuffer = 4 << 20

func getOTLPBuffer() *[]byte {
	if b, ok := otlpBuffers.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func putOTLPBuffer(b *[]byte) {
	if cap(*b) <= maxPooledOTLPBuffer {
		otlpBuffers.Put(b)
	}
}

// gzipReaders keeps gzip readers (and their decompression windows) across requests.
var gzipReaders sync.Pool

// readOTLPRequest reads and decodes an OTLP/HTTP metrics export request: protobuf or JSON
// (by Content-Type, else 415), plain or gzip (by Content-Encoding, else 415), at most
// maxOTLPBodySize bytes before and after decompression (else 413).
func readOTLPRequest(r *http.Request) (pmetric.Metrics, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != otlpProtobuf && mt != otlpJSON) {
		return pmetric.Metrics{}, &otlpDecodeError{http.StatusUnsupportedMediaType,
			fmt.Errorf("unsupported content type %q, supported: [%s, %s]", r.Header.Get("Content-Type"), otlpJSON, otlpProtobuf)}
	}
	enc := r.Header.Get("Content-Encoding")
	if enc != "" && enc != "gzip" {
		return pmetric.Metrics{}, &otlpDecodeError{http.StatusUnsupportedMediaType,
			fmt.Errorf("unsupported content encoding %q: only gzip or no compression is accepted", enc)}
	}
	raw := getOTLPBuffer()
	defer putOTLPBuffer(raw)
	body, err := readLimitedInto(*raw, r.Body, r.ContentLength, maxOTLPBodySize)
	*raw = body
	if err != nil {
		return pmetric.Metrics{}, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("reading request body: %w", err)}
	}
	if len(body) > maxOTLPBodySize {
		return pmetric.Metrics{}, &otlpDecodeError{http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds the %d bytes limit", maxOTLPBodySize)}
	}
	if enc == "gzip" {
		gr, _ := gzipReaders.Get().(*gzip.Reader)
		if gr == nil {
			gr = new(gzip.Reader)
		}
		defer gzipReaders.Put(gr)
		if err := gr.Reset(bytes.NewReader(body)); err != nil {
			return pmetric.Metrics{}, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("decoding gzip body: %w", err)}
		}
		plain := getOTLPBuffer()
		defer putOTLPBuffer(plain)
		body, err = readLimitedInto(*plain, gr, 0, maxOTLPBodySize)
		*plain = body
		if err != nil {
			return pmetric.Metrics{}, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("decoding gzip body: %w", err)}
		}
		if len(body) > maxOTLPBodySize {
			return pmetric.Metrics{}, &otlpDecodeError{http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body exceeds the %d bytes limit", maxOTLPBodySize)}
		}
	}
	md, err := decodeOTLPMetrics(body, mt)
	if err != nil {
		return pmetric.Metrics{}, &otlpDecodeError{http.StatusBadRequest, err}
	}
	return md, nil
}

// decodeOTLPMetrics decodes an ExportMetricsServiceRequest in the given media type
// (otlpProtobuf or otlpJSON) with the OpenTelemetry Collector's pdata, as Prometheus does.
func decodeOTLPMetrics(body []byte, mediaType string) (pmetric.Metrics, error) {
	req := pmetricotlp.NewExportRequest()
	var err error
	switch mediaType {
	case otlpProtobuf:
		err = req.UnmarshalProto(body)
	case otlpJSON:
		err = req.UnmarshalJSON(body)
	default:
		return pmetric.Metrics{}, fmt.Errorf("unsupported content type %q", mediaType)
	}
	if err != nil {
		return pmetric.Metrics{}, fmt.Errorf("decoding OTLP metrics request: %w", err)
	}
	return req.Metrics(), nil
}

// translationSettings are the upstream translator's settings for the otlp block, built as
// Prometheus's OTLP handler builds them. Delta temporality is not allowed: such metrics are
// refused, as Prometheus refuses them without its otlp-deltatocumulative or
// otlp-native-delta-ingestion feature flags.
func translationSettings(c config.OTLPConfig, lookbackDelta time.Duration) otlptranslator.Settings {
	return otlptranslator.Settings{
		AddMetricSuffixes:                    c.TranslationStrategy.ShouldAddSuffixes(),
		AllowUTF8:                            !c.TranslationStrategy.ShouldEscape(),
		PromoteResourceAttributes:            otlptranslator.NewPromoteResourceAttributes(c),
		KeepIdentifyingResourceAttributes:    c.KeepIdentifyingResourceAttributes,
		ConvertHistogramsToNHCB:              c.ConvertHistogramsToNHCB,
		PromoteScopeMetadata:                 c.PromoteScopeMetadata,
		LookbackDelta:                        lookbackDelta,
		LabelNameUnderscoreSanitization:      c.LabelNameUnderscoreSanitization,
		LabelNamePreserveMultipleUnderscores: c.LabelNamePreserveMultipleUnderscores,
	}
}

// otlpWrite is POST /api/v1/otlp/v1/metrics, Prometheus's OTLP/HTTP metrics receiver. The
// request is translated by Prometheus's own translator (names, units, resource attributes and
// target_info, job and instance from the service attributes) into Vigil's appender. As with
// remote write, what storage or the translator refuses (out of order or duplicate points,
// invalid labels, delta temporality, exponential histograms) is skipped and the valid rest is
// committed; the answer is then 400 with the reasons, so that the exporter does not retry a
// batch whose good points are stored. Prometheus rolls the whole request back instead (and
// answers 500 for a delta metric). Storage failures roll back and answer 500.
func (a *API) otlpWrite(w http.ResponseWriter, r *http.Request) {
	if !a.opts.EnableOTLP || a.opts.Appendable == nil {
		http.Error(w, "otlp write receiver needs to be enabled with --web.enable-otlp-receiver", http.StatusNotFound)
		return
	}
	release, err := a.writes.acquire(r.Context())
	if err != nil {
		if errors.Is(err, errWriteBusy) {
			a.logger.Warn("OTLP write request refused", "err", err)
			http.Error(w, "too many concurrent write requests, retry later", http.StatusServiceUnavailable)
		}
		return
	}
	defer release()
	md, err := readOTLPRequest(r)
	if err != nil {
		var de *otlpDecodeError
		code := http.StatusBadRequest
		if errors.As(err, &de) {
			code = de.code
		}
		a.logger.Warn("Error decoding OTLP write request", "code", code, "err", err)
		http.Error(w, err.Error(), code)
		return
	}
	cfg := config.DefaultOTLPConfig
	if a.opts.OTLPConfig != nil {
		cfg = a.opts.OTLPConfig()
	}
	refused, err := a.appendOTLP(r, md, translationSettings(cfg, a.opts.LookbackDelta))
	if err != nil {
		a.logger.Warn("OTLP write request failed", "code", http.StatusInternalServerError, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if refused.count > 0 {
		a.logger.Warn("OTLP data points refused, the rest written", "refused", refused.count, "err", refused.err())
		http.Error(w, refused.err().Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// appendOTLP translates md into Vigil's appender and commits what was accepted. refused
// lists the data points and metrics not stored; an error is a storage failure (nothing
// committed).
func (a *API) appendOTLP(r *http.Request, md pmetric.Metrics, settings otlptranslator.Settings) (refused refusedSamples, err error) {
	recv := a.otlp
	app := newOTLPAppender(a.opts.Appendable.Appender(r.Context()), time.Now().Add(maxAheadTime).UnixMilli())
	conv := recv.converters.Get().(*otlptranslator.PrometheusConverter)
	conv.Reset(app)
	defer func() {
		conv.Reset(nil)
		recv.converters.Put(conv)
	}()
	annots, convErr := conv.FromMetrics(r.Context(), md, settings)
	if app.fatal != nil {
		_ = app.Rollback()
		return refused, app.fatal
	}
	if err := r.Context().Err(); err != nil {
		_ = app.Rollback()
		return refused, fmt.Errorf("translating OTLP metrics: %w", err)
	}
	if err := app.Commit(); err != nil {
		return refused, fmt.Errorf("committing OTLP samples: %w", err)
	}
	for reason, n := range app.counts {
		recv.refused.WithLabelValues(reason).Add(float64(n))
	}
	if len(annots) > 0 {
		for category, n := range otlptranslator.CountWarningsByCategory(annots) {
			recv.warnings.WithLabelValues(string(category)).Add(float64(n))
		}
		ws, _ := annots.AsStrings("", 0, 0)
		a.logger.Warn("Warnings translating OTLP metrics to Prometheus write request", "warnings", ws)
	}
	refused = app.refused
	// The translator's errors are per metric (invalid temporality, names or attributes that
	// cannot be translated): that metric is skipped, the others are stored.
	if convErr != nil {
		for _, e := range unjoin(convErr) {
			recv.refused.WithLabelValues(reasonTranslation).Inc()
			refused.add(fmt.Errorf("%w: %w", errOTLPTranslation, e))
		}
	}
	return refused, nil
}

var errOTLPTranslation = errors.New("metric not translated")

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
