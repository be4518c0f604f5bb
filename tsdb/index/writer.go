package index

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"slices"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

// Writer writes an index file. Use it in this order: AddSymbols (any number of calls, symbols
// ascending across calls), AddSeries for every series in labels order, Close.
//
// Series references are ordinals: the caller passes 0 for the first series, 1 for the next and
// so on, and the reader uses the same numbers. Postings are kept in memory until Close (4 bytes
// per label of every series).
//
// A Writer is not safe for concurrent use.
type Writer struct {
	ctx  context.Context
	path string
	f    *os.File
	bw   *bufio.Writer
	pos  uint64 // bytes written so far
	crc  uint32 // CRC of the section being written
	err  error  // sticky

	stage    int // 0 symbols, 1 series, 2 closed
	toc      [numSections]tocEntry
	symbols  map[string]uint32
	lastSym  string
	nSymbols uint32

	nSeries    uint64
	lastLabels labels.Labels
	baseTime   int64
	baseSet    bool
	seriesOffs []uint32
	postings   map[uint64][]uint32 // name ID << 32 | value ID → series refs
	buf        []byte
}

type tocEntry struct {
	off, len uint64
	crc      uint32
}

// NewWriter creates the index file at path (which must not exist) and writes its header.
func NewWriter(ctx context.Context, path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, fmt.Errorf("create index: %w", err)
	}
	w := &Writer{
		ctx:      ctx,
		path:     path,
		f:        f,
		bw:       bufio.NewWriterSize(f, 1<<20),
		symbols:  map[string]uint32{},
		postings: map[uint64][]uint32{},
	}
	hdr := [headerSize]byte{}
	copy(hdr[:], MagicIndex)
	hdr[4] = FormatV1
	w.write(hdr[:])
	w.startSection(secSymbols)
	if w.err != nil {
		f.Close()
		return nil, w.err
	}
	return w, nil
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.bw.Write(b); err != nil {
		w.err = fmt.Errorf("write index %s: %w", w.path, err)
		return
	}
	w.pos += uint64(len(b))
	w.crc = crc32.Update(w.crc, castagnoli, b)
}

func (w *Writer) startSection(s int) {
	w.toc[s].off = w.pos
	w.crc = 0
}

func (w *Writer) endSection(s int) {
	w.toc[s].len = w.pos - w.toc[s].off
	w.toc[s].crc = w.crc
}

// fail records err as the writer's sticky error and returns it.
func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// AddSymbols adds symbols to the symbol table. All label names and values of the series to be
// added must be among them. They must be sorted ascending and unique, also across calls.
func (w *Writer) AddSymbols(symbols []string) error {
	if w.err != nil {
		return w.err
	}
	if w.stage != 0 {
		return w.fail(errors.New("index: AddSymbols after AddSeries"))
	}
	for _, s := range symbols {
		if w.nSymbols > 0 && s <= w.lastSym {
			return w.fail(fmt.Errorf("index: symbol %q not after %q: symbols must be sorted and unique", s, w.lastSym))
		}
		if w.nSymbols == math.MaxUint32 {
			return w.fail(errors.New("index: too many symbols"))
		}
		w.symbols[s] = w.nSymbols
		w.nSymbols++
		w.lastSym = s
		w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(s)))
		w.write(w.buf)
		w.write([]byte(s))
	}
	return w.err
}

// finishSymbols ends the symbols section. Symbols are streamed, so their count is only known
// at the end: it closes the section as a fixed-width uint32 instead of opening it.
func (w *Writer) finishSymbols() {
	w.buf = binary.BigEndian.AppendUint32(w.buf[:0], w.nSymbols)
	w.write(w.buf)
	w.endSection(secSymbols)
	w.startSection(secSeries)
	w.stage = 1
}

