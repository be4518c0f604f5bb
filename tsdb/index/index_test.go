package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

type testSeries struct {
	lset labels.Labels
	chks []chunks.Meta
}

// genSeries builds n distinct series with realistic label sets: a metric name, job, instance,
// namespace, pod (high cardinality), container, and for a fraction of series "le" or "code",
// about 8 labels each. No label has an empty value.
func genSeries(rng *rand.Rand, n int) []testSeries {
	seen := map[string]struct{}{}
	out := make([]testSeries, 0, n)
	var chunkRef uint64 = 8
	for len(out) < n {
		b := labels.NewScratchBuilder(9)
		b.Add("__name__", fmt.Sprintf("metric_%d_total", rng.IntN(200)))
		b.Add("job", fmt.Sprintf("job-%d", rng.IntN(10)))
		b.Add("instance", fmt.Sprintf("10.0.%d.%d:9100", rng.IntN(8), rng.IntN(250)))
		b.Add("namespace", fmt.Sprintf("ns-%d", rng.IntN(30)))
		b.Add("pod", fmt.Sprintf("app-%d-%x", rng.IntN(500), rng.Uint32()&0xffff))
		b.Add("container", fmt.Sprintf("c%d", rng.IntN(5)))
		switch rng.IntN(4) {
		case 0:
			b.Add("le", fmt.Sprintf("%g", float64(rng.IntN(12))*0.25))
		case 1:
			b.Add("code", fmt.Sprintf("%d", 200+rng.IntN(5)*100))
		}
		b.Sort()
		lset := b.Labels()
		if _, ok := seen[lset.String()]; ok {
			continue
		}
		seen[lset.String()] = struct{}{}
		out = append(out, testSeries{lset: lset})
	}
	slices.SortFunc(out, func(a, b testSeries) int { return labels.Compare(a.lset, b.lset) })
	// Chunks as a compactor writes them for a 2h block scraped every 15s: series in order, each
	// with up to four 120-sample chunks, refs increasing through the segment. A quarter of the
	// series are irregular (late start, odd lengths) to exercise the signed deltas.
	const start, interval, perChunk = int64(1_700_000_000_000), int64(15_000), int64(120)
	for i := range out {
		t := start + rng.Int64N(interval)
		nc, irregular := 4, rng.IntN(4) == 0
		if irregular {
			nc = rng.IntN(5)
			t += rng.Int64N(3_600_000)
		}
		chks := make([]chunks.Meta, nc)
		for j := range chks {
			d := (perChunk - 1) * interval
			if irregular || j == nc-1 {
				d = rng.Int64N(perChunk) * interval
			}
			chks[j] = chunks.Meta{Ref: chunkRef, MinTime: t, MaxTime: t + d}
			chunkRef += uint64(120 + rng.IntN(80))
			t += d + interval
		}
		out[i].chks = chks
	}
	return out
}

