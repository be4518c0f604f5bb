package chunkenc

import (
	"encoding/binary"
	"math"
	"math/rand"
	"slices"
	"syscall"
	"testing"
	"time"
)

// packedSamples returns n samples of a kind real exporters produce, at a 15 s interval with
// the given timestamp jitter (± ms) and, when gaps is set, an occasional missed scrape.
func packedSamples(kind string, n int, jitter int, gaps bool, r *rand.Rand) (ts []int64, vs []float64) {
	t := int64(1_700_000_000_000)
	v := 1234.0
	if kind == "page-gauge" {
		v = 1 << 32
	}
	for i := 0; i < n; i++ {
		switch kind {
		case "cpu-seconds": // /proc/stat ticks / 100
			v = math.Round((v+15*r.Float64())*100) / 100
		case "counter-int":
			v += float64(r.Intn(100000))
		case "counter-reset":
			v += float64(r.Intn(1000))
			if i == n/2 {
				v = 3
			}
		case "page-gauge": // bytes moving by 4 KiB pages
			v = math.Max(0, v+float64(r.Intn(33)-16)*4096)
		case "rare":
			if r.Intn(500) == 0 {
				v++
			}
		case "load":
			v = math.Round(4*r.Float64()*100) / 100
		case "constant":
			v = 0.25
		case "negative":
			v = math.Round((r.Float64()-0.5)*1e6) / 1e3
		case "big":
			v = float64(r.Int63n(1<<53)) * float64(1-2*(i%2))
		case "extremes":
			v = []float64{1 << 53, -(1 << 53), 0, 1, -1}[i%5]
		}
		ts = append(ts, t)
		vs = append(vs, v)
		t += 15000
		if jitter > 0 {
			t += int64(r.Intn(2*jitter+1) - jitter)
		}
		if gaps && i%97 == 50 {
			t += 15000
		}
	}
	return ts, vs
}

var packedKinds = []string{"cpu-seconds", "counter-int", "counter-reset", "page-gauge", "rare", "load", "constant", "negative", "big", "extremes"}

func TestPackedRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for _, kind := range packedKinds {
		for _, jitter := range []int{0, 3, 50} {
			for _, n := range []int{1, 2, 3, 4, 120, 480, 2000} {
				ts, vs := packedSamples(kind, n, jitter, jitter == 50, r)
				b, ok := EncodePacked(ts, vs)
				if !ok {
					t.Fatalf("%s/%d: not packable", kind, n)
				}
				if Encoding(b[0]) != EncPacked {
					t.Fatalf("%s/%d: encoding %d", kind, n, b[0])
				}
				checkChunk(t, kind, b, ts, vs)
				checkChunk(t, kind+"/best", Encode(ts, vs), ts, vs)
			}
		}
	}
}

// TestPackedExtremeTimestamps: deltas and deltas of deltas that wrap int64 decode exactly.
func TestPackedExtremeTimestamps(t *testing.T) {
	for name, ts := range map[string][]int64{
		"wide":     {math.MinInt64, 0, math.MaxInt64},
		"wide-dod": {math.MinInt64 + 1, -1, math.MaxInt64, math.MaxInt64},
		"negative": {-5_000, -4_000, -2_000, 1_000, 1_001},
	} {
		vs := make([]float64, len(ts))
		for i := range vs {
			vs[i] = float64(i)
		}
		b, ok := EncodePacked(ts, vs)
		if !ok {
			t.Fatalf("%s: not packable", name)
		}
		it := NewIterator(b)
		for i := 0; it.Next(); i++ {
			if gt, gv := it.At(); gt != ts[i] || gv != vs[i] {
				t.Fatalf("%s: sample %d = (%d,%v), want (%d,%v)", name, i, gt, gv, ts[i], vs[i])
			}
		}
		if it.Err() != nil {
			t.Fatalf("%s: %v", name, it.Err())
		}
	}
}

