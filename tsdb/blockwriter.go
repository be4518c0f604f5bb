package tsdb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
	"github.com/vigil-monitoring/vigil/tsdb/index"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

// BlockWriter writes one block directory without holding its samples in memory: chunks go to
// the chunk files as they are given, series entries to the index. It is how the head and
// compaction write blocks, and how importers (tsdb/importer) stream foreign data into Vigil
// blocks.
//
// Use it in this order: NewBlockWriter; WriteChunks any number of times (chunks may come in any
// order, e.g. as an input interleaves series); StartIndex with every label name and value of the
// series to come, ascending; AddSeries for every series in labels order, with the metas returned
// by WriteChunks; Commit. Abort (or a failed call) removes what was written. The block appears
// atomically: it is written to <parent>/<id>.tmp, fsynced and renamed to <parent>/<id> by Commit.
type BlockWriter struct {
	ctx    context.Context
	parent string
	tmp    string
	final  string
	meta   BlockMeta
	cw     *chunks.Writer
	iw     *index.Writer
	ref    uint64
	logger *slog.Logger
	done   bool
}

// NewBlockULID returns a new block ID.
func NewBlockULID() string { return ulid.Make().String() }

// NewBlockWriter starts the block id (NewBlockULID) covering [mint, maxt) under parent, at the
// given compaction level (1 for blocks cut from a head or imported).
func NewBlockWriter(ctx context.Context, parent, id string, mint, maxt int64, comp BlockCompaction, logger *slog.Logger) (*BlockWriter, error) {
	if _, err := ulid.ParseStrict(id); err != nil {
		return nil, fmt.Errorf("block id %q: %w", id, err)
	}
	if maxt <= mint {
		return nil, fmt.Errorf("block time range [%d, %d) is empty", mint, maxt)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &BlockWriter{
		ctx: ctx, parent: parent, logger: logger,
		tmp:   filepath.Join(parent, id+".tmp"),
		final: filepath.Join(parent, id),
		meta:  BlockMeta{ULID: id, MinTime: mint, MaxTime: maxt, Compaction: comp, Version: metaVersion},
	}
	if len(w.meta.Compaction.Sources) == 0 {
		w.meta.Compaction.Sources = []string{id}
	}
	if err := os.RemoveAll(w.tmp); err != nil {
		return nil, fmt.Errorf("removing leftover %s: %w", w.tmp, err)
	}
	if err := os.MkdirAll(w.tmp, 0o777); err != nil {
		return nil, fmt.Errorf("creating block directory: %w", err)
	}
	cw, err := chunks.NewWriter(filepath.Join(w.tmp, chunksDirname), chunkSegmentSize)
	if err != nil {
		os.RemoveAll(w.tmp)
		return nil, fmt.Errorf("creating chunk writer: %w", err)
	}
	w.cw = cw
	return w, nil
}

// WriteChunks writes encoded chunks (Chunk set; the encodings of tsdb/chunkenc) and sets their
// Ref. The chunks' bytes may be reused by the caller afterwards.
func (w *BlockWriter) WriteChunks(chks ...chunks.Meta) error {
	if err := w.cw.WriteChunks(chks...); err != nil {
		w.Abort()
		return fmt.Errorf("writing chunks: %w", err)
	}
	for _, c := range chks {
		w.meta.Stats.NumSamples += uint64(chunkenc.NumSamples(c.Chunk))
	}
	w.meta.Stats.NumChunks += uint64(len(chks))
	return nil
}

// StartIndex creates the index with the given symbols: every label name and value of the series
// to be added, in ascending order, no duplicates (extra symbols are allowed).
func (w *BlockWriter) StartIndex(symbols []string) error {
	iw, err := index.NewWriter(w.ctx, filepath.Join(w.tmp, indexFilename))
	if err != nil {
		w.Abort()
		return fmt.Errorf("creating index writer: %w", err)
	}
	w.iw = iw
	if err := iw.AddSymbols(symbols); err != nil {
		w.Abort()
		return fmt.Errorf("writing symbols: %w", err)
	}
	return nil
}

// AddSeries adds a series whose chunks were written by WriteChunks (Ref, MinTime and MaxTime
// are used), in ascending MinTime order. Series must come in labels order.
func (w *BlockWriter) AddSeries(lset labels.Labels, chks []chunks.Meta) error {
	if len(chks) == 0 {
		return nil
	}
	if err := w.iw.AddSeries(w.ref, lset, chks...); err != nil {
		w.Abort()
		return fmt.Errorf("writing series %s to the index: %w", lset, err)
	}
	w.ref++
	w.meta.Stats.NumSeries++
	return nil
}

// Meta returns the meta of the block written so far.
func (w *BlockWriter) Meta() BlockMeta { return w.meta }

// Commit finishes the block and renames it into place.
func (w *BlockWriter) Commit() (*BlockMeta, error) {
	if w.done {
		return nil, fmt.Errorf("block %s: commit after abort or commit", w.meta.ULID)
	}
	if w.iw == nil {
		if err := w.StartIndex(nil); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*BlockMeta, error) {
		w.Abort()
		return nil, err
	}
	if err := w.cw.Close(); err != nil {
		return fail(fmt.Errorf("closing chunk writer: %w", err))
	}
	if err := w.iw.Close(); err != nil {
		return fail(fmt.Errorf("closing index writer: %w", err))
	}
	if _, err := tombstones.WriteFile(w.logger, w.tmp, tombstones.NewMemTombstones()); err != nil {
		return fail(fmt.Errorf("writing tombstones: %w", err))
	}
	if err := writeMeta(w.tmp, &w.meta); err != nil {
		return fail(fmt.Errorf("writing meta.json: %w", err))
	}
	if err := fileutil.SyncDir(w.tmp); err != nil {
		return fail(err)
	}
	if err := os.Rename(w.tmp, w.final); err != nil {
		return fail(fmt.Errorf("renaming block into place: %w", err))
	}
	w.done = true
	if err := fileutil.SyncDir(w.parent); err != nil {
		return nil, err
	}
	m := w.meta
	return &m, nil
}

// Abort removes the unfinished block. It is safe to call more than once and after a failed call.
func (w *BlockWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cw.Close()
	if w.iw != nil {
		w.iw.Close()
	}
	os.RemoveAll(w.tmp)
}
