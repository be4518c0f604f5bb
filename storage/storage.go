// Package storage is the storage contract every consumer uses: appenders, queriers, series sets
// and sample iterators, with the errors and stale marker they share. It holds no engine; tsdb
// implements it, and scrape, promql, the ruler and the HTTP API depend on it alone, so that
// they can be tested against any implementation and the engine can change behind it.
package storage

import (
	"context"
	"errors"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// SeriesRef identifies a series in the head for the lifetime of the process. Appenders hand it
// back so that a caller that scrapes the same series again (the scrape cache) skips the label
// lookup. Zero means "unknown".
type SeriesRef uint64

// Errors returned by Appender.Append. They are sentinel values so that callers (scrape, remote
// write) can count them with errors.Is and report the same texts Prometheus does.
var (
	ErrOutOfOrderSample            = errors.New("out of order sample")
	ErrDuplicateSampleForTimestamp = errors.New("duplicate sample for timestamp")
	ErrOutOfBounds                 = errors.New("out of bounds")
	ErrEmptyLabelSet               = errors.New("empty label set")
	ErrDuplicateLabelName          = errors.New("label set has duplicate label names")
	ErrClosed                      = errors.New("tsdb is closed")
	// ErrUnknownSeriesRef is returned when Append gets a reference the head no longer holds
	// (truncation removed the series) and no labels to create it anew: the caller must pass
	// the labels.
	ErrUnknownSeriesRef = errors.New("unknown series reference")
)

// StaleNaN is the bit pattern Prometheus uses to mark a series as stale. It is stored and
// returned like any other sample value; use IsStaleNaN to recognise it (NaN != NaN).
const StaleNaNBits uint64 = 0x7ff0000000000002

// StaleNaN returns the stale marker value.
func StaleNaN() float64 { return math.Float64frombits(StaleNaNBits) }

// IsStaleNaN reports whether v is the stale marker.
func IsStaleNaN(v float64) bool { return math.Float64bits(v) == StaleNaNBits }

// Appender adds samples in a batch. Nothing is visible to queriers, nor written to the WAL, until
// Commit; Rollback discards the batch. An Appender is not safe for concurrent use; take one per
// goroutine (they are cheap).
type Appender interface {
	// Append adds a sample for the series lset (or ref, when non-zero and known). It returns the
	// series reference to pass next time. With a non-zero ref, lset may be empty: if the head
	// no longer holds that series, Append then fails with ErrUnknownSeriesRef. A sample older
	// than the newest committed or pending sample of the series fails with ErrOutOfOrderSample;
	// one at the same timestamp with another value with ErrDuplicateSampleForTimestamp (the same
	// value is accepted and ignored).
	Append(ref SeriesRef, lset labels.Labels, t int64, v float64) (SeriesRef, error)
	// AppendHistogram adds a native histogram sample: exactly one of h (integer counts) and fh
	// (float counts) is non-nil. The histogram types are upstream's (model/histogram), so that
	// parsers, translators and protobufs hand them over unchanged. Ref, ordering and duplicate
	// rules are those of Append; a stale marker is a histogram whose Sum is StaleNaN. The
	// appender may keep h/fh until Commit: callers must not modify them before.
	AppendHistogram(ref SeriesRef, lset labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (SeriesRef, error)
	// Commit writes the batch to the WAL and makes it visible. On error nothing of the batch is
	// visible.
	Commit() error
	// Rollback discards the batch.
	Rollback() error
}

// SelectHints describe what a query will do with the selected series, so that storage can skip
// data it will not need. Start/End are inclusive milliseconds.
type SelectHints struct {
	Start, End int64
	Step       int64  // query step in ms, 0 for instant queries
	Range      int64  // range vector width in ms, 0 for instant selectors
	Func       string // the function wrapping the selector, if any ("series" for metadata only)
}

// Querier reads a fixed time range [mint, maxt] (inclusive, ms) across the head and the blocks.
// It must be closed; data it returns stays valid until then.
type Querier interface {
	// Select returns the series matching all matchers that have samples in range. With sorted
	// the series come in labels order (needed for merging); without, they may come in any order
	// (the head alone returns them in creation order: sorting costs more than a short read).
	Select(ctx context.Context, sorted bool, hints *SelectHints, matchers ...*labels.Matcher) SeriesSet
	// LabelValues returns the sorted distinct values of name among series matching matchers
	// (all series when none).
	LabelValues(ctx context.Context, name string, matchers ...*labels.Matcher) ([]string, error)
	// LabelNames returns the sorted label names among series matching matchers.
	LabelNames(ctx context.Context, matchers ...*labels.Matcher) ([]string, error)
	Close() error
}

// SeriesSet iterates over series. After Next returns false, Err tells whether it stopped on an
// error.
type SeriesSet interface {
	Next() bool
	At() Series
	Err() error
}

// Series is one series' labels and its samples in the querier's range.
type Series interface {
	Labels() labels.Labels
	// Iterator returns an iterator over the series' samples. A previously returned iterator
	// may be passed in to be reused, saving allocations; nil is fine.
	Iterator(reuse Iterator) Iterator
}

// ValueType is the type of the sample an Iterator is at. Names, order and values are those of
// upstream's chunkenc.ValueType, so that code ported from Prometheus reads the same.
//
// A series may change type from one sample to the next (a float series that becomes a
// histogram), so readers test the type of every sample.
type ValueType uint8

const (
	ValNone           ValueType = iota // no sample: the iterator is exhausted or failed (see Err)
	ValFloat                           // a float sample, read with At
	ValHistogram                       // a native histogram with integer counts, read with AtHistogram or AtFloatHistogram
	ValFloatHistogram                  // a native histogram with float counts, read with AtFloatHistogram
)

func (v ValueType) String() string {
	switch v {
	case ValNone:
		return "none"
	case ValFloat:
		return "float"
	case ValHistogram:
		return "histogram"
	case ValFloatHistogram:
		return "floathistogram"
	}
	return "unknown"
}

// Iterator walks samples in increasing timestamp order.
type Iterator interface {
	// Next advances to the next sample and returns its type; ValNone at the end or on error.
	Next() ValueType
	// SeekTo advances to the first sample with timestamp >= t and returns its type. If the
	// current sample already satisfies that, it does not move. It returns ValNone if there is
	// no such sample.
	SeekTo(t int64) ValueType
	// At returns the current sample when it is a float. Only valid after Next or SeekTo
	// returned ValFloat.
	At() (int64, float64)
	// AtT returns the current sample's timestamp, whatever its type. Only valid after Next or
	// SeekTo returned a type other than ValNone.
	AtT() int64
	// AtHistogram returns the current sample when it is an integer histogram (Next or SeekTo
	// returned ValHistogram). If h is non-nil the value is copied into it and h is returned,
	// which saves an allocation; otherwise a new histogram is returned. The result must not
	// be modified when h was nil and the iterator shares its storage (as upstream's).
	AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram)
	// AtFloatHistogram returns the current sample as a float histogram: valid after
	// ValHistogram (converted) or ValFloatHistogram. fh is reused as in AtHistogram.
	AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram)
	// AtST returns the current sample's start timestamp (the created timestamp of a counter,
	// the start of a delta), or 0 when the storage holds none for it. Names and meaning are
	// upstream's chunkenc.Iterator.AtST.
	AtST() int64
	Err() error
}

