package tsdb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
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
