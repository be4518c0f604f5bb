package wal

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/vigil-monitoring/vigil/tsdb/record"
)

// FuzzReader feeds arbitrary bytes as a segment file. The Reader must not panic, must report
// damage as a *CorruptionErr, and must never return a record longer than the file; Open must
// then repair the segment so that it reads back cleanly with exactly the records before the
// damage.
func FuzzReader(f *testing.F) {
	var seg []byte
	var enc record.Encoder
	seg = appendRecord(seg, enc.Samples([]record.RefSample{{Ref: 1, T: 2, V: 3}}, nil))
	seg = appendRecord(seg, []byte("hello"))
	seg = appendRecord(seg, nil)
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(bytes.Clone(seg), 0, 0, 0, 0, 0, 0, 0, 0, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(SegmentName(dir, 0), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(dir, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		var recs [][]byte
		var end int64
		for r.Next() {
			if len(r.Record()) > len(data) {
				t.Fatalf("record of %d bytes from a %d byte file", len(r.Record()), len(data))
			}
			if cap(r.Record()) > len(data) {
				t.Fatalf("record buffer of %d bytes for a %d byte file", cap(r.Record()), len(data))
			}
			recs = append(recs, bytes.Clone(r.Record()))
			end = r.Offset()
		}
		r.Close()
		var cerr *CorruptionErr
		if err := r.Err(); err != nil && !errors.As(err, &cerr) {
			t.Fatalf("Reader error is not a CorruptionErr: %v", err)
		}
		if cerr != nil && cerr.Offset != end {
			t.Fatalf("corruption reported at %d, last good record ends at %d", cerr.Offset, end)
		}
		if cerr == nil && end != int64(len(data)) {
			t.Fatalf("clean end at %d of %d bytes", end, len(data))
		}

		w, err := Open(dir, Options{}, nil, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, dir, 0, -1)
		if err != nil {
			t.Fatalf("read after Open repaired the segment: %v", err)
		}
		checkRecords(t, got, recs)
	})
}
