package write

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb"
)

// Record types the queue does not know (histogram records that lane htsdb adds, anything a later
// Vigil writes) are skipped without a decode failure, plain or with the compression flag, and
// the samples around them are all sent once.
func TestUnknownWALRecordsSkipped(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	reg := prometheus.NewRegistry()
	m := NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 2 * time.Second, Registerer: reg})
	startAtWALStart(t, db, dir, recv.srv.URL)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	unknown := [][]byte{
		{7, 1, 2, 3, 4},           // Prometheus's histogram samples type
		{9},                       // float histogram samples, empty body
		{7 | 0x80, 0xff, 0, 0x10}, // compressed flag on an unknown type, garbage body
		{200, 'x', 'y'},
	}
	for i := range 3 {
		appendScrapes(t, db, int64(1000+i*10000), 5, 20)
		if err := db.WAL().Log(unknown...); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every sample", func() bool { return recv.count() == 3*5*20 })
	recv.mu.Lock()
	dups := recv.dups
	recv.mu.Unlock()
	if dups != 0 {
		t.Errorf("%d samples sent twice", dups)
	}
	if got := testutil.ToFloat64(m.queueFor(t).m.decodeFailures); got != 0 {
		t.Errorf("record_decode_failures_total = %v, want 0", got)
	}
}

// startAtWALStart saves the position of rwConfig's queue at the start of the WAL, so that it
// sends everything written, whenever it starts.
func startAtWALStart(t *testing.T, db *tsdb.DB, dir, url string) {
	t.Helper()
	first, _, err := db.WAL().Segments()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rwConfig(t, url, nil).RemoteWriteConfigs[0]
	if err := newPositionFile(dir, cfg.Name, cfg.URL.String()).save(position{first, 0}); err != nil {
		t.Fatal(err)
	}
}

// queueFor returns the manager's only queue.
func (m *Manager) queueFor(t *testing.T) *queue {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queues) != 1 {
		t.Fatalf("%d queues", len(m.queues))
	}
	for _, q := range m.queues {
		return q
	}
	return nil
}

// When a checkpoint drops series deleted from the head, the queue forgets them too and moves
// the series it keeps into a fresh arena generation; samples of the kept series sent after it
// carry the right labels.
func TestCheckpointForgetsDeletedSeries(t *testing.T) {
	dir := t.TempDir()
	db, err := tsdb.Open(dir, &tsdb.Options{MinBlockDuration: 10_000, MaxBlockDuration: 10_000, WALSegmentSize: 4096}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := newReceiver(t)
	m := NewManager(Options{WAL: db.WAL(), DataDir: dir, Storage: db.Head(), FlushDeadline: 2 * time.Second})
	startAtWALStart(t, db, dir, recv.srv.URL)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, nil)); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	// appendNamed appends n scrapes of 10 series of each name (in one commit, the head may
	// compact between commits).
	appendNamed := func(names []string, t0 int64, n int) {
		t.Helper()
		for i := range n {
			app := db.Appender(context.Background())
			for s := range 10 {
				for _, name := range names {
					if name == "old" && i >= 20 {
						continue
					}
					if _, err := app.Append(0, labels.FromStrings("__name__", name, "pod", name+"-"+strconv.Itoa(s)), t0+int64(i)*1000, float64(i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendNamed([]string{"old", "kept"}, 1000, 60) // series that stop at 20 s and series that go on
	waitFor(t, "the first samples", func() bool { return recv.count() == 10*20+10*60 })
	if st := m.Status()[0]; st.Series != 20 || st.SeriesBytes <= 0 {
		t.Fatalf("status before the checkpoint: series %d, bytes %d; want 20 series", st.Series, st.SeriesBytes)
	}
	if err := db.Compact(); err != nil { // the head drops "old"; the checkpoint has only "kept"
		t.Fatal(err)
	}
	if first, _, _ := db.WAL().Segments(); first == 0 {
		t.Fatal("compaction did not truncate the WAL")
	}
	// Enough samples to move the watcher to segments after the checkpoint.
	appendNamed([]string{"kept"}, 61000, 30)
	waitFor(t, "the samples after the checkpoint", func() bool { return recv.count() == 10*20+10*90 })
	waitFor(t, "the deleted series to be forgotten", func() bool { return m.Status()[0].Series == 10 })
	appendNamed([]string{"kept"}, 91000, 1)
	waitFor(t, "the last scrape", func() bool { return recv.count() == 10*20+10*91 })
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for s := range 10 {
		k := labels.FromStrings("__name__", "kept", "pod", "kept-"+strconv.Itoa(s)).String()
		if got := len(recv.samples[k]); got != 91 {
			t.Errorf("%s: %d samples, want 91", k, got)
		}
	}
	if recv.dups != 0 {
		t.Errorf("%d samples sent twice", recv.dups)
	}
}
