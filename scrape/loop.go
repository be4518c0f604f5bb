package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/storage"
)

// Errors with Prometheus's texts, so that lastError reads the same.
var (
	errSampleLimit        = errors.New("sample limit exceeded")
	errBodySizeLimit      = errors.New("body size limit exceeded")
	errNameLabelMandatory = fmt.Errorf("missing metric name (%s label)", model.MetricNameLabel)
	errBucketLimit        = errors.New("histogram bucket limit exceeded")
)

// maxFutureSkew bounds how far past the scrape time an exposed timestamp may be. Prometheus
// stores such samples; a single one years ahead would stretch the head's time range and stall
// block cutting, so Vigil rejects them as out of bounds and says so in lastError.
const maxFutureSkew = 10 * time.Minute

// scrapeTimestampTolerance is how far a scrape may fire from its ideal tick and still be stored
// at the tick (Prometheus's default).
const scrapeTimestampTolerance = 2 * time.Millisecond

// UserAgent is sent with every scrape.
var UserAgent = "Vigil/0.1"

type labelLimits struct {
	labelLimit            int
	labelNameLengthLimit  int
	labelValueLengthLimit int
}

// loopConfig is everything from the scrape config a loop needs, resolved once per pool.
type loopConfig struct {
	interval, timeout        time.Duration
	honorLabels              bool
	honorTimestamps          bool
	trackTimestampsStaleness bool
	sampleLimit              int
	bodySizeLimit            int64
	limits                   labelLimits
	metricRelabel            []*relabel.Config
	acceptHeader             string
	acceptEncoding           string
	fallbackType             string

	// Native histograms (upstream's scrape config fields; a target's
	// __scrape_native_histograms__, __always_scrape_classic_histograms__ and
	// __convert_classic_histograms_to_nhcb__ labels override the first three).
	nativeHistograms bool
	alwaysClassic    bool
	convertNHCB      bool
	bucketLimit      int   // native_histogram_bucket_limit, 0: none
	maxSchema        int32 // from native_histogram_min_bucket_factor
	parseST          bool  // Options.ParseST
}

func newLoopConfig(cfg *config.ScrapeConfig, opts Options) loopConfig {
	lc := loopConfig{
		interval:                 time.Duration(cfg.ScrapeInterval),
		timeout:                  time.Duration(cfg.ScrapeTimeout),
		honorLabels:              cfg.HonorLabels,
		honorTimestamps:          cfg.HonorTimestamps,
		trackTimestampsStaleness: cfg.TrackTimestampsStaleness,
		sampleLimit:              int(cfg.SampleLimit),
		bodySizeLimit:            int64(cfg.BodySizeLimit),
		limits: labelLimits{
			labelLimit:            int(cfg.LabelLimit),
			labelNameLengthLimit:  int(cfg.LabelNameLengthLimit),
			labelValueLengthLimit: int(cfg.LabelValueLengthLimit),
		},
		metricRelabel:  cfg.MetricRelabelConfigs,
		acceptHeader:   acceptHeader(cfg.ScrapeProtocols),
		acceptEncoding: "identity",
		fallbackType:   cfg.ScrapeFallbackProtocol.HeaderMediaType(),

		nativeHistograms: cfg.ScrapeNativeHistogramsEnabled(),
		alwaysClassic:    cfg.AlwaysScrapeClassicHistogramsEnabled(),
		convertNHCB:      cfg.ConvertClassicHistogramsToNHCBEnabled(),
		bucketLimit:      int(cfg.NativeHistogramBucketLimit),
		maxSchema:        pickSchema(cfg.NativeHistogramMinBucketFactor),
		parseST:          opts.ParseST,
	}
	if cfg.EnableCompression {
		lc.acceptEncoding = "gzip"
	}
	return lc
}

// The target labels that override the scrape config's histogram settings, as in Prometheus.
const (
	scrapeNativeHistogramsLabel         = "__scrape_native_histograms__"
	alwaysScrapeClassicHistogramsLabel  = "__always_scrape_classic_histograms__"
	convertClassicHistogramsToNHCBLabel = "__convert_classic_histograms_to_nhcb__"
)

// forTarget applies a target's overriding labels.
func (a loopConfig) forTarget(t *Target) loopConfig {
	ls := t.LabelsWithInternal()
	boolLabel := func(name string, def bool) bool {
		if b, err := strconv.ParseBool(ls.Get(name)); err == nil {
			return b
		}
		return def
	}
	a.nativeHistograms = boolLabel(scrapeNativeHistogramsLabel, a.nativeHistograms)
	a.alwaysClassic = boolLabel(alwaysScrapeClassicHistogramsLabel, a.alwaysClassic)
	a.convertNHCB = boolLabel(convertClassicHistogramsToNHCBLabel, a.convertNHCB)
	return a
}

// pickSchema is the highest exponential schema whose buckets grow by at least bucketFactor
// (native_histogram_min_bucket_factor; 0 or 1 and below: no reduction), as Prometheus's.
func pickSchema(bucketFactor float64) int32 {
	if bucketFactor <= 1 {
		bucketFactor = 1.00271
	}
	floor := math.Floor(-math.Log2(math.Log2(bucketFactor)))
	switch {
	case floor >= float64(histogram.ExponentialSchemaMax):
		return histogram.ExponentialSchemaMax
	case floor <= float64(histogram.ExponentialSchemaMin):
		return histogram.ExponentialSchemaMin
	default:
		return int32(floor)
	}
}

