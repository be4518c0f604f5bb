package tsdb

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

const hour = 3600 * 1000

func blockOpts() *Options {
	return &Options{MinBlockDuration: hour, MaxBlockDuration: 3 * hour, WALSegmentSize: 32 << 10}
}

func TestDeleteAndCleanTombstones(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, blockOpts(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]tsample{}
	fill(t, db, 5, 0, 6*hour, 60000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no blocks")
	}
	victim := labels.FromStrings("__name__", "m", "i", "1").String()
	// Delete one series' samples in a range that spans blocks and the head.
	mint, maxt := int64(2*hour), int64(5*hour+30*60000)
	if err := db.Delete(context.Background(), mint, maxt, mustMatcher(t, labels.MatchEqual, "i", "1")); err != nil {
		t.Fatal(err)
	}
	var kept []tsample
	for _, s := range want[victim] {
		if s.t < mint || s.t > maxt {
			kept = append(kept, s)
		}
	}
	want[victim] = kept
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	db.Close()

	// Tombstones survive a restart: the blocks' files and the WAL's tombstone records.
	db, err = Open(dir, blockOpts(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
	if err := db.CleanTombstones(); err != nil {
		t.Fatal(err)
	}
	for _, b := range db.Blocks() {
		if b.Meta().Stats.NumTombstones != 0 {
			t.Fatalf("block %s still has tombstones", b.Meta().ULID)
		}
	}
	compare(t, queryAll(t, db, math.MinInt64, math.MaxInt64), want)
}

func TestSnapshot(t *testing.T) {
	db := openTestDB(t, blockOpts())
	want := map[string][]tsample{}
	fill(t, db, 5, 0, 3*hour, 60000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap")
	if err := db.Snapshot(snap, true); err != nil {
		t.Fatal(err)
	}
	// The snapshot is a data directory of blocks that opens on its own.
	sdb, err := Open(snap, blockOpts(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	compare(t, queryAll(t, sdb, math.MinInt64, math.MaxInt64), want)
}

func TestTornWALTail(t *testing.T) {
	dir := t.TempDir()
	// A crash mid-write leaves no head snapshot, and the torn record is in the last segment.
	opts := DefaultOptions()
	opts.SnapshotOnShutdown = false
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]tsample{}
	fill(t, db, 10, 0, 100*15000, 15000, want)
	db.Close()
	// Cut into the last record of the newest segment, as a crash mid-write would.
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "0*"))
	last := segs[len(segs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	db, err = Open(dir, opts, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatalf("open after torn tail: %v", err)
	}
	defer db.Close()
	got := queryAll(t, db, math.MinInt64, math.MaxInt64)
	// The last commit (one scrape of 10 series) is lost, everything before it is there.
	for k, w := range want {
		if len(got[k]) != len(w)-1 {
			t.Fatalf("%s: %d samples after repair, want %d", k, len(got[k]), len(w)-1)
		}
	}
	if !strings.Contains(logs.String(), "level=") {
		t.Fatalf("nothing logged about the repair")
	}
	// Appends go on after the repair.
	app := db.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "m", "i", "0"), 100*15000, 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedBlockFiles(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, blockOpts(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]tsample{}
	fill(t, db, 5, 0, 7*hour, 60000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	blocks := db.Blocks()
	if len(blocks) < 2 {
		t.Fatalf("want 2+ blocks, got %d", len(blocks))
	}
	damagedChunks, damagedIndex := blocks[0].Dir(), blocks[1].Dir()
	db.Close()

	// Flip bytes in the middle of the first block's chunk file, and truncate the second block's
	// index.
	cf := filepath.Join(damagedChunks, chunksDirname, "000001")
	b, err := os.ReadFile(cf)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) / 2; i < len(b)/2+8; i++ {
		b[i] ^= 0xff
	}
	if err := os.WriteFile(cf, b, 0o666); err != nil {
		t.Fatal(err)
	}
	ix := filepath.Join(damagedIndex, indexFilename)
	fi, _ := os.Stat(ix)
	if err := os.Truncate(ix, fi.Size()/2); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	db, err = Open(dir, blockOpts(), slog.New(slog.NewTextHandler(&logs, nil)), nil)
	if err != nil {
		t.Fatalf("open with damaged blocks: %v", err)
	}
	defer db.Close()
	if !strings.Contains(logs.String(), "cannot open block") {
		t.Fatalf("damaged index not reported: %s", logs.String())
	}
	if len(db.Blocks()) != len(blocks)-1 {
		t.Fatalf("%d blocks open, want %d", len(db.Blocks()), len(blocks)-1)
	}
	// The damaged chunk file is found by the start-up verification and counted.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(db.metrics.chunkCorruptions) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("damaged chunk file not reported by the start-up verification")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Data of intact blocks and the head is served; reading the damaged chunks is an error,
	// not a crash or silently wrong data.
	head := queryAll(t, db, 6*hour, math.MaxInt64)
	if len(head) != 5 {
		t.Fatalf("head series: %d", len(head))
	}
	q, _ := db.Querier(0, hour-1)
	defer q.Close()
	ss := q.Select(context.Background(), true, nil)
	var readErr error
	var it storage.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for it.Next() != storage.ValNone {
		}
		if it.Err() != nil {
			readErr = it.Err()
		}
	}
	if readErr == nil && ss.Err() == nil {
		t.Fatal("reading a damaged chunk returned no error")
	}
}

// failingWAL fails Log while fail is set, like a full disk.
type failingWAL struct {
	inner walLog
	fail  bool
}

func (f *failingWAL) Log(recs ...[]byte) error {
	if f.fail {
		return &os.PathError{Op: "write", Path: "wal/00000001", Err: syscall.ENOSPC}
	}
	return f.inner.Log(recs...)
}

func TestCommitFailsWhenWALWriteFails(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fw := &failingWAL{inner: db.head.wal}
	db.head.wal = fw
	s := labels.FromStrings("__name__", "m")
	app := db.Appender(context.Background())
	app.Append(0, s, 1000, 1)
	app.Commit()

	fw.fail = true
	app = db.Appender(context.Background())
	if _, err := app.Append(0, s, 2000, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Append(0, labels.FromStrings("__name__", "new"), 2000, 2); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("commit with a full disk: %v", err)
	}
	if got := queryAll(t, db, 0, 10000); len(got[s.String()]) != 1 || len(got[`{__name__="new"}`]) != 0 {
		t.Fatalf("failed commit is visible: %v", got)
	}
	// Space is back: the same samples can be appended again.
	fw.fail = false
	app = db.Appender(context.Background())
	app.Append(0, s, 2000, 2)
	app.Append(0, labels.FromStrings("__name__", "new"), 2000, 2)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// And they survive a restart, series record of the new series included.
	db, err = Open(dir, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := queryAll(t, db, 0, 10000)
	if len(got[s.String()]) != 2 || len(got[`{__name__="new"}`]) != 1 {
		t.Fatalf("after restart: %v", got)
	}
}

// syncBuffer is a log sink the test can read while background goroutines log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
