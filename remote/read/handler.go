// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: ported from github.com/prometheus/prometheus storage/remote/read_handler.go,
// codec.go and chunked.go (v0.315.0) onto Vigil's storage.Querier; streamed chunks are encoded
// here from the samples (Vigil's own chunk formats are not XOR on the wire).

// Package read serves Prometheus remote read (POST /api/v1/read) over Vigil's storage: a
// snappy-compressed prompb.ReadRequest answered with SAMPLES (one snappy-compressed
// prompb.ReadResponse) or STREAMED_XOR_CHUNKS (length-delimited, CRC-checked
// prompb.ChunkedReadResponse frames), whichever the client lists first in
// accepted_response_types, as Prometheus's handler does.
package read

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/vigil-monitoring/vigil/storage"
)

// Defaults of Prometheus's --storage.remote.read-* flags.
const (
	DefaultSampleLimit     = 5e7
	DefaultConcurrentLimit = 10
	DefaultMaxBytesInFrame = 1048576
)

const (
	// decodeReadLimit is the largest request body, compressed and decoded, as upstream.
	decodeReadLimit = 32 * 1024 * 1024
	// samplesPerChunk is where streamed series are cut into chunks: the size of Prometheus's
	// head chunks, which is what an upstream server streams.
	samplesPerChunk = 120
)

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// Options configure the handler.
type Options struct {
	Queryable storage.Queryable
	// ExternalLabels returns the running configuration's global.external_labels (nil: none).
	ExternalLabels func() labels.Labels
	// SampleLimit bounds the samples of one SAMPLES response (0: none).
	SampleLimit int
	// ConcurrentLimit bounds the requests served at once; others wait (0: no limit).
	ConcurrentLimit int
	// MaxBytesInFrame is the size a streamed frame is cut at (approximately: one chunk more).
	MaxBytesInFrame int
	Registerer      prometheus.Registerer
	Logger          *slog.Logger
}

// Handler is the http.Handler of POST /api/v1/read.
type Handler struct {
	opts        Options
	logger      *slog.Logger
	gate        chan struct{}
	queries     prometheus.Gauge
	marshalPool sync.Pool
}

// NewHandler returns the remote-read handler; its gauge prometheus_remote_read_handler_queries
// is registered on opts.Registerer.
func NewHandler(opts Options) *Handler {
	h := &Handler{opts: opts, logger: opts.Logger}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if opts.ConcurrentLimit > 0 {
		h.gate = make(chan struct{}, opts.ConcurrentLimit)
	}
	if h.opts.MaxBytesInFrame <= 0 {
		h.opts.MaxBytesInFrame = DefaultMaxBytesInFrame
	}
	h.queries = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "prometheus",
		Subsystem: "remote_read_handler",
		Name:      "queries",
		Help:      "The current number of remote read queries that are either in execution or queued on the handler.",
	})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(h.queries)
	}
	return h
}

// httpError is an error with the status it is answered with.
type httpError struct {
	msg    string
	status int
}

func (e httpError) Error() string { return e.msg }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.gate != nil {
		select {
		case h.gate <- struct{}{}:
			defer func() { <-h.gate }()
		case <-ctx.Done():
			http.Error(w, ctx.Err().Error(), http.StatusInternalServerError)
			return
		}
	}
	h.queries.Inc()
	defer h.queries.Dec()

	req, err := DecodeReadRequest(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	var ext labels.Labels
	if h.opts.ExternalLabels != nil {
		ext = h.opts.ExternalLabels()
	}
	externalLabels := ext.Map()
	sortedExternalLabels := make([]prompb.Label, 0, len(externalLabels))
	for name, value := range externalLabels {
		sortedExternalLabels = append(sortedExternalLabels, prompb.Label{Name: name, Value: value})
	}
	slices.SortFunc(sortedExternalLabels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })

	responseType, err := NegotiateResponseType(req.AcceptedResponseTypes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch responseType {
	case prompb.ReadRequest_STREAMED_XOR_CHUNKS:
		h.streamedXORChunks(ctx, w, req, externalLabels, sortedExternalLabels)
	default:
		h.samples(ctx, w, req, externalLabels, sortedExternalLabels)
	}
}

