package write

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/tsdb/record"
	"github.com/vigil-monitoring/vigil/tsdb/wal"
)

// WAL is what a queue needs of the write-ahead log it tails (*wal.WAL).
type WAL interface {
	Dir() string
	Segments() (first, last int, err error)
	Subscribe() <-chan struct{}
	Unsubscribe(<-chan struct{})
}

// Timing of the queue's background work (Prometheus's values).
const (
	shardUpdateDuration = 10 * time.Second
	shardToleranceFrac  = 0.3
	positionSaveEvery   = time.Second
	walPollInterval     = time.Second // fallback when no write notification comes
	logEvery            = 10 * time.Second
	// caughtUpFlushAge: once the watcher has read everything in the WAL, a shard sends its
	// partial batch when the batch's oldest sample has waited this long (or batch_send_deadline,
	// if shorter), instead of waiting for batch_send_deadline: the data is all there, nothing
	// more will fill the batch soon. The wait keeps batches from shrinking to one commit each at
	// high throughput, where the watcher catches up after every WAL write.
	caughtUpFlushAge = 50 * time.Millisecond
	// maxChunk is the most samples the watcher hands a shard at once.
	maxChunk = 256
	// DefaultFlushDeadline is how long a stopping queue tries to send what it holds.
	DefaultFlushDeadline = time.Minute
)

// queue sends the samples of the WAL to one endpoint.
type queue struct {
	name, url, hash string
	cfg             *config.RemoteWriteConfig
	qc              config.QueueConfig
	v2              bool
	external        labels.Labels
	wal             WAL
	client          *client
	logger          *slog.Logger
	m               *queueMetrics
	logLimit        *logLimiter
	posFile         positionFile
	tracker         *tracker
	flushDeadline   time.Duration
	metadataSource  MetadataSource
	metadataMap     atomic.Pointer[map[string]Metadata]

	refs      refTable  // WAL series → record, owned by the watcher goroutine
	gen       *arenaGen // the series records, written by the watcher goroutine
	pairBuf   []uint32  // scratch space of the watcher goroutine
	labelBuf  []byte
	shards    []*shard // owned by the watcher goroutine
	dec       record.Decoder
	samples   []record.RefSample   // decoding buffers
	samplesST []record.RefSampleST // decoding buffer of SamplesST records
	hists     []record.RefHistogramSample
	fhists    []record.RefFloatHistogramSample
	hbuf      []sample
	hrefs     []uint64
	lastCP    int // index of the last checkpoint whose series were read

	ctx     context.Context // cancelled on hard stop: sends in progress give up
	cancel  context.CancelFunc
	stopc   chan struct{} // closed on stop: the watcher stops reading
	donec   chan struct{} // closed when the watcher and shards are gone
	bgDone  sync.WaitGroup
	started time.Time

	// Throughput, for dynamic sharding (samples and nanoseconds since the last update).
	dataIn, dataOut, dataOutDuration atomic.Int64
	lastSendOK                       atomic.Int64 // unix nanoseconds of the last successful send
	desired                          atomic.Int64
	numShards                        atomic.Int64
	ewmaIn, ewmaOut, ewmaDur         ewma

	// Status.
	statusMu              sync.Mutex
	lastError             string
	lastErrorAt           time.Time
	sent, failed, retried atomic.Int64
	dropped, pending      atomic.Int64
	seriesKnown           atomic.Int64 // WAL series known (noteSeries)
	seriesBytes           atomic.Int64
	readPos               atomic.Pointer[position]
	running               atomic.Bool // the start position is known
	initial, skipUntil    position    // from initialPosition
}

// MetadataSource lists the metric metadata of the active targets.
type MetadataSource func() []Metadata

type queueParams struct {
	name, hash    string
	cfg           *config.RemoteWriteConfig
	external      labels.Labels
	wal           WAL
	dataDir       string
	metadata      MetadataSource
	logger        *slog.Logger
	reg           prometheus.Registerer
	flushDeadline time.Duration
}

