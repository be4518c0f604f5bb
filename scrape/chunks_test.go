package scrape

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/config"
)

const textContentType = "text/plain; version=0.0.4"

// appendChunked appends body with a loop whose text chunks are chunkSize bytes and returns what
// was stored, the stats, the error text and the metadata the loop kept.
func appendChunked(t testing.TB, body string, chunkSize int, tweak func(*config.ScrapeConfig)) ([]sample, appendStats, string, []MetricMetadata) {
	t.Helper()
	st := newTestStorage()
	sl := testLoop(t, st, tweak, "")
	sl.chunkSize = chunkSize
	stats, err := appendOnce(t, sl, st, body, textContentType, time.UnixMilli(1_700_000_000_000))
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	return st.all(), stats, errText, sl.cache.meta.list()
}

// sameSamples compares stored samples, NaN equal to NaN.
func sameSamples(a, b []sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !labelsEqual(a[i], b[i]) || a[i].t != b[i].t {
			return false
		}
		if a[i].v != b[i].v && !(math.IsNaN(a[i].v) && math.IsNaN(b[i].v)) {
			return false
		}
	}
	return true
}

func labelsEqual(a, b sample) bool { return a.lset.String() == b.lset.String() }

// A text exposition parsed in chunks stores exactly what the whole body stores, with histogram
// and summary families (whose le/quantile values the parser normalises after their # TYPE line)
// and lines longer than a chunk crossing chunk boundaries.
func TestTextChunksMatchWholeBody(t *testing.T) {
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "# HELP h%d A histogram.\n# TYPE h%d histogram\n", i, i)
		for _, le := range []string{"0.5", "1", "2.50", "1e1", "+Inf"} {
			fmt.Fprintf(&b, "h%d_bucket{le=%q,i=\"%d\"} %d\n", i, le, i, i)
		}
		fmt.Fprintf(&b, "h%d_sum 3\nh%d_count 4\n", i, i)
		fmt.Fprintf(&b, "# TYPE s%d summary\ns%d{quantile=\"0.50\"} 1\ns%d{quantile=\"1\"} 2\n", i, i, i)
		fmt.Fprintf(&b, "# TYPE c%d counter\nc%d{quantile=\"1\",le=\"1\"} %d\n", i, i, i)
		if i%7 == 0 {
			fmt.Fprintf(&b, "long%d{v=%q} 1\n", i, strings.Repeat("x", 300+i))
		}
		fmt.Fprintf(&b, "untyped%d 1 1699999999000\n\n", i)
	}
	body := b.String()
	want, wantStats, wantErr, wantMeta := appendChunked(t, body, 1<<20, nil)
	if wantErr != "" || len(want) == 0 {
		t.Fatalf("whole body: %d samples, error %q", len(want), wantErr)
	}
	if got := want[1].lset.Get("le"); got != "1.0" {
		t.Fatalf("le of the whole body's second bucket = %q, want 1.0 (normalised)", got)
	}
	for _, size := range []int{16, 37, 64, 100, 256, 1000, 4096} {
		got, stats, errText, meta := appendChunked(t, body, size, nil)
		if errText != "" || !sameSamples(got, want) || stats != wantStats || !reflect.DeepEqual(meta, wantMeta) {
			t.Errorf("chunks of %d: %d samples (want %d), stats %+v (want %+v), error %q, metadata equal %v",
				size, len(got), len(want), stats, wantStats, errText, reflect.DeepEqual(meta, wantMeta))
		}
	}
}

// Limits and errors behave as for a whole body: sample_limit counts across chunks, and a bad line
// in a later chunk fails the scrape with the parser's error.
func TestTextChunksErrors(t *testing.T) {
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "m{i=\"%d\"} %d\n", i, i)
	}
	body := b.String()
	limit := func(c *config.ScrapeConfig) { c.SampleLimit = 150 }
	for _, tc := range []struct {
		name  string
		body  string
		tweak func(*config.ScrapeConfig)
		want  string
	}{
		{"sample limit", body, limit, "sample limit exceeded"},
		{"bad line late", body + "m{i=\"x\" 1\n", nil, "expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, whole, _ := appendChunked(t, tc.body, 1<<20, tc.tweak)
			got, stats, chunked, _ := appendChunked(t, tc.body, 64, tc.tweak)
			if !strings.Contains(chunked, tc.want) || chunked != whole {
				t.Fatalf("chunked error %q, whole-body error %q, want one containing %q", chunked, whole, tc.want)
			}
			if len(got) != 0 {
				t.Fatalf("failed scrape stored %d samples", len(got))
			}
			if tc.name == "sample limit" && stats.total != 200 {
				t.Fatalf("samples scraped = %d, want 200 (parsing goes on past the limit)", stats.total)
			}
		})
	}
}

// FuzzTextChunks checks that parsing a text exposition in chunks of any size stores the same
// samples, stats, error and metadata as parsing it whole.
func FuzzTextChunks(f *testing.F) {
	for _, s := range []string{
		"# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_bucket{le=\"+Inf\"} 2\nx_sum 3\nx_count 2\n",
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\n# TYPE c counter\nc{quantile=\"0.5\"} 1\n",
		"a 1\na 2\n\n\n# comment\nb{c=\"d\"} 3 1700000000000\n",
		"a{b=\"x\ny\"} 1\n",
		"a 1\r\nb 2\n",
		"a 1\n \x00b 2\n",
		"a 1\nb 2 \x00\nc 3\n",
		"# HELP \"a\nb\" x\n# TYPE \"h\" histogram\nh_bucket{le=\"1\"} 1\n",
		"a{b=\"x\\\"y\ny\",\"c\nd\"=\"e\"} 1\n",
		"# HELP a text with \" one quote\na{b=\"c\"} 1\n",
		"",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, size uint8) {
		want, wantStats, wantErr, wantMeta := appendChunked(t, string(body), 1<<20, nil)
		got, stats, errText, meta := appendChunked(t, string(body), 1+int(size), nil)
		if errText != wantErr {
			t.Fatalf("error %q, whole body %q", errText, wantErr)
		}
		if !sameSamples(got, want) || stats != wantStats || !reflect.DeepEqual(meta, wantMeta) {
			t.Fatalf("chunks of %d differ: %d samples (want %d), stats %+v (want %+v)", 1+int(size), len(got), len(want), stats, wantStats)
		}
	})
}

// The body pool is shared with whole-body reads: a chunked scrape must cope with being lent a
// buffer smaller than a chunk (one an OpenMetrics scrape of a small target gave back).
func TestTextChunksWithSmallPooledBuffer(t *testing.T) {
	bodies.put(make([]byte, 0, 100))
	defer func() { _ = bodies.get(0) }()
	got, _, errText, _ := appendChunked(t, "a 1\nb 2\n", 0, nil)
	if errText != "" || len(got) != 2 {
		t.Fatalf("got %d samples, error %q", len(got), errText)
	}
}
