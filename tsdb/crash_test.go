package tsdb

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

// The crash test's writer runs in a child process (this test binary re-executed) so that it can
// be killed with SIGKILL at arbitrary points: mid-commit, mid-WAL-write, mid-compaction.
const (
	crashDirEnv     = "VIGIL_TSDB_CRASH_DIR"
	crashSeries     = 20
	crashStep       = 1000 // ms between samples
	crashBlockRange = 5 * 60 * 1000
)

func crashOpts() *Options {
	return &Options{MinBlockDuration: crashBlockRange, MaxBlockDuration: 9 * crashBlockRange, WALSegmentSize: 64 << 10}
}

func crashLabels(i int) labels.Labels {
	return labels.FromStrings("__name__", "crash", "series", strconv.Itoa(i))
}

// Histogram series of the crash test: an integer histogram, a float histogram, and a series
// that changes between float and integer histogram samples every 37 samples.
const crashHistSeries = 3

func crashHistLabels(i int) labels.Labels {
	return labels.FromStrings("__name__", "crash_hist", "series", strconv.Itoa(i))
}

// crashSample is the sample series i of the histogram kind has at t: its value and start
// timestamp follow from t, so that the checker knows them without the child's help. Start
// timestamps: cumulative, renewed every 100 samples (series 0 and, floats and histograms, 2),
// delta (series 1).
func crashSample(i int, t int64) hsample {
	n := t / crashStep
	st := (n/100*100)*crashStep - 1
	if i == 1 {
		st = t - crashStep
	}
	if i == 2 && (n/37)%2 == 0 {
		return hsample{st: st, t: t, v: float64(n)}
	}
	// Buckets grow with n and a fourth bucket appears after 50 samples, so the chunk appender
	// recodes on the way.
	counts := []int64{n, n / 2, n / 3}
	if n%120 > 50 {
		counts = append(counts, n/5)
	}
	h := &histogram.Histogram{Schema: 0, Sum: float64(n) * 0.5, PositiveSpans: []histogram.Span{{Offset: 0, Length: uint32(len(counts))}}}
	var prev int64
	for _, c := range counts {
		h.Count += uint64(c)
		h.PositiveBuckets = append(h.PositiveBuckets, c-prev)
		prev = c
	}
	if i == 1 {
		return hsample{st: st, t: t, fh: h.ToFloat(nil)}
	}
	return hsample{st: st, t: t, h: h}
}

// TestCrashWriterChild is the child: it appends forever and prints each committed timestamp.
func TestCrashWriterChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashRecovery")
	}
	db, err := Open(dir, crashOpts(), nil, nil)
	if err != nil {
		fmt.Printf("open failed: %v\n", err)
		os.Exit(3)
	}
	next := int64(0)
	if mt := db.Head().MaxTime(); mt != math.MinInt64 {
		next = mt + crashStep
	}
	for _, b := range db.Blocks() {
		if b.Meta().MaxTime > next {
			next = b.Meta().MaxTime
		}
	}
	out := bufio.NewWriter(os.Stdout)
	for ; ; next += crashStep {
		app := db.Appender(context.Background())
		for i := 0; i < crashSeries; i++ {
			if _, err := app.Append(0, crashLabels(i), next, float64(next)); err != nil {
				fmt.Printf("append failed: %v\n", err)
				os.Exit(4)
			}
		}
		for i := 0; i < crashHistSeries; i++ {
			var err error
			switch s := crashSample(i, next); {
			case s.h != nil:
				_, err = app.(storage.HistogramSTAppender).AppendHistogramST(0, crashHistLabels(i), s.st, next, s.h, nil)
			case s.fh != nil:
				_, err = app.(storage.HistogramSTAppender).AppendHistogramST(0, crashHistLabels(i), s.st, next, nil, s.fh)
			default:
				_, err = app.(storage.STAppender).AppendST(0, crashHistLabels(i), s.st, next, s.v)
			}
			if err != nil {
				fmt.Printf("append failed: %v\n", err)
				os.Exit(4)
			}
		}
		if err := app.Commit(); err != nil {
			fmt.Printf("commit failed: %v\n", err)
			os.Exit(5)
		}
		fmt.Fprintf(out, "committed %d\n", next)
		out.Flush()
		if next%(crashBlockRange/2) == 0 {
			if err := db.Compact(); err != nil {
				fmt.Printf("compact failed: %v\n", err)
				os.Exit(6)
			}
		}
	}
}

func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashDirEnv) != "" {
		t.Skip("child")
	}
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	dir := t.TempDir()
	r := rand.New(rand.NewSource(time.Now().UnixNano()))
	lastCommitted := int64(-1)
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := time.Duration(50+r.Intn(400)) * time.Millisecond
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if ts, ok := strings.CutPrefix(line, "committed "); ok {
				v, err := strconv.ParseInt(ts, 10, 64)
				if err != nil {
					t.Fatalf("bad child output %q", line)
				}
				lastCommitted = v
				continue
			}
			if strings.Contains(line, "failed") {
				timer.Stop()
				cmd.Process.Kill()
				t.Fatalf("round %d: child: %s", round, line)
			}
		}
		timer.Stop()
		cmd.Wait()

		// Everything the child reported as committed must be there, complete and in order.
		db, err := Open(dir, crashOpts(), nil, nil)
		if err != nil {
			t.Fatalf("round %d: reopening after kill -9: %v", round, err)
		}
		got := queryAll(t, db, math.MinInt64, math.MaxInt64)
		for i := 0; i < crashSeries; i++ {
			ss := got[crashLabels(i).String()]
			if lastCommitted >= 0 && len(ss) == 0 {
				t.Fatalf("round %d: series %d lost", round, i)
			}
			for j, s := range ss {
				if s.t != int64(j)*crashStep || s.v != float64(s.t) {
					t.Fatalf("round %d: series %d sample %d = %v, want t=%d", round, i, j, s, int64(j)*crashStep)
				}
			}
			if n := int64(len(ss)); n > 0 && (n-1)*crashStep < lastCommitted {
				t.Fatalf("round %d: series %d ends at %d, but %d was committed", round, i, (n-1)*crashStep, lastCommitted)
			}
		}
		hists := readAll(t, db, math.MinInt64, math.MaxInt64, false)
		for i := 0; i < crashHistSeries; i++ {
			ss := hists[crashHistLabels(i).String()]
			var want []hsample
			for j := range ss {
				want = append(want, crashSample(i, int64(j)*crashStep))
			}
			sameSamples(t, fmt.Sprintf("round %d histogram series %d", round, i), ss, want)
			if n := int64(len(ss)); (lastCommitted >= 0 && n == 0) || (n > 0 && (n-1)*crashStep < lastCommitted) {
				t.Fatalf("round %d: histogram series %d has %d samples, but %d was committed", round, i, n, lastCommitted)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %v, %d samples per series committed, %d blocks", round, killAfter, lastCommitted/crashStep+1, len(db.Blocks()))
	}
	if lastCommitted < crashBlockRange*2 {
		t.Logf("note: the writer only reached t=%d; compaction was exercised little", lastCommitted)
	}
}
