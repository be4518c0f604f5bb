package v1

import (
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

// appendRemoteSampleST is appendRemoteSample for a remote-write 2.0 sample with a start
// timestamp (its start_timestamp field, the created timestamp of a counter or the start of a
// delta): stored with the sample when the storage keeps start timestamps (storage.STAppender),
// else the sample alone.
func appendRemoteSampleST(app storage.Appender, ref *storage.SeriesRef, ls labels.Labels, st, t int64, v float64, maxT int64, refused *refusedSamples) (ok bool, err error) {
	sta, isST := app.(storage.STAppender)
	if st == 0 || !isST {
		return appendRemoteSample(app, ref, ls, t, v, maxT, refused)
	}
	return appendRemoteSample(stAppender{app, sta, st}, ref, ls, t, v, maxT, refused)
}

// stAppender turns Append into AppendST with a fixed start timestamp, so that the checks and
// error handling of appendRemoteSample stay in one place.
type stAppender struct {
	storage.Appender
	sta storage.STAppender
	st  int64
}

func (a stAppender) Append(ref storage.SeriesRef, ls labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	return a.sta.AppendST(ref, ls, a.st, t, v)
}

// appendRemoteHistogramST is appendRemoteHistogram for a remote-write 2.0 histogram with a start
// timestamp: stored with it when the storage keeps start timestamps of histogram samples
// (storage.HistogramSTAppender), else the histogram alone.
func appendRemoteHistogramST(app storage.Appender, ref *storage.SeriesRef, ls labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram, maxT int64, refused *refusedSamples) (ok bool, err error) {
	hsta, isST := app.(storage.HistogramSTAppender)
	if st == 0 || !isST {
		return appendRemoteHistogram(app, ref, ls, t, h, fh, maxT, refused)
	}
	return appendRemoteHistogram(histSTAppender{app, hsta, st}, ref, ls, t, h, fh, maxT, refused)
}

// histSTAppender turns AppendHistogram into AppendHistogramST with a fixed start timestamp, as
// stAppender does for floats.
type histSTAppender struct {
	storage.Appender
	hsta storage.HistogramSTAppender
	st   int64
}

func (a histSTAppender) AppendHistogram(ref storage.SeriesRef, ls labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return a.hsta.AppendHistogramST(ref, ls, a.st, t, h, fh)
}
