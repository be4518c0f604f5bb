// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: parts ported from github.com/prometheus/prometheus promql/info.go (v0.315.0).

package promql

// info() (experimental in Prometheus): enriches series with the data labels of matching info
// series (target_info by default), joined on instance and job. Ported from Prometheus's
// semantics (Apache 2.0) for float samples.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/grafana/regexp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/vigil-monitoring/vigil/storage"
)

const targetInfo = "target_info"

var identifyingLabels = [...]string{"instance", "job"}

func (ev *evaluator) evalInfo(args parser.Expressions) Value {
	nodeTimestamp, offset := infoSeriesSelectTimestampAndOffset(args[0])
	mat := ev.eval(args[0]).(Matrix)
	dataLabelMatchers := map[string][]*labels.Matcher{}
	var infoNameMatchers []*labels.Matcher
	if len(args) > 1 {
		labelSelector := unwrapParens(args[1]).(*parser.VectorSelector)
		for _, m := range labelSelector.LabelMatchers {
			dataLabelMatchers[m.Name] = append(dataLabelMatchers[m.Name], m)
			if m.Name == model.MetricNameLabel {
				infoNameMatchers = append(infoNameMatchers, m)
			}
		}
	} else {
		infoNameMatchers = []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, targetInfo)}
	}

	// Series that are themselves info metrics are passed through unchanged.
	effectiveNameMatchers := effectiveInfoNameMatchers(infoNameMatchers)
	ignoreSeries := map[uint64]struct{}{}
	for _, s := range mat {
		name := s.Metric.Get(model.MetricNameLabel)
		all := true
		for _, m := range effectiveNameMatchers {
			if !m.Matches(name) {
				all = false
				break
			}
		}
		if all {
			ignoreSeries[s.Metric.Hash()] = struct{}{}
		}
	}
	infoMat := ev.fetchInfoSeries(mat, ignoreSeries, dataLabelMatchers, nodeTimestamp, offset)
	return ev.combineWithInfoSeries(mat, infoMat, ignoreSeries, dataLabelMatchers)
}

func effectiveInfoNameMatchers(matchers []*labels.Matcher) []*labels.Matcher {
	for _, m := range matchers {
		if m.Type == labels.MatchEqual || m.Type == labels.MatchRegexp {
			return matchers
		}
	}
	if len(matchers) > 0 {
		return append([]*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+_info")}, matchers...)
	}
	return []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, targetInfo)}
}

type infoSeriesReference struct {
	timestamp *int64
	offset    time.Duration
}

func (r infoSeriesReference) equal(other infoSeriesReference) bool {
	if r.timestamp == nil || other.timestamp == nil {
		return r.timestamp == nil && other.timestamp == nil && r.offset.Milliseconds() == other.offset.Milliseconds()
	}
	return *r.timestamp-r.offset.Milliseconds() == *other.timestamp-other.offset.Milliseconds()
}

// infoSelectTimestampAndOffset finds the @ timestamp and offset the data selectors of info's
// first argument share, so that info series are read at the same time; uniform is false when
// they differ (or part of the expression has no selector).
func infoSelectTimestampAndOffset(expr parser.Expr) (nodeTimestamp *int64, offset time.Duration, uniform bool) {
	var (
		first         infoSeriesReference
		found         bool
		referenceFree bool
	)
	uniform = true
	var inspect func(parser.Expr, []parser.Node) bool
	inspect = func(expr parser.Expr, path []parser.Node) bool {
		if expr.Type() != parser.ValueTypeVector && expr.Type() != parser.ValueTypeMatrix {
			return false
		}
		if n, ok := expr.(*parser.VectorSelector); ok {
			ref := infoSeriesReference{timestamp: n.Timestamp, offset: n.OriginalOffset}
			for i := len(path) - 1; ref.timestamp == nil && i >= 0; i-- {
				if sq, ok := path[i].(*parser.SubqueryExpr); ok {
					ref.offset += sq.OriginalOffset
					ref.timestamp = sq.Timestamp
				}
			}
			if !found {
				first, found = ref, true
			} else if !first.equal(ref) {
				uniform = false
			}
			return true
		}
		path = append(path, expr)
		if call, ok := expr.(*parser.Call); ok && call.Func.Name == "info" {
			return inspect(call.Args[0], path)
		}
		hasSelector := false
		for child := range parser.ChildrenIter(expr) {
			if childExpr, ok := child.(parser.Expr); ok && inspect(childExpr, path) {
				hasSelector = true
			}
		}
		if !hasSelector {
			referenceFree = true
		}
		return hasSelector
	}
	inspect(expr, nil)
	if !found {
		return nil, 0, false
	}
	return first.timestamp, first.offset, uniform && !referenceFree
}

