package tsdb

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
	"github.com/vigil-monitoring/vigil/tsdb/histchunk"
)

// blockChunkSamples is how many samples the block writer puts in a chunk. Head chunks hold 120;
// blocks re-encode into bigger ones: per-chunk overhead (index entry, CRC, first timestamp and
// value) is paid 4× less often, and a 2h block at 15s is exactly one chunk per series.
const blockChunkSamples = 480

// chunkSegmentSize is the size at which block chunk files are cut.
const chunkSegmentSize = 512 << 20

// writeBlock writes the samples in [mint, maxt) of the given series (sorted by labels) as a new
// block under parent and returns its meta. The block appears atomically: it is written to
// <ulid>.tmp and renamed.
func writeBlock(ctx context.Context, parent string, series []*selectedSeries, mint, maxt int64, comp BlockCompaction, logger *slog.Logger) (*BlockMeta, error) {
	symSet := map[string]struct{}{}
	for _, s := range series {
		s.lset.Range(func(l labels.Label) {
			symSet[l.Name] = struct{}{}
			symSet[l.Value] = struct{}{}
		})
	}
	symbols := make([]string, 0, len(symSet))
	for s := range symSet {
		symbols = append(symbols, s)
	}
	sort.Strings(symbols)

	w, err := NewBlockWriter(ctx, parent, NewBlockULID(), mint, maxt, comp, logger)
	if err != nil {
		return nil, err
	}
	if err := w.StartIndex(symbols); err != nil {
		return nil, err
	}
	var (
		bc ChunkBuilder
		it storage.Iterator
	)
	bc.ts, bc.vs, bc.sts = make([]int64, 0, blockChunkSamples), make([]float64, 0, blockChunkSamples), make([]int64, 0, blockChunkSamples)
	for i, s := range series {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				w.Abort()
				return nil, err
			}
		}
		bc.Reset()
		sel := *s
		sel.mint, sel.maxt = mint, maxt-1
		it = sel.Iterator(it)
		if err := bc.add(it); err != nil {
			w.Abort()
			return nil, fmt.Errorf("reading series %s: %w", s.lset, err)
		}
		metas := bc.metas
		if len(metas) == 0 {
			continue
		}
		if err := w.WriteChunks(metas...); err != nil {
			return nil, err
		}
		if err := w.AddSeries(s.lset, metas); err != nil {
			return nil, err
		}
	}
	return w.Commit()
}

// ChunkBuilder cuts the samples of a series into block chunks of up to 480 samples: floats as
// chunkenc.Encode makes them, native histograms in upstream's histogram encodings (recoded or
// cut where a sample is not appendable), a new chunk whenever the sample type changes. The
// compactor and the importer use it; samples must come in increasing time order.
type ChunkBuilder struct {
	metas []chunks.Meta

	ts    []int64
	vs    []float64
	sts   []int64 // start timestamps of the float samples (0: none)
	hasST bool    // some float sample of the chunk being built has a start timestamp: EncST

	hist       histchunk.Chunk
	happ       histchunk.Appender
	henc       chunkenc.Encoding
	hmin, hmax int64
	h          histogram.Histogram
	fh         histogram.FloatHistogram
	// hts and hsts are the timestamps and start timestamps of the histogram chunk being built
	// (recoding keeps its samples, a new chunk starts them anew); hhasST is set when one of
	// them has a start timestamp: the chunk is then written as an EncST chunk.
	hts, hsts []int64
	hhasST    bool
}

// Reset starts a new series.
func (bc *ChunkBuilder) Reset() {
	bc.metas, bc.ts, bc.vs, bc.sts, bc.hasST, bc.hist, bc.happ = bc.metas[:0], bc.ts[:0], bc.vs[:0], bc.sts[:0], false, nil, nil
	bc.hts, bc.hsts, bc.hhasST = bc.hts[:0], bc.hsts[:0], false
}

// AddFloat adds a float sample.
func (bc *ChunkBuilder) AddFloat(t int64, v float64) { bc.AddFloatST(t, v, 0) }

