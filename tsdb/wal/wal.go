package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

// DefaultSegmentSize is the segment size used when Options.SegmentSize is zero.
const DefaultSegmentSize = 128 << 20

// recordHeaderSize is the framing before every payload: uint32 length, uint32 CRC.
const recordHeaderSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by operations on a closed WAL.
var ErrClosed = errors.New("wal is closed")

// Options configure a WAL.
type Options struct {
	// SegmentSize is the size at which a new segment is cut; DefaultSegmentSize when zero.
	SegmentSize int

	// openFile creates a new segment file for writing. Tests replace it to inject write errors;
	// nil means createSegmentFile.
	openFile func(path string) (segmentFile, error)
}

// segmentFile is what the WAL needs of the segment it writes; *os.File implements it. It is an
// interface so that tests can make writes fail (ENOSPC) or land partially.
type segmentFile interface {
	WriteAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

func createSegmentFile(path string) (segmentFile, error) {
	// O_EXCL: a new segment index is always past every existing one; finding the file means
	// the directory changed under us, and writing into it would interleave two logs.
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// CorruptionErr reports a damaged record: Segment and Offset locate its first byte, which is also
// the end of the last good record of that segment.
type CorruptionErr struct {
	Dir     string // directory of the segment (the WAL's or a checkpoint's)
	Segment int
	Offset  int64
	Err     error
}

func (e *CorruptionErr) Error() string {
	return fmt.Sprintf("corruption in segment %s at offset %d: %v", SegmentName(e.Dir, e.Segment), e.Offset, e.Err)
}

func (e *CorruptionErr) Unwrap() error { return e.Err }

// SegmentName returns the path of segment i in dir.
func SegmentName(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%08d", i))
}

// WAL is a write-ahead log. All methods are safe for concurrent use.
type WAL struct {
	dir         string
	segmentSize int
	logger      *slog.Logger
	openFile    func(string) (segmentFile, error)
	metrics     *metrics

	mu     sync.Mutex
	seg    segmentFile // the segment being written
	segIdx int
	segOff int64 // end of the last complete batch in seg: where the next write goes
	// dirty is set when undoing a failed write could not truncate the segment; the next Log must
	// succeed at that first, or the garbage would sit between two good records.
	dirty  bool
	buf    []byte // framing buffer reused by Log
	closed bool
	// subs are signalled (without blocking) after every write and segment cut: WAL tailers
	// read new records as soon as they are there instead of polling.
	subs []chan struct{}
}

// Subscribe returns a channel that receives a value (coalesced: capacity one) after records
// were written or a segment was cut. Unsubscribe releases it.
func (w *WAL) Subscribe() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := make(chan struct{}, 1)
	w.subs = append(w.subs, c)
	return c
}

// Unsubscribe stops signalling c.
func (w *WAL) Unsubscribe(c <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs = slices.DeleteFunc(w.subs, func(s chan struct{}) bool { return s == c })
}

func (w *WAL) notify() {
	for _, c := range w.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// Open opens the WAL in dir, creating the directory if needed. The last existing segment is
// checked and a torn or corrupt tail truncated; writing then starts in a new segment after it.
// reg may be nil.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*WAL, error) {
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.openFile == nil {
		opts.openFile = createSegmentFile
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create WAL directory: %w", err)
	}
	w := &WAL{
		dir:         dir,
		segmentSize: opts.SegmentSize,
		logger:      logger,
		openFile:    opts.openFile,
		metrics:     newMetrics(reg),
	}
	if err := removeTmpCheckpoints(dir, logger); err != nil {
		return nil, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	next := 0
	if len(segs) > 0 {
		last := segs[len(segs)-1]
		if err := w.repairTail(last); err != nil {
			return nil, err
		}
		next = last + 1
	}
	if err := w.createSegment(next); err != nil {
		return nil, err
	}
	return w, nil
}

// repairTail truncates segment i after its last good record.
func (w *WAL) repairTail(i int) error {
	r, err := NewReader(w.dir, i, i)
	if err != nil {
		return err
	}
	defer r.Close()
	n := 0
	for r.Next() {
		n++
	}
	var cerr *CorruptionErr
	if err := r.Err(); !errors.As(err, &cerr) {
		return err // nil, or an I/O error we must not "repair" by deleting data
	}
	name := SegmentName(w.dir, i)
	fi, err := os.Stat(name)
	if err != nil {
		return fmt.Errorf("stat damaged segment: %w", err)
	}
	w.logger.Warn("Truncating torn or corrupt WAL segment tail",
		"segment", name, "offset", cerr.Offset, "bytes_dropped", fi.Size()-cerr.Offset,
		"records_kept", n, "err", cerr.Err)
	w.metrics.corruptions.Inc()
	return truncateFile(name, cerr.Offset)
}

// truncateFile truncates the file at path to size and makes that durable.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open segment for truncation: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("truncate segment %s to %d: %w", path, size, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync truncated segment %s: %w", path, err)
	}
	return f.Close()
}

