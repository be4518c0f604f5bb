package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/prometheus/model/labels"
	promtsdb "github.com/prometheus/prometheus/tsdb"
	promchunkenc "github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/wlog"

	"github.com/vigil-monitoring/vigil/tsdb"
)

// PrometheusOptions configure ImportPrometheus.
type PrometheusOptions struct {
	// IncludeWAL also imports the samples in the source's WAL (its head: the newest 2–3 hours,
	// not yet in a block). The WAL is copied to a scratch directory in the destination and
	// replayed there by the upstream head, so the source is never written.
	IncludeWAL bool
	// SkipNativeHistograms leaves native histogram samples out (they are imported by default).
	SkipNativeHistograms bool
	// Out receives progress lines (nil: none); ProgressEvery is their interval (default 10s).
	Out           io.Writer
	ProgressEvery time.Duration
	Logger        *slog.Logger
}

// walWindow is the range of the blocks the source's WAL is cut into, as Prometheus cuts its head.
const walWindow = 2 * time.Hour / time.Millisecond

// ImportPrometheus writes the blocks of the Prometheus data directory (or admin-API snapshot) src
// into the Vigil data directory dst, one Vigil block per source block, series by series. Source
// blocks already imported into dst (recorded in dst's import state) are skipped. The first
// damaged source block stops the import with an error naming it (and the series, when a chunk is
// damaged); the blocks imported before it stay, and a re-run resumes after them.
func ImportPrometheus(ctx context.Context, src, dst string, o PrometheusOptions) (*Summary, error) {
	start := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	pr := &progress{out: o.Out, every: o.ProgressEvery, last: time.Now()}
	srcAbs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	dstAbs, err := filepath.Abs(dst)
	if err != nil {
		return nil, err
	}
	if within(dstAbs, srcAbs) || within(srcAbs, dstAbs) {
		return nil, fmt.Errorf("source %s and destination %s must not contain each other", srcAbs, dstAbs)
	}
	srcBlocks, hasWAL, err := listSource(srcAbs)
	if err != nil {
		return nil, err
	}
	if len(srcBlocks) == 0 && !(o.IncludeWAL && hasWAL) {
		hint := ""
		if hasWAL {
			hint = " (it has a WAL: add --include-wal to import it)"
		}
		return nil, fmt.Errorf("no Prometheus blocks in %s%s", srcAbs, hint)
	}
	if locked(filepath.Join(srcAbs, "lock")) {
		pr.printf("warning: %s is locked, probably by a running Prometheus: it may compact or delete blocks while they are read; stop it or import a snapshot (POST /api/v1/admin/tsdb/snapshot)\n", srcAbs)
	}

	d, err := openDest(dstAbs, o.Logger)
	if err != nil {
		return nil, err
	}
	defer d.close()
	sum := newSummary()

	// A block listed as a parent of another has been compacted into it (Prometheus deletes it
	// at its next start): importing both would store its samples twice.
	superseded := map[string]string{}
	for _, b := range srcBlocks {
		if b.meta != nil {
			for _, p := range b.meta.Compaction.Parents {
				superseded[p.ULID.String()] = b.id
			}
		}
	}
	maxBlockT := int64(math.MinInt64)
	for _, b := range srcBlocks {
		if b.meta != nil && superseded[b.id] == "" {
			maxBlockT = max(maxBlockT, b.meta.MaxTime)
		}
	}
	pr.printf("importing %d blocks from %s into %s\n", len(srcBlocks), srcAbs, dstAbs)
	for i, b := range srcBlocks {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		what := fmt.Sprintf("block %d/%d %s", i+1, len(srcBlocks), b.id)
		if by := superseded[b.id]; by != "" {
			pr.printf("%s: skipped, compacted into source block %s\n", what, by)
			sum.SkippedBlocks++
			continue
		}
		key := "prometheus-block:" + b.id
		skip, err := d.state.begin(key, d.dir)
		if err != nil {
			return sum, err
		}
		if skip {
			pr.printf("%s: skipped, imported before\n", what)
			sum.SkippedBlocks++
			continue
		}
		if b.metaErr != nil {
			return sum, fmt.Errorf("source block %s: %w", b.dir, b.metaErr)
		}
		if err := d.checkRange("source block "+b.id, b.meta.MaxTime); err != nil {
			return sum, err
		}
		pb, err := promtsdb.OpenBlock(o.Logger, b.dir, nil, nil)
		if err != nil {
			return sum, fmt.Errorf("source block %s: %w", b.dir, err)
		}
		m, err := d.convert(ctx, key, "source block "+b.id, pb, b.meta.MinTime, b.meta.MaxTime, false, b.meta.Stats.NumSeries, &o, pr, sum)
		pb.Close()
		if err != nil {
			return sum, err
		}
		if m != nil {
			pr.printf("%s [%s, %s): %d series, %d samples → block %s\n", what, fmtTime(b.meta.MinTime), fmtTime(b.meta.MaxTime), m.Stats.NumSeries, m.Stats.NumSamples, m.ULID)
		}
	}
	if hasWAL && !o.IncludeWAL {
		pr.printf("note: %s/wal (the newest samples, not yet in a block) was not imported; add --include-wal to import it\n", srcAbs)
	}
	if hasWAL && o.IncludeWAL {
		if err := d.importWAL(ctx, srcAbs, maxBlockT, &o, pr, sum); err != nil {
			return sum, err
		}
	}
	sum.Duration = time.Since(start)
	return sum, nil
}

