// Package importer brings existing data into a Vigil data directory as Vigil blocks: a
// Prometheus data directory or snapshot (blocks read with the upstream tsdb package, the format's
// reference reader; optionally its WAL), and OpenMetrics text as `promtool tsdb
// create-blocks-from openmetrics` reads it (upstream textparse). It backs `vigil tsdb import`.
//
// The upstream tsdb package is used here only: the server's storage, queries and ingestion do
// not import this package's dependencies (see docs/import.md for the binary-size cost).
package importer

import (
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
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb"
	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

// chunkSamples is how many samples a chunk written by the importer holds at most, as in the
// blocks Vigil writes itself.
const chunkSamples = 480

// Summary is what an import did.
type Summary struct {
	Blocks        int    // blocks written
	SkippedBlocks int    // source blocks skipped (already imported, or superseded)
	Series        uint64 // series written, summed over blocks
	Samples       uint64 // samples written
	// HistogramSamplesSkipped counts native histogram samples left out (--skip-native-histograms).
	HistogramSamplesSkipped uint64
	MinTime, MaxTime        int64 // range of the blocks written; MinTime > MaxTime when none
	Duration                time.Duration
}

func newSummary() *Summary { return &Summary{MinTime: math.MaxInt64, MaxTime: math.MinInt64} }

func (s *Summary) add(m *tsdb.BlockMeta) {
	s.Blocks++
	s.Series += m.Stats.NumSeries
	s.Samples += m.Stats.NumSamples
	s.MinTime = min(s.MinTime, m.MinTime)
	s.MaxTime = max(s.MaxTime, m.MaxTime)
}

// dest is the Vigil data directory imported into, opened (and locked) as a DB for the duration
// of the import: the same ownership checks as the server's start apply, and nothing else can
// write to it meanwhile.
type dest struct {
	dir      string
	db       *tsdb.DB
	headMinT int64 // oldest sample in the destination's WAL; MaxInt64 when it holds none
	state    *importState
	logger   *slog.Logger
}

func openDest(dir string, logger *slog.Logger) (*dest, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", dir, err)
	}
	opts := tsdb.DefaultOptions()
	// Nothing is deleted or merged into bigger blocks while importing: the server does that
	// with its own retention and block durations when it next starts.
	opts.RetentionDuration = 0
	opts.MaxBlockDuration = opts.MinBlockDuration
	db, err := tsdb.Open(abs, opts, logger.With("component", "destination tsdb"), nil)
	if err != nil {
		return nil, fmt.Errorf("opening destination %s: %w", abs, err)
	}
	d := &dest{dir: abs, db: db, headMinT: math.MaxInt64, logger: logger}
	if h := db.Head(); h.NumSeries() > 0 {
		d.headMinT = h.MinTime()
	}
	if d.state, err = loadState(abs); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

func (d *dest) close() error { return d.db.Close() }

// checkRange refuses a block that would reach into the samples of the destination's WAL: at its
// next start Vigil replays the WAL above its newest block only, so those samples would be lost.
func (d *dest) checkRange(what string, maxt int64) error {
	if maxt > d.headMinT {
		return fmt.Errorf("%s ends at %s, after the oldest sample in the WAL of %s (%s): Vigil would "+
			"no longer replay those WAL samples. Import only data older than what this directory "+
			"already holds in its WAL, or import into a new directory",
			what, fmtTime(maxt), d.dir, fmtTime(d.headMinT))
	}
	return nil
}

// importState records the source blocks (and WAL ranges) already imported, in
// <dest>/import-state.json, so that a re-run skips them and never writes their samples twice.
type importState struct {
	path string

	Version int `json:"version"`
	// Done maps a source key ("prometheus-block:<ULID>", "prometheus-wal:<dir>:<mint>",
	// "openmetrics:<file>:<size>:<mtime>:<mint>") to the block it became.
	Done map[string]doneEntry `json:"done"`
	// InProgress is the source being written: if its block is complete in the destination
	// after a crash it is recorded as done, else its leftover is removed and it is redone.
	InProgress *progressEntry `json:"inProgress,omitempty"`
}

type doneEntry struct {
	Block   string    `json:"block,omitempty"` // empty when the source had no samples
	Series  uint64    `json:"series"`
	Samples uint64    `json:"samples"`
	At      time.Time `json:"at"`
}

type progressEntry struct {
	Key   string `json:"key"`
	Block string `json:"block"`
}

func loadState(dir string) (*importState, error) {
	s := &importState{path: filepath.Join(dir, tsdb.ImportStateFilename), Version: 1, Done: map[string]doneEntry{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading import state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("parsing import state %s: %w", s.path, err)
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("import state %s has unknown version %d", s.path, s.Version)
	}
	if s.Done == nil {
		s.Done = map[string]doneEntry{}
	}
	return s, nil
}

func (s *importState) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := fileutil.WriteFileAtomic(s.path, b); err != nil {
		return fmt.Errorf("writing import state: %w", err)
	}
	return nil
}

// begin decides whether key must be imported. It resolves an import of key interrupted by a
// crash: a block that was renamed into place counts as done.
func (s *importState) begin(key, destDir string) (skip bool, err error) {
	if _, ok := s.Done[key]; ok {
		return true, nil
	}
	if p := s.InProgress; p != nil && p.Key == key {
		s.InProgress = nil
		if _, err := os.Stat(filepath.Join(destDir, p.Block, "meta.json")); err == nil {
			s.Done[key] = doneEntry{Block: p.Block, At: time.Now().UTC()}
			return true, s.save()
		}
		if err := os.RemoveAll(filepath.Join(destDir, p.Block+".tmp")); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (s *importState) start(key, block string) error {
	s.InProgress = &progressEntry{Key: key, Block: block}
	return s.save()
}

func (s *importState) finish(key string, m *tsdb.BlockMeta) error {
	e := doneEntry{At: time.Now().UTC()}
	if m != nil {
		e.Block, e.Series, e.Samples = m.ULID, m.Stats.NumSeries, m.Stats.NumSamples
	}
	s.Done[key] = e
	s.InProgress = nil
	return s.save()
}

// symbolSet collects label names and values for a block's symbol table.
type symbolSet map[string]struct{}

func (s symbolSet) add(ls labels.Labels) {
	ls.Range(func(l labels.Label) {
		if _, ok := s[l.Name]; !ok {
			s[l.Name] = struct{}{}
		}
		if _, ok := s[l.Value]; !ok {
			s[l.Value] = struct{}{}
		}
	})
}

func (s symbolSet) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func fmtTime(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// progress prints at most every interval.
type progress struct {
	out   io.Writer
	every time.Duration
	last  time.Time
}

func (p *progress) due() bool {
	if p.out == nil {
		return false
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		return true
	}
	return false
}

func (p *progress) printf(format string, a ...any) {
	if p.out != nil {
		fmt.Fprintf(p.out, format, a...)
	}
}
