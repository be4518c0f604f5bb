package v1

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-monitoring/vigil/promql"
)

// maxPointsPerSeries bounds range queries as Prometheus does: enough for a week at 60s or a
// year at 1h.
const maxPointsPerSeries = 11000

var errTruncated = errors.New("results truncated due to limit")

// queryOpts reads the per-query options (lookback_delta, as Prometheus 3 accepts it, and
// per-step statistics for stats=all).
func queryOpts(r *http.Request) (promql.QueryOpts, error) {
	opts := promql.QueryOpts{EnablePerStepStats: r.FormValue("stats") == statsAll}
	if ld := r.FormValue("lookback_delta"); ld != "" {
		d, err := parseDuration(ld)
		if err != nil {
			return opts, fmt.Errorf("error parsing lookback delta duration: %w", err)
		}
		opts.LookbackDelta = d
	}
	return opts, nil
}

func (a *API) query(r *http.Request) (res apiResult) {
	limit, err := parseLimitParam(r.FormValue("limit"))
	if err != nil {
		return invalidParamError(err, "limit")
	}
	ts, err := parseTimeParam(r, "time", a.now())
	if err != nil {
		return invalidParamError(err, "time")
	}
	ctx := r.Context()
	if to := r.FormValue("timeout"); to != "" {
		timeout, err := parseDuration(to)
		if err != nil {
			return invalidParamError(err, "timeout")
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	opts, err := queryOpts(r)
	if err != nil {
		return errResult(errorBadData, err)
	}
	qs := r.FormValue("query")
	if err := evalBounds.check(r.Context(), qs); err != nil {
		return boundsResult(err)
	}
	qry, err := a.opts.Engine.NewInstantQueryWithOpts(ctx, a.opts.Queryable, opts, qs, ts)
	if err != nil {
		return invalidParamError(err, "query")
	}
	return a.execQuery(ctx, qry, qs, limit, r.FormValue("stats"))
}

// parseRangeBounds reads the start and end parameters of a range request (query_range and
// rules/replay share them); a non-nil result is the error to answer.
func parseRangeBounds(r *http.Request) (start, end time.Time, bad *apiResult) {
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		res := invalidParamError(err, "start")
		return start, end, &res
	}
	end, err = parseTime(r.FormValue("end"))
	if err != nil {
		res := invalidParamError(err, "end")
		return start, end, &res
	}
	if end.Before(start) {
		res := invalidParamError(errors.New("end timestamp must not be before start time"), "end")
		return start, end, &res
	}
	return start, end, nil
}

func (a *API) queryRange(r *http.Request) (res apiResult) {
	limit, err := parseLimitParam(r.FormValue("limit"))
	if err != nil {
		return invalidParamError(err, "limit")
	}
	start, end, bad := parseRangeBounds(r)
	if bad != nil {
		return *bad
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return invalidParamError(err, "step")
	}
	if step <= 0 {
		return invalidParamError(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return errResult(errorBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	ctx := r.Context()
	if to := r.FormValue("timeout"); to != "" {
		timeout, err := parseDuration(to)
		if err != nil {
			return invalidParamError(err, "timeout")
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	opts, err := queryOpts(r)
	if err != nil {
		return errResult(errorBadData, err)
	}
	qs := r.FormValue("query")
	if err := evalBounds.check(r.Context(), qs); err != nil {
		return boundsResult(err)
	}
	qry, err := a.opts.Engine.NewRangeQueryWithOpts(ctx, a.opts.Queryable, opts, qs, start, end, step)
	if err != nil {
		return invalidParamError(err, "query")
	}
	return a.execQuery(ctx, qry, qs, limit, r.FormValue("stats"))
}

// execQuery runs a prepared query. The query stays open until the response is written (its
// finalizer), because the result's label strings may point into storage it holds. A non-empty
// stats parameter adds the query's statistics, as in Prometheus.
func (a *API) execQuery(ctx context.Context, qry promql.Query, qs string, limit int, statsParam string) apiResult {
	res := qry.Exec(ctx)
	if res.Err != nil {
		return apiResult{err: returnAPIError(res.Err), warnings: res.Warnings, query: qs, finalizer: qry.Close}
	}
	warnings := res.Warnings
	if limit > 0 {
		switch v := res.Value.(type) {
		case promql.StepMatrix:
			if len(v.Series) > limit {
				v.Series = v.Series[:limit]
				res.Value = v
				warnings = warnings.Add(errTruncated)
			}
		case promql.Matrix:
			if len(v) > limit {
				res.Value = v[:limit]
				warnings = warnings.Add(errTruncated)
			}
		case promql.Vector:
			if len(v) > limit {
				res.Value = v[:limit]
				warnings = warnings.Add(errTruncated)
			}
		}
	}
	if res.Value == nil {
		qry.Close()
		return errResult(errorInternal, fmt.Errorf("query %q returned no value and no error", qs))
	}
	if warn := statsParamWarning(statsParam); warn != nil {
		warnings = warnings.Add(warn)
	}
	var st *queryStats
	if statsParam != "" {
		st = newQueryStats(qry.Stats())
	}
	return apiResult{
		data:      &queryData{ResultType: res.Value.Type(), Result: res.Value, Stats: st},
		warnings:  warnings,
		query:     qs,
		finalizer: qry.Close,
	}
}

// formatQuery answers the query pretty-printed. The query is bounded first (formatBounds), and
// a client gone by the end of a phase (lexing, parsing) stops the work.
func (a *API) formatQuery(r *http.Request) apiResult {
	qs := r.FormValue("query")
	if err := formatBounds.check(r.Context(), qs); err != nil {
		return boundsResult(err)
	}
	expr, err := a.parser.ParseExpr(qs)
	if err != nil {
		return invalidParamError(err, "query")
	}
	if err := r.Context().Err(); err != nil {
		return errResult(errorCanceled, err)
	}
	return apiResult{data: expr.Pretty(0)}
}

func (a *API) parseQuery(r *http.Request) apiResult {
	qs := r.FormValue("query")
	if err := evalBounds.check(r.Context(), qs); err != nil {
		return boundsResult(err)
	}
	expr, err := a.parser.ParseExpr(qs)
	if err != nil {
		return invalidParamError(err, "query")
	}
	return apiResult{data: translateAST(expr)}
}

// queryExemplars validates its parameters as Prometheus does and answers an empty list: Vigil
// does not store exemplars.
func (a *API) queryExemplars(r *http.Request) apiResult {
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParamError(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParamError(err, "end")
	}
	if end.Before(start) {
		return errResult(errorBadData, errors.New("end timestamp must not be before start timestamp"))
	}
	if _, err := a.parser.ParseExpr(r.FormValue("query")); err != nil {
		return errResult(errorBadData, err)
	}
	return apiResult{data: []struct{}{}}
}