func infoSeriesSelectTimestampAndOffset(expr parser.Expr) (*int64, time.Duration) {
	ts, off, uniform := infoSelectTimestampAndOffset(expr)
	if !uniform {
		return nil, 0
	}
	return ts, off
}

func (ev *evaluator) fetchInfoSeries(mat Matrix, ignoreSeries map[uint64]struct{}, dataLabelMatchers map[string][]*labels.Matcher, atTimestamp *int64, offset time.Duration) Matrix {
	removeNameFromDataLabelMatchers := func() {
		for name, ms := range dataLabelMatchers {
			ms = slices.DeleteFunc(ms, func(m *labels.Matcher) bool { return m.Name == model.MetricNameLabel })
			if len(ms) > 0 {
				dataLabelMatchers[name] = ms
			} else {
				delete(dataLabelMatchers, name)
			}
		}
	}
	identifyingMatcherSets := infoIdentifyingMatcherSets(mat, ignoreSeries)
	if len(identifyingMatcherSets) == 0 {
		removeNameFromDataLabelMatchers()
		return nil
	}
	var nameMatchers, dataMatchers []*labels.Matcher
	for _, ms := range dataLabelMatchers {
		for _, m := range ms {
			if m.Name == model.MetricNameLabel {
				nameMatchers = append(nameMatchers, m)
			} else {
				dataMatchers = append(dataMatchers, m)
			}
		}
	}
	removeNameFromDataLabelMatchers()
	effectiveNameMatchers := effectiveInfoNameMatchers(nameMatchers)

	offMs := offset.Milliseconds()
	start, end := ev.startTS, ev.endTS
	if atTimestamp != nil {
		start, end = *atTimestamp, *atTimestamp
	}
	hints := &storage.SelectHints{Start: start - (ev.lookbackDelta - 1) - offMs, End: end - offMs, Step: ev.interval, Func: "info"}

	var infoMat Matrix
	var it storage.Iterator
	var cur sampleCursor
	buf := make([]FPoint, 0, ev.preallocSteps())
	var hbuf []HPoint
	for _, identifying := range identifyingMatcherSets {
		matchers := make([]*labels.Matcher, 0, len(identifying)+len(dataMatchers)+len(effectiveNameMatchers))
		matchers = append(matchers, identifying...)
		matchers = append(matchers, dataMatchers...)
		matchers = append(matchers, effectiveNameMatchers...)
		ss := ev.querier.Select(ev.ctx, false, hints, matchers...)
		for ss.Next() {
			s := ss.At()
			it = s.Iterator(it)
			cur.reset(it)
			buf, hbuf = buf[:0], hbuf[:0]
			for ts, step := ev.startTS, 0; ts <= ev.endTS; ts, step = ts+ev.interval, step+1 {
				ev.stepCheck(step, len(buf))
				// The value records the original sample time: the newest info sample wins.
				if t, _, h, ok := cur.lookup(refTime(ts, atTimestamp, offMs), ev.lookbackDelta); ok {
					if h != nil {
						// Kept as a histogram point: combining fails on it, as upstream.
						hbuf = append(hbuf, HPoint{T: ts, H: h})
						continue
					}
					buf = append(buf, FPoint{T: ts, F: float64(t)})
				}
			}
			if len(buf) > 0 || len(hbuf) > 0 {
				ev.countSelected(buf, atTimestamp != nil)
				ev.addSamples(len(buf) + len(hbuf))
				infoMat = append(infoMat, Series{Metric: s.Labels(), Floats: slices.Clone(buf), Histograms: slices.Clone(hbuf)})
			}
		}
		ev.seriesSetErr(ss)
	}
	return infoMat
}