// AddFloatST adds a float sample with its start timestamp st (0: none). A chunk holding a
// sample with a start timestamp is written as an EncST chunk.
func (bc *ChunkBuilder) AddFloatST(t int64, v float64, st int64) {
	bc.flushHist()
	bc.ts = append(bc.ts, t)
	bc.vs = append(bc.vs, v)
	bc.sts = append(bc.sts, st)
	bc.hasST = bc.hasST || st != 0
	if len(bc.ts) == blockChunkSamples {
		bc.flushFloats()
	}
}

// AddHistogram adds a native histogram sample: exactly one of h and fh is set. The builder
// copies what it keeps (h may be reused), but may add empty buckets to h, as upstream's
// appenders do when they recode.
func (bc *ChunkBuilder) AddHistogram(t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) {
	bc.AddHistogramST(t, 0, h, fh)
}

// AddHistogramST is AddHistogram with the sample's start timestamp st (0: none). A chunk
// holding a sample with a start timestamp is written as an EncST chunk.
func (bc *ChunkBuilder) AddHistogramST(t, st int64, h *histogram.Histogram, fh *histogram.FloatHistogram) {
	bc.flushFloats()
	bc.appendHist(t, st, h, fh)
}

// Metas completes the series and returns its chunks, valid until the next Reset.
func (bc *ChunkBuilder) Metas() []chunks.Meta {
	bc.flushFloats()
	bc.flushHist()
	return bc.metas
}

func (bc *ChunkBuilder) add(it storage.Iterator) error {
	for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
		switch vt {
		case storage.ValFloat:
			t, v := it.At()
			bc.AddFloatST(t, v, it.AtST())
		case storage.ValHistogram:
			t, h := it.AtHistogram(&bc.h)
			bc.AddHistogramST(t, it.AtST(), h, nil)
		case storage.ValFloatHistogram:
			t, fh := it.AtFloatHistogram(&bc.fh)
			bc.AddHistogramST(t, it.AtST(), nil, fh)
		}
	}
	if err := it.Err(); err != nil {
		bc.Reset()
		return err
	}
	bc.Metas()
	return nil
}

func (bc *ChunkBuilder) flushFloats() {
	if len(bc.ts) == 0 {
		return
	}
	var c []byte
	if bc.hasST {
		c = chunkenc.EncodeST(bc.ts, bc.vs, bc.sts)
	} else {
		c = chunkenc.Encode(bc.ts, bc.vs)
	}
	bc.metas = append(bc.metas, chunks.Meta{MinTime: bc.ts[0], MaxTime: bc.ts[len(bc.ts)-1], Chunk: c})
	bc.ts, bc.vs, bc.sts, bc.hasST = bc.ts[:0], bc.vs[:0], bc.sts[:0], false
}

func (bc *ChunkBuilder) flushHist() {
	if bc.hist == nil || bc.hist.NumSamples() == 0 {
		bc.hist, bc.happ = nil, nil
		bc.hts, bc.hsts, bc.hhasST = bc.hts[:0], bc.hsts[:0], false
		return
	}
	enc, body := bc.henc, bc.hist.Bytes()
	if enc == chunkenc.EncHistogram {
		if cb, ok := histchunk.EncodeColumns(body); ok { // only when smaller and decoded identical
			enc, body = chunkenc.EncHistogramColumns, cb
		}
	}
	b := make([]byte, 0, 1+len(body))
	b = append(append(b, byte(enc)), body...)
	if bc.hhasST {
		var col chunkenc.STColumn
		for i, t := range bc.hts {
			col.Append(t, bc.hsts[i])
		}
		b = chunkenc.AppendWithST(make([]byte, 0, len(b)+len(col.Bytes())+8), b, col.Bytes())
	}
	bc.metas = append(bc.metas, chunks.Meta{MinTime: bc.hmin, MaxTime: bc.hmax, Chunk: b})
	bc.hist, bc.happ = nil, nil
	bc.hts, bc.hsts, bc.hhasST = bc.hts[:0], bc.hsts[:0], false
}

