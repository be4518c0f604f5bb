package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// writeOM renders series as OpenMetrics text, each series' samples together (as OpenMetrics
// lists them), or sample time by sample time when interleave is set.
func writeOM(data map[string][]sample, interleave bool) string {
	var b strings.Builder
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	// Group by metric name so that every family is contiguous.
	families := map[string][]string{}
	var names []string
	for _, k := range keys {
		ls, _ := parseLabels(k)
		n := ls.Get("__name__")
		if _, ok := families[n]; !ok {
			names = append(names, n)
		}
		families[n] = append(families[n], k)
	}
	line := func(k string, s sample) {
		ls, _ := parseLabels(k)
		b.WriteString(ls.Get("__name__"))
		b.WriteString("{")
		first := true
		ls.Range(func(l labels.Label) {
			if l.Name == "__name__" {
				return
			}
			if !first {
				b.WriteString(",")
			}
			first = false
			fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
		})
		v := math.Float64frombits(s.bits)
		fmt.Fprintf(&b, "} %s %s\n", strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(float64(s.t)/1000, 'f', -1, 64))
	}
	for _, n := range names {
		fmt.Fprintf(&b, "# TYPE %s gauge\n", n)
		ks := families[n]
		if !interleave {
			for _, k := range ks {
				for _, s := range data[k] {
					line(k, s)
				}
			}
			continue
		}
		for i := 0; ; i++ {
			any := false
			for _, k := range ks {
				if i < len(data[k]) {
					line(k, data[k][i])
					any = true
				}
			}
			if !any {
				break
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// omWorkload is genSeries without stale markers, which OpenMetrics cannot carry.
func omWorkload(n int, mint, maxt, step int64) (map[string][]sample, []sample) {
	data := genSeries(n, mint, maxt, step)
	var all []sample
	for k, ss := range data {
		var keep []sample
		for _, s := range ss {
			if !math.IsNaN(math.Float64frombits(s.bits)) {
				keep = append(keep, s)
			}
		}
		data[k] = keep
		all = append(all, keep...)
	}
	sortSamples(all)
	return data, all
}

func TestImportOpenMetrics(t *testing.T) {
	data, want := omWorkload(20, 3*hour+15000, 9*hour, 15000)
	for _, tc := range []struct {
		name       string
		interleave bool
		budget     int
		maxBlock   int64
		blocks     int
	}{
		{"series after series", false, 0, 0, 4},
		{"interleaved", true, 0, 0, 4},
		{"interleaved, small memory budget", true, 50, 0, 4},
		{"6h blocks", false, 0, 6 * hour, 2},
		{"max below 2h gives 2h", false, 0, hour, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			var out strings.Builder
			sum, err := ImportOpenMetrics(context.Background(), []byte(writeOM(data, tc.interleave)), dst, OpenMetricsOptions{
				OpenSampleBudget: tc.budget, MaxBlockDuration: msDuration(tc.maxBlock), Out: &out,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(out.String())
			if sum.Blocks != tc.blocks {
				t.Errorf("%d blocks, want %d", sum.Blocks, tc.blocks)
			}
			sameSamples(t, readVigil(t, dst), want)
			if _, err := os.Stat(filepath.Join(dst, "import-openmetrics.tmp")); err == nil {
				t.Error("spool left behind")
			}
		})
	}
}

func TestImportOpenMetricsFileAndLabels(t *testing.T) {
	in := `# TYPE a counter
a_total{x="1",y=""} 1 1000
a_total{x="1"} 2 1001
a_total{x="1",y=""} 3 1002.5
a_total{x="2",env="dev"} 1 1000
# EOF
`
	p := filepath.Join(t.TempDir(), "in.om")
	if err := os.WriteFile(p, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := ImportOpenMetricsFile(context.Background(), p, dst, OpenMetricsOptions{Labels: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	// The same file again is skipped.
	sum, err := ImportOpenMetricsFile(context.Background(), p, dst, OpenMetricsOptions{Labels: map[string]string{"env": "prod"}})
	if err != nil || sum.Blocks != 0 || sum.SkippedBlocks != 1 {
		t.Fatalf("second import: %+v, %v; want it skipped", sum, err)
	}
	got := readVigil(t, dst)
	want := []sample{
		{`{__name__="a_total", env="prod", x="1"}`, 1000000, math.Float64bits(1)},
		{`{__name__="a_total", env="prod", x="1"}`, 1001000, math.Float64bits(2)},
		{`{__name__="a_total", env="prod", x="1"}`, 1002500, math.Float64bits(3)},
		{`{__name__="a_total", env="prod", x="2"}`, 1000000, math.Float64bits(1)},
	}
	sameSamples(t, got, want)
}

func TestImportOpenMetricsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no timestamp", "# TYPE a gauge\na 1\n# EOF\n", "expected timestamp for series"},
		{"no EOF", "# TYPE a gauge\na 1 1\n", "parse"},
		{"out of order", "# TYPE a gauge\na 1 2\na 1 1\n# EOF\n", "out of order sample"},
		{"duplicate timestamp", "# TYPE a gauge\na 1 1\na 2 1\n# EOF\n", "duplicate sample for timestamp"},
		{"garbage", "a{b=c} 1 1\n# EOF\n", "parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			_, err := ImportOpenMetrics(context.Background(), []byte(tc.in), dst, OpenMetricsOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if b := blockDirs(t, dst); len(b) != 0 {
				t.Errorf("failed import left blocks %v", b)
			}
		})
	}
	// The same value twice at one timestamp is accepted once, as Prometheus's head does.
	dst := t.TempDir()
	if _, err := ImportOpenMetrics(context.Background(), []byte("# TYPE a gauge\na 1 1\na 1 1\n# EOF\n"), dst, OpenMetricsOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readVigil(t, dst); len(got) != 1 {
		t.Errorf("got %v", got)
	}
}

// FuzzImportOpenMetrics: whatever the input, the import fails without writing a block, or the
// destination holds exactly the samples upstream's parser reads from it (labels without empty
// values, repeated identical samples once).
func FuzzImportOpenMetrics(f *testing.F) {
	data, _ := omWorkload(3, 0, 20*60000, 60000)
	f.Add([]byte(writeOM(data, false)))
	f.Add([]byte(writeOM(data, true)))
	f.Add([]byte("# TYPE a counter\na_total{x=\"1\",y=\"\"} 1 1000\na_total 2 1e4\n# EOF\n"))
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 1 1\nh_bucket{le=\"+Inf\"} 2 1\nh_count 2 1\nh_sum 3 1\n# EOF\n"))
	f.Add([]byte("# TYPE a gauge\na NaN 1\na +Inf 2\na -1.5e300 7200\n# EOF\n"))
	f.Add([]byte("# TYPE a gauge\na 1 -7200.001\na 1 1\n# EOF\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, parseErr := parseOracle(in)
		dst := t.TempDir()
		_, err := ImportOpenMetrics(context.Background(), in, dst, OpenMetricsOptions{OpenSampleBudget: 7})
		if err != nil {
			if b := blockDirs(t, dst); len(b) != 0 {
				t.Fatalf("failed import (%v) left blocks %v", err, b)
			}
			return
		}
		if parseErr != nil {
			t.Fatalf("import succeeded on input upstream's parser refuses: %v", parseErr)
		}
		sameSamples(t, readVigil(t, dst), want)
	})
}

// parseOracle reads OpenMetrics text with upstream's parser, as the import should.
func parseOracle(in []byte) ([]sample, error) {
	p := textparse.NewOpenMetricsParser(in, labels.NewSymbolTable())
	last := map[string]sample{}
	var out []sample
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, ts, v := p.Series()
		if ts == nil {
			return nil, errors.New("no timestamp")
		}
		var ls labels.Labels
		p.Labels(&ls)
		b := labels.NewBuilder(ls)
		ls.Range(func(l labels.Label) {
			if l.Value == "" {
				b.Del(l.Name)
			}
		})
		k := b.Labels().String()
		s := sample{k, *ts, math.Float64bits(v)}
		if prev, ok := last[k]; ok {
			if s.t < prev.t || (s.t == prev.t && s.bits != prev.bits) {
				return nil, errors.New("out of order or duplicate")
			}
			if s.t == prev.t {
				continue
			}
		}
		last[k] = s
		out = append(out, s)
	}
	sortSamples(out)
	return out, nil
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
