package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// ErrNotFound is returned by LastCheckpoint when the directory holds no checkpoint.
var ErrNotFound = errors.New("not found")

const checkpointPrefix = "checkpoint."

// CheckpointStats counts what a checkpoint kept and dropped.
type CheckpointStats struct {
	DroppedSeries     int
	DroppedSamples    int
	DroppedTombstones int // stones (one series' intervals) dropped entirely
	TotalSeries       int // series entries read, kept or not
	TotalSamples      int
	TotalTombstones   int
}

// CheckpointName returns the path of checkpoint i in the WAL directory dir.
func CheckpointName(dir string, i int) string {
	return filepath.Join(dir, fmt.Sprintf("%s%08d", checkpointPrefix, i))
}

// LastCheckpoint returns the path and index of the newest complete checkpoint in dir, or
// ErrNotFound.
func LastCheckpoint(dir string) (name string, idx int, err error) {
	cps, err := listCheckpoints(dir)
	if err != nil {
		return "", 0, err
	}
	if len(cps) == 0 {
		return "", 0, ErrNotFound
	}
	idx = cps[len(cps)-1]
	return CheckpointName(dir, idx), idx, nil
}

// listCheckpoints returns the sorted indexes of the complete checkpoints in dir (.tmp ones are
// incomplete and skipped).
func listCheckpoints(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	var cps []int
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), checkpointPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		if i, ok := parseIndex(rest); ok {
			cps = append(cps, i) // ReadDir sorts by name and names are zero-padded
		}
	}
	return cps, nil
}

// removeTmpCheckpoints deletes checkpoints left half-written by a crash: they are never read
// (LastCheckpoint skips them) and only take disk space.
func removeTmpCheckpoints(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list WAL directory: %w", err)
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), checkpointPrefix) || !strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		logger.Info("Removing incomplete WAL checkpoint", "path", path)
		if err := os.RemoveAll(path); err != nil {
			return fmt.Errorf("remove incomplete checkpoint: %w", err)
		}
	}
	return nil
}

// Checkpoint compacts the last checkpoint (if any) and WAL segments [from, to] of w into
// checkpoint.<to>: it keeps the series records of series for which keep returns true, their
// samples at or after mint and their tombstones that reach mint, and drops everything else. The
// checkpoint is written to a .tmp directory, fsynced and renamed into place, after which older
// checkpoints are deleted. The caller then truncates the WAL to segment to+1. Segments of the
// range that the last checkpoint already holds are skipped; to must be a closed segment.
func Checkpoint(logger *slog.Logger, w *WAL, from, to int, keep func(ref uint64) bool, mint int64) (stats *CheckpointStats, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w.metrics.checkpoints.Inc()
	defer func() {
		if err != nil {
			w.metrics.checkpointsFailed.Inc()
		}
	}()
	if from > to {
		return nil, fmt.Errorf("checkpoint: empty segment range [%d, %d]", from, to)
	}
	w.mu.Lock()
	current := w.segIdx
	w.mu.Unlock()
	if to >= current {
		// The segment being written may hold a batch whose write is in flight.
		return nil, fmt.Errorf("checkpoint: segment %d is not closed (writing segment %d)", to, current)
	}
	dir := w.Dir()
	stats = &CheckpointStats{}

	var readers []*Reader
	defer func() {
		for _, r := range readers {
			r.Close()
		}
	}()
	lastCP, lastIdx, err := LastCheckpoint(dir)
	switch {
	case err == nil:
		if lastIdx >= to {
			return nil, fmt.Errorf("checkpoint: last checkpoint %d already covers segments up to %d", lastIdx, to)
		}
		if from > lastIdx+1 {
			return nil, fmt.Errorf("checkpoint: segments %d to %d are in neither the last checkpoint (%d) nor the range", lastIdx+1, from-1, lastIdx)
		}
		// Segments up to lastIdx are already in the checkpoint; they are left over when a crash
		// came between writing it and truncating the WAL.
		from = lastIdx + 1
		r, err := NewCheckpointReader(lastCP)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: open last checkpoint: %w", err)
		}
		readers = append(readers, r)
	case errors.Is(err, ErrNotFound):
	default:
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	first, last, err := segmentRange(dir, from, to)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if first != from || last != to {
		return nil, fmt.Errorf("checkpoint: want segments [%d, %d], found [%d, %d]", from, to, first, last)
	}
	r, err := NewReader(dir, from, to)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	readers = append(readers, r)

	final := CheckpointName(dir, to)
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("checkpoint: remove stale %s: %w", tmp, err)
	}
	cp, err := Open(tmp, Options{SegmentSize: w.segmentSize}, logger, nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: create: %w", err)
	}
	cpClosed := false
	defer func() {
		if !cpClosed {
			cp.Close()
		}
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	f := checkpointFilter{keep: keep, mint: mint, stats: stats, out: cp}
	for _, r := range readers {
		for r.Next() {
			if err := f.add(r.Record()); err != nil {
				return nil, fmt.Errorf("checkpoint: segment %s offset %d: %w", SegmentName(r.dir, r.Segment()), r.Offset(), err)
			}
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("checkpoint: read: %w", err)
		}
	}
	if err := f.flush(); err != nil {
		return nil, fmt.Errorf("checkpoint: write: %w", err)
	}
	cpClosed = true
	if err := cp.Close(); err != nil {
		return nil, fmt.Errorf("checkpoint: close: %w", err)
	}
	if err := fileutil.SyncDir(tmp); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	// A complete checkpoint of the same index can exist if a previous run crashed between the
	// rename and truncating the WAL; the one just written covers the same segments.
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("checkpoint: remove existing %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("checkpoint: rename into place: %w", err)
	}
	if err := fileutil.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	// The new checkpoint is durable; failing to delete the old ones only costs disk space, they
	// will go with the next checkpoint.
	if err := deleteCheckpoints(w, to); err != nil {
		logger.Warn("Deleting old WAL checkpoints", "err", err)
	}
	logger.Info("WAL checkpoint created", "checkpoint", final, "from", from, "to", to, "mint", mint,
		"series", stats.TotalSeries-stats.DroppedSeries, "samples", stats.TotalSamples-stats.DroppedSamples,
		"dropped_series", stats.DroppedSeries, "dropped_samples", stats.DroppedSamples)
	return stats, nil
}

