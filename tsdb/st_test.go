package tsdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

type stSample struct {
	st, t int64
	v     float64
}

// queryAllST returns every series in [mint, maxt] as label string → samples with their start
// timestamps.
func queryAllST(t testing.TB, q storage.Queryable, mint, maxt int64) map[string][]stSample {
	t.Helper()
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer qr.Close()
	ss := qr.Select(context.Background(), true, nil, mustMatcher(t, labels.MatchRegexp, "__name__", ".+"))
	out := map[string][]stSample{}
	var it storage.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var samples []stSample
		for it.Next() != storage.ValNone {
			ts, v := it.At()
			samples = append(samples, stSample{it.AtST(), ts, v})
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

func compareST(t testing.TB, stage string, got, want map[string][]stSample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d series, want %d", stage, len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s: %s: %d samples, want %d", stage, k, len(g), len(w))
		}
		for i := range w {
			if g[i].t != w[i].t || g[i].st != w[i].st || math.Float64bits(g[i].v) != math.Float64bits(w[i].v) {
				t.Fatalf("%s: %s: sample %d: %+v, want %+v", stage, k, i, g[i], w[i])
			}
		}
	}
}

// stOf is the start timestamp that series kind gives its i-th sample at t (0: none).
func stOf(kind string, i int, t, step int64) int64 {
	switch kind {
	case "cumulative": // created at 0, reset every 100 samples
		return int64(i/100*100)*step - 30000 + 1
	case "delta":
		return t - step
	case "late": // start timestamps only from the 300th sample on
		if i >= 300 {
			return 300*step - 1
		}
	case "odd": // after t, at t, none, negative
		return []int64{t + 1, t, 0, -7}[i%4]
	}
	return 0
}

// TestStartTimestampsEndToEnd appends samples with and without start timestamps and reads them
// back from the head, after WAL replay, from blocks after compaction and after a restart over
// blocks, checkpoint and WAL.
func TestStartTimestampsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	const r = 60 * 60 * 1000 // 1h blocks
	const step = 60000
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 3 * r, WALSegmentSize: 32 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{"plain", "cumulative", "delta", "late", "odd"}
	want := map[string][]stSample{}
	refs := make([]storage.SeriesRef, len(kinds))
	for i := range 6 * 60 {
		ts := int64(i) * step
		app := db.Appender(context.Background())
		sta, ok := app.(storage.STAppender)
		if !ok {
			t.Fatalf("%T is not a storage.STAppender", app)
		}
		for k, kind := range kinds {
			lset := labels.FromStrings("__name__", "m_total", "kind", kind)
			st := stOf(kind, i, ts, step)
			v := float64(i % 100)
			// Cached refs, as the scrape loop passes them, after the first sample.
			if refs[k], err = sta.AppendST(refs[k], lset, st, ts, v); err != nil {
				t.Fatal(err)
			}
			want[lset.String()] = append(want[lset.String()], stSample{st, ts, v})
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// A rolled back batch leaves nothing behind, start timestamps included.
	app := db.Appender(context.Background())
	if _, err := app.(storage.STAppender).AppendST(0, labels.FromStrings("__name__", "m_total", "kind", "plain"), 5, 10*r, 1); err != nil {
		t.Fatal(err)
	}
	app.Rollback()

	compareST(t, "head", queryAllST(t, db, math.MinInt64, math.MaxInt64), want)
	// Only the series with start timestamps have a column.
	withST := 0
	db.head.series.forEach(func(s *memSeries) {
		if s.hasST {
			withST++
		}
	})
	if withST != len(kinds)-1 {
		t.Errorf("%d head series with a start timestamp column, want %d", withST, len(kinds)-1)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	compareST(t, "after WAL replay", queryAllST(t, db, math.MinInt64, math.MaxInt64), want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no blocks cut from the head")
	}
	// The truncated WAL's SamplesST records went through a checkpoint.
	if cp, _, err := wal.LastCheckpoint(filepath.Join(dir, "wal")); err != nil || cp == "" {
		t.Fatalf("no WAL checkpoint after compaction: %q, %v", cp, err)
	}
	compareST(t, "blocks and head", queryAllST(t, db, math.MinInt64, math.MaxInt64), want)
	// A range starting inside a chunk: the column is decoded in step with SeekTo.
	sub := queryAllST(t, db, 90*step+1, 200*step)
	if got := sub[labels.FromStrings("__name__", "m_total", "kind", "cumulative").String()]; len(got) == 0 || got[0].st != stOf("cumulative", 91, 91*step, step) {
		t.Fatalf("sub-range: first cumulative sample %+v", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	compareST(t, "after restart over blocks, checkpoint and WAL", queryAllST(t, db, math.MinInt64, math.MaxInt64), want)
}

// TestStartTimestampsConcurrent appends samples with start timestamps from several goroutines
// while others query and the head is compacted (run with -race).
func TestStartTimestampsConcurrent(t *testing.T) {
	const r = 60 * 60 * 1000
	db := openTestDB(t, &Options{MinBlockDuration: r, MaxBlockDuration: 3 * r})
	const writers, perWriter, commits, step = 4, 25, 200, 60000
	done := make(chan struct{})
	errs := make(chan error, writers+3)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range commits {
				app := db.Appender(context.Background())
				for s := range perWriter {
					lset := labels.FromStrings("__name__", "c_total", "w", strconv.Itoa(w), "s", strconv.Itoa(s))
					ts := int64(i) * step
					// A writer behind the others can fall before a block cut: out of bounds.
					if _, err := app.(storage.STAppender).AppendST(0, lset, ts-step, ts, float64(i)); err != nil && !errors.Is(err, storage.ErrOutOfBounds) {
						errs <- err
						return
					}
				}
				if err := app.Commit(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				for k, samples := range queryAllST(t, db, math.MinInt64, math.MaxInt64) {
					for _, s := range samples {
						if s.st != s.t-step {
							errs <- fmt.Errorf("%s: sample at %d has start timestamp %d", k, s.t, s.st)
							return
						}
					}
				}
			}
		}()
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := db.Compact(); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := queryAllST(t, db, math.MinInt64, math.MaxInt64)
	if len(got) != writers*perWriter {
		t.Fatalf("%d series, want %d", len(got), writers*perWriter)
	}
	for k, samples := range got {
		if last := samples[len(samples)-1]; last.t != (commits-1)*step || last.st != last.t-step {
			t.Fatalf("%s: last sample %+v", k, last)
		}
		for _, s := range samples {
			if s.st != s.t-step {
				t.Fatalf("%s: sample at %d has start timestamp %d", k, s.t, s.st)
			}
		}
	}
}
