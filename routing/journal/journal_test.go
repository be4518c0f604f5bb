package journal

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func record(i int) []byte { return fmt.Appendf(nil, "record-%03d", i) }

// collect opens the journal in dir and returns the replayed payloads.
func collect(t *testing.T, dir string, m *Metrics) (*Journal, []string) {
	t.Helper()
	var got []string
	j, err := Open(dir, "state", func(b []byte) error { got = append(got, string(b)); return nil }, nil, m)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j, got
}

func write(t *testing.T, j *Journal, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := j.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Commit(); err != nil {
		t.Fatal(err)
	}
}

func want(from, to int) []string {
	var w []string
	for i := from; i < to; i++ {
		w = append(w, string(record(i)))
	}
	return w
}

func counter(t *testing.T, c *prometheus.CounterVec, file string) float64 {
	t.Helper()
	return testutil.ToFloat64(c.WithLabelValues(file))
}

// TestReplayAcrossRotations checks that records come back in order across segments and
// restarts, and that RemoveBefore drops exactly the segments a snapshot covers.
func TestReplayAcrossRotations(t *testing.T) {
	dir := t.TempDir()
	j, got := collect(t, dir, nil)
	if len(got) != 0 {
		t.Fatalf("empty directory replayed %v", got)
	}
	write(t, j, 0, 5)
	seq, err := j.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	write(t, j, 5, 8)
	j.Close()

	j, got = collect(t, dir, nil)
	if !slices.Equal(got, want(0, 8)) {
		t.Fatalf("replayed %v, want %v", got, want(0, 8))
	}
	write(t, j, 8, 9)
	// A snapshot taken after the rotation covers records 0-4.
	if err := j.RemoveBefore(seq); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, got = collect(t, dir, nil)
	defer j.Close()
	if !slices.Equal(got, want(5, 9)) {
		t.Fatalf("after RemoveBefore(%d): replayed %v, want %v", seq, got, want(5, 9))
	}
}

// TestTornTail checks that a record cut short by a crash at the end of the newest segment is
// dropped quietly and counted, the file repaired, and writing goes on.
func TestTornTail(t *testing.T) {
	for _, cut := range []int{1, 4, 9, len(record(0)) + headerSize - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			dir := t.TempDir()
			j, _ := collect(t, dir, nil)
			write(t, j, 0, 4)
			seg := j.SegmentName(j.seq)
			j.Close()
			fi, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(seg, fi.Size()-int64(cut)); err != nil {
				t.Fatal(err)
			}
			m := NewMetrics(prometheus.NewRegistry())
			j, got := collect(t, dir, m)
			if !slices.Equal(got, want(0, 3)) {
				t.Fatalf("replayed %v, want %v", got, want(0, 3))
			}
			if n := counter(t, m.tornTails, "state.journal"); n != 1 {
				t.Errorf("torn tails = %v, want 1", n)
			}
			if n := counter(t, m.corruptions, "state.journal"); n != 0 {
				t.Errorf("corruptions = %v, want 0", n)
			}
			write(t, j, 10, 11)
			j.Close()
			_, got = collect(t, dir, nil)
			if w := append(want(0, 3), want(10, 11)...); !slices.Equal(got, w) {
				t.Fatalf("after repair and restart: replayed %v, want %v", got, w)
			}
		})
	}
}

// TestTornTailChecksum checks that a last record whose bytes were not all written (wrong
// checksum, right length) is a torn tail too, and a zero-filled tail likewise.
func TestTornTailChecksum(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"checksum", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }},
		{"zeros", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j, _ := collect(t, dir, nil)
			write(t, j, 0, 3)
			seg := j.SegmentName(j.seq)
			j.Close()
			b, _ := os.ReadFile(seg)
			os.WriteFile(seg, tc.damage(b), 0o666)
			m := NewMetrics(nil)
			_, got := collect(t, dir, m)
			wantN := 3
			if tc.name == "checksum" {
				wantN = 2
			}
			if !slices.Equal(got, want(0, wantN)) {
				t.Fatalf("replayed %v, want %v", got, want(0, wantN))
			}
			if n := counter(t, m.tornTails, "state.journal"); n != 1 {
				t.Errorf("torn tails = %v, want 1", n)
			}
		})
	}
}

