package wal

import (
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestLiveReaderFollowsWrites(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{SegmentSize: 1 << 20}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	notify := w.Subscribe()
	defer w.Unsubscribe(notify)
	_, last, _ := w.Segments()
	r, err := OpenLiveReader(dir, last, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Next() {
		t.Fatal("record in an empty segment")
	}
	for batch := range 5 {
		var recs [][]byte
		for i := range batch + 1 {
			recs = append(recs, fmt.Appendf(nil, "batch %d record %d", batch, i))
		}
		if err := w.Log(recs...); err != nil {
			t.Fatal(err)
		}
		select {
		case <-notify:
		default:
			t.Fatal("no notification after Log")
		}
		for i := range recs {
			if !r.Next() {
				t.Fatalf("batch %d: record %d not read: %v", batch, i, r.Err())
			}
			if string(r.Record()) != string(recs[i]) {
				t.Fatalf("got %q, want %q", r.Record(), recs[i])
			}
		}
		if r.Next() {
			t.Fatalf("extra record %q", r.Record())
		}
	}
	if err := r.Sealed(); err != nil {
		t.Fatalf("clean segment reported: %v", err)
	}
	// Resume from the offset in a new reader.
	off := r.Offset()
	w.Log([]byte("after"))
	r2, err := OpenLiveReader(dir, last, off)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if !r2.Next() || string(r2.Record()) != "after" {
		t.Fatalf("resumed reader: %q %v", r2.Record(), r2.Err())
	}
}

func TestLiveReaderTornTail(t *testing.T) {
	dir := t.TempDir()
	rec := appendRecord(nil, []byte("complete"))
	rec2 := appendRecord(nil, []byte("second record"))
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"half header", rec2[:5]},
		{"half payload", rec2[:len(rec2)-3]},
		{"bad checksum", append(append([]byte{}, rec2[:len(rec2)-1]...), rec2[len(rec2)-1]^0xff)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := SegmentName(dir, 0)
			if err := os.WriteFile(name, append(append([]byte{}, rec...), tc.tail...), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := OpenLiveReader(dir, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if !r.Next() || string(r.Record()) != "complete" {
				t.Fatal("first record not read")
			}
			if r.Next() {
				t.Fatal("torn record returned")
			}
			if tc.name != "bad checksum" {
				// The rest of the write arrives.
				f, _ := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
				f.Write(rec2[len(tc.tail):])
				f.Close()
				if !r.Next() || string(r.Record()) != "second record" {
					t.Fatalf("completed record not read: %v", r.Err())
				}
				if err := r.Sealed(); err != nil {
					t.Fatal(err)
				}
				return
			}
			var cerr *CorruptionErr
			if err := r.Sealed(); !errors.As(err, &cerr) || cerr.Offset != int64(len(rec)) {
				t.Fatalf("sealed damaged segment: %v", err)
			}
		})
	}
}
