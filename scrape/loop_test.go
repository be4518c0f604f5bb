package scrape

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

const textType = "text/plain; version=0.0.4"

var ts0 = time.UnixMilli(1_700_000_000_000)

func TestAppendTargetLabelsAndHonor(t *testing.T) {
	body := "# HELP m A metric.\n# TYPE m counter\nm{job=\"exposed\",a=\"1\"} 5\nother 2 1600000000000\n"
	cases := []struct {
		name   string
		tweak  func(*config.ScrapeConfig)
		series map[string]float64
		times  map[string]int64
	}{
		{
			name: "target labels win, exposed move to exported_",
			series: map[string]float64{
				`{__name__="m", a="1", exported_job="exposed", instance="x:1", job="test"}`: 5,
				`{__name__="other", instance="x:1", job="test"}`:                            2,
			},
			times: map[string]int64{`{__name__="other", instance="x:1", job="test"}`: 1600000000000},
		},
		{
			name:  "honor_labels keeps exposed values",
			tweak: func(c *config.ScrapeConfig) { c.HonorLabels = true },
			series: map[string]float64{
				`{__name__="m", a="1", instance="x:1", job="exposed"}`: 5,
			},
		},
		{
			name:  "honor_timestamps false uses the scrape time",
			tweak: func(c *config.ScrapeConfig) { c.HonorTimestamps = false },
			series: map[string]float64{
				`{__name__="other", instance="x:1", job="test"}`: 2,
			},
			times: map[string]int64{`{__name__="other", instance="x:1", job="test"}`: ts0.UnixMilli()},
		},
		{
			name: "metric relabeling drops and rewrites",
			tweak: func(c *config.ScrapeConfig) {
				c.MetricRelabelConfigs = []*relabel.Config{
					{SourceLabels: model.LabelNames{"__name__"}, Regex: relabel.MustNewRegexp("other"), Action: relabel.Drop, Separator: ";"},
					{SourceLabels: model.LabelNames{"a"}, Regex: relabel.MustNewRegexp("(.*)"), TargetLabel: "b", Replacement: "v$1", Action: relabel.Replace, Separator: ";"},
				}
			},
			series: map[string]float64{
				`{__name__="m", a="1", b="v1", exported_job="exposed", instance="x:1", job="test"}`: 5,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newTestStorage()
			sl := testLoop(t, st, c.tweak, "")
			stats, err := appendOnce(t, sl, st, body, textType, ts0)
			if err != nil {
				t.Fatal(err)
			}
			if stats.total != 2 {
				t.Errorf("total = %d, want 2", stats.total)
			}
			for s, v := range c.series {
				got := st.series(s)
				if len(got) != 1 || got[0].v != v {
					t.Errorf("series %s: got %v, want one sample %v; all: %v", s, got, v, st.all())
					continue
				}
				want := ts0.UnixMilli()
				if tt, ok := c.times[s]; ok {
					want = tt
				}
				if got[0].t != want {
					t.Errorf("series %s: t = %d, want %d", s, got[0].t, want)
				}
			}
			if md, ok := sl.target.GetMetadata("m"); !ok || md.Type != model.MetricTypeCounter || md.Help != "A metric." {
				t.Errorf("metadata of m: %+v %v", md, ok)
			}
		})
	}
}

