package tsdb

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/internal/histgen"
)

// fillMixedSnapshotDB appends, every 15 s over [t0, t1), series of every kind the head holds:
// floats with start timestamps, integer and float histograms, and series changing type (float
// ↔ histogram, with start timestamps before the change), so that the head has closed and open
// chunks of each kind (and open chunks of one kind after closed ones of the other).
func fillMixedSnapshotDB(t testing.TB, db *DB, t0, t1 int64) {
	t.Helper()
	// The same sequences whatever [t0, t1): a fill goes on where the previous one stopped.
	n := int(t1/15000) + 1
	hs := histgen.Latency(n, 1, 40, false)
	nhcb := histgen.Latency(n, 2, 0, true)
	for ts := t0; ts < t1; ts += 15000 {
		i := int(ts / 15000)
		app := db.Appender(context.Background())
		sta := app.(storage.STAppender)
		must := func(_ storage.SeriesRef, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("append at %d: %v", ts, err)
			}
		}
		// A cumulative counter with its created timestamp, reset every 200 samples.
		must(sta.AppendST(0, labels.FromStrings("__name__", "st_counter"), int64(i/200)*200*15000, ts, float64(i%200)))
		// A delta series: the start timestamp is the previous sample's time.
		must(sta.AppendST(0, labels.FromStrings("__name__", "st_delta"), ts-15000, ts, float64(i%7)))
		must(app.AppendHistogram(0, labels.FromStrings("__name__", "h_int"), ts, hs[i], nil))
		must(app.AppendHistogram(0, labels.FromStrings("__name__", "h_float"), ts, nil, hs[i].ToFloat(nil)))
		must(app.AppendHistogram(0, labels.FromStrings("__name__", "h_nhcb"), ts, nhcb[i], nil))
		// Native histograms with start timestamps: cumulative (reset every 150 samples, where
		// the open chunk is mid-way at a restart) and delta.
		hsta := app.(storage.HistogramSTAppender)
		must(hsta.AppendHistogramST(0, labels.FromStrings("__name__", "h_int_st"), int64(i/150)*150*15000+1, ts, hs[i], nil))
		must(hsta.AppendHistogramST(0, labels.FromStrings("__name__", "h_float_st"), ts-15000, ts, nil, nhcb[i].ToFloat(nil)))
		// Type changes every 50 samples, floats with start timestamps, histograms with them
		// every other time.
		switch {
		case (i/50)%2 == 0:
			must(sta.AppendST(0, labels.FromStrings("__name__", "changing"), 1, ts, float64(i)))
		case (i/100)%2 == 0:
			must(hsta.AppendHistogramST(0, labels.FromStrings("__name__", "changing"), 2, ts, hs[i], nil))
		default:
			must(app.AppendHistogram(0, labels.FromStrings("__name__", "changing"), ts, hs[i], nil))
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// dumpHead renders every sample of db (time, start timestamp, type and value or histogram).
func dumpHead(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string][]string{}
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	var it storage.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		var got []string
		for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
			switch vt {
			case storage.ValFloat:
				ts, v := it.At()
				got = append(got, fmt.Sprintf("%d st=%d f=%v", ts, it.AtST(), v))
			case storage.ValHistogram:
				ts, h := it.AtHistogram(nil)
				got = append(got, fmt.Sprintf("%d st=%d h=%v hint=%v", ts, it.AtST(), h, h.CounterResetHint))
			case storage.ValFloatHistogram:
				ts, fh := it.AtFloatHistogram(nil)
				got = append(got, fmt.Sprintf("%d st=%d fh=%v hint=%v", ts, it.AtST(), fh, fh.CounterResetHint))
			}
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

func sameDump(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d series, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: %d samples, want %d", k, len(g), len(w))
		}
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s sample %d:\n got %s\nwant %s", k, i, g[i], w[i])
			}
		}
	}
}

