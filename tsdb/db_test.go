package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

func openTestDB(t testing.TB, opts *Options) *DB {
	t.Helper()
	if opts == nil {
		opts = DefaultOptions()
	}
	db, err := Open(t.TempDir(), opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type tsample struct {
	t int64
	v float64
}

// queryAll returns every series matching ms in [mint, maxt] as label string → samples.
func queryAll(t testing.TB, q storage.Queryable, mint, maxt int64, ms ...*labels.Matcher) map[string][]tsample {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), true, nil, ms...)
	out := map[string][]tsample{}
	var prev labels.Labels
	var it storage.Iterator
	for ss.Next() {
		s := ss.At()
		if prev.Len() > 0 && labels.Compare(prev, s.Labels()) >= 0 {
			t.Fatalf("series out of order: %s after %s", s.Labels(), prev)
		}
		prev = s.Labels()
		it = s.Iterator(it)
		var samples []tsample
		for it.Next() != storage.ValNone {
			ts, v := it.At()
			samples = append(samples, tsample{ts, v})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		out[s.Labels().String()] = samples
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustMatcher(t testing.TB, typ labels.MatchType, n, v string) *labels.Matcher {
	m, err := labels.NewMatcher(typ, n, v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAppendAndQuery(t *testing.T) {
	db := openTestDB(t, nil)
	app := db.Appender(context.Background())
	a := labels.FromStrings("__name__", "up", "job", "a")
	b := labels.FromStrings("__name__", "up", "job", "b")
	ref, err := app.Append(0, a, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(ref, a, 2000, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, b, 1000, 10); err != nil {
		t.Fatal(err)
	}
	// Nothing visible before commit.
	if got := queryAll(t, db, 0, 10000); len(got) != 0 {
		t.Fatalf("uncommitted samples visible: %v", got)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got := queryAll(t, db, 0, 10000, mustMatcher(t, labels.MatchEqual, "__name__", "up"))
	want := map[string][]tsample{
		a.String(): {{1000, 1}, {2000, 2}},
		b.String(): {{1000, 10}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Range bounds are inclusive.
	if got := queryAll(t, db, 2000, 2000); len(got[a.String()]) != 1 {
		t.Fatalf("inclusive bounds: %v", got)
	}
}

func TestAppendErrors(t *testing.T) {
	db := openTestDB(t, nil)
	s := labels.FromStrings("__name__", "m")
	app := db.Appender(context.Background())
	if _, err := app.Append(0, s, 2000, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, s, 1000, 1); !errors.Is(err, storage.ErrOutOfOrderSample) {
		t.Fatalf("out of order within a batch: %v", err)
	}
	if _, err := app.Append(0, s, 2000, 5); !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		t.Fatalf("duplicate within a batch: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	app = db.Appender(context.Background())
	for _, tc := range []struct {
		t    int64
		v    float64
		want error
	}{
		{1999, 1, storage.ErrOutOfOrderSample},
		{2000, 2, storage.ErrDuplicateSampleForTimestamp},
		{2000, 1, nil}, // same sample again is accepted and ignored
		{3000, math.NaN(), nil},
	} {
		_, err := app.Append(0, s, tc.t, tc.v)
		if !errors.Is(err, tc.want) {
			t.Errorf("append(%d, %v) = %v, want %v", tc.t, tc.v, err, tc.want)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Appender(context.Background()).Append(0, labels.EmptyLabels(), 1, 1); !errors.Is(err, storage.ErrEmptyLabelSet) {
		t.Fatalf("empty label set: %v", err)
	}
	// A reference alone appends to a known series; an unknown one asks for the labels.
	app = db.Appender(context.Background())
	ref, err := app.Append(0, s, 4500, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(ref, labels.EmptyLabels(), 4600, 1); err != nil {
		t.Fatalf("append by ref without labels: %v", err)
	}
	if _, err := app.Append(ref+1000, labels.EmptyLabels(), 4600, 1); !errors.Is(err, storage.ErrUnknownSeriesRef) {
		t.Fatalf("unknown ref without labels: %v", err)
	}
	app.Rollback()
	// Rolled back samples never appear, and do not block later appends.
	app = db.Appender(context.Background())
	if _, err := app.Append(0, s, 5000, 5); err != nil {
		t.Fatal(err)
	}
	app.Rollback()
	got := queryAll(t, db, 0, 10000)[s.String()]
	if len(got) != 2 || got[0] != (tsample{2000, 1}) || got[1].t != 3000 || !math.IsNaN(got[1].v) {
		t.Fatalf("after rollback: %v", got)
	}
	app = db.Appender(context.Background())
	if _, err := app.Append(0, s, 4000, 4); err != nil {
		t.Fatalf("append after rollback: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestStaleNaNRoundTrip(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := labels.FromStrings("__name__", "m")
	app := db.Appender(context.Background())
	app.Append(0, s, 1000, 1)
	app.Append(0, s, 2000, storage.StaleNaN())
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	check := func(db *DB) {
		got := queryAll(t, db, 0, 5000)[s.String()]
		if len(got) != 2 || !storage.IsStaleNaN(got[1].v) {
			t.Fatalf("stale marker not returned: %v", got)
		}
	}
	check(db)
	db.Close()
	db, err = Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	check(db)
}

func TestMatchers(t *testing.T) {
	db := openTestDB(t, nil)
	app := db.Appender(context.Background())
	var all []labels.Labels
	for i := 0; i < 30; i++ {
		ls := labels.FromStrings("__name__", fmt.Sprintf("metric_%d", i%3), "i", fmt.Sprint(i), "even", fmt.Sprint(i%2 == 0))
		if i%5 == 0 {
			ls = labels.FromStrings("__name__", fmt.Sprintf("metric_%d", i%3), "i", fmt.Sprint(i), "even", fmt.Sprint(i%2 == 0), "opt", "x")
		}
		all = append(all, ls)
		if _, err := app.Append(0, ls, 1000, float64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	cases := [][]*labels.Matcher{
		{mustMatcher(t, labels.MatchEqual, "__name__", "metric_1")},
		{mustMatcher(t, labels.MatchNotEqual, "__name__", "metric_1")},
		{mustMatcher(t, labels.MatchRegexp, "__name__", "metric_(0|2)")},
		{mustMatcher(t, labels.MatchRegexp, "__name__", "metric_.*"), mustMatcher(t, labels.MatchNotRegexp, "i", "1.*")},
		{mustMatcher(t, labels.MatchEqual, "opt", "")},
		{mustMatcher(t, labels.MatchNotEqual, "opt", "")},
		{mustMatcher(t, labels.MatchRegexp, "opt", "x|")},
		{mustMatcher(t, labels.MatchRegexp, "opt", ".+")},
		{mustMatcher(t, labels.MatchRegexp, "i", ".*"), mustMatcher(t, labels.MatchEqual, "even", "true")},
		{mustMatcher(t, labels.MatchNotRegexp, "opt", ".*")},
		{mustMatcher(t, labels.MatchEqual, "nope", "x")},
		{mustMatcher(t, labels.MatchRegexp, "i", "2[0-9]"), mustMatcher(t, labels.MatchNotEqual, "i", "25")},
	}
	for _, ms := range cases {
		want := map[string]bool{}
		for _, ls := range all {
			ok := true
			for _, m := range ms {
				ok = ok && m.Matches(ls.Get(m.Name))
			}
			if ok {
				want[ls.String()] = true
			}
		}
		got := queryAll(t, db, 0, 2000, ms...)
		if len(got) != len(want) {
			t.Errorf("%v: got %d series, want %d", ms, len(got), len(want))
		}
		for k := range got {
			if !want[k] {
				t.Errorf("%v: unexpected %s", ms, k)
			}
		}
	}
	q, _ := db.Querier(0, 2000)
	defer q.Close()
	vals, err := q.LabelValues(context.Background(), "__name__")
	if err != nil || fmt.Sprint(vals) != "[metric_0 metric_1 metric_2]" {
		t.Fatalf("label values: %v %v", vals, err)
	}
	vals, err = q.LabelValues(context.Background(), "i", mustMatcher(t, labels.MatchEqual, "opt", "x"))
	if err != nil || fmt.Sprint(vals) != "[0 10 15 20 25 5]" {
		t.Fatalf("label values with matcher: %v %v", vals, err)
	}
	names, err := q.LabelNames(context.Background())
	if err != nil || fmt.Sprint(names) != "[__name__ even i opt]" {
		t.Fatalf("label names: %v %v", names, err)
	}
}

// fill appends n series × samples at 15 s steps starting at t0 and returns the expected data.
func fill(t testing.TB, db *DB, n int, t0, t1 int64, step int64, want map[string][]tsample) {
	t.Helper()
	r := rand.New(rand.NewSource(t0))
	for ts := t0; ts < t1; ts += step {
		app := db.Appender(context.Background())
		for i := 0; i < n; i++ {
			ls := labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
			v := float64(r.Intn(1000))
			if i%3 == 0 {
				v = r.Float64()
			}
			if _, err := app.Append(0, ls, ts, v); err != nil {
				t.Fatal(err)
			}
			if want != nil {
				want[ls.String()] = append(want[ls.String()], tsample{ts, v})
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func compare(t testing.TB, got, want map[string][]tsample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: got %d samples, want %d", k, len(g), len(w))
		}
		for i := range w {
			if g[i].t != w[i].t || math.Float64bits(g[i].v) != math.Float64bits(w[i].v) {
				t.Fatalf("%s: sample %d = %v, want %v", k, i, g[i], w[i])
			}
		}
	}
}

func TestReopenReplaysWAL(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, &Options{WALSegmentSize: 32 << 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]tsample{}
	fill(t, db, 50, 0, 200*15000, 15000, want)
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, &Options{WALSegmentSize: 32 << 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	// Appending continues after the replayed data, and old samples are out of order.
	app := db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "m", "i", "1"), 15000, 1); !errors.Is(err, storage.ErrOutOfOrderSample) {
		t.Fatalf("after replay: %v", err)
	}
}

func TestBlocksCompactionAndRetention(t *testing.T) {
	dir := t.TempDir()
	const r = 60 * 60 * 1000 // 1h blocks
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 9 * r, WALSegmentSize: 64 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]tsample{}
	fill(t, db, 20, 0, 12*r, 60000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	blocks := db.Blocks()
	if len(blocks) == 0 {
		t.Fatal("no blocks cut from the head")
	}
	levels := 0
	for _, b := range blocks {
		levels = max(levels, b.Meta().Compaction.Level)
		if b.Meta().MaxTime-b.Meta().MinTime > 9*r {
			t.Fatalf("block spans more than the max duration: %+v", b.Meta())
		}
	}
	if levels < 2 {
		t.Fatalf("no compaction beyond level 1: %d blocks", len(blocks))
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	// A query inside one block and the head.
	sub := queryAll(t, db, 2*r, 2*r+5*60000)
	if len(sub) != 20 || len(sub[labels.FromStrings("__name__", "m", "i", "3").String()]) != 6 {
		t.Fatalf("sub-range query: %d series", len(sub))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Everything survives a restart (blocks + checkpoint + WAL).
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	db.Close()

	// Retention by time: 2h behind the newest sample (12h-1m) drops the level-3 block [0, 9h)
	// and keeps [9h, 10h) which still reaches into the retention window.
	opts.RetentionDuration = 2 * r
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	newest := int64(12*r - 60000)
	for _, b := range db.Blocks() {
		if b.Meta().MaxTime <= newest-2*r {
			t.Fatalf("block past retention kept: %+v", b.Meta())
		}
	}
	got := queryAll(t, db, math.MinInt64, math.MaxInt64)
	first := got[labels.FromStrings("__name__", "m", "i", "0").String()][0].t
	if first != 9*r {
		t.Fatalf("oldest sample after retention: %d", first)
	}
}

func TestConcurrentAppendAndQuery(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: 3600_000, MaxBlockDuration: 3 * 3600_000})
	var wg sync.WaitGroup
	const writers, steps = 4, 300
	// Writers move in lockstep, as scrapes of one instant do: a writer far behind the others
	// would rightly get out-of-bounds errors once the others' data was cut into a block.
	bar := newBarrier(writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for s := 0; s < steps; s++ {
				bar.wait()
				app := db.Appender(context.Background())
				for i := 0; i < 20; i++ {
					ls := labels.FromStrings("__name__", "c", "w", fmt.Sprint(w), "i", fmt.Sprint(i))
					if _, err := app.Append(0, ls, int64(s)*60000, float64(s)); err != nil {
						t.Error(err)
						return
					}
				}
				if err := app.Commit(); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	stop := make(chan struct{})
	var qwg sync.WaitGroup
	for r := 0; r < 2; r++ {
		qwg.Add(1)
		go func() {
			defer qwg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := queryAll(t, db, math.MinInt64, math.MaxInt64, mustMatcher(t, labels.MatchEqual, "__name__", "c"))
				for k, ss := range got {
					for i := 1; i < len(ss); i++ {
						if ss[i].t <= ss[i-1].t {
							t.Errorf("%s: timestamps not increasing", k)
							return
						}
					}
				}
				db.Compact()
			}
		}()
	}
	wg.Wait()
	close(stop)
	qwg.Wait()
	got := queryAll(t, db, math.MinInt64, math.MaxInt64)
	if len(got) != writers*20 {
		t.Fatalf("got %d series", len(got))
	}
	for k, ss := range got {
		if len(ss) != steps {
			t.Fatalf("%s: %d samples, want %d", k, len(ss), steps)
		}
	}
}

type barrier struct {
	mu    sync.Mutex
	cond  *sync.Cond
	n     int
	count int
	gen   int
}

func newBarrier(n int) *barrier {
	b := &barrier{n: n}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *barrier) wait() {
	b.mu.Lock()
	defer b.mu.Unlock()
	gen := b.gen
	b.count++
	if b.count == b.n {
		b.count = 0
		b.gen++
		b.cond.Broadcast()
		return
	}
	for gen == b.gen {
		b.cond.Wait()
	}
}

// A querier created before a block is cut from the head must still see that range: the head
// keeps it until the querier is closed.
func TestQuerierSpanningHeadCompaction(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: hour, MaxBlockDuration: 3 * hour})
	want := map[string][]tsample{}
	fill(t, db, 10, 0, 2*hour, 60000, want)
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- db.Compact() }()
	select {
	case err := <-done:
		t.Fatalf("compaction truncated the head under an open querier (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	got := map[string][]tsample{}
	ss := q.Select(context.Background(), true, nil)
	var it storage.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() != storage.ValNone {
			ts, v := it.At()
			got[ss.At().Labels().String()] = append(got[ss.At().Labels().String()], tsample{ts, v})
		}
	}
	compare(t, got, want)
	q.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block cut")
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
}

// Queriers created while background compaction cuts blocks from the head and merges blocks
// must see every series each time (found by the PromQL conformance run: joins saw 8, then 0, of 8
// series).
func TestSelectsConsistentDuringBackgroundCompaction(t *testing.T) {
	m := mustMatcher(t, labels.MatchEqual, "__name__", "x")
	rounds := 15
	if testing.Short() {
		rounds = 5
	}
	for round := 0; round < rounds; round++ {
		db, err := Open(t.TempDir(), nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		app := db.Appender(context.Background())
		for s := 0; s < 8; s++ {
			ls := labels.FromStrings("__name__", "x", "i", string(rune('a'+s)))
			for k := 0; k <= 100; k++ { // 8.3 h at 5 min: commit triggers head compaction
				if _, err := app.Append(0, ls, int64(k)*300000, float64(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(200 * time.Millisecond)
		for time.Now().Before(deadline) {
			q, err := db.Querier(0, 3000000)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 2; j++ {
				n := 0
				ss := q.Select(context.Background(), false, &storage.SelectHints{Start: 0, End: 3000000}, m)
				for ss.Next() {
					n++
				}
				if n != 8 {
					q.Close()
					db.Close()
					t.Fatalf("round %d: select %d returned %d of 8 series", round, j, n)
				}
			}
			q.Close()
		}
		db.Close()
	}
}

// TestHeadLazySelect: an unsorted Select over the head alone resolves chunks only when a series
// is iterated (into the iterator's reused buffers); it must read exactly what a sorted Select
// reads, with closed and open chunks, deleted intervals and a partial range, and a sample
// appended after the iterator was made must not change what that iterator returns.
func TestHeadLazySelect(t *testing.T) {
	db := openTestDB(t, nil)
	ctx := context.Background()
	for i := 0; i < 150; i++ { // 150 samples: two closed chunks and an open one per series
		app := db.Appender(ctx)
		for s := 0; s < 20; s++ {
			if _, err := app.Append(0, labels.FromStrings("__name__", "m", "s", fmt.Sprint(s)), int64(i)*1000, float64(i*s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Delete(ctx, 30_000, 40_000, labels.MustNewMatcher(labels.MatchEqual, "s", "3")); err != nil {
		t.Fatal(err)
	}
	read := func(sorted bool, mint, maxt int64) map[string][]tsample {
		q, err := db.Querier(mint, maxt)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ss := q.Select(ctx, sorted, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
		out := map[string][]tsample{}
		var it storage.Iterator
		for ss.Next() {
			s := ss.At()
			it = s.Iterator(it)
			for it.Next() != storage.ValNone {
				ts, v := it.At()
				out[s.Labels().String()] = append(out[s.Labels().String()], tsample{ts, v})
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := ss.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, r := range [][2]int64{{0, 200_000}, {25_000, 95_000}, {100_000, 149_000}} {
		lazy, eager := read(false, r[0], r[1]), read(true, r[0], r[1])
		if len(lazy) != 20 || !reflect.DeepEqual(lazy, eager) {
			t.Fatalf("range %v: lazy select read %d series, differs from the sorted select", r, len(lazy))
		}
		if got := lazy[`{__name__="m", s="3"}`]; r[0] == 0 && len(got) != 150-11 {
			t.Fatalf("deleted interval not applied: %d samples", len(got))
		}
	}

	q, err := db.Querier(0, 200_000)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "s", "1"))
	if !ss.Next() {
		t.Fatal("no series")
	}
	it := ss.At().Iterator(nil)
	app := db.Appender(ctx)
	if _, err := app.Append(0, labels.FromStrings("__name__", "m", "s", "1"), 150_000, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() != storage.ValNone {
		n++
	}
	if n != 150 {
		t.Fatalf("iterator made before the append read %d samples, want 150", n)
	}
}
