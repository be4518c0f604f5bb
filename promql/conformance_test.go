package promql_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// testStorage is what the conformance runner loads data into and queries.
type testStorage interface {
	storage.Queryable
	storage.Appendable
	Close() error
}

// newTestStorage opens an empty storage for one test file section (between clears): a real
// tsdb.DB in a temporary directory, or the in-memory double with
// VIGIL_CONFORMANCE_STORAGE=mem.
func newTestStorage(t testing.TB) testStorage {
	if os.Getenv("VIGIL_CONFORMANCE_STORAGE") == "mem" {
		return memStorage{promqltest.NewMemStorage()}
	}
	db, err := tsdb.Open(t.TempDir(), tsdb.DefaultOptions(), nil, nil)
	if err != nil {
		t.Fatalf("opening tsdb: %v", err)
	}
	return db
}

type memStorage struct{ *promqltest.MemStorage }

func (memStorage) Close() error { return nil }

// nativeHistogramFunctions only make sense on native histograms.
var nativeHistogramFunctions = regexp.MustCompile(`\b(histogram_(count|sum|avg|stddev|stdvar))\s*\(`)

// upstreamPromQLTestdata is where the promqltest files live inside the upstream module that
// go.mod pins; they are the same files as ../shared/conformance/promql.
const upstreamPromQLTestdata = "promql/promqltest/testdata"

// sharedDir is the shared workspace next to the repository (../shared), or VIGIL_SHARED_DIR;
// pointing that at a missing folder shows what a clone without the workspace runs.
func sharedDir() string {
	if d := os.Getenv("VIGIL_SHARED_DIR"); d != "" {
		if !filepath.IsAbs(d) {
			d = filepath.Join("..", d) // relative to the repository root
		}
		return d
	}
	return filepath.Join("..", "..", "shared")
}

// testdataDir picks the folder of *.test files and says why: VIGIL_PROMQL_TESTDATA if set (an
// error if it does not exist, so that a typo never passes silently), else the shared workspace's
// ../shared/conformance/promql, else the copy in the module cache of the upstream module go.mod
// pins (a clone without ../shared still runs every file).
func testdataDir() (dir, source string, err error) {
	if d := os.Getenv("VIGIL_PROMQL_TESTDATA"); d != "" {
		if !filepath.IsAbs(d) {
			// Relative paths are relative to the repository root (one level up from promql/).
			d = filepath.Join("..", d)
		}
		if _, err := os.Stat(d); err != nil {
			return "", "", fmt.Errorf("VIGIL_PROMQL_TESTDATA: %w", err)
		}
		return d, "VIGIL_PROMQL_TESTDATA", nil
	}
	shared := filepath.Join(sharedDir(), "conformance", "promql")
	if _, err := os.Stat(shared); err == nil {
		return shared, "the shared workspace", nil
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		return "", "", fmt.Errorf("%s is absent and locating the upstream module failed (go list -m github.com/prometheus/prometheus): %w", shared, err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" {
		return "", "", fmt.Errorf("%s is absent and the upstream module github.com/prometheus/prometheus is not in the module cache (run go mod download)", shared)
	}
	return filepath.Join(mod, upstreamPromQLTestdata), "the upstream module github.com/prometheus/prometheus, " + shared + " being absent", nil
}

type outcome int

const (
	passed outcome = iota
	failed
	unsupported
)

type conformance struct {
	t       *testing.T
	engine  *promql.Engine
	file    string
	counts  [3]int
	reports []string
	// unsupported evals by reason
	nativeHistograms, histogramST int
}

func TestConformance(t *testing.T) {
	dir, source, err := testdataDir()
	if err != nil {
		t.Fatal(err)
	}
	// Printed (not only logged) so that `make conformance` shows which files it ran.
	fmt.Printf("promql conformance files: %s (from %s)\n", dir, source)
	files, err := filepath.Glob(filepath.Join(dir, "*.test"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.test files in %s", dir)
	}
	sort.Strings(files)
	c := &conformance{
		t: t,
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples: 10000,
			Timeout:    100 * time.Second,
			Parser:     parser.NewParser(promqltest.ParserOptions),
			// As upstream's promqltest engine.
			UseStartTimestamps: true,
		}),
	}
	for _, f := range files {
		c.runFile(f)
	}
	for _, r := range c.reports {
		t.Log(r)
	}
	fmt.Printf("unsupported by reason: %d need native histograms, %d need start timestamps of histogram samples\n", c.nativeHistograms, c.histogramST)
	if c.counts[failed] > 0 {
		t.Errorf("%d conformance evals failed", c.counts[failed])
	}
	// Printed last so that it is the final line of `make conformance`.
	fmt.Printf("promql conformance: %d passed, %d failed, %d unsupported\n", c.counts[passed], c.counts[failed], c.counts[unsupported])
}

