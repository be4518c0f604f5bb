package tsdb

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"

	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// walHandle ties the WAL to the head: logging, replay and checkpointing.
type walHandle struct {
	w      *wal.WAL
	dir    string
	logger *slog.Logger

	replayMu     sync.Mutex
	replayStatus WALReplayStatus
}

// WALReplayStatus is the progress of the WAL replay at start, as Prometheus reports it
// (/api/v1/status/walreplay): the first segment to replay (the checkpoint's index when there
// is one), the last segment, and the last segment fully replayed. After the replay Current is
// Max.
type WALReplayStatus struct {
	Min, Max, Current int
}

// WALReplayStatus returns the progress of the WAL replay.
func (db *DB) WALReplayStatus() WALReplayStatus {
	db.wal.replayMu.Lock()
	defer db.wal.replayMu.Unlock()
	return db.wal.replayStatus
}

func (h *walHandle) setReplayStatus(f func(*WALReplayStatus)) {
	h.replayMu.Lock()
	f(&h.replayStatus)
	h.replayMu.Unlock()
}

func openWAL(dir string, segmentSize int, logger *slog.Logger, reg prometheus.Registerer) (*walHandle, error) {
	w, err := wal.Open(dir, wal.Options{SegmentSize: segmentSize}, logger.With("component", "wal"), reg)
	if err != nil {
		return nil, fmt.Errorf("opening the WAL: %w", err)
	}
	return &walHandle{w: w, dir: dir, logger: logger}, nil
}

func (h *walHandle) Log(recs ...[]byte) error { return h.w.Log(recs...) }

func (h *walHandle) close() error { return h.w.Close() }

// replayStats count what replay did, for the log.
type replayStats struct {
	records, samples, outOfOrder, unknownRefs int
	// segmentDone, when set, is called with each WAL segment fully read.
	segmentDone func(seg int)
}

// replay loads the newest checkpoint and the segments after it into the head. A corrupt record
// ends the replay at that point: everything before it is kept, the WAL is repaired (the bad tail
// deleted) and the damage logged; the DB starts with what was readable.
func (h *walHandle) replay(head *Head, logger *slog.Logger) error {
	st := &replayStats{}
	refs := map[uint64]*memSeries{} // WAL refs whose series got another ref in the head
	from := 0
	cpName, cpIdx, err := wal.LastCheckpoint(h.dir)
	switch {
	case err == nil:
		r, err := wal.NewCheckpointReader(cpName)
		if err != nil {
			return fmt.Errorf("reading checkpoint %s: %w", cpName, err)
		}
		err = h.replayReader(r, head, refs, st)
		r.Close()
		if err != nil {
			// A damaged checkpoint cannot be repaired by truncation: the segments it replaced are
			// gone. Keep what was read and say so.
			logger.Error("checkpoint is damaged; data after the damage point is lost", "checkpoint", cpName, "err", err)
			h.w.CountCorruption()
		}
		from = cpIdx + 1
	case errors.Is(err, wal.ErrNotFound):
	default:
		return fmt.Errorf("finding the last checkpoint: %w", err)
	}
	first, last, err := h.w.Segments()
	if err != nil {
		return fmt.Errorf("listing WAL segments: %w", err)
	}
	// The status counts the checkpoint as its index, as Prometheus does.
	statusMin := max(first, 0)
	if cpName != "" {
		statusMin = cpIdx
	}
	h.setReplayStatus(func(s *WALReplayStatus) {
		*s = WALReplayStatus{Min: statusMin, Max: max(last, statusMin), Current: statusMin}
	})
	defer h.setReplayStatus(func(s *WALReplayStatus) { s.Current = s.Max })
	if first > from {
		from = first
	}
	if last >= from {
		r, err := wal.NewReader(h.dir, from, -1)
		if err != nil {
			return fmt.Errorf("reading WAL segments: %w", err)
		}
		st.segmentDone = func(seg int) { h.setReplayStatus(func(s *WALReplayStatus) { s.Current = seg }) }
		err = h.replayReader(r, head, refs, st)
		st.segmentDone = nil
		r.Close()
		if err != nil {
			var cerr *wal.CorruptionErr
			if !errors.As(err, &cerr) {
				return err
			}
			logger.Warn("WAL is corrupt; keeping everything before the damage", "segment", cerr.Segment, "offset", cerr.Offset, "err", cerr.Err)
			if err := h.w.Repair(cerr); err != nil {
				return fmt.Errorf("repairing the WAL: %w", err)
			}
		}
	}
	// Everything replayed is in the WAL already.
	head.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		s.logged = true
		s.mu.Unlock()
	})
	if st.outOfOrder > 0 || st.unknownRefs > 0 {
		logger.Warn("WAL replay skipped samples", "out_of_order", st.outOfOrder, "unknown_series", st.unknownRefs)
	}
	logger.Debug("WAL replay", "records", st.records, "samples", st.samples)
	return nil
}

