package write

import (
	"context"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// TestSkipsHistogramRecords: the WAL holds native histogram records (the TSDB stores them)
// between float samples; remote write, which does not send histograms yet, tails past them
// without error and sends every float sample once.
func TestSkipsHistogramRecords(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	m := newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	const scrapes, floats, hists = 50, 20, 5
	for i := range scrapes {
		app := db.Appender(context.Background())
		ts := 1000 + int64(i)*1000
		for s := range floats {
			if _, err := app.Append(0, labels.FromStrings("__name__", "m", "series", strconv.Itoa(s)), ts, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
		for s := range hists {
			h := &histogram.Histogram{Count: uint64(i), Sum: float64(i), PositiveSpans: []histogram.Span{{Length: 1}}, PositiveBuckets: []int64{int64(i)}}
			lset := labels.FromStrings("__name__", "h", "series", strconv.Itoa(s))
			if s%2 == 0 {
				_, err := app.AppendHistogram(0, lset, ts, h, nil)
				if err != nil {
					t.Fatal(err)
				}
			} else if _, err := app.AppendHistogram(0, lset, ts, nil, h.ToFloat(nil)); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every float sample", func() bool { return recv.count() == scrapes*floats })
	m.Stop()
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.dups != 0 || len(recv.samples) != floats {
		t.Fatalf("%d series received, %d samples twice; want %d series once", len(recv.samples), recv.dups, floats)
	}
}
