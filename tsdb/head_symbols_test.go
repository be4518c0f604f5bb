package tsdb

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

func TestHeadSymbolsRoundTripAndEqual(t *testing.T) {
	long := strings.Repeat("x", 300) // multi-byte ids need > 127 symbols; long strings check copying
	var many []string
	for i := 0; i < 200; i++ {
		many = append(many, fmt.Sprintf("l%03d", i), fmt.Sprint(i))
	}
	cases := []struct {
		name   string
		ls     labels.Labels
		others []labels.Labels // never equal to ls
	}{
		{"one label", labels.FromStrings("__name__", "up"),
			[]labels.Labels{labels.FromStrings("__name__", "down"), labels.FromStrings("__name__", "up", "a", "b"), labels.EmptyLabels()}},
		{"shared names and values", labels.FromStrings("a", "a", "b", "a", "c", "b"),
			[]labels.Labels{labels.FromStrings("a", "a", "b", "a"), labels.FromStrings("a", "a", "b", "a", "c", "c")}},
		{"long value", labels.FromStrings("__name__", "m", "v", long),
			[]labels.Labels{labels.FromStrings("__name__", "m", "v", long[1:])}},
		{"ids past one byte", labels.FromStrings(many...),
			[]labels.Labels{labels.FromStrings(many[:len(many)-2]...)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			syms := newHeadSymbols()
			enc := syms.intern(c.ls, nil)
			var b labels.ScratchBuilder
			if got := syms.labels(enc, &b); !labels.Equal(got, c.ls) {
				t.Fatalf("materialised %s, want %s", got, c.ls)
			}
			if !syms.equal(enc, c.ls) {
				t.Fatalf("equal(%s) = false", c.ls)
			}
			for _, o := range c.others {
				syms.intern(o, nil) // other symbols in the table must not confuse equal
				if syms.equal(enc, o) {
					t.Fatalf("equal(%s, %s) = true", c.ls, o)
				}
			}
		})
	}
}

func TestHeadSymbolsReleaseFreesAndReuses(t *testing.T) {
	syms := newHeadSymbols()
	keep := syms.intern(labels.FromStrings("__name__", "m", "job", "a"), nil)
	gone := syms.intern(labels.FromStrings("__name__", "m", "pod", "p-1"), nil)
	if n := syms.Len(); n != 6 {
		t.Fatalf("%d symbols, want 6", n)
	}
	syms.release(gone)
	// "pod" and "p-1" go; "__name__" and "m" are still used by keep.
	if n := syms.Len(); n != 4 {
		t.Fatalf("%d symbols after release, want 4", n)
	}
	next := syms.next
	again := syms.intern(labels.FromStrings("__name__", "m", "pod", "p-2"), nil)
	if syms.next != next {
		t.Fatalf("freed ids not reused: next %d → %d", next, syms.next)
	}
	var b labels.ScratchBuilder
	if got := syms.labels(keep, &b); got.String() != `{__name__="m", job="a"}` {
		t.Fatalf("kept series reads %s", got)
	}
	if got := syms.labels(again, &b); got.String() != `{__name__="m", pod="p-2"}` {
		t.Fatalf("new series reads %s", got)
	}
	syms.release(keep)
	syms.release(again)
	if n := syms.Len(); n != 0 {
		t.Fatalf("%d symbols after releasing everything, want 0", n)
	}
}

