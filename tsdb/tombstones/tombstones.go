// Package tombstones records deleted time ranges per series, in memory and in a block's
// tombstones file.
//
// # File format
//
//	header  "VGTB" | version byte (1) | 3 reserved zero bytes
//	body    uvarint(#series), then per series in ascending ref order:
//	          uvarint(ref - previous ref; absolute for the first)
//	          uvarint(#intervals), then per interval, ascending and disjoint:
//	            varint(mint - previous maxt; mint itself for the first) | uvarint(maxt - mint)
//	trailer CRC32-Castagnoli of header and body, big endian
//
// The file is small and read whole; it is replaced atomically (write to a temporary file, fsync,
// rename).
package tombstones

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

const (
	// Filename is the name of the tombstones file in a block directory.
	Filename = "tombstones"
	// Magic opens the tombstones file.
	Magic = "VGTB"
	// FormatV1 is the only format version.
	FormatV1 = 1

	headerSize = 8
	crcSize    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Interval is a closed time range [Mint, Maxt] in milliseconds.
type Interval struct {
	Mint, Maxt int64
}

// InBounds reports whether t lies in the interval.
func (iv Interval) InBounds(t int64) bool { return iv.Mint <= t && t <= iv.Maxt }

// IsSubrange reports whether iv lies entirely within one of dranges.
func (iv Interval) IsSubrange(dranges Intervals) bool {
	for _, r := range dranges {
		if r.Mint <= iv.Mint && iv.Maxt <= r.Maxt {
			return true
		}
	}
	return false
}

// Intervals is a sorted list of disjoint, non-adjacent intervals.
type Intervals []Interval

// Add returns the list with n added: intervals that overlap n or touch it (timestamps are
// discrete, so [1,2] and [3,4] make [1,4]) are merged into one. Like append, it may reuse the
// receiver's backing array. An interval with Maxt < Mint is ignored.
func (in Intervals) Add(n Interval) Intervals {
	if n.Maxt < n.Mint {
		return in
	}
	// First interval that ends at or after n.Mint-1 (could merge with n).
	lo := sort.Search(len(in), func(i int) bool {
		return n.Mint == math.MinInt64 || in[i].Maxt >= n.Mint-1
	})
	// First interval that starts after n.Maxt+1 (cannot merge with n).
	hi := lo + sort.Search(len(in)-lo, func(i int) bool {
		return n.Maxt != math.MaxInt64 && in[lo+i].Mint > n.Maxt+1
	})
	if lo < hi {
		n.Mint = min(n.Mint, in[lo].Mint)
		n.Maxt = max(n.Maxt, in[hi-1].Maxt)
	}
	// Replace in[lo:hi] with n.
	return slices.Replace(in, lo, hi, n)
}

// InBounds reports whether t lies in any of the intervals.
func (in Intervals) InBounds(t int64) bool {
	i := sort.Search(len(in), func(i int) bool { return in[i].Maxt >= t })
	return i < len(in) && in[i].Mint <= t
}

// Reader gives access to the tombstones of a block or of the head.
type Reader interface {
	// Get returns the deleted intervals of series ref (nil if none). The result is the
	// caller's to keep.
	Get(ref uint64) (Intervals, error)
	// Iter calls f for every series with tombstones, in ascending ref order, and stops at the
	// first error f returns.
	Iter(f func(ref uint64, ivs Intervals) error) error
	// Total returns the number of intervals over all series.
	Total() uint64
}

// MemTombstones is an in-memory Reader that can be modified. It is safe for concurrent use.
type MemTombstones struct {
	mtx      sync.RWMutex
	intvlGrp map[uint64]Intervals
}

// NewMemTombstones returns an empty set of tombstones.
func NewMemTombstones() *MemTombstones {
	return &MemTombstones{intvlGrp: map[uint64]Intervals{}}
}

// AddInterval adds deleted intervals to series ref, merging them with those it has.
func (t *MemTombstones) AddInterval(ref uint64, itvs ...Interval) {
	t.mtx.Lock()
	defer t.mtx.Unlock()
	ivs := t.intvlGrp[ref]
	for _, iv := range itvs {
		ivs = ivs.Add(iv)
	}
	if len(ivs) > 0 {
		t.intvlGrp[ref] = ivs
	}
}

// DeleteTombstones removes all tombstones of the given series.
func (t *MemTombstones) DeleteTombstones(refs map[uint64]struct{}) {
	t.mtx.Lock()
	defer t.mtx.Unlock()
	for ref := range refs {
		delete(t.intvlGrp, ref)
	}
}

// TruncateBefore drops the parts of all intervals before beforeT, as data older than that is
// gone anyway (head truncation).
func (t *MemTombstones) TruncateBefore(beforeT int64) {
	t.mtx.Lock()
	defer t.mtx.Unlock()
	for ref, ivs := range t.intvlGrp {
		i := sort.Search(len(ivs), func(i int) bool { return ivs[i].Maxt >= beforeT })
		if i == len(ivs) {
			delete(t.intvlGrp, ref)
			continue
		}
		// Copy rather than reslice, so that a list returned by an earlier Get is unaffected.
		kept := slices.Clone(ivs[i:])
		kept[0].Mint = max(kept[0].Mint, beforeT)
		t.intvlGrp[ref] = kept
	}
}

// Get implements Reader.
func (t *MemTombstones) Get(ref uint64) (Intervals, error) {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	// A copy: AddInterval may modify the stored list in place.
	return slices.Clone(t.intvlGrp[ref]), nil
}

// Iter implements Reader. f runs on a snapshot, so it may modify t.
func (t *MemTombstones) Iter(f func(ref uint64, ivs Intervals) error) error {
	t.mtx.RLock()
	refs := make([]uint64, 0, len(t.intvlGrp))
	for ref := range t.intvlGrp {
		refs = append(refs, ref)
	}
	snap := make(map[uint64]Intervals, len(refs))
	for _, ref := range refs {
		snap[ref] = slices.Clone(t.intvlGrp[ref])
	}
	t.mtx.RUnlock()
	slices.Sort(refs)
	for _, ref := range refs {
		if err := f(ref, snap[ref]); err != nil {
			return err
		}
	}
	return nil
}

// Total implements Reader.
func (t *MemTombstones) Total() uint64 {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	var n uint64
	for _, ivs := range t.intvlGrp {
		n += uint64(len(ivs))
	}
	return n
}

// Encode returns the file content for the tombstones of tr.
func Encode(tr Reader) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, Magic...)
	b = append(b, FormatV1, 0, 0, 0)
	type entry struct {
		ref uint64
		ivs Intervals
	}
	var entries []entry
	if err := tr.Iter(func(ref uint64, ivs Intervals) error {
		// Normalise, in case a Reader hands out unsorted or overlapping lists.
		var norm Intervals
		for _, iv := range ivs {
			norm = norm.Add(iv)
		}
		if len(norm) > 0 {
			entries = append(entries, entry{ref, norm})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("iterate tombstones: %w", err)
	}
	slices.SortFunc(entries, func(a, b entry) int {
		switch {
		case a.ref < b.ref:
			return -1
		case a.ref > b.ref:
			return 1
		}
		return 0
	})
	b = binary.AppendUvarint(b, uint64(len(entries)))
	var prevRef uint64
	for i, e := range entries {
		if i > 0 && e.ref == prevRef {
			return nil, fmt.Errorf("tombstones: series %d listed twice", e.ref)
		}
		b = binary.AppendUvarint(b, e.ref-prevRef)
		prevRef = e.ref
		b = binary.AppendUvarint(b, uint64(len(e.ivs)))
		for j, iv := range e.ivs {
			if j == 0 {
				b = binary.AppendVarint(b, iv.Mint)
			} else {
				b = binary.AppendVarint(b, iv.Mint-e.ivs[j-1].Maxt)
			}
			b = binary.AppendUvarint(b, uint64(iv.Maxt-iv.Mint))
		}
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// Decode parses the content of a tombstones file. Damage (bad magic, version, checksum, or any
// inconsistency) is an error, never a panic; allocation is bounded by len(b).
func Decode(b []byte) (*MemTombstones, error) {
	if len(b) < headerSize+crcSize {
		return nil, fmt.Errorf("tombstones: file of %d bytes is too short", len(b))
	}
	if !bytes.Equal(b[:4], []byte(Magic)) {
		return nil, fmt.Errorf("tombstones: bad magic %x", b[:4])
	}
	if b[4] != FormatV1 {
		return nil, fmt.Errorf("tombstones: unsupported version %d", b[4])
	}
	body := b[:len(b)-crcSize]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(b[len(b)-crcSize:]); got != want {
		return nil, fmt.Errorf("tombstones: checksum mismatch: stored %08x, computed %08x", want, got)
	}
	d := body[headerSize:]
	var err error
	uvarint := func() uint64 {
		if err != nil {
			return 0
		}
		v, n := binary.Uvarint(d)
		if n <= 0 {
			err = errors.New("truncated or overlong varint")
			return 0
		}
		d = d[n:]
		return v
	}
	varint := func() int64 {
		if err != nil {
			return 0
		}
		v, n := binary.Varint(d)
		if n <= 0 {
			err = errors.New("truncated or overlong varint")
			return 0
		}
		d = d[n:]
		return v
	}
	t := NewMemTombstones()
	nSeries := uvarint()
	if nSeries > uint64(len(d)) {
		return nil, fmt.Errorf("tombstones: %d series cannot fit in %d bytes", nSeries, len(d))
	}
	var ref uint64
	for i := range nSeries {
		delta := uvarint()
		if i > 0 && delta == 0 {
			return nil, errors.New("tombstones: series out of order")
		}
		if ref+delta < ref {
			return nil, errors.New("tombstones: series ref overflows")
		}
		ref += delta
		n := uvarint()
		if err != nil {
			break
		}
		if n == 0 || n > uint64(len(d))/2 {
			return nil, fmt.Errorf("tombstones: series %d: %d intervals in %d bytes", ref, n, len(d))
		}
		ivs := make(Intervals, 0, n)
		var prevMaxt int64
		for j := range n {
			var iv Interval
			if j == 0 {
				iv.Mint = varint()
			} else {
				// Differences are taken in wrapping int64 arithmetic on both sides, so the
				// round trip is exact for any timestamps. Stored intervals are disjoint and
				// not adjacent: mint >= previous maxt + 2.
				iv.Mint = prevMaxt + varint()
				if prevMaxt > math.MaxInt64-2 || iv.Mint < prevMaxt+2 {
					err = fmt.Errorf("series %d: intervals out of order", ref)
				}
			}
			dur := uvarint()
			if err != nil {
				break
			}
			// Without overflow the sum is >= Mint; with it, it wraps below.
			iv.Maxt = iv.Mint + int64(dur)
			if iv.Maxt < iv.Mint {
				err = fmt.Errorf("series %d: interval end overflows", ref)
				break
			}
			prevMaxt = iv.Maxt
			ivs = append(ivs, iv)
		}
		if err != nil {
			break
		}
		t.intvlGrp[ref] = ivs
	}
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	if len(d) != 0 {
		return nil, fmt.Errorf("tombstones: %d trailing bytes", len(d))
	}
	return t, nil
}

// WriteFile writes the tombstones of tr to dir/tombstones, replacing any existing file
// atomically, and returns the file size.
func WriteFile(logger *slog.Logger, dir string, tr Reader) (int64, error) {
	b, err := Encode(tr)
	if err != nil {
		return 0, err
	}
	if err := fileutil.WriteFileAtomic(filepath.Join(dir, Filename), b); err != nil {
		return 0, fmt.Errorf("writing tombstones: %w", err)
	}
	return int64(len(b)), nil
}

// ReadTombstones reads dir/tombstones. A missing file means no tombstones.
func ReadTombstones(dir string) (Reader, int64, error) {
	path := filepath.Join(dir, Filename)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return NewMemTombstones(), 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read tombstones: %w", err)
	}
	t, err := Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return t, int64(len(b)), nil
}
