package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/marker"
	"github.com/prometheus/alertmanager/nflog"
	"github.com/prometheus/alertmanager/nflog/nflogpb"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/silence/silencepb"
	"github.com/prometheus/alertmanager/store"
	"github.com/prometheus/common/model"
)

// Explanation answers "why was I (not) paged?" for one label set: where it is routed, how it
// is grouped, what mutes it, and when its group was last notified.
type Explanation struct {
	Labels      model.LabelSet `json:"labels"`
	Fingerprint string         `json:"fingerprint"`
	// Alert is the stored alert with exactly these labels, if there is one.
	Alert       *ExplainedAlert  `json:"alert,omitempty"`
	Routes      []ExplainedRoute `json:"routes"`
	SilencedBy  []ExplainedSil   `json:"silencedBy"`
	InhibitedBy []ExplainedInhib `json:"inhibitedBy"`
	// Summary is one sentence per reason, for humans and the CLI.
	Summary []string `json:"summary"`
}

// ExplainedAlert is the stored state of the alert.
type ExplainedAlert struct {
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Resolved  bool      `json:"resolved"`
}

// ExplainedRoute is one route the label set is dispatched to.
type ExplainedRoute struct {
	RouteID             string         `json:"routeId"`
	Receiver            string         `json:"receiver"`
	Matchers            []string       `json:"matchers"`
	GroupBy             []string       `json:"groupBy"`
	GroupKey            string         `json:"groupKey"`
	GroupLabels         model.LabelSet `json:"groupLabels"`
	GroupWait           string         `json:"groupWait"`
	GroupInterval       string         `json:"groupInterval"`
	RepeatInterval      string         `json:"repeatInterval"`
	MuteTimeIntervals   []string       `json:"muteTimeIntervals,omitempty"`
	ActiveTimeIntervals []string       `json:"activeTimeIntervals,omitempty"`
	// MutedNowBy lists the time intervals that mute this route at the time of the request:
	// mute_time_intervals currently in effect, or active_time_intervals none of which is.
	MutedNowBy    []string                `json:"mutedNowBy,omitempty"`
	Notifications []ExplainedNotification `json:"notifications"`
}

// ExplainedNotification is the last notification-log entry of one integration of the route's
// receiver for the group.
type ExplainedNotification struct {
	Integration string `json:"integration"`
	Index       int    `json:"index"`
	// LastSent is nil when this group was never notified through the integration (within the
	// notification log's retention).
	LastSent *time.Time `json:"lastSent,omitempty"`
	// IncludedFiring and IncludedResolved say whether this very alert was in the last
	// notification as firing or as resolved.
	IncludedFiring   bool `json:"includedFiring"`
	IncludedResolved bool `json:"includedResolved"`
	FiringAlerts     int  `json:"firingAlerts"`
	ResolvedAlerts   int  `json:"resolvedAlerts"`
}

// ExplainedSil is an active silence matching the label set.
type ExplainedSil struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
}

// ExplainedInhib is an inhibition muting the label set.
type ExplainedInhib struct {
	Rule              int            `json:"rule"` // index in inhibit_rules
	Name              string         `json:"name,omitempty"`
	SourceMatchers    []string       `json:"sourceMatchers"`
	TargetMatchers    []string       `json:"targetMatchers"`
	Equal             []string       `json:"equal"`
	SourceFingerprint string         `json:"sourceFingerprint"`
	SourceLabels      model.LabelSet `json:"sourceLabels,omitempty"`
}