// TestHeadSnapshotHistogramsAndST: series with histogram chunks (open and closed), series that
// changed type and series with start timestamps come back from a snapshot identical, appends
// go on from the restored open chunks (histogram appenders, start timestamp columns), and the
// same data comes back after a crash (snapshot + WAL after it) and with the snapshot gone (WAL
// replay only).
func TestHeadSnapshotHistogramsAndST(t *testing.T) {
	dir := t.TempDir()
	db, _ := openSnapDB(t, dir, snapOpts())
	fillMixedSnapshotDB(t, db, 0, 50*60*1000)
	want := dumpHead(t, db)
	chunks := testutil.ToFloat64(db.head.metrics.chunks)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	first, _ := walSegments(t, dir)

	db, fails := openSnapDB(t, dir, snapOpts())
	if fails != 0 {
		t.Fatalf("snapshot load failed")
	}
	if st := db.WALReplayStatus(); st.Min <= first {
		t.Fatalf("replay status %+v: the WAL was replayed from segment %d, not after the snapshot", st, first)
	}
	sameDump(t, dumpHead(t, db), want)
	if got := testutil.ToFloat64(db.head.metrics.chunks); got != chunks {
		t.Fatalf("prometheus_tsdb_head_chunks %v after the restore, %v before", got, chunks)
	}

	// Appending on from the restored state gives what appending without a restart gives.
	ref := t.TempDir()
	rdb, _ := openSnapDB(t, ref, snapOpts())
	defer rdb.Close()
	fillMixedSnapshotDB(t, rdb, 0, 50*60*1000)
	fillMixedSnapshotDB(t, rdb, 50*60*1000, 58*60*1000)
	fillMixedSnapshotDB(t, db, 50*60*1000, 58*60*1000)
	want = dumpHead(t, rdb)
	sameDump(t, dumpHead(t, db), want)

	db.abandon() // crash: the snapshot and the WAL after it
	db, fails = openSnapDB(t, dir, snapOpts())
	if fails != 0 {
		t.Fatalf("snapshot load failed after the crash")
	}
	sameDump(t, dumpHead(t, db), want)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Without the snapshot the WAL alone gives the same.
	if err := os.Remove(snapshotPath(dir)); err != nil {
		t.Fatal(err)
	}
	db, fails = openSnapDB(t, dir, snapOpts())
	defer db.Close()
	if fails != 0 {
		t.Fatalf("a missing snapshot counted as a failure")
	}
	sameDump(t, dumpHead(t, db), want)
}

// A version 2 head snapshot (written by Vigil before histogram start timestamps; the data
// directory in testdata/snapshot-v2-hist was made by its GENERATOR.go.txt at main 3d62eb8)
// holds a series that had float samples with start timestamps and then native histograms:
// its start timestamp column is empty under an open histogram chunk. It is restored (no WAL
// replay), the column is filled with "none" for those samples, and appending histograms with
// start timestamps goes on from there, through the next clean restart (a version 3 snapshot).
func TestHeadSnapshotVersion2Histograms(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/snapshot-v2-hist")); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "GENERATOR.go.txt"))
	db, fails := openSnapDB(t, dir, snapOpts())
	if fails != 0 {
		t.Fatal("the version 2 snapshot failed to load")
	}
	var want []string
	for i := range int64(20) {
		ts := 1000 + i*15000
		h := &histogram.Histogram{Count: uint64(i), ZeroCount: uint64(i), Sum: float64(i), ZeroThreshold: 0.001}
		if i < 8 {
			want = append(want, fmt.Sprintf("%d st=1 f=%v", ts, float64(i)))
		} else {
			want = append(want, fmt.Sprintf("%d st=0 h=%v", ts, h))
		}
	}
	got := dumpHead(t, db)[`{__name__="changing"}`]
	for i := range got {
		got[i], _, _ = strings.Cut(got[i], " hint=")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("restored series:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Histograms with start timestamps go on in the same open chunk.
	app := db.Appender(context.Background())
	for i := int64(20); i < 25; i++ {
		h := &histogram.Histogram{Count: uint64(i), ZeroCount: uint64(i), Sum: float64(i), ZeroThreshold: 0.001}
		if _, err := app.(storage.HistogramSTAppender).AppendHistogramST(0, labels.FromStrings("__name__", "changing"), 7, 1000+i*15000, h, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	before := dumpHead(t, db)
	if s := before[`{__name__="changing"}`]; len(s) != 25 || !strings.Contains(s[24], " st=7 ") || !strings.Contains(s[19], " st=0 ") {
		t.Fatalf("after appending: %v", s)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, fails = openSnapDB(t, dir, snapOpts())
	defer db.Close()
	if fails != 0 {
		t.Fatal("the version 3 snapshot failed to load")
	}
	sameDump(t, dumpHead(t, db), before)
}
