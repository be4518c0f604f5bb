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

// Ported from cmd/promtool/backfill.go (getCompatibleBlockDuration) and
// tsdb.ExponentialBlockRanges of github.com/prometheus/prometheus v0.315.0; see UPSTREAM.

package importer

// defaultBlockDuration is Prometheus's tsdb.DefaultBlockDuration, 2h in milliseconds.
const defaultBlockDuration = int64(2 * 60 * 60 * 1000)

// compatibleBlockDuration returns the range of the blocks an OpenMetrics import writes, as
// promtool chooses it: the largest of 2h×3^i (i < 10) not above maxBlockDuration (ms), and 2h
// when maxBlockDuration is below that.
func compatibleBlockDuration(maxBlockDuration int64) int64 {
	blockDuration := defaultBlockDuration
	if maxBlockDuration > defaultBlockDuration {
		ranges := exponentialBlockRanges(defaultBlockDuration, 10, 3)
		idx := len(ranges) - 1 // Use largest range if user asked for something enormous.
		for i, v := range ranges {
			if v > maxBlockDuration {
				idx = i - 1
				break
			}
		}
		blockDuration = ranges[idx]
	}
	return blockDuration
}

func exponentialBlockRanges(minSize int64, steps, stepSize int) []int64 {
	ranges := make([]int64, 0, steps)
	curRange := minSize
	for range steps {
		ranges = append(ranges, curRange)
		curRange *= int64(stepSize)
	}
	return ranges
}
