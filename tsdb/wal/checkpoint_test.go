package wal

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// checkpointContent decodes everything in a checkpoint directory.
func checkpointContent(t *testing.T, path string) (series []record.RefSeries, samples []record.RefSample, stones []record.Stone) {
	t.Helper()
	r, err := NewCheckpointReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var dec record.Decoder
	for r.Next() {
		rec := r.Record()
		switch dec.Type(rec) {
		case record.Series:
			s, err := dec.Series(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			series = append(series, s...)
		case record.Samples:
			s, err := dec.Samples(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			samples = append(samples, s...)
		case record.Tombstones:
			s, err := dec.Tombstones(rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			stones = append(stones, s...)
		default:
			t.Fatalf("unexpected record type %v", dec.Type(rec))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return series, samples, stones
}

// writeWorkload logs series refs [refFrom, refTo) and one sample per series and timestamp in ts,
// one scrape per Log call.
func writeWorkload(t *testing.T, w *WAL, refFrom, refTo uint64, ts []int64) {
	t.Helper()
	var enc record.Encoder
	var series []record.RefSeries
	for ref := refFrom; ref < refTo; ref++ {
		series = append(series, record.RefSeries{Ref: ref, Labels: labels.FromStrings("__name__", "m", "ref", string(rune('a'+ref)))})
	}
	if err := w.Log(enc.Series(series, nil)); err != nil {
		t.Fatal(err)
	}
	for _, ts := range ts {
		var samples []record.RefSample
		for ref := refFrom; ref < refTo; ref++ {
			samples = append(samples, record.RefSample{Ref: ref, T: ts, V: float64(ts)})
		}
		if err := w.Log(enc.Samples(samples, nil)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w := openWAL(t, dir, Options{SegmentSize: 1024}, reg)
	defer w.Close()

	var ts []int64
	for i := range 100 {
		ts = append(ts, int64(i))
	}
	writeWorkload(t, w, 0, 10, ts)
	var enc record.Encoder
	if err := w.Log(enc.Tombstones([]record.Stone{
		{Ref: 2, Intervals: []record.Interval{{Mint: 0, Maxt: 10}, {Mint: 40, Maxt: 60}}}, // first interval ends before mint
		{Ref: 3, Intervals: []record.Interval{{Mint: 0, Maxt: 100}}},                      // series not kept
		{Ref: 4, Intervals: []record.Interval{{Mint: 5, Maxt: 6}}},                        // nothing reaches mint
	}, nil)); err != nil {
		t.Fatal(err)
	}
	to, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	to-- // the last closed segment
	if to < 3 {
		t.Fatalf("only %d segments written, test needs several", to+1)
	}
	if _, err := Checkpoint(nil, w, 0, to+1, func(uint64) bool { return true }, 0); err == nil {
		t.Fatal("checkpoint of the segment being written succeeded")
	}

	even := func(ref uint64) bool { return ref%2 == 0 }
	stats, err := Checkpoint(nil, w, 0, to, even, 50)
	if err != nil {
		t.Fatal(err)
	}
	want := CheckpointStats{
		DroppedSeries: 5, TotalSeries: 10,
		DroppedSamples: 1000 - 5*50, TotalSamples: 1000,
		DroppedTombstones: 2, TotalTombstones: 3,
	}
	if *stats != want {
		t.Fatalf("stats = %+v, want %+v", *stats, want)
	}
	name, idx, err := LastCheckpoint(dir)
	if err != nil || idx != to || name != CheckpointName(dir, to) {
		t.Fatalf("LastCheckpoint = %q, %d, %v; want %q, %d", name, idx, err, CheckpointName(dir, to), to)
	}
	series, samples, stones := checkpointContent(t, name)
	if len(series) != 5 {
		t.Fatalf("%d series in checkpoint, want 5", len(series))
	}
	for _, s := range series {
		if !even(s.Ref) || s.Labels.Get("ref") != string(rune('a'+s.Ref)) {
			t.Fatalf("unexpected series %d %v", s.Ref, s.Labels)
		}
	}
	if len(samples) != 5*50 {
		t.Fatalf("%d samples in checkpoint, want %d", len(samples), 5*50)
	}
	for _, s := range samples {
		if !even(s.Ref) || s.T < 50 || s.V != float64(s.T) {
			t.Fatalf("unexpected sample %+v", s)
		}
	}
	if len(stones) != 1 || stones[0].Ref != 2 || !slices.Equal(stones[0].Intervals, []record.Interval{{Mint: 40, Maxt: 60}}) {
		t.Fatalf("tombstones = %+v, want ref 2 with [40, 60]", stones)
	}
	if err := w.Truncate(to + 1); err != nil {
		t.Fatal(err)
	}

	// A second checkpoint folds in the first and deletes it.
	writeWorkload(t, w, 10, 12, []int64{100, 101})
	to2, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	to2--
	notFour := func(ref uint64) bool { return ref != 4 }
	if _, err := Checkpoint(nil, w, to+1, to2, notFour, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(CheckpointName(dir, to)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old checkpoint still there: %v", err)
	}
	name, idx, err = LastCheckpoint(dir)
	if err != nil || idx != to2 {
		t.Fatalf("LastCheckpoint = %q, %d, %v; want index %d", name, idx, err, to2)
	}
	series, samples, _ = checkpointContent(t, name)
	var refs []uint64
	for _, s := range series {
		refs = append(refs, s.Ref)
	}
	if !slices.Equal(refs, []uint64{0, 2, 6, 8, 10, 11}) {
		t.Fatalf("series refs %v, want [0 2 6 8 10 11]", refs)
	}
	if len(samples) != 4*40+2*2 {
		t.Fatalf("%d samples, want %d", len(samples), 4*40+2*2)
	}
	if got := testutil.ToFloat64(w.metrics.checkpoints); got != 3 {
		t.Fatalf("checkpoint creations = %v, want 3", got)
	}
	if got := testutil.ToFloat64(w.metrics.checkpointsFailed); got != 1 {
		t.Fatalf("failed checkpoint creations = %v, want 1", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("temporary checkpoint left behind: %v", m)
	}

	// Size counts the checkpoint's files too.
	size, err := w.Size()
	if err != nil {
		t.Fatal(err)
	}
	var segBytes int64
	segs, _ := listSegments(dir)
	for _, s := range segs {
		fi, err := os.Stat(SegmentName(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		segBytes += fi.Size()
	}
	if size <= segBytes {
		t.Fatalf("Size = %d, segments alone are %d bytes", size, segBytes)
	}
}

func TestIncompleteCheckpoint(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "checkpoint.00000003.tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "00000000"), []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LastCheckpoint(dir); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastCheckpoint = %v, want ErrNotFound", err)
	}
	w := openWAL(t, dir, Options{}, nil)
	defer w.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open left the incomplete checkpoint: %v", err)
	}
}

// TestCheckpointAfterMissedTruncate covers a crash between writing a checkpoint and truncating
// the WAL: the next checkpoint must not read the segments the last one already holds twice, and
// a checkpoint of a range already covered fails.
func TestCheckpointAfterMissedTruncate(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: 1024}, nil)
	defer w.Close()
	all := func(uint64) bool { return true }

	writeWorkload(t, w, 0, 4, []int64{1, 2, 3})
	to, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	to--
	if _, err := Checkpoint(nil, w, 0, to, all, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Checkpoint(nil, w, 0, to, all, 0); err == nil {
		t.Fatal("second checkpoint of the same range succeeded")
	}
	writeWorkload(t, w, 4, 6, []int64{4})
	to2, err := w.NextSegment()
	if err != nil {
		t.Fatal(err)
	}
	to2--
	stats, err := Checkpoint(nil, w, 0, to2, all, 0)
	if err != nil {
		t.Fatal(err)
	}
	if stats.TotalSeries != 6 || stats.TotalSamples != 4*3+2 {
		t.Fatalf("stats = %+v, want 6 series and 14 samples read once", *stats)
	}
	name, _, err := LastCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	series, samples, _ := checkpointContent(t, name)
	if len(series) != 6 || len(samples) != 14 {
		t.Fatalf("checkpoint holds %d series and %d samples, want 6 and 14", len(series), len(samples))
	}
}
