package chunkenc

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strconv"
	"testing"
)

// decimalSamples returns n values of a kind that real exporters produce.
func decimalSamples(kind string, n int, r *rand.Rand) (ts []int64, vs []float64) {
	t := int64(1_700_000_000_000)
	v := 1234.56
	for i := 0; i < n; i++ {
		switch kind {
		case "cpu-seconds": // /proc/stat ticks / 100
			v = math.Round((v+15*r.Float64())*100) / 100
		case "load": // two decimals, jumping
			v = math.Round(4*r.Float64()*100) / 100
		case "negative":
			v = math.Round((r.Float64()-0.5)*1e6) / 1e3
		case "ratio": // parsed from text, 3-6 decimals
			v, _ = strconv.ParseFloat(strconv.FormatFloat(r.Float64(), 'f', 3+r.Intn(4), 64), 64)
		case "nine-digits":
			v = float64(r.Int63n(1e12)) / 1e9
		case "mixed-int": // integral values with a few fractional ones
			v = float64(r.Intn(1000))
			if i%10 == 0 {
				v += 0.5
			}
		}
		ts = append(ts, t)
		vs = append(vs, v)
		t += 15000 + int64(r.Intn(3)-1)*int64(r.Intn(50))
	}
	return ts, vs
}

func checkChunk(t *testing.T, name string, b []byte, ts []int64, vs []float64) {
	t.Helper()
	if NumSamples(b) != len(ts) {
		t.Fatalf("%s: header says %d samples, want %d", name, NumSamples(b), len(ts))
	}
	it := NewIterator(b)
	i := 0
	for it.Next() {
		gt, gv := it.At()
		if gt != ts[i] || !sameFloat(gv, vs[i]) || it.AtT() != gt {
			t.Fatalf("%s: sample %d = (%d,%v), want (%d,%v)", name, i, gt, gv, ts[i], vs[i])
		}
		i++
	}
	if it.Err() != nil || i != len(ts) {
		t.Fatalf("%s: read %d of %d, err %v", name, i, len(ts), it.Err())
	}
	for j := 0; j < len(ts); j += 5 {
		it.Reset(b)
		if !it.SeekTo(ts[j]) {
			t.Fatalf("%s: seek to %d failed", name, j)
		}
		if gt, gv := it.At(); gt != ts[j] || !sameFloat(gv, vs[j]) {
			t.Fatalf("%s: seek landed on (%d,%v), want (%d,%v)", name, gt, gv, ts[j], vs[j])
		}
	}
}

func TestDecimalRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, kind := range []string{"cpu-seconds", "load", "negative", "ratio", "nine-digits", "mixed-int"} {
		for _, n := range []int{1, 2, 3, 120, 480, 2000} {
			ts, vs := decimalSamples(kind, n, r)
			b, ok := EncodeDecimal(ts, vs)
			if !ok {
				t.Fatalf("%s/%d: not decimal-encodable", kind, n)
			}
			if Encoding(b[0]) != EncDecimal {
				t.Fatalf("%s/%d: encoding %d", kind, n, b[0])
			}
			checkChunk(t, kind, b, ts, vs)
			best := Encode(ts, vs)
			checkChunk(t, kind+"/best", best, ts, vs)
			if n >= 120 && (kind == "cpu-seconds" || kind == "load") && Encoding(best[0]) != EncDecimal && Encoding(best[0]) != EncPacked {
				t.Errorf("%s/%d: Encode chose %d, want decimal or packed", kind, n, best[0])
			}
		}
	}
}

// TestDecimalSmaller: the point of the encoding — short decimals take far fewer bytes than XOR.
func TestDecimalSmaller(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for _, tc := range []struct {
		kind string
		max  float64 // decimal bytes / XOR bytes at most
	}{{"cpu-seconds", 0.5}, {"load", 0.5}, {"ratio", 0.8}} {
		ts, vs := decimalSamples(tc.kind, 480, r)
		c := NewXORChunk()
		app, _ := c.Appender()
		for i := range ts {
			app.Append(ts[i], vs[i])
		}
		d, _ := EncodeDecimal(ts, vs)
		ratio := float64(len(d)) / float64(len(c.Bytes()))
		t.Logf("%s: XOR %d bytes, decimal %d bytes (%.2f×) for %d samples", tc.kind, len(c.Bytes()), len(d), ratio, len(ts))
		if ratio > tc.max {
			t.Errorf("%s: decimal is %.2f× XOR, want ≤ %.2f×", tc.kind, ratio, tc.max)
		}
	}
}

func TestDecimalRefuses(t *testing.T) {
	for name, vs := range map[string][]float64{
		"NaN (stale marker)": {1.5, math.Float64frombits(0x7ff0000000000002)},
		"+Inf":               {1.5, math.Inf(1)},
		"-0":                 {1.5, math.Copysign(0, -1)},
		"too many digits":    {1.5, 0.1234567891},
		"random float":       {1.5, math.Pi},
		"too big":            {1.5, 1e300},
	} {
		ts := make([]int64, len(vs))
		for i := range ts {
			ts[i] = int64(i) * 15000
		}
		if _, ok := EncodeDecimal(ts, vs); ok {
			t.Errorf("%s: decimal-encoded", name)
		}
		checkChunk(t, name, Encode(ts, vs), ts, vs)
	}
	if _, ok := EncodeDecimal(nil, nil); ok {
		t.Error("empty input encoded")
	}
}

// TestDecimalDamage: damaged headers are errors, not panics or wrong values.
func TestDecimalDamage(t *testing.T) {
	ts, vs := decimalSamples("load", 10, rand.New(rand.NewSource(6)))
	b, _ := EncodeDecimal(ts, vs)
	for name, mod := range map[string]func([]byte) []byte{
		"scale 0":      func(b []byte) []byte { b[4] = 0; return b },
		"scale 10":     func(b []byte) []byte { b[4] = 10; return b },
		"bad mode":     func(b []byte) []byte { b[3] = 7; return b },
		"short header": func(b []byte) []byte { return b[:4] },
		"truncated":    func(b []byte) []byte { return b[:len(b)/2] },
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

// FuzzDecimal is a differential test: for any values, a decimal chunk either is refused or
// decodes to exactly the values given, and Encode (the block writer's choice) always does.
func FuzzDecimal(f *testing.F) {
	f.Add([]byte{0x40, 0x09, 0x1e, 0xb8, 0x51, 0xeb, 0x85, 0x1f}) // 3.14
	f.Add([]byte{0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a, 0x40, 0x93, 0x4a, 0x3d, 0x70, 0xa3, 0xd7, 0x0a})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var vs []float64
		for len(raw) >= 8 && len(vs) < MaxSamplesPerChunk {
			v := math.Float64frombits(binary.BigEndian.Uint64(raw))
			// Bias toward decimals: round some values to a few digits.
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
		for i := range ts {
			ts[i] = int64(i) * 15000
		}
		if b, ok := EncodeDecimal(ts, vs); ok {
			checkChunk(t, "decimal", b, ts, vs)
		}
		checkChunk(t, "best", Encode(ts, vs), ts, vs)
	})
}

// FuzzDecimalIterator: arbitrary bytes behind the decimal encoding byte never panic or loop.
func FuzzDecimalIterator(f *testing.F) {
	ts, vs := decimalSamples("cpu-seconds", 20, rand.New(rand.NewSource(7)))
	b, _ := EncodeDecimal(ts, vs)
	f.Add(b)
	f.Add([]byte{byte(EncDecimal), 0, 1, 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 {
			b[0] = byte(EncDecimal)
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