func TestAppendStaleness(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, nil, "")
	if _, err := appendOnce(t, sl, st, "a 1\nb 1\n", textType, ts0); err != nil {
		t.Fatal(err)
	}
	// b disappears.
	if _, err := appendOnce(t, sl, st, "a 2\n", textType, ts0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	b := st.series(`{__name__="b", instance="x:1", job="test"}`)
	if len(b) != 2 || !storage.IsStaleNaN(b[1].v) || b[1].t != ts0.Add(time.Second).UnixMilli() {
		t.Fatalf("b must get a stale marker at the second scrape: %v", b)
	}
	// A failed scrape (parse error) stores nothing and marks everything stale.
	if _, err := appendOnce(t, sl, st, "a 3\nb{ 1\n", textType, ts0.Add(2*time.Second)); err == nil {
		t.Fatal("expected a parse error")
	}
	a := st.series(`{__name__="a", instance="x:1", job="test"}`)
	if len(a) != 2 {
		t.Fatalf("nothing of the failed scrape may be stored: %v", a)
	}
	sl.cache.forgetCurrent()
	if _, err := appendOnce(t, sl, st, "", "", ts0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	a = st.series(`{__name__="a", instance="x:1", job="test"}`)
	if len(a) != 3 || !storage.IsStaleNaN(a[2].v) {
		t.Fatalf("a must be stale after the failed scrape: %v", a)
	}
	// The series comes back.
	if _, err := appendOnce(t, sl, st, "a 4\n", textType, ts0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	a = st.series(`{__name__="a", instance="x:1", job="test"}`)
	if len(a) != 4 || a[3].v != 4 {
		t.Fatalf("a must be back: %v", a)
	}
	// Explicit timestamps are not tracked for staleness (as in Prometheus)...
	if _, err := appendOnce(t, sl, st, "c 1 1700000003500\n", textType, ts0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOnce(t, sl, st, "", "", ts0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c := st.series(`{__name__="c", instance="x:1", job="test"}`); len(c) != 1 {
		t.Fatalf("c has an explicit timestamp and must not get a stale marker: %v", c)
	}
}

func TestAppendTrackTimestampsStaleness(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) { c.TrackTimestampsStaleness = true }, "")
	if _, err := appendOnce(t, sl, st, "c 1 1700000000000\n", textType, ts0); err != nil {
		t.Fatal(err)
	}
	if _, err := appendOnce(t, sl, st, "d 1\n", textType, ts0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if c := st.series(`{__name__="c", instance="x:1", job="test"}`); len(c) != 2 || !storage.IsStaleNaN(c[1].v) {
		t.Fatalf("with track_timestamps_staleness c must get a stale marker: %v", c)
	}
}

func TestAppendLimits(t *testing.T) {
	body := "a{l=\"0123456789\"} 1\nb 2\nc 3\n"
	cases := []struct {
		name  string
		tweak func(*config.ScrapeConfig)
		err   string
	}{
		{"sample_limit", func(c *config.ScrapeConfig) { c.SampleLimit = 2 }, "sample limit exceeded"},
		{"label_limit", func(c *config.ScrapeConfig) { c.LabelLimit = 3 }, "label_limit exceeded (metric: a, number of labels: 4, limit: 3)"},
		{"label_name_length_limit", func(c *config.ScrapeConfig) { c.LabelNameLengthLimit = 5 }, "label_name_length_limit exceeded (metric: a, label name: __name__, length: 8, limit: 5)"},
		{"label_value_length_limit", func(c *config.ScrapeConfig) { c.LabelValueLengthLimit = 5 }, `label_value_length_limit exceeded (metric: a, label name: l, value: "0123456789", length: 10, limit: 5)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newTestStorage()
			sl := testLoop(t, st, c.tweak, "")
			stats, err := appendOnce(t, sl, st, body, textType, ts0)
			if err == nil || err.Error() != c.err {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
			if n := len(st.all()); n != 0 {
				t.Fatalf("nothing may be stored after a limit error, got %d samples", n)
			}
			if c.name == "sample_limit" && stats.total != 3 {
				t.Errorf("the whole payload must be counted: total = %d", stats.total)
			}
		})
	}
	// Exactly at the limit is fine.
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) { c.SampleLimit = 3 }, "")
	if _, err := appendOnce(t, sl, st, body, textType, ts0); err != nil {
		t.Fatalf("3 samples with sample_limit 3: %v", err)
	}
}

func TestAppendBadInput(t *testing.T) {
	cases := []struct {
		name, body, contentType string
		// err is a substring of the expected error; "" means success.
		err string
		// warning is a substring of stats.warning(); "" means none.
		warning string
		stored  int
	}{
		{name: "malformed", body: "a{b=\"c\" 1\n", contentType: textType, err: "expected"},
		{name: "no value", body: "a\n", contentType: textType, err: "expected value after metric"},
		{name: "wrong content type", body: "a 1\n", contentType: "application/json", err: `received unsupported Content-Type "application/json"`},
		{name: "no content type", body: "a 1\n", contentType: "", err: "non-compliant scrape target sending blank Content-Type"},
		{name: "invalid utf8 label value", body: "a{b=\"\xff\"} 1\n", contentType: textType, err: "invalid"},
		{name: "nan and inf are values", body: "a NaN\nb +Inf\nc -Inf\n", contentType: textType, stored: 3},
		{name: "duplicate series", body: "a 1\na 2\n", contentType: textType, warning: "1 samples with the same timestamp", stored: 1},
		{name: "duplicate series same value", body: "a 1\na 1\n", contentType: textType, warning: "1 samples with the same timestamp", stored: 1},
		{name: "far future timestamp", body: "a 1 99999999999999\nb 1\n", contentType: textType, warning: "1 samples too old or too far into the future", stored: 1},
		{name: "huge line", body: "a{b=\"" + strings.Repeat("x", 1<<20) + "\"} 1\n", contentType: textType, stored: 1},
		{name: "openmetrics", body: "# TYPE a counter\na_total 1\n# EOF\n", contentType: "application/openmetrics-text; version=1.0.0", stored: 1},
		{name: "openmetrics without EOF", body: "# TYPE a counter\na_total 1\n", contentType: "application/openmetrics-text; version=1.0.0", err: "EOF"},
		{name: "binary garbage", body: "\x01\x02\xff\xfe\n", contentType: textType, err: "expected a valid start token"},
		// The upstream lexer reads NUL as end of input: such a payload is empty, not an error.
		{name: "leading NUL", body: "\x00a 1\n", contentType: textType},
		{name: "comment only", body: "# just a comment\n", contentType: textType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newTestStorage()
			sl := testLoop(t, st, nil, "")
			stats, err := appendOnce(t, sl, st, c.body, c.contentType, ts0)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
			w := stats.warning()
			switch {
			case c.warning == "" && w != nil:
				t.Errorf("unexpected warning: %v", w)
			case c.warning != "" && (w == nil || !strings.Contains(w.Error(), c.warning)):
				t.Errorf("warning %v, want one containing %q", w, c.warning)
			}
			if got := len(st.all()); got != c.stored {
				t.Errorf("stored %d samples, want %d: %v", got, c.stored, st.all())
			}
		})
	}
}

func TestAppendCacheSteadyState(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, nil, "")
	body := "a{x=\"1\"} 1\na{x=\"2\"} 2\n"
	for i := range 3 {
		stats, err := appendOnce(t, sl, st, body, textType, ts0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		wantAdded := 0
		if i == 0 {
			wantAdded = 2
		}
		if stats.seriesAdded != wantAdded || stats.added != 2 {
			t.Errorf("scrape %d: seriesAdded=%d added=%d", i, stats.seriesAdded, stats.added)
		}
	}
	if sl.cache.nSeries != 2 {
		t.Errorf("cache has %d entries, want 2", sl.cache.nSeries)
	}
	// Churn: entries not seen in a successful scrape are evicted.
	if _, err := appendOnce(t, sl, st, "b 1\n", textType, ts0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if sl.cache.nSeries != 1 || len(sl.cache.entries) != 1 {
		t.Errorf("cache must drop vanished series, has %d", sl.cache.nSeries)
	}
}

func TestReportSeries(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, nil, "")
	a := st.Appender(context.Background())
	if err := sl.report(a, ts0, 1500*time.Millisecond, appendStats{total: 7, added: 5, seriesAdded: 3}, nil); err != nil {
		t.Fatal(err)
	}
	_ = a.Commit()
	want := map[string]float64{"up": 1, "scrape_duration_seconds": 1.5, "scrape_samples_scraped": 7, "scrape_samples_post_metric_relabeling": 5, "scrape_series_added": 3}
	for n, v := range want {
		got := st.series(fmt.Sprintf(`{__name__=%q, instance="x:1", job="test"}`, n))
		if len(got) != 1 || got[0].v != v {
			t.Errorf("%s = %v, want %v", n, got, v)
		}
	}
}

// exposition serves body with the given content type, gzip-compressed when asked.
func exposition(t *testing.T, body, contentType string, check func(*http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			check(r)
		}
		w.Header().Set("Content-Type", contentType)
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			_, _ = gz.Write([]byte(body))
			_ = gz.Close()
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestScrapeAndReportHTTP(t *testing.T) {
	var gotAccept, gotEncoding, gotTimeout string
	srv := exposition(t, "# TYPE a gauge\na 1\n", textType, func(r *http.Request) {
		gotAccept, gotEncoding, gotTimeout = r.Header.Get("Accept"), r.Header.Get("Accept-Encoding"), r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds")
	})
	st := newTestStorage()
	sl := testLoop(t, st, nil, strings.TrimPrefix(srv.URL, "http://"))
	sl.scrapeAndReport(ts0)
	if h := sl.target.Health(); h != HealthGood || sl.target.LastError() != nil {
		t.Fatalf("health %s, err %v", h, sl.target.LastError())
	}
	if !strings.HasPrefix(gotAccept, "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.7,application/openmetrics-text;version=0.0.1;q=0.6,") || !strings.HasSuffix(gotAccept, "*/*;q=0.3") {
		t.Errorf("Accept = %q", gotAccept)
	}
	if gotEncoding != "gzip" || gotTimeout != "1" {
		t.Errorf("Accept-Encoding %q, timeout header %q", gotEncoding, gotTimeout)
	}
	if got := st.names(); strings.Join(got, ",") != "a,scrape_duration_seconds,scrape_samples_post_metric_relabeling,scrape_samples_scraped,scrape_series_added,up" {
		t.Errorf("stored names %v", got)
	}
	if sl.target.LastScrape() != ts0 || sl.target.LastScrapeDuration() <= 0 {
		t.Errorf("last scrape %v duration %v", sl.target.LastScrape(), sl.target.LastScrapeDuration())
	}
}

func TestScrapeFailures(t *testing.T) {
	big := strings.Repeat("a 1\n", 1000)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		tweak   func(*config.ScrapeConfig)
		err     string
	}{
		{"http 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }, nil, "server returned HTTP status 500 Internal Server Error"},
		{"body size limit", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", textType)
			_, _ = w.Write([]byte(big))
		}, func(c *config.ScrapeConfig) { c.BodySizeLimit = 100; c.EnableCompression = false }, "body size limit exceeded"},
		{"body size limit gzip", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", textType)
			w.Header().Set("Content-Encoding", "gzip")
			gz := gzip.NewWriter(w)
			_, _ = gz.Write([]byte(big))
			_ = gz.Close()
		}, func(c *config.ScrapeConfig) { c.BodySizeLimit = 100 }, "body size limit exceeded"},
		{"bad gzip", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write([]byte("not gzip"))
		}, nil, "reading gzip response"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, func(c *config.ScrapeConfig) { c.ScrapeTimeout = model.Duration(50 * time.Millisecond) }, "context deadline exceeded"},
		{"wrong content type", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html></html>"))
		}, nil, `received unsupported Content-Type "text/html"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			st := newTestStorage()
			sl := testLoop(t, st, c.tweak, strings.TrimPrefix(srv.URL, "http://"))
			sl.scrapeAndReport(ts0)
			if sl.target.Health() != HealthBad || sl.target.LastError() == nil || !strings.Contains(sl.target.LastError().Error(), c.err) {
				t.Fatalf("health %s, lastError %v, want one containing %q", sl.target.Health(), sl.target.LastError(), c.err)
			}
			up := st.series(`{__name__="up", instance="` + sl.target.labels.Get("instance") + `", job="test"}`)
			if len(up) != 1 || up[0].v != 0 {
				t.Fatalf("up = %v, want 0", up)
			}
			if names := st.names(); len(names) != 5 {
				t.Errorf("only the report series may be stored: %v", names)
			}
		})
	}
}

func TestFallbackProtocol(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) { c.ScrapeFallbackProtocol = config.PrometheusText0_0_4 }, "")
	if _, err := appendOnce(t, sl, st, "a 1\n", "", ts0); err != nil {
		t.Fatalf("fallback protocol must parse a payload without Content-Type: %v", err)
	}
}

