package v1

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"

	"github.com/vigil-monitoring/vigil/storage"
)

// maxWriteBodySize bounds a compressed remote-write request, and maxWriteDecodedSize its
// decoded size, so that a hostile or broken sender cannot make us allocate without bound.
const (
	maxWriteBodySize    = 64 << 20
	maxWriteDecodedSize = 256 << 20
	// maxAheadTime: samples further in the future are out of bounds, as in Prometheus.
	maxAheadTime = 10 * time.Minute
)

// remoteWrite is the remote-write 1.0 receiver: a snappy-compressed prompb.WriteRequest,
// appended in one batch. Like Prometheus, a bad sample (out of order, duplicate, out of bounds)
// fails the whole request with 400 so that the sender does not retry it, anything else with 500
// so that it does.
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
	compressed, err := io.ReadAll(io.LimitReader(r.Body, maxWriteBodySize+1))
	if err != nil {
		http.Error(w, fmt.Sprintf("reading request body: %s", err), http.StatusBadRequest)
		return
	}
	if len(compressed) > maxWriteBodySize {
		http.Error(w, fmt.Sprintf("request body larger than %d bytes", maxWriteBodySize), http.StatusRequestEntityTooLarge)
		return
	}
	if n, err := snappy.DecodedLen(compressed); err != nil || n > maxWriteDecodedSize {
		http.Error(w, fmt.Sprintf("decoding snappy body: decoded length invalid or above %d bytes", maxWriteDecodedSize), http.StatusBadRequest)
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
	if err := a.appendWriteRequest(r, &req); err != nil {
		code := http.StatusInternalServerError
		if isBadSampleErr(err) {
			code = http.StatusBadRequest
		}
		a.logger.Warn("remote write request rejected", "code", code, "err", err)
		http.Error(w, err.Error(), code)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func isBadSampleErr(err error) bool {
	return errors.Is(err, storage.ErrOutOfOrderSample) || errors.Is(err, storage.ErrOutOfBounds) ||
		errors.Is(err, storage.ErrDuplicateSampleForTimestamp)
}

func (a *API) appendWriteRequest(r *http.Request, req *prompb.WriteRequest) (err error) {
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
		if len(ts.Histograms) > 0 {
			return fmt.Errorf("%w: native histogram samples are not supported (series %s)", storage.ErrOutOfBounds, labelsString(ts.Labels))
		}
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
			if s.Timestamp > maxT {
				return fmt.Errorf("%w: timestamp is too far in the future (series %s, timestamp %d)", storage.ErrOutOfBounds, ls.String(), s.Timestamp)
			}
			if ref, err = app.Append(ref, ls, s.Timestamp, s.Value); err != nil {
				return fmt.Errorf("%w for series %s at timestamp %d", err, ls.String(), s.Timestamp)
			}
		}
	}
	if invalid > 0 {
		a.logger.Warn("remote write series with invalid metric names or labels skipped", "count", invalid)
	}
	return nil
}

func labelsString(ls []prompb.Label) string {
	b := labels.NewScratchBuilder(len(ls))
	for _, l := range ls {
		b.Add(l.Name, l.Value)
	}
	b.Sort()
	return b.Labels().String()
}