func (c *conformance) runFile(path string) {
	c.file = filepath.Base(path)
	content, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatalf("reading %s: %v", path, err)
	}
	cmds, err := promqltest.Parse(string(content))
	if err != nil {
		c.t.Fatalf("parsing %s: %v", path, err)
	}
	st := newTestStorage(c.t)
	defer func() { st.Close() }()
	// histSTLost: a load had histogram samples with start timestamps the storage does not keep.
	nativeLoaded, histSTLost := false, false
	for _, cmd := range cmds {
		switch cmd := cmd.(type) {
		case *promqltest.Clear:
			st.Close()
			st = newTestStorage(c.t)
			nativeLoaded, histSTLost = false, false
		case *promqltest.Load:
			nativeLoaded = nativeLoaded || cmd.NativeHistograms
			app := st.Appender(context.Background())
			_, inMem := st.(memStorage)
			stApp, _ := app.(storage.STAppender)
			if cmd.StartTimestamps && stApp == nil {
				c.t.Fatalf("%s:%d: the load has start timestamps and %T does not store them", c.file, cmd.Line, app)
			}
			hstApp, _ := app.(storage.HistogramSTAppender)
			for _, s := range cmd.Series {
				if inMem {
					s.Samples = tsdbCounterResetHints(s.Samples)
				}
				for _, p := range s.Samples {
					var err error
					switch {
					case (p.H != nil || p.FH != nil) && p.ST != 0 && hstApp != nil:
						_, err = hstApp.AppendHistogramST(0, s.Metric, p.ST, p.T, p.H, p.FH)
					case p.H != nil || p.FH != nil:
						histSTLost = histSTLost || p.ST != 0
						_, err = app.AppendHistogram(0, s.Metric, p.T, p.H, p.FH)
					case p.ST != 0:
						_, err = stApp.AppendST(0, s.Metric, p.ST, p.T, p.F)
					default:
						_, err = app.Append(0, s.Metric, p.T, p.F)
					}
					if err != nil {
						c.t.Fatalf("%s:%d: loading %s: %v", c.file, cmd.Line, s.Metric, err)
					}
				}
			}
			if err := app.Commit(); err != nil {
				c.t.Fatalf("%s:%d: committing load: %v", c.file, cmd.Line, err)
			}
			// Cut blocks now rather than in the background while evals run: the state the
			// evals see is then the same on every run.
			if db, ok := st.(interface{ Compact() error }); ok {
				if err := db.Compact(); err != nil {
					c.t.Fatalf("%s:%d: compacting after load: %v", c.file, cmd.Line, err)
				}
			}
		case *promqltest.Eval:
			err := c.runEval(st, cmd)
			needsNative := cmd.NativeHistograms || nativeHistogramFunctions.MatchString(cmd.Expr)
			switch {
			case err == nil:
				c.counts[passed]++
			case needsNative || nativeLoaded || histSTLost:
				// Only failing evals are unsupported: an eval that passes despite touching
				// unsupported data counts as passed.
				c.counts[unsupported]++
				reason := "native histograms"
				if histSTLost {
					// The storage does not keep start timestamps of histogram samples:
					// evals over loads with them count here.
					c.histogramST++
					reason = "start timestamps of histogram samples"
				} else {
					c.nativeHistograms++
				}
				if os.Getenv("VIGIL_CONFORMANCE_VERBOSE") != "" {
					c.reports = append(c.reports, fmt.Sprintf("UNSUPPORTED (%s) %s:%d: %s\n    %v", reason, c.file, cmd.Line, cmd.Expr, err))
				}
			default:
				c.counts[failed]++
				c.reports = append(c.reports, fmt.Sprintf("FAIL %s:%d: %s\n    %v", c.file, cmd.Line, cmd.Expr, err))
			}
		}
	}
}