// cacheCompatible reports whether a cache built under a may serve b: the cached label sets
// depend on the label handling options only.
func (a loopConfig) cacheCompatible(b loopConfig) bool {
	return a.honorLabels == b.honorLabels && a.limits == b.limits &&
		slices.EqualFunc(a.metricRelabel, b.metricRelabel, sameRelabelConfig)
}

// sameRelabelConfig compares two rules by what they do (the compiled regexp is compared by its
// source; it holds pointers).
func sameRelabelConfig(x, y *relabel.Config) bool {
	return slices.Equal(x.SourceLabels, y.SourceLabels) && x.Separator == y.Separator &&
		x.Regex.String() == y.Regex.String() && x.Modulus == y.Modulus &&
		x.TargetLabel == y.TargetLabel && x.Replacement == y.Replacement && x.Action == y.Action
}

// acceptHeader builds the Accept header from scrape_protocols, most preferred first, as
// Prometheus does.
func acceptHeader(sps []config.ScrapeProtocol) string {
	vals := make([]string, 0, len(sps)+1)
	weight := len(config.ScrapeProtocolsHeaders) + 1
	for _, sp := range sps {
		val := config.ScrapeProtocolsHeaders[sp]
		if sp == config.PrometheusText1_0_0 || sp == config.OpenMetricsText1_0_0 {
			val += ";" + model.EscapingKey + "=" + model.AllowUTF8
		}
		val += fmt.Sprintf(";q=0.%d", weight)
		vals = append(vals, val)
		weight--
	}
	vals = append(vals, fmt.Sprintf("*/*;q=0.%d", weight))
	return strings.Join(vals, ",")
}

// appendStats is what one append pass found.
type appendStats struct {
	total, added, seriesAdded      int
	outOfOrder, duplicates, bounds int
}

func (s appendStats) warning() error {
	var parts []string
	if s.outOfOrder > 0 {
		parts = append(parts, fmt.Sprintf("%d out-of-order samples", s.outOfOrder))
	}
	if s.duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d samples with the same timestamp as another (duplicate series)", s.duplicates))
	}
	if s.bounds > 0 {
		parts = append(parts, fmt.Sprintf("%d samples too old or too far into the future", s.bounds))
	}
	if len(parts) == 0 {
		return nil
	}
	return fmt.Errorf("scrape succeeded but dropped %s", strings.Join(parts, ", "))
}

// scrapeLoop scrapes one target.
type scrapeLoop struct {
	target     *Target
	cfg        loopConfig
	client     *http.Client
	appendable storage.Appendable
	logger     *slog.Logger
	cache      *scrapeCache
	offsetSeed uint64
	metrics    *metrics

	// targetLabels are the target's public labels, attached to every sample.
	targetLabels labels.Labels

	// ctx stops the loop; appendCtx (the manager's) is only cancelled at shutdown, so that a
	// reload does not abort an append half way. scrapeCtx (the pool's) ends the requests when
	// the pool stops; a reload that replaces the loop lets its scrape finish.
	ctx       context.Context
	cancel    context.CancelFunc
	appendCtx context.Context
	scrapeCtx context.Context
	stopped   chan struct{}

	symbols *labels.SymbolTable
	lb      *labels.Builder
	// lastSize is the size of the last body read whole, a hint for the next.
	lastSize int
	// chunkSize overrides textChunkSize (tests).
	chunkSize int
	// textFormat tells whether responses of Content-Type probedType get upstream's text parser.
	probedType string
	probed     bool
	textFormat bool
	br         *bufio.Reader
	gz         *gzip.Reader
	req        *http.Request

	reportRefs [numReportSeries]storage.SeriesRef
	reportLset [numReportSeries]labels.Labels

	lastScrape           time.Time
	lastStart            time.Time // wall clock of the previous scrape, for the interval metric
	disableEndOfRunStale atomic.Bool
	// staleMtx orders endOfRunStaleness against takeOver, which hands the cache to a new loop.
	staleMtx  sync.Mutex
	staleDone bool

	forced atomic.Pointer[forcedErr]
}

func newScrapeLoop(appendCtx, scrapeCtx context.Context, t *Target, cfg loopConfig, client *http.Client, app storage.Appendable, cache *scrapeCache, seed uint64, m *metrics, logger *slog.Logger) *scrapeLoop {
	if cache == nil {
		cache = newScrapeCache()
	}
	ctx, cancel := context.WithCancel(appendCtx)
	sl := &scrapeLoop{
		target:       t,
		cfg:          cfg.forTarget(t),
		client:       client,
		appendable:   app,
		logger:       logger,
		cache:        cache,
		offsetSeed:   seed,
		metrics:      m,
		targetLabels: t.Labels(),
		ctx:          ctx,
		cancel:       cancel,
		appendCtx:    appendCtx,
		scrapeCtx:    scrapeCtx,
		stopped:      make(chan struct{}),
		symbols:      labels.NewSymbolTable(),
		lb:           labels.NewBuilder(labels.EmptyLabels()),
	}
	t.setMetadataStore(cache.meta)
	return sl
}

