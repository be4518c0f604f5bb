package tsdb

import (
	"context"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// TestWALReplayStatus checks the replay progress after a restart: from the first segment (or
// the checkpoint) to the last one, every segment replayed.
func TestWALReplayStatus(t *testing.T) {
	dir := t.TempDir()
	const r = 60 * 60 * 1000 // 1h blocks
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 9 * r, WALSegmentSize: 32 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := db.WALReplayStatus(); got != (WALReplayStatus{}) {
		t.Fatalf("fresh DB: %+v, want zeros", got)
	}
	fill(t, db, 100, 0, 50*60*1000, 15000, nil) // within the first block: no compaction
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	first, last := walSegments(t, dir)
	if first != 0 || last < 2 {
		t.Fatalf("segments %d..%d: the test needs several", first, last)
	}
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Opening the WAL cuts a new (empty) segment before the replay, as in Prometheus: it is the
	// last one replayed.
	if got, want := db.WALReplayStatus(), (WALReplayStatus{Min: first, Max: last + 1, Current: last + 1}); got != want {
		t.Fatalf("after restart: %+v, want %+v", got, want)
	}

	// Compaction truncates the WAL into a checkpoint: the status starts from its index.
	fill(t, db, 100, 50*60*1000, 3*r, 15000, nil)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, cpIdx, err := wal.LastCheckpoint(dir + "/wal")
	if err != nil {
		t.Fatalf("no checkpoint after compaction: %v", err)
	}
	_, last = walSegments(t, dir)
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, want := db.WALReplayStatus(), (WALReplayStatus{Min: cpIdx, Max: last + 1, Current: last + 1}); got != want || cpIdx == 0 {
		t.Fatalf("after a checkpoint: %+v, want %+v", got, want)
	}
}

// TestWALReplayStatusProgress checks that Current follows the segments as they are read.
func TestWALReplayStatusProgress(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{WALSegmentSize: 32 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, 20, 0, 60*60*1000, 15000, map[string][]tsample{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	first, last := walSegments(t, dir)
	w, err := wal.Open(dir+"/wal", wal.Options{SegmentSize: 32 << 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &walHandle{w: w, dir: dir + "/wal"}
	defer h.close()
	var seen []int
	rd, err := wal.NewReader(h.dir, first, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	hc, err := openHeadChunks(t.TempDir(), defaultHeadChunkSeg)
	if err != nil {
		t.Fatal(err)
	}
	head := newHead(2*60*60*1000, nil, newHeadMetrics(nil, func() *Head { return nil }), hc)
	st := &replayStats{segmentDone: func(seg int) { seen = append(seen, seg) }}
	rp := newWALReplayer(head, 2)
	if err := rp.replay(rd, st); err != nil {
		t.Fatal(err)
	}
	rp.finish(st)
	// Each segment holding records is reported once read, in order (the last one, cut at
	// Close, may be empty).
	if len(seen) < 2 || seen[0] != first || seen[len(seen)-1] < last-1 {
		t.Fatalf("segments reported %v, want %d..%d or %d", seen, first, last-1, last)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] != seen[i-1]+1 {
			t.Fatalf("segments reported %v: not consecutive", seen)
		}
	}
}

// walSegments lists the WAL segment files (opening the WAL would cut a new one).
func walSegments(t *testing.T, dir string) (first, last int) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatal(err)
	}
	first, last = -1, -1
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || e.IsDir() {
			continue
		}
		if first < 0 || n < first {
			first = n
		}
		last = max(last, n)
	}
	return first, last
}

// TestParallelReplay writes a WAL by hand (series logged twice under two refs, samples of an
// unknown ref, samples of a series before and after a tombstone, series records interleaved
// with samples) and checks that replay with any number of workers gives the same head.
func TestParallelReplay(t *testing.T) {
	src := t.TempDir()
	if err := writeMarker(src); err != nil {
		t.Fatal(err)
	}
	w, err := wal.Open(filepath.Join(src, "wal"), wal.Options{SegmentSize: 16 << 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var enc record.Encoder
	want := map[string][]tsample{}
	lset := func(i int) labels.Labels { return labels.FromStrings("__name__", "m", "i", strconv.Itoa(i)) }
	const n = 97
	var series []record.RefSeries
	for i := range n {
		series = append(series, record.RefSeries{Ref: uint64(i + 1), Labels: lset(i)})
	}
	mustLog := func(rec []byte) {
		t.Helper()
		if err := w.Log(record.Compress(rec, nil)); err != nil {
			t.Fatal(err)
		}
	}
	mustLog(enc.Series(series[:50], nil))
	for step := range int64(200) {
		if step == 20 {
			mustLog(enc.Series(series[50:], nil))
			// Series 0 logged again under ref 1000 (as after a re-creation): both refs feed it.
			mustLog(enc.Series([]record.RefSeries{{Ref: 1000, Labels: lset(0)}}, nil))
		}
		var samples []record.RefSample
		for i := range n {
			if i >= 50 && step < 20 {
				continue
			}
			ref := uint64(i + 1)
			if i == 0 && step >= 100 {
				ref = 1000
			}
			v := float64(step*1000 + int64(i))
			samples = append(samples, record.RefSample{Ref: ref, T: step * 15000, V: v})
			want[lset(i).String()] = append(want[lset(i).String()], tsample{step * 15000, v})
		}
		samples = append(samples, record.RefSample{Ref: 5000, T: step * 15000, V: 1}) // never logged
		mustLog(enc.Samples(samples, nil))
	}
	// Series 3 deleted in [0, 30000]: its first three samples go.
	mustLog(enc.Tombstones([]record.Stone{{Ref: 4, Intervals: []record.Interval{{Mint: 0, Maxt: 30000}}}}, nil))
	want[lset(3).String()] = want[lset(3).String()][3:]
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	for _, workers := range []int{1, 2, 3, 8} {
		t.Run(strconv.Itoa(workers), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			replayWorkers = workers
			defer func() { replayWorkers = 0 }()
			db, err := Open(dir, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64, mustMatcher(t, labels.MatchEqual, "__name__", "m")), want)
			if got := db.Head().NumSeries(); got != n {
				t.Fatalf("%d series, want %d", got, n)
			}
			// New series continue after the highest replayed ref.
			app := db.Appender(context.Background())
			ref, err := app.Append(0, labels.FromStrings("__name__", "new"), 200*15000, 1)
			if err != nil {
				t.Fatal(err)
			}
			if ref <= 1000 {
				t.Fatalf("new series got ref %d, not past the replayed ones", ref)
			}
			app.Rollback()
			// Every postings list is sorted: a regex over all series returns them in order
			// (queryAll fails on disorder).
			if got := queryAll(t, db, 0, math.MaxInt64, mustMatcher(t, labels.MatchRegexp, "i", ".+")); len(got) != n {
				t.Fatalf("regex matched %d series, want %d", len(got), n)
			}
		})
	}
}

// A WAL record of a type this Vigil does not know (one written by a newer Vigil) stops the
// open with an error naming it: no panic, nothing deleted, the lock released for the next try.
func TestOpenRefusesUnknownWALRecord(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{WALSegmentSize: 64 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "x"), 1000, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	w, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{SegmentSize: 64 << 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Log([]byte{99, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sizes := func() map[string]int64 {
		m := map[string]int64{}
		segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*"))
		for _, s := range segs {
			fi, err := os.Stat(s)
			if err != nil {
				t.Fatal(err)
			}
			m[filepath.Base(s)] = fi.Size()
		}
		return m
	}
	before := sizes()
	for range 2 {
		if _, err := Open(dir, opts, nil, nil); err == nil || !strings.Contains(err.Error(), "unknown WAL record type 99") {
			t.Fatalf("open over an unknown record: %v", err)
		}
	}
	// Each open starts a new segment (empty here); those written before are untouched.
	after := sizes()
	maps.DeleteFunc(after, func(name string, size int64) bool { _, old := before[name]; return !old && size == 0 })
	if !maps.Equal(after, before) {
		t.Fatalf("WAL segments %v after the failed opens, %v before", sizes(), before)
	}
}
