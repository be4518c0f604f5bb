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
// Modified by Vigil: testChunkOverFlowPanics from upstream chunk_test.go (v0.315.0), limited to
// the histogram encodings this package holds.

package histchunk

import (
	"testing"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/stretchr/testify/require"
)

func testChunkOverFlowPanics(t *testing.T, e Encoding, vt ValueType) {
	var chunk Chunk
	switch e {
	case EncHistogram:
		chunk = NewHistogramChunk()
	case EncFloatHistogram:
		chunk = NewFloatHistogramChunk()
	default:
		t.Fatalf("encoding %s is not held here", e)
	}
	app, err := chunk.Appender()
	require.NoError(t, err)

	require.PanicsWithValue(t, "chunk capacity exceeded", func() {
		for i := range int64(1000000) {
			switch vt {
			case ValHistogram:
				app.AppendHistogram(nil, 0, i, &histogram.Histogram{Count: uint64(i), ZeroThreshold: 1e-128, ZeroCount: uint64(i)}, true)
			case ValFloatHistogram:
				app.AppendFloatHistogram(nil, 0, i, &histogram.FloatHistogram{Count: float64(i), ZeroThreshold: 1e-128, ZeroCount: float64(i)}, true)
			}
		}
	})
}
