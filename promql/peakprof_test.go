package promql_test

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPeakHeapProfile is a diagnostic: with VIGIL_PEAKPROF=<dir> it runs each benchmark query
// once per engine while a sampler forces collections back to back (as peakHeap does), and
// writes the heap profile taken right after the collection that saw the largest live heap:
// <dir>/<mode>_<query>_<engine>.pb.gz. Read with
// go tool pprof -sample_index=inuse_space -top <file>. VIGIL_BENCH_QUERIES (a regexp on
// "<mode>/<query>") selects queries.
func TestPeakHeapProfile(t *testing.T) {
	dir := os.Getenv("VIGIL_PEAKPROF")
	if dir == "" {
		t.Skip("set VIGIL_PEAKPROF=<dir> to write heap profiles at the query's peak")
	}
	sel := benchQuerySelector(t)
	e := loadBenchEnv(t)
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	for _, mode := range []string{"instant", "range1h"} {
		for _, q := range benchQueries {
			if !sel.MatchString(mode + "/" + q.name) {
				continue
			}
			for _, engine := range []string{"vigil", "upstream"} {
				rq := mode == "range1h"
				run := func() { e.runVigil(t, q.query, rq) }
				if engine == "upstream" {
					run = func() { e.runUpstream(t, q.query, rq) }
				}
				run() // warm up
				prof, peak := profileAtPeak(run)
				name := filepath.Join(dir, mode+"_"+q.name+"_"+engine+".pb.gz")
				if err := os.WriteFile(name, prof, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: peak live heap %.1f kB", name, float64(peak)/1e3)
			}
		}
	}
}

func profileAtPeak(f func()) ([]byte, uint64) {
	runtime.GC()
	runtime.GC()
	var (
		peak uint64
		prof []byte
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var buf bytes.Buffer
		for !stop.Load() {
			runtime.GC()
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak {
				peak = v
				buf.Reset()
				_ = pprof.Lookup("heap").WriteTo(&buf, 0)
				prof = bytes.Clone(buf.Bytes())
			}
		}
	}()
	f()
	stop.Store(true)
	wg.Wait()
	return prof, peak
}
