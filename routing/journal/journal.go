// Package journal makes the alerting state (silences, notification log) durable between the
// periodic snapshots that Alertmanager's silence and nflog packages write: every change is
// appended to a journal and fsynced before it is acknowledged, the journal is replayed on top
// of the snapshot at start, and each snapshot lets the journal segments it covers go.
//
// A journal is a series of segment files <name>.journal.<seq> in one directory. A record is
//
//	length uint32 (big endian) | crc32c(payload) uint32 (big endian) | payload
//
// where the payload is what the state's broadcast callback carries (one length-delimited
// MeshSilence or MeshEntry), so that replay is upstream's Merge. Writing starts a new segment
// at every Open and Rotate, so only the newest segment can have a torn tail; such a tail
// (a crash mid-write) is cut off and counted, while damage anywhere else sets the segment
// aside as corrupt after the records before the damage were replayed.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

const (
	headerSize = 8
	// maxRecord bounds a record's length field, so that a damaged length is recognised as
	// damage rather than read as a huge allocation. Alertmanager's gossip messages are far
	// smaller; a silence is limited by --silences.max-silence-size-bytes if set.
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Metrics are shared by all journals of a process and labelled by file.
type Metrics struct {
	corruptions *prometheus.CounterVec
	tornTails   *prometheus.CounterVec
	writeFails  *prometheus.CounterVec
	fsyncs      *prometheus.CounterVec
}

// NewMetrics registers the alerting state metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		corruptions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerting_state_corruptions_total",
			Help: "Alerting state files (silences and notification log snapshots and journals) found damaged at start and set aside.",
		}, []string{"file"}),
		tornTails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerting_state_journal_torn_tails_total",
			Help: "Incomplete records at the end of an alerting state journal (a crash mid-write) dropped at start.",
		}, []string{"file"}),
		writeFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerting_state_journal_writes_failed_total",
			Help: "Alerting state changes that could not be written or fsynced to their journal.",
		}, []string{"file"}),
		fsyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_alerting_state_journal_fsyncs_total",
			Help: "Fsyncs of alerting state journals; concurrent changes share one (group commit).",
		}, []string{"file"}),
	}
	if reg != nil {
		reg.MustRegister(m.corruptions, m.tornTails, m.writeFails, m.fsyncs)
	}
	return m
}

// Corruption counts a damaged state file (labelled file) that was set aside.
func (m *Metrics) Corruption(file string) { m.corruptions.WithLabelValues(file).Inc() }

// InitFile makes the corruption counter of file exist (at zero) before any damage is found.
func (m *Metrics) InitFile(file string) { m.corruptions.WithLabelValues(file) }

// Journal is an append-only log of state changes. Append and Commit are safe for concurrent
// use.
type Journal struct {
	dir, name string
	logger    *slog.Logger
	metrics   *Metrics

	// syncMu serializes fsyncs and rotations; mu guards the open segment and the write offset.
	// Lock order: syncMu before mu.
	syncMu  sync.Mutex
	mu      sync.Mutex
	f       *os.File
	seq     int
	written uint64 // bytes appended since Open, across segments
	broken  bool   // the last write failed: the next Append starts a new segment
	synced  atomic.Uint64

	replayedSegments int
}

// Open replays the journal segments of name in dir, passing each intact record's payload to
// apply in the order written, repairs a torn tail, sets damaged segments aside, and starts a
// new segment for writing.
func Open(dir, name string, apply func([]byte) error, logger *slog.Logger, m *Metrics) (*Journal, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	j := &Journal{dir: dir, name: name, logger: logger, metrics: m}
	seqs, err := j.segments()
	if err != nil {
		return nil, err
	}
	m.corruptions.WithLabelValues(j.fileLabel())
	m.tornTails.WithLabelValues(j.fileLabel())
	m.writeFails.WithLabelValues(j.fileLabel())
	m.fsyncs.WithLabelValues(j.fileLabel())
	for i, seq := range seqs {
		if err := j.replaySegment(seq, i == len(seqs)-1, apply); err != nil {
			return nil, err
		}
	}
	j.replayedSegments = len(seqs)
	next := 1
	if len(seqs) > 0 {
		next = seqs[len(seqs)-1] + 1
	}
	if err := j.startSegment(next); err != nil {
		return nil, err
	}
	return j, nil
}

