package routing

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestCorruptStateFilesSetAside checks that damaged silences and notification log snapshots do
// not stop the router from starting: each is renamed to *.corrupt-<time>, counted, and
// alerting goes on with an empty state that is persisted again.
func TestCorruptStateFilesSetAside(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"garbage", func([]byte) []byte { return []byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffnot a snapshot") }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-3] }},
		{"bad length", func(b []byte) []byte { return append([]byte{0x7f}, b...) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A valid state first: one silence, one notification log entry, snapshotted at Stop.
			r := newTestRouter(t, dir, DefaultConfig, ClusterOptions{})
			addSilence(t, r, "alertname", "Old")
			if err := r.durableNflog.Log(crashReceiver, "old", []uint64{1}, nil, nil, 0); err != nil {
				t.Fatal(err)
			}
			r.Stop()
			for _, f := range []string{silencesFile, nflogFile} {
				path := filepath.Join(dir, f)
				b, err := os.ReadFile(path)
				if err != nil || len(b) < 10 {
					t.Fatalf("snapshot %s: %d bytes, %v", f, len(b), err)
				}
				if err := os.WriteFile(path, tc.damage(b), 0o666); err != nil {
					t.Fatal(err)
				}
			}

			reg := prometheus.NewRegistry()
			r, err := New(Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), Registerer: reg})
			if err != nil {
				t.Fatalf("start with damaged state files: %v", err)
			}
			for _, f := range []string{silencesFile, nflogFile} {
				aside, _ := filepath.Glob(filepath.Join(dir, f+".corrupt-*"))
				if len(aside) != 1 {
					t.Errorf("%s: set aside as %v, want one %s.corrupt-<time>", f, aside, f)
				}
			}
			want := `
# HELP vigil_alerting_state_corruptions_total Alerting state files (silences and notification log snapshots and journals) found damaged at start and set aside.
# TYPE vigil_alerting_state_corruptions_total counter
vigil_alerting_state_corruptions_total{file="nflog"} 1
vigil_alerting_state_corruptions_total{file="nflog.journal"} 0
vigil_alerting_state_corruptions_total{file="silences"} 1
vigil_alerting_state_corruptions_total{file="silences.journal"} 0
`
			if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vigil_alerting_state_corruptions_total"); err != nil {
				t.Error(err)
			}
			// Alerting works and persists again.
			id := addSilence(t, r, "alertname", "New")
			if err := r.durableNflog.Log(crashReceiver, "new", []uint64{2}, nil, nil, 0); err != nil {
				t.Fatal(err)
			}
			r.Stop()
			r = newTestRouter(t, dir, DefaultConfig, ClusterOptions{})
			defer r.Stop()
			if _, err := r.Silences().QueryOne(context.Background(), silence.QIDs(id)); err != nil {
				t.Errorf("silence created after the repair lost: %v", err)
			}
			if _, err := r.nflog.Query(nflog.QReceiver(crashReceiver), nflog.QGroupKey("new")); err != nil {
				t.Errorf("notification log entry written after the repair lost: %v", err)
			}
		})
	}
}