type sourceBlock struct {
	id      string
	dir     string
	meta    *promtsdb.BlockMeta
	metaErr error
}

// listSource finds the blocks (directories named by a ULID, in ULID order) and the WAL of a
// Prometheus data directory or snapshot.
func listSource(dir string) ([]sourceBlock, bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, false, fmt.Errorf("reading source: %w", err)
	}
	var (
		blocks []sourceBlock
		hasWAL bool
	)
	for _, e := range entries {
		switch {
		case e.Name() == tsdb.MarkerFilename:
			return nil, false, fmt.Errorf("%s is a Vigil data directory, not a Prometheus one", dir)
		case e.Name() == "wal" && e.IsDir():
			segs, err := os.ReadDir(filepath.Join(dir, "wal"))
			if err != nil {
				return nil, false, fmt.Errorf("reading source WAL: %w", err)
			}
			hasWAL = len(segs) > 0
		case e.IsDir():
			if _, err := ulid.ParseStrict(e.Name()); err != nil {
				continue
			}
			b := sourceBlock{id: e.Name(), dir: filepath.Join(dir, e.Name())}
			b.meta, b.metaErr = readPromMeta(b.dir)
			blocks = append(blocks, b)
		}
	}
	slices.SortFunc(blocks, func(a, b sourceBlock) int { return strings.Compare(a.id, b.id) })
	return blocks, hasWAL, nil
}

func readPromMeta(dir string) (*promtsdb.BlockMeta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, fmt.Errorf("reading meta.json: %w", err)
	}
	var m promtsdb.BlockMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parsing meta.json: %w", err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("meta.json: unsupported block version %d", m.Version)
	}
	if m.MaxTime <= m.MinTime {
		return nil, fmt.Errorf("meta.json: empty time range [%d, %d)", m.MinTime, m.MaxTime)
	}
	return &m, nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// locked reports whether another process holds the flock on path (Prometheus's lock file). It
// opens the file read-only and never creates it.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

var allSeries = labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".*")

// convert writes the samples in [mint, maxt) of an upstream block (or range of a head) as the
// Vigil block for key, streaming series by series. sortSeries is needed for a head, whose
// postings are not in labels order. It returns nil when there were no samples.
func (d *dest) convert(ctx context.Context, key, what string, br promtsdb.BlockReader, mint, maxt int64, sortSeries bool, total uint64, o *PrometheusOptions, pr *progress, sum *Summary) (*tsdb.BlockMeta, error) {
	ir, err := br.Index()
	if err != nil {
		return nil, fmt.Errorf("%s: reading index: %w", what, err)
	}
	syms := symbolSet{}
	it := ir.Symbols()
	var symbols []string
	for it.Next() {
		symbols = append(symbols, it.At())
	}
	ir.Close()
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("%s: reading symbols: %w", what, err)
	}
	if !slices.IsSorted(symbols) || slices.Contains(symbols, "") {
		for _, s := range symbols {
			syms[s] = struct{}{}
		}
		symbols = syms.sorted()
	}

	q, err := promtsdb.NewBlockQuerier(br, mint, maxt-1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer q.Close()
	id := tsdb.NewBlockULID()
	if err := d.state.start(key, id); err != nil {
		return nil, err
	}
	w, err := tsdb.NewBlockWriter(ctx, d.dir, id, mint, maxt, tsdb.BlockCompaction{Level: 1}, o.Logger)
	if err != nil {
		return nil, err
	}
	if err := w.StartIndex(symbols); err != nil {
		return nil, err
	}
	var (
		c      tsdb.ChunkBuilder
		sit    promchunkenc.Iterator
		n      uint64
		hskips uint64
		prev   labels.Labels
	)
	ss := q.Select(ctx, sortSeries, nil, allSeries)
	for ss.Next() {
		s := ss.At()
		lset := s.Labels()
		c.Reset()
		sit = s.Iterator(sit)
	samples:
		for {
			switch sit.Next() {
			case promchunkenc.ValNone:
				break samples
			case promchunkenc.ValFloat:
				// Start timestamps (Prometheus 3.15 with st-storage) come over with the samples.
				t, v := sit.At()
				c.AddFloatST(t, v, sit.AtST())
			case promchunkenc.ValHistogram:
				if o.SkipNativeHistograms {
					hskips++
					continue
				}
				t, h := sit.AtHistogram(nil)
				c.AddHistogramST(t, sit.AtST(), h, nil)
			case promchunkenc.ValFloatHistogram:
				if o.SkipNativeHistograms {
					hskips++
					continue
				}
				t, fh := sit.AtFloatHistogram(nil)
				c.AddHistogramST(t, sit.AtST(), nil, fh)
			}
		}
		if err := sit.Err(); err != nil {
			w.Abort()
			return nil, fmt.Errorf("%s: series %s: %w", what, lset, err)
		}
		metas := c.Metas()
		if len(metas) == 0 {
			continue
		}
		if n > 0 && labels.Compare(lset, prev) == 0 {
			// Cannot happen for a valid block; the index writer would refuse it less clearly.
			w.Abort()
			return nil, fmt.Errorf("%s: series %s listed twice", what, lset)
		}
		if err := w.WriteChunks(metas...); err != nil {
			return nil, fmt.Errorf("%s: series %s: %w", what, lset, err)
		}
		if err := w.AddSeries(lset, metas); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		prev = lset
		n++
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				w.Abort()
				return nil, err
			}
			if pr.due() {
				m := w.Meta()
				pr.printf("  %s: %d/%d series, %d samples\n", what, n, total, m.Stats.NumSamples)
			}
		}
	}
	if err := ss.Err(); err != nil {
		w.Abort()
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	sum.HistogramSamplesSkipped += hskips
	if n == 0 {
		w.Abort()
		return nil, d.state.finish(key, nil)
	}
	m, err := w.Commit()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	sum.add(m)
	return m, d.state.finish(key, m)
}

