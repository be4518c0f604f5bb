package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
)

// prometheus_tsdb_clean_start is 1 after a clean shutdown, 0 when the lock file of a process
// that did not close the DB is found, -1 without a lock file; a block that cannot be opened
// counts as a failed reload (the prometheus-mixin's PrometheusTSDBReloadsFailing and
// PrometheusHAGroupCrashlooping watch these).
func TestCleanStartAndReloadMetrics(t *testing.T) {
	open := func(t *testing.T, dir string, o *Options) (*DB, *prometheus.Registry) {
		t.Helper()
		reg := prometheus.NewRegistry()
		db, err := Open(dir, o, nil, reg)
		if err != nil {
			t.Fatal(err)
		}
		return db, reg
	}
	value := func(t *testing.T, reg *prometheus.Registry, name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				m := mf.GetMetric()[0]
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
		t.Fatalf("%s not registered", name)
		return 0
	}
	dir := t.TempDir()
	db, reg := open(t, dir, nil)
	if got := value(t, reg, "prometheus_tsdb_clean_start"); got != 1 {
		t.Errorf("first start: clean_start = %v, want 1", got)
	}
	if got := value(t, reg, "prometheus_tsdb_reloads_total"); got != 1 {
		t.Errorf("reloads_total = %v, want 1", got)
	}
	db.Close()
	db, reg = open(t, dir, nil)
	if got := value(t, reg, "prometheus_tsdb_clean_start"); got != 1 {
		t.Errorf("after Close: clean_start = %v, want 1", got)
	}
	db.Close()

	// A crash leaves the lock file behind; a damaged block fails the reload.
	if err := os.WriteFile(filepath.Join(dir, "lock"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), 0o777); err != nil {
		t.Fatal(err)
	}
	db, reg = open(t, dir, nil)
	if got := value(t, reg, "prometheus_tsdb_clean_start"); got != 0 {
		t.Errorf("after a crash: clean_start = %v, want 0", got)
	}
	if got := value(t, reg, "prometheus_tsdb_reloads_failures_total"); got != 1 {
		t.Errorf("damaged block: reloads_failures_total = %v, want 1", got)
	}
	db.Close()

	db, reg = open(t, t.TempDir(), &Options{NoLockfile: true})
	defer db.Close()
	if got := value(t, reg, "prometheus_tsdb_clean_start"); got != -1 {
		t.Errorf("no lock file: clean_start = %v, want -1", got)
	}
	if n, err := testutil.GatherAndCount(reg, "prometheus_tsdb_head_samples_appended_total"); err != nil || n != 1 {
		t.Errorf("head_samples_appended_total: %d series, %v", n, err)
	}
}

// prometheus_tsdb_head_chunks follows the chunks of the head as they are cut and truncated (the
// prometheus-mixin's overview dashboard charts it).
func TestHeadChunksMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	db, err := Open(t.TempDir(), nil, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() float64 {
		n := 0
		db.head.series.forEach(func(s *memSeries) {
			s.mu.Lock()
			n += len(s.closed)
			if s.hasOpen() {
				n++
			}
			s.mu.Unlock()
		})
		return float64(n)
	}
	app := db.head.Appender()
	for i := range int64(150) {
		for _, name := range []string{"a", "b"} {
			if _, err := app.Append(0, labels.FromStrings("__name__", name), i*1000, float64(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got, want := testutil.ToFloat64(db.head.metrics.chunks), count()
	if want != 6 || got != want { // 60 samples a chunk: 3 chunks for each of 2 series
		t.Fatalf("after appends: head_chunks = %v, chunks in the head = %v, want 6", got, want)
	}
	db.head.truncate(100 * 1000)
	if got, want := testutil.ToFloat64(db.head.metrics.chunks), count(); got != want || want != 4 { // the first chunk of each series ends before 100s
		t.Fatalf("after truncation: head_chunks = %v, chunks in the head = %v, want 4", got, want)
	}
	if got := testutil.ToFloat64(db.head.metrics.chunksCreated); got != 6 {
		t.Errorf("head_chunks_created_total = %v, want 6", got)
	}
}

// Series created by an append that is rolled back stay in the head, counted by
// prometheus_tsdb_head_series, until the next head GC (truncation) removes them as empty: as in
// Prometheus, whose head creates series at Append and drops empty ones in Head.gc.
func TestRolledBackSeriesUntilHeadGC(t *testing.T) {
	reg := prometheus.NewRegistry()
	db, err := Open(t.TempDir(), nil, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	headSeries := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "prometheus_tsdb_head_series" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no prometheus_tsdb_head_series")
		return 0
	}
	app := db.head.Appender()
	if _, err := app.Append(0, labels.FromStrings("__name__", "kept"), 1000, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	app = db.head.Appender()
	for i := range 10 {
		if _, err := app.Append(0, labels.FromStrings("__name__", "rolled_back", "i", fmt.Sprint(i)), 2000, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := headSeries(); got != 11 {
		t.Fatalf("head_series after the rollback = %v, want 11 (as Prometheus: until the next head GC)", got)
	}
	db.head.truncate(0) // drops no sample: only the empty series go
	if got := headSeries(); got != 1 {
		t.Fatalf("head_series after head GC = %v, want 1", got)
	}
}
