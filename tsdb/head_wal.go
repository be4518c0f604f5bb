package tsdb

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

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
//
// from >= 0 is the first segment after a head snapshot the head was restored from: the
// checkpoint (older) is skipped and replay starts there.
func (h *walHandle) replay(head *Head, logger *slog.Logger, from int) error {
	st := &replayStats{}
	rp := newWALReplayer(head, replayWorkers)
	defer rp.stop()
	cpName, cpIdx, err := wal.LastCheckpoint(h.dir)
	if from >= 0 {
		cpName, cpIdx, err = "", 0, wal.ErrNotFound
	} else {
		from = 0
	}
	switch {
	case err == nil:
		r, err := wal.NewCheckpointReader(cpName)
		if err != nil {
			return fmt.Errorf("reading checkpoint %s: %w", cpName, err)
		}
		err = rp.replay(r, st)
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
	statusMin := max(first, from, 0)
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
		err = rp.replay(r, st)
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
	rp.finish(st)
	if st.outOfOrder > 0 || st.unknownRefs > 0 {
		logger.Warn("WAL replay skipped samples", "out_of_order", st.outOfOrder, "unknown_series", st.unknownRefs)
	}
	logger.Debug("WAL replay", "records", st.records, "samples", st.samples, "workers", len(rp.shards))
	return nil
}

// replayWorkers is the number of replay workers; 0 means one per CPU (benchmarks vary it).
var replayWorkers = 0

// walReplayer applies WAL records to the head in parallel. One goroutine (the caller of replay)
// reads and decodes records and scatters their contents into per-shard batches; one worker per
// shard applies them. A series record goes to the shard its label hash picks, and the reader
// remembers the shard of each WAL ref (one byte per ref); samples and tombstones of a ref go
// to its shard. So everything about one series, even when it was logged under two refs (a
// series removed and created again), reaches one worker in WAL order: a series is created
// before its samples are appended, and its samples are appended in order. Batches travel through bounded channels and are
// recycled, so replay holds a few megabytes beyond the head however large the WAL.
//
// Series are created without being indexed (the postings): finish indexes them all at once in
// ref order, which keeps every postings list append-only (parallel creation would interleave
// refs) and is faster than indexing one by one. Nothing queries the head before replay ends.
//
// Adding a record type (native histogram samples, start timestamps): one case in
// walReplayer.decode that decodes the record and scatters its entries into a new slice of
// replayBatch by shard (see the Samples case), and the loop applying that slice in
// replayShard.apply. Entries that need the series must be applied after the batch's series.
type walReplayer struct {
	head     *Head
	minValid int64
	shards   []*replayShard
	batches  []*replayBatch // the batch being filled for each shard
	free     chan *replayBatch
	wg       sync.WaitGroup
	stopped  bool

	refShards refShards

	dec     record.Decoder
	series  []record.RefSeries
	samples []record.RefSample
	sts     []record.RefSampleST
	hists   []record.RefHistogramSample
	fhists  []record.RefFloatHistogramSample
	stones  []record.Stone
}

// replayBatch is the work for one shard: series to create, then samples and tombstones to apply.
// Samples of the different record types (floats, floats with start timestamps, integer and
// float histograms) are kept in one slice per type; runs records the order in which they
// came, so that a series whose samples change type is replayed in WAL order.
type replayBatch struct {
	series  []replaySeries
	samples []record.RefSample
	sts     []record.RefSampleST
	hists   []record.RefHistogramSample
	fhists  []record.RefFloatHistogramSample
	runs    []replayRun
	stones  []record.Stone
}

// replayRun is a run of samples of one kind: the entries of the kind's slice up to end.
type replayRun struct {
	kind replayKind
	end  int
}

type replayKind uint8

const (
	replayFloat replayKind = iota
	replayFloatST
	replayHistogram
	replayFloatHistogram
)

// addRun notes that the samples of kind now end at end (a new run when the kind changes).
func (b *replayBatch) addRun(kind replayKind, end int) {
	if n := len(b.runs); n > 0 && b.runs[n-1].kind == kind {
		b.runs[n-1].end = end
		return
	}
	b.runs = append(b.runs, replayRun{kind: kind, end: end})
}

func (b *replayBatch) size() int {
	// A histogram weighs like 8 floats (its buckets).
	return len(b.series)*16 + len(b.samples) + len(b.sts) + 8*(len(b.hists)+len(b.fhists)) + len(b.stones)
}

func (b *replayBatch) reset() {
	clear(b.series) // labels: let the strings go
	clear(b.hists)  // and the histograms
	clear(b.fhists)
	b.series, b.samples, b.stones = b.series[:0], b.samples[:0], b.stones[:0]
	b.sts, b.hists, b.fhists, b.runs = b.sts[:0], b.hists[:0], b.fhists[:0], b.runs[:0]
}

// replayBatchSize is the entries (samples; a series counts as 16) after which a batch is sent.
const replayBatchSize = 4096

type replayShard struct {
	head     *Head
	minValid int64
	in       chan *replayBatch
	free     chan *replayBatch
	// refs maps WAL refs whose series got another ref in the head (the same labels logged
	// twice under two refs): only this shard's refs.
	refs                             map[uint64]*memSeries
	created                          []*memSeries
	samples, outOfOrder, unknownRefs int
	mint, maxt                       int64
	maxRef                           uint64 // the highest WAL ref of a series record
}

// newWALReplayer starts the workers; workers <= 0 means one per CPU.
func newWALReplayer(head *Head, workers int) *walReplayer {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, 255) // shards are kept in a byte per ref
	const queued = 4            // batches in flight per shard
	rp := &walReplayer{head: head, minValid: head.minValidT.Load(), free: make(chan *replayBatch, workers*(queued+2))}
	for range workers {
		sh := &replayShard{
			head: head, minValid: rp.minValid, in: make(chan *replayBatch, queued), free: rp.free,
			refs: map[uint64]*memSeries{}, mint: math.MaxInt64, maxt: math.MinInt64,
		}
		rp.shards = append(rp.shards, sh)
		rp.batches = append(rp.batches, &replayBatch{})
		rp.wg.Add(1)
		go func() {
			defer rp.wg.Done()
			for b := range sh.in {
				sh.apply(b)
				b.reset()
				select {
				case sh.free <- b:
				default:
				}
			}
		}()
	}
	return rp
}

