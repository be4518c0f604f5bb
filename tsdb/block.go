package tsdb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunks"
	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
	"github.com/vigil-monitoring/vigil/tsdb/index"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

const (
	metaFilename  = "meta.json"
	indexFilename = "index"
	chunksDirname = "chunks"
	metaVersion   = 1
)

// BlockMeta is a block's meta.json. MaxTime is exclusive, as in Prometheus.
type BlockMeta struct {
	ULID       string          `json:"ulid"`
	MinTime    int64           `json:"minTime"`
	MaxTime    int64           `json:"maxTime"`
	Stats      BlockStats      `json:"stats"`
	Compaction BlockCompaction `json:"compaction"`
	Version    int             `json:"version"`
}

// BlockStats count a block's contents.
type BlockStats struct {
	NumSamples    uint64 `json:"numSamples"`
	NumSeries     uint64 `json:"numSeries"`
	NumChunks     uint64 `json:"numChunks"`
	NumTombstones uint64 `json:"numTombstones"`
}

// BlockCompaction records how a block was made.
type BlockCompaction struct {
	Level   int      `json:"level"`
	Sources []string `json:"sources,omitempty"`
	Parents []string `json:"parents,omitempty"`
	// Failed marks a block whose compaction into a bigger one failed, so it is not retried forever.
	Failed bool `json:"failed,omitempty"`
}

func readMeta(dir string) (*BlockMeta, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFilename))
	if err != nil {
		return nil, err
	}
	var m BlockMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filepath.Join(dir, metaFilename), err)
	}
	if m.Version != metaVersion {
		return nil, fmt.Errorf("%s: unsupported block version %d", dir, m.Version)
	}
	return &m, nil
}

func writeMeta(dir string, m *BlockMeta) error {
	b, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	return fileutil.WriteFileAtomic(filepath.Join(dir, metaFilename), b)
}

// Block is an immutable block directory opened for reading.
type Block struct {
	dir    string
	meta   BlockMeta
	index  *index.Reader
	chunks *chunks.Reader

	tombMu     sync.RWMutex
	tombstones tombstones.Reader
	tombSize   int64

	// onCorrupt is told about chunks that fail their checksum when read (log and metric).
	onCorrupt func(b *Block, err error)

	// refs counts queriers reading the block, so that deletion waits for them.
	refMu   sync.Mutex
	refs    int
	closing bool
	idle    *sync.Cond
}

// OpenBlock opens the block in dir.
func OpenBlock(dir string) (*Block, error) {
	meta, err := readMeta(dir)
	if err != nil {
		return nil, err
	}
	ir, err := index.NewFileReader(filepath.Join(dir, indexFilename))
	if err != nil {
		return nil, fmt.Errorf("opening index of block %s: %w", dir, err)
	}
	cr, err := chunks.NewReader(filepath.Join(dir, chunksDirname))
	if err != nil {
		ir.Close()
		return nil, fmt.Errorf("opening chunks of block %s: %w", dir, err)
	}
	tr, tsize, err := tombstones.ReadTombstones(dir)
	if err != nil {
		ir.Close()
		cr.Close()
		return nil, fmt.Errorf("reading tombstones of block %s: %w", dir, err)
	}
	b := &Block{dir: dir, meta: *meta, index: ir, chunks: cr, tombstones: tr, tombSize: tsize}
	b.idle = sync.NewCond(&b.refMu)
	return b, nil
}

// Meta returns the block's meta.json contents.
func (b *Block) Meta() BlockMeta { return b.meta }

// Dir returns the block's directory.
func (b *Block) Dir() string { return b.dir }

// Size is the block's bytes on disk.
func (b *Block) Size() int64 {
	b.tombMu.RLock()
	defer b.tombMu.RUnlock()
	return b.index.Size() + b.chunks.Size() + b.tombSize
}

func (b *Block) acquire() bool {
	b.refMu.Lock()
	defer b.refMu.Unlock()
	if b.closing {
		return false
	}
	b.refs++
	return true
}

func (b *Block) release() {
	b.refMu.Lock()
	b.refs--
	if b.refs == 0 {
		b.idle.Broadcast()
	}
	b.refMu.Unlock()
}

