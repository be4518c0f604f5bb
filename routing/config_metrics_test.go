package routing

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The configuration metrics follow Alertmanager's: a failed reload sets
// alertmanager_config_last_reload_successful to 0 and keeps the hash of the running file; a good
// one sets it back to 1, and the hash is Alertmanager's value for the file's bytes.
func TestConfigMetrics(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "am.yml")
	good := "route: {receiver: hook}\nreceivers: [{name: hook}]\n"
	other := "route: {receiver: other}\nreceivers: [{name: other}]\n"
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good)
	reg := prometheus.NewRegistry()
	r, err := New(Options{ConfigFile: file, DataDir: filepath.Join(dir, "data"), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	check := func(step string, success, hash float64) {
		t.Helper()
		if got := testutil.ToFloat64(r.confMetrics.success); got != success {
			t.Errorf("%s: alertmanager_config_last_reload_successful = %v, want %v", step, got, success)
		}
		if got := testutil.ToFloat64(r.confMetrics.hash); got != hash {
			t.Errorf("%s: alertmanager_config_hash = %v, want %v", step, got, hash)
		}
		if n, err := testutil.GatherAndCount(reg, "alertmanager_config_hash", "alertmanager_config_last_reload_successful", "alertmanager_config_last_reload_success_timestamp_seconds"); err != nil || n != 3 {
			t.Errorf("%s: %d config series registered, %v", step, n, err)
		}
	}
	// md5("route: {receiver: hook}\nreceivers: [{name: hook}]\n")[:6], little endian, as
	// Alertmanager's coordinator computes it.
	goodHash := md5HashAsMetricValue([]byte(good))
	if goodHash == 0 || goodHash == md5HashAsMetricValue([]byte(other)) {
		t.Fatalf("hash %v does not tell files apart", goodHash)
	}
	check("start", 1, goodHash)
	write("route: [\n")
	if err := r.Reload(); err == nil {
		t.Fatal("bad file reloaded")
	}
	check("failed reload", 0, goodHash)
	write(other)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	check("good reload", 1, md5HashAsMetricValue([]byte(other)))
}
