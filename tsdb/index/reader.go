package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunks"
	"github.com/vigil-monitoring/vigil/tsdb/chunks/mmap"
)

// Reader reads an index file. It is safe for concurrent use. Strings it returns are ordinary
// heap strings that stay valid after Close; postings lists read the file lazily and must not be
// used after Close.
type Reader struct {
	b      []byte
	closer io.Closer
	secs   [numSections][]byte

	numSeries uint64
	baseTime  int64

	// Symbols are copied into one heap string at open (the symbols section is small next to the
	// series and postings), so that label names and values handed out never alias the mapping.
	syms   string
	symOff []uint32 // symOff[i]:symOff[i+1] is symbol i in syms

	names []nameEntry // ascending by name
}

type nameEntry struct {
	name     string
	valueIDs []uint32 // ascending
	postOff  []uint32 // postings of value i are postings[postOff[i]:postOff[i+1]]
}

// NewFileReader maps the index file at path and opens it.
func NewFileReader(path string) (*Reader, error) {
	f, err := mmap.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open index: %w", err)
	}
	r, err := newReader(f.Bytes(), true)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// NewReader opens an index held in b, which must stay unchanged while the reader is in use.
func NewReader(b []byte) (*Reader, error) {
	return newReader(b, true)
}

// newReader opens b; verifyCRC is false only in fuzz tests, so that they reach the decoders
// behind the checksums.
func newReader(b []byte, verifyCRC bool) (*Reader, error) {
	if len(b) < headerSize+tocSize {
		return nil, corrupt(-1, "file of %d bytes is too short", len(b))
	}
	if string(b[:4]) != MagicIndex {
		return nil, corrupt(-1, "bad magic %x", b[:4])
	}
	if b[4] != FormatV1 {
		return nil, corrupt(-1, "unsupported version %d", b[4])
	}
	toc := b[len(b)-tocSize:]
	if got, want := crc32.Checksum(toc[:tocSize-4], castagnoli), binary.BigEndian.Uint32(toc[tocSize-4:]); verifyCRC && got != want {
		return nil, corrupt(-1, "TOC checksum mismatch: stored %08x, computed %08x", want, got)
	}
	r := &Reader{b: b}
	limit := uint64(len(b) - tocSize)
	for i := range numSections {
		e := toc[i*tocEntrySize:]
		off, ln, crc := binary.BigEndian.Uint64(e), binary.BigEndian.Uint64(e[8:]), binary.BigEndian.Uint32(e[16:])
		if off < headerSize || off > limit || ln > limit-off {
			return nil, corrupt(i, "section [%d, +%d) outside the file", off, ln)
		}
		r.secs[i] = b[off : off+ln : off+ln]
		if verifyCRC {
			if got := crc32.Checksum(r.secs[i], castagnoli); got != crc {
				return nil, corrupt(i, "checksum mismatch: stored %08x, computed %08x", crc, got)
			}
		}
	}
	r.numSeries = binary.BigEndian.Uint64(toc[numSections*tocEntrySize:])
	r.baseTime = int64(binary.BigEndian.Uint64(toc[numSections*tocEntrySize+8:]))

	// Each series entry takes at least 3 bytes, which bounds what a forged count can make us do.
	if r.numSeries > uint64(len(r.secs[secSeries]))/3 {
		return nil, corrupt(secSeries, "%d series cannot fit in %d bytes", r.numSeries, len(r.secs[secSeries]))
	}
	if want := (r.numSeries + seriesStride - 1) / seriesStride * 4; uint64(len(r.secs[secSeriesOffsets])) != want {
		return nil, corrupt(secSeriesOffsets, "%d bytes, want %d for %d series", len(r.secs[secSeriesOffsets]), want, r.numSeries)
	}
	if err := r.readSymbols(); err != nil {
		return nil, err
	}
	if err := r.readLabelTable(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) readSymbols() error {
	s := r.secs[secSymbols]
	if len(s) < 4 {
		return corrupt(secSymbols, "section of %d bytes has no count", len(s))
	}
	n := uint64(binary.BigEndian.Uint32(s[len(s)-4:]))
	d := decbuf{b: s[:len(s)-4]}
	if n > uint64(len(d.b)) {
		return corrupt(secSymbols, "%d symbols cannot fit in %d bytes", n, len(d.b))
	}
	if uint64(len(d.b)) > math.MaxUint32 {
		return corrupt(secSymbols, "section of %d bytes exceeds 4 GiB", len(d.b))
	}
	var sb strings.Builder
	sb.Grow(len(d.b))
	r.symOff = make([]uint32, 0, n+1)
	var prev []byte
	for i := range n {
		sym := d.bytes(d.uvarint())
		if d.err != nil {
			return corrupt(secSymbols, "symbol %d: %v", i, d.err)
		}
		if i > 0 && string(sym) <= string(prev) {
			return corrupt(secSymbols, "symbol %d out of order", i)
		}
		prev = sym
		r.symOff = append(r.symOff, uint32(sb.Len()))
		sb.Write(sym)
	}
	if len(d.b) != 0 {
		return corrupt(secSymbols, "%d trailing bytes", len(d.b))
	}
	r.symOff = append(r.symOff, uint32(sb.Len()))
	r.syms = sb.String()
	return nil
}

func (r *Reader) numSymbols() uint64 { return uint64(len(r.symOff) - 1) }

// sym returns symbol id, which the caller has checked to be < numSymbols.
func (r *Reader) sym(id uint64) string { return r.syms[r.symOff[id]:r.symOff[id+1]] }

func (r *Reader) readLabelTable() error {
	d := decbuf{b: r.secs[secLabels]}
	postLen := uint64(len(r.secs[secPostings]))
	if postLen > math.MaxUint32 {
		return corrupt(secPostings, "section of %d bytes exceeds 4 GiB", postLen)
	}
	nNames := d.uvarint()
	if nNames > uint64(len(d.b))/2 {
		return corrupt(secLabels, "%d names cannot fit in %d bytes", nNames, len(d.b))
	}
	r.names = make([]nameEntry, 0, nNames)
	var off uint64
	for i := range nNames {
		nid := d.uvarint()
		nv := d.uvarint()
		if d.err != nil {
			return corrupt(secLabels, "name %d: %v", i, d.err)
		}
		if nid >= r.numSymbols() {
			return corrupt(secLabels, "name %d: bad symbol %d", i, nid)
		}
		name := r.sym(nid)
		if i > 0 && name <= r.names[i-1].name {
			return corrupt(secLabels, "name %d out of order", i)
		}
		if nv == 0 || nv > uint64(len(d.b))/2 {
			return corrupt(secLabels, "name %q: %d values cannot fit in %d bytes", name, nv, len(d.b))
		}
		e := nameEntry{name: name, valueIDs: make([]uint32, nv), postOff: make([]uint32, nv+1)}
		var vid uint64
		for j := range nv {
			delta := d.uvarint()
			ln := d.uvarint()
			if d.err != nil {
				return corrupt(secLabels, "name %q value %d: %v", name, j, d.err)
			}
			if j > 0 && delta == 0 {
				return corrupt(secLabels, "name %q: values out of order", name)
			}
			vid += delta
			if delta >= r.numSymbols() || vid >= r.numSymbols() {
				return corrupt(secLabels, "name %q value %d: bad symbol", name, j)
			}
			if ln > postLen-off {
				return corrupt(secLabels, "name %q value %d: postings run past their section", name, j)
			}
			e.valueIDs[j] = uint32(vid)
			e.postOff[j] = uint32(off)
			off += ln
		}
		e.postOff[nv] = uint32(off)
		r.names = append(r.names, e)
	}
	if d.err != nil || len(d.b) != 0 {
		return corrupt(secLabels, "malformed table end")
	}
	if off != postLen {
		return corrupt(secLabels, "lists cover %d of %d postings bytes", off, postLen)
	}
	return nil
}

// Close releases the mapping of a reader opened with NewFileReader.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// Size returns the size of the index in bytes.
func (r *Reader) Size() int64 { return int64(len(r.b)) }

// NumSeries returns the number of series. Series references are 0 … NumSeries()-1.
func (r *Reader) NumSeries() uint64 { return r.numSeries }

// NumSymbols returns the number of distinct label names and values.
func (r *Reader) NumSymbols() int { return len(r.symOff) - 1 }

// NumLabelPairs returns the number of distinct label name/value pairs (postings lists).
func (r *Reader) NumLabelPairs() int {
	n := 0
	for _, e := range r.names {
		n += len(e.valueIDs)
	}
	return n
}

// Symbols returns all symbols in ascending order.
func (r *Reader) Symbols() iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range r.numSymbols() {
			if !yield(r.sym(i)) {
				return
			}
		}
	}
}

