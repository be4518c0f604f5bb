package scrape

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

type sample struct {
	lset labels.Labels
	t    int64
	v    float64
	h    *histogram.Histogram      // a native histogram sample (integer counts)
	fh   *histogram.FloatHistogram // a native histogram sample (float counts)
}

// testStorage is a storage.Appendable double with the TSDB's append contract: refs per series,
// out-of-order and duplicate-timestamp errors, nothing visible before Commit, and appends by ref
// without labels.
type testStorage struct {
	mtx      sync.Mutex
	refs     map[string]storage.SeriesRef
	byRef    map[storage.SeriesRef]labels.Labels
	lastT    map[storage.SeriesRef]int64
	lastV    map[storage.SeriesRef]float64
	lastH    map[storage.SeriesRef]sample
	samples  []sample
	commits  int
	rollback int
}

func newTestStorage() *testStorage {
	return &testStorage{refs: map[string]storage.SeriesRef{}, byRef: map[storage.SeriesRef]labels.Labels{}, lastT: map[storage.SeriesRef]int64{}, lastV: map[storage.SeriesRef]float64{}, lastH: map[storage.SeriesRef]sample{}}
}

func (s *testStorage) Appender(context.Context) storage.Appender { return &testAppender{s: s} }

type pendingSample struct {
	sample
	ref storage.SeriesRef
}

type testAppender struct {
	s       *testStorage
	pending []pendingSample
}

func (a *testAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.add(ref, l, sample{t: t, v: v})
}

// AppendHistogram appends a native histogram sample with Append's rules.
func (a *testAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if (h == nil) == (fh == nil) {
		return 0, errors.New("testAppender: exactly one of h and fh must be set")
	}
	return a.add(ref, l, sample{t: t, h: h, fh: fh})
}

// sameValue tells whether two samples at one timestamp hold the same value.
func sameValue(x, y sample) bool {
	switch {
	case x.h != nil && y.h != nil:
		return x.h.Equals(y.h)
	case x.fh != nil && y.fh != nil:
		return x.fh.Equals(y.fh)
	case x.h == nil && x.fh == nil && y.h == nil && y.fh == nil:
		return math.Float64bits(x.v) == math.Float64bits(y.v)
	}
	return false
}

func (a *testAppender) add(ref storage.SeriesRef, l labels.Labels, smp sample) (storage.SeriesRef, error) {
	t := smp.t
	a.s.mtx.Lock()
	defer a.s.mtx.Unlock()
	if known, ok := a.s.byRef[ref]; ok && ref != 0 {
		l = known
	} else if l.IsEmpty() {
		if ref != 0 {
			return 0, storage.ErrUnknownSeriesRef
		}
		return 0, storage.ErrEmptyLabelSet
	}
	key := l.String()
	ref, ok := a.s.refs[key]
	if !ok {
		ref = storage.SeriesRef(len(a.s.refs) + 1)
		a.s.refs[key] = ref
		a.s.byRef[ref] = l
	}
	var last sample
	seen := false
	if t0, ok := a.s.lastT[ref]; ok {
		last, seen = a.s.lastH[ref], true
		last.t, last.v = t0, a.s.lastV[ref]
	}
	for _, p := range a.pending {
		if p.ref == ref {
			last, seen = p.sample, true
		}
	}
	if seen {
		if t < last.t {
			return 0, storage.ErrOutOfOrderSample
		}
		if t == last.t {
			if !sameValue(smp, last) {
				return 0, storage.ErrDuplicateSampleForTimestamp
			}
			return ref, nil
		}
	}
	smp.lset = l
	a.pending = append(a.pending, pendingSample{smp, ref})
	return ref, nil
}

func (a *testAppender) Commit() error {
	a.s.mtx.Lock()
	defer a.s.mtx.Unlock()
	for _, p := range a.pending {
		a.s.samples = append(a.s.samples, p.sample)
		a.s.lastT[p.ref], a.s.lastV[p.ref] = p.t, p.v
		a.s.lastH[p.ref] = sample{h: p.h, fh: p.fh}
	}
	a.pending = nil
	a.s.commits++
	return nil
}

func (a *testAppender) Rollback() error {
	a.s.mtx.Lock()
	a.s.rollback++
	a.s.mtx.Unlock()
	a.pending = nil
	return nil
}

// series returns the committed samples of the series with the given labels string.
func (s *testStorage) series(lset string) []sample {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	var res []sample
	for _, smp := range s.samples {
		if smp.lset.String() == lset {
			res = append(res, smp)
		}
	}
	return res
}

// names returns the distinct metric names committed, sorted.
func (s *testStorage) names() []string {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	seen := map[string]struct{}{}
	for _, smp := range s.samples {
		seen[smp.lset.Get(model.MetricNameLabel)] = struct{}{}
	}
	var res []string
	for n := range seen {
		res = append(res, n)
	}
	sort.Strings(res)
	return res
}

func (s *testStorage) all() []sample {
	s.mtx.Lock()
	defer s.mtx.Unlock()
	return append([]sample(nil), s.samples...)
}

func (s *testStorage) reset() {
	s.mtx.Lock()
	s.samples = nil
	s.mtx.Unlock()
}

// testLoop builds a loop for a target with labels job="test", instance="x:1" and the given
// config tweaks, scraping url (which may be empty when only append is used).
func testLoop(t testing.TB, app storage.Appendable, tweak func(*config.ScrapeConfig), url string) *scrapeLoop {
	t.Helper()
	cfg, err := config.Load("scrape_configs:\n- job_name: test\n  scrape_interval: 1s\n")
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.ScrapeConfigs[0]
	if tweak != nil {
		tweak(sc)
		if err := sc.Validate(cfg.GlobalConfig); err != nil {
			t.Fatal(err)
		}
	}
	addr := "x:1"
	if url != "" {
		addr = url
	}
	lset, discovered, err := populateLabels(labels.NewBuilder(labels.EmptyLabels()), sc, model.LabelSet{model.AddressLabel: model.LabelValue(addr)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := newTarget(sc.JobName, lset, discovered, sc.Params)
	return newScrapeLoop(context.Background(), context.Background(), target, newLoopConfig(sc, Options{}), http.DefaultClient, app, nil, 0, nil, slog.New(slog.DiscardHandler))
}

// appendOnce runs one append pass in its own batch, committing on success and rolling back on
// error, as scrapeAndReport does.
func appendOnce(t testing.TB, sl *scrapeLoop, app storage.Appendable, body, contentType string, ts time.Time) (appendStats, error) {
	t.Helper()
	a := app.Appender(context.Background())
	stats, err := sl.append(a, []byte(body), contentType, ts)
	if err != nil {
		_ = a.Rollback()
		return stats, err
	}
	if cerr := a.Commit(); cerr != nil {
		t.Fatal(cerr)
	}
	return stats, nil
}
