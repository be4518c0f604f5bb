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
// Modified by Vigil: the "@st" start-timestamp lines ported from github.com/prometheus/prometheus
// promql/promqltest/test.go (v0.315.0): isSTLine, parseSTLine, parseSTSequence, parseSTItem,
// parseDurationPrefix.

package promqltest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// isSTLine tells whether l is a start-timestamp line: the metric name and optional labels
// immediately followed by "@st", then a space and the offset sequence.
func isSTLine(l string) bool {
	l = strings.TrimSpace(l)
	sp := strings.IndexAny(l, " \t")
	return sp >= 0 && strings.HasSuffix(l[:sp], "@st")
}

// parseSTLine parses "metric{labels}@st <st_sequence>". Each non-omitted value of the result is
// the start timestamp's offset in milliseconds from the timestamp of the sample at the same
// position of the following sample line.
func parseSTLine(l string) (labels.Labels, []parser.SequenceValue, error) {
	l = strings.TrimSpace(l)
	sp := strings.IndexAny(l, " \t")
	if sp < 0 {
		return labels.Labels{}, nil, errors.New("invalid @st line: missing value sequence")
	}
	metricPart := strings.TrimSuffix(l[:sp], "@st")
	// The series description parser reads the labels, given a dummy value.
	metric, _, err := testParser.ParseSeriesDesc(metricPart + " _")
	if err != nil {
		return labels.Labels{}, nil, fmt.Errorf("invalid @st line metric %q: %w", metricPart, err)
	}
	vals, err := parseSTSequence(strings.TrimSpace(l[sp+1:]))
	if err != nil {
		return labels.Labels{}, nil, fmt.Errorf("invalid @st sequence: %w", err)
	}
	return metric, vals, nil
}

// parseSTSequence parses a space-separated sequence of start-timestamp offsets:
//
//	_             one omitted position
//	_xN           N omitted positions
//	<dur>         one position with the given offset
//	<dur>xN       N+1 positions with the same offset
//	<dur>+<dur>xN N+1 positions, the offset growing by the step
//	<dur>-<dur>xN N+1 positions, the offset shrinking by the step
//
// Offsets are Prometheus durations with an optional sign (-1m, 30s, 0s), kept as milliseconds.
func parseSTSequence(input string) ([]parser.SequenceValue, error) {
	var result []parser.SequenceValue
	for item := range strings.FieldsSeq(input) {
		vals, err := parseSTItem(item)
		if err != nil {
			return nil, fmt.Errorf("invalid ST item %q: %w", item, err)
		}
		result = append(result, vals...)
	}
	return result, nil
}

// maxSTRepeat bounds a repeat count, so that a typo cannot allocate without bound (Vigil's
// addition: upstream has no bound).
const maxSTRepeat = 1 << 20

func parseSTItem(item string) ([]parser.SequenceValue, error) {
	if item == "_" {
		return []parser.SequenceValue{{Omitted: true}}, nil
	}
	if strings.HasPrefix(item, "_x") {
		n, err := strconv.ParseUint(item[2:], 10, 64)
		if err != nil || n == 0 || n > maxSTRepeat {
			return nil, errors.New("invalid repeat count")
		}
		vals := make([]parser.SequenceValue, n)
		for i := range vals {
			vals[i] = parser.SequenceValue{Omitted: true}
		}
		return vals, nil
	}
	base, rest, err := parseDurationPrefix(item)
	if err != nil {
		return nil, err
	}
	if rest == "" {
		return []parser.SequenceValue{{Value: float64(base)}}, nil
	}
	if rest[0] == 'x' {
		n, err := strconv.ParseUint(rest[1:], 10, 64)
		if err != nil || n > maxSTRepeat {
			return nil, errors.New("invalid repeat count")
		}
		vals := make([]parser.SequenceValue, n+1)
		for i := range vals {
			vals[i] = parser.SequenceValue{Value: float64(base)}
		}
		return vals, nil
	}
	if rest[0] != '+' && rest[0] != '-' {
		return nil, fmt.Errorf("unexpected character %q after duration", rest[0])
	}
	negative := rest[0] == '-'
	delta, rest2, err := parseDurationPrefix(rest[1:])
	if err != nil {
		return nil, fmt.Errorf("invalid step duration: %w", err)
	}
	if negative {
		delta = -delta
	}
	if rest2 == "" || rest2[0] != 'x' {
		return nil, errors.New("expected 'x<count>' after step duration")
	}
	n, err := strconv.ParseUint(rest2[1:], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid repeat count: %w", err)
	}
	if n > maxSTRepeat {
		return nil, errors.New("invalid repeat count")
	}
	vals := make([]parser.SequenceValue, n+1)
	offset := base
	for i := range vals {
		vals[i] = parser.SequenceValue{Value: float64(offset)}
		offset += delta
	}
	return vals, nil
}

// parseDurationPrefix parses a Prometheus duration with an optional sign from the start of s and
// returns it in milliseconds with the rest of s.
func parseDurationPrefix(s string) (int64, string, error) {
	if s == "" {
		return 0, "", errors.New("empty duration")
	}
	negative := false
	i := 0
	switch s[i] {
	case '-':
		negative = true
		i++
	case '+':
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0, "", fmt.Errorf("expected digits in duration %q", s)
	}
	// The unit is letters ("ms" included) up to an 'x', which separates the repeat count.
	for i < len(s) && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) && s[i] != 'x' {
		i++
	}
	dur, err := model.ParseDuration(s[start:i])
	if err != nil {
		return 0, "", fmt.Errorf("invalid duration %q: %w", s[start:i], err)
	}
	ms := int64(time.Duration(dur) / time.Millisecond)
	if negative {
		ms = -ms
	}
	return ms, s[i:], nil
}