// TestPackedSmaller: what the encoding is for. A chunk of 480 samples is at most this share
// of the int or decimal encoding's bytes (the bound is a little above what it measures).
func TestPackedSmaller(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, tc := range []struct {
		kind   string
		jitter int
		max    float64
	}{
		{"cpu-seconds", 0, 0.62}, // deltas of up to 1,500 hundredths: 11 bits, not 19
		{"cpu-seconds", 5, 0.85}, // timestamps jittered by ±5 ms: ~4 bits, not 16
		{"page-gauge", 0, 0.45},  // deltas are multiples of 4,096: 6 bits, not 19
		{"load", 0, 0.90},        // values in 0..400: 9 bits
		{"counter-int", 5, 0.75}, // 17 bits + timestamps
		{"counter-reset", 0, 0.75} /* one reset does not widen the column */, {"constant", 0, 1},
	} {
		ts, vs := packedSamples(tc.kind, 480, tc.jitter, false, r)
		old, ok := EncodeInt(ts, vs)
		if !ok {
			old, _ = EncodeDecimal(ts, vs)
		}
		p, _ := EncodePacked(ts, vs)
		ratio := float64(len(p)) / float64(len(old))
		t.Logf("%s ±%d ms: int/decimal %d bytes, packed %d bytes (%.2f×)", tc.kind, tc.jitter, len(old), len(p), ratio)
		if ratio > tc.max {
			t.Errorf("%s ±%d ms: packed is %.2f× the int/decimal chunk, want ≤ %.2f×", tc.kind, tc.jitter, ratio, tc.max)
		}
		if best := Encode(ts, vs); len(best) > len(p) || len(best) > len(old) {
			t.Errorf("%s: Encode chose %d bytes (encoding %d), packed %d, int/decimal %d", tc.kind, len(best), best[0], len(p), len(old))
		}
	}
}

func TestPackedRefuses(t *testing.T) {
	for name, vs := range map[string][]float64{
		"NaN (stale marker)": {1.5, math.Float64frombits(0x7ff0000000000002)},
		"+Inf":               {1, math.Inf(1)},
		"-0":                 {1, math.Copysign(0, -1)},
		"too many digits":    {1.5, 0.1234567891},
		"random float":       {1.5, math.Pi},
		"too big":            {1, 1e300},
	} {
		ts := make([]int64, len(vs))
		for i := range ts {
			ts[i] = int64(i) * 15000
		}
		if _, ok := EncodePacked(ts, vs); ok {
			t.Errorf("%s: packed", name)
		}
		checkChunk(t, name, Encode(ts, vs), ts, vs)
	}
	if _, ok := EncodePacked(nil, nil); ok {
		t.Error("empty input encoded")
	}
}

