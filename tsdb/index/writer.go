package index

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunks"
)

// Writer writes an index file. Use it in this order: AddSymbols (any number of calls, symbols
// ascending across calls), AddSeries for every series in labels order, Close.
//
// Series references are ordinals: the caller passes 0 for the first series, 1 for the next and
// so on, and the reader uses the same numbers.
//
// Series entries store each label value as its rank among the values of its name, which is only
// known once all series are in, so AddSeries spools entries to a temporary file next to the
// index and Close rewrites them. Postings are kept in memory until Close (4 bytes per label of
// every series).
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

	spool   *os.File // series entries with symbol IDs, rewritten at Close
	spoolW  *bufio.Writer
	nSeries uint64

	lastLabels labels.Labels
	baseTime   int64
	baseSet    bool
	postings   map[uint64]*[]uint32 // name ID << 32 | value ID → series refs
	// prev caches the labels of the previous series with their IDs and postings: series come
	// sorted, so neighbours share most label pairs and skip the map lookups.
	prev   []cachedLabel
	buf    []byte
	lenBuf [binary.MaxVarintLen64]byte
}

type cachedLabel struct {
	name, value string
	nid, vid    uint32
	list        *[]uint32
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
		postings: map[uint64]*[]uint32{},
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
	w.stage = 1
	if w.toc[secSymbols].len > math.MaxUint32 {
		w.fail(errors.New("index: symbols section exceeds 4 GiB"))
	}
	if w.err != nil {
		return
	}
	spool, err := os.CreateTemp(filepath.Dir(w.path), filepath.Base(w.path)+".series-*")
	if err != nil {
		w.err = fmt.Errorf("create index series spool: %w", err)
		return
	}
	w.spool = spool
	w.spoolW = bufio.NewWriterSize(spool, 1<<20)
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
		if w.err != nil {
			return w.err
		}
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
	if w.nSeries%1024 == 0 {
		if err := w.ctx.Err(); err != nil {
			return w.fail(fmt.Errorf("index: %w", err))
		}
	}
	if w.nSeries >= math.MaxUint32 {
		return w.fail(errors.New("index: too many series"))
	}

	// Spooled entry: uvarint(len) | uvarint(#labels) | per label uvarint(name ID) uvarint(value
	// ID) | chunk metas exactly as they will appear in the file.
	body := w.buf[:0]
	body = binary.AppendUvarint(body, uint64(lset.Len()))
	var err error
	i := 0
	lset.Range(func(l labels.Label) {
		if err != nil {
			return
		}
		if i < len(w.prev) && w.prev[i].name == l.Name && w.prev[i].value == l.Value {
			c := &w.prev[i]
			body = binary.AppendUvarint(body, uint64(c.nid))
			body = binary.AppendUvarint(body, uint64(c.vid))
			*c.list = append(*c.list, uint32(w.nSeries))
			i++
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
		body = binary.AppendUvarint(body, uint64(nid))
		body = binary.AppendUvarint(body, uint64(vid))
		key := uint64(nid)<<32 | uint64(vid)
		list := w.postings[key]
		if list == nil {
			list = new([]uint32)
			w.postings[key] = list
		}
		*list = append(*list, uint32(w.nSeries))
		c := cachedLabel{name: l.Name, value: l.Value, nid: nid, vid: vid, list: list}
		if i < len(w.prev) {
			w.prev[i] = c
		} else {
			w.prev = append(w.prev, c)
		}
		i++
	})
	w.prev = w.prev[:i]
	if err != nil {
		return w.fail(err)
	}
	body, err = w.appendChunkMetas(body, lset, chks)
	if err != nil {
		return w.fail(err)
	}
	w.buf = body
	if _, err := w.spoolW.Write(w.lenBuf[:binary.PutUvarint(w.lenBuf[:], uint64(len(body)))]); err != nil {
		return w.fail(fmt.Errorf("index: spool series: %w", err))
	}
	if _, err := w.spoolW.Write(body); err != nil {
		return w.fail(fmt.Errorf("index: spool series: %w", err))
	}
	w.lastLabels = lset.Copy()
	// The cache refers to the copy: lset's strings might be reused by the caller.
	j := 0
	w.lastLabels.Range(func(l labels.Label) {
		w.prev[j].name, w.prev[j].value = l.Name, l.Value
		j++
	})
	w.nSeries++
	return nil
}

// appendChunkMetas encodes chunk metas. Durations are stored as the change from the previous
// chunk's, which is zero for most chunks of a regularly scraped series.
func (w *Writer) appendChunkMetas(b []byte, lset labels.Labels, chks []chunks.Meta) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(chks)))
	for i, c := range chks {
		if c.MaxTime < c.MinTime {
			return nil, fmt.Errorf("index: series %s chunk %d has MaxTime %d < MinTime %d", lset, i, c.MaxTime, c.MinTime)
		}
		if i == 0 {
			if !w.baseSet {
				w.baseTime, w.baseSet = c.MinTime, true
			}
			b = binary.AppendVarint(b, c.MinTime-w.baseTime)
			b = binary.AppendUvarint(b, uint64(c.MaxTime-c.MinTime))
			b = binary.AppendUvarint(b, c.Ref)
			continue
		}
		prev := chks[i-1]
		if c.MinTime < prev.MinTime {
			return nil, fmt.Errorf("index: series %s chunks not sorted by MinTime", lset)
		}
		b = binary.AppendVarint(b, c.MinTime-prev.MaxTime)
		b = binary.AppendVarint(b, (c.MaxTime-c.MinTime)-(prev.MaxTime-prev.MinTime))
		b = binary.AppendVarint(b, int64(c.Ref-prev.Ref))
	}
	return b, nil
}

