package scrape

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// TestScrapeIntoTSDB runs the append path against the real TSDB: refs handed back by the head are
// reused from the cache, duplicates and stale markers behave as the TSDB defines, and everything
// reads back through a querier.
func TestScrapeIntoTSDB(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sl := testLoop(t, db, nil, "")
	base := time.Now().Truncate(time.Second)
	payloads := []string{
		"# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 2\n",
		"a{x=\"1\"} 10\na{x=\"2\"} 20\na{x=\"2\"} 21\n", // duplicate series: the second is rejected
		"a{x=\"1\"} 100\n", // x=2 disappears: stale marker
	}
	for i, p := range payloads {
		stats, err := appendOnce(t, sl, db, p, textType, base.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
		if i == 1 && stats.duplicates != 1 {
			t.Errorf("scrape 1: duplicates = %d, want 1", stats.duplicates)
		}
	}
	q, err := db.Querier(base.Add(-time.Minute).UnixMilli(), base.Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "a"))
	got := map[string][]float64{}
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() != storage.ValNone {
			_, v := it.At()
			got[s.Labels().Get("x")] = append(got[s.Labels().Get("x")], v)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if x1 := got["1"]; len(x1) != 3 || x1[0] != 1 || x1[1] != 10 || x1[2] != 100 {
		t.Errorf("x=1: %v", x1)
	}
	x2 := got["2"]
	if len(x2) != 3 || x2[0] != 2 || x2[1] != 20 || !storage.IsStaleNaN(x2[2]) {
		t.Errorf("x=2: %v (want 2, 20, stale)", x2)
	}
	if len(x2) == 3 && !math.IsNaN(x2[2]) {
		t.Errorf("stale marker must be a NaN")
	}
	for _, e := range sl.cache.entries {
		if e.ref == 0 {
			t.Errorf("cache entry %+v has no TSDB ref", e)
		}
	}
}

// forgetfulAppendable wraps a TSDB and, while forget is set, behaves like a head whose
// truncation removed every series: a known reference without labels is refused.
type forgetfulAppendable struct {
	db     *tsdb.DB
	forget bool
}

func (f *forgetfulAppendable) Appender(ctx context.Context) storage.Appender {
	return &forgetfulAppender{Appender: f.db.Appender(ctx), f: f}
}

type forgetfulAppender struct {
	storage.Appender
	f *forgetfulAppendable
}

func (a *forgetfulAppender) Append(ref storage.SeriesRef, lset labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if a.f.forget && ref != 0 && lset.IsEmpty() {
		return 0, storage.ErrUnknownSeriesRef
	}
	return a.Appender.Append(ref, lset, t, v)
}

// TestScrapeSeriesGoneFromHead: the cache holds references only, so a reference the head no
// longer knows must be rebuilt from the exposition (target labels and relabeling included), and
// stale markers for such series are skipped rather than failing the scrape.
func TestScrapeSeriesGoneFromHead(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	app := &forgetfulAppendable{db: db}
	sl := testLoop(t, app, nil, "")
	base := time.Now().Truncate(time.Second)
	scrape := func(i int, body string) {
		t.Helper()
		if _, err := appendOnce(t, sl, app, body, textType, base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatalf("scrape %d: %v", i, err)
		}
	}
	scrape(0, "a{x=\"1\"} 1\na{x=\"2\"} 2\n")
	app.forget = true
	scrape(1, "a{x=\"1\"} 10\n") // x=1 rebuilt from the text; x=2's stale marker is skipped
	app.forget = false
	scrape(2, "a{x=\"1\"} 100\n")

	q, err := db.Querier(base.Add(-time.Minute).UnixMilli(), base.Add(time.Minute).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "x", "1"))
	var got []float64
	for ss.Next() {
		s := ss.At()
		if s.Labels().Get("job") != "test" || s.Labels().Get("__name__") != "a" {
			t.Errorf("rebuilt series has labels %s", s.Labels())
		}
		it := s.Iterator(nil)
		for it.Next() != storage.ValNone {
			_, v := it.At()
			got = append(got, v)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 10 || got[2] != 100 {
		t.Errorf("x=1 samples = %v, want [1 10 100] in one series", got)
	}
}

// AppendHistogram refuses: this test double expects float samples only.
func (a *forgetfulAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, errors.New("forgetfulAppender: unexpected histogram sample")
}