// createSegment makes segment i the current one. The caller has closed the previous one.
func (w *WAL) createSegment(i int) error {
	f, err := w.openFile(SegmentName(w.dir, i))
	if err != nil {
		return fmt.Errorf("create WAL segment %d: %w", i, err)
	}
	// The new directory entry must be durable before anything written to the file can be: a
	// later fsync of the file does not persist its name.
	if err := fileutil.SyncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.seg, w.segIdx, w.segOff, w.dirty = f, i, 0, false
	w.metrics.currentSegment.Set(float64(i))
	return nil
}

// Dir returns the WAL's directory.
func (w *WAL) Dir() string { return w.dir }

// maxKeptBuffer is the largest write buffer the WAL keeps between writes.
const maxKeptBuffer = 256 << 10

// Log writes the records, in order, with a single write syscall into one segment, and returns
// once the write has completed (the data is in the page cache). On error none of the records is
// in the log: a partial write is truncated away before Log returns.
func (w *WAL) Log(recs ...[]byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if err := w.undoFailedWrite(); err != nil {
		w.metrics.writesFailed.Inc()
		return err
	}
	total := 0
	for _, r := range recs {
		if len(r) > math.MaxUint32 {
			return fmt.Errorf("WAL record of %d bytes exceeds the 4 GiB limit", len(r))
		}
		total += recordHeaderSize + len(r)
	}
	if total == 0 {
		return nil
	}
	if w.segOff > 0 && w.segOff+int64(total) > int64(w.segmentSize) {
		if err := w.cut(); err != nil {
			w.metrics.writesFailed.Inc()
			return err
		}
	}
	buf := w.buf[:0]
	for _, r := range recs {
		buf = appendRecord(buf, r)
	}
	if cap(buf) <= maxKeptBuffer {
		w.buf = buf
	} else {
		w.buf = nil // a rare large batch (new series) would otherwise keep its size for good
	}
	n, err := w.seg.WriteAt(buf, w.segOff)
	if err == nil && n != len(buf) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.metrics.writesFailed.Inc()
		// Whatever part of the batch reached the file must go: it may hold complete records of a
		// batch reported as failed, and later writes after it would turn a torn tail into
		// corruption in the middle of the log.
		if terr := w.seg.Truncate(w.segOff); terr != nil {
			w.dirty = true
			w.logger.Error("Cannot truncate WAL segment after failed write; retrying before the next write",
				"segment", w.segIdx, "offset", w.segOff, "err", terr)
			// Until the truncation succeeds, zeros over what was written make it an invalid
			// record (the checksum covers the length) rather than replayable ones: a restart then
			// drops it as a torn tail. Overwriting allocated blocks needs no free space.
			if n > 0 {
				clear(buf[:n])
				if _, zerr := w.seg.WriteAt(buf[:n], w.segOff); zerr != nil {
					w.logger.Error("Cannot invalidate failed WAL write", "segment", w.segIdx, "offset", w.segOff, "err", zerr)
				}
			}
		}
		return fmt.Errorf("write WAL segment %d at offset %d: %w", w.segIdx, w.segOff, err)
	}
	w.segOff += int64(n)
	w.notify()
	return nil
}

// undoFailedWrite retries the truncation a failed write could not do. Nothing may be written
// into or after a segment holding the remains of a failed batch until it succeeds.
func (w *WAL) undoFailedWrite() error {
	if !w.dirty {
		return nil
	}
	if err := w.seg.Truncate(w.segOff); err != nil {
		return fmt.Errorf("truncate WAL segment %d after a failed write: %w", w.segIdx, err)
	}
	w.dirty = false
	return nil
}

// appendRecord appends the framing and payload of rec to b.
func appendRecord(b, rec []byte) []byte {
	// The header is built in b itself: a local array passed to crc32 would escape to the heap
	// and cost an allocation per record.
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(rec)))
	crc := crc32.Update(crc32.Update(0, castagnoli, b[start:start+4]), castagnoli, rec)
	b = binary.LittleEndian.AppendUint32(b, crc)
	return append(b, rec...)
}