func (sl *scrapeLoop) run() {
	defer close(sl.stopped)
	select {
	case <-time.After(sl.target.offset(sl.cfg.interval, sl.offsetSeed, time.Now())):
	case <-sl.ctx.Done():
		return
	}
	ticker := time.NewTicker(sl.cfg.interval)
	defer ticker.Stop()
	// Round(0) drops the monotonic reading so the wall clock timestamp is stored.
	aligned := time.Now().Round(0)
	tolerance := min(sl.cfg.interval/100, scrapeTimestampTolerance)
	for {
		var ts time.Time
		ts, aligned = alignTimestamp(time.Now().Round(0), aligned, sl.cfg.interval, tolerance)
		sl.scrapeAndReport(ts)
		select {
		case <-sl.ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// alignTimestamp snaps a scrape time to the ideal tick (aligned advanced by whole intervals) when
// it is within tolerance of it. Timer jitter would otherwise make every timestamp delta slightly
// different; constant deltas cost one bit each in the TSDB's delta-of-delta encoding (Prometheus
// does the same). It returns the timestamp to use and the new ideal tick.
func alignTimestamp(now, aligned time.Time, interval, tolerance time.Duration) (time.Time, time.Time) {
	for now.Sub(aligned) >= interval {
		aligned = aligned.Add(interval)
	}
	if now.Sub(aligned) <= tolerance {
		return aligned, aligned
	}
	return now, aligned
}

// stop ends the loop and waits for an in-flight scrape to finish.
func (sl *scrapeLoop) stop() {
	sl.cancel()
	<-sl.stopped
}

// scrapeAndReport does one scrape: fetch, parse and append in one batch, commit, then append
// the report series. On any failure the batch is rolled back (nothing partial is stored) and the
// target's series get stale markers, as after an empty scrape.
func (sl *scrapeLoop) scrapeAndReport(ts time.Time) {
	start := time.Now()
	sl.lastScrape = ts
	if !sl.lastStart.IsZero() && sl.metrics != nil {
		sl.metrics.intervalLength.WithLabelValues(sl.cfg.interval.String()).Observe(start.Sub(sl.lastStart).Seconds())
	}
	sl.lastStart = start
	var (
		resp      *http.Response
		body      io.Reader
		scrapeErr error
	)
	// The timeout covers the request and reading the body, not parsing and appending it as it
	// arrives (see netClock). The request ends with the pool: a shutdown or a removed job does
	// not wait for a hanging target.
	ctx, clock := startNetClock(sl.scrapeCtx, sl.cfg.timeout)
	defer clock.stop()
	if scrapeErr = sl.forcedError(); scrapeErr == nil {
		resp, body, scrapeErr = sl.open(ctx)
	}
	clock.pause()
	if scrapeErr != nil && sl.scrapeCtx.Err() != nil {
		sl.dropCancelled(nil)
		return
	}
	if body != nil {
		body = clock.reader(body)
	}

	app := sl.appendable.Appender(sl.appendCtx)
	var contentType string
	if resp != nil {
		contentType = resp.Header.Get("Content-Type")
	}
	stats, appErr := sl.appendFrom(app, body, contentType, ts)
	clock.resume() // draining what is left is network time too
	closeResponse(resp)
	if appErr != nil && sl.scrapeCtx.Err() != nil {
		sl.dropCancelled(app)
		return
	}
	if appErr != nil {
		var readErr *bodyReadError
		if errors.As(appErr, &readErr) {
			// As if the scrape had failed before parsing: nothing was scraped.
			stats, appErr = appendStats{}, readErr.err
		}
		_ = app.Rollback()
		app = sl.appendable.Appender(sl.appendCtx)
		// A failed scrape stores nothing and behaves like an empty one: stale markers for all.
		sl.cache.forgetCurrent()
		if _, err := sl.append(app, nil, "", ts); err != nil {
			_ = app.Rollback()
			app = sl.appendable.Appender(sl.appendCtx)
			sl.logger.Warn("Appending stale markers failed", "err", err)
		}
		if scrapeErr == nil {
			scrapeErr = appErr
		}
	}
	dur := time.Since(start)
	if err := sl.report(app, ts, dur, stats, scrapeErr); err != nil {
		sl.logger.Warn("Appending scrape report failed", "err", err)
	}
	if err := app.Commit(); err != nil {
		sl.logger.Error("Scrape commit failed", "err", err)
		if scrapeErr == nil {
			scrapeErr = fmt.Errorf("storing samples: %w", err)
		}
		// The up=1 appended with the samples is lost with them, and queries would go on seeing
		// the previous scrape's 1 for the lookback. The failure is stored as up=0 on its own (a
		// few samples, which a full disk may still take); failing that, the target's health
		// below still says why.
		app = sl.appendable.Appender(sl.appendCtx)
		if err := sl.report(app, ts, dur, appendStats{}, scrapeErr); err != nil {
			_ = app.Rollback()
			sl.logger.Warn("Appending the failed scrape's report failed", "err", err)
		} else if err := app.Commit(); err != nil {
			sl.logger.Warn("Storing the failed scrape's report failed", "err", err)
		}
	}
	health := HealthGood
	lastErr := scrapeErr
	if scrapeErr != nil {
		health = HealthBad
		sl.logger.Debug("Scrape failed", "err", scrapeErr)
	} else {
		lastErr = stats.warning()
		if lastErr != nil {
			sl.logger.Warn("Some scraped samples were rejected", "err", lastErr)
		}
	}
	sl.target.report(ts, dur, health, lastErr)
	if sl.metrics != nil {
		sl.metrics.observe(sl.target.pool, dur, scrapeErr, stats)
	}
}

// dropCancelled ends a scrape whose request was cancelled because the pool stopped: the server
// is going down, or the job was removed (endOfRunStaleness then writes its stale markers from
// the previous scrape). Nothing was scraped and the target is not to blame: nothing is stored,
// not even up=0, and the cache is left as after the previous scrape.
func (sl *scrapeLoop) dropCancelled(app storage.Appender) {
	if app != nil {
		_ = app.Rollback()
	}
	sl.cache.forgetCurrent()
}

// closeResponse drains what is left of a (small) body so the connection can be reused.
func closeResponse(resp *http.Response) {
	if resp != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
}

// open GETs the target and returns the response with its body, decompressed and limited to
// body_size_limit. The caller reads the body and closes the response.
func (sl *scrapeLoop) open(ctx context.Context) (*http.Response, io.Reader, error) {
	if sl.req == nil {
		req, err := http.NewRequest(http.MethodGet, sl.target.URL(), http.NoBody)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Add("Accept", sl.cfg.acceptHeader)
		req.Header.Add("Accept-Encoding", sl.cfg.acceptEncoding)
		req.Header.Set("User-Agent", UserAgent)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(sl.cfg.timeout.Seconds(), 'f', -1, 64))
		sl.req = req
	}
	resp, err := sl.client.Do(sl.req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		closeResponse(resp)
		return nil, nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	var r io.Reader = resp.Body
	switch ce := resp.Header.Get("Content-Encoding"); ce {
	case "", "identity":
	case "gzip":
		if sl.gz == nil {
			sl.br = bufio.NewReader(resp.Body)
			sl.gz, err = gzip.NewReader(sl.br)
		} else {
			sl.br.Reset(resp.Body)
			err = sl.gz.Reset(sl.br)
		}
		if err != nil {
			closeResponse(resp)
			return nil, nil, fmt.Errorf("reading gzip response: %w", err)
		}
		r = sl.gz
	default:
		closeResponse(resp)
		return nil, nil, fmt.Errorf("unsupported Content-Encoding %q", ce)
	}
	return resp, newLimitedBody(r, sl.cfg.bodySizeLimit), nil
}

// append parses b and appends its samples to app. It does not commit or roll back. An empty b
// (a failed scrape) only writes stale markers for the series of the previous scrape.
func (sl *scrapeLoop) append(app storage.Appender, b []byte, contentType string, ts time.Time) (appendStats, error) {
	var r io.Reader
	if len(b) > 0 {
		r = bytes.NewReader(b)
	}
	return sl.appendFrom(app, r, contentType, ts) // reading a bytes.Reader cannot fail
}

// appendFrom reads an exposition from body and appends its samples to app. It does not commit or
// roll back. A nil body (a failed scrape) only writes stale markers for the series of the
// previous scrape. Errors reading the body are *bodyReadError.
//
// The Prometheus text format is parsed a chunk of whole lines at a time as it is read, so a scrape
// holds a few hundred kilobytes of body instead of the whole exposition (megabytes for 10k
// series); other formats are read whole, as their parsers need.
func (sl *scrapeLoop) appendFrom(app storage.Appender, body io.Reader, contentType string, ts time.Time) (appendStats, error) {
	run := appendRun{sl: sl, app: app, defTime: ts.UnixMilli()}
	run.maxT = run.defTime + maxFutureSkew.Milliseconds()
	if body == nil {
		err := sl.updateStaleMarkers(app, run.defTime)
		sl.cache.iterDone(false)
		return run.stats, err
	}
	opts := textparse.ParserOptions{
		IgnoreNativeHistograms:                  !sl.cfg.nativeHistograms,
		ConvertClassicHistogramsToNHCB:          sl.cfg.convertNHCB,
		KeepClassicOnClassicAndNativeHistograms: sl.cfg.alwaysClassic,
		FallbackContentType:                     sl.cfg.fallbackType,
		// With start timestamps, OpenMetrics _created lines are read as the start timestamps
		// of their series (StartTimestamp) rather than as samples, as upstream.
		OpenMetricsSkipSTSeries: sl.cfg.parseST,
	}
	if contentType != sl.probedType || !sl.probed {
		probe, _ := textparse.New(nil, contentType, sl.symbols, opts)
		// Converting to NHCB gathers a histogram's lines across the exposition (upstream's
		// NHCB parser wraps the text parser): the body is then parsed whole, not in chunks.
		_, sl.textFormat = probe.(*textparse.PromParser)
		sl.textFormat = sl.textFormat && !sl.cfg.convertNHCB
		sl.probedType, sl.probed = contentType, true
	}
	var err error
	if sl.textFormat {
		err = sl.appendTextChunks(&run, body)
	} else {
		err = sl.appendWhole(&run, body, contentType, opts)
	}
	if err == nil && run.sampleLimitErr != nil {
		err = run.sampleLimitErr
	}
	if err == nil && run.bucketLimitErr != nil {
		err = run.bucketLimitErr
	}
	if err != nil {
		return run.stats, err
	}
	if err = sl.updateStaleMarkers(app, run.defTime); err != nil {
		return run.stats, err
	}
	sl.cache.iterDone(true)
	return run.stats, nil
}

// appendWhole reads the whole body into a pooled buffer and appends what it parses.
func (sl *scrapeLoop) appendWhole(run *appendRun, body io.Reader, contentType string, opts textparse.ParserOptions) error {
	buf := bytes.NewBuffer(bodies.get(sl.lastSize + bytes.MinRead)) // ReadFrom grows below MinRead of room
	_, err := buf.ReadFrom(body)
	b := buf.Bytes()
	defer func() {
		sl.lastSize = len(b)
		bodies.put(b)
	}()
	if err != nil {
		return err
	}
	p, perr := textparse.New(b, contentType, sl.symbols, opts)
	if p == nil {
		return perr
	}
	return run.entries(p)
}

// textChunkSize is how much of a text exposition is read before it is parsed; a line longer than
// that grows the buffer.
const textChunkSize = 256 << 10

// appendTextChunks reads a Prometheus text exposition in chunks that end at a line break and
// parses each with a parser of its own. The parser carries one piece of state from line to line,
// the metric type of the last # TYPE line (it normalises le/quantile values of histograms and
// summaries), so a chunk that continues such a family starts with a # TYPE line of that type.
//
// A chunk is cut at its last line break. That is wrong only when the break is inside a quoted
// string (promlex allows raw line breaks in label values), and then the chunk's last line cannot
// be parsed: only a failed chunk is checked line by line (textLinesEnd), and if the cut was the
// cause, parsing goes on from the start of the broken line. Lines parsed before it were parsed
// right, and the broken line appended nothing.
func (sl *scrapeLoop) appendTextChunks(run *appendRun, body io.Reader) error {
	size := sl.chunkSize
	if size <= 0 {
		size = textChunkSize
	}
	// The pool may lend a smaller buffer (one an OpenMetrics scrape returned): grow it.
	buf := slices.Grow(bodies.get(size), size)[:size]
	defer func() { bodies.put(buf) }()
	grow := func(keep int) { buf = slices.Grow(buf[:keep], len(buf))[:2*len(buf)] }
	carry, prefix := 0, 0 // buf[:carry] is kept from the last round; buf[:prefix] is a # TYPE line
	for {
		n, rerr := io.ReadFull(body, buf[carry:])
		end := carry + n
		eof := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		if rerr != nil && !eof {
			return rerr
		}
		cut := end // the chunk is buf[:cut]; when not at the end, the rest is kept
		if !eof {
			nl := bytes.LastIndexByte(buf[prefix:end], '\n')
			if nl < 0 {
				grow(end)
				carry = end
				continue
			}
			// The chunk leaves out its final line break: the parser appends one, in place.
			cut = prefix + nl
		}
		if bytes.IndexByte(buf[prefix:cut], 0) >= 0 {
			// promlex ends the exposition at a NUL at the start of a line (elsewhere it is an
			// error or part of a string): find out which.
			if _, nul := textLinesEnd(buf[prefix:cut]); nul >= 0 {
				cut, eof = prefix+nul, true
				if _, err := io.Copy(io.Discard, body); err != nil { // still bound by body_size_limit
					return err
				}
			}
		}
		run.skipType = prefix > 0
		if err := run.entries(textparse.NewPromParser(buf[:cut], sl.symbols, false)); err != nil {
			if eof || !run.parseFailed {
				return err
			}
			// Was the cut inside a string, and the broken line the one that failed? Then resume
			// at that line.
			e, _ := textLinesEnd(buf[prefix : cut+1])
			if prefix+e == cut || (e >= 0 && !sl.parsesClean(buf[:prefix+e])) {
				return err
			}
			cut = prefix + e // e is -1 without a whole line: the prefix line is parsed again
		} else if eof {
			return nil
		}
		rest := buf[cut+1 : end]
		next := len(run.typeLine)
		if next+len(rest) > len(buf) {
			buf = slices.Grow(buf[:0], next+len(rest))[:next+len(rest)]
		}
		copy(buf[next:], rest)
		copy(buf, run.typeLine)
		prefix, carry = next, next+len(rest)
		if carry == len(buf) {
			grow(carry) // no line fits: read more before cutting again
		}
	}
}

// parsesClean reports whether the text exposition b parses without error.
func (sl *scrapeLoop) parsesClean(b []byte) bool {
	p := textparse.NewPromParser(b, sl.symbols, false)
	for {
		if _, err := p.Next(); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// bodyReadError marks an error reading a scrape's body, as opposed to one parsing or storing it.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// limitedBody reads a response body up to body_size_limit, failing with Prometheus's error
// text beyond it, and wraps read errors in *bodyReadError.
type limitedBody struct {
	r     io.Reader
	left  int64
	limit int64
}

func newLimitedBody(r io.Reader, limit int64) *limitedBody {
	if limit <= 0 {
		limit = 1<<63 - 1
	}
	return &limitedBody{r: r, left: limit, limit: limit}
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if l.left <= 0 {
		// At the limit: one more byte tells "exactly at the limit" from "over it".
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, &bodyReadError{fmt.Errorf("%w (limit: %d bytes)", errBodySizeLimit, l.limit)}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err != nil && err != io.EOF {
		err = &bodyReadError{fmt.Errorf("reading response body: %w", err)}
	}
	return n, err
}

// appendRun is the state of one append pass, across the parsers of its chunks.
type appendRun struct {
	sl             *scrapeLoop
	app            storage.Appender
	stats          appendStats
	sampleLimitErr error
	bucketLimitErr error
	appended       int
	lset           labels.Labels
	defTime, maxT  int64
	// typeLine is "# TYPE _ <type>\n" after a # TYPE line for a histogram or summary, empty after
	// any other; skipType is set while that line, repeated at the start of a chunk, is to be
	// passed over.
	typeLine []byte
	skipType bool
	// parseFailed tells a parser's error from one in what the entries were then put through.
	parseFailed bool
}

// entries appends the samples p yields.
func (r *appendRun) entries(p textparse.Parser) (err error) {
	sl, cache := r.sl, r.sl.cache
	meta := cache.meta
	for {
		var et textparse.Entry
		if et, err = p.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			r.parseFailed = true
			return err
		}
		switch et {
		case textparse.EntryType:
			if r.skipType {
				r.skipType = false
				continue
			}
			mf, typ := p.Type()
			meta.setType(mf, typ, cache.iter)
			r.typeLine = r.typeLine[:0]
			if typ == model.MetricTypeHistogram || typ == model.MetricTypeSummary {
				r.typeLine = append(append(append(r.typeLine, "# TYPE _ "...), typ...), '\n')
			}
			continue
		case textparse.EntryHelp:
			mf, help := p.Help()
			meta.setHelp(mf, help, cache.iter)
			continue
		case textparse.EntryUnit:
			mf, unit := p.Unit()
			meta.setUnit(mf, unit, cache.iter)
			continue
		case textparse.EntryComment:
			continue
		}
		r.stats.total++

		var (
			met      []byte
			parsedTS *int64
			val      float64
			h        *histogram.Histogram
			fh       *histogram.FloatHistogram
		)
		isHistogram := et == textparse.EntryHistogram
		if isHistogram {
			met, parsedTS, h, fh = p.Histogram()
		} else {
			met, parsedTS, val = p.Series()
		}
		t := r.defTime
		if !sl.cfg.honorTimestamps {
			parsedTS = nil
		}
		if parsedTS != nil {
			t = *parsedTS
		}
		key := keyOf(met)
		ce, alreadyScraped := cache.get(key)
		if ce != nil && ce.dropped {
			continue
		}
		cached := ce != nil
		var ref storage.SeriesRef
		if cached {
			// The head knows the series by its reference: no labels needed (the cache keeps
			// none, the head holds them once).
			ref, r.lset = ce.ref, labels.EmptyLabels()
		} else {
			if r.lset, err = sl.seriesLabels(p, r.lset); err != nil {
				return err
			}
			if r.lset.IsEmpty() {
				cache.addDropped(key)
				continue
			}
		}

		var aerr error
		if isHistogram {
			// As Prometheus's appenders: the schema is first reduced to the one
			// native_histogram_min_bucket_factor allows, then until the buckets fit
			// native_histogram_bucket_limit; such a histogram does not count for sample_limit.
			aerr = sl.fitHistogram(h, fh)
		}
		switch {
		case aerr != nil:
		case sl.cfg.sampleLimit > 0 && r.appended >= sl.cfg.sampleLimit:
			// Keep parsing so scrape_samples_scraped is right; the batch is rolled back.
			aerr = errSampleLimit
		case alreadyScraped && parsedTS == nil:
			aerr = storage.ErrDuplicateSampleForTimestamp
		case parsedTS != nil && t > r.maxT:
			aerr = storage.ErrOutOfBounds
		default:
			r.appended++
			var st int64
			if sl.cfg.parseST {
				st = p.StartTimestamp() // costly for OpenMetrics: only when wanted
			}
			ref, aerr = r.appendSample(ref, st, t, val, h, fh)
			if errors.Is(aerr, storage.ErrUnknownSeriesRef) {
				// Head truncation removed the cached series (it had no samples for a while):
				// build its labels again so that it is created anew.
				if r.lset, err = sl.seriesLabels(p, r.lset); err != nil {
					return err
				}
				ref, aerr = r.appendSample(0, st, t, val, h, fh)
			}
		}
		track := parsedTS == nil || sl.cfg.trackTimestampsStaleness
		switch {
		case aerr == nil:
			if cached {
				ce.ref = ref
			} else {
				ce = cache.add(key, ref)
				if r.sampleLimitErr == nil && r.bucketLimitErr == nil {
					r.stats.seriesAdded++
				}
			}
			ce.kind = sampleKind(h, fh)
			if track {
				cache.track(ce)
			}
		case errors.Is(aerr, errSampleLimit):
			r.sampleLimitErr = aerr
		case errors.Is(aerr, errBucketLimit):
			r.bucketLimitErr = aerr
		case errors.Is(aerr, storage.ErrOutOfOrderSample):
			r.stats.outOfOrder++
		case errors.Is(aerr, storage.ErrDuplicateSampleForTimestamp):
			r.stats.duplicates++
		case errors.Is(aerr, storage.ErrOutOfBounds):
			r.stats.bounds++
		default:
			return aerr
		}
		// Counted even when rejected: this is the number of series after relabeling.
		r.stats.added++
	}
}

// appendSample appends a float (h and fh nil) or a native histogram sample of the current
// series, with its start timestamp st when it has one and the storage keeps them.
func (r *appendRun) appendSample(ref storage.SeriesRef, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if h == nil && fh == nil {
		if st != 0 {
			if sta, ok := r.app.(storage.STAppender); ok {
				return sta.AppendST(ref, r.lset, st, t, v)
			}
		}
		return r.app.Append(ref, r.lset, t, v)
	}
	// Invalid histograms are refused here, before storage, with upstream's histogram.Error,
	// which fails the scrape as in Prometheus (whose TSDB finds them on append).
	var err error
	if h != nil {
		err = h.Validate()
	} else {
		err = fh.Validate()
	}
	if err != nil {
		return ref, err
	}
	if st != 0 {
		if sta, ok := r.app.(storage.HistogramSTAppender); ok {
			return sta.AppendHistogramST(ref, r.lset, st, t, h, fh)
		}
	}
	return r.app.AppendHistogram(ref, r.lset, t, h, fh)
}

// fitHistogram reduces a scraped native histogram's resolution as Prometheus's scrape
// appenders do: to the schema native_histogram_min_bucket_factor allows, then one step at a
// time until it has at most native_histogram_bucket_limit buckets. errBucketLimit if it cannot
// (custom buckets, or the lowest schema reached).
func (sl *scrapeLoop) fitHistogram(h *histogram.Histogram, fh *histogram.FloatHistogram) error {
	limit, maxSchema := sl.cfg.bucketLimit, sl.cfg.maxSchema
	if h != nil {
		if maxSchema < histogram.ExponentialSchemaMax && histogram.IsExponentialSchemaReserved(h.Schema) && h.Schema > maxSchema {
			if err := h.ReduceResolution(maxSchema); err != nil {
				return err
			}
		}
		if limit <= 0 {
			return nil
		}
		if len(h.PositiveBuckets)+len(h.NegativeBuckets) > limit && !histogram.IsExponentialSchema(h.Schema) {
			return errBucketLimit
		}
		for len(h.PositiveBuckets)+len(h.NegativeBuckets) > limit {
			if h.Schema <= histogram.ExponentialSchemaMin {
				return errBucketLimit
			}
			if err := h.ReduceResolution(h.Schema - 1); err != nil {
				return err
			}
		}
		return nil
	}
	if maxSchema < histogram.ExponentialSchemaMax && histogram.IsExponentialSchemaReserved(fh.Schema) && fh.Schema > maxSchema {
		if err := fh.ReduceResolution(maxSchema); err != nil {
			return err
		}
	}
	if limit <= 0 {
		return nil
	}
	if len(fh.PositiveBuckets)+len(fh.NegativeBuckets) > limit && !histogram.IsExponentialSchema(fh.Schema) {
		return errBucketLimit
	}
	for len(fh.PositiveBuckets)+len(fh.NegativeBuckets) > limit {
		if fh.Schema <= histogram.ExponentialSchemaMin {
			return errBucketLimit
		}
		if err := fh.ReduceResolution(fh.Schema - 1); err != nil {
			return err
		}
	}
	return nil
}

// updateStaleMarkers appends a stale marker for every series of the previous scrape that is not
// in this one: a float StaleNaN, or for a native histogram series a histogram of its kind
// whose sum is StaleNaN (the storage contract's histogram stale marker).
func (sl *scrapeLoop) updateStaleMarkers(app storage.Appender, t int64) (err error) {
	stale := storage.StaleNaN()
	sl.cache.forEachStale(func(e *cacheEntry) bool {
		switch e.kind {
		case kindHistogram:
			_, err = app.AppendHistogram(e.ref, labels.EmptyLabels(), t, &histogram.Histogram{Sum: stale}, nil)
		case kindFloatHistogram:
			_, err = app.AppendHistogram(e.ref, labels.EmptyLabels(), t, nil, &histogram.FloatHistogram{Sum: stale})
		default:
			_, err = app.Append(e.ref, labels.EmptyLabels(), t, stale)
		}
		switch {
		case errors.Is(err, storage.ErrOutOfOrderSample) || errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
			// Expected when a target went away and came back with a new loop.
			err = nil
		case errors.Is(err, storage.ErrUnknownSeriesRef):
			// The head already dropped the series: there is nothing left to mark stale.
			err = nil
		}
		return err == nil
	})
	return err
}

// seriesLabels builds the final label set of the parser's current series into buf's storage:
// target labels attached, metric relabeling applied, names and limits checked. Empty labels
// mean metric relabeling dropped the series.
func (sl *scrapeLoop) seriesLabels(p textparse.Parser, buf labels.Labels) (labels.Labels, error) {
	p.Labels(&buf)
	lset := sl.mutateSampleLabels(buf)
	if lset.IsEmpty() {
		return lset, nil
	}
	if !lset.Has(model.MetricNameLabel) {
		return lset, errNameLabelMandatory
	}
	if !lset.IsValid(config.NameValidationScheme) {
		return lset, fmt.Errorf("invalid metric name or label names: %s", lset.String())
	}
	if err := verifyLabelLimits(lset, &sl.cfg.limits); err != nil {
		return lset, labelLimitError{err}
	}
	return lset, nil
}

// labelLimitError marks a series over label_limit, label_name_length_limit or
// label_value_length_limit, which fails the scrape and is counted apart.
type labelLimitError struct{ error }

func (e labelLimitError) Unwrap() error { return e.error }

// mutateSampleLabels attaches the target labels (honor_labels decides who wins a conflict;
// otherwise the exposed value moves to exported_<name>) and applies metric_relabel_configs.
// It returns empty labels when relabeling drops the series.
func (sl *scrapeLoop) mutateSampleLabels(lset labels.Labels) labels.Labels {
	lb := sl.lb
	lb.Reset(lset)
	if sl.cfg.honorLabels {
		sl.targetLabels.Range(func(l labels.Label) {
			if !lset.Has(l.Name) {
				lb.Set(l.Name, l.Value)
			}
		})
	} else {
		var conflicting []labels.Label
		sl.targetLabels.Range(func(l labels.Label) {
			if v := lset.Get(l.Name); v != "" {
				conflicting = append(conflicting, labels.Label{Name: l.Name, Value: v})
			}
			lb.Set(l.Name, l.Value)
		})
		if len(conflicting) > 0 {
			slices.SortStableFunc(conflicting, func(a, b labels.Label) int { return len(a.Name) - len(b.Name) })
			for _, l := range conflicting {
				name := l.Name
				for {
					name = model.ExportedLabelPrefix + name
					if lb.Get(name) == "" {
						lb.Set(name, l.Value)
						break
					}
				}
			}
		}
	}
	if !relabel.ProcessBuilder(lb, sl.cfg.metricRelabel...) {
		return labels.EmptyLabels()
	}
	return lb.Labels()
}

func verifyLabelLimits(lset labels.Labels, limits *labelLimits) error {
	met := lset.Get(model.MetricNameLabel)
	if limits.labelLimit > 0 {
		if n := lset.Len(); n > limits.labelLimit {
			return fmt.Errorf("label_limit exceeded (metric: %.50s, number of labels: %d, limit: %d)", met, n, limits.labelLimit)
		}
	}
	if limits.labelNameLengthLimit == 0 && limits.labelValueLengthLimit == 0 {
		return nil
	}
	return lset.Validate(func(l labels.Label) error {
		if limits.labelNameLengthLimit > 0 && len(l.Name) > limits.labelNameLengthLimit {
			return fmt.Errorf("label_name_length_limit exceeded (metric: %.50s, label name: %.50s, length: %d, limit: %d)", met, l.Name, len(l.Name), limits.labelNameLengthLimit)
		}
		if limits.labelValueLengthLimit > 0 && len(l.Value) > limits.labelValueLengthLimit {
			return fmt.Errorf("label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: %.50q, length: %d, limit: %d)", met, l.Name, l.Value, len(l.Value), limits.labelValueLengthLimit)
		}
		return nil
	})
}

// The report series, in the order they are appended.
const (
	reportUp = iota
	reportDuration
	reportSamplesScraped
	reportSamplesPostRelabel
	reportSeriesAdded
	numReportSeries
)

var reportNames = [numReportSeries]string{
	"up",
	"scrape_duration_seconds",
	"scrape_samples_scraped",
	"scrape_samples_post_metric_relabeling",
	"scrape_series_added",
}

// ReportMetadata is the metadata of the synthetic per-scrape series, for the metadata API.
var ReportMetadata = []MetricMetadata{
	{MetricFamily: "up", Type: model.MetricTypeGauge, Help: "Health of the scrape target. 1 means the target is healthy, 0 if the scrape failed.", Unit: "targets"},
	{MetricFamily: "scrape_duration_seconds", Type: model.MetricTypeGauge, Help: "Duration of the last scrape in seconds.", Unit: "seconds"},
	{MetricFamily: "scrape_samples_scraped", Type: model.MetricTypeGauge, Help: "Number of samples last scraped.", Unit: "samples"},
	{MetricFamily: "scrape_samples_post_metric_relabeling", Type: model.MetricTypeGauge, Help: "Number of samples remaining after metric relabeling was applied.", Unit: "samples"},
	{MetricFamily: "scrape_series_added", Type: model.MetricTypeGauge, Help: "Number of series in the last scrape.", Unit: "series"},
}

func (sl *scrapeLoop) report(app storage.Appender, ts time.Time, dur time.Duration, s appendStats, scrapeErr error) error {
	up := 0.0
	if scrapeErr == nil {
		up = 1
	}
	vals := [numReportSeries]float64{up, dur.Seconds(), float64(s.total), float64(s.added), float64(s.seriesAdded)}
	return sl.appendReport(app, ts.UnixMilli(), vals)
}

func (sl *scrapeLoop) appendReport(app storage.Appender, t int64, vals [numReportSeries]float64) error {
	for i := range numReportSeries {
		if sl.reportLset[i].IsEmpty() {
			sl.lb.Reset(labels.EmptyLabels())
			sl.lb.Set(model.MetricNameLabel, reportNames[i])
			sl.targetLabels.Range(func(l labels.Label) { sl.lb.Set(l.Name, l.Value) })
			sl.reportLset[i] = sl.lb.Labels()
		}
		ref, err := app.Append(sl.reportRefs[i], sl.reportLset[i], t, vals[i])
		switch {
		case err == nil:
			sl.reportRefs[i] = ref
		case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
			// A target that went away and came back with a new loop; not worth a log line.
		default:
			return err
		}
	}
	return nil
}

// endOfRunStaleness writes stale markers for every series of a target that went away. It waits
// until just after the target's next two scrapes would have happened, so that a target that
// comes back at once (a flapping discovery) is not marked stale; a loop that takes over the
// cache disables this.
func (sl *scrapeLoop) endOfRunStaleness() {
	last := sl.lastScrape
	if last.IsZero() {
		return
	}
	staleTime := last.Add(sl.cfg.interval)
	wait := time.Until(last.Add(2*sl.cfg.interval + sl.cfg.interval/10))
	select {
	case <-sl.appendCtx.Done():
		return
	case <-time.After(wait):
	}
	sl.staleMtx.Lock()
	defer sl.staleMtx.Unlock()
	sl.staleDone = true
	if sl.disableEndOfRunStale.Load() {
		return
	}
	app := sl.appendable.Appender(sl.appendCtx)
	sl.cache.forgetCurrent()
	if _, err := sl.append(app, nil, "", staleTime); err != nil {
		_ = app.Rollback()
		sl.logger.Warn("Stale append failed", "err", err)
		return
	}
	stale := storage.StaleNaN()
	if err := sl.appendReport(app, staleTime.UnixMilli(), [numReportSeries]float64{stale, stale, stale, stale, stale}); err != nil {
		sl.logger.Warn("Stale report append failed", "err", err)
	}
	if err := app.Commit(); err != nil {
		sl.logger.Warn("Stale commit failed", "err", err)
	}
}

// takeOver cancels the pending end-of-run stale markers and hands the cache to a new loop for
// the same target. It fails if the markers were already written.
func (sl *scrapeLoop) takeOver() (*scrapeCache, bool) {
	sl.staleMtx.Lock()
	defer sl.staleMtx.Unlock()
	if sl.staleDone {
		return nil, false
	}
	sl.disableEndOfRunStale.Store(true)
	return sl.cache, true
}