func (bc *ChunkBuilder) appendHist(t, st int64, h *histogram.Histogram, fh *histogram.FloatHistogram) {
	enc := chunkenc.EncHistogram
	if h == nil {
		enc = chunkenc.EncFloatHistogram
	}
	var prev histchunk.Appender
	if bc.hist != nil && (bc.henc != enc || bc.hist.NumSamples() >= blockChunkSamples) {
		if bc.henc == enc {
			prev = bc.happ // the new chunk's counter reset header follows from the previous one
		}
		bc.flushHist()
	}
	if bc.hist == nil {
		if h != nil {
			bc.hist = histchunk.NewHistogramChunk()
		} else {
			bc.hist = histchunk.NewFloatHistogramChunk()
		}
		bc.happ, _ = bc.hist.Appender() // an empty chunk always has one
		bc.henc, bc.hmin = enc, t
	}
	var (
		c       histchunk.Chunk
		recoded bool
		app     histchunk.Appender
	)
	if h != nil {
		c, recoded, app, _ = bc.happ.AppendHistogram(prev, 0, t, h, false)
	} else {
		c, recoded, app, _ = bc.happ.AppendFloatHistogram(prev, 0, t, fh, false)
	}
	if c != nil {
		if !recoded {
			bc.flushHist()
			bc.henc, bc.hmin = enc, t
		}
		bc.hist = c
	}
	bc.happ, bc.hmax = app, t
	bc.hts = append(bc.hts, t)
	bc.hsts = append(bc.hsts, st)
	bc.hhasST = bc.hhasST || st != 0
}

// Compact cuts blocks from the head while it spans more than 1.5 block ranges, merges blocks
// into bigger levels, and applies retention.
func (db *DB) Compact() error {
	db.cmtx.Lock()
	defer db.cmtx.Unlock()
	if err := db.compactHead(); err != nil {
		db.metrics.compactionsFailed.Inc()
		return err
	}
	if err := db.compactBlocks(); err != nil {
		db.metrics.compactionsFailed.Inc()
		return err
	}
	return db.applyRetention()
}

func (db *DB) compactHead() error {
	r := db.opts.MinBlockDuration
	for {
		h := db.head
		hmin, hmax := h.MinTime(), h.MaxTime()
		if hmin > hmax || hmax-hmin <= r*3/2 {
			return nil
		}
		// The head is about to be truncated and the WAL checkpointed: a snapshot of the head
		// before that would no longer match the WAL after it.
		if err := db.removeHeadSnapshot(); err != nil {
			return err
		}
		mint := rangeEnd(hmin, r) - r
		maxt := mint + r
		if err := db.persistHeadRange(mint, maxt); err != nil {
			return err
		}
	}
}

// persistHeadRange writes the head's samples in [mint, maxt) to a block and drops them from the
// head and the WAL.
func (db *DB) persistHeadRange(mint, maxt int64) error {
	start := time.Now()
	h := db.head
	// New samples older than maxt now go to blocks only: refuse them in the head first so that
	// none can slip in between the block being written and the head being truncated.
	h.appendMu.Lock()
	if maxt > h.minValidT.Load() {
		h.minValidT.Store(maxt)
	}
	h.appendMu.Unlock()

	g := h.chunks.acquire()
	series, err := headSource{h}.selectSeries(context.Background(), mint, maxt-1, false)
	if err != nil {
		h.chunks.release(g)
		return fmt.Errorf("reading the head: %w", err)
	}
	if len(series) > 0 {
		meta, err := writeBlock(context.Background(), db.dir, series, mint, maxt, BlockCompaction{Level: 1}, db.logger)
		h.chunks.release(g)
		if err != nil {
			return fmt.Errorf("persisting head block [%d, %d): %w", mint, maxt, err)
		}
		db.logger.Info("head block persisted", "ulid", meta.ULID, "mint", mint, "maxt", maxt,
			"series", meta.Stats.NumSeries, "samples", meta.Stats.NumSamples, "duration", time.Since(start))
		if err := db.reloadBlocks(); err != nil {
			return err
		}
	} else {
		h.chunks.release(g)
	}
	h.chunks.waitForReaders()
	h.truncate(maxt)
	if err := db.wal.checkpoint(h, maxt); err != nil {
		return err
	}
	db.metrics.headCompactions.Inc()
	return nil
}

// compactionRanges are the block ranges of each level: min, 3×, 9×, … up to the max duration.
func (db *DB) compactionRanges() []int64 {
	var rs []int64
	for r := db.opts.MinBlockDuration; r <= db.opts.MaxBlockDuration; r *= 3 {
		rs = append(rs, r)
	}
	return rs
}