// Explain reports, for lset, the routes it matches with their group keys, the silences and
// inhibitions that mute it now, time intervals muting the routes, and the last notification
// sent for its groups.
func (r *Router) Explain(ctx context.Context, lset model.LabelSet) (*Explanation, error) {
	if len(lset) == 0 {
		return nil, errors.New("at least one label is required")
	}
	if err := lset.Validate(); err != nil {
		return nil, fmt.Errorf("invalid label set: %w", err)
	}
	r.mtx.RLock()
	conf, route, receivers, intervener, inhibitor := r.conf, r.route, r.receivers, r.intervener, r.inhibitor
	r.mtx.RUnlock()

	now := time.Now()
	fp := lset.Fingerprint()
	ex := &Explanation{Labels: lset, Fingerprint: fp.String(), Routes: []ExplainedRoute{}, SilencedBy: []ExplainedSil{}, InhibitedBy: []ExplainedInhib{}}
	if a, err := r.alerts.Get(fp); err == nil {
		ex.Alert = &ExplainedAlert{StartsAt: a.StartsAt, EndsAt: a.EndsAt, UpdatedAt: a.UpdatedAt, Resolved: a.ResolvedAt(now)}
	} else if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, provider.ErrNotFound) {
		return nil, fmt.Errorf("looking up alert: %w", err)
	}
	hash := hashLabels(lset)

	for _, rt := range route.Match(lset) {
		er := ExplainedRoute{
			RouteID:             rt.ID(),
			Receiver:            rt.RouteOpts.Receiver,
			Matchers:            matcherStrings(rt),
			GroupLabels:         groupLabels(lset, rt),
			GroupWait:           model.Duration(rt.RouteOpts.GroupWait).String(),
			GroupInterval:       model.Duration(rt.RouteOpts.GroupInterval).String(),
			RepeatInterval:      model.Duration(rt.RouteOpts.RepeatInterval).String(),
			MuteTimeIntervals:   rt.RouteOpts.MuteTimeIntervals,
			ActiveTimeIntervals: rt.RouteOpts.ActiveTimeIntervals,
			Notifications:       []ExplainedNotification{},
		}
		if rt.RouteOpts.GroupByAll {
			er.GroupBy = []string{"..."}
		} else {
			for ln := range rt.RouteOpts.GroupBy {
				er.GroupBy = append(er.GroupBy, string(ln))
			}
			sort.Strings(er.GroupBy)
		}
		// Same key as dispatch's aggrGroup.GroupKey, which the notification log is keyed by.
		er.GroupKey = fmt.Sprintf("%s:%s", rt.Key(), er.GroupLabels)

		if muted, names, err := intervener.Mutes(rt.RouteOpts.MuteTimeIntervals, now); err != nil {
			return nil, fmt.Errorf("evaluating mute_time_intervals: %w", err)
		} else if muted {
			er.MutedNowBy = append(er.MutedNowBy, names...)
		}
		if len(rt.RouteOpts.ActiveTimeIntervals) > 0 {
			active, _, err := intervener.Mutes(rt.RouteOpts.ActiveTimeIntervals, now)
			if err != nil {
				return nil, fmt.Errorf("evaluating active_time_intervals: %w", err)
			}
			if !active {
				er.MutedNowBy = append(er.MutedNowBy, rt.RouteOpts.ActiveTimeIntervals...)
			}
		}

		for _, in := range receivers[rt.RouteOpts.Receiver] {
			en := ExplainedNotification{Integration: in.Name(), Index: in.Index()}
			entries, err := r.nflog.Query(nflog.QGroupKey(er.GroupKey), nflog.QReceiver(&nflogpb.Receiver{
				GroupName: rt.RouteOpts.Receiver, Integration: in.Name(), Idx: uint32(in.Index()),
			}))
			switch {
			case err == nil && len(entries) > 0:
				e := entries[0]
				ts := e.Timestamp.AsTime()
				en.LastSent = &ts
				en.FiringAlerts, en.ResolvedAlerts = len(e.FiringAlerts), len(e.ResolvedAlerts)
				en.IncludedFiring = slices.Contains(e.FiringAlerts, hash)
				en.IncludedResolved = slices.Contains(e.ResolvedAlerts, hash)
			case err != nil && !errors.Is(err, nflog.ErrNotFound):
				return nil, fmt.Errorf("querying notification log: %w", err)
			}
			er.Notifications = append(er.Notifications, en)
		}
		ex.Routes = append(ex.Routes, er)
	}

	sils, _, err := r.silences.Query(ctx, silence.QState(silence.SilenceStateActive), silence.QMatches(lset))
	if err != nil {
		return nil, fmt.Errorf("querying silences: %w", err)
	}
	for _, s := range sils {
		ex.SilencedBy = append(ex.SilencedBy, ExplainedSil{
			ID: s.Id, Matchers: silenceMatchers(s), StartsAt: s.StartsAt.AsTime(), EndsAt: s.EndsAt.AsTime(),
			CreatedBy: s.CreatedBy, Comment: s.Comment,
		})
	}

	// The inhibitor records the inhibiting alert on the marker carried by the context.
	m := marker.NewAlertMarker()
	if inhibitor.Mutes(marker.WithContext(ctx, m), lset) {
		for _, src := range m.Status(fp).InhibitedBy {
			ex.InhibitedBy = append(ex.InhibitedBy, r.explainInhibition(conf.InhibitRules, lset, src))
		}
	}

	ex.Summary = summarize(ex, conf.Route.Receiver)
	return ex, nil
}

func (r *Router) explainInhibition(rules []inhibitRuleConfig, target model.LabelSet, srcFP string) ExplainedInhib {
	ei := ExplainedInhib{Rule: -1, SourceFingerprint: srcFP}
	fp, err := model.ParseFingerprint(srcFP)
	if err != nil {
		return ei
	}
	src, err := r.alerts.Get(fp)
	if err != nil {
		return ei
	}
	ei.SourceLabels = src.Labels
	// The inhibitor says only which alert inhibits; find the first rule that connects the two,
	// which is the one the inhibitor matched since it checks rules in order.
	for i, cr := range rules {
		rule := inhibit.NewInhibitRule(cr)
		if !rule.TargetMatchers.Matches(target) || !rule.SourceMatchers.Matches(src.Labels) {
			continue
		}
		equal := true
		for ln := range rule.Equal {
			if target[ln] != src.Labels[ln] {
				equal = false
				break
			}
		}
		if !equal {
			continue
		}
		ei.Rule, ei.Name = i, cr.Name
		for _, m := range rule.SourceMatchers {
			ei.SourceMatchers = append(ei.SourceMatchers, m.String())
		}
		for _, m := range rule.TargetMatchers {
			ei.TargetMatchers = append(ei.TargetMatchers, m.String())
		}
		for ln := range rule.Equal {
			ei.Equal = append(ei.Equal, string(ln))
		}
		sort.Strings(ei.Equal)
		break
	}
	return ei
}

