package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// hsample is a sample of any type, as read back from a storage.
type hsample struct {
	st int64 // start timestamp (0: none)
	t  int64
	v  float64
	h  *histogram.Histogram
	fh *histogram.FloatHistogram
}

func (s hsample) valueType() storage.ValueType {
	switch {
	case s.h != nil:
		return storage.ValHistogram
	case s.fh != nil:
		return storage.ValFloatHistogram
	}
	return storage.ValFloat
}

type hseries struct {
	lset    labels.Labels
	samples []hsample
}

const histStep = 15000

// histWorkload is the series of the histogram tests: integer and float counter histograms with
// counter resets and growing layouts, custom buckets, a gauge histogram, stale markers, and a
// series that changes type back and forth (float → histogram → float → float histogram →
// histogram, with a schema change).
func histWorkload() []hseries {
	ser := func(name string) labels.Labels { return labels.FromStrings("__name__", name, "job", "h") }
	var out []hseries
	add := func(t0 int64, hs []*histogram.Histogram, float bool) []hsample {
		var ss []hsample
		for i, h := range hs {
			s := hsample{t: t0 + int64(i)*histStep}
			if float {
				s.fh = h.ToFloat(nil)
			} else {
				s.h = h
			}
			ss = append(ss, s)
		}
		return ss
	}
	exp := add(0, histgen.Latency(600, 1, 300, false), false)
	exp[100].h = &histogram.Histogram{Sum: storage.StaleNaN()} // a stale marker, then the series again
	out = append(out, hseries{ser("exp"), exp})
	out = append(out, hseries{ser("nhcb"), add(0, histgen.Latency(600, 2, 0, true), false)})
	out = append(out, hseries{ser("nhcb_reset"), add(0, histgen.Latency(400, 3, 123, true), false)})
	out = append(out, hseries{ser("float"), add(0, histgen.Latency(500, 4, 250, false), true)})
	gauge := histgen.Latency(200, 5, 0, false)
	for i, j := 0, len(gauge)-1; i < j; i, j = i+1, j-1 {
		gauge[i], gauge[j] = gauge[j], gauge[i] // decreasing: only a gauge may do that without resets
	}
	for _, h := range gauge {
		h.CounterResetHint = histogram.GaugeType
	}
	out = append(out, hseries{ser("gauge"), add(0, gauge, false)})

	var mixed []hsample
	for i := range 100 {
		mixed = append(mixed, hsample{t: int64(i) * histStep, v: float64(i)})
	}
	mixed = append(mixed, add(100*histStep, histgen.Latency(150, 6, 0, false), false)...)
	for i := 250; i < 300; i++ {
		mixed = append(mixed, hsample{t: int64(i) * histStep, v: float64(i) / 3})
	}
	mixed = append(mixed, add(300*histStep, histgen.Latency(100, 7, 0, false), true)...)
	lowRes := histgen.Latency(100, 8, 0, false)
	for i, h := range lowRes {
		if i >= 50 {
			if err := h.ReduceResolution(0); err != nil { // schema 2 → 0 mid-chunk
				panic(err)
			}
		}
	}
	mixed = append(mixed, add(400*histStep, lowRes, false)...)
	// A float stale marker after histograms becomes a stale histogram in the TSDB, not in
	// MemStorage: TestFloatStaleMarkerOfHistogramSeries covers it.
	out = append(out, hseries{ser("mixed"), mixed})
	return out
}