// ReplayedSegments is the number of segments Open found (and replayed or set aside). When it
// is not zero, a snapshot right after Open keeps repeated crashes from piling up segments.
func (j *Journal) ReplayedSegments() int { return j.replayedSegments }

func (j *Journal) fileLabel() string { return j.name + ".journal" }

// SegmentName is the path of segment seq.
func (j *Journal) SegmentName(seq int) string {
	return filepath.Join(j.dir, fmt.Sprintf("%s.journal.%08d", j.name, seq))
}

// segments lists the sequence numbers of the segments on disk, ascending.
func (j *Journal) segments() ([]int, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("listing journal segments: %w", err)
	}
	prefix := j.name + ".journal."
	var seqs []int
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || e.IsDir() {
			continue
		}
		seq, err := strconv.Atoi(rest)
		if err != nil || seq <= 0 {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs, nil
}

// damage is where and why a segment stops being readable.
type damage struct {
	offset int64
	torn   bool // the damage reaches the end of the file: an interrupted write
	reason string
}

// scan reads the records of b, calling apply for each, and reports the first damage.
func scan(b []byte, apply func([]byte) error) (n int, d *damage) {
	off := 0
	for off < len(b) {
		rest := b[off:]
		if len(rest) < headerSize {
			return n, &damage{offset: int64(off), torn: true, reason: "incomplete record header"}
		}
		length := binary.BigEndian.Uint32(rest[:4])
		sum := binary.BigEndian.Uint32(rest[4:8])
		if length == 0 && sum == 0 && allZero(rest) {
			// Preallocated or zero-filled after a crash: nothing was written here.
			return n, &damage{offset: int64(off), torn: true, reason: "zero-filled tail"}
		}
		if length > maxRecord {
			return n, &damage{offset: int64(off), reason: fmt.Sprintf("record length %d exceeds the limit", length)}
		}
		end := headerSize + int(length)
		if end > len(rest) {
			return n, &damage{offset: int64(off), torn: true, reason: "incomplete record"}
		}
		payload := rest[headerSize:end]
		if crc32.Checksum(payload, castagnoli) != sum {
			// A bad checksum on the last record is an interrupted write; anywhere else, damage.
			return n, &damage{offset: int64(off), torn: end == len(rest), reason: "checksum mismatch"}
		}
		if err := apply(payload); err != nil {
			return n, &damage{offset: int64(off), reason: fmt.Sprintf("record cannot be applied: %v", err)}
		}
		n++
		off += end
	}
	return n, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (j *Journal) replaySegment(seq int, last bool, apply func([]byte) error) error {
	path := j.SegmentName(seq)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading journal segment: %w", err)
	}
	n, d := scan(b, apply)
	switch {
	case d == nil:
		j.logger.Debug("replayed journal segment", "file", path, "records", n)
		return nil
	case d.torn && last:
		// A crash mid-write: the record was never acknowledged. Drop it quietly.
		j.logger.Debug("dropping torn journal tail", "file", path, "offset", d.offset, "bytes", int64(len(b))-d.offset, "records", n, "reason", d.reason)
		j.metrics.tornTails.WithLabelValues(j.fileLabel()).Inc()
		return truncate(path, d.offset)
	default:
		aside, err := SetAside(path, time.Now())
		if err != nil {
			return fmt.Errorf("setting damaged journal segment aside: %w", err)
		}
		j.metrics.Corruption(j.fileLabel())
		j.logger.Error("journal segment is damaged; changes after the damage are lost, the file is set aside",
			"file", path, "moved_to", aside, "offset", d.offset, "records_replayed", n, "reason", d.reason)
		return nil
	}
}

func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening journal segment for repair: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncating torn journal tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync repaired journal segment: %w", err)
	}
	return nil
}

// SetAside renames a damaged file to <path>.corrupt-<time> so that it is kept for inspection
// and no longer loaded, and returns the new name.
func SetAside(path string, now time.Time) (string, error) {
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(path, aside); err != nil {
		return "", err
	}
	return aside, fileutil.SyncDir(filepath.Dir(path))
}

