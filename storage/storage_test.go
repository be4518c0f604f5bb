package storage

import (
	"errors"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// The value types must keep upstream's names, order and values: code ported from Prometheus
// (and a future remote-read or histogram path) compares them one to one.
func TestValueTypeMatchesUpstream(t *testing.T) {
	for _, tc := range []struct {
		ours     ValueType
		upstream chunkenc.ValueType
	}{
		{ValNone, chunkenc.ValNone},
		{ValFloat, chunkenc.ValFloat},
		{ValHistogram, chunkenc.ValHistogram},
		{ValFloatHistogram, chunkenc.ValFloatHistogram},
		{ValFloatHistogram + 1, chunkenc.ValFloatHistogram + 1},
	} {
		if uint8(tc.ours) != uint8(tc.upstream) {
			t.Errorf("%v = %d, upstream %v = %d", tc.ours, tc.ours, tc.upstream, tc.upstream)
		}
		if tc.ours.String() != tc.upstream.String() {
			t.Errorf("String() = %q, upstream %q", tc.ours.String(), tc.upstream.String())
		}
	}
}

func TestStaleNaN(t *testing.T) {
	if !IsStaleNaN(StaleNaN()) {
		t.Fatal("IsStaleNaN(StaleNaN()) = false")
	}
	if !value.IsStaleNaN(StaleNaN()) || StaleNaNBits != value.StaleNaN {
		t.Fatalf("stale marker %#x differs from upstream's %#x", StaleNaNBits, value.StaleNaN)
	}
	for _, v := range []float64{math.NaN(), 0, math.Inf(1)} {
		if IsStaleNaN(v) {
			t.Errorf("IsStaleNaN(%v) = true", v)
		}
	}
}

func TestErrSeriesSet(t *testing.T) {
	errDisk := errors.New("disk")
	for _, tc := range []struct {
		name string
		ss   SeriesSet
		err  error
	}{
		{"empty", EmptySeriesSet(), nil},
		{"error", ErrSeriesSet(errDisk), errDisk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ss.Next() {
				t.Fatal("Next() = true on a set with nothing in it")
			}
			if err := tc.ss.Err(); err != tc.err {
				t.Fatalf("Err() = %v, want %v", err, tc.err)
			}
		})
	}
}