// cut fsyncs and closes the current segment and starts the next one. The current segment is
// made durable before the next one exists, so that after a power loss every segment but the last
// is complete; and if the new file cannot be created (disk full), the current one stays in use.
func (w *WAL) cut() error {
	// Closing a segment with the remains of a failed write would leave them in the middle of the
	// log, where a reader reports corruption and repair drops everything after.
	if err := w.undoFailedWrite(); err != nil {
		return err
	}
	if err := w.fsync(w.seg); err != nil {
		return fmt.Errorf("sync WAL segment %d: %w", w.segIdx, err)
	}
	next := w.segIdx + 1
	f, err := w.openFile(SegmentName(w.dir, next))
	if err != nil {
		return fmt.Errorf("create WAL segment %d: %w", next, err)
	}
	old, oldIdx := w.seg, w.segIdx
	w.seg, w.segIdx, w.segOff, w.dirty = f, next, 0, false
	w.metrics.currentSegment.Set(float64(next))
	if err := old.Close(); err != nil {
		w.logger.Warn("Closing WAL segment", "segment", oldIdx, "err", err)
	}
	// The new name must be durable before anything written into the file can be: a later fsync
	// of the file does not persist its directory entry.
	if err := fileutil.SyncDir(w.dir); err != nil {
		return err
	}
	w.notify()
	return nil
}

func (w *WAL) fsync(f segmentFile) error {
	start := time.Now()
	err := f.Sync()
	w.metrics.fsyncDuration.Observe(time.Since(start).Seconds())
	return err
}

// NextSegment closes the current segment and starts a new one, returning its index.
func (w *WAL) NextSegment() (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	if err := w.cut(); err != nil {
		return 0, err
	}
	return w.segIdx, nil
}

// Segments returns the first and last segment index in the directory, -1, -1 when there is none.
func (w *WAL) Segments() (first, last int, err error) {
	segs, err := listSegments(w.dir)
	if err != nil {
		return -1, -1, err
	}
	if len(segs) == 0 {
		return -1, -1, nil
	}
	return segs[0], segs[len(segs)-1], nil
}

// Truncate deletes all segments with an index below i. The segment being written is never
// deleted.
func (w *WAL) Truncate(i int) (err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.metrics.truncations.Inc()
	defer func() {
		if err != nil {
			w.metrics.truncationsFailed.Inc()
		}
	}()
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if s >= i || (s == w.segIdx && !w.closed) {
			break
		}
		if err := os.Remove(SegmentName(w.dir, s)); err != nil {
			return fmt.Errorf("delete WAL segment %d: %w", s, err)
		}
	}
	return nil
}

// Sync fsyncs the current segment.
func (w *WAL) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if err := w.fsync(w.seg); err != nil {
		return fmt.Errorf("sync WAL segment %d: %w", w.segIdx, err)
	}
	return nil
}

// Close fsyncs and closes the current segment. Calling it again is a no-op.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.undoFailedWrite(); err != nil {
		// The remains were zeroed; the next Open drops them as a torn tail of the last segment.
		w.logger.Error("Closing WAL with the remains of a failed write", "err", err)
	}
	if err := w.fsync(w.seg); err != nil {
		w.seg.Close()
		return fmt.Errorf("sync WAL segment %d: %w", w.segIdx, err)
	}
	if err := w.seg.Close(); err != nil {
		return fmt.Errorf("close WAL segment %d: %w", w.segIdx, err)
	}
	return nil
}

// Size returns the bytes used by all files under the WAL directory: segments and checkpoints.
func (w *WAL) Size() (int64, error) {
	var size int64
	err := filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			// A checkpoint or segment deleted while we walk is not an error for a size estimate.
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("measure WAL directory: %w", err)
	}
	return size, nil
}

