package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startPrometheusSender runs bin (a Prometheus) scraping target every second as job "x" and
// remote-writing to vigil's receiver with the given extra remote_write settings.
func startPrometheusSender(t *testing.T, bin, target, vigil, rwExtra string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: x
    static_configs: [{targets: [%q]}]
remote_write:
  - url: %s/api/v1/write
    queue_config: {batch_send_deadline: 200ms}
%s`, strings.TrimPrefix(target, "http://"), vigil, rwExtra)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, out.String())
		}
	})
	return "http://" + addr
}

// Prometheus remote-writes into Vigil's receiver: Debian's 2.42 with 1.0, Prometheus 3.15 (when
// ../shared/bench/peers.sh built it) with 1.0 and with 2.0 (metadata sent). Vigil then holds
// the same samples of the scraped series as the sender's own storage, and the sender reports no
// failed samples.
func TestRemoteWriteFromPrometheus(t *testing.T) {
	type sender struct{ bin, extra string }
	senders := map[string]sender{"prometheus-2.42/1.0": {requireTool(t, "prometheus", "prometheus"), ""}}
	if _, err := os.Stat("/tmp/peers/prometheus3"); err == nil {
		senders["prometheus-3/1.0"] = sender{"/tmp/peers/prometheus3", "    protobuf_message: prometheus.WriteRequest\n"}
		senders["prometheus-3/2.0"] = sender{"/tmp/peers/prometheus3", "    protobuf_message: io.prometheus.write.v2.Request\n    metadata_config: {send: true}\n"}
	} else {
		t.Log("/tmp/peers/prometheus3 not built (../shared/bench/peers.sh): remote write 2.0 from Prometheus 3.15 not run")
	}
	for name, s := range senders {
		t.Run(name, func(t *testing.T) {
			target := remoteReadTarget(t)
			vigil := startServer(t, "--web.enable-remote-write-receiver")
			prom := startPrometheusSender(t, s.bin, target.URL, vigil, s.extra)
			// Wait for five scrapes at the sender, then for Vigil to hold what it held then.
			var at time.Time
			deadline := time.Now().Add(30 * time.Second)
			for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				if strings.Contains(promResult(prom, `count_over_time(rr_e2e_total[1h]) >= 5`, time.Time{}, time.Now(), 0), "job") {
					at = time.Now().Add(-time.Second)
					break
				}
			}
			if at.IsZero() {
				t.Fatal("sender did not scrape five times")
			}
			queries := []string{
				`count_over_time(rr_e2e_total[1h])`, `rr_e2e_total`, `rr_e2e_gauge`,
				`count_over_time({job="x"}[1h])`, `up{job="x"}`,
			}
			var got, want string
			for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				got, want = "", ""
				for _, q := range queries {
					got += promResult(vigil, q, time.Time{}, at, 0) + "\n"
					want += promResult(prom, q, time.Time{}, at, 0) + "\n"
				}
				if got == want {
					break
				}
			}
			if got != want || !strings.Contains(want, "rr_e2e_gauge") {
				t.Fatalf("Vigil holds\n%s\nthe sender\n%s", got, want)
			}
			// The sender's own counters (it does not scrape itself).
			resp, err := http.Get(prom + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sums := map[string]float64{}
			for _, line := range strings.Split(string(body), "\n") {
				for _, m := range []string{"prometheus_remote_storage_samples_total", "prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_samples_dropped_total"} {
					if strings.HasPrefix(line, m+"{") || strings.HasPrefix(line, m+" ") {
						f := strings.Fields(line)
						v, _ := strconv.ParseFloat(f[len(f)-1], 64)
						sums[m] += v
					}
				}
			}
			if sums["prometheus_remote_storage_samples_total"] == 0 || sums["prometheus_remote_storage_samples_failed_total"] != 0 || sums["prometheus_remote_storage_samples_dropped_total"] != 0 {
				t.Errorf("sender's remote storage counters: %v", sums)
			}
		})
	}
}