func symbolsOf(series []testSeries) []string {
	set := map[string]struct{}{}
	for _, s := range series {
		s.lset.Range(func(l labels.Label) {
			set[l.Name] = struct{}{}
			set[l.Value] = struct{}{}
		})
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func writeIndex(t testing.TB, path string, series []testSeries) {
	t.Helper()
	w, err := NewWriter(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	syms := symbolsOf(series)
	// Two calls, to exercise streaming symbols.
	half := len(syms) / 2
	if err := w.AddSymbols(syms[:half]); err != nil {
		t.Fatal(err)
	}
	if err := w.AddSymbols(syms[half:]); err != nil {
		t.Fatal(err)
	}
	for i, s := range series {
		if err := w.AddSeries(uint64(i), s.lset, s.chks...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// naivePostings maps name → value → sorted refs.
func naivePostings(series []testSeries) map[string]map[string][]uint64 {
	m := map[string]map[string][]uint64{}
	for i, s := range series {
		s.lset.Range(func(l labels.Label) {
			if m[l.Name] == nil {
				m[l.Name] = map[string][]uint64{}
			}
			m[l.Name][l.Value] = append(m[l.Name][l.Value], uint64(i))
		})
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestIndexRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{0, 1, 17, 5000} {
		t.Run(fmt.Sprintf("series=%d", n), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(n), 11))
			series := genSeries(rng, n)
			path := filepath.Join(t.TempDir(), "index")
			writeIndex(t, path, series)

			if ents, err := os.ReadDir(filepath.Dir(path)); err != nil || len(ents) != 1 {
				t.Fatalf("the writer left files behind: %v %v", ents, err)
			}
			r, err := NewFileReader(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			st, _ := os.Stat(path)
			if r.Size() != st.Size() {
				t.Fatalf("Size() = %d, file is %d", r.Size(), st.Size())
			}
			if r.NumSeries() != uint64(n) {
				t.Fatalf("NumSeries() = %d, want %d", r.NumSeries(), n)
			}
			wantSyms := symbolsOf(series)
			if got := slices.Collect(r.Symbols()); !slices.Equal(got, wantSyms) || r.NumSymbols() != len(wantSyms) {
				t.Fatalf("symbols differ: got %d, want %d", len(got), len(wantSyms))
			}

			// Series and chunk metas.
			var b labels.ScratchBuilder
			var chks []chunks.Meta
			for i, s := range series {
				if err := r.Series(uint64(i), &b, &chks); err != nil {
					t.Fatalf("series %d: %v", i, err)
				}
				if got := b.Labels(); !labels.Equal(got, s.lset) {
					t.Fatalf("series %d: labels %s, want %s", i, got, s.lset)
				}
				if len(chks) != len(s.chks) {
					t.Fatalf("series %d: %d chunks, want %d", i, len(chks), len(s.chks))
				}
				for j := range chks {
					w := s.chks[j]
					if g := chks[j]; g.Ref != w.Ref || g.MinTime != w.MinTime || g.MaxTime != w.MaxTime || g.Chunk != nil {
						t.Fatalf("series %d chunk %d: %+v, want %+v", i, j, chks[j], w)
					}
				}
			}
			if err := r.Series(uint64(n), &b, &chks); !errors.Is(err, ErrNotFound) {
				t.Fatalf("series past the end: err = %v, want ErrNotFound", err)
			}

			// Label names, values, postings against the naive inverted index.
			np := naivePostings(series)
			names, err := r.LabelNames(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := sortedKeys(np); !slices.Equal(names, want) {
				t.Fatalf("LabelNames = %v, want %v", names, want)
			}
			pairs := 0
			for _, name := range names {
				vals, err := r.LabelValues(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if want := sortedKeys(np[name]); !slices.Equal(vals, want) {
					t.Fatalf("LabelValues(%s) differ", name)
				}
				for _, v := range vals {
					pairs++
					want := np[name][v]
					p, err := r.Postings(ctx, name, v)
					if err != nil {
						t.Fatal(err)
					}
					checkAgainst(t, name+"="+v, p, want, rng)
					if c, err := r.PostingsCount(name, v); err != nil || c != len(want) {
						t.Fatalf("PostingsCount(%s, %s) = %d, %v; want %d", name, v, c, err, len(want))
					}
				}
				// Union over several values, in any order, with one that does not exist.
				if len(vals) >= 3 {
					p, err := r.Postings(ctx, name, vals[2], "no-such-value", vals[0])
					if err != nil {
						t.Fatal(err)
					}
					checkAgainst(t, name+" union", p, naiveMerge(np[name][vals[0]], np[name][vals[2]]), rng)
				}
				// Every other value, through the matcher path.
				var want [][]uint64
				for i, v := range vals {
					if i%2 == 0 {
						want = append(want, np[name][v])
					}
				}
				p := r.PostingsForLabelMatching(ctx, name, func(v string) bool {
					i, _ := slices.BinarySearch(vals, v)
					return i%2 == 0
				})
				checkAgainst(t, name+" matching", p, naiveMerge(want...), rng)
			}
			if n == 5000 {
				// All three postings encodings must have been exercised above.
				encs := map[byte]int{}
				for _, e := range r.names {
					for i := range e.valueIDs {
						encs[r.secs[secPostings][e.postOff[i]]]++
					}
				}
				if encs[postingsDeltas] == 0 || encs[postingsRuns] == 0 || encs[postingsSkips] == 0 {
					t.Fatalf("postings encodings used: %v", encs)
				}
			}
			if r.NumLabelPairs() != pairs {
				t.Fatalf("NumLabelPairs = %d, want %d", r.NumLabelPairs(), pairs)
			}
			all := make([]uint64, n)
			for i := range all {
				all[i] = uint64(i)
			}
			checkAgainst(t, "all", r.AllPostings(), all, rng)
			if p, _ := r.Postings(ctx, "no_such_label", "x"); p.Next() {
				t.Fatal("postings for a missing name")
			}
			if vals, err := r.LabelValues(ctx, "no_such_label"); err != nil || len(vals) != 0 {
				t.Fatalf("values of a missing name: %v %v", vals, err)
			}
		})
	}
}

func TestLabelNamesWithMatchers(t *testing.T) {
	ctx := context.Background()
	series := genSeries(rand.New(rand.NewPCG(5, 5)), 2000)
	path := filepath.Join(t.TempDir(), "index")
	writeIndex(t, path, series)
	r, err := NewFileReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, ms := range [][]*labels.Matcher{
		{labels.MustNewMatcher(labels.MatchEqual, "le", "0.5")},
		{labels.MustNewMatcher(labels.MatchEqual, "le", "")}, // series without le
		{labels.MustNewMatcher(labels.MatchRegexp, "code", "2..|3..")},
		{labels.MustNewMatcher(labels.MatchNotEqual, "job", "job-1"), labels.MustNewMatcher(labels.MatchEqual, "container", "c1")},
		{labels.MustNewMatcher(labels.MatchEqual, "job", "nope")},
	} {
		set := map[string]struct{}{}
		for _, s := range series {
			ok := true
			for _, m := range ms {
				ok = ok && m.Matches(s.lset.Get(m.Name))
			}
			if ok {
				s.lset.Range(func(l labels.Label) { set[l.Name] = struct{}{} })
			}
		}
		got, err := r.LabelNames(ctx, ms...)
		if err != nil {
			t.Fatal(err)
		}
		if want := sortedKeys(set); !slices.Equal(got, want) {
			t.Errorf("%v: got %v, want %v", ms, got, want)
		}
	}
}

func TestWriterRejectsMisuse(t *testing.T) {
	ctx := context.Background()
	ls := func(kv ...string) labels.Labels { return labels.FromStrings(kv...) }
	cases := []struct {
		name string
		run  func(w *Writer) error
	}{
		{"unsorted symbols", func(w *Writer) error { return w.AddSymbols([]string{"b", "a"}) }},
		{"duplicate symbols across calls", func(w *Writer) error {
			if err := w.AddSymbols([]string{"a", "b"}); err != nil {
				return nil // the test wants the second call to fail
			}
			return w.AddSymbols([]string{"b"})
		}},
		{"missing symbol", func(w *Writer) error {
			w.AddSymbols([]string{"a"})
			return w.AddSeries(0, ls("a", "b"))
		}},
		{"wrong ref", func(w *Writer) error {
			w.AddSymbols([]string{"a", "b"})
			return w.AddSeries(3, ls("a", "b"))
		}},
		{"unsorted series", func(w *Writer) error {
			w.AddSymbols([]string{"a", "b", "c"})
			if err := w.AddSeries(0, ls("a", "c")); err != nil {
				return nil
			}
			return w.AddSeries(1, ls("a", "b"))
		}},
		{"duplicate series", func(w *Writer) error {
			w.AddSymbols([]string{"a", "b"})
			if err := w.AddSeries(0, ls("a", "b")); err != nil {
				return nil
			}
			return w.AddSeries(1, ls("a", "b"))
		}},
		{"empty value", func(w *Writer) error {
			w.AddSymbols([]string{"", "a", "b"})
			return w.AddSeries(0, ls("a", "b", "c", ""))
		}},
		{"chunk maxt before mint", func(w *Writer) error {
			w.AddSymbols([]string{"a", "b"})
			return w.AddSeries(0, ls("a", "b"), chunks.Meta{MinTime: 10, MaxTime: 5})
		}},
		{"symbols after series", func(w *Writer) error {
			w.AddSymbols([]string{"a", "b"})
			w.AddSeries(0, ls("a", "b"))
			return w.AddSymbols([]string{"c"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWriter(ctx, filepath.Join(t.TempDir(), "index"))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.run(w); err == nil {
				t.Fatal("misuse accepted")
			}
			if err := w.Close(); err == nil {
				t.Fatal("Close after a failed call reported success")
			}
		})
	}
	if _, err := NewWriter(ctx, filepath.Join(t.TempDir(), "missing-dir", "index")); err == nil {
		t.Fatal("NewWriter in a missing directory succeeded")
	}
}

// walkIndex reads everything an index exposes and returns the first error. It must never
// panic, whatever the bytes.
func walkIndex(r *Reader) error {
	ctx := context.Background()
	for range r.Symbols() {
	}
	names, err := r.LabelNames(ctx)
	if err != nil {
		return err
	}
	var firstErr error
	note := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, name := range names {
		vals, err := r.LabelValues(ctx, name)
		if err != nil {
			note(err)
			continue
		}
		for _, v := range vals {
			p, err := r.Postings(ctx, name, v)
			if err != nil {
				note(err)
				continue
			}
			if _, err := ExpandPostings(p); err != nil {
				note(err)
			}
			if _, err := r.PostingsCount(name, v); err != nil {
				note(err)
			}
			if p, err := r.Postings(ctx, name, v); err == nil {
				p.Seek(r.NumSeries() / 2)
				p.Seek(r.NumSeries() - 1)
				note(p.Err())
			}
		}
		if len(vals) > 0 {
			_, err := r.LabelNames(ctx, labels.MustNewMatcher(labels.MatchEqual, name, vals[0]))
			note(err)
		}
		// The union of all values goes through the decode-and-sort path for many values.
		_, err = ExpandPostings(r.PostingsForLabelMatching(ctx, name, func(string) bool { return true }))
		note(err)
	}
	var b labels.ScratchBuilder
	var chks []chunks.Meta
	for ref := range r.NumSeries() + 1 {
		if err := r.Series(ref, &b, &chks); err != nil && !errors.Is(err, ErrNotFound) {
			note(err)
		}
		b.Labels()
	}
	return firstErr
}

func smallIndex(t testing.TB, n int) []byte {
	path := filepath.Join(t.TempDir(), "index")
	writeIndex(t, path, genSeries(rand.New(rand.NewPCG(uint64(n), 3)), n))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDamagedIndex flips a bit in every byte and truncates at every length: opening must fail
// (every byte outside the reserved header bytes is covered by a checksum), and reading the same
// bytes without checksum verification must not panic.
func TestDamagedIndex(t *testing.T) {
	orig := smallIndex(t, 40)
	rng := rand.New(rand.NewPCG(8, 8))
	for pos := range orig {
		data := bytes.Clone(orig)
		data[pos] ^= 1 << rng.IntN(8)
		_, err := NewReader(data)
		if pos >= 5 && pos < headerSize {
			if err != nil {
				t.Fatalf("flip in reserved header byte %d: %v", pos, err)
			}
			continue
		}
		var cerr *CorruptionErr
		if !errors.As(err, &cerr) {
			t.Fatalf("flip at byte %d: err = %v, want *CorruptionErr", pos, err)
		}
		if r, err := newReader(data, false); err == nil {
			_ = walkIndex(r)
		}
	}
	for l := range len(orig) {
		if _, err := NewReader(orig[:l]); err == nil {
			t.Fatalf("truncated to %d bytes: opened without error", l)
		}
	}
	if r, err := NewReader(orig); err != nil {
		t.Fatal(err)
	} else if err := walkIndex(r); err != nil {
		t.Fatalf("walk of an intact index: %v", err)
	}
}

// TestDamagedSectionsUnchecked damages decoded sections (not the checksums) and checks that the
// readers report errors rather than wrong data or panics, as they would if a checksum collided.
func TestDamagedSectionsUnchecked(t *testing.T) {
	orig := smallIndex(t, 300)
	rng := rand.New(rand.NewPCG(9, 9))
	errs := 0
	for i := range 3000 {
		data := bytes.Clone(orig)
		for range 1 + i%4 {
			data[headerSize+rng.IntN(len(data)-headerSize-tocSize)] = byte(rng.Uint32())
		}
		r, err := newReader(data, false)
		if err != nil {
			errs++
			continue
		}
		if walkIndex(r) != nil {
			errs++
		}
	}
	if errs == 0 {
		t.Fatal("no damage detected at all")
	}
}

func FuzzIndexReader(f *testing.F) {
	f.Add(smallIndex(f, 0))
	f.Add(smallIndex(f, 3))
	f.Add(smallIndex(f, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, verify := range []bool{true, false} {
			r, err := newReader(data, verify)
			if err != nil {
				continue
			}
			_ = walkIndex(r)
		}
	})
}

// BenchmarkIndex writes and reads an index of 100k series with about 8 labels each and reports
// the index size per series.
func BenchmarkIndex(b *testing.B) {
	ctx := context.Background()
	series := genSeries(rand.New(rand.NewPCG(1, 1)), 100_000)
	dir := b.TempDir()
	var size int64
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			path := filepath.Join(dir, fmt.Sprintf("index-%d", i))
			writeIndex(b, path, series)
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			size = st.Size()
			os.Remove(path)
		}
		b.ReportMetric(float64(size)/float64(len(series)), "bytes/series")
	})
	path := filepath.Join(dir, "index")
	writeIndex(b, path, series)
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewFileReader(path)
			if err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
	r, err := NewFileReader(path)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.Run("series", func(b *testing.B) {
		var lb labels.ScratchBuilder
		var chks []chunks.Meta
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := r.Series(uint64(i)%r.NumSeries(), &lb, &chks); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("select-name-and-job", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p1, _ := r.Postings(ctx, "__name__", "metric_7_total")
			p2, _ := r.Postings(ctx, "job", "job-3")
			p := Intersect(p1, p2)
			for p.Next() {
			}
		}
	})
	b.Run("postings-all-pods", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := r.PostingsForLabelMatching(ctx, "pod", func(string) bool { return true })
			for p.Next() {
			}
		}
	})
}

func TestChunkMetaEdgeCases(t *testing.T) {
	series := []testSeries{
		{labels.FromStrings("a", "1"), []chunks.Meta{
			{Ref: 1<<40 | 12, MinTime: -5_000, MaxTime: -1},
			{Ref: 8, MinTime: -3_000, MaxTime: 10}, // overlaps the previous one, ref goes backwards
			{Ref: 1<<64 - 1, MinTime: -3_000, MaxTime: 1 << 62},
		}},
		{labels.FromStrings("a", "2"), nil},
		{labels.FromStrings("a", "3", "b", "x"), []chunks.Meta{{Ref: 0, MinTime: -1 << 62, MaxTime: -1 << 62}}},
		{labels.FromStrings("c", "1", "d", "1", "e", "1", "f", "1", "g", "1", "h", "1", "i", "1", "j", "1"), nil},
		// Name index 10 as the first label, and a jump of 9 from "a": the long form of label refs.
		{labels.FromStrings("x", "1", "z", "1"), nil},
		{labels.FromStrings("z", "1"), nil},
	}
	path := filepath.Join(t.TempDir(), "index")
	writeIndex(t, path, series)
	r, err := NewFileReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var b labels.ScratchBuilder
	var chks []chunks.Meta
	for i, s := range series {
		if err := r.Series(uint64(i), &b, &chks); err != nil {
			t.Fatal(err)
		}
		if !labels.Equal(b.Labels(), s.lset) || !slices.EqualFunc(chks, s.chks, func(a, b chunks.Meta) bool {
			return a.Ref == b.Ref && a.MinTime == b.MinTime && a.MaxTime == b.MaxTime
		}) {
			t.Fatalf("series %d: got %s %+v, want %s %+v", i, b.Labels(), chks, s.lset, s.chks)
		}
	}
}

func TestFileReaderOnDamagedFiles(t *testing.T) {
	orig := smallIndex(t, 50)
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty":     nil,
		"header":    orig[:headerSize],
		"truncated": orig[:len(orig)-7],
		"flipped":   func() []byte { b := bytes.Clone(orig); b[len(b)/2] ^= 0x10; return b }(),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o666); err != nil {
			t.Fatal(err)
		}
		if r, err := NewFileReader(path); err == nil {
			r.Close()
			t.Errorf("%s: opened without error", name)
		}
	}
	if _, err := NewFileReader(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