// importWAL replays a copy of the source's WAL (and out-of-order WAL and head chunks) with the
// upstream head, above the newest source block as Prometheus would, and writes it as blocks of
// 2h aligned ranges.
func (d *dest) importWAL(ctx context.Context, src string, minValidT int64, o *PrometheusOptions, pr *progress, sum *Summary) error {
	sandbox := filepath.Join(d.dir, "import-wal.tmp")
	if err := os.RemoveAll(sandbox); err != nil {
		return err
	}
	defer os.RemoveAll(sandbox)
	pr.printf("copying the WAL of %s to %s\n", src, sandbox)
	for _, sub := range []string{"wal", wlog.WblDirName, "chunks_head"} {
		if err := copyTree(filepath.Join(src, sub), filepath.Join(sandbox, sub)); err != nil {
			return fmt.Errorf("copying the source's %s: %w", sub, err)
		}
	}
	w, err := wlog.Open(o.Logger, filepath.Join(sandbox, "wal"))
	if err != nil {
		return fmt.Errorf("opening the copy of the source WAL: %w", err)
	}
	opts := promtsdb.DefaultHeadOptions()
	opts.ChunkDirRoot = sandbox
	// Start timestamps in the WAL (Prometheus 3.15 with st-storage) stay with the samples: the
	// sandbox head keeps them in its chunks as such a Prometheus does.
	opts.EnableSTStorage.Store(true)
	opts.FloatChunkEncoding.Store(uint32(promchunkenc.EncXOR2))
	opts.EnableHistogramSTEncoding.Store(true)
	var wbl *wlog.WL
	if _, err := os.Stat(filepath.Join(sandbox, wlog.WblDirName)); err == nil {
		if wbl, err = wlog.Open(o.Logger, filepath.Join(sandbox, wlog.WblDirName)); err != nil {
			w.Close()
			return fmt.Errorf("opening the copy of the source out-of-order WAL: %w", err)
		}
		opts.OutOfOrderTimeWindow.Store(math.MaxInt64 / 4)
	}
	head, err := promtsdb.NewHead(nil, o.Logger, w, wbl, opts, nil)
	if err != nil {
		w.Close()
		return fmt.Errorf("source WAL: %w", err)
	}
	defer head.Close()
	pr.printf("replaying the WAL\n")
	if err := head.Init(minValidT); err != nil {
		return fmt.Errorf("replaying the WAL of %s: %w", src, err)
	}
	mint, maxt := head.MinTime(), head.MaxTime()
	if head.NumSeries() == 0 || mint > maxt {
		pr.printf("WAL: no samples above the newest block\n")
		return nil
	}
	for start := floorDiv(mint, int64(walWindow)) * int64(walWindow); start <= maxt; start += int64(walWindow) {
		end := start + int64(walWindow)
		key := "prometheus-wal:" + src + ":" + strconv.FormatInt(start, 10)
		what := fmt.Sprintf("WAL range [%s, %s)", fmtTime(start), fmtTime(end))
		skip, err := d.state.begin(key, d.dir)
		if err != nil {
			return err
		}
		if skip {
			pr.printf("%s: skipped, imported before\n", what)
			sum.SkippedBlocks++
			continue
		}
		if err := d.checkRange(what, min(end, maxt+1)); err != nil {
			return err
		}
		rh := promtsdb.NewRangeHead(head, start, end-1)
		m, err := d.convert(ctx, key, what, rh, start, end, true, head.NumSeries(), o, pr, sum)
		if err != nil {
			return err
		}
		if m != nil {
			pr.printf("%s: %d series, %d samples → block %s\n", what, m.Stats.NumSeries, m.Stats.NumSamples, m.ULID)
		}
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// copyTree copies the regular files under src to dst (missing src: nothing to copy).
func copyTree(src, dst string) error {
	err := filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(target, 0o777)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		return copyFile(p, target)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
