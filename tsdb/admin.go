package tsdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

// Delete marks the samples in [mint, maxt] of the series matching ms as deleted. Deleted samples
// disappear from queries at once; CleanTombstones (or the next compaction) removes them from
// disk.
func (db *DB) Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error {
	db.cmtx.Lock()
	defer db.cmtx.Unlock()
	iv := tombstones.Interval{Mint: mint, Maxt: maxt}

	// Head: tombstones in memory, made durable through the WAL.
	h := db.head
	p, err := postingsForMatchers(ctx, headIndex{h.postings}, ms...)
	if err != nil {
		return err
	}
	var stones []record.Stone
	for p.Next() {
		s := h.series.getByRef(p.At())
		if s == nil {
			continue
		}
		s.mu.Lock()
		hit := s.overlaps(mint, maxt)
		s.mu.Unlock()
		if hit {
			stones = append(stones, record.Stone{Ref: s.ref, Intervals: []record.Interval{{Mint: mint, Maxt: maxt}}})
		}
	}
	if err := p.Err(); err != nil {
		return err
	}
	if len(stones) > 0 {
		var enc record.Encoder
		if err := db.wal.Log(enc.Tombstones(stones, nil)); err != nil {
			return fmt.Errorf("logging tombstones: %w", err)
		}
		for _, s := range stones {
			h.tombstones.AddInterval(s.Ref, iv)
		}
	}

	for _, b := range db.Blocks() {
		if b.meta.MaxTime <= mint || b.meta.MinTime > maxt {
			continue
		}
		if err := b.delete(ctx, db, mint, maxt, ms...); err != nil {
			return err
		}
	}
	return nil
}

// delete adds tombstones to a block and rewrites its tombstones file.
func (b *Block) delete(ctx context.Context, db *DB, mint, maxt int64, ms ...*labels.Matcher) error {
	p, err := postingsForMatchers(ctx, blockIndex{b.index}, ms...)
	if err != nil {
		return err
	}
	b.tombMu.RLock()
	old := b.tombstones
	b.tombMu.RUnlock()
	nt := tombstones.NewMemTombstones()
	if err := old.Iter(func(ref uint64, ivs tombstones.Intervals) error {
		nt.AddInterval(ref, ivs...)
		return nil
	}); err != nil {
		return err
	}
	n := 0
	for p.Next() {
		nt.AddInterval(p.At(), tombstones.Interval{Mint: mint, Maxt: maxt})
		n++
	}
	if err := p.Err(); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	size, err := tombstones.WriteFile(db.logger, b.dir, nt)
	if err != nil {
		return fmt.Errorf("writing tombstones of block %s: %w", b.meta.ULID, err)
	}
	b.tombMu.Lock()
	b.tombstones, b.tombSize = nt, size
	b.meta.Stats.NumTombstones = nt.Total()
	b.tombMu.Unlock()
	return writeMeta(b.dir, &b.meta)
}

// CleanTombstones rewrites the blocks that have tombstones without the deleted data, and cuts
// deleted data out of the head at its next compaction.
func (db *DB) CleanTombstones() error {
	db.cmtx.Lock()
	defer db.cmtx.Unlock()
	for _, b := range db.Blocks() {
		b.tombMu.RLock()
		total := b.tombstones.Total()
		b.tombMu.RUnlock()
		if total == 0 {
			continue
		}
		if err := db.rewriteBlock(b); err != nil {
			return err
		}
	}
	return nil
}

// rewriteBlock writes a block anew (dropping deleted samples) and deletes the old one.
func (db *DB) rewriteBlock(b *Block) error {
	if !b.acquire() {
		return nil
	}
	ss, err := b.selectSeries(context.Background(), b.meta.MinTime, b.meta.MaxTime-1, false)
	if err != nil {
		b.release()
		return err
	}
	comp := b.meta.Compaction
	comp.Parents = []string{b.meta.ULID}
	meta, err := writeBlock(context.Background(), db.dir, ss, b.meta.MinTime, b.meta.MaxTime, comp, db.logger)
	b.release()
	if err != nil {
		return fmt.Errorf("rewriting block %s: %w", b.meta.ULID, err)
	}
	db.logger.Info("block rewritten without deleted data", "old", b.meta.ULID, "new", meta.ULID)
	if err := db.reloadBlocks(); err != nil { // the new block first, see compactGroup
		return err
	}
	return db.deleteBlocks([]string{b.meta.ULID})
}

