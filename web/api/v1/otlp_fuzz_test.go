package v1

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	otlpnames "github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// checkingAppendable is an Appendable whose appenders accept every sample, failing the test
// when one reaches storage with labels the receiver should have refused.
type checkingAppendable struct {
	t       *testing.T
	samples int
}

func (c *checkingAppendable) Appender(context.Context) storage.Appender { return checkingAppender{c} }

type checkingAppender struct{ c *checkingAppendable }

func (a checkingAppender) Append(_ storage.SeriesRef, ls labels.Labels, _ int64, _ float64) (storage.SeriesRef, error) {
	if !ls.Has(model.MetricNameLabel) || !ls.IsValid(model.UTF8Validation) {
		a.c.t.Errorf("invalid series reached storage: %q", ls.String())
	}
	if dup, ok := ls.HasDuplicateLabelNames(); ok {
		a.c.t.Errorf("series with duplicate label %q reached storage: %q", dup, ls.String())
	}
	a.c.samples++
	return 1, nil
}
func (checkingAppender) Commit() error   { return nil }
func (checkingAppender) Rollback() error { return nil }

func otlpFuzzSeeds(f *testing.F) {
	md := pmetric.NewMetrics()
	ms := otlpResource(md)
	addGauge(ms, "queue.depth", "{item}", 7, 0, "queue", "orders", "bad", "a\xffb")
	addSum(ms, "http.server.requests", "", pmetric.AggregationTemporalityCumulative, 42, 0, -time.Second)
	addSum(ms, "deltas", "s", pmetric.AggregationTemporalityDelta, 1, 0)
	addHistogram(ms, "http.server.duration", "ms")
	addExpHistogram(ms, "latency")
	proto := otlpProto(f, md)
	f.Add(proto, false)
	f.Add(proto[:len(proto)/2], false)
	f.Add(otlpJSONBody(f, md), true)
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"asDouble":"NaN","timeUnixNano":"1"}]}}]}]}]}`), true)
	f.Add([]byte{}, false)
}

// FuzzOTLPDecode decodes arbitrary bodies as OTLP protobuf or JSON and translates whatever
// decodes with every translation strategy: never a panic, and nothing with invalid labels
// reaches storage.
func FuzzOTLPDecode(f *testing.F) {
	otlpFuzzSeeds(f)
	recv := newOTLPReceiver(nil)
	a := &API{otlp: recv, logger: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		var err error
		if asJSON {
			if body, err = otlpJSONToProto(body); err != nil {
				return
			}
		}
		if validateOTLPRequest(body) != nil {
			return
		}
		for _, strategy := range []otlpnames.TranslationStrategyOption{otlpnames.UnderscoreEscapingWithSuffixes, otlpnames.NoTranslation} {
			cfg := config.DefaultOTLPConfig
			cfg.TranslationStrategy = strategy
			cfg.PromoteAllResourceAttributes = true
			store := &checkingAppendable{t: t}
			a.opts.Appendable = store
			req := httptest.NewRequest(http.MethodPost, "/api/v1/otlp/v1/metrics", nil)
			if _, err := a.appendOTLP(req, body, newOTLPSettings(cfg, 5*time.Minute)); err != nil {
				t.Fatalf("storage never fails here, yet: %v", err)
			}
		}
	})
}

// FuzzOTLPWrite posts arbitrary bodies to the receiver: the answer is 200, 400, 413 or 415,
// never a panic or a 5xx.
func FuzzOTLPWrite(f *testing.F) {
	otlpFuzzSeeds(f)
	store := &checkingAppendable{}
	a := New(Options{Appendable: store, EnableOTLP: true})
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		store.t = t
		mt := otlpProtobuf
		if asJSON {
			mt = otlpJSON
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/otlp/v1/metrics", bytes.NewReader(body))
		req.Header.Set("Content-Type", mt)
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest:
		default:
			t.Fatalf("answer %d: %s", rec.Code, rec.Body)
		}
	})
}

// AppendHistogram checks a native histogram's series as Append does, and that it is valid
// (the receiver refuses invalid ones before storage).
func (a checkingAppender) AppendHistogram(ref storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if h == nil || fh != nil {
		a.c.t.Errorf("OTLP histogram for %s: want an integer histogram", ls.String())
	} else if err := h.Validate(); err != nil {
		a.c.t.Errorf("invalid histogram reached storage for %s: %v", ls.String(), err)
	}
	return a.Append(ref, ls, t, 0)
}
