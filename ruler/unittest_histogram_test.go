package ruler

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/promql/promqltest"
)

// TestUnitTestHistogramInput: input_series in the histogram series notation are loaded as
// native histograms (float histograms, as promtool's loader does) and appended with
// AppendHistogram, floats of the same file as floats.
func TestUnitTestHistogramInput(t *testing.T) {
	p := parser.NewParser(promql.DefaultParserOptions)
	tg := &testGroup{Interval: model.Duration(time.Minute), InputSeries: []inputSeries{
		{Series: `h{job="api"}`, Values: `{{schema:0 sum:5 count:4 buckets:[1 2 1]}}+{{sum:1 count:2 buckets:[1 1]}}x2`},
		{Series: `f`, Values: `1 _ 3`},
	}}
	in, err := tg.loadInput(p, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	st := promqltest.NewMemStorage()
	if err := appendTill(context.Background(), st, in, 120_000); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, st, labels.MustNewMatcher(labels.MatchRegexp, "__name__", ".+"))
	_, want, err := p.ParseSeriesDesc(`{} {{schema:0 sum:7 count:8 buckets:[3 4 1]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if h := got[`{__name__="h", job="api"}`]; h != want[0].Histogram.String() {
		t.Errorf("h at 2m: %s, want %s", h, want[0].Histogram)
	}
	if f := got[`{__name__="f"}`]; f != "3" {
		t.Errorf("f at 2m: %s", f)
	}
}

// TestUnitTestHistogramExpectations: exp_samples' histogram is compared through its series
// notation, as promtool compares it, so that an expectation written in any equivalent form of
// the notation matches and a different histogram does not.
func TestUnitTestHistogramExpectations(t *testing.T) {
	p := parser.NewParser(promql.DefaultParserOptions)
	parse := func(s string) string {
		_, v, err := p.ParseSeriesDesc("{} " + s)
		if err != nil {
			t.Fatal(err)
		}
		return histogramTestExpression(v[0].Histogram)
	}
	a := parse(`{{schema:0 sum:7 count:8 buckets:[3 4 1]}}`)
	b := parse(`{{count:8 sum:7 buckets:[3 4 1] schema:0}}`)
	c := parse(`{{schema:0 sum:7 count:9 buckets:[3 4 1]}}`)
	if a != b || a == c {
		t.Fatalf("notation comparison: %q %q %q", a, b, c)
	}
	ls := labels.FromStrings("__name__", "x")
	eq := func(x, y float64) bool { return x == y }
	if !samplesEqual([]parsedSample{{Labels: ls, Histogram: a}}, []parsedSample{{Labels: ls, Histogram: b}}, eq) {
		t.Error("equal histograms differ")
	}
	if samplesEqual([]parsedSample{{Labels: ls, Histogram: a}}, []parsedSample{{Labels: ls, Histogram: c}}, eq) {
		t.Error("different histograms are equal")
	}
	if samplesEqual([]parsedSample{{Labels: ls, Histogram: a}}, []parsedSample{{Labels: ls, Value: 0}}, eq) {
		t.Error("a histogram equals a float")
	}
}

// TestUnitTestHistogramFiles runs testdata/unittest/histograms end to end: the TSDB and the
// engine must store and select native histograms (lanes htsdb and hpromql of issue #18). The
// same files are checked against promtool 3.x when one is on PATH as promtool3 (Debian's 2.42
// does not know exp_samples' histogram field).
//
// Upstream's own promtool test file (cmd/promtool/testdata/unittest.yml of the pinned module,
// native histograms included) must pass too.
func TestUnitTestHistogramFiles(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/prometheus/prometheus").Output()
	if err != nil {
		t.Fatalf("locating the upstream module: %v", err)
	}
	upstream := filepath.Join(strings.TrimSpace(string(out)), "cmd", "promtool", "testdata", "unittest.yml")
	for _, f := range []string{"pass_histogram.yml", "fail_histogram.yml", upstream} {
		t.Run(filepath.Base(f), func(t *testing.T) {
			path := filepath.Join("testdata", "unittest", "histograms", f)
			if filepath.IsAbs(f) {
				path = f
			}
			var stdout, stderr bytes.Buffer
			code := RulesUnitTest(&stdout, &stderr, UnitTestOptions{TempDir: t.TempDir()}, path)
			out := stdout.String() + stderr.String()
			want := SuccessExitCode
			if strings.HasPrefix(f, "fail_") {
				want = FailureExitCode
			}
			if code != want {
				t.Fatalf("exit %d, want %d:\n%s", code, want, out)
			}
			if bin, err := exec.LookPath("promtool3"); err == nil {
				pcode, pout := runPromtool(t, bin, "test", "rules", path)
				if pcode != want {
					t.Fatalf("promtool 3 exit %d, want %d:\n%s", pcode, want, pout)
				}
			}
		})
	}
}
