package tsdb

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

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
	if err := h.replayReader(rd, head, map[uint64]*memSeries{}, st); err != nil {
		t.Fatal(err)
	}
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