// infoIdentifyingMatcherSets builds, per combination of present identifying labels, matchers
// selecting the info series that can match the data series.
func infoIdentifyingMatcherSets(mat Matrix, ignoreSeries map[uint64]struct{}) [][]*labels.Matcher {
	const (
		instanceLabelIndex = iota
		jobLabelIndex
	)
	type presence uint64
	const (
		jobPresent presence = 1 << iota
		instancePresent
	)
	presenceBits := [len(identifyingLabels)]presence{instanceLabelIndex: instancePresent, jobLabelIndex: jobPresent}
	type group [len(identifyingLabels)]map[string]struct{}
	groups := map[presence]*group{}
	for _, s := range mat {
		if _, ok := ignoreSeries[s.Metric.Hash()]; ok {
			continue
		}
		values := [len(identifyingLabels)]string{
			instanceLabelIndex: s.Metric.Get(identifyingLabels[instanceLabelIndex]),
			jobLabelIndex:      s.Metric.Get(identifyingLabels[jobLabelIndex]),
		}
		var p presence
		if values[instanceLabelIndex] != "" {
			p |= instancePresent
		}
		if values[jobLabelIndex] != "" {
			p |= jobPresent
		}
		if p == 0 {
			continue
		}
		g := groups[p]
		if g == nil {
			g = &group{}
			groups[p] = g
		}
		for i, v := range values {
			if v == "" {
				continue
			}
			if g[i] == nil {
				g[i] = map[string]struct{}{}
			}
			g[i][v] = struct{}{}
		}
	}
	presences := make([]presence, 0, len(groups))
	for p := range groups {
		presences = append(presences, p)
	}
	slices.Sort(presences)
	sets := make([][]*labels.Matcher, 0, len(groups))
	for _, p := range presences {
		g := groups[p]
		matchers := make([]*labels.Matcher, 0, len(identifyingLabels))
		for i, name := range identifyingLabels {
			if p&presenceBits[i] == 0 {
				matchers = append(matchers, labels.MustNewMatcher(labels.MatchEqual, name, ""))
				continue
			}
			values := make([]string, 0, len(g[i]))
			for v := range g[i] {
				values = append(values, v)
			}
			slices.Sort(values)
			var sb strings.Builder
			for j, v := range values {
				if j > 0 {
					sb.WriteRune('|')
				}
				sb.WriteString(regexp.QuoteMeta(v))
			}
			matchers = append(matchers, labels.MustNewMatcher(labels.MatchRegexp, name, sb.String()))
		}
		sets = append(sets, matchers)
	}
	return sets
}

