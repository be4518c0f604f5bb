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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus promql/value.go (v0.315.0).

package promql

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Value is the result of an evaluation: Scalar, String, Vector or Matrix. It satisfies the
// upstream parser.Value interface so that callers can switch on Type() the same way.
type Value interface {
	Type() parser.ValueType
	String() string
}

func (Matrix) Type() parser.ValueType { return parser.ValueTypeMatrix }
func (Vector) Type() parser.ValueType { return parser.ValueTypeVector }
func (Scalar) Type() parser.ValueType { return parser.ValueTypeScalar }
func (String) Type() parser.ValueType { return parser.ValueTypeString }

// String is a string value (only string literals produce one).
type String struct {
	T int64
	V string
}

func (s String) String() string { return s.V }

// Scalar is a float not associated with a metric.
type Scalar struct {
	T int64
	V float64
}

func (s Scalar) String() string {
	return fmt.Sprintf("scalar: %s @[%v]", strconv.FormatFloat(s.V, 'f', -1, 64), s.T)
}

// FPoint is one float data point.
type FPoint struct {
	T int64
	F float64
}

func (p FPoint) String() string {
	return fmt.Sprintf("%s @[%v]", strconv.FormatFloat(p.F, 'f', -1, 64), p.T)
}

// HPoint is one native histogram data point (upstream's promql.HPoint).
type HPoint struct {
	T int64
	H *histogram.FloatHistogram
}

func (p HPoint) String() string {
	return fmt.Sprintf("%s @[%v]", p.H.String(), p.T)
}

// Sample is one sample of a labelled series at a time: a float, or a native histogram when H
// is non-nil (F is then unused), as upstream's promql.Sample.
type Sample struct {
	Metric labels.Labels
	T      int64
	F      float64
	H      *histogram.FloatHistogram

	// dropName marks that __name__ (and the other schema labels) must be removed before the
	// result leaves the engine (Prometheus's delayed name removal).
	dropName bool
}

func (s Sample) String() string {
	if s.H != nil {
		return fmt.Sprintf("%s => %s", s.Metric, HPoint{T: s.T, H: s.H})
	}
	return fmt.Sprintf("%s => %s", s.Metric, FPoint{T: s.T, F: s.F})
}

// Vector is an instant vector: samples at one timestamp.
type Vector []Sample

func (vec Vector) String() string {
	entries := make([]string, len(vec))
	for i, s := range vec {
		entries[i] = s.String()
	}
	return strings.Join(entries, "\n")
}

// Series is a labelled stream of points: floats and native histograms, each in time order
// (a series can hold both when it changed type), as upstream's promql.Series.
type Series struct {
	Metric     labels.Labels
	Floats     []FPoint
	Histograms []HPoint

	dropName bool // see Sample.dropName
}

func (s Series) String() string {
	vals := make([]string, 0, len(s.Floats)+len(s.Histograms))
	for _, f := range s.Floats {
		vals = append(vals, f.String())
	}
	for _, h := range s.Histograms {
		vals = append(vals, h.String())
	}
	return fmt.Sprintf("%s =>\n%s", s.Metric, strings.Join(vals, "\n"))
}

// Matrix is a range vector, or the result of a range query: series sorted by labels.
type Matrix []Series

func (m Matrix) String() string {
	strs := make([]string, len(m))
	for i, ss := range m {
		strs[i] = ss.String()
	}
	return strings.Join(strs, "\n")
}

// TotalSamples returns the number of points in the matrix.
func (m Matrix) TotalSamples() int {
	n := 0
	for _, s := range m {
		n += len(s.Floats) + len(s.Histograms)
	}
	return n
}

func (m Matrix) Len() int           { return len(m) }
func (m Matrix) Less(i, j int) bool { return labels.Compare(m[i].Metric, m[j].Metric) < 0 }
func (m Matrix) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }

// StepMatrix is the result of a range query: series on the query's step grid, at Start,
// Start+Step, …, Start+(Steps-1)*Step (ms). A series holds one value per step from its first
// to its last point, plus a bitmap of the steps in between that have none: 8 bytes per point
// instead of a 16-byte FPoint, the timestamps being implied by the grid. Series are sorted by
// labels. The HTTP API encodes it directly; Matrix converts it to points.
type StepMatrix struct {
	Start, Step int64
	Steps       int
	Series      []StepSeries
}

// StepSeries is one series of a StepMatrix. Values[i] is the value at step First+i, unless
// bit i of Absent is set; Absent is nil when every step from First to First+len(Values)-1 has
// a point.
type StepSeries struct {
	Metric labels.Labels
	First  int
	Values []float64
	Absent []uint64
	// Histograms is nil for a series of floats only. Otherwise it is as long as Values, and a
	// non-nil Histograms[i] makes the point at step First+i a native histogram (Values[i] is
	// then unused).
	Histograms []*histogram.FloatHistogram
}

func (StepMatrix) Type() parser.ValueType { return parser.ValueTypeMatrix }

func (m StepMatrix) String() string { return m.Matrix().String() }

// Has tells whether Values[i] is a point.
func (s *StepSeries) Has(i int) bool {
	return s.Absent == nil || s.Absent[i/64]&(1<<(i%64)) == 0
}

// Len returns the number of points of the series.
func (s *StepSeries) Len() int {
	n := len(s.Values)
	for _, w := range s.Absent {
		n -= bits.OnesCount64(w)
	}
	return n
}

// AppendPoints appends the points of series i to dst.
func (m StepMatrix) AppendPoints(dst []FPoint, i int) []FPoint {
	s := &m.Series[i]
	for j, v := range s.Values {
		if s.Has(j) {
			dst = append(dst, FPoint{T: m.Start + int64(s.First+j)*m.Step, F: v})
		}
	}
	return dst
}

// Matrix returns the series as points.
func (m StepMatrix) Matrix() Matrix {
	mat := make(Matrix, len(m.Series))
	for i := range m.Series {
		s := &m.Series[i]
		if s.Histograms == nil {
			mat[i] = Series{Metric: s.Metric, Floats: m.AppendPoints(make([]FPoint, 0, s.Len()), i)}
			continue
		}
		ser := Series{Metric: s.Metric}
		for j, v := range s.Values {
			if !s.Has(j) {
				continue
			}
			t := m.Start + int64(s.First+j)*m.Step
			if h := s.Histograms[j]; h != nil {
				ser.Histograms = append(ser.Histograms, HPoint{T: t, H: h})
			} else {
				ser.Floats = append(ser.Floats, FPoint{T: t, F: v})
			}
		}
		mat[i] = ser
	}
	return mat
}

// TotalSamples returns the number of points in the matrix.
func (m StepMatrix) TotalSamples() int {
	n := 0
	for i := range m.Series {
		n += m.Series[i].Len()
	}
	return n
}