// Close waits for readers to finish and closes the files.
func (b *Block) Close() error {
	b.refMu.Lock()
	b.closing = true
	for b.refs > 0 {
		b.idle.Wait()
	}
	b.refMu.Unlock()
	err1 := b.index.Close()
	err2 := b.chunks.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// blockIndex adapts an index reader to postingsSource.
type blockIndex struct{ r *index.Reader }

func (bi blockIndex) LabelValues(ctx context.Context, name string) ([]string, error) {
	return bi.r.LabelValues(ctx, name)
}

func (bi blockIndex) Postings(ctx context.Context, name string, values ...string) (index.Postings, error) {
	return bi.r.Postings(ctx, name, values...)
}

func (bi blockIndex) AllPostings(ctx context.Context) (index.Postings, error) {
	return bi.r.AllPostings(), nil
}

func (b *Block) selectSeries(ctx context.Context, mint, maxt int64, metaOnly bool, ms ...*labels.Matcher) ([]*selectedSeries, error) {
	p, err := postingsForMatchers(ctx, blockIndex{b.index}, ms...)
	if err != nil {
		return nil, fmt.Errorf("block %s: %w", b.meta.ULID, err)
	}
	b.tombMu.RLock()
	tr := b.tombstones
	b.tombMu.RUnlock()
	var (
		out     []*selectedSeries
		builder labels.ScratchBuilder
		metas   []chunks.Meta
	)
	for n := 0; p.Next(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ref := p.At()
		if err := b.index.Series(ref, &builder, &metas); err != nil {
			return nil, fmt.Errorf("block %s: reading series %d: %w", b.meta.ULID, ref, err)
		}
		var dels tombstones.Intervals
		if tr.Total() > 0 {
			if dels, err = tr.Get(ref); err != nil {
				return nil, err
			}
		}
		sel := &selectedSeries{mint: mint, maxt: maxt}
		for _, m := range metas {
			if m.MaxTime < mint || m.MinTime > maxt {
				continue
			}
			if len(dels) > 0 && fullyDeleted(dels, m.MinTime, m.MaxTime) {
				continue
			}
			if metaOnly {
				sel.chunks = append(sel.chunks, chunkEntry{minT: m.MinTime, maxT: m.MaxTime})
				break
			}
			data, err := b.chunks.Chunk(m.Ref)
			if err != nil {
				err = fmt.Errorf("block %s: series %s: %w", b.meta.ULID, builder.Labels(), err)
				if b.onCorrupt != nil {
					b.onCorrupt(b, err)
				}
				return nil, err
			}
			sel.chunks = append(sel.chunks, chunkEntry{data: data, minT: m.MinTime, maxT: m.MaxTime, dels: dels})
		}
		if len(sel.chunks) == 0 {
			continue
		}
		if metaOnly {
			sel.chunks = nil
		}
		sel.lset = builder.Labels()
		out = append(out, sel)
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("block %s: %w", b.meta.ULID, err)
	}
	// Refs are ordinals in labels order, and postings are sorted: the output is sorted already.
	return out, nil
}

func fullyDeleted(dels tombstones.Intervals, mint, maxt int64) bool {
	for _, d := range dels {
		if d.Mint <= mint && d.Maxt >= maxt {
			return true
		}
	}
	return false
}

func (b *Block) labelValues(ctx context.Context, name string, ms ...*labels.Matcher) ([]string, error) {
	if len(ms) == 0 {
		return b.index.LabelValues(ctx, name)
	}
	ss, err := b.selectSeries(ctx, b.meta.MinTime, b.meta.MaxTime, true, ms...)
	if err != nil {
		return nil, err
	}
	return valuesFromSeries(ss, name), nil
}

func (b *Block) labelNames(ctx context.Context, ms ...*labels.Matcher) ([]string, error) {
	if len(ms) == 0 {
		names, err := b.index.LabelNames(ctx)
		if err != nil {
			return nil, err
		}
		sort.Strings(names)
		return names, nil
	}
	ss, err := b.selectSeries(ctx, b.meta.MinTime, b.meta.MaxTime, true, ms...)
	if err != nil {
		return nil, err
	}
	return namesFromSeries(ss), nil
}