func newQueue(p queueParams) (*queue, error) {
	c, err := newClient(p.name, p.cfg)
	if err != nil {
		return nil, err
	}
	url := p.cfg.URL.String()
	q := &queue{
		name: p.name, url: url, hash: p.hash, cfg: p.cfg, qc: p.cfg.QueueConfig,
		v2:             p.cfg.ProtobufMessage == remoteapi.WriteV2MessageType,
		external:       p.external,
		wal:            p.wal,
		client:         c,
		logger:         p.logger.With("remote_name", p.name, "url", url),
		m:              newQueueMetrics(p.reg, p.name, url),
		logLimit:       newLogLimiter(logEvery),
		posFile:        newPositionFile(p.dataDir, p.name, url),
		flushDeadline:  p.flushDeadline,
		metadataSource: p.metadata,
		gen:            newArenaGen(),
		stopc:          make(chan struct{}),
		donec:          make(chan struct{}),
		lastCP:         -1,
		tracker:        newTracker(position{}),
	}
	if q.flushDeadline <= 0 {
		q.flushDeadline = DefaultFlushDeadline
	}
	if !p.cfg.MetadataConfig.Send {
		q.metadataSource = nil
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	return q, nil
}

func (q *queue) start() {
	q.m.register()
	q.m.shardCapacity.Set(float64(q.qc.Capacity))
	q.m.shardsMin.Set(float64(q.qc.MinShards))
	q.m.shardsMax.Set(float64(q.qc.MaxShards))
	q.m.maxSamplesPerSend.Set(float64(q.qc.MaxSamplesPerSend))
	q.desired.Store(int64(q.qc.MinShards))
	q.m.shardsDesired.Set(float64(q.qc.MinShards))
	q.started = time.Now()
	q.initialPosition()
	go q.run()
	q.bgDone.Add(2)
	go q.updateShardsLoop()
	go q.metadataLoop()
}

// stop stops reading the WAL, lets the shards send what they hold for up to the flush
// deadline, then gives up on the rest (it is sent again after a restart: the saved position
// is before it) and saves the position.
func (q *queue) stop() {
	close(q.stopc)
	select {
	case <-q.donec:
	case <-time.After(q.flushDeadline):
		q.logger.Warn("Remote write queue did not flush in time; unsent samples will be sent again from the WAL after restart", "flush_deadline", q.flushDeadline)
		q.cancel()
		<-q.donec
	}
	q.cancel()
	q.bgDone.Wait()
	if err := q.savePosition(); err != nil {
		q.logger.Error("Saving remote write position", "err", err)
	}
	q.m.unregister()
}

func (q *queue) savePosition() error {
	if !q.running.Load() {
		return nil // never started: keep the saved position as it is
	}
	return q.posFile.save(q.tracker.committed())
}

// run is the watcher: it reads the WAL from the saved position and feeds the shards.
func (q *queue) run() {
	defer close(q.donec)
	start, skipUntil, err := q.startPosition()
	if err != nil {
		q.logger.Error("Remote write queue cannot start", "err", err)
		q.setError(err)
		return
	}
	q.tracker.read(start)
	q.readPos.Store(&start)
	q.running.Store(true)
	q.startShards(int(q.desired.Load()))
	notify := q.wal.Subscribe()
	defer q.wal.Unsubscribe(notify)
	saveTicker := time.NewTicker(positionSaveEvery)
	defer saveTicker.Stop()
	poll := time.NewTicker(walPollInterval)
	defer poll.Stop()
	var saved position
	defer q.stopShards()

	seg, off := start.Segment, start.Offset
	r, err := q.openSegment(&seg, &off)
	if err != nil {
		q.logger.Error("Remote write queue cannot open the WAL", "err", err)
		q.setError(err)
		return
	}
	defer func() { r.Close() }()
	for {
		for r.Next() {
			startPos := position{seg, off}
			off = r.Offset()
			end := position{seg, off}
			if !q.handleRecord(r.Record(), startPos, skipUntil == (position{}) || skipUntil.less(end)) {
				return // stopping while enqueueing
			}
			q.tracker.read(end)
			q.readPos.Store(&end)
			if q.stopping() {
				return
			}
			q.maybeReshard()
		}
		if err := r.Err(); err != nil {
			if ok, _ := q.logLimit.allow("walread", time.Now()); ok {
				q.logger.Error("Reading the WAL", "segment", seg, "err", err)
			}
			q.setError(err)
		}
		first, last, err := q.wal.Segments()
		if err == nil && seg < last {
			if r.Next() { // written just before the cut
				r = r.rewind()
				continue
			}
			if err := r.Sealed(); err != nil {
				q.m.decodeFailures.Inc()
				q.logger.Error("Damaged WAL segment: skipping the rest of it", "err", err)
				q.setError(err)
			}
			r.Close()
			next := seg + 1
			if next < first {
				q.logger.Warn("WAL was truncated past this queue's position; the samples in the deleted segments are lost for this queue",
					"segment", next, "first_remaining", first)
				q.setError(fmt.Errorf("WAL truncated past the queue's position: segments %d to %d skipped", next, first-1))
				next = first
			}
			q.gcSeries(next)
			seg, off = next, 0
			r, err = q.openSegment(&seg, &off)
			if err != nil {
				q.logger.Error("Remote write queue cannot open the WAL", "err", err)
				q.setError(err)
				return
			}
			continue
		}
		// Caught up with the head of the WAL: the shards holding samples may send them.
		if !q.flushShards() {
			return
		}
		select {
		case <-q.stopc:
			return
		case <-notify:
		case <-poll.C:
		case <-saveTicker.C:
			if p := q.tracker.committed(); p != saved {
				if err := q.savePosition(); err != nil {
					if ok, _ := q.logLimit.allow("save", time.Now()); ok {
						q.logger.Error("Saving remote write position", "err", err)
					}
				} else {
					saved = p
				}
			}
			q.maybeReshard()
		}
		// Save also while busy reading (a backlog after an outage).
		select {
		case <-saveTicker.C:
			if p := q.tracker.committed(); p != saved {
				if err := q.savePosition(); err == nil {
					saved = p
				}
			}
		default:
		}
	}
}

// rewind lets the loop call Next again on a reader that just returned a record from Next in
// the sealed-segment check: that record must be handled, not lost.
func (r *liveReader) rewind() *liveReader {
	r.replay = true
	return r
}

// liveReader wraps wal.LiveReader with one record of push-back.
type liveReader struct {
	*wal.LiveReader
	replay bool
}

func (r *liveReader) Next() bool {
	if r.replay {
		r.replay = false
		return true
	}
	return r.LiveReader.Next()
}

func statSegment(dir string, seg int) (int64, error) {
	fi, err := os.Stat(wal.SegmentName(dir, seg))
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (q *queue) stopping() bool {
	select {
	case <-q.stopc:
		return true
	default:
		return false
	}
}

// openSegment opens segment *seg at *off, moving to the first segment after a gap.
func (q *queue) openSegment(seg *int, off *int64) (*liveReader, error) {
	for range 3 {
		r, err := wal.OpenLiveReader(q.wal.Dir(), *seg, *off)
		if err == nil {
			q.m.currentSegment.Set(float64(*seg))
			return &liveReader{LiveReader: r}, nil
		}
		first, _, lerr := q.wal.Segments()
		if lerr != nil || first <= *seg {
			return nil, err
		}
		q.logger.Warn("WAL segment deleted before this queue read it; skipping to the first remaining one", "segment", *seg, "first_remaining", first)
		q.gcSeries(first)
		*seg, *off = first, 0
	}
	return nil, errors.New("WAL segments keep disappearing")
}

// initialPosition reads the saved position, or for a queue without one takes the end of the WAL
// now: samples are sent from there on (as Prometheus's queues send what is written after they
// start). It runs before start returns, so that nothing appended after it is skipped.
func (q *queue) initialPosition() {
	saved, ok, err := q.posFile.load()
	if err != nil {
		q.logger.Warn("Ignoring the saved remote write position", "err", err)
	}
	if ok {
		q.initial = saved
		return
	}
	_, last, err := q.wal.Segments()
	if err != nil || last < 0 {
		return
	}
	q.initial = position{last, 0}
	if size, err := statSegment(q.wal.Dir(), last); err == nil && size > 0 {
		// Reading from the start of the last segment loads its series; its samples up to
		// here are not sent.
		q.skipUntil = position{last, size}
	}
}

// startPosition loads the series up to the saved position and returns it, and the position
// before which samples are not sent (a queue without a saved position sends what is written
// from now on, as Prometheus's).
func (q *queue) startPosition() (start, skipUntil position, err error) {
	first, last, err := q.wal.Segments()
	if err != nil {
		return start, skipUntil, err
	}
	saved, skipUntil := q.initial, q.skipUntil
	if saved.Segment < first {
		q.logger.Warn("WAL was truncated past this queue's saved position; samples in the deleted segments are lost for this queue",
			"saved_segment", saved.Segment, "first_remaining", first)
		saved = position{first, 0}
	}
	if saved.Segment > last {
		q.logger.Warn("Saved remote write position is past the end of the WAL; starting at its end", "saved_segment", saved.Segment, "last", last)
		saved = position{last, 0}
	}
	// Series: the checkpoint, then every segment before the position.
	if name, idx, err := wal.LastCheckpoint(q.wal.Dir()); err == nil {
		if err := q.readSeriesFrom(name, 0, -1, idx); err != nil {
			q.logger.Warn("Reading the WAL checkpoint's series", "err", err)
		}
		q.lastCP = idx
	}
	from := max(first, q.lastCP+1)
	if saved.Segment-1 >= from {
		if err := q.readSeriesFrom(q.wal.Dir(), from, saved.Segment-1, -1); err != nil {
			q.logger.Warn("Reading the WAL's series", "err", err)
		}
	}
	if saved.Offset > 0 {
		r, err := wal.OpenLiveReader(q.wal.Dir(), saved.Segment, 0)
		if err != nil {
			return start, skipUntil, err
		}
		for r.Offset() < saved.Offset && r.Next() {
			q.handleSeriesOnly(r.Record(), saved.Segment)
		}
		if r.Offset() != saved.Offset {
			q.logger.Warn("Saved remote write position is not at a record boundary; resuming at the nearest one", "saved", saved.Offset, "resume", r.Offset())
			saved.Offset = r.Offset()
		}
		r.Close()
	}
	return saved, skipUntil, nil
}

// readSeriesFrom reads the series records of segments [from, to] of dir; seg >= 0 overrides the
// segment the series are attributed to (a checkpoint's index).
func (q *queue) readSeriesFrom(dir string, from, to, seg int) error {
	r, err := wal.NewReader(dir, from, to)
	if err != nil {
		return err
	}
	defer r.Close()
	for r.Next() {
		s := seg
		if s < 0 {
			s = r.Segment()
		}
		q.handleSeriesOnly(r.Record(), s)
	}
	return r.Err()
}

func (q *queue) handleSeriesOnly(rec []byte, seg int) {
	if q.dec.Type(rec) != record.Series {
		return
	}
	if err := q.dec.SeriesFunc(rec, func(ref uint64, lset labels.Labels) { q.addSeries(ref, lset, seg) }); err != nil {
		q.m.decodeFailures.Inc()
	}
	q.noteSeries()
}

// noteSeries publishes the size of the per-series state for the status endpoint.
func (q *queue) noteSeries() {
	q.seriesKnown.Store(int64(q.refs.n))
	q.seriesBytes.Store(q.gen.size() + q.refs.size())
}

// addSeries keeps a series' labels in the protocol's form, after external labels and
// write_relabel_configs. lset is valid only during the call (record.Decoder.SeriesFunc).
func (q *queue) addSeries(ref uint64, lset labels.Labels, seg int) {
	if !q.external.IsEmpty() || len(q.cfg.WriteRelabelConfigs) > 0 {
		b := labels.NewBuilder(lset)
		// External labels go on first, without overriding the series' own, and are subject to
		// write_relabel_configs, as in Prometheus.
		q.external.Range(func(l labels.Label) {
			if lset.Get(l.Name) == "" {
				b.Set(l.Name, l.Value)
			}
		})
		if !relabel.ProcessBuilder(b, q.cfg.WriteRelabelConfigs...) {
			q.refs.set(ref, refEntry{off: offDropped, seg: int32(seg)})
			return
		}
		lset = b.Labels()
		if lset.IsEmpty() {
			q.refs.set(ref, refEntry{off: offDropped, seg: int32(seg)})
			return
		}
	}
	// Only the encoding is kept, in the queue's arenas (see series.go).
	off, pairs, buf, ok := encodeSeries(q.gen, lset, q.pairBuf, q.labelBuf)
	q.pairBuf, q.labelBuf = pairs, buf
	if !ok {
		// 4 GiB of distinct label pairs or records: its samples count as unintentionally dropped.
		q.logger.Error("Remote write series arena full; series not sent", "series", lset.String())
		return
	}
	q.refs.set(ref, refEntry{off: off, seg: int32(seg)})
}

// gcSeries reads a checkpoint newer than the last one read, if the watcher is past it, and
// forgets the series that are neither in it nor logged after it (deleted from the head). The
// series kept are copied into a fresh arena generation, so that the label pairs of deleted
// series (pods, containers) do not accumulate for the life of the queue.
func (q *queue) gcSeries(seg int) {
	name, idx, err := wal.LastCheckpoint(q.wal.Dir())
	if err != nil || idx <= q.lastCP || idx >= seg {
		return
	}
	// The checkpoint's series are alive: known ones are marked, unknown ones added.
	r, err := wal.NewReader(name, 0, -1)
	if err == nil {
		for r.Next() {
			rec := r.Record()
			if q.dec.Type(rec) != record.Series {
				continue
			}
			if err := q.dec.SeriesFunc(rec, func(ref uint64, lset labels.Labels) {
				if e := q.refs.get(ref); e.off != offUnknown {
					e.seg = max(e.seg, int32(idx))
					q.refs.set(ref, e)
				} else {
					q.addSeries(ref, lset, idx)
				}
			}); err != nil {
				q.m.decodeFailures.Inc()
			}
		}
		err = r.Err()
		r.Close()
	}
	if err != nil {
		q.logger.Warn("Reading the WAL checkpoint's series", "err", err)
		return
	}
	q.lastCP = idx
	old, ng := q.gen, newArenaGen()
	q.refs.update(func(_ uint64, e refEntry) refEntry {
		switch {
		case int(e.seg) < idx:
			return refEntry{}
		case e.off == offDropped:
			return e
		}
		off, pairs, ok := old.copyRecord(e.off, ng, q.pairBuf)
		q.pairBuf = pairs
		if !ok {
			return refEntry{}
		}
		e.off = off
		return e
	})
	q.gen = ng
	q.noteSeries()
}

// handleRecord decodes a record; samples are enqueued when send is true. It returns false
// when the queue stopped while waiting for room in a shard.
func (q *queue) handleRecord(rec []byte, start position, send bool) bool {
	switch q.dec.Type(rec) {
	case record.Series:
		q.m.recordsRead.WithLabelValues("series").Inc()
		if err := q.dec.SeriesFunc(rec, func(ref uint64, lset labels.Labels) { q.addSeries(ref, lset, start.Segment) }); err != nil {
			q.m.decodeFailures.Inc()
		}
		q.noteSeries()
	case record.Samples, record.SamplesST:
		q.m.recordsRead.WithLabelValues("samples").Inc()
		if !send {
			return true
		}
		var err error
		if q.dec.Type(rec) == record.SamplesST {
			// Remote write 1.0 has no start timestamps: the samples go without them.
			q.samples, err = q.samplesOfST(rec)
		} else {
			q.samples, err = q.dec.Samples(rec, q.samples[:0])
		}
		if err != nil {
			q.m.decodeFailures.Inc()
			return true
		}
		n, maxT := 0, int64(math.MinInt64)
		var droppedRelabel, droppedUnknown int
		for _, s := range q.samples {
			switch q.refs.get(s.Ref).off {
			case offUnknown:
				droppedUnknown++
			case offDropped:
				droppedRelabel++
			default:
				n++
				maxT = max(maxT, s.T)
			}
		}
		if droppedRelabel > 0 {
			q.m.samplesDropped.WithLabelValues(reasonDroppedSeries).Add(float64(droppedRelabel))
		}
		if droppedUnknown > 0 {
			q.m.samplesDropped.WithLabelValues(reasonUnknownSeries).Add(float64(droppedUnknown))
			q.dropped.Add(int64(droppedUnknown))
		}
		if n == 0 {
			return true
		}
		q.m.highestTimestamp.set(float64(maxT) / 1000)
		seq := q.tracker.add(start, n)
		q.dataIn.Add(int64(n))
		q.pending.Add(int64(n))
		q.m.samplesPending.Add(float64(n))
		for _, s := range q.samples {
			off := q.refs.get(s.Ref).off
			if off == offUnknown || off == offDropped {
				continue
			}
			if !q.enqueue(s.Ref, sample{g: q.gen, off: off, t: s.T, v: s.V, seq: seq}) {
				return false
			}
		}
		return q.pushPending()
	case record.HistogramSamples, record.FloatHistogramSamples, record.HistogramSamplesST, record.FloatHistogramSamplesST:
		// Start timestamps are not sent (as for floats): the decoders read both forms.
		return q.handleHistograms(rec, start, send)
	}
	return true
}

// handleHistograms enqueues the native histograms of a record when send_native_histograms is
// on (else they are read past, as Prometheus's watcher does).
func (q *queue) handleHistograms(rec []byte, start position, send bool) bool {
	typ := q.dec.Type(rec)
	float := typ == record.FloatHistogramSamples || typ == record.FloatHistogramSamplesST
	if float {
		q.m.recordsRead.WithLabelValues("float_histogram_samples").Inc()
	} else {
		q.m.recordsRead.WithLabelValues("histogram_samples").Inc()
	}
	if !send || !q.cfg.SendNativeHistograms {
		return true
	}
	q.hbuf, q.hrefs = q.hbuf[:0], q.hrefs[:0]
	var err error
	if float {
		q.fhists, err = q.dec.FloatHistogramSamples(rec, q.fhists[:0])
		for _, h := range q.fhists {
			q.hrefs = append(q.hrefs, h.Ref)
			q.hbuf = append(q.hbuf, sample{t: h.T, fh: h.FH})
		}
		clear(q.fhists)
	} else {
		q.hists, err = q.dec.HistogramSamples(rec, q.hists[:0])
		for _, h := range q.hists {
			q.hrefs = append(q.hrefs, h.Ref)
			q.hbuf = append(q.hbuf, sample{t: h.T, h: h.H})
		}
		clear(q.hists)
	}
	if err != nil {
		q.m.decodeFailures.Inc()
		clear(q.hbuf)
		return true
	}
	n, maxT := 0, int64(math.MinInt64)
	var droppedRelabel, droppedUnknown int
	for i, ref := range q.hrefs {
		off := q.refs.get(ref).off
		q.hbuf[i].off = off
		switch off {
		case offUnknown:
			droppedUnknown++
		case offDropped:
			droppedRelabel++
		default:
			n++
			maxT = max(maxT, q.hbuf[i].t)
		}
	}
	q.m.addDropped(reasonDroppedSeries, counts{hists: droppedRelabel})
	q.m.addDropped(reasonUnknownSeries, counts{hists: droppedUnknown})
	q.dropped.Add(int64(droppedUnknown))
	if n == 0 {
		clear(q.hbuf)
		return true
	}
	q.m.highestTimestamp.set(float64(maxT) / 1000)
	seq := q.tracker.add(start, n)
	q.dataIn.Add(int64(n))
	q.pending.Add(int64(n))
	q.m.addPending(counts{hists: n}, 1)
	for i, ref := range q.hrefs {
		s := q.hbuf[i]
		if s.off == offUnknown || s.off == offDropped {
			continue
		}
		s.g, s.seq = q.gen, seq
		if !q.enqueue(ref, s) {
			return false
		}
	}
	clear(q.hbuf)
	return q.pushPending()
}

// enqueue adds a sample to its series' shard's pending chunk, handing the chunk to the shard
// when it is full. false: the queue is stopping.
func (q *queue) enqueue(ref uint64, s sample) bool {
	sh := q.shards[ref%uint64(len(q.shards))]
	sh.pend = append(sh.pend, s)
	if len(sh.pend) >= cap(sh.pend) {
		return sh.push(q)
	}
	return true
}

// pushPending hands every shard its partial chunk (at the end of each record: the WAL is
// read record by record, samples do not wait in the watcher). false: the queue is stopping.
func (q *queue) pushPending() bool {
	for _, sh := range q.shards {
		if len(sh.pend) > 0 && !sh.push(q) {
			return false
		}
	}
	return true
}

// samplesOfST decodes a SamplesST record into q.samples, without the start timestamps.
func (q *queue) samplesOfST(rec []byte) ([]record.RefSample, error) {
	var err error
	q.samplesST, err = q.dec.SamplesST(rec, q.samplesST[:0])
	out := q.samples[:0]
	for _, s := range q.samplesST {
		out = append(out, record.RefSample{Ref: s.Ref, T: s.T, V: s.V})
	}
	return out, err
}

// push hands the pending chunk to the shard, waiting while the shard is full (the WAL is the
// buffer: reading simply pauses), and takes a recycled chunk. Samples go to the shard in chunks,
// not one by one: one channel operation, and at most one wake-up of the shard, per chunk.
// false: the queue is stopping.
func (sh *shard) push(q *queue) bool {
	sh.unflushed = true
	if !sh.put(sh.pend, q) {
		return false
	}
	select {
	case c := <-sh.free:
		sh.pend = c[:0]
	default:
		sh.pend = make([]sample, 0, sh.chunk)
	}
	return true
}

// put hands the shard a chunk or, with a nil chunk, the watcher's word that it caught up with
// the WAL. false: the queue is stopping.
func (sh *shard) put(c []sample, q *queue) bool {
	select {
	case sh.ch <- c:
		return true
	default:
	}
	q.m.enqueueRetries.Inc()
	select {
	case sh.ch <- c:
		return true
	case <-q.stopc:
		return false
	}
}

// flushShards tells the shards that received samples since the last call that the watcher has
// read all there is. false: the queue is stopping.
func (q *queue) flushShards() bool {
	for _, sh := range q.shards {
		if sh.unflushed {
			sh.unflushed = false
			if !sh.put(nil, q) {
				return false
			}
		}
	}
	return true
}

func (q *queue) startShards(n int) {
	n = min(max(n, q.qc.MinShards), q.qc.MaxShards)
	metadata := func(string) (Metadata, bool) { return Metadata{}, false }
	if q.v2 {
		metadata = q.lookupMetadata
	}
	q.shards = make([]*shard, n)
	// A shard holds capacity samples in chunks (plus the chunk the watcher fills and the batch
	// it sends).
	chunk := max(1, min(maxChunk, q.qc.Capacity/4, q.qc.MaxSamplesPerSend))
	chunks := max(1, q.qc.Capacity/chunk)
	for i := range q.shards {
		sh := &shard{q: q, ch: make(chan []sample, chunks), free: make(chan []sample, chunks+1), chunk: chunk,
			pend: make([]sample, 0, chunk), enc: newEncoder(q.v2, metadata), done: make(chan struct{})}
		q.shards[i] = sh
		go sh.run()
	}
	q.numShards.Store(int64(n))
	q.m.shards.Set(float64(n))
}

// stopShards closes the shards' queues and waits until they sent what they hold (or gave up on
// a hard stop).
func (q *queue) stopShards() {
	for _, sh := range q.shards {
		if len(sh.pend) > 0 {
			sh.put(sh.pend, q) // on a hard stop they stay unacknowledged: sent after the restart
			sh.pend = nil
		}
		close(sh.ch)
	}
	for _, sh := range q.shards {
		<-sh.done
	}
	q.shards = nil
}

// maybeReshard changes the number of shards when the sharding calculation asked for it.
func (q *queue) maybeReshard() {
	want := int(q.desired.Load())
	if want == len(q.shards) || want <= 0 {
		return
	}
	q.logger.Info("Remote storage resharding", "from", len(q.shards), "to", want)
	q.stopShards()
	q.startShards(want)
}

func (q *queue) setError(err error) {
	q.statusMu.Lock()
	q.lastError, q.lastErrorAt = err.Error(), time.Now()
	q.statusMu.Unlock()
}

// shard batches and sends the samples of its series.
type shard struct {
	q     *queue
	ch    chan []sample // chunks of samples; nil: the watcher caught up with the WAL
	free  chan []sample // chunks the shard is done with, for the watcher to reuse
	chunk int
	enc   *encoder
	done  chan struct{}
	// Owned by the watcher: the chunk being filled, and whether samples were pushed since the
	// last caught-up marker.
	pend      []sample
	unflushed bool
}

func (s *shard) run() {
	defer close(s.done)
	q := s.q
	deadline := time.Duration(q.qc.BatchSendDeadline)
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	flushAge := min(caughtUpFlushAge, deadline)
	// soon fires when a batch the watcher has caught up past is flushAge old.
	soon := time.NewTimer(time.Hour)
	soon.Stop()
	defer soon.Stop()
	var (
		first     time.Time // when the batch's oldest sample came
		caughtUp  bool      // the watcher caught up after the batch's oldest sample
		soonArmed bool
	)
	batch := make([]sample, 0, q.qc.MaxSamplesPerSend)
	flush := func() {
		if len(batch) > 0 {
			s.send(batch)
			batch = batch[:0]
		}
		caughtUp = false
		timer.Reset(deadline)
	}
	for {
		select {
		case c, ok := <-s.ch:
			if !ok {
				if len(batch) > 0 {
					s.send(batch)
				}
				return
			}
			if c == nil { // the watcher read all of the WAL
				if len(batch) == 0 {
					continue
				}
				caughtUp = true
				if wait := flushAge - time.Since(first); wait <= 0 {
					flush()
				} else if !soonArmed {
					soon.Reset(wait)
					soonArmed = true
				}
				continue
			}
			for _, smp := range c {
				if len(batch) == 0 {
					first = time.Now()
				}
				batch = append(batch, smp)
				if len(batch) >= q.qc.MaxSamplesPerSend {
					flush()
				}
			}
			clear(c) // drop the references to arena generations
			select {
			case s.free <- c[:0]:
			default:
			}
		case <-soon.C:
			soonArmed = false
			if !caughtUp || len(batch) == 0 {
				continue
			}
			if wait := flushAge - time.Since(first); wait > 0 {
				soon.Reset(wait)
				soonArmed = true
				continue
			}
			flush()
		case <-timer.C:
			flush()
		}
	}
}

// send sends a batch, retrying recoverable errors with backoff until it succeeds, fails for
// good, or the queue is stopped hard (then the batch stays unacknowledged and is sent again
// after a restart).
func (s *shard) send(batch []sample) {
	q := s.q
	if limit := time.Duration(q.qc.SampleAgeLimit); limit > 0 {
		cutoff := time.Now().Add(-limit).UnixMilli()
		kept := batch[:0:0]
		var old []sample
		for _, smp := range batch {
			if smp.t < cutoff {
				old = append(old, smp)
			} else {
				kept = append(kept, smp)
			}
		}
		if len(old) > 0 {
			q.m.addDropped(reasonTooOld, countKinds(old))
			q.dropped.Add(int64(len(old)))
			s.finish(old)
			batch = kept
		}
		if len(batch) == 0 {
			return
		}
	}
	n, kinds := len(batch), countKinds(batch)
	body, _, err := s.enc.encode(batch)
	if err != nil {
		q.m.addFailed(kinds)
		q.failed.Add(int64(n))
		q.logger.Error("Encoding remote write request", "err", err)
		s.finish(batch)
		return
	}
	backoff := time.Duration(q.qc.MinBackoff)
	maxBackoff := time.Duration(q.qc.MaxBackoff)
	for attempt := 0; ; attempt++ {
		begin := time.Now()
		rs, err := q.client.store(q.ctx, body, attempt)
		dur := time.Since(begin)
		q.m.sentBatchDuration.Observe(dur.Seconds())
		q.dataOut.Add(int64(n))
		q.dataOutDuration.Add(int64(dur))
		if err == nil && q.v2 && rs.samples+rs.histograms == 0 {
			err = &httpStatusError{msg: fmt.Sprintf("sent a 2.0 request with %d samples and %d histograms; got 2xx, but the response headers say none were written: the receiver may support only remote write 1.0 (protobuf_message: prometheus.WriteRequest)", kinds.floats, kinds.hists)}
		}
		if err == nil {
			written := kinds
			if q.v2 && rs.confirmed && (rs.samples < kinds.floats || rs.histograms < kinds.hists) {
				written = counts{floats: min(rs.samples, kinds.floats), hists: min(rs.histograms, kinds.hists)}
				lost := counts{floats: kinds.floats - written.floats, hists: kinds.hists - written.hists}
				q.m.addFailed(lost)
				q.failed.Add(int64(lost.total()))
				s.logLimited("partial", "Receiver answered 2xx but wrote fewer samples than sent", "sent_samples", kinds.floats, "written_samples", written.floats,
					"sent_histograms", kinds.hists, "written_histograms", written.hists)
			}
			q.m.addSent(written)
			q.sent.Add(int64(written.total()))
			q.m.bytesTotal.Add(float64(len(body)))
			maxT := batch[0].t
			for i := range batch {
				maxT = max(maxT, batch[i].t)
			}
			q.m.highestSentTimestamp.set(float64(maxT) / 1000)
			q.lastSendOK.Store(time.Now().UnixNano())
			s.finish(batch)
			return
		}
		if re, ok := isRecoverable(err); ok {
			q.m.addRetried(kinds)
			q.retried.Add(int64(n))
			q.setError(err)
			wait := max(backoff, re.retryAfter)
			s.logLimited("retry", "Failed to send batch, retrying", "samples", n, "attempt", attempt+1, "retry_in", wait, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-q.ctx.Done():
				t.Stop()
				return // unacknowledged: sent again after restart
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		q.m.addFailed(kinds)
		q.failed.Add(int64(n))
		q.setError(err)
		s.logLimited("drop", "Non-recoverable error sending batch; samples dropped", "samples", n, "err", err)
		if q.cfg.FailedRequestLogging {
			q.logger.Debug("Failed remote write request", "samples", n, "first_timestamp", batch[0].t, "err", err)
		}
		s.finish(batch)
		return
	}
}

func (s *shard) logLimited(kind, msg string, args ...any) {
	if ok, skipped := s.q.logLimit.allow(kind, time.Now()); ok {
		if skipped > 0 {
			args = append(args, "similar_messages_suppressed", skipped)
		}
		s.q.logger.Warn(msg, args...)
	}
}

// finish acknowledges a batch: its samples are sent or dropped for good.
func (s *shard) finish(batch []sample) {
	q := s.q
	q.tracker.done(batch)
	q.pending.Add(-int64(len(batch)))
	q.m.addPending(countKinds(batch), -1)
}

// updateShardsLoop recomputes the desired number of shards every shardUpdateDuration.
func (q *queue) updateShardsLoop() {
	defer q.bgDone.Done()
	t := time.NewTicker(shardUpdateDuration)
	defer t.Stop()
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-q.stopc:
			return
		case <-t.C:
			q.updateDesired()
		}
	}
}

// updateDesired is Prometheus's shard calculation: the time one sample takes to send times
// the rate samples come in, plus 5% of the backlog per interval; changes within ±30% of the
// current count are ignored.
func (q *queue) updateDesired() {
	in := q.ewmaIn.tick(float64(q.dataIn.Swap(0)) / shardUpdateDuration.Seconds())
	out := q.ewmaOut.tick(float64(q.dataOut.Swap(0)) / shardUpdateDuration.Seconds())
	dur := q.ewmaDur.tick(float64(q.dataOutDuration.Swap(0)) / 1e9 / shardUpdateDuration.Seconds())
	cur := q.numShards.Load()
	if out <= 0 {
		return
	}
	delay := q.m.highestTimestamp.get() - q.m.highestSentTimestamp.get()
	pending := max(delay, 0) * in
	timePerSample := dur / out
	desired := timePerSample * (in + 0.05*pending)
	lower, upper := float64(cur)*(1-shardToleranceFrac), float64(cur)*(1+shardToleranceFrac)
	want := cur
	if desired < lower || desired > upper {
		want = int64(math.Ceil(desired))
	}
	want = min(max(want, int64(q.qc.MinShards)), int64(q.qc.MaxShards))
	q.m.shardsDesired.Set(desired)
	// Do not reshard while sends fail: the shards are busy retrying, and more would not help.
	if last := q.lastSendOK.Load(); last == 0 || time.Since(time.Unix(0, last)) > 2*time.Duration(q.qc.BatchSendDeadline) {
		return
	}
	q.desired.Store(want)
}

// ewma is an exponentially weighted moving average (Prometheus's with alpha 0.2).
type ewma struct {
	init bool
	v    float64
}

func (e *ewma) tick(x float64) float64 {
	if !e.init {
		e.v, e.init = x, true
	} else {
		e.v += 0.2 * (x - e.v)
	}
	return e.v
}
