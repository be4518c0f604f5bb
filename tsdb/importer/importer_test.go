package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	promstorage "github.com/prometheus/prometheus/storage"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	promchunkenc "github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// sample is one float sample of a series, labels as a string.
type sample struct {
	series string
	t      int64
	bits   uint64 // float bits, so that NaNs (stale markers) compare
}

const hour = int64(3600 * 1000)

// genSeries is a test workload: counters, gauges with decimals, a series that goes stale.
func genSeries(n int, mint, maxt, step int64) map[string][]sample {
	out := map[string][]sample{}
	for i := range n {
		ls := labels.FromStrings("__name__", fmt.Sprintf("metric_%d", i%3), "instance", fmt.Sprintf("host-%d", i), "job", "node")
		var ss []sample
		for t := mint; t < maxt; t += step {
			var v float64
			switch i % 3 {
			case 0:
				v = float64((t - mint) / step * int64(i+1))
			case 1:
				v = math.Round(math.Sin(float64(t)/1e6)*10000) / 100
			case 2:
				v = float64(t%7) * 0.1
			}
			if i == 2 && t > mint+(maxt-mint)/2 {
				ss = append(ss, sample{ls.String(), t, math.Float64bits(storage.StaleNaN())})
				break
			}
			ss = append(ss, sample{ls.String(), t, math.Float64bits(v)})
		}
		out[ls.String()] = ss
	}
	return out
}