func (r *Reader) lookupName(name string) *nameEntry {
	i, ok := slices.BinarySearchFunc(r.names, name, func(e nameEntry, n string) int { return strings.Compare(e.name, n) })
	if !ok {
		return nil
	}
	return &r.names[i]
}

// lookupValue returns the index of value among e's values.
func (r *Reader) lookupValue(e *nameEntry, value string) (int, bool) {
	return slices.BinarySearchFunc(e.valueIDs, value, func(id uint32, v string) int {
		return strings.Compare(r.sym(uint64(id)), v)
	})
}

// LabelNames returns the sorted label names. With matchers, only names of series matching all
// of them are returned (a matcher that matches the empty string also matches series without
// that label, as in PromQL).
func (r *Reader) LabelNames(ctx context.Context, matchers ...*labels.Matcher) ([]string, error) {
	if len(matchers) == 0 {
		out := make([]string, len(r.names))
		for i, e := range r.names {
			out[i] = e.name
		}
		return out, nil
	}
	p := r.postingsForMatchers(ctx, matchers)
	seen := map[uint64]struct{}{}
	for n := 0; p.Next(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("label names: %w", err)
			}
		}
		body, err := r.seriesBody(p.At())
		if err != nil {
			return nil, err
		}
		d := decbuf{b: body}
		nl := d.uvarint()
		var ni uint64
		for i := uint64(0); i < nl && d.err == nil; i++ {
			delta, _ := d.labelRef()
			ni += delta
			if delta >= uint64(len(r.names)) || ni >= uint64(len(r.names)) {
				return nil, corrupt(secSeries, "series %d: bad label name index", p.At())
			}
			seen[ni] = struct{}{}
		}
		if d.err != nil {
			return nil, corrupt(secSeries, "series %d: %v", p.At(), d.err)
		}
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("label names: %w", err)
	}
	ids := make([]uint64, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = r.names[id].name
	}
	return out, nil
}

