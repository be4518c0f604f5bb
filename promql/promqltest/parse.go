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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus promql/promqltest/test.go (v0.315.0).

// Package promqltest reads the upstream Prometheus promqltest script format (load / clear /
// eval commands with expectations) so that Vigil's engine can be checked against the same
// files Prometheus uses, and provides an in-memory storage.Queryable for tests.
package promqltest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

var (
	patSpace       = regexp.MustCompile("[\t ]+")
	patLoad        = regexp.MustCompile(`^load(?:_(with_nhcb))?\s+(.+?)$`)
	patEvalInstant = regexp.MustCompile(`^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$`)
	patEvalRange   = regexp.MustCompile(`^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$`)
	patExpect      = regexp.MustCompile(`^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$`)
	patExpectRange = regexp.MustCompile(`^` + rangeVectorPrefix + `\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$`)
)

const (
	rangeVectorPrefix  = "expect range vector"
	expectStringPrefix = "expect string"
)

// StartTime is time zero of every test file.
var StartTime = time.Unix(0, 0).UTC()

// ParserOptions are the parser features the test files use.
var ParserOptions = parser.Options{
	EnableExperimentalFunctions:  true,
	ExperimentalDurationExpr:     true,
	EnableExtendedRangeSelectors: true,
	EnableBinopFillModifiers:     true,
}

var testParser = parser.NewParser(ParserOptions)

// Point is one loaded sample.
type Point struct {
	// ST is the sample's start timestamp (ms) from an "@st" line; 0 when it has none.
	ST int64
	T  int64
	F  float64
	// H or FH, when set, make the point a native histogram sample (F is then unused).
	H  *histogram.Histogram
	FH *histogram.FloatHistogram
}

// LoadSeries is one series of a load command.
type LoadSeries struct {
	Metric  labels.Labels
	Samples []Point
}

// Load is a "load <interval>" command.
type Load struct {
	Line     int
	Interval time.Duration
	Series   []LoadSeries
	// NativeHistograms is set when a series uses the {{...}} histogram notation or the load
	// converts classic histograms to native ones (load_with_nhcb).
	NativeHistograms bool
	// StartTimestamps is set when the load has "metric@st" start-timestamp lines.
	StartTimestamps bool
}

// Clear is a "clear" command.
type Clear struct{ Line int }

// ExpectType is the kind of an "expect" line.
type ExpectType int

// Kinds of expect lines.
const (
	ExpectOrdered ExpectType = iota
	ExpectFail
	ExpectWarn
	ExpectNoWarn
	ExpectInfo
	ExpectNoInfo
)

var expectTypes = map[string]ExpectType{
	"ordered": ExpectOrdered, "fail": ExpectFail, "warn": ExpectWarn,
	"no_warn": ExpectNoWarn, "info": ExpectInfo, "no_info": ExpectNoInfo,
}

// Expect is one "expect <type> [msg:|regex:]..." line.
type Expect struct {
	Message string
	Regex   *regexp.Regexp // nil: compare Message exactly
}

// Match tells whether s satisfies the expectation.
func (e Expect) Match(s string) bool {
	if e.Regex == nil {
		return e.Message == s
	}
	return e.Regex.MatchString(s)
}

func (e Expect) String() string {
	if e.Regex == nil {
		return e.Message
	}
	return e.Regex.String()
}

// Entry is the expected values of one series (or of the scalar) with its position in the
// expectation list (1-based, for ordered results).
type Entry struct {
	Pos  int
	Vals []parser.SequenceValue
}

// Eval is an "eval" command.
type Eval struct {
	Line    int
	Expr    string
	IsRange bool
	Start   time.Time
	End     time.Time
	Step    time.Duration
	EvalAt  time.Time // instant queries

	Fail, Warn, Info, Ordered bool
	FailMessage               string
	FailRegexp                *regexp.Regexp
	Expects                   map[ExpectType][]Expect

	ExpectScalar   bool
	Metrics        map[uint64]labels.Labels
	Expected       map[uint64]Entry
	ExpectedString *string

	// ExcludeFromRangeQuery is set when an instant eval must not be re-checked in range mode.
	ExcludeFromRangeQuery bool
	// NativeHistograms is set when an expected value uses the {{...}} notation.
	NativeHistograms bool
}

// IsOrdered tells whether the result order matters.
func (ev *Eval) IsOrdered() bool { return ev.Ordered || len(ev.Expects[ExpectOrdered]) > 0 }

// IsFail tells whether the query must fail.
func (ev *Eval) IsFail() bool { return ev.Fail || len(ev.Expects[ExpectFail]) > 0 }