// TestHeadSymbolsUnderChurn turns series over (pods replaced every step) while readers query and
// truncation removes the old ones: queries must only ever see label sets that were written, and
// the symbol table must not keep the symbols of removed series.
func TestHeadSymbolsUnderChurn(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: 3600_000, MaxBlockDuration: 3 * 3600_000})
	const steps, pods = 40, 25
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k := range queryAll(t, db, math.MinInt64, math.MaxInt64, mustMatcher(t, labels.MatchEqual, "__name__", "pod_up")) {
					var step, pod int
					if _, err := fmt.Sscanf(k, `{__name__="pod_up", pod="p-%d-%d", step="%d"}`, &step, &pod, &step); err != nil {
						t.Errorf("query saw a label set that was never written: %s", k)
						return
					}
				}
			}
		}()
	}
	for s := 0; s < steps; s++ {
		app := db.Appender(context.Background())
		for p := 0; p < pods; p++ {
			ls := labels.FromStrings("__name__", "pod_up", "pod", fmt.Sprintf("p-%d-%d", s, p), "step", fmt.Sprint(s))
			if _, err := app.Append(0, ls, int64(s)*3600_000, 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		// Each hour's series end there: truncating at the hour before removes them.
		db.head.truncate(int64(s) * 3600_000)
	}
	close(stop)
	wg.Wait()
	// Left: the last step's series: __name__, pod_up, pod, step, the step value and one pod
	// value per series.
	if got, want := db.head.series.syms.Len(), 5+pods; got != want {
		t.Fatalf("%d symbols in the head, want %d", got, want)
	}
	got := queryAll(t, db, int64(steps-1)*3600_000, math.MaxInt64, mustMatcher(t, labels.MatchEqual, "__name__", "pod_up"))
	if len(got) != pods {
		t.Fatalf("%d series after churn, want %d", len(got), pods)
	}
}

// TestHeadSymbolsOutliveOpenQueriers removes series while a querier holds them unmaterialised:
// their labels must still read right, and their symbols go only when the querier closes.
func TestHeadSymbolsOutliveOpenQueriers(t *testing.T) {
	db := openTestDB(t, nil)
	app := db.Appender(context.Background())
	for p := 0; p < 3; p++ {
		ls := labels.FromStrings("__name__", "pod_up", "pod", fmt.Sprintf("gone-%d", p))
		if _, err := app.Append(0, ls, 1000, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	q, err := db.Querier(0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	ss := q.Select(context.Background(), false, nil, mustMatcher(t, labels.MatchEqual, "__name__", "pod_up"))
	var held []storage.Series
	for ss.Next() {
		held = append(held, ss.At())
	}
	if len(held) != 3 {
		t.Fatalf("selected %d series, want 3", len(held))
	}
	db.head.truncate(5000) // removes all three
	// New series that would take the freed ids if they were freed already.
	app = db.Appender(context.Background())
	for p := 0; p < 3; p++ {
		ls := labels.FromStrings("__name__", "other", "pod", fmt.Sprintf("new-%d", p))
		if _, err := app.Append(0, ls, 6000, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for i, s := range held {
		if got, want := s.Labels().String(), fmt.Sprintf(`{__name__="pod_up", pod="gone-%d"}`, i); got != want {
			t.Fatalf("held series %d reads %s, want %s", i, got, want)
		}
	}
	before := db.head.series.syms.Len()
	q.Close()
	// "pod_up" and the three gone-N values go; "__name__" and "pod" stay.
	if after := db.head.series.syms.Len(); after != before-4 {
		t.Fatalf("symbols %d → %d after closing the querier, want %d", before, after, before-4)
	}
}

// TestHeadLabelCache: series a query reads keep their materialised labels until they go unread
// for a sweep; series only compaction or nobody reads keep none.
func TestHeadLabelCache(t *testing.T) {
	db := openTestDB(t, nil)
	app := db.Appender(context.Background())
	for _, m := range []string{"queried", "idle"} {
		if _, err := app.Append(0, labels.FromStrings("__name__", m, "job", "j"), 1000, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	cached := func(name string) bool {
		var got bool
		db.head.series.forEach(func(s *memSeries) {
			var b labels.ScratchBuilder
			s.mu.Lock()
			if db.head.seriesLabels(s, &b).Get("__name__") == name {
				got = !s.lset.IsEmpty()
			}
			s.mu.Unlock()
		})
		return got
	}
	query := func() {
		got := queryAll(t, db, 0, 2000, mustMatcher(t, labels.MatchEqual, "__name__", "queried"))
		if _, ok := got[`{__name__="queried", job="j"}`]; !ok || len(got) != 1 {
			t.Fatalf("query returned %v", got)
		}
	}
	// A sorted select over the head (queryAll sorts) and the compaction-style eager path do
	// not fill the cache; an unsorted one, as PromQL makes, does.
	query()
	if cached("queried") || cached("idle") {
		t.Fatal("sorted select cached labels")
	}
	q, err := db.Querier(0, 2000)
	if err != nil {
		t.Fatal(err)
	}
	ss := q.Select(context.Background(), false, nil, mustMatcher(t, labels.MatchEqual, "__name__", "queried"))
	for ss.Next() {
		if got := ss.At().Labels().String(); got != `{__name__="queried", job="j"}` {
			t.Fatalf("lazy series reads %s", got)
		}
	}
	q.Close()
	if !cached("queried") || cached("idle") {
		t.Fatalf("after a lazy read: queried cached %v, idle cached %v; want true, false", cached("queried"), cached("idle"))
	}
	query() // served from the cache
	db.head.dropIdleLabels()
	if !cached("queried") {
		t.Fatal("labels read since the last sweep were dropped")
	}
	db.head.dropIdleLabels()
	if cached("queried") {
		t.Fatal("labels unread for a whole sweep were kept")
	}
	query()
}