func (r *Reader) postingsForMatchers(ctx context.Context, ms []*labels.Matcher) Postings {
	its := make([]Postings, 0, len(ms))
	for _, m := range ms {
		if m.Matches("") {
			notMatching := r.PostingsForLabelMatching(ctx, m.Name, func(v string) bool { return !m.Matches(v) })
			its = append(its, Without(r.AllPostings(), notMatching))
		} else {
			its = append(its, r.PostingsForLabelMatching(ctx, m.Name, m.Matches))
		}
	}
	return Intersect(its...)
}

// LabelValues returns the sorted values of the label name (none if it does not exist).
func (r *Reader) LabelValues(ctx context.Context, name string) ([]string, error) {
	e := r.lookupName(name)
	if e == nil {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("label values: %w", err)
	}
	out := make([]string, len(e.valueIDs))
	for i, id := range e.valueIDs {
		out[i] = r.sym(uint64(id))
	}
	return out, nil
}

// Postings returns the series having label name with any of values (their union). Values
// that do not occur are ignored.
func (r *Reader) Postings(ctx context.Context, name string, values ...string) (Postings, error) {
	e := r.lookupName(name)
	if e == nil {
		return EmptyPostings(), nil
	}
	idxs := make([]int, 0, len(values))
	for i, v := range values {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("postings: %w", err)
			}
		}
		if j, ok := r.lookupValue(e, v); ok {
			idxs = append(idxs, j)
		}
	}
	slices.Sort(idxs)
	return r.union(ctx, e, slices.Compact(idxs)), nil
}

// mergeLimit is the number of lists above which a union is decoded into one sorted slice
// rather than merged through a heap of iterators: beyond it, an iterator per list costs more
// than sorting (for example a regex over a high-cardinality label such as pod).
const mergeLimit = 32