// appendWorkload appends the series to app in batches of batch samples per series, round robin,
// as a scrape would; histograms are copied (an appender may keep them).
func appendWorkload(t testing.TB, a storage.Appendable, series []hseries, batch int) {
	t.Helper()
	maxLen := 0
	for _, s := range series {
		maxLen = max(maxLen, len(s.samples))
	}
	for start := 0; start < maxLen; start += batch {
		app := a.Appender(context.Background())
		for _, s := range series {
			for i := start; i < min(start+batch, len(s.samples)); i++ {
				p := s.samples[i]
				var err error
				switch {
				case p.st != 0 && p.valueType() != storage.ValFloat:
					var h *histogram.Histogram
					var fh *histogram.FloatHistogram
					if p.h != nil {
						h = p.h.Copy()
					} else {
						fh = p.fh.Copy()
					}
					_, err = app.(storage.HistogramSTAppender).AppendHistogramST(0, s.lset, p.st, p.t, h, fh)
				case p.st != 0:
					_, err = app.(storage.STAppender).AppendST(0, s.lset, p.st, p.t, p.v)
				case p.h != nil:
					_, err = app.AppendHistogram(0, s.lset, p.t, p.h.Copy(), nil)
				case p.fh != nil:
					_, err = app.AppendHistogram(0, s.lset, p.t, nil, p.fh.Copy())
				default:
					_, err = app.Append(0, s.lset, p.t, p.v)
				}
				if err != nil {
					t.Fatalf("append %s @%d: %v", s.lset, p.t, err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads every series of q in [mint, maxt], reusing histogram objects where reuse is
// set (copying them out) and taking the iterator's own otherwise.
func readAll(t testing.TB, q storage.Queryable, mint, maxt int64, reuse bool) map[string][]hsample {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	out := map[string][]hsample{}
	ss := qr.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	var (
		it storage.Iterator
		h  histogram.Histogram
		fh histogram.FloatHistogram
	)
	for ss.Next() {
		it = ss.At().Iterator(it)
		var got []hsample
		for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
			s := hsample{t: it.AtT(), st: it.AtST()}
			switch vt {
			case storage.ValFloat:
				_, s.v = it.At()
			case storage.ValHistogram:
				if reuse {
					_, hp := it.AtHistogram(&h)
					s.h = hp.Copy()
				} else {
					_, s.h = it.AtHistogram(nil)
				}
				// AtFloatHistogram converts an integer histogram.
				if _, f := it.AtFloatHistogram(nil); !f.Equals(s.h.ToFloat(nil)) {
					t.Fatalf("AtFloatHistogram of %v: %v", s.h, f)
				}
			case storage.ValFloatHistogram:
				if reuse {
					_, fp := it.AtFloatHistogram(&fh)
					s.fh = fp.Copy()
				} else {
					_, s.fh = it.AtFloatHistogram(nil)
				}
			}
			got = append(got, s)
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[ss.At().Labels().String()] = got
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameSamples compares samples read from the TSDB with those read from the reference storage:
// same types, timestamps and values (histograms compared without the empty buckets that
// recoding adds, stale markers by their sum); counter reset hints may differ only where the
// reference's hint is unknown, and never contradict the data.
func sameSamples(t testing.TB, name string, got, want []hsample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d samples, want %d", name, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.t != w.t || g.valueType() != w.valueType() {
			t.Fatalf("%s sample %d: %s @%d, want %s @%d", name, i, g.valueType(), g.t, w.valueType(), w.t)
		}
		if g.st != w.st {
			t.Fatalf("%s sample %d @%d: start timestamp %d, want %d", name, i, g.t, g.st, w.st)
		}
		switch w.valueType() {
		case storage.ValFloat:
			if math.Float64bits(g.v) != math.Float64bits(w.v) {
				t.Fatalf("%s sample %d: %v, want %v", name, i, g.v, w.v)
			}
		case storage.ValHistogram:
			if storage.IsStaleNaN(w.h.Sum) || storage.IsStaleNaN(g.h.Sum) {
				if !storage.IsStaleNaN(g.h.Sum) || !storage.IsStaleNaN(w.h.Sum) {
					t.Fatalf("%s sample %d: stale marker mismatch: %v, want %v", name, i, g.h, w.h)
				}
				continue
			}
			if !g.h.Copy().Compact(0).Equals(w.h.Copy().Compact(0)) {
				t.Fatalf("%s sample %d:\n got %v\nwant %v", name, i, g.h, w.h)
			}
			checkHint(t, name, i, g.h.CounterResetHint, w.h.CounterResetHint, func() bool {
				return i > 0 && want[i-1].h != nil && !storage.IsStaleNaN(want[i-1].h.Sum) && w.h.ToFloat(nil).DetectReset(want[i-1].h.ToFloat(nil))
			})
		case storage.ValFloatHistogram:
			if !g.fh.Copy().Compact(0).Equals(w.fh.Copy().Compact(0)) {
				t.Fatalf("%s sample %d:\n got %v\nwant %v", name, i, g.fh, w.fh)
			}
			checkHint(t, name, i, g.fh.CounterResetHint, w.fh.CounterResetHint, func() bool {
				return i > 0 && want[i-1].fh != nil && w.fh.DetectReset(want[i-1].fh)
			})
		}
	}
}

func checkHint(t testing.TB, name string, i int, got, want histogram.CounterResetHint, reset func() bool) {
	t.Helper()
	switch {
	case want == histogram.GaugeType:
		if got != histogram.GaugeType {
			t.Fatalf("%s sample %d: hint %v, want gauge", name, i, got)
		}
	case got == histogram.CounterReset && !reset():
		t.Fatalf("%s sample %d: counter reset where there is none", name, i)
	case got == histogram.NotCounterReset && reset():
		t.Fatalf("%s sample %d: no counter reset hinted where there is one", name, i)
	}
}

func compareStores(t testing.TB, stage string, got, want map[string][]hsample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d series, want %d", stage, len(got), len(want))
	}
	for name, w := range want {
		sameSamples(t, stage+" "+name, got[name], w)
	}
}

// TestHistogramsAsMemStorage is the differential test: the same samples go into the TSDB and
// into promqltest.MemStorage (what the PromQL conformance tests use without a TSDB), and come
// out the same from the head, after a restart (WAL replay), from blocks after compaction and
// from a restart over blocks and checkpoint — whole range, sub-ranges, and with seeks.
func TestHistogramsAsMemStorage(t *testing.T) {
	t.Run("without start timestamps", func(t *testing.T) { testHistogramsAsMemStorage(t, histWorkload(), false) })
	t.Run("with start timestamps", func(t *testing.T) { testHistogramsAsMemStorage(t, withHistST(histWorkload()), true) })
}

// withHistST gives the workload's samples start timestamps, a pattern per series: cumulative
// with a created timestamp renewed every 100 samples (exp, and mixed across its type
// changes), delta (nhcb), only from the 200th sample on (nhcb_reset), after, at, without and
// before the sample (float); the gauge has none.
func withHistST(series []hseries) []hseries {
	for _, s := range series {
		name := s.lset.Get("__name__")
		for i := range s.samples {
			p := &s.samples[i]
			switch name {
			case "exp", "mixed":
				p.st = int64(i/100*100)*histStep - 30000 + 1
			case "nhcb":
				p.st = p.t - histStep
			case "nhcb_reset":
				if i >= 200 {
					p.st = 200*histStep - 1
				}
			case "float":
				p.st = []int64{p.t + 1, p.t, 0, -7}[i%4]
			}
		}
	}
	return series
}

func testHistogramsAsMemStorage(t *testing.T, series []hseries, withST bool) {
	mem := promqltest.NewMemStorage()
	appendWorkload(t, mem, series, 7)
	dir := t.TempDir()
	const r = 3600_000
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 9 * r, WALSegmentSize: 64 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	// Appended to the head directly: DB appenders would start compacting in the background.
	appendWorkload(t, headAppendable{db.head}, series, 7)

	ranges := [][2]int64{{math.MinInt64, math.MaxInt64}, {r / 2, r/2 + 20*histStep}, {99 * histStep, 101 * histStep}, {250 * histStep, 420 * histStep}}
	check := func(stage string) {
		t.Helper()
		for _, rg := range ranges {
			want := readAll(t, mem, rg[0], rg[1], false)
			compareStores(t, stage, readAll(t, db, rg[0], rg[1], false), want)
			compareStores(t, stage+" reused", readAll(t, db, rg[0], rg[1], true), want)
		}
		checkSeeks(t, stage, db, mem)
	}
	check("head")
	reopen := func() {
		t.Helper()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if db, err = Open(dir, opts, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	// From here on a clean shutdown writes a head snapshot (the DB opened now replays the WAL).
	opts.SnapshotOnShutdown = true
	reopen()
	check("replayed")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshotPath(dir)); err != nil {
		t.Fatalf("no head snapshot: %v", err)
	}
	db, fails := openSnapDB(t, dir, opts)
	if fails != 0 {
		t.Fatal("the head snapshot failed to load")
	}
	check("from snapshot")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("compaction cut no block")
	}
	// The checkpoint keeps the histogram samples of the head's live series.
	cp, _, err := wal.LastCheckpoint(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatalf("no checkpoint after compaction: %v", err)
	}
	hr, fhr := record.HistogramSamples, record.FloatHistogramSamples
	if withST {
		hr, fhr = record.HistogramSamplesST, record.FloatHistogramSamplesST
	}
	if n := walRecordTypes(t, cp); n[hr] == 0 || n[fhr] == 0 {
		t.Fatalf("checkpoint records by type: %v, want %s and %s", n, hr, fhr)
	}
	check("blocks")
	reopen()
	check("blocks replayed")
}

// checkSeeks seeks every series to random times and requires the same sample type and time
// as the reference storage, then the same next sample.
func checkSeeks(t testing.TB, stage string, db, mem storage.Queryable) {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	open := func(q storage.Queryable) (storage.Querier, storage.SeriesSet) {
		qr, err := q.Querier(math.MinInt64, math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		return qr, qr.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	}
	dq, dss := open(db)
	defer dq.Close()
	mq, mss := open(mem)
	defer mq.Close()
	for dss.Next() && mss.Next() {
		di, mi := dss.At().Iterator(nil), mss.At().Iterator(nil)
		ts := int64(0)
		for range 40 {
			ts += r.Int63n(40 * histStep)
			dt, mt := di.SeekTo(ts), mi.SeekTo(ts)
			if dt != mt || (dt != storage.ValNone && (di.AtT() != mi.AtT() || di.AtST() != mi.AtST())) {
				t.Fatalf("%s %s: SeekTo(%d) = %s, want %s", stage, dss.At().Labels(), ts, dt, mt)
			}
			if dt == storage.ValNone {
				break
			}
			if dt == storage.ValHistogram {
				_, gh := di.AtHistogram(nil)
				_, wh := mi.AtHistogram(nil)
				if !storage.IsStaleNaN(wh.Sum) && !gh.Copy().Compact(0).Equals(wh.Copy().Compact(0)) {
					t.Fatalf("%s %s: at %d: %v, want %v", stage, dss.At().Labels(), ts, gh, wh)
				}
			}
			if dn, mn := di.Next(), mi.Next(); dn != mn || (dn != storage.ValNone && di.AtST() != mi.AtST()) {
				t.Fatalf("%s %s: Next after SeekTo(%d) = %s, want %s", stage, dss.At().Labels(), ts, dn, mn)
			}
		}
	}
}

type headAppendable struct{ h *Head }

func (a headAppendable) Appender(context.Context) storage.Appender { return a.h.Appender() }

func TestHistogramAppendRules(t *testing.T) {
	hs := histgen.Latency(3, 1, 0, false)
	lset := labels.FromStrings("__name__", "h")
	type step struct {
		t       int64
		v       float64 // used when h and fh are nil
		h       *histogram.Histogram
		fh      *histogram.FloatHistogram
		wantErr error
	}
	cases := map[string][]step{
		"same histogram again is ignored":         {{t: 10, h: hs[1]}, {t: 10, h: hs[1]}},
		"other histogram at the same time":        {{t: 10, h: hs[1]}, {t: 10, h: hs[2], wantErr: storage.ErrDuplicateSampleForTimestamp}},
		"older histogram":                         {{t: 10, h: hs[1]}, {t: 9, h: hs[0], wantErr: storage.ErrOutOfOrderSample}},
		"float where a histogram is":              {{t: 10, h: hs[1]}, {t: 10, v: 1, wantErr: storage.ErrDuplicateSampleForTimestamp}},
		"histogram where a float is":              {{t: 10, v: 1}, {t: 10, h: hs[1], wantErr: storage.ErrDuplicateSampleForTimestamp}},
		"float histogram where an integer one is": {{t: 10, h: hs[1]}, {t: 10, fh: hs[1].ToFloat(nil), wantErr: storage.ErrDuplicateSampleForTimestamp}},
		"same float histogram again is ignored":   {{t: 10, fh: hs[1].ToFloat(nil)}, {t: 10, fh: hs[1].ToFloat(nil)}},
		"invalid histogram":                       {{t: 10, h: &histogram.Histogram{Count: 1, PositiveSpans: []histogram.Span{{Length: 2}}, PositiveBuckets: []int64{1}}, wantErr: histogram.ErrHistogramSpansBucketsMismatch}},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			for _, sameBatch := range []bool{false, true} {
				db := openTestDB(t, nil)
				app := db.Appender(context.Background())
				var want []hsample
				for i, s := range steps {
					if !sameBatch && i > 0 {
						if err := app.Commit(); err != nil {
							t.Fatal(err)
						}
						app = db.Appender(context.Background())
					}
					var err error
					switch {
					case s.h != nil:
						_, err = app.AppendHistogram(0, lset, s.t, s.h.Copy(), nil)
					case s.fh != nil:
						_, err = app.AppendHistogram(0, lset, s.t, nil, s.fh.Copy())
					default:
						_, err = app.Append(0, lset, s.t, s.v)
					}
					if sameBatch && i > 0 && s.wantErr == nil && steps[i-1].t == s.t {
						// Within one batch any second sample at a timestamp is a duplicate, as for floats.
						if !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
							t.Fatalf("same batch, step %d: %v", i, err)
						}
						continue
					}
					if !errors.Is(err, s.wantErr) {
						t.Fatalf("step %d: err %v, want %v", i, err, s.wantErr)
					}
					if err == nil && (i == 0 || steps[i-1].t != s.t) {
						want = append(want, hsample{t: s.t, v: s.v, h: s.h, fh: s.fh})
					}
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				sameSamples(t, name, readAll(t, db, math.MinInt64, math.MaxInt64, false)[lset.String()], want)
			}
		})
	}
	t.Run("both or neither histogram", func(t *testing.T) {
		app := openTestDB(t, nil).Appender(context.Background())
		if _, err := app.AppendHistogram(0, lset, 1, nil, nil); err == nil {
			t.Fatal("no histogram accepted")
		}
		if _, err := app.AppendHistogram(0, lset, 1, hs[0], hs[0].ToFloat(nil)); err == nil {
			t.Fatal("two histograms accepted")
		}
	})
}

// TestFloatStaleMarkerOfHistogramSeries: scrape marks a vanished series stale with a float
// StaleNaN; for a histogram series the head stores it as a stale histogram (as upstream), in the
// same chunk, whether the histogram came in an earlier batch or the same one.
func TestFloatStaleMarkerOfHistogramSeries(t *testing.T) {
	hs := histgen.Latency(2, 1, 0, false)
	for _, sameBatch := range []bool{false, true} {
		for _, float := range []bool{false, true} {
			db := openTestDB(t, nil)
			lset := labels.FromStrings("__name__", "h")
			app := db.Appender(context.Background())
			if float {
				app.AppendHistogram(0, lset, 10, nil, hs[0].ToFloat(nil))
			} else {
				app.AppendHistogram(0, lset, 10, hs[0], nil)
			}
			if !sameBatch {
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				app = db.Appender(context.Background())
			}
			if _, err := app.Append(0, lset, 20, storage.StaleNaN()); err != nil {
				t.Fatal(err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			got := readAll(t, db, math.MinInt64, math.MaxInt64, false)[lset.String()]
			if len(got) != 2 {
				t.Fatalf("%d samples", len(got))
			}
			s := got[1]
			switch {
			case !float && (s.h == nil || !storage.IsStaleNaN(s.h.Sum)):
				t.Fatalf("same batch %v: stale marker read as %+v, want a stale histogram", sameBatch, s)
			case float && (s.fh == nil || !storage.IsStaleNaN(s.fh.Sum)):
				t.Fatalf("same batch %v: stale marker read as %+v, want a stale float histogram", sameBatch, s)
			}
			ms := db.head.series.getByHash(lset.Hash(), lset)
			if len(ms.closed) != 0 {
				t.Fatalf("the stale marker cut a chunk")
			}
		}
	}
}

// TestTypeChangesWithinABatch: a series that goes histogram → float → histogram inside one
// commit keeps its order in the head and through the WAL (the batch is logged in segments).
func TestTypeChangesWithinABatch(t *testing.T) {
	hs := histgen.Latency(4, 1, 0, false)
	lset := labels.FromStrings("__name__", "h")
	want := []hsample{{t: 1, h: hs[0]}, {t: 2, v: 2}, {t: 3, fh: hs[1].ToFloat(nil)}, {t: 4, h: hs[2]}, {t: 5, v: 5}, {t: 6, h: hs[3]}}
	dir := t.TempDir()
	db, err := Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendWorkload(t, db, []hseries{{lset, want}}, len(want))
	sameSamples(t, "head", readAll(t, db, math.MinInt64, math.MaxInt64, false)[lset.String()], want)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sameSamples(t, "replayed", readAll(t, db, math.MinInt64, math.MaxInt64, false)[lset.String()], want)
}

// TestConcurrentHistogramAppendAndQuery appends histograms (with type changes) while queriers
// read and the head is compacted into blocks in the background, for the race detector: readers
// must see complete samples in order, and everything is there at the end.
func TestConcurrentHistogramAppendAndQuery(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: 3600_000, MaxBlockDuration: 3 * 3600_000})
	series := histWorkload()
	for i := range series {
		series[i].samples = series[i].samples[:min(600, len(series[i].samples))]
	}
	done := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for {
			select {
			case <-done:
				return
			default:
			}
			got := readAll(t, db, math.MinInt64, math.MaxInt64, true)
			for name, ss := range got {
				for i := 1; i < len(ss); i++ {
					if ss[i].t <= ss[i-1].t {
						errc <- fmt.Errorf("%s: samples out of order at %d", name, i)
						return
					}
				}
			}
		}
	}()
	appendWorkload(t, db, series, 3)
	close(done)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mem := promqltest.NewMemStorage()
	appendWorkload(t, mem, series, 3)
	compareStores(t, "after", readAll(t, db, math.MinInt64, math.MaxInt64, false), readAll(t, mem, math.MinInt64, math.MaxInt64, false))
}

// Deleting a range of a histogram series with start timestamps keeps the start timestamps of
// the samples left: in the head (tombstones), and once the tombstones are cleaned into blocks.
func TestHistogramStartTimestampsDeletion(t *testing.T) {
	series := withHistST(histWorkload())
	mem := promqltest.NewMemStorage()
	appendWorkload(t, mem, series, 7)
	const r = 3600_000
	db, err := Open(t.TempDir(), &Options{MinBlockDuration: r, MaxBlockDuration: 9 * r}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	appendWorkload(t, headAppendable{db.head}, series, 7)
	// A range of every series, and all of one series but its ends.
	type deletion struct {
		mint, maxt int64
		name       string
	}
	dels := []deletion{{90 * histStep, 130 * histStep, ".+"}, {histStep, 590 * histStep, "nhcb"}}
	for _, d := range dels {
		if err := db.Delete(context.Background(), d.mint, d.maxt, labels.MustNewMatcher(labels.MatchRegexp, "__name__", d.name)); err != nil {
			t.Fatal(err)
		}
	}
	want := readAll(t, mem, math.MinInt64, math.MaxInt64, false)
	for _, ser := range series {
		key := ser.lset.String()
		want[key] = slices.DeleteFunc(want[key], func(s hsample) bool {
			for _, d := range dels {
				if s.t >= d.mint && s.t <= d.maxt && labels.MustNewMatcher(labels.MatchRegexp, "__name__", d.name).Matches(ser.lset.Get("__name__")) {
					return true
				}
			}
			return false
		})
	}
	// A deleted range makes the sample after it follow another one than it was appended
	// after: its stored counter reset hint is not comparable with the data left.
	noHints := func(m map[string][]hsample) map[string][]hsample {
		for _, ss := range m {
			for i := range ss {
				if ss[i].h != nil && ss[i].h.CounterResetHint != histogram.GaugeType {
					ss[i].h.CounterResetHint = histogram.UnknownCounterReset
				}
				if ss[i].fh != nil && ss[i].fh.CounterResetHint != histogram.GaugeType {
					ss[i].fh.CounterResetHint = histogram.UnknownCounterReset
				}
			}
		}
		return m
	}
	want = noHints(want)
	compareStores(t, "head with tombstones", noHints(readAll(t, db, math.MinInt64, math.MaxInt64, false)), want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.CleanTombstones(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no blocks")
	}
	compareStores(t, "blocks after cleaning tombstones", noHints(readAll(t, db, math.MinInt64, math.MaxInt64, false)), want)
}
