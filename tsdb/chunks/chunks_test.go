package chunks

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func randChunks(rng *rand.Rand, n, maxLen int) []Meta {
	out := make([]Meta, n)
	var t int64
	for i := range out {
		b := make([]byte, 1+rng.IntN(maxLen))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		out[i] = Meta{MinTime: t, MaxTime: t + 100, Chunk: b}
		t += 101
	}
	return out
}

func writeChunks(t testing.TB, dir string, segSize int64, chks []Meta, batch int) {
	t.Helper()
	w, err := NewWriter(dir, segSize)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(chks); i += batch {
		if err := w.WriteChunks(chks[i:min(i+batch, len(chks))]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		maxLen  int
		segSize int64
		segs    int // expected segment count, -1 for "more than one"
	}{
		{"none", 0, 10, 0, 0},
		{"one", 1, 10, 0, 1},
		{"many-one-segment", 2000, 300, 0, 1},
		{"many-segments", 2000, 300, 16 << 10, -1},
		{"chunk-larger-than-segment", 5, 5000, 100, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.n), 9))
			dir := filepath.Join(t.TempDir(), "chunks")
			chks := randChunks(rng, tc.n, tc.maxLen)
			writeChunks(t, dir, tc.segSize, chks, 7)

			r, err := NewReader(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tc.segs >= 0 && r.Segments() != tc.segs {
				t.Fatalf("segments = %d, want %d", r.Segments(), tc.segs)
			}
			if tc.segs < 0 && r.Segments() < 2 {
				t.Fatalf("segments = %d, want several", r.Segments())
			}
			var size int64
			for i := range r.Segments() {
				st, err := os.Stat(SegmentFile(dir, i))
				if err != nil {
					t.Fatal(err)
				}
				if tc.segSize > 0 && st.Size() > max(tc.segSize, int64(tc.maxLen)+SegmentHeaderSize+8) {
					t.Fatalf("segment %d is %d bytes, limit %d", i, st.Size(), tc.segSize)
				}
				size += st.Size()
			}
			if r.Size() != size {
				t.Fatalf("Size() = %d, files hold %d", r.Size(), size)
			}
			for i, c := range chks {
				got, err := r.Chunk(c.Ref)
				if err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if !bytes.Equal(got, c.Chunk) {
					t.Fatalf("chunk %d differs", i)
				}
			}
			i := 0
			if err := r.Iterate(func(ref uint64, chk []byte) error {
				if ref != chks[i].Ref || !bytes.Equal(chk, chks[i].Chunk) {
					return fmt.Errorf("iterate entry %d differs", i)
				}
				i++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if i != len(chks) {
				t.Fatalf("iterated %d chunks, want %d", i, len(chks))
			}
		})
	}
}