// union returns the union of the postings of e's values at the ascending indices idxs.
func (r *Reader) union(ctx context.Context, e *nameEntry, idxs []int) Postings {
	if len(idxs) <= mergeLimit {
		its := make([]Postings, len(idxs))
		for i, j := range idxs {
			its[i] = r.postingsAt(e, j)
		}
		return Merge(its...)
	}
	var total uint64
	for _, j := range idxs {
		d := decbuf{b: r.secs[secPostings][e.postOff[j]:e.postOff[j+1]]}
		d.byte()
		total += d.uvarint()
		// A series has one value per name, so the lists of a name are disjoint.
		if d.err != nil || total > r.numSeries {
			return ErrPostings(corrupt(secPostings, "lists of %s: bad counts", e.name))
		}
	}
	refs := make([]uint64, 0, total)
	for i, j := range idxs {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return ErrPostings(fmt.Errorf("postings for %s: %w", e.name, err))
			}
		}
		var err error
		if refs, err = r.appendList(refs, e, j); err != nil {
			return ErrPostings(err)
		}
	}
	slices.Sort(refs)
	// Compact only matters for a damaged file, where lists could overlap.
	return NewListPostings(slices.Compact(refs))
}

// PostingsForLabelMatching returns the union of the postings of every value of name for which
// match returns true. A cancelled ctx yields an error postings list.
func (r *Reader) PostingsForLabelMatching(ctx context.Context, name string, match func(value string) bool) Postings {
	e := r.lookupName(name)
	if e == nil {
		return EmptyPostings()
	}
	var idxs []int
	for i, id := range e.valueIDs {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return ErrPostings(fmt.Errorf("postings for %s: %w", name, err))
			}
		}
		if match(r.sym(uint64(id))) {
			idxs = append(idxs, i)
		}
	}
	return r.union(ctx, e, idxs)
}

// PostingsCount returns how many series have the label pair, without reading the list.
func (r *Reader) PostingsCount(name, value string) (int, error) {
	e := r.lookupName(name)
	if e == nil {
		return 0, nil
	}
	j, ok := r.lookupValue(e, value)
	if !ok {
		return 0, nil
	}
	d := decbuf{b: r.secs[secPostings][e.postOff[j]:e.postOff[j+1]]}
	d.byte()
	n := d.uvarint()
	if d.err != nil || n > r.numSeries {
		return 0, corrupt(secPostings, "list of %s=%q: bad count", name, value)
	}
	return int(n), nil
}

// AllPostings returns every series reference.
func (r *Reader) AllPostings() Postings {
	if r.numSeries == 0 {
		return EmptyPostings()
	}
	return &rangePostings{end: r.numSeries}
}

// appendList appends the postings of e's value i to refs. Unlike postingsAt it allocates no
// iterator, which matters when a union covers thousands of lists.
func (r *Reader) appendList(refs []uint64, e *nameEntry, i int) ([]uint64, error) {
	d := decbuf{b: r.secs[secPostings][e.postOff[i]:e.postOff[i+1]]}
	enc := d.byte()
	d.uvarint()
	if d.err != nil {
		return refs, corrupt(secPostings, "list of %s: %v", e.name, d.err)
	}
	switch enc {
	case postingsDeltas, postingsSkips:
		if enc == postingsSkips {
			if n := d.uvarint(); n <= uint64(len(d.b))/8 {
				d.bytes(n * 8)
			} else {
				return refs, corrupt(secPostings, "list of %s: skip table runs past the list", e.name)
			}
		}
		dp := deltaPostings{d: d, max: r.numSeries}
		for dp.Next() {
			refs = append(refs, dp.cur)
		}
		return refs, dp.err
	case postingsRuns:
		rp := runPostings{d: d, max: r.numSeries}
		rp.runsLeft = rp.d.uvarint()
		for rp.Next() {
			refs = append(refs, rp.cur)
		}
		return refs, rp.err
	default:
		return refs, corrupt(secPostings, "list of %s: unknown encoding %d", e.name, enc)
	}
}

func (r *Reader) postingsAt(e *nameEntry, i int) Postings {
	d := decbuf{b: r.secs[secPostings][e.postOff[i]:e.postOff[i+1]]}
	enc := d.byte()
	d.uvarint() // count, only needed by PostingsCount
	if d.err != nil {
		return ErrPostings(corrupt(secPostings, "list of %s: %v", e.name, d.err))
	}
	switch enc {
	case postingsDeltas:
		return &deltaPostings{d: d, max: r.numSeries}
	case postingsSkips:
		n := d.uvarint()
		if n > uint64(len(d.b))/8 {
			return ErrPostings(corrupt(secPostings, "list of %s: skip table runs past the list", e.name))
		}
		table := d.bytes(n * 8)
		return &deltaPostings{d: d, data: d.b, skips: table, max: r.numSeries}
	case postingsRuns:
		p := &runPostings{d: d, max: r.numSeries}
		p.runsLeft = p.d.uvarint()
		return p
	default:
		return ErrPostings(corrupt(secPostings, "list of %s: unknown encoding %d", e.name, enc))
	}
}