// Appendable is anything that hands out appenders (the DB, or a test double).
type Appendable interface {
	Appender(ctx context.Context) Appender
}

// Queryable is anything that hands out queriers over a time range.
type Queryable interface {
	Querier(mint, maxt int64) (Querier, error)
}

// EmptySeriesSet returns a series set with nothing in it.
func EmptySeriesSet() SeriesSet { return errSeriesSet{} }

// ErrSeriesSet returns a series set that yields nothing and reports err.
func ErrSeriesSet(err error) SeriesSet { return errSeriesSet{err: err} }

type errSeriesSet struct{ err error }

func (errSeriesSet) Next() bool   { return false }
func (errSeriesSet) At() Series   { return nil }
func (s errSeriesSet) Err() error { return s.err }

// STAppender is implemented by appenders that store sample start timestamps (the created
// timestamp of a counter, the start of a delta's interval): what upstream's AppenderV2.Append
// takes as its st argument. It is optional: callers test for it with a type assertion and fall
// back to Append (losing the start timestamp) when the storage lacks it.
type STAppender interface {
	// AppendST is Append with the sample's start timestamp st (ms). st == 0 means "none" and
	// makes AppendST exactly Append, as upstream's AppenderV2 with st 0. Any other st is
	// stored as given, even when it is not before t: readers judge it (PromQL ignores a start
	// timestamp at or after its sample's timestamp when looking for resets, as upstream).
	AppendST(ref SeriesRef, lset labels.Labels, st, t int64, v float64) (SeriesRef, error)
}

// HistogramSTAppender is STAppender for native histogram samples: AppendHistogram with a
// start timestamp. Optional in the same way; tsdb does not implement it yet.
type HistogramSTAppender interface {
	AppendHistogramST(ref SeriesRef, lset labels.Labels, st, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (SeriesRef, error)
}
