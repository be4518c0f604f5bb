package tsdb

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

func snapOpts() *Options {
	return &Options{MinBlockDuration: hour, MaxBlockDuration: 9 * hour, WALSegmentSize: 64 << 10, SnapshotOnShutdown: true}
}

// openSnapDB opens dir and returns the DB and how many snapshot loads failed.
func openSnapDB(t *testing.T, dir string, opts *Options) (*DB, float64) {
	t.Helper()
	db, err := Open(dir, opts, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return db, testutil.ToFloat64(db.metrics.snapshotErrors)
}

// fillSnapshotDB writes 50 series over 50 min (closed and open head chunks) and a tombstone.
func fillSnapshotDB(t *testing.T, db *DB) map[string][]tsample {
	want := map[string][]tsample{}
	fill(t, db, 50, 0, 50*60*1000, 15000, want)
	m := mustMatcher(t, labels.MatchEqual, "i", "7")
	if err := db.Delete(context.Background(), 0, 60000, m); err != nil {
		t.Fatal(err)
	}
	k := labels.FromStrings("__name__", "m", "i", "7").String()
	want[k] = want[k][5:]
	return want
}

// TestHeadSnapshotRestart: a clean shutdown writes the snapshot, the next start restores the
// head from it and replays only the WAL after it; appends after the restart survive a crash
// (snapshot + the WAL after it), and a head compaction retires the snapshot.
func TestHeadSnapshotRestart(t *testing.T) {
	dir := t.TempDir()
	db, _ := openSnapDB(t, dir, snapOpts())
	want := fillSnapshotDB(t, db)
	chunks := testutil.ToFloat64(db.head.metrics.chunks)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshotPath(dir)); err != nil {
		t.Fatalf("no snapshot after Close: %v", err)
	}
	first, _ := walSegments(t, dir)

	db, fails := openSnapDB(t, dir, snapOpts())
	if fails != 0 {
		t.Fatalf("snapshot load failed")
	}
	if st := db.WALReplayStatus(); st.Min <= first {
		t.Fatalf("replay status %+v: the WAL was replayed from segment %d, not after the snapshot", st, first)
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	if got := testutil.ToFloat64(db.head.metrics.chunks); got != chunks {
		t.Fatalf("prometheus_tsdb_head_chunks %v after the restore, %v before", got, chunks)
	}
	// Appends go on where they stopped; new series get new refs.
	fill(t, db, 60, 50*60*1000, 55*60*1000, 15000, want)
	db.abandon() // crash: the old snapshot and the WAL after it

	db, fails = openSnapDB(t, dir, snapOpts())
	if fails != 0 {
		t.Fatalf("snapshot load failed after the crash")
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	// Crossing 1.5 block ranges cuts a block: the snapshot goes before the head is truncated.
	fill(t, db, 60, 55*60*1000, 100*60*1000, 15000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(snapshotPath(dir)); !os.IsNotExist(err) {
		t.Fatalf("snapshot still there after a head compaction: %v", err)
	}
	db.abandon()
	db, fails = openSnapDB(t, dir, snapOpts())
	defer db.Close()
	if fails != 0 {
		t.Fatalf("a missing snapshot counted as a failure")
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
}

// TestHeadSnapshotDamage: a damaged, old or stale snapshot, or damaged head chunks, fall back to
// the WAL with the metric counted, and nothing is lost.
func TestHeadSnapshotDamage(t *testing.T) {
	src := t.TempDir()
	db, _ := openSnapDB(t, src, snapOpts())
	want := fillSnapshotDB(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(snapshotPath(src))
	if err != nil {
		t.Fatal(err)
	}
	writeSnap := func(b []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			if err := os.WriteFile(snapshotPath(dir), b, 0o666); err != nil {
				t.Fatal(err)
			}
		}
	}
	flip := func(off int) []byte {
		b := append([]byte(nil), snap...)
		b[off] ^= 0x10
		return b
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"torn header", writeSnap(snap[:3])},
		{"torn after meta", writeSnap(snap[:40])},
		{"torn middle", writeSnap(snap[:len(snap)/2])},
		{"torn before end record", writeSnap(snap[:len(snap)-3])},
		{"empty", writeSnap(nil)},
		{"bit flip in magic", writeSnap(flip(1))},
		{"bit flip early", writeSnap(flip(12))},
		{"bit flip middle", writeSnap(flip(len(snap) / 2))},
		{"bit flip in last CRC", writeSnap(flip(len(snap) - 1))},
		{"old version", writeSnap(append(append([]byte(snapshotMagic), 0), snap[5:]...))},
		{"newer version", writeSnap(append(append([]byte(snapshotMagic), snapshotVersion+1), snap[5:]...))},
		{"trailing garbage", writeSnap(append(append([]byte(nil), snap...), 1, 2, 3))},
		{"head chunk segment gone", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, headChunksDirname, "000000")); err != nil {
				t.Fatal(err)
			}
		}},
		{"head chunk bit flip", func(t *testing.T, dir string) {
			p := filepath.Join(dir, headChunksDirname, "000000")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)/2] ^= 0x01
			if err := os.WriteFile(p, b, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
		{"stale: WAL checkpointed after it", func(t *testing.T, dir string) {
			_, last := walSegments(t, dir)
			cp := wal.CheckpointName(filepath.Join(dir, "wal"), last)
			if err := os.Mkdir(cp, 0o777); err != nil {
				t.Fatal(err)
			}
			// An empty checkpoint reads as no data: the replay after it must then come from
			// the segments, which are all still there.
			if err := os.WriteFile(filepath.Join(cp, "00000000"), nil, 0o666); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			c.damage(t, dir)
			db, fails := openSnapDB(t, dir, snapOpts())
			defer db.Close()
			if fails != 1 {
				t.Fatalf("snapshot failures counted %v, want 1", fails)
			}
			if c.name == "stale: WAL checkpointed after it" {
				return // the checkpoint above is not a real one; only the refusal is checked
			}
			compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
		})
	}
}

// FuzzHeadSnapshot feeds arbitrary bytes to the snapshot loader: it must return an error or a
// head, never panic or allocate beyond the input's size.
func FuzzHeadSnapshot(f *testing.F) {
	src := f.TempDir()
	db, err := Open(src, snapOpts(), nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	fill(f, db, 3, 0, 20*60*1000, 15000, nil)
	// Histogram open chunks, a series that changed type and start timestamp columns.
	fillMixedSnapshotDB(f, db, 0, 14*60*1000)
	if err := db.Delete(context.Background(), 0, 60000, mustMatcher(f, labels.MatchEqual, "i", "1")); err != nil {
		f.Fatal(err)
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	snap, err := os.ReadFile(snapshotPath(src))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Add([]byte(snapshotMagic + "\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, snapshotDirname), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(snapshotPath(dir), b, 0o666); err != nil {
			t.Fatal(err)
		}
		// The head chunks of the seed, so that valid chunk refs resolve.
		if err := os.CopyFS(filepath.Join(dir, headChunksDirname), os.DirFS(filepath.Join(src, headChunksDirname))); err != nil {
			t.Fatal(err)
		}
		hc, err := openHeadChunksKeep(filepath.Join(dir, headChunksDirname), defaultHeadChunkSeg)
		if err != nil {
			t.Fatal(err)
		}
		defer hc.close()
		h := newHead(hour, nil, newHeadMetrics(nil, func() *Head { return nil }), hc)
		loadHeadSnapshot(dir, h)
	})
}