// seriesBody returns the encoded entry of series ref.
func (r *Reader) seriesBody(ref uint64) ([]byte, error) {
	if ref >= r.numSeries {
		return nil, fmt.Errorf("series %d: %w", ref, ErrNotFound)
	}
	offs := r.secs[secSeriesOffsets]
	sample := ref / seriesStride
	off := uint64(binary.BigEndian.Uint32(offs[sample*4:]))
	ser := r.secs[secSeries]
	if off >= uint64(len(ser)) {
		return nil, corrupt(secSeriesOffsets, "series %d: offset %d out of range", ref, off)
	}
	d := decbuf{b: ser[off:]}
	for range ref % seriesStride {
		d.bytes(d.uvarint())
	}
	body := d.bytes(d.uvarint())
	if d.err != nil {
		return nil, corrupt(secSeries, "series %d: %v", ref, d.err)
	}
	return body, nil
}

// Series fills builder with the labels of series ref and chks (reset first) with its chunk
// metas: Ref, MinTime and MaxTime, Chunk left nil. An unknown ref returns an error wrapping
// ErrNotFound.
func (r *Reader) Series(ref uint64, builder *labels.ScratchBuilder, chks *[]chunks.Meta) error {
	body, err := r.seriesBody(ref)
	if err != nil {
		return err
	}
	d := decbuf{b: body}
	builder.Reset()
	nl := d.uvarint()
	if nl > uint64(len(d.b)) {
		return corrupt(secSeries, "series %d: %d labels cannot fit in %d bytes", ref, nl, len(d.b))
	}
	var ni uint64
	for i := range nl {
		delta, rank := d.labelRef()
		if d.err != nil {
			break
		}
		if i > 0 && delta == 0 {
			return corrupt(secSeries, "series %d: label names out of order", ref)
		}
		ni += delta
		if delta >= uint64(len(r.names)) || ni >= uint64(len(r.names)) {
			return corrupt(secSeries, "series %d: label name index out of range", ref)
		}
		e := &r.names[ni]
		if rank >= uint64(len(e.valueIDs)) {
			return corrupt(secSeries, "series %d: value rank out of range for %s", ref, e.name)
		}
		builder.Add(e.name, r.sym(uint64(e.valueIDs[rank])))
	}
	nc := d.uvarint()
	if nc > uint64(len(d.b))/3 {
		return corrupt(secSeries, "series %d: %d chunks cannot fit in %d bytes", ref, nc, len(d.b))
	}
	*chks = (*chks)[:0]
	var prev chunks.Meta
	for i := range nc {
		var c chunks.Meta
		if i == 0 {
			c.MinTime = r.baseTime + d.varint()
		} else {
			c.MinTime = prev.MaxTime + d.varint()
		}
		var dur int64
		if i == 0 {
			u := d.uvarint()
			if u > math.MaxInt64 {
				return corrupt(secSeries, "series %d: chunk %d duration out of range", ref, i)
			}
			dur = int64(u)
		} else {
			dur = (prev.MaxTime - prev.MinTime) + d.varint()
			if dur < 0 {
				return corrupt(secSeries, "series %d: chunk %d duration out of range", ref, i)
			}
		}
		c.MaxTime = c.MinTime + dur
		if i == 0 {
			c.Ref = d.uvarint()
		} else {
			c.Ref = prev.Ref + uint64(d.varint())
		}
		if d.err != nil {
			break
		}
		*chks = append(*chks, c)
		prev = c
	}
	if d.err != nil {
		return corrupt(secSeries, "series %d: %v", ref, d.err)
	}
	if len(d.b) != 0 {
		return corrupt(secSeries, "series %d: %d trailing bytes", ref, len(d.b))
	}
	return nil
}

// errCorruptPostings is wrapped by the postings iterators' errors.
var errCorruptPostings = errors.New("malformed postings list")

// deltaPostings decodes encodings 0 and 2 lazily from the file.
type deltaPostings struct {
	d       decbuf
	data    []byte // all deltas, for jumps through skips
	skips   []byte // encoding 2: 8-byte entries (ref, offset in data)
	idx     uint64 // elements consumed
	max     uint64 // refs must be < max (the number of series)
	cur     uint64
	started bool
	done    bool
	err     error
}

