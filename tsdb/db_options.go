package tsdb

// Options configure a DB. Durations are milliseconds, as everywhere in the storage.
type Options struct {
	// RetentionDuration deletes blocks whose data is entirely older than the newest block's
	// max time minus this. 0 keeps everything.
	RetentionDuration int64
	// MaxBytes deletes the oldest blocks while blocks + WAL exceed it. 0 means no limit.
	MaxBytes int64
	// MinBlockDuration is the range of the blocks cut from the head (default 2h).
	MinBlockDuration int64
	// MaxBlockDuration caps the range of compacted blocks.
	MaxBlockDuration int64
	// WALSegmentSize is the size at which WAL segments are cut (default 128 MiB).
	WALSegmentSize int
	// NoLockfile skips the lock file (tests that open a dir twice on purpose).
	NoLockfile bool
	// SnapshotOnShutdown writes a snapshot of the head at Close, from which the next Open
	// restores the head instead of replaying the WAL (Prometheus's memory-snapshot-on-shutdown).
	SnapshotOnShutdown bool
}

// DefaultOptions are the Prometheus defaults.
func DefaultOptions() *Options {
	return &Options{
		RetentionDuration: 15 * 24 * 3600 * 1000,
		MinBlockDuration:  2 * 3600 * 1000,
		MaxBlockDuration:  36 * 3600 * 1000,
		WALSegmentSize:    128 << 20,
		// On in Vigil (off in Prometheus): the snapshot only adds to the WAL, which still holds
		// everything, so a bad one costs a WAL replay and nothing else.
		SnapshotOnShutdown: true,
	}
}