func (ev *evaluator) combineWithInfoSeries(mat, infoMat Matrix, ignoreSeries map[uint64]struct{}, dataLabelMatchers map[string][]*labels.Matcher) Matrix {
	buf := make([]byte, 0, 1024)
	lb := labels.NewScratchBuilder(0)
	sigFunction := func(name string) func(labels.Labels) string {
		return func(lset labels.Labels) string {
			lb.Reset()
			lb.Add(model.MetricNameLabel, name)
			lset.MatchLabels(true, identifyingLabels[:]...).Range(func(l labels.Label) { lb.Add(l.Name, l.Value) })
			lb.Sort()
			return string(lb.Labels().Bytes(buf))
		}
	}
	infoMetrics := map[string]struct{}{}
	for _, is := range infoMat {
		infoMetrics[is.Metric.Get(model.MetricNameLabel)] = struct{}{}
	}
	infoNames := make([]string, 0, len(infoMetrics))
	for n := range infoMetrics {
		infoNames = append(infoNames, n)
	}
	slices.Sort(infoNames)
	sigfs := make(map[string]func(labels.Labels) string, len(infoMetrics))
	for _, name := range infoNames {
		sigfs[name] = sigFunction(name)
	}
	baseSigs := make(map[uint64][]nameSig, len(mat))
	for _, s := range mat {
		sigs := make([]nameSig, 0, len(infoNames))
		for _, n := range infoNames {
			sigs = append(sigs, nameSig{n, sigfs[n](s.Metric)})
		}
		baseSigs[s.Metric.Hash()] = sigs
	}
	infoSigs := make(map[uint64]string, len(infoMat))
	for _, s := range infoMat {
		infoSigs[s.Metric.Hash()] = sigfs[s.Metric.Get(model.MetricNameLabel)](s.Metric)
	}

	enh := &evalNodeHelper{}
	rightSigs := map[string]Sample{}
	baseVector := make(Vector, 0, len(mat))
	infoVector := make(Vector, 0, len(infoMat))
	type outSeries struct {
		idx int
		ts  int64
	}
	seriess := map[uint64]outSeries{}
	var out Matrix
	for ts := ev.startTS; ts <= ev.endTS; ts += ev.interval {
		ev.checkCtx()
		baseVector, _ = ev.gatherVector(ts, mat, baseVector, nil, nil)
		infoVector, _ = ev.gatherVector(ts, infoMat, infoVector, nil, nil)
		if len(baseVector) == 0 {
			continue
		}
		clear(rightSigs)
		for _, s := range infoVector {
			if s.H != nil {
				ev.error(errors.New("info sample should be float"))
			}
			origT := int64(s.F)
			sig := infoSigs[s.Metric.Hash()]
			if existing, ok := rightSigs[sig]; ok {
				existingOrigT := int64(existing.F)
				switch {
				case existingOrigT > origT:
				case existingOrigT < origT:
					rightSigs[sig] = s
				default:
					ev.errorf("found duplicate series for info metric: existing %s @ %d, new %s @ %d",
						existing.Metric.String(), existingOrigT, s.Metric.String(), origT)
				}
			} else {
				rightSigs[sig] = s
			}
		}
		for _, bs := range baseVector {
			hash := bs.Metric.Hash()
			var res Sample
			if _, ok := ignoreSeries[hash]; ok {
				res = bs
			} else {
				var ok bool
				res, ok = ev.enrichWithInfo(bs, baseSigs[hash], rightSigs, dataLabelMatchers, enh)
				if !ok {
					continue
				}
			}
			h := res.Metric.Hash()
			os, exists := seriess[h]
			if exists {
				if os.ts == ts {
					ev.errorf("vector cannot contain metrics with the same labelset")
				}
			} else {
				os.idx = len(out)
				out = append(out, Series{Metric: res.Metric, dropName: res.dropName})
			}
			os.ts = ts
			if res.H != nil {
				out[os.idx].Histograms = append(out[os.idx].Histograms, HPoint{T: ts, H: res.H})
			} else {
				out[os.idx].Floats = append(out[os.idx].Floats, FPoint{T: ts, F: res.F})
			}
			seriess[h] = os
			ev.addSamples(1)
		}
	}
	return out
}

// nameSig is the join signature of a data series for one info metric name.
type nameSig struct{ name, sig string }

func (ev *evaluator) enrichWithInfo(bs Sample, sigs []nameSig, rightSigs map[string]Sample, dataLabelMatchers map[string][]*labels.Matcher, enh *evalNodeHelper) (Sample, bool) {
	baseLabels := bs.Metric
	enh.resetBuilder(labels.EmptyLabels())
	seen := 0
	for _, ns := range sigs {
		is, ok := rightSigs[ns.sig]
		if !ok {
			continue
		}
		err := is.Metric.Validate(func(l labels.Label) error {
			if l.Name == model.MetricNameLabel {
				return nil
			}
			if _, ok := dataLabelMatchers[l.Name]; len(dataLabelMatchers) > 0 && !ok {
				return nil
			}
			if v := enh.lb.Get(l.Name); v != "" && v != l.Value {
				return fmt.Errorf("conflicting label: %s", l.Name)
			}
			if baseLabels.Has(l.Name) {
				return nil
			}
			enh.lb.Set(l.Name, l.Value)
			return nil
		})
		if err != nil {
			ev.error(err)
		}
		seen++
	}
	infoLbls := enh.lb.Labels()
	if seen == 0 {
		// Without a matching info series the sample is kept only if every data label
		// matcher accepts the empty value.
		for _, ms := range dataLabelMatchers {
			for _, m := range ms {
				if !m.Matches("") {
					return Sample{}, false
				}
			}
		}
	}
	enh.resetBuilder(bs.Metric)
	infoLbls.Range(func(l labels.Label) { enh.lb.Set(l.Name, l.Value) })
	return Sample{Metric: enh.lb.Labels(), F: bs.F, H: bs.H, dropName: bs.dropName}, true
}
