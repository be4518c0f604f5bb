package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Index file format (version 1)
//
// All integers are unsigned LEB128 varints ("uvarint") or zig-zag varints ("varint") unless said
// otherwise; fixed-width integers are big endian.
//
//	header          "VGIX" | version byte (1) | 3 reserved zero bytes
//	symbols         sorted ascending and unique: uvarint(len) | bytes, then uint32 count.
//	                Symbol ID = position in this list. Because the list is sorted, comparing IDs
//	                compares strings.
//	series          one entry per series, in labels order; the series reference is the ordinal
//	                (0, 1, 2, …) of the entry:
//	                  uvarint(len(body)) | body
//	                  body = uvarint(#labels)
//	                         per label: a label ref (see appendLabelRef) of
//	                                    name delta = name index - previous name index (absolute
//	                                    for the first), the name index being the name's
//	                                    position in the label table, and
//	                                    rank = the value's rank among the name's values
//	                         uvarint(#chunks)
//	                         first chunk: varint(mint - base time) uvarint(maxt - mint) uvarint(ref)
//	                         next chunks: varint(mint - previous maxt)
//	                                      varint((maxt - mint) - previous (maxt - mint))
//	                                      varint(ref - previous ref)
//	                Ranks instead of symbol IDs take one byte for most labels (job, namespace, …)
//	                where an ID among all symbols would take three.
//	series offsets  uint32 offset (within the series section) of every 16th series entry, so a
//	                lookup skips at most 15 entries.
//	postings        one list per label pair, in (name, value) order:
//	                  byte encoding | uvarint(#refs) | data
//	                  encoding 0, deltas: uvarint(first) then uvarint(ref - previous ref - 1)
//	                  encoding 1, runs of consecutive refs: uvarint(#runs) then per run
//	                    uvarint(start - end of previous run (exclusive; 0 before the first))
//	                    uvarint(run length - 1)
//	                  encoding 2, deltas with skips, for long lists: uvarint(#skips), then
//	                    #skips × (uint32 ref, uint32 offset), then the data of encoding 0.
//	                    Skip k holds the ref of element (k+1)·128 - 1 and the offset, within the
//	                    data, of the delta of element (k+1)·128, so that Seek binary searches the
//	                    table and decodes at most 128 deltas instead of the whole list.
//	                The writer picks runs when smaller, else deltas (with skips when long). Series sorted by labels make the lists
//	                of the leading labels (__name__, job) long runs, which cost a few bytes.
//	label table     uvarint(#names) then per name, names ascending:
//	                  uvarint(name ID) | uvarint(#values)
//	                  per value, ascending: uvarint(value ID - previous value ID; absolute for the
//	                  first) | uvarint(byte length of its postings list)
//	                A list's offset is the sum of the lengths of all lists before it.
//	TOC             fixed 124 bytes at the end of the file:
//	                  5 × (uint64 offset | uint64 length | uint32 CRC32-Castagnoli of the section)
//	                  for symbols, series, series offsets, postings, label table
//	                  uint64 #series | int64 base time | uint32 CRC32-Castagnoli of the TOC
//
// Every section's CRC is verified when the file is opened, and every length, offset and ID is
// still checked against the buffer on access, so a damaged file yields errors, never a panic.

const (
	// MagicIndex opens every index file.
	MagicIndex = "VGIX"
	// FormatV1 is the only index format version.
	FormatV1 = 1

	headerSize   = 8
	numSections  = 5
	tocEntrySize = 8 + 8 + 4
	tocSize      = numSections*tocEntrySize + 8 + 8 + 4

	// seriesStride is how many series share one entry of the series offsets table.
	seriesStride = 16

	postingsDeltas byte = 0
	postingsRuns   byte = 1
	postingsSkips  byte = 2

	// skipEvery is the spacing of skip table entries in lists of encoding 2; lists shorter than
	// minSkipList use plain deltas, since scanning them is as fast as a table lookup.
	skipEvery   = 128
	minSkipList = 2 * skipEvery
)

const (
	secSymbols = iota
	secSeries
	secSeriesOffsets
	secPostings
	secLabels
)

var sectionNames = [numSections]string{"symbols", "series", "series offsets", "postings", "label table"}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrNotFound is returned for a series reference that is not in the index.
var ErrNotFound = errors.New("not found")

// CorruptionErr reports a damaged index file.
type CorruptionErr struct {
	Section string
	Err     error
}

func (e *CorruptionErr) Error() string {
	return fmt.Sprintf("corrupt index (%s): %v", e.Section, e.Err)
}

func (e *CorruptionErr) Unwrap() error { return e.Err }

func corrupt(section int, format string, args ...any) error {
	name := "file"
	if section >= 0 && section < numSections {
		name = sectionNames[section]
	}
	return &CorruptionErr{Section: name, Err: fmt.Errorf(format, args...)}
}

// errShort is the decoder's error for reading past its buffer.
var errShort = errors.New("unexpected end of data")

// decbuf decodes varints from a byte slice, recording the first error instead of panicking, so
// callers check once at the end.
type decbuf struct {
	b   []byte
	err error
}

func (d *decbuf) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		if n < 0 {
			d.err = errors.New("varint overflow")
		}
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decbuf) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		if n < 0 {
			d.err = errors.New("varint overflow")
		}
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next n bytes (aliasing the buffer).
func (d *decbuf) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		d.b = nil
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decbuf) byte() byte {
	b := d.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// appendLabelRef encodes a series label as uvarint(rank << 3 | min(delta, 7)), followed by
// uvarint(delta - 7) when delta >= 7. Name deltas are almost always below 7 and most labels have
// few values, so a label usually takes one byte (job, namespace, container, le), two for up to
// 2048 values (instance, __name__).
func appendLabelRef(b []byte, delta, rank uint64) []byte {
	if delta < 7 {
		return binary.AppendUvarint(b, rank<<3|delta)
	}
	b = binary.AppendUvarint(b, rank<<3|7)
	return binary.AppendUvarint(b, delta-7)
}

// labelRef decodes what appendLabelRef wrote.
func (d *decbuf) labelRef() (delta, rank uint64) {
	x := d.uvarint()
	delta, rank = x&7, x>>3
	if delta == 7 {
		if more := d.uvarint(); more <= math.MaxUint64-7 {
			delta += more
		} else {
			d.err = errors.New("label name delta overflows")
		}
	}
	return delta, rank
}