func TestWriterRejectsBadChunks(t *testing.T) {
	w, err := NewWriter(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteChunks(Meta{}); err == nil {
		t.Fatal("empty chunk accepted")
	}
	// The error is sticky: the writer does not pretend later writes succeeded.
	if err := w.WriteChunks(Meta{Chunk: []byte{1}}); err == nil {
		t.Fatal("write after failure accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after failure reported success")
	}
	if err := w.Close(); err == nil {
		t.Fatal("second Close after failure reported success")
	}
	ok, err := NewWriter(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.WriteChunks(Meta{Chunk: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := ok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ok.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := ok.WriteChunks(Meta{Chunk: []byte{1}}); err == nil {
		t.Fatal("write after Close accepted")
	}
	if _, err := NewWriter(t.TempDir(), MaxSegmentSize+1); err == nil {
		t.Fatal("oversized segment size accepted")
	}
}

func TestBadRefs(t *testing.T) {
	dir := t.TempDir()
	chks := randChunks(rand.New(rand.NewPCG(1, 1)), 10, 20)
	writeChunks(t, dir, 0, chks, 10)
	r, err := NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, ref := range []uint64{0, 7, NewRef(1, 8), NewRef(0, uint32(r.Size())), NewRef(0, uint32(r.Size()-1)), chks[1].Ref + 1, 1<<64 - 1} {
		_, err := r.Chunk(ref)
		var cerr *CorruptionErr
		if !errors.As(err, &cerr) {
			t.Errorf("ref %x: err = %v, want *CorruptionErr", ref, err)
		}
	}
}

// TestDamagedSegments flips every bit of a small segment in turn and truncates it at every
// length: opening fails or every chunk either reads back exactly or reports corruption, and the
// chunk that was hit always reports it.
func TestDamagedSegments(t *testing.T) {
	dir := t.TempDir()
	chks := randChunks(rand.New(rand.NewPCG(2, 2)), 12, 40)
	writeChunks(t, dir, 0, chks, 12)
	orig, err := os.ReadFile(SegmentFile(dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	// entryOf returns the index of the chunk whose entry covers byte pos, or -1 (header).
	entryOf := func(pos int) int {
		idx := -1
		for i, c := range chks {
			if _, off := SplitRef(c.Ref); int(off) <= pos {
				idx = i
			}
		}
		return idx
	}
	// A cut exactly between entries leaves a well-formed shorter segment: only the chunks past
	// the cut can tell, so Iterate is only required to fail on cuts inside an entry.
	boundary := map[int]bool{len(orig): true}
	for _, c := range chks {
		_, off := SplitRef(c.Ref)
		boundary[int(off)] = true
	}
	check := func(name string, data []byte, hit int, truncated bool) {
		r, err := NewReaderFromBytes(data)
		if err != nil {
			var cerr *CorruptionErr
			if !errors.As(err, &cerr) {
				t.Fatalf("%s: open error %v is not a *CorruptionErr", name, err)
			}
			return
		}
		for i, c := range chks {
			got, err := r.Chunk(c.Ref)
			if err == nil && !bytes.Equal(got, c.Chunk) {
				t.Fatalf("%s: chunk %d returned wrong bytes without error", name, i)
			}
			if i == hit && err == nil {
				t.Fatalf("%s: damaged chunk %d not detected", name, i)
			}
		}
		if err := r.Iterate(func(uint64, []byte) error { return nil }); err == nil && hit >= 0 && !(truncated && boundary[len(data)]) {
			t.Fatalf("%s: Iterate missed damage in chunk %d", name, hit)
		}
	}
	for pos := range orig {
		for bit := range 8 {
			data := bytes.Clone(orig)
			data[pos] ^= 1 << bit
			hit := entryOf(pos)
			if pos < SegmentHeaderSize && pos >= 5 {
				hit = -1 // reserved header bytes are not checked
			}
			check(fmt.Sprintf("flip byte %d bit %d", pos, bit), data, hit, false)
		}
	}
	for l := range len(orig) {
		check(fmt.Sprintf("truncate to %d", l), orig[:l], entryOf(l), true)
	}
}

func TestMissingSegmentIsCorruption(t *testing.T) {
	dir := t.TempDir()
	writeChunks(t, dir, 20, randChunks(rand.New(rand.NewPCG(3, 3)), 3, 90), 1)
	if err := os.Remove(SegmentFile(dir, 1)); err != nil {
		t.Fatal(err)
	}
	_, err := NewReader(dir)
	var cerr *CorruptionErr
	if !errors.As(err, &cerr) || cerr.Segment != 1 {
		t.Fatalf("err = %v, want corruption in segment index 1", err)
	}
	if r, err := NewReader(filepath.Join(dir, "absent")); err != nil || r.Size() != 0 {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestReaderOnDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	chks := randChunks(rand.New(rand.NewPCG(7, 7)), 20, 50)
	writeChunks(t, dir, 0, chks, 20)
	seg := SegmentFile(dir, 0)
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	// Truncated mid-way: the reader opens, chunks before the cut read fine, the rest are
	// reported as corrupt.
	if err := os.Truncate(seg, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ok, bad int
	for _, c := range chks {
		got, err := r.Chunk(c.Ref)
		var cerr *CorruptionErr
		switch {
		case err == nil && bytes.Equal(got, c.Chunk):
			ok++
		case errors.As(err, &cerr):
			bad++
		default:
			t.Fatalf("ref %x: %v", c.Ref, err)
		}
	}
	if ok == 0 || bad == 0 {
		t.Fatalf("%d readable, %d corrupt: want both", ok, bad)
	}
	// Truncated into the header: opening fails.
	if err := os.Truncate(seg, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReader(dir); err == nil {
		t.Fatal("segment without a header accepted")
	}
}

func FuzzChunkReader(f *testing.F) {
	dir := f.TempDir()
	chks := randChunks(rand.New(rand.NewPCG(4, 4)), 5, 30)
	writeChunks(f, dir, 0, chks, 5)
	seg, err := os.ReadFile(SegmentFile(dir, 0))
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range chks {
		f.Add(seg, c.Ref)
	}
	f.Add([]byte("VGCK\x01\x00\x00\x00\xff\xff\xff\xff\x0f"), uint64(8))
	f.Fuzz(func(t *testing.T, data []byte, ref uint64) {
		r, err := NewReaderFromBytes(data)
		if err != nil {
			return
		}
		if b, err := r.Chunk(ref); err == nil && len(b) == 0 {
			t.Fatal("empty chunk returned without error")
		}
		_ = r.Iterate(func(ref uint64, chk []byte) error {
			if _, err := r.Chunk(ref); err != nil {
				t.Fatalf("Iterate yielded ref %x that Chunk rejects: %v", ref, err)
			}
			return nil
		})
	})
}

func BenchmarkReadChunks(b *testing.B) {
	dir := b.TempDir()
	chks := randChunks(rand.New(rand.NewPCG(5, 5)), 100_000, 200)
	writeChunks(b, dir, 0, chks, 100)
	r, err := NewReader(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Chunk(chks[i%len(chks)].Ref); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteChunks(b *testing.B) {
	chks := randChunks(rand.New(rand.NewPCG(6, 6)), 10_000, 200)
	b.ReportAllocs()
	for b.Loop() {
		writeChunks(b, b.TempDir(), 0, chks, 100)
	}
}
