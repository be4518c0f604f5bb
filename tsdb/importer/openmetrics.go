package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/vigil-monitoring/vigil/tsdb"
	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

// OpenMetricsOptions configure ImportOpenMetrics, with the flags of `promtool tsdb
// create-blocks-from openmetrics`.
type OpenMetricsOptions struct {
	// MaxBlockDuration: blocks span the largest of 2h, 6h, 18h, … (×3) not above it; 2h when
	// it is below 2h (promtool's --max-block-duration).
	MaxBlockDuration time.Duration
	// Labels are added to every series, replacing a label of the same name (promtool's --label).
	Labels map[string]string
	// Out receives progress lines and the list of blocks written (nil: none).
	Out           io.Writer
	ProgressEvery time.Duration
	Logger        *slog.Logger
	// OpenSampleBudget bounds the samples held in open (in-memory) chunks across all series;
	// past it every open chunk is written out. Default 32M (about 50 MB).
	OpenSampleBudget int
}

// headChunkSamples: when the input moves on from a series, its open chunk is written out if it
// holds at least this many samples (a series listed sample after sample, as OpenMetrics lists
// them, then holds no memory for its samples); smaller ones stay open, so that input
// interleaving series still gets chunks of this size at least.
const headChunkSamples = 120

// ImportOpenMetricsFile imports the OpenMetrics text file at path into the Vigil data directory
// dst. A regular file is memory-mapped and the pages already parsed are released as the parser
// moves on, so the input's size does not add to the memory used.
func ImportOpenMetricsFile(ctx context.Context, path, dst string, o OpenMetricsOptions) (*Summary, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() == 0 {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return importOpenMetrics(ctx, b, false, "", dst, o)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > math.MaxInt {
		return nil, fmt.Errorf("%s is too big to map", path)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	defer syscall.Munmap(b)
	_ = syscall.Madvise(b, syscall.MADV_SEQUENTIAL)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// The same file (path, size, modification time) imported again with the same options is
	// skipped.
	key := fmt.Sprintf("openmetrics:%s:%d:%d:%d:%s", abs, fi.Size(), fi.ModTime().UnixNano(),
		compatibleBlockDuration(o.MaxBlockDuration.Milliseconds()), labels.FromMap(o.Labels))
	return importOpenMetrics(ctx, b, true, key, dst, o)
}

// ImportOpenMetrics imports OpenMetrics text (which must end with "# EOF", and give every
// sample a timestamp) into the Vigil data directory dst, as `promtool tsdb create-blocks-from
// openmetrics` does: samples are cut into blocks of aligned ranges (see MaxBlockDuration).
// Unlike promtool it reads the input once. Blocks are written when the whole input has been
// read: a failed import writes none.
func ImportOpenMetrics(ctx context.Context, input []byte, dst string, o OpenMetricsOptions) (*Summary, error) {
	return importOpenMetrics(ctx, input, false, "", dst, o)
}

// importOpenMetrics imports input; a non-empty key is recorded in the destination's import
// state once every block is written, and an input whose key is recorded is skipped.
func importOpenMetrics(ctx context.Context, input []byte, release bool, key, dst string, o OpenMetricsOptions) (*Summary, error) {
	start := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.OpenSampleBudget <= 0 {
		o.OpenSampleBudget = 32 << 20
	}
	d, err := openDest(dst, o.Logger)
	if err != nil {
		return nil, err
	}
	defer d.close()
	if _, done := d.state.Done[key]; key != "" && done {
		pr := &progress{out: o.Out}
		pr.printf("skipped: this file was imported into %s before\n", d.dir)
		sum := newSummary()
		sum.SkippedBlocks = 1
		return sum, nil
	}
	spoolDir := filepath.Join(d.dir, "import-openmetrics.tmp")
	if err := os.RemoveAll(spoolDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spoolDir, 0o777); err != nil {
		return nil, err
	}
	defer os.RemoveAll(spoolDir)
	im, err := newOMImporter(filepath.Join(spoolDir, "chunks"), &o)
	if err != nil {
		return nil, err
	}
	defer im.spool.Close()
	pr := &progress{out: o.Out, every: o.ProgressEvery, last: time.Now()}
	if err := im.parse(ctx, input, release, pr); err != nil {
		return nil, err
	}
	sum := newSummary()
	if err := im.writeBlocks(ctx, d, pr, sum); err != nil {
		return sum, err
	}
	if key != "" {
		d.state.Done[key] = doneEntry{Series: sum.Series, Samples: sum.Samples, At: time.Now().UTC()}
		if err := d.state.save(); err != nil {
			return sum, err
		}
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

// omSeries is one series of the input: its open chunk, and the chunks already written to the
// spool.
type omSeries struct {
	lset  labels.Labels
	win   int64 // block range of the open chunk
	lastT int64
	lastV float64
	open  chunkenc.OpenChunk
	n     int // samples in open
	spool []spooled
	next  *omSeries // next series with the same labels hash
}

// spooled is a chunk in the spool file.
type spooled struct {
	off        int64
	size       uint32
	win        int64
	mint, maxt int64
}

type omImporter struct {
	o         *OpenMetricsOptions
	blockDur  int64
	series    map[uint64]*omSeries // by labels hash, colliding series chained by next
	nSeries   int
	spool     *os.File
	spoolW    *bufio.Writer
	spoolOff  int64
	openTotal int
	windows   map[int64]struct{}
	samples   uint64
	recodeTs  []int64
	recodeVs  []float64
}

func newOMImporter(spoolPath string, o *OpenMetricsOptions) (*omImporter, error) {
	f, err := os.OpenFile(spoolPath, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("creating chunk spool: %w", err)
	}
	return &omImporter{
		o: o, blockDur: compatibleBlockDuration(o.MaxBlockDuration.Milliseconds()),
		series: map[uint64]*omSeries{}, spool: f, spoolW: bufio.NewWriterSize(f, 1<<20),
		windows: map[int64]struct{}{},
	}, nil
}

// parse reads the input once with upstream's OpenMetrics parser.
func (im *omImporter) parse(ctx context.Context, input []byte, release bool, pr *progress) error {
	var (
		p        = textparse.NewOpenMetricsParser(input, labels.NewSymbolTable())
		lastRaw  []byte
		cur      *omSeries
		lb       = labels.NewBuilder(labels.EmptyLabels())
		lset     labels.Labels
		released int
		lines    int
	)
	const releaseStep = 16 << 20
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("parse: %w", err)
		}
		if e != textparse.EntrySeries {
			continue
		}
		raw, ts, v := p.Series()
		if ts == nil {
			p.Labels(&lset)
			return fmt.Errorf("expected timestamp for series %v, got none", lset)
		}
		s := cur
		if s == nil || !bytes.Equal(raw, lastRaw) {
			p.Labels(&lset)
			lb.Reset(lset)
			lset.Range(func(l labels.Label) {
				if l.Value == "" {
					lb.Del(l.Name)
				}
			})
			for n, v := range im.o.Labels {
				lb.Set(n, v)
			}
			ls := lb.Labels()
			if ls.IsEmpty() {
				return fmt.Errorf("series %q has no labels", raw)
			}
			h := ls.Hash()
			s = im.series[h]
			for s != nil && !labels.Equal(s.lset, ls) {
				s = s.next
			}
			if s == nil {
				s = &omSeries{lset: ls, lastT: math.MinInt64, next: im.series[h]}
				im.series[h] = s
				im.nSeries++
			}
			if cur != nil && cur != s && cur.n >= headChunkSamples {
				if err := im.flush(cur); err != nil {
					return err
				}
			}
			cur = s
			lastRaw = raw
		}
		if err := im.append(s, *ts, v); err != nil {
			return err
		}
		lines++
		if lines%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			off := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) - uintptr(unsafe.Pointer(unsafe.SliceData(input))))
			if off < 0 || off > len(input) {
				off = released // the parser's bytes are not a window of input: no position
			}
			if release && off-released > releaseStep {
				// Pages behind the parser are not read again: drop them from this process.
				upTo := off &^ (os.Getpagesize() - 1)
				_ = syscall.Madvise(input[released:upTo], syscall.MADV_DONTNEED)
				released = upTo
			}
			if pr.due() {
				pr.printf("  parsed %d of %d MB (%.0f%%): %d series, %d samples\n", off>>20, len(input)>>20,
					100*float64(off)/float64(len(input)), im.nSeries, im.samples)
			}
		}
	}
	if err := im.flushAll(); err != nil {
		return err
	}
	if err := im.spoolW.Flush(); err != nil {
		return fmt.Errorf("writing chunk spool: %w", err)
	}
	return nil
}

