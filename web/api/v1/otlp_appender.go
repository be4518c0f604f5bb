package v1

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

// Reasons for vigil_otlp_refused_samples_total.
const (
	reasonInvalidHistogram = "invalid_histogram"
	reasonOutOfOrder       = "out_of_order"
	reasonDuplicate        = "duplicate_timestamp"
	reasonOutOfBounds      = "out_of_bounds"
	reasonTooFarInFuture   = "too_far_in_future"
	reasonInvalidLabels    = "invalid_labels"
	reasonTranslation      = "translation"
)

var otlpRefusalReasons = []string{
	reasonInvalidHistogram, reasonOutOfOrder, reasonDuplicate, reasonOutOfBounds,
	reasonTooFarInFuture, reasonInvalidLabels, reasonTranslation,
}

// otlpAppender appends the translator's samples to Vigil's Appender. A sample storage refuses
// (out of order, duplicate, out of bounds), one too far in the future, one with invalid labels
// and a native histogram that is not valid (histogram.Error) are recorded in refused, and
// translation goes on with the metric's other points. Any other error is a storage failure: it is kept in fatal and
// returned for every later append.
type otlpAppender struct {
	app     storage.Appender
	refs    *otlpRefCache // nil: none
	key     []byte
	maxT    int64
	refused refusedSamples
	counts  map[string]int
	fatal   error
}

func newOTLPAppender(app storage.Appender, maxT int64) *otlpAppender {
	return &otlpAppender{app: app, maxT: maxT}
}

func (a *otlpAppender) refuse(reason string, err error) {
	if a.counts == nil {
		a.counts = map[string]int{}
	}
	a.counts[reason]++
	a.refused.add(err)
}

// appendNativeHistogram appends a native histogram sample (an exponential histogram point, or
// a classic one with convert_histograms_to_nhcb). h must not be modified before Commit. A
// histogram that fails validation is refused, as Prometheus's TSDB refuses it.
func (a *otlpAppender) appendNativeHistogram(ls labels.Labels, t int64, h *histogram.Histogram) error {
	if a.fatal != nil {
		return a.fatal
	}
	if problem := checkOTLPLabels(ls); problem != "" {
		a.refuse(reasonInvalidLabels, fmt.Errorf("%s for series %q at timestamp %d", problem, ls.String(), t))
		return nil
	}
	if t > a.maxT {
		a.refuse(reasonTooFarInFuture, fmt.Errorf("%w: timestamp is too far in the future for series %s at timestamp %d", storage.ErrOutOfBounds, ls.String(), t))
		return nil
	}
	if err := h.Validate(); err != nil {
		a.refuse(reasonInvalidHistogram, fmt.Errorf("%w for series %s at timestamp %d", err, ls.String(), t))
		return nil
	}
	var ref storage.SeriesRef
	if a.refs != nil {
		a.key = ls.Bytes(a.key)
		ref = a.refs.get(a.key)
	}
	got, err := a.app.AppendHistogram(ref, ls, t, h, nil)
	if err != nil {
		if isBadSampleErr(err) || isHistogramValidationError(err) {
			reason := reasonInvalidHistogram
			if isBadSampleErr(err) {
				reason = badSampleReason(err)
			}
			a.refuse(reason, fmt.Errorf("%w for series %s at timestamp %d", err, ls.String(), t))
			return nil
		}
		a.fatal = fmt.Errorf("appending OTLP histogram sample for series %s at timestamp %d: %w", ls.String(), t, err)
		return a.fatal
	}
	if a.refs != nil && got != ref {
		a.refs.put(a.key, got)
	}
	return nil
}

// appendFloat appends a float sample. Start timestamps, metadata and exemplars are not
// stored (as Prometheus without its st-storage, metadata-wal-records and exemplar-storage
// feature flags).
func (a *otlpAppender) appendFloat(ls labels.Labels, t int64, v float64) error {
	if a.fatal != nil {
		return a.fatal
	}
	if problem := checkOTLPLabels(ls); problem != "" {
		a.refuse(reasonInvalidLabels, fmt.Errorf("%s for series %q at timestamp %d", problem, ls.String(), t))
		return nil
	}
	if t > a.maxT {
		a.refuse(reasonTooFarInFuture, fmt.Errorf("%w: timestamp is too far in the future for series %s at timestamp %d", storage.ErrOutOfBounds, ls.String(), t))
		return nil
	}
	var ref storage.SeriesRef
	if a.refs != nil {
		a.key = ls.Bytes(a.key)
		ref = a.refs.get(a.key)
	}
	got, err := a.app.Append(ref, ls, t, v)
	if err != nil {
		if isBadSampleErr(err) {
			a.refuse(badSampleReason(err), fmt.Errorf("%w for series %s at timestamp %d", err, ls.String(), t))
			return nil
		}
		a.fatal = fmt.Errorf("appending OTLP sample for series %s at timestamp %d: %w", ls.String(), t, err)
		return a.fatal
	}
	if a.refs != nil && got != ref {
		a.refs.put(a.key, got)
	}
	return nil
}

// otlpRefCache maps series (the bytes of their labels) to the storage's references, across
// requests, so that appending a known series skips the storage's lookup by labels (the
// labels are still passed: a series the storage no longer holds is found or created by them,
// and its new reference replaces the old). It is emptied when it reaches maxOTLPRefs series.
type otlpRefCache struct {
	mu   sync.RWMutex
	refs map[string]storage.SeriesRef
}

const maxOTLPRefs = 1 << 17

func newOTLPRefCache() *otlpRefCache {
	return &otlpRefCache{refs: map[string]storage.SeriesRef{}}
}

func (c *otlpRefCache) get(key []byte) storage.SeriesRef {
	c.mu.RLock()
	ref := c.refs[string(key)]
	c.mu.RUnlock()
	return ref
}

func (c *otlpRefCache) put(key []byte, ref storage.SeriesRef) {
	c.mu.Lock()
	if len(c.refs) >= maxOTLPRefs {
		clear(c.refs)
	}
	c.refs[string(key)] = ref
	c.mu.Unlock()
}

func badSampleReason(err error) string {
	switch {
	case errors.Is(err, storage.ErrOutOfOrderSample):
		return reasonOutOfOrder
	case errors.Is(err, storage.ErrDuplicateSampleForTimestamp):
		return reasonDuplicate
	default:
		return reasonOutOfBounds
	}
}

// Commit commits what was appended.
func (a *otlpAppender) Commit() error { return a.app.Commit() }

// Rollback discards what was appended.
func (a *otlpAppender) Rollback() error { return a.app.Rollback() }

// checkOTLPLabels says what is wrong with a translated label set, or "" when nothing is: what
// ls.IsValid(model.UTF8Validation) and ls.HasDuplicateLabelNames check (a metric name, names
// and values valid UTF-8, no empty or duplicate name), in one pass over the sorted labels.
func checkOTLPLabels(ls labels.Labels) string {
	problem, prev, hasName := "", "", false
	ls.Range(func(l labels.Label) {
		switch {
		case problem != "":
		case l.Name == "":
			problem = "empty label name"
		case l.Name == prev:
			problem = fmt.Sprintf("duplicate label name %q", l.Name)
		case !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
			problem = "label name or value not valid UTF-8"
		case l.Name == model.MetricNameLabel:
			hasName = l.Value != ""
		}
		prev = l.Name
	})
	if problem == "" && !hasName {
		problem = "no metric name"
	}
	return problem
}
