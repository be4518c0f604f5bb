package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// BenchmarkReplay measures restart after a crash: tsdb.Open to ready on a WAL of n series × steps
// samples at 15 s, written as scrapes write it (series records of 1000 series, then one samples
// record per 1000-sample commit per step). The WAL is built once per size into
// $VIGIL_BENCH_REPLAY_DIR (default the benchmark's temp dir) and reopened each iteration; the DB
// is abandoned without Close, as after kill -9. Sub-benchmarks: crash (no snapshot: the whole WAL
// is replayed) and snapshot (the head snapshot a clean shutdown writes). Reported: wall and CPU
// seconds per open (CPU is the figure to compare on a loaded machine), heap after the open. Sizes: 100k × 120 by
// default; VIGIL_BENCH_REPLAY_SERIES and VIGIL_BENCH_REPLAY_STEPS override (1M × 120 is the
// issue's restart workload: 30 min at 15 s).
//
//	go test -run '^$' -bench Replay -benchtime 1x -cpuprofile /tmp/replay.prof ./tsdb/
func BenchmarkReplay(b *testing.B) {
	n, steps := 100_000, 120
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_REPLAY_SERIES")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_REPLAY_STEPS")); err == nil {
		steps = v
	}
	root := os.Getenv("VIGIL_BENCH_REPLAY_DIR")
	if root == "" {
		root = b.TempDir()
	}
	dir := filepath.Join(root, fmt.Sprintf("replay-%d-%d", n, steps))
	if _, err := os.Stat(filepath.Join(dir, "wal")); err != nil {
		start := time.Now()
		if err := writeBenchWAL(dir, n, steps); err != nil {
			b.Fatal(err)
		}
		b.Logf("built WAL of %d series × %d samples in %s", n, steps, time.Since(start))
	}
	if v, err := strconv.Atoi(os.Getenv("VIGIL_BENCH_REPLAY_WORKERS")); err == nil {
		replayWorkers = v
		defer func() { replayWorkers = 0 }()
	}
	opts := DefaultOptions()
	opts.MinBlockDuration = 2 * 3600 * 1000 // 120 steps of 15 s stay within one block
	opts.SnapshotOnShutdown = false
	open := func(b *testing.B) *DB {
		runtime.GC()
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		b.StartTimer()
		start := time.Now()
		db, err := Open(dir, opts, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		if got := db.Head().NumSeries(); got != int64(n) {
			b.Fatalf("restored %d series, want %d", got, n)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		b.ReportMetric(el.Seconds(), "s/open")
		b.ReportMetric(cpu.Seconds(), "cpu-s/open")
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMiB")
		return db
	}
	// After kill -9: no snapshot, the whole WAL is replayed.
	b.Run("crash", func(b *testing.B) {
		b.StopTimer()
		for range b.N {
			os.Remove(snapshotPath(dir))
			open(b).abandon()
		}
	})
	// After a clean shutdown: the head comes from the snapshot (written once, outside the timing).
	b.Run("snapshot", func(b *testing.B) {
		b.StopTimer()
		db, err := Open(dir, opts, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.writeHeadSnapshot(); err != nil {
			b.Fatal(err)
		}
		db.abandon()
		for range b.N {
			open(b).abandon()
		}
	})
}

// writeBenchWAL writes the WAL a head of n series scraped steps times would have written.
func writeBenchWAL(dir string, n, steps int) error {
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o777); err != nil {
		return err
	}
	if err := writeMarker(tmp); err != nil {
		return err
	}
	w, err := wal.Open(filepath.Join(tmp, "wal"), wal.Options{}, nil, nil)
	if err != nil {
		return err
	}
	var enc record.Encoder
	var series []record.RefSeries
	var buf, cbuf []byte
	const batch = 1000
	for start := 0; start < n; start += batch {
		series = series[:0]
		for i := start; i < min(start+batch, n); i++ {
			series = append(series, record.RefSeries{Ref: uint64(i + 1), Labels: benchLabels(i)})
		}
		buf = enc.Series(series, buf[:0])
		rec := record.Compress(buf, cbuf)
		if err := w.Log(rec); err != nil {
			return err
		}
		if len(rec) < len(buf) {
			cbuf = rec
		}
	}
	wl := newWorkload(n)
	samples := make([]record.RefSample, 0, batch)
	for step := 0; step < steps; step++ {
		t := int64(step) * benchInterval
		for start := 0; start < n; start += batch {
			samples = samples[:0]
			for i := start; i < min(start+batch, n); i++ {
				samples = append(samples, record.RefSample{Ref: uint64(i + 1), T: t, V: wl.next(i)})
			}
			buf = enc.Samples(samples, buf[:0])
			rec := record.Compress(buf, cbuf)
			if err := w.Log(rec); err != nil {
				return err
			}
			if len(rec) < len(buf) {
				cbuf = rec
			}
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// abandon drops the DB as a kill -9 would: no snapshot, no final WAL sync beyond what commits
// did; files are closed and the lock released so that the directory can be opened again.
func (db *DB) abandon() {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	close(db.stopc)
	<-db.donec
	db.wal.close()
	db.head.chunks.close()
	for _, b := range db.blocks {
		b.Close()
	}
	if db.lock != nil {
		db.lock.Close()
	}
}
