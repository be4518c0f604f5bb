package routing

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/routing/journal"
)

// The alerting state lives in DataDir: Alertmanager's snapshot files "silences" and "nflog"
// (same format, so a data directory moves between Vigil and Alertmanager), and next to each a
// journal of the changes since that snapshot (package journal). A change is acknowledged only
// once it is in the journal and fsynced: a silence's API answer comes after its record is
// durable, and a notification enters the log durably before the pipeline goes on. Maintenance
// (every MaintenanceInterval and at Stop) writes a snapshot and drops the journal segments it
// covers. A damaged snapshot or journal is set aside and counted; alerting then starts with
// what could be read, and the rest of Vigil is unaffected.
const (
	silencesFile = "silences"
	nflogFile    = "nflog"
)

// snapshotReader reads the snapshot at path for loading. A snapshot that cannot be read is set
// aside like a corrupt one (see setAsideSnapshot) and the state starts empty.
func snapshotReader(path string, m *journal.Metrics, logger *slog.Logger) io.Reader {
	m.InitFile(filepath.Base(path))
	b, err := journal.ReadFile(path)
	if err != nil {
		setAsideSnapshot(path, err, m, logger)
		return nil
	}
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// setAsideSnapshot moves a damaged snapshot out of the way, keeping it for inspection, so that
// the next start does not trip over it again.
func setAsideSnapshot(path string, cause error, m *journal.Metrics, logger *slog.Logger) {
	m.Corruption(filepath.Base(path))
	aside, err := journal.SetAside(path, time.Now())
	if err != nil {
		logger.Error("alerting state snapshot is damaged and could not be set aside; starting without it", "file", path, "err", cause, "rename_err", err)
		return
	}
	logger.Error("alerting state snapshot is damaged; it is set aside and alerting starts without it: what only the snapshot held is lost, changes journaled since are kept",
		"file", path, "moved_to", aside, "err", cause)
}

// openSilences loads the silences snapshot and replays the journal over it.
func openSilences(dir string, retention time.Duration, limits silence.Limits, recorder eventrecorder.Recorder, m *journal.Metrics, logger *slog.Logger, reg prometheus.Registerer) (*silence.Silences, *journal.Journal, error) {
	path := filepath.Join(dir, silencesFile)
	s, err := silence.New(silence.Options{
		SnapshotReader: snapshotReader(path, m, logger),
		Retention:      retention,
		Limits:         limits,
		EventRecorder:  recorder,
		Logger:         logger,
		Metrics:        reg,
	})
	if err != nil {
		if s == nil {
			return nil, nil, fmt.Errorf("creating silences: %w", err)
		}
		// Upstream returns the (empty) silences when only the snapshot failed to load.
		setAsideSnapshot(path, err, m, logger)
	}
	j, err := journal.Open(dir, silencesFile, s.Merge, logger, m)
	if err != nil {
		return nil, nil, fmt.Errorf("opening silences journal: %w", err)
	}
	compactAtStart(path, j, s.Snapshot, logger)
	return s, j, nil
}

// openNflog loads the notification log snapshot and replays the journal over it.
func openNflog(dir string, retention time.Duration, m *journal.Metrics, logger *slog.Logger, reg prometheus.Registerer) (*nflog.Log, *journal.Journal, error) {
	path := filepath.Join(dir, nflogFile)
	l, err := nflog.New(nflog.Options{
		SnapshotReader: snapshotReader(path, m, logger),
		Retention:      retention,
		Logger:         logger,
		Metrics:        reg,
	})
	if err != nil {
		if l == nil {
			return nil, nil, fmt.Errorf("creating notification log: %w", err)
		}
		setAsideSnapshot(path, err, m, logger)
	}
	j, err := journal.Open(dir, nflogFile, l.Merge, logger, m)
	if err != nil {
		return nil, nil, fmt.Errorf("opening notification log journal: %w", err)
	}
	compactAtStart(path, j, l.Snapshot, logger)
	return l, j, nil
}

// compact is the maintenance of a state with a journal: rotate the journal, snapshot the state
// (which then holds every change of the old segments), and delete the old segments.
func compact(path string, j *journal.Journal, snapshot func(io.Writer) (int64, error)) (int64, error) {
	seq, err := j.Rotate()
	if err != nil {
		return 0, err
	}
	n, err := journal.WriteSnapshot(path, snapshot)
	if err != nil {
		return n, fmt.Errorf("writing snapshot %s: %w", path, err)
	}
	if err := j.RemoveBefore(seq); err != nil {
		return n, fmt.Errorf("removing journal segments covered by the snapshot: %w", err)
	}
	return n, nil
}

// SilenceWriteFailures counts silence changes (create, update, expire) that were applied but
// could not be journaled and fsynced. Upstream's silences cannot fail a change for it, so the
// API compares this count around a change to answer it with an error instead of a success.
func (r *Router) SilenceWriteFailures() uint64 { return r.silWriteFailures.Load() }

// compactAtStart folds the replayed journal into a new snapshot, so that a process that
// crashes again before its first maintenance does not leave ever more segments to replay. A
// failure is not fatal: the journal still holds the changes.
func compactAtStart(path string, j *journal.Journal, snapshot func(io.Writer) (int64, error), logger *slog.Logger) {
	if j.ReplayedSegments() == 0 {
		return
	}
	if _, err := compact(path, j, snapshot); err != nil {
		logger.Warn("compacting the alerting state journal at start failed; it is retried at the next maintenance", "file", path, "err", err)
	}
}

// durableBroadcast journals each change the state announces, fsyncs it when commit is set, and
// passes it on to the cluster. Upstream calls it under the state's lock, after the change and
// before the call that made it returns, so a silence is durable before its API answer.
// Each failure increments failures (if not nil).
func durableBroadcast(j *journal.Journal, commit bool, cluster func([]byte), failures *atomic.Uint64, logger *slog.Logger) func([]byte) {
	return func(b []byte) {
		err := j.Append(b)
		if err == nil && commit {
			err = j.Commit()
		}
		if err != nil {
			if failures != nil {
				failures.Add(1)
			}
			logger.Error("alerting state change could not be made durable; it is lost at a crash before the next snapshot", "err", err)
		}
		if cluster != nil {
			cluster(b)
		}
	}
}

// durableNflog is the notification log the pipeline writes to: an entry is fsynced before Log
// returns, so a notification that was sent is not sent again after a crash. The fsync happens
// outside the log's lock, so concurrent notifications share one (group commit).
type durableNflog struct {
	log     *nflog.Log
	journal *journal.Journal
}

func (l durableNflog) Query(params ...nflog.QueryParam) ([]*nflogpb.Entry, error) {
	return l.log.Query(params...)
}

func (l durableNflog) Log(r *nflogpb.Receiver, gkey string, firing, resolved []uint64, store *nflog.Store, expiry time.Duration) error {
	if err := l.log.Log(r, gkey, firing, resolved, store, expiry); err != nil {
		return err
	}
	if err := l.journal.Commit(); err != nil {
		return fmt.Errorf("persisting notification log entry: %w", err)
	}
	return nil
}