func selectHints(q *prompb.Query) *storage.SelectHints {
	if q.Hints == nil {
		return nil
	}
	// Grouping and By have no use in Vigil's storage; upstream passes them on.
	return &storage.SelectHints{Start: q.Hints.StartMs, End: q.Hints.EndMs, Step: q.Hints.StepMs, Func: q.Hints.Func, Range: q.Hints.RangeMs}
}

func (h *Handler) samples(ctx context.Context, w http.ResponseWriter, req *prompb.ReadRequest, externalLabels map[string]string, sortedExternalLabels []prompb.Label) {
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Header().Set("Content-Encoding", "snappy")

	resp := prompb.ReadResponse{Results: make([]*prompb.QueryResult, len(req.Queries))}
	// The queriers stay open until the response is written: label strings may point into the
	// storage they hold (blocks' index), as the API's answers do.
	var queriers []storage.Querier
	defer func() {
		for _, q := range queriers {
			if err := q.Close(); err != nil {
				h.logger.Warn("Error on querier close", "err", err.Error())
			}
		}
	}()
	for i, query := range req.Queries {
		if err := func() error {
			matchers, err := filterExtLabelsFromMatchers(query.Matchers, externalLabels)
			if err != nil {
				return err
			}
			querier, err := h.opts.Queryable.Querier(query.StartTimestampMs, query.EndTimestampMs)
			if err != nil {
				return err
			}
			queriers = append(queriers, querier)
			// Unsorted, as upstream: clients sort when they need to (series order may differ
			// from upstream's).
			resp.Results[i], err = toQueryResult(querier.Select(ctx, false, selectHints(query), matchers...), h.opts.SampleLimit)
			if err != nil {
				return err
			}
			if len(sortedExternalLabels) > 0 {
				for _, ts := range resp.Results[i].Timeseries {
					ts.Labels = MergeLabels(ts.Labels, sortedExternalLabels)
				}
			}
			return nil
		}(); err != nil {
			var he httpError
			if errors.As(err, &he) {
				http.Error(w, he.Error(), he.status)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	data, err := proto.Marshal(&resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, err := w.Write(snappy.Encode(nil, data)); err != nil {
		h.logger.Debug("Writing remote read response", "err", err)
	}
}

// toQueryResult reads a series set into a QueryResult; more than limit samples (per query, as
// upstream) is a 400.
func toQueryResult(ss storage.SeriesSet, limit int) (*prompb.QueryResult, error) {
	numSamples := 0
	resp := &prompb.QueryResult{}
	var it storage.Iterator
	for ss.Next() {
		series := ss.At()
		it = series.Iterator(it)
		var (
			samples    []prompb.Sample
			histograms []prompb.Histogram
		)
		for vt := it.Next(); vt != storage.ValNone; vt = it.Next() {
			numSamples++
			if limit > 0 && numSamples > limit {
				return nil, httpError{msg: fmt.Sprintf("exceeded sample limit (%d)", limit), status: http.StatusBadRequest}
			}
			switch vt {
			case storage.ValFloat:
				t, v := it.At()
				samples = append(samples, prompb.Sample{Timestamp: t, Value: v})
			case storage.ValHistogram:
				// A histogram of its own: the iterator may reuse its buffers on Next.
				t, h := it.AtHistogram(&histogram.Histogram{})
				histograms = append(histograms, prompb.FromIntHistogram(t, h))
			case storage.ValFloatHistogram:
				t, fh := it.AtFloatHistogram(&histogram.FloatHistogram{})
				histograms = append(histograms, prompb.FromFloatHistogram(t, fh))
			default:
				return nil, fmt.Errorf("unrecognized value type: %s", vt)
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		resp.Timeseries = append(resp.Timeseries, &prompb.TimeSeries{
			Labels:     prompb.FromLabels(series.Labels(), nil),
			Samples:    samples,
			Histograms: histograms,
		})
	}
	return resp, ss.Err()
}

func (h *Handler) streamedXORChunks(ctx context.Context, w http.ResponseWriter, req *prompb.ReadRequest, externalLabels map[string]string, sortedExternalLabels []prompb.Label) {
	w.Header().Set("Content-Type", "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse")
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "internal http.ResponseWriter does not implement http.Flusher interface", http.StatusInternalServerError)
		return
	}
	cw := NewChunkedWriter(w, f)
	defer cw.Close()
	enc := &chunkEncoder{}
	for i, query := range req.Queries {
		if err := func() error {
			matchers, err := filterExtLabelsFromMatchers(query.Matchers, externalLabels)
			if err != nil {
				return err
			}
			querier, err := h.opts.Queryable.Querier(query.StartTimestampMs, query.EndTimestampMs)
			if err != nil {
				return err
			}
			defer func() {
				if err := querier.Close(); err != nil {
					h.logger.Warn("Error on chunk querier close", "err", err.Error())
				}
			}()
			// The streaming API has to provide the series sorted.
			return h.streamChunkedReadResponses(cw, int64(i), querier.Select(ctx, true, selectHints(query), matchers...), sortedExternalLabels, enc)
		}(); err != nil {
			var he httpError
			if errors.As(err, &he) {
				http.Error(w, he.Error(), he.status)
				return
			}
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
}

// chunkEncoder cuts a series' samples into XOR chunks, reusing their buffers from frame to
// frame.
type chunkEncoder struct {
	chunks []*chunkenc.XORChunk
	used   int
}

func (e *chunkEncoder) next() *chunkenc.XORChunk {
	if e.used == len(e.chunks) {
		e.chunks = append(e.chunks, chunkenc.NewXORChunk())
	} else {
		c := e.chunks[e.used]
		b := c.Bytes()[:2]
		b[0], b[1] = 0, 0 // the sample count
		c.Reset(b)
	}
	e.used++
	return e.chunks[e.used-1]
}

// streamChunkedReadResponses writes the series of ss as frames of at most one series each, cut
// when a frame holds about MaxBytesInFrame, as upstream's StreamChunkedReadResponses; the
// chunks are encoded here from the samples.
func (h *Handler) streamChunkedReadResponses(stream io.Writer, queryIndex int64, ss storage.SeriesSet, sortedExternalLabels []prompb.Label, enc *chunkEncoder) error {
	var (
		chks []prompb.Chunk
		lbls []prompb.Label
		it   storage.Iterator
	)
	for ss.Next() {
		series := ss.At()
		it = series.Iterator(it)
		lbls = MergeLabels(prompb.FromLabels(series.Labels(), lbls), sortedExternalLabels)
		maxDataLength := h.opts.MaxBytesInFrame
		for _, l := range lbls {
			maxDataLength -= l.Size()
		}
		frameBytesLeft := maxDataLength

		vt := it.Next()
		for vt != storage.ValNone {
			if vt != storage.ValFloat {
				// A run of native histograms: upstream's histogram chunks.
				var (
					c   prompb.Chunk
					err error
				)
				if c, vt, err = histogramChunk(it, vt); err != nil {
					return err
				}
				chks = append(chks, c)
			} else {
				// Cut one chunk of up to samplesPerChunk samples.
				chk := enc.next()
				app, err := chk.Appender()
				if err != nil {
					return err
				}
				var mint, maxt int64
				for n := 0; vt == storage.ValFloat && n < samplesPerChunk; n++ {
					t, v := it.At()
					if n == 0 {
						mint = t
					}
					maxt = t
					app.Append(0, t, v)
					vt = it.Next()
				}
				chks = append(chks, prompb.Chunk{MinTimeMs: mint, MaxTimeMs: maxt, Type: prompb.Chunk_XOR, Data: chk.Bytes()})
			}
			frameBytesLeft -= chks[len(chks)-1].Size()

			// As upstream: a frame may exceed the limit by up to one chunk.
			if frameBytesLeft > 0 && vt != storage.ValNone {
				continue
			}
			resp := &prompb.ChunkedReadResponse{
				ChunkedSeries: []*prompb.ChunkedSeries{{Labels: lbls, Chunks: chks}},
				QueryIndex:    queryIndex,
			}
			b, err := resp.PooledMarshal(&h.marshalPool)
			if err != nil {
				return fmt.Errorf("marshal ChunkedReadResponse: %w", err)
			}
			if _, err := stream.Write(b); err != nil {
				return fmt.Errorf("write to stream: %w", err)
			}
			h.marshalPool.Put(&b)
			chks = chks[:0]
			enc.used = 0
			frameBytesLeft = maxDataLength
		}
		if err := it.Err(); err != nil {
			return err
		}
	}
	return ss.Err()
}

// histogramChunk encodes the histogram samples from the iterator's current one (of type vt)
// into one upstream histogram or float histogram chunk, up to samplesPerChunk samples, until
// the value type changes or the chunk format needs a new chunk (a counter reset, or a layout
// the chunk cannot take). It returns the chunk (its own bytes) and the next value type.
func histogramChunk(it storage.Iterator, vt storage.ValueType) (prompb.Chunk, storage.ValueType, error) {
	first := vt
	var (
		chk  chunkenc.Chunk
		typ  prompb.Chunk_Encoding
		mint int64
		maxt int64
	)
	if first == storage.ValHistogram {
		chk, typ = chunkenc.NewHistogramChunk(), prompb.Chunk_HISTOGRAM
	} else {
		chk, typ = chunkenc.NewFloatHistogramChunk(), prompb.Chunk_FLOAT_HISTOGRAM
	}
	app, err := chk.Appender()
	if err != nil {
		return prompb.Chunk{}, vt, err
	}
	for n := 0; vt == first && n < samplesPerChunk; n++ {
		var (
			t       int64
			newChk  chunkenc.Chunk
			recoded bool
			nextApp chunkenc.Appender
		)
		if first == storage.ValHistogram {
			var h *histogram.Histogram
			t, h = it.AtHistogram(&histogram.Histogram{})
			newChk, recoded, nextApp, err = app.AppendHistogram(nil, 0, t, h, false)
		} else {
			var fh *histogram.FloatHistogram
			t, fh = it.AtFloatHistogram(&histogram.FloatHistogram{})
			newChk, recoded, nextApp, err = app.AppendFloatHistogram(nil, 0, t, fh, false)
		}
		if err != nil {
			return prompb.Chunk{}, vt, err
		}
		switch {
		case newChk == nil:
		case recoded:
			// The chunk was rewritten with a wider layout, the sample included.
			chk = newChk
		default:
			// The sample needs a chunk of its own (a counter reset): the next call encodes
			// it again (the iterator stays on it).
			data := append([]byte(nil), chk.Bytes()...)
			return prompb.Chunk{MinTimeMs: mint, MaxTimeMs: maxt, Type: typ, Data: data}, vt, nil
		}
		app = nextApp
		if n == 0 {
			mint = t
		}
		maxt = t
		vt = it.Next()
	}
	data := append([]byte(nil), chk.Bytes()...)
	return prompb.Chunk{MinTimeMs: mint, MaxTimeMs: maxt, Type: typ, Data: data}, vt, nil
}

// DecodeReadRequest reads a snappy-compressed ReadRequest, at most 32 MiB compressed and
// decoded (the decoded size is judged from the snappy header before decoding).
func DecodeReadRequest(r io.Reader) (*prompb.ReadRequest, error) {
	compressed, err := io.ReadAll(io.LimitReader(r, decodeReadLimit))
	if err != nil {
		return nil, err
	}
	decodedLen, err := snappy.DecodedLen(compressed)
	if err != nil {
		return nil, err
	}
	if decodedLen > decodeReadLimit {
		return nil, fmt.Errorf("snappy: decoded length %d exceeds limit %d", decodedLen, decodeReadLimit)
	}
	reqBuf, err := snappy.Decode(nil, compressed)
	if err != nil {
		return nil, err
	}
	var req prompb.ReadRequest
	if err := proto.Unmarshal(reqBuf, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// NegotiateResponseType returns the first accepted response type this server supports; none
// listed means SAMPLES (backward compatibility).
func NegotiateResponseType(accepted []prompb.ReadRequest_ResponseType) (prompb.ReadRequest_ResponseType, error) {
	if len(accepted) == 0 {
		accepted = []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES}
	}
	supported := map[prompb.ReadRequest_ResponseType]struct{}{
		prompb.ReadRequest_SAMPLES:             {},
		prompb.ReadRequest_STREAMED_XOR_CHUNKS: {},
	}
	for _, resType := range accepted {
		if _, ok := supported[resType]; ok {
			return resType, nil
		}
	}
	return 0, fmt.Errorf("server does not support any of the requested response types: %v; supported: %v", accepted, supported)
}

// MergeLabels merges two sets of sorted proto labels, preferring those in primary to those in
// secondary when there is an overlap.
func MergeLabels(primary, secondary []prompb.Label) []prompb.Label {
	result := make([]prompb.Label, 0, len(primary)+len(secondary))
	i, j := 0, 0
	for i < len(primary) && j < len(secondary) {
		switch {
		case primary[i].Name < secondary[j].Name:
			result = append(result, primary[i])
			i++
		case primary[i].Name > secondary[j].Name:
			result = append(result, secondary[j])
			j++
		default:
			result = append(result, primary[i])
			i++
			j++
		}
	}
	result = append(result, primary[i:]...)
	return append(result, secondary[j:]...)
}

// filterExtLabelsFromMatchers turns equality matchers on an external label's value into
// matchers for the label's absence: stored series do not carry external labels.
func filterExtLabelsFromMatchers(pbMatchers []*prompb.LabelMatcher, externalLabels map[string]string) ([]*labels.Matcher, error) {
	matchers, err := FromLabelMatchers(pbMatchers)
	if err != nil {
		return nil, err
	}
	filtered := make([]*labels.Matcher, 0, len(matchers))
	for _, m := range matchers {
		if value := externalLabels[m.Name]; m.Type == labels.MatchEqual && value == m.Value {
			matcher, err := labels.NewMatcher(labels.MatchEqual, m.Name, "")
			if err != nil {
				return nil, err
			}
			filtered = append(filtered, matcher)
		} else {
			filtered = append(filtered, m)
		}
	}
	return filtered, nil
}

// FromLabelMatchers converts protobuf label matchers to label matchers.
func FromLabelMatchers(matchers []*prompb.LabelMatcher) ([]*labels.Matcher, error) {
	result := make([]*labels.Matcher, 0, len(matchers))
	for _, matcher := range matchers {
		var mtype labels.MatchType
		switch matcher.Type {
		case prompb.LabelMatcher_EQ:
			mtype = labels.MatchEqual
		case prompb.LabelMatcher_NEQ:
			mtype = labels.MatchNotEqual
		case prompb.LabelMatcher_RE:
			mtype = labels.MatchRegexp
		case prompb.LabelMatcher_NRE:
			mtype = labels.MatchNotRegexp
		default:
			return nil, errors.New("invalid matcher type")
		}
		m, err := labels.NewMatcher(mtype, matcher.Name, matcher.Value)
		if err != nil {
			return nil, err
		}
		result = append(result, m)
	}
	return result, nil
}

// ChunkedWriter writes frames: a uvarint length, the big-endian Castagnoli CRC-32 of the data,
// then the data. The underlying flusher is invoked only on Close.
type ChunkedWriter struct {
	writer  io.Writer
	flusher http.Flusher
	hdr     [binary.MaxVarintLen64 + 4]byte
}

// NewChunkedWriter returns a ChunkedWriter; Close it after use.
func NewChunkedWriter(w io.Writer, f http.Flusher) *ChunkedWriter {
	return &ChunkedWriter{writer: w, flusher: f}
}

// Close ensures that all data ends up on the wire.
func (w *ChunkedWriter) Close() { w.flusher.Flush() }

// Write writes one frame. The count returned does not include the delimiter and checksum.
func (w *ChunkedWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n := binary.PutUvarint(w.hdr[:], uint64(len(b)))
	binary.BigEndian.PutUint32(w.hdr[n:], crc32.Checksum(b, castagnoliTable))
	if _, err := w.writer.Write(w.hdr[:n+4]); err != nil {
		return 0, err
	}
	return w.writer.Write(b)
}