// plan returns the blocks to compact next: overlapping blocks first, then the blocks of an
// aligned range of a higher level once that range is complete.
func (db *DB) plan() []*Block {
	blocks := db.Blocks()
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].meta.MinTime < blocks[j].meta.MinTime })
	// Overlaps (e.g. a block restored from a snapshot): merge every group of overlapping blocks.
	for i := 0; i < len(blocks)-1; i++ {
		group := []*Block{blocks[i]}
		maxt := blocks[i].meta.MaxTime
		for j := i + 1; j < len(blocks) && blocks[j].meta.MinTime < maxt; j++ {
			group = append(group, blocks[j])
			maxt = max(maxt, blocks[j].meta.MaxTime)
		}
		if len(group) > 1 {
			return group
		}
	}
	ranges := db.compactionRanges()
	if len(blocks) < 2 {
		return nil
	}
	newest := blocks[len(blocks)-1].meta.MaxTime
	for _, r := range ranges[1:] {
		groups := map[int64][]*Block{}
		var starts []int64
		for _, b := range blocks {
			if b.meta.MaxTime-b.meta.MinTime >= r || b.meta.Compaction.Failed {
				continue
			}
			start := rangeEnd(b.meta.MinTime, r) - r
			if b.meta.MaxTime > start+r {
				continue // spans the range boundary (cannot happen for aligned blocks)
			}
			if _, ok := groups[start]; !ok {
				starts = append(starts, start)
			}
			groups[start] = append(groups[start], b)
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
		for _, start := range starts {
			g := groups[start]
			// A range is complete once newer data exists past its end, so nothing more can land
			// in it from the head.
			if len(g) > 1 && newest >= start+r {
				return g
			}
		}
	}
	return nil
}

func (db *DB) compactBlocks() error {
	for {
		group := db.plan()
		if len(group) == 0 {
			return nil
		}
		if err := db.compactGroup(group); err != nil {
			for _, b := range group {
				b.meta.Compaction.Failed = true
				_ = writeMeta(b.dir, &b.meta)
			}
			return err
		}
	}
}

// compactGroup merges blocks into one, then deletes them.
func (db *DB) compactGroup(group []*Block) error {
	start := time.Now()
	mint, maxt := int64(math.MaxInt64), int64(math.MinInt64)
	comp := BlockCompaction{}
	var parents []string
	var acquired []*Block
	releaseAll := func() {
		for _, b := range acquired {
			b.release()
		}
		acquired = nil
	}
	defer releaseAll()
	for _, b := range group {
		mint, maxt = min(mint, b.meta.MinTime), max(maxt, b.meta.MaxTime)
		comp.Level = max(comp.Level, b.meta.Compaction.Level)
		comp.Sources = append(comp.Sources, b.meta.Compaction.Sources...)
		parents = append(parents, b.meta.ULID)
		if !b.acquire() {
			return fmt.Errorf("block %s is closing", b.meta.ULID)
		}
		acquired = append(acquired, b)
	}
	comp.Level++
	comp.Parents = parents
	sort.Strings(comp.Sources)
	lists := make([][]*selectedSeries, 0, len(group))
	for _, b := range group {
		ss, err := b.selectSeries(context.Background(), mint, maxt-1, false)
		if err != nil {
			return err
		}
		lists = append(lists, ss)
	}
	series := lists[0]
	if len(lists) > 1 {
		series = mergeSelected(lists)
	}
	meta, err := writeBlock(context.Background(), db.dir, series, mint, maxt, comp, db.logger)
	if err != nil {
		return fmt.Errorf("compacting %d blocks: %w", len(group), err)
	}
	db.logger.Info("blocks compacted", "ulid", meta.ULID, "level", comp.Level, "sources", len(group),
		"mint", mint, "maxt", maxt, "duration", time.Since(start))
	db.metrics.compactions.Inc()
	releaseAll() // deleting the parents waits for their readers, us included
	// Make the new block visible before the parents go, so that no querier created in between
	// sees neither (overlapping blocks are merged at query time meanwhile).
	if err := db.reloadBlocks(); err != nil {
		return err
	}
	return db.deleteBlocks(parents)
}