func (p *deltaPostings) Next() bool {
	if p.done {
		return false
	}
	if len(p.d.b) == 0 {
		p.done = true
		return false
	}
	v := p.d.uvarint()
	if p.started {
		next := p.cur + v + 1
		if next <= p.cur {
			return p.fail()
		}
		v = next
	}
	if p.d.err != nil || v >= p.max {
		return p.fail()
	}
	p.cur, p.started = v, true
	p.idx++
	return true
}

func (p *deltaPostings) fail() bool {
	p.done = true
	p.err = corrupt(secPostings, "%w", errCorruptPostings)
	return false
}

func (p *deltaPostings) Seek(v uint64) bool {
	if p.done {
		return false
	}
	if p.started && p.cur >= v {
		return true
	}
	if len(p.skips) > 0 {
		p.skipTo(v)
	}
	for p.Next() {
		if p.cur >= v {
			return true
		}
	}
	return false
}

// skipTo jumps to the last skip entry whose ref is < v, if that is ahead of the current
// position, so that the following scan decodes at most skipEvery deltas.
func (p *deltaPostings) skipTo(v uint64) {
	n := len(p.skips) / 8
	// Number of entries with ref < v; the table is ascending.
	k := sort.Search(n, func(i int) bool { return uint64(binary.BigEndian.Uint32(p.skips[8*i:])) >= v })
	if k == 0 {
		return
	}
	k--
	target := uint64(k+1) * skipEvery // elements consumed after the jump
	if target <= p.idx {
		return
	}
	ref := uint64(binary.BigEndian.Uint32(p.skips[8*k:]))
	off := uint64(binary.BigEndian.Uint32(p.skips[8*k+4:]))
	if off > uint64(len(p.data)) || ref >= p.max || (p.started && ref <= p.cur) {
		p.fail()
		return
	}
	p.d.b = p.data[off:]
	p.cur, p.idx, p.started = ref, target, true
}

func (p *deltaPostings) At() uint64 { return p.cur }
func (p *deltaPostings) Err() error { return p.err }

// runPostings decodes encoding 1 lazily; seeking within and across runs needs no per-element
// work.
type runPostings struct {
	d        decbuf
	max      uint64
	runsLeft uint64
	cur      uint64
	runEnd   uint64 // exclusive end of the current run
	started  bool
	done     bool
	err      error
}

func (p *runPostings) nextRun() bool {
	if p.runsLeft == 0 {
		p.done = true
		if len(p.d.b) != 0 || p.d.err != nil {
			p.err = corrupt(secPostings, "%w: trailing bytes", errCorruptPostings)
		}
		return false
	}
	p.runsLeft--
	gap := p.d.uvarint()
	ln := p.d.uvarint()
	start := p.runEnd + gap
	end := start + ln + 1
	if p.d.err != nil || start < p.runEnd || end <= start || end > p.max || (p.started && gap == 0) {
		p.done = true
		p.err = corrupt(secPostings, "%w", errCorruptPostings)
		return false
	}
	p.cur, p.runEnd, p.started = start, end, true
	return true
}

func (p *runPostings) Next() bool {
	if p.done {
		return false
	}
	if p.started && p.cur+1 < p.runEnd {
		p.cur++
		return true
	}
	return p.nextRun()
}

func (p *runPostings) Seek(v uint64) bool {
	if p.done {
		return false
	}
	if p.started {
		if p.cur >= v {
			return true
		}
		if v < p.runEnd {
			p.cur = v
			return true
		}
	}
	for p.nextRun() {
		if v < p.runEnd {
			p.cur = max(p.cur, v)
			return true
		}
	}
	return false
}

func (p *runPostings) At() uint64 { return p.cur }
func (p *runPostings) Err() error { return p.err }

// rangePostings yields 0 … end-1 (all series of an index).
type rangePostings struct {
	cur, end uint64
	started  bool
}

func (p *rangePostings) Next() bool {
	if !p.started {
		p.started = true
		return p.cur < p.end
	}
	if p.cur < p.end {
		p.cur++
	}
	return p.cur < p.end
}

func (p *rangePostings) Seek(v uint64) bool {
	p.started = true
	if p.cur < v {
		p.cur = min(v, p.end)
	}
	return p.cur < p.end
}

func (p *rangePostings) At() uint64 { return p.cur }
func (p *rangePostings) Err() error { return nil }