// segmentRange returns the first and last segment of dir within [from, to], -1, -1 if none.
func segmentRange(dir string, from, to int) (int, int, error) {
	segs, err := listSegments(dir)
	if err != nil {
		return -1, -1, err
	}
	first, last := -1, -1
	for _, s := range segs {
		if s < from || s > to {
			continue
		}
		if first < 0 {
			first = s
		}
		last = s
	}
	return first, last, nil
}

// deleteCheckpoints removes the checkpoints of w's directory with an index below maxIndex.
func deleteCheckpoints(w *WAL, maxIndex int) error {
	cps, err := listCheckpoints(w.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, i := range cps {
		if i >= maxIndex {
			break
		}
		if err := os.RemoveAll(CheckpointName(w.dir, i)); err != nil {
			errs = append(errs, err)
			continue
		}
		w.metrics.checkpointsDeleted.Inc()
	}
	return errors.Join(errs...)
}

// checkpointBatch is how many bytes of records the checkpoint writer collects per Log call: big
// enough that the writes are efficient, small enough to bound memory.
const checkpointBatch = 1 << 20

// checkpointFilter decodes records, keeps what the checkpoint must hold and writes it out in
// batches.
type checkpointFilter struct {
	keep  func(uint64) bool
	mint  int64
	stats *CheckpointStats
	out   *WAL

	dec     record.Decoder
	enc     record.Encoder
	series  []record.RefSeries
	samples []record.RefSample
	hists   []record.RefHistogramSample
	fhists  []record.RefFloatHistogramSample
	sts     []record.RefSampleST
	stones  []record.Stone
	scratch []byte

	// Records waiting to be logged, as one arena with boundaries, so the batch costs no
	// allocation per record.
	arena []byte
	ends  []int
	recs  [][]byte
}

func (f *checkpointFilter) add(rec []byte) error {
	var err error
	switch f.dec.Type(rec) {
	case record.Series:
		f.series, err = f.dec.Series(rec, f.series)
		if err != nil {
			return fmt.Errorf("decode series: %w", err)
		}
		f.stats.TotalSeries += len(f.series)
		kept := f.series[:0]
		for _, s := range f.series {
			if f.keep(s.Ref) {
				kept = append(kept, s)
			}
		}
		f.stats.DroppedSeries += len(f.series) - len(kept)
		if len(kept) > 0 {
			f.scratch = f.enc.Series(kept, f.scratch)
			return f.push(f.scratch)
		}
	case record.Samples:
		f.samples, err = f.dec.Samples(rec, f.samples)
		if err != nil {
			return fmt.Errorf("decode samples: %w", err)
		}
		f.stats.TotalSamples += len(f.samples)
		kept := f.samples[:0]
		for _, s := range f.samples {
			if s.T >= f.mint && f.keep(s.Ref) {
				kept = append(kept, s)
			}
		}
		f.stats.DroppedSamples += len(f.samples) - len(kept)
		if len(kept) > 0 {
			f.scratch = f.enc.Samples(kept, f.scratch)
			return f.push(f.scratch)
		}
	case record.HistogramSamples, record.HistogramSamplesST:
		f.hists, err = f.dec.HistogramSamples(rec, f.hists)
		if err != nil {
			return fmt.Errorf("decode histogram samples: %w", err)
		}
		f.stats.TotalSamples += len(f.hists)
		kept := f.hists[:0]
		for _, s := range f.hists {
			if s.T >= f.mint && f.keep(s.Ref) {
				kept = append(kept, s)
			}
		}
		f.stats.DroppedSamples += len(f.hists) - len(kept)
		if len(kept) > 0 {
			if f.dec.Type(rec) == record.HistogramSamplesST {
				f.scratch = f.enc.HistogramSamplesST(kept, f.scratch)
			} else {
				f.scratch = f.enc.HistogramSamples(kept, f.scratch)
			}
			return f.push(f.scratch)
		}
	case record.FloatHistogramSamples, record.FloatHistogramSamplesST:
		f.fhists, err = f.dec.FloatHistogramSamples(rec, f.fhists)
		if err != nil {
			return fmt.Errorf("decode float histogram samples: %w", err)
		}
		f.stats.TotalSamples += len(f.fhists)
		kept := f.fhists[:0]
		for _, s := range f.fhists {
			if s.T >= f.mint && f.keep(s.Ref) {
				kept = append(kept, s)
			}
		}
		f.stats.DroppedSamples += len(f.fhists) - len(kept)
		if len(kept) > 0 {
			if f.dec.Type(rec) == record.FloatHistogramSamplesST {
				f.scratch = f.enc.FloatHistogramSamplesST(kept, f.scratch)
			} else {
				f.scratch = f.enc.FloatHistogramSamples(kept, f.scratch)
			}
			return f.push(f.scratch)
		}
	case record.SamplesST:
		f.sts, err = f.dec.SamplesST(rec, f.sts)
		if err != nil {
			return fmt.Errorf("decode samples with start timestamps: %w", err)
		}
		f.stats.TotalSamples += len(f.sts)
		kept := f.sts[:0]
		for _, s := range f.sts {
			if s.T >= f.mint && f.keep(s.Ref) {
				kept = append(kept, s)
			}
		}
		f.stats.DroppedSamples += len(f.sts) - len(kept)
		if len(kept) > 0 {
			f.scratch = f.enc.SamplesST(kept, f.scratch)
			return f.push(f.scratch)
		}
	case record.Tombstones:
		f.stones, err = f.dec.Tombstones(rec, f.stones)
		if err != nil {
			return fmt.Errorf("decode tombstones: %w", err)
		}
		f.stats.TotalTombstones += len(f.stones)
		kept := f.stones[:0]
		for _, s := range f.stones {
			if !f.keep(s.Ref) {
				continue
			}
			// Intervals entirely before mint only covered samples the checkpoint drops.
			ivs := s.Intervals[:0]
			for _, iv := range s.Intervals {
				if iv.Maxt >= f.mint {
					ivs = append(ivs, iv)
				}
			}
			if len(ivs) > 0 {
				kept = append(kept, record.Stone{Ref: s.Ref, Intervals: ivs})
			}
		}
		f.stats.DroppedTombstones += len(f.stones) - len(kept)
		if len(kept) > 0 {
			f.scratch = f.enc.Tombstones(kept, f.scratch)
			return f.push(f.scratch)
		}
	default:
		if len(rec) == 0 {
			return errors.New("empty WAL record")
		}
		return fmt.Errorf("unknown WAL record type %d", rec[0])
	}
	return nil
}

func (f *checkpointFilter) push(rec []byte) error {
	f.arena = append(f.arena, rec...)
	f.ends = append(f.ends, len(f.arena))
	if len(f.arena) >= checkpointBatch {
		return f.flush()
	}
	return nil
}

func (f *checkpointFilter) flush() error {
	if len(f.ends) == 0 {
		return nil
	}
	f.recs = f.recs[:0]
	start := 0
	for _, end := range f.ends {
		f.recs = append(f.recs, f.arena[start:end])
		start = end
	}
	if err := f.out.Log(f.recs...); err != nil {
		return err
	}
	f.arena, f.ends = f.arena[:0], f.ends[:0]
	return nil
}
