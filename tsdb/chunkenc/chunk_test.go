package chunkenc

import (
	"math"
	"math/rand"
	"testing"
)

type sample struct {
	t int64
	v float64
}

func genSamples(kind string, n int, r *rand.Rand) []sample {
	out := make([]sample, n)
	t := int64(1_700_000_000_000)
	v := 0.0
	for i := range out {
		switch kind {
		case "counter":
			v += float64(r.Intn(100))
		case "gauge-int":
			v = float64(r.Intn(100))
		case "gauge-float":
			v = r.NormFloat64() * 1e3
		case "constant":
			v = 42
		case "special":
			v = []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.Float64frombits(0x7ff0000000000002), 1e300, -5}[i%7]
		case "big":
			v = float64(r.Int63n(1<<53)) * float64(1-2*(i%2))
		}
		out[i] = sample{t, v}
		t += 15000 + int64(r.Intn(3)-1)*int64(r.Intn(50)) // jitter
		if i%37 == 0 {
			t += int64(r.Intn(1 << 22)) // an occasional gap
		}
	}
	return out
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, kind := range []string{"counter", "gauge-int", "gauge-float", "constant", "special", "big"} {
		for _, n := range []int{1, 2, 3, 120, 1000} {
			samples := genSamples(kind, n, r)
			c := NewXORChunk()
			app, err := c.Appender()
			if err != nil {
				t.Fatal(err)
			}
			ts := make([]int64, n)
			vs := make([]float64, n)
			for i, s := range samples {
				app.Append(s.t, s.v)
				ts[i], vs[i] = s.t, s.v
			}
			encodings := map[string][]byte{"xor": c.Bytes(), "best": Encode(ts, vs)}
			if b, ok := EncodeInt(ts, vs); ok {
				encodings["int"] = b
			} else if kind == "counter" || kind == "gauge-int" || kind == "constant" {
				t.Fatalf("%s: integral samples not int-encodable", kind)
			}
			for name, b := range encodings {
				if NumSamples(b) != n {
					t.Fatalf("%s/%d/%s: header says %d samples", kind, n, name, NumSamples(b))
				}
				it := NewIterator(b)
				i := 0
				for it.Next() {
					gt, gv := it.At()
					if gt != samples[i].t || !sameFloat(gv, samples[i].v) {
						t.Fatalf("%s/%d/%s: sample %d = (%d,%v), want (%d,%v)", kind, n, name, i, gt, gv, samples[i].t, samples[i].v)
					}
					i++
				}
				if it.Err() != nil || i != n {
					t.Fatalf("%s/%d/%s: read %d of %d, err %v", kind, n, name, i, n, it.Err())
				}
				// Seek to every 7th sample's timestamp and just past it.
				for j := 0; j < n; j += 7 {
					it.Reset(b)
					if !it.SeekTo(samples[j].t) {
						t.Fatalf("%s/%s: seek %d failed", kind, name, j)
					}
					if gt, _ := it.At(); gt != samples[j].t {
						t.Fatalf("%s/%s: seek landed on %d, want %d", kind, name, gt, samples[j].t)
					}
					if it.SeekTo(samples[j].t - 1) { // must not move back
						if gt, _ := it.At(); gt != samples[j].t {
							t.Fatalf("%s/%s: seek moved backwards", kind, name)
						}
					}
					ok := it.SeekTo(samples[j].t + 1)
					if ok != (j+1 < n) {
						t.Fatalf("%s/%s: seek past %d = %v", kind, name, j, ok)
					}
				}
			}
			// Reopening an appender continues where the chunk left off.
			if n > 1 {
				app2, err := c.Appender()
				if err != nil {
					t.Fatal(err)
				}
				last := samples[n-1]
				app2.Append(last.t+15000, last.v+1)
				it := NewIterator(c.Bytes())
				var got int
				var gt int64
				var gv float64
				for it.Next() {
					got++
					gt, gv = it.At()
				}
				if got != n+1 || gt != last.t+15000 || !sameFloat(gv, last.v+1) || it.Err() != nil {
					t.Fatalf("%s/%d: appender reopen: got %d samples, last (%d,%v), err %v", kind, n, got, gt, gv, it.Err())
				}
			}
		}
	}
}

func TestIntIsSmallerForIntegers(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, kind := range []string{"counter", "gauge-int", "constant"} {
		s := genSamples(kind, 120, r)
		ts := make([]int64, len(s))
		vs := make([]float64, len(s))
		c := NewXORChunk()
		app, _ := c.Appender()
		for i := range s {
			ts[i], vs[i] = s[i].t, s[i].v
			app.Append(s[i].t, s[i].v)
		}
		best := Encode(ts, vs)
		if len(best) > len(c.Bytes()) {
			t.Fatalf("%s: best encoding %d bytes is larger than XOR %d", kind, len(best), len(c.Bytes()))
		}
		t.Logf("%s: XOR %d bytes, best (%s) %d bytes for %d samples", kind, len(c.Bytes()), Encoding(best[0]), len(best), len(s))
	}
}

func FuzzIterator(f *testing.F) {
	c := NewXORChunk()
	app, _ := c.Appender()
	for i := 0; i < 10; i++ {
		app.Append(int64(i*1000), float64(i*i))
	}
	f.Add(c.Bytes())
	b, _ := EncodeInt([]int64{1, 2, 3, 5}, []float64{1, 5, 9, 100})
	f.Add(b)
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		it := NewIterator(b)
		n := 0
		for it.Next() {
			it.At()
			n++
			if n > MaxSamplesPerChunk {
				t.Fatalf("iterator returned more samples than a chunk can hold")
			}
		}
		_ = it.Err()
		it.Reset(b)
		it.SeekTo(100)
	})
}

func BenchmarkXORAppend(b *testing.B) {
	r := rand.New(rand.NewSource(3))
	s := genSamples("counter", 120, r)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c := NewXORChunk()
		app, _ := c.Appender()
		for _, x := range s {
			app.Append(x.t, x.v)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s)), "ns/sample")
}

func BenchmarkIterate(b *testing.B) {
	r := rand.New(rand.NewSource(3))
	s := genSamples("counter", 120, r)
	ts := make([]int64, len(s))
	vs := make([]float64, len(s))
	for i := range s {
		ts[i], vs[i] = s[i].t, s[i].v
	}
	for _, enc := range []string{"xor", "int"} {
		var chunk []byte
		if enc == "int" {
			chunk, _ = EncodeInt(ts, vs)
		} else {
			c := NewXORChunk()
			app, _ := c.Appender()
			for _, x := range s {
				app.Append(x.t, x.v)
			}
			chunk = c.Bytes()
		}
		b.Run(enc, func(b *testing.B) {
			it := &Iterator{}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				it.Reset(chunk)
				for it.Next() {
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s)), "ns/sample")
		})
	}
}
