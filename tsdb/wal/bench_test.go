package wal

import (
	"testing"

	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// BenchmarkLog logs one samples record of 1,000 samples per call, the size of a commit of one
// mid-sized scrape, as the head does.
func BenchmarkLog(b *testing.B) {
	w, err := Open(b.TempDir(), Options{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	samples := make([]record.RefSample, 1000)
	for i := range samples {
		samples[i] = record.RefSample{Ref: uint64(1000 + i*3), T: 1_700_000_000_000, V: float64(i) * 1.5}
	}
	var enc record.Encoder
	rec := enc.Samples(samples, nil)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Log(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogParallel measures Log under contention from several appenders.
func BenchmarkLogParallel(b *testing.B) {
	w, err := Open(b.TempDir(), Options{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	samples := make([]record.RefSample, 1000)
	for i := range samples {
		samples[i] = record.RefSample{Ref: uint64(i), T: 1_700_000_000_000, V: float64(i)}
	}
	var enc record.Encoder
	rec := enc.Samples(samples, nil)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := w.Log(rec); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkReader measures replay speed over the records BenchmarkLog writes.
func BenchmarkReader(b *testing.B) {
	dir := b.TempDir()
	w, err := Open(dir, Options{SegmentSize: 8 << 20}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	samples := make([]record.RefSample, 1000)
	for i := range samples {
		samples[i] = record.RefSample{Ref: uint64(i), T: 1_700_000_000_000, V: float64(i)}
	}
	var enc record.Encoder
	rec := enc.Samples(samples, nil)
	for range 2000 {
		if err := w.Log(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(2000 * (len(rec) + recordHeaderSize)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewReader(dir, 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for r.Next() {
			n++
		}
		if r.Err() != nil || n != 2000 {
			b.Fatalf("read %d records: %v", n, r.Err())
		}
	}
}