// replaySeries is a series record entry and its label hash, computed once by the reader.
type replaySeries struct {
	record.RefSeries
	hash uint64
}

// shard returns the shard of a WAL ref: the one its series record went to, or (a ref without a
// series record, whose entries are counted as unknown) any.
func (rp *walReplayer) shard(ref uint64) int {
	if i := rp.refShards.get(ref); i > 0 {
		return i - 1
	}
	return int(ref % uint64(len(rp.shards)))
}

// refShards maps WAL refs to their shard + 1 (0: not seen). Refs are allocated densely from 1, so
// a paged byte array holds them: 1 MB for a million series. Refs beyond it go to a map.
type refShards struct {
	pages [][]uint8
	far   map[uint64]uint8
}

const (
	refShardPageBits = 16
	refShardMaxPages = 1 << 12 // 256M refs in pages
)

func (m *refShards) get(ref uint64) int {
	if p := ref >> refShardPageBits; p < uint64(len(m.pages)) {
		if pg := m.pages[p]; pg != nil {
			return int(pg[ref&(1<<refShardPageBits-1)])
		}
		return 0
	}
	return int(m.far[ref])
}

func (m *refShards) set(ref uint64, shard int) {
	p := ref >> refShardPageBits
	if p >= refShardMaxPages {
		if m.far == nil {
			m.far = map[uint64]uint8{}
		}
		m.far[ref] = uint8(shard + 1)
		return
	}
	for uint64(len(m.pages)) <= p {
		m.pages = append(m.pages, nil)
	}
	if m.pages[p] == nil {
		m.pages[p] = make([]uint8, 1<<refShardPageBits)
	}
	m.pages[p][ref&(1<<refShardPageBits-1)] = uint8(shard + 1)
}

// batch returns the batch being filled for shard i, sending it first if it is full.
func (rp *walReplayer) batch(i int) *replayBatch {
	b := rp.batches[i]
	if b.size() >= replayBatchSize {
		rp.send(i)
		b = rp.batches[i]
	}
	return b
}

func (rp *walReplayer) send(i int) {
	b := rp.batches[i]
	if b.size() == 0 {
		return
	}
	rp.shards[i].in <- b
	select {
	case nb := <-rp.free:
		rp.batches[i] = nb
	default:
		rp.batches[i] = &replayBatch{}
	}
}