// TestDamageSetAside checks that damage which is not a torn tail (inside a segment, or in a
// segment that is not the newest) sets the segment aside after replaying what precedes it,
// counts it, and replays later segments.
func TestDamageSetAside(t *testing.T) {
	dir := t.TempDir()
	j, _ := collect(t, dir, nil)
	write(t, j, 0, 4)
	damaged := j.SegmentName(j.seq)
	if _, err := j.Rotate(); err != nil {
		t.Fatal(err)
	}
	write(t, j, 4, 6)
	j.Close()
	b, _ := os.ReadFile(damaged)
	// Flip a payload byte of the second record.
	b[2*headerSize+len(record(0))+3] ^= 0xff
	os.WriteFile(damaged, b, 0o666)

	m := NewMetrics(nil)
	j, got := collect(t, dir, m)
	defer j.Close()
	if w := append(want(0, 1), want(4, 6)...); !slices.Equal(got, w) {
		t.Fatalf("replayed %v, want %v", got, w)
	}
	if n := counter(t, m.corruptions, "state.journal"); n != 1 {
		t.Errorf("corruptions = %v, want 1", n)
	}
	if _, err := os.Stat(damaged); !os.IsNotExist(err) {
		t.Errorf("damaged segment still in place: %v", err)
	}
	aside, _ := filepath.Glob(damaged + ".corrupt-*")
	if len(aside) != 1 {
		t.Errorf("set aside as %v, want one %s.corrupt-<time>", aside, filepath.Base(damaged))
	}
}

// TestConcurrentCommits checks that concurrent writers each get their record durable and
// replayed, sharing fsyncs.
func TestConcurrentCommits(t *testing.T) {
	dir := t.TempDir()
	m := NewMetrics(nil)
	j, _ := collect(t, dir, m)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := j.Append(record(w*each + i)); err != nil {
					t.Error(err)
				}
				if err := j.Commit(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	j.Close()
	fsyncs := counter(t, m.fsyncs, "state.journal")
	if fsyncs > writers*each || fsyncs == 0 {
		t.Errorf("%v fsyncs for %d commits", fsyncs, writers*each)
	}
	_, got := collect(t, dir, nil)
	slices.Sort(got)
	if !slices.Equal(got, want(0, writers*each)) {
		t.Fatalf("replayed %d records, want %d", len(got), writers*each)
	}
	t.Logf("%d commits, %v fsyncs", writers*each, fsyncs)
}

// TestWriteSnapshot checks that a snapshot replaces the old file whole and leaves no
// temporary file.
func TestWriteSnapshot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "silences")
	for _, content := range []string{"first", "second, longer"} {
		n, err := WriteSnapshot(path, func(w io.Writer) (int64, error) {
			k, err := w.Write([]byte(content))
			return int64(k), err
		})
		if err != nil || n != int64(len(content)) {
			t.Fatalf("WriteSnapshot: %d, %v", n, err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != content {
			t.Fatalf("snapshot holds %q, want %q", b, content)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory holds %d files, want the snapshot only", len(ents))
	}
}

// FuzzScan feeds arbitrary segment contents to the reader: it must not panic, must only apply
// records whose checksum holds, and must account for every byte (records or damage).
func FuzzScan(f *testing.F) {
	var seg bytes.Buffer
	for i := range 3 {
		seg.Write(frame(record(i)))
	}
	f.Add(seg.Bytes())
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 'x'})
	f.Add(bytes.Repeat([]byte{0xff}, 20))
	f.Fuzz(func(t *testing.T, b []byte) {
		applied := 0
		n, d := scan(b, func(p []byte) error { applied += headerSize + len(p); return nil })
		if n < 0 || (d == nil && applied != len(b)) {
			t.Fatalf("scan of %d bytes: %d records, %d bytes applied, no damage reported", len(b), n, applied)
		}
		if d != nil && d.offset != int64(applied) {
			t.Fatalf("damage at %d, but %d bytes were applied", d.offset, applied)
		}
	})
}