func toResult(v promql.Value) promqltest.Result {
	switch v := v.(type) {
	case promql.Scalar:
		return promqltest.Result{Type: parser.ValueTypeScalar, Scalar: v.V}
	case promql.String:
		return promqltest.Result{Type: parser.ValueTypeString, String: v.V}
	case promql.Vector:
		r := promqltest.Result{Type: parser.ValueTypeVector}
		for _, s := range v {
			r.Series = append(r.Series, promqltest.ResultSeries{Metric: s.Metric, Points: []promqltest.Point{{T: s.T, F: s.F, FH: s.H}}})
		}
		return r
	case promql.StepMatrix:
		return toResult(v.Matrix())
	case promql.Matrix:
		r := promqltest.Result{Type: parser.ValueTypeMatrix}
		for _, s := range v {
			rs := promqltest.ResultSeries{Metric: s.Metric}
			for _, p := range s.Floats {
				rs.Points = append(rs.Points, promqltest.Point{T: p.T, F: p.F})
			}
			for _, p := range s.Histograms {
				rs.Points = append(rs.Points, promqltest.Point{T: p.T, FH: p.H})
			}
			r.Series = append(r.Series, rs)
		}
		return r
	}
	return promqltest.Result{}
}

// runEval runs one eval command the way upstream's promqltest does: range evals once; instant
// evals as given, with @-modifier variants, and each also as a range query around the time.
func (c *conformance) runEval(st testStorage, cmd *promqltest.Eval) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx := context.Background()
	if cmd.IsRange {
		q, err := c.engine.NewRangeQuery(ctx, st, cmd.Expr, cmd.Start, cmd.End, cmd.Step)
		if err != nil {
			if cmd.IsFail() {
				if cerr := cmd.CheckFailure(err); cerr == nil {
					return nil
				}
			}
			return fmt.Errorf("error creating range query: %w", err)
		}
		defer q.Close()
		res := q.Exec(ctx)
		if res.Err != nil {
			if cmd.IsFail() {
				return cmd.CheckFailure(res.Err)
			}
			return fmt.Errorf("error evaluating query: %w", res.Err)
		}
		if cmd.IsFail() {
			return fmt.Errorf("expected error evaluating query but got none")
		}
		if err := cmd.CheckAnnotations(cmd.Expr, res.Warnings); err != nil {
			return err
		}
		return cmd.CompareResult(toResult(res.Value))
	}
	variants, err := promqltest.AtModifierVariants(cmd.Expr, cmd.EvalAt)
	if err != nil {
		return err
	}
	variants = append([]promqltest.AtVariant{{Expr: cmd.Expr, EvalTime: cmd.EvalAt}}, variants...)
	for _, v := range variants {
		if err := c.runInstant(st, cmd, v); err != nil {
			return err
		}
	}
	return nil
}