// Close writes the series, series offsets, postings, label table and TOC, fsyncs the file and
// removes the spool. It returns the first error met by any call.
func (w *Writer) Close() error {
	if w.stage == 2 {
		return w.err
	}
	if w.stage == 0 && w.err == nil {
		w.finishSymbols()
	}
	w.stage = 2
	defer w.removeSpool()
	if w.err != nil {
		w.f.Close()
		return w.err
	}

	keys := make([]uint64, 0, len(w.postings))
	for k := range w.postings {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	w.startSection(secSeries)
	offs, err := w.rewriteSeries(keys)
	if err != nil {
		w.fail(err)
	}
	w.endSection(secSeries)

	w.startSection(secSeriesOffsets)
	for _, off := range offs {
		w.buf = binary.BigEndian.AppendUint32(w.buf[:0], off)
		w.write(w.buf)
	}
	w.endSection(secSeriesOffsets)

	w.startSection(secPostings)
	lens := make([]uint64, len(keys))
	for i, k := range keys {
		start := w.pos
		w.buf = appendPostings(w.buf[:0], *w.postings[k])
		w.write(w.buf)
		lens[i] = w.pos - start
		delete(w.postings, k) // let the lists go as they are written
	}
	w.endSection(secPostings)
	if w.toc[secPostings].len > math.MaxUint32 {
		w.fail(errors.New("index: postings section exceeds 4 GiB"))
	}

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

func (w *Writer) removeSpool() {
	if w.spool == nil {
		return
	}
	name := w.spool.Name()
	w.spool.Close()
	os.Remove(name)
	w.spool = nil
}

// rewriteSeries copies the spooled series into the file, replacing symbol IDs by the name's
// index in the label table and the value's rank among that name's values. It returns the
// offsets of every seriesStride-th entry.
func (w *Writer) rewriteSeries(keys []uint64) ([]uint32, error) {
	nameIdx := map[uint32]uint64{}
	rank := make(map[uint64]uint64, len(keys))
	var r uint64
	for i, k := range keys {
		if i == 0 || k>>32 != keys[i-1]>>32 {
			nameIdx[uint32(k>>32)] = uint64(len(nameIdx))
			r = 0
		}
		rank[k] = r
		r++
	}
	if err := w.spoolW.Flush(); err != nil {
		return nil, fmt.Errorf("index: flush series spool: %w", err)
	}
	if _, err := w.spool.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("index: rewind series spool: %w", err)
	}
	br := bufio.NewReaderSize(w.spool, 1<<20)
	offs := make([]uint32, 0, (w.nSeries+seriesStride-1)/seriesStride)
	var in, out []byte
	for i := range w.nSeries {
		if i%1024 == 0 {
			if err := w.ctx.Err(); err != nil {
				return nil, fmt.Errorf("index: %w", err)
			}
		}
		secOff := w.pos - w.toc[secSeries].off
		if secOff > math.MaxUint32 {
			return nil, errors.New("index: series section exceeds 4 GiB")
		}
		if i%seriesStride == 0 {
			offs = append(offs, uint32(secOff))
		}
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, fmt.Errorf("index: read series spool: %w", err)
		}
		in = slices.Grow(in[:0], int(n))[:n]
		if _, err := io.ReadFull(br, in); err != nil {
			return nil, fmt.Errorf("index: read series spool: %w", err)
		}
		d := decbuf{b: in}
		nl := d.uvarint()
		out = binary.AppendUvarint(out[:0], nl)
		var prevName uint64
		for range nl {
			nid := d.uvarint()
			vid := d.uvarint()
			ni := nameIdx[uint32(nid)]
			out = appendLabelRef(out, ni-prevName, rank[nid<<32|vid])
			prevName = ni
		}
		if d.err != nil {
			return nil, fmt.Errorf("index: series spool entry %d: %w", i, d.err)
		}
		out = append(out, d.b...) // chunk metas, already in their final encoding
		w.write(w.lenBuf[:binary.PutUvarint(w.lenBuf[:], uint64(len(out)))])
		w.write(out)
	}
	return offs, w.err
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
	if len(refs) < minSkipList {
		b = append(b, postingsDeltas)
		b = binary.AppendUvarint(b, uint64(len(refs)))
		return appendDeltas(b, refs)
	}
	b = append(b, postingsSkips)
	b = binary.AppendUvarint(b, uint64(len(refs)))
	nSkips := (len(refs) - 1) / skipEvery
	b = binary.AppendUvarint(b, uint64(nSkips))
	table := len(b)
	b = append(b, make([]byte, nSkips*8)...)
	data := len(b)
	for i, r := range refs {
		if i > 0 && i%skipEvery == 0 {
			k := i/skipEvery - 1
			binary.BigEndian.PutUint32(b[table+8*k:], refs[i-1])
			binary.BigEndian.PutUint32(b[table+8*k+4:], uint32(len(b)-data))
		}
		if i == 0 {
			b = binary.AppendUvarint(b, uint64(r))
		} else {
			b = binary.AppendUvarint(b, uint64(r-refs[i-1]-1))
		}
	}
	return b
}

func appendDeltas(b []byte, refs []uint32) []byte {
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
