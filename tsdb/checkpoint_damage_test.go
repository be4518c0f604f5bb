package tsdb

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// TestDamagedCheckpointCounted checks that a checkpoint found damaged at start counts in the
// WAL corruption metric, as torn and corrupt segments do, and that the DB still opens.
func TestDamagedCheckpointCounted(t *testing.T) {
	dir := t.TempDir()
	const r = 60 * 60 * 1000
	opts := &Options{MinBlockDuration: r, MaxBlockDuration: 9 * r, WALSegmentSize: 32 << 10}
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, db, 100, 0, 3*r, 15000, nil)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cp, _, err := wal.LastCheckpoint(filepath.Join(dir, "wal"))
	if err != nil {
		t.Fatalf("no checkpoint after compaction: %v", err)
	}
	segs, err := filepath.Glob(filepath.Join(cp, "0*"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("checkpoint %s has no segment: %v", cp, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 64 {
		t.Fatalf("checkpoint segment of %d bytes is too small to damage in the middle", len(b))
	}
	for i := len(b) / 2; i < len(b)/2+16; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(segs[0], b, 0o666); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	db, err = Open(dir, opts, nil, reg)
	if err != nil {
		t.Fatalf("open with a damaged checkpoint: %v", err)
	}
	defer db.Close()
	n, err := testutil.GatherAndCount(reg, "prometheus_tsdb_wal_corruptions_total")
	if err != nil || n != 1 {
		t.Fatalf("corruption metric missing: %d series, %v", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "prometheus_tsdb_wal_corruptions_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 1 {
				t.Fatalf("prometheus_tsdb_wal_corruptions_total = %v after a damaged checkpoint, want 1", got)
			}
		}
	}
}