func (c *conformance) runInstant(st testStorage, cmd *promqltest.Eval, v promqltest.AtVariant) error {
	ctx := context.Background()
	q, err := c.engine.NewInstantQuery(ctx, st, v.Expr, v.EvalTime)
	if err != nil {
		if cmd.IsFail() {
			if cerr := cmd.CheckFailure(err); cerr == nil {
				return nil
			}
		}
		return fmt.Errorf("error creating instant query for %q: %w", v.Expr, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		if cmd.IsFail() {
			return cmd.CheckFailure(res.Err)
		}
		return fmt.Errorf("error evaluating query %q at %v: %w", v.Expr, v.EvalTime.UnixMilli(), res.Err)
	}
	if cmd.IsFail() {
		return fmt.Errorf("expected error evaluating query %q but got none", v.Expr)
	}
	if err := cmd.CheckAnnotations(v.Expr, res.Warnings); err != nil {
		return err
	}
	if err := cmd.CompareResult(toResult(res.Value)); err != nil {
		return fmt.Errorf("query %q at %v: %w", v.Expr, v.EvalTime.UnixMilli(), err)
	}
	if cmd.ExcludeFromRangeQuery || promqltest.QueryContextFuncs.MatchString(v.Expr) {
		return nil
	}
	// The same query in range mode must give the same result at the middle step.
	rq, err := c.engine.NewRangeQuery(ctx, st, v.Expr, v.EvalTime.Add(-time.Minute), v.EvalTime.Add(time.Minute), time.Minute)
	if err != nil {
		return fmt.Errorf("error creating range query for %q: %w", v.Expr, err)
	}
	defer rq.Close()
	rres := rq.Exec(ctx)
	if rres.Err != nil {
		return fmt.Errorf("error evaluating query %q in range mode: %w", v.Expr, rres.Err)
	}
	if cmd.IsOrdered() {
		return nil
	}
	sm, ok := rres.Value.(promql.StepMatrix)
	if !ok {
		return fmt.Errorf("range query returned %T", rres.Value)
	}
	mat := sm.Matrix()
	for i := 1; i < len(mat); i++ {
		if labels.Compare(mat[i-1].Metric, mat[i].Metric) > 0 {
			return fmt.Errorf("range result of %q not sorted by labels: %s before %s", v.Expr, mat[i-1].Metric, mat[i].Metric)
		}
	}
	t := v.EvalTime.UnixMilli()
	vec := promql.Vector{}
	for _, s := range mat {
		for _, p := range s.Floats {
			if p.T == t {
				vec = append(vec, promql.Sample{Metric: s.Metric, T: p.T, F: p.F})
				break
			}
		}
		for _, p := range s.Histograms {
			if p.T == t {
				vec = append(vec, promql.Sample{Metric: s.Metric, T: p.T, H: p.H})
				break
			}
		}
	}
	var r promqltest.Result
	if _, ok := res.Value.(promql.Scalar); ok {
		if len(vec) == 0 {
			return fmt.Errorf("range mode of %q returned no scalar point at %d", v.Expr, t)
		}
		r = toResult(promql.Scalar{V: vec[0].F, T: t})
	} else {
		r = toResult(vec)
	}
	if err := cmd.CompareResult(r); err != nil {
		return fmt.Errorf("query %q at %v range mode: %w", v.Expr, t, err)
	}
	return nil
}

// TestConformanceTestdataLookup checks where TestConformance finds its files: without the shared
// workspace it falls back to the upstream module's copy rather than skipping, and a missing
// VIGIL_PROMQL_TESTDATA is an error rather than a silent pass.
func TestConformanceTestdataLookup(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	t.Run("no shared workspace: the upstream module", func(t *testing.T) {
		t.Setenv("VIGIL_SHARED_DIR", missing)
		t.Setenv("VIGIL_PROMQL_TESTDATA", "")
		dir, source, err := testdataDir()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(dir, filepath.FromSlash(upstreamPromQLTestdata)) || !strings.Contains(source, "upstream module") {
			t.Errorf("dir %q from %q, want the upstream module's %s", dir, source, upstreamPromQLTestdata)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "*.test")); len(files) < 10 {
			t.Errorf("%d *.test files in %s, want the upstream set", len(files), dir)
		}
	})
	t.Run("VIGIL_PROMQL_TESTDATA missing: an error", func(t *testing.T) {
		t.Setenv("VIGIL_PROMQL_TESTDATA", missing)
		if dir, _, err := testdataDir(); err == nil {
			t.Errorf("no error for a missing VIGIL_PROMQL_TESTDATA (got %q)", dir)
		}
	})
	t.Run("VIGIL_PROMQL_TESTDATA wins", func(t *testing.T) {
		d := t.TempDir()
		t.Setenv("VIGIL_PROMQL_TESTDATA", d)
		if dir, source, err := testdataDir(); err != nil || dir != d || source != "VIGIL_PROMQL_TESTDATA" {
			t.Errorf("got %q from %q (%v), want %q", dir, source, err, d)
		}
	})
}

