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
// Modified by Vigil: appendWriteV2Request follows storage/remote/write_handler.go (appendV2) of
// github.com/prometheus/prometheus v0.315.0; the rest of the receiver is Vigil's own.

package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/golang/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	writev2 "github.com/prometheus/prometheus/prompb/io/prometheus/write/v2"

	"github.com/vigil-monitoring/vigil/storage"
)

// Prometheus's remote-write limits (client_golang's exp/api/remote, which Prometheus's
// receiver uses): 32 MiB of snappy-compressed body and 32 MiB decoded. A larger body is
// answered 413, a larger decoded length (read from the snappy header, before decoding) 400.
const (
	maxWriteBodySize    = 32 << 20
	maxWriteDecodedSize = 32 << 20
	// maxAheadTime: samples further in the future are out of bounds, as in Prometheus.
	maxAheadTime = 10 * time.Minute
	// maxWriteErrors bounds the bad samples listed in a 400 answer (the rest are counted).
	maxWriteErrors = 10
)

// writeLimiter bounds the remote-write requests being decoded and appended at once: a request
// holds its compressed and decoded body and the decoded protobuf (six parallel 14 MB writes
// took 1.7 GB). Up to slots requests run; as many more wait for a slot, without having read
// their bodies, until one frees or the client goes away; past that the answer is 503, which
// Prometheus senders retry with backoff.
type writeLimiter struct {
	admit chan struct{} // running and waiting requests
	run   chan struct{} // running requests
}

func newWriteLimiter(slots int) *writeLimiter {
	if slots <= 0 {
		slots = max(2, runtime.GOMAXPROCS(0))
	}
	return &writeLimiter{admit: make(chan struct{}, 2*slots), run: make(chan struct{}, slots)}
}

var errWriteBusy = errors.New("too many concurrent remote write requests, retry later")

// acquire waits for a slot; release must be called after a nil error.
func (l *writeLimiter) acquire(ctx context.Context) (release func(), err error) {
	select {
	case l.admit <- struct{}{}:
	default:
		return nil, errWriteBusy
	}
	select {
	case l.run <- struct{}{}:
		return func() { <-l.run; <-l.admit }, nil
	case <-ctx.Done():
		<-l.admit
		return nil, ctx.Err()
	}
}

