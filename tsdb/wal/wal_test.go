package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testRecord returns a distinct record of varying length, so that framing errors shift offsets.
func testRecord(i int) []byte {
	b := fmt.Appendf(nil, "record-%d:", i)
	for j := 0; j < i%37; j++ {
		b = append(b, byte(i+j))
	}
	return b
}

func openWAL(t testing.TB, dir string, opts Options, reg prometheus.Registerer) *WAL {
	t.Helper()
	w, err := Open(dir, opts, nil, reg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return w
}

// readAll reads segments [from, to] of dir.
func readAll(t testing.TB, dir string, from, to int) ([][]byte, error) {
	t.Helper()
	r, err := NewReader(dir, from, to)
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	defer r.Close()
	var recs [][]byte
	for r.Next() {
		recs = append(recs, bytes.Clone(r.Record()))
	}
	return recs, r.Err()
}

func checkRecords(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestLogRoundTrip(t *testing.T) {
	cases := []struct {
		name        string
		segmentSize int
		batches     [][]int // record sizes per Log call; -1 means testRecord(i)
		minSegments int
	}{
		{"default size one segment", 0, [][]int{{-1}, {-1, -1}, {-1, -1, -1}}, 1},
		{"small segments", 128, repeat([]int{-1}, 100), 10},
		{"batches never split", 256, repeat([]int{-1, -1, -1, -1}, 30), 5},
		{"record larger than segment", 64, [][]int{{-1}, {500}, {-1}, {1000, 10}, {-1}}, 4},
		{"empty records", 64, [][]int{{0}, {0, 0}, {-1}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openWAL(t, dir, Options{SegmentSize: tc.segmentSize}, nil)
			var want [][]byte
			n := 0
			for _, batch := range tc.batches {
				var recs [][]byte
				for _, size := range batch {
					var rec []byte
					if size < 0 {
						rec = testRecord(n)
					} else {
						rec = bytes.Repeat([]byte{byte(n)}, size)
					}
					n++
					recs = append(recs, rec)
				}
				if err := w.Log(recs...); err != nil {
					t.Fatal(err)
				}
				want = append(want, recs...)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			first, last, err := w.Segments()
			if err != nil {
				t.Fatal(err)
			}
			if first != 0 || last+1 < tc.minSegments {
				t.Fatalf("segments [%d, %d], want [0, >= %d]", first, last, tc.minSegments-1)
			}
			got, err := readAll(t, dir, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, got, want)
			checkBatchesInOneSegment(t, dir, tc.batches, tc.segmentSize)
		})
	}
}

// checkBatchesInOneSegment checks that each batch's records were read from a single segment and
// that segments only exceed the segment size when they hold a single oversized batch.
func checkBatchesInOneSegment(t *testing.T, dir string, batches [][]int, segmentSize int) {
	t.Helper()
	r, err := NewReader(dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for bi, batch := range batches {
		seg := -1
		for range batch {
			if !r.Next() {
				t.Fatalf("batch %d: missing record: %v", bi, r.Err())
			}
			if seg >= 0 && r.Segment() != seg {
				t.Fatalf("batch %d spans segments %d and %d", bi, seg, r.Segment())
			}
			seg = r.Segment()
		}
	}
	if segmentSize == 0 {
		return
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		fi, err := os.Stat(SegmentName(dir, s))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > int64(segmentSize) {
			recs, err := readAll(t, dir, s, s)
			if err != nil {
				t.Fatal(err)
			}
			// Only a single batch may overflow; the biggest test batch has two records.
			if len(recs) > 2 {
				t.Fatalf("segment %d has %d bytes (> %d) and %d records", s, fi.Size(), segmentSize, len(recs))
			}
		}
	}
}

func repeat(b []int, n int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestReopenWritesNewSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{}, nil)
	want := [][]byte{testRecord(1), testRecord(2)}
	if err := w.Log(want...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(SegmentName(dir, 0))
	if err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	w = openWAL(t, dir, Options{}, reg)
	if err := w.Log(testRecord(3)); err != nil {
		t.Fatal(err)
	}
	want = append(want, testRecord(3))
	if got := testutil.ToFloat64(w.metrics.currentSegment); got != 1 {
		t.Fatalf("current segment gauge = %v, want 1", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(SegmentName(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("segment 0 changed after reopening")
	}
	if first, last, _ := w.Segments(); first != 0 || last != 1 {
		t.Fatalf("segments [%d, %d], want [0, 1]", first, last)
	}
	got, err := readAll(t, dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, want)

	// Reopening on the same registry must not panic on duplicate registration.
	w = openWAL(t, dir, Options{}, reg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTornTail cuts the last record of the last segment at every byte offset, flips each of its
// bytes, and appends zeros after it: Open must succeed, keep every record before it and drop the
// damage, logging and counting it.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{}, nil)
	var want [][]byte
	for i := range 5 {
		want = append(want, testRecord(i+30))
		if err := w.Log(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	seg := SegmentName(dir, 0)
	good, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	lastLen := recordHeaderSize + len(want[4])
	lastStart := len(good) - lastLen

	type damage struct {
		name    string
		content []byte
		corrupt bool // whether Open must report a corruption
	}
	var cases []damage
	for cut := lastStart; cut < len(good); cut++ {
		cases = append(cases, damage{fmt.Sprintf("cut at %d", cut), good[:cut], cut > lastStart})
	}
	for i := lastStart; i < len(good); i++ {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		cases = append(cases, damage{fmt.Sprintf("flip byte %d", i), b, true})
	}
	cases = append(cases, damage{"zero tail", append(bytes.Clone(good[:lastStart]), make([]byte, 100)...), true})
	cases = append(cases, damage{"short zero tail", append(bytes.Clone(good[:lastStart]), make([]byte, 5)...), true})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(SegmentName(d, 0), tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			w := openWAL(t, d, Options{}, reg)
			if err := w.Log(testRecord(99)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			wantCorrupt := 0.0
			if tc.corrupt {
				wantCorrupt = 1
			}
			if got := testutil.ToFloat64(w.metrics.corruptions); got != wantCorrupt {
				t.Fatalf("corruptions = %v, want %v", got, wantCorrupt)
			}
			fi, err := os.Stat(SegmentName(d, 0))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() != int64(lastStart) {
				t.Fatalf("segment 0 is %d bytes after repair, want %d", fi.Size(), lastStart)
			}
			got, err := readAll(t, d, 0, -1)
			if err != nil {
				t.Fatalf("read after repair: %v", err)
			}
			checkRecords(t, got, append(append([][]byte{}, want[:4]...), testRecord(99)))
		})
	}
}

// TestRepairMiddleSegment flips a byte in a middle segment: the Reader stops there with a
// CorruptionErr, Repair keeps everything before the bad record, and logging continues.
func TestRepairMiddleSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: 200}, nil)
	var want [][]byte
	for i := range 60 {
		want = append(want, testRecord(i))
		if err := w.Log(want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, last, _ := w.Segments()
	if last < 4 {
		t.Fatalf("only %d segments, test needs more", last+1)
	}
	bad := last / 2
	segRecs, err := readAll(t, dir, bad, bad)
	if err != nil || len(segRecs) < 3 {
		t.Fatalf("segment %d: %d records, %v", bad, len(segRecs), err)
	}
	// Damage the payload of the second record of the segment.
	badOffset := int64(recordHeaderSize + len(segRecs[0]))
	content, err := os.ReadFile(SegmentName(dir, bad))
	if err != nil {
		t.Fatal(err)
	}
	content[badOffset+recordHeaderSize] ^= 1
	if err := os.WriteFile(SegmentName(dir, bad), content, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := readAll(t, dir, 0, bad-1)
	if err != nil {
		t.Fatal(err)
	}
	keep := append(before, segRecs[0])

	reg := prometheus.NewRegistry()
	w = openWAL(t, dir, Options{SegmentSize: 200}, reg)
	got, err := readAll(t, dir, 0, -1)
	var cerr *CorruptionErr
	if !errors.As(err, &cerr) {
		t.Fatalf("read error = %v, want CorruptionErr", err)
	}
	if cerr.Segment != bad || cerr.Offset != badOffset || cerr.Dir != dir {
		t.Fatalf("corruption at %s/%d:%d, want %s/%d:%d", cerr.Dir, cerr.Segment, cerr.Offset, dir, bad, badOffset)
	}
	checkRecords(t, got, keep)

	if err := w.Repair(cerr); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.metrics.corruptions); got != 1 {
		t.Fatalf("corruptions = %v, want 1", got)
	}
	if err := w.Log(testRecord(1000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, l, _ := w.Segments(); l != bad+1 {
		t.Fatalf("last segment after repair = %d, want %d", l, bad+1)
	}
	got, err = readAll(t, dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, append(keep, testRecord(1000)))

	// A corruption outside the WAL directory (a checkpoint) cannot be repaired by the WAL.
	w = openWAL(t, dir, Options{}, nil)
	defer w.Close()
	if err := w.Repair(&CorruptionErr{Dir: filepath.Join(dir, "checkpoint.00000001"), Segment: 0}); err == nil {
		t.Fatal("Repair of a checkpoint corruption succeeded")
	}
}

func TestTruncateAndSegments(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	w := openWAL(t, dir, Options{}, reg)
	defer w.Close()
	for i := range 5 {
		if err := w.Log(testRecord(i)); err != nil {
			t.Fatal(err)
		}
		idx, err := w.NextSegment()
		if err != nil {
			t.Fatal(err)
		}
		if idx != i+1 {
			t.Fatalf("NextSegment = %d, want %d", idx, i+1)
		}
	}
	if first, last, err := w.Segments(); err != nil || first != 0 || last != 5 {
		t.Fatalf("Segments = %d, %d, %v; want 0, 5", first, last, err)
	}
	sizeBefore, err := w.Size()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Truncate(3); err != nil {
		t.Fatal(err)
	}
	if first, last, _ := w.Segments(); first != 3 || last != 5 {
		t.Fatalf("after Truncate(3): segments [%d, %d], want [3, 5]", first, last)
	}
	sizeAfter, err := w.Size()
	if err != nil {
		t.Fatal(err)
	}
	if sizeAfter >= sizeBefore {
		t.Fatalf("Size %d after truncation, %d before", sizeAfter, sizeBefore)
	}
	// The segment being written is never deleted.
	if err := w.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if first, last, _ := w.Segments(); first != 5 || last != 5 {
		t.Fatalf("after Truncate(100): segments [%d, %d], want [5, 5]", first, last)
	}
	if err := w.Log(testRecord(7)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.metrics.truncations); got != 2 {
		t.Fatalf("truncations = %v, want 2", got)
	}
}

func TestReaderGap(t *testing.T) {
	dir := t.TempDir()
	for _, i := range []int{0, 1, 3} {
		if err := os.WriteFile(SegmentName(dir, i), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewReader(dir, 0, -1); err == nil {
		t.Fatal("NewReader accepted segments 0, 1, 3")
	}
	if _, err := NewReader(dir, 0, 1); err != nil {
		t.Fatalf("NewReader(0, 1): %v", err)
	}
}

func TestConcurrentLog(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, Options{SegmentSize: 4096}, nil)
	const writers, perWriter = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				if err := w.Log(fmt.Appendf(nil, "%d/%d", g, i), []byte{byte(g)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*writers*perWriter {
		t.Fatalf("read %d records, want %d", len(got), 2*writers*perWriter)
	}
	next := make([]int, writers)
	for i := 0; i < len(got); i += 2 {
		var g, n int
		if _, err := fmt.Sscanf(string(got[i]), "%d/%d", &g, &n); err != nil {
			t.Fatalf("record %d = %q: %v", i, got[i], err)
		}
		// Each batch is written whole: its second record directly follows the first.
		if !bytes.Equal(got[i+1], []byte{byte(g)}) {
			t.Fatalf("record %d = %q does not follow %q", i+1, got[i+1], got[i])
		}
		if n != next[g] {
			t.Fatalf("writer %d: record %d after %d", g, n, next[g]-1)
		}
		next[g]++
	}
}

func TestClosed(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{}, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Log([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Log after Close = %v, want ErrClosed", err)
	}
}

// TestLogAllocs guards the zero-allocation append path the head relies on.
func TestLogAllocs(t *testing.T) {
	w := openWAL(t, t.TempDir(), Options{}, nil)
	defer w.Close()
	rec := make([]byte, 12000)
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.Log(rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Log allocated %v times per call, want 0", allocs)
	}
}
