package tsdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// DB is Vigil's time-series database: a head in memory backed by a WAL, and immutable blocks on
// disk cut from the head and compacted in the background.
type DB struct {
	dir    string
	opts   Options
	logger *slog.Logger
	reg    prometheus.Registerer

	head *Head
	wal  *walHandle

	mu     sync.RWMutex // guards blocks and closed
	blocks []*Block
	closed bool

	// cmtx serialises compaction, retention, deletion and snapshots.
	cmtx    sync.Mutex
	stopc   chan struct{}
	donec   chan struct{}
	metrics *dbMetrics
	lock    *os.File
}

// Open opens or creates a DB in dir, replaying the WAL. opts may be nil for the defaults.
func Open(dir string, opts *Options, logger *slog.Logger, reg prometheus.Registerer) (db *DB, err error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	o := *opts
	def := DefaultOptions()
	if o.MinBlockDuration <= 0 {
		o.MinBlockDuration = def.MinBlockDuration
	}
	if o.MaxBlockDuration < o.MinBlockDuration {
		o.MaxBlockDuration = o.MinBlockDuration
	}
	if o.WALSegmentSize <= 0 {
		o.WALSegmentSize = def.WALSegmentSize
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Identify the directory before anything in it is written, repaired or deleted.
	needMarker, err := checkOwnDir(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	db = &DB{dir: dir, opts: o, logger: logger, reg: reg, stopc: make(chan struct{}), donec: make(chan struct{})}
	cleanStart := -1.0
	if !o.NoLockfile {
		var replaced bool
		if db.lock, replaced, err = lockDir(dir); err != nil {
			return nil, err
		}
		cleanStart = 1
		if replaced {
			cleanStart = 0
		}
	}
	// The lock is released on failure. It is read from a local: a failing return sets the
	// named result db to nil before this runs.
	lock := db.lock
	defer func() {
		if err != nil && lock != nil {
			lock.Close()
		}
	}()
	if needMarker {
		if err := writeMarker(dir); err != nil {
			return nil, err
		}
		logger.Info("data directory identified as Vigil's; storage format marker written", "file", filepath.Join(dir, MarkerFilename))
	}
	if err := removeTmpDirs(dir, logger); err != nil {
		return nil, err
	}
	db.metrics = newDBMetrics(reg, db)
	db.metrics.cleanStart.Set(cleanStart)
	hm := newHeadMetrics(reg, func() *Head { return db.head })
	if err := db.reloadBlocks(); err != nil {
		return nil, err
	}
	db.wal, err = openWAL(filepath.Join(dir, "wal"), o.WALSegmentSize, logger, reg)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	from, err := db.openHead(hm)
	if err != nil {
		db.wal.close()
		return nil, err
	}
	if err := db.wal.replay(db.head, logger, from); err != nil {
		db.wal.close()
		db.head.chunks.close()
		return nil, fmt.Errorf("replaying the WAL: %w", err)
	}
	db.metrics.replayDuration.Set(time.Since(start).Seconds())
	logger.Info("WAL replayed", "duration", time.Since(start), "series", db.head.NumSeries(),
		"mint", db.head.MinTime(), "maxt", db.head.MaxTime(), "from_snapshot", from >= 0)
	go db.run()
	go db.verifyBlocks(db.Blocks())
	return db, nil
}

// openHead creates the head, from the head snapshot when there is a usable one. It returns the
// first WAL segment to replay after the snapshot, or -1 when the whole WAL must be replayed.
func (db *DB) openHead(hm *headMetrics) (int, error) {
	chunksDir := filepath.Join(db.dir, headChunksDirname)
	newEmptyHead := func() error {
		hc, err := openHeadChunks(chunksDir, defaultHeadChunkSeg)
		if err != nil {
			return err
		}
		db.head = newHead(db.opts.MinBlockDuration, db.wal, hm, hc)
		if maxt := db.blocksMaxTime(); maxt > 0 {
			// Samples older than the newest block belong to blocks; the head refuses them.
			db.head.minValidT.Store(maxt)
		}
		return nil
	}
	if _, err := os.Stat(snapshotPath(db.dir)); err != nil {
		return -1, newEmptyHead()
	}
	start := time.Now()
	from, n, err := db.loadSnapshot(chunksDir, hm)
	if err == nil {
		db.logger.Info("head restored from the snapshot written at shutdown", "series", n,
			"duration", time.Since(start), "replaying_wal_from_segment", from)
		return from, nil
	}
	db.metrics.snapshotErrors.Inc()
	db.logger.Error("head snapshot cannot be used; replaying the whole WAL instead (nothing is lost, it holds everything)",
		"file", snapshotPath(db.dir), "err", err)
	if db.head != nil {
		db.head.chunks.close()
		db.head = nil
	}
	if err := db.removeHeadSnapshot(); err != nil {
		return -1, err
	}
	return -1, newEmptyHead()
}

// loadSnapshot restores the head from the snapshot and checks that the WAL still holds every
// segment after it.
func (db *DB) loadSnapshot(chunksDir string, hm *headMetrics) (int, int, error) {
	hc, err := openHeadChunksKeep(chunksDir, defaultHeadChunkSeg)
	if err != nil {
		return -1, 0, err
	}
	db.head = newHead(db.opts.MinBlockDuration, db.wal, hm, hc)
	if maxt := db.blocksMaxTime(); maxt > 0 {
		db.head.minValidT.Store(maxt)
	}
	meta, n, err := loadHeadSnapshot(db.dir, db.head)
	if err != nil {
		return -1, 0, err
	}
	if _, cpIdx, err := wal.LastCheckpoint(db.wal.dir); err == nil && cpIdx >= meta.walSegment {
		return -1, 0, fmt.Errorf("stale: the WAL was checkpointed up to segment %d after the snapshot (segment %d)", cpIdx, meta.walSegment)
	}
	first, last, err := db.wal.w.Segments()
	if err != nil {
		return -1, 0, fmt.Errorf("listing WAL segments: %w", err)
	}
	if first > meta.walSegment || last < meta.walSegment {
		return -1, 0, fmt.Errorf("the WAL holds segments %d..%d, the snapshot needs %d onwards", first, last, meta.walSegment)
	}
	if meta.minValidT > db.head.minValidT.Load() {
		db.head.minValidT.Store(meta.minValidT)
	}
	return meta.walSegment, n, nil
}

// verifyBlocks reads every chunk of the blocks found at start once, in the background, so that
// a damaged chunk file is reported (log and metric) at start rather than only when a query
// happens to read the damaged part. The DB serves meanwhile; damaged chunks fail the queries
// that read them, everything else is served.
func (db *DB) verifyBlocks(blocks []*Block) {
	errStop := errors.New("stopping")
	for _, b := range blocks {
		if !b.acquire() {
			continue
		}
		err := b.chunks.Iterate(func(uint64, []byte) error {
			select {
			case <-db.stopc:
				return errStop
			default:
				return nil
			}
		})
		b.release()
		if errors.Is(err, errStop) {
			return
		}
		if err != nil {
			db.reportCorruption(b, fmt.Errorf("verifying block %s: %w", b.meta.ULID, err))
		}
	}
}

func (db *DB) reportCorruption(b *Block, err error) {
	db.metrics.chunkCorruptions.Inc()
	db.logger.Error("damaged chunk data; queries reading it fail, the rest is served", "block", b.meta.ULID, "err", err)
}

// Dir returns the data directory.
func (db *DB) Dir() string { return db.dir }

// WAL returns the write-ahead log, for readers that tail it (remote write).
func (db *DB) WAL() *wal.WAL { return db.wal.w }

// Head returns the in-memory head.
func (db *DB) Head() *Head { return db.head }

// Appender returns a batch appender. See Appender.
func (db *DB) Appender(_ context.Context) storage.Appender {
	return &dbAppender{headAppender: db.head.Appender(), db: db}
}

type dbAppender struct {
	*headAppender
	db *DB
}

func (a *dbAppender) Commit() error {
	if err := a.headAppender.Commit(); err != nil {
		return err
	}
	// Cut a block as soon as the head spans 1.5 block ranges, without waiting for the ticker.
	h := a.db.head
	if h.MaxTime()-h.MinTime() > a.db.opts.MinBlockDuration*3/2 {
		a.db.triggerCompaction()
	}
	return nil
}

// Querier returns a querier over [mint, maxt] across the blocks and the head.
func (db *DB) Querier(mint, maxt int64) (storage.Querier, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return nil, storage.ErrClosed
	}
	q := &querier{mint: mint, maxt: maxt}
	for _, b := range db.blocks {
		if b.meta.MaxTime >= mint && b.meta.MinTime <= maxt {
			if !b.acquire() {
				continue
			}
			q.sources = append(q.sources, b)
			q.closers = append(q.closers, b.release)
		}
	}
	if h := db.head; h.MaxTime() >= mint && h.MinTime() <= maxt {
		g := h.chunks.acquire()
		q.sources = append(q.sources, headSource{h})
		q.closers = append(q.closers, func() { h.chunks.release(g) })
	}
	return q, nil
}

// Blocks returns the current blocks, oldest first.
func (db *DB) Blocks() []*Block {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return append([]*Block(nil), db.blocks...)
}

func (db *DB) blocksMaxTime() int64 {
	db.mu.RLock()
	defer db.mu.RUnlock()
	var maxt int64
	for _, b := range db.blocks {
		if b.meta.MaxTime > maxt {
			maxt = b.meta.MaxTime
		}
	}
	return maxt
}

func (db *DB) triggerCompaction() {
	select {
	case db.metrics.compactc <- struct{}{}:
	default:
	}
}

// run cuts blocks, compacts and applies retention in the background.
func (db *DB) run() {
	defer close(db.donec)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-db.stopc:
			return
		case now := <-t.C:
			if now.Sub(lastSweep) >= labelCacheSweep {
				db.head.dropIdleLabels()
				lastSweep = now
			}
		case <-db.metrics.compactc:
		}
		if err := db.Compact(); err != nil {
			db.logger.Error("compaction failed", "err", err)
		}
	}
}

// Close stops background work, flushes the WAL and closes everything.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	close(db.stopc)
	<-db.donec
	db.cmtx.Lock()
	defer db.cmtx.Unlock()
	var errs []error
	if db.opts.SnapshotOnShutdown {
		if err := db.writeHeadSnapshot(); err != nil {
			// The WAL has everything: the next start replays it.
			db.logger.Error("writing the head snapshot failed; the next start replays the WAL", "err", err)
		}
	}
	if err := db.wal.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the WAL: %w", err))
	}
	db.head.chunks.close()
	db.mu.Lock()
	for _, b := range db.blocks {
		if err := b.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	db.mu.Unlock()
	if db.lock != nil {
		if err := db.lock.Close(); err != nil {
			errs = append(errs, err)
		}
		os.Remove(filepath.Join(db.dir, "lock"))
	}
	return errors.Join(errs...)
}