// flush sends every partly filled batch.
func (rp *walReplayer) flush() {
	for i := range rp.shards {
		rp.send(i)
	}
}

// stop ends the workers once they applied everything sent (idempotent).
func (rp *walReplayer) stop() {
	if rp.stopped {
		return
	}
	rp.stopped = true
	rp.flush()
	for _, sh := range rp.shards {
		close(sh.in)
	}
	rp.wg.Wait()
}

// finish waits for the workers, indexes the series they created and adds up their counts.
func (rp *walReplayer) finish(st *replayStats) {
	rp.stop()
	head := rp.head
	var created []*memSeries
	var maxRef uint64
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	for _, sh := range rp.shards {
		created = append(created, sh.created...)
		sh.created = nil
		st.samples += sh.samples
		st.outOfOrder += sh.outOfOrder
		st.unknownRefs += sh.unknownRefs
		mint, maxt = min(mint, sh.mint), max(maxt, sh.maxt)
		// Every logged ref counts, also those whose labels were found under another ref: a
		// new series must not get a ref the WAL already holds, or the next replay would give
		// its samples to the other series.
		maxRef = max(maxRef, sh.maxRef)
	}
	slices.SortFunc(created, func(a, b *memSeries) int { return cmp.Compare(a.ref, b.ref) })
	for _, ms := range created {
		head.indexSeries(ms)
	}
	head.numSeries.Add(int64(len(created)))
	if maxRef > head.lastRef.Load() {
		head.lastRef.Store(maxRef)
	}
	if mint <= maxt {
		head.updateTimes(mint, maxt)
	}
}

// replay reads r to its end and hands its contents to the workers. Decode errors stop it; the
// workers keep applying what was sent before (finish waits for them).
func (rp *walReplayer) replay(r *wal.Reader, st *replayStats) error {
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
		st.records++
		if err := rp.decode(r.Record()); err != nil {
			return fmt.Errorf("segment %d: %w", r.Segment(), err)
		}
	}
	return r.Err()
}

// decode decodes one record and scatters its entries to the shards' batches. rec is reused by
// the reader: nothing handed on may alias it.
func (rp *walReplayer) decode(rec []byte) error {
	var err error
	switch rp.dec.Type(rec) {
	case record.Series:
		if rp.series, err = rp.dec.Series(rec, rp.series[:0]); err != nil {
			return fmt.Errorf("decoding series record: %w", err)
		}
		for _, s := range rp.series {
			hash := s.Labels.Hash()
			i := int(hash % uint64(len(rp.shards)))
			rp.refShards.set(s.Ref, i)
			b := rp.batch(i)
			b.series = append(b.series, replaySeries{s, hash})
		}
		clear(rp.series)
	case record.Samples:
		if rp.samples, err = rp.dec.Samples(rec, rp.samples[:0]); err != nil {
			return fmt.Errorf("decoding samples record: %w", err)
		}
		for _, s := range rp.samples {
			if s.T < rp.minValid {
				continue
			}
			b := rp.batch(rp.shard(s.Ref))
			b.samples = append(b.samples, s)
			b.addRun(replayFloat, len(b.samples))
		}
	case record.SamplesST:
		if rp.sts, err = rp.dec.SamplesST(rec, rp.sts[:0]); err != nil {
			return fmt.Errorf("decoding samples record with start timestamps: %w", err)
		}
		for _, s := range rp.sts {
			if s.T < rp.minValid {
				continue
			}
			b := rp.batch(rp.shard(s.Ref))
			b.sts = append(b.sts, s)
			b.addRun(replayFloatST, len(b.sts))
		}
	case record.HistogramSamples, record.HistogramSamplesST:
		// The decoder allocates every histogram: they do not alias rec.
		if rp.hists, err = rp.dec.HistogramSamples(rec, rp.hists[:0]); err != nil {
			return fmt.Errorf("decoding histogram samples record: %w", err)
		}
		for _, s := range rp.hists {
			if s.T < rp.minValid {
				continue
			}
			b := rp.batch(rp.shard(s.Ref))
			b.hists = append(b.hists, s)
			b.addRun(replayHistogram, len(b.hists))
		}
		clear(rp.hists)
	case record.FloatHistogramSamples, record.FloatHistogramSamplesST:
		if rp.fhists, err = rp.dec.FloatHistogramSamples(rec, rp.fhists[:0]); err != nil {
			return fmt.Errorf("decoding float histogram samples record: %w", err)
		}
		for _, s := range rp.fhists {
			if s.T < rp.minValid {
				continue
			}
			b := rp.batch(rp.shard(s.Ref))
			b.fhists = append(b.fhists, s)
			b.addRun(replayFloatHistogram, len(b.fhists))
		}
		clear(rp.fhists)
	case record.Tombstones:
		if rp.stones, err = rp.dec.Tombstones(rec, rp.stones[:0]); err != nil {
			return fmt.Errorf("decoding tombstones record: %w", err)
		}
		for _, s := range rp.stones {
			b := rp.batch(rp.shard(s.Ref))
			b.stones = append(b.stones, record.Stone{Ref: s.Ref, Intervals: slices.Clone(s.Intervals)})
		}
	default:
		return fmt.Errorf("unknown WAL record type %d", rec[0])
	}
	return nil
}

