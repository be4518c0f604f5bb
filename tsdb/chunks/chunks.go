// Package chunks writes and reads the chunk segment files of a block.
//
// # Segment file format
//
// A block's chunks live in a directory (conventionally <block>/chunks) holding segment files
// named 000001, 000002, … with no gaps. Each segment is
//
//	header:  magic "VGCK" (4 bytes) | version (1 byte, = 1) | 3 reserved zero bytes
//	entries: repeated until end of file, back to back:
//	         uvarint(len(chunk)) | chunk bytes | CRC32-Castagnoli(uvarint and chunk bytes), big endian
//
// A chunk is addressed by Ref = segment index << 32 | offset of its entry in the file, where the
// segment index is 0 for file 000001. The CRC covers the length too, so that a flipped bit in the
// length is caught rather than read as a different chunk.
//
// Chunk bytes are opaque here: the first byte is the encoding defined by tsdb/chunkenc.
package chunks

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/vigil-monitoring/vigil/tsdb/chunks/mmap"
	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

const (
	// MagicChunks opens every segment file.
	MagicChunks = "VGCK"
	// FormatV1 is the only segment format version.
	FormatV1 = 1
	// SegmentHeaderSize is the size of the header of each segment file.
	SegmentHeaderSize = 8
	// DefaultSegmentSize is used when NewWriter is given a size <= 0.
	DefaultSegmentSize int64 = 512 << 20
	// MaxSegmentSize bounds segments so that every offset fits the 32 low bits of a Ref.
	MaxSegmentSize int64 = 1<<32 - 1
	// MaxChunkSize bounds the length of a single chunk; a length above it is corruption.
	MaxChunkSize = 16 << 20

	crcSize = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Meta is a chunk reference with its time range. Chunk holds the encoded chunk bytes when they
// are loaded (for writing, or by a querier); index readers leave it nil.
type Meta struct {
	Ref              uint64
	MinTime, MaxTime int64
	Chunk            []byte
}

// NewRef builds a chunk reference from a segment index (0 for file 000001) and an offset.
func NewRef(segment int, offset uint32) uint64 { return uint64(segment)<<32 | uint64(offset) }

// SplitRef returns the segment index and offset of a chunk reference.
func SplitRef(ref uint64) (segment int, offset uint32) { return int(ref >> 32), uint32(ref) }

// SegmentFile returns the path of the segment with the given index (0-based) in dir.
func SegmentFile(dir string, segment int) string {
	return filepath.Join(dir, fmt.Sprintf("%06d", segment+1))
}

// CorruptionErr reports a damaged segment or chunk.
type CorruptionErr struct {
	Dir     string
	Segment int    // segment index, 0 for file 000001
	Offset  uint32 // offset of the entry in the segment, 0 for file-level damage
	Err     error
}

func (e *CorruptionErr) Error() string {
	return fmt.Sprintf("corruption in chunks %s segment %06d offset %d: %v", e.Dir, e.Segment+1, e.Offset, e.Err)
}

func (e *CorruptionErr) Unwrap() error { return e.Err }

// Writer appends chunks to segment files. It is not safe for concurrent use.
type Writer struct {
	dir         string
	segmentSize int64

	f       *os.File
	bw      *bufio.Writer
	seq     int   // index of the open segment, -1 before the first
	n       int64 // bytes in the open segment
	entries int   // chunks in the open segment
	err     error // sticky: once a write failed the segment is in an unknown state

	closed   bool
	closeErr error
	buf      [binary.MaxVarintLen64]byte
	crcBuf   [crcSize]byte
}

// NewWriter returns a writer that creates segment files in dir (created if missing), cutting a
// new segment before one would exceed segmentSize bytes (DefaultSegmentSize when <= 0). A chunk
// larger than a whole segment gets a segment of its own. Segments are created on the first
// write; a writer closed without chunks leaves dir empty.
func NewWriter(dir string, segmentSize int64) (*Writer, error) {
	if segmentSize <= 0 {
		segmentSize = DefaultSegmentSize
	}
	if segmentSize > MaxSegmentSize {
		return nil, fmt.Errorf("chunk segment size %d exceeds the maximum %d", segmentSize, MaxSegmentSize)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("create chunk dir: %w", err)
	}
	return &Writer{dir: dir, segmentSize: segmentSize, seq: -1}, nil
}

// WriteChunks writes the chunks in order and sets each Meta's Ref.
func (w *Writer) WriteChunks(chks ...Meta) error {
	if w.err != nil {
		return w.err
	}
	for i := range chks {
		if err := w.write(&chks[i]); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

func (w *Writer) write(c *Meta) error {
	if len(c.Chunk) == 0 {
		return errors.New("write chunk: empty chunk")
	}
	if len(c.Chunk) > MaxChunkSize {
		return fmt.Errorf("write chunk: %d bytes exceeds the maximum of %d", len(c.Chunk), MaxChunkSize)
	}
	ln := binary.PutUvarint(w.buf[:], uint64(len(c.Chunk)))
	size := int64(ln + len(c.Chunk) + crcSize)
	if w.f == nil || (w.entries > 0 && w.n+size > w.segmentSize) {
		if err := w.cut(); err != nil {
			return err
		}
	}
	if w.n+size > MaxSegmentSize {
		return fmt.Errorf("write chunk: segment %d would exceed %d bytes", w.seq+1, MaxSegmentSize)
	}
	c.Ref = NewRef(w.seq, uint32(w.n))

	crc := crc32.Update(0, castagnoli, w.buf[:ln])
	crc = crc32.Update(crc, castagnoli, c.Chunk)
	binary.BigEndian.PutUint32(w.crcBuf[:], crc)
	if _, err := w.bw.Write(w.buf[:ln]); err != nil {
		return fmt.Errorf("write chunk to %s: %w", w.f.Name(), err)
	}
	if _, err := w.bw.Write(c.Chunk); err != nil {
		return fmt.Errorf("write chunk to %s: %w", w.f.Name(), err)
	}
	if _, err := w.bw.Write(w.crcBuf[:]); err != nil {
		return fmt.Errorf("write chunk to %s: %w", w.f.Name(), err)
	}
	w.n += size
	w.entries++
	return nil
}

// cut finishes the open segment (flush + fsync) and starts the next one.
func (w *Writer) cut() error {
	if err := w.finishSegment(); err != nil {
		return err
	}
	w.seq++
	if int64(w.seq) > 1<<31 {
		return errors.New("too many chunk segments")
	}
	f, err := os.OpenFile(SegmentFile(w.dir, w.seq), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return fmt.Errorf("create chunk segment: %w", err)
	}
	w.f = f
	if w.bw == nil {
		w.bw = bufio.NewWriterSize(f, 1<<20)
	} else {
		w.bw.Reset(f)
	}
	hdr := [SegmentHeaderSize]byte{}
	copy(hdr[:], MagicChunks)
	hdr[4] = FormatV1
	if _, err := w.bw.Write(hdr[:]); err != nil {
		return fmt.Errorf("write chunk segment header: %w", err)
	}
	w.n = SegmentHeaderSize
	w.entries = 0
	return nil
}

func (w *Writer) finishSegment() error {
	if w.f == nil {
		return nil
	}
	f := w.f
	w.f = nil
	if err := w.bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("flush %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	return nil
}

// Close flushes and fsyncs the last segment and the directory. It returns the first error the
// writer met, so a caller that ignored a WriteChunks error still learns of it here. Closing
// again returns the same result.
func (w *Writer) Close() error {
	if w.closed {
		return w.closeErr
	}
	w.closed = true
	w.closeErr = w.close()
	if w.err == nil {
		w.err = errors.New("chunk writer closed")
	}
	return w.closeErr
}

func (w *Writer) close() error {
	if w.err != nil {
		if w.f != nil {
			w.f.Close()
			w.f = nil
		}
		return w.err
	}
	if err := w.finishSegment(); err != nil {
		return err
	}
	return fileutil.SyncDir(w.dir)
}

// Reader serves chunks from the memory-mapped segments of a directory. It is safe for
// concurrent use. Slices it returns point into the mapping and are valid until Close.
type Reader struct {
	dir   string
	files []*mmap.File
	segs  [][]byte
	size  int64
}

// NewReader opens and maps all segments in dir. A missing segment in the numbering, a file
// shorter than the header or a wrong magic/version is a *CorruptionErr. An empty or missing
// directory holds no chunks.
func NewReader(dir string) (*Reader, error) {
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read chunk dir: %w", err)
	}
	var nums []int
	for _, e := range ents {
		if e.IsDir() || len(e.Name()) != 6 {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil || n <= 0 {
			continue
		}
		nums = append(nums, n)
	}
	slices.Sort(nums)
	r := &Reader{dir: dir}
	for i, n := range nums {
		if n != i+1 {
			r.Close()
			return nil, &CorruptionErr{Dir: dir, Segment: i, Err: fmt.Errorf("segment missing (next present is %06d)", n)}
		}
		f, err := mmap.Open(SegmentFile(dir, i))
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open chunk segment: %w", err)
		}
		r.files = append(r.files, f)
		if err := r.addSegment(f.Bytes()); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// NewReaderFromBytes serves chunks from in-memory segments (segs[0] is file 000001). It is
// meant for tests and for tools that already hold the data.
func NewReaderFromBytes(segs ...[]byte) (*Reader, error) {
	r := &Reader{}
	for _, b := range segs {
		if err := r.addSegment(b); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) addSegment(b []byte) error {
	seg := len(r.segs)
	if len(b) < SegmentHeaderSize {
		return &CorruptionErr{Dir: r.dir, Segment: seg, Err: fmt.Errorf("segment of %d bytes is shorter than its header", len(b))}
	}
	if string(b[:4]) != MagicChunks {
		return &CorruptionErr{Dir: r.dir, Segment: seg, Err: fmt.Errorf("bad magic %x", b[:4])}
	}
	if b[4] != FormatV1 {
		return &CorruptionErr{Dir: r.dir, Segment: seg, Err: fmt.Errorf("unsupported version %d", b[4])}
	}
	if int64(len(b)) > MaxSegmentSize {
		return &CorruptionErr{Dir: r.dir, Segment: seg, Err: fmt.Errorf("segment of %d bytes exceeds the maximum", len(b))}
	}
	r.segs = append(r.segs, b)
	r.size += int64(len(b))
	return nil
}

// Chunk returns the bytes of the chunk at ref after checking its CRC. The slice aliases the
// mapping: do not modify it, and do not use it after Close.
func (r *Reader) Chunk(ref uint64) ([]byte, error) {
	b, _, err := r.entry(SplitRef(ref))
	return b, err
}

// entry decodes the entry at (seg, off) and returns the chunk and the entry's total size.
func (r *Reader) entry(seg int, off uint32) ([]byte, int, error) {
	if seg < 0 || seg >= len(r.segs) {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: fmt.Errorf("segment index out of range (%d segments)", len(r.segs))}
	}
	b := r.segs[seg]
	if off < SegmentHeaderSize || uint64(off) >= uint64(len(b)) {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: fmt.Errorf("offset out of range (segment is %d bytes)", len(b))}
	}
	rest := b[off:]
	l, n := binary.Uvarint(rest)
	if n <= 0 {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: errors.New("bad chunk length")}
	}
	if l == 0 || l > MaxChunkSize {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: fmt.Errorf("invalid chunk length %d", l)}
	}
	end := uint64(n) + l
	if end+crcSize > uint64(len(rest)) {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: fmt.Errorf("chunk of %d bytes runs past the end of the segment", l)}
	}
	want := binary.BigEndian.Uint32(rest[end:])
	if got := crc32.Checksum(rest[:end], castagnoli); got != want {
		return nil, 0, &CorruptionErr{Dir: r.dir, Segment: seg, Offset: off, Err: fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got)}
	}
	return rest[n:end:end], int(end + crcSize), nil
}

// Iterate calls f for every chunk of every segment in file order, checking each CRC. It stops at
// the first damaged entry with a *CorruptionErr, or at the first error f returns. Use it to
// verify a block, or to rewrite all chunks.
func (r *Reader) Iterate(f func(ref uint64, chunk []byte) error) error {
	for seg, b := range r.segs {
		off := uint32(SegmentHeaderSize)
		for uint64(off) < uint64(len(b)) {
			chk, size, err := r.entry(seg, off)
			if err != nil {
				return err
			}
			if err := f(NewRef(seg, off), chk); err != nil {
				return err
			}
			off += uint32(size)
		}
	}
	return nil
}

// Size returns the total size of all segments in bytes.
func (r *Reader) Size() int64 { return r.size }

// Segments returns the number of segment files.
func (r *Reader) Segments() int { return len(r.segs) }

// Close unmaps all segments.
func (r *Reader) Close() error {
	var errs []error
	for _, f := range r.files {
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.files, r.segs = nil, nil
	return errors.Join(errs...)
}