func TestEndOfRunStaleness(t *testing.T) {
	st := newTestStorage()
	sl := testLoop(t, st, func(c *config.ScrapeConfig) {
		c.ScrapeInterval = model.Duration(20 * time.Millisecond)
		c.ScrapeTimeout = c.ScrapeInterval
	}, "")
	now := time.Now()
	if _, err := appendOnce(t, sl, st, "a 1\n", textType, now); err != nil {
		t.Fatal(err)
	}
	sl.lastScrape = now
	sl.endOfRunStaleness()
	a := st.series(`{__name__="a", instance="x:1", job="test"}`)
	if len(a) != 2 || !storage.IsStaleNaN(a[1].v) {
		t.Fatalf("a must be stale after the target went away: %v", a)
	}
	if up := st.series(`{__name__="up", instance="x:1", job="test"}`); len(up) != 1 || !storage.IsStaleNaN(up[0].v) {
		t.Fatalf("up must get a stale marker: %v", up)
	}
	// A loop whose cache was taken over writes nothing.
	st2 := newTestStorage()
	sl2 := testLoop(t, st2, nil, "")
	if _, err := appendOnce(t, sl2, st2, "a 1\n", textType, now); err != nil {
		t.Fatal(err)
	}
	sl2.lastScrape = now.Add(-time.Hour)
	if _, ok := sl2.takeOver(); !ok {
		t.Fatal("takeOver failed")
	}
	sl2.endOfRunStaleness()
	if n := len(st2.all()); n != 1 {
		t.Fatalf("taken-over loop wrote stale markers: %v", st2.all())
	}
}