// AddSeries adds the series with reference ref, which must be the number of series added
// before it. Series must come in strictly ascending labels.Compare order; chunk metas in
// ascending MinTime order with MaxTime >= MinTime. Only Ref, MinTime and MaxTime of the metas are
// stored. Labels with an empty name or value are rejected: an empty value means "no such label"
// and the head never stores one.
func (w *Writer) AddSeries(ref uint64, lset labels.Labels, chks ...chunks.Meta) error {
	if w.err != nil {
		return w.err
	}
	if w.stage == 0 {
		w.finishSymbols()
	}
	if w.stage != 1 {
		return w.fail(errors.New("index: AddSeries after Close"))
	}
	if ref != w.nSeries {
		return w.fail(fmt.Errorf("index: series ref %d, want %d (refs are ordinals)", ref, w.nSeries))
	}
	if lset.IsEmpty() {
		return w.fail(errors.New("index: series with no labels"))
	}
	if w.nSeries > 0 && labels.Compare(lset, w.lastLabels) <= 0 {
		return w.fail(fmt.Errorf("index: series %s not after %s: series must be added in labels order", lset, w.lastLabels))
	}
	if w.nSeries%uint64(1024) == 0 {
		if err := w.ctx.Err(); err != nil {
			return w.fail(fmt.Errorf("index: %w", err))
		}
	}
	if w.nSeries >= math.MaxUint32 {
		return w.fail(errors.New("index: too many series"))
	}
	secOff := w.pos - w.toc[secSeries].off
	if secOff > math.MaxUint32 {
		return w.fail(errors.New("index: series section exceeds 4 GiB"))
	}
	if w.nSeries%seriesStride == 0 {
		w.seriesOffs = append(w.seriesOffs, uint32(secOff))
	}

	// Body first, into buf after a reserved prefix, to learn its length.
	body := w.buf[:0]
	body = binary.AppendUvarint(body, uint64(lset.Len()))
	var prevName uint32
	var err error
	lset.Range(func(l labels.Label) {
		if err != nil {
			return
		}
		if l.Name == "" || l.Value == "" {
			err = fmt.Errorf("index: series %s has an empty label name or value", lset)
			return
		}
		nid, ok := w.symbols[l.Name]
		vid, ok2 := w.symbols[l.Value]
		if !ok || !ok2 {
			err = fmt.Errorf("index: symbol of label %s=%q missing from the symbol table", l.Name, l.Value)
			return
		}
		body = binary.AppendUvarint(body, uint64(nid-prevName))
		body = binary.AppendUvarint(body, uint64(vid))
		prevName = nid
		key := uint64(nid)<<32 | uint64(vid)
		w.postings[key] = append(w.postings[key], uint32(w.nSeries))
	})
	if err != nil {
		return w.fail(err)
	}
	body = binary.AppendUvarint(body, uint64(len(chks)))
	for i, c := range chks {
		if c.MaxTime < c.MinTime {
			return w.fail(fmt.Errorf("index: series %s chunk %d has MaxTime %d < MinTime %d", lset, i, c.MaxTime, c.MinTime))
		}
		if i == 0 {
			if !w.baseSet {
				w.baseTime, w.baseSet = c.MinTime, true
			}
			body = binary.AppendVarint(body, c.MinTime-w.baseTime)
			body = binary.AppendUvarint(body, uint64(c.MaxTime-c.MinTime))
			body = binary.AppendUvarint(body, c.Ref)
			continue
		}
		prev := chks[i-1]
		if c.MinTime < prev.MinTime {
			return w.fail(fmt.Errorf("index: series %s chunks not sorted by MinTime", lset))
		}
		body = binary.AppendVarint(body, c.MinTime-prev.MaxTime)
		body = binary.AppendUvarint(body, uint64(c.MaxTime-c.MinTime))
		body = binary.AppendVarint(body, int64(c.Ref-prev.Ref))
	}
	w.buf = body
	var lenBuf [binary.MaxVarintLen64]byte
	w.write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(body)))])
	w.write(body)
	if w.err != nil {
		return w.err
	}
	w.lastLabels = lset.Copy()
	w.nSeries++
	return nil
}