func (im *omImporter) append(s *omSeries, t int64, v float64) error {
	switch {
	case t < s.lastT:
		return fmt.Errorf("series %s: out of order sample at %d (%s), after one at %d", s.lset, t, fmtTime(t), s.lastT)
	case t == s.lastT:
		if math.Float64bits(v) != math.Float64bits(s.lastV) {
			return fmt.Errorf("series %s: duplicate sample for timestamp %d (%s) with a different value", s.lset, t, fmtTime(t))
		}
		return nil
	}
	win := floorDiv(t, im.blockDur) * im.blockDur
	if s.n > 0 && (win != s.win || s.n == chunkenc.MaxSamplesPerChunk || s.n == chunkSamples) {
		if err := im.flush(s); err != nil {
			return err
		}
	}
	if s.n == 0 {
		s.open.Reset(64)
		s.win = win
		im.windows[win] = struct{}{}
	}
	s.open.Append(t, v)
	s.n++
	s.lastT, s.lastV = t, v
	im.samples++
	im.openTotal++
	if im.openTotal > im.o.OpenSampleBudget {
		return im.flushAll()
	}
	return nil
}

func (im *omImporter) flushAll() error {
	for _, s := range im.series {
		for ; s != nil; s = s.next {
			if err := im.flush(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the open chunk of s to the spool, in the smaller of XOR and integer encoding.
func (im *omImporter) flush(s *omSeries) error {
	if s.n == 0 {
		return nil
	}
	b, ts, vs, err := chunkenc.Recode(s.open.Bytes(), im.recodeTs, im.recodeVs)
	im.recodeTs, im.recodeVs = ts, vs
	if err != nil {
		return fmt.Errorf("series %s: re-encoding chunk: %w", s.lset, err)
	}
	first := ts[0]
	if _, err := im.spoolW.Write(b); err != nil {
		return fmt.Errorf("writing chunk spool: %w", err)
	}
	s.spool = append(s.spool, spooled{off: im.spoolOff, size: uint32(len(b)), win: s.win, mint: first, maxt: s.lastT})
	im.spoolOff += int64(len(b))
	im.openTotal -= s.n
	s.n = 0
	s.open = chunkenc.OpenChunk{}
	return nil
}

// writeBlocks writes one block per range, series in labels order, chunks copied from the spool.
func (im *omImporter) writeBlocks(ctx context.Context, d *dest, pr *progress, sum *Summary) error {
	all := make([]*omSeries, 0, im.nSeries)
	syms := symbolSet{}
	for _, s := range im.series {
		for ; s != nil; s = s.next {
			all = append(all, s)
			syms.add(s.lset)
		}
	}
	im.series = nil
	slices.SortFunc(all, func(a, b *omSeries) int { return labels.Compare(a.lset, b.lset) })
	symbols := syms.sorted()
	wins := make([]int64, 0, len(im.windows))
	for w := range im.windows {
		wins = append(wins, w)
	}
	slices.Sort(wins)
	var (
		buf   []byte
		metas []chunks.Meta
	)
	if len(wins) > 0 && pr.out != nil {
		pr.printf("BLOCK ULID                  MIN TIME                       MAX TIME                       DURATION     NUM SAMPLES  NUM CHUNKS   NUM SERIES   SIZE\n")
	}
	for _, win := range wins {
		w, err := tsdb.NewBlockWriter(ctx, d.dir, tsdb.NewBlockULID(), win, win+im.blockDur, tsdb.BlockCompaction{Level: 1}, im.o.Logger)
		if err != nil {
			return err
		}
		if err := w.StartIndex(symbols); err != nil {
			return err
		}
		var size int64
		for i, s := range all {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					w.Abort()
					return err
				}
			}
			metas = metas[:0]
			for _, c := range s.spool {
				if c.win != win {
					continue
				}
				buf = slices.Grow(buf[:0], int(c.size))[:c.size]
				if _, err := im.spool.ReadAt(buf, c.off); err != nil {
					w.Abort()
					return fmt.Errorf("reading chunk spool: %w", err)
				}
				metas = append(metas, chunks.Meta{MinTime: c.mint, MaxTime: c.maxt, Chunk: buf})
				if err := w.WriteChunks(metas[len(metas)-1:]...); err != nil {
					return err
				}
				metas[len(metas)-1].Chunk = nil
				size += int64(c.size)
			}
			if err := w.AddSeries(s.lset, metas); err != nil {
				return err
			}
		}
		m, err := w.Commit()
		if err != nil {
			return err
		}
		sum.add(m)
		pr.printf("%-27s %-30s %-30s %-12s %-12d %-12d %-12d %s\n", m.ULID, time.UnixMilli(m.MinTime).UTC(), time.UnixMilli(m.MaxTime).UTC(),
			time.Duration(m.MaxTime-m.MinTime)*time.Millisecond, m.Stats.NumSamples, m.Stats.NumChunks, m.Stats.NumSeries, humanBytes(size))
	}
	return nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + "GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + "MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