func TestAcceptHeader(t *testing.T) {
	got := acceptHeader([]config.ScrapeProtocol{config.PrometheusText0_0_4})
	if got != "text/plain;version=0.0.4;q=0.7,*/*;q=0.6" {
		t.Errorf("accept header %q", got)
	}
}

func TestAlignTimestamp(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		name        string
		now         time.Duration // after start
		wantTS      time.Duration
		wantAligned time.Duration
	}{
		{"on tick", 10 * time.Second, 10 * time.Second, 10 * time.Second},
		{"1ms late snaps", 10*time.Second + time.Millisecond, 10 * time.Second, 10 * time.Second},
		{"3ms late keeps", 10*time.Second + 3*time.Millisecond, 10*time.Second + 3*time.Millisecond, 10 * time.Second},
		{"skipped ticks", 30*time.Second + time.Millisecond, 30 * time.Second, 30 * time.Second},
		{"early keeps", 9*time.Second + 999*time.Millisecond, 9*time.Second + 999*time.Millisecond, 0},
	}
	for _, c := range cases {
		ts, al := alignTimestamp(start.Add(c.now), start, 10*time.Second, 2*time.Millisecond)
		if !ts.Equal(start.Add(c.wantTS)) || !al.Equal(start.Add(c.wantAligned)) {
			t.Errorf("%s: ts %v aligned %v, want %v %v", c.name, ts.Sub(start), al.Sub(start), c.wantTS, c.wantAligned)
		}
	}
}