// Snapshot writes a consistent copy of the DB into dir: blocks as hard links (no extra space),
// and, with withHead, the head's data as one more block.
func (db *DB) Snapshot(dir string, withHead bool) error {
	db.cmtx.Lock()
	defer db.cmtx.Unlock()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating snapshot directory: %w", err)
	}
	for _, b := range db.Blocks() {
		if err := linkTree(b.dir, filepath.Join(dir, b.meta.ULID)); err != nil {
			return fmt.Errorf("snapshotting block %s: %w", b.meta.ULID, err)
		}
	}
	if !withHead {
		return nil
	}
	h := db.head
	mint, maxt := h.MinTime(), h.MaxTime()
	if mint > maxt {
		return nil
	}
	g := h.chunks.acquire()
	defer h.chunks.release(g)
	ss, err := headSource{h}.selectSeries(context.Background(), mint, maxt, false)
	if err != nil {
		return err
	}
	if len(ss) == 0 {
		return nil
	}
	if _, err := writeBlock(context.Background(), dir, ss, mint, maxt+1, BlockCompaction{Level: 1}, db.logger); err != nil {
		return fmt.Errorf("snapshotting the head: %w", err)
	}
	return nil
}

// linkTree hard-links every file under src into dst.
func linkTree(src, dst string) error {
	return filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o777)
		}
		return os.Link(path, target)
	})
}

// HeadStats are the head figures of /api/v1/status/tsdb.
type HeadStats struct {
	NumSeries     uint64 `json:"numSeries"`
	NumLabelPairs int    `json:"numLabelPairs"`
	ChunkCount    int64  `json:"chunkCount"`
	MinTime       int64  `json:"minTime"`
	MaxTime       int64  `json:"maxTime"`
}

// Stat is one name/value row of a TSDB status list.
type Stat struct {
	Name  string `json:"name"`
	Value uint64 `json:"value"`
}

// Stats is what /api/v1/status/tsdb shows, as Prometheus computes it from the head.
type Stats struct {
	HeadStats                   HeadStats `json:"headStats"`
	SeriesCountByMetricName     []Stat    `json:"seriesCountByMetricName"`
	LabelValueCountByLabelName  []Stat    `json:"labelValueCountByLabelName"`
	MemoryInBytesByLabelName    []Stat    `json:"memoryInBytesByLabelName"`
	SeriesCountByLabelValuePair []Stat    `json:"seriesCountByLabelValuePair"`
}

// Stats computes the head's statistics; each list holds the top limit entries.
func (db *DB) Stats(limit int) Stats {
	h := db.head
	var st Stats
	st.HeadStats = HeadStats{NumSeries: uint64(h.NumSeries()), MinTime: h.MinTime(), MaxTime: h.MaxTime()}
	var chunks int64
	h.series.forEach(func(s *memSeries) {
		s.mu.Lock()
		chunks += int64(len(s.closed))
		if s.hasOpen() {
			chunks++
		}
		s.mu.Unlock()
	})
	st.HeadStats.ChunkCount = chunks
	var byMetric, valueCount, memory, pairs []Stat
	p := h.postings
	p.mu.RLock()
	for name, values := range p.m {
		if name == "" {
			continue
		}
		valueCount = append(valueCount, Stat{name, uint64(len(values))})
		var mem uint64
		for v, refs := range values {
			n := uint64(refs.len())
			st.HeadStats.NumLabelPairs++
			mem += uint64(len(v)) * n
			pairs = append(pairs, Stat{name + "=" + v, n})
			if name == labels.MetricName {
				byMetric = append(byMetric, Stat{v, n})
			}
		}
		memory = append(memory, Stat{name, mem})
	}
	p.mu.RUnlock()
	top := func(s []Stat) []Stat {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Value != s[j].Value {
				return s[i].Value > s[j].Value
			}
			return s[i].Name < s[j].Name
		})
		if len(s) > limit {
			s = s[:limit]
		}
		if s == nil {
			s = []Stat{}
		}
		return s
	}
	st.SeriesCountByMetricName = top(byMetric)
	st.LabelValueCountByLabelName = top(valueCount)
	st.MemoryInBytesByLabelName = top(memory)
	st.SeriesCountByLabelValuePair = top(pairs)
	return st
}