// startSegment creates segment seq and makes its creation durable. Callers hold syncMu and mu
// or own j exclusively.
func (j *Journal) startSegment(seq int) error {
	f, err := os.OpenFile(j.SegmentName(seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o666)
	if err != nil {
		return fmt.Errorf("creating journal segment: %w", err)
	}
	if err := fileutil.SyncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	j.f, j.seq, j.broken = f, seq, false
	return nil
}

// Append writes one record. It is in the operating system's cache when Append returns (it
// survives the process being killed); Commit makes it durable.
func (j *Journal) Append(payload []byte) error {
	if len(payload) > maxRecord {
		j.metrics.writeFails.WithLabelValues(j.fileLabel()).Inc()
		return fmt.Errorf("journal record of %d bytes exceeds the limit of %d", len(payload), maxRecord)
	}
	buf := frame(payload)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal is closed")
	}
	if j.broken {
		// A failed write may have left part of a record: continue in a fresh segment so that
		// the damage stays at the end of the old one.
		if err := j.f.Close(); err != nil {
			j.logger.Warn("closing journal segment after a failed write", "err", err)
		}
		if err := j.startSegment(j.seq + 1); err != nil {
			j.metrics.writeFails.WithLabelValues(j.fileLabel()).Inc()
			return err
		}
	}
	if _, err := j.f.Write(buf); err != nil {
		j.broken = true
		j.metrics.writeFails.WithLabelValues(j.fileLabel()).Inc()
		return fmt.Errorf("writing journal record: %w", err)
	}
	j.written += uint64(len(buf))
	return nil
}

// frame encodes a record.
func frame(payload []byte) []byte {
	buf := make([]byte, headerSize+len(payload))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(payload, castagnoli))
	copy(buf[headerSize:], payload)
	return buf
}

// Commit returns once everything appended before the call is on stable storage. Concurrent
// callers share fsyncs.
func (j *Journal) Commit() error {
	j.mu.Lock()
	target, broken := j.written, j.broken
	j.mu.Unlock()
	if broken {
		return errors.New("the last journal write failed")
	}
	if j.synced.Load() >= target {
		return nil
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced.Load() >= target {
		return nil // a concurrent Commit's fsync covered our records
	}
	j.mu.Lock()
	f, upto := j.f, j.written
	j.mu.Unlock()
	if f == nil {
		return errors.New("journal is closed")
	}
	j.metrics.fsyncs.WithLabelValues(j.fileLabel()).Inc()
	if err := f.Sync(); err != nil {
		j.metrics.writeFails.WithLabelValues(j.fileLabel()).Inc()
		return fmt.Errorf("fsync journal: %w", err)
	}
	j.synced.Store(upto)
	return nil
}

// Rotate makes the current segment durable and starts a new one. It returns the sequence
// number of the new segment: once a snapshot taken after Rotate is durable, RemoveBefore(seq)
// deletes the segments that snapshot covers.
func (j *Journal) Rotate() (int, error) {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return 0, errors.New("journal is closed")
	}
	if err := j.f.Sync(); err != nil {
		j.metrics.writeFails.WithLabelValues(j.fileLabel()).Inc()
		return 0, fmt.Errorf("fsync journal before rotation: %w", err)
	}
	j.synced.Store(j.written)
	if err := j.f.Close(); err != nil {
		return 0, fmt.Errorf("closing journal segment: %w", err)
	}
	j.f = nil
	if err := j.startSegment(j.seq + 1); err != nil {
		return 0, err
	}
	return j.seq, nil
}

// RemoveBefore deletes the segments older than seq.
func (j *Journal) RemoveBefore(seq int) error {
	seqs, err := j.segments()
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range seqs {
		if s >= seq {
			break
		}
		if err := os.Remove(j.SegmentName(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close makes the journal durable and closes it.
func (j *Journal) Close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	return err
}

// ReadFile reads a snapshot for loading. A missing file is no snapshot (nil, nil).
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// WriteSnapshot replaces the snapshot at path with the state write produces, durably: a crash
// leaves the old snapshot or the new one.
func WriteSnapshot(path string, write func(io.Writer) (int64, error)) (int64, error) {
	var buf writeBuffer
	n, err := write(&buf)
	if err != nil {
		return n, err
	}
	return n, fileutil.WriteFileAtomic(path, buf.b)
}

type writeBuffer struct{ b []byte }

func (w *writeBuffer) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