// failingCommits is a storage whose next fail commits fail as a full disk fails them: nothing
// of the batch is stored.
type failingCommits struct {
	*testStorage
	fail int
}

func (s *failingCommits) Appender(ctx context.Context) storage.Appender {
	return &failingCommitAppender{testAppender: s.testStorage.Appender(ctx).(*testAppender), s: s}
}

type failingCommitAppender struct {
	*testAppender
	s *failingCommits
}

var errDiskFull = errors.New("write /data/wal/00000001: no space left on device")

func (a *failingCommitAppender) Commit() error {
	a.testStorage().mtx.Lock()
	fail := a.s.fail > 0
	if fail {
		a.s.fail--
	}
	a.testStorage().mtx.Unlock()
	if fail {
		a.pending = nil
		return errDiskFull
	}
	return a.testAppender.Commit()
}

func (a *failingCommitAppender) testStorage() *testStorage { return a.s.testStorage }

// A scrape whose commit fails (disk full) shows as failed: the target is down with the storage
// error as its last error, and up=0 is stored for that scrape instead of queries seeing the
// previous scrape's up=1. When the disk takes nothing at all, the target still says why.
func TestScrapeCommitFailure(t *testing.T) {
	for _, c := range []struct {
		name   string
		fail   int
		wantUp []float64
	}{
		{"the samples' commit fails", 1, []float64{1, 0}},
		{"every commit fails", 2, []float64{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := exposition(t, "# TYPE a gauge\na 1\n", textType, nil)
			st := &failingCommits{testStorage: newTestStorage()}
			sl := testLoop(t, st, nil, strings.TrimPrefix(srv.URL, "http://"))
			sl.scrapeAndReport(ts0)
			if h := sl.target.Health(); h != HealthGood {
				t.Fatalf("first scrape: health %s, err %v", h, sl.target.LastError())
			}
			st.fail = c.fail
			sl.scrapeAndReport(ts0.Add(time.Second))
			if h, err := sl.target.Health(), sl.target.LastError(); h != HealthBad || err == nil || !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("after a failed commit: health %s, lastError %v", h, err)
			}
			var up []float64
			inst := sl.target.labels.Get("instance")
			for _, s := range st.series(`{__name__="up", instance="` + inst + `", job="test"}`) {
				up = append(up, s.v)
			}
			if fmt.Sprint(up) != fmt.Sprint(c.wantUp) {
				t.Fatalf("up = %v, want %v", up, c.wantUp)
			}
			if a := st.series(`{__name__="a", instance="` + inst + `", job="test"}`); len(a) != 1 {
				t.Errorf("samples of the failed scrape stored: %v", a)
			}
			st.fail = 0
			sl.scrapeAndReport(ts0.Add(2 * time.Second))
			if h := sl.target.Health(); h != HealthGood || sl.target.LastError() != nil {
				t.Fatalf("after the disk has room again: health %s, err %v", h, sl.target.LastError())
			}
		})
	}
}