// TestPackedDamage: damaged headers are errors, not panics or wrong values.
func TestPackedDamage(t *testing.T) {
	ts, vs := packedSamples("cpu-seconds", 10, 3, false, rand.New(rand.NewSource(10)))
	b, _ := EncodePacked(ts, vs)
	for name, mod := range map[string]func([]byte) []byte{
		"scale 10":          func(b []byte) []byte { b[3] = 10; return b },
		"short header":      func(b []byte) []byte { return b[:3] },
		"no first value":    func(b []byte) []byte { return b[:5] },
		"column length":     func(b []byte) []byte { b[packedColumnLength(b)] = 0x7f; return b },
		"truncated":         func(b []byte) []byte { return b[:len(b)/2] },
		"more samples":      func(b []byte) []byte { b[2] += 40; return b },
		"no value column":   func(b []byte) []byte { return b[:packedValueColumn(b)] },
		"bad order":         func(b []byte) []byte { b[packedValueColumn(b)] = 3; return b },
		"bad width":         func(b []byte) []byte { b[packedValueColumn(b)+1] = 65; return b },
		"divisor too large": func(b []byte) []byte { return packedSetDivisor(b, packedMaxGCD) },
		"divisor 0":         func(b []byte) []byte { return packedSetDivisor(b, 0) },
	} {
		d := mod(append([]byte(nil), b...))
		it := NewIterator(d)
		for it.Next() {
		}
		if it.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// packedColumnLength returns the offset of a packed chunk's timestamp column length.
func packedColumnLength(b []byte) int {
	off := chunkHeaderSize + 1
	_, n := binary.Varint(b[off:])
	off += n
	_, n = binary.Varint(b[off:])
	return off + n
}

// packedValueColumn returns the offset of a packed chunk's value column.
func packedValueColumn(b []byte) int {
	off := packedColumnLength(b)
	l, n := binary.Uvarint(b[off:])
	return off + n + int(l)
}

// packedSetDivisor rewrites the value column's divisor.
func packedSetDivisor(b []byte, g uint64) []byte {
	off := packedValueColumn(b) + 2
	_, n := binary.Varint(b[off:])
	off += n
	_, m := binary.Uvarint(b[off:])
	out := append([]byte(nil), b[:off]...)
	out = binary.AppendUvarint(out, g)
	return append(out, b[off+m:]...)
}

// TestPackedWithStartTimestamps: a packed (or decimal) chunk inside an EncST chunk reads with
// its start timestamps.
func TestPackedWithStartTimestamps(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, kind := range []string{"cpu-seconds", "counter-int"} {
		ts, vs := packedSamples(kind, 480, 0, false, r)
		sts := make([]int64, len(ts))
		for i := range sts {
			sts[i] = ts[0] - 1000
		}
		b := EncodeST(ts, vs, sts)
		it := NewIterator(b)
		i := 0
		for ; it.Next(); i++ {
			if gt, gv := it.At(); gt != ts[i] || !sameFloat(gv, vs[i]) || it.AtST() != sts[i] {
				t.Fatalf("%s: sample %d = (%d,%v,st %d), want (%d,%v,st %d)", kind, i, gt, gv, it.AtST(), ts[i], vs[i], sts[i])
			}
		}
		if it.Err() != nil || i != len(ts) {
			t.Fatalf("%s: read %d of %d, err %v", kind, i, len(ts), it.Err())
		}
	}
}

// TestSTAroundEveryEncoding: an EncST chunk reads its samples and start timestamps whatever
// float encoding it wraps (a decimal one used to read as empty).
func TestSTAroundEveryEncoding(t *testing.T) {
	ts, vs := packedSamples("cpu-seconds", 100, 3, false, rand.New(rand.NewSource(17)))
	var col STColumn
	sts := make([]int64, len(ts))
	for i := range ts {
		sts[i] = ts[0] - 500
		col.Append(ts[i], sts[i])
	}
	x := NewXORChunk()
	app, _ := x.Appender()
	for i := range ts {
		app.Append(ts[i], vs[i])
	}
	d, _ := EncodeDecimal(ts, vs)
	p, _ := EncodePacked(ts, vs)
	ints := make([]float64, len(vs))
	for i, v := range vs {
		ints[i] = math.Round(v)
	}
	in, _ := EncodeInt(ts, ints)
	for _, tc := range []struct {
		inner []byte
		vs    []float64
	}{{x.Bytes(), vs}, {d, vs}, {p, vs}, {in, ints}} {
		name := Encoding(tc.inner[0]).String()
		it := NewIterator(AppendWithST(nil, tc.inner, col.Bytes()))
		i := 0
		for ; it.Next(); i++ {
			if gt, gv := it.At(); gt != ts[i] || !sameFloat(gv, tc.vs[i]) || it.AtST() != sts[i] {
				t.Fatalf("%s: sample %d = (%d,%v,st %d), want (%d,%v,st %d)", name, i, gt, gv, it.AtST(), ts[i], tc.vs[i], sts[i])
			}
		}
		if it.Err() != nil || i != len(ts) {
			t.Fatalf("%s: read %d of %d, err %v", name, i, len(ts), it.Err())
		}
	}
}

// FuzzPacked is a differential test: for any timestamps and values, a packed chunk either is
// refused or decodes to exactly the samples given, and Encode (the block writer's choice)
// always does.
func FuzzPacked(f *testing.F) {
	f.Add([]byte{0x40, 0x09, 0x1e, 0xb8, 0x51, 0xeb, 0x85, 0x1f}, []byte{1, 2, 3})
	f.Add([]byte{0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x40, 0x93, 0x4a, 0x3d, 0x70, 0xa3, 0xd7, 0x0a}, []byte{0x80, 0, 0x7f})
	f.Fuzz(func(t *testing.T, raw, jitter []byte) {
		var vs []float64
		for len(raw) >= 8 && len(vs) < MaxSamplesPerChunk {
			v := math.Float64frombits(binary.BigEndian.Uint64(raw))
			// Bias toward integers and decimals.
			if k := int(raw[7] % 12); k <= maxDecimalScale && !math.IsNaN(v) && !math.IsInf(v, 0) {
				v = math.Round(math.Mod(v, 1e6)*pow10[k]) / pow10[k]
			}
			vs = append(vs, v)
			raw = raw[8:]
		}
		if len(vs) == 0 {
			return
		}
		ts := make([]int64, len(vs))
		t0 := int64(1_700_000_000_000)
		for i := range ts {
			ts[i] = t0 + int64(i)*15000
			if len(jitter) > 0 {
				ts[i] += int64(int8(jitter[i%len(jitter)])) * int64(1+i%3)
			}
		}
		if b, ok := EncodePacked(ts, vs); ok {
			checkChunk(t, "packed", b, ts, vs)
		}
		checkChunk(t, "best", Encode(ts, vs), ts, vs)
		if _, ms, ok := mantissas(vs); ok {
			for _, mode := range []byte{intModeDelta, intModeDoD} {
				if got, want := intModeSize(ts, ms, mode), len(encodeIntMode(ts, intFloats(ms), mode)); got != want {
					t.Fatalf("int mode %d: size %d, encoded %d", mode, got, want)
				}
			}
		}
	})
}

// FuzzPackedIterator: arbitrary bytes behind the packed encoding byte never panic or loop.
func FuzzPackedIterator(f *testing.F) {
	ts, vs := packedSamples("cpu-seconds", 20, 3, true, rand.New(rand.NewSource(12)))
	b, _ := EncodePacked(ts, vs)
	f.Add(b)
	f.Add([]byte{byte(EncPacked), 0, 1, 0, 2, 2})
	f.Add([]byte{byte(EncPacked), 0xff, 0xff, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 {
			b[0] = byte(EncPacked)
		}
		it := NewIterator(b)
		n := 0
		for it.Next() {
			it.At()
			if n++; n > MaxSamplesPerChunk {
				t.Fatal("more samples than a chunk holds")
			}
		}
		_ = it.Err()
		it.Reset(b)
		it.SeekTo(100)
	})
}

// BenchmarkIteratePacked compares reading a 480-sample chunk in each encoding that holds it.
func BenchmarkIteratePacked(b *testing.B) {
	r := rand.New(rand.NewSource(13))
	for _, kind := range []string{"cpu-seconds", "counter-int", "page-gauge"} {
		ts, vs := packedSamples(kind, 480, 3, false, r)
		x := NewXORChunk()
		app, _ := x.Appender()
		for i := range ts {
			app.Append(ts[i], vs[i])
		}
		encs := map[string][]byte{"xor": x.Bytes()}
		if c, ok := EncodeInt(ts, vs); ok {
			encs["int"] = c
		} else if c, ok := EncodeDecimal(ts, vs); ok {
			encs["decimal"] = c
		}
		encs["packed"], _ = EncodePacked(ts, vs)
		for name, c := range encs {
			b.Run(kind+"/"+name, func(b *testing.B) {
				var it Iterator
				var sum float64
				for b.Loop() {
					it.Reset(c)
					for it.Next() {
						_, v := it.At()
						sum += v
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ts)), "ns/sample")
				b.ReportMetric(float64(len(c))/float64(len(ts)), "B/sample")
			})
		}
	}
}

// BenchmarkEncodeBlockChunk is the block writer's cost per 480-sample chunk (Encode tries every
// encoding that can hold the samples), and EncodePacked's share of it. cpu-ns/op is the
// process's CPU time (this machine is shared: wall time is mostly waiting for a core).
func BenchmarkEncodeBlockChunk(b *testing.B) {
	r := rand.New(rand.NewSource(14))
	for _, kind := range []string{"cpu-seconds", "counter-int"} {
		ts, vs := packedSamples(kind, 480, 3, false, r)
		for name, f := range map[string]func(){
			"Encode":       func() { Encode(ts, vs) },
			"EncodePacked": func() { EncodePacked(ts, vs) },
		} {
			b.Run(kind+"/"+name, func(b *testing.B) {
				c0 := cpuTime()
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestSelectNth(t *testing.T) {
	r := rand.New(rand.NewSource(15))
	for _, n := range []int{1, 2, 3, 10, 479, 1000} {
		for _, spread := range []int64{1, 3, 1 << 40} {
			a := make([]int64, n)
			for i := range a {
				a[i] = r.Int63n(spread) - spread/2
			}
			sorted := append([]int64(nil), a...)
			slices.Sort(sorted)
			for _, k := range []int{0, n / 2, n - 1} {
				if got := selectNth(append([]int64(nil), a...), k); got != sorted[k] {
					t.Fatalf("n=%d spread=%d: element %d = %d, want %d", n, spread, k, got, sorted[k])
				}
			}
		}
	}
}

// TestIntModeSize: the block writer's size estimate of the int encoding is its exact size.
func TestIntModeSize(t *testing.T) {
	r := rand.New(rand.NewSource(18))
	for _, kind := range packedKinds {
		for _, n := range []int{1, 2, 3, 480} {
			ts, vs := packedSamples(kind, n, 40, true, r)
			_, ms, ok := mantissas(vs)
			if !ok {
				t.Fatalf("%s: no mantissas", kind)
			}
			for _, mode := range []byte{intModeDelta, intModeDoD} {
				if got, want := intModeSize(ts, ms, mode), len(encodeIntMode(ts, intFloats(ms), mode)); got != want {
					t.Errorf("%s/%d mode %d: size %d, encoded %d", kind, n, mode, got, want)
				}
			}
		}
	}
}

func intFloats(ms []int64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = float64(m)
	}
	return out
}
