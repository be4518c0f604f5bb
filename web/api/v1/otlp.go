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
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

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

// otlpReceiver is the state of POST /api/v1/otlp/v1/metrics: translators (pooled) and the
// receiver's metrics.
type otlpReceiver struct {
	translators sync.Pool
	refs        *otlpRefCache
	// warnings is Prometheus's prometheus_api_otlp_translation_warnings_total.
	warnings *prometheus.CounterVec
	// refused counts data points translated but not stored, by reason.
	refused *prometheus.CounterVec
}

func newOTLPReceiver(reg prometheus.Registerer) *otlpReceiver {
	r := &otlpReceiver{
		translators: sync.Pool{New: func() any { return newOTLPTranslator() }},
		refs:        newOTLPRefCache(),
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

// otlpBuffers keeps request body buffers across requests: the translator copies what it keeps
// (label names and values) out of the body, so a body's buffer is free once translated.
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

// readOTLPRequest reads an OTLP/HTTP metrics export request: protobuf or JSON (by
// Content-Type, else 415), plain or gzip (by Content-Encoding, else 415), at most
// maxOTLPBodySize bytes before and after decompression (else 413), and returns it as
// validated protobuf (JSON is converted), with the function that releases its buffers once
// translated.
func readOTLPRequest(r *http.Request) (body []byte, release func(), err error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != otlpProtobuf && mt != otlpJSON) {
		return nil, nil, &otlpDecodeError{http.StatusUnsupportedMediaType,
			fmt.Errorf("unsupported content type %q, supported: [%s, %s]", r.Header.Get("Content-Type"), otlpJSON, otlpProtobuf)}
	}
	enc := r.Header.Get("Content-Encoding")
	if enc != "" && enc != "gzip" {
		return nil, nil, &otlpDecodeError{http.StatusUnsupportedMediaType,
			fmt.Errorf("unsupported content encoding %q: only gzip or no compression is accepted", enc)}
	}
	raw := getOTLPBuffer()
	var plain *[]byte
	free := func() {
		putOTLPBuffer(raw)
		if plain != nil {
			putOTLPBuffer(plain)
		}
	}
	defer func() {
		if err != nil {
			free()
		}
	}()
	body, err = readLimitedInto(*raw, r.Body, r.ContentLength, maxOTLPBodySize)
	*raw = body
	if err != nil {
		return nil, nil, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("reading request body: %w", err)}
	}
	if len(body) > maxOTLPBodySize {
		return nil, nil, &otlpDecodeError{http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds the %d bytes limit", maxOTLPBodySize)}
	}
	if enc == "gzip" {
		gr, _ := gzipReaders.Get().(*gzip.Reader)
		if gr == nil {
			gr = new(gzip.Reader)
		}
		defer gzipReaders.Put(gr)
		if err = gr.Reset(bytes.NewReader(body)); err != nil {
			return nil, nil, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("decoding gzip body: %w", err)}
		}
		plain = getOTLPBuffer()
		body, err = readLimitedInto(*plain, gr, 0, maxOTLPBodySize)
		*plain = body
		if err != nil {
			return nil, nil, &otlpDecodeError{http.StatusBadRequest, fmt.Errorf("decoding gzip body: %w", err)}
		}
		if len(body) > maxOTLPBodySize {
			return nil, nil, &otlpDecodeError{http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body exceeds the %d bytes limit", maxOTLPBodySize)}
		}
	}
	if mt == otlpJSON {
		if body, err = otlpJSONToProto(body); err != nil {
			return nil, nil, &otlpDecodeError{http.StatusBadRequest, err}
		}
	}
	if err = validateOTLPRequest(body); err != nil {
		return nil, nil, &otlpDecodeError{http.StatusBadRequest, err}
	}
	return body, free, nil
}

// otlpJSONToProto converts an ExportMetricsServiceRequest in OTLP's JSON encoding to protobuf,
// decoding it with the OpenTelemetry Collector's pdata as Prometheus does.
func otlpJSONToProto(body []byte) ([]byte, error) {
	req := pmetricotlp.NewExportRequest()
	if err := req.UnmarshalJSON(body); err != nil {
		return nil, fmt.Errorf("decoding OTLP metrics request: %w", err)
	}
	return req.MarshalProto()
}

// otlpWrite is POST /api/v1/otlp/v1/metrics, Prometheus's OTLP/HTTP metrics receiver. The
// request is translated by Prometheus's own translator (names, units, resource attributes and
// target_info, job and instance from the service attributes) into Vigil's appender. As with
// remote write, what storage or the translator refuses (out of order or duplicate points,
// invalid labels, invalid native histograms, delta temporality) is skipped and the valid rest is
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
	body, release, err := readOTLPRequest(r)
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
	refused, err := a.appendOTLP(r, body, newOTLPSettings(cfg, a.opts.LookbackDelta))
	release()
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

// appendOTLP translates the validated protobuf body into Vigil's appender and commits what
// was accepted. refused lists the data points and metrics not stored; an error is a storage
// failure (nothing committed).
func (a *API) appendOTLP(r *http.Request, body []byte, settings otlpSettings) (refused refusedSamples, err error) {
	recv := a.otlp
	app := newOTLPAppender(a.opts.Appendable.Appender(r.Context()), time.Now().Add(maxAheadTime).UnixMilli())
	app.refs = recv.refs
	tr := recv.translators.Get().(*otlpTranslator)
	tr.reset(app, settings)
	defer func() {
		tr.reset(nil, otlpSettings{})
		recv.translators.Put(tr)
	}()
	tr.translate(r.Context(), body)
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
	if len(tr.warnings) > 0 {
		ws := make([]string, 0, len(tr.warnings))
		for msg, category := range tr.warnings {
			recv.warnings.WithLabelValues(category).Inc()
			ws = append(ws, msg)
		}
		a.logger.Warn("Warnings translating OTLP metrics to Prometheus write request", "warnings", ws)
	}
	refused = app.refused
	// The translator's errors are per metric (invalid temporality, names or attributes that
	// cannot be translated): that metric is skipped, the others are stored.
	for _, e := range tr.errs {
		recv.refused.WithLabelValues(reasonTranslation).Inc()
		refused.add(fmt.Errorf("%w: %w", errOTLPTranslation, e))
	}
	return refused, nil
}

var errOTLPTranslation = errors.New("metric not translated")
