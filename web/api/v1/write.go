package v1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"slices"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

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

// remoteWrite is the remote-write 1.0 receiver: a snappy-compressed prompb.WriteRequest.
// Samples that storage refuses (out of order, duplicate, out of bounds, too far in the future,
// native histograms) are skipped and the valid rest is committed; the answer is then 400 with
// the refused samples listed, as Prometheus's receiver answers a partially written remote-write
// 2.0 request, so that the sender does not retry (and duplicate) a batch whose good samples are
// stored. Prometheus's 1.0 receiver rolls the whole batch back instead, losing the good samples
// with the bad. Storage failures roll back and answer 500, which senders retry.
func (a *API) remoteWrite(w http.ResponseWriter, r *http.Request) {
	if !a.opts.EnableRemoteWrite || a.opts.Appendable == nil {
		http.Error(w, "remote write receiver needs to be enabled with --web.enable-remote-write-receiver", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-protobuf" || (params["proto"] != "" && params["proto"] != "prometheus.WriteRequest") {
			http.Error(w, fmt.Sprintf("unsupported content type %q: only remote write 1.0 (application/x-protobuf;proto=prometheus.WriteRequest) is accepted", ct), http.StatusUnsupportedMediaType)
			return
		}
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
	var req prompb.WriteRequest
	if err := req.Unmarshal(raw); err != nil {
		http.Error(w, fmt.Sprintf("decoding remote write request: %s", err), http.StatusBadRequest)
		return
	}
	refused, err := a.appendWriteRequest(r, &req)
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

func (rs *refusedSamples) add(err error) {
	rs.count++
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
		if len(ts.Histograms) > 0 {
			refused.add(fmt.Errorf("%w: native histogram samples are not supported (series %s)", storage.ErrOutOfBounds, ls.String()))
		}
		var ref storage.SeriesRef
		for _, s := range ts.Samples {
			if s.Timestamp > maxT {
				refused.add(fmt.Errorf("%w: timestamp is too far in the future for series %s at timestamp %d", storage.ErrOutOfBounds, ls.String(), s.Timestamp))
				continue
			}
			r, aerr := app.Append(ref, ls, s.Timestamp, s.Value)
			if aerr != nil {
				if isBadSampleErr(aerr) {
					refused.add(fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), s.Timestamp))
					continue
				}
				return refused, fmt.Errorf("%w for series %s at timestamp %d", aerr, ls.String(), s.Timestamp)
			}
			ref = r
		}
	}
	if invalid > 0 {
		a.logger.Warn("remote write series with invalid metric names or labels skipped", "count", invalid)
	}
	return refused, nil
}