func (h *walHandle) replayReader(r *wal.Reader, head *Head, refs map[uint64]*memSeries, st *replayStats) error {
	var (
		dec     record.Decoder
		series  []record.RefSeries
		samples []record.RefSample
		hists   []record.RefHistogramSample
		fhists  []record.RefFloatHistogramSample
		stones  []record.Stone
		sts     []record.RefSampleST
		err     error
	)
	minValid := head.minValidT.Load()
	lookup := func(ref uint64) *memSeries {
		if s, ok := refs[ref]; ok {
			return s
		}
		return head.series.getByRef(ref)
	}
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	seg := -1 // the segment of the previous record, reported done when the reader moves on
	defer func() {
		if st.segmentDone != nil && seg >= 0 {
			st.segmentDone(seg)
		}
	}()
	for r.Next() {
		if st.segmentDone != nil && r.Segment() != seg {
			if seg >= 0 {
				st.segmentDone(seg)
			}
			seg = r.Segment()
		}
		rec := r.Record()
		st.records++
		switch dec.Type(rec) {
		case record.Series:
			if series, err = dec.Series(rec, series[:0]); err != nil {
				return fmt.Errorf("decoding series record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range series {
				ms := head.getOrCreateWithRef(s.Ref, s.Labels) // interning copies the strings
				if ms.ref != s.Ref {
					refs[s.Ref] = ms
				}
			}
		case record.Samples:
			if samples, err = dec.Samples(rec, samples[:0]); err != nil {
				return fmt.Errorf("decoding samples record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range samples {
				if s.T < minValid {
					continue
				}
				ms := lookup(s.Ref)
				if ms == nil {
					st.unknownRefs++
					continue
				}
				ms.mu.Lock()
				ok := ms.append(s.T, s.V, head)
				ms.mu.Unlock()
				if !ok {
					st.outOfOrder++
					continue
				}
				st.samples++
				mint, maxt = min(mint, s.T), max(maxt, s.T)
			}
		case record.HistogramSamples:
			if hists, err = dec.HistogramSamples(rec, hists[:0]); err != nil {
				return fmt.Errorf("decoding histogram samples record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range hists {
				if replayHistogram(head, lookup, st, s.Ref, s.T, minValid, s.H, nil) {
					mint, maxt = min(mint, s.T), max(maxt, s.T)
				}
			}
		case record.FloatHistogramSamples:
			if fhists, err = dec.FloatHistogramSamples(rec, fhists[:0]); err != nil {
				return fmt.Errorf("decoding float histogram samples record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range fhists {
				if replayHistogram(head, lookup, st, s.Ref, s.T, minValid, nil, s.FH) {
					mint, maxt = min(mint, s.T), max(maxt, s.T)
				}
			}
		case record.SamplesST:
			if sts, err = dec.SamplesST(rec, sts[:0]); err != nil {
				return fmt.Errorf("decoding samples record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range sts {
				if s.T < minValid {
					continue
				}
				ms := lookup(s.Ref)
				if ms == nil {
					st.unknownRefs++
					continue
				}
				ms.mu.Lock()
				ok := ms.appendST(s.T, s.V, s.ST, head)
				ms.mu.Unlock()
				if !ok {
					st.outOfOrder++
					continue
				}
				st.samples++
				mint, maxt = min(mint, s.T), max(maxt, s.T)
			}
		case record.Tombstones:
			if stones, err = dec.Tombstones(rec, stones[:0]); err != nil {
				return fmt.Errorf("decoding tombstones record in segment %d: %w", r.Segment(), err)
			}
			for _, s := range stones {
				ms := lookup(s.Ref)
				if ms == nil {
					continue
				}
				for _, iv := range s.Intervals {
					head.tombstones.AddInterval(ms.ref, tombstones.Interval{Mint: iv.Mint, Maxt: iv.Maxt})
				}
			}
		default:
			return fmt.Errorf("unknown WAL record type %d in segment %d", rec[0], r.Segment())
		}
	}
	if mint <= maxt {
		head.updateTimes(mint, maxt)
	}
	return r.Err()
}

// replayHistogram appends one replayed histogram sample; false when it was skipped.
func replayHistogram(head *Head, lookup func(uint64) *memSeries, st *replayStats, ref uint64, t, minValid int64, h *histogram.Histogram, fh *histogram.FloatHistogram) bool {
	if t < minValid {
		return false
	}
	ms := lookup(ref)
	if ms == nil {
		st.unknownRefs++
		return false
	}
	ms.mu.Lock()
	ok := ms.appendHistogram(t, h, fh, head)
	ms.mu.Unlock()
	if !ok {
		st.outOfOrder++
		return false
	}
	st.samples++
	return true
}

// checkpoint rewrites the WAL after the head was truncated at mint: the live series and the
// samples still in the head go into a checkpoint, older segments are deleted.
func (h *walHandle) checkpoint(head *Head, mint int64) error {
	first, _, err := h.w.Segments()
	if err != nil {
		return fmt.Errorf("listing WAL segments: %w", err)
	}
	cur, err := h.w.NextSegment()
	if err != nil {
		return fmt.Errorf("cutting a WAL segment: %w", err)
	}
	last := cur - 1
	if last < first {
		return nil
	}
	keep := func(ref uint64) bool { return head.series.getByRef(ref) != nil }
	if _, err := wal.Checkpoint(h.logger, h.w, first, last, keep, mint); err != nil {
		return fmt.Errorf("creating WAL checkpoint: %w", err)
	}
	if err := h.w.Truncate(last + 1); err != nil {
		return fmt.Errorf("truncating the WAL: %w", err)
	}
	return nil
}