// Close writes the series offsets, postings, label table and TOC, and fsyncs the file.
func (w *Writer) Close() error {
	if w.stage == 2 {
		return w.err
	}
	defer func() { w.stage = 2 }()
	if w.err != nil {
		w.f.Close()
		return w.err
	}
	if w.stage == 0 {
		w.finishSymbols()
	}
	w.endSection(secSeries)

	w.startSection(secSeriesOffsets)
	for _, off := range w.seriesOffs {
		w.buf = binary.BigEndian.AppendUint32(w.buf[:0], off)
		w.write(w.buf)
	}
	w.endSection(secSeriesOffsets)

	keys := make([]uint64, 0, len(w.postings))
	for k := range w.postings {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	w.startSection(secPostings)
	lens := make([]uint64, len(keys))
	for i, k := range keys {
		start := w.pos
		w.buf = appendPostings(w.buf[:0], w.postings[k])
		w.write(w.buf)
		lens[i] = w.pos - start
		delete(w.postings, k) // let the lists go as we write them
	}
	w.endSection(secPostings)

	w.startSection(secLabels)
	w.writeLabelTable(keys, lens)
	w.endSection(secLabels)

	toc := make([]byte, 0, tocSize)
	for _, e := range w.toc {
		toc = binary.BigEndian.AppendUint64(toc, e.off)
		toc = binary.BigEndian.AppendUint64(toc, e.len)
		toc = binary.BigEndian.AppendUint32(toc, e.crc)
	}
	toc = binary.BigEndian.AppendUint64(toc, w.nSeries)
	toc = binary.BigEndian.AppendUint64(toc, uint64(w.baseTime))
	toc = binary.BigEndian.AppendUint32(toc, crc32.Checksum(toc, castagnoli))
	w.write(toc)

	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			w.err = fmt.Errorf("flush index %s: %w", w.path, err)
		}
	}
	if w.err == nil {
		if err := w.f.Sync(); err != nil {
			w.err = fmt.Errorf("fsync index %s: %w", w.path, err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = fmt.Errorf("close index %s: %w", w.path, err)
	}
	return w.err
}

func (w *Writer) writeLabelTable(keys []uint64, lens []uint64) {
	var nNames uint64
	for i, k := range keys {
		if i == 0 || k>>32 != keys[i-1]>>32 {
			nNames++
		}
	}
	w.buf = binary.AppendUvarint(w.buf[:0], nNames)
	w.write(w.buf)
	for i := 0; i < len(keys); {
		name := keys[i] >> 32
		j := i
		for j < len(keys) && keys[j]>>32 == name {
			j++
		}
		b := binary.AppendUvarint(w.buf[:0], name)
		b = binary.AppendUvarint(b, uint64(j-i))
		var prev uint64
		for x := i; x < j; x++ {
			v := keys[x] & math.MaxUint32
			b = binary.AppendUvarint(b, v-prev)
			b = binary.AppendUvarint(b, lens[x])
			prev = v
		}
		w.buf = b
		w.write(b)
		i = j
	}
}

// appendPostings encodes a sorted list with whichever of the two encodings is smaller.
func appendPostings(b []byte, refs []uint32) []byte {
	deltaSize, runsSize, runs := 0, uvarintSize(0), 0
	var prevEnd uint64
	for i := 0; i < len(refs); {
		if i == 0 {
			deltaSize += uvarintSize(uint64(refs[0]))
		} else {
			deltaSize += uvarintSize(uint64(refs[i] - refs[i-1] - 1))
		}
		j := i + 1
		for j < len(refs) && refs[j] == refs[j-1]+1 {
			deltaSize += 1 // a delta of 0 takes one byte
			j++
		}
		runsSize += uvarintSize(uint64(refs[i])-prevEnd) + uvarintSize(uint64(j-i-1))
		prevEnd = uint64(refs[j-1]) + 1
		runs++
		i = j
	}
	runsSize += uvarintSize(uint64(runs)) - uvarintSize(0)

	if runsSize < deltaSize {
		b = append(b, postingsRuns)
		b = binary.AppendUvarint(b, uint64(len(refs)))
		b = binary.AppendUvarint(b, uint64(runs))
		prevEnd = 0
		for i := 0; i < len(refs); {
			j := i + 1
			for j < len(refs) && refs[j] == refs[j-1]+1 {
				j++
			}
			b = binary.AppendUvarint(b, uint64(refs[i])-prevEnd)
			b = binary.AppendUvarint(b, uint64(j-i-1))
			prevEnd = uint64(refs[j-1]) + 1
			i = j
		}
		return b
	}
	b = append(b, postingsDeltas)
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for i, r := range refs {
		if i == 0 {
			b = binary.AppendUvarint(b, uint64(r))
		} else {
			b = binary.AppendUvarint(b, uint64(r-refs[i-1]-1))
		}
	}
	return b
}

func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