// deleteBlocks removes blocks from the DB and the disk.
func (db *DB) deleteBlocks(ids []string) error {
	del := map[string]bool{}
	for _, id := range ids {
		del[id] = true
	}
	db.mu.Lock()
	var keep, drop []*Block
	for _, b := range db.blocks {
		if del[b.meta.ULID] {
			drop = append(drop, b)
		} else {
			keep = append(keep, b)
		}
	}
	db.blocks = keep
	db.mu.Unlock()
	for _, b := range drop {
		if err := b.Close(); err != nil {
			db.logger.Warn("closing block", "ulid", b.meta.ULID, "err", err)
		}
		// Rename first so that a crash mid-delete leaves a .tmp dir, removed at the next start.
		tmp := b.dir + ".tmp-for-deletion"
		if err := os.Rename(b.dir, tmp); err != nil {
			return fmt.Errorf("deleting block %s: %w", b.meta.ULID, err)
		}
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("deleting block %s: %w", b.meta.ULID, err)
		}
	}
	return db.reloadBlocks()
}

// reloadBlocks opens blocks that appeared on disk and forgets the ones that are gone.
func (db *DB) reloadBlocks() error {
	db.metrics.reloads.Inc()
	entries, err := os.ReadDir(db.dir)
	if err != nil {
		db.metrics.reloadsFailed.Inc()
		return fmt.Errorf("reading data directory: %w", err)
	}
	failed := false
	defer func() {
		if failed {
			db.metrics.reloadsFailed.Inc()
		}
	}()
	db.mu.RLock()
	open := map[string]*Block{}
	for _, b := range db.blocks {
		open[b.meta.ULID] = b
	}
	db.mu.RUnlock()
	var blocks []*Block
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := ulid.ParseStrict(e.Name()); err != nil {
			continue
		}
		if b, ok := open[e.Name()]; ok {
			blocks = append(blocks, b)
			delete(open, e.Name())
			continue
		}
		b, err := OpenBlock(filepath.Join(db.dir, e.Name()))
		if err == nil {
			b.onCorrupt = db.reportCorruption
		}
		if err != nil {
			// A damaged block must not stop the DB: report it and serve the rest.
			db.logger.Error("cannot open block, skipping it", "block", e.Name(), "err", err)
			db.metrics.blockOpenFailures.Inc()
			failed = true
			continue
		}
		blocks = append(blocks, b)
	}
	sort.Slice(blocks, func(i, j int) bool { return blocks[i].meta.MinTime < blocks[j].meta.MinTime })
	db.mu.Lock()
	db.blocks = blocks
	db.mu.Unlock()
	for _, b := range open {
		b.Close()
	}
	return nil
}

// removeTmpDirs deletes what an interrupted block write, deletion or checkpoint left behind.
func removeTmpDirs(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading data directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && (strings.HasSuffix(e.Name(), ".tmp") || strings.HasSuffix(e.Name(), ".tmp-for-deletion")) {
			logger.Info("removing leftover temporary directory", "dir", e.Name())
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("removing %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// applyRetention deletes blocks past the retention time and, oldest first, while the blocks
// and the WAL exceed the retention size.
func (db *DB) applyRetention() error {
	blocks := db.Blocks()
	if len(blocks) == 0 {
		return nil
	}
	var drop []string
	dropped := map[string]bool{}
	if ret := db.opts.RetentionDuration; ret > 0 {
		newest := blocks[len(blocks)-1].meta.MaxTime
		if hm := db.head.MaxTime(); hm > newest {
			newest = hm
		}
		for _, b := range blocks {
			if b.meta.MaxTime <= newest-ret {
				drop = append(drop, b.meta.ULID)
				dropped[b.meta.ULID] = true
				db.metrics.retentionTime.Inc()
			}
		}
	}
	if db.opts.MaxBytes > 0 {
		size, _ := db.wal.w.Size()
		size += db.head.chunks.size()
		for _, b := range blocks {
			if !dropped[b.meta.ULID] {
				size += b.Size()
			}
		}
		for _, b := range blocks {
			if size <= db.opts.MaxBytes {
				break
			}
			if dropped[b.meta.ULID] {
				continue
			}
			drop = append(drop, b.meta.ULID)
			dropped[b.meta.ULID] = true
			size -= b.Size()
			db.metrics.retentionSize.Inc()
		}
	}
	if len(drop) == 0 {
		return nil
	}
	db.logger.Info("deleting blocks past retention", "blocks", len(drop))
	return db.deleteBlocks(drop)
}
