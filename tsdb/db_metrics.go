package tsdb

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
)

type dbMetrics struct {
	compactc          chan struct{}
	compactions       prometheus.Counter
	headCompactions   prometheus.Counter
	compactionsFailed prometheus.Counter
	blockOpenFailures prometheus.Counter
	retentionTime     prometheus.Counter
	retentionSize     prometheus.Counter
	chunkCorruptions  prometheus.Counter
	reloads           prometheus.Counter
	reloadsFailed     prometheus.Counter
	cleanStart        prometheus.Gauge
	snapshotErrors    prometheus.Counter
	replayDuration    prometheus.Gauge
}

func newDBMetrics(reg prometheus.Registerer, db *DB) *dbMetrics {
	m := &dbMetrics{
		compactc: make(chan struct{}, 1),
		compactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_compactions_total", Help: "Total number of block compactions (blocks merged into a bigger one).",
		}),
		headCompactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_head_compactions_total", Help: "Total number of blocks cut from the head.",
		}),
		compactionsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_compactions_failed_total", Help: "Total number of compactions that failed.",
		}),
		blockOpenFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_block_open_failures_total", Help: "Total number of blocks that could not be opened (damaged) and were skipped.",
		}),
		retentionTime: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_time_retentions_total", Help: "Number of blocks deleted because they passed the retention time.",
		}),
		retentionSize: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_size_retentions_total", Help: "Number of blocks deleted because the retention size was exceeded.",
		}),
		chunkCorruptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_tsdb_chunk_corruptions_total", Help: "Block chunks found damaged (checksum or framing), by the start-up verification or when read.",
		}),
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_reloads_total", Help: "Number of times the database reloaded block data from disk.",
		}),
		// A block that cannot be opened fails the reload as in Prometheus (the mixin's
		// PrometheusTSDBReloadsFailing), though Vigil goes on serving the other blocks.
		reloadsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_reloads_failures_total", Help: "Number of times the database failed to reloadBlocks block data from disk.",
		}),
		snapshotErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_snapshot_replay_error_total", Help: "Total number snapshot replays that failed.",
		}),
		replayDuration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_tsdb_data_replay_duration_seconds", Help: "Time taken to replay the data on disk.",
		}),
		cleanStart: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_tsdb_clean_start",
			Help: "-1: lockfile is disabled. 0: a lockfile from a previous execution was replaced. 1: lockfile creation was clean",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.compactions, m.headCompactions, m.compactionsFailed, m.blockOpenFailures,
			m.retentionTime, m.retentionSize, m.chunkCorruptions, m.reloads, m.reloadsFailed, m.cleanStart,
			m.snapshotErrors, m.replayDuration,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_blocks_loaded", Help: "Number of blocks currently loaded.",
			}, func() float64 { return float64(len(db.Blocks())) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_storage_blocks_bytes", Help: "Bytes used by blocks on disk (index, chunks, tombstones).",
			}, func() float64 {
				var n int64
				for _, b := range db.Blocks() {
					n += b.Size()
				}
				return float64(n)
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "prometheus_tsdb_wal_storage_size_bytes", Help: "Bytes used by the WAL (segments and checkpoint).",
			}, func() float64 {
				if db.wal == nil {
					return 0
				}
				n, _ := db.wal.w.Size()
				return float64(n)
			}),
		)
	}
	return m
}

// lockDir takes an exclusive flock on <dir>/lock so that two processes never share a DB.
// It also reports whether the lock file was left by a process that did not close the DB (Close
// removes it), for prometheus_tsdb_clean_start.
func lockDir(dir string) (f *os.File, replaced bool, err error) {
	name := filepath.Join(dir, "lock")
	_, statErr := os.Stat(name)
	replaced = statErr == nil
	f, err = os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false, fmt.Errorf("creating lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("locking %s (is another vigil using it?): %w", dir, err)
	}
	return f, replaced, nil
}