// lookup finds the series of a WAL ref of this shard.
func (sh *replayShard) lookup(ref uint64) *memSeries {
	if s, ok := sh.refs[ref]; ok {
		return s
	}
	return sh.head.series.getByRef(ref)
}

// apply creates the batch's series, then appends its samples and adds its tombstones.
func (sh *replayShard) apply(b *replayBatch) {
	head := sh.head
	for _, s := range b.series {
		sh.maxRef = max(sh.maxRef, s.Ref)
		ms, created := head.series.getOrCreate(s.hash, s.Labels, func() uint64 { return s.Ref })
		if created {
			ms.logged = true // replayed: its series record is in the WAL
			sh.created = append(sh.created, ms)
		} else if ms.ref != s.Ref {
			sh.refs[s.Ref] = ms
		}
	}
	var fi, si, hi, fhi int // next sample of each kind
	for _, run := range b.runs {
		switch run.kind {
		case replayFloat:
			for ; fi < run.end; fi++ {
				s := &b.samples[fi]
				if ms := sh.seriesOf(s.Ref); ms != nil {
					ms.mu.Lock()
					ok := ms.append(s.T, s.V, head)
					ms.mu.Unlock()
					sh.count(ok, s.T)
				}
			}
		case replayFloatST:
			for ; si < run.end; si++ {
				s := &b.sts[si]
				if ms := sh.seriesOf(s.Ref); ms != nil {
					ms.mu.Lock()
					ok := ms.appendST(s.T, s.V, s.ST, head)
					ms.mu.Unlock()
					sh.count(ok, s.T)
				}
			}
		case replayHistogram:
			for ; hi < run.end; hi++ {
				s := &b.hists[hi]
				if ms := sh.seriesOf(s.Ref); ms != nil {
					ms.mu.Lock()
					ok := ms.appendHistogramST(s.T, s.ST, s.H, nil, head)
					ms.mu.Unlock()
					sh.count(ok, s.T)
				}
			}
		case replayFloatHistogram:
			for ; fhi < run.end; fhi++ {
				s := &b.fhists[fhi]
				if ms := sh.seriesOf(s.Ref); ms != nil {
					ms.mu.Lock()
					ok := ms.appendHistogramST(s.T, s.ST, nil, s.FH, head)
					ms.mu.Unlock()
					sh.count(ok, s.T)
				}
			}
		}
	}
	for _, s := range b.stones {
		ms := sh.lookup(s.Ref)
		if ms == nil {
			continue
		}
		for _, iv := range s.Intervals {
			head.tombstones.AddInterval(ms.ref, tombstones.Interval{Mint: iv.Mint, Maxt: iv.Maxt})
		}
	}
}

// seriesOf returns the series of a WAL ref of this shard, nil (counted) when there is none.
func (sh *replayShard) seriesOf(ref uint64) *memSeries {
	ms := sh.lookup(ref)
	if ms == nil {
		sh.unknownRefs++
	}
	return ms
}

// count counts a replayed sample at t that was appended (ok) or dropped.
func (sh *replayShard) count(ok bool, t int64) {
	if !ok {
		sh.outOfOrder++
		return
	}
	sh.samples++
	sh.mint, sh.maxt = min(sh.mint, t), max(sh.maxt, t)
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
