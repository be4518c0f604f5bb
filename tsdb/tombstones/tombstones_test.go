package tombstones

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func TestIntervalsAdd(t *testing.T) {
	cases := []struct {
		in   Intervals
		add  Interval
		want Intervals
	}{
		{nil, Interval{1, 2}, Intervals{{1, 2}}},
		{Intervals{{1, 2}}, Interval{3, 4}, Intervals{{1, 4}}}, // adjacent
		{Intervals{{1, 2}}, Interval{4, 5}, Intervals{{1, 2}, {4, 5}}},
		{Intervals{{4, 5}}, Interval{1, 2}, Intervals{{1, 2}, {4, 5}}},
		{Intervals{{1, 2}, {5, 6}, {9, 10}}, Interval{2, 9}, Intervals{{1, 10}}},
		{Intervals{{1, 2}, {5, 6}, {9, 10}}, Interval{4, 4}, Intervals{{1, 2}, {4, 6}, {9, 10}}},
		{Intervals{{1, 2}, {9, 10}}, Interval{5, 6}, Intervals{{1, 2}, {5, 6}, {9, 10}}},
		{Intervals{{1, 10}}, Interval{3, 4}, Intervals{{1, 10}}},
		{Intervals{{1, 2}}, Interval{5, 3}, Intervals{{1, 2}}}, // empty interval ignored
		{Intervals{{-5, 0}, {10, 20}}, Interval{math.MinInt64, math.MaxInt64}, Intervals{{math.MinInt64, math.MaxInt64}}},
		{Intervals{{math.MinInt64, -10}}, Interval{math.MinInt64, math.MinInt64}, Intervals{{math.MinInt64, -10}}},
		{Intervals{{0, math.MaxInt64}}, Interval{-1, -1}, Intervals{{-1, math.MaxInt64}}},
	}
	for _, tc := range cases {
		got := slices.Clone(tc.in).Add(tc.add)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v.Add(%v) = %v, want %v", tc.in, tc.add, got, tc.want)
		}
	}
}

// TestIntervalsAgainstPoints checks Add and InBounds against a set of deleted points.
func TestIntervalsAgainstPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var ivs Intervals
		points := map[int64]bool{}
		for range 1 + rng.IntN(8) {
			a := rng.Int64N(60)
			b := a + rng.Int64N(8)
			ivs = ivs.Add(Interval{a, b})
			for x := a; x <= b; x++ {
				points[x] = true
			}
		}
		for i := range ivs {
			if ivs[i].Maxt < ivs[i].Mint || (i > 0 && ivs[i].Mint <= ivs[i-1].Maxt+1) {
				t.Fatalf("not normalised: %v", ivs)
			}
		}
		for x := int64(-2); x < 72; x++ {
			if ivs.InBounds(x) != points[x] {
				t.Fatalf("%v.InBounds(%d) = %v, want %v", ivs, x, ivs.InBounds(x), points[x])
			}
		}
	}
}

func TestMemTombstones(t *testing.T) {
	m := NewMemTombstones()
	m.AddInterval(5, Interval{1, 3}, Interval{10, 20})
	m.AddInterval(5, Interval{4, 8})
	m.AddInterval(1, Interval{100, 200})
	m.AddInterval(9) // no intervals: no entry
	if got, _ := m.Get(5); !slices.Equal(got, Intervals{{1, 8}, {10, 20}}) {
		t.Fatalf("Get(5) = %v", got)
	}
	if got, _ := m.Get(9); got != nil {
		t.Fatalf("Get(9) = %v, want nil", got)
	}
	if m.Total() != 3 {
		t.Fatalf("Total = %d, want 3", m.Total())
	}
	var refs []uint64
	m.Iter(func(ref uint64, _ Intervals) error { refs = append(refs, ref); return nil })
	if !slices.Equal(refs, []uint64{1, 5}) {
		t.Fatalf("Iter order %v", refs)
	}
	stop := errors.New("stop")
	if err := m.Iter(func(uint64, Intervals) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Iter did not return f's error: %v", err)
	}

	got, _ := m.Get(5)
	m.TruncateBefore(9)
	if g, _ := m.Get(5); !slices.Equal(g, Intervals{{10, 20}}) {
		t.Fatalf("after TruncateBefore(9): %v", g)
	}
	if !slices.Equal(got, Intervals{{1, 8}, {10, 20}}) {
		t.Fatalf("a list returned earlier changed: %v", got)
	}
	m.TruncateBefore(150)
	if g, _ := m.Get(1); !slices.Equal(g, Intervals{{150, 200}}) {
		t.Fatalf("after TruncateBefore(150): %v", g)
	}
	if g, _ := m.Get(5); g != nil {
		t.Fatalf("series 5 should be gone: %v", g)
	}
	m.DeleteTombstones(map[uint64]struct{}{1: {}})
	if m.Total() != 0 {
		t.Fatalf("Total after delete = %d", m.Total())
	}
}

