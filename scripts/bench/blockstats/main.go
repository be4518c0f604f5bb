// Command blockstats prints where the bytes of a Vigil TSDB's blocks are: index, chunk framing,
// chunks per encoding (count, bytes, samples; for packed chunks the timestamp and value
// columns), and what the chunks would take in the packed encoding and in the smallest of XOR, int
// and decimal (the block writer's choice before packed). A measuring aid for docs/performance.md:
//
//	go run ./scripts/bench/blockstats DIR
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: blockstats TSDB-DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "blockstats:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	type enc struct{ chunks, bytes, samples, repacked, old, tcol, vcol int64 }
	byEnc := map[string]*enc{}
	var indexB, metaB, framing, total, samples int64
	bds, _ := filepath.Glob(filepath.Join(dir, "*", "meta.json"))
	var ts []int64
	var vs []float64
	for _, m := range bds {
		bd := filepath.Dir(m)
		fi, err := os.Stat(filepath.Join(bd, "index"))
		if err != nil {
			return err
		}
		indexB += fi.Size()
		fm, _ := os.Stat(m)
		metaB += fm.Size()
		var meta struct {
			Stats struct{ NumSamples int64 }
		}
		b, _ := os.ReadFile(m)
		if err := json.Unmarshal(b, &meta); err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		samples += meta.Stats.NumSamples
		r, err := chunks.NewReader(filepath.Join(bd, "chunks"))
		if err != nil {
			return err
		}
		total += r.Size()
		err = r.Iterate(func(_ uint64, c []byte) error {
			e := chunkenc.Encoding(c[0]).String()
			x := byEnc[e]
			if x == nil {
				x = &enc{}
				byEnc[e] = x
			}
			x.chunks++
			x.bytes += int64(len(c))
			x.samples += int64(chunkenc.NumSamples(c))
			framing += 4 + int64(len(binary.AppendUvarint(nil, uint64(len(c)))))
			switch chunkenc.Encoding(c[0]) {
			case chunkenc.EncHistogram, chunkenc.EncFloatHistogram, chunkenc.EncHistogramColumns:
				x.repacked += int64(len(c))
				x.old += int64(len(c))
				return nil
			}
			it := chunkenc.NewIterator(c)
			ts, vs = ts[:0], vs[:0]
			for it.Next() {
				t, v := it.At()
				ts = append(ts, t)
				vs = append(vs, v)
			}
			if it.Err() != nil {
				return it.Err()
			}
			if p, ok := chunkenc.EncodePacked(ts, vs); ok && len(p) < len(c) {
				x.repacked += int64(len(p))
			} else {
				x.repacked += int64(len(c))
			}
			// Before the packed encoding: the smallest of XOR, int and decimal.
			xc := chunkenc.NewXORChunk()
			app, _ := xc.Appender()
			for i := range ts {
				app.Append(ts[i], vs[i])
			}
			old := len(xc.Bytes())
			if o, ok := chunkenc.EncodeInt(ts, vs); ok {
				old = min(old, len(o))
			} else if o, ok := chunkenc.EncodeDecimal(ts, vs); ok {
				old = min(old, len(o))
			}
			x.old += int64(old)
			if chunkenc.Encoding(c[0]) == chunkenc.EncPacked && len(ts) > 1 {
				off := 4
				_, n := binary.Varint(c[off:])
				off += n
				_, n = binary.Varint(c[off:])
				off += n
				l, n := binary.Uvarint(c[off:])
				x.tcol += int64(l)
				x.vcol += int64(len(c) - off - n - int(l))
			}
			return nil
		})
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", bd, err)
		}
	}
	fmt.Printf("blocks %d, samples %d, index %d B (%.3f B/sample), meta %d B, chunk files %d B (%.3f B/sample), framing %d B (%.3f B/sample)\n",
		len(bds), samples, indexB, float64(indexB)/float64(samples), metaB, total, float64(total)/float64(samples), framing, float64(framing)/float64(samples))
	var names []string
	for n := range byEnc {
		names = append(names, n)
	}
	sort.Strings(names)
	var rp int64
	for _, n := range names {
		x := byEnc[n]
		rp += x.repacked
		fs := func(v int64) float64 { return float64(v) / float64(x.samples) }
		fmt.Printf("  %-10s chunks %9d  bytes %11d  samples %11d  %.3f B/sample  %.1f samples/chunk  repacked %.3f  before packed (XOR/int/decimal) %.3f  timestamp column %.3f  value column %.3f B/sample\n",
			n, x.chunks, x.bytes, x.samples, fs(x.bytes), float64(x.samples)/float64(x.chunks), fs(x.repacked), fs(x.old), fs(x.tcol), fs(x.vcol))
	}
	var old int64
	for _, x := range byEnc {
		old += x.old
	}
	fmt.Printf("whole blocks: %.3f B/sample now, %.3f with every chunk packed where smaller, %.3f before packed (XOR/int/decimal)\n",
		float64(indexB+metaB+framing+total-framing)/float64(samples), float64(indexB+metaB+framing+rp)/float64(samples), float64(indexB+metaB+framing+old)/float64(samples))
	return nil
}