// remoteWrite is the remote-write receiver, for 1.0 (prometheus.WriteRequest) and 2.0
// (io.prometheus.write.v2.Request) bodies as the Content-Type's proto parameter says (none: 1.0);
// another proto, or one not in Options.RemoteWriteMessages, is 415. Samples that storage
// refuses (out of order, duplicate, out of bounds, too far in the future, invalid native
// histograms) are
// skipped and the valid rest is committed; the answer is then 400 with the refused samples
// listed, as Prometheus's receiver answers a partially written 2.0 request, so that the sender
// does not retry (and duplicate) a batch whose good samples are stored. Prometheus's 1.0
// receiver rolls the whole batch back instead, losing the good samples with the bad. Storage
// failures roll back and answer 500, which senders retry. A 2.0 answer carries the
// X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written headers.
func (a *API) remoteWrite(w http.ResponseWriter, r *http.Request) {
	if !a.opts.EnableRemoteWrite || a.opts.Appendable == nil {
		http.Error(w, "remote write receiver needs to be enabled with --web.enable-remote-write-receiver", http.StatusNotFound)
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/x-protobuf"
	}
	msgType, err := remoteapi.ParseProtoMsg(ct)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	if !a.writeMessages.Contains(msgType) {
		http.Error(w, fmt.Sprintf("%v protobuf message is not accepted by this server; only accepts %v", msgType, a.writeMessages.String()), http.StatusUnsupportedMediaType)
		return
	}
	if enc := r.Header.Get("Content-Encoding"); enc != "" && enc != "snappy" {
		http.Error(w, fmt.Sprintf("unsupported content encoding %q, only snappy is accepted", enc), http.StatusUnsupportedMediaType)
		return
	}
	release, err := a.writes.acquire(r.Context())
	if err != nil {
		if errors.Is(err, errWriteBusy) {
			a.logger.Warn("remote write request refused", "err", err)
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
		// Otherwise the client is gone: nobody to answer.
		return
	}
	defer release()
	compressed, err := readLimited(r.Body, r.ContentLength, maxWriteBodySize)
	if err != nil {
		http.Error(w, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	if len(compressed) > maxWriteBodySize {
		http.Error(w, fmt.Sprintf("request body exceeds the %d bytes limit", maxWriteBodySize), http.StatusRequestEntityTooLarge)
		return
	}
	n, err := snappy.DecodedLen(compressed)
	if err != nil {
		http.Error(w, fmt.Sprintf("decoding snappy body: %s", err), http.StatusBadRequest)
		return
	}
	if n > maxWriteDecodedSize {
		http.Error(w, fmt.Sprintf("decoded size exceeds the %d bytes limit", maxWriteDecodedSize), http.StatusBadRequest)
		return
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		http.Error(w, fmt.Sprintf("decoding snappy body: %s", err), http.StatusBadRequest)
		return
	}
	var (
		refused refusedSamples
		stats   writeStats
	)
	if msgType == remoteapi.WriteV2MessageType {
		var req writev2.Request
		if err := req.Unmarshal(raw); err != nil {
			http.Error(w, fmt.Sprintf("decoding remote write 2.0 request: %s", err), http.StatusBadRequest)
			return
		}
		refused, stats, err = a.appendWriteV2Request(r, &req)
		if err == nil {
			// The stats of what was committed; none after a rollback (as upstream).
			h := w.Header()
			h.Set("X-Prometheus-Remote-Write-Samples-Written", strconv.Itoa(stats.samples))
			h.Set("X-Prometheus-Remote-Write-Histograms-Written", strconv.Itoa(stats.histograms))
			h.Set("X-Prometheus-Remote-Write-Exemplars-Written", strconv.Itoa(stats.exemplars))
		}
	} else {
		var req prompb.WriteRequest
		if err := req.Unmarshal(raw); err != nil {
			http.Error(w, fmt.Sprintf("decoding remote write request: %s", err), http.StatusBadRequest)
			return
		}
		refused, err = a.appendWriteRequest(r, &req)
	}
	if err != nil {
		a.logger.Warn("remote write request failed", "code", http.StatusInternalServerError, "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if refused.count > 0 {
		a.logger.Warn("remote write samples refused, the rest written", "refused", refused.count, "err", refused.err())
		http.Error(w, refused.err().Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readLimited reads body up to limit+1 bytes (more means too large). The buffer is sized from
// the Content-Length when there is one and otherwise doubles, so that reading costs about the
// body's size (io.ReadAll grows by 1.25x: about five times the body in allocations).
func readLimited(body io.Reader, contentLength int64, limit int) ([]byte, error) {
	return readLimitedInto(nil, body, contentLength, limit)
}

// readLimitedInto is readLimited reading into buf[:0], whose capacity is used first (a buffer
// kept from an earlier request).
func readLimitedInto(buf []byte, body io.Reader, contentLength int64, limit int) ([]byte, error) {
	size := 64 << 10
	if contentLength > 0 {
		size = int(min(contentLength, int64(limit))) + 1
	}
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:0]
	lr := io.LimitReader(body, int64(limit)+1)
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit+1-len(buf)))
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func isBadSampleErr(err error) bool {
	return errors.Is(err, storage.ErrOutOfOrderSample) || errors.Is(err, storage.ErrOutOfBounds) ||
		errors.Is(err, storage.ErrDuplicateSampleForTimestamp)
}

// refusedSamples collects the samples a remote-write request could not store.
type refusedSamples struct {
	count int
	errs  []error // the first maxWriteErrors
}

func (rs *refusedSamples) add(err error) { rs.addN(1, err) }

// addN counts n refused samples for one reason (a whole series refused).
func (rs *refusedSamples) addN(n int, err error) {
	rs.count += max(n, 1)
	if len(rs.errs) < maxWriteErrors {
		rs.errs = append(rs.errs, err)
	}
}

func (rs *refusedSamples) err() error {
	err := errors.Join(rs.errs...)
	if more := rs.count - len(rs.errs); more > 0 {
		err = fmt.Errorf("%w\n(and %d more refused samples)", err, more)
	}
	return err
}

// appendWriteRequest appends the request's samples, skipping those storage refuses (returned),
// and commits. An error is a storage failure: nothing was committed.
func (a *API) appendWriteRequest(r *http.Request, req *prompb.WriteRequest) (refused refusedSamples, err error) {
	app := a.opts.Appendable.Appender(r.Context())
	defer func() {
		if err != nil {
			_ = app.Rollback()
			return
		}
		if cerr := app.Commit(); cerr != nil {
			err = fmt.Errorf("committing remote write samples: %w", cerr)
		}
	}()
	maxT := time.Now().Add(maxAheadTime).UnixMilli()
	b := labels.NewScratchBuilder(0)
	invalid := 0
	for _, ts := range req.Timeseries {
		b.Reset()
		for _, l := range ts.Labels {
			b.Add(l.Name, l.Value)
		}
		b.Sort()
		ls := b.Labels()
		// As Prometheus: series without a name or with invalid labels are skipped, not fatal.
		if !ls.Has(model.MetricNameLabel) || !ls.IsValid(model.UTF8Validation) {
			invalid++
			continue
		}
		if dup, ok := ls.HasDuplicateLabelNames(); ok {
			a.logger.Warn("remote write series with a duplicate label name skipped", "labels", ls.String(), "label", dup)
			invalid++
			continue
		}
		var ref storage.SeriesRef
		for _, s := range ts.Samples {
			if _, aerr := appendRemoteSample(app, &ref, ls, s.Timestamp, s.Value, maxT, &refused); aerr != nil {
				return refused, aerr
			}
		}
		for _, hp := range ts.Histograms {
			var h *histogram.Histogram
			var fh *histogram.FloatHistogram
			if hp.IsFloatHistogram() {
				fh = hp.ToFloatHistogram()
			} else {
				h = hp.ToIntHistogram()
			}
			if _, aerr := appendRemoteHistogram(app, &ref, ls, hp.Timestamp, h, fh, maxT, &refused); aerr != nil {
				return refused, aerr
			}
		}
	}
	if invalid > 0 {
		a.logger.Warn("remote write series with invalid metric names or labels skipped", "count", invalid)
	}
	return refused, nil
}

// writeStats count what a 2.0 request wrote, for the response headers.
type writeStats struct{ samples, histograms, exemplars int }

// appendWriteV2Request appends a remote-write 2.0 request as Prometheus's receiver does
// (storage/remote/write_handler.go appendV2, v0.315.0): labels and metadata resolved from the
// symbol table, series with invalid labels or without samples refused (400, the rest written),
// exemplars counted as written and not stored (as Prometheus without exemplar storage, its
// default), metadata validated and not stored (as Prometheus without the metadata-wal-records
// feature). Native histograms (integer, float, custom buckets) go through
// appendRemoteHistogram.
func (a *API) appendWriteV2Request(r *http.Request, req *writev2.Request) (refused refusedSamples, stats writeStats, err error) {
	app := a.opts.Appendable.Appender(r.Context())
	defer func() {
		if err != nil {
			_ = app.Rollback()
			stats = writeStats{}
			return
		}
		if cerr := app.Commit(); cerr != nil {
			err = fmt.Errorf("committing remote write samples: %w", cerr)
			stats = writeStats{}
		}
	}()
	maxT := time.Now().Add(maxAheadTime).UnixMilli()
	b := labels.NewScratchBuilder(0)
	for _, ts := range req.Timeseries {
		ls, lerr := ts.ToLabels(&b, req.Symbols)
		if lerr != nil {
			refused.addN(len(ts.Samples)+len(ts.Histograms), fmt.Errorf("parsing labels for series %v: %w", ts.LabelsRefs, lerr))
			continue
		}
		if _, merr := ts.ToMetadata(req.Symbols); merr != nil {
			refused.addN(len(ts.Samples)+len(ts.Histograms), fmt.Errorf("parsing metadata for series %v: %w", ts.LabelsRefs, merr))
			continue
		}
		if !ls.Has(model.MetricNameLabel) || !ls.IsValid(model.UTF8Validation) {
			refused.addN(len(ts.Samples)+len(ts.Histograms), fmt.Errorf("invalid metric name or labels, got %v", ls.String()))
			continue
		}
		if dup, ok := ls.HasDuplicateLabelNames(); ok {
			refused.addN(len(ts.Samples)+len(ts.Histograms), fmt.Errorf("invalid labels for series, labels %v, duplicated label %s", ls.String(), dup))
			continue
		}
		if len(ts.Samples) == 0 && len(ts.Histograms) == 0 {
			refused.add(fmt.Errorf("TimeSeries must contain at least one sample or histogram for series %v", ls.String()))
			continue
		}
		var ref storage.SeriesRef
		for _, smpl := range ts.Samples {
			ok, aerr := appendRemoteSampleST(app, &ref, ls, smpl.StartTimestamp, smpl.Timestamp, smpl.Value, maxT, &refused)
			if aerr != nil {
				return refused, stats, aerr
			}
			if ok {
				stats.samples++
			}
		}
		for _, hp := range ts.Histograms {
			// Custom bucket boundaries (NHCB, schema -53) travel in CustomValues, which the
			// conversions carry over.
			var h *histogram.Histogram
			var fh *histogram.FloatHistogram
			if hp.IsFloatHistogram() {
				fh = hp.ToFloatHistogram()
			} else {
				h = hp.ToIntHistogram()
			}
			ok, aerr := appendRemoteHistogramST(app, &ref, ls, hp.StartTimestamp, hp.Timestamp, h, fh, maxT, &refused)
			if aerr != nil {
				return refused, stats, aerr
			}
			if ok {
				stats.histograms++
			}
		}
		for _, ep := range ts.Exemplars {
			if _, eerr := ep.ToExemplar(&b, req.Symbols); eerr != nil {
				refused.add(fmt.Errorf("parsing exemplar for series %v: %w", ls.String(), eerr))
				continue
			}
			stats.exemplars++
		}
	}
	return refused, stats, nil
}

// appendRemoteSample appends one sample of a remote-write request: a refused sample is added to
// refused (ok false, no error); an error is a storage failure.
func appendRemoteSample(app storage.Appender, ref *storage.SeriesRef, ls labels.Labels, t int64, v float64, maxT int64, refused *refusedSamples) (ok bool, err error) {
	if t > maxT {
		refused.add(fmt.Errorf("%w: timestamp is too far in the future for series %s at timestamp %d", storage.ErrOutOfBounds, ls.String(), t))
		return false, nil
	}
	r, aerr := app.Append(*ref, ls, t, v)
	if aerr != nil {
		if isBadSampleErr(aerr) {
			refused.add(fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), t))
			return false, nil
		}
		return false, fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), t)
	}
	*ref = r
	return true, nil
}

// appendRemoteHistogram appends one native histogram sample of a remote-write request (exactly
// one of h and fh set) as Prometheus's receiver does: too far in the future is out of bounds, a
// schema above 8 in the reserved range (9..52) is reduced to 8, and a histogram that fails
// validation (histogram.Error: bucket counts against the count, spans against buckets, custom
// bounds, unknown schema) is refused with the reason, like an out-of-order sample. Prometheus
// finds the invalid ones in its TSDB's appender; Vigil checks here, before storage.
func appendRemoteHistogram(app storage.Appender, ref *storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram, maxT int64, refused *refusedSamples) (ok bool, err error) {
	if t > maxT {
		refused.add(fmt.Errorf("%w: timestamp is too far in the future for series %s at timestamp %d", storage.ErrOutOfBounds, ls.String(), t))
		return false, nil
	}
	var verr error
	if h != nil {
		if histogram.IsExponentialSchemaReserved(h.Schema) && h.Schema > histogram.ExponentialSchemaMax {
			verr = h.ReduceResolution(histogram.ExponentialSchemaMax)
		}
		if verr == nil {
			verr = h.Validate()
		}
	} else {
		if histogram.IsExponentialSchemaReserved(fh.Schema) && fh.Schema > histogram.ExponentialSchemaMax {
			verr = fh.ReduceResolution(histogram.ExponentialSchemaMax)
		}
		if verr == nil {
			verr = fh.Validate()
		}
	}
	if verr != nil {
		refused.add(fmt.Errorf("%w for series %s at timestamp %d", verr, ls.String(), t))
		return false, nil
	}
	r, aerr := app.AppendHistogram(*ref, ls, t, h, fh)
	if aerr != nil {
		if isBadSampleErr(aerr) || isHistogramValidationError(aerr) {
			refused.add(fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), t))
			return false, nil
		}
		return false, fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), t)
	}
	*ref = r
	return true, nil
}

// isHistogramValidationError tells a native histogram that is not valid (as upstream).
func isHistogramValidationError(err error) bool {
	var e histogram.Error
	return errors.As(err, &e)
}