func TestMemTombstonesConcurrent(t *testing.T) {
	m := NewMemTombstones()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				m.AddInterval(uint64(i%7), Interval{int64(i * 10), int64(i*10 + g)})
				if ivs, _ := m.Get(uint64(i % 5)); len(ivs) > 0 && ivs[0].Maxt < ivs[0].Mint {
					panic("bad interval")
				}
				m.Total()
				m.Iter(func(uint64, Intervals) error { return nil })
			}
		})
	}
	wg.Wait()
	if got, _ := m.Get(0); !got.InBounds(0) || !got.InBounds(3) {
		t.Fatalf("lost intervals: %v", got)
	}
}

func randTombstones(rng *rand.Rand, n int) *MemTombstones {
	m := NewMemTombstones()
	for range n {
		ref := rng.Uint64N(1 << uint(rng.IntN(40)+1))
		a := rng.Int64N(1<<42) - 1<<41
		m.AddInterval(ref, Interval{a, a + rng.Int64N(1<<20)})
	}
	return m
}

func equalReaders(t *testing.T, a, b Reader) {
	t.Helper()
	if a.Total() != b.Total() {
		t.Fatalf("Total %d != %d", a.Total(), b.Total())
	}
	if err := a.Iter(func(ref uint64, ivs Intervals) error {
		got, err := b.Get(ref)
		if err != nil {
			return err
		}
		if !slices.Equal(got, ivs) {
			return fmt.Errorf("series %d: %v != %v", ref, got, ivs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestFileRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	extreme := NewMemTombstones()
	extreme.AddInterval(0, Interval{math.MinInt64, math.MinInt64 + 5}, Interval{math.MaxInt64 - 1, math.MaxInt64})
	extreme.AddInterval(math.MaxUint64, Interval{math.MinInt64, math.MaxInt64})
	for name, m := range map[string]*MemTombstones{
		"empty":   NewMemTombstones(),
		"one":     func() *MemTombstones { m := NewMemTombstones(); m.AddInterval(3, Interval{1, 2}); return m }(),
		"many":    randTombstones(rng, 5000),
		"extreme": extreme,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			size, err := WriteFile(nil, dir, m)
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(dir, Filename))
			if err != nil || st.Size() != size {
				t.Fatalf("size %d, file %v %v", size, st, err)
			}
			if _, err := os.Stat(filepath.Join(dir, Filename+".tmp")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
			r, rsize, err := ReadTombstones(dir)
			if err != nil {
				t.Fatal(err)
			}
			if rsize != size {
				t.Fatalf("read size %d, wrote %d", rsize, size)
			}
			equalReaders(t, m, r)
			equalReaders(t, r, m)
			// Overwriting replaces the file.
			if _, err := WriteFile(nil, dir, NewMemTombstones()); err != nil {
				t.Fatal(err)
			}
			if r, _, err := ReadTombstones(dir); err != nil || r.Total() != 0 {
				t.Fatalf("after overwrite: %v, %v", r, err)
			}
		})
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	r, size, err := ReadTombstones(t.TempDir())
	if err != nil || size != 0 || r.Total() != 0 {
		t.Fatalf("got %v %d %v", r, size, err)
	}
}

func TestDamagedFile(t *testing.T) {
	m := randTombstones(rand.New(rand.NewPCG(5, 6)), 30)
	orig, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	for pos := range orig {
		for bit := range 8 {
			data := bytes.Clone(orig)
			data[pos] ^= 1 << bit
			_, err := Decode(data)
			if pos >= 5 && pos < headerSize {
				continue // reserved header bytes are not interpreted, but covered by the CRC
			}
			if err == nil {
				t.Fatalf("flip of byte %d bit %d not detected", pos, bit)
			}
		}
	}
	for l := range len(orig) {
		if _, err := Decode(orig[:l]); err == nil {
			t.Fatalf("truncation to %d bytes not detected", l)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, Filename), orig[:len(orig)-1], 0o666); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadTombstones(dir); err == nil {
		t.Fatal("ReadTombstones accepted a truncated file")
	}
}

func FuzzTombstones(f *testing.F) {
	for i, n := range []int{0, 1, 5, 40} {
		b, err := Encode(randTombstones(rand.New(rand.NewPCG(uint64(i), 9)), n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fixCRC bool) {
		// With fixCRC the checksum is recomputed, so the fuzzer reaches the decoder proper.
		if fixCRC && len(data) >= headerSize+crcSize {
			data = bytes.Clone(data)
			copy(data[len(data)-crcSize:], be32(crc32c(data[:len(data)-crcSize])))
		}
		m, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes is normalised and survives a round trip unchanged.
		if err := m.Iter(func(ref uint64, ivs Intervals) error {
			for i := range ivs {
				if ivs[i].Maxt < ivs[i].Mint || (i > 0 && ivs[i].Mint <= ivs[i-1].Maxt+1) {
					return fmt.Errorf("series %d not normalised: %v", ref, ivs)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		again, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded tombstones do not decode: %v", err)
		}
		equalReaders(t, m, m2)
	})
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
