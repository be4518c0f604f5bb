package v1

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/vigil-monitoring/vigil/storage"
)

// checkContextEvery is how many series are read between checks for a canceled request.
const checkContextEvery = 128

func (a *API) series(r *http.Request) (res apiResult) {
	if err := r.ParseForm(); err != nil {
		return errResult(errorBadData, fmt.Errorf("error parsing form values: %w", err))
	}
	if len(r.Form["match[]"]) == 0 {
		return errResult(errorBadData, errors.New("no match[] parameter provided"))
	}
	limit, err := parseLimitParam(r.FormValue("limit"))
	if err != nil {
		return invalidParamError(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParamError(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParamError(err, "end")
	}
	sets, err := a.parseMatchersParam(r.Form["match[]"])
	if err != nil {
		return invalidParamError(err, "match[]")
	}
	q, err := a.opts.Queryable.Querier(millis(start), millis(end))
	if err != nil {
		return apiResult{err: returnAPIError(err)}
	}
	// The labels returned reference the querier's memory: close it after the response is out.
	closer := func() { _ = q.Close() }
	defer func() {
		if res.finalizer == nil {
			closer()
		}
	}()
	hints := &storage.SelectHints{Start: millis(start), End: millis(end), Func: "series"}
	ctx := r.Context()
	metrics := []labels.Labels{}
	var warnings annotations.Annotations
	for _, ms := range sets {
		ss := q.Select(ctx, true, hints, ms...)
		for i := 1; ss.Next(); i++ {
			if i%checkContextEvery == 0 {
				if err := ctx.Err(); err != nil {
					return apiResult{err: returnAPIError(err), finalizer: closer}
				}
			}
			metrics = append(metrics, ss.At().Labels())
			// With one matcher set the series come sorted and unique, so we can stop early.
			if len(sets) == 1 && limit > 0 && len(metrics) > limit {
				break
			}
		}
		if err := ss.Err(); err != nil {
			return apiResult{err: returnAPIError(err), finalizer: closer}
		}
	}
	if len(sets) > 1 {
		// Several selectors may select the same series: merge to one sorted, unique list.
		slices.SortFunc(metrics, labels.Compare)
		metrics = slices.CompactFunc(metrics, func(a, b labels.Labels) bool { return labels.Equal(a, b) })
	}
	if limit > 0 && len(metrics) > limit {
		metrics = metrics[:limit]
		warnings = warnings.Add(errTruncated)
	}
	return apiResult{data: metrics, warnings: warnings, finalizer: closer}
}

func (a *API) labelNames(r *http.Request) (res apiResult) {
	limit, err := parseLimitParam(r.FormValue("limit"))
	if err != nil {
		return invalidParamError(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParamError(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParamError(err, "end")
	}
	sets, err := a.parseMatchersParam(r.Form["match[]"])
	if err != nil {
		return errResult(errorBadData, err)
	}
	q, err := a.opts.Queryable.Querier(millis(start), millis(end))
	if err != nil {
		return apiResult{err: returnAPIError(err)}
	}
	closer := func() { _ = q.Close() }
	defer func() {
		if res.finalizer == nil {
			closer()
		}
	}()
	var names []string
	if len(sets) == 0 {
		if names, err = q.LabelNames(r.Context()); err != nil {
			return errResult(errorExec, err)
		}
	}
	for _, ms := range sets {
		vals, err := q.LabelNames(r.Context(), ms...)
		if err != nil {
			return errResult(errorExec, err)
		}
		names = append(names, vals...)
	}
	return a.finishValues(names, len(sets) > 1, limit, closer)
}

func (a *API) labelValues(r *http.Request) (res apiResult) {
	name := r.PathValue("name")
	// Prometheus 3 clients escape names that are not legacy-valid (e.g. "U__http_2e_method").
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return errResult(errorBadData, fmt.Errorf("invalid label name: %q", name))
	}
	limit, err := parseLimitParam(r.FormValue("limit"))
	if err != nil {
		return invalidParamError(err, "limit")
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParamError(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParamError(err, "end")
	}
	sets, err := a.parseMatchersParam(r.Form["match[]"])
	if err != nil {
		return errResult(errorBadData, err)
	}
	q, err := a.opts.Queryable.Querier(millis(start), millis(end))
	if err != nil {
		return errResult(errorExec, err)
	}
	closer := func() { _ = q.Close() }
	defer func() {
		if res.finalizer == nil {
			closer()
		}
	}()
	var vals []string
	if len(sets) == 0 {
		if vals, err = q.LabelValues(r.Context(), name); err != nil {
			return errResult(errorExec, err)
		}
	}
	for _, ms := range sets {
		vs, err := q.LabelValues(r.Context(), name, ms...)
		if err != nil {
			return errResult(errorExec, err)
		}
		vals = append(vals, vs...)
	}
	return a.finishValues(vals, len(sets) > 1, limit, closer)
}

// finishValues sorts (and with several matcher sets deduplicates) label names or values and
// applies the limit with Prometheus's truncation warning.
func (a *API) finishValues(vals []string, merge bool, limit int, closer func()) apiResult {
	if merge {
		slices.Sort(vals)
		vals = slices.Compact(vals)
	}
	if vals == nil {
		vals = []string{}
	}
	var warnings annotations.Annotations
	if limit > 0 && len(vals) > limit {
		vals = vals[:limit]
		warnings = warnings.Add(errTruncated)
	}
	return apiResult{data: vals, warnings: warnings, finalizer: closer}
}