// Repair fixes the corruption a Reader reported in this WAL: the damaged segment is truncated at
// the bad record and all later segments are deleted, keeping everything before it. Writing
// continues in a new segment after the truncated one.
func (w *WAL) Repair(cerr *CorruptionErr) error {
	if cerr == nil {
		return errors.New("repair WAL: nil corruption error")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if filepath.Clean(cerr.Dir) != filepath.Clean(w.dir) {
		return fmt.Errorf("repair WAL: corruption is in %s, not in the WAL directory %s: %w", cerr.Dir, w.dir, cerr)
	}
	if cerr.Segment < 0 || cerr.Offset < 0 {
		return fmt.Errorf("repair WAL: invalid location: %w", cerr)
	}
	segs, err := listSegments(w.dir)
	if err != nil {
		return err
	}
	if !slices.Contains(segs, cerr.Segment) {
		return fmt.Errorf("repair WAL: segment %d does not exist: %w", cerr.Segment, cerr)
	}
	// The current segment is at or after the damaged one (it is created after every segment a
	// replay reads), so it goes too; close it before deleting it.
	if err := w.seg.Close(); err != nil {
		w.logger.Warn("Closing WAL segment before repair", "segment", w.segIdx, "err", err)
	}
	var dropped int64
	for _, s := range segs {
		if s <= cerr.Segment {
			continue
		}
		name := SegmentName(w.dir, s)
		if fi, err := os.Stat(name); err == nil {
			dropped += fi.Size()
		}
		if err := os.Remove(name); err != nil {
			w.closed = true // no usable segment is left open; refuse writes rather than misplace them
			return fmt.Errorf("repair WAL: delete segment %d: %w", s, err)
		}
	}
	name := SegmentName(w.dir, cerr.Segment)
	if fi, err := os.Stat(name); err == nil && fi.Size() > cerr.Offset {
		dropped += fi.Size() - cerr.Offset
	}
	w.logger.Warn("Repairing corrupt WAL: truncating segment and deleting all later ones",
		"segment", name, "offset", cerr.Offset, "bytes_dropped", dropped, "err", cerr.Err)
	w.metrics.corruptions.Inc()
	if err := truncateFile(name, cerr.Offset); err != nil {
		w.closed = true
		return fmt.Errorf("repair WAL: %w", err)
	}
	if err := w.createSegment(cerr.Segment + 1); err != nil {
		w.closed = true
		return fmt.Errorf("repair WAL: %w", err)
	}
	return nil
}

// listSegments returns the sorted indexes of the segment files in dir.
func listSegments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list WAL segments: %w", err)
	}
	var segs []int
	for _, e := range entries {
		i, ok := parseIndex(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		segs = append(segs, i)
	}
	slices.Sort(segs)
	return segs, nil
}

// parseIndex parses a name made only of decimal digits.
func parseIndex(name string) (int, bool) {
	if name == "" {
		return 0, false
	}
	for _, c := range name {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(name)
	return i, err == nil
}

// CountCorruption counts damage found outside the segments' own repair, such as a damaged
// checkpoint at replay, in the WAL's corruption metric.
func (w *WAL) CountCorruption() { w.metrics.corruptions.Inc() }

type metrics struct {
	fsyncDuration      prometheus.Summary
	corruptions        prometheus.Counter
	writesFailed       prometheus.Counter
	currentSegment     prometheus.Gauge
	truncations        prometheus.Counter
	truncationsFailed  prometheus.Counter
	checkpoints        prometheus.Counter
	checkpointsFailed  prometheus.Counter
	checkpointsDeleted prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		fsyncDuration: prometheus.NewSummary(prometheus.SummaryOpts{
			Name:       "prometheus_tsdb_wal_fsync_duration_seconds",
			Help:       "Duration of WAL segment fsyncs.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}),
		corruptions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_wal_corruptions_total",
			Help: "Corrupt or torn WAL records found and repaired.",
		}),
		writesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_wal_writes_failed_total",
			Help: "WAL writes that failed (the records were not logged).",
		}),
		currentSegment: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_tsdb_wal_segment_current",
			Help: "Index of the WAL segment being written.",
		}),
		truncations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_wal_truncations_total",
			Help: "WAL truncations (deletions of old segments) attempted.",
		}),
		truncationsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_wal_truncations_failed_total",
			Help: "WAL truncations that failed.",
		}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_checkpoint_creations_total",
			Help: "WAL checkpoint creations attempted.",
		}),
		checkpointsFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_checkpoint_creations_failed_total",
			Help: "WAL checkpoint creations that failed.",
		}),
		checkpointsDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_tsdb_checkpoint_deletions_total",
			Help: "Old WAL checkpoints deleted.",
		}),
	}
	if reg == nil {
		return m
	}
	// A DB that closes and reopens its WAL on the same registry keeps counting in the collectors
	// registered first rather than failing.
	m.fsyncDuration = register(reg, m.fsyncDuration)
	m.corruptions = register(reg, m.corruptions)
	m.writesFailed = register(reg, m.writesFailed)
	m.currentSegment = register(reg, m.currentSegment)
	m.truncations = register(reg, m.truncations)
	m.truncationsFailed = register(reg, m.truncationsFailed)
	m.checkpoints = register(reg, m.checkpoints)
	m.checkpointsFailed = register(reg, m.checkpointsFailed)
	m.checkpointsDeleted = register(reg, m.checkpointsDeleted)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("register WAL metric: %v", err))
	}
	return c
}
