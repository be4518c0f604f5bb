// Package residency gives back the executable's pages that only start-up touched.
//
// Vigil's binary carries code it needs rarely or only once: package init functions of the
// Kubernetes client, the cloud SDKs behind sigv4 / azuread / google_iam auth and the SNS
// notifier, the Alertmanager API's OpenAPI machinery. Running those init functions at start
// faults their text, rodata and pclntab pages in (the kernel maps up to fault_around_bytes
// around each fault), and a mapped page stays in the process's RSS until the process exits,
// although it is never used again. Release drops the mappings of the executable's read-only
// segments (madvise MADV_DONTNEED, which for a private, unmodified file mapping only removes
// the page table entries: the pages stay in the page cache and the next access maps them
// again with a minor fault). What the server keeps using comes back within a few seconds;
// what only start-up used does not count against the process any more.
//
// Writable segments (.data, .bss, the heap) are never touched: MADV_DONTNEED would zero them.
package residency

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mapping is one line of /proc/self/maps that Release may drop.
type Mapping struct {
	Start, End uintptr
	Perms      string
	Path       string
}

// ParseMaps returns the read-only, private, file-backed mappings of path found in a
// /proc/PID/maps listing: the segments whose pages are identical to the file's bytes.
func ParseMaps(r io.Reader, path string) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// address perms offset dev inode [path]
		if len(f) < 6 {
			continue
		}
		if strings.Join(f[5:], " ") != path {
			continue
		}
		perms := f[1]
		// Only r--p and r-xp: readable, not writable, private (copy-on-write never happened
		// because the mapping was never writable).
		if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps: bad address range %q", f[0])
		}
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps: start %q: %w", lo, err)
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps: end %q: %w", hi, err)
		}
		if end <= start {
			return nil, fmt.Errorf("maps: empty range %q", f[0])
		}
		out = append(out, Mapping{Start: uintptr(start), End: uintptr(end), Perms: perms, Path: path})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("maps: %w", err)
	}
	return out, nil
}

// ErrUnsupported is returned where the platform has no /proc/self/maps or madvise.
var ErrUnsupported = errors.New("residency: not supported on this platform")

// Release drops the executable's read-only mappings from the process's resident set and
// returns how many bytes of address space it advised. It is safe to call at any time.
func Release() (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("residency: executable: %w", err)
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("residency: %w", err)
	}
	defer f.Close()
	ms, err := ParseMaps(f, exe)
	if err != nil {
		return 0, fmt.Errorf("residency: %w", err)
	}
	var n int64
	for _, m := range ms {
		if err := dontNeed(m.Start, m.End-m.Start); err != nil {
			return n, fmt.Errorf("residency: madvise %x-%x: %w", m.Start, m.End, err)
		}
		n += int64(m.End - m.Start)
	}
	return n, nil
}
