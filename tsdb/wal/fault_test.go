package wal

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// faults makes segment files misbehave: writes fail with ENOSPC (optionally after writing part of
// the data, as a real disk-full write does), come back short, truncations fail, creating a file
// fails. Counters say how many of the next operations fail.
type faults struct {
	mu sync.Mutex
	faultConfig
}

type faultConfig struct {
	failWrites    int
	partial       bool // write half of the data before failing
	shortWrites   int  // writes that stop half way without an error
	failTruncates int
	failCreates   int
}

func (fl *faults) open(path string) (segmentFile, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.failCreates > 0 {
		fl.failCreates--
		return nil, &os.PathError{Op: "open", Path: path, Err: syscall.ENOSPC}
	}
	f, err := createSegmentFile(path)
	if err != nil {
		return nil, err
	}
	return &faultyFile{segmentFile: f, faults: fl}, nil
}

type faultyFile struct {
	segmentFile
	faults *faults
}

func (f *faultyFile) WriteAt(p []byte, off int64) (int, error) {
	fl := f.faults
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.failWrites > 0 {
		fl.failWrites--
		n := 0
		if fl.partial {
			n, _ = f.segmentFile.WriteAt(p[:len(p)/2], off)
		}
		return n, &os.PathError{Op: "write", Path: "segment", Err: syscall.ENOSPC}
	}
	if fl.shortWrites > 0 {
		fl.shortWrites--
		return f.segmentFile.WriteAt(p[:len(p)/2], off)
	}
	return f.segmentFile.WriteAt(p, off)
}

func (f *faultyFile) Truncate(size int64) error {
	fl := f.faults
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.failTruncates > 0 {
		fl.failTruncates--
		return &os.PathError{Op: "truncate", Path: "segment", Err: syscall.EIO}
	}
	return f.segmentFile.Truncate(size)
}

// TestWriteFailure injects write failures: Log must return the error, leave no half record on
// disk (checked both by reading the live directory and after reopening), and succeed again once
// the fault is gone.
func TestWriteFailure(t *testing.T) {
	cases := []struct {
		name        string
		faults      faultConfig
		segmentSize int
		// failedLogs is how many Log calls after the first fail before one succeeds.
		failedLogs int
		wantErr    error
	}{
		{"enospc nothing written", faultConfig{failWrites: 1}, 0, 1, syscall.ENOSPC},
		{"enospc half written", faultConfig{failWrites: 1, partial: true}, 0, 1, syscall.ENOSPC},
		{"enospc three times", faultConfig{failWrites: 3, partial: true}, 0, 3, syscall.ENOSPC},
		{"short write", faultConfig{shortWrites: 1}, 0, 1, nil},
		{"half written and undo fails once", faultConfig{failWrites: 1, partial: true, failTruncates: 1}, 0, 1, syscall.ENOSPC},
		// The first truncate fails inside the failed Log, the second when the next Log retries it.
		{"undo keeps failing", faultConfig{failWrites: 1, partial: true, failTruncates: 2}, 0, 2, nil},
		{"new segment cannot be created", faultConfig{failCreates: 1}, 50, 1, syscall.ENOSPC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fl := &faults{}
			reg := prometheus.NewRegistry()
			w, err := Open(dir, Options{SegmentSize: tc.segmentSize, openFile: fl.open}, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			a, b, c := testRecord(40), testRecord(41), testRecord(42)
			if err := w.Log(a); err != nil {
				t.Fatal(err)
			}
			fl.mu.Lock()
			fl.faultConfig = tc.faults
			fl.mu.Unlock()
			for i := range tc.failedLogs {
				err := w.Log(b, b)
				if err == nil {
					t.Fatalf("failing Log %d returned nil", i)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("Log error = %v, want %v", err, tc.wantErr)
				}
				// Nothing of the failed batch is readable from the live directory. While the
				// failed write cannot be truncated away, its bytes are zeroed, which reads as a
				// torn tail right after a.
				got, rerr := readAll(t, dir, 0, -1)
				var cerr *CorruptionErr
				tornAfterA := errors.As(rerr, &cerr) && cerr.Segment == 0 && cerr.Offset == int64(recordHeaderSize+len(a))
				if rerr != nil && !(tc.faults.failTruncates > 0 && tornAfterA) {
					t.Fatalf("read after failed Log: %v", rerr)
				}
				checkRecords(t, got, [][]byte{a})
			}
			if got := testutil.ToFloat64(w.metrics.writesFailed); got != float64(tc.failedLogs) {
				t.Fatalf("writes failed = %v, want %d", got, tc.failedLogs)
			}
			if err := w.Log(c); err != nil {
				t.Fatalf("Log after the fault cleared: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w, err = Open(dir, Options{}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			got, err := readAll(t, dir, 0, -1)
			if err != nil {
				t.Fatalf("read after reopen: %v", err)
			}
			checkRecords(t, got, [][]byte{a, c})
		})
	}
}

// TestNoCutOverFailedWrite checks that a segment holding the remains of a failed write is not
// closed (which would leave them in the middle of the log) until they are truncated away.
func TestNoCutOverFailedWrite(t *testing.T) {
	dir := t.TempDir()
	fl := &faults{}
	w, err := Open(dir, Options{openFile: fl.open}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	a, b := testRecord(1), testRecord(2)
	if err := w.Log(a); err != nil {
		t.Fatal(err)
	}
	fl.mu.Lock()
	fl.faultConfig = faultConfig{failWrites: 1, partial: true, failTruncates: 2}
	fl.mu.Unlock()
	if err := w.Log(b, b); err == nil {
		t.Fatal("Log succeeded")
	}
	if _, err := w.NextSegment(); err == nil {
		t.Fatal("NextSegment cut a segment whose failed write was not undone")
	}
	if idx, err := w.NextSegment(); err != nil || idx != 1 {
		t.Fatalf("NextSegment = %d, %v; want 1", idx, err)
	}
	got, err := readAll(t, dir, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, got, [][]byte{a})
}