// Parse reads a test script.
func Parse(input string) ([]any, error) {
	lines := strings.Split(input, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			l = ""
		}
		lines[i] = l
	}
	var cmds []any
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" {
			continue
		}
		var (
			cmd any
			err error
		)
		switch c := strings.ToLower(patSpace.Split(l, 2)[0]); {
		case c == "clear":
			cmd = &Clear{Line: i + 1}
		case strings.HasPrefix(c, "load"):
			i, cmd, err = parseLoad(lines, i)
		case strings.HasPrefix(c, "eval"):
			i, cmd, err = parseEval(lines, i)
		default:
			return nil, fmt.Errorf("line %d: invalid command %q", i+1, l)
		}
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}

func parseLoad(lines []string, i int) (int, *Load, error) {
	parts := patLoad.FindStringSubmatch(lines[i])
	if parts == nil {
		return i, nil, fmt.Errorf("line %d: invalid load command", i+1)
	}
	gap, err := model.ParseDuration(parts[2])
	if err != nil {
		return i, nil, fmt.Errorf("line %d: invalid step definition %q: %w", i+1, parts[2], err)
	}
	cmd := &Load{Line: i + 1, Interval: time.Duration(gap), NativeHistograms: parts[1] == "with_nhcb"}
	// An "@st" line gives the start timestamps of the sample line that follows it (as upstream).
	var (
		pendingST       []parser.SequenceValue
		pendingSTMetric labels.Labels
		pendingSTLine   int
	)
	for i+1 < len(lines) {
		i++
		l := lines[i]
		if l == "" {
			i--
			break
		}
		if isSTLine(l) {
			if pendingST != nil {
				return i, nil, fmt.Errorf("line %d: @st line has no following sample line", pendingSTLine+1)
			}
			metric, vals, err := parseSTLine(l)
			if err != nil {
				return i, nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			pendingST, pendingSTMetric, pendingSTLine = vals, metric, i
			cmd.StartTimestamps = true
			continue
		}
		if strings.Contains(l, "{{") {
			cmd.NativeHistograms = true
		}
		metric, vals, err := testParser.ParseSeriesDesc(l)
		if err != nil {
			return i, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if pendingST != nil {
			if !labels.Equal(metric, pendingSTMetric) {
				return i, nil, fmt.Errorf("line %d: @st metric does not match the following sample line metric", pendingSTLine+1)
			}
			if len(pendingST) != len(vals) {
				return i, nil, fmt.Errorf("line %d: @st line has %d values but sample line has %d", pendingSTLine+1, len(pendingST), len(vals))
			}
		}
		ls := LoadSeries{Metric: metric}
		ts := StartTime
		for k, v := range vals {
			switch {
			case v.Histogram != nil:
				cmd.NativeHistograms = true
				p := Point{T: ts.UnixMilli(), FH: v.Histogram}
				if pendingST != nil && !pendingST[k].Omitted {
					p.ST = p.T + int64(pendingST[k].Value)
				}
				ls.Samples = append(ls.Samples, p)
			case !v.Omitted:
				p := Point{T: ts.UnixMilli(), F: v.Value}
				if pendingST != nil && !pendingST[k].Omitted {
					p.ST = p.T + int64(pendingST[k].Value)
				}
				ls.Samples = append(ls.Samples, p)
			}
			ts = ts.Add(cmd.Interval)
		}
		// A series defined twice in one load keeps its last definition, as upstream.
		replaced := false
		for k := range cmd.Series {
			if labels.Equal(cmd.Series[k].Metric, metric) {
				cmd.Series[k], replaced = ls, true
			}
		}
		if !replaced {
			cmd.Series = append(cmd.Series, ls)
		}
		pendingST = nil
	}
	if pendingST != nil {
		return i, nil, fmt.Errorf("line %d: @st line has no following sample line", pendingSTLine+1)
	}
	if parts[1] == "with_nhcb" {
		if err := cmd.withNHCB(); err != nil {
			return i, nil, fmt.Errorf("line %d: %w", cmd.Line, err)
		}
	}
	return i, cmd, nil
}

func parseDurations(from, to, step string) (time.Time, time.Time, time.Duration, error) {
	f, err := model.ParseDuration(from)
	if err != nil {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("invalid start timestamp definition %q: %w", from, err)
	}
	t, err := model.ParseDuration(to)
	if err != nil {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("invalid end timestamp definition %q: %w", to, err)
	}
	if t < f {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("invalid test definition, end timestamp (%s) is before start timestamp (%s)", to, from)
	}
	s, err := model.ParseDuration(step)
	if err != nil {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("invalid step definition %q: %w", step, err)
	}
	return StartTime.Add(time.Duration(f)), StartTime.Add(time.Duration(t)), time.Duration(s), nil
}

func parseNumber(s string) (float64, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	f := float64(n)
	if err != nil {
		f, err = strconv.ParseFloat(s, 64)
	}
	return f, err
}

func parseEval(lines []string, i int) (int, *Eval, error) {
	instantParts := patEvalInstant.FindStringSubmatch(lines[i])
	rangeParts := patEvalRange.FindStringSubmatch(lines[i])
	if instantParts == nil && rangeParts == nil {
		return i, nil, fmt.Errorf("line %d: invalid evaluation command", i+1)
	}
	cmd := &Eval{
		Line:     i + 1,
		Metrics:  map[uint64]labels.Labels{},
		Expected: map[uint64]Entry{},
		Expects:  map[ExpectType][]Expect{},
	}
	var mod string
	if instantParts != nil {
		mod, cmd.Expr = instantParts[1], instantParts[3]
		at, err := model.ParseDuration(instantParts[2])
		if err != nil {
			return i, nil, fmt.Errorf("line %d: invalid timestamp definition %q: %w", i+1, instantParts[2], err)
		}
		cmd.EvalAt = StartTime.Add(time.Duration(at))
		cmd.Start = cmd.EvalAt
	} else {
		mod, cmd.Expr = rangeParts[1], rangeParts[5]
		var err error
		cmd.Start, cmd.End, cmd.Step, err = parseDurations(rangeParts[2], rangeParts[3], rangeParts[4])
		if err != nil {
			return i, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		cmd.IsRange = true
	}
	switch mod {
	case "ordered":
		cmd.Ordered = true
	case "fail":
		cmd.Fail = true
	case "warn":
		cmd.Warn = true
	case "info":
		cmd.Info = true
	}
	isInstant := !cmd.IsRange
	expectRangeVector := false
	for j := 1; i+1 < len(lines); j++ {
		i++
		l := lines[i]
		if l == "" {
			i--
			break
		}
		if cmd.IsFail() && strings.HasPrefix(l, "expected_fail_message") {
			cmd.FailMessage = strings.TrimSpace(strings.TrimPrefix(l, "expected_fail_message"))
			break
		}
		if cmd.IsFail() && strings.HasPrefix(l, "expected_fail_regexp") {
			pattern := strings.TrimSpace(strings.TrimPrefix(l, "expected_fail_regexp"))
			re, err := regexp.Compile(pattern)
			if err != nil {
				return i, nil, fmt.Errorf("line %d: invalid regexp %q: %w", i+1, pattern, err)
			}
			cmd.FailRegexp = re
			break
		}
		if strings.HasPrefix(l, rangeVectorPrefix) {
			parts := patExpectRange.FindStringSubmatch(l)
			if len(parts) != 4 {
				return i, nil, fmt.Errorf("line %d: invalid range vector definition %q", i+1, l)
			}
			start, end, step, err := parseDurations(parts[1], parts[2], parts[3])
			if err != nil {
				return i, nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			expectRangeVector = true
			cmd.Start, cmd.End, cmd.Step, cmd.EvalAt = start, end, step, end
			cmd.ExcludeFromRangeQuery = true
			continue
		}
		if strings.HasPrefix(l, expectStringPrefix) {
			str := strings.TrimPrefix(l, expectStringPrefix+" ")
			if l == expectStringPrefix || str == "" {
				return i, nil, fmt.Errorf("line %d: expected string literal not valid - a quoted string literal is required", i+1)
			}
			s, err := strconv.Unquote(str)
			if err != nil {
				return i, nil, fmt.Errorf("line %d: expected string literal not valid - check that the string is correctly quoted", i+1)
			}
			cmd.ExpectedString = &s
			cmd.ExcludeFromRangeQuery = true
			continue
		}
		if strings.Split(l, " ")[0] == "expect" {
			parts := patExpect.FindStringSubmatch(strings.TrimSpace(l))
			if parts == nil {
				return i, nil, fmt.Errorf("line %d: invalid expect statement %q", i+1, l)
			}
			e := Expect{}
			switch parts[2] {
			case "msg":
				e.Message = strings.TrimSpace(parts[3])
			case "regex":
				re, err := regexp.Compile(strings.TrimSpace(parts[3]))
				if err != nil {
					return i, nil, fmt.Errorf("line %d: invalid regex: %w", i+1, err)
				}
				e.Regex = re
			default:
				e.Regex = regexp.MustCompile(`^.*$`)
			}
			t := expectTypes[parts[1]]
			cmd.Expects[t] = append(cmd.Expects[t], e)
			j--
			continue
		}
		if f, err := parseNumber(l); err == nil {
			cmd.ExpectScalar = true
			cmd.Expected[0] = Entry{Pos: 0, Vals: []parser.SequenceValue{{Value: f}}}
			break
		}
		if strings.Contains(l, "{{") {
			cmd.NativeHistograms = true
		}
		metric, vals, err := testParser.ParseSeriesDesc(l)
		if err != nil {
			return i, nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		if len(vals) > 1 && isInstant && !expectRangeVector {
			return i, nil, errors.New("expecting multiple values in instant evaluation not allowed")
		}
		for _, v := range vals {
			if v.Histogram != nil {
				cmd.NativeHistograms = true
			}
		}
		h := metric.Hash()
		cmd.Metrics[h] = metric
		cmd.Expected[h] = Entry{Pos: j, Vals: vals}
	}
	return i, cmd, nil
}