// tsdbCounterResetHints gives the histogram samples of a series the counter reset hints that
// Prometheus's TSDB hands out when reading them back (the in-memory test storage keeps what
// was loaded), as tsdb/chunkenc's counterResetHint does: samples of a gauge chunk are gauges;
// the first sample of any other chunk is "unknown" (upstream issue 15346), the later ones
// "not a reset". A new chunk starts where the appender would cut one: at the first histogram
// of a run, on a reset (explicit or detected), a change of schema, zero threshold or custom
// bounds, and between gauge and counter samples. (Chunks cut by size are not modelled: the
// test files' series are short.)
func tsdbCounterResetHints(pts []promqltest.Point) []promqltest.Point {
	out := make([]promqltest.Point, len(pts))
	var prev *histogram.FloatHistogram
	for i, p := range pts {
		out[i] = p
		fh := p.FH
		if fh == nil && p.H != nil {
			fh = p.H.ToFloat(nil)
		}
		if fh == nil {
			prev = nil
			continue
		}
		fh = fh.Copy()
		out[i].H, out[i].FH = nil, fh
		if value.IsStaleNaN(fh.Sum) {
			prev = nil
			continue
		}
		gauge := fh.CounterResetHint == histogram.GaugeType
		newChunk := prev == nil || gauge != (prev.CounterResetHint == histogram.GaugeType) ||
			fh.Schema != prev.Schema || fh.ZeroThreshold != prev.ZeroThreshold ||
			(fh.UsesCustomBuckets() && !histogram.CustomBucketBoundsMatch(fh.CustomValues, prev.CustomValues))
		if !gauge && !newChunk {
			if fh.CounterResetHint == histogram.CounterReset {
				newChunk = true
			} else {
				fh.CounterResetHint = histogram.UnknownCounterReset
				newChunk = fh.DetectReset(prev)
			}
		}
		switch {
		case gauge:
		case newChunk:
			fh.CounterResetHint = histogram.UnknownCounterReset
		default:
			fh.CounterResetHint = histogram.NotCounterReset
		}
		prev = fh
	}
	return out
}

// TestVigilTestdata runs Vigil's own promqltest files (promql/testdata) on the in-memory
// storage and the TSDB, as TestConformance runs upstream's: every eval must pass.
func TestVigilTestdata(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.test"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.test files (%v)", err)
	}
	t.Setenv("VIGIL_CONFORMANCE_STORAGE", "mem")
	c := &conformance{
		t: t,
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples: 10000, Timeout: 100 * time.Second, Parser: parser.NewParser(promqltest.ParserOptions),
		}),
	}
	for _, f := range files {
		c.runFile(f)
	}
	for _, r := range c.reports {
		t.Log(r)
	}
	if c.counts[failed]+c.counts[unsupported] > 0 || c.counts[passed] == 0 {
		t.Errorf("%d passed, %d failed, %d unsupported: every eval must pass", c.counts[passed], c.counts[failed], c.counts[unsupported])
	}
}
