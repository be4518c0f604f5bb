package v1

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/ruler"
)

// maxRuleBytes bounds the rule text of /api/v1/rules/replay: the expression's own bound plus
// room for labels and annotations.
const maxRuleBytes = 1<<20 + 256<<10

// replayData is the answer of /api/v1/rules/replay.
type replayData struct {
	Alerts      []replayAlert `json:"alerts"`
	Evaluations int           `json:"evaluations"`
}

type replayAlert struct {
	Labels      labels.Labels    `json:"labels"`
	Annotations labels.Labels    `json:"annotations"`
	Intervals   []replayInterval `json:"intervals"`
}

// replayInterval is [Start, End) in Unix seconds.
type replayInterval struct {
	State string  `json:"state"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

func unixSeconds(t time.Time) float64 { return float64(millis(t)) / 1000 }

// replayRule answers "Try a rule": the alerting rule in the form parameter rule is evaluated at
// every step from start to end over stored data with the ruler's state machine, and the answer
// says when each of its alerts would have been pending and firing. Parameters and bounds are
// those of query_range (step defaults to 1m); nothing is written or sent.
func (a *API) replayRule(r *http.Request) apiResult {
	text := r.FormValue("rule")
	if text == "" {
		return invalidParamError(errors.New("no rule given"), "rule")
	}
	if len(text) > maxRuleBytes {
		return invalidParamError(fmt.Errorf("rule is too long: %d bytes, at most %d are accepted", len(text), maxRuleBytes), "rule")
	}
	start, end, bad := parseRangeBounds(r)
	if bad != nil {
		return *bad
	}
	var err error
	step := time.Minute
	if s := r.FormValue("step"); s != "" {
		if step, err = parseDuration(s); err != nil {
			return invalidParamError(err, "step")
		}
	}
	if step <= 0 {
		return invalidParamError(errors.New("zero or negative evaluation steps are not accepted. Try a positive duration"), "step")
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return errResult(errorBadData, errors.New("exceeded maximum resolution of 11,000 evaluations. Try a larger step or a shorter range"))
	}
	var offset time.Duration
	if a.opts.RuleQueryOffset != nil {
		offset = a.opts.RuleQueryOffset()
	}
	if s := r.FormValue("query_offset"); s != "" {
		if offset, err = parseDuration(s); err != nil {
			return invalidParamError(err, "query_offset")
		}
		if offset < 0 {
			return invalidParamError(errors.New("must not be negative"), "query_offset")
		}
	}
	timeout := a.opts.QueryTimeout
	if to := r.FormValue("timeout"); to != "" {
		d, err := parseDuration(to)
		if err != nil {
			return invalidParamError(err, "timeout")
		}
		if timeout <= 0 || d < timeout {
			timeout = d
		}
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var boundsErr error
	rule, err := ruler.ParseAlertingRule([]byte(text), a.parser, func(expr string) error {
		boundsErr = evalBounds.check(ctx, expr)
		return boundsErr
	})
	if boundsErr != nil {
		return boundsResult(boundsErr)
	}
	if err != nil {
		return invalidParamError(err, "rule")
	}
	o := ruler.ReplayOptions{
		Start: start, End: end, Interval: step, QueryOffset: offset,
		Query:       ruler.EngineQueryFunc(a.opts.Engine, a.opts.Queryable),
		RangeQuery:  ruler.EngineRangeQueryFunc(a.opts.Engine, a.opts.Queryable),
		ExternalURL: a.opts.ExternalURL,
		Parser:      a.parser,
		Logger:      a.logger,
	}
	if a.opts.ExternalLabels != nil {
		o.ExternalLabels = a.opts.ExternalLabels()
	}
	res, err := ruler.Replay(ctx, rule, o)
	if err != nil {
		return apiResult{err: returnAPIError(err)}
	}
	out := replayData{Alerts: make([]replayAlert, 0, len(res.Alerts)), Evaluations: res.Evaluations}
	for _, al := range res.Alerts {
		ra := replayAlert{Labels: al.Labels, Annotations: al.Annotations, Intervals: make([]replayInterval, 0, len(al.Intervals))}
		for _, iv := range al.Intervals {
			ra.Intervals = append(ra.Intervals, replayInterval{State: iv.State.String(), Start: unixSeconds(iv.Start), End: unixSeconds(iv.End)})
		}
		out.Alerts = append(out.Alerts, ra)
	}
	return apiResult{data: out}
}