// writePromBlocks writes the workload as upstream (Prometheus 3.15's tsdb code) blocks of 2h,
// in dir, and returns the expected samples.
func writePromBlocks(t *testing.T, dir string, n int, mint, maxt, step int64) []sample {
	t.Helper()
	data := genSeries(n, mint, maxt, step)
	var all []sample
	for start := mint; start < maxt; start += 2 * hour {
		w, err := promtsdb.NewBlockWriter(promslog.NewNopLogger(), dir, 4*hour)
		if err != nil {
			t.Fatal(err)
		}
		app := w.Appender(context.Background())
		for k, ss := range data {
			ls, err := parseLabels(k)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ss {
				if s.t >= start && s.t < start+2*hour {
					if _, err := app.Append(0, ls, s.t, math.Float64frombits(s.bits)); err != nil {
						t.Fatal(err)
					}
					all = append(all, s)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	sortSamples(all)
	return all
}

func parseLabels(s string) (labels.Labels, error) {
	// {__name__="x", a="b"} as printed by labels.String.
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	b := labels.NewScratchBuilder(4)
	for _, kv := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return labels.EmptyLabels(), fmt.Errorf("bad label %q", kv)
		}
		b.Add(k, strings.Trim(v, `"`))
	}
	b.Sort()
	return b.Labels(), nil
}

func sortSamples(s []sample) {
	slices.SortFunc(s, func(a, b sample) int {
		if c := strings.Compare(a.series, b.series); c != 0 {
			return c
		}
		return int(a.t - b.t)
	})
}

// readVigil returns every sample stored in the Vigil data directory dir.
func readVigil(t *testing.T, dir string) []sample {
	t.Helper()
	db, err := tsdb.Open(dir, &tsdb.Options{NoLockfile: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".*"))
	var out []sample
	var it storage.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		for it.Next() == storage.ValFloat {
			ts, v := it.At()
			out = append(out, sample{s.Labels().String(), ts, math.Float64bits(v)})
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	sortSamples(out)
	return out
}

func sameSamples(t *testing.T, got, want []sample) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// hashTree fingerprints every file (path, size, content) under dir.
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if after[p] != h {
			t.Errorf("source file %s changed or vanished", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("file %s appeared in the source", p)
		}
	}
}

func blockDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 26 {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

func TestImportPrometheusBlocks(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
	want := writePromBlocks(t, src, 30, 10*hour, 16*hour+123, 15000)
	before := hashTree(t, src)
	var out strings.Builder
	sum, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	if sum.Blocks != 4 || sum.Samples != uint64(len(want)) {
		t.Errorf("summary %+v, want 4 blocks and %d samples", sum, len(want))
	}
	sameTree(t, before, hashTree(t, src))
	sameSamples(t, readVigil(t, dst), want)

	// A re-run skips every block and adds nothing.
	sum, err = ImportPrometheus(context.Background(), src, dst, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 0 || sum.SkippedBlocks != 4 {
		t.Errorf("re-run: %+v, want 4 skipped", sum)
	}
	sameSamples(t, readVigil(t, dst), want)
	sameTree(t, before, hashTree(t, src))
}

// An import interrupted after a block was renamed into place but before the state said so
// resumes without writing the block again; one interrupted before the rename redoes it.
func TestImportPrometheusResumeAfterCrash(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
	want := writePromBlocks(t, src, 5, 0, 4*hour, 60000)
	if _, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dst)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(st.Done))
	for k := range st.Done {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Crash 1: block of keys[0] complete, state not updated.
	e0 := st.Done[keys[0]]
	delete(st.Done, keys[0])
	st.InProgress = &progressEntry{Key: keys[0], Block: e0.Block}
	// Crash 2: keys[1] half written (a .tmp left over), its block never renamed.
	e1 := st.Done[keys[1]]
	delete(st.Done, keys[1])
	if err := os.Rename(filepath.Join(dst, e1.Block), filepath.Join(dst, "01ARZ3NDEKTSV4RRFFQ69G5FAV.tmp")); err != nil {
		t.Fatal(err)
	}
	if err := st.save(); err != nil {
		t.Fatal(err)
	}
	sum, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 1 || sum.SkippedBlocks != 1 {
		t.Errorf("resume: %+v, want 1 block written and 1 skipped", sum)
	}
	sameSamples(t, readVigil(t, dst), want)
}

func TestImportPrometheusDamaged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, block string)
		want   []string
	}{
		{"truncated chunk file", func(t *testing.T, block string) {
			p := filepath.Join(block, "chunks", "000001")
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, []string{"series {"}},
		{"corrupt index", func(t *testing.T, block string) {
			p := filepath.Join(block, "index")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(b) / 3; i < len(b)/3+64; i++ {
				b[i] ^= 0xff
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"missing meta.json", func(t *testing.T, block string) {
			if err := os.Remove(filepath.Join(block, "meta.json")); err != nil {
				t.Fatal(err)
			}
		}, []string{"meta.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
			want := writePromBlocks(t, src, 40, 0, 6*hour, 15000)
			blocks := blockDirs(t, src)
			bad := blocks[1]
			tc.damage(t, filepath.Join(src, bad))
			before := hashTree(t, src)
			_, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{})
			if err == nil {
				t.Fatal("import of a damaged block succeeded")
			}
			t.Log(err)
			for _, w := range append([]string{bad}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q: %v", w, err)
				}
			}
			sameTree(t, before, hashTree(t, src))
			// The block before the damaged one is imported and kept, nothing else is there.
			got := readVigil(t, dst)
			var first []sample
			for _, s := range want {
				if s.t < 2*hour {
					first = append(first, s)
				}
			}
			sameSamples(t, got, first)
			if left := blockDirs(t, dst); len(left) != 1 {
				t.Errorf("destination holds %v, want the first block only", left)
			}
		})
	}
}

// The WAL (a head that was never compacted) is imported with --include-wal, above the newest
// block; the source is left as it was.
func TestImportPrometheusWAL(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
	want := writePromBlocks(t, src, 10, 0, 4*hour, 60000)
	opts := promtsdb.DefaultOptions()
	db, err := promtsdb.Open(src, promslog.NewNopLogger(), nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.DisableCompactions()
	app := db.Appender(context.Background())
	data := genSeries(7, 4*hour, 5*hour+30*60000, 30000)
	for k, ss := range data {
		ls, _ := parseLabels(k)
		for _, s := range ss {
			if _, err := app.Append(0, ls, s.t, math.Float64frombits(s.bits)); err != nil {
				t.Fatal(err)
			}
			want = append(want, s)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	sortSamples(want)
	before := hashTree(t, src)
	var out strings.Builder
	sum, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{IncludeWAL: true, Out: &out})
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blocks != 3 {
		t.Errorf("%d blocks, want 2 from blocks and 1 from the WAL", sum.Blocks)
	}
	sameTree(t, before, hashTree(t, src))
	sameSamples(t, readVigil(t, dst), want)
	if _, err := os.Stat(filepath.Join(dst, "import-wal.tmp")); err == nil {
		t.Error("WAL scratch directory left behind")
	}
	// Again: nothing new.
	sum, err = ImportPrometheus(context.Background(), src, dst, PrometheusOptions{IncludeWAL: true})
	if err != nil || sum.Blocks != 0 {
		t.Fatalf("re-run: %+v %v", sum, err)
	}
	sameSamples(t, readVigil(t, dst), want)
}

func TestImportPrometheusNativeHistograms(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
	w, err := promtsdb.NewBlockWriter(promslog.NewNopLogger(), src, 4*hour)
	if err != nil {
		t.Fatal(err)
	}
	app := w.Appender(context.Background())
	hl := labels.FromStrings("__name__", "rpc_seconds")
	fl := labels.FromStrings("__name__", "up")
	for i := range int64(10) {
		h := &histogram.Histogram{Count: uint64(i), ZeroCount: uint64(i), Sum: float64(i), Schema: 0, ZeroThreshold: 0.001}
		if _, err := app.AppendHistogram(0, hl, i*1000, h, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, fl, i*1000, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// Skipped on request: only the floats come over.
	skipDst := filepath.Join(t.TempDir(), "vigil")
	sum, err := ImportPrometheus(context.Background(), src, skipDst, PrometheusOptions{SkipNativeHistograms: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.HistogramSamplesSkipped != 10 || sum.Samples != 10 {
		t.Errorf("summary %+v, want 10 float samples and 10 histogram samples left out", sum)
	}
	// By default the histograms are imported, read back as upstream wrote them.
	sum, err = ImportPrometheus(context.Background(), src, dst, PrometheusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.HistogramSamplesSkipped != 0 || sum.Samples != 20 {
		t.Errorf("summary %+v, want 20 samples imported", sum)
	}
	db, err := tsdb.Open(dst, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "rpc_seconds"))
	if !ss.Next() {
		t.Fatal("histogram series not imported")
	}
	it := ss.At().Iterator(nil)
	n := 0
	for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
		if vt != storage.ValHistogram {
			t.Fatalf("sample %d is a %s", n, vt)
		}
		ts, h := it.AtHistogram(nil)
		i := int64(n)
		want := &histogram.Histogram{Count: uint64(i), ZeroCount: uint64(i), Sum: float64(i), Schema: 0, ZeroThreshold: 0.001}
		if ts != i*1000 || !h.Equals(want) {
			t.Fatalf("sample %d: %d %v, want %d %v", n, ts, h, i*1000, want)
		}
		n++
	}
	if n != 10 || it.Err() != nil {
		t.Fatalf("%d histogram samples read back, %v", n, it.Err())
	}
	_ = promchunkenc.ValHistogram
}

func TestImportRefusals(t *testing.T) {
	vigilDir := t.TempDir()
	db, err := tsdb.Open(vigilDir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	src := t.TempDir()
	writePromBlocks(t, src, 2, 0, hour, 60000)
	for _, tc := range []struct {
		name     string
		src, dst string
		want     string
	}{
		{"empty source", t.TempDir(), t.TempDir(), "no Prometheus blocks"},
		{"vigil source", vigilDir, t.TempDir(), "is a Vigil data directory"},
		{"destination inside source", src, filepath.Join(src, "x"), "must not contain each other"},
		{"destination is a Prometheus dir", src, src, "must not contain each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportPrometheus(context.Background(), tc.src, tc.dst, PrometheusOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	// A Prometheus directory as destination is refused by the ownership check, unchanged.
	other := t.TempDir()
	writePromBlocks(t, other, 2, 0, hour, 60000)
	before := hashTree(t, other)
	_, err = ImportPrometheus(context.Background(), src, other, PrometheusOptions{})
	if err == nil || !strings.Contains(err.Error(), "Prometheus data directory") {
		t.Fatalf("got %v", err)
	}
	sameTree(t, before, hashTree(t, other))
}

func TestCompatibleBlockDuration(t *testing.T) {
	up := promtsdb.ExponentialBlockRanges(promtsdb.DefaultBlockDuration, 10, 3)
	if !slices.Equal(up, exponentialBlockRanges(defaultBlockDuration, 10, 3)) {
		t.Fatal("ranges differ from upstream's")
	}
	for _, tc := range []struct{ max, want int64 }{
		{0, 2 * hour}, {hour, 2 * hour}, {2 * hour, 2 * hour}, {5 * hour, 2 * hour}, {6 * hour, 6 * hour},
		{24 * hour, 18 * hour}, {1 << 62, up[len(up)-1]},
	} {
		if got := compatibleBlockDuration(tc.max); got != tc.want {
			t.Errorf("compatibleBlockDuration(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

// Blocks and WAL of a Prometheus 3.15 with st-storage (XOR2 and HistogramST chunks, V2 WAL
// records) are imported with their samples' start timestamps, float and native histogram.
func TestImportPrometheusStartTimestamps(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "vigil")
	opts := promtsdb.DefaultOptions()
	opts.EnableSTStorage = true
	opts.FloatChunkEncoding = promchunkenc.EncXOR2
	opts.EnableHistogramSTEncoding = true
	pdb, err := promtsdb.Open(src, promslog.NewNopLogger(), nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	fl := labels.FromStrings("__name__", "req_total")
	hl := labels.FromStrings("__name__", "rpc_seconds")
	const step = 15000
	stOf := func(i int64) int64 { return i/100*100*step - 1 } // renewed every 100 samples
	const n = 4 * hour / step
	for i := range int64(n) {
		app := pdb.AppenderV2(context.Background())
		h := &histogram.Histogram{Count: uint64(i % 100), ZeroCount: uint64(i % 100), Sum: float64(i % 100), ZeroThreshold: 0.001}
		if _, err := app.Append(0, hl, stOf(i), i*step, 0, h, nil, promstorage.AppendV2Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, fl, stOf(i), i*step, float64(i%100), nil, nil, promstorage.AppendV2Options{}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := pdb.Compact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(pdb.Blocks()) == 0 {
		t.Fatal("no Prometheus block")
	}
	if err := pdb.Close(); err != nil {
		t.Fatal(err)
	}
	// Blocks and the WAL (the head of the source: the newest hours).
	sum, err := ImportPrometheus(context.Background(), src, dst, PrometheusOptions{IncludeWAL: true})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Samples != uint64(2*n) {
		t.Fatalf("summary %+v: want %d samples", sum, 2*n)
	}
	db, err := tsdb.Open(dst, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	got := 0
	for ss.Next() {
		it := ss.At().Iterator(nil)
		k := 0
		for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
			ts := it.AtT()
			if want := stOf(ts / step); it.AtST() != want {
				t.Fatalf("%s sample at %d (%s): start timestamp %d, want %d", ss.At().Labels(), ts, vt, it.AtST(), want)
			}
			k++
		}
		if k == 0 || it.Err() != nil {
			t.Fatalf("%s: %d samples, %v", ss.At().Labels(), k, it.Err())
		}
		got++
	}
	if got != 2 {
		t.Fatalf("%d series imported, want 2", got)
	}
}
