package pushgateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	pgstorage "github.com/prometheus/pushgateway/storage"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/storage"
)

// samples is a storage.Appendable that keeps the committed samples as text lines.
type samples struct {
	mu    sync.Mutex
	refs  map[string]storage.SeriesRef
	lsets map[storage.SeriesRef]labels.Labels
	lines []string
}

func newSamples() *samples {
	return &samples{refs: map[string]storage.SeriesRef{}, lsets: map[storage.SeriesRef]labels.Labels{}}
}

type samplesApp struct {
	s       *samples
	pending []string
}

func (s *samples) Appender(context.Context) storage.Appender { return &samplesApp{s: s} }

func (a *samplesApp) Append(ref storage.SeriesRef, lset labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if lset.IsEmpty() {
		lset = a.s.lsets[ref]
	}
	key := lset.String()
	ref, ok := a.s.refs[key]
	if !ok {
		ref = storage.SeriesRef(len(a.s.refs) + 1)
		a.s.refs[key] = ref
		a.s.lsets[ref] = lset
	}
	val := fmt.Sprint(v)
	if math.Float64bits(v) == math.Float64bits(storage.StaleNaN()) {
		val = "stale"
	}
	a.pending = append(a.pending, fmt.Sprintf("%s @%d %s", key, t, val))
	return ref, nil
}

func (a *samplesApp) Commit() error {
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	a.s.lines = append(a.s.lines, a.pending...)
	a.pending = nil
	return nil
}

func (a *samplesApp) Rollback() error { a.pending = nil; return nil }

func (s *samples) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines
	s.lines = nil
	sort.Strings(l)
	return l
}

// scrapeOracle ingests what the Pushgateway's /metrics (promhttp over its store, with the
// Pushgateway's handler options) answers a scrape sending accept.
// It returns false if the Pushgateway fails the scrape: after a refused push to a new group whose
// timestamps duplicate another group's (see TestStoreMatchesPushgateway) its /metrics answers
// 500 until the group is deleted.
func scrapeOracle(t *testing.T, ing *scrape.Ingester, ms *pgstorage.DiskMetricStore, accept string, ts time.Time) bool {
	t.Helper()
	h := promhttp.HandlerFor(prometheus.Gatherers{
		prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return ms.GetMetricFamilies(), nil }),
	}, promhttp.HandlerOpts{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code == http.StatusInternalServerError && strings.Contains(rec.Body.String(), "was collected before") {
		return false
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("Pushgateway /metrics: %d %s", rec.Code, rec.Body)
	}
	body := rec.Body.Bytes()
	if _, err := ing.Ingest(context.Background(), ts, rec.Header().Get("Content-Type"), func(yield func([]byte) error) error {
		return yield(body)
	}); err != nil && !isWarning(err) {
		t.Fatalf("ingesting the Pushgateway's exposition: %v\n%s", err, body)
	}
	return true
}

func ingestStore(t *testing.T, ing *scrape.Ingester, s *Store, accept string, ts time.Time) {
	t.Helper()
	format := Negotiate(accept)
	if _, err := ing.Ingest(context.Background(), ts, string(format), func(yield func([]byte) error) error {
		return s.WriteExposition(format, yield)
	}); err != nil && !isWarning(err) {
		t.Fatalf("ingesting the store: %v", err)
	}
}

// isWarning tells an ingest's report of rejected samples (a summary pushed with a quantile
// twice has duplicate series in the exposition, in the Pushgateway's as in Vigil's) from a
// failure.
func isWarning(err error) bool { return strings.HasPrefix(err.Error(), "scrape succeeded but dropped") }

// Ingesting the store stores the same samples, and the same stale markers after changes, as a
// scrape with honor_labels: true of a Pushgateway that received the same pushes, in every
// exposition format a scrape can negotiate with it.
func TestIngestMatchesScrapeOfPushgateway(t *testing.T) {
	for _, tc := range []struct {
		name      string
		protocols []config.ScrapeProtocol
	}{
		{"default scrape_protocols (text)", nil},
		{"PrometheusProto first", []config.ScrapeProtocol{config.PrometheusProto, config.PrometheusText0_0_4}},
		{"PrometheusText0.0.4 only", []config.ScrapeProtocol{config.PrometheusText0_0_4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			accept := scrape.AcceptHeader(tc.protocols)
			scraped, broken := 0, 0
			defer func() {
				t.Logf("%d scrapes compared; %d sequences ended by a Pushgateway that failed its scrapes", scraped, broken)
				if scraped < 100 {
					t.Errorf("only %d scrapes compared", scraped)
				}
			}()
			for seed := range 20 {
				r := rand.New(rand.NewPCG(uint64(seed), 11))
				oracle := pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
				ours := New(nil)
				wantApp, gotApp := newSamples(), newSamples()
				wantIng := scrape.NewIngester("oracle", wantApp, nil)
				gotIng := scrape.NewIngester("vigil", gotApp, nil)
				now := time.Unix(1_700_000_000, 0)
				ts := now
				for step := range 12 {
					// A few writes, then a "scrape".
					for range 3 {
						o := randomOp(r)
						now = now.Add(time.Second)
						_ = submit(t, oracle, o, now)
						_ = submit(t, ours, o, now)
					}
					ts = ts.Add(15 * time.Second)
					if !scrapeOracle(t, wantIng, oracle, accept, ts) {
						broken++
						break
					}
					scraped++
					ingestStore(t, gotIng, ours, accept, ts)
					want, got := wantApp.take(), gotApp.take()
					if strings.Join(want, "\n") != strings.Join(got, "\n") {
						t.Fatalf("seed %d step %d: stored samples differ\nscrape of the Pushgateway:\n%s\nVigil:\n%s", seed, step, strings.Join(want, "\n"), strings.Join(got, "\n"))
					}
				}
				oracle.Shutdown()
			}
		})
	}
}

// A large group is handed out in several pieces, each a complete exposition.
func TestWriteExpositionChunks(t *testing.T) {
	s := New(nil)
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "# TYPE family_%d gauge\nfamily_%d{worker=\"w-%d\"} %d\n", i, i, i, i)
	}
	if err := submit(t, s, op{labels: map[string]string{"job": "big"}, body: b.String(), replace: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	app := newSamples()
	ing := scrape.NewIngester("t", app, nil)
	pieces := 0
	format := Negotiate(scrape.AcceptHeader(nil))
	if _, err := ing.Ingest(context.Background(), time.Now(), string(format), func(yield func([]byte) error) error {
		return s.WriteExposition(format, func(p []byte) error {
			pieces++
			if len(p) > 2*chunkSize {
				t.Errorf("piece of %d bytes", len(p))
			}
			return yield(p)
		})
	}); err != nil {
		t.Fatal(err)
	}
	if pieces < 2 {
		t.Fatalf("%d pieces", pieces)
	}
	// 20000 families + push_time_seconds + push_failure_time_seconds.
	if n := len(app.take()); n != 20002 {
		t.Fatalf("%d samples stored, want 20002", n)
	}
}

// AppendHistogram refuses: this test double expects float samples only.
func (a *samplesApp) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errors.New("samplesApp: unexpected histogram sample")
}
