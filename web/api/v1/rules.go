package v1

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// RulesRetriever gives the rule groups with their current state, in file and group order. The
// ruler (or the wiring in cmd/server) implements it by converting its own types, so that this
// package defines the wire format and the ruler does not depend on the web layer.
type RulesRetriever interface {
	RuleGroups() []*RuleGroup
}

// RuleGroup is one group of /api/v1/rules.
type RuleGroup struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Rules holds *AlertingRule and *RecordingRule values in the group's order.
	Rules          []Rule    `json:"rules"`
	Interval       float64   `json:"interval"`
	Limit          int       `json:"limit"`
	EvaluationTime float64   `json:"evaluationTime"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// Rule is *AlertingRule or *RecordingRule.
type Rule interface{ isRule() }

// AlertingRule is an alerting rule with its active alerts.
type AlertingRule struct {
	// State is "inactive", "pending" or "firing".
	State          string        `json:"state"`
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Duration       float64       `json:"duration"`
	KeepFiringFor  float64       `json:"keepFiringFor"`
	Labels         labels.Labels `json:"labels"`
	Annotations    labels.Labels `json:"annotations"`
	Alerts         []*Alert      `json:"alerts"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"` // "alerting", set by the API
}

// RecordingRule is a recording rule.
type RecordingRule struct {
	Name           string        `json:"name"`
	Query          string        `json:"query"`
	Labels         labels.Labels `json:"labels"`
	Health         string        `json:"health"`
	LastError      string        `json:"lastError,omitempty"`
	EvaluationTime float64       `json:"evaluationTime"`
	LastEvaluation time.Time     `json:"lastEvaluation"`
	Type           string        `json:"type"` // "recording", set by the API
}

func (*AlertingRule) isRule()  {}
func (*RecordingRule) isRule() {}

// Alert is one active (pending or firing) alert.
type Alert struct {
	Labels          labels.Labels `json:"labels"`
	Annotations     labels.Labels `json:"annotations"`
	State           string        `json:"state"`
	ActiveAt        *time.Time    `json:"activeAt,omitempty"`
	KeepFiringSince *time.Time    `json:"keepFiringSince,omitempty"`
	// Value is the sample value formatted as Prometheus does ('e' format).
	Value string `json:"value"`
}

var errNoRules = errors.New("rules are not available")

func (a *API) alerts(*http.Request) apiResult {
	res := struct {
		Alerts []*Alert `json:"alerts"`
	}{Alerts: []*Alert{}}
	if a.opts.Rules == nil {
		// No ruler configured: there are no alerts, which is what Prometheus answers without
		// rule files.
		return apiResult{data: res}
	}
	for _, g := range a.opts.Rules.RuleGroups() {
		for _, r := range g.Rules {
			if ar, ok := r.(*AlertingRule); ok {
				res.Alerts = append(res.Alerts, ar.Alerts...)
			}
		}
	}
	return apiResult{data: res}
}

func (a *API) rules(r *http.Request) apiResult {
	if err := r.ParseForm(); err != nil {
		return errResult(errorBadData, fmt.Errorf("error parsing form values: %w", err))
	}
	typ := r.Form.Get("type")
	wantAlerts := typ == "" || typ == "alert"
	wantRecords := typ == "" || typ == "record"
	if !wantAlerts && !wantRecords {
		return invalidParamError(fmt.Errorf("not supported value %q", typ), "type")
	}
	excludeAlerts := false
	if s := r.Form.Get("exclude_alerts"); s != "" {
		switch s {
		case "true":
			excludeAlerts = true
		case "false":
		default:
			return invalidParamError(fmt.Errorf("parsing bool %q", s), "exclude_alerts")
		}
	}
	var matcherSets [][]*labels.Matcher
	if len(r.Form["match[]"]) > 0 {
		var err error
		if matcherSets, err = a.parseMatchersParam(r.Form["match[]"]); err != nil {
			return invalidParamError(err, "match[]")
		}
	}
	ruleNames, groupNames, files := r.Form["rule_name[]"], r.Form["rule_group[]"], r.Form["file[]"]
	in := func(set []string, v string) bool { return len(set) == 0 || slices.Contains(set, v) }
	matches := func(ls labels.Labels) bool {
		if len(matcherSets) == 0 {
			return true
		}
		for _, ms := range matcherSets {
			if matchAll(ls, ms) {
				return true
			}
		}
		return false
	}

	res := struct {
		Groups []*RuleGroup `json:"groups"`
	}{Groups: []*RuleGroup{}}
	if a.opts.Rules == nil {
		return apiResult{data: res}
	}
	for _, g := range a.opts.Rules.RuleGroups() {
		if !in(groupNames, g.Name) || !in(files, g.File) {
			continue
		}
		out := *g
		out.Rules = []Rule{}
		for _, rule := range g.Rules {
			switch rl := rule.(type) {
			case *AlertingRule:
				if !wantAlerts || !in(ruleNames, rl.Name) || !matches(rl.Labels) {
					continue
				}
				c := *rl
				c.Type = "alerting"
				if c.Alerts == nil || excludeAlerts {
					c.Alerts = []*Alert{}
				}
				out.Rules = append(out.Rules, &c)
			case *RecordingRule:
				if !wantRecords || !in(ruleNames, rl.Name) || !matches(rl.Labels) {
					continue
				}
				c := *rl
				c.Type = "recording"
				out.Rules = append(out.Rules, &c)
			}
		}
		// As Prometheus: with a filter, groups left without rules are not listed.
		if len(out.Rules) == 0 && (typ != "" || len(ruleNames) > 0 || len(matcherSets) > 0) {
			continue
		}
		res.Groups = append(res.Groups, &out)
	}
	return apiResult{data: res}
}
