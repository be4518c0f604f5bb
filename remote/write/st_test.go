package write

import (
	"context"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// Samples committed with start timestamps (SamplesST WAL records, mixed with plain ones) are
// sent like the others.
func TestSendsSamplesWithStartTimestamps(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	defer db.Close()
	recv := newReceiver(t)
	m := newManager(db, dir)
	if err := m.ApplyConfig(rwConfig(t, recv.srv.URL, func(c *config.RemoteWriteConfig) {})); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	for i := range 30 {
		app := db.Appender(context.Background())
		for s := range 10 {
			lset := labels.FromStrings("__name__", "m_total", "series", strconv.Itoa(s))
			ts := int64(1000 + i*1000)
			var err error
			if i%3 != 0 && s%2 == 0 { // two commits in three have start timestamps for half the series
				_, err = app.(storage.STAppender).AppendST(0, lset, 500, ts, float64(i))
			} else {
				_, err = app.Append(0, lset, ts, float64(i))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "300 samples", func() bool { return recv.count() == 300 })
	recv.mu.Lock()
	defer recv.mu.Unlock()
	for k, s := range recv.samples {
		if len(s) != 30 {
			t.Errorf("series %s: %d samples, want 30", k, len(s))
		}
	}
}