func summarize(ex *Explanation, rootReceiver string) []string {
	var out []string
	switch {
	case ex.Alert == nil:
		out = append(out, "no alert with exactly these labels is stored: nothing would be sent until one arrives")
	case ex.Alert.Resolved:
		out = append(out, fmt.Sprintf("the alert is resolved since %s", ex.Alert.EndsAt.UTC().Format(time.RFC3339)))
	default:
		out = append(out, fmt.Sprintf("the alert is firing since %s", ex.Alert.StartsAt.UTC().Format(time.RFC3339)))
	}
	for _, s := range ex.SilencedBy {
		out = append(out, fmt.Sprintf("silenced by %s until %s (%s: %s)", s.ID, s.EndsAt.UTC().Format(time.RFC3339), s.CreatedBy, s.Comment))
	}
	for _, i := range ex.InhibitedBy {
		out = append(out, fmt.Sprintf("inhibited by alert %s through inhibit_rules[%d]", i.SourceLabels, i.Rule))
	}
	for _, rt := range ex.Routes {
		if rt.RouteID == "{}" && rt.Receiver == rootReceiver && len(ex.Routes) == 1 {
			out = append(out, fmt.Sprintf("no child route matches; the root route sends to %q", rt.Receiver))
		} else {
			out = append(out, fmt.Sprintf("route %s sends to %q in group %s", rt.RouteID, rt.Receiver, rt.GroupKey))
		}
		if len(rt.MutedNowBy) > 0 {
			out = append(out, fmt.Sprintf("route %s is muted now by time intervals %s", rt.RouteID, strings.Join(rt.MutedNowBy, ", ")))
		}
		if len(rt.Notifications) == 0 {
			out = append(out, fmt.Sprintf("receiver %q has no integrations: nothing is ever sent", rt.Receiver))
		}
		for _, n := range rt.Notifications {
			switch {
			case n.LastSent == nil:
				out = append(out, fmt.Sprintf("%s[%d] has not notified this group", n.Integration, n.Index))
			case n.IncludedFiring:
				out = append(out, fmt.Sprintf("%s[%d] last notified this group at %s, including this alert as firing", n.Integration, n.Index, n.LastSent.UTC().Format(time.RFC3339)))
			case n.IncludedResolved:
				out = append(out, fmt.Sprintf("%s[%d] last notified this group at %s, including this alert as resolved", n.Integration, n.Index, n.LastSent.UTC().Format(time.RFC3339)))
			default:
				out = append(out, fmt.Sprintf("%s[%d] last notified this group at %s, without this alert", n.Integration, n.Index, n.LastSent.UTC().Format(time.RFC3339)))
			}
		}
	}
	return out
}

func groupLabels(lset model.LabelSet, rt *dispatch.Route) model.LabelSet {
	out := model.LabelSet{}
	for ln, lv := range lset {
		if _, ok := rt.RouteOpts.GroupBy[ln]; ok || rt.RouteOpts.GroupByAll {
			out[ln] = lv
		}
	}
	return out
}

func matcherStrings(rt *dispatch.Route) []string {
	out := make([]string, 0, len(rt.Matchers))
	for _, m := range rt.Matchers {
		out = append(out, m.String())
	}
	return out
}

func silenceMatchers(s *silencepb.Silence) []string {
	out := make([]string, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		op := "="
		switch m.Type {
		case silencepb.Matcher_NOT_EQUAL:
			op = "!="
		case silencepb.Matcher_REGEXP:
			op = "=~"
		case silencepb.Matcher_NOT_REGEXP:
			op = "!~"
		}
		out = append(out, fmt.Sprintf("%s%s%q", m.Name, op, m.Pattern))
	}
	return out
}

type inhibitRuleConfig = amcommoncfg.InhibitRule

// hashLabels is the hash the notification log stores per alert (upstream notify's hashAlert):
// xxhash over the sorted label pairs, each part followed by 0xff.
func hashLabels(lset model.LabelSet) uint64 {
	names := make(model.LabelNames, 0, len(lset))
	for ln := range lset {
		names = append(names, ln)
	}
	sort.Sort(names)
	b := make([]byte, 0, 256)
	for _, ln := range names {
		b = append(b, ln...)
		b = append(b, 0xff)
		b = append(b, lset[ln]...)
		b = append(b, 0xff)
	}
	return xxhash.Sum64(b)
}
